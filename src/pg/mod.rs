//! A private PostgreSQL cluster run from the machine's own server binaries (`initdb`, `pg_ctl`).
//!
//! `milepost demo` keeps a persistent cluster under its data directory, and the black-box tests
//! start a throwaway (`ephemeral`) one per test run. The cluster listens on 127.0.0.1 only, on a
//! free port picked at start, with Unix sockets disabled.
//!
//! No login goes without a password: `initdb` writes a `pg_hba.conf` that asks every TCP
//! connection for SCRAM-SHA-256 (and Unix-socket connections, which are switched off anyway, for
//! peer authentication). The `postgres` superuser's password is random, generated at the first
//! `initdb` and kept in [`PASSWORD_FILE`] (mode 0600) inside the cluster directory, which only its
//! owner can open. Every URL from [`PgCluster::url`] carries it; nothing logs it.
//!
//! A cluster created by an older milepost trusted every local login and has no password file.
//! It is not migrated: [`PgCluster::start`] refuses it with [`ClusterError::LegacyCluster`],
//! whose message says to delete the directory, after which a new cluster is created there.
//!
//! PostgreSQL refuses to run as root, so when milepost is root every server binary runs as the
//! `postgres` user (`runuser -u postgres -- …`); the cluster directory must then be reachable by
//! that user, which [`cluster_dir_for`] takes care of. Directories made for the cluster are
//! created with mode 0700 and never reused from a predictable path: fallbacks get a random name
//! ([`PgCluster::start_ephemeral`], [`cluster_dir_for`]), and an existing directory is used only
//! if it is owned by the user the server runs as (or root) and not writable by group or others.
//! [`PgCluster::stop_when_process_exits`] makes sure the server never outlives the process that
//! started it, even after a SIGKILL.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use rand::Rng as _;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};
use tokio::process::Command;

use crate::config::write_private;

/// Debian/Ubuntu keep each major version's server binaries in `<this>/<version>/bin`.
const DEBIAN_PG_LIB: &str = "/usr/lib/postgresql";
/// The superuser `initdb` creates and every connection uses (password-authenticated).
const SUPERUSER: &str = "postgres";
/// The file in the cluster directory holding the superuser's password (mode 0600).
pub const PASSWORD_FILE: &str = "milepost-superuser.password";
/// Characters in the generated superuser password (alphanumeric: about 190 bits).
const PASSWORD_LEN: usize = 32;
/// In a data directory the `postgres` user cannot reach (as root), this file names the fresh
/// directory under [`FALLBACK_PARENT`] that holds its cluster.
const CLUSTER_DIR_POINTER: &str = "postgres-cluster-dir";
/// Where fallback cluster directories are created, each with a random name.
const FALLBACK_PARENT: &str = "/var/tmp";
/// How many random names `create_fresh_dir` tries before giving up.
const FRESH_DIR_ATTEMPTS: usize = 16;
/// How many ports `start` tries when another process grabs the one it picked.
const START_ATTEMPTS: usize = 5;
/// Seconds `pg_ctl` waits for the server to start or stop (crash recovery can take a while).
const PG_CTL_WAIT_SECS: &str = "120";
/// How often `create_database` retries while its template is still in use.
const TEMPLATE_BUSY_RETRIES: u32 = 50;
const TEMPLATE_BUSY_PAUSE: Duration = Duration::from_millis(100);
/// How much of a failing command's output or of the server log goes into an error.
const MAX_OUTPUT_CHARS: usize = 2_000;

/// The watchdog run by [`PgCluster::stop_when_process_exits`], as a POSIX `sh` script.
///
/// Arguments: `$1` pid to watch, `$2` pg_ctl, `$3` data dir, `$4` the postmaster pid it started
/// (empty if none), `$5` `1` if ephemeral, `$6` runuser (empty unless root). A process counts as
/// gone once it is a zombie or its start time changes (the pid was recycled), so a parent that
/// does not reap promptly cannot keep the cluster alive. The server is stopped only if it is still
/// the one this process started, so a cluster restarted in the same directory by a newer run
/// survives an older run's watchdog.
const WATCHDOG_SCRIPT: &str = r#"
pid=$1 pg_ctl=$2 dir=$3 postmaster=$4 ephemeral=$5 runuser=$6
stat_of() { sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null; }
started=$(stat_of | cut -d' ' -f20)
if [ -n "$started" ]; then
  while s=$(stat_of) && [ -n "$s" ]; do
    set -- $s
    case $1 in Z|X) break ;; esac
    [ "${20}" = "$started" ] || break
    sleep 1
  done
else
  while kill -0 "$pid" 2>/dev/null; do sleep 1; done
fi
pg() { if [ -n "$runuser" ]; then "$runuser" -u postgres -- "$pg_ctl" "$@"; else "$pg_ctl" "$@"; fi; }
current=$(head -n 1 "$dir/postmaster.pid" 2>/dev/null)
if [ -n "$current" ] && [ "$current" = "$postmaster" ]; then
  if [ "$ephemeral" = 1 ]; then
    pg stop -D "$dir" -m immediate -w
  else
    pg stop -D "$dir" -m fast -w -t 30 || pg stop -D "$dir" -m immediate -w
  fi
  current=
fi
if [ "$ephemeral" = 1 ] && [ -z "$current" ]; then rm -rf -- "$dir"; fi
"#;

/// What can go wrong running the private cluster. Messages carry the failing command's output,
/// which never holds the superuser's password: `initdb` reads it from a file, and the server
/// binaries are never given it.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No `initdb`/`pg_ctl`; the payload lists where they were looked for.
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl) not found. Install them, e.g. \
         `apt-get install postgresql` on Debian/Ubuntu, or set PG_BIN_DIR to their directory; \
         or point DATABASE_URL/TEST_DATABASE_URL at an existing server. (Looked in: {0})"
    )]
    MissingBinaries(String),
    /// Running as root, but the `postgres` user cannot run the server in the directory.
    #[error(
        "running as root, PostgreSQL must run as the `postgres` user, but {0}. Use a cluster \
         directory that user can reach (every parent directory traversable, e.g. under /var/tmp)"
    )]
    RunAsPostgres(String),
    /// An existing cluster made by an older milepost, with password-less (trust) logins.
    #[error(
        "the PostgreSQL cluster in {dir} has no password file ({file}): an older milepost created \
         it to accept password-less logins, which is no longer allowed. Delete that directory \
         (rm -rf {dir}) and start again: a new cluster with a random password is created \
         (the demo re-creates its data)"
    )]
    LegacyCluster { dir: String, file: String },
    /// A directory or file that someone else could control, or that others can read.
    #[error("refusing to use {path} for the private PostgreSQL cluster: {reason}")]
    Unsafe { path: String, reason: String },
    /// A file-system operation failed.
    #[error("could not {action}: {source}")]
    Io {
        action: String,
        #[source]
        source: std::io::Error,
    },
    /// A PostgreSQL binary (or helper) exited unsuccessfully.
    #[error("`{command}` failed ({status}): {output}")]
    Command {
        command: String,
        status: String,
        output: String,
    },
    /// The server did not come up; `reason` includes the tail of its log.
    #[error("PostgreSQL did not start in {dir}: {reason}")]
    Start { dir: String, reason: String },
    /// Talking to the running server failed.
    #[error("could not {action}: {source}")]
    Postgres {
        action: String,
        #[source]
        source: tokio_postgres::Error,
    },
}

