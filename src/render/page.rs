//! The status page at `/`: what a person reads first on their milepost instance. It owns the
//! page's HTML, its one stylesheet and the Content-Security-Policy that admits exactly that
//! stylesheet. The page is a pure function of a few facts about the connection and the JSON
//! bodies the API serves, so what it shows is what the API answers.
//!
//! The page carries no script and loads nothing but the same-origin cards: the policy allows
//! the `<style>` element by its hash and images from the origin, nothing else. Every text from
//! a body or from the instance's address is escaped, and every figure from a body sits in an
//! element with `data-figure` (its path in the API) and `data-value` (the number as the JSON
//! has it), so a test can compare the page with the JSON routes.

use std::fmt::Write as _;
use std::sync::OnceLock;

use base64::Engine as _;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::bodies::{Totals, data};
use super::format::{Units, count, duration, escape, grouped};

/// The state of the Strava connection, in words on the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    Connected,
    NotConnected,
    ReauthorizationRequired,
    AppInactive,
    DatabaseUnreachable,
}

impl Connection {
    /// The value of the page's `data-connection` attribute.
    fn name(self) -> &'static str {
        match self {
            Self::Connected => "connected",
            Self::NotConnected => "not_connected",
            Self::ReauthorizationRequired => "reauthorization_required",
            Self::AppInactive => "app_inactive",
            Self::DatabaseUnreachable => "database_unreachable",
        }
    }
}

/// Strava's rate-limit use as milepost last read it: (15-minute window, day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub used: (u32, u32),
    pub limit: (u32, u32),
}

/// The imported activities (SPEC §11): how many are stored, and when the last import that
/// wrote finished.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Imports {
    pub activities: i64,
    pub last: Option<DateTime<Utc>>,
}

/// Everything the page shows. The three bodies are the exact JSON bodies the API serves (None: not synced yet).
pub struct Facts<'a> {
    pub connection: Connection,
    pub imports: Imports,
    pub last_sync: Option<DateTime<Utc>>,
    pub next_refresh: Option<DateTime<Utc>>,
    pub budget: Option<Budget>,
    pub ytd: Option<&'a [u8]>,
    pub monthly: Option<&'a [u8]>,
    pub recent: Option<&'a [u8]>,
    /// Where this instance is reached from outside, without a trailing slash ("https://stats.example.com"), for the embed snippets.
    pub base_url: &'a str,
    pub now: DateTime<Utc>,
}

/// The page's only styling. Its SHA-256 is in the policy, so any change here changes the
/// policy with it; the page has no `style=` attributes, which a hash cannot admit.
const CSS: &str = r#"
:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --panel: #ffffff; --text: #1c2026; --muted: #5e6673; --line: #e2e5ea;
  --soft: #f1f3f6; --accent: #fc4c02; --accent-text: #c43c00;
  --ok: #1f9d55; --warn: #c98a00; --bad: #d64545; --idle: #98a1ad;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1115; --panel: #171a20; --text: #e7e9ec; --muted: #9aa3af; --line: #2a2f38;
    --soft: #1f232a; --accent-text: #ff7a3d; --idle: #6b7480;
  }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--text);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
