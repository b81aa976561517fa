//! The simulated athlete's activity history: the [`SimActivity`] record, the two time zones the
//! athlete lives in (with their daylight-saving rules), and a deterministic generator that builds
//! years of realistic activities from a seed. Every day is generated from its own RNG keyed by
//! `(seed, day)`, so the history before today never changes when "today" moves on.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Who can see an activity on Strava.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Visibility {
    /// Public; the only visibility Strava counts in athlete stats.
    Everyone,
    /// Visible to followers; listed with `activity:read`.
    FollowersOnly,
    /// Private (`"private": true`); listed only with `activity:read_all`.
    OnlyMe,
}

impl Visibility {
    /// The API's spelling: `everyone`, `followers_only`, `only_me`.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Everyone => "everyone",
            Visibility::FollowersOnly => "followers_only",
            Visibility::OnlyMe => "only_me",
        }
    }

    /// The legacy `private` flag, true only for Only Me.
    pub fn is_private(self) -> bool {
        self == Visibility::OnlyMe
    }
}

/// One activity as the simulator stores it. Fields are public so tests can shape any case;
/// `average_speed`, `has_heartrate`, `private`, `start_date_local` and the map id are derived
/// when the activity is rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct SimActivity {
    /// Strava activity id; 0 means "let the simulator pick one" in [`super::Simulator::add_activity`].
    pub id: i64,
    pub name: String,
    /// Modern `sport_type`, e.g. `TrailRun`.
    pub sport_type: String,
    /// Legacy `type`, e.g. `Run` for a `TrailRun`.
    pub activity_type: String,
    /// Start instant (rendered as `start_date`, UTC with `Z`).
    pub start_date: DateTime<Utc>,
    /// Strava's zone label, e.g. `(GMT+01:00) Europe/Oslo`.
    pub timezone: String,
    /// Offset of local wall-clock time from UTC at the start, in seconds (DST included).
    pub utc_offset: i32,
    /// Metres.
    pub distance: f64,
    /// Seconds.
    pub moving_time: i64,
    /// Seconds.
    pub elapsed_time: i64,
    /// Metres.
    pub total_elevation_gain: f64,
    pub elev_high: f64,
    pub elev_low: f64,
    /// m/s.
    pub max_speed: f64,
    pub visibility: Visibility,
    pub workout_type: Option<i64>,
    pub trainer: bool,
    pub commute: bool,
    pub manual: bool,
    pub flagged: bool,
    pub gear_id: Option<String>,
    /// `[lat, lng]`; `None` renders as `[]` like an indoor activity.
    pub start_latlng: Option<[f64; 2]>,
    pub end_latlng: Option<[f64; 2]>,
    pub summary_polyline: String,
    /// Beats per minute; `None` means no heart-rate data (`has_heartrate: false`, fields absent).
    pub average_heartrate: Option<f64>,
    pub max_heartrate: Option<f64>,
    pub heartrate_opt_out: bool,
    /// Absent from the JSON when `None`, as Strava omits it without sensor data.
    pub average_cadence: Option<f64>,
    /// Absent from the JSON when `None`.
    pub average_temp: Option<i64>,
    pub achievement_count: i64,
    pub kudos_count: i64,
    pub comment_count: i64,
    pub athlete_count: i64,
    pub photo_count: i64,
    pub total_photo_count: i64,
    pub pr_count: i64,
    pub suffer_score: Option<f64>,
    pub upload_id: Option<i64>,
    pub external_id: Option<String>,
    /// Detailed-activity only.
    pub description: Option<String>,
    /// Detailed-activity only.
    pub calories: f64,
    /// Detailed-activity only.
    pub device_name: Option<String>,
    /// Fields rendered verbatim over the simulator's own, for values Strava's JSON may carry
    /// but this struct cannot hold (an offset of 10^12 s, a string where a number belongs).
    /// Only the JSON changes: the simulator's own stats still use the typed fields. Empty for
    /// every generated activity.
    pub raw_json: serde_json::Map<String, serde_json::Value>,
}

impl SimActivity {
    /// A plain public activity recorded in the athlete's home zone, without heart rate or GPS.
    /// The legacy `type` follows from `sport_type` as on Strava (`TrailRun` → `Run`, …), the name
    /// follows the time of day (`Morning Run`), and the id is 0 so the simulator assigns one.
    pub fn new(
        sport_type: &str,
        start_date: DateTime<Utc>,
        distance: f64,
        moving_time: i64,
    ) -> SimActivity {
        let utc_offset = Zone::Oslo.offset_at(start_date);
        let local = start_date.naive_utc() + Duration::seconds(i64::from(utc_offset));
        SimActivity {
            id: 0,
            name: default_name(local, sport_type),
            sport_type: sport_type.to_string(),
            activity_type: legacy_type(sport_type).to_string(),
            start_date,
            timezone: Zone::Oslo.label().to_string(),
            utc_offset,
            distance,
            moving_time,
            elapsed_time: moving_time,
            total_elevation_gain: 0.0,
            elev_high: 0.0,
            elev_low: 0.0,
            max_speed: 0.0,
            visibility: Visibility::Everyone,
            workout_type: None,
            trainer: false,
            commute: false,
            manual: false,
            flagged: false,
            gear_id: None,
            start_latlng: None,
            end_latlng: None,
            summary_polyline: String::new(),
            average_heartrate: None,
            max_heartrate: None,
            heartrate_opt_out: false,
            average_cadence: None,
            average_temp: None,
            achievement_count: 0,
            kudos_count: 0,
            comment_count: 0,
            athlete_count: 1,
            photo_count: 0,
            total_photo_count: 0,
            pr_count: 0,
            suffer_score: None,
            upload_id: None,
            external_id: None,
            description: None,
            calories: 0.0,
            device_name: None,
            raw_json: serde_json::Map::new(),
        }
    }

