//! Black-box tests of the simulator over real HTTP, plus wire-shape checks against the recorded
//! Strava responses in `tests/fixtures/strava/`.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use chrono::{DateTime, Datelike, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::generator::{self, SimActivity, Visibility};
use super::{Fault, RateLimits, SimConfig, Simulator, render};

// ---------------------------------------------------------------------------------------------
// Helpers

/// The recorded Strava responses kept in the repository.
fn fixture_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/strava"
    ))
}

/// The first recorded response of a fixture: `{status, headers, body}`.
fn fixture(name: &str) -> Value {
    let path = fixture_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let v: Value = serde_json::from_str(&text).unwrap();
    v["interactions"][0]["response"].clone()
}

fn fixture_body(name: &str) -> Value {
    fixture(name)["body"].clone()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn client() -> reqwest::Client {
    // The main crate builds reqwest with `rustls-no-provider`; a client needs a provider there.
    crate::strava::client::install_tls_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn start(config: SimConfig) -> Simulator {
    Simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

const REDIRECT: &str = "http://localhost:5001/strava/callback?from=sim";

#[derive(Debug, Clone)]
struct Tokens {
    access: String,
    refresh: String,
    response: Value,
}

/// Runs authorize with `scope` and returns the callback URL's query pairs.
async fn authorize(sim: &Simulator, c: &reqwest::Client, scope: &str) -> HashMap<String, String> {
    let r = c
        .get(format!("{}/authorize", sim.oauth_base_url()))
        .query(&[
            ("client_id", "12345"),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("approval_prompt", "auto"),
            ("scope", scope),
            ("state", "st4te/+="),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with("http://localhost:5001/strava/callback?from=sim&"),
        "{location}"
    );
    let url = url::Url::parse(&location).unwrap();
    url.query_pairs().into_owned().collect()
}

async fn exchange(sim: &Simulator, c: &reqwest::Client, code: &str) -> reqwest::Response {
    c.post(format!("{}/token", sim.oauth_base_url()))
        .form(&[
            ("client_id", "12345"),
            ("client_secret", "sim-client-secret"),
            ("code", code),
            ("grant_type", "authorization_code"),
        ])
        .send()
        .await
        .unwrap()
}

async fn refresh(sim: &Simulator, c: &reqwest::Client, refresh_token: &str) -> reqwest::Response {
    c.post(format!("{}/token", sim.oauth_base_url()))
        .form(&[
            ("client_id", "12345"),
            ("client_secret", "sim-client-secret"),
            ("refresh_token", refresh_token),
            ("grant_type", "refresh_token"),
        ])
        .send()
        .await
        .unwrap()
}

/// The whole OAuth flow: authorize with `scope`, exchange the code.
async fn connect(sim: &Simulator, c: &reqwest::Client, scope: &str) -> Tokens {
    let pairs = authorize(sim, c, scope).await;
    let r = exchange(sim, c, &pairs["code"]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let response: Value = r.json().await.unwrap();
    Tokens {
        access: response["access_token"].as_str().unwrap().to_string(),
        refresh: response["refresh_token"].as_str().unwrap().to_string(),
        response,
    }
}

async fn get(sim: &Simulator, c: &reqwest::Client, token: &str, path: &str) -> reqwest::Response {
    c.get(format!("{}{path}", sim.api_base_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn get_json(
    sim: &Simulator,
    c: &reqwest::Client,
    token: &str,
    path: &str,
) -> (StatusCode, Value) {
    let r = get(sim, c, token, path).await;
    let status = r.status();
    (status, r.json().await.unwrap())
}

/// Pages through the list with `per_page` until an empty page; returns every page.
async fn all_pages(
    sim: &Simulator,
    c: &reqwest::Client,
    token: &str,
    per_page: u32,
    extra: &str,
) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    for page in 1.. {
        let (status, body) = get_json(
            sim,
            c,
            token,
            &format!("/athlete/activities?per_page={per_page}&page={page}{extra}"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let items = body.as_array().unwrap().clone();
        if items.is_empty() {
            break;
        }
        pages.push(items);
    }
    pages
}

fn ids(list: &[Value]) -> Vec<i64> {
    list.iter().map(|a| a["id"].as_i64().unwrap()).collect()
}

fn parse_time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

// ---------------------------------------------------------------------------------------------
// Wire shapes against the fixtures

/// Keys Strava omits rather than nulls: heart rate without a sensor, cadence and temperature
/// without the data.
const OMITTABLE: &[&str] = &[
    "average_heartrate",
    "max_heartrate",
    "average_cadence",
    "average_temp",
];
/// Keys whose value may be null.
const NULLABLE: &[&str] = &[
    "workout_type",
    "gear_id",
    "suffer_score",
    "location_city",
    "location_state",
    "location_country",
    "upload_id",
    "upload_id_str",
    "external_id",
];

#[test]
fn every_rendered_activity_has_the_fixture_keys_and_json_types() {
    let recorded: Vec<Value> = [
        "athlete_activities.json",
        "athlete_activities_december_2018.json",
    ]
    .iter()
    .flat_map(|f| fixture_body(f).as_array().unwrap().clone())
    .collect();
    let fixture_keys = keys(&recorded[0]);
    let mut fixture_kinds: HashMap<String, &str> = HashMap::new();
    for a in &recorded {
        for (k, v) in a.as_object().unwrap() {
            if !v.is_null() {
                fixture_kinds.insert(k.clone(), kind(v));
            }
        }
    }

    let history = generator::generate_history(42, 6, Utc::now());
    let mut exact = 0;
    for a in &history {
        let v = serde_json::to_value(render::summary(a, 8_675_309)).unwrap();
        let ours = keys(&v);
        assert!(
            ours.is_subset(&fixture_keys),
            "extra keys {:?}",
            ours.difference(&fixture_keys).collect::<Vec<_>>()
        );
        let missing: Vec<&String> = fixture_keys.difference(&ours).collect();
        assert!(
            missing.iter().all(|k| OMITTABLE.contains(&k.as_str())),
            "missing {missing:?}"
        );
        assert_eq!(
            v.get("average_heartrate").is_some(),
            v["has_heartrate"] == json!(true)
        );
        assert_eq!(
            v.get("max_heartrate").is_some(),
            v["has_heartrate"] == json!(true)
        );
        if missing.is_empty() {
            exact += 1;
        }
        for (k, value) in v.as_object().unwrap() {
            match fixture_kinds.get(k) {
                _ if value.is_null() => assert!(NULLABLE.contains(&k.as_str()), "{k} is null"),
                Some(expected) => assert_eq!(kind(value), *expected, "{k} = {value}"),
                None => panic!("{k} is always null in the fixtures but {value} here"),
            }
        }
        assert_eq!(v["resource_state"], json!(2));
        assert_eq!(v["athlete"], json!({"id": 8_675_309, "resource_state": 1}));
        assert!(v["start_date"].as_str().unwrap().ends_with('Z'));
        assert!(v["start_date_local"].as_str().unwrap().ends_with('Z'));
        assert_eq!(keys(&v["map"]), keys(&recorded[0]["map"]));
        assert_eq!(v["private"], json!(v["visibility"] == json!("only_me")));
    }
    assert!(
        exact > history.len() / 2,
        "only {exact} activities have every key"
    );
}

#[test]
fn local_start_is_utc_start_plus_offset() {
    for a in generator::generate_history(7, 2, Utc::now())
        .iter()
        .take(300)
    {
        let v = serde_json::to_value(render::summary(a, 1)).unwrap();
        let utc = parse_time(&v["start_date"]);
        let local = parse_time(&v["start_date_local"]);
        assert_eq!(
            (local - utc).num_seconds() as f64,
            v["utc_offset"].as_f64().unwrap()
        );
    }
}

#[test]
fn detailed_activity_is_a_superset_of_the_summary() {
    let a = &generator::generate_history(42, 1, Utc::now())[0];
    let summary = serde_json::to_value(render::summary(a, 1)).unwrap();
    let detail = serde_json::to_value(render::detailed(a, 1)).unwrap();
    assert!(keys(&summary).is_subset(&keys(&detail)));
    for k in [
        "description",
        "calories",
        "device_name",
        "embed_token",
        "segment_efforts",
        "splits_metric",
    ] {
        assert!(detail.get(k).is_some(), "{k}");
    }
    assert_eq!(detail["resource_state"], json!(3));
    assert_eq!(detail["embed_token"].as_str().unwrap().len(), 40);
}

#[actix_web::test]
async fn athlete_stats_and_token_bodies_have_the_fixture_keys() {
    let sim = start(SimConfig::default()).await;
    let c = client();
    let tokens = connect(&sim, &c, "read,activity:read_all").await;

    let token_fixture = fixture_body("token_authorization_code.json");
    assert_eq!(keys(&tokens.response), keys(&token_fixture));
    assert_eq!(
        keys(&tokens.response["athlete"]),
        keys(&token_fixture["athlete"])
    );
    assert_eq!(tokens.response["token_type"], json!("Bearer"));
    assert_eq!(tokens.response["athlete"]["id"], json!(8_675_309));
    for t in [&tokens.access, &tokens.refresh] {
        assert_eq!(t.len(), 40);
        assert!(t.chars().all(|ch| ch.is_ascii_hexdigit()));
    }

    let (status, athlete) = get_json(&sim, &c, &tokens.access, "/athlete").await;
    assert_eq!(status, StatusCode::OK);
    let athlete_fixture = fixture_body("athlete.json");
    assert_eq!(keys(&athlete), keys(&athlete_fixture));
    for (k, v) in athlete.as_object().unwrap() {
        let recorded = &athlete_fixture[k];
        if !v.is_null() && !recorded.is_null() {
            assert_eq!(kind(v), kind(recorded), "{k}");
        }
    }
    assert_eq!(athlete["measurement_preference"], json!("meters"));
    assert_eq!(athlete["id"], json!(8_675_309));

    let (status, stats) = get_json(&sim, &c, &tokens.access, "/athletes/8675309/stats").await;
    assert_eq!(status, StatusCode::OK);
    let stats_fixture = fixture_body("athlete_stats.json");
    assert_eq!(keys(&stats), keys(&stats_fixture));
    for k in keys(&stats_fixture) {
        assert_eq!(keys(&stats[&k]), keys(&stats_fixture[&k]), "{k}");
    }

    let r = refresh(&sim, &c, &tokens.refresh).await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(keys(&body), keys(&fixture_body("token_refresh_token.json")));
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// OAuth

#[actix_web::test]
async fn full_oauth_flow_over_http() {
    let sim = start(SimConfig::default()).await;
    let c = client();

    let pairs = authorize(&sim, &c, "read,activity:read_all").await;
    assert_eq!(pairs["from"], "sim");
    assert_eq!(pairs["state"], "st4te/+=");
    assert_eq!(pairs["scope"], "read,activity:read_all");
    let code = pairs["code"].clone();

    let r = exchange(&sim, &c, &code).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let tokens: Value = r.json().await.unwrap();
    let now = sim.now().timestamp();
    assert_eq!(tokens["expires_in"], json!(21_600));
    assert!((tokens["expires_at"].as_i64().unwrap() - (now + 21_600)).abs() <= 2);
    let access = tokens["access_token"].as_str().unwrap();

    let (status, _) = get_json(&sim, &c, access, "/athlete").await;
    assert_eq!(status, StatusCode::OK);
    let (status, list) = get_json(&sim, &c, access, "/athlete/activities").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 30);

    // The code was single use.
    let r = exchange(&sim, &c, &code).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        fixture_body("token_invalid_code.json")
    );

    assert_eq!(sim.request_count("GET /oauth/authorize"), 1);
    assert_eq!(sim.request_count("POST /oauth/token"), 2);
    assert_eq!(sim.request_count("GET /athlete"), 1);
    assert_eq!(sim.request_count("GET /athlete/activities"), 1);
    sim.stop().await;
}

#[actix_web::test]
async fn wrong_client_and_expired_codes_are_refused_like_strava() {
    let sim = start(SimConfig::default()).await;
    let c = client();
    let pairs = authorize(&sim, &c, "read,activity:read").await;

    let r = c
        .post(format!("{}/token", sim.oauth_base_url()))
        .form(&[
            ("client_id", "12345"),
            ("client_secret", "wrong"),
            ("code", &pairs["code"]),
            ("grant_type", "authorization_code"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        fixture_body("token_invalid_client.json")
    );

    // A wrong secret did not burn the code, but ten sim-minutes do.
    sim.advance_clock(Duration::from_secs(10 * 60 + 1));
    let r = exchange(&sim, &c, &pairs["code"]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        fixture_body("token_invalid_code.json")
    );

    let r = exchange(&sim, &c, "not-a-code").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    sim.stop().await;
}

#[actix_web::test]
async fn authorize_validates_its_parameters() {
    let sim = start(SimConfig::default()).await;
    let c = client();
    let url = format!("{}/authorize", sim.oauth_base_url());
    for query in [
        vec![
            ("client_id", "999"),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
        ],
        vec![("client_id", "12345"), ("response_type", "code")],
        vec![
            ("client_id", "12345"),
            ("redirect_uri", "not a url"),
            ("response_type", "code"),
        ],
        vec![
            ("client_id", "12345"),
            ("redirect_uri", REDIRECT),
            ("response_type", "token"),
        ],
        vec![
            ("client_id", "12345"),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "read,everything"),
        ],
    ] {
        let r = c.get(&url).query(&query).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{query:?}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["message"], json!("Bad Request"));
        assert_eq!(
            keys(&body["errors"][0]),
            ["code", "field", "resource"].map(String::from).into()
        );
    }
    sim.stop().await;
}

#[actix_web::test]
async fn denial_redirects_with_access_denied_and_no_code() {
    let sim = start(SimConfig::default()).await;
    let c = client();
    sim.set_deny(true);
    let pairs = authorize(&sim, &c, "read,activity:read_all").await;
    assert_eq!(
        pairs.get("error").map(String::as_str),
        Some("access_denied")
    );
    assert_eq!(pairs["state"], "st4te/+=");
    assert!(!pairs.contains_key("code"));
    sim.set_deny(false);
    assert!(authorize(&sim, &c, "read").await.contains_key("code"));
    sim.stop().await;
}

#[actix_web::test]
async fn granted_scope_override_is_reported_and_enforced() {
    let sim = start(SimConfig::default()).await;
    let c = client();
    sim.set_granted_scope(Some("read".into()));
    let pairs = authorize(&sim, &c, "read,activity:read_all").await;
    assert_eq!(pairs["scope"], "read");
    let r = exchange(&sim, &c, &pairs["code"]).await;
    let access = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();

    let (status, _) = get_json(&sim, &c, &access, "/athlete").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = get_json(&sim, &c, &access, "/athlete/activities").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"message":"Authorization Error","errors":[{"resource":"AccessToken","field":"activity:read_permission","code":"missing"}]})
    );
    sim.stop().await;
}

#[actix_web::test]
async fn refresh_returns_the_same_access_token_while_more_than_an_hour_is_left() {
    let sim = start(SimConfig::default()).await;
    let c = client();
    let tokens = connect(&sim, &c, "read,activity:read_all").await;

    sim.advance_clock(Duration::from_secs(4 * 3600));
    let body: Value = refresh(&sim, &c, &tokens.refresh)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["access_token"].as_str().unwrap(), tokens.access);
    assert_eq!(
        body["refresh_token"].as_str().unwrap(),
        tokens.refresh,
        "no rotation by default"
    );
    let left = body["expires_in"].as_i64().unwrap();
    assert!((7190..=7200).contains(&left), "{left}");
    assert_eq!(body["expires_at"], tokens.response["expires_at"]);

    sim.advance_clock(Duration::from_secs(3600 + 60));
    let body: Value = refresh(&sim, &c, &tokens.refresh)
        .await
        .json()
        .await
        .unwrap();
    let new_access = body["access_token"].as_str().unwrap().to_string();
    assert_ne!(new_access, tokens.access);
    assert_eq!(body["expires_in"], json!(21_600));
    assert_eq!(sim.token_refresh_count(), 2);

    // The old access token dies when it expires; the new one works.
    sim.advance_clock(Duration::from_secs(3600));
    assert_eq!(
        get(&sim, &c, &tokens.access, "/athlete").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = get_json(&sim, &c, &new_access, "/athlete").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    sim.stop().await;
}

#[actix_web::test]
async fn expired_access_token_gets_the_authorization_fault() {
    let sim = start(SimConfig::default()).await;
    let c = client();
    let tokens = connect(&sim, &c, "read").await;
    sim.advance_clock(Duration::from_secs(21_600));
    let (status, body) = get_json(&sim, &c, &tokens.access, "/athlete").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"message":"Authorization Error","errors":[{"resource":"Athlete","field":"access_token","code":"invalid"}]})
    );
    let r = c
        .get(format!("{}/athlete", sim.api_base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    sim.stop().await;
}

const DEAD_REFRESH_TOKEN: &str = r#"{"message":"Bad Request","errors":[{"resource":"RefreshToken","field":"refresh_token","code":"invalid"}]}"#;

#[actix_web::test]
async fn rotation_kills_the_old_refresh_token_at_once() {
    let sim = start(SimConfig {
        rotate_refresh_tokens: true,
        ..SimConfig::default()
    })
    .await;
    let c = client();
    let tokens = connect(&sim, &c, "read").await;

    let r = refresh(&sim, &c, &tokens.refresh).await;
    assert_eq!(r.status(), StatusCode::OK);
    let rotated = r.json::<Value>().await.unwrap()["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(rotated, tokens.refresh);

    let r = refresh(&sim, &c, &tokens.refresh).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        serde_json::from_str::<Value>(DEAD_REFRESH_TOKEN).unwrap()
    );

    assert_eq!(refresh(&sim, &c, &rotated).await.status(), StatusCode::OK);
    assert_eq!(sim.token_refresh_count(), 2);
    sim.stop().await;
}

#[actix_web::test]
async fn invalidated_refresh_tokens_are_refused_but_access_tokens_live_on() {
    let sim = start(SimConfig::default()).await;
    let c = client();
    let tokens = connect(&sim, &c, "read").await;
    sim.invalidate_refresh_tokens();
    let r = refresh(&sim, &c, &tokens.refresh).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        serde_json::from_str::<Value>(DEAD_REFRESH_TOKEN).unwrap()
    );
    assert_eq!(sim.token_refresh_count(), 0);
    assert_eq!(
        get(&sim, &c, &tokens.access, "/athlete").await.status(),
        StatusCode::OK
    );

    // A new authorization brings a working refresh token again.
    let fresh = connect(&sim, &c, "read").await;
    assert_eq!(
        refresh(&sim, &c, &fresh.refresh).await.status(),
        StatusCode::OK
    );
    sim.stop().await;
}

#[actix_web::test]
async fn deauthorize_kills_every_token_of_the_athlete() {
    let sim = start(SimConfig::default()).await;
    let c = client();
    let first = connect(&sim, &c, "read").await;
    let second = connect(&sim, &c, "read,activity:read").await;

    let r = c
        .post(format!("{}/deauthorize", sim.oauth_base_url()))
        .form(&[("access_token", first.access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let expected = fixture("deauthorize.json");
    for name in expected["headers"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("X-"))
    {
        assert!(r.headers().contains_key(name.as_str()), "{name}");
    }
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({ "access_token": first.access })
    );

    for t in [&first, &second] {
        assert_eq!(
            get(&sim, &c, &t.access, "/athlete").await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            refresh(&sim, &c, &t.refresh).await.status(),
            StatusCode::BAD_REQUEST
        );
    }
    // A dead token cannot deauthorize again (Bearer form this time).
    let r = c
        .post(format!("{}/deauthorize", sim.oauth_base_url()))
        .bearer_auth(&second.access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let third = connect(&sim, &c, "read").await;
    sim.revoke_access();
    assert_eq!(
        get(&sim, &c, &third.access, "/athlete").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(sim.request_count("POST /oauth/deauthorize"), 2);
    sim.stop().await;
}

async fn revoke(
    sim: &Simulator,
    c: &reqwest::Client,
    credentials: (&str, &str),
    token: &str,
) -> reqwest::Response {
    c.post(format!("{}/revoke", sim.oauth_base_url()))
        .basic_auth(credentials.0, Some(credentials.1))
        .form(&[("token", token), ("token_type_hint", "refresh_token")])
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn revoke_with_the_app_credentials_kills_both_tokens_of_the_athlete() {
    let sim = start(SimConfig::default()).await;
    let c = client();
    let tokens = connect(&sim, &c, "read").await;

    // wrong app credentials: a 401 fault, and the tokens live on
    let r = revoke(&sim, &c, ("12345", "wrong-secret"), &tokens.refresh).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.json::<Value>().await.unwrap()["errors"][0]["resource"],
        json!("Application")
    );
    assert_eq!(
        get(&sim, &c, &tokens.access, "/athlete").await.status(),
        StatusCode::OK
    );
    assert_eq!(sim.revoke_count(), 0);

    let r = revoke(&sim, &c, ("12345", "sim-client-secret"), &tokens.refresh).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().contains_key("x-ratelimit-usage"));
    assert_eq!(r.json::<Value>().await.unwrap(), json!({}));
    assert_eq!(
        get(&sim, &c, &tokens.access, "/athlete").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        refresh(&sim, &c, &tokens.refresh).await.status(),
        StatusCode::BAD_REQUEST
    );
    // a token already dead is no error, and revokes nothing more
    let r = revoke(&sim, &c, ("12345", "sim-client-secret"), &tokens.access).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(sim.revoke_count(), 1);
    assert_eq!(sim.request_count("POST /oauth/revoke"), 3);

    sim.set_revoke_missing(true);
    let fresh = connect(&sim, &c, "read").await;
    let r = revoke(&sim, &c, ("12345", "sim-client-secret"), &fresh.refresh).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        get(&sim, &c, &fresh.access, "/athlete").await.status(),
        StatusCode::OK
    );
    sim.stop().await;
}

#[actix_web::test]
async fn an_inactive_app_gets_strava_s_403_on_every_api_call_but_may_refresh_its_token() {
    let sim = start(SimConfig::default()).await;
    let c = client();
    let tokens = connect(&sim, &c, "read,activity:read").await;
    sim.set_app_inactive(true);
    let athlete = sim.config().athlete_id;
    for path in [
        "/athlete".to_owned(),
        format!("/athletes/{athlete}/stats"),
        "/athlete/activities".to_owned(),
    ] {
        let r = get(&sim, &c, &tokens.access, &path).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(r.headers().contains_key("x-ratelimit-usage"), "{path}");
        assert_eq!(
            r.text().await.unwrap(),
            r#"{"message":"Forbidden","errors":[{"resource":"Application","field":"Status","code":"Inactive"}]}"#,
            "{path}"
        );
    }
    assert_eq!(
        refresh(&sim, &c, &tokens.refresh).await.status(),
        StatusCode::OK
    );
    assert_eq!(sim.request_count("GET /athlete"), 1);

    sim.set_app_inactive(false);
    assert_eq!(
        get(&sim, &c, &tokens.access, "/athlete").await.status(),
        StatusCode::OK
    );
    sim.stop().await;
}

#[actix_web::test]
async fn an_inactive_app_can_be_refused_its_token_refresh_in_strava_s_shape() {
    let sim = start(SimConfig::default()).await;
    let c = client();
    let tokens = connect(&sim, &c, "read,activity:read").await;
    sim.set_token_refresh_inactive(true);
    // an active app refreshes as usual
    let r = refresh(&sim, &c, &tokens.refresh).await;
    assert_eq!(r.status(), StatusCode::OK);
    let rotated: serde_json::Value = r.json().await.unwrap();
    let refresh_token = rotated["refresh_token"].as_str().unwrap().to_owned();

    sim.set_app_inactive(true);
    let r = refresh(&sim, &c, &refresh_token).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"message":"Forbidden","errors":[{"resource":"Application","field":"Status","code":"Inactive"}]}"#
    );
    // the refresh token was not spent
    sim.set_app_inactive(false);
    let r = refresh(&sim, &c, &refresh_token).await;
    assert_eq!(r.status(), StatusCode::OK);
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Activities

#[actix_web::test]
async fn paging_with_read_all_walks_the_whole_history_newest_first() {
    let sim = start(SimConfig::default()).await;
    let c = client();
    let t = connect(&sim, &c, "read,activity:read_all").await;
    let everything = sim.activities();

    let pages = all_pages(&sim, &c, &t.access, 200, "").await;
    assert!(pages[..pages.len() - 1].iter().all(|p| p.len() == 200));
    let listed: Vec<Value> = pages.concat();
    assert_eq!(ids(&listed), ids(&everything));
    assert_eq!(
        listed, everything,
        "the API renders exactly what activities() shows"
    );
    let starts: Vec<DateTime<Utc>> = listed
        .iter()
        .map(|a| parse_time(&a["start_date"]))
        .collect();
    assert!(starts.windows(2).all(|w| w[0] >= w[1]));

    // Past the end: an empty page.
    let beyond = pages.len() + 1;
    let (_, body) = get_json(
        &sim,
        &c,
        &t.access,
        &format!("/athlete/activities?per_page=200&page={beyond}"),
    )
    .await;
    assert_eq!(body, json!([]));

    // Default per_page is 30; over 200 is capped at 200.
    let (_, body) = get_json(&sim, &c, &t.access, "/athlete/activities").await;
    assert_eq!(ids(body.as_array().unwrap()), ids(&everything[..30]));
    let (_, body) = get_json(&sim, &c, &t.access, "/athlete/activities?per_page=1000").await;
    assert_eq!(body.as_array().unwrap().len(), 200);
    let (_, body) = get_json(&sim, &c, &t.access, "/athlete/activities?per_page=7&page=3").await;
    assert_eq!(ids(body.as_array().unwrap()), ids(&everything[14..21]));
    sim.stop().await;
}

#[actix_web::test]
async fn before_and_after_filter_and_after_lists_oldest_first() {
    let sim = start(SimConfig::default()).await;
    let c = client();
    let t = connect(&sim, &c, "activity:read_all").await;
    let everything = sim.activities();
    let pivot = parse_time(&everything[100]["start_date"]).timestamp();
    let old_pivot = parse_time(&everything[400]["start_date"]).timestamp();

    let newer = all_pages(&sim, &c, &t.access, 50, &format!("&after={pivot}"))
        .await
        .concat();
    let expected: Vec<i64> = ids(&everything[..100]).into_iter().rev().collect();
    assert_eq!(ids(&newer), expected, "after: strictly newer, oldest first");

    let older = all_pages(&sim, &c, &t.access, 200, &format!("&before={pivot}"))
        .await
        .concat();
    assert_eq!(
        ids(&older),
        ids(&everything[101..]),
        "before: strictly older, newest first"
    );

    let window = all_pages(
        &sim,
        &c,
        &t.access,
        200,
        &format!("&before={pivot}&after={old_pivot}"),
    )
    .await
    .concat();
    let expected: Vec<i64> = ids(&everything[101..400]).into_iter().rev().collect();
    assert_eq!(ids(&window), expected);
    sim.stop().await;
}

#[actix_web::test]
async fn without_read_all_only_me_activities_leave_short_pages() {
    let sim = start(SimConfig::default()).await;
    let c = client();
    let t = connect(&sim, &c, "read,activity:read").await;
    let everything = sim.activities();

    let pages = all_pages(&sim, &c, &t.access, 30, "").await;
    let listed = pages.concat();
    let visible: Vec<Value> = everything
        .iter()
        .filter(|a| a["visibility"] != json!("only_me"))
        .cloned()
        .collect();
    assert_eq!(ids(&listed), ids(&visible));
    assert!(
        listed
            .iter()
            .any(|a| a["visibility"] == json!("followers_only"))
    );
    // Some page before the last is short, yet more pages follow.
    assert!(pages[..pages.len() - 1].iter().any(|p| p.len() < 30));
    // Pages are sliced before filtering: page n holds what is left of items 30(n-1)..30n.
    let second: Vec<i64> = ids(&everything[30..60])
        .into_iter()
        .filter(|id| visible.iter().any(|a| a["id"] == json!(id)))
        .collect();
    assert_eq!(ids(&pages[1]), second);
    sim.stop().await;
}

#[actix_web::test]
async fn bad_list_parameters_get_a_json_fault() {
    let sim = start(SimConfig::default()).await;
    let c = client();
    let t = connect(&sim, &c, "read,activity:read_all").await;
    for query in [
        "before=yesterday",
        "after=1.5e9x",
        "page=-1",
        "per_page=lots",
        "page=99999999999999999999999",
    ] {
        let (status, body) =
            get_json(&sim, &c, &t.access, &format!("/athlete/activities?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body["message"], json!("Bad Request"));
    }
    // Huge but valid numbers are fine and simply find nothing.
    let (status, body) = get_json(
        &sim,
        &c,
        &t.access,
        "/athlete/activities?page=18446744073709551615&per_page=200",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!([]));
    sim.stop().await;
}

#[actix_web::test]
async fn single_activity_detail_respects_visibility_and_changes() {
    let sim = start(SimConfig::default()).await;
    let c = client();
    let all = connect(&sim, &c, "read,activity:read_all").await;
    let public_only = connect(&sim, &c, "read,activity:read").await;
    let everything = sim.activities();
    let private_id = everything
        .iter()
        .find(|a| a["visibility"] == json!("only_me"))
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let public_id = everything[0]["id"].as_i64().unwrap();

    let (status, detail) =
        get_json(&sim, &c, &all.access, &format!("/activities/{private_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["id"], json!(private_id));
    let summary = everything
        .iter()
        .find(|a| a["id"] == json!(private_id))
        .unwrap();
    assert!(keys(summary).is_subset(&keys(&detail)));

    let not_found = json!({"message":"Record Not Found","errors":[{"resource":"Activity","field":"id","code":"invalid"}]});
    let (status, body) = get_json(
        &sim,
        &c,
        &public_only.access,
        &format!("/activities/{private_id}"),
    )
    .await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, not_found.clone()));
    for bad in ["1", "abc", "99999999999999999999999"] {
        let (status, body) = get_json(&sim, &c, &all.access, &format!("/activities/{bad}")).await;
        assert_eq!((status, body), (StatusCode::NOT_FOUND, not_found.clone()));
    }

    sim.update_activity(public_id, |a| a.name = "Renamed ✓".into());
    let (_, detail) = get_json(
        &sim,
        &c,
        &public_only.access,
        &format!("/activities/{public_id}"),
    )
    .await;
    assert_eq!(detail["name"], json!("Renamed ✓"));
    assert!(sim.delete_activity(public_id));
    assert!(!sim.delete_activity(public_id));
    let (status, _) = get_json(
        &sim,
        &c,
        &public_only.access,
        &format!("/activities/{public_id}"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(sim.request_count("GET /activities/{id}"), 7);
    sim.stop().await;
}

#[actix_web::test]
async fn added_activities_get_fresh_ids_above_every_other_and_are_listed() {
    let sim = start(SimConfig::default()).await;
    let newest_before = sim.activities()[0]["id"].as_i64().unwrap();
    let a = SimActivity::new(
        "GravelRide",
        sim.now() - chrono::Duration::hours(2),
        42_195.0,
        5400,
    )
    .with_heartrate(140.0, 171.0)
    .with_elevation_gain(380.0);
    let id = sim.add_activity(a);
    assert!(id > newest_before);
    let listed = sim
        .activities()
        .into_iter()
        .find(|v| v["id"] == json!(id))
        .unwrap();
    assert_eq!(listed["type"], json!("Ride"));
    assert_eq!(listed["sport_type"], json!("GravelRide"));
    assert_eq!(listed["average_speed"], json!(7.814));
    assert_eq!(listed["has_heartrate"], json!(true));
    assert_eq!(
        listed["upload_id_str"],
        json!(listed["upload_id"].as_i64().unwrap().to_string())
    );
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Stats

#[derive(Debug, Default, PartialEq)]
struct Expected {
    count: i64,
    distance: f64,
    moving_time: i64,
    elapsed_time: i64,
    elevation_gain: f64,
}

/// Totals computed straight from the rendered list, independently of the simulator's code.
fn expected_totals(list: &[Value], sports: &[&str], keep: impl Fn(&Value) -> bool) -> Expected {
    let mut e = Expected::default();
    for a in list {
        if a["visibility"] != json!("everyone")
            || !sports.contains(&a["sport_type"].as_str().unwrap())
            || !keep(a)
        {
            continue;
        }
        e.count += 1;
        e.distance += a["distance"].as_f64().unwrap();
        e.moving_time += a["moving_time"].as_i64().unwrap();
        e.elapsed_time += a["elapsed_time"].as_i64().unwrap();
        e.elevation_gain += a["total_elevation_gain"].as_f64().unwrap();
    }
    e
}

fn assert_totals(actual: &Value, expected: &Expected, what: &str) {
    assert_eq!(actual["count"].as_i64().unwrap(), expected.count, "{what}");
    assert_eq!(
        actual["moving_time"].as_i64().unwrap(),
        expected.moving_time,
        "{what}"
    );
    assert_eq!(
        actual["elapsed_time"].as_i64().unwrap(),
        expected.elapsed_time,
        "{what}"
    );
    assert!(
        (actual["distance"].as_f64().unwrap() - expected.distance).abs() < 0.01,
        "{what}"
    );
    assert!(
        (actual["elevation_gain"].as_f64().unwrap() - expected.elevation_gain).abs() < 0.01,
        "{what}"
    );
}

const RUNS: &[&str] = &["Run", "TrailRun", "VirtualRun"];
const RIDES: &[&str] = &[
    "Ride",
    "GravelRide",
    "MountainBikeRide",
    "EBikeRide",
    "EMountainBikeRide",
    "VirtualRide",
    "Velomobile",
    "Handcycle",
];
const SWIMS: &[&str] = &["Swim"];

#[actix_web::test]
async fn stats_count_only_public_activities_and_match_a_direct_computation() {
    let sim = start(SimConfig::default()).await;
    let c = client();
    let t = connect(&sim, &c, "read").await;
    let list = sim.activities();
    let now = sim.now();
    let year = generator::home_local(now).year();
    let recent_from = now - chrono::Duration::days(28);

    let (status, stats) = get_json(&sim, &c, &t.access, "/athletes/8675309/stats").await;
    assert_eq!(status, StatusCode::OK);
    for (family, sports) in [("run", RUNS), ("ride", RIDES), ("swim", SWIMS)] {
        let all = expected_totals(&list, sports, |_| true);
        assert!(all.count > 0, "{family}");
        assert_totals(&stats[format!("all_{family}_totals")], &all, family);
        let ytd = expected_totals(&list, sports, |a| {
            a["start_date_local"].as_str().unwrap()[..4] == year.to_string()
        });
        assert_totals(&stats[format!("ytd_{family}_totals")], &ytd, family);
        let recent = expected_totals(&list, sports, |a| {
            parse_time(&a["start_date"]) >= recent_from
        });
        assert_totals(&stats[format!("recent_{family}_totals")], &recent, family);
    }
    let public_runs = expected_totals(&list, RUNS, |_| true).count;
    let every_run = list
        .iter()
        .filter(|a| RUNS.contains(&a["sport_type"].as_str().unwrap()))
        .count() as i64;
    assert!(
        every_run > public_runs,
        "the history has non-public runs to leave out"
    );

    // A private run changes nothing, a public one counts everywhere.
    let start_date = now - chrono::Duration::minutes(2);
    sim.add_activity(
        SimActivity::new("Run", start_date, 10_000.0, 3000).with_visibility(Visibility::OnlyMe),
    );
    sim.add_activity(
        SimActivity::new("Run", start_date, 10_000.0, 3000)
            .with_visibility(Visibility::FollowersOnly),
    );
    let (_, after_private) = get_json(&sim, &c, &t.access, "/athletes/8675309/stats").await;
    assert_eq!(after_private["all_run_totals"], stats["all_run_totals"]);
    sim.add_activity(SimActivity::new("TrailRun", start_date, 10_000.0, 3000));
    let (_, after_public) = get_json(&sim, &c, &t.access, "/athletes/8675309/stats").await;
    for scope in ["all", "ytd", "recent"] {
        let key = format!("{scope}_run_totals");
        assert_eq!(
            after_public[&key]["count"].as_i64().unwrap(),
            stats[&key]["count"].as_i64().unwrap() + 1,
            "{key}"
        );
    }

    let (status, _) = get_json(&sim, &c, &t.access, "/athletes/1/stats").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Rate limits

fn usage(r: &reqwest::Response, name: &str) -> String {
    r.headers()[name].to_str().unwrap().to_string()
}

#[actix_web::test]
async fn rate_limit_headers_count_429_once_over_and_reset_at_the_next_quarter_hour() {
    let limits = RateLimits {
        overall_15min: 5,
        overall_daily: 100,
        read_15min: 3,
        read_daily: 50,
    };
    let sim = start(SimConfig {
        limits,
        ..SimConfig::default()
    })
    .await;
    let c = client();
    // Start just after a quarter-hour boundary, and not in the last half hour of a UTC day, so
    // the test straddles neither window by accident.
    let now = sim.now().timestamp();
    let mut target = now - now.rem_euclid(900) + 900;
    if target.rem_euclid(86_400) >= 86_400 - 1800 {
        target = target - target.rem_euclid(86_400) + 86_400;
    }
    sim.advance_clock(Duration::from_secs(
        u64::try_from(target - now + 1).unwrap(),
    ));
    let t = connect(&sim, &c, "read").await;

    for n in 1..=3 {
        let r = get(&sim, &c, &t.access, "/athlete").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(usage(&r, "x-ratelimit-limit"), "5,100");
        assert_eq!(usage(&r, "x-readratelimit-limit"), "3,50");
        assert_eq!(usage(&r, "x-ratelimit-usage"), format!("{n},{n}"));
        assert_eq!(usage(&r, "x-readratelimit-usage"), format!("{n},{n}"));
        assert!(r.headers().get("retry-after").is_none());
    }
    let r = get(&sim, &c, &t.access, "/athlete").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        usage(&r, "x-readratelimit-usage"),
        "4,4",
        "a refused request still counts"
    );
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"message":"Rate Limit Exceeded","errors":[{"resource":"Application","field":"rate limit","code":"exceeded"}]})
    );

    // Writes are not reads: a push-subscription POST counts only against overall.
    let r = c
        .post(format!("{}/push_subscriptions", sim.api_base_url()))
        .form(&[("client_id", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(usage(&r, "x-ratelimit-usage"), "5,5");
    assert_eq!(usage(&r, "x-readratelimit-usage"), "4,4");

    sim.advance_clock(Duration::from_secs(15 * 60));
    let r = get(&sim, &c, &t.access, "/athlete").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(usage(&r, "x-ratelimit-usage"), "1,6");
    assert_eq!(usage(&r, "x-readratelimit-usage"), "1,5");
    sim.stop().await;
}

#[actix_web::test]
async fn headers_are_spelt_like_strava_on_the_wire() {
    let sim = start(SimConfig::default()).await;
    // Read the raw response: HTTP clients normalise header names, the wire keeps Strava's.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    stream
        .write_all(b"GET /api/v3/athlete HTTP/1.1\r\nHost: sim\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let head = raw.split("\r\n\r\n").next().unwrap();
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    let headers: Vec<(&str, &str)> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n, v.trim()))
        .collect();
    let names: Vec<&str> = headers.iter().map(|(n, _)| *n).collect();
    for expected in [
        "X-Ratelimit-Limit",
        "X-Ratelimit-Usage",
        "X-Readratelimit-Limit",
        "X-Readratelimit-Usage",
        "Content-Type",
    ] {
        assert!(names.contains(&expected), "{expected} not in {names:?}");
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    };
    assert_eq!(
        header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(header("x-ratelimit-limit"), Some("200,2000"));
    assert_eq!(header("x-readratelimit-limit"), Some("100,1000"));
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Faults and counters

#[actix_web::test]
async fn a_held_answer_is_the_one_strava_had_when_asked() {
    let sim = start(SimConfig::default()).await;
    let c = client();
    let t = connect(&sim, &c, "read,activity:read_all").await;
    sim.set_fault(Some(Fault::HeldAnswer(Duration::from_millis(300))));
    let started = Instant::now();
    let asked = get(&sim, &c, &t.access, "/athlete");
    let revoked = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        sim.revoke_access();
    };
    let (r, ()) = futures::join!(asked, revoked);
    assert_eq!(r.status(), StatusCode::OK, "answered as when asked");
    assert!(started.elapsed() >= Duration::from_millis(300));
    sim.set_fault(None);
    let r = get(&sim, &c, &t.access, "/athlete").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    sim.stop().await;
}

#[actix_web::test]
async fn faults_apply_to_the_api_and_the_token_endpoint_and_are_counted() {
    let sim = start(SimConfig::default()).await;
    let c = client();
    let t = connect(&sim, &c, "read,activity:read_all").await;
    sim.reset_counts();

    sim.set_fault(Some(Fault::ServerError));
    let (status, body) = get_json(&sim, &c, &t.access, "/athlete").await;
    assert_eq!(
        (status, body),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"message":"error"})
        )
    );
    let r = refresh(&sim, &c, &t.refresh).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(sim.token_refresh_count(), 0);

    sim.set_fault(Some(Fault::Malformed));
    let r = get(&sim, &c, &t.access, "/athlete/activities").await;
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    assert!(text.starts_with("[{"));
    assert!(serde_json::from_str::<Value>(&text).is_err());

    sim.set_fault(Some(Fault::RateLimited));
    let r = get(&sim, &c, &t.access, "/athletes/8675309/stats").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        refresh(&sim, &c, &t.refresh).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    sim.set_fault(Some(Fault::Latency(Duration::from_millis(300))));
    let started = Instant::now();
    assert_eq!(
        get(&sim, &c, &t.access, "/athlete").await.status(),
        StatusCode::OK
    );
    assert!(started.elapsed() >= Duration::from_millis(300));

    sim.set_fault(None);
    assert_eq!(
        get(&sim, &c, &t.access, "/athlete").await.status(),
        StatusCode::OK
    );
    assert_eq!(refresh(&sim, &c, &t.refresh).await.status(), StatusCode::OK);

    let counts = sim.request_counts();
    assert_eq!(counts.get("GET /athlete"), Some(&3));
    assert_eq!(counts.get("GET /athlete/activities"), Some(&1));
    assert_eq!(counts.get("GET /athletes/{id}/stats"), Some(&1));
    assert_eq!(counts.get("POST /oauth/token"), Some(&3));
    assert_eq!(sim.token_refresh_count(), 1);
    sim.reset_counts();
    assert!(sim.request_counts().is_empty());
    assert_eq!(sim.request_count("GET /athlete"), 0);
    sim.stop().await;
}

#[actix_web::test]
async fn configured_latency_delays_every_request() {
    let sim = start(SimConfig {
        latency: Duration::from_millis(150),
        ..SimConfig::default()
    })
    .await;
    let started = Instant::now();
    let r = client()
        .get(format!("{}/athlete", sim.api_base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(started.elapsed() >= Duration::from_millis(150));
    sim.stop().await;
}

#[actix_web::test]
async fn unknown_routes_and_methods_get_json_404s() {
    let sim = start(SimConfig::default()).await;
    let c = client();
    let expected = json!({"message":"Record Not Found","errors":[{"resource":"resource","field":"path","code":"invalid"}]});
    for (method, path) in [
        (reqwest::Method::GET, "/api/v3/nothing/here"),
        (reqwest::Method::POST, "/api/v3/athlete"),
        (reqwest::Method::GET, "/oauth/token"),
        (reqwest::Method::GET, "/"),
    ] {
        let r = c
            .request(method.clone(), format!("{}{path}", sim.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(
            r.headers()["content-type"],
            "application/json; charset=utf-8"
        );
        assert_eq!(r.json::<Value>().await.unwrap(), expected);
    }
    assert_eq!(sim.request_count("GET (unmatched)"), 3);
    assert_eq!(sim.request_count("POST (unmatched)"), 1);
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Push subscriptions and events

type Events = Arc<Mutex<Vec<Value>>>;

/// A stand-in for milepost's webhook endpoint: echoes the challenge when the verify token
/// matches and records every event POSTed to it.
async fn start_callback(
    verify_token: &'static str,
) -> (String, Events, actix_web::dev::ServerHandle) {
    let events: Events = Arc::default();
    let recorded = Arc::clone(&events);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let recorded = Arc::clone(&recorded);
        App::new()
            .route(
                "/webhook",
                web::get().to(move |q: web::Query<HashMap<String, String>>| async move {
                    if q.get("hub.mode").map(String::as_str) == Some("subscribe")
                        && q.get("hub.verify_token").map(String::as_str) == Some(verify_token)
                    {
                        HttpResponse::Ok().json(json!({ "hub.challenge": q.get("hub.challenge") }))
                    } else {
                        HttpResponse::Forbidden().finish()
                    }
                }),
            )
            .route(
                "/webhook",
                web::post().to(move |event: web::Json<Value>| {
                    let recorded = Arc::clone(&recorded);
                    async move {
                        recorded.lock().unwrap().push(event.into_inner());
                        HttpResponse::Ok().finish()
                    }
                }),
            )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}/webhook"), events, handle)
}

const APP: [(&str, &str); 2] = [
    ("client_id", "12345"),
    ("client_secret", "sim-client-secret"),
];

#[actix_web::test]
async fn push_subscription_lifecycle_and_event_delivery() {
    let sim = start(SimConfig::default()).await;
    let c = client();
    let (callback, events, callback_server) = start_callback("s3cret").await;
    let subs = format!("{}/push_subscriptions", sim.api_base_url());

    let r = c.get(&subs).query(&APP).send().await.unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        fixture_body("no_push_subscriptions.json")
    );
    assert!(
        sim.deliver_event(json!({})).await.is_err(),
        "nothing to deliver to yet"
    );

    // A wrong verify token fails validation.
    let form = |token: &'static str| {
        [
            APP[0],
            APP[1],
            ("callback_url", callback.as_str()),
            ("verify_token", token),
        ]
    };
    let r = c.post(&subs).form(&form("wrong")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap()["errors"][0]["code"],
        json!("not verifiable")
    );

    let r = c.post(&subs).form(&form("s3cret")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    let recorded = fixture_body("create_push_subscription.json");
    assert_eq!(keys(&created), keys(&recorded));
    for k in keys(&recorded) {
        assert_eq!(kind(&created[&k]), kind(&recorded[&k]), "{k}");
    }
    assert_eq!(created["callback_url"], json!(callback));
    assert_eq!(created["application_id"], json!(12345));
    let id = created["id"].as_i64().unwrap();
    assert_eq!(sim.subscription_id(), Some(id));

    // One subscription per app.
    let r = c.post(&subs).form(&form("s3cret")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap()["errors"][0]["code"],
        json!("already exists")
    );

    let listed: Value = c
        .get(&subs)
        .query(&APP)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(
        keys(&listed[0]),
        keys(&fixture_body("push_subscriptions.json")[0])
    );
    assert_eq!(listed[0]["id"], json!(id));
    let r = c
        .get(&subs)
        .query(&[("client_id", "12345"), ("client_secret", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        fixture_body("authorization_error.json")
    );

    let activity_id = sim.activities()[0]["id"].as_i64().unwrap();
    let event = sim.activity_event("update", activity_id, json!({"title": "New name"}));
    assert_eq!(sim.deliver_event(event.clone()).await.unwrap(), 200);
    assert_eq!(
        sim.deliver_event(sim.deauthorization_event())
            .await
            .unwrap(),
        200
    );
    {
        let got = events.lock().unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], event);
        assert_eq!(got[0]["subscription_id"], json!(id));
        assert_eq!(got[0]["owner_id"], json!(8_675_309));
        assert_eq!(got[1]["updates"], json!({"authorized": "false"}));
        assert_eq!(got[1]["object_type"], json!("athlete"));
    }

    let r = c
        .delete(format!("{subs}/{}", id + 1))
        .query(&APP)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = c
        .delete(format!("{subs}/{id}"))
        .query(&APP)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(r.text().await.unwrap().is_empty());
    assert_eq!(sim.subscription_id(), None);
    let r = c.get(&subs).query(&APP).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!([]));

    assert_eq!(sim.request_count("POST /push_subscriptions"), 3);
    assert_eq!(sim.request_count("GET /push_subscriptions"), 4);
    assert_eq!(sim.request_count("DELETE /push_subscriptions/{id}"), 2);
    callback_server.stop(true).await;
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

#[actix_web::test]
async fn stop_frees_the_port_and_urls_point_at_it() {
    let sim = start(SimConfig::default()).await;
    let addr = sim.addr();
    assert_eq!(sim.base_url(), format!("http://127.0.0.1:{}", addr.port()));
    assert_eq!(sim.api_base_url(), format!("{}/api/v3", sim.base_url()));
    assert_eq!(sim.oauth_base_url(), format!("{}/oauth", sim.base_url()));
    assert_eq!(sim.config().athlete_id, 8_675_309);
    // An open keep-alive connection must not hold the stop up.
    let c = client();
    assert_eq!(
        c.get(format!("{}/athlete", sim.api_base_url()))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let started = Instant::now();
    sim.stop().await;
    assert!(started.elapsed() < Duration::from_secs(5));
    std::net::TcpListener::bind(addr).expect("port is free after stop");
    drop(c);
}

#[test]
fn config_debug_hides_the_client_secret() {
    let shown = format!("{:?}", SimConfig::default());
    assert!(shown.contains("12345"));
    assert!(!shown.contains("sim-client-secret"));
}

#[test]
fn start_works_on_a_plain_tokio_runtime_too() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let sim = start(SimConfig {
            history_years: 0,
            ..SimConfig::default()
        })
        .await;
        let r = client()
            .get(format!("{}/athlete", sim.api_base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(
            !sim.activities().is_empty(),
            "the current month is never empty"
        );
        sim.stop().await;
    });
}

#[actix_web::test]
async fn same_seed_gives_the_same_history_across_instances() {
    let a = start(SimConfig::default()).await;
    let b = start(SimConfig::default()).await;
    let c = start(SimConfig {
        seed: 7,
        ..SimConfig::default()
    })
    .await;
    let (list_a, list_b, list_c) = (a.activities(), b.activities(), c.activities());
    let yesterday = Utc::now() - chrono::Duration::days(1);
    let before = |l: &[Value]| {
        l.iter()
            .filter(|v| parse_time(&v["start_date"]) < yesterday)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(before(&list_a), before(&list_b));
    assert_ne!(before(&list_a), before(&list_c));
    for s in [a, b, c] {
        s.stop().await;
    }
}
