//! Logging: `tracing` with `LOG_FORMAT=json|pretty` and `RUST_LOG` filters.
//!
//! Every line carries the fields of the spans it was logged in, so the lines one request caused
//! share its `request_id` (see `http::middleware::request_span`). In JSON they are the `spans`
//! list, outermost first, each `{"name", …its fields}`: a request's line has
//! `"spans":[{"name":"request","request_id":"…","method":"GET","route":"/strava/health"},…]`
//! beside the event's own fields at the top level. Pretty lines name the spans before the
//! message and append their fields after the event's.

use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

use crate::config::LogFormat;

/// Without `RUST_LOG`: milepost's own info lines, and only warnings from the migration runner
/// (whose info lines print whole migration files).
const DEFAULT_FILTER: &str = "info,refinery_core=warn";

/// A filter layer over the registry.
type Filter = Box<dyn Layer<Registry> + Send + Sync>;

/// The filter `RUST_LOG` asks for (the default when it is unset, empty or invalid). Directives
/// by target and level make a [`Targets`] filter, which decides once per call site and keeps
/// nothing per span; only directives on spans or fields (`[request{route=…}]=debug`) need an
/// [`EnvFilter`], which records every span and looks it up, behind a lock every worker shares,
/// each time a span is entered or left: the request path would pay that on every request.
fn filter() -> Filter {
    let wanted = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let directives = wanted.as_deref().unwrap_or(DEFAULT_FILTER);
    if !directives.contains(['[', '{'])
        && let Ok(targets) = directives.parse::<Targets>()
    {
        return targets.boxed();
    }
    match EnvFilter::try_new(directives) {
        Ok(filter) => filter.boxed(),
        Err(_) => EnvFilter::new(DEFAULT_FILTER).boxed(),
    }
}

/// Installs the global subscriber once, writing to standard output; later calls do nothing
/// (tests call it per test).
pub fn init(format: LogFormat) {
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    install(format, ansi, BoxMakeWriter::new(std::io::stdout));
}

/// Like [`init`], writing to standard error: for commands whose standard output is their
/// answer (`milepost import --json`).
pub fn init_on_stderr(format: LogFormat) {
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    install(format, ansi, BoxMakeWriter::new(std::io::stderr));
}

fn install(format: LogFormat, ansi: bool, writer: BoxMakeWriter) {
    // Colours only for a terminal: not in files, pipes or a container's log.
    let lines = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_writer(writer)
        .with_ansi(ansi);
    let lines = match format {
        // The span list alone: the current span would repeat its last entry on every line.
        LogFormat::Json => lines
            .json()
            .flatten_event(true)
            .with_span_list(true)
            .with_current_span(false)
            .boxed(),
        LogFormat::Pretty => lines.compact().boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(filter())
        .with(lines)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;
    use tracing_subscriber::filter::LevelFilter;

    #[test]
    fn the_default_filter_is_a_targets_filter_with_the_migration_runner_quieter() {
        let targets: Targets = DEFAULT_FILTER.parse().unwrap();
        assert!(targets.would_enable("milepost::http", &Level::INFO));
        assert!(!targets.would_enable("milepost::http", &Level::DEBUG));
        assert!(!targets.would_enable("refinery_core::traits", &Level::INFO));
        assert!(targets.would_enable("refinery_core::traits", &Level::WARN));
        assert_eq!(targets.default_level(), Some(LevelFilter::INFO));
    }
}
