//! Pure functions from activities (and Strava's athlete stats) to the exact JSON bodies milepost
//! serves. No I/O: bodies are computed once per data change and served pre-serialized.

mod days;
mod figures;
#[cfg(test)]
mod fixture;

use bytes::Bytes;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Utc};
use serde::Serialize;

use crate::strava::models::{Activity, ActivityStats};
pub use days::{
    CalendarMemo, Dated, WEEKS, calendar, calendars, dated, eddington, streaks, weekly,
};
use figures::{Ordered, envelope};
pub use figures::{RIDE_FAMILY, RUN_FAMILY, Summary, local_start, timestamp};

/// How many activities `/stats/activities` shows.
pub const RECENT_COUNT: usize = 30;
/// How many months `/stats/monthly` shows, the current one included.
pub const MONTHS: u32 = 12;

/// Which Strava visibilities the public may see.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PublicVisibility {
    #[default]
    Everyone,
    FollowersOnly,
    OnlyMe,
}

impl PublicVisibility {
    /// Whether an activity may appear in public output under this setting.
    pub fn admits(self, activity: &Activity) -> bool {
        match (self, activity.visibility.as_str()) {
            (_, "everyone") => !activity.private,
            (Self::FollowersOnly, "followers_only") => !activity.private,
            (Self::OnlyMe, _) => true,
            _ => false,
        }
    }
}

/// Real offsets from UTC lie within ±18 hours; anything beyond is not a time zone.
const MAX_UTC_OFFSET_SECS: f64 = 18.0 * 3600.0;
/// No single activity covers more: 10^9 m is 25 000 times around the earth.
pub const MAX_DISTANCE_M: f64 = 1e9;
/// No single activity climbs more: 10^7 m is over a thousand Everests.
pub const MAX_ELEVATION_GAIN_M: f64 = 1e7;
/// No single activity lasts longer: 10^9 s is over 31 years.
pub const MAX_DURATION_S: i64 = 1_000_000_000;

/// Why an activity's values cannot be placed in time or summed sensibly, naming the field.
/// An activity is absurd when
/// - `start_date` is not an RFC 3339 instant, or `start_date_local` not a wall-clock time
///   (it could not be placed in any month, year or order);
/// - `utc_offset` is not finite or beyond ±18 h (no time zone is that far from UTC);
/// - `distance` or `total_elevation_gain` is negative, NaN, infinite, or beyond
///   [`MAX_DISTANCE_M`] / [`MAX_ELEVATION_GAIN_M`] (finite values like 1e308 would make the
///   sums infinite, which JSON cannot carry);
/// - `moving_time` or `elapsed_time` is negative or beyond [`MAX_DURATION_S`] (values near
///   i64::MAX would overflow the sums);
/// - `average_speed` or `max_speed` is NaN or infinite (JSON cannot carry it).
///
/// Absurd activities stay stored as Strava sent them but are left out of every public body,
/// aggregate or listing; `None` for a sane activity.
pub fn absurdity(a: &Activity) -> Option<&'static str> {
    let length = |v: f64, max: f64| v.is_finite() && (0.0..=max).contains(&v);
    let duration = |v: i64| (0..=MAX_DURATION_S).contains(&v);
    if DateTime::parse_from_rfc3339(&a.start_date).is_err() {
        Some("start_date is not an RFC 3339 instant")
    } else if local_start(a).is_none() {
        Some("start_date_local is not a wall-clock time")
    } else if !(a.utc_offset.is_finite() && a.utc_offset.abs() <= MAX_UTC_OFFSET_SECS) {
        Some("utc_offset is beyond ±18 h")
    } else if !length(a.distance, MAX_DISTANCE_M) {
        Some("distance is negative, not finite or beyond 10^9 m")
    } else if !length(a.total_elevation_gain, MAX_ELEVATION_GAIN_M) {
        Some("total_elevation_gain is negative, not finite or beyond 10^7 m")
    } else if !duration(a.moving_time) {
        Some("moving_time is negative or beyond 10^9 s")
    } else if !duration(a.elapsed_time) {
        Some("elapsed_time is negative or beyond 10^9 s")
    } else if !(a.average_speed.is_finite() && a.max_speed.is_finite()) {
        Some("a speed is not finite")
    } else {
        None
    }
}

/// The absurd activities among `activities` (see [`absurdity`]): their ids and why.
pub fn absurd_activities(activities: &[Activity]) -> Vec<(i64, &'static str)> {
    activities
        .iter()
        .filter_map(|a| absurdity(a).map(|why| (a.id, why)))
        .collect()
}

/// The athlete's offset from UTC in seconds, taken from their newest activity (clamped to a
/// real time zone's; a missing or unreadable offset is UTC).
pub fn athlete_offset(newest: Option<&Activity>) -> i64 {
    let offset = newest.map_or(0.0, |a| a.utc_offset);
    // `as` maps NaN to 0
    offset.clamp(-MAX_UTC_OFFSET_SECS, MAX_UTC_OFFSET_SECS) as i64
}

/// Wall-clock time at `offset_secs` from UTC; UTC itself when the offset cannot be applied
/// (beyond ±18 h, or past the end of the calendar).
pub fn local_time(now: DateTime<Utc>, offset_secs: i64) -> NaiveDateTime {
    let utc = now.naive_utc();
    let offset = offset_secs.clamp(-(MAX_UTC_OFFSET_SECS as i64), MAX_UTC_OFFSET_SECS as i64);
    Duration::try_seconds(offset)
        .and_then(|d| utc.checked_add_signed(d))
        .unwrap_or(utc)
}

/// The athlete's current local time, taking their offset from their newest activity.
pub fn athlete_now(now: DateTime<Utc>, newest: Option<&Activity>) -> NaiveDateTime {
    local_time(now, athlete_offset(newest))
}

