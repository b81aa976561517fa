//! Logging: `tracing` with `LOG_FORMAT=json|pretty` and `RUST_LOG` filters.
//!
//! Every line carries the fields of the spans it was logged in, so the lines one request caused
//! share its `request_id` (see `http::middleware::request_span`). In JSON they are the `spans`
//! list, outermost first, each `{"name", …its fields}`: a request's line has
//! `"spans":[{"name":"request","request_id":"…","method":"GET","route":"/strava/health"},…]`
//! beside the event's own fields at the top level. Pretty lines name the spans before the
//! message and append their fields after the event's.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Without `RUST_LOG`: milepost's own info lines, and only warnings from the migration runner
/// (whose info lines print whole migration files).
const DEFAULT_FILTER: &str = "info,refinery_core=warn";

/// Installs the global subscriber once; later calls do nothing (tests call it per test).
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    // Colours only for a terminal: not in files, pipes or a container's log.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi);
    let _ = match format {
        // The span list alone: the current span would repeat its last entry on every line.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_span_list(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}
