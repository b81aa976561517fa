//! Pure functions from activities (and Strava's athlete stats) to the exact JSON bodies milepost
//! serves. No I/O: bodies are computed once per data change and served pre-serialized.

use bytes::Bytes;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Utc};
use serde::{Serialize, Serializer};

use crate::strava::models::{Activity, ActivityStats, Totals};

/// How many activities `/stats/activities` shows.
pub const RECENT_COUNT: usize = 30;
/// How many months `/stats/monthly` shows, the current one included.
pub const MONTHS: u32 = 12;

/// Which Strava visibilities the public may see.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    #[default]
    Everyone,
    FollowersOnly,
    OnlyMe,
}

impl Visibility {
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

/// The athlete's wall-clock start time (`start_date_local` ends in `Z` but is local).
pub fn local_start(activity: &Activity) -> Option<NaiveDateTime> {
    let text = activity.start_date_local.get(..19)?;
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").ok()
}

/// The athlete's current local time, taking their offset from their newest activity.
pub fn athlete_now(now: DateTime<Utc>, newest: Option<&Activity>) -> NaiveDateTime {
    let offset = newest.map_or(0.0, |a| a.utc_offset);
    now.naive_utc() + Duration::seconds(offset as i64)
}

/// `"2025-12-25T12:00:00+00:00"`, as the old service wrote `fetched_at`.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

/// T in the API: totals of a group of activities.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Summary {
    pub count: i64,
    pub distance: f64,
    pub moving_time: i64,
    pub elevation_gain: f64,
}

impl Summary {
    fn add(&mut self, a: &Activity) {
        self.count += 1;
        self.distance += a.distance;
        self.moving_time += a.moving_time;
        self.elevation_gain += a.total_elevation_gain;
    }
}

impl From<Totals> for Summary {
    fn from(t: Totals) -> Self {
        Self {
            count: t.count,
            distance: t.distance,
            moving_time: t.moving_time,
            elevation_gain: t.elevation_gain,
        }
    }
}

/// A JSON object whose keys keep the order given (serde_json's map would sort them).
struct Ordered<K, V>(Vec<(K, V)>);

impl<K: Serialize, V: Serialize> Serialize for Ordered<K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

#[derive(Serialize)]
struct Envelope<'a, D: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    data: D,
    fetched_at: &'a str,
}

fn envelope<D: Serialize>(kind: &str, data: D, fetched_at: DateTime<Utc>) -> Bytes {
    let body = Envelope {
        kind,
        data,
        fetched_at: &timestamp(fetched_at),
    };
    // Serializing plain structs of numbers and strings cannot fail.
    Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
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
}

/// Every activity-derived body, keyed as the cache keeps them. `activities` may hold any
/// visibility; only what `visibility` admits is used.
pub fn activity_bodies(
    activities: &[Activity],
    visibility: Visibility,
    now: DateTime<Utc>,
    fetched_at: DateTime<Utc>,
) -> Vec<(String, Bytes)> {
    let mut public: Vec<&Activity> = activities.iter().filter(|a| visibility.admits(a)).collect();
    public.sort_by(|a, b| {
        b.start_date
            .cmp(&a.start_date)
            .then_with(|| b.id.cmp(&a.id))
    });
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
    bodies.extend(kinds.into_iter().filter(|k| !k.is_empty()).map(|k| {
        (
            keys::monthly_of(k),
            monthly(&public, today, Some(k), fetched_at),
        )
    }));
    bodies
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::{Value, json};

    fn activity(id: i64, kind: &str, local: &str, distance: f64) -> Activity {
        Activity {
            id,
            name: format!("Activity {id}"),
            kind: kind.into(),
            sport_type: kind.into(),
            distance,
            moving_time: 600,
            elapsed_time: 700,
            total_elevation_gain: 10.0,
            start_date: local.into(),
            start_date_local: local.into(),
            timezone: "(GMT+00:00) UTC".into(),
            utc_offset: 0.0,
            private: false,
            visibility: "everyone".into(),
            average_speed: 2.5,
            max_speed: 4.0,
            has_heartrate: false,
            average_heartrate: None,
            max_heartrate: None,
            heartrate_opt_out: false,
            kudos_count: 0,
        }
    }

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
            Visibility::Everyone,
            noon(2025, 10, 5),
            noon(2025, 10, 5),
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
            Visibility::FollowersOnly,
            noon(2025, 10, 5),
            noon(2025, 10, 5),
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
            Visibility::Everyone,
            noon(2025, 10, 5),
            noon(2025, 10, 5),
        );
        let names: Vec<&str> = bodies.iter().map(|(k, _)| k.as_str()).collect();
        assert!(names.contains(&"stats/monthly?type=Run"));
        assert!(names.contains(&"stats/monthly?type=Swim"));
        assert!(names.contains(&keys::MONTHLY_NONE));
    }
}
