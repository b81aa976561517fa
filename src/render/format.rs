//! Shared by the cards and the page: escaping for XML and HTML, and numbers as people read
//! them (distances in km or mi, durations in hours and minutes).

use std::fmt::Write as _;

/// `text` safe inside XML or HTML, as element content and inside a quoted attribute alike.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Not allowed in XML 1.0 at all: dropped rather than break the document.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            '\u{FFFE}' | '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// The colour scheme of a card.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Theme {
    #[default]
    Light,
    Dark,
}

impl Theme {
    pub const NAMES: &'static [&'static str] = &["light", "dark"];

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "light" => Some(Self::Light),
            "dark" => Some(Self::Dark),
            _ => None,
        }
    }
}

/// Kilometres or miles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Units {
    #[default]
    Metric,
    Imperial,
}

/// Metres in a statute mile.
pub const METRES_PER_MILE: f64 = 1609.344;
/// Feet in a metre.
pub const FEET_PER_METRE: f64 = 1.0 / 0.3048;

impl Units {
    pub const NAMES: &'static [&'static str] = &["metric", "imperial"];

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "metric" => Some(Self::Metric),
            "imperial" => Some(Self::Imperial),
            _ => None,
        }
    }

    /// `metres` as a distance with one decimal and its unit: `"1,234.5 km"`, `"767.1 mi"`.
    pub fn distance(self, metres: f64) -> String {
        let (value, unit) = match self {
            Self::Metric => (metres / 1000.0, "km"),
            Self::Imperial => (metres / METRES_PER_MILE, "mi"),
        };
        format!("{} {unit}", grouped(value, 1))
    }

    /// `metres` of climbing: `"1,234 m"`, `"4,049 ft"`.
    pub fn elevation(self, metres: f64) -> String {
        match self {
            Self::Metric => format!("{} m", grouped(metres, 0)),
            Self::Imperial => format!("{} ft", grouped(metres * FEET_PER_METRE, 0)),
        }
    }

    /// The distance unit's short name.
    pub fn distance_unit(self) -> &'static str {
        match self {
            Self::Metric => "km",
            Self::Imperial => "mi",
        }
    }

    /// `metres` in this system's distance unit.
    pub fn in_distance_unit(self, metres: f64) -> f64 {
        match self {
            Self::Metric => metres / 1000.0,
            Self::Imperial => metres / METRES_PER_MILE,
        }
    }
}

/// `value` with `decimals` decimals and thousands separated by commas: `12,345.6`.
pub fn grouped(value: f64, decimals: usize) -> String {
    let value = if value.is_finite() { value } else { 0.0 };
    let text = format!("{:.*}", decimals, value.abs());
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let mut out = String::new();
    if value < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
        out.push('-');
    }
    let digits = whole.len();
    for (i, d) in whole.chars().enumerate() {
        if i > 0 && (digits - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    if !fraction.is_empty() {
        out.push('.');
        out.push_str(fraction);
    }
    out
}

/// A whole count with thousands separated: `1,746`.
pub fn count(n: i64) -> String {
    let mut out = grouped(n.unsigned_abs() as f64, 0);
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

/// `seconds` as hours and minutes: `"312h 05m"`, `"45m"`.
pub fn duration(seconds: i64) -> String {
    let seconds = seconds.max(0);
    let (hours, minutes) = (seconds / 3600, seconds % 3600 / 60);
    let mut out = String::new();
    if hours > 0 {
        let _ = write!(out, "{}h {minutes:02}m", count(hours));
    } else {
        let _ = write!(out, "{minutes}m");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_are_escaped_and_control_characters_dropped() {
        assert_eq!(
            escape(r#"<script>alert(1)</script> & "x" 'y'"#),
            "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot; &#39;y&#39;"
        );
        assert_eq!(escape("a\u{0}b\u{1b}c\td"), "abc\td");
        assert_eq!(escape("Café 🚲"), "Café 🚲");
    }

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(grouped(1_234_567.89, 1), "1,234,567.9");
        assert_eq!(grouped(999.96, 1), "1,000.0");
        assert_eq!(grouped(12.0, 0), "12");
        assert_eq!(grouped(-0.01, 1), "0.0");
        assert_eq!(grouped(f64::NAN, 1), "0.0");
        assert_eq!(count(1746), "1,746");
        assert_eq!(Units::Metric.distance(866_211.5), "866.2 km");
        assert_eq!(Units::Imperial.distance(1609.344 * 26.2), "26.2 mi");
        assert_eq!(Units::Imperial.elevation(1000.0), "3,281 ft");
        assert_eq!(duration(3600 * 312 + 5 * 60 + 59), "312h 05m");
        assert_eq!(duration(45 * 60), "45m");
        assert_eq!(duration(-5), "0m");
    }
}
