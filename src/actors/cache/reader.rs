//! The CacheActor's copy on each HTTP worker (SPEC §6): a read route asks the one on its own
//! worker thread, so a read never crosses threads, waits for an ingest or takes a lock. Each
//! holds the same [`Served`] snapshot, which the CacheActor replaces whole at every change
//! ([`Serve`]); pages of the activity list are kept in a small moka cache of their own, until
//! the next snapshot.
//!
//! Messages: [`Get`] (a body, by what is read), [`ListActivities`] (a page of the activity
//! list), [`Serve`] (the CacheActor's new snapshot).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::Datelike;

use super::body::CachedBody;
use crate::actors::mailbox::{Ask, Reply, answers_traced};
use crate::actors::shutdown::{Shutdown, stops_on_shutdown};
use crate::clock::Clock;
use crate::metrics::{CacheLabels, HotCounter, Metrics};
use crate::stats::{self, ListQuery};

/// Reads come from one worker's connections; this is the backlog they may build up.
const MAILBOX_CAPACITY: usize = 4096;
/// Pages of the activity list kept per worker (each query its own page).
const PAGES: u64 = 256;

/// Everything the read routes serve, as the CacheActor last published it.
#[derive(Default)]
pub struct Served {
    pub bodies: HashMap<String, Arc<CachedBody>>,
    /// Every public activity, pre-serialized, for `/strava/activities`.
    pub list: Arc<stats::ActivityList>,
    /// The athlete's offset from UTC (seconds): their current local year.
    pub utc_offset: i64,
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
        }
    }
}

pub struct CacheReader {
    served: Arc<Served>,
    pages: moka::sync::Cache<ListQuery, Arc<CachedBody>>,
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
            pages: moka::sync::Cache::new(PAGES),
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
        let current = stats::local_time(self.clock.now(), self.served.utc_offset).year();
        let (found, year) = match read {
            Read::Fixed(key) => (self.lookup(key), None),
            Read::Monthly(None) => (self.lookup(stats::keys::MONTHLY), None),
            // A type the athlete never did has twelve zero months, once any data is cached.
            Read::Monthly(Some(kind)) => (
                self.lookup(&stats::keys::monthly_of(&kind))
                    .or_else(|| self.lookup(stats::keys::MONTHLY_NONE)),
                None,
            ),
            Read::Summary(year) if year > current => {
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
        };
        match found {
            Some(body) => Lookup::Found(body),
            None => Lookup::Missing { year },
        }
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
        ActivityPage(self.pages.get_with_by_ref(&query, || {
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
        self.pages.invalidate_all();
    }
}
