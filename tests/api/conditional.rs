//! Conditional reads: `If-None-Match` compared weakly, as RFC 9110 says, with `*` and lists.

use crate::helpers::spawn_app;

#[actix_web::test]
async fn if_none_match_compares_weakly_and_accepts_star_and_lists() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let r = app.get("/strava/stats/ytd").await;
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let send = |values: Vec<String>| {
        let mut req = app.http.get(app.url("/strava/stats/ytd"));
        for value in values {
            req = req.header("If-None-Match", value);
        }
        req.send()
    };

    for values in [
        vec![etag.clone()],
        vec![format!("W/{etag}")],
        vec!["*".to_owned()],
        vec![format!("\"other\", {etag}")],
        vec!["\"other\"".to_owned(), etag.clone()],
    ] {
        let r = send(values.clone()).await.unwrap();
        assert_eq!(r.status().as_u16(), 304, "{values:?}");
        assert_eq!(r.headers()["etag"], etag.as_str(), "{values:?}");
        assert_eq!(r.headers()["cache-control"], "public, max-age=60");
        assert!(r.bytes().await.unwrap().is_empty(), "{values:?}");
    }
    for values in [
        vec!["\"other\"".to_owned()],
        vec![etag.trim_matches('"').to_owned()],
        vec![String::new()],
    ] {
        let r = send(values.clone()).await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{values:?}");
        assert_eq!(r.headers()["etag"], etag.as_str());
        assert!(!r.bytes().await.unwrap().is_empty(), "{values:?}");
    }
}
