//! Lenient models of what Strava sends. Numbers flip between int and float, any field may be
//! missing or null, and unknown fields are ignored, so every field defaults and numeric fields go
//! through tolerant deserializers.

use serde::{Deserialize, Deserializer, Serialize};

/// Reads a JSON number (int or float, or a numeric string) or null as `f64`. Anything else, and
/// a string naming a non-finite value (`"NaN"`, `"inf"`, `"1e400"`), reads as 0, as Postgres
/// would store it anyway (JSON has no such numbers). Finite but absurd values (`1e308`,
/// `utc_offset: 1e12`) are kept as sent: `stats::absurdity` decides what the stats leave out.
fn lenient_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n.as_f64().unwrap_or(0.0),
        serde_json::Value::String(s) => s
            .trim()
            .parse()
            .ok()
            .filter(|f: &f64| f.is_finite())
            .unwrap_or(0.0),
        _ => 0.0,
    })
}

/// Reads a JSON number (int or float, or a numeric string) or null as `i64`, truncating
/// fractions (`474287.0`). Numbers beyond i64 saturate (`1e20` reads as i64::MAX: `as` never
/// wraps); anything else reads as 0.
fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let from_f64 = |f: f64| f as i64;
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(from_f64)),
        serde_json::Value::String(s) => {
            let s = s.trim();
            s.parse()
                .ok()
                .or_else(|| s.parse().ok().filter(|f: &f64| f.is_finite()).map(from_f64))
        }
        _ => None,
    }
    .unwrap_or(0))
}

fn lenient_opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n.as_f64(),
        _ => None,
    })
}

fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Number(n) => n.to_string(),
        _ => String::new(),
    })
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(matches!(
        serde_json::Value::deserialize(d)?,
        serde_json::Value::Bool(true)
    ))
}

/// The athlete as `/athlete` and the token exchange return it (only what milepost uses).
#[derive(Debug, Clone, Deserialize)]
pub struct Athlete {
    pub id: i64,
    #[serde(default, deserialize_with = "lenient_string")]
    pub firstname: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub lastname: String,
}

/// One of the `*_totals` of ActivityStats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize)]
pub struct Totals {
    #[serde(default, deserialize_with = "lenient_i64")]
    pub count: i64,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub distance: f64,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub moving_time: i64,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub elapsed_time: i64,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub elevation_gain: f64,
}

/// `GET /athletes/{id}/stats`. Strava counts only Everyone-visibility activities here.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ActivityStats {
    #[serde(default)]
    pub recent_run_totals: Totals,
    #[serde(default)]
    pub recent_ride_totals: Totals,
    #[serde(default)]
    pub recent_swim_totals: Totals,
    #[serde(default)]
    pub ytd_run_totals: Totals,
    #[serde(default)]
    pub ytd_ride_totals: Totals,
    #[serde(default)]
    pub ytd_swim_totals: Totals,
    #[serde(default)]
    pub all_run_totals: Totals,
    #[serde(default)]
    pub all_ride_totals: Totals,
    #[serde(default)]
    pub all_swim_totals: Totals,
}

/// A SummaryActivity (or the summary part of a DetailedActivity), reduced to what milepost may
/// keep and serve: no map, polyline, coordinates or device data is ever parsed, so none is stored.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Activity {
    pub id: i64,
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    #[serde(default, rename = "type", deserialize_with = "lenient_string")]
    pub kind: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub sport_type: String,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub distance: f64,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub moving_time: i64,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub elapsed_time: i64,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub total_elevation_gain: f64,
    #[serde(default, deserialize_with = "lenient_string")]
    pub start_date: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub start_date_local: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub timezone: String,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub utc_offset: f64,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub private: bool,
    #[serde(default, deserialize_with = "lenient_string")]
    pub visibility: String,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub average_speed: f64,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub max_speed: f64,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub has_heartrate: bool,
    #[serde(default, deserialize_with = "lenient_opt_f64")]
    pub average_heartrate: Option<f64>,
    #[serde(default, deserialize_with = "lenient_opt_f64")]
    pub max_heartrate: Option<f64>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub heartrate_opt_out: bool,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub kudos_count: i64,
}

/// `GET /activities/{id}`: the activity and whose it is (`athlete.id`), which a confirmation
/// checks before storing anything. The owner is never kept.
#[derive(Debug, Clone, Deserialize)]
pub struct OwnedActivity {
    #[serde(flatten)]
    pub activity: Activity,
    /// `None` when Strava left the athlete out or sent something unreadable.
    #[serde(default, rename = "athlete", deserialize_with = "lenient_owner")]
    pub athlete_id: Option<i64>,
}

