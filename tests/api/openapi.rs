//! The OpenAPI document describes what the app does, and the docs page is served from the binary.

use serde_json::Value;

use crate::helpers::{API_KEY, TestApp, json, spawn_app, spawn_app_with};

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
                "delete" => app.http.delete(&url),
                other => panic!("undocumented method {other}"),
            };
            // no API key, no parameters: what an unprepared caller gets must be documented too
            let response = request.send().await.unwrap();
            let h = response.headers();
            assert_eq!(h["x-content-type-options"], "nosniff", "{method} {path}");
            assert_eq!(h["referrer-policy"], "no-referrer", "{method} {path}");
            assert_eq!(h["x-frame-options"], "DENY", "{method} {path}");
            let policy = h["content-security-policy"].to_str().unwrap();
            if path.contains("/cards/") {
                // An image to embed anywhere: SPEC's policy for the cards, to the letter.
                assert_eq!(policy, "default-src 'none'; style-src 'unsafe-inline'");
            } else {
                assert!(policy.contains("frame-ancestors 'none'"), "{method} {path}");
            }
            let cache = h["cache-control"].to_str().unwrap();
            let read = path.contains("/stats/")
                || path.contains("/cards/")
                || path.ends_with("/strava/activities");
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

const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// The STRAVA_WEBHOOK_SECRET of the apps that check the webhook's secret path.
const WEBHOOK_SECRET: &str = "openapi-webhook-secret-0123456789";

/// The documented path with its path parameters filled in with valid values.
fn concrete(path: &str) -> String {
    let year = chrono::Datelike::year(&chrono::Utc::now()) - 1;
    path.replace("{year}", &year.to_string())
        .replace("{secret}", WEBHOOK_SECRET)
}

/// Whether the operation says it may answer as an unknown path does (the webhook's paths
/// other than the one Strava was given).
fn answers_as_unknown(op: &Value) -> bool {
    op["responses"]["404"]["content"]["application/json"]["schema"]["$ref"]
        == "#/components/schemas/NotFound"
}

fn request(app: &TestApp, method: &str, url: &str) -> reqwest::RequestBuilder {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    app.http.request(method, url).header("X-API-Key", API_KEY)
}

#[actix_web::test]
async fn every_documented_operation_is_served_and_its_path_allows_only_the_documented_methods() {
    let app = spawn_app_with(Default::default(), |s| {
        s.strava_webhook_secret = Some(WEBHOOK_SECRET.into())
    })
    .await;
    let doc = json(app.get("/strava/openapi.json").await).await;
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 40, "{}", paths.len());
    for (path, operations) in paths {
        let url = app.url(&concrete(path));
        let mut documented: Vec<String> = operations
            .as_object()
            .unwrap()
            .keys()
            .map(|m| m.to_uppercase())
            .collect();
        documented.sort();
        for method in METHODS {
            let response = request(&app, method, &url).send().await.unwrap();
            let status = response.status().as_u16();
            let allow = response
                .headers()
                .get("allow")
                .map(|v| v.to_str().unwrap().to_owned());
            let body = response.text().await.unwrap();
            if documented.iter().any(|m| m == method) {
                assert_ne!(status, 405, "{method} {path} is documented but not served");
                let op = &operations[method.to_lowercase().as_str()];
                assert!(
                    !(status == 404 && body == r#"{"detail":"Not Found"}"#)
                        || answers_as_unknown(op),
                    "{method} {path} is documented but not routed"
                );
            } else {
                assert_eq!(status, 405, "{method} {path} is not documented: {body}");
                let mut allowed: Vec<String> = allow
                    .unwrap_or_default()
                    .split(", ")
                    .map(str::to_owned)
                    .collect();
                allowed.sort();
                assert_eq!(allowed, documented, "Allow of {path}");
            }
        }
    }
    let unknown = app.get("/strava/not-a-route").await;
    assert_eq!(unknown.status().as_u16(), 404);
}

/// Sends `value` as the parameter and tells whether the handler refused it with a 422 naming it.
async fn refused(app: &TestApp, method: &str, path: &str, param: &Value, value: &str) -> bool {
    let name = param["name"].as_str().unwrap();
    let place = param["in"].as_str().unwrap();
    let url = match place {
        "path" => app.url(&path.replace(&format!("{{{name}}}"), value)),
        "query" => format!("{}?{name}={value}", app.url(&concrete(path))),
        other => panic!("{method} {path}: a bounded {other} parameter"),
    };
    let response = request(app, method, &url).send().await.unwrap();
    if response.status().as_u16() != 422 {
        return false;
    }
    let body = json(response).await;
    body["detail"]
        .as_array()
        .unwrap()
        .iter()
        .any(|problem| problem["loc"] == serde_json::json!([place, name]))
}

#[actix_web::test]
async fn every_documented_parameter_bound_is_the_one_the_handler_enforces() {
    let app = spawn_app().await;
    let doc = json(app.get("/strava/openapi.json").await).await;
    let mut checked = 0;
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, op) in operations.as_object().unwrap() {
            let method = method.to_uppercase();
            for param in op["parameters"].as_array().unwrap() {
                let schema = &param["schema"];
                let name = param["name"].as_str().unwrap();
                let case = format!("{method} {path} {name}");
                match schema["type"].as_str().unwrap() {
                    "integer" => {
                        let min = schema["minimum"].as_i64().unwrap();
                        let max = schema["maximum"].as_i64().unwrap();
                        for v in [min, max] {
                            let v = v.to_string();
                            assert!(!refused(&app, &method, path, param, &v).await, "{case}={v}");
                        }
                        for v in [i128::from(min) - 1, i128::from(max) + 1] {
                            let v = v.to_string();
                            assert!(refused(&app, &method, path, param, &v).await, "{case}={v}");
                        }
                        assert!(refused(&app, &method, path, param, "1.5").await, "{case}");
                    }
                    "boolean" => {
                        assert!(!refused(&app, &method, path, param, "true").await, "{case}");
                        assert!(refused(&app, &method, path, param, "maybe").await, "{case}");
                    }
                    _ => continue,
                }
                checked += 1;
            }
        }
    }
    // limit, offset and year on both prefixes' /activities, the years of summary and
    // longest-*, and refresh-data's full.
    assert!(checked >= 2 * 7, "checked {checked}");
}

#[actix_web::test]
async fn the_summary_year_stops_at_the_current_year() {
    let app = spawn_app().await;
    let doc = json(app.get("/strava/openapi.json").await).await;
    let year = &doc["paths"]["/strava/stats/summary/{year}"]["get"]["parameters"][0];
    assert_eq!(year["name"], "year");
    let now = i64::from(chrono::Datelike::year(&chrono::Utc::now()));
    assert_eq!(year["schema"]["maximum"], serde_json::json!(now));
    assert_eq!(year["schema"]["minimum"], serde_json::json!(2000));
    assert_eq!(year["required"], serde_json::json!(true));
}
