//! The CacheActor's copy on each HTTP worker (SPEC §6): a read route asks the one on its own
//! worker thread, so a read never crosses threads, waits for an ingest or takes a lock. Each
//! holds the same [`Served`] snapshot, which the CacheActor replaces whole at every change
//! ([`Serve`]). What is made on demand from a snapshot (pages of the activity list, the empty
//! calendar of a year without activities, the SVG cards, each drawn from the JSON bodies it
//! shows) is kept in a small moka cache of its own, bounded in entries and bytes
//! ([`bounded`]), until the next snapshot.
//!
//! Messages: [`Get`] (a body, by what is read), [`ListActivities`] (a page of the activity
//! list), [`Serve`] (the CacheActor's new snapshot).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, Datelike, NaiveDate, Utc};

use super::body::CachedBody;
use super::bounded::{self, HeapSize};
use crate::actors::mailbox::{Ask, Reply, answers_traced};
use crate::actors::shutdown::{Shutdown, stops_on_shutdown};
use crate::clock::Clock;
use crate::metrics::{CacheLabels, HotCounter, Metrics};
use crate::render::cards::{self, Look};
use crate::stats::{self, ListQuery};

/// Reads come from one worker's connections; this is the backlog they may build up.
const MAILBOX_CAPACITY: usize = 4096;

/// Everything the read routes serve, as the CacheActor last published it.
#[derive(Default)]
pub struct Served {
    pub bodies: HashMap<String, Arc<CachedBody>>,
    /// Every public activity, pre-serialized, for `/strava/activities`.
    pub list: Arc<stats::ActivityList>,
    /// The athlete's offset from UTC (seconds): their current local day and year.
    pub utc_offset: i64,
    /// When the data was read from Strava (`None`: nothing served yet).
    pub fetched_at: Option<DateTime<Utc>>,
}

impl Served {
    /// This worker's copy: every body in memory of its own ([`CachedBody::local_copy`]); the
    /// activity list, read only to make pages (which are this worker's own), stays shared.
    fn local_copy(&self) -> Self {
        Self {
            bodies: self
                .bodies
                .iter()
                .map(|(key, body)| (key.clone(), Arc::new(body.local_copy())))
                .collect(),
            list: self.list.clone(),
            utc_offset: self.utc_offset,
            fetched_at: self.fetched_at,
        }
    }
}

pub struct CacheReader {
    served: Arc<Served>,
    made: moka::sync::Cache<Made, Arc<CachedBody>>,
    clock: Clock,
    hits: HotCounter,
    misses: HotCounter,
}

impl CacheReader {
    pub fn new(clock: Clock, metrics: &Metrics) -> Self {
        let lookups = |result| {
            metrics
                .cache_lookups
                .get_or_create(&CacheLabels { result })
                .clone()
        };
        Self {
            served: Arc::default(),
            made: bounded::cache(bounded::MADE_BYTES, bounded::MADE_ENTRIES),
            clock,
            hits: lookups("hit"),
            misses: lookups("miss"),
        }
    }

    fn lookup(&self, key: &str) -> Option<Arc<CachedBody>> {
        let found = self.served.bodies.get(key).cloned();
        match found {
            Some(_) => self.hits.inc(),
            None => self.misses.inc(),
        };
        found
    }
}

impl Actor for CacheReader {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
    }
}

stops_on_shutdown!(CacheReader);
answers_traced!(CacheReader: Get, ListActivities, Shutdown);

/// Which body a read route serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// A body without parameters (ytd, recent activities, totals, yearly).
    Fixed(&'static str),
    /// The twelve months ending with the athlete's current one, of one legacy type or all.
    Monthly(Option<String>),
    /// One local year by type; years after the athlete's current one are refused.
    Summary(i32),
    /// The longest activity of a family in a local year (default: the athlete's current one).
    Longest { family: Family, year: Option<i32> },
    /// The twelve ISO weeks ending with the athlete's current one, of one legacy type or all.
    Weekly(Option<String>),
    /// The active days of a local year (default: the athlete's current one); years after it
    /// are refused.
    Calendar {
        year: Option<i32>,
        kind: Option<String>,
    },
    /// Day and week streaks, of one legacy type or all.
    Streaks(Option<String>),
    /// An SVG card of the figures of another read.
    Card(Card),
}

