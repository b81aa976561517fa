//! The embeddable SVG cards.

use chrono::NaiveDate;

use super::format::{Theme, Units};

/// How a card looks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Look {
    pub theme: Theme,
    pub units: Units,
}

pub fn ytd(_body: Option<&[u8]>, _only: Option<&str>, _look: Look) -> String {
    String::new()
}
pub fn monthly(_body: Option<&[u8]>, _kind: Option<&str>, _look: Look) -> String {
    String::new()
}
pub fn calendar(
    _body: Option<&[u8]>,
    _year: i32,
    _kind: Option<&str>,
    _today: NaiveDate,
    _look: Look,
) -> String {
    String::new()
}
pub fn streaks(_body: Option<&[u8]>, _kind: Option<&str>, _look: Look) -> String {
    String::new()
}