/// `/stats/ytd`: Strava's own year-to-date totals.
pub fn ytd(stats: &ActivityStats, fetched_at: DateTime<Utc>) -> Bytes {
    let data = Ordered(vec![
        ("run", Summary::from(stats.ytd_run_totals)),
        ("ride", Summary::from(stats.ytd_ride_totals)),
        ("swim", Summary::from(stats.ytd_swim_totals)),
    ]);
    envelope("ytd", data, fetched_at)
}

/// `/stats/ytd` summed from the activities themselves, in the same shape, for when Strava's own
/// totals cannot count them all (imported activities the API does not know, or no API at all,
/// SPEC §11): the public activities of the athlete's local year `today` falls in, `run` and
/// `ride` by family (as `longest-run`/`longest-ride`), `swim` for `Swim`.
pub fn ytd_from_activities(
    public: &[&Activity],
    today: NaiveDate,
    fetched_at: DateTime<Utc>,
) -> Bytes {
    let (mut run, mut ride, mut swim) =
        (Summary::default(), Summary::default(), Summary::default());
    for a in public {
        if local_start(a).is_none_or(|start| start.year() != today.year()) {
            continue;
        }
        let sport = a.sport_type.as_str();
        if RUN_FAMILY.contains(&sport) {
            run.add(a);
        } else if RIDE_FAMILY.contains(&sport) {
            ride.add(a);
        } else if sport == "Swim" {
            swim.add(a);
        }
    }
    envelope(
        "ytd",
        Ordered(vec![("run", run), ("ride", ride), ("swim", swim)]),
        fetched_at,
    )
}

#[derive(Serialize)]
struct Recent<'a> {
    id: i64,
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    sport_type: &'a str,
    distance: f64,
    moving_time: i64,
    elevation_gain: f64,
    start_date: &'a str,
    start_date_local: &'a str,
}

/// `/stats/activities`: the newest public activities, newest first. `public` is sorted newest first.
pub fn recent(public: &[&Activity], fetched_at: DateTime<Utc>) -> Bytes {
    let data: Vec<Recent> = public
        .iter()
        .take(RECENT_COUNT)
        .map(|a| Recent {
            id: a.id,
            name: &a.name,
            kind: &a.kind,
            sport_type: &a.sport_type,
            distance: a.distance,
            moving_time: a.moving_time,
            elevation_gain: a.total_elevation_gain,
            start_date: &a.start_date,
            start_date_local: &a.start_date_local,
        })
        .collect();
    envelope("recent_activities", data, fetched_at)
}

/// The `MONTHS` months ending with the one containing `today`, newest first.
fn month_keys(today: NaiveDate) -> Vec<(i32, u32)> {
    let (mut year, mut month) = (today.year(), today.month());
    let mut keys = Vec::with_capacity(MONTHS as usize);
    for _ in 0..MONTHS {
        keys.push((year, month));
        (year, month) = if month == 1 {
            (year - 1, 12)
        } else {
            (year, month - 1)
        };
    }
    keys
}

/// `/stats/monthly[?type=]`: zero-filled totals per local month; `kind` filters by legacy type.
pub fn monthly(
    public: &[&Activity],
    today: NaiveDate,
    kind: Option<&str>,
    fetched_at: DateTime<Utc>,
) -> Bytes {
    let keys = month_keys(today);
    let mut sums = vec![Summary::default(); keys.len()];
    for activity in public {
        if kind.is_some_and(|k| k != activity.kind) {
            continue;
        }
        let Some(start) = local_start(activity) else {
            continue;
        };
        if let Some(i) = keys
            .iter()
            .position(|&(y, m)| start.year() == y && start.month() == m)
        {
            sums[i].add(activity);
        }
    }
    let data = Ordered(
        keys.iter()
            .map(|(y, m)| format!("{y:04}-{m:02}"))
            .zip(sums)
            .collect(),
    );
    envelope("monthly", data, fetched_at)
}

#[derive(Serialize)]
struct HeartRate {
    average: Option<f64>,
    max: Option<f64>,
}

/// A in the API: one activity as `/strava/activities` and `/stats/longest-*` show it.
#[derive(Serialize)]
struct ActivityView<'a> {
    id: i64,
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    sport_type: &'a str,
    distance: f64,
    moving_time: i64,
    elapsed_time: i64,
    total_elevation_gain: f64,
    start_date: &'a str,
    start_date_local: &'a str,
    average_speed: f64,
    max_speed: f64,
    kudos_count: i64,
    heart_rate: HeartRate,
}

impl<'a> From<&'a Activity> for ActivityView<'a> {
    fn from(a: &'a Activity) -> Self {
        // An athlete who opted out of showing heart rate gets none shown.
        let shown = |v: Option<f64>| v.filter(|_| !a.heartrate_opt_out);
        Self {
            id: a.id,
            name: &a.name,
            kind: &a.kind,
            sport_type: &a.sport_type,
            distance: a.distance,
            moving_time: a.moving_time,
            elapsed_time: a.elapsed_time,
            total_elevation_gain: a.total_elevation_gain,
            start_date: &a.start_date,
            start_date_local: &a.start_date_local,
            average_speed: a.average_speed,
            max_speed: a.max_speed,
            kudos_count: a.kudos_count,
            heart_rate: HeartRate {
                average: shown(a.average_heartrate),
                max: shown(a.max_heartrate),
            },
        }
    }
}

/// One activity serialized as A.
pub fn activity_json(a: &Activity) -> Bytes {
    Bytes::from(serde_json::to_vec(&ActivityView::from(a)).unwrap_or_default())
}

