//! ImportActor: owns import jobs (SPEC §11). One job at a time, whoever asks — `milepost
//! import`, `POST /strava/import`, a file in `IMPORT_DIR` — and one across processes and
//! replicas too: a job holds a Postgres advisory lock on its own session, which goes with a
//! process that dies mid-import.
//!
//! A job lists its inputs (`import::archive`), reads the export's `activities.csv`, parses each
//! row's file and every other activity file on the blocking pool (one at a time per core), gives
//! each activity its id (`import::merge`) and hands the CacheActor one [`Ingest`] per batch, so
//! the CacheActor stays the one owner of activities and bodies; each batch is one transaction,
//! so a job stopped halfway leaves every activity fully in or absent, and a rerun finishes it.
//!
//! Messages: [`StartImport`] (a job; its progress and outcome come through a watch channel),
//! [`ImportStatus`] (a job as any replica reports it), [`ForgetImports`] (delete every imported
//! activity). The leader also looks at `IMPORT_DIR` every `IMPORT_SCAN_SECS`: a file is taken
//! once its size and modification time held still between two looks, and a file whose content
//! (SHA-256) was imported from there before costs nothing more.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use actix::prelude::*;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use deadpool_postgres::Pool;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::actors::cache::{CacheActor, CacheError, ForgetImported, Ingest};
use crate::actors::mailbox::{Ask, Mailbox, answers_traced};
use crate::actors::shutdown::stops_on_shutdown;
use crate::clock::Clock;
use crate::import::archive::{self, Entry, Inventory, Kind, Limits};
use crate::import::export_csv::{self, ExportRow};
use crate::import::local_time::{self, LocalTime, LocalTimeSource};
use crate::import::merge::{self, Index, Known};
use crate::import::summary::{Refused, Summary};
use crate::import::{Recording, Refusal, Visibility, build, fit, gpx, tcx};
use crate::stats::PublicVisibility;
use crate::store::coordination::Replica;
use crate::store::{self, StoreError};
use crate::strava::models::Activity;

/// Activities per ingest: one transaction each, small enough that a job stopped halfway loses
/// little, large enough that a big export is a few writes (each derives every body again).
const BATCH: usize = 1000;
/// How often a running job writes its progress for `GET /strava/import/{id}`.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);
/// Starting a job waits this long for a database session at most.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// A forget deletes in one transaction and derives the bodies again.
const FORGET_TIMEOUT: Duration = Duration::from_secs(120);
/// File names the watched folder takes (after `.gz`).
const WATCHED_EXTENSIONS: [&str; 4] = ["zip", "fit", "gpx", "tcx"];

/// How imports behave (SPEC §11, §9).
#[derive(Debug, Clone)]
pub struct ImportSettings {
    /// Who may see imported activities unless a job says otherwise (`IMPORT_VISIBILITY`).
    pub visibility: Visibility,
    /// What the public may see (`PUBLIC_VISIBILITY`), for the summary's `public`.
    pub public: PublicVisibility,
    pub limits: Limits,
    /// `ATHLETE_TIMEZONE`.
    pub athlete_timezone: Option<Tz>,
    /// `IMPORT_DIR`, watched by the leader.
    pub import_dir: Option<PathBuf>,
    /// `IMPORT_SCAN_SECS`.
    pub scan_every: Duration,
}

/// Why an import could not start or a forget could not run.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ImportError {
    #[error("an import is running; wait for it to finish")]
    Running,
    #[error("the database failed")]
    Storage(#[from] StoreError),
    #[error("the database did not answer in time")]
    TimedOut,
}

impl From<deadpool_postgres::PoolError> for ImportError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Storage(e.into())
    }
}

impl From<CacheError> for ImportError {
    fn from(e: CacheError) -> Self {
        match e {
            CacheError::Storage(e) => Self::Storage(e),
            CacheError::TimedOut => Self::TimedOut,
            // An import names no athlete: never refused for one.
            e @ CacheError::Forgotten => Self::Storage(anyhow::Error::new(e).into()),
        }
    }
}

impl From<anyhow::Error> for ImportError {
    fn from(e: anyhow::Error) -> Self {
        Self::Storage(e.into())
    }
}

/// How far a job is, and how it ended (`outcome`: the summary, or why it failed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    pub files_done: u64,
    pub files_total: u64,
    pub outcome: Option<Result<Summary, String>>,
}

/// A job that started: its id, and its progress as it goes.
#[derive(Debug)]
pub struct Job {
    pub id: String,
    pub progress: watch::Receiver<Progress>,
}

