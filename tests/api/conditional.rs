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

/// A large body goes gzipped to a client that takes gzip: its own ETag (a 304 for it, a 200
/// for the identity one), `Vary: Accept-Encoding, Origin` on every form, identity otherwise. A small
/// body is never gzipped.
#[actix_web::test]
async fn bodies_are_gzipped_for_clients_that_take_gzip_each_form_with_its_own_etag() {
    use std::io::Read;
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let path = "/strava/activities?limit=200";
    let get = |accept: Option<&'static str>, etag: Option<String>| {
        let mut req = app.http.get(app.url(path));
        if let Some(accept) = accept {
            req = req.header("Accept-Encoding", accept);
        }
        if let Some(etag) = etag {
            req = req.header("If-None-Match", etag);
        }
        req.send()
    };
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };

    let plain = get(None, None).await.unwrap();
    assert_eq!(header(&plain, "content-encoding"), None);
    assert_eq!(
        header(&plain, "vary").as_deref(),
        Some("Accept-Encoding, Origin")
    );
    let plain_etag = header(&plain, "etag").unwrap();
    let plain_body = plain.bytes().await.unwrap();

    let zipped = get(Some("br;q=1.0, gzip;q=0.8, *;q=0.1"), None)
        .await
        .unwrap();
    assert_eq!(zipped.status().as_u16(), 200);
    assert_eq!(header(&zipped, "content-encoding").as_deref(), Some("gzip"));
    assert_eq!(
        header(&zipped, "vary").as_deref(),
        Some("Accept-Encoding, Origin")
    );
    let zipped_etag = header(&zipped, "etag").unwrap();
    assert_ne!(zipped_etag, plain_etag);
    let compressed = zipped.bytes().await.unwrap();
    assert!(compressed.len() < plain_body.len() / 2);
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, plain_body);

    let revalidated = get(Some("gzip"), Some(zipped_etag.clone())).await.unwrap();
    assert_eq!(revalidated.status().as_u16(), 304);
    assert_eq!(header(&revalidated, "etag"), Some(zipped_etag.clone()));
    assert_eq!(
        header(&revalidated, "vary").as_deref(),
        Some("Accept-Encoding, Origin")
    );
    // the identity form's tag does not validate the gzip form, nor the other way round
    let other = get(Some("gzip"), Some(plain_etag.clone())).await.unwrap();
    assert_eq!(other.status().as_u16(), 200);
    let other = get(None, Some(zipped_etag)).await.unwrap();
    assert_eq!(other.status().as_u16(), 200);
    // q=0 refuses it
    let refused = get(Some("gzip;q=0, identity"), None).await.unwrap();
    assert_eq!(header(&refused, "content-encoding"), None);

    let small = app
        .http
        .get(app.url("/strava/stats/ytd"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&small, "content-encoding"), None);
    assert_eq!(
        header(&small, "vary").as_deref(),
        Some("Accept-Encoding, Origin")
    );
}