/// How the server binaries are run: directly, or as the `postgres` user when milepost is root.
#[derive(Debug, Clone)]
enum Runner {
    CurrentUser {
        uid: u32,
    },
    Postgres {
        runuser: PathBuf,
        uid: u32,
        gid: u32,
    },
}

impl Runner {
    fn for_current_user() -> Result<Self, ClusterError> {
        let uid = effective_uid().ok_or_else(|| ClusterError::Io {
            action: "find out which user this process runs as".into(),
            source: std::io::Error::other("neither /proc/self/status nor `id -u` answered"),
        })?;
        if uid != 0 {
            return Ok(Self::CurrentUser { uid });
        }
        let runuser = find_runuser().ok_or_else(|| {
            ClusterError::RunAsPostgres("`runuser` (util-linux) was not found".into())
        })?;
        let (uid, gid) = postgres_ids()?;
        Ok(Self::Postgres { runuser, uid, gid })
    }

    /// Gives `path` (just created by this process) to the user the server runs as.
    fn hand_over(&self, path: &Path) -> Result<(), ClusterError> {
        match self {
            Self::CurrentUser { .. } => Ok(()),
            Self::Postgres { uid, gid, .. } => {
                std::os::unix::fs::lchown(path, Some(*uid), Some(*gid)).map_err(io_error(format!(
                    "hand {} to the postgres user",
                    path.display()
                )))
            }
        }
    }

    /// Whether files owned by `uid` may be used: the server's user's own, or root's.
    fn trusts_owner(&self, uid: u32) -> bool {
        match self {
            Self::CurrentUser { uid: own } => uid == *own,
            Self::Postgres { uid: postgres, .. } => uid == *postgres || uid == 0,
        }
    }

    fn command(&self, program: &Path) -> Command {
        let mut command = match self {
            Self::CurrentUser { .. } => Command::new(program),
            Self::Postgres { runuser, .. } => {
                let mut command = Command::new(runuser);
                command.args(["-u", "postgres", "--"]).arg(program);
                command
            }
        };
        // The caller's working directory (e.g. /root) may be unreadable for `postgres`.
        command.current_dir("/").stdin(Stdio::null());
        command
    }
}

/// A running private PostgreSQL cluster. Stopping is explicit ([`stop`](Self::stop)) or left to
/// the watchdog ([`stop_when_process_exits`](Self::stop_when_process_exits)); dropping this
/// value leaves the server running.
#[derive(Debug)]
pub struct PgCluster {
    /// Canonical path of the data directory.
    data_dir: PathBuf,
    port: u16,
    bin_dir: PathBuf,
    runner: Runner,
    /// Throwaway data: durability off, and the watchdog deletes the directory.
    ephemeral: bool,
    /// The `postgres` superuser's password (redacted in `Debug`).
    password: SecretString,
}

impl PgCluster {
    /// Starts a cluster in `dir`, creating and initialising it first if it has no `PG_VERSION`.
    ///
    /// Binaries come from `PG_BIN_DIR`, else `pg_config --bindir`, else the highest
    /// `/usr/lib/postgresql/*/bin`, else `PATH`. A server left running in `dir` by a crashed run
    /// is stopped first, and a stale `postmaster.pid` is removed. `ephemeral` turns durability
    /// off (`fsync=off` and friends), for test clusters whose data is thrown away: the watchdog
    /// of [`stop_when_process_exits`](Self::stop_when_process_exits) then deletes `dir`.
    ///
    /// `dir` is created with mode 0700 if missing; an existing one must be owned by the user the
    /// server runs as (or root) and not writable by group or others, else this fails with
    /// [`ClusterError::Unsafe`]. An initialised cluster without [`PASSWORD_FILE`] (made by an
    /// older milepost) fails with [`ClusterError::LegacyCluster`].
    pub async fn start(dir: &Path, ephemeral: bool) -> Result<PgCluster, ClusterError> {
        let runner = Runner::for_current_user()?;
        Self::start_with(dir, runner, ephemeral).await
    }

    /// Starts an ephemeral cluster in a fresh directory (random name, mode 0700) under the
    /// system's temporary directory.
    pub async fn start_ephemeral() -> Result<PgCluster, ClusterError> {
        let runner = Runner::for_current_user()?;
        let dir = create_fresh_dir(&std::env::temp_dir(), "milepost-test-pg-")?;
        runner.hand_over(&dir)?;
        Self::start_with(&dir, runner, true).await
    }

    async fn start_with(
        dir: &Path,
        runner: Runner,
        ephemeral: bool,
    ) -> Result<PgCluster, ClusterError> {
        let bin_dir = locate_binaries(std::env::var_os("PG_BIN_DIR")).await?;
        prepare_cluster_dir(dir, &runner)?;
        let data_dir = tokio::fs::canonicalize(dir)
            .await
            .map_err(io_error(format!("resolve {}", dir.display())))?;

        let mut cluster = PgCluster {
            data_dir,
            port: 0,
            bin_dir,
            runner,
            ephemeral,
            password: SecretString::from(String::new()),
        };
        let initialised = tokio::fs::try_exists(cluster.data_dir.join("PG_VERSION"))
            .await
            .map_err(io_error(format!("inspect {}", cluster.data_dir.display())))?;
        cluster.password = if initialised {
            read_password(&cluster.data_dir, &cluster.runner)?
        } else {
            cluster.init().await?
        };
        cluster.clear_leftover_server().await?;
        cluster.port = cluster.start_on_free_port().await?;
        tracing::info!(
            data_dir = %cluster.data_dir.display(),
            port = cluster.port,
            ephemeral,
            "private PostgreSQL cluster started"
        );
        Ok(cluster)
    }

    /// The port the server listens on (127.0.0.1 only).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The (canonical) data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The file holding the superuser's password (mode 0600, inside the cluster directory).
    pub fn password_file(&self) -> PathBuf {
        self.data_dir.join(PASSWORD_FILE)
    }