main { max-width: 960px; margin: 0 auto; padding: 32px 20px 24px; }
a { color: var(--accent-text); }
h1, h2, h3 { margin: 0; line-height: 1.25; }
p { margin: 0; }
header.top { margin-bottom: 24px; }
header.top h1 { font-size: 1.75rem; letter-spacing: -0.01em; display: flex; align-items: center; gap: 10px; }
header.top h1::before {
  content: ""; width: 14px; height: 14px; border-radius: 4px; background: var(--accent);
}
header.top p { color: var(--muted); margin-top: 4px; }
section {
  background: var(--panel); border: 1px solid var(--line); border-radius: 12px;
  padding: 20px 24px; margin-bottom: 20px;
}
section > h2 { font-size: 1.05rem; margin-bottom: 14px; }
section > h2 small { font-weight: 400; color: var(--muted); font-size: 0.9rem; margin-left: 6px; }
.empty { color: var(--muted); }
.state { display: flex; gap: 14px; align-items: flex-start; }
.state .dot {
  flex: none; width: 12px; height: 12px; border-radius: 50%; margin-top: 7px;
  background: var(--idle);
}
[data-connection="connected"] .dot { background: var(--ok); }
[data-connection="reauthorization_required"] .dot,
[data-connection="app_inactive"] .dot { background: var(--warn); }
[data-connection="database_unreachable"] .dot { background: var(--bad); }
.state h2 { font-size: 1.25rem; margin: 0; }
.state p { color: var(--muted); margin-top: 4px; max-width: 62ch; }
.button, .action {
  display: inline-block; margin-top: 14px; padding: 9px 18px; border-radius: 8px;
  font-weight: 600; text-decoration: none;
}
.button { background: var(--accent); color: #ffffff; }
.button:hover, .button:focus { background: #e34402; }
.action { border: 1px solid var(--accent); color: var(--accent-text); }
dl { margin: 0; }
dd { margin: 0; }
dl.facts {
  display: grid; grid-template-columns: repeat(3, 1fr); gap: 16px;
  margin-top: 20px; padding-top: 16px; border-top: 1px solid var(--line);
}
dt {
  color: var(--muted); font-size: 0.75rem; text-transform: uppercase; letter-spacing: 0.06em;
}
dl.facts dd { margin-top: 2px; }
dl.facts dd span { display: block; color: var(--muted); }
.totals { display: grid; grid-template-columns: repeat(3, 1fr); gap: 14px; }
.sport { border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; }
.sport h3 { font-size: 0.85rem; color: var(--muted); font-weight: 600; }
.sport .big { font-size: 1.6rem; font-weight: 650; margin: 2px 0 10px; font-variant-numeric: tabular-nums; }
.sport dl { display: grid; grid-template-columns: repeat(3, auto); gap: 4px 12px; }
.sport dd { font-variant-numeric: tabular-nums; }
.chart svg.bars {
  display: block; width: 100%; height: 180px; border-bottom: 1px solid var(--line);
}
.chart rect { fill: var(--accent); }
.chart rect:hover { fill: #e34402; }
.months {
  display: grid; grid-template-columns: repeat(12, 1fr); text-align: center;
  margin-top: 6px; font-size: 0.8rem; line-height: 1.3;
}
.months b { display: block; font-weight: 600; }
.months span { display: block; color: var(--muted); font-variant-numeric: tabular-nums; }
.months small { display: block; color: var(--muted); font-size: 0.7rem; }
.table { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; font-size: 0.95rem; }
th {
  text-align: left; font-weight: 600; color: var(--muted); font-size: 0.75rem;
  text-transform: uppercase; letter-spacing: 0.06em; padding: 0 10px 8px 0;
}
td { padding: 9px 10px 9px 0; border-top: 1px solid var(--line); vertical-align: top; }
th:last-child, td:last-child { padding-right: 0; }
th.n, td.n { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.name { overflow-wrap: anywhere; }
td.name small { display: block; color: var(--muted); font-size: 0.8rem; }
.card {
  display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 6px 20px;
  border-top: 1px solid var(--line); padding: 18px 0 20px;
}
.card:last-child { padding-bottom: 0; }
.card.wide { grid-template-columns: minmax(0, 1fr); }
.card h3 { font-size: 0.95rem; grid-column: 1 / -1; margin-bottom: 6px; }
.card img {
  display: block; max-width: 100%; height: auto; border-radius: 8px; background: var(--soft);
}
.card p {
  font-size: 0.75rem; color: var(--muted); margin: 0 0 4px;
  text-transform: uppercase; letter-spacing: 0.06em;
}
.card pre + p { margin-top: 12px; }
pre {
  margin: 0; padding: 10px 12px; background: var(--soft); border-radius: 8px;
  white-space: pre-wrap; word-break: break-all; font-size: 0.8rem; line-height: 1.45;
}
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; }
p code, li code { background: var(--soft); padding: 1px 5px; border-radius: 4px; font-size: 0.85em; }
.params { color: var(--muted); margin-bottom: 18px; font-size: 0.9rem; }
.params ul, ul.links { margin: 6px 0 0; padding-left: 20px; }
.params li, ul.links li { margin: 3px 0; }
ul.links span { color: var(--muted); }
footer { max-width: 960px; margin: 0 auto; padding: 0 20px 40px; color: var(--muted); font-size: 0.85rem; }
footer b { color: var(--accent-text); }
@media (max-width: 640px) {
  main { padding: 20px 12px 16px; }
  section { padding: 16px; border-radius: 10px; }
  dl.facts, .totals, .card { grid-template-columns: minmax(0, 1fr); }
  .card img { margin-bottom: 10px; }
  dl.facts { gap: 12px; }
  .months { font-size: 0.68rem; }
  .months span { font-size: 0.6rem; }
  .months small { font-size: 0.6rem; }
  table { font-size: 0.88rem; }
  footer { padding: 0 12px 32px; }
}
"#;

/// The Content-Security-Policy the page is served with (it allows exactly the page's inline style, by hash, and images from the same origin).
pub fn content_security_policy() -> &'static str {
    static POLICY: OnceLock<String> = OnceLock::new();
    POLICY.get_or_init(|| {
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(CSS));
        format!(
            "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self'; \
             frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        )
    })
}

#[derive(Deserialize)]
struct Ytd {
    run: Totals,
    ride: Totals,
    swim: Totals,
}

/// One entry of `/stats/activities`, as much of it as the page shows.
#[derive(Deserialize)]
struct Activity {
    id: i64,
    name: String,
    sport_type: String,
    distance: f64,
    moving_time: i64,
    start_date_local: String,
}

/// The months of `/stats/monthly` in the body's order (newest first); serde_json keeps the
/// order of an object's keys, and a month whose value is not a T makes the body unusable.
fn months(body: Option<&[u8]>) -> Option<Vec<(String, Totals)>> {
    let map: serde_json::Map<String, serde_json::Value> = data(body)?;
    map.into_iter()
        .map(|(key, value)| Some((key, Totals::deserialize(value).ok()?)))
        .collect()
}

/// A float as serde_json prints it (`866211.5`, `0.0`), for `data-value`.
fn json_number(v: f64) -> String {
    serde_json::Value::from(v).to_string()
}

/// Appends formatted text; writing to a String cannot fail.
macro_rules! put {
    ($out:expr, $($arg:tt)*) => {
        let _ = write!($out, $($arg)*);
    };
}

/// The page, as UTF-8 HTML.
pub fn render(facts: &Facts) -> String {
    let mut out = String::with_capacity(32 * 1024);
    put!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>milepost</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n\
         <header class=\"top\">\n<h1>milepost</h1>\n\
         <p>Keeps an athlete&#39;s Strava stats fresh and serves them to a personal website \
         as JSON and embeddable SVG cards.</p>\n</header>\n"
    );
    status(&mut out, facts);
    totals(&mut out, data(facts.ytd));
    chart(&mut out, months(facts.monthly));
    recent(&mut out, data(facts.recent));
    cards(&mut out, facts.base_url);
    links(&mut out);
    out.push_str(
        "</main>\n<footer>\n<p>Powered by <b>Strava</b></p>\n</footer>\n</body>\n</html>\n",
    );
    out
}

/// The connection state in words, what to do about it, where the data comes from, and when
/// milepost last and next talks to Strava. Without a connection but with imported activities
/// the data comes from those alone: the page says so instead of offering the Connect button.
fn status(out: &mut String, facts: &Facts) {
    let imported = facts.imports.activities > 0;
    if facts.connection == Connection::NotConnected && imported {
        put!(
            out,
            "<section class=\"status\" data-connection=\"{}\" data-source=\"imports\">\n\
             <div class=\"state\"><span class=\"dot\"></span><div>\n\
             <h2>Serving data from imported files</h2>\n\
             <p>No Strava account is connected: the stats come from imported files, \
             {}.</p>\n\
             <p>To have Strava&#39;s API keep them fresh as well, \
             <a href=\"/strava/authorize\">connect a Strava account</a>.</p>\n\
             </div></div>\n<dl class=\"facts\">\n",
            facts.connection.name(),
            imports(facts.imports, facts.now)
        );
        sync_facts(out, facts);
        return;
    }
    let (title, detail, action) = match facts.connection {
        Connection::Connected => (
            "Connected to Strava",
            "milepost refreshes the stats on its own schedule and serves them from memory.",
            "",
        ),
        Connection::NotConnected => (
            "No Strava account connected yet",
            "Connect the athlete&#39;s Strava account and milepost starts syncing activities.",
            "<a class=\"button\" href=\"/strava/authorize\">Connect with Strava</a>",
        ),
        Connection::ReauthorizationRequired => (
            "Reauthorization required",
            "Strava refused the stored token, so milepost cannot sync. The athlete must \
             connect again; until then the cached data keeps being served.",
            "<a class=\"action\" href=\"/strava/authorize\">Reconnect</a>",
        ),
        Connection::AppInactive => (
            "Strava app inactive",
            "Strava says the API application is inactive. Its owner must subscribe on Strava \
             and reactivate the app at \
             <a href=\"https://www.strava.com/settings/api\">strava.com/settings/api</a>; \
             until then the cached data keeps being served.",
            "",
        ),
        Connection::DatabaseUnreachable => (
            "Database unreachable",
            "milepost cannot reach Postgres. The cached data keeps being served, and syncing \
             resumes once the database answers again.",
            "",
        ),
    };
    let also = if imported {
        format!(
            "<p>Also from imported files: {}.</p>\n",
            imports(facts.imports, facts.now)
        )
    } else {
        String::new()
    };
    put!(
        out,
        "<section class=\"status\" data-connection=\"{}\">\n<div class=\"state\">\
         <span class=\"dot\"></span><div>\n<h2>{title}</h2>\n<p>{detail}</p>\n{also}{action}\
         </div></div>\n<dl class=\"facts\">\n",
        facts.connection.name()
    );
    sync_facts(out, facts);
}

/// `12 imported activities, last import 2026-12-02 08:00 UTC (12 minutes ago)`.
fn imports(imports: Imports, now: DateTime<Utc>) -> String {
    let activities = if imports.activities == 1 {
        "1 imported activity".to_owned()
    } else {
        format!("{} imported activities", count(imports.activities))
    };
    match imports.last {
        Some(t) => format!("{activities}, last import {} ({})", time(t), ago(t, now)),
        None => activities,
    }
}

/// The last sync, the next refresh and the rate budget, closing the status section.
fn sync_facts(out: &mut String, facts: &Facts) {
    out.push_str("<div><dt>Last sync</dt><dd>");
    match facts.last_sync {
        Some(t) => {
            put!(out, "{} <span>{}</span>", time(t), ago(t, facts.now));
        }
        None => out.push_str("never"),
    }
    out.push_str("</dd></div>\n<div><dt>Next refresh</dt><dd>");
    match facts.next_refresh {
        Some(t) if t <= facts.now => out.push_str("due now"),
        Some(t) => {
            put!(out, "{} <span>{}</span>", time(t), until(t, facts.now));
        }
        None => out.push('—'),
    }
    out.push_str("</dd></div>\n<div><dt>Rate budget</dt><dd>");
    match facts.budget {
        Some(b) => {
            put!(
                out,
                "{} / {} requests this 15 minutes, {} / {} today",
                count(b.used.0.into()),
                count(b.limit.0.into()),
                count(b.used.1.into()),
                count(b.limit.1.into())
            );
        }
        None => out.push_str("not known yet"),
    }
    out.push_str("</dd></div>\n</dl>\n</section>\n");
}

/// `t` as a `<time>` element reading `2026-12-02 08:00 UTC`.
fn time(t: DateTime<Utc>) -> String {
    format!(
        "<time datetime=\"{}\">{}</time>",
        t.format("%Y-%m-%dT%H:%M:%SZ"),
        t.format("%Y-%m-%d %H:%M UTC")
    )
}

/// `n unit` or `n units`.
fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{} {unit}s", count(n))
    }
}