    /// Sets the id (otherwise the simulator assigns one when the activity is added).
    pub fn with_id(mut self, id: i64) -> SimActivity {
        self.id = id;
        self
    }

    pub fn with_name(mut self, name: &str) -> SimActivity {
        self.name = name.to_string();
        self
    }

    pub fn with_visibility(mut self, visibility: Visibility) -> SimActivity {
        self.visibility = visibility;
        self
    }

    /// Records the activity in another zone: `timezone` is Strava's label, `utc_offset` seconds.
    pub fn with_timezone(mut self, timezone: &str, utc_offset: i32) -> SimActivity {
        self.timezone = timezone.to_string();
        self.utc_offset = utc_offset;
        self
    }

    pub fn with_heartrate(mut self, average: f64, max: f64) -> SimActivity {
        self.average_heartrate = Some(average);
        self.max_heartrate = Some(max);
        self
    }

    pub fn with_elevation_gain(mut self, metres: f64) -> SimActivity {
        self.total_elevation_gain = metres;
        self.elev_high = self.elev_low + metres;
        self
    }

    /// Renders `value` as the JSON field `key` in place of the simulator's own (see `raw_json`).
    pub fn with_raw_json(mut self, key: &str, value: serde_json::Value) -> SimActivity {
        self.raw_json.insert(key.to_string(), value);
        self
    }

    pub fn with_elapsed_time(mut self, seconds: i64) -> SimActivity {
        self.elapsed_time = seconds;
        self
    }

    /// Wall-clock start time, the naive value behind `start_date_local`.
    pub fn start_date_local(&self) -> NaiveDateTime {
        self.start_date.naive_utc() + Duration::seconds(i64::from(self.utc_offset))
    }

    /// `distance / moving_time`, rounded like Strava to millimetres per second.
    pub fn average_speed(&self) -> f64 {
        if self.moving_time > 0 {
            round_to(self.distance / self.moving_time as f64, 3)
        } else {
            0.0
        }
    }

    /// True when the activity carries heart-rate data.
    pub fn has_heartrate(&self) -> bool {
        self.average_heartrate.is_some()
    }
}

/// Strava's legacy `type` for a `sport_type`; sport types newer than the legacy list map to the
/// legacy type they replaced, anything unknown maps to itself.
pub fn legacy_type(sport_type: &str) -> &str {
    match sport_type {
        "TrailRun" => "Run",
        "GravelRide" | "MountainBikeRide" => "Ride",
        "EMountainBikeRide" => "EBikeRide",
        "VirtualRow" => "Rowing",
        other => other,
    }
}

/// The activity families Strava's athlete stats total separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Run,
    Ride,
    Swim,
}

/// Which stats family a `sport_type` belongs to, if any.
pub(crate) fn family(sport_type: &str) -> Option<Family> {
    match sport_type {
        "Run" | "TrailRun" | "VirtualRun" => Some(Family::Run),
        "Ride" | "GravelRide" | "MountainBikeRide" | "EBikeRide" | "EMountainBikeRide"
        | "VirtualRide" | "Velomobile" | "Handcycle" => Some(Family::Ride),
        "Swim" => Some(Family::Swim),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Time zones

/// The two zones the athlete records in: home, and the city of the occasional trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Zone {
    Oslo,
    NewYork,
}

impl Zone {
    /// Strava's label, which always shows the standard offset whatever the season.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Zone::Oslo => "(GMT+01:00) Europe/Oslo",
            Zone::NewYork => "(GMT-05:00) America/New_York",
        }
    }

    /// Offset from UTC in seconds at `instant`: EU rule (last Sunday of March to last Sunday of
    /// October, 01:00 UTC) for Oslo, US rule (second Sunday of March 2:00 to first Sunday of
    /// November 2:00 local) for New York.
    pub(crate) fn offset_at(self, instant: DateTime<Utc>) -> i32 {
        let year = instant.year();
        match self {
            Zone::Oslo => {
                let start = utc_at(nth_sunday(year, 3, Nth::Last), 1);
                let end = utc_at(nth_sunday(year, 10, Nth::Last), 1);
                if instant >= start && instant < end {
                    7200
                } else {
                    3600
                }
            }
            Zone::NewYork => {
                let start = utc_at(nth_sunday(year, 3, Nth::Second), 7);
                let end = utc_at(nth_sunday(year, 11, Nth::First), 6);
                if instant >= start && instant < end {
                    -14400
                } else {
                    -18000
                }
            }
        }
    }

    /// The instant at which local wall-clock time `local` occurs (in a DST gap or overlap the
    /// answer is off by the hour, which no caller cares about).
    pub(crate) fn to_utc(self, local: NaiveDateTime) -> DateTime<Utc> {
        let standard = match self {
            Zone::Oslo => 3600,
            Zone::NewYork => -18000,
        };
        let guess = Utc.from_utc_datetime(&(local - Duration::seconds(standard)));
        let offset = self.offset_at(guess);
        Utc.from_utc_datetime(&(local - Duration::seconds(i64::from(offset))))
    }

    fn centre(self) -> [f64; 2] {
        match self {
            Zone::Oslo => [59.9275, 10.7310],
            Zone::NewYork => [40.7812, -73.9665],
        }
    }
}

