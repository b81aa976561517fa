//! Logging: `tracing` with `LOG_FORMAT=json|pretty` and `RUST_LOG` filters.
//!
//! Every line carries the fields of the spans it was logged in, so the lines one request caused
//! share its `request_id` (see `http::middleware::request_span`). In JSON they are the `spans`
//! list, outermost first, each `{"name", …its fields}`: a request's line has
//! `"spans":[{"name":"request","request_id":"…","method":"GET","route":"/strava/health"},…]`
//! beside the event's own fields at the top level. Pretty lines name the spans before the
//! message and append their fields after the event's.
//!
//! No text a client sent can forge a line: JSON escapes every control character in its strings,
//! and the pretty format writes the message and every field (span fields too) through
//! [`escaped_fields`], which escapes them the same way (`\n`, `\u{1b}`), whether a call site
//! recorded the value with `?` or `%`.

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
        LogFormat::Pretty => lines.compact().fmt_fields(escaped_fields()).boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(filter())
        .with(lines)
        .try_init();
}

/// The pretty format's fields: `name=value` with the value as `Debug` gives it (strings quoted,
/// as tracing's default), the message bare, and every control character escaped in both.
fn escaped_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + Send + Sync + 'static
{
    use std::fmt::Write as _;
    use tracing_subscriber::field::MakeExt as _;
    tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
        let mut escaping = Escaping(writer);
        if field.name() == "message" {
            write!(escaping, "{value:?}")
        } else {
            write!(escaping, "{}={value:?}", field.name())
        }
    })
    .delimited(" ")
}

/// Writes text with its control characters (and Unicode's line and paragraph separators)
/// escaped, so it stays on its line and moves no terminal's cursor.
struct Escaping<W>(W);

impl<W: std::fmt::Write> std::fmt::Write for Escaping<W> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        let mut rest = text;
        while let Some(at) = rest.find(|c: char| needs_escape(c)) {
            self.0.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            match c {
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                c => write!(self.0, "\\u{{{:x}}}", u32::from(c))?,
            }
            rest = &rest[at + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_text_on_its_line() {
        use std::fmt::Write as _;
        let mut out = String::new();
        write!(
            Escaping(&mut out),
            "a\nb\r\tc\u{1b}[31md\u{7f}e\u{2028}f\u{85}g é"
        )
        .unwrap();
        assert_eq!(out, "a\\nb\\r\\tc\\u{1b}[31md\\u{7f}e\\u{2028}f\\u{85}g é");
    }
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
