use serde_json::json;

use crate::helpers::{FRONTEND, json, spawn_app_with};

const OTHER: &str = "https://other.example";

async fn preflight(app: &crate::helpers::TestApp, origin: &str, method: &str) -> reqwest::Response {
    app.http
        .request(reqwest::Method::OPTIONS, app.url("/strava/stats/ytd"))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", method)
        .header("Access-Control-Request-Headers", "if-none-match")
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_preflight_from_an_allowed_origin_is_answered_exactly() {
    let app = spawn_app_with(Default::default(), |s| {
        s.cors_allowed_origins = Some(OTHER.into())
    })
    .await;
    for origin in [FRONTEND, OTHER] {
        let r = preflight(&app, origin, "GET").await;
        assert_eq!(r.status().as_u16(), 204, "{origin}");
        let h = r.headers();
        assert_eq!(h["access-control-allow-origin"], origin);
        assert_eq!(h["access-control-allow-methods"], "GET, POST, OPTIONS");
        assert!(h.get("access-control-allow-credentials").is_none());
        assert_eq!(h["x-content-type-options"], "nosniff");
    }
}

#[actix_web::test]
async fn other_origins_and_methods_get_no_cors() {
    let app = spawn_app_with(Default::default(), |_| {}).await;
    let r = preflight(&app, "https://evil.example", "GET").await;
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    assert_eq!(json(r).await["code"], json!("cors_rejected"));
    let r = preflight(&app, FRONTEND, "DELETE").await;
    assert_eq!(r.status().as_u16(), 400);

    let r = app
        .http
        .get(app.url("/strava/health"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

#[actix_web::test]
async fn an_allowed_origins_requests_carry_its_exact_origin() {
    let app = spawn_app_with(Default::default(), |_| {}).await;
    let r = app
        .http
        .get(app.url("/strava/stats/ytd"))
        .header("Origin", FRONTEND)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], FRONTEND);
    assert_eq!(r.headers()["vary"], "Origin");
    assert!(
        r.headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
}
