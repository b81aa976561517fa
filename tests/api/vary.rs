//! Every answer carries one `Vary` line: a read's names `Accept-Encoding` and `Origin` together
//! (caches and security scanners that read only the first line must see both).

use reqwest::header::VARY;

use crate::helpers::{FRONTEND, spawn_app};

/// The `Vary` lines of an answer.
fn vary(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all(VARY)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn a_read_a_cors_read_and_a_304_carry_one_vary_line() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let both = vec!["Accept-Encoding, Origin".to_owned()];

    let read = app.get("/strava/stats/monthly").await;
    assert_eq!(read.status().as_u16(), 200);
    assert_eq!(vary(&read), both);
    let etag = read.headers()["etag"].clone();

    let gzipped = app
        .http
        .get(app.url("/strava/activities?limit=200"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    assert_eq!(vary(&gzipped), both);

    let cors = app
        .http
        .get(app.url("/strava/stats/monthly"))
        .header("Origin", FRONTEND)
        .send()
        .await
        .unwrap();
    assert_eq!(cors.headers()["access-control-allow-origin"], FRONTEND);
    assert_eq!(vary(&cors), both);

    let revalidated = app
        .http
        .get(app.url("/strava/stats/monthly"))
        .header("Origin", FRONTEND)
        .header("If-None-Match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status().as_u16(), 304);
    assert_eq!(vary(&revalidated), both);

    // An answer that is no cached body varies on the origin alone.
    assert_eq!(vary(&app.get("/strava/health").await), vec!["Origin"]);
}