/// Import `inputs` (paths: an export ZIP or folder, folders of activity files, single files).
#[derive(Debug, Message, Default)]
#[rtype(result = "Result<Job, ImportError>")]
pub struct StartImport {
    pub inputs: Vec<PathBuf>,
    /// Report what would change and write nothing.
    pub dry_run: bool,
    /// Who may see what this job imports (`None`: `IMPORT_VISIBILITY`).
    pub visibility: Option<Visibility>,
    /// Delete the inputs afterwards (an upload, kept only for its job).
    pub remove_after: bool,
    /// How the summary names the input (an upload's file name is the server's own, not one the
    /// person uploading knows); `None`: by its path.
    pub shown_as: Option<String>,
    /// Files of the watched folder, by SHA-256, to remember once the job is done.
    pub remember: Vec<(String, String)>,
}

impl Ask for StartImport {
    const TIMEOUT: Option<Duration> = Some(START_TIMEOUT);
}

/// A job as stored (any replica's), `None` when no job has that id.
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<store::imports::ImportJob>, ImportError>")]
pub struct ImportStatus {
    pub id: String,
}

impl Ask for ImportStatus {
    const TIMEOUT: Option<Duration> = Some(START_TIMEOUT);
}

/// Whether an import runs now, here or in another process: an upload asks before it takes the
/// body, so a second one is refused before a byte of it is stored.
#[derive(Debug, Message)]
#[rtype(result = "Result<bool, ImportError>")]
pub struct Busy;

impl Ask for Busy {
    const TIMEOUT: Option<Duration> = Some(START_TIMEOUT);
}

impl Handler<Busy> for ImportActor {
    type Result = ResponseFuture<Result<bool, ImportError>>;

    fn handle(&mut self, _: Busy, _: &mut Self::Context) -> Self::Result {
        let running = self.running;
        let pool = self.deps.pool.clone();
        Box::pin(async move {
            if running {
                return Ok(true);
            }
            Ok(store::imports::import_locked(&pool.get().await?).await?)
        })
    }
}

/// Delete every imported activity; how many went. Refused while an import runs.
#[derive(Debug, Message)]
#[rtype(result = "Result<u64, ImportError>")]
pub struct ForgetImports;

impl Ask for ForgetImports {
    const TIMEOUT: Option<Duration> = Some(FORGET_TIMEOUT);
}

/// A job of this actor ended.
#[derive(Message)]
#[rtype(result = "()")]
struct Finished;

pub struct ImportActor {
    deps: Arc<JobDeps>,
    replica: Replica,
    /// A job of this process runs (or is starting).
    running: bool,
    /// A look at the watched folder is under way.
    scanning: bool,
    /// What the last look saw: each file's size and modification time.
    last_look: HashMap<PathBuf, (u64, Option<SystemTime>)>,
    /// Files taken (or found seen) as they were then: not hashed again until they change.
    handled: HashMap<PathBuf, (u64, Option<SystemTime>)>,
}

/// What a job needs, shared with the task that runs it.
struct JobDeps {
    pool: Pool,
    cache: Mailbox<CacheActor>,
    clock: Clock,
    settings: ImportSettings,
}

impl ImportActor {
    pub fn new(
        pool: Pool,
        cache: Mailbox<CacheActor>,
        clock: Clock,
        settings: ImportSettings,
        replica: Replica,
    ) -> Self {
        Self {
            deps: Arc::new(JobDeps {
                pool,
                cache,
                clock,
                settings,
            }),
            replica,
            running: false,
            scanning: false,
            last_look: HashMap::new(),
            handled: HashMap::new(),
        }
    }
}

impl Actor for ImportActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if self.deps.settings.import_dir.is_some() {
            let every = self.deps.settings.scan_every.max(Duration::from_secs(1));
            ctx.run_interval(every, Self::look);
        }
    }
}

stops_on_shutdown!(ImportActor);
answers_traced!(ImportActor: StartImport, ImportStatus, ForgetImports, Busy, crate::actors::shutdown::Shutdown);

impl Handler<StartImport> for ImportActor {
    type Result = ResponseActFuture<Self, Result<Job, ImportError>>;

