//! How the simulator's records look on the wire: SummaryActivity, DetailedActivity, the detailed
//! and summary athlete, and Strava's `Fault` error bodies, key for key as in
//! `tests/fixtures/strava/*.json`. Activities serialize from structs so their keys keep Strava's order.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::generator::SimActivity;

const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// Strava's timestamp format, `2025-10-18T12:49:52Z`.
pub(crate) fn timestamp(t: DateTime<Utc>) -> String {
    t.format(TIME_FORMAT).to_string()
}

#[derive(Serialize)]
struct AthleteRef {
    id: i64,
    resource_state: u8,
}

#[derive(Serialize)]
struct MapJson<'a> {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    polyline: Option<&'a str>,
    summary_polyline: &'a str,
    resource_state: u8,
}

/// A SummaryActivity (`resource_state` 2), or the common part of a DetailedActivity.
#[derive(Serialize)]
pub(crate) struct SummaryJson<'a> {
    resource_state: u8,
    athlete: AthleteRef,
    name: &'a str,
    distance: f64,
    moving_time: i64,
    elapsed_time: i64,
    total_elevation_gain: f64,
    #[serde(rename = "type")]
    activity_type: &'a str,
    sport_type: &'a str,
    workout_type: Option<i64>,
    id: i64,
    start_date: String,
    start_date_local: String,
    timezone: &'a str,
    utc_offset: f64,
    location_city: Option<&'a str>,
    location_state: Option<&'a str>,
    location_country: Option<&'a str>,
    achievement_count: i64,
    kudos_count: i64,
    comment_count: i64,
    athlete_count: i64,
    photo_count: i64,
    map: MapJson<'a>,
    trainer: bool,
    commute: bool,
    manual: bool,
    private: bool,
    visibility: &'static str,
    flagged: bool,
    gear_id: Option<&'a str>,
    start_latlng: &'a [f64],
    end_latlng: &'a [f64],
    average_speed: f64,
    max_speed: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    average_cadence: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    average_temp: Option<i64>,
    has_heartrate: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    average_heartrate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_heartrate: Option<f64>,
    heartrate_opt_out: bool,
    display_hide_heartrate_option: bool,
    elev_high: f64,
    elev_low: f64,
    upload_id: Option<i64>,
    upload_id_str: Option<String>,
    external_id: Option<&'a str>,
    from_accepted_tag: bool,
    pr_count: i64,
    total_photo_count: i64,
    has_kudoed: bool,
    suffer_score: Option<f64>,
}

#[derive(Serialize)]
struct Photos {
    primary: Option<Value>,
    count: i64,
}

/// A DetailedActivity (`resource_state` 3): the summary plus what only `GET /activities/{id}` shows.
#[derive(Serialize)]
pub(crate) struct DetailedJson<'a> {
    #[serde(flatten)]
    summary: SummaryJson<'a>,
    description: Option<&'a str>,
    calories: f64,
    perceived_exertion: Option<f64>,
    prefer_perceived_exertion: bool,
    segment_efforts: [Value; 0],
    splits_metric: [Value; 0],
    laps: [Value; 0],
    photos: Photos,
    hide_from_home: bool,
    device_name: Option<&'a str>,
    embed_token: String,
    available_zones: [Value; 0],
}

fn latlng(point: &Option<[f64; 2]>) -> &[f64] {
    match point {
        Some(p) => p,
        None => &[],
    }
}

/// `rendered` (a rendering of `a`) as JSON, with `a.raw_json` written over its fields.
pub(crate) fn with_raw_json<T: Serialize>(
    rendered: T,
    a: &SimActivity,
) -> Result<Value, serde_json::Error> {
    let mut value = serde_json::to_value(rendered)?;
    if let Value::Object(fields) = &mut value {
        for (key, raw) in &a.raw_json {
            fields.insert(key.clone(), raw.clone());
        }
    }
    Ok(value)
}

