//! The per-address rate limit on `/strava/authorize` and `/strava/callback` (SPEC §5): each
//! route takes `OAUTH_RATE_LIMIT_PER_MINUTE` requests a minute from one client address (a burst
//! of that many, then one every 60/n seconds); more get the API's JSON 429 with `Retry-After`.
//!
//! The client address is the TCP peer's, unless the peer is one of `TRUSTED_PROXIES`: then it
//! is the right-most `X-Forwarded-For` entry that is not a trusted proxy (entries further left
//! were written by the client and prove nothing). IPv6 clients count by their /64, the least a
//! single host is usually handed.
//!
//! The counting is `governor`'s keyed GCRA limiter, used directly: the `actix-governor`
//! middleware would add a GPL-licensed dependency to an MIT project and answers with its own
//! plain-text body, not the `{"detail","code"}` JSON every other refusal here has. Memory stays
//! bounded: at most once a minute, and at once when the table grows past [`SWEEP_ABOVE`]
//! addresses, entries that are back to a full allowance are dropped.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError, web};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::{ApiError, ErrorCode};

/// Sweep the table at once when it holds more addresses than this.
pub const SWEEP_ABOVE: usize = 10_000;
/// Sweep at least this often (milliseconds)...
const SWEEP_EVERY_MS: u64 = 60_000;
/// ...and, however large the table, at most this often.
const SWEEP_AT_MOST_EVERY_MS: u64 = 1_000;

/// Which limited route a request is for: each has its own allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OAuthRoute {
    Authorize,
    Callback,
}

/// The limiter and what it needs to tell clients apart; shared by every worker (`app_data`).
pub struct OAuthRateLimit {
    limiter: DefaultKeyedRateLimiter<(OAuthRoute, IpAddr)>,
    trusted: Vec<IpAddr>,
    started: Instant,
    last_sweep: AtomicU64,
}