/// Reads `{"id": …}` (the MetaAthlete of an activity) as its id.
fn lenient_owner<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Object(fields) => fields.get("id").and_then(|id| match id {
            serde_json::Value::Number(n) => n.as_i64(),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }),
        _ => None,
    })
}

/// The token endpoint's answer for both grants; `athlete` only comes with a code exchange.
#[derive(Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    #[serde(deserialize_with = "lenient_i64")]
    pub expires_at: i64,
    #[serde(default)]
    pub athlete: Option<Athlete>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_at", &self.expires_at)
            .field("athlete", &self.athlete.as_ref().map(|a| a.id))
            .finish_non_exhaustive()
    }
}

/// Strava's error body ("Fault").
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Fault {
    #[serde(default, deserialize_with = "lenient_string")]
    pub message: String,
    #[serde(default, deserialize_with = "lenient_fault_errors")]
    pub errors: Vec<FaultError>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct FaultError {
    #[serde(default, deserialize_with = "lenient_string")]
    pub resource: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub field: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub code: String,
}

/// One 429 shape has `"errors":"Rate Limit Exceeded"` (a string), not a list.
fn lenient_fault_errors<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<FaultError>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        v @ serde_json::Value::Array(_) => serde_json::from_value(v).unwrap_or_default(),
        _ => Vec::new(),
    })
}

impl Fault {
    /// True when Strava says this refresh token is dead (re-authorization needed).
    pub fn is_invalid_refresh_token(&self) -> bool {
        self.errors
            .iter()
            .any(|e| e.resource == "RefreshToken" && e.code == "invalid")
    }

    /// True when Strava says the application itself is inactive (its owner's subscription
    /// lapsed): `{"resource":"Application","field":"Status","code":"Inactive"}`.
    pub fn is_app_inactive(&self) -> bool {
        self.errors
            .iter()
            .any(|e| e.resource == "Application" && e.field == "Status" && e.code == "Inactive")
    }
}

