//! The OpenAPI document describes what the app does, and the docs page is served from the binary.

use serde_json::Value;

use crate::helpers::{json, spawn_app};

#[actix_web::test]
async fn every_documented_route_answers_with_documented_statuses_only() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let doc = json(app.get("/strava/openapi.json").await).await;
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 39, "{}", paths.len());
    let year = chrono::Datelike::year(&chrono::Utc::now()) - 1;
    for (path, methods) in paths {
        for (method, op) in methods.as_object().unwrap() {
            let url = app.url(&path.replace("{year}", &year.to_string()));
            let request = match method.as_str() {
                "get" => app.http.get(&url),
                "post" => app.http.post(&url),
                other => panic!("undocumented method {other}"),
            };
            // no API key, no parameters: what an unprepared caller gets must be documented too
            let response = request.send().await.unwrap();
            let h = response.headers();
            assert_eq!(h["x-content-type-options"], "nosniff", "{method} {path}");
            assert_eq!(h["referrer-policy"], "no-referrer", "{method} {path}");
            assert_eq!(h["x-frame-options"], "DENY", "{method} {path}");
            assert!(
                h["content-security-policy"]
                    .to_str()
                    .unwrap()
                    .contains("frame-ancestors 'none'")
            );
            let cache = h["cache-control"].to_str().unwrap();
            let read = path.contains("/stats/") || path.ends_with("/strava/activities");
            if read && response.status().is_success() {
                assert_eq!(cache, "public, max-age=60", "{method} {path}");
                assert!(h.contains_key("etag"), "{method} {path}");
            } else {
                assert_eq!(cache, "no-store", "{method} {path}");
            }
            let status = response.status().as_u16().to_string();
            let documented: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
            assert!(
                documented.contains(&&status),
                "{method} {path} answered {status}, documented {documented:?}"
            );
        }
    }
}

#[actix_web::test]
async fn both_prefixes_are_documented_alike_and_schemas_resolve() {
    let app = spawn_app().await;
    let doc: Value = json(app.get("/v1/strava/openapi.json").await).await;
    let paths = doc["paths"].as_object().unwrap();
    for path in paths.keys().filter(|p| p.starts_with("/strava/")) {
        assert_eq!(paths[path], paths[&format!("/v1{path}")], "{path}");
    }
    let text = doc.to_string();
    for reference in text.split("#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "missing schema {name}"
        );
    }
}

#[actix_web::test]
async fn the_docs_page_and_its_assets_come_from_the_binary_under_a_narrow_policy() {
    let app = spawn_app().await;
    let page = app.get("/strava/docs").await;
    assert_eq!(page.status().as_u16(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no CDN"
    );
    for asset in ["/strava/docs/docs.js", "/strava/docs/docs.css"] {
        let r = app.get(asset).await;
        assert_eq!(r.status().as_u16(), 200, "{asset}");
        assert!(!r.text().await.unwrap().contains("https://"), "{asset}");
    }
}

#[actix_web::test]
async fn every_route_the_app_registers_is_documented() {
    let app = spawn_app().await;
    let doc = json(app.get("/strava/openapi.json").await).await;
    let paths = doc["paths"].as_object().unwrap();
    // The routes as registered in src/http/mod.rs: `get("…")`, `post("…")`, `resource("…")`.
    let source = include_str!("../../src/http/mod.rs");
    let mut registered = Vec::new();
    for marker in ["get(", "post(", "resource("] {
        for rest in source.split(marker).skip(1) {
            let Some(literal) = rest.trim_start().strip_prefix('"') else {
                continue;
            };
            let path = literal.split('"').next().unwrap();
            if path.starts_with('/') {
                registered.push(path.to_owned());
            }
        }
    }
    assert!(registered.len() >= 23, "{registered:?}");
    for path in registered {
        let documented = paths.contains_key(&path)
            || (paths.contains_key(&format!("/strava{path}"))
                && paths.contains_key(&format!("/v1/strava{path}")));
        assert!(documented, "{path} is served but not documented");
    }
}
