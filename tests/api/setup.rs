//! Production's first connection: without OWNER_ATHLETE_ID and with no owner yet,
//! `/strava/authorize` needs the one-time setup code whose link start-up prints.

use milepost::config::Environment;
use secrecy::ExposeSecret;

use crate::helpers::{FRONTEND, TestApp, json, location, spawn_app, spawn_app_with};

async fn production(owner: Option<i64>) -> TestApp {
    spawn_app_with(Default::default(), |s| {
        s.environment = Environment::Production;
        s.owner_athlete_id = owner;
    })
    .await
}

/// The printed link, as the operator would open it on this test's address.
fn setup_path(app: &TestApp) -> String {
    let link = app
        .services
        .setup_link()
        .expect("a setup link")
        .expose_secret()
        .to_owned();
    assert!(
        link.starts_with(&format!("{}/strava/authorize?setup=", app.address)),
        "{link}"
    );
    link[app.address.len()..].to_owned()
}

async fn connect_via(app: &TestApp, path: &str) -> reqwest::Response {
    let r = app.get(path).await;
    assert_eq!(r.status().as_u16(), 307, "{path}");
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let callback = app.consent(&location(&r)).await;
    app.callback(&callback, Some(&cookie)).await
}

#[actix_web::test]
async fn production_without_an_owner_needs_the_setup_link() {
    let app = production(None).await;
    for path in [
        "/strava/authorize",
        "/v1/strava/authorize?setup=",
        "/strava/authorize?setup=not-the-code",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status().as_u16(), 403, "{path}");
        let body = json(r).await;
        assert_eq!(body["code"], "setup_required", "{path}");
        assert!(
            body["detail"].as_str().unwrap().contains("start-up log"),
            "{body}"
        );
    }
    let path = setup_path(&app);
    let r = connect_via(&app, &path).await;
    assert_eq!(location(&r), format!("{FRONTEND}/?strava=success"));

    // An owner exists: the owner reconnects without any code.
    app.wait_for("/strava/stats/ytd").await;
    let r = connect_via(&app, "/strava/authorize").await;
    assert_eq!(location(&r), format!("{FRONTEND}/?strava=success"));
}

#[actix_web::test]
async fn the_setup_code_is_not_needed_once_an_owner_is_stored() {
    let app = production(None).await;
    let path = setup_path(&app);
    connect_via(&app, &path).await;
    app.wait_for("/strava/stats/ytd").await;
    // After a restart (the owner only in the database), the code is still not asked for.
    let app = app.restart().await;
    let r = app.get("/strava/authorize").await;
    assert_eq!(r.status().as_u16(), 307);
}

#[actix_web::test]
async fn a_pinned_owner_or_development_needs_no_setup_code() {
    let app = production(Some(8_675_309)).await;
    assert!(app.services.setup_link().is_none());
    assert_eq!(app.get("/strava/authorize").await.status().as_u16(), 307);
    let app = spawn_app().await;
    assert!(app.services.setup_link().is_none());
    assert_eq!(app.get("/strava/authorize").await.status().as_u16(), 307);
}