/// The home zone's local wall-clock time at `instant`.
pub(crate) fn home_local(instant: DateTime<Utc>) -> NaiveDateTime {
    instant.naive_utc() + Duration::seconds(i64::from(Zone::Oslo.offset_at(instant)))
}

enum Nth {
    First,
    Second,
    Last,
}

fn nth_sunday(year: i32, month: u32, nth: Nth) -> NaiveDate {
    let first = NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(NaiveDate::MIN);
    let to_sunday = (7 - first.weekday().num_days_from_sunday()) % 7;
    let first_sunday = first + Duration::days(i64::from(to_sunday));
    match nth {
        Nth::First => first_sunday,
        Nth::Second => first_sunday + Duration::days(7),
        Nth::Last => {
            let mut d = first_sunday;
            while (d + Duration::days(7)).month() == month {
                d += Duration::days(7);
            }
            d
        }
    }
}

fn utc_at(date: NaiveDate, hour: u32) -> DateTime<Utc> {
    Utc.from_utc_datetime(
        &date.and_time(NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or(NaiveTime::MIN)),
    )
}

// ---------------------------------------------------------------------------------------------
// Generation

/// Activity ids grow with start time from this instant (2008-01-01), landing around 1.1e10 for
/// recent years like real ids.
const ID_EPOCH: i64 = 1_199_145_600;
const ID_BASE: i64 = 10_000_000_000;
const IDS_PER_SECOND: i64 = 4;

/// The id the generator gives an activity starting at `start` (before collision bumping).
pub(crate) fn id_for(start: DateTime<Utc>) -> i64 {
    ID_BASE + (start.timestamp() - ID_EPOCH).max(0) * IDS_PER_SECOND
}

/// Upload ids run ahead of activity ids, as they do on Strava.
pub(crate) fn upload_id_for(id: i64) -> i64 {
    id + 1_083_785_910
}

struct Sport {
    sport_type: &'static str,
    /// Relative frequency.
    weight: u32,
    /// Distance range in km (0 for stationary sports).
    km: (f64, f64),
    /// Average moving speed range, m/s.
    speed: (f64, f64),
    /// Duration range in minutes, used for stationary sports.
    minutes: (f64, f64),
    /// Climb range in metres per km.
    climb: (f64, f64),
    /// No GPS: virtual, pool or gym.
    indoor: bool,
    /// Heart-rate range of the average.
    hr: (f64, f64),
    cadence: (f64, f64),
    kcal_per_min: f64,
    label: &'static str,
    custom_names: &'static [&'static str],
}