/// How long ago `then` was, roughly: `just now`, `12 minutes ago`, `3 hours ago`, `2 days ago`.
fn ago(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    // A sync stamped slightly ahead of `now` (clocks of two machines) reads as just now.
    match span(now.signed_duration_since(then).num_seconds()) {
        Some(words) => format!("{words} ago"),
        None => "just now".to_owned(),
    }
}

/// How long until `then`, roughly: `in 12 minutes`, or `in under a minute`.
fn until(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    match span(then.signed_duration_since(now).num_seconds()) {
        Some(words) => format!("in {words}"),
        None => "in under a minute".to_owned(),
    }
}

/// `seconds` in the largest unit that keeps the number small, or None under a minute.
fn span(seconds: i64) -> Option<String> {
    let minutes = seconds / 60;
    if minutes < 1 {
        None
    } else if minutes < 120 {
        Some(plural(minutes, "minute"))
    } else if minutes < 48 * 60 {
        Some(plural(minutes / 60, "hour"))
    } else {
        Some(plural(minutes / (24 * 60), "day"))
    }
}

/// An element carrying one figure from a body: `<tag data-figure=… data-value=…>text</tag>`.
fn figure(out: &mut String, tag: &str, class: &str, path: &str, value: &str, text: &str) {
    let class = if class.is_empty() {
        String::new()
    } else {
        format!(" class=\"{class}\"")
    };
    put!(
        out,
        "<{tag}{class} data-figure=\"{}\" data-value=\"{}\">{}</{tag}>",
        escape(path),
        escape(value),
        escape(text)
    );
}