/// A push subscription as `/push_subscriptions` lists it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PushSubscription {
    pub id: i64,
    #[serde(default, deserialize_with = "lenient_string")]
    pub callback_url: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub created_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The recorded Strava responses kept in the repository.
    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/strava");

    fn fixture(name: &str) -> Value {
        let path = format!("{FIXTURES}/{name}");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    fn body(name: &str) -> Value {
        fixture(name)["interactions"][0]["response"]["body"].clone()
    }

    #[test]
    fn every_fixture_file_parses_with_the_client_models() {
        let mut seen = 0;
        for entry in std::fs::read_dir(FIXTURES).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if !name.ends_with(".json") {
                continue;
            }
            let body = body(&name);
            match name.as_str() {
                "athlete.json" => {
                    let a: Athlete = serde_json::from_value(body).unwrap();
                    assert_eq!(a.id, 26462176);
                }
                "athlete_activities.json" | "athlete_activities_december_2018.json" => {
                    let list: Vec<Activity> = serde_json::from_value(body.clone()).unwrap();
                    assert_eq!(list.len(), body.as_array().unwrap().len());
                    assert!(
                        list.iter()
                            .all(|a| a.id > 0 && !a.start_date_local.is_empty())
                    );
                }
                "athlete_stats.json" => {
                    let s: ActivityStats = serde_json::from_value(body).unwrap();
                    assert_eq!(s.ytd_run_totals.count, 135);
                    assert_eq!(s.ytd_run_totals.moving_time, 474287);
                    assert_eq!(s.ytd_run_totals.distance, 1336128.0);
                }
                "token_authorization_code.json" => {
                    let t: TokenResponse = serde_json::from_value(body).unwrap();
                    assert_eq!(t.athlete.map(|a| a.id), Some(12342176));
                }
                "token_refresh_token.json" => {
                    let t: TokenResponse = serde_json::from_value(body).unwrap();
                    assert!(t.athlete.is_none());
                    assert_eq!(t.refresh_token, "new-refresh-token");
                }
                "push_subscriptions.json" | "no_push_subscriptions.json" => {
                    let _: Vec<PushSubscription> = serde_json::from_value(body).unwrap();
                }
                "create_push_subscription.json" => {
                    let s: PushSubscription = serde_json::from_value(body).unwrap();
                    assert_eq!(s.id, 131300);
                }
                "deauthorize.json" => assert!(body["access_token"].is_string()),
                "delete_push_subscription.json" => assert_eq!(body, Value::String(String::new())),
                _ => {
                    let f: Fault = serde_json::from_value(body).unwrap();
                    assert!(!f.message.is_empty(), "{name}");
                }
            }
            seen += 1;
        }
        assert!(seen >= 15, "expected every fixture, saw {seen}");
    }

    #[test]
    fn the_private_fixture_activity_keeps_its_visibility() {
        let list: Vec<Activity> = serde_json::from_value(body("athlete_activities.json")).unwrap();
        let private: Vec<_> = list.iter().filter(|a| a.visibility == "only_me").collect();
        assert_eq!(private.len(), 1);
        assert!(private[0].private);
    }

    #[test]
    fn an_activity_says_whose_it_is() {
        let list: Vec<OwnedActivity> =
            serde_json::from_value(body("athlete_activities.json")).unwrap();
        assert_eq!(list[0].athlete_id, Some(26462176));
        assert!(list[0].activity.id > 0);
        for (athlete, expected) in [
            (serde_json::json!({"id": "7"}), Some(7)),
            (serde_json::json!({"id": null}), None),
            (serde_json::json!(12), None),
            (serde_json::Value::Null, None),
        ] {
            let a: OwnedActivity =
                serde_json::from_value(serde_json::json!({"id": 1, "athlete": athlete})).unwrap();
            assert_eq!(a.athlete_id, expected);
        }
        let a: OwnedActivity = serde_json::from_value(serde_json::json!({"id": 1})).unwrap();
        assert_eq!(a.athlete_id, None);
    }

    #[test]
    fn refresh_token_faults_are_recognised() {
        let f: Fault = serde_json::from_str(
            r#"{"message":"Bad Request","errors":[{"resource":"RefreshToken","field":"refresh_token","code":"invalid"}]}"#,
        )
        .unwrap();
        assert!(f.is_invalid_refresh_token());
        let f: Fault = serde_json::from_value(body("token_invalid_code.json")).unwrap();
        assert!(!f.is_invalid_refresh_token());
    }

    #[test]
    fn an_inactive_application_fault_is_recognised_and_nothing_else_is() {
        let f: Fault = serde_json::from_str(
            r#"{"message":"Forbidden","errors":[{"resource":"Application","field":"Status","code":"Inactive"}]}"#,
        )
        .unwrap();
        assert!(f.is_app_inactive());
        assert!(!f.is_invalid_refresh_token());
        for name in [
            "token_invalid_client.json",
            "authorization_error.json",
            "activity_with_ratelimit_exceeded.json",
        ] {
            let f: Fault = serde_json::from_value(body(name)).unwrap_or_default();
            assert!(!f.is_app_inactive(), "{name}");
        }
    }

    #[test]
    fn token_debug_hides_the_tokens() {
        let t: TokenResponse = serde_json::from_value(body("token_refresh_token.json")).unwrap();
        let shown = format!("{t:?}");
        assert!(!shown.contains("new-access-token") && !shown.contains("new-refresh-token"));
    }

    #[test]
    fn absurd_numbers_parse_without_failing_and_keep_what_the_stats_must_judge() {
        let a: Activity = serde_json::from_value(serde_json::json!({
            "id": 1,
            "utc_offset": 1e12,
            "distance": 1e308,
            "moving_time": 9223372036854775807_i64,
            "elapsed_time": 1e20,
            "total_elevation_gain": "NaN",
            "average_speed": "inf",
            "max_speed": "fast",
            "kudos_count": 2.9,
            "name": 42,
        }))
        .unwrap();
        assert_eq!(a.utc_offset, 1e12);
        assert_eq!(a.distance, 1e308);
        assert_eq!(a.moving_time, i64::MAX);
        assert_eq!(a.elapsed_time, i64::MAX);
        assert_eq!(
            (a.total_elevation_gain, a.average_speed, a.max_speed),
            (0.0, 0.0, 0.0)
        );
        assert_eq!(a.kudos_count, 2);
        assert_eq!(a.name, "42");
        let t: Totals = serde_json::from_value(serde_json::json!({
            "count": "3", "moving_time": "474287.0", "distance": "12.5"
        }))
        .unwrap();
        assert_eq!((t.count, t.moving_time, t.distance), (3, 474287, 12.5));
    }
}
