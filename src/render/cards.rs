//! The embeddable SVG cards: pure functions from the JSON bodies milepost serves (bytes,
//! exactly as served) to self-contained SVG, so a card always shows the figures of its JSON
//! route. Every text is escaped; nothing outside the card is referenced (system fonts, no
//! images, no links, no script), which is what the cards' `default-src 'none'` policy allows.
//! Before the first sync (no body), a card of the same size says there is no data yet.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use super::bodies::{Totals, data, whole};
use super::format::{Theme, Units, count, duration, escape, grouped};

/// How a card looks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Look {
    pub theme: Theme,
    pub units: Units,
}

/// What every card says when nothing is synced yet.
const NO_DATA: &str = "No activities synced yet";
const CREDIT: &str = "Powered by Strava";
const FONTS: &str = "-apple-system, BlinkMacSystemFont, 'Segoe UI', Helvetica, Arial, sans-serif";

struct Palette {
    background: &'static str,
    border: &'static str,
    text: &'static str,
    muted: &'static str,
    accent: &'static str,
    /// Calendar shades: no activity, then four levels of distance.
    shades: [&'static str; 5],
}

impl Palette {
    fn of(theme: Theme) -> Self {
        match theme {
            Theme::Light => Self {
                background: "#ffffff",
                border: "#e4e2e0",
                text: "#242428",
                muted: "#6d6d78",
                accent: "#fc4c02",
                shades: ["#ebedf0", "#fed7c3", "#fd9f72", "#fc6a2a", "#c53a00"],
            },
            Theme::Dark => Self {
                background: "#0d1117",
                border: "#30363d",
                text: "#e6edf3",
                muted: "#8b949e",
                accent: "#fc4c02",
                shades: ["#161b22", "#5a2410", "#93380f", "#d0490a", "#ff7a3d"],
            },
        }
    }
}

/// A card being written: one `<svg>` document, every attribute and text escaped.
struct Svg {
    out: String,
    palette: Palette,
    width: u32,
    height: u32,
}

impl Svg {
    /// Opens a card of `width` × `height` titled `title` (also what assistive technology
    /// reads, with `desc`).
    fn new(width: u32, height: u32, look: Look, title: &str, desc: &str) -> Self {
        let palette = Palette::of(look.theme);
        let mut out = String::with_capacity(4096);
        let _ = write!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-labelledby="card-title card-desc"><title id="card-title">{}</title><desc id="card-desc">{}</desc>"#,
            escape(title),
            escape(desc),
        );
        let _ = write!(
            out,
            "<style>text{{font-family:{FONTS};fill:{text}}}.title{{font-size:18px;font-weight:600;fill:{accent}}}.big{{font-size:26px;font-weight:700}}.mid{{font-size:22px;font-weight:700}}.label{{font-size:12px;fill:{muted}}}.value{{font-size:14px;font-weight:600}}.small{{font-size:11px;fill:{muted}}}.note{{font-size:14px;fill:{muted}}}</style>",
            text = palette.text,
            accent = palette.accent,
            muted = palette.muted,
        );
        let _ = write!(
            out,
            r#"<rect x="0.5" y="0.5" width="{}" height="{}" rx="6" fill="{}" stroke="{}"/>"#,
            width - 1,
            height - 1,
            palette.background,
            palette.border,
        );
        let mut svg = Self {
            out,
            palette,
            width,
            height,
        };
        svg.text(24.0, 34.0, "title", "start", title);
        svg
    }

    fn text(&mut self, x: f64, y: f64, class: &str, anchor: &str, content: &str) {
        let _ = write!(
            self.out,
            r#"<text x="{x}" y="{y}" class="{class}" text-anchor="{anchor}">{}</text>"#,
            escape(content)
        );
    }

    /// A filled rectangle, with a tooltip when `tip` is given.
    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, tip: Option<&str>) {
        let _ = write!(
            self.out,
            r#"<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="2" fill="{fill}""#
        );
        match tip {
            Some(tip) => {
                let _ = write!(self.out, "><title>{}</title></rect>", escape(tip));
            }
            None => self.out.push_str("/>"),
        }
    }

    /// The message of a card without figures, in its middle.
    fn no_data(&mut self) {
        let (x, y) = (
            f64::from(self.width) / 2.0,
            f64::from(self.height) / 2.0 + 10.0,
        );
        self.text(x, y, "note", "middle", NO_DATA);
    }

    /// Credits Strava, bottom right, and closes the card.
    fn finish(mut self) -> String {
        let (x, y) = (f64::from(self.width) - 16.0, f64::from(self.height) - 12.0);
        self.text(x, y, "small", "end", CREDIT);
        self.out.push_str("</svg>");
        self.out
    }
}