#[rustfmt::skip]
const SPORTS: &[Sport] = &[
    Sport { sport_type: "Run", weight: 30, km: (5.0, 16.0), speed: (2.75, 3.55), minutes: (0.0, 0.0), climb: (4.0, 14.0), indoor: false, hr: (138.0, 162.0), cadence: (79.0, 89.0), kcal_per_min: 12.0, label: "Run", custom_names: &["Sognsvann rundt", "Intervaller på Bislett", "Easy shakeout", "Tempo ✓", "Frognerparken 5 × 1 km"] },
    Sport { sport_type: "TrailRun", weight: 6, km: (8.0, 24.0), speed: (2.0, 2.8), minutes: (0.0, 0.0), climb: (25.0, 55.0), indoor: false, hr: (140.0, 160.0), cadence: (76.0, 85.0), kcal_per_min: 13.0, label: "Trail Run", custom_names: &["Nordmarka på stier", "Vettakollen opp og ned", "Muddy Ullevålseter"] },
    Sport { sport_type: "VirtualRun", weight: 3, km: (5.0, 12.0), speed: (2.8, 3.4), minutes: (0.0, 0.0), climb: (0.0, 0.0), indoor: true, hr: (140.0, 158.0), cadence: (80.0, 88.0), kcal_per_min: 12.0, label: "Virtual Run", custom_names: &["Treadmill intervals", "Zwift Run: Watopia"] },
    Sport { sport_type: "Ride", weight: 14, km: (25.0, 95.0), speed: (6.6, 8.6), minutes: (0.0, 0.0), climb: (6.0, 13.0), indoor: false, hr: (125.0, 150.0), cadence: (78.0, 92.0), kcal_per_min: 10.0, label: "Ride", custom_names: &["Tryvann climb", "Rundt Bærum", "Coffee ride ☕", "Sunday long ride"] },
    Sport { sport_type: "GravelRide", weight: 5, km: (30.0, 85.0), speed: (5.6, 7.0), minutes: (0.0, 0.0), climb: (8.0, 16.0), indoor: false, hr: (125.0, 148.0), cadence: (75.0, 88.0), kcal_per_min: 10.0, label: "Gravel Ride", custom_names: &["Grus i Nordmarka", "Gravel grind"] },
    Sport { sport_type: "MountainBikeRide", weight: 4, km: (15.0, 42.0), speed: (3.9, 5.4), minutes: (0.0, 0.0), climb: (18.0, 34.0), indoor: false, hr: (132.0, 155.0), cadence: (70.0, 84.0), kcal_per_min: 11.0, label: "Mountain Bike Ride", custom_names: &["Singletrack i Sørkedalen", "Roots & rocks"] },
    Sport { sport_type: "EBikeRide", weight: 3, km: (8.0, 30.0), speed: (5.8, 7.2), minutes: (0.0, 0.0), climb: (5.0, 12.0), indoor: false, hr: (100.0, 122.0), cadence: (65.0, 80.0), kcal_per_min: 5.0, label: "E-Bike Ride", custom_names: &["Commute", "Errands by e-bike"] },
    Sport { sport_type: "VirtualRide", weight: 7, km: (20.0, 60.0), speed: (7.4, 9.4), minutes: (0.0, 0.0), climb: (3.0, 11.0), indoor: true, hr: (128.0, 152.0), cadence: (82.0, 94.0), kcal_per_min: 11.0, label: "Virtual Ride", custom_names: &["Zwift - Tempus Fugit in Watopia", "Zwift - Group Ride: Tour of London", "Sweet spot 3 × 12"] },
    Sport { sport_type: "Swim", weight: 6, km: (1.0, 3.4), speed: (0.62, 0.86), minutes: (0.0, 0.0), climb: (0.0, 0.0), indoor: true, hr: (118.0, 142.0), cadence: (22.0, 30.0), kcal_per_min: 9.0, label: "Swim", custom_names: &["Tøyenbadet", "Drills + 10 × 100", "Open-water prep"] },
    Sport { sport_type: "Walk", weight: 8, km: (2.0, 8.0), speed: (1.2, 1.6), minutes: (0.0, 0.0), climb: (5.0, 15.0), indoor: false, hr: (92.0, 112.0), cadence: (52.0, 60.0), kcal_per_min: 5.0, label: "Walk", custom_names: &["Søndagstur", "Walk with the dog", "Lunsjtur"] },
    Sport { sport_type: "Hike", weight: 4, km: (7.0, 19.0), speed: (0.95, 1.3), minutes: (0.0, 0.0), climb: (40.0, 80.0), indoor: false, hr: (110.0, 134.0), cadence: (46.0, 55.0), kcal_per_min: 7.0, label: "Hike", custom_names: &["Kolsåstoppen", "Tur til Kikut", "Hike up Gaustatoppen ⛰"] },
    Sport { sport_type: "WeightTraining", weight: 5, km: (0.0, 0.0), speed: (0.0, 0.0), minutes: (30.0, 70.0), climb: (0.0, 0.0), indoor: true, hr: (95.0, 122.0), cadence: (0.0, 0.0), kcal_per_min: 6.0, label: "Weight Training", custom_names: &["Leg day", "Core & mobility"] },
    Sport { sport_type: "Yoga", weight: 3, km: (0.0, 0.0), speed: (0.0, 0.0), minutes: (30.0, 75.0), climb: (0.0, 0.0), indoor: true, hr: (72.0, 94.0), cadence: (0.0, 0.0), kcal_per_min: 3.5, label: "Yoga", custom_names: &["Morning flow", "Yin yoga"] },
];

const SHOES: &[&str] = &["g14402771", "g17731246", "g21148803"];

/// Everything generated, oldest first, with ids increasing with start time. Deterministic in
/// `(seed, history_years, now)`; activities of past days depend only on `seed` and their day.
/// Covers Jan 1 of (local year of `now` − `history_years`) up to `now` (activities that have
/// finished), and always leaves a public activity in the current local month.
pub(crate) fn generate_history(
    seed: u64,
    history_years: u32,
    now: DateTime<Utc>,
) -> Vec<SimActivity> {
    let today = home_local(now).date();
    let first_year = today.year() - i32::try_from(history_years).unwrap_or(0);
    let mut day = NaiveDate::from_ymd_opt(first_year, 1, 1).unwrap_or(today);

    let mut out = Vec::new();
    while day <= today {
        generate_day(seed, day, &mut out);
        day = match day.succ_opt() {
            Some(next) => next,
            None => break,
        };
    }
    out.retain(|a| a.start_date + Duration::seconds(a.elapsed_time) <= now);
    ensure_current_month(&mut out, now);

    out.sort_by_key(|a| a.start_date);
    let mut previous = 0;
    for a in &mut out {
        a.id = id_for(a.start_date).max(previous + 1);
        previous = a.id;
        a.upload_id = Some(upload_id_for(a.id));
        a.external_id = Some(format!("garmin_ping_{}", a.id * 27 + 1_234_567));
    }
    out
}

