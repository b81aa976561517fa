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