    /// A connection URL for `database`, as the `postgres` superuser with its password: keep it
    /// secret (e.g. in a `SecretString`) and out of logs.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{}",
            percent_encode(self.password.expose_secret()),
            self.port,
            percent_encode(database)
        )
    }

    /// Creates `name`, copied from `template` if given. An existing database is left as it is.
    ///
    /// A template that other sessions are still leaving (e.g. just after migrating it) is waited
    /// for briefly instead of failing.
    pub async fn create_database(
        &self,
        name: &str,
        template: Option<&str>,
    ) -> Result<(), ClusterError> {
        let client = self.connect(SUPERUSER).await?;
        let exists = client
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
            .await
            .map_err(postgres_error(format!("look up database {name:?}")))?;
        if exists.is_some() {
            return Ok(());
        }

        let mut sql = format!("CREATE DATABASE {}", quote_identifier(name));
        if let Some(template) = template {
            sql.push_str(" TEMPLATE ");
            sql.push_str(&quote_identifier(template));
        }
        let mut retries = 0;
        loop {
            let error = match client.batch_execute(&sql).await {
                Ok(()) => return Ok(()),
                Err(error) => error,
            };
            let code = error.code();
            // Someone else created it between our check and our CREATE.
            if code == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE)
                || code == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
            {
                return Ok(());
            }
            if code == Some(&tokio_postgres::error::SqlState::OBJECT_IN_USE)
                && retries < TEMPLATE_BUSY_RETRIES
            {
                retries += 1;
                tokio::time::sleep(TEMPLATE_BUSY_PAUSE).await;
                continue;
            }
            return Err(ClusterError::Postgres {
                action: format!("create database {name:?}"),
                source: error,
            });
        }
    }

    /// Spawns a detached watchdog that stops this cluster once process `pid` has exited (by any
    /// means, SIGKILL included) and, for an ephemeral cluster, deletes its directory.
    ///
    /// The watchdog runs in its own session with no standard streams, so Ctrl-C and a closed
    /// terminal do not reach it; it polls once a second.
    pub fn stop_when_process_exits(&self, pid: u32) -> Result<(), ClusterError> {
        let postmaster = std::fs::read_to_string(self.data_dir.join("postmaster.pid"))
            .ok()
            .and_then(|contents| contents.lines().next().map(str::to_owned))
            .unwrap_or_default();
        let runuser = match &self.runner {
            Runner::CurrentUser { .. } => OsString::new(),
            Runner::Postgres { runuser, .. } => runuser.clone().into_os_string(),
        };
        let arguments: Vec<OsString> = vec![
            "milepost-pg-watchdog".into(), // $0
            pid.to_string().into(),
            self.bin_dir.join("pg_ctl").into_os_string(),
            self.data_dir.clone().into_os_string(),
            postmaster.into(),
            if self.ephemeral { "1" } else { "0" }.into(),
            runuser,
        ];
        let watchdog = |program: &str, leading: &[&str]| {
            let mut command = std::process::Command::new(program);
            command
                .args(leading)
                .args(["sh", "-c", WATCHDOG_SCRIPT])
                .args(&arguments)
                .current_dir("/")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            command
        };

        // `setsid -f` forks and returns at once, leaving the watchdog orphaned in its own session.
        let detached = watchdog("setsid", &["-f"])
            .status()
            .is_ok_and(|status| status.success());
        if !detached {
            // No setsid (or one without --fork): a process group of its own still keeps the
            // terminal's Ctrl-C away from the watchdog.
            let mut fallback = watchdog("env", &[]);
            fallback.process_group(0);
            fallback
                .spawn()
                .map_err(io_error("spawn the PostgreSQL watchdog".into()))?;
        }
        tracing::debug!(pid, data_dir = %self.data_dir.display(), "PostgreSQL watchdog armed");
        Ok(())
    }

    /// Stops the server (`pg_ctl stop -m fast`), waiting until it is down. Stopping a server
    /// that is not running succeeds. The data directory is left in place.
    pub async fn stop(&self) -> Result<(), ClusterError> {
        let command = self.pg_ctl_stop("fast", PG_CTL_WAIT_SECS);
        let description = describe(&command);
        let output = run(command).await?;
        if output.status.success() {
            tracing::info!(data_dir = %self.data_dir.display(), "private PostgreSQL cluster stopped");
            return Ok(());
        }
        // `pg_ctl status` exits with 3 when no server is running: already stopped is fine.
        let mut status = self.pg_ctl();
        status.arg("status").arg("-D").arg(&self.data_dir);
        if run(status).await?.status.code() == Some(3) {
            return Ok(());
        }
        Err(command_error(description, &output))
    }

    /// `initdb` into the (empty) data directory, after handing it to `postgres` when root, with
    /// SCRAM-SHA-256 for every TCP login and a fresh random superuser password, which is then
    /// kept in [`PASSWORD_FILE`] and returned.
    async fn init(&self) -> Result<SecretString, ClusterError> {
        if let Runner::Postgres { runuser, .. } = &self.runner {
            // A directory checked by `prepare_cluster_dir`: ours or postgres's, not a symlink.
            self.runner.hand_over(&self.data_dir)?;

            let mut probe = Command::new(runuser);
            probe
                .args(["-u", "postgres", "--", "test", "-w"])
                .arg(&self.data_dir)
                .current_dir("/");
            let output = run(probe).await?;
            if !output.status.success() {
                return Err(ClusterError::RunAsPostgres(format!(
                    "it cannot write to {} ({})",
                    self.data_dir.display(),
                    summarize(&output)
                        .unwrap_or_else(|| "a parent directory is not traversable".into())
                )));
            }
        }

        let password = generate_password();
        // initdb wants an empty data directory, so its password file waits next to it, in a
        // fresh directory only the server's user can open, and is deleted right after.
        let parent = self.data_dir.parent().unwrap_or(Path::new("/"));
        let scratch = create_fresh_dir(parent, ".milepost-initdb-")?;
        let result = self.run_initdb(&scratch, &password).await;
        if let Err(error) = std::fs::remove_dir_all(&scratch) {
            tracing::warn!(%error, dir = %scratch.display(), "could not remove initdb's scratch directory");
        }
        result?;

        let file = self.password_file();
        write_private(&file, &format!("{}\n", password.expose_secret()))
            .map_err(io_error(format!("write {}", file.display())))?;
        self.runner.hand_over(&file)?;
        Ok(password)
    }

    async fn run_initdb(
        &self,
        scratch: &Path,
        password: &SecretString,
    ) -> Result<(), ClusterError> {
        self.runner.hand_over(scratch)?;
        let pwfile = scratch.join("pwfile");
        write_private(&pwfile, &format!("{}\n", password.expose_secret()))
            .map_err(io_error(format!("write {}", pwfile.display())))?;
        self.runner.hand_over(&pwfile)?;

        let mut initdb = self.runner.command(&self.bin_dir.join("initdb"));
        initdb
            .arg("-D")
            .arg(&self.data_dir)
            .args(["--auth-host=scram-sha-256", "--auth-local=peer"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .args(["-U", SUPERUSER, "-E", "UTF8"])
            // The C locale exists everywhere and makes sorting independent of the host.
            .args(["--no-locale", "--no-instructions"]);
        if self.ephemeral {
            initdb.arg("--no-sync");
        }
        tracing::info!(data_dir = %self.data_dir.display(), "initialising a private PostgreSQL cluster");
        run_checked(initdb).await.map(drop)
    }

    /// Makes sure nothing left by an earlier run blocks the start: a postmaster still serving
    /// this directory is stopped, and a `postmaster.pid` whose process is gone (or is now some
    /// other process) is removed, since PostgreSQL would refuse to start while that pid lives.
    async fn clear_leftover_server(&self) -> Result<(), ClusterError> {
        let pid_file = self.data_dir.join("postmaster.pid");
        let contents = match tokio::fs::read_to_string(&pid_file).await {
            Ok(contents) => contents,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(error) => {
                return Err(io_error(format!("read {}", pid_file.display()))(error));
            }
        };
        let pid = contents
            .lines()
            .next()
            .and_then(|line| line.trim().parse::<u32>().ok());
        match pid.map(|pid| postmaster_state(pid, &self.data_dir)) {
            Some(PostmasterState::Serving) => {
                tracing::warn!(
                    data_dir = %self.data_dir.display(),
                    "a PostgreSQL server from an earlier run is still running here; stopping it"
                );
                if !run(self.pg_ctl_stop("fast", "30")).await?.status.success() {
                    run_checked(self.pg_ctl_stop("immediate", PG_CTL_WAIT_SECS)).await?;
                }
                Ok(())
            }
            Some(PostmasterState::Unknown) => Ok(()),
            Some(PostmasterState::Gone) | None => {
                tracing::info!(
                    data_dir = %self.data_dir.display(),
                    "removing a stale postmaster.pid left by a server that is no longer running"
                );
                match tokio::fs::remove_file(&pid_file).await {
                    Ok(()) => Ok(()),
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(error) => Err(io_error(format!("remove {}", pid_file.display()))(error)),
                }
            }
        }
    }

    /// `pg_ctl start` on a free port, retrying with another port when something else takes the
    /// chosen one between our probe and the server's bind.
    async fn start_on_free_port(&self) -> Result<u16, ClusterError> {
        let log = self.data_dir.join("server.log");
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = free_port()?;
            let log_start = tokio::fs::metadata(&log)
                .await
                .map(|m| m.len())
                .unwrap_or(0);

            let mut options = format!(
                "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' \
                 -c max_connections=200"
            );
            if self.ephemeral {
                options.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
            }
            let mut command = self.pg_ctl();
            command
                .args(["-w", "-t", PG_CTL_WAIT_SECS, "-D"])
                .arg(&self.data_dir)
                .arg("-l")
                .arg(&log)
                .arg("-o")
                .arg(&options)
                .arg("start");
            let output = run(command).await?;
            if output.status.success() {
                return Ok(port);
            }

            let new_log = read_log_from(&log, log_start).await;
            let port_taken = new_log.contains("Address already in use")
                || new_log.contains("could not create any TCP/IP sockets");
            if port_taken && attempt < START_ATTEMPTS {
                tracing::warn!(
                    port,
                    attempt,
                    "port taken while PostgreSQL started; trying another"
                );
                continue;
            }
            let mut reason = summarize(&output).unwrap_or_else(|| "pg_ctl failed".into());
            if !new_log.trim().is_empty() {
                reason.push_str("; server.log: ");
                reason.push_str(tail(new_log.trim(), MAX_OUTPUT_CHARS));
            }
            return Err(ClusterError::Start {
                dir: self.data_dir.display().to_string(),
                reason,
            });
        }
    }

    fn pg_ctl(&self) -> Command {
        self.runner.command(&self.bin_dir.join("pg_ctl"))
    }

    /// `pg_ctl stop` in `mode` (fast / immediate), waiting up to `wait_secs` for the server to go.
    fn pg_ctl_stop(&self, mode: &str, wait_secs: &str) -> Command {
        let mut command = self.pg_ctl();
        command
            .arg("stop")
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-m", mode, "-w", "-t", wait_secs]);
        command
    }

    async fn connect(&self, database: &str) -> Result<tokio_postgres::Client, ClusterError> {
        let mut config = tokio_postgres::Config::new();
        config
            .host("127.0.0.1")
            .port(self.port)
            .user(SUPERUSER)
            .password(self.password.expose_secret())
            .dbname(database)
            .connect_timeout(Duration::from_secs(10));
        let (client, connection) =
            config
                .connect(tokio_postgres::NoTls)
                .await
                .map_err(postgres_error(format!(
                    "connect to the private cluster on port {}",
                    self.port
                )))?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "private cluster connection closed with an error");
            }
        });
        Ok(client)
    }
}