/// The SummaryActivity rendering of `a`, owned by `athlete_id`.
pub(crate) fn summary(a: &SimActivity, athlete_id: i64) -> SummaryJson<'_> {
    summary_with_state(a, athlete_id, 2)
}

fn summary_with_state(a: &SimActivity, athlete_id: i64, resource_state: u8) -> SummaryJson<'_> {
    let local = a.start_date_local();
    SummaryJson {
        resource_state,
        athlete: AthleteRef {
            id: athlete_id,
            resource_state: 1,
        },
        name: &a.name,
        distance: a.distance,
        moving_time: a.moving_time,
        elapsed_time: a.elapsed_time,
        total_elevation_gain: a.total_elevation_gain,
        activity_type: &a.activity_type,
        sport_type: &a.sport_type,
        workout_type: a.workout_type,
        id: a.id,
        start_date: timestamp(a.start_date),
        start_date_local: local.format(TIME_FORMAT).to_string(),
        timezone: &a.timezone,
        utc_offset: f64::from(a.utc_offset),
        location_city: None,
        location_state: None,
        location_country: None,
        achievement_count: a.achievement_count,
        kudos_count: a.kudos_count,
        comment_count: a.comment_count,
        athlete_count: a.athlete_count,
        photo_count: a.photo_count,
        map: MapJson {
            id: format!("a{}", a.id),
            polyline: (resource_state == 3).then_some(a.summary_polyline.as_str()),
            summary_polyline: &a.summary_polyline,
            resource_state,
        },
        trainer: a.trainer,
        commute: a.commute,
        manual: a.manual,
        private: a.visibility.is_private(),
        visibility: a.visibility.as_str(),
        flagged: a.flagged,
        gear_id: a.gear_id.as_deref(),
        start_latlng: latlng(&a.start_latlng),
        end_latlng: latlng(&a.end_latlng),
        average_speed: a.average_speed(),
        max_speed: a.max_speed,
        average_cadence: a.average_cadence,
        average_temp: a.average_temp,
        has_heartrate: a.has_heartrate(),
        average_heartrate: a.average_heartrate,
        // Both fields or neither, as on Strava.
        max_heartrate: a
            .average_heartrate
            .map(|average| a.max_heartrate.unwrap_or(average)),
        heartrate_opt_out: a.heartrate_opt_out,
        display_hide_heartrate_option: a.has_heartrate(),
        elev_high: a.elev_high,
        elev_low: a.elev_low,
        upload_id: a.upload_id,
        upload_id_str: a.upload_id.map(|id| id.to_string()),
        external_id: a.external_id.as_deref(),
        from_accepted_tag: false,
        pr_count: a.pr_count,
        total_photo_count: a.total_photo_count,
        has_kudoed: false,
        suffer_score: a.suffer_score,
    }
}

/// The DetailedActivity rendering of `a`.
pub(crate) fn detailed(a: &SimActivity, athlete_id: i64) -> DetailedJson<'_> {
    DetailedJson {
        summary: summary_with_state(a, athlete_id, 3),
        description: a.description.as_deref(),
        calories: a.calories,
        perceived_exertion: None,
        prefer_perceived_exertion: false,
        segment_efforts: [],
        splits_metric: [],
        laps: [],
        photos: Photos {
            primary: None,
            count: a.total_photo_count,
        },
        hide_from_home: false,
        device_name: a.device_name.as_deref(),
        embed_token: embed_token(a.id),
        available_zones: [],
    }
}

/// A stable 40-hex token per activity (Strava's embed tokens look like this).
fn embed_token(id: i64) -> String {
    let mut x = id as u64 ^ 0x05EE_D0FE_3B3D;
    let mut out = String::with_capacity(40);
    while out.len() < 40 {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        out.push_str(&format!("{:016x}", x >> 1));
    }
    out.truncate(40);
    out
}

