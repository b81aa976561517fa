//! What every request passes on its way to a handler, one concern a file. [`edge`] is the one
//! middleware that runs them, and says in which order; the OAuth routes' [`rate_limit`] wraps
//! just those two handlers.

pub mod access_log;
pub mod cors;
pub mod drain;
pub mod edge;
pub mod forwarded;
pub mod headers;
pub mod limits;
pub mod metrics;
pub mod rate_limit;
pub mod refusals;
pub mod request_span;
pub mod route;
