use secrecy::ExposeSecret;
use serde_json::json;

use crate::helpers::{json, spawn_app, spawn_app_unready};

#[actix_web::test]
async fn health_reports_the_database_and_no_connection_yet() {
    let app = spawn_app().await;
    let r = app.get("/strava/health").await;
    assert_eq!(r.status().as_u16(), 200);
    let body = json(r).await;
    assert_eq!(body["status"], json!("ok"));
    assert_eq!(body["service"], json!("strava"));
    assert_eq!(body["database"], json!("connected"));
    assert_eq!(body["strava"], json!("not_connected"));
}

#[actix_web::test]
async fn a_trailing_slash_reaches_the_same_route() {
    let app = spawn_app().await;
    let r = app.get("/strava/health/").await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(json(r).await["service"], json!("strava"));
}

#[actix_web::test]
async fn readiness_waits_for_the_cache_to_warm_while_liveness_answers_at_once() {
    // the served bodies cannot be read: the cache cannot warm
    let app = spawn_app_unready("ALTER TABLE response_bodies RENAME TO bodies_elsewhere").await;
    assert_eq!(app.get("/livez").await.status().as_u16(), 200);
    let r = app.get("/readyz").await;
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(
        json(r).await,
        json!({"detail": "Not ready: cache warming", "code": "not_ready"})
    );
    // once they can, it warms (it retries every 2 s) and is ready
    app.db()
        .await
        .batch_execute("ALTER TABLE bodies_elsewhere RENAME TO response_bodies")
        .await
        .unwrap();
    let mut ready = false;
    for _ in 0..400 {
        ready = app.get("/readyz").await.status().as_u16() == 200;
        if ready {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(ready, "never ready");
    assert_eq!(
        json(app.get("/readyz").await).await,
        json!({"status": "ready"})
    );
}

#[actix_web::test]
async fn unknown_paths_get_the_json_404() {
    let app = spawn_app().await;
    let r = app.get("/strava/nope").await;
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(json(r).await, json!({"detail": "Not Found"}));
}

#[actix_web::test]
async fn a_wrong_method_gets_the_json_405_with_allow() {
    let app = spawn_app().await;
    let r = app
        .http
        .post(app.url("/strava/stats/ytd"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(r.headers()["allow"], "GET");
    assert_eq!(json(r).await, json!({"detail": "Method Not Allowed"}));
    let r = app.get("/strava/refresh-data").await;
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(r.headers()["allow"], "POST");
}

#[actix_web::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    let r = app.get("/strava/health").await;
    let h = r.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(
        h["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
    assert_eq!(h["cache-control"], "no-store");
    assert!(
        h.get("strict-transport-security").is_none(),
        "HSTS only in production"
    );
}

#[actix_web::test]
async fn metrics_show_each_actors_message_counts() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let text = app.get("/metrics").await.text().await.unwrap();
    for (actor, message) in [
        ("CacheReader", "Get"),
        ("CacheActor", "Ingest"),
        ("TokenActor", "BeginAuthorization"),
        ("TokenActor", "AccessToken"),
        ("FetcherActor", "Connect"),
        ("FetcherActor", "RunSync"),
    ] {
        let line = format!(
            "milepost_actor_messages_handled_total{{actor=\"{actor}\",message=\"{message}\"}}"
        );
        let count: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix(&line))
            .unwrap_or_else(|| panic!("no {line} in\n{text}"))
            .trim()
            .parse()
            .unwrap();
        assert!(count >= 1.0, "{line} = {count}");
    }
    assert!(text.contains("milepost_actor_message_duration_seconds_bucket"));
    assert!(text.contains("milepost_actor_messages_in_flight"));
}

#[actix_web::test]
async fn operators_see_each_actor_the_budget_and_the_cache() {
    let app = spawn_app().await;
    let r = app.get("/strava/admin/actors").await;
    assert_eq!(r.status().as_u16(), 401);
    app.connect_and_sync().await;
    let r = app
        .http
        .get(app.url("/strava/admin/actors"))
        .header("X-API-Key", crate::helpers::API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body = json(r).await;
    for actor in ["CacheActor", "FetcherActor", "TokenActor"] {
        assert!(
            body["actors"][actor]["handled"].as_u64().unwrap() >= 1,
            "{body}"
        );
        assert!(
            body["actors"][actor]["last_handled_at"].is_string(),
            "{body}"
        );
    }
    assert_eq!(body["sync"]["strava"], json!("connected"));
    assert_eq!(body["budget"]["read_limit"], json!([100, 1000]));
    assert!(
        body["budget"]["read_usage"][0].as_u64().unwrap() >= 2,
        "{body}"
    );
    assert!(body["cache"]["entries"].as_i64().unwrap() > 3, "{body}");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("milepost_strava_budget_limit{kind=\"read\",window=\"15min\"} 100"),
        "{metrics}"
    );
    assert!(metrics.contains("milepost_sync_duration_seconds_count"));
}

#[actix_web::test]
async fn production_adds_hsts_and_secure_cookies() {
    let app = crate::helpers::spawn_app_with(Default::default(), |s| {
        s.environment = milepost::config::Environment::Production
    })
    .await;
    let r = app.get("/strava/health").await;
    assert!(
        r.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
    let link = app
        .services
        .setup_link()
        .expect("a setup link")
        .expose_secret()
        .to_owned();
    let r = app.get(&link[link.find("/strava").unwrap()..]).await;
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
}

#[actix_web::test]
async fn authorize_without_oauth_settings_is_the_old_500() {
    let app =
        crate::helpers::spawn_app_with(Default::default(), |s| s.strava_client_id = None).await;
    let r = app.get("/strava/authorize").await;
    assert_eq!(r.status().as_u16(), 500);
    assert_eq!(
        json(r).await,
        json!({"detail": "Strava OAuth not configured", "code": "oauth_not_configured"})
    );
}

#[actix_web::test]
async fn metrics_can_require_a_bearer_token() {
    let app = crate::helpers::spawn_app_with(Default::default(), |s| {
        s.metrics_token = Some("scrape-token".into())
    })
    .await;
    let r = app.get("/metrics").await;
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(json(r).await["code"], json!("invalid_metrics_token"));
    let r = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth("scrape-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("# TYPE milepost_actor_messages_handled counter")
    );
}

#[actix_web::test]
async fn disconnect_with_nobody_connected_is_a_conflict() {
    let app = spawn_app().await;
    let r = app.disconnect().await;
    assert_eq!(r.status().as_u16(), 409);
    assert_eq!(json(r).await["code"], json!("not_connected"));
}

/// How many times health asked Postgres so far.
async fn health_checks(app: &crate::helpers::TestApp) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("milepost_health_checks_total "))
        .and_then(|n| n.trim().parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no milepost_health_checks_total in\n{text}")) as u64
}

#[actix_web::test]
async fn a_flood_of_health_requests_asks_postgres_about_once_a_second() {
    let app = spawn_app().await;
    let before = health_checks(&app).await;
    let started = std::time::Instant::now();
    for _ in 0..5 {
        let answers = futures::future::join_all((0..40).map(|_| app.get("/strava/health"))).await;
        for r in answers {
            assert_eq!(r.status().as_u16(), 200);
            assert_eq!(json(r).await["database"], json!("connected"));
        }
    }
    let checks = health_checks(&app).await - before;
    let seconds = started.elapsed().as_secs();
    assert!(
        checks <= seconds + 2,
        "200 health requests in {seconds} s asked Postgres {checks} times"
    );
    assert!(checks >= 1);
}

#[actix_web::test]
async fn health_says_degraded_soon_after_postgres_goes_away_and_ok_once_it_is_back() {
    let app = spawn_app().await;
    assert_eq!(
        json(app.get("/strava/health").await).await["status"],
        json!("ok")
    );
    let name = url::Url::parse(&app.db_url).unwrap().path()[1..].to_owned();
    let admin = crate::helpers::connect(&app.db_url.replace(&name, "postgres")).await;
    let set_connections =
        |allowed: bool| format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS {allowed}");
    admin.batch_execute(&set_connections(false)).await.unwrap();
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            &[&name],
        )
        .await
        .unwrap();

    let started = std::time::Instant::now();
    let mut health = json(app.get("/strava/health").await).await;
    while health["status"] != json!("degraded") && started.elapsed().as_secs() < 10 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        health = json(app.get("/strava/health").await).await;
    }
    assert_eq!(
        health,
        json!({"status": "degraded", "service": "strava", "database": "disconnected"})
    );
    assert!(started.elapsed().as_secs() <= 4, "{:?}", started.elapsed());

    admin.batch_execute(&set_connections(true)).await.unwrap();
    let started = std::time::Instant::now();
    while health["status"] != json!("ok") && started.elapsed().as_secs() < 10 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        health = json(app.get("/strava/health").await).await;
    }
    assert_eq!(health["database"], json!("connected"));
}