/// This year's totals per sport, from `/stats/ytd`.
fn totals(out: &mut String, ytd: Option<Ytd>) {
    out.push_str("<section class=\"ytd\">\n<h2>This year</h2>\n");
    let Some(ytd) = ytd else {
        out.push_str("<p class=\"empty\">Not synced yet.</p>\n</section>\n");
        return;
    };
    out.push_str("<div class=\"totals\">\n");
    for (key, title, t) in [
        ("run", "Run", ytd.run),
        ("ride", "Ride", ytd.ride),
        ("swim", "Swim", ytd.swim),
    ] {
        let path = |field: &str| format!("ytd.{key}.{field}");
        put!(out, "<div class=\"sport\">\n<h3>{title}</h3>\n");
        figure(
            out,
            "p",
            "big",
            &path("distance"),
            &json_number(t.distance),
            &Units::Metric.distance(t.distance),
        );
        out.push_str("<dl>\n<div><dt>Activities</dt>");
        figure(
            out,
            "dd",
            "",
            &path("count"),
            &t.count.to_string(),
            &count(t.count),
        );
        out.push_str("</div>\n<div><dt>Time</dt>");
        figure(
            out,
            "dd",
            "",
            &path("moving_time"),
            &t.moving_time.to_string(),
            &duration(t.moving_time),
        );
        out.push_str("</div>\n<div><dt>Elevation</dt>");
        figure(
            out,
            "dd",
            "",
            &path("elevation_gain"),
            &json_number(t.elevation_gain),
            &Units::Metric.elevation(t.elevation_gain),
        );
        out.push_str("</div>\n</dl>\n</div>\n");
    }
    out.push_str("</div>\n</section>\n");
}

/// Bars the chart has room for: the twelve months `/stats/monthly` serves.
const CHART_MONTHS: usize = 12;

/// The distance per month, oldest left, from `/stats/monthly`.
///
/// The bars are one SVG stretched to the column's width; the month names and values are HTML
/// below it, in a grid of the same twelve columns, so they stay readable on a phone where text
/// inside a scaled-down SVG would shrink with the drawing.
fn chart(out: &mut String, months: Option<Vec<(String, Totals)>>) {
    out.push_str(
        "<section class=\"chart\">\n<h2>Last 12 months <small>distance, km</small></h2>\n",
    );
    let Some(mut months) = months.filter(|m| !m.is_empty()) else {
        out.push_str("<p class=\"empty\">Not synced yet.</p>\n</section>\n");
        return;
    };
    months.truncate(CHART_MONTHS);
    months.reverse();
    // With fewer months than columns, the months there are sit at the right, under the newest.
    let first = CHART_MONTHS - months.len();
    let max = months
        .iter()
        .map(|(_, t)| t.distance)
        .fold(0.0_f64, f64::max);
    // Bar slots 10 units wide in a 120 × 100 box, stretched to the chart's size.
    put!(
        out,
        "<svg class=\"bars\" viewBox=\"0 0 {} 100\" preserveAspectRatio=\"none\" role=\"img\" \
         aria-label=\"Distance per month, oldest first\">\n",
        CHART_MONTHS * 10
    );
    let mut labels = String::new();
    for _ in 0..first {
        labels.push_str("<div></div>");
    }
    for (i, (key, t)) in months.iter().enumerate() {
        let month = NaiveDate::parse_from_str(&format!("{key}-01"), "%Y-%m-%d").ok();
        let long = month.map_or_else(|| key.clone(), |d| d.format("%B %Y").to_string());
        let distance = t.distance.max(0.0);
        let height = if max > 0.0 {
            // A month with any distance keeps a sliver of a bar, so it reads as not empty.
            let h = distance / max * 96.0;
            if distance > 0.0 { h.max(1.0) } else { 0.0 }
        } else {
            0.0
        };
        put!(
            out,
            "<rect x=\"{}\" y=\"{:.2}\" width=\"7\" height=\"{height:.2}\">\
             <title>{}: {}</title></rect>\n",
            (first + i) * 10 + 1,
            100.0 - height,
            escape(&long),
            escape(&Units::Metric.distance(t.distance))
        );
        let short = month.map_or_else(|| key.clone(), |d| d.format("%b").to_string());
        put!(labels, "<div><b>{}</b>", escape(&short));
        figure(
            &mut labels,
            "span",
            "",
            &format!("monthly.{key}.distance"),
            &json_number(t.distance),
            &grouped(Units::Metric.in_distance_unit(t.distance), 0),
        );
        // The year under the first month shown and under each January.
        if let Some(d) = month.filter(|d| i == 0 || d.month() == 1) {
            put!(labels, "<small>{}</small>", d.format("%Y"));
        }
        labels.push_str("</div>");
    }
    put!(
        out,
        "</svg>\n<div class=\"months\">{labels}</div>\n</section>\n"
    );
}