/// Where a persistent cluster for `data_dir` lives: `data_dir/postgres`, unless milepost is root
/// and the `postgres` user cannot reach that path (e.g. under `/root`, which is not traversable
/// for other users). Then the cluster lives in a fresh directory `/var/tmp/milepost-pg-<random>`
/// (mode 0700, owned by `postgres`) whose path is kept in `data_dir/postgres-cluster-dir`, so
/// the same data directory finds the same cluster next time; [`PgCluster::start`] checks the
/// owner and mode of that directory before using it. Should it have vanished, a new fresh one
/// replaces it.
///
/// Runs `runuser` synchronously when root; meant for start-up.
pub fn cluster_dir_for(data_dir: &Path) -> Result<PathBuf, ClusterError> {
    let data_dir = std::fs::canonicalize(data_dir)
        .or_else(|_| std::path::absolute(data_dir))
        .unwrap_or_else(|_| data_dir.to_path_buf());
    let preferred = data_dir.join("postgres");
    if !is_root() {
        return Ok(preferred);
    }
    // Without runuser `start` fails with a clear error anyway; do not move the cluster for it.
    let Some(runuser) = find_runuser() else {
        return Ok(preferred);
    };
    if postgres_can_reach(&runuser, &preferred) {
        return Ok(preferred);
    }
    fallback_cluster_dir(&data_dir, Path::new(FALLBACK_PARENT))
}