/// The simulated athlete's fixed profile.
pub(crate) struct AthleteProfile {
    pub(crate) id: i64,
}

impl AthleteProfile {
    const FIRSTNAME: &'static str = "Kari";
    const LASTNAME: &'static str = "Nordmann";
    const USERNAME: &'static str = "kari_loper";
    const CREATED_AT: &'static str = "2016-03-14T07:21:09Z";

    fn picture(&self, size: &str) -> String {
        format!(
            "https://dgalywyr863hv.cloudfront.net/pictures/athletes/{}/4211981/3/{size}.jpg",
            self.id
        )
    }

    /// The summary athlete of a token response (`resource_state` 2), keys as in
    /// `token_authorization_code.json`.
    pub(crate) fn summary(&self, updated_at: DateTime<Utc>) -> Value {
        json!({
            "id": self.id,
            "username": Self::USERNAME,
            "resource_state": 2,
            "firstname": Self::FIRSTNAME,
            "lastname": Self::LASTNAME,
            "city": "Oslo",
            "state": "Oslo",
            "country": "Norway",
            "sex": "F",
            "premium": true,
            "summit": true,
            "created_at": Self::CREATED_AT,
            "updated_at": timestamp(updated_at),
            "badge_type_id": 1,
            "profile_medium": self.picture("medium"),
            "profile": self.picture("large"),
            "friend": null,
            "follower": null
        })
    }

    /// The detailed athlete of `GET /athlete` (`resource_state` 3), keys as in `athlete.json`.
    pub(crate) fn detailed(&self, updated_at: DateTime<Utc>) -> Value {
        json!({
            "id": self.id,
            "username": Self::USERNAME,
            "resource_state": 3,
            "firstname": Self::FIRSTNAME,
            "lastname": Self::LASTNAME,
            "bio": "Løper, syklist og av og til svømmer. Simulated by milepost.",
            "city": "Oslo",
            "state": "Oslo",
            "country": "Norway",
            "sex": "F",
            "premium": true,
            "summit": true,
            "created_at": Self::CREATED_AT,
            "updated_at": timestamp(updated_at),
            "badge_type_id": 1,
            "weight": 61.5,
            "profile_medium": self.picture("medium"),
            "profile": self.picture("large"),
            "friend": null,
            "follower": null,
            "blocked": false,
            "can_follow": true,
            "follower_count": 142,
            "friend_count": 167,
            "mutual_friend_count": 0,
            "athlete_type": 1,
            "date_preference": "%d/%m/%Y",
            "measurement_preference": "meters",
            "clubs": [],
            "postable_clubs_count": 0,
            "ftp": 231,
            "bikes": [
                gear("b11250394", true, "Road bike", 21_803_114),
                gear("b12844015", false, "Gravel bike", 6_410_877),
                gear("b9183375", false, "MTB", 2_987_412),
                gear("b13390727", false, "E-bike", 1_402_236)
            ],
            "shoes": [
                gear("g14402771", false, "Adidas Adizero SL2", 642_311),
                gear("g17731246", true, "Nike Pegasus 41", 811_205),
                gear("g21148803", false, "Salomon Speedcross 6", 402_918)
            ]
        })
    }
}

/// Gear as `athlete.json` lists it: distance in whole metres, converted to km with one decimal.
fn gear(id: &str, primary: bool, name: &str, distance: i64) -> Value {
    json!({
        "id": id,
        "primary": primary,
        "name": name,
        "nickname": null,
        "resource_state": 2,
        "retired": false,
        "distance": distance,
        "converted_distance": (distance as f64 / 100.0).round() / 10.0
    })
}

/// Strava's `Fault` body: `{"message", "errors": [{"resource", "field", "code"}]}`.
pub(crate) fn fault(message: &str, resource: &str, field: &str, code: &str) -> Value {
    json!({
        "message": message,
        "errors": [{ "resource": resource, "field": field, "code": code }]
    })
}