    #[tracing::instrument(name = "import.start", skip_all, fields(inputs = msg.inputs.len(), dry_run = msg.dry_run))]
    fn handle(&mut self, msg: StartImport, _: &mut Self::Context) -> Self::Result {
        if self.running {
            return Box::pin(fut::ready(Err(ImportError::Running)));
        }
        self.running = true;
        let deps = self.deps.clone();
        Box::pin(
            async move {
                let db = take_lock(&deps.pool).await?;
                let id = uuid::Uuid::new_v4().simple().to_string();
                if !msg.dry_run
                    && let Err(e) = store::imports::create_import_job(&db, &id, false).await
                {
                    release(db).await;
                    return Err(e.into());
                }
                Ok((id, db, msg))
            }
            .into_actor(self)
            .map(|started, act, ctx| {
                let (id, db, msg) = match started {
                    Ok(started) => started,
                    Err(e) => {
                        act.running = false;
                        return Err(e);
                    }
                };
                let (tx, rx) = watch::channel(Progress::default());
                let me = ctx.address();
                let deps = act.deps.clone();
                let job_id = id.clone();
                actix::spawn(async move {
                    run_job(deps, job_id, msg, db, tx).await;
                    me.do_send(Finished);
                });
                Ok(Job { id, progress: rx })
            }),
        )
    }
}

impl Handler<Finished> for ImportActor {
    type Result = ();

    fn handle(&mut self, _: Finished, _: &mut Self::Context) {
        self.running = false;
    }
}

impl Handler<ImportStatus> for ImportActor {
    type Result = ResponseFuture<Result<Option<store::imports::ImportJob>, ImportError>>;

    fn handle(&mut self, msg: ImportStatus, _: &mut Self::Context) -> Self::Result {
        let pool = self.deps.pool.clone();
        Box::pin(async move {
            let db = pool.get().await?;
            Ok(store::imports::import_job(&db, &msg.id).await?)
        })
    }
}

impl Handler<ForgetImports> for ImportActor {
    type Result = ResponseActFuture<Self, Result<u64, ImportError>>;

    #[tracing::instrument(name = "import.forget", skip_all)]
    fn handle(&mut self, _: ForgetImports, _: &mut Self::Context) -> Self::Result {
        if self.running {
            return Box::pin(fut::ready(Err(ImportError::Running)));
        }
        self.running = true;
        let deps = self.deps.clone();
        Box::pin(
            async move {
                let db = take_lock(&deps.pool).await?;
                let forgot = deps.cache.ask(ForgetImported).await;
                release(db).await;
                let deleted = forgot.map_err(|_| ImportError::TimedOut)??;
                tracing::info!(deleted, "imported activities forgotten");
                Ok(deleted)
            }
            .into_actor(self)
            .map(|result, act, _| {
                act.running = false;
                result
            }),
        )
    }
}

/// A session holding the import lock; [`ImportError::Running`] while another holds it. Give it
/// back with [`release`].
async fn take_lock(pool: &Pool) -> Result<deadpool_postgres::Object, ImportError> {
    let db = pool.get().await?;
    match store::imports::try_lock_import(&db).await {
        Ok(true) => Ok(db),
        Ok(false) => Err(ImportError::Running),
        Err(e) => {
            // Whether it holds the lock now is unknown: it never goes back to the pool.
            drop(deadpool_postgres::Object::take(db));
            Err(e.into())
        }
    }
}

/// Gives the import lock back with the session; a session that cannot say so is dropped, and
/// its lock with it.
async fn release(db: deadpool_postgres::Object) {
    if store::imports::unlock_import(&db).await.is_err() {
        drop(deadpool_postgres::Object::take(db));
    }
}

/// Runs one job to its end: progress and outcome on `progress`, and in `import_jobs` unless it
/// is a dry run. `db` holds the import lock until the job is over.
async fn run_job(
    deps: Arc<JobDeps>,
    id: String,
    msg: StartImport,
    db: deadpool_postgres::Object,
    progress: watch::Sender<Progress>,
) {
    let started = Instant::now();
    let mut run = Run::new(&deps, &id, msg.dry_run, &db, &progress);
    run.visibility_given = msg.visibility.is_some();
    let visibility = msg.visibility.unwrap_or(deps.settings.visibility);
    let outcome = run.go(&msg.inputs, visibility).await;
    let outcome = outcome.map(|mut summary| {
        summary.seconds = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
        summary
    });
    let outcome = match &msg.shown_as {
        Some(shown) => renamed(outcome, &msg.inputs, shown),
        None => outcome,
    };
    if !msg.dry_run {
        if outcome.is_ok() {
            for (sha256, name) in &msg.remember {
                if let Err(e) = store::imports::remember_file(&db, sha256, name).await {
                    tracing::warn!(error = %e, "could not remember an imported file");
                }
            }
        }
        let json = outcome
            .as_ref()
            .map(|s| serde_json::to_value(s).unwrap_or_default());
        let ended = store::imports::finish_import_job(
            &db,
            &id,
            json.as_ref().map_err(|e| e.as_str()),
            deps.clock.now(),
        )
        .await;
        if let Err(e) = ended {
            tracing::warn!(error = %e, "could not record how an import ended");
        }
    }
    match &outcome {
        Ok(summary) => tracing::info!(
            import = %id,
            files = summary.files_read,
            new = summary.activities.new,
            updated = summary.activities.updated,
            unchanged = summary.activities.unchanged,
            merged = summary.activities.merged,
            refused = summary.refused.len(),
            dry_run = msg.dry_run,
            "import done"
        ),
        Err(e) => tracing::warn!(import = %id, error = %e, "import failed"),
    }
    release(db).await;
    if msg.remove_after {
        for input in &msg.inputs {
            let _ = tokio::fs::remove_file(input).await;
        }
    }
    progress.send_modify(|p| p.outcome = Some(outcome));
}

