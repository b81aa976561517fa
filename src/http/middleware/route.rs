//! Which route a request is for, known before the router runs, so the request span and the
//! request counter carry the route's pattern without asking actix-web's resource map (which
//! walks every resource again, testing the templated ones with a regex, on each call). Built
//! once from the route table's paths; a path matches a pattern as actix-web's router matches it:
//! literal segments exactly, a `{name}` segment any one non-empty segment.
//!
//! Paths are normalized here too, before anything reads them: trailing slashes trimmed and
//! repeated slashes merged (`/strava/health/` is `/strava/health`, as the old service
//! redirected), the work done only for a path that needs it.

use std::collections::HashMap;

use actix_web::dev::{ServiceRequest, Url};
use actix_web::http::Uri;
use actix_web::http::uri::PathAndQuery;

/// One route of the table, by its place in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteId(usize);

impl RouteId {
    pub fn index(self) -> usize {
        self.0
    }
}

#[derive(Debug)]
enum Segment {
    Literal(Box<str>),
    Any,
}

/// Every served path pattern, for matching.
#[derive(Debug, Default)]
pub struct Routes {
    patterns: Vec<Box<str>>,
    /// Per pattern, whether it is a read answered from memory.
    reads: Vec<bool>,
    /// Patterns without a `{name}` segment, by their path.
    exact: HashMap<Box<str>, RouteId>,
    /// The others, in table order.
    templated: Vec<(RouteId, Vec<Segment>)>,
}

impl Routes {
    /// The routes of these patterns (`/strava/stats/summary/{year}`), each once; those also in
    /// `reads` are reads answered from memory.
    pub fn new(patterns: impl IntoIterator<Item = String>, reads: &[String]) -> Self {
        let mut routes = Self::default();
        for pattern in patterns {
            if routes.patterns.iter().any(|p| **p == *pattern) {
                continue;
            }
            let id = RouteId(routes.patterns.len());
            if pattern.contains('{') {
                let segments = pattern
                    .split('/')
                    .map(|s| {
                        if s.starts_with('{') && s.ends_with('}') {
                            Segment::Any
                        } else {
                            Segment::Literal(s.into())
                        }
                    })
                    .collect();
                routes.templated.push((id, segments));
            } else {
                routes.exact.insert(pattern.as_str().into(), id);
            }
            routes.reads.push(reads.contains(&pattern));
            routes.patterns.push(pattern.into());
        }
        routes
    }

    /// The route `path` (normalized, percent-decoded as the router sees it) is for.
    pub fn find(&self, path: &str) -> Option<RouteId> {
        if let Some(&id) = self.exact.get(path) {
            return Some(id);
        }
        self.templated
            .iter()
            .find(|(_, segments)| {
                let mut parts = path.split('/');
                segments
                    .iter()
                    .all(|segment| match (segment, parts.next()) {
                        (Segment::Literal(literal), Some(part)) => **literal == *part,
                        (Segment::Any, Some(part)) => !part.is_empty(),
                        (_, None) => false,
                    })
                    && parts.next().is_none()
            })
            .map(|(id, _)| *id)
    }

    pub fn pattern(&self, id: RouteId) -> &str {
        self.patterns.get(id.0).map_or("", |p| p)
    }

    /// Whether the route is a read answered from memory.
    pub fn is_read(&self, id: RouteId) -> bool {
        self.reads.get(id.0).copied().unwrap_or(false)
    }

    /// Every pattern, in [`RouteId`] order.
    pub fn patterns(&self) -> impl Iterator<Item = &str> {
        self.patterns.iter().map(|p| &**p)
    }
}

/// Whether `path` would change when normalized.
fn needs_normalizing(path: &str) -> bool {
    path.len() > 1 && (path.ends_with('/') || path.contains("//"))
}

/// `path` without trailing slashes and with repeated ones merged (`/` for only slashes).
fn normalized(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for part in path.split('/').filter(|p| !p.is_empty()) {
        out.push('/');
        out.push_str(part);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Normalizes the request's path in place (its URI and what the router matches).
pub fn normalize(req: &mut ServiceRequest) {
    let uri = &req.head().uri;
    if !needs_normalizing(uri.path()) {
        return;
    }
    let path = normalized(uri.path());
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    let mut parts = uri.clone().into_parts();
    let Ok(path_and_query) = PathAndQuery::try_from(path_and_query) else {
        return;
    };
    parts.path_and_query = Some(path_and_query);
    let Ok(uri) = Uri::from_parts(parts) else {
        return;
    };
    req.match_info_mut().set(Url::new(uri.clone()));
    req.head_mut().uri = uri;
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn routes() -> Routes {
        Routes::new(
            [
                "/strava/stats/ytd",
                "/strava/stats/summary/{year}",
                "/strava/webhook",
                "/strava/webhook/{secret}",
                "/strava/stats/ytd",
            ]
            .map(String::from),
            &["/strava/stats/ytd".to_owned()],
        )
    }

    #[test]
    fn paths_find_their_pattern_literal_or_templated() {
        let routes = routes();
        let pattern = |path| routes.find(path).map(|id| routes.pattern(id));
        assert_eq!(pattern("/strava/stats/ytd"), Some("/strava/stats/ytd"));
        assert_eq!(
            pattern("/strava/stats/summary/2025"),
            Some("/strava/stats/summary/{year}")
        );
        assert_eq!(
            pattern("/strava/webhook/s3cr3t"),
            Some("/strava/webhook/{secret}")
        );
        assert_eq!(pattern("/strava/webhook"), Some("/strava/webhook"));
        for unmatched in [
            "/strava/stats/summary",
            "/strava/stats/summary/2025/x",
            "/strava/stats/ytd/x",
            "/strava/stats",
            "/nope",
        ] {
            assert_eq!(pattern(unmatched), None, "{unmatched}");
        }
        assert_eq!(routes.patterns().count(), 4, "each pattern once");
        let read = |path| routes.find(path).is_some_and(|id| routes.is_read(id));
        assert!(read("/strava/stats/ytd"));
        assert!(!read("/strava/webhook"));
    }

    #[test]
    fn only_paths_that_need_it_are_rewritten() {
        for (path, expected) in [
            ("/strava/health/", "/strava/health"),
            ("/strava//stats///ytd//", "/strava/stats/ytd"),
            ("//", "/"),
            ("/", "/"),
            ("/strava/health", "/strava/health"),
        ] {
            let mut req = TestRequest::get()
                .uri(&format!("{path}?type=Run"))
                .to_srv_request();
            normalize(&mut req);
            assert_eq!(req.path(), expected, "{path}");
            assert_eq!(req.match_info().as_str(), expected, "{path}");
            assert_eq!(req.query_string(), "type=Run", "{path}");
        }
    }
}