/// One RNG per (seed, day): the history of a day never depends on any other day.
fn day_rng(seed: u64, day: NaiveDate) -> StdRng {
    let day_number = u64::try_from(day.num_days_from_ce()).unwrap_or(0);
    StdRng::seed_from_u64(splitmix64(seed ^ splitmix64(day_number)))
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Where the athlete is on `day`: home, or New York during a trip. Trips are drawn per year:
/// one or two in spring to autumn, and every other New Year spent in New York (Dec 27 – Jan 2).
pub(crate) fn zone_on(seed: u64, day: NaiveDate) -> Zone {
    let in_trip = |year: i32| {
        trips(seed, year)
            .iter()
            .any(|(from, to)| *from <= day && day <= *to)
    };
    if in_trip(day.year()) || in_trip(day.year() - 1) {
        Zone::NewYork
    } else {
        Zone::Oslo
    }
}

fn trips(seed: u64, year: i32) -> Vec<(NaiveDate, NaiveDate)> {
    let year_key = u64::from(year.unsigned_abs());
    let mut rng = StdRng::seed_from_u64(splitmix64(seed ^ 0x7472_6970_7300_0000 ^ year_key));
    let mut out = Vec::new();
    let mut add = |from: Option<NaiveDate>, days: i64| {
        if let Some(from) = from {
            out.push((from, from + Duration::days(days - 1)));
        }
    };
    add(
        NaiveDate::from_yo_opt(year, rng.gen_range(60..=280)),
        rng.gen_range(4..=9),
    );
    if rng.gen_bool(0.4) {
        add(
            NaiveDate::from_yo_opt(year, rng.gen_range(100..=320)),
            rng.gen_range(3..=6),
        );
    }
    if (year_key ^ seed) & 1 == 0 {
        add(NaiveDate::from_ymd_opt(year, 12, 27), 7);
    }
    out
}

/// Start-time windows within a day, in minutes after local midnight.
const MORNING: (u32, u32) = (6 * 60, 8 * 60 + 30);
const LUNCH: (u32, u32) = (11 * 60 + 30, 12 * 60 + 45);
const EVENING: (u32, u32) = (17 * 60, 20 * 60 + 30);
const LATE: (u32, u32) = (23 * 60 + 15, 23 * 60 + 50);
const JUST_AFTER_MIDNIGHT: (u32, u32) = (2, 30);

fn generate_day(seed: u64, day: NaiveDate, out: &mut Vec<SimActivity>) {
    let mut rng = day_rng(seed, day);
    let zone = zone_on(seed, day);
    let is_last_of_month = day
        .succ_opt()
        .is_some_and(|next| next.month() != day.month());
    let is_new_years_eve = day.month() == 12 && day.day() == 31;
    let is_new_years_day = day.month() == 1 && day.day() == 1;

    let roll: f64 = rng.r#gen();
    let count = if roll < 0.42 {
        0
    } else if roll < 0.90 {
        1
    } else {
        2
    };
    let mut windows = [MORNING, LUNCH, EVENING];
    // Pick `count` distinct windows deterministically.
    for i in 0..count {
        let j = rng.gen_range(i..windows.len());
        windows.swap(i, j);
    }
    let mut planned: Vec<((u32, u32), bool)> =
        windows[..count].iter().map(|w| (*w, false)).collect();

    // Activities straddling local midnight make local-vs-UTC bucketing observable: always at the
    // turn of the year, sometimes at the turn of a month.
    let late_roll = rng.gen_bool(0.3);
    let early_roll = rng.gen_bool(0.3);
    if is_new_years_eve || (is_last_of_month && late_roll) {
        planned.push((LATE, is_new_years_eve));
    }
    if is_new_years_day || (day.day() == 1 && early_roll) {
        planned.push((JUST_AFTER_MIDNIGHT, is_new_years_day));
    }

    for (window, festive) in planned {
        let minute = rng.gen_range(window.0..=window.1);
        let second = rng.gen_range(0..60);
        let time =
            NaiveTime::from_hms_opt(minute / 60, minute % 60, second).unwrap_or(NaiveTime::MIN);
        let local = day.and_time(time);
        let sport = if festive || window == LATE || window == JUST_AFTER_MIDNIGHT {
            // Short runs are what people do around midnight.
            &SPORTS[0]
        } else {
            pick_sport(&mut rng)
        };
        let mut activity = build_activity(&mut rng, sport, zone, local, festive);
        if festive {
            activity.visibility = Visibility::Everyone;
            activity.name = if is_new_years_eve {
                "New Year's Eve run 🎆".into()
            } else {
                "Første tur i år".into()
            };
        }
        out.push(activity);
    }
}

fn pick_sport(rng: &mut StdRng) -> &'static Sport {
    let total: u32 = SPORTS.iter().map(|s| s.weight).sum();
    let mut pick = rng.gen_range(0..total);
    for sport in SPORTS {
        if pick < sport.weight {
            return sport;
        }
        pick -= sport.weight;
    }
    &SPORTS[0]
}

fn uniform(rng: &mut StdRng, (low, high): (f64, f64)) -> f64 {
    if high > low {
        rng.gen_range(low..high)
    } else {
        low
    }
}

pub(crate) fn round_to(x: f64, decimals: i32) -> f64 {
    let factor = 10f64.powi(decimals);
    (x * factor).round() / factor
}