/// The outcome with every mention of an input's path replaced by `shown`.
fn renamed(
    outcome: Result<Summary, String>,
    inputs: &[PathBuf],
    shown: &str,
) -> Result<Summary, String> {
    let rename = |text: &str| {
        inputs.iter().fold(text.to_owned(), |text, input| {
            text.replace(&input.display().to_string(), shown)
        })
    };
    match outcome {
        Ok(mut summary) => {
            for refused in &mut summary.refused {
                refused.file = rename(&refused.file);
                refused.reason = rename(&refused.reason);
            }
            Ok(summary)
        }
        Err(error) => Err(rename(&error)),
    }
}

/// One input to read: an export row (with its file, if it names one found) or a file alone.
enum Unit {
    Row(Box<ExportRow>, Option<Entry>),
    File(Entry),
}

/// What reading one unit gave.
struct Parsed {
    candidate: Option<Candidate>,
    refused: Vec<Refused>,
    files: u64,
}

/// An activity read, before it has its final id.
struct Candidate {
    activity: Activity,
    /// The id a file alone gets from its content (`None` for an export row: it has Strava's).
    file_id: Option<i64>,
    source: LocalTimeSource,
    /// Neither the row nor the file names a sport known here: imported as `Workout`.
    unknown_sport: bool,
}

/// How an activity of this job compares with what was known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    New,
    Updated,
    Unchanged,
    Merged,
}

/// One job's state while it runs.
struct Run<'a> {
    deps: &'a JobDeps,
    id: &'a str,
    dry_run: bool,
    db: &'a deadpool_postgres::Object,
    progress: &'a watch::Sender<Progress>,
    summary: Summary,
    /// Every known activity (the API's served ones and the imported ones), growing as the job goes.
    index: Index,
    /// The API's activities: who may see each (`visibility`, `private`).
    api_visibility: HashMap<i64, (String, bool)>,
    imported: HashMap<i64, Activity>,
    /// Ids this job settled already: a second copy in one import is merged into the first.
    settled: HashSet<i64>,
    batch: Vec<Activity>,
    /// Copies imported from files alone that export rows took the place of, deleted with the
    /// batch.
    absorbed: Vec<i64>,
    /// The job said who may see what it imports (otherwise a re-imported activity keeps its
    /// visibility).
    visibility_given: bool,
    /// The batch being written.
    writing: Option<tokio::task::JoinHandle<Result<(), String>>>,
    last_progress: Instant,
}

impl<'a> Run<'a> {
    fn new(
        deps: &'a JobDeps,
        id: &'a str,
        dry_run: bool,
        db: &'a deadpool_postgres::Object,
        progress: &'a watch::Sender<Progress>,
    ) -> Self {
        Self {
            deps,
            id,
            dry_run,
            db,
            progress,
            summary: Summary::default(),
            index: Index::default(),
            api_visibility: HashMap::new(),
            imported: HashMap::new(),
            settled: HashSet::new(),
            batch: Vec::new(),
            absorbed: Vec::new(),
            visibility_given: false,
            writing: None,
            last_progress: Instant::now(),
        }
    }