/// The fallback directory recorded for `data_dir`, or a fresh one under `parent`, recorded.
fn fallback_cluster_dir(data_dir: &Path, parent: &Path) -> Result<PathBuf, ClusterError> {
    let pointer = data_dir.join(CLUSTER_DIR_POINTER);
    match std::fs::read_to_string(&pointer) {
        Ok(text) => {
            let recorded = PathBuf::from(text.trim());
            if !recorded.is_absolute() {
                return Err(ClusterError::Unsafe {
                    path: pointer.display().to_string(),
                    reason: "it does not hold an absolute path; delete it".into(),
                });
            }
            // Owner and mode are checked by `PgCluster::start`.
            if std::fs::symlink_metadata(&recorded).is_ok() {
                return Ok(recorded);
            }
            tracing::info!(
                cluster_dir = %recorded.display(),
                "the recorded PostgreSQL cluster directory is gone; creating a new one"
            );
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(io_error(format!("read {}", pointer.display()))(error)),
    }

    warn_about_old_fallback(data_dir);
    let runner = Runner::for_current_user()?;
    let fresh = create_fresh_dir(parent, "milepost-pg-")?;
    runner.hand_over(&fresh)?;
    std::fs::create_dir_all(data_dir)
        .map_err(io_error(format!("create {}", data_dir.display())))?;
    std::fs::write(&pointer, format!("{}\n", fresh.display()))
        .map_err(io_error(format!("write {}", pointer.display())))?;
    tracing::info!(
        data_dir = %data_dir.display(),
        cluster_dir = %fresh.display(),
        "running as root, PostgreSQL runs as the `postgres` user, which cannot reach {}; \
         keeping the cluster in {} instead",
        data_dir.join("postgres").display(),
        fresh.display()
    );
    Ok(fresh)
}

/// Older versions kept this data directory's cluster at the predictable
/// `/var/tmp/milepost-pg-<hash>`, which is no longer used: say so if it is still there.
fn warn_about_old_fallback(data_dir: &Path) {
    let digest = Sha256::digest(data_dir.as_os_str().as_bytes());
    let hash: String = digest[..6]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let old = PathBuf::from(format!("{FALLBACK_PARENT}/milepost-pg-{hash}"));
    if old.exists() {
        tracing::warn!(
            old_cluster_dir = %old.display(),
            "a PostgreSQL cluster directory left by an older milepost is no longer used; delete it"
        );
    }
}

/// Creates a new directory `parent/<prefix><random>` with mode 0700, never reusing one that
/// already exists (which someone else may have made).
fn create_fresh_dir(parent: &Path, prefix: &str) -> Result<PathBuf, ClusterError> {
    for _ in 0..FRESH_DIR_ATTEMPTS {
        let suffix: String = rand::thread_rng()
            .sample_iter(rand::distributions::Alphanumeric)
            .take(12)
            .map(char::from)
            .collect();
        let dir = parent.join(format!("{prefix}{suffix}"));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(io_error(format!("create {}", dir.display()))(error)),
        }
    }
    Err(ClusterError::Io {
        action: format!("create a fresh directory in {}", parent.display()),
        source: std::io::Error::from(std::io::ErrorKind::AlreadyExists),
    })
}

/// Creates `dir` (mode 0700, handed to the server's user), or checks an existing one: a real
/// directory, owned by the server's user (or root), not writable by group or others.
fn prepare_cluster_dir(dir: &Path, runner: &Runner) -> Result<(), ClusterError> {
    if let Some(parent) = dir.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(io_error(format!("create {}", parent.display())))?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => return runner.hand_over(dir),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(io_error(format!("create {}", dir.display()))(error)),
    }
    let unsafe_dir = |reason: String| ClusterError::Unsafe {
        path: dir.display().to_string(),
        reason,
    };
    let metadata =
        std::fs::symlink_metadata(dir).map_err(io_error(format!("inspect {}", dir.display())))?;
    if !metadata.is_dir() {
        return Err(unsafe_dir(
            "it is not a directory (a symbolic link or a file)".into(),
        ));
    }
    if !runner.trusts_owner(metadata.uid()) {
        return Err(unsafe_dir(format!(
            "it is owned by uid {}, not by the user PostgreSQL runs as; delete it or choose \
             another directory",
            metadata.uid()
        )));
    }
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(unsafe_dir(format!(
            "group or others can write to it (mode {mode:04o}); run `chmod 700` on it or delete it"
        )));
    }
    Ok(())
}

/// The superuser's password from [`PASSWORD_FILE`], which must be a regular file owned by the
/// server's user (or root) that group and others cannot access.
fn read_password(data_dir: &Path, runner: &Runner) -> Result<SecretString, ClusterError> {
    let file = data_dir.join(PASSWORD_FILE);
    let metadata = match std::fs::symlink_metadata(&file) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(ClusterError::LegacyCluster {
                dir: data_dir.display().to_string(),
                file: PASSWORD_FILE.into(),
            });
        }
        Err(error) => return Err(io_error(format!("inspect {}", file.display()))(error)),
    };
    let unsafe_file = |reason: String| ClusterError::Unsafe {
        path: file.display().to_string(),
        reason,
    };
    if !metadata.is_file() {
        return Err(unsafe_file("it is not a regular file".into()));
    }
    if !runner.trusts_owner(metadata.uid()) {
        return Err(unsafe_file(format!(
            "it is owned by uid {}, not by the user PostgreSQL runs as",
            metadata.uid()
        )));
    }
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(unsafe_file(format!(
            "group or others can access it (mode {mode:04o}); run `chmod 600` on it"
        )));
    }
    let text =
        std::fs::read_to_string(&file).map_err(io_error(format!("read {}", file.display())))?;
    let password = text.lines().next().unwrap_or_default().trim();
    if password.is_empty() {
        return Err(unsafe_file("it is empty".into()));
    }
    Ok(SecretString::from(password.to_owned()))
}

/// A random alphanumeric password for the superuser.
fn generate_password() -> SecretString {
    let password: String = rand::thread_rng()
        .sample_iter(rand::distributions::Alphanumeric)
        .take(PASSWORD_LEN)
        .map(char::from)
        .collect();
    SecretString::from(password)
}

/// Whether `postgres` can traverse to `path`: its deepest existing ancestor must be searchable
/// by that user (which requires every directory above it to be too). Directories created below
/// it are made by root with the usual 0755 and handed over by `start`.
fn postgres_can_reach(runuser: &Path, path: &Path) -> bool {
    let Some(existing) = path.ancestors().find(|ancestor| ancestor.exists()) else {
        return false;
    };
    std::process::Command::new(runuser)
        .args(["-u", "postgres", "--", "test", "-x"])
        .arg(existing)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// What the pid in a `postmaster.pid` refers to now.
#[derive(Debug, PartialEq, Eq)]
enum PostmasterState {
    /// A live postmaster for this data directory.
    Serving,
    /// Exited (maybe a zombie not yet reaped), or the pid now belongs to another program.
    Gone,
    /// No `/proc` to tell; leave it to PostgreSQL.
    Unknown,
}

fn postmaster_state(pid: u32, data_dir: &Path) -> PostmasterState {
    if !Path::new("/proc/self/stat").exists() {
        return PostmasterState::Unknown;
    }
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let Ok(stat) = std::fs::read_to_string(proc_dir.join("stat")) else {
        return PostmasterState::Gone;
    };
    // The state follows the parenthesised command name, which may itself contain ") ".
    let state = stat
        .rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next());
    if matches!(state, None | Some('Z' | 'X')) {
        return PostmasterState::Gone;
    }
    let Ok(cmdline) = std::fs::read(proc_dir.join("cmdline")) else {
        return PostmasterState::Gone;
    };
    let args: Vec<&[u8]> = cmdline.split(|&byte| byte == 0).collect();
    let is_postgres = args.first().is_some_and(|program| {
        let name = Path::new(OsStr::from_bytes(program)).file_name();
        name == Some(OsStr::new("postgres")) || name == Some(OsStr::new("postmaster"))
    });
    let serves_dir = args
        .windows(2)
        .any(|pair| pair[0] == b"-D" && Path::new(OsStr::from_bytes(pair[1])) == data_dir);
    if is_postgres && serves_dir {
        PostmasterState::Serving
    } else {
        PostmasterState::Gone
    }
}