fn build_activity(
    rng: &mut StdRng,
    sport: &Sport,
    zone: Zone,
    local: NaiveDateTime,
    short: bool,
) -> SimActivity {
    let start_date = zone.to_utc(local);
    let mut a = SimActivity::new(sport.sport_type, start_date, 0.0, 0);
    a.timezone = zone.label().to_string();
    a.utc_offset = zone.offset_at(start_date);

    let long = !short && rng.gen_bool(0.12);
    if sport.km.1 > 0.0 {
        let mut km = uniform(rng, sport.km);
        if long {
            km = sport.km.1 * uniform(rng, (1.0, 1.35));
        }
        if short {
            km = uniform(rng, (3.0, 5.0));
        }
        a.distance = round_to(km * 1000.0, 1);
        let speed = uniform(rng, sport.speed);
        a.moving_time = (a.distance / speed).round().max(1.0) as i64;
        a.total_elevation_gain = round_to(km * uniform(rng, sport.climb), 1);
        let burst = if sport.sport_type == "Swim" {
            (1.15, 1.5)
        } else {
            (1.3, 2.1)
        };
        a.max_speed = round_to(speed * uniform(rng, burst), 1);
        a.average_cadence = Some(round_to(uniform(rng, sport.cadence), 1));
    } else {
        a.moving_time = (uniform(rng, sport.minutes) * 60.0).round() as i64;
    }
    let pause = if sport.indoor {
        uniform(rng, (0.0, 0.02))
    } else {
        uniform(rng, (0.0, 0.09))
    };
    a.elapsed_time = a.moving_time + (a.moving_time as f64 * pause).round() as i64;

    if sport.indoor {
        a.trainer = matches!(sport.sport_type, "VirtualRun" | "VirtualRide");
    } else {
        let centre = zone.centre();
        let start = [
            round_to(centre[0] + uniform(rng, (-0.03, 0.03)), 6),
            round_to(centre[1] + uniform(rng, (-0.05, 0.05)), 6),
        ];
        let end = [
            round_to(start[0] + uniform(rng, (-0.002, 0.002)), 6),
            round_to(start[1] + uniform(rng, (-0.002, 0.002)), 6),
        ];
        a.summary_polyline = loop_polyline(rng, start, a.distance);
        a.start_latlng = Some(start);
        a.end_latlng = Some(end);
        let base = match zone {
            Zone::Oslo => uniform(rng, (5.0, 180.0)),
            Zone::NewYork => uniform(rng, (0.0, 35.0)),
        };
        a.elev_low = round_to(base, 1);
        a.elev_high = round_to(base + a.total_elevation_gain * uniform(rng, (0.2, 0.6)), 1);
        a.average_temp = Some(seasonal_temperature(rng, local.month()));
    }
    if sport.sport_type == "VirtualRide" {
        // Zwift worlds have altitude even though the rider stays home.
        a.elev_low = round_to(uniform(rng, (2.0, 40.0)), 1);
        a.elev_high = round_to(a.elev_low + a.total_elevation_gain * 0.4, 1);
    }

    if rng.gen_bool(0.82) {
        let average = round_to(uniform(rng, sport.hr), 1);
        a.average_heartrate = Some(average);
        a.max_heartrate = Some((average + uniform(rng, (12.0, 34.0))).round());
        a.heartrate_opt_out = rng.gen_bool(0.04);
        let intensity = (average - 60.0) / 100.0;
        a.suffer_score = Some((a.moving_time as f64 / 60.0 * intensity * intensity * 2.2).round());
    }

    let roll: f64 = rng.r#gen();
    a.visibility = if roll < 0.85 {
        Visibility::Everyone
    } else if roll < 0.95 {
        Visibility::FollowersOnly
    } else {
        Visibility::OnlyMe
    };

    a.workout_type = match family(sport.sport_type) {
        Some(Family::Run) => *pick(
            rng,
            &[
                None,
                None,
                None,
                None,
                Some(0),
                Some(0),
                Some(0),
                Some(2),
                Some(3),
                Some(1),
            ],
        ),
        Some(Family::Ride) => *pick(
            rng,
            &[None, None, None, Some(10), Some(10), Some(12), Some(11)],
        ),
        _ => None,
    };
    if matches!(sport.sport_type, "Ride" | "EBikeRide")
        && local.weekday().num_days_from_monday() < 5
        && rng.gen_bool(0.25)
    {
        a.commute = true;
    }
    a.gear_id = gear_for(rng, sport.sport_type);
    a.device_name = Some(device_for(sport.sport_type).to_string());
    a.calories = round_to(
        a.moving_time as f64 / 60.0 * sport.kcal_per_min * uniform(rng, (0.85, 1.15)),
        1,
    );

    let public = a.visibility == Visibility::Everyone;
    a.athlete_count = if rng.gen_bool(0.85) {
        1
    } else {
        rng.gen_range(2..=5)
    };
    a.kudos_count = match a.visibility {
        Visibility::Everyone => rng.gen_range(0..=24),
        Visibility::FollowersOnly => rng.gen_range(0..=8),
        Visibility::OnlyMe => 0,
    };
    a.comment_count = if a.kudos_count > 0 && rng.gen_bool(0.2) {
        rng.gen_range(1..=3)
    } else {
        0
    };
    if public && !sport.indoor {
        a.achievement_count = rng.gen_range(0..=12);
        a.pr_count = rng.gen_range(0..=a.achievement_count.min(4));
    }
    if !sport.indoor && rng.gen_bool(0.1) {
        a.total_photo_count = rng.gen_range(1..=4);
    }

    a.name = if rng.gen_bool(0.2) {
        (*pick(rng, sport.custom_names)).to_string()
    } else {
        default_name(local, sport.sport_type)
    };
    if rng.gen_bool(0.15) {
        a.description = Some(
            (*pick(
                rng,
                &[
                    "Felt good.",
                    "Windy out there 🌬️",
                    "Legs heavy after yesterday.",
                    "With the club.",
                ],
            ))
            .to_string(),
        );
    }
    a
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

fn seasonal_temperature(rng: &mut StdRng, month: u32) -> i64 {
    let mean = [
        -4.0, -4.0, 0.0, 5.0, 11.0, 15.0, 17.0, 16.0, 11.0, 6.0, 1.0, -3.0,
    ];
    let index = usize::try_from(month.saturating_sub(1))
        .unwrap_or(0)
        .min(11);
    (mean[index] + uniform(rng, (-4.0, 4.0))).round() as i64
}

fn gear_for(rng: &mut StdRng, sport_type: &str) -> Option<String> {
    let id = match sport_type {
        "Run" | "TrailRun" | "VirtualRun" | "Walk" | "Hike" => *pick(rng, SHOES),
        "Ride" | "VirtualRide" => "b11250394",
        "GravelRide" => "b12844015",
        "MountainBikeRide" => "b9183375",
        "EBikeRide" => "b13390727",
        _ => return None,
    };
    Some(id.to_string())
}

fn device_for(sport_type: &str) -> &'static str {
    match sport_type {
        "Ride" | "GravelRide" | "MountainBikeRide" | "EBikeRide" => "Garmin Edge 840",
        "VirtualRide" | "VirtualRun" => "Zwift",
        "WeightTraining" | "Yoga" => "Apple Watch Series 9",
        _ => "Garmin Forerunner 965",
    }
}

