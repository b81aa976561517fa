//! Production's first connection: without OWNER_ATHLETE_ID and with no owner yet,
//! `/strava/authorize` needs the one-time setup code whose link start-up prints.

use milepost::config::Environment;
use secrecy::ExposeSecret;
use serde_json::json;

use crate::helpers::{
    API_KEY, FRONTEND, TestApp, json, location, spawn_app, spawn_app_with, strava_of_athlete,
};

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

/// The operator's disconnect, which must succeed.
async fn disconnect(app: &TestApp) {
    let r = app.disconnect().await;
    assert_eq!(r.status().as_u16(), 200);
}

/// Whether the operators' view says a setup link is waiting.
async fn setup_link_waiting(app: &TestApp) -> serde_json::Value {
    let r = app
        .http
        .get(app.url("/strava/admin/actors"))
        .header("X-API-Key", API_KEY)
        .send()
        .await
        .unwrap();
    json(r).await["setup_link_waiting"].clone()
}

/// `path?query` of `url`, to send to the app wherever it listens now.
fn path_of(url: &str) -> String {
    let url = url::Url::parse(url).unwrap();
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

#[actix_web::test]
async fn a_state_fetched_while_an_owner_existed_cannot_claim_the_instance_after_a_disconnect() {
    let app = production(None).await;
    connect_via(&app, &setup_path(&app)).await;
    app.wait_for_sync_to_end().await;

    // Someone fetches a state while the owner exists (no code asked for) and waits on
    // Strava's consent page; the operator disconnects meanwhile.
    let (strava_url, cookie) = app.authorize().await;
    disconnect(&app).await;
    assert_eq!(
        json(app.get("/strava/health").await).await["strava"],
        json!("not_connected")
    );

    // They approve with their own account.
    let intruder = strava_of_athlete(424_242).await;
    let strava_url = strava_url.replace(&app.sim.oauth_base_url(), &intruder.oauth_base_url());
    let app = app.switch_strava(intruder).await;
    let callback = app.consent(&strava_url).await;
    let r = app
        .callback(&app.url(&path_of(&callback)), Some(&cookie))
        .await;
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(json(r).await["code"], json!("setup_required"));
    for table in ["tokens", "owner"] {
        assert_eq!(app.rows(table).await, 0, "{table}");
    }
    assert_eq!(app.sim.revoke_count(), 1, "their tokens are handed back");
    assert_eq!(setup_link_waiting(&app).await, json!(true));
}

#[actix_web::test]
async fn after_a_disconnect_the_old_setup_code_is_refused_and_the_fresh_link_works() {
    let app = production(None).await;
    let old = setup_path(&app);
    assert_eq!(setup_link_waiting(&app).await, json!(true));
    connect_via(&app, &old).await;
    app.wait_for_sync_to_end().await;
    assert_eq!(setup_link_waiting(&app).await, json!(false));

    disconnect(&app).await;
    assert_eq!(setup_link_waiting(&app).await, json!(true));
    let r = app.get(&old).await;
    assert_eq!(r.status().as_u16(), 403, "the old code is spent");
    assert_eq!(json(r).await["code"], json!("setup_required"));

    let fresh = setup_path(&app);
    assert_ne!(fresh, old, "a fresh link is printed at once");
    let r = connect_via(&app, &fresh).await;
    assert_eq!(location(&r), format!("{FRONTEND}/?strava=success"));
    assert_eq!(setup_link_waiting(&app).await, json!(false));
    assert_eq!(
        app.get(&fresh).await.status().as_u16(),
        307,
        "an owner exists"
    );
}

#[actix_web::test]
async fn a_confirmed_deauthorization_keeps_the_owner_and_prints_no_setup_link() {
    let app = spawn_app_with(Default::default(), |s| {
        s.environment = Environment::Production;
        s.strava_webhook_verify_token = Some("a-verify-token".into());
    })
    .await;
    connect_via(&app, &setup_path(&app)).await;
    app.wait_for_sync_to_end().await;
    milepost::commands::webhook_subscribe(&app.settings, &app.url("/strava/webhook"))
        .await
        .expect("subscribing");
    let printed = setup_path(&app);
    app.sim.revoke_access();
    let status = app
        .sim
        .deliver_event(app.sim.deauthorization_event())
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(
        crate::helpers::eventually(async || app.rows("tokens").await == 0).await,
        "the deauthorization is confirmed"
    );
    assert_eq!(app.rows("owner").await, 1);
    assert_eq!(setup_path(&app), printed, "no fresh link");
    assert_eq!(setup_link_waiting(&app).await, json!(false));
}

/// `link`'s path, as followed on any replica.
fn path_of_link(link: &secrecy::SecretString) -> String {
    let link = link.expose_secret();
    link[link.find("/strava/authorize").expect("a setup link")..].to_owned()
}

#[actix_web::test]
async fn every_replica_takes_one_setup_code_and_the_replica_that_disconnects_prints_the_next() {
    let app = production(None).await;
    // The follower's start-up found nobody owning the instance: its link replaced the leader's.
    let replica = app.replica().await;
    assert!(
        crate::helpers::eventually(async || app.services.replica.role().is_leader()).await,
        "the first app leads"
    );
    let started = replica
        .services
        .setup_link()
        .expect("the follower printed a link");
    assert_eq!(
        app.get(&setup_path(&app)).await.status().as_u16(),
        403,
        "the leader's older link no longer works"
    );
    let r = connect_via(&app, &path_of_link(&started)).await;
    assert_eq!(location(&r), format!("{FRONTEND}/?strava=success"));
    app.wait_for_sync_to_end().await;

    // The operator asks the follower; the leader carries the disconnect out and prints.
    let leaders_before = app.services.setup_link();
    let r = app
        .http
        .post(replica.url("/strava/disconnect"))
        .header("X-API-Key", API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let fresh = app
        .services
        .setup_link()
        .expect("the leader printed a link");
    assert_ne!(
        Some(fresh.expose_secret()),
        leaders_before.as_ref().map(|l| l.expose_secret())
    );
    assert_eq!(
        replica
            .services
            .setup_link()
            .map(|l| l.expose_secret().to_owned()),
        Some(started.expose_secret().to_owned()),
        "the follower printed nothing"
    );
    // The follower takes the leader's fresh code, and no longer the spent one.
    let at_follower = |path: String| app.http.get(replica.url(&path)).send();
    assert_eq!(
        at_follower(path_of_link(&started))
            .await
            .unwrap()
            .status()
            .as_u16(),
        403
    );
    assert_eq!(
        at_follower(path_of_link(&fresh))
            .await
            .unwrap()
            .status()
            .as_u16(),
        307
    );
    replica.stop().await;
}

/// The claim itself decides a first connection: when the operator's disconnect deletes the
/// owner while a returning owner's callback claims the instance, the claim waits for it and is
/// then a first connection (which needs the current setup code), never a returning owner's.
#[actix_web::test]
async fn a_claim_that_waited_on_a_disconnect_is_a_first_connection() {
    let url = crate::helpers::fresh_database().await;
    let disconnect = crate::helpers::connect(&url).await;
    disconnect
        .batch_execute("INSERT INTO owner (athlete_id) VALUES (7); BEGIN; DELETE FROM owner;")
        .await
        .unwrap();
    let pool = milepost::store::pool(&secrecy::SecretString::from(url), 2).unwrap();
    let claim = tokio::spawn(async move {
        let mut db = pool.get().await.unwrap();
        let tx = db.transaction().await.unwrap();
        let claim = milepost::store::claim_owner(&tx, 7).await.unwrap();
        tx.rollback().await.unwrap();
        claim
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!claim.is_finished(), "the claim waits for the disconnect");
    disconnect.batch_execute("COMMIT").await.unwrap();
    assert_eq!(claim.await.unwrap(), milepost::store::Claim::Claimed);

    // An owner already there is answered as such.
    let url = crate::helpers::fresh_database().await;
    let pool = milepost::store::pool(&secrecy::SecretString::from(url), 1).unwrap();
    let db = pool.get().await.unwrap();
    db.batch_execute("INSERT INTO owner (athlete_id) VALUES (7)")
        .await
        .unwrap();
    let claim = milepost::store::claim_owner(&db, 8).await.unwrap();
    assert_eq!(claim, milepost::store::Claim::Owned(7));
}