/// The local year an activity belongs to.
fn local_year(a: &Activity) -> Option<i32> {
    local_start(a).map(|t| t.year())
}

/// Totals per legacy type, types in alphabetical order.
fn by_type<'a>(activities: impl IntoIterator<Item = &'a Activity>) -> Ordered<String, Summary> {
    let mut groups: std::collections::BTreeMap<&str, Summary> = Default::default();
    for a in activities {
        groups.entry(a.kind.as_str()).or_default().add(a);
    }
    Ordered(groups.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// `/stats/totals`: every public activity, by legacy type.
pub fn totals(public: &[&Activity], fetched_at: DateTime<Utc>) -> Bytes {
    envelope(
        "all_time_totals",
        by_type(public.iter().copied()),
        fetched_at,
    )
}

/// Public activities grouped by local year, newest year first.
fn by_year<'a>(public: &[&'a Activity]) -> std::collections::BTreeMap<i32, Vec<&'a Activity>> {
    let mut years: std::collections::BTreeMap<i32, Vec<&Activity>> = Default::default();
    for a in public {
        if let Some(year) = local_year(a) {
            years.entry(year).or_default().push(a);
        }
    }
    years
}

/// `/stats/yearly`: by local year (newest first), then legacy type.
pub fn yearly(public: &[&Activity], fetched_at: DateTime<Utc>) -> Bytes {
    let data = Ordered(
        by_year(public)
            .into_iter()
            .rev()
            .map(|(year, acts)| (year.to_string(), by_type(acts)))
            .collect(),
    );
    envelope("yearly_stats", data, fetched_at)
}

#[derive(Serialize)]
struct YearSummary<'a> {
    year: i32,
    data: Ordered<String, Summary>,
    fetched_at: &'a str,
}

/// `/stats/summary/{year}` for every local year that has public activities.
pub fn summaries(public: &[&Activity], fetched_at: DateTime<Utc>) -> Vec<(i32, Bytes)> {
    let fetched_at = timestamp(fetched_at);
    by_year(public)
        .into_iter()
        .map(|(year, acts)| {
            let body = YearSummary {
                year,
                data: by_type(acts),
                fetched_at: &fetched_at,
            };
            (
                year,
                Bytes::from(serde_json::to_vec(&body).unwrap_or_default()),
            )
        })
        .collect()
}

/// The longest activity of `family` in each local year (ties: the earliest), as A.
pub fn longest(public: &[&Activity], family: &[&str]) -> Vec<(i32, Bytes)> {
    by_year(public)
        .into_iter()
        .filter_map(|(year, acts)| {
            let best = acts
                .into_iter()
                .filter(|a| family.contains(&a.sport_type.as_str()))
                .min_by(|a, b| {
                    b.distance
                        .total_cmp(&a.distance)
                        .then_with(|| a.start_date.cmp(&b.start_date))
                        .then_with(|| a.id.cmp(&b.id))
                })?;
            Some((year, activity_json(best)))
        })
        .collect()
}

/// What `/strava/activities` may be asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ListQuery {
    pub limit: usize,
    pub offset: usize,
    pub year: Option<i32>,
    pub kind: Option<String>,
}

struct ListEntry {
    year: Option<i32>,
    kind: String,
    json: Bytes,
}

/// A page's body up to its first activity.
fn page_head(total: usize, query: &ListQuery) -> Vec<u8> {
    format!(
        r#"{{"total":{total},"limit":{},"offset":{},"data":["#,
        query.limit, query.offset
    )
    .into_bytes()
}

/// Every public activity pre-serialized as A, newest first: a page of `/strava/activities` is
/// a filter and a concatenation, never a serialization.
#[derive(Default)]
pub struct ActivityList {
    entries: Vec<ListEntry>,
    /// Changes whenever any entry does.
    version: String,
}

impl ActivityList {
    /// `public` sorted newest first.
    pub fn new(public: &[&Activity]) -> Self {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        let entries = public
            .iter()
            .map(|a| {
                let json = activity_json(a);
                hash.update(&json);
                ListEntry {
                    year: local_year(a),
                    kind: a.kind.clone(),
                    json,
                }
            })
            .collect();
        let digest = hash.finalize();
        Self {
            entries,
            version: digest[..8].iter().map(|b| format!("{b:02x}")).collect(),
        }
    }