/// Strava's default name: time of day plus the sport (`Lunch Ride`, `Night Run`).
fn default_name(local: NaiveDateTime, sport_type: &str) -> String {
    use chrono::Timelike;
    let part = match local.hour() {
        0..=4 => "Night",
        5..=10 => "Morning",
        11..=13 => "Lunch",
        14..=17 => "Afternoon",
        18..=21 => "Evening",
        _ => "Night",
    };
    let label = SPORTS
        .iter()
        .find(|s| s.sport_type == sport_type)
        .map_or(sport_type, |s| s.label);
    format!("{part} {label}")
}

/// Guarantees that the current local month (and so the year) has a public activity, even on the
/// first morning of a month, by adding a short walk that finished by `now`.
fn ensure_current_month(out: &mut Vec<SimActivity>, now: DateTime<Utc>) {
    let local_now = home_local(now);
    let month = (local_now.year(), local_now.month());
    let present = out.iter().any(|a| {
        let l = a.start_date_local();
        a.visibility == Visibility::Everyone && (l.year(), l.month()) == month
    });
    if present {
        return;
    }
    let month_start = local_now
        .date()
        .with_day(1)
        .map(|d| Zone::Oslo.to_utc(d.and_time(NaiveTime::MIN)))
        .unwrap_or(now);
    let available = (now - month_start).num_seconds().max(2);
    let elapsed = (available / 2).clamp(1, 45 * 60);
    let start = now - Duration::seconds(elapsed);
    let mut walk = SimActivity::new("Walk", start, round_to(elapsed as f64 * 1.35, 1), elapsed);
    walk.device_name = Some(device_for("Walk").to_string());
    out.push(walk);
}

/// A small closed loop around `start`, encoded with Google's polyline algorithm like Strava's
/// `summary_polyline`. Its size grows with the distance; its shape comes from the day's RNG.
fn loop_polyline(rng: &mut StdRng, start: [f64; 2], distance: f64) -> String {
    const POINTS: usize = 16;
    let radius = (distance / 1000.0).clamp(0.5, 40.0) * 0.0015;
    let wobble = uniform(rng, (0.6, 1.4));
    let mut points = Vec::with_capacity(POINTS + 1);
    for i in 0..=POINTS {
        let angle = i as f64 / POINTS as f64 * std::f64::consts::TAU;
        let r = if i == 0 || i == POINTS {
            0.0
        } else {
            radius * (1.0 + 0.25 * (angle * 3.0).sin() * wobble)
        };
        points.push([
            start[0] + r * angle.sin(),
            start[1] + r * (1.0 - angle.cos()) * 1.8,
        ]);
    }
    encode_polyline(&points)
}