    async fn go(&mut self, inputs: &[PathBuf], visibility: Visibility) -> Result<Summary, String> {
        let settings = &self.deps.settings;
        let limits = settings.limits;
        let paths = inputs.to_vec();
        let inventory = blocking(move || archive::scan(&paths, limits))
            .await?
            .map_err(|r| r.0)?;
        let inventory = Arc::new(inventory);
        self.summary
            .refused
            .extend(inventory.refused().iter().map(|r| Refused {
                file: r.display.clone(),
                reason: r.reason.0.clone(),
            }));

        let strava_zone = self.know().await.map_err(|e| format!("{e:#}"))?;
        let units = self.units(&inventory).await?;
        let total = u64::try_from(units.len()).unwrap_or(u64::MAX);
        self.progress.send_modify(|p| p.files_total = total);
        self.report(0, total, true).await;

        let athlete_zone = settings.athlete_timezone;
        let local = Arc::new(LocalTime::new(athlete_zone, strava_zone));
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        // One file a core at a time (SPEC §11): memory stays at a few files whatever the input.
        let parsed = futures::stream::iter(units)
            .map(|unit| {
                let (inventory, local) = (inventory.clone(), local.clone());
                blocking(move || parse_guarded(unit, &inventory, &local, visibility))
            })
            .buffered(cores);
        let read = self.take(parsed, total).await;
        // Whatever happened, the batch being written is committed or failed before the job ends.
        let written = self.written().await;
        read?;
        written?;
        self.report(total, total, true).await;
        Ok(std::mem::take(&mut self.summary))
    }

    /// Settles what the readers give, in order, then writes the last batch.
    async fn take(
        &mut self,
        mut parsed: impl futures::Stream<Item = Result<Parsed, String>> + Unpin,
        total: u64,
    ) -> Result<(), String> {
        let mut done = 0u64;
        while let Some(result) = parsed.next().await {
            let parsed = result?;
            self.summary.files_read += parsed.files;
            self.summary.refused.extend(parsed.refused);
            if let Some(candidate) = parsed.candidate {
                self.settle(candidate).await?;
            }
            done += 1;
            self.report(done, total, false).await;
        }
        self.flush().await
    }

    /// Loads what is known already: the served API activities, the imported ones. Returns the
    /// zone of the connected athlete's newest activity, for local times nothing else places.
    async fn know(&mut self) -> anyhow::Result<Option<Tz>> {
        let db = self.db;
        let athlete = store::last_publication(db)
            .await?
            .and_then(|p| p.athlete_id);
        let api = match athlete {
            Some(athlete) => store::activities(db, athlete).await?,
            None => Vec::new(),
        };
        self.imported = store::imports::imported_activities(db).await?;
        self.api_visibility = api
            .iter()
            .map(|a| (a.id, (a.visibility.clone(), a.private)))
            .collect();
        let known = api
            .iter()
            .chain(self.imported.values())
            .filter_map(Known::of);
        self.index = Index::new(known);
        Ok(api
            .iter()
            .find_map(|a| local_time::parse_strava_timezone(&a.timezone)))
    }

    /// The export rows (with their files) first, then every other activity file.
    async fn units(&mut self, inventory: &Arc<Inventory>) -> Result<Vec<Unit>, String> {
        let mut units = Vec::new();
        let mut with_row: HashSet<(usize, String)> = HashSet::new();
        let tables: Vec<Entry> = inventory
            .entries()
            .iter()
            .filter(|e| e.kind == Kind::ActivitiesCsv)
            .cloned()
            .collect();
        for table in tables {
            let reader = inventory.clone();
            let entry = table.clone();
            let read = blocking(move || {
                let bytes = reader.read(&entry)?;
                export_csv::read(&bytes)
            })
            .await?;
            let rows = match read {
                Ok(rows) => rows,
                Err(refusal) => {
                    self.summary.refused.push(Refused {
                        file: table.display.clone(),
                        reason: refusal.0,
                    });
                    continue;
                }
            };
            for row in rows.rows {
                match row {
                    Ok(row) => {
                        let file = row
                            .filename
                            .as_deref()
                            .and_then(|name| inventory.find(table.source, name))
                            .cloned();
                        if let Some(file) = &file {
                            with_row.insert((file.source, file.path.clone()));
                        }
                        units.push(Unit::Row(Box::new(row), file));
                    }
                    Err(refused) => {
                        self.summary.files_read += 1;
                        self.summary.refused.push(Refused {
                            file: format!("{}:{}", table.display, refused.row),
                            reason: refused.reason,
                        })
                    }
                }
            }
        }
        units.extend(
            inventory
                .entries()
                .iter()
                .filter(|e| e.kind.is_activity_file())
                .filter(|e| !with_row.contains(&(e.source, e.path.clone())))
                .cloned()
                .map(Unit::File),
        );
        Ok(units)
    }

