//! The per-address rate limit on `/strava/authorize` and `/strava/callback`.

use crate::helpers::{TestApp, json, spawn_app_with};

async fn authorize_from(app: &TestApp, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut req = app.http.get(app.url("/strava/authorize"));
    if let Some(xff) = forwarded_for {
        req = req.header("X-Forwarded-For", xff);
    }
    req.send().await.expect("GET authorize")
}

#[actix_web::test]
async fn rapid_authorizes_from_one_address_get_429_after_the_limit() {
    let app = spawn_app_with(Default::default(), |s| {
        s.oauth_rate_limit_per_minute = 20;
        s.trusted_proxies = Some("127.0.0.1".into());
    })
    .await;
    let mut statuses = Vec::new();
    let mut refusal = None;
    for _ in 0..60 {
        let r = authorize_from(&app, None).await;
        statuses.push(r.status().as_u16());
        if r.status().as_u16() == 429 && refusal.is_none() {
            refusal = Some(r);
        }
    }
    assert!(statuses[..20].iter().all(|s| *s == 307), "{statuses:?}");
    assert_eq!(statuses[20], 429, "{statuses:?}");
    // One request a minute / 20 comes back every 3 s; a slow machine may see one of those.
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert!(refused >= 38, "{statuses:?}");
    let refusal = refusal.expect("a 429");
    let retry_after: u64 = refusal.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body = json(refusal).await;
    assert_eq!(body["code"], "too_many_requests");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("Too many requests")
    );

    // Another client behind the trusted proxy has its own allowance...
    let r = authorize_from(&app, Some("198.51.100.1, 203.0.113.5")).await;
    assert_eq!(r.status().as_u16(), 307);
    // ...and the callback its own (the first client's state is merely invalid).
    let r = app.get("/strava/callback?code=c&state=s").await;
    assert_eq!(r.status().as_u16(), 400);
}

#[actix_web::test]
async fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    let app = spawn_app_with(Default::default(), |s| {
        s.oauth_rate_limit_per_minute = 5;
        s.trusted_proxies = Some("192.0.2.1".into());
    })
    .await;
    for i in 0..5 {
        let r = authorize_from(&app, Some(&format!("203.0.113.{i}"))).await;
        assert_eq!(r.status().as_u16(), 307);
    }
    let r = authorize_from(&app, Some("203.0.113.99")).await;
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.headers().contains_key("retry-after"));
}

#[actix_web::test]
async fn callbacks_are_limited_too() {
    let app = spawn_app_with(Default::default(), |s| s.oauth_rate_limit_per_minute = 3).await;
    for _ in 0..3 {
        let r = app.get("/v1/strava/callback?code=c&state=s").await;
        assert_eq!(r.status().as_u16(), 400);
    }
    let r = app.get("/strava/callback?code=c&state=s").await;
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(json(r).await["code"], "too_many_requests");
}