/// `"Last 12 months"`, `"Last 12 months · Run"`.
fn titled(title: &str, kind: Option<&str>) -> String {
    match kind {
        Some(kind) => format!("{title} · {kind}"),
        None => title.to_owned(),
    }
}

fn activities(n: i64) -> String {
    if n == 1 {
        "1 activity".to_owned()
    } else {
        format!("{} activities", count(n))
    }
}

/// The ytd card: Strava's year-to-date totals of runs, rides and swims (or of `only` one:
/// `run`, `ride` or `swim`).
pub fn ytd(body: Option<&[u8]>, only: Option<&str>, look: Look) -> String {
    const SPORTS: [(&str, &str); 3] = [("run", "Run"), ("ride", "Ride"), ("swim", "Swim")];
    let sports: Vec<(&str, &str)> = SPORTS
        .into_iter()
        .filter(|(key, _)| only.is_none_or(|o| o == *key))
        .collect();
    let label = only.and_then(|o| SPORTS.iter().find(|(key, _)| *key == o).map(|s| s.1));
    let title = titled("Year to date", label);
    let height = 70 + 40 * sports.len() as u32 + 24;
    let data: Option<BTreeMap<String, Totals>> = data(body);
    let desc = match &data {
        Some(data) => sports
            .iter()
            .map(|(key, name)| {
                let t = data.get(*key).copied().unwrap_or_default();
                format!(
                    "{name}: {}, {}",
                    look.units.distance(t.distance),
                    activities(t.count)
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        None => NO_DATA.to_owned(),
    };
    let mut svg = Svg::new(495, height, look, &title, &desc);
    let Some(data) = data else {
        svg.no_data();
        return svg.finish();
    };
    for (row, (key, name)) in sports.iter().enumerate() {
        let t = data.get(*key).copied().unwrap_or_default();
        let y = 72.0 + 40.0 * row as f64;
        svg.text(24.0, y, "value", "start", name);
        svg.text(24.0, y + 17.0, "label", "start", &activities(t.count));
        svg.text(
            128.0,
            y + 14.0,
            "mid",
            "start",
            &look.units.distance(t.distance),
        );
        svg.text(290.0, y, "label", "start", "Time");
        svg.text(290.0, y + 17.0, "value", "start", &duration(t.moving_time));
        svg.text(385.0, y, "label", "start", "Elevation");
        svg.text(
            385.0,
            y + 17.0,
            "value",
            "start",
            &look.units.elevation(t.elevation_gain),
        );
    }
    svg.finish()
}

const MONTH_NAMES: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `"2026-11"`'s short month name.
fn month_name(key: &str) -> &'static str {
    key.get(5..7)
        .and_then(|m| m.parse::<usize>().ok())
        .and_then(|m| MONTH_NAMES.get(m.wrapping_sub(1)))
        .copied()
        .unwrap_or("")
}

/// The monthly card: the distance of each of the last twelve local months as bars, oldest on
/// the left, with their total.
pub fn monthly(body: Option<&[u8]>, kind: Option<&str>, look: Look) -> String {
    let title = titled("Last 12 months", kind);
    // Keys are YYYY-MM: in key order is in time order.
    let data: Option<BTreeMap<String, Totals>> = data(body);
    let total = data.as_ref().map(|d| {
        d.values().fold(Totals::default(), |sum, t| Totals {
            count: sum.count.saturating_add(t.count),
            distance: sum.distance + t.distance,
            moving_time: sum.moving_time.saturating_add(t.moving_time),
            elevation_gain: sum.elevation_gain + t.elevation_gain,
        })
    });
    let desc = match total {
        Some(t) => format!(
            "{} in the last 12 months, {}",
            look.units.distance(t.distance),
            activities(t.count)
        ),
        None => NO_DATA.to_owned(),
    };
    let mut svg = Svg::new(495, 230, look, &title, &desc);
    let (Some(data), Some(total)) = (data, total) else {
        svg.no_data();
        return svg.finish();
    };
    svg.text(
        471.0,
        34.0,
        "value",
        "end",
        &look.units.distance(total.distance),
    );
    svg.text(471.0, 52.0, "label", "end", &activities(total.count));
    let months: Vec<(&String, &Totals)> = data.iter().collect();
    let most = months
        .iter()
        .map(|(_, t)| t.distance)
        .fold(0.0_f64, f64::max);
    let (left, width, base, tallest) = (24.0, 447.0, 180.0, 105.0);
    let slot = width / months.len().max(1) as f64;
    let accent = svg.palette.accent;
    let empty = svg.palette.shades[0];
    for (i, (key, t)) in months.iter().enumerate() {
        let x = left + slot * i as f64;
        let h = if most > 0.0 {
            (t.distance / most * tallest).max(2.0)
        } else {
            2.0
        };
        let fill = if t.distance > 0.0 { accent } else { empty };
        let tip = format!(
            "{key}: {}, {}",
            look.units.distance(t.distance),
            activities(t.count)
        );
        svg.rect(x + 4.0, base - h, slot - 8.0, h, fill, Some(&tip));
        svg.text(
            x + slot / 2.0,
            base + 16.0,
            "small",
            "middle",
            month_name(key),
        );
    }
    svg.finish()
}

#[derive(Deserialize)]
struct CalendarBody {
    data: BTreeMap<String, Totals>,
}

/// Size of a calendar day's square, and the step from one to the next.
const CELL: f64 = 11.0;
const STEP: f64 = 14.0;

/// The calendar card: a GitHub-style grid of `year`'s local days (columns are ISO weeks from
/// Monday), each shaded by its distance. Shades are the quartiles of the year's active days'
/// distances, so a year of short runs reads as well as one of long rides; an active day
/// without distance (a weight session) gets the lightest. Days after `today` are not drawn.
pub fn calendar(
    body: Option<&[u8]>,
    year: i32,
    kind: Option<&str>,
    today: NaiveDate,
    look: Look,
) -> String {
    let title = titled(&year.to_string(), kind);
    let body: Option<CalendarBody> = whole(body);
    let days: BTreeMap<NaiveDate, Totals> = body
        .as_ref()
        .map(|b| {
            b.data
                .iter()
                .filter_map(|(key, t)| {
                    let day = NaiveDate::parse_from_str(key, "%Y-%m-%d").ok()?;
                    (day.year() == year).then_some((day, *t))
                })
                .collect()
        })
        .unwrap_or_default();
    let distance: f64 = days.values().map(|t| t.distance).sum();
    let desc = match body {
        Some(_) => format!(
            "{year}: {} on {} active days",
            look.units.distance(distance),
            count(days.len() as i64)
        ),
        None => NO_DATA.to_owned(),
    };
    let (Some(first), Some(last)) = (
        NaiveDate::from_ymd_opt(year, 1, 1),
        NaiveDate::from_ymd_opt(year, 12, 31),
    ) else {
        // Beyond chrono's calendar: no grid to draw.
        let mut svg = Svg::new(816, 200, look, &title, &desc);
        svg.no_data();
        return svg.finish();
    };
    let monday = first - chrono::Days::new(u64::from(first.weekday().num_days_from_monday()));
    let (left, top) = (44.0, 66.0);
    let weeks = (last - monday).num_days() / 7 + 1;
    let width = (left + weeks as f64 * STEP + 20.0).ceil() as u32;
    let mut svg = Svg::new(width, 200, look, &title, &desc);
    if body.is_none() {
        svg.no_data();
        return svg.finish();
    }
    svg.text(
        f64::from(width) - 20.0,
        34.0,
        "value",
        "end",
        &format!(
            "{} · {} active days",
            look.units.distance(distance),
            count(days.len() as i64)
        ),
    );

    let mut distances: Vec<f64> = days.values().map(|t| t.distance).collect();
    distances.sort_by(f64::total_cmp);
    let quartile = |q: usize| {
        distances
            .get((distances.len().saturating_sub(1)) * q / 4)
            .copied()
            .unwrap_or(0.0)
    };
    let thresholds = [quartile(1), quartile(2), quartile(3)];
    let level = |d: f64| 1 + thresholds.iter().filter(|&&q| d > q).count();

    for (row, name) in [(0.0, "Mon"), (2.0, "Wed"), (4.0, "Fri")] {
        svg.text(left - 8.0, top + row * STEP + 9.0, "small", "end", name);
    }
    let mut day = first;
    while day <= last && day <= today.max(first - chrono::Days::new(1)) {
        let column = ((day - monday).num_days() / 7) as f64;
        let row = f64::from(day.weekday().num_days_from_monday());
        let (x, y) = (left + column * STEP, top + row * STEP);
        if day.day() == 1 {
            svg.text(
                x,
                top - 8.0,
                "small",
                "start",
                MONTH_NAMES[day.month0() as usize],
            );
        }
        match days.get(&day) {
            Some(t) => {
                let tip = format!(
                    "{day}: {}, {}",
                    look.units.distance(t.distance),
                    activities(t.count)
                );
                let fill = svg.palette.shades[level(t.distance)];
                svg.rect(x, y, CELL, CELL, fill, Some(&tip));
            }
            None => {
                let fill = svg.palette.shades[0];
                svg.rect(x, y, CELL, CELL, fill, None);
            }
        }
        day = match day.succ_opt() {
            Some(next) => next,
            None => break,
        };
    }
    // The legend, bottom left (the credit sits bottom right).
    let y = f64::from(svg.height) - 22.0;
    svg.text(left, y + 9.0, "small", "start", "Less");
    for (i, shade) in svg.palette.shades.iter().enumerate() {
        let _ = write!(
            svg.out,
            r#"<rect x="{}" y="{y}" width="{CELL}" height="{CELL}" rx="2" fill="{shade}"/>"#,
            left + 30.0 + i as f64 * STEP
        );
    }
    svg.text(
        left + 30.0 + 5.0 * STEP + 4.0,
        y + 9.0,
        "small",
        "start",
        "More",
    );
    svg.finish()
}

#[derive(Deserialize)]
struct Streaks {
    current_days: u32,
    longest_days: u32,
    longest_days_start: Option<String>,
    longest_days_end: Option<String>,
    current_weeks: u32,
    longest_weeks: u32,
}

/// `"Mar 3 – Mar 20, 2025"`, or with both years when they differ.
fn span(start: Option<&str>, end: Option<&str>) -> String {
    let parse = |d: Option<&str>| d.and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    match (parse(start), parse(end)) {
        (Some(s), Some(e)) if s == e => s.format("%b %-d, %Y").to_string(),
        (Some(s), Some(e)) if s.year() == e.year() => {
            format!("{} – {}", s.format("%b %-d"), e.format("%b %-d, %Y"))
        }
        (Some(s), Some(e)) => format!("{} – {}", s.format("%b %-d, %Y"), e.format("%b %-d, %Y")),
        _ => "—".to_owned(),
    }
}

fn days(n: u32) -> String {
    if n == 1 {
        "day".to_owned()
    } else {
        "days".to_owned()
    }
}

fn weeks(n: u32) -> String {
    if n == 1 {
        "1 week".to_owned()
    } else {
        format!("{} weeks", grouped(f64::from(n), 0))
    }
}

/// The streaks card: the current and longest runs of active days (the longest with its
/// dates), and of active ISO weeks.
pub fn streaks(body: Option<&[u8]>, kind: Option<&str>, look: Look) -> String {
    let title = titled("Streaks", kind);
    let data: Option<Streaks> = data(body);
    let desc = match &data {
        Some(s) => format!(
            "Current streak {} {}, longest {} {} ({}); {} in a row now, longest {}",
            s.current_days,
            days(s.current_days),
            s.longest_days,
            days(s.longest_days),
            span(
                s.longest_days_start.as_deref(),
                s.longest_days_end.as_deref()
            ),
            weeks(s.current_weeks),
            weeks(s.longest_weeks),
        ),
        None => NO_DATA.to_owned(),
    };
    let mut svg = Svg::new(495, 185, look, &title, &desc);
    let Some(s) = data else {
        svg.no_data();
        return svg.finish();
    };
    let columns = [
        (
            "Current streak",
            s.current_days.to_string(),
            days(s.current_days),
            "today or yesterday".to_owned(),
        ),
        (
            "Longest streak",
            s.longest_days.to_string(),
            days(s.longest_days),
            span(
                s.longest_days_start.as_deref(),
                s.longest_days_end.as_deref(),
            ),
        ),
        (
            "Weeks in a row",
            s.current_weeks.to_string(),
            "now".to_owned(),
            format!("longest {}", weeks(s.longest_weeks)),
        ),
    ];
    for (i, (label, number, unit, note)) in columns.iter().enumerate() {
        let x = 24.0 + 155.0 * i as f64;
        svg.text(x, 72.0, "label", "start", label);
        svg.text(x, 108.0, "big", "start", number);
        let unit_x = x + 15.5 * number.len() as f64 + 6.0;
        svg.text(unit_x, 108.0, "value", "start", unit);
        svg.text(x, 132.0, "small", "start", note);
    }
    svg.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = r#"<script>alert(1)</script> & "x""#;

    fn looks() -> Vec<Look> {
        let mut all = Vec::new();
        for theme in [Theme::Light, Theme::Dark] {
            for units in [Units::Metric, Units::Imperial] {
                all.push(Look { theme, units });
            }
        }
        all
    }

    fn t(count: i64, distance: f64) -> serde_json::Value {
        serde_json::json!({"count": count, "distance": distance, "moving_time": 3600 * count,
            "elevation_gain": 10.0 * count as f64})
    }

    fn ytd_body() -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"type": "ytd", "data": {
            "run": t(75, 866_211.5), "ride": t(56, 3_289_500.0), "swim": t(7, 16_700.0)},
            "fetched_at": "2026-12-02T08:00:00+00:00"}))
        .unwrap()
    }

    fn monthly_body() -> Vec<u8> {
        let mut data = serde_json::Map::new();
        for m in (1..=12).rev() {
            data.insert(format!("2026-{m:02}"), t(m, 10_000.0 * m as f64));
        }
        serde_json::to_vec(&serde_json::json!({"type": "monthly", "data": data,
            "fetched_at": "2026-12-02T08:00:00+00:00"}))
        .unwrap()
    }

    fn calendar_body() -> Vec<u8> {
        serde_json::to_vec(
            &serde_json::json!({"type": "calendar", "year": 2026, "data": {
            "2026-01-03": t(1, 5_000.0), "2026-03-04": t(2, 12_300.0),
            "2026-06-30": t(1, 0.0), "2026-11-30": t(1, 80_000.0)},
            "fetched_at": "2026-12-02T08:00:00+00:00"}),
        )
        .unwrap()
    }

    fn streaks_body() -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"type": "streaks", "data": {
            "current_days": 4, "longest_days": 11, "longest_days_start": "2025-03-03",
            "longest_days_end": "2025-03-13", "current_weeks": 29, "longest_weeks": 329},
            "fetched_at": "2026-12-02T08:00:00+00:00"}))
        .unwrap()
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 2).unwrap()
    }

    /// Every card, in every look, from `body` (a good one, none, or garbage).
    fn every_card(kind: Option<&str>, body: impl Fn(&str) -> Option<Vec<u8>>) -> Vec<String> {
        let mut cards = Vec::new();
        for look in looks() {
            cards.push(ytd(body("ytd").as_deref(), None, look));
            cards.push(monthly(body("monthly").as_deref(), kind, look));
            cards.push(calendar(
                body("calendar").as_deref(),
                2026,
                kind,
                today(),
                look,
            ));
            cards.push(streaks(body("streaks").as_deref(), kind, look));
        }
        cards
    }

    fn good(card: &str) -> Option<Vec<u8>> {
        Some(match card {
            "ytd" => ytd_body(),
            "monthly" => monthly_body(),
            "calendar" => calendar_body(),
            _ => streaks_body(),
        })
    }

    fn text_of(svg: &str) -> String {
        let doc = roxmltree::Document::parse(svg).unwrap();
        doc.descendants().filter_map(|n| n.text()).collect()
    }

    #[test]
    fn every_card_is_self_contained_svg_with_or_without_data() {
        type Bodies = dyn Fn(&str) -> Option<Vec<u8>>;
        let garbage = |_: &str| Some(b"{not json".to_vec());
        let bodies: [&Bodies; 3] = [&good, &|_| None, &garbage];
        for body in bodies {
            for svg in every_card(Some("Run"), body) {
                let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{e}: {svg}"));
                let root = doc.root_element();
                assert_eq!(root.tag_name().name(), "svg");
                assert_eq!(
                    root.tag_name().namespace(),
                    Some("http://www.w3.org/2000/svg")
                );
                assert!(
                    root.attribute("viewBox").is_some() && root.attribute("role") == Some("img")
                );
                assert!(text_of(&svg).contains(CREDIT), "{svg}");
                let outside = svg.replace("http://www.w3.org/2000/svg", "");
                for reference in ["href", "<script", "url(", "http", "@import"] {
                    assert!(!outside.contains(reference), "{reference}: {svg}");
                }
            }
        }
        for svg in every_card(None, |_| None) {
            assert!(text_of(&svg).contains(NO_DATA), "{svg}");
        }
        for svg in every_card(None, good) {
            assert!(!text_of(&svg).contains(NO_DATA), "{svg}");
        }
    }

    #[test]
    fn a_hostile_type_is_escaped_text() {
        // Every card but ytd (whose one sport is checked before it gets here) names the type.
        for (i, svg) in every_card(Some(HOSTILE), good).iter().enumerate() {
            assert!(!svg.contains("<script"), "{svg}");
            if i % 4 != 0 {
                let escaped = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;";
                assert!(svg.contains(escaped), "{svg}");
            }
        }
        for svg in every_card(Some(HOSTILE), good).iter().skip(1).step_by(4) {
            assert!(text_of(svg).contains(HOSTILE), "the monthly title as text");
        }
    }

    #[test]
    fn the_ytd_card_shows_the_bodys_figures_in_either_units() {
        let metric = Look::default();
        let imperial = Look {
            units: Units::Imperial,
            ..metric
        };
        let text = text_of(&ytd(Some(&ytd_body()), None, metric));
        for shown in [
            "866.2 km",
            "3,289.5 km",
            "16.7 km",
            "75 activities",
            "75h 00m",
            "750 m",
        ] {
            assert!(text.contains(shown), "{shown} in {text}");
        }
        assert!(text_of(&ytd(Some(&ytd_body()), None, imperial)).contains("538.2 mi"));
        let ride = text_of(&ytd(Some(&ytd_body()), Some("ride"), metric));
        assert!(
            ride.contains("3,289.5 km") && !ride.contains("866.2 km"),
            "{ride}"
        );
        assert!(ride.contains("Year to date · Ride"));
    }

    #[test]
    fn the_monthly_card_has_twelve_bars_oldest_first_and_their_total() {
        let svg = monthly(Some(&monthly_body()), None, Look::default());
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let tips: Vec<&str> = doc
            .descendants()
            .filter(|n| {
                n.has_tag_name("title") && n.parent().is_some_and(|p| p.has_tag_name("rect"))
            })
            .filter_map(|n| n.text())
            .collect();
        assert_eq!(tips.len(), 12);
        assert!(tips[0].starts_with("2026-01: 10.0 km"), "{tips:?}");
        assert!(tips[11].starts_with("2026-12: 120.0 km"), "{tips:?}");
        // 10 + 20 + … + 120 km
        assert!(text_of(&svg).contains("780.0 km"));
    }

    #[test]
    fn the_calendar_card_has_a_square_per_day_so_far_and_a_tooltip_per_active_day() {
        let svg = calendar(Some(&calendar_body()), 2026, None, today(), Look::default());
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let squares = doc
            .descendants()
            .filter(|n| n.has_tag_name("rect") && n.attribute("width") == Some("11"))
            .count();
        // 1 January to 2 December 2026 is 336 days; the legend has 5 squares.
        assert_eq!(squares, 336 + 5);
        let tips: Vec<&str> = doc
            .descendants()
            .filter(|n| {
                n.has_tag_name("title") && n.parent().is_some_and(|p| p.has_tag_name("rect"))
            })
            .filter_map(|n| n.text())
            .collect();
        assert_eq!(
            tips,
            [
                "2026-01-03: 5.0 km, 1 activity",
                "2026-03-04: 12.3 km, 2 activities",
                "2026-06-30: 0.0 km, 1 activity",
                "2026-11-30: 80.0 km, 1 activity"
            ]
        );
        // A past year is drawn whole.
        let past = calendar(Some(&calendar_body()), 2024, None, today(), Look::default());
        let doc = roxmltree::Document::parse(&past).unwrap();
        let squares = doc
            .descendants()
            .filter(|n| n.has_tag_name("rect") && n.attribute("width") == Some("11"))
            .count();
        assert_eq!(squares, 366 + 5);
    }

    #[test]
    fn the_streaks_card_shows_the_numbers_and_dates() {
        let text = text_of(&streaks(Some(&streaks_body()), None, Look::default()));
        for shown in ["4", "11", "Mar 3 – Mar 13, 2025", "29", "longest 329 weeks"] {
            assert!(text.contains(shown), "{shown} in {text}");
        }
        assert_eq!(
            span(Some("2024-12-28"), Some("2025-01-04")),
            "Dec 28, 2024 – Jan 4, 2025"
        );
        assert_eq!(span(None, None), "—");
    }

    #[test]
    fn cards_are_deterministic() {
        assert_eq!(every_card(None, good), every_card(None, good));
    }
}
