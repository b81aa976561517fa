//! The status page at `/`.

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    Connected,
    NotConnected,
    ReauthorizationRequired,
    AppInactive,
    DatabaseUnreachable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub used: (u32, u32),
    pub limit: (u32, u32),
}

pub struct Facts<'a> {
    pub connection: Connection,
    pub last_sync: Option<DateTime<Utc>>,
    pub next_refresh: Option<DateTime<Utc>>,
    pub budget: Option<Budget>,
    pub ytd: Option<&'a [u8]>,
    pub monthly: Option<&'a [u8]>,
    pub recent: Option<&'a [u8]>,
    pub base_url: &'a str,
    pub now: DateTime<Utc>,
}

pub fn render(_facts: &Facts) -> String {
    String::new()
}

pub fn content_security_policy() -> &'static str {
    "default-src 'none'"
}
