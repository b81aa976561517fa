//! Garbage in never yields a 5xx, a panic or a dropped connection.

use crate::helpers::{API_KEY, spawn_app};

#[actix_web::test]
async fn hostile_queries_get_a_4xx_or_a_normal_answer_never_a_5xx() {
    let app = spawn_app().await;
    let long = "A".repeat(8_000);
    let paths = [
        "/strava/stats/monthly?type=%FF%FE%00".to_owned(),
        format!("/strava/stats/monthly?type={long}"),
        "/strava/stats/ytd?%%%=%%%".to_owned(),
        "/strava/callback?code=x&state=%00%FF".to_owned(),
        format!("/strava/callback?code={long}&state={long}"),
        "/strava/callback?code=x&state=OTk5OTk5OTk5OTk5OTk5OTk5OTk5Ojo6".to_owned(),
        "/strava/callback?code=&state=".to_owned(),
        "/strava/callback?error=access_denied&state=%FF".to_owned(),
        "/strava/health?x=%FF".to_owned(),
        "/strava/../../etc/passwd".to_owned(),
        "/strava/stats/%FF".to_owned(),
    ];
    for path in &paths {
        let r = app.get(path).await;
        let status = r.status().as_u16();
        assert!(status < 500, "{path} → {status}");
        let body = r.bytes().await.unwrap();
        if status != 307 {
            assert!(
                serde_json::from_slice::<serde_json::Value>(&body).is_ok(),
                "{path} answered a non-JSON body"
            );
        }
    }
    for query in ["full=99999999999999999999999", "full=%FF", "full="] {
        let r = app
            .http
            .post(app.url(&format!("/strava/refresh-data?{query}")))
            .header("X-API-Key", API_KEY)
            .send()
            .await
            .unwrap();
        assert!(r.status().as_u16() < 500, "{query} → {}", r.status());
    }
    let r = app
        .http
        .post(app.url("/strava/refresh-data"))
        .header("X-API-Key", "x".repeat(10_000))
        .body(vec![0xFFu8; 100_000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // still serving
    assert_eq!(app.get("/livez").await.status().as_u16(), 200);
}

#[actix_web::test]
async fn every_documented_route_survives_garbage_with_a_4xx_json_answer_at_worst() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let doc = crate::helpers::json(app.get("/strava/openapi.json").await).await;
    let garbage = [
        "?limit=99999999999999999999999&offset=-99999999999999999999&year=%FF%FE",
        "?type=%00%00&activity_type=%F0%28%8C%BC&full=%FF&year=-1",
        "?year=9223372036854775808&limit=1e3&offset=0x10",
        "?code=%FF&state=%FF&scope=%00&error=",
    ];
    for (path, methods) in doc["paths"].as_object().unwrap() {
        for method in methods.as_object().unwrap().keys() {
            for (i, query) in garbage.iter().enumerate() {
                let path = path.replace(
                    "{year}",
                    if i % 2 == 0 {
                        "99999999999999999999"
                    } else {
                        "%FF"
                    },
                );
                let url = app.url(&format!("{path}{query}"));
                let request = if method == "post" {
                    app.http
                        .post(&url)
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .body(vec![0xFFu8; 20_000])
                } else {
                    app.http.get(&url)
                };
                let r = request.send().await.unwrap();
                let status = r.status().as_u16();
                assert!(status < 500, "{method} {url} → {status}");
                let is_json = r
                    .headers()
                    .get("content-type")
                    .is_some_and(|t| t.to_str().unwrap().starts_with("application/json"));
                if status >= 400 {
                    assert!(is_json, "{method} {url} → {status} without a JSON body");
                }
            }
        }
    }
}

#[actix_web::test]
async fn oversized_queries_and_headers_get_json_refusals() {
    let app = spawn_app().await;
    let r = app
        .get(&format!("/strava/stats/ytd?type={}", "x".repeat(5_000)))
        .await;
    assert_eq!(r.status().as_u16(), 414);
    assert_eq!(
        crate::helpers::json(r).await["code"],
        serde_json::json!("uri_too_long")
    );
    let r = app
        .http
        .get(app.url("/strava/health"))
        .header("X-Filler", "y".repeat(20_000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 431);
    assert_eq!(
        crate::helpers::json(r).await["code"],
        serde_json::json!("headers_too_large")
    );
}
