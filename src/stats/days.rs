//! The views built on the athlete's local days: the last twelve ISO weeks, a year as a
//! calendar, streaks of active days and weeks, and the Eddington numbers. A day is the local
//! date of an activity's start (`start_date_local`), so a run at 23:30 in New York counts on
//! the day its athlete lived it, whatever UTC says.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use serde::Serialize;

use super::figures::{Ordered, RIDE_FAMILY, RUN_FAMILY, Summary, envelope, local_start, timestamp};
use crate::strava::models::Activity;

/// How many ISO weeks `/stats/weekly` shows, the current one included.
pub const WEEKS: u64 = 12;
/// Metres in a statute mile, the unit of the Eddington number in miles.
const METRES_PER_MILE: f64 = 1609.344;

/// An activity with the local date it started on, read once per derivation (every view here
/// goes by it, several times over).
pub type Dated<'a> = (NaiveDate, &'a Activity);

/// `public` with their local dates (an activity without a readable local start has none and
/// is left out; [`super::absurdity`] keeps such activities out of `public` anyway).
pub fn dated<'a>(public: &[&'a Activity]) -> Vec<Dated<'a>> {
    public
        .iter()
        .filter_map(|a| Some((local_start(a)?.date(), *a)))
        .collect()
}

/// The activities of legacy type `kind` (all of them without one).
fn of_kind<'a>(
    dated: &'a [Dated<'a>],
    kind: Option<&'a str>,
) -> impl Iterator<Item = Dated<'a>> + 'a {
    dated
        .iter()
        .copied()
        .filter(move |(_, a)| kind.is_none_or(|k| k == a.kind))
}

/// `2026-03-04`. By hand: chrono's formatter, driven by a format string, is several times
/// slower, and a calendar writes a key per active day.
fn day_key(day: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", day.year(), day.month(), day.day())
}

/// The Monday that starts the ISO week of `day`.
fn monday(day: NaiveDate) -> NaiveDate {
    day - Days::new(u64::from(day.weekday().num_days_from_monday()))
}

/// `2026-W49`: the ISO week-year and week of `day` (`%G-W%V`).
fn week_key(day: NaiveDate) -> String {
    let week = day.iso_week();
    format!("{:04}-W{:02}", week.year(), week.week())
}

/// `/stats/weekly[?type=]`: zero-filled totals of the `WEEKS` local ISO weeks ending with
/// the one holding `today`, newest first; `kind` filters by legacy type.
pub fn weekly(
    dated: &[Dated],
    today: NaiveDate,
    kind: Option<&str>,
    fetched_at: DateTime<Utc>,
) -> Bytes {
    let this_week = monday(today);
    let mut sums = vec![Summary::default(); WEEKS as usize];
    for (day, activity) in of_kind(dated, kind) {
        let weeks_ago = (this_week - monday(day)).num_days() / 7;
        if let Some(sum) = usize::try_from(weeks_ago)
            .ok()
            .and_then(|i| sums.get_mut(i))
        {
            sum.add(activity);
        }
    }
    let data = Ordered(
        (0..WEEKS)
            .map(|i| week_key(this_week - Days::new(7 * i)))
            .zip(sums)
            .collect(),
    );
    envelope("weekly", data, fetched_at)
}

/// Totals per local day of `activities`, in date order.
fn daily<'a>(activities: impl IntoIterator<Item = Dated<'a>>) -> BTreeMap<NaiveDate, Summary> {
    let mut days: BTreeMap<NaiveDate, Summary> = BTreeMap::new();
    for (day, a) in activities {
        days.entry(day).or_default().add(a);
    }
    days
}

/// The totals per active day of one calendar, in date order.
type DayTotals = Vec<(NaiveDate, Summary)>;

/// A calendar's `data`: an object with a key per active day.
struct DaysObject<'a>(&'a [(NaiveDate, Summary)]);

impl Serialize for DaysObject<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(day, sum)| (DayKey(*day), sum)))
    }
}

/// A local date as a JSON key, written straight into the body (a calendar has a key per
/// active day: a string for each would be most of a derivation's allocations).
struct DayKey(NaiveDate);

impl Serialize for DayKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self.0;
        s.collect_str(&format_args!(
            "{:04}-{:02}-{:02}",
            d.year(),
            d.month(),
            d.day()
        ))
    }
}