/// An SVG card: which, how it looks, and what it shows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Card {
    pub which: CardKind,
    pub look: Look,
    /// A legacy type (monthly, calendar, streaks), or Run, Ride or Swim (ytd).
    pub kind: Option<String>,
    /// The calendar's local year (default: the athlete's current one).
    pub year: Option<i32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardKind {
    Ytd,
    Monthly,
    Calendar,
    Streaks,
}

/// What a reader makes on demand from its snapshot, and keeps until the next one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Made {
    Page(ListQuery),
    /// The calendar of a year (and type) without activities.
    EmptyCalendar(i32, Option<String>),
    Card(Card),
}

impl HeapSize for Made {
    fn heap_bytes(&self) -> usize {
        match self {
            Made::Page(query) => query.kind.heap_bytes(),
            Made::EmptyCalendar(_, kind) => kind.heap_bytes(),
            Made::Card(card) => card.kind.heap_bytes(),
        }
    }
}

/// The activity families of `longest-run` and `longest-ride`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Run,
    Ride,
}

/// The answer to a [`Get`].
#[derive(Debug, MessageResponse)]
pub enum Lookup {
    Found(Arc<CachedBody>),
    /// Nothing to serve; `year` is the year the read was for, when it names one.
    Missing {
        year: Option<i32>,
    },
    /// The read named a year after the athlete's current local year.
    AfterCurrentYear {
        current: i32,
    },
}

impl Reply for Lookup {
    fn is_error(&self) -> bool {
        false
    }
}

/// The body a read route serves.
#[derive(Message)]
#[rtype(result = "Lookup")]
pub struct Get(pub Read);

impl Ask for Get {
    /// Asked only by handlers on this reader's own worker thread.
    const TIMEOUT: Option<Duration> = None;
}

impl Handler<Get> for CacheReader {
    type Result = Lookup;

    fn handle(&mut self, Get(read): Get, _: &mut Self::Context) -> Self::Result {
        self.find(read)
    }
}

impl CacheReader {
    /// The athlete's local date now.
    fn today(&self) -> NaiveDate {
        stats::local_time(self.clock.now(), self.served.utc_offset).date()
    }

    fn find(&self, read: Read) -> Lookup {
        let current = self.today().year();
        let (found, year) = match read {
            Read::Fixed(key) => (self.lookup(key), None),
            Read::Monthly(kind) => (
                self.by_type(stats::keys::MONTHLY, stats::keys::MONTHLY_NONE, kind),
                None,
            ),
            Read::Weekly(kind) => (
                self.by_type(stats::keys::WEEKLY, stats::keys::WEEKLY_NONE, kind),
                None,
            ),
            Read::Streaks(kind) => (
                self.by_type(stats::keys::STREAKS, stats::keys::STREAKS_NONE, kind),
                None,
            ),
            Read::Summary(year)
            | Read::Calendar {
                year: Some(year), ..
            } if year > current => {
                return Lookup::AfterCurrentYear { current };
            }
            Read::Summary(year) => (self.lookup(&stats::keys::summary_of(year)), Some(year)),
            Read::Longest { family, year } => {
                let year = year.unwrap_or(current);
                let key = match family {
                    Family::Run => stats::keys::longest_run_of(year),
                    Family::Ride => stats::keys::longest_ride_of(year),
                };
                (self.lookup(&key), Some(year))
            }
            Read::Calendar { year, kind } => {
                let year = year.unwrap_or(current);
                (self.calendar(year, kind), Some(year))
            }
            Read::Card(card) => return self.card(card),
        };
        match found {
            Some(body) => Lookup::Found(body),
            None => Lookup::Missing { year },
        }
    }

