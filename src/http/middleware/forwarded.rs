//! The first request that carries `X-Forwarded-For` says whether a reverse proxy's address is
//! missing from `TRUSTED_PROXIES`: if its peer is not listed, a warning says so, once. Behind
//! such a proxy every client counts as the proxy's address for the OAuth rate limit
//! ([`super::rate_limit`]), so one client over the limit locks everyone out, the owner too.
//!
//! Only the first such request is looked at: afterwards (and for requests without the header)
//! the cost is one atomic load, nothing on the read path.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::http::header::HeaderMap;

use super::rate_limit::canonical;

pub const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// Shared by every worker.
pub struct ForwardedCheck {
    trusted: Vec<IpAddr>,
    done: AtomicBool,
}

impl ForwardedCheck {
    pub fn new(trusted_proxies: &[IpAddr]) -> Self {
        Self {
            trusted: trusted_proxies.iter().copied().map(canonical).collect(),
            done: AtomicBool::new(false),
        }
    }

    /// Looks at a request's peer if it is the first to carry `X-Forwarded-For`; true when this
    /// warned.
    pub fn check(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> bool {
        if self.done.load(Ordering::Relaxed) || !headers.contains_key(X_FORWARDED_FOR) {
            return false;
        }
        if self.done.swap(true, Ordering::Relaxed) {
            return false;
        }
        let Some(peer) = peer.map(canonical) else {
            return false;
        };
        if self.trusted.contains(&peer) {
            return false;
        }
        tracing::warn!(
            peer = %peer,
            "requests arrive with X-Forwarded-For from {peer}, which TRUSTED_PROXIES does not \
             list: if it is your reverse proxy, every client behind it shares one OAuth rate \
             limit (OAUTH_RATE_LIMIT_PER_MINUTE for all of them); add {peer} to TRUSTED_PROXIES \
             (README: behind a reverse proxy)"
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn with_forwarded() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static(X_FORWARDED_FOR),
            HeaderValue::from_static("203.0.113.9"),
        );
        headers
    }

    #[test]
    fn the_first_forwarded_request_from_an_untrusted_peer_warns_once() {
        let check = ForwardedCheck::new(&["10.0.0.1".parse().unwrap()]);
        let stranger = Some("172.30.0.1".parse().unwrap());
        assert!(
            !check.check(stranger, &HeaderMap::new()),
            "no header: not looked at"
        );
        assert!(check.check(stranger, &with_forwarded()));
        assert!(!check.check(stranger, &with_forwarded()), "once");
    }

    #[test]
    fn a_trusted_proxy_ends_the_check_without_a_warning() {
        let check = ForwardedCheck::new(&["172.30.0.1".parse().unwrap()]);
        let proxy = Some("::ffff:172.30.0.1".parse().unwrap());
        assert!(!check.check(proxy, &with_forwarded()));
        assert!(!check.check(Some("192.0.2.1".parse().unwrap()), &with_forwarded()));
    }
}