/// The newest activities, from `/stats/activities`.
fn recent(out: &mut String, activities: Option<Vec<Activity>>) {
    out.push_str("<section class=\"recent\">\n<h2>Recent activities</h2>\n");
    let Some(activities) = activities.filter(|a| !a.is_empty()) else {
        out.push_str("<p class=\"empty\">No activities synced yet.</p>\n</section>\n");
        return;
    };
    out.push_str(
        "<div class=\"table\"><table>\n<thead><tr><th>Activity</th>\
         <th class=\"n\">Distance</th><th class=\"n\">Time</th></tr></thead>\n<tbody>\n",
    );
    for a in &activities {
        // `start_date_local` is the athlete's wall clock written as if UTC; its date is the
        // day they did it. Anything unreadable shows as sent.
        let date = a
            .start_date_local
            .get(..10)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .map_or_else(
                || a.start_date_local.clone(),
                |d| d.format("%-d %b %Y").to_string(),
            );
        put!(
            out,
            "<tr data-activity-id=\"{}\"><td class=\"name\">{}<small>{} · {}</small></td>",
            a.id,
            escape(&a.name),
            escape(&a.sport_type),
            escape(&date)
        );
        figure(
            out,
            "td",
            "n",
            &format!("activity.{}.distance", a.id),
            &json_number(a.distance),
            &Units::Metric.distance(a.distance),
        );
        figure(
            out,
            "td",
            "n",
            &format!("activity.{}.moving_time", a.id),
            &a.moving_time.to_string(),
            &duration(a.moving_time),
        );
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table></div>\n</section>\n");
}

/// A card: its file under `/strava/cards/`, what it shows, and the size it is drawn at (the
/// `<img>` carries it, so the page does not shift as the cards load).
struct Card {
    file: &'static str,
    title: &'static str,
    alt: &'static str,
    width: u32,
    height: u32,
    wide: bool,
}

const CARDS: [Card; 4] = [
    Card {
        file: "ytd.svg",
        title: "Year to date",
        alt: "Strava year-to-date totals",
        width: 480,
        height: 200,
        wide: false,
    },
    Card {
        file: "monthly.svg",
        title: "Last 12 months",
        alt: "Strava distance per month, last 12 months",
        width: 480,
        height: 200,
        wide: false,
    },
    Card {
        file: "calendar.svg",
        title: "Calendar",
        alt: "Strava activity calendar",
        width: 720,
        height: 170,
        wide: true,
    },
    Card {
        file: "streaks.svg",
        title: "Streaks",
        alt: "Strava activity streaks",
        width: 480,
        height: 160,
        wide: false,
    },
];

/// The cards, each with snippets to paste into another site. The snippets name the instance
/// by `base_url`, which comes from a request's Host header: it is escaped inside the snippet
/// (so the pasted HTML is well-formed whatever it holds) and the snippet again for the page.
fn cards(out: &mut String, base_url: &str) {
    out.push_str(
        "<section class=\"embeds\">\n<h2>Cards</h2>\n<div class=\"params\">\
         Paste a snippet into a web page or a README. Each card takes query parameters:\n<ul>\n\
         <li><code>theme=light|dark</code>: the colour scheme (light unless told)</li>\n\
         <li><code>units=metric|imperial</code>: kilometres and metres, or miles and feet</li>\n\
         <li><code>type=</code>: only activities of one legacy activity type, such as \
         <code>type=Run</code> or <code>type=Ride</code></li>\n\
         <li><code>year=</code>: the year the calendar shows, such as <code>year=2025</code></li>\n\
         </ul></div>\n",
    );
    for card in &CARDS {
        let url = format!("{base_url}/strava/cards/{}", card.file);
        let html = format!(
            "<img src=\"{}?theme=dark\" alt=\"{}\">",
            escape(&url),
            escape(card.alt)
        );
        let markdown = format!("![{}]({url})", card.alt);
        put!(
            out,
            "<div class=\"card{}\">\n<h3>{}</h3>\n\
             <img src=\"/strava/cards/{}\" alt=\"{}\" width=\"{}\" height=\"{}\">\n\
             <div>\n<p>HTML</p>\n<pre><code>{}</code></pre>\n\
             <p>Markdown</p>\n<pre><code>{}</code></pre>\n</div>\n</div>\n",
            if card.wide { " wide" } else { "" },
            card.title,
            card.file,
            escape(card.alt),
            card.width,
            card.height,
            escape(&html),
            escape(&markdown)
        );
    }
    out.push_str("</section>\n");
}

/// Where the rest of milepost is.
fn links(out: &mut String) {
    out.push_str(
        "<section class=\"more\">\n<h2>More</h2>\n<ul class=\"links\">\n\
         <li><a href=\"/strava/docs\">API documentation</a> \
         <span>the JSON routes and their bodies</span></li>\n\
         <li><a href=\"/metrics\">Metrics</a> <span>Prometheus text format</span></li>\n\
         <li><a href=\"/strava/health\">Health</a> <span>whether milepost is serving</span></li>\n\
         </ul>\n</section>\n",
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const YTD: &str = r#"{"type":"ytd","data":{"run":{"count":142,"distance":866211.5,"moving_time":312000,"elevation_gain":7421.3},"ride":{"count":37,"distance":1234567.8,"moving_time":180305,"elevation_gain":12034.0},"swim":{"count":0,"distance":0.0,"moving_time":0,"elevation_gain":0.0}},"fetched_at":"2026-12-02T08:00:00+00:00"}"#;

    const MONTHLY: &str = r#"{"type":"monthly","data":{"2026-12":{"count":2,"distance":21000.0,"moving_time":7200,"elevation_gain":120.0},"2026-11":{"count":14,"distance":160543.2,"moving_time":50000,"elevation_gain":900.5},"2026-10":{"count":12,"distance":142000.0,"moving_time":45000,"elevation_gain":800.0},"2026-09":{"count":10,"distance":98000.0,"moving_time":36000,"elevation_gain":600.0},"2026-08":{"count":16,"distance":187000.0,"moving_time":60000,"elevation_gain":1200.0},"2026-07":{"count":15,"distance":171000.0,"moving_time":58000,"elevation_gain":1100.0},"2026-06":{"count":13,"distance":150000.0,"moving_time":52000,"elevation_gain":950.0},"2026-05":{"count":11,"distance":120000.0,"moving_time":43000,"elevation_gain":700.0},"2026-04":{"count":9,"distance":90000.0,"moving_time":33000,"elevation_gain":500.0},"2026-03":{"count":8,"distance":76000.0,"moving_time":28000,"elevation_gain":400.0},"2026-02":{"count":0,"distance":0.0,"moving_time":0,"elevation_gain":0.0},"2026-01":{"count":6,"distance":52000.0,"moving_time":20000,"elevation_gain":300.0}},"fetched_at":"2026-12-02T08:00:00+00:00"}"#;

    const RECENT: &str = r#"{"type":"recent_activities","data":[{"id":123,"name":"<script>alert(1)</script> & \"x\"","type":"Run","sport_type":"TrailRun","distance":12034.5,"moving_time":3725,"elevation_gain":210.0,"start_date":"2026-11-30T07:12:00Z","start_date_local":"2026-11-30T08:12:00Z"},{"id":124,"name":"Morning Ride","type":"Ride","sport_type":"GravelRide","distance":64000.0,"moving_time":9000,"elevation_gain":640.0,"start_date":"2026-11-28T09:00:00Z","start_date_local":"2026-11-28T10:00:00Z"}],"fetched_at":"2026-12-02T08:00:00+00:00"}"#;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, 8, 12, 0).unwrap()
    }

    fn synced(connection: Connection) -> Facts<'static> {
        Facts {
            connection,
            imports: Imports::default(),
            last_sync: Some(Utc.with_ymd_and_hms(2026, 12, 2, 8, 0, 0).unwrap()),
            next_refresh: Some(Utc.with_ymd_and_hms(2026, 12, 2, 8, 15, 0).unwrap()),
            budget: Some(Budget {
                used: (12, 340),
                limit: (200, 2000),
            }),
            ytd: Some(YTD.as_bytes()),
            monthly: Some(MONTHLY.as_bytes()),
            recent: Some(RECENT.as_bytes()),
            base_url: "https://stats.example.com",
            now: now(),
        }
    }

    fn unsynced() -> Facts<'static> {
        Facts {
            connection: Connection::NotConnected,
            imports: Imports::default(),
            last_sync: None,
            next_refresh: None,
            budget: None,
            ytd: None,
            monthly: None,
            recent: None,
            base_url: "https://stats.example.com",
            now: now(),
        }
    }

    /// The element text after `data-figure="{path}" data-value="`: (value, displayed text).
    fn figure_of(page: &str, path: &str) -> (String, String) {
        let marker = format!("data-figure=\"{path}\" data-value=\"");
        let start = page.find(&marker).unwrap_or_else(|| panic!("no {path}")) + marker.len();
        let rest = &page[start..];
        let value_end = rest.find('"').unwrap();
        let text_start = rest.find('>').unwrap() + 1;
        let text_end = text_start + rest[text_start..].find('<').unwrap();
        (
            rest[..value_end].to_owned(),
            rest[text_start..text_end].to_owned(),
        )
    }

    /// Every value of `attribute="…"` in `page`.
    fn attribute_values<'p>(page: &'p str, attribute: &str) -> Vec<&'p str> {
        let marker = format!(" {attribute}=\"");
        page.match_indices(&marker)
            .map(|(i, _)| {
                let rest = &page[i + marker.len()..];
                &rest[..rest.find('"').unwrap()]
            })
            .collect()
    }

    #[test]
    fn the_policy_admits_exactly_the_style_block_as_rendered() {
        let page = render(&synced(Connection::Connected));
        assert_eq!(page.matches("<style").count(), 1);
        let start = page.find("<style>").unwrap() + "<style>".len();
        let end = page.find("</style>").unwrap();
        let hash =
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&page[start..end]));
        assert_eq!(
            content_security_policy(),
            format!(
                "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self'; \
                 frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
            )
        );
    }

    #[test]
    fn each_connection_state_gives_its_words_and_the_button_only_when_nobody_is_connected() {
        let cases = [
            (Connection::Connected, "connected", "Connected to Strava"),
            (
                Connection::NotConnected,
                "not_connected",
                "No Strava account connected yet",
            ),
            (
                Connection::ReauthorizationRequired,
                "reauthorization_required",
                "Strava refused the stored token",
            ),
            (
                Connection::AppInactive,
                "app_inactive",
                "https://www.strava.com/settings/api",
            ),
            (
                Connection::DatabaseUnreachable,
                "database_unreachable",
                "cannot reach Postgres",
            ),
        ];
        for (connection, name, words) in cases {
            let page = render(&synced(connection));
            assert_eq!(
                attribute_values(&page, "data-connection"),
                [name],
                "{connection:?}"
            );
            assert!(page.contains(words), "{connection:?}");
            let button = "<a class=\"button\" href=\"/strava/authorize\">Connect with Strava</a>";
            assert_eq!(
                page.contains(button),
                connection == Connection::NotConnected,
                "{connection:?}"
            );
            assert_eq!(
                page.contains("Connect with Strava"),
                connection == Connection::NotConnected,
                "{connection:?}"
            );
            assert_eq!(
                page.contains(">Reconnect</a>"),
                connection == Connection::ReauthorizationRequired,
                "{connection:?}"
            );
        }
        let degraded = [Connection::AppInactive, Connection::DatabaseUnreachable];
        for connection in degraded {
            assert!(render(&synced(connection)).contains("cached data keeps being served"));
        }
    }

    #[test]
    fn without_a_connection_imported_activities_replace_the_connect_button() {
        let mut facts = unsynced();
        facts.imports = Imports {
            activities: 1234,
            last: Some(Utc.with_ymd_and_hms(2026, 12, 2, 6, 0, 0).unwrap()),
        };
        let page = render(&facts);
        assert_eq!(attribute_values(&page, "data-source"), ["imports"]);
        assert!(page.contains("from imported files"));
        assert!(page.contains(
            "1,234 imported activities, last import <time datetime=\"2026-12-02T06:00:00Z\">\
             2026-12-02 06:00 UTC</time> (2 hours ago)"
        ));
        assert!(!page.contains("Connect with Strava"));
        assert!(!page.contains("No Strava account connected yet"));
        assert!(page.contains("<dt>Last sync</dt><dd>never</dd>"));
    }

    #[test]
    fn with_a_connection_the_imported_activities_are_mentioned_beside_it() {
        let mut facts = synced(Connection::Connected);
        facts.imports = Imports {
            activities: 1,
            last: None,
        };
        let page = render(&facts);
        assert!(page.contains("Connected to Strava"));
        assert!(page.contains("Also from imported files: 1 imported activity.</p>"));
        assert!(attribute_values(&page, "data-source").is_empty());
    }

    #[test]
    fn imports_that_left_no_activities_are_not_mentioned() {
        let mut facts = unsynced();
        facts.imports = Imports {
            activities: 0,
            last: Some(now()),
        };
        let page = render(&facts);
        assert!(!page.contains("imported"));
        assert!(page.contains("Connect with Strava"));
    }

    #[test]
    fn sync_times_and_budget_read_in_words() {
        let page = render(&synced(Connection::Connected));
        assert!(page.contains("2026-12-02 08:00 UTC</time> <span>12 minutes ago</span>"));
        assert!(page.contains("2026-12-02 08:15 UTC</time> <span>in 3 minutes</span>"));
        assert!(page.contains("12 / 200 requests this 15 minutes, 340 / 2,000 today"));

        let mut late = synced(Connection::Connected);
        late.next_refresh = Some(now() - chrono::Duration::minutes(1));
        late.last_sync = Some(now() - chrono::Duration::hours(5));
        let page = render(&late);
        assert!(page.contains("<dt>Next refresh</dt><dd>due now</dd>"));
        assert!(page.contains("<span>5 hours ago</span>"));

        let page = render(&unsynced());
        assert!(page.contains("<dt>Last sync</dt><dd>never</dd>"));
        assert!(page.contains("<dt>Next refresh</dt><dd>—</dd>"));
        assert!(page.contains("<dt>Rate budget</dt><dd>not known yet</dd>"));
    }

    #[test]
    fn a_hostile_activity_name_is_escaped() {
        let page = render(&synced(Connection::Connected));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;"));
        assert!(!page.contains("<script"));
        assert!(!page.contains("alert(1)</script>"));
    }

    #[test]
    fn a_hostile_base_url_is_escaped_in_every_snippet() {
        let mut facts = synced(Connection::Connected);
        facts.base_url = "https://x\"><script>alert(1)</script><img src=\"//evil";
        let page = render(&facts);
        assert!(!page.contains("<script"));
        assert!(!page.contains("\"//evil"));
        assert!(!page.contains("x\">"));
        // The Markdown snippet holds the address as written, escaped once for the page; the
        // HTML snippet escapes it inside the snippet and then again.
        assert!(page.contains(
            "![Strava year-to-date totals](https://x&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
        ));
        assert!(page.contains("&lt;img src=&quot;https://x&amp;quot;&amp;gt;&amp;lt;script"));
        for src in attribute_values(&page, "src") {
            assert!(src.starts_with("/strava/cards/"), "{src}");
        }
    }

    #[test]
    fn figures_carry_the_bodies_numbers_and_read_as_format_writes_them() {
        let page = render(&synced(Connection::Connected));
        let cases = [
            (
                "ytd.run.distance",
                "866211.5",
                Units::Metric.distance(866_211.5),
            ),
            ("ytd.run.count", "142", count(142)),
            ("ytd.run.moving_time", "312000", duration(312_000)),
            (
                "ytd.run.elevation_gain",
                "7421.3",
                Units::Metric.elevation(7421.3),
            ),
            ("ytd.ride.distance", "1234567.8", "1,234.6 km".to_owned()),
            ("ytd.ride.elevation_gain", "12034.0", "12,034 m".to_owned()),
            ("ytd.swim.distance", "0.0", "0.0 km".to_owned()),
            ("ytd.swim.count", "0", "0".to_owned()),
            ("monthly.2026-11.distance", "160543.2", "161".to_owned()),
            ("monthly.2026-02.distance", "0.0", "0".to_owned()),
            ("activity.123.distance", "12034.5", "12.0 km".to_owned()),
            ("activity.123.moving_time", "3725", "1h 02m".to_owned()),
            ("activity.124.distance", "64000.0", "64.0 km".to_owned()),
        ];
        for (path, value, text) in cases {
            assert_eq!(figure_of(&page, path), (value.to_owned(), text), "{path}");
        }
        assert_eq!(attribute_values(&page, "data-activity-id"), ["123", "124"]);
        // Every figure of the bodies is on the page, once.
        let figures = attribute_values(&page, "data-figure");
        assert_eq!(figures.len(), 3 * 4 + 12 + 2 * 2);
        let mut unique = figures.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), figures.len());
    }

    #[test]
    fn the_chart_runs_oldest_to_newest_with_a_bar_per_month() {
        let page = render(&synced(Connection::Connected));
        let months: Vec<&str> = attribute_values(&page, "data-figure")
            .into_iter()
            .filter(|f| f.starts_with("monthly."))
            .collect();
        assert_eq!(months.first(), Some(&"monthly.2026-01.distance"));
        assert_eq!(months.last(), Some(&"monthly.2026-12.distance"));
        assert_eq!(page.matches("<rect ").count(), 12);
        assert!(page.contains("<title>November 2026: 160.5 km</title>"));
        // The longest month fills the height (96 of 100), the empty one has no bar.
        assert!(page.contains("y=\"4.00\" width=\"7\" height=\"96.00\"><title>August 2026"));
        assert!(page.contains("height=\"0.00\"><title>February 2026: 0.0 km"));
    }

    #[test]
    fn without_bodies_each_section_says_not_synced_and_the_page_is_whole() {
        for facts in [unsynced(), {
            let mut broken = synced(Connection::Connected);
            broken.ytd = Some(b"{\"type\":\"ytd\"");
            broken.monthly = Some(b"{\"data\":{\"2026-12\":{\"count\":\"many\"}}}");
            broken.recent = Some(b"null");
            broken
        }] {
            let page = render(&facts);
            assert!(page.starts_with("<!doctype html>"));
            assert!(page.ends_with("</html>\n"));
            assert_eq!(page.matches("Not synced yet.").count(), 2);
            assert!(page.contains("No activities synced yet."));
            assert!(!page.contains("data-figure"));
            assert!(page.contains("/strava/cards/ytd.svg"));
            assert!(page.contains("href=\"/strava/docs\""));
            assert!(page.contains("Powered by"));
        }
        let mut empty = unsynced();
        empty.recent = Some(br#"{"type":"recent_activities","data":[],"fetched_at":"x"}"#);
        assert!(render(&empty).contains("No activities synced yet."));
    }

    #[test]
    fn the_page_loads_nothing_but_the_cards_and_has_no_script_or_inline_style() {
        for connection in [Connection::Connected, Connection::AppInactive] {
            let page = render(&synced(connection));
            assert!(page.contains(
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            ));
            assert!(!page.contains("<script"));
            assert!(!page.contains(" style="));
            for tag in page.split('<').skip(1).filter_map(|t| t.split_once('>')) {
                let handler = tag
                    .0
                    .split_whitespace()
                    .skip(1)
                    .find(|a| a.starts_with("on"));
                assert_eq!(handler, None, "event handler in <{}>", tag.0);
            }
            assert!(!page.contains("<link"));
            assert!(!page.contains("http://"));
            let srcs = attribute_values(&page, "src");
            assert_eq!(srcs.len(), 4);
            for src in srcs {
                assert!(src.starts_with("/strava/cards/"), "{src}");
            }
            for href in attribute_values(&page, "href") {
                assert!(
                    href.starts_with('/') || href == "https://www.strava.com/settings/api",
                    "{href}"
                );
            }
            // The only absolute addresses elsewhere are in the snippets' text.
            let outside_snippets: String = page
                .split("<pre><code>")
                .map(|part| {
                    part.split_once("</code></pre>")
                        .map_or(part, |(_, rest)| rest)
                })
                .collect();
            let absolute = outside_snippets.matches("https://").count();
            let expected = usize::from(connection == Connection::AppInactive);
            assert_eq!(absolute, expected, "{connection:?}");
        }
        for card in ["ytd", "monthly", "calendar", "streaks"] {
            let page = render(&synced(Connection::Connected));
            assert!(page.contains(&format!(
                "&lt;img src=&quot;https://stats.example.com/strava/cards/{card}.svg?theme=dark&quot;"
            )));
            assert!(page.contains(&format!(
                "](https://stats.example.com/strava/cards/{card}.svg)"
            )));
        }
    }
}