    /// Gives a candidate its id, counts how it compares, and queues it for writing.
    async fn settle(&mut self, candidate: Candidate) -> Result<(), String> {
        let Candidate {
            mut activity,
            file_id,
            source,
            unknown_sport,
        } = candidate;

        let start = start_of(&activity);
        let (id, joined) = match file_id {
            None => {
                // An export row takes the place of a copy imported from its file alone.
                let id = activity.id;
                let file_copy = start.and_then(|start| {
                    self.index.matching_among(
                        &activity.sport_type,
                        start,
                        activity.elapsed_time,
                        |known| known < 0,
                    )
                });
                if let Some(file_copy) = file_copy {
                    self.index.remove(file_copy);
                    self.imported.remove(&file_copy);
                    self.absorbed.push(file_copy);
                }
                (
                    id,
                    file_copy.is_some() || self.api_visibility.contains_key(&id),
                )
            }
            Some(own) if self.index.contains(own) => (own, false),
            Some(own) => match start.and_then(|start| {
                self.index
                    .matching(&activity.sport_type, start, activity.elapsed_time)
            }) {
                Some(known) => (known, true),
                None => (own, false),
            },
        };
        activity.id = id;
        let prior = self.imported.get(&id);
        if let Some((visibility, private)) = self.api_visibility.get(&id) {
            // An activity the API knows is as visible as the API says, and its imported copy
            // stays so should the API's go (a disconnect must not make it public).
            activity.visibility.clone_from(visibility);
            activity.private = *private;
        } else if let Some(prior) = prior
            && !self.visibility_given
        {
            // Imported again without a word on visibility: as visible as it was.
            activity.visibility.clone_from(&prior.visibility);
            activity.private = prior.private;
        }
        if let Some(prior) = prior
            && source == LocalTimeSource::Utc
        {
            // Nothing places it this time (the connected athlete's zone went with a
            // disconnect): its local day stays the one fixed when it was first imported.
            activity.utc_offset = prior.utc_offset;
            activity
                .start_date_local
                .clone_from(&prior.start_date_local);
        }
        if !self.settled.insert(id) {
            // A second copy in this import (a file beside its export row): the first stays.
            self.summary.activities.merged += 1;
            return Ok(());
        }
        self.summary.local_time.count(source);
        self.summary.unknown_sport += u64::from(unknown_sport);
        // What stays stored: the copy read now (written), or the one imported before.
        let (outcome, stays) = match prior {
            Some(prior) if *prior == activity => (Outcome::Unchanged, Some(prior)),
            // A file joining an activity imported from another source: that copy stays.
            Some(prior) if joined && file_id.is_some() => (Outcome::Merged, Some(prior)),
            Some(_) => (Outcome::Updated, None),
            None if joined => (Outcome::Merged, None),
            None => (Outcome::New, None),
        };
        let write = stays.is_none();
        let public = self.deps.settings.public;
        self.summary.public += u64::from(public.admits(stays.unwrap_or(&activity)));
        let counts = &mut self.summary.activities;
        match outcome {
            Outcome::New => counts.new += 1,
            Outcome::Updated => counts.updated += 1,
            Outcome::Unchanged => counts.unchanged += 1,
            Outcome::Merged => counts.merged += 1,
        }
        if write {
            if let Some(k) = Known::of(&activity) {
                self.index.insert(k);
            }
            self.batch.push(activity);
            if self.batch.len() >= BATCH {
                self.flush().await?;
            }
        }
        Ok(())
    }

    /// Sends the queued activities in one ingest (nothing in a dry run), once the one before
    /// is written: files go on being read while a batch is written, and batches stay in order.
    async fn flush(&mut self) -> Result<(), String> {
        let batch = std::mem::take(&mut self.batch);
        let absorbed = std::mem::take(&mut self.absorbed);
        if (batch.is_empty() && absorbed.is_empty()) || self.dry_run {
            return Ok(());
        }
        self.written().await?;
        let cache = self.deps.cache.clone();
        let ingest = Ingest {
            imported_removed: absorbed,
            ..Ingest::imported(batch, self.deps.clock.now())
        };
        self.writing = Some(actix::spawn(async move {
            cache
                .ask(ingest)
                .await
                .map_err(|_| "the cache did not answer in time".to_owned())?
                .map_err(|e| format!("could not store the activities: {e:#}"))?;
            Ok(())
        }));
        Ok(())
    }