impl OAuthRateLimit {
    /// `per_minute` requests a minute per route and address (0 counts as 1).
    pub fn new(per_minute: u32, trusted_proxies: Vec<IpAddr>) -> Self {
        let quota = Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN));
        Self {
            limiter: RateLimiter::dashmap(quota),
            trusted: trusted_proxies.into_iter().map(canonical).collect(),
            started: Instant::now(),
            last_sweep: AtomicU64::new(0),
        }
    }

    /// The address a request counts against: see the module doc. `None` without a peer.
    pub fn client<'a>(
        &self,
        peer: Option<IpAddr>,
        forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    ) -> Option<IpAddr> {
        let peer = canonical(peer?);
        if !self.trusted.contains(&peer) {
            return Some(peer);
        }
        let mut client = peer;
        for entry in forwarded_for.rev().flat_map(|h| h.rsplit(',')) {
            let Some(ip) = parse_forwarded(entry.trim()) else {
                // Not an address: nothing further left can be trusted either.
                break;
            };
            client = ip;
            if !self.trusted.contains(&ip) {
                break;
            }
        }
        Some(client)
    }

    /// Counts one request of `client` to `route`; `Err(seconds)` to wait when over the limit.
    pub fn check(&self, route: OAuthRoute, client: IpAddr) -> Result<(), u64> {
        self.sweep();
        self.limiter
            .check_key(&(route, bucket(client)))
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(self.limiter.clock().now());
                wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
            })
    }

    /// How many addresses the table holds (for tests of the sweep).
    pub fn tracked(&self) -> usize {
        self.limiter.len()
    }

    fn sweep(&self) {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_sweep.load(Ordering::Relaxed);
        let since = now.saturating_sub(last);
        let due = since >= SWEEP_EVERY_MS
            || (since >= SWEEP_AT_MOST_EVERY_MS && self.limiter.len() > SWEEP_ABOVE);
        if due
            && self
                .last_sweep
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
pub(super) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// What one allowance belongs to: an IPv4 address, or an IPv6 /64.
fn bucket(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:80`, `[::1]:80`).
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<std::net::SocketAddr>().map(|a| a.ip()))
        .ok()
        .map(canonical)
}

/// The middleware of `/strava/authorize`.
pub async fn authorize(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    limit(OAuthRoute::Authorize, req, next).await
}

/// The middleware of `/strava/callback`.
pub async fn callback(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    limit(OAuthRoute::Callback, req, next).await
}

async fn limit(
    route: OAuthRoute,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if let Some(limits) = req.app_data::<web::Data<OAuthRateLimit>>() {
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>();
        let client = limits.client(req.peer_addr().map(|a| a.ip()), forwarded.into_iter());
        if let Some(client) = client
            && let Err(wait) = limits.check(route, client)
        {
            // Counted and logged (once a minute per route) by the edge, as every refusal.
            let refusal = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::TooManyRequests,
                "Too many requests from this address. Please try again later.",
            )
            .with_retry_after(wait.max(1))
            .error_response();
            return Ok(req.into_response(refusal).map_into_right_body());
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peers_forwarded_for_is_ignored() {
        let limits = OAuthRateLimit::new(20, vec![ip("10.0.0.1")]);
        let client = limits.client(Some(ip("192.0.2.7")), ["203.0.113.5"].into_iter());
        assert_eq!(client, Some(ip("192.0.2.7")));
    }

    #[test]
    fn a_trusted_proxy_gives_the_right_most_untrusted_address() {
        let limits = OAuthRateLimit::new(20, vec![ip("10.0.0.1"), ip("10.0.0.2")]);
        let from = |headers: &[&str]| limits.client(Some(ip("10.0.0.1")), headers.iter().copied());
        assert_eq!(
            from(&["198.51.100.9, 203.0.113.5, 10.0.0.2"]),
            Some(ip("203.0.113.5"))
        );
        assert_eq!(
            from(&["198.51.100.9", "203.0.113.5:4711"]),
            Some(ip("203.0.113.5"))
        );
        assert_eq!(from(&["[2001:db8::1]:80"]), Some(ip("2001:db8::1")));
        assert_eq!(from(&[]), Some(ip("10.0.0.1")));
        assert_eq!(from(&["garbage, 10.0.0.2"]), Some(ip("10.0.0.2")));
        assert_eq!(from(&["::ffff:203.0.113.5"]), Some(ip("203.0.113.5")));
    }

    #[test]
    fn each_address_and_route_has_its_own_allowance() {
        let limits = OAuthRateLimit::new(3, vec![]);
        let a = ip("192.0.2.1");
        for _ in 0..3 {
            assert!(limits.check(OAuthRoute::Authorize, a).is_ok());
        }
        let wait = limits.check(OAuthRoute::Authorize, a).unwrap_err();
        assert!((1..=20).contains(&wait), "{wait}");
        assert!(limits.check(OAuthRoute::Callback, a).is_ok());
        assert!(limits.check(OAuthRoute::Authorize, ip("192.0.2.2")).is_ok());
        // One IPv6 /64 is one client.
        assert!(
            limits
                .check(OAuthRoute::Authorize, ip("2001:db8::1"))
                .is_ok()
        );
        assert!(
            limits
                .check(OAuthRoute::Authorize, ip("2001:db8::2"))
                .is_ok()
        );
        assert!(
            limits
                .check(OAuthRoute::Authorize, ip("2001:db8::3"))
                .is_ok()
        );
        assert!(
            limits
                .check(OAuthRoute::Authorize, ip("2001:db8::4"))
                .is_err()
        );
    }

    #[test]
    fn the_table_is_swept_when_it_grows_too_large() {
        // 1000 a minute: one request's trace is gone after 60 ms.
        let limits = OAuthRateLimit::new(1000, vec![]);
        let many = u32::try_from(SWEEP_ABOVE).unwrap() + 10;
        for i in 0..many {
            let _ = limits.check(OAuthRoute::Authorize, IpAddr::V4(i.into()));
        }
        assert!(limits.tracked() > SWEEP_ABOVE);
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let _ = limits.check(OAuthRoute::Authorize, ip("192.0.2.1"));
        assert!(limits.tracked() <= 1, "{}", limits.tracked());
    }
}