/// Finds a directory holding `initdb`, `pg_ctl` and `postgres`, in the documented order.
/// `pg_bin_dir` (the `PG_BIN_DIR` setting), when given, is the only place looked at.
async fn locate_binaries(pg_bin_dir: Option<OsString>) -> Result<PathBuf, ClusterError> {
    if let Some(dir) = pg_bin_dir.filter(|dir| !dir.is_empty()) {
        let dir = PathBuf::from(dir);
        if has_server_binaries(&dir) {
            return Ok(dir);
        }
        return Err(ClusterError::MissingBinaries(format!(
            "PG_BIN_DIR={} (set, but initdb, pg_ctl or postgres is not there)",
            dir.display()
        )));
    }

    let mut looked = Vec::new();
    let mut candidates = Vec::new();
    match Command::new("pg_config").arg("--bindir").output().await {
        Ok(output) if output.status.success() => {
            let dir = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            looked.push(format!("{dir} (pg_config --bindir)"));
            candidates.push(PathBuf::from(dir));
        }
        _ => looked.push("pg_config --bindir (no pg_config)".into()),
    }
    let mut versioned = versioned_bin_dirs(Path::new(DEBIAN_PG_LIB));
    looked.push(format!("{DEBIAN_PG_LIB}/*/bin"));
    candidates.append(&mut versioned);
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
        looked.push("PATH".into());
    }

    candidates
        .into_iter()
        .find(|dir| has_server_binaries(dir))
        .ok_or_else(|| ClusterError::MissingBinaries(looked.join(", ")))
}

/// `root/<version>/bin` directories, highest version first (`15` before `9.6`).
fn versioned_bin_dirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut versions: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name();
            let version = name
                .to_str()?
                .split('.')
                .map(|part| part.parse::<u32>().ok())
                .collect::<Option<Vec<u32>>>()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

fn has_server_binaries(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres"]
        .iter()
        .all(|name| is_executable(&dir.join(name)))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}

/// `runuser` from util-linux, on `PATH` or in the sbin directories root's `PATH` may lack.
fn find_runuser() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join("runuser"))
        .find(|candidate| is_executable(candidate))
}

/// Whether this process runs with effective uid 0.
fn is_root() -> bool {
    effective_uid() == Some(0)
}

/// This process's effective uid (from `/proc`, else `id -u`).
fn effective_uid() -> Option<u32> {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let effective_uid = status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|uids| uids.split_whitespace().nth(1))
            .and_then(|uid| uid.parse().ok());
        if effective_uid.is_some() {
            return effective_uid;
        }
    }
    id_number(&["-u"])
}

/// The `postgres` user's uid and gid.
fn postgres_ids() -> Result<(u32, u32), ClusterError> {
    id_number(&["-u", "postgres"])
        .zip(id_number(&["-g", "postgres"]))
        .ok_or_else(|| ClusterError::RunAsPostgres("there is no `postgres` user".into()))
}

/// The number `id <args>` prints, if it succeeds.
fn id_number(args: &[&str]) -> Option<u32> {
    let output = std::process::Command::new("id")
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}

/// A port nobody listens on right now (the kernel's choice for port 0).
fn free_port() -> Result<u16, ClusterError> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(io_error("find a free port on 127.0.0.1".into()))
}

/// The part of the server log written since `offset`, lossily decoded.
async fn read_log_from(log: &Path, offset: u64) -> String {
    let bytes = tokio::fs::read(log).await.unwrap_or_default();
    let start = usize::try_from(offset).unwrap_or(0).min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// Runs `command` to completion, capturing its output.
async fn run(mut command: Command) -> Result<Output, ClusterError> {
    let description = describe(&command);
    tracing::debug!(command = %description, "running");
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .map_err(io_error(format!("run `{description}`")))
}

/// Like [`run`], but an unsuccessful exit is an error carrying the command's output.
async fn run_checked(command: Command) -> Result<Output, ClusterError> {
    let description = describe(&command);
    let output = run(command).await?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(command_error(description, &output))
    }
}

fn command_error(command: String, output: &Output) -> ClusterError {
    ClusterError::Command {
        command,
        status: output.status.to_string(),
        output: summarize(output).unwrap_or_else(|| "no output".into()),
    }
}

/// A command's stderr and stdout, trimmed and shortened, or `None` if both are empty.
fn summarize(output: &Output) -> Option<String> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let text = [stderr.trim(), stdout.trim()]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    (!text.is_empty()).then(|| tail(&text, MAX_OUTPUT_CHARS).to_owned())
}

/// The last `max_chars` characters of `text` (where errors usually say what went wrong).
fn tail(text: &str, max_chars: usize) -> &str {
    let skip = text.chars().count().saturating_sub(max_chars);
    text.char_indices()
        .nth(skip)
        .map_or("", |(index, _)| &text[index..])
}

fn describe(command: &Command) -> String {
    let command = command.as_std();
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}

fn io_error(action: String) -> impl FnOnce(std::io::Error) -> ClusterError {
    move |source| ClusterError::Io { action, source }
}

fn postgres_error(action: String) -> impl FnOnce(tokio_postgres::Error) -> ClusterError {
    move |source| ClusterError::Postgres { action, source }
}