    /// Changes whenever any entry does.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The entries as stored for the other replicas (see [`from_stored`](Self::from_stored)):
    /// each its local year (a flag, then 4 bytes), its legacy type and its JSON (each a 4-byte
    /// length, then the bytes), little-endian.
    pub fn to_stored(&self) -> Vec<u8> {
        let size: usize = self
            .entries
            .iter()
            .map(|e| 13 + e.kind.len() + e.json.len())
            .sum();
        let mut out = Vec::with_capacity(size);
        for entry in &self.entries {
            out.push(u8::from(entry.year.is_some()));
            out.extend_from_slice(&entry.year.unwrap_or_default().to_le_bytes());
            for part in [entry.kind.as_bytes(), &entry.json[..]] {
                // a part is an activity's type or JSON: far below 4 GiB
                out.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_le_bytes());
                out.extend_from_slice(part);
            }
        }
        out
    }

    /// The list [`to_stored`](Self::to_stored) wrote, with its `version`; `None` when the bytes
    /// are not such a list. Each activity's JSON is a slice of `stored`, not a copy.
    pub fn from_stored(version: String, stored: Bytes) -> Option<Self> {
        fn take(stored: &Bytes, at: &mut usize, n: usize) -> Option<Bytes> {
            let end = at.checked_add(n).filter(|end| *end <= stored.len())?;
            let part = stored.slice(*at..end);
            *at = end;
            Some(part)
        }
        fn part(stored: &Bytes, at: &mut usize) -> Option<Bytes> {
            let len = u32::from_le_bytes(take(stored, at, 4)?[..].try_into().ok()?);
            take(stored, at, usize::try_from(len).ok()?)
        }
        let mut at = 0;
        let mut entries = Vec::new();
        while at < stored.len() {
            let known = take(&stored, &mut at, 1)?[0] == 1;
            let year = i32::from_le_bytes(take(&stored, &mut at, 4)?[..].try_into().ok()?);
            let kind = std::str::from_utf8(&part(&stored, &mut at)?)
                .ok()?
                .to_owned();
            let json = part(&stored, &mut at)?;
            entries.push(ListEntry {
                year: known.then_some(year),
                kind,
                json,
            });
        }
        Some(Self { entries, version })
    }

    /// The body for `query` when nothing matches it (a sport Strava has not): the same bytes
    /// whatever the list holds.
    pub fn empty_page(query: &ListQuery) -> Bytes {
        let mut body = page_head(0, query);
        body.extend_from_slice(b"]}");
        body.into()
    }

    /// The body for `query` and its ETag.
    pub fn page(&self, query: &ListQuery) -> (Bytes, String) {
        let matching: Vec<&ListEntry> = self
            .entries
            .iter()
            .filter(|e| query.year.is_none_or(|y| e.year == Some(y)))
            .filter(|e| query.kind.as_deref().is_none_or(|k| e.kind == k))
            .collect();
        let page = matching.iter().skip(query.offset).take(query.limit);
        let mut body = page_head(matching.len(), query);
        for (i, entry) in page.enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&entry.json);
        }
        body.extend_from_slice(b"]}");
        let etag = {
            use sha2::{Digest, Sha256};
            let digest = Sha256::new()
                .chain_update(&self.version)
                .chain_update(format!("{query:?}"))
                .finalize();
            let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
            format!("\"{hex}\"")
        };
        (Bytes::from(body), etag)
    }
}

/// Sorts the activities `visibility` admits newest first, leaving out absurd ones (see
/// [`absurdity`]): every public body derives from this list.
pub fn public_newest_first(
    activities: &[Activity],
    visibility: PublicVisibility,
) -> Vec<&Activity> {
    let mut public: Vec<&Activity> = activities
        .iter()
        .filter(|a| visibility.admits(a) && absurdity(a).is_none())
        .collect();
    public.sort_by(|a, b| {
        b.start_date
            .cmp(&a.start_date)
            .then_with(|| b.id.cmp(&a.id))
    });
    public
}

/// Cache keys of the bodies computed here.
pub mod keys {
    pub const YTD: &str = "stats/ytd";
    pub const RECENT: &str = "stats/activities";
    pub const MONTHLY: &str = "stats/monthly";

    /// The monthly body for one legacy type.
    pub fn monthly_of(kind: &str) -> String {
        format!("{MONTHLY}?type={kind}")
    }

    /// Zero-filled months, served for a type the athlete never did.
    pub const MONTHLY_NONE: &str = "stats/monthly?type=";
    pub const TOTALS: &str = "stats/totals";
    pub const YEARLY: &str = "stats/yearly";

    pub fn summary_of(year: i32) -> String {
        format!("stats/summary/{year}")
    }

    pub fn longest_run_of(year: i32) -> String {
        format!("stats/longest-run?year={year}")
    }

    pub fn longest_ride_of(year: i32) -> String {
        format!("stats/longest-ride?year={year}")
    }

    pub const WEEKLY: &str = "stats/weekly";

    /// The weekly body for one legacy type.
    pub fn weekly_of(kind: &str) -> String {
        format!("{WEEKLY}?type={kind}")
    }

    /// Zero-filled weeks, served for a type the athlete never did.
    pub const WEEKLY_NONE: &str = "stats/weekly?type=";

    /// The calendar of one local year, of one legacy type or all.
    pub fn calendar_of(year: i32, kind: Option<&str>) -> String {
        match kind {
            Some(kind) => format!("stats/calendar?year={year}&type={kind}"),
            None => format!("stats/calendar?year={year}"),
        }
    }

    pub const STREAKS: &str = "stats/streaks";

    /// The streaks of one legacy type.
    pub fn streaks_of(kind: &str) -> String {
        format!("{STREAKS}?type={kind}")
    }

    /// No streaks at all, served for a type the athlete never did.
    pub const STREAKS_NONE: &str = "stats/streaks?type=";
    pub const EDDINGTON: &str = "stats/eddington";
}

