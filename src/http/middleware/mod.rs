//! What every request passes on its way to a handler, one concern a file. Each is a real
//! middleware (`from_fn` or a `Transform`); `startup.rs` wires them and says why in that order.

pub mod access_log;
pub mod cors;
pub mod drain;
pub mod headers;
pub mod limits;
pub mod metrics;
pub mod rate_limit;
pub mod request_span;