    /// Waits for the batch being written, if any.
    async fn written(&mut self) -> Result<(), String> {
        match self.writing.take() {
            Some(writing) => writing
                .await
                .map_err(|_| "the write of a batch stopped".to_owned())?,
            None => Ok(()),
        }
    }

    /// Publishes progress: always on the channel, in `import_jobs` at most every
    /// [`PROGRESS_EVERY`] (and when `now`).
    async fn report(&mut self, done: u64, total: u64, now: bool) {
        self.progress.send_modify(|p| {
            p.files_done = done;
            p.files_total = total;
        });
        if self.dry_run || !(now || self.last_progress.elapsed() >= PROGRESS_EVERY) {
            return;
        }
        self.last_progress = Instant::now();
        let (done, total) = (
            i64::try_from(done).unwrap_or(i64::MAX),
            i64::try_from(total).unwrap_or(i64::MAX),
        );
        if let Err(e) = store::imports::import_progress(self.db, self.id, done, total).await {
            tracing::debug!(error = %e, "could not record an import's progress");
        }
    }
}

/// Runs `f` on the blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("a reader stopped: {e}"))
}

fn start_of(activity: &Activity) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&activity.start_date)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// [`parse`], with a reader that panics on some input refusing that input rather than ending
/// the job.
fn parse_guarded(
    unit: Unit,
    inventory: &Inventory,
    local: &LocalTime,
    visibility: Visibility,
) -> Parsed {
    let shown = match &unit {
        Unit::Row(_, Some(file)) | Unit::File(file) => file.display.clone(),
        Unit::Row(row, None) => format!("activities.csv: activity {}", row.id),
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        parse(unit, inventory, local, visibility)
    }))
    .unwrap_or_else(|_| Parsed {
        candidate: None,
        refused: vec![Refused {
            file: shown,
            reason: "could not be read (the reader failed on it)".to_owned(),
        }],
        files: 1,
    })
}

/// Reads one unit (on the blocking pool): an export row and its file, or a file alone.
fn parse(unit: Unit, inventory: &Inventory, local: &LocalTime, visibility: Visibility) -> Parsed {
    let mut refused = Vec::new();
    match unit {
        Unit::Row(row, file) => {
            let mut files = 1;
            let recording = file.and_then(|entry| {
                files += 1;
                match recording_of(&entry, inventory) {
                    Ok((recording, _)) => Some(recording),
                    Err(reason) => {
                        refused.push(Refused {
                            file: entry.display.clone(),
                            reason: reason.0,
                        });
                        None
                    }
                }
            });
            let (offset, source) = local.offset_at(
                row.start,
                recording.as_ref().and_then(|r| r.utc_offset),
                recording.as_ref().and_then(|r| r.first_position),
            );
            let activity = build::from_row(&row, recording.as_ref(), offset, visibility);
            let unknown_sport = row.sport_type.is_none()
                && recording.as_ref().is_none_or(|r| r.sport_type.is_none());
            Parsed {
                candidate: Some(Candidate {
                    activity,
                    file_id: None,
                    source,
                    unknown_sport,
                }),
                refused,
                files,
            }
        }
        Unit::File(entry) => match recording_of(&entry, inventory) {
            Ok((recording, sha256)) => {
                let (offset, source) = local.offset_at(
                    recording.start,
                    recording.utc_offset,
                    recording.first_position,
                );
                Parsed {
                    candidate: Some(Candidate {
                        activity: build::from_file(&recording, offset, visibility),
                        file_id: Some(merge::file_id(&sha256)),
                        source,
                        unknown_sport: recording.sport_type.is_none(),
                    }),
                    refused,
                    files: 1,
                }
            }
            Err(reason) => {
                refused.push(Refused {
                    file: entry.display.clone(),
                    reason: reason.0,
                });
                Parsed {
                    candidate: None,
                    refused,
                    files: 1,
                }
            }
        },
    }
}

/// An activity file's recording and the SHA-256 of its (inflated) content.
fn recording_of(entry: &Entry, inventory: &Inventory) -> Result<(Recording, [u8; 32]), Refusal> {
    let bytes = inventory.read(entry)?;
    let sha256: [u8; 32] = Sha256::digest(&bytes).into();
    let recording = match entry.kind {
        Kind::Fit => fit::read(&bytes),
        Kind::Gpx => gpx::read(&bytes),
        Kind::Tcx => tcx::read(&bytes),
        Kind::ActivitiesCsv | Kind::BikesCsv | Kind::ShoesCsv => {
            Err(Refusal::new("not an activity file"))
        }
    }?;
    Ok((recording, sha256))
}