/// Every activity-derived body, keyed as the cache keeps them. `activities` may hold any
/// visibility; only what `visibility` admits is used. `memo` holds the calendars the last
/// derivation wrote, and the ones this one writes.
pub fn activity_bodies(
    activities: &[Activity],
    visibility: PublicVisibility,
    now: DateTime<Utc>,
    fetched_at: DateTime<Utc>,
    memo: &mut CalendarMemo,
) -> Vec<(String, Bytes)> {
    let public = public_newest_first(activities, visibility);
    let today = athlete_now(now, public.first().copied()).date();

    let mut kinds: Vec<&str> = public.iter().map(|a| a.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();

    let mut bodies = vec![
        (keys::RECENT.to_owned(), recent(&public, fetched_at)),
        (
            keys::MONTHLY.to_owned(),
            monthly(&public, today, None, fetched_at),
        ),
        (
            keys::MONTHLY_NONE.to_owned(),
            monthly(&[], today, None, fetched_at),
        ),
    ];
    let kinds: Vec<&str> = kinds.into_iter().filter(|k| !k.is_empty()).collect();
    for &k in &kinds {
        bodies.push((
            keys::monthly_of(k),
            monthly(&public, today, Some(k), fetched_at),
        ));
    }
    let dated = dated(&public);
    bodies.push((
        keys::WEEKLY.to_owned(),
        weekly(&dated, today, None, fetched_at),
    ));
    bodies.push((
        keys::WEEKLY_NONE.to_owned(),
        weekly(&[], today, None, fetched_at),
    ));
    bodies.push((
        keys::STREAKS.to_owned(),
        streaks(&dated, today, None, fetched_at),
    ));
    bodies.push((
        keys::STREAKS_NONE.to_owned(),
        streaks(&[], today, None, fetched_at),
    ));
    for &k in &kinds {
        bodies.push((
            keys::weekly_of(k),
            weekly(&dated, today, Some(k), fetched_at),
        ));
        bodies.push((
            keys::streaks_of(k),
            streaks(&dated, today, Some(k), fetched_at),
        ));
    }
    bodies.push((keys::EDDINGTON.to_owned(), eddington(&dated, fetched_at)));
    bodies.extend(
        calendars(&dated, fetched_at, memo)
            .into_iter()
            .map(|(year, kind, body)| (keys::calendar_of(year, kind.as_deref()), body)),
    );
    bodies.push((keys::TOTALS.to_owned(), totals(&public, fetched_at)));
    bodies.push((keys::YEARLY.to_owned(), yearly(&public, fetched_at)));
    bodies.extend(
        summaries(&public, fetched_at)
            .into_iter()
            .map(|(year, body)| (keys::summary_of(year), body)),
    );
    bodies.extend(
        longest(&public, &RUN_FAMILY)
            .into_iter()
            .map(|(year, body)| (keys::longest_run_of(year), body)),
    );
    bodies.extend(
        longest(&public, &RIDE_FAMILY)
            .into_iter()
            .map(|(year, body)| (keys::longest_ride_of(year), body)),
    );
    bodies
}

#[cfg(test)]
mod tests {
    use super::fixture::activity;
    use super::*;
    use crate::strava::models::Totals;
    use chrono::TimeZone;

    #[test]
    fn local_starts_read_by_position_agree_with_chrono() {
        for text in [
            "2025-10-05T07:30:00Z",
            "2024-02-29T23:59:59Z",
            "2023-02-29T10:00:00Z",
            "2025-12-31T24:00:00Z",
            "2025-06-30T12:00:60Z",
            "0001-01-01T00:00:00Z",
            "2025-1-05T07:30:00ZZ",
            "2025-10-05 07:30:00Z",
            "+2025-10-05T07:30:0Z",
            "2025-10-05T07:30",
            "",
        ] {
            let a = activity(1, "Run", text, 1.0);
            let chrono = text
                .get(..19)
                .and_then(|t| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S").ok());
            assert_eq!(local_start(&a), chrono, "{text:?}");
        }
    }
    use serde_json::{Value, json};

    fn json_of(bytes: &Bytes) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    fn noon(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
    }

    #[test]
    fn ytd_has_the_old_shape_with_int_times_and_float_distances() {
        let stats: ActivityStats = serde_json::from_value(json!({
            "ytd_run_totals": {"count": 2, "distance": 1000, "moving_time": 474287.0, "elevation_gain": 5},
        }))
        .unwrap();
        let body = ytd(&stats, noon(2025, 12, 25));
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            r#"{"type":"ytd","data":{"run":{"count":2,"distance":1000.0,"moving_time":474287,"elevation_gain":5.0},"ride":{"count":0,"distance":0.0,"moving_time":0,"elevation_gain":0.0},"swim":{"count":0,"distance":0.0,"moving_time":0,"elevation_gain":0.0}},"fetched_at":"2025-12-25T12:00:00+00:00"}"#
        );
    }

    #[test]
    fn monthly_has_twelve_zero_filled_local_months_newest_first() {
        let acts = [
            activity(1, "Run", "2025-12-31T23:50:00Z", 1000.0),
            activity(2, "Ride", "2026-01-01T00:10:00Z", 2000.0),
            activity(3, "Run", "2025-01-31T23:59:59Z", 4000.0),
            activity(4, "Run", "2024-12-31T10:00:00Z", 8000.0),
        ];
        let refs: Vec<&Activity> = acts.iter().collect();
        let today = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
        let raw = monthly(&refs, today, None, noon(2026, 1, 15));
        let body = json_of(&raw);
        let data = body["data"].as_object().unwrap();
        assert_eq!(data.len(), 12);
        let text = std::str::from_utf8(&raw).unwrap();
        assert!(
            text.starts_with(r#"{"type":"monthly","data":{"2026-01":"#),
            "{text}"
        );
        let (newer, older) = (text.find("2025-03").unwrap(), text.find("2025-02").unwrap());
        assert!(newer < older, "newest first: {text}");
        assert!(
            !text.contains("2025-01"),
            "12 months end at 2025-02: {text}"
        );
        assert_eq!(data["2026-01"]["distance"], json!(2000.0));
        assert_eq!(data["2025-12"]["distance"], json!(1000.0));
        assert_eq!(data["2025-06"]["count"], json!(0));

        let runs = json_of(&monthly(&refs, today, Some("Run"), noon(2026, 1, 15)));
        assert_eq!(runs["data"]["2026-01"]["count"], json!(0));
        assert_eq!(runs["data"]["2025-12"]["count"], json!(1));
    }

    #[test]
    fn months_follow_local_time_not_utc() {
        // 23:30 local on Dec 31 in New York is already Jan 1 in UTC
        let mut a = activity(1, "Run", "2025-12-31T23:30:00Z", 1000.0);
        a.start_date = "2026-01-01T04:30:00Z".into();
        let refs = [&a];
        let body = json_of(&monthly(
            &refs,
            NaiveDate::from_ymd_opt(2026, 1, 2).unwrap(),
            None,
            noon(2026, 1, 2),
        ));
        assert_eq!(body["data"]["2025-12"]["count"], json!(1));
        assert_eq!(body["data"]["2026-01"]["count"], json!(0));
    }

    #[test]
    fn east_of_utc_new_year_and_month_ends_follow_local_time_too() {
        // 00:30 on Jan 1 in Tokyo is still Dec 31 in UTC; 23:59 on Apr 30 local stays April
        let mut new_year = activity(1, "Ride", "2026-01-01T00:30:00Z", 1000.0);
        new_year.start_date = "2025-12-31T15:30:00Z".into();
        new_year.utc_offset = 32_400.0;
        let mut month_end = activity(2, "Ride", "2025-04-30T23:59:00Z", 2000.0);
        month_end.start_date = "2025-04-30T14:59:00Z".into();
        let refs = [&new_year, &month_end];
        let body = json_of(&monthly(
            &refs,
            NaiveDate::from_ymd_opt(2026, 1, 2).unwrap(),
            None,
            noon(2026, 1, 2),
        ));
        assert_eq!(body["data"]["2026-01"]["count"], json!(1));
        assert_eq!(body["data"]["2025-12"]["count"], json!(0));
        assert_eq!(body["data"]["2025-04"]["count"], json!(1));
        let years = json_of(&yearly(&refs, noon(2026, 1, 2)));
        assert_eq!(years["data"]["2026"]["Ride"]["count"], json!(1));
        assert_eq!(years["data"]["2025"]["Ride"]["distance"], json!(2000.0));
    }

    #[test]
    fn recent_lists_only_public_activities_newest_first_in_the_old_shape() {
        let mut hidden = activity(3, "Run", "2025-10-03T08:00:00Z", 1.0);
        hidden.visibility = "followers_only".into();
        let mut private = activity(4, "Run", "2025-10-04T08:00:00Z", 1.0);
        private.visibility = "only_me".into();
        private.private = true;
        let acts = vec![
            activity(1, "Run", "2025-10-01T08:00:00Z", 1.0),
            activity(2, "Ride", "2025-10-02T08:00:00Z", 1.0),
            hidden,
            private,
        ];
        let bodies = activity_bodies(
            &acts,
            PublicVisibility::Everyone,
            noon(2025, 10, 5),
            noon(2025, 10, 5),
            &mut CalendarMemo::default(),
        );
        let recent = &bodies.iter().find(|(k, _)| k == keys::RECENT).unwrap().1;
        let body = json_of(recent);
        let ids: Vec<i64> = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, vec![2, 1]);
        let keys: Vec<&String> = body["data"][0].as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 9);
        assert_eq!(body["type"], json!("recent_activities"));

        let widened = activity_bodies(
            &acts,
            PublicVisibility::FollowersOnly,
            noon(2025, 10, 5),
            noon(2025, 10, 5),
            &mut CalendarMemo::default(),
        );
        let recent = json_of(&widened.iter().find(|(k, _)| k == keys::RECENT).unwrap().1);
        assert_eq!(recent["data"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn recent_keeps_thirty() {
        let acts: Vec<Activity> = (0..40)
            .map(|i| {
                activity(
                    i,
                    "Run",
                    &format!("2025-10-{:02}T08:00:00Z", i % 28 + 1),
                    1.0,
                )
            })
            .collect();
        let refs: Vec<&Activity> = acts.iter().collect();
        let body = json_of(&recent(&refs, noon(2025, 11, 1)));
        assert_eq!(body["data"].as_array().unwrap().len(), RECENT_COUNT);
    }

    #[test]
    fn per_type_monthly_bodies_exist_for_each_public_type() {
        let acts = vec![
            activity(1, "Run", "2025-10-01T08:00:00Z", 1.0),
            activity(2, "Swim", "2025-10-02T08:00:00Z", 1.0),
        ];
        let bodies = activity_bodies(
            &acts,
            PublicVisibility::Everyone,
            noon(2025, 10, 5),
            noon(2025, 10, 5),
            &mut CalendarMemo::default(),
        );
        let names: Vec<&str> = bodies.iter().map(|(k, _)| k.as_str()).collect();
        assert!(names.contains(&"stats/monthly?type=Run"));
        assert!(names.contains(&"stats/monthly?type=Swim"));
        assert!(names.contains(&keys::MONTHLY_NONE));
    }

    #[test]
    fn the_longest_ties_go_to_the_earliest_and_families_are_respected() {
        let acts = [
            activity(1, "Run", "2025-03-01T08:00:00Z", 10_000.0),
            activity(2, "Run", "2025-02-01T08:00:00Z", 10_000.0),
            activity(3, "Ride", "2025-04-01T08:00:00Z", 90_000.0),
            activity(4, "Run", "2024-12-31T23:30:00Z", 42_195.0),
        ];
        let refs: Vec<&Activity> = acts.iter().collect();
        let runs = longest(&refs, &RUN_FAMILY);
        let by_year: Vec<(i32, i64)> = runs
            .iter()
            .map(|(y, b)| (*y, json_of(b)["id"].as_i64().unwrap()))
            .collect();
        assert_eq!(by_year, vec![(2024, 4), (2025, 2)]);
        let rides = longest(&refs, &RIDE_FAMILY);
        assert_eq!(rides.len(), 1);
    }

    #[test]
    fn heart_rate_is_null_when_the_athlete_opted_out() {
        let mut a = activity(1, "Run", "2025-03-01T08:00:00Z", 1.0);
        a.average_heartrate = Some(150.0);
        a.max_heartrate = Some(170.0);
        assert_eq!(
            json_of(&activity_json(&a))["heart_rate"],
            json!({"average": 150.0, "max": 170.0})
        );
        a.heartrate_opt_out = true;
        assert_eq!(
            json_of(&activity_json(&a))["heart_rate"],
            json!({"average": null, "max": null})
        );
    }

    #[test]
    fn yearly_lists_newest_years_first_by_legacy_type() {
        let acts = [
            activity(1, "Run", "2023-06-01T08:00:00Z", 1.0),
            activity(2, "Ride", "2025-06-01T08:00:00Z", 2.0),
            activity(3, "Run", "2025-01-01T00:05:00Z", 4.0),
        ];
        let refs: Vec<&Activity> = acts.iter().collect();
        let raw = yearly(&refs, noon(2025, 7, 1));
        let text = std::str::from_utf8(&raw).unwrap();
        assert!(
            text.find("\"2025\"").unwrap() < text.find("\"2023\"").unwrap(),
            "{text}"
        );
        let body = json_of(&raw);
        assert_eq!(body["type"], json!("yearly_stats"));
        assert_eq!(body["data"]["2025"]["Run"]["distance"], json!(4.0));
        assert_eq!(body["data"]["2025"]["Ride"]["count"], json!(1));
        assert!(body["data"].get("2024").is_none());
    }

    #[test]
    fn a_page_of_the_list_is_the_concatenation_of_pre_serialized_activities() {
        let acts = [
            activity(3, "Run", "2025-06-03T08:00:00Z", 1.0),
            activity(2, "Ride", "2025-06-02T08:00:00Z", 1.0),
            activity(1, "Run", "2024-06-01T08:00:00Z", 1.0),
        ];
        let refs: Vec<&Activity> = acts.iter().collect();
        let list = ActivityList::new(&refs);
        let query = ListQuery {
            limit: 1,
            offset: 1,
            year: None,
            kind: Some("Run".into()),
        };
        let (body, etag) = list.page(&query);
        let body = json_of(&body);
        assert_eq!(body["total"], json!(2));
        assert_eq!(body["data"][0]["id"], json!(1));
        let (_, other) = list.page(&ListQuery {
            kind: Some("Ride".into()),
            ..query
        });
        assert_ne!(etag, other);
    }

    #[test]
    fn the_stored_list_serves_the_same_pages() {
        // a local start that does not read: no year
        let undated = activity(4, "Ride", "2025-13-04T08:00:00Z", 1.0);
        let acts = [
            undated,
            activity(3, "Run", "2025-06-03T08:00:00Z", 1.0),
            activity(2, "Ride", "2025-06-02T08:00:00Z", 1.0),
            activity(1, "Run", "2024-06-01T08:00:00Z", 1.0),
        ];
        let refs: Vec<&Activity> = acts.iter().collect();
        let list = ActivityList::new(&refs);
        let stored = list.to_stored();
        let stored = Bytes::from(stored);
        let back = ActivityList::from_stored(list.version().to_owned(), stored.clone()).unwrap();
        for query in [
            ListQuery {
                limit: 100,
                ..ListQuery::default()
            },
            ListQuery {
                limit: 1,
                offset: 1,
                year: Some(2025),
                kind: Some("Run".into()),
            },
            ListQuery {
                limit: 10,
                year: Some(2024),
                ..ListQuery::default()
            },
        ] {
            assert_eq!(back.page(&query), list.page(&query), "{query:?}");
        }
        assert_eq!(back.entries.iter().filter(|e| e.year.is_none()).count(), 1);
        // cut anywhere, it is not a list
        for cut in [1, 5, 9, stored.len() - 1] {
            assert!(
                ActivityList::from_stored(String::new(), stored.slice(..cut)).is_none(),
                "{cut}"
            );
        }
        assert_eq!(
            ActivityList::from_stored("v".into(), Bytes::new()).map(|l| l.entries.len()),
            Some(0)
        );
    }

    #[test]
    fn the_empty_page_is_the_page_of_a_sport_without_activities() {
        let acts = [
            activity(2, "Ride", "2025-06-02T08:00:00Z", 1.0),
            activity(1, "Run", "2024-06-01T08:00:00Z", 1.0),
        ];
        let refs: Vec<&Activity> = acts.iter().collect();
        let list = ActivityList::new(&refs);
        let query = ListQuery {
            limit: 7,
            offset: 30,
            year: Some(2025),
            kind: Some("Kitesurf".into()),
        };
        let (body, _) = list.page(&query);
        assert_eq!(ActivityList::empty_page(&query), body);
        assert_eq!(&body[..], br#"{"total":0,"limit":7,"offset":30,"data":[]}"#);
    }

    fn bodies_of(
        acts: &[Activity],
        now: DateTime<Utc>,
    ) -> std::collections::HashMap<String, Value> {
        activity_bodies(
            acts,
            PublicVisibility::Everyone,
            now,
            now,
            &mut CalendarMemo::default(),
        )
        .into_iter()
        .map(|(k, b)| (k, json_of(&b)))
        .collect()
    }

    #[test]
    fn absurd_values_are_left_out_and_the_sane_ones_counted() {
        let mut offset = activity(1, "Run", "2025-10-20T08:00:00Z", 1_000.0);
        offset.utc_offset = 1e12;
        let mut huge =
            [2, 3].map(|id| activity(id, "Run", &format!("2025-10-1{id}T08:00:00Z"), 1e308));
        let mut nan = activity(4, "Run", "2025-10-09T08:00:00Z", f64::NAN);
        nan.total_elevation_gain = f64::INFINITY;
        let mut long =
            [5, 6].map(|id| activity(id, "Ride", &format!("2025-10-0{id}T08:00:00Z"), 1.0));
        let mut garbage = activity(7, "Run", "2025-10-04T08:00:00Z", 1.0);
        garbage.start_date = "garbage".into();
        garbage.start_date_local = "garbage".into();
        let mut negative = activity(8, "Run", "2025-10-03T08:00:00Z", -5.0);
        negative.moving_time = -1;
        for a in &mut long {
            a.moving_time = i64::MAX;
        }
        huge[1].utc_offset = f64::NAN;
        let sane = [
            activity(10, "Run", "2025-10-02T08:00:00Z", 5_000.0),
            activity(11, "Ride", "2025-10-01T08:00:00Z", 20_000.0),
        ];
        let mut acts = vec![offset, nan, garbage, negative];
        acts.extend(huge);
        acts.extend(long);
        acts.extend(sane.iter().cloned());

        let mut absurd = absurd_activities(&acts);
        absurd.sort_unstable();
        let field = |why: &str| why.split(' ').next().unwrap_or_default().to_owned();
        let fields: Vec<(i64, String)> = absurd.iter().map(|(id, why)| (*id, field(why))).collect();
        assert_eq!(
            fields,
            [
                (1, "utc_offset"),
                (2, "distance"),
                (3, "utc_offset"),
                (4, "distance"),
                (5, "moving_time"),
                (6, "moving_time"),
                (7, "start_date"),
                (8, "distance"),
            ]
            .map(|(id, f)| (id, f.to_owned()))
        );

        let now = noon(2025, 10, 25);
        let bodies = bodies_of(&acts, now);
        // Exactly what the sane activities alone give.
        assert_eq!(bodies, bodies_of(&sane, now));
        let month = &bodies[keys::MONTHLY]["data"]["2025-10"];
        assert_eq!(
            *month,
            json!({"count": 2, "distance": 25_000.0, "moving_time": 1_200, "elevation_gain": 20.0})
        );
        let recent: Vec<i64> = bodies[keys::RECENT]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect();
        assert_eq!(recent, vec![10, 11]);
        assert_eq!(bodies[keys::TOTALS]["data"]["Run"]["count"], json!(1));

        let public = public_newest_first(&acts, PublicVisibility::Everyone);
        let (page, _) = ActivityList::new(&public).page(&ListQuery {
            limit: 100,
            ..ListQuery::default()
        });
        assert_eq!(json_of(&page)["total"], json!(2));
    }

    #[test]
    fn sums_saturate_instead_of_overflowing() {
        let mut sum = Summary::default();
        let mut a = activity(1, "Run", "2025-10-01T08:00:00Z", 1e308);
        a.moving_time = i64::MAX;
        a.total_elevation_gain = f64::MAX;
        sum.add(&a);
        sum.add(&a);
        assert_eq!(sum.moving_time, i64::MAX);
        assert_eq!(sum.distance, f64::MAX);
        assert_eq!(sum.elevation_gain, f64::MAX);
        let text = serde_json::to_string(&sum).unwrap();
        assert!(!text.contains("null"), "{text}");
    }

    #[test]
    fn local_time_never_panics_on_absurd_offsets_or_instants() {
        let now = noon(2025, 10, 1);
        assert_eq!(
            local_time(now, i64::MAX),
            now.naive_utc() + Duration::hours(18)
        );
        assert_eq!(
            local_time(now, i64::MIN),
            now.naive_utc() - Duration::hours(18)
        );
        let mut a = activity(1, "Run", "2025-10-01T08:00:00Z", 1.0);
        a.utc_offset = 1e12;
        assert_eq!(
            athlete_now(now, Some(&a)),
            now.naive_utc() + Duration::hours(18)
        );
        a.utc_offset = f64::NAN;
        assert_eq!(athlete_now(now, Some(&a)), now.naive_utc());
        // the end of the calendar: UTC rather than a panic
        assert_eq!(
            local_time(DateTime::<Utc>::MAX_UTC, 3_600),
            DateTime::<Utc>::MAX_UTC.naive_utc()
        );
    }

    #[test]
    fn non_finite_strava_totals_show_as_zero() {
        let totals = Totals {
            count: 1,
            distance: f64::INFINITY,
            moving_time: 10,
            elapsed_time: 10,
            elevation_gain: f64::NAN,
        };
        let sum = Summary::from(totals);
        assert_eq!((sum.distance, sum.elevation_gain), (0.0, 0.0));
    }

    #[test]
    fn sums_carry_no_float_noise() {
        let mut sum = Summary::default();
        for (i, distance) in [866_211.4, 0.1].into_iter().enumerate() {
            sum.add(&activity(i as i64, "Run", "2025-10-01T08:00:00Z", distance));
        }
        assert_eq!(
            serde_json::to_value(sum).unwrap()["distance"],
            json!(866_211.5)
        );
        let mut tenths = Summary::default();
        for i in 0..10_000 {
            let mut a = activity(i, "Run", "2025-10-01T08:00:00Z", 0.1);
            a.total_elevation_gain = 0.3;
            tenths.add(&a);
        }
        let text = serde_json::to_string(&tenths).unwrap();
        assert!(
            text.contains(r#""distance":1000.0"#) && text.contains(r#""elevation_gain":3000.0"#),
            "{text}"
        );
        let noisy = Totals {
            count: 3,
            distance: 842_150.700_000_000_1,
            moving_time: 10,
            elapsed_time: 10,
            elevation_gain: 0.1 + 0.2,
        };
        let text = serde_json::to_string(&Summary::from(noisy)).unwrap();
        assert!(
            text.contains(r#""distance":842150.7,"#) && text.contains(r#""elevation_gain":0.3}"#),
            "{text}"
        );
    }
}
