//! `milepost_http_requests_total`: every answer counted by route pattern (`unmatched` for
//! unknown paths, so a scan cannot grow the label set) and status. The counter of a route and
//! a common status is found once and kept, so counting an answer is one increment on this
//! thread's shard: no label set built, no map locked.

use std::sync::OnceLock;

use prometheus_client::metrics::family::Family;

use super::route::{RouteId, Routes};
use crate::metrics::{HotCounter, HttpLabels};

/// The route label of a path no route matched.
pub const UNMATCHED: &str = "unmatched";

/// Statuses milepost answers often enough to keep their counters at hand.
const COMMON: [u16; 20] = [
    200, 204, 302, 304, 400, 401, 403, 404, 405, 409, 413, 414, 415, 422, 429, 431, 500, 502, 503,
    504,
];

/// The counters of one route, by common status, each made on first use (so `/metrics` lists
/// only what was answered).
#[derive(Debug, Default)]
struct Slots([OnceLock<HotCounter>; COMMON.len()]);

/// Counts answers by route and status.
#[derive(Debug)]
pub struct RequestCounter {
    family: Family<HttpLabels, HotCounter>,
    patterns: Vec<String>,
    /// One per route, then one for unmatched paths.
    slots: Vec<Slots>,
}

impl RequestCounter {
    pub fn new(family: Family<HttpLabels, HotCounter>, routes: &Routes) -> Self {
        let patterns = routes
            .patterns()
            .map(str::to_owned)
            .chain(std::iter::once(UNMATCHED.to_owned()))
            .collect::<Vec<_>>();
        let slots = patterns.iter().map(|_| Slots::default()).collect();
        Self {
            family,
            patterns,
            slots,
        }
    }

    /// Counts one answer with `status` for `route` (`None`: unmatched).
    pub fn count(&self, route: Option<RouteId>, status: u16) {
        let at = route.map_or(self.patterns.len() - 1, RouteId::index);
        let counter = |pattern: &String| {
            self.family
                .get_or_create(&HttpLabels {
                    route: pattern.clone(),
                    status,
                })
                .clone()
        };
        let (Some(pattern), Some(slots)) = (self.patterns.get(at), self.slots.get(at)) else {
            return;
        };
        match COMMON.iter().position(|&s| s == status) {
            Some(i) => slots.0[i].get_or_init(|| counter(pattern)).inc(),
            None => counter(pattern).inc(),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_counted_by_pattern_and_status() {
        let routes = Routes::new(["/a".to_owned(), "/b/{x}".to_owned()], &[]);
        let family = Family::<HttpLabels, HotCounter>::default();
        let counter = RequestCounter::new(family.clone(), &routes);
        let b = routes.find("/b/1");
        for (route, status) in [
            (b, 200),
            (b, 200),
            (b, 418),
            (None, 404),
            (routes.find("/a"), 304),
        ] {
            counter.count(route, status);
        }
        let get = |route: &str, status| {
            family
                .get_or_create(&HttpLabels {
                    route: route.to_owned(),
                    status,
                })
                .get()
        };
        assert_eq!(get("/b/{x}", 200), 2);
        assert_eq!(get("/b/{x}", 418), 1);
        assert_eq!(get(UNMATCHED, 404), 1);
        assert_eq!(get("/a", 304), 1);
        assert_eq!(get("/a", 200), 0);
    }
}