/// `"name"` with embedded quotes doubled, safe to splice into SQL as an identifier.
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Percent-encodes everything but RFC 3986 unreserved characters, for the URL path.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A unique, not yet existing directory under /tmp for one test's cluster.
    fn temp_dir(test: &str) -> PathBuf {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .subsec_nanos();
        PathBuf::from(format!(
            "/tmp/milepost-cluster-test-{test}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ))
    }

    /// Starts a cluster, failing (never skipping) with the error's message, e.g. how to
    /// install missing binaries. A watchdog stops it should the test binary die first.
    async fn start(dir: &Path, ephemeral: bool) -> PgCluster {
        let cluster = PgCluster::start(dir, ephemeral)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        cluster
            .stop_when_process_exits(std::process::id())
            .unwrap_or_else(|error| panic!("{error}"));
        cluster
    }

    async fn stop_and_remove(cluster: PgCluster) {
        cluster
            .stop()
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        std::fs::remove_dir_all(cluster.data_dir()).expect("remove the test cluster");
    }

    async fn connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        Ok(client)
    }

    async fn select_one(url: &str) -> i32 {
        let client = connect(url).await.unwrap_or_else(|error| panic!("{error}"));
        let row = client.query_one("SELECT 1", &[]).await.expect("SELECT 1");
        row.get(0)
    }

    async fn table_exists(url: &str, table: &str) -> bool {
        let client = connect(url).await.unwrap_or_else(|error| panic!("{error}"));
        let row = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
            .await
            .expect("to_regclass");
        row.get(0)
    }

    /// Whether `url` (right password included) is refused, i.e. nothing serves it.
    async fn refuses_connections(url: &str) -> bool {
        connect(url).await.is_err()
    }

    #[tokio::test]
    async fn a_started_cluster_answers_queries() {
        let cluster = start(&temp_dir("select"), true).await;

        let answer = select_one(&cluster.url("postgres")).await;

        assert_eq!(answer, 1);
        assert!(cluster.url("postgres").starts_with("postgres://postgres:"));
        assert!(cluster.data_dir().join("PG_VERSION").exists());
        stop_and_remove(cluster).await;
    }

    #[tokio::test]
    async fn create_database_with_and_without_template_is_idempotent() {
        let cluster = start(&temp_dir("createdb"), true).await;

        cluster
            .create_database("app_template", None)
            .await
            .expect("create");
        cluster
            .create_database("app_template", None)
            .await
            .expect("exists: ok");
        let template = connect(&cluster.url("app_template"))
            .await
            .expect("connect");
        template
            .batch_execute("CREATE TABLE migrated (id int)")
            .await
            .expect("create table");
        drop(template);
        // The template's session may still be closing: create_database waits for it.
        cluster
            .create_database("test_db_1", Some("app_template"))
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        cluster
            .create_database("test_db_1", Some("app_template"))
            .await
            .expect("exists: ok");
        cluster
            .create_database("odd \"name\"-ß", None)
            .await
            .expect("quoted name");

        assert!(table_exists(&cluster.url("test_db_1"), "migrated").await);
        assert_eq!(select_one(&cluster.url("odd \"name\"-ß")).await, 1);
        let missing = cluster.create_database("x", Some("no_such_template")).await;
        assert!(
            matches!(missing, Err(ClusterError::Postgres { .. })),
            "{missing:?}"
        );
        stop_and_remove(cluster).await;
    }

    #[tokio::test]
    async fn restarting_the_same_directory_keeps_its_data() {
        let dir = temp_dir("restart");
        let first = start(&dir, false).await;
        let client = connect(&first.url("postgres")).await.expect("connect");
        client
            .batch_execute("CREATE TABLE kept (id int); INSERT INTO kept VALUES (42)")
            .await
            .expect("create table");
        drop(client);
        first.stop().await.unwrap_or_else(|error| panic!("{error}"));

        let second = start(&dir, false).await;

        let client = connect(&second.url("postgres")).await.expect("connect");
        let row = client
            .query_one("SELECT id FROM kept", &[])
            .await
            .expect("select");
        assert_eq!(row.get::<_, i32>(0), 42);
        stop_and_remove(second).await;
    }

    #[tokio::test]
    async fn a_stopped_cluster_refuses_connections() {
        let cluster = start(&temp_dir("stop"), true).await;
        assert_eq!(select_one(&cluster.url("postgres")).await, 1);

        cluster
            .stop()
            .await
            .unwrap_or_else(|error| panic!("{error}"));

        assert!(refuses_connections(&cluster.url("postgres")).await);
        assert!(!cluster.data_dir().join("postmaster.pid").exists());
        // Stopping again is harmless.
        cluster
            .stop()
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        std::fs::remove_dir_all(cluster.data_dir()).expect("remove the test cluster");
    }

    #[tokio::test]
    async fn a_server_left_running_by_a_crashed_run_is_replaced() {
        let dir = temp_dir("leftover");
        let crashed_run = start(&dir, true).await;
        let old_port = crashed_run.port();

        let next_run = start(&dir, true).await;

        assert_eq!(select_one(&next_run.url("postgres")).await, 1);
        if next_run.port() != old_port {
            assert!(refuses_connections(&crashed_run.url("postgres")).await);
        }
        stop_and_remove(next_run).await;
    }

    #[tokio::test]
    async fn a_stale_pid_file_from_a_killed_server_does_not_block_a_restart() {
        let dir = temp_dir("killed");
        let killed = start(&dir, true).await;
        let pid_file = killed.data_dir().join("postmaster.pid");
        let pid = std::fs::read_to_string(&pid_file).expect("postmaster.pid");
        let pid = pid.lines().next().expect("pid line").to_owned();
        let status = std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .expect("run kill");
        assert!(status.success());
        assert!(
            pid_file.exists(),
            "a SIGKILLed postmaster leaves its pid file behind"
        );

        let restarted = start(&dir, true).await;

        assert_eq!(select_one(&restarted.url("postgres")).await, 1);
        stop_and_remove(restarted).await;
    }

    #[tokio::test]
    async fn the_watchdog_stops_and_removes_an_ephemeral_cluster_when_its_owner_exits() {
        let cluster = PgCluster::start(&temp_dir("watchdog"), true)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        // The test binary's own watchdog too, in case an assertion fails.
        cluster
            .stop_when_process_exits(std::process::id())
            .expect("arm the safety watchdog");
        let mut owner = Command::new("sleep").arg("1").spawn().expect("spawn sleep");
        let owner_pid = owner.id().expect("owner pid");
        cluster
            .stop_when_process_exits(owner_pid)
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(select_one(&cluster.url("postgres")).await, 1);

        owner.wait().await.expect("owner exits");

        let mut stopped = false;
        for _ in 0..40 {
            if refuses_connections(&cluster.url("postgres")).await && !cluster.data_dir().exists() {
                stopped = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert!(
            stopped,
            "the watchdog stopped the server and removed its directory"
        );
    }

    #[tokio::test]
    async fn missing_binaries_are_reported_with_how_to_install_them() {
        let empty = temp_dir("no-binaries");
        std::fs::create_dir_all(&empty).expect("create empty dir");

        let error = locate_binaries(Some(empty.clone().into_os_string()))
            .await
            .expect_err("no binaries there");

        std::fs::remove_dir_all(&empty).expect("remove empty dir");
        assert!(matches!(error, ClusterError::MissingBinaries(_)));
        let message = error.to_string();
        assert!(message.contains(
            "PostgreSQL server binaries (initdb, pg_ctl) not found. Install them, e.g. \
             `apt-get install postgresql` on Debian/Ubuntu, or set PG_BIN_DIR to their \
             directory; or point DATABASE_URL/TEST_DATABASE_URL at an existing server."
        ));
        assert!(message.contains(&empty.display().to_string()), "{message}");
    }

    #[tokio::test]
    async fn the_machines_binaries_are_found_without_configuration() {
        let dir = locate_binaries(None)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        assert!(has_server_binaries(&dir));
    }

    #[test]
    fn a_data_dir_the_postgres_user_can_reach_holds_its_cluster() {
        let data_dir = temp_dir("reachable");
        assert_eq!(
            cluster_dir_for(&data_dir).expect("a cluster directory"),
            data_dir.join("postgres")
        );
    }

    #[test]
    fn as_root_an_unreachable_data_dir_gets_a_fresh_recorded_fallback() {
        // A directory only root can open, like /root.
        let private = temp_dir("private");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&private)
            .expect("create");
        let data_dir = private.join(".milepost");
        let chosen = cluster_dir_for(&data_dir).expect("a cluster directory");
        let root_only = is_root() && find_runuser().is_some();
        if !root_only {
            assert_eq!(chosen, data_dir.join("postgres"));
            std::fs::remove_dir_all(&private).expect("remove");
            return;
        }
        let name = chosen
            .file_name()
            .and_then(OsStr::to_str)
            .unwrap_or_default()
            .to_owned();
        assert!(chosen.starts_with("/var/tmp"), "{}", chosen.display());
        assert!(
            name.starts_with("milepost-pg-") && name.len() == 24,
            "{name}"
        );
        let metadata = std::fs::symlink_metadata(&chosen).expect("created");
        let (postgres_uid, _) = postgres_ids().expect("a postgres user");
        assert_eq!(metadata.uid(), postgres_uid);
        assert_eq!(metadata.permissions().mode() & 0o7777, 0o700);
        assert_eq!(
            cluster_dir_for(&data_dir).expect("again"),
            chosen,
            "recorded"
        );
        let other = private.join("other");
        let other_dir = cluster_dir_for(&other).expect("another");
        assert_ne!(other_dir, chosen);

        // Once gone, it is replaced by a new fresh directory, not re-created at its path.
        std::fs::remove_dir(&chosen).expect("remove");
        let replaced = cluster_dir_for(&data_dir).expect("replaced");
        assert_ne!(replaced, chosen);
        assert!(!chosen.exists());

        for dir in [&replaced, &other_dir, &private] {
            std::fs::remove_dir_all(dir).expect("remove");
        }
    }

    #[tokio::test]
    async fn an_existing_directory_others_can_write_to_is_refused() {
        let dir = temp_dir("writable");
        std::fs::create_dir(&dir).expect("create");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");

        let refused = PgCluster::start(&dir, true).await;

        std::fs::remove_dir_all(&dir).expect("remove");
        let message = refused.expect_err("refused").to_string();
        assert!(
            message.contains("group or others can write to it"),
            "{message}"
        );
        assert!(message.contains(&dir.display().to_string()), "{message}");
    }

    #[tokio::test]
    async fn an_existing_directory_owned_by_someone_else_is_refused() {
        if !is_root() {
            // Only root can make a directory someone else owns.
            return;
        }
        let dir = temp_dir("foreign");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .expect("create");
        std::os::unix::fs::lchown(&dir, Some(65_534), Some(65_534)).expect("chown to nobody");

        let refused = PgCluster::start(&dir, true).await;

        std::fs::remove_dir_all(&dir).expect("remove");
        let message = refused.expect_err("refused").to_string();
        assert!(message.contains("owned by uid 65534"), "{message}");
    }

    #[tokio::test]
    async fn a_cluster_without_a_password_file_is_refused_with_how_to_fix_it() {
        let dir = temp_dir("legacy");
        let cluster = start(&dir, false).await;
        cluster
            .stop()
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        std::fs::remove_file(cluster.password_file()).expect("remove the password file");

        let refused = PgCluster::start(&dir, false).await;

        std::fs::remove_dir_all(cluster.data_dir()).expect("remove the test cluster");
        let error = refused.expect_err("refused");
        assert!(
            matches!(error, ClusterError::LegacyCluster { .. }),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("Delete that directory"), "{message}");
        assert!(
            message.contains(&cluster.data_dir().display().to_string()),
            "{message}"
        );
    }

    #[tokio::test]
    async fn a_password_file_others_can_read_is_refused() {
        let dir = temp_dir("readable");
        let cluster = start(&dir, false).await;
        cluster
            .stop()
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        let file = cluster.password_file();
        assert_eq!(
            std::fs::metadata(&file)
                .expect("password file")
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");

        let refused = PgCluster::start(&dir, false).await;

        std::fs::remove_dir_all(cluster.data_dir()).expect("remove the test cluster");
        let message = refused.expect_err("refused").to_string();
        assert!(message.contains("chmod 600"), "{message}");
        assert!(message.contains(PASSWORD_FILE), "{message}");
    }

    #[tokio::test]
    async fn the_password_is_in_the_url_but_not_in_debug_output() {
        let cluster = PgCluster::start_ephemeral()
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        cluster
            .stop_when_process_exits(std::process::id())
            .unwrap_or_else(|error| panic!("{error}"));
        let password = std::fs::read_to_string(cluster.password_file()).expect("password file");
        let password = password.trim();
        assert_eq!(password.len(), PASSWORD_LEN);

        assert!(cluster.url("postgres").contains(&format!(":{password}@")));
        assert!(!format!("{cluster:?}").contains(password));
        let name = cluster
            .data_dir()
            .file_name()
            .and_then(OsStr::to_str)
            .unwrap_or_default()
            .to_owned();
        assert!(
            name.starts_with("milepost-test-pg-") && name.len() == 29,
            "{name}"
        );
        stop_and_remove(cluster).await;
    }

    #[test]
    fn versioned_directories_are_tried_highest_first() {
        let root = temp_dir("versions");
        for version in ["9.6", "15", "13", "not-a-version"] {
            std::fs::create_dir_all(root.join(version).join("bin")).expect("create");
        }

        let dirs = versioned_bin_dirs(&root);

        std::fs::remove_dir_all(&root).expect("remove");
        let names: Vec<_> = dirs
            .iter()
            .map(|dir| {
                dir.parent()
                    .and_then(Path::file_name)
                    .and_then(OsStr::to_str)
            })
            .collect();
        assert_eq!(names, [Some("15"), Some("13"), Some("9.6")]);
    }

    #[test]
    fn urls_and_identifiers_are_escaped() {
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
        assert_eq!(percent_encode("test_db-1.x~"), "test_db-1.x~");
        assert_eq!(percent_encode("a b/ß"), "a%20b%2F%C3%9F");
        assert_eq!(tail("abcdef", 3), "def");
        assert_eq!(tail("ab", 3), "ab");
        assert_eq!(tail("ßßß", 2), "ßß");
    }
}