/// Google's encoded polyline format with 5 decimals, as Strava uses.
pub(crate) fn encode_polyline(points: &[[f64; 2]]) -> String {
    let mut out = String::new();
    let mut previous = [0i64, 0i64];
    for point in points {
        for (k, value) in point.iter().enumerate() {
            let scaled = (value * 1e5).round() as i64;
            let delta = scaled - previous[k];
            previous[k] = scaled;
            let mut v = if delta < 0 { !(delta << 1) } else { delta << 1 };
            while v >= 0x20 {
                out.push(char::from((((v & 0x1f) | 0x20) + 63) as u8));
                v >>= 5;
            }
            out.push(char::from((v + 63) as u8));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 20, 0, 0).unwrap()
    }

    #[test]
    fn same_seed_and_day_give_the_same_history() {
        assert_eq!(
            generate_history(42, 6, now()),
            generate_history(42, 6, now())
        );
        assert_ne!(
            generate_history(42, 6, now()),
            generate_history(43, 6, now())
        );
    }

    #[test]
    fn past_days_do_not_change_when_today_moves_on() {
        let today = generate_history(42, 6, now());
        let tomorrow = generate_history(42, 6, now() + Duration::days(1));
        let cutoff = now() - Duration::days(1);
        let old = |list: &[SimActivity]| {
            list.iter()
                .filter(|a| a.start_date < cutoff)
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(old(&today), old(&tomorrow));
    }

    #[test]
    fn history_is_multi_year_realistic_and_varied() {
        let started = std::time::Instant::now();
        let list = generate_history(42, 6, now());
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert!(
            (1400..=2100).contains(&list.len()),
            "{} activities",
            list.len()
        );

        let years: HashSet<i32> = list.iter().map(|a| a.start_date_local().year()).collect();
        assert_eq!(years, (2020..=2026).collect());

        let sports: HashSet<&str> = list.iter().map(|a| a.sport_type.as_str()).collect();
        for s in SPORTS {
            assert!(sports.contains(s.sport_type), "missing {}", s.sport_type);
        }
        let count = |v: Visibility| {
            list.iter().filter(|a| a.visibility == v).count() as f64 / list.len() as f64
        };
        assert!((0.80..0.90).contains(&count(Visibility::Everyone)));
        assert!((0.06..0.14).contains(&count(Visibility::FollowersOnly)));
        assert!((0.02..0.08).contains(&count(Visibility::OnlyMe)));
        assert!(list.iter().any(|a| !a.has_heartrate()));
        assert!(list.iter().any(|a| a.heartrate_opt_out));
        assert!(list.iter().any(|a| a.timezone.contains("New_York")));
        assert!(list.iter().all(|a| a.start_date <= now()));
        assert!(
            list.iter()
                .all(|a| a.activity_type == legacy_type(&a.sport_type))
        );
        assert!(
            list.iter()
                .filter(|a| a.sport_type == "Yoga")
                .all(|a| a.distance == 0.0)
        );
    }

    #[test]
    fn ids_are_unique_increasing_with_time_and_around_ten_to_the_ten() {
        let list = generate_history(42, 6, now());
        for pair in list.windows(2) {
            assert!(pair[0].id < pair[1].id);
            assert!(pair[0].start_date <= pair[1].start_date);
        }
        assert!(
            list.iter()
                .all(|a| (10_000_000_000..20_000_000_000).contains(&a.id))
        );
    }

    #[test]
    fn some_activities_fall_in_a_different_year_or_month_in_utc_than_locally() {
        let list = generate_history(42, 6, now());
        let year_differs = list
            .iter()
            .filter(|a| a.start_date_local().year() != a.start_date.year())
            .count();
        let month_differs = list
            .iter()
            .filter(|a| a.start_date_local().month() != a.start_date.month())
            .count();
        assert!(year_differs >= 6, "{year_differs}");
        assert!(month_differs > year_differs);
        // Both directions: east of UTC (local already next year) and west (UTC already next year).
        assert!(
            list.iter()
                .any(|a| a.start_date_local().year() > a.start_date.year())
        );
        assert!(
            list.iter()
                .any(|a| a.start_date_local().year() < a.start_date.year())
        );
    }

    #[test]
    fn current_month_is_never_empty_even_right_after_midnight() {
        let just_after = Zone::Oslo.to_utc(
            NaiveDate::from_ymd_opt(2027, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 5)
                .unwrap(),
        );
        let list = generate_history(42, 6, just_after);
        let last = list.last().unwrap();
        assert_eq!(last.start_date_local().year(), 2027);
        assert!(last.start_date + Duration::seconds(last.elapsed_time) <= just_after);
    }

    #[test]
    fn daylight_saving_follows_the_eu_and_us_rules() {
        let winter = Utc.with_ymd_and_hms(2025, 1, 15, 12, 0, 0).unwrap();
        let summer = Utc.with_ymd_and_hms(2025, 7, 15, 12, 0, 0).unwrap();
        assert_eq!(Zone::Oslo.offset_at(winter), 3600);
        assert_eq!(Zone::Oslo.offset_at(summer), 7200);
        assert_eq!(Zone::NewYork.offset_at(winter), -18000);
        assert_eq!(Zone::NewYork.offset_at(summer), -14400);
        // 2025: EU switches on Mar 30, the US on Mar 9.
        let between = Utc.with_ymd_and_hms(2025, 3, 20, 12, 0, 0).unwrap();
        assert_eq!(Zone::Oslo.offset_at(between), 3600);
        assert_eq!(Zone::NewYork.offset_at(between), -14400);
    }

    #[test]
    fn polyline_encoding_matches_googles_example() {
        let points = [[38.5, -120.2], [40.7, -120.95], [43.252, -126.453]];
        assert_eq!(encode_polyline(&points), "_p~iF~ps|U_ulLnnqC_mqNvxq`@");
    }
}