impl ImportActor {
    /// Looks at the watched folder (the leader's work): files that held still since the last
    /// look and were not imported before are imported, in one job.
    fn look(&mut self, ctx: &mut Context<Self>) {
        if self.scanning || self.running || !self.replica.role().is_leader() {
            return;
        }
        let Some(dir) = self.deps.settings.import_dir.clone() else {
            return;
        };
        self.scanning = true;
        let pool = self.deps.pool.clone();
        let before = std::mem::take(&mut self.last_look);
        let handled = self.handled.clone();
        async move {
            let seen_now = blocking(move || listing(&dir)).await.unwrap_or_default();
            // Still since the last look, and not handled as it is now.
            let still: Vec<(PathBuf, (u64, Option<SystemTime>))> = seen_now
                .iter()
                .filter(|(path, stamp)| {
                    before.get(*path) == Some(stamp) && handled.get(*path) != Some(stamp)
                })
                .map(|(path, stamp)| (path.clone(), *stamp))
                .collect();
            let mut fresh = Vec::new();
            let mut done = Vec::new();
            if !still.is_empty() {
                let hashes = blocking(move || {
                    still
                        .into_iter()
                        .filter_map(|(path, stamp)| Some((sha256_of(&path)?, path, stamp)))
                        .collect::<Vec<_>>()
                })
                .await
                .unwrap_or_default();
                if let Ok(db) = pool.get().await {
                    for (sha256, path, stamp) in hashes {
                        match store::imports::seen_file(&db, &sha256).await {
                            Ok(true) => done.push((path, stamp)),
                            Ok(false) => fresh.push((sha256, path, stamp)),
                            Err(_) => {}
                        }
                    }
                }
            }
            (seen_now, fresh, done)
        }
        .into_actor(self)
        .map(|(seen_now, fresh, done), act, ctx| {
            act.scanning = false;
            act.last_look = seen_now;
            for (path, stamp) in done {
                act.handled.insert(path, stamp);
            }
            if fresh.is_empty() {
                return;
            }
            let mut remember = Vec::new();
            let mut inputs = Vec::new();
            for (sha256, path, stamp) in fresh {
                let name = path.display().to_string();
                act.handled.insert(path.clone(), stamp);
                remember.push((sha256, name));
                inputs.push(path);
            }
            tracing::info!(files = inputs.len(), "importing new files from IMPORT_DIR");
            let me = ctx.address();
            actix::spawn(async move {
                let start = StartImport {
                    inputs: inputs.clone(),
                    remember,
                    ..StartImport::default()
                };
                if let Ok(Err(e)) = me.send(start).await {
                    tracing::info!(error = %e, "files from IMPORT_DIR wait for the next look");
                    me.do_send(LookAgain(inputs));
                }
            });
        })
        .spawn(ctx);
    }
}

/// Files of the watched folder a job could not take now (another import ran): the next look
/// takes them.
#[derive(Message)]
#[rtype(result = "()")]
struct LookAgain(Vec<PathBuf>);

impl Handler<LookAgain> for ImportActor {
    type Result = ();

    fn handle(&mut self, LookAgain(paths): LookAgain, _: &mut Self::Context) {
        for path in paths {
            self.handled.remove(&path);
        }
    }
}

/// Every file under `dir` the watched folder takes, with its size and modification time.
fn listing(dir: &Path) -> HashMap<PathBuf, (u64, Option<SystemTime>)> {
    let mut found = HashMap::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            let path = entry.path();
            if meta.is_dir() {
                folders.push(path);
            } else if meta.is_file() && watched(&path) {
                found.insert(path, (meta.len(), meta.modified().ok()));
            }
        }
    }
    found
}

/// Whether the watched folder takes this file: `.zip`, `.fit`, `.gpx`, `.tcx`, each also `.gz`.
fn watched(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    !name.starts_with('.')
        && WATCHED_EXTENSIONS
            .iter()
            .any(|ext| name.ends_with(&format!(".{ext}")))
}

fn sha256_of(path: &Path) -> Option<String> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).ok()?;
    Some(format!("{:x}", hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watched_folder_takes_activity_files_and_archives_only() {
        for (name, taken) in [
            ("a/b/ride.fit", true),
            ("RUN.GPX", true),
            ("x.tcx.gz", true),
            ("export_1.zip", true),
            ("notes.txt", false),
            (".partial.fit", false),
            ("photo.jpg.gz", false),
        ] {
            assert_eq!(watched(Path::new(name)), taken, "{name}");
        }
    }
}