/// What a calendar's `data` is written from: its days, or the object an earlier body holds.
enum Data<'a> {
    Days(&'a [(NaiveDate, Summary)]),
    Written(&'a [u8]),
}

/// `{"type":"calendar","year":…,"data":{…},"fetched_at":"…"}`, and its `data` object (a view of
/// the same bytes, which the next derivation may copy instead of writing the days again).
fn calendar_body(year: i32, data: Data, fetched_at: &str) -> (Bytes, Bytes) {
    const ROOM: usize = 96;
    let mut body = Vec::with_capacity(match data {
        // A day takes some 90 bytes.
        Data::Days(days) => days.len() * 96 + ROOM,
        Data::Written(object) => object.len() + ROOM,
    });
    body.extend_from_slice(br#"{"type":"calendar","year":"#);
    body.extend_from_slice(year.to_string().as_bytes());
    body.extend_from_slice(br#","data":"#);
    let start = body.len();
    // Writing dates, numbers and a timestamp into memory cannot fail.
    match data {
        Data::Days(days) => {
            let _ = serde_json::to_writer(&mut body, &DaysObject(days));
        }
        Data::Written(object) => body.extend_from_slice(object),
    }
    let end = body.len();
    body.extend_from_slice(br#","fetched_at":"#);
    let _ = serde_json::to_writer(&mut body, fetched_at);
    body.push(b'}');
    let body = Bytes::from(body);
    (body.clone(), body.slice(start..end))
}

/// `/stats/calendar?year=&type=`: totals per active local day of `year`, ascending (a year
/// without activities has none); `kind` filters by legacy type.
pub fn calendar(
    dated: &[Dated],
    year: i32,
    kind: Option<&str>,
    fetched_at: DateTime<Utc>,
) -> Bytes {
    let days: DayTotals = daily(of_kind(dated, kind).filter(|(day, _)| day.year() == year))
        .into_iter()
        .collect();
    calendar_body(year, Data::Days(&days), &timestamp(fetched_at)).0
}

/// Adds `a` to the totals of `day` in `days`, which is in date order: activities come oldest
/// first, so a day is nearly always the last one or a new one after it.
fn add_to_day(days: &mut DayTotals, day: NaiveDate, a: &Activity) {
    match days.last_mut() {
        Some((last, sum)) if *last == day => sum.add(a),
        Some((last, _)) if *last > day => {
            // Out of order (a time zone moved the local date back): find its place.
            match days.binary_search_by_key(&day, |(d, _)| *d) {
                Ok(i) => days[i].1.add(a),
                Err(i) => {
                    let mut sum = Summary::default();
                    sum.add(a);
                    days.insert(i, (day, sum));
                }
            }
        }
        _ => {
            let mut sum = Summary::default();
            sum.add(a);
            days.push((day, sum));
        }
    }
}

/// The calendars one derivation wrote, kept for the next: a calendar whose days are the same
/// again is not written again. One new activity changes the calendars of one year of the
/// dozens there are, and writing every active day of every year was most of a derivation.
#[derive(Debug, Clone, Default)]
pub struct CalendarMemo {
    written: HashMap<(i32, Option<String>), Written>,
    fresh: usize,
}

#[derive(Debug, Clone)]
struct Written {
    days: DayTotals,
    /// `days` as the body's `data` object.
    data: Bytes,
}

impl CalendarMemo {
    /// How many calendars the last derivation wrote afresh (the others it took from here).
    pub fn last_written(&self) -> usize {
        self.fresh
    }
}

/// Every calendar with activities in it: each local year with public activities, of all
/// types (`None`) and of each legacy type done that year. One pass over the activities, however
/// many years and types; only calendars whose days differ from `memo`'s are written again.
pub fn calendars(
    dated: &[Dated],
    fetched_at: DateTime<Utc>,
    memo: &mut CalendarMemo,
) -> Vec<(i32, Option<String>, Bytes)> {
    let mut grids: BTreeMap<(i32, Option<&str>), DayTotals> = BTreeMap::new();
    // `dated` comes newest first.
    for &(day, a) in dated.iter().rev() {
        add_to_day(grids.entry((day.year(), None)).or_default(), day, a);
        if !a.kind.is_empty() {
            let kind = Some(a.kind.as_str());
            add_to_day(grids.entry((day.year(), kind)).or_default(), day, a);
        }
    }
    let fetched_at = timestamp(fetched_at);
    let mut written = HashMap::with_capacity(grids.len());
    let mut fresh = 0;
    let bodies = grids
        .into_iter()
        .map(|((year, kind), days)| {
            let key = (year, kind.map(str::to_owned));
            let before = memo.written.remove(&key);
            let data = match &before {
                Some(before) if before.days == days => Data::Written(&before.data),
                _ => {
                    fresh += 1;
                    Data::Days(&days)
                }
            };
            let (body, data) = calendar_body(year, data, &fetched_at);
            let kind = key.1.clone();
            written.insert(key, Written { days, data });
            (year, kind, body)
        })
        .collect();
    *memo = CalendarMemo { written, fresh };
    bodies
}

/// A run of consecutive steps (days, or weeks by their Mondays).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    start: NaiveDate,
    end: NaiveDate,
    len: u32,
}

/// The runs of `dates` (ascending, distinct) whose neighbours lie `step` days apart.
fn runs(dates: &[NaiveDate], step: u64) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for &date in dates {
        match runs.last_mut() {
            Some(run) if run.end.checked_add_days(Days::new(step)) == Some(date) => {
                run.end = date;
                run.len = run.len.saturating_add(1);
            }
            _ => runs.push(Run {
                start: date,
                end: date,
                len: 1,
            }),
        }
    }
    runs
}

/// The longest run, the earliest of equals.
fn longest(runs: &[Run]) -> Option<Run> {
    runs.iter()
        .copied()
        .fold(None, |best: Option<Run>, run| match best {
            Some(b) if b.len >= run.len => Some(b),
            _ => Some(run),
        })
}

/// The length of the run ending on `latest` or on the step before it (the current period
/// may not be over yet), else 0.
fn current(runs: &[Run], latest: NaiveDate, step: u64) -> u32 {
    let before = latest.checked_sub_days(Days::new(step));
    runs.iter()
        .find(|run| run.end == latest || Some(run.end) == before)
        .map_or(0, |run| run.len)
}

#[derive(Serialize)]
struct Streaks {
    current_days: u32,
    longest_days: u32,
    longest_days_start: Option<String>,
    longest_days_end: Option<String>,
    current_weeks: u32,
    longest_weeks: u32,
}

/// `/stats/streaks?type=`: runs of local days, and of ISO weeks, with at least one activity
/// (of legacy type `kind`, when given). The current runs end today or yesterday, this week or
/// last week: a day or week not over yet breaks nothing.
pub fn streaks(
    dated: &[Dated],
    today: NaiveDate,
    kind: Option<&str>,
    fetched_at: DateTime<Utc>,
) -> Bytes {
    let mut days: Vec<NaiveDate> = of_kind(dated, kind).map(|(day, _)| day).collect();
    days.sort_unstable();
    days.dedup();
    let mut weeks: Vec<NaiveDate> = days.iter().copied().map(monday).collect();
    weeks.dedup();
    let (day_runs, week_runs) = (runs(&days, 1), runs(&weeks, 7));
    let longest_days = longest(&day_runs);
    let day_text = day_key;
    let data = Streaks {
        current_days: current(&day_runs, today, 1),
        longest_days: longest_days.map_or(0, |r| r.len),
        longest_days_start: longest_days.map(|r| day_text(r.start)),
        longest_days_end: longest_days.map(|r| day_text(r.end)),
        current_weeks: current(&week_runs, monday(today), 7),
        longest_weeks: longest(&week_runs).map_or(0, |r| r.len),
    };
    envelope("streaks", data, fetched_at)
}

/// The Eddington number of some days' distances (metres) in a unit of `unit` metres: the
/// largest n with at least n days of n units or more, and how many more such days n + 1
/// needs.
fn eddington_number(distances: &[f64], unit: f64) -> (u32, u32) {
    let mut sorted = distances.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    // The i-th longest day (from 1) reaches i units for every i up to n, and for none after.
    let n = sorted
        .iter()
        .zip(1u32..)
        .take_while(|&(&d, i)| d >= f64::from(i) * unit)
        .count();
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    let next = n.saturating_add(1);
    let reaching = sorted
        .iter()
        .take_while(|&&d| d >= f64::from(next) * unit)
        .count();
    let reaching = u32::try_from(reaching).unwrap_or(u32::MAX);
    (n, next.saturating_sub(reaching))
}

#[derive(Serialize)]
struct Eddington {
    km: u32,
    mi: u32,
    days_to_next_km: u32,
    days_to_next_mi: u32,
}

impl Eddington {
    /// The numbers of the activities of `family` (sport types), by local day.
    fn of(dated: &[Dated], family: &[&str]) -> Self {
        let distances: Vec<f64> = daily(
            dated
                .iter()
                .copied()
                .filter(|(_, a)| family.contains(&a.sport_type.as_str())),
        )
        .into_values()
        .map(|day| day.distance)
        .collect();
        let (km, days_to_next_km) = eddington_number(&distances, 1000.0);
        let (mi, days_to_next_mi) = eddington_number(&distances, METRES_PER_MILE);
        Self {
            km,
            mi,
            days_to_next_km,
            days_to_next_mi,
        }
    }
}

/// `/stats/eddington`: the Eddington numbers of the ride and run families, in km and miles,
/// over each local day's summed distance.
pub fn eddington(dated: &[Dated], fetched_at: DateTime<Utc>) -> Bytes {
    let data = Ordered(vec![
        ("ride", Eddington::of(dated, &RIDE_FAMILY)),
        ("run", Eddington::of(dated, &RUN_FAMILY)),
    ]);
    envelope("eddington", data, fetched_at)
}

#[cfg(test)]
mod tests {
    use super::super::fixture::activity;
    use super::*;
    use chrono::TimeZone;
    use serde_json::{Value, json};

    /// Activities on these local days (`YYYY-MM-DD`), at 08:00, of `kind`, `km` each.
    fn on_days(kind: &str, days: &[&str], km: f64) -> Vec<Activity> {
        days.iter()
            .zip(1..)
            .map(|(day, id)| activity(id, kind, &format!("{day}T08:00:00Z"), km * 1000.0))
            .collect()
    }

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 2, 12, 0, 0).unwrap()
    }

    fn json_of(bytes: &Bytes) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    fn week_keys(body: &Value) -> Vec<String> {
        body["data"].as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn twelve_iso_weeks_newest_first_across_a_year_boundary() {
        // Friday 2 January 2026 is in 2026-W01, which began on Monday 29 December 2025.
        let acts = on_days(
            "Run",
            &["2025-12-29", "2025-12-28", "2025-10-13", "2025-10-12"],
            5.0,
        );
        let refs: Vec<&Activity> = acts.iter().collect();
        let body = json_of(&weekly(&dated(&refs), day("2026-01-02"), None, at()));
        assert_eq!(body["type"], json!("weekly"));
        let keys = week_keys(&body);
        assert_eq!(keys.len(), 12);
        assert_eq!(&keys[..3], ["2026-W01", "2025-W52", "2025-W51"]);
        assert_eq!(keys[11], "2025-W42");
        assert_eq!(body["data"]["2026-W01"]["count"], json!(1));
        assert_eq!(body["data"]["2025-W52"]["distance"], json!(5000.0));
        assert_eq!(body["data"]["2025-W42"]["count"], json!(1));
        assert_eq!(body["data"]["2025-W45"]["count"], json!(0));
        // Sunday 12 October ends 2025-W41, thirteen weeks back: left out.
        assert!(!keys.contains(&"2025-W41".to_owned()), "{keys:?}");
        let counted: i64 = body["data"]
            .as_object()
            .unwrap()
            .values()
            .map(|w| w["count"].as_i64().unwrap())
            .sum();
        assert_eq!(counted, 3);
        // 2020 had 53 ISO weeks; 3 January 2021 still belongs to it.
        let body = json_of(&weekly(&dated(&refs), day("2021-01-06"), None, at()));
        assert_eq!(&week_keys(&body)[..3], ["2021-W01", "2020-W53", "2020-W52"]);
        let rides = json_of(&weekly(
            &dated(&refs),
            day("2026-01-02"),
            Some("Ride"),
            at(),
        ));
        assert_eq!(rides["data"]["2026-W01"]["count"], json!(0));
    }

    #[test]
    fn a_calendar_has_one_ascending_key_per_active_local_day_of_its_year() {
        let mut acts = on_days(
            "Run",
            &["2025-03-02", "2025-03-02", "2024-12-31", "2025-01-01"],
            2.5,
        );
        acts.push(activity(9, "Ride", "2025-02-10T18:00:00Z", 20_000.0));
        // 23:30 local on 31 December in New York is already 2026 in UTC: it stays in 2025.
        let mut late = activity(10, "Run", "2025-12-31T23:30:00Z", 1_000.0);
        late.start_date = "2026-01-01T04:30:00Z".into();
        acts.push(late);
        let refs: Vec<&Activity> = acts.iter().collect();
        let raw = calendar(&dated(&refs), 2025, None, at());
        let text = std::str::from_utf8(&raw).unwrap();
        assert!(
            text.starts_with(r#"{"type":"calendar","year":2025,"data":{"2025-01-01":"#),
            "{text}"
        );
        let body = json_of(&raw);
        assert_eq!(
            week_keys(&body),
            ["2025-01-01", "2025-02-10", "2025-03-02", "2025-12-31"]
        );
        assert_eq!(
            body["data"]["2025-03-02"],
            json!({"count": 2, "distance": 5000.0, "moving_time": 1200, "elevation_gain": 20.0})
        );
        let runs = json_of(&calendar(&dated(&refs), 2025, Some("Run"), at()));
        assert!(runs["data"].get("2025-02-10").is_none());
        let empty = json_of(&calendar(&dated(&refs), 2019, None, at()));
        assert_eq!(empty["data"], json!({}));
        assert_eq!(empty["year"], json!(2019));

        // Each calendar made in the one pass is the one made on its own, out-of-order
        // local dates (the New York evening) included.
        for (year, kind, body) in calendars(&dated(&refs), at(), &mut CalendarMemo::default()) {
            assert_eq!(
                body,
                calendar(&dated(&refs), year, kind.as_deref(), at()),
                "{year} {kind:?}"
            );
        }
        let all = calendars(&dated(&refs), at(), &mut CalendarMemo::default());
        let made: Vec<(i32, Option<&str>)> =
            all.iter().map(|(y, k, _)| (*y, k.as_deref())).collect();
        assert_eq!(
            made,
            [
                (2024, None),
                (2024, Some("Run")),
                (2025, None),
                (2025, Some("Ride")),
                (2025, Some("Run"))
            ]
        );
    }

    #[test]
    fn calendars_write_again_only_the_years_whose_days_changed() {
        let mut acts = on_days("Run", &["2023-05-01", "2024-05-01", "2025-05-01"], 5.0);
        acts.push(activity(7, "Ride", "2024-06-01T08:00:00Z", 20_000.0));
        let fresh = |acts: &[Activity], at: DateTime<Utc>| {
            let refs: Vec<&Activity> = acts.iter().collect();
            calendars(&dated(&refs), at, &mut CalendarMemo::default())
        };
        let mut memo = CalendarMemo::default();
        let with_memo = |acts: &[Activity], memo: &mut CalendarMemo, at: DateTime<Utc>| {
            let refs: Vec<&Activity> = acts.iter().collect();
            calendars(&dated(&refs), at, memo)
        };
        assert_eq!(with_memo(&acts, &mut memo, at()), fresh(&acts, at()));
        assert_eq!(memo.last_written(), 7);

        // A new run in 2024, a sync later: its two calendars are written again, and every
        // body carries the new fetched_at.
        let later = at() + chrono::Duration::hours(1);
        acts.push(activity(8, "Run", "2024-05-01T18:00:00Z", 1_000.0));
        let bodies = with_memo(&acts, &mut memo, later);
        assert_eq!(bodies, fresh(&acts, later));
        assert_eq!(memo.last_written(), 2);
        let may = json_of(&bodies[2].2);
        assert_eq!((bodies[2].0, bodies[2].1.as_deref()), (2024, None));
        assert_eq!(may["data"]["2024-05-01"]["count"], json!(2));
        assert_eq!(may["fetched_at"], json!("2026-01-02T13:00:00+00:00"));

        // The same days again write nothing; a year whose activities went is gone.
        assert_eq!(with_memo(&acts, &mut memo, later), fresh(&acts, later));
        assert_eq!(memo.last_written(), 0);
        acts.retain(|a| !a.start_date.starts_with("2023"));
        let bodies = with_memo(&acts, &mut memo, later);
        assert_eq!(bodies, fresh(&acts, later));
        assert!(bodies.iter().all(|(year, _, _)| *year != 2023));
        assert_eq!(memo.last_written(), 0);
        assert_eq!(memo.written.len(), 5);
    }

    fn streaks_of(acts: &[Activity], today: &str) -> Value {
        let refs: Vec<&Activity> = acts.iter().collect();
        json_of(&streaks(&dated(&refs), day(today), None, at()))["data"].clone()
    }

    #[test]
    fn a_streak_broken_by_a_gap_and_today_not_yet_over() {
        // 1–3 March, a gap on the 4th, 5–7 March; today is the 8th with nothing yet.
        let acts = on_days(
            "Run",
            &[
                "2026-03-01",
                "2026-03-02",
                "2026-03-03",
                "2026-03-05",
                "2026-03-06",
                "2026-03-07",
            ],
            1.0,
        );
        let data = streaks_of(&acts, "2026-03-08");
        assert_eq!(data["current_days"], json!(3), "{data}");
        assert_eq!(data["longest_days"], json!(3));
        // Ties go to the earliest.
        assert_eq!(data["longest_days_start"], json!("2026-03-01"));
        assert_eq!(data["longest_days_end"], json!("2026-03-03"));
        // Today done too: the streak includes it.
        assert_eq!(streaks_of(&acts, "2026-03-07")["current_days"], json!(3));
        // Nothing yesterday or today: no current streak.
        assert_eq!(streaks_of(&acts, "2026-03-09")["current_days"], json!(0));
        // Two a day count once.
        let mut twice = acts.clone();
        twice.extend(on_days("Ride", &["2026-03-07"], 1.0));
        assert_eq!(streaks_of(&twice, "2026-03-08")["longest_days"], json!(3));
    }

    #[test]
    fn week_streaks_follow_iso_weeks_and_the_week_not_yet_over() {
        // Weeks of 2 Feb, 9 Feb, 16 Feb 2026 (Mondays), none in the week of 23 Feb, then the
        // week of 2 March.
        let acts = on_days(
            "Run",
            &["2026-02-08", "2026-02-09", "2026-02-22", "2026-03-04"],
            1.0,
        );
        // 8 Feb is a Sunday (week of 2 Feb); 9 Feb and 22 Feb are in the next two weeks.
        let data = streaks_of(&acts, "2026-03-10");
        assert_eq!(data["longest_weeks"], json!(3), "{data}");
        // This week (from 9 March) has nothing yet; last week had one.
        assert_eq!(data["current_weeks"], json!(1));
        assert_eq!(streaks_of(&acts, "2026-03-16")["current_weeks"], json!(0));
    }

    #[test]
    fn no_activities_no_streaks() {
        let data = streaks_of(&[], "2026-03-08");
        assert_eq!(
            data,
            json!({"current_days": 0, "longest_days": 0, "longest_days_start": null,
                "longest_days_end": null, "current_weeks": 0, "longest_weeks": 0})
        );
    }

    #[test]
    fn eddington_counts_days_at_the_threshold_and_sums_each_day() {
        // Three days of exactly 3 km: E = 3; E = 4 needs four days of 4 km, none yet.
        assert_eq!(eddington_number(&[3000.0, 3000.0, 3000.0], 1000.0), (3, 4));
        // Just short of the threshold does not count.
        assert_eq!(eddington_number(&[3000.0, 3000.0, 2999.9], 1000.0), (2, 1));
        assert_eq!(eddington_number(&[], 1000.0), (0, 1));
        assert_eq!(eddington_number(&[10_000.0; 12], 1000.0), (10, 11));
        assert_eq!(eddington_number(&[500.0], 1000.0), (0, 1));

        // Two rides on one day make one day of their sum; runs are their own family.
        let mut acts = on_days("Ride", &["2026-01-01", "2026-01-01", "2026-01-02"], 1.0);
        for (a, sport) in acts.iter_mut().zip(["Ride", "GravelRide", "VirtualRide"]) {
            a.sport_type = sport.into();
        }
        acts.extend(on_days("Run", &["2026-01-03"], 1.609_344));
        acts[3].id = 9;
        let refs: Vec<&Activity> = acts.iter().collect();
        let raw = eddington(&dated(&refs), at());
        let text = std::str::from_utf8(&raw).unwrap();
        assert!(
            text.starts_with(r#"{"type":"eddington","data":{"ride":"#),
            "{text}"
        );
        let body = json_of(&raw);
        assert_eq!(
            body["data"]["ride"],
            json!({"km": 1, "mi": 1, "days_to_next_km": 1, "days_to_next_mi": 2})
        );
        assert_eq!(
            body["data"]["run"],
            json!({"km": 1, "mi": 1, "days_to_next_km": 2, "days_to_next_mi": 2})
        );
    }
}