    /// The body under `all` without a type; with one, the body of that type, or `none` (zero
    /// figures) for a type the athlete never did, once any data is cached.
    fn by_type(&self, all: &str, none: &str, kind: Option<String>) -> Option<Arc<CachedBody>> {
        match kind {
            None => self.lookup(all),
            Some(kind) => self
                .lookup(&format!("{all}?type={kind}"))
                .or_else(|| self.lookup(none)),
        }
    }

    /// A year's calendar: derived with the others when the year has activities (of that
    /// type), else made here with no days in it, once any data is cached.
    fn calendar(&self, year: i32, kind: Option<String>) -> Option<Arc<CachedBody>> {
        if let Some(body) = self.lookup(&stats::keys::calendar_of(year, kind.as_deref())) {
            return Some(body);
        }
        let fetched_at = self.served.fetched_at?;
        Some(
            self.made
                .get_with(Made::EmptyCalendar(year, kind.clone()), || {
                    let empty = stats::calendar(&[], year, kind.as_deref(), fetched_at);
                    Arc::new(CachedBody::new(empty))
                }),
        )
    }

    /// A card, drawn once per snapshot from the body of the read it shows (or saying there
    /// is no data yet).
    fn card(&self, card: Card) -> Lookup {
        let shown = match card.which {
            CardKind::Ytd => Read::Fixed(stats::keys::YTD),
            CardKind::Monthly => Read::Monthly(card.kind.clone()),
            CardKind::Streaks => Read::Streaks(card.kind.clone()),
            CardKind::Calendar => Read::Calendar {
                year: card.year,
                kind: card.kind.clone(),
            },
        };
        let body = match self.find(shown) {
            Lookup::Found(body) => Some(body),
            Lookup::Missing { .. } => None,
            refused @ Lookup::AfterCurrentYear { .. } => return refused,
        };
        let today = self.today();
        Lookup::Found(self.made.get_with(Made::Card(card.clone()), || {
            let json = body.as_ref().map(|b| &b.body[..]);
            let kind = card.kind.as_deref();
            let svg = match card.which {
                CardKind::Ytd => {
                    let only = kind.map(str::to_ascii_lowercase);
                    cards::ytd(json, only.as_deref(), card.look)
                }
                CardKind::Monthly => cards::monthly(json, kind, card.look),
                CardKind::Streaks => cards::streaks(json, kind, card.look),
                CardKind::Calendar => cards::calendar(
                    json,
                    card.year.unwrap_or(today.year()),
                    kind,
                    today,
                    card.look,
                ),
            };
            Arc::new(CachedBody::svg(svg.into()))
        }))
    }
}

/// One page of `/strava/activities`, with its ETag (and gzip form), made once per query and
/// snapshot.
#[derive(Message)]
#[rtype(result = "ActivityPage")]
pub struct ListActivities(pub ListQuery);

/// The page asked for.
#[derive(Debug, MessageResponse)]
pub struct ActivityPage(pub Arc<CachedBody>);

impl Ask for ListActivities {
    /// Asked only by handlers on this reader's own worker thread.
    const TIMEOUT: Option<Duration> = None;
}

impl Reply for ActivityPage {
    fn is_error(&self) -> bool {
        false
    }
}

impl Handler<ListActivities> for CacheReader {
    type Result = ActivityPage;

    fn handle(
        &mut self,
        ListActivities(query): ListActivities,
        _: &mut Self::Context,
    ) -> Self::Result {
        let list = &self.served.list;
        ActivityPage(self.made.get_with(Made::Page(query.clone()), || {
            let (body, etag) = list.page(&query);
            Arc::new(CachedBody::on_demand(body, etag))
        }))
    }
}

/// What to serve from now on (the CacheActor sends it to every reader at each change).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Serve(pub Arc<Served>);

impl Handler<Serve> for CacheReader {
    type Result = ();

    fn handle(&mut self, Serve(served): Serve, _: &mut Self::Context) {
        self.served = Arc::new(served.local_copy());
        self.made.invalidate_all();
    }
}
