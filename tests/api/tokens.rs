use milepost::actors::token::AccessToken;
use secrecy::ExposeSecret;

use crate::helpers::{API_KEY, spawn_app};

#[actix_web::test]
async fn a_token_near_expiry_is_refreshed_exactly_once_for_concurrent_askers() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    app.db()
        .await
        .execute(
            "UPDATE tokens SET expires_at = now() + interval '10 minutes'",
            &[],
        )
        .await
        .unwrap();
    let app = app.restart().await;
    app.sim.reset_counts();

    let asks = (0..10).map(|_| app.services.token.ask(AccessToken::default()));
    let grants = futures::future::join_all(asks).await;
    let tokens: Vec<String> = grants
        .into_iter()
        .map(|g| g.unwrap().unwrap().token.expose_secret().to_owned())
        .collect();
    assert_eq!(app.sim.request_count("POST /oauth/token"), 1);
    assert!(tokens.windows(2).all(|w| w[0] == w[1]));

    let left: f64 = app
        .db()
        .await
        .query_one(
            "SELECT extract(epoch FROM expires_at - now())::float8 FROM tokens",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(left > 3600.0, "the refreshed expiry is stored: {left}");
}

#[actix_web::test]
async fn a_wrong_encryption_key_never_sends_ciphertext_to_strava() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let mut app = app;
    app.settings.encryption_key = Some(secrecy::SecretString::from(
        "a-different-encryption-key-0123456789abcdef",
    ));
    let app = app.restart().await;
    app.sim.reset_counts();
    let r = app.refresh(Some(API_KEY)).await;
    assert_eq!(r.status().as_u16(), 500);
    let calls: u64 = app.sim.request_counts().values().sum();
    assert_eq!(calls, 0, "{:?}", app.sim.request_counts());
    // and what was cached keeps being served
    assert_eq!(app.get("/strava/stats/ytd").await.status().as_u16(), 200);
}

#[actix_web::test]
async fn a_revoked_connection_is_found_out_and_shown_as_needing_reauthorization() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    // The athlete revokes the app at Strava: the access token and the refresh token die.
    app.sim.revoke_access();
    let r = app.refresh(Some(API_KEY)).await;
    assert_eq!(r.status().as_u16(), 409);
    assert_eq!(
        crate::helpers::json(r).await["code"],
        serde_json::json!("reauthorization_required")
    );
    let health = crate::helpers::json(app.get("/strava/health").await).await;
    assert_eq!(
        health["strava"],
        serde_json::json!("reauthorization_required")
    );
    // no more syncs until the owner reconnects, and the cached stats stay
    app.sim.reset_counts();
    assert_eq!(app.refresh(Some(API_KEY)).await.status().as_u16(), 409);
    assert_eq!(app.sim.request_counts().values().sum::<u64>(), 0);
    assert_eq!(app.get("/strava/stats/ytd").await.status().as_u16(), 200);
    // reconnecting brings it back
    app.connect_and_sync().await;
    assert_eq!(app.refresh(Some(API_KEY)).await.status().as_u16(), 200);
}

/// Settings for a Strava that rotates refresh tokens and issues short-lived access tokens, so
/// every use of a token needs a refresh.
fn rotating() -> milepost::simulator::SimConfig {
    milepost::simulator::SimConfig {
        rotate_refresh_tokens: true,
        access_token_ttl_secs: 1_800,
        history_years: 0,
        ..Default::default()
    }
}

#[actix_web::test]
async fn fifty_rotations_across_restarts_never_lose_the_connection() {
    let mut app = crate::helpers::spawn_app_with(rotating(), |_| {}).await;
    app.connect_and_sync().await;
    for round in 0..5 {
        for _ in 0..10 {
            app.services
                .token
                .ask(AccessToken::default())
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
        }
        app = app.restart().await;
    }
    assert!(
        app.sim.token_refresh_count() >= 50,
        "{}",
        app.sim.token_refresh_count()
    );
    assert_eq!(app.refresh(Some(API_KEY)).await.status().as_u16(), 200);
}

/// What a crash between Strava's rotation and our commit leaves: Strava has issued a new
/// refresh token we never stored, and killed the one we have. Nothing can recover a refresh
/// token Strava has already replaced, so the design makes the loss visible and recoverable:
/// the connection reads `reauthorization_required`, syncs stop, the cached stats keep being
/// served, and the owner's next visit to /strava/authorize restores everything.
#[actix_web::test]
async fn a_rotation_lost_in_a_crash_asks_the_owner_to_reconnect_and_keeps_serving() {
    let app = crate::helpers::spawn_app_with(rotating(), |_| {}).await;
    app.connect_and_sync().await;
    // Replay the crash: rotate at Strava with our stored refresh token and drop the answer.
    let row = app
        .db()
        .await
        .query_one("SELECT athlete_id, refresh_token FROM tokens", &[])
        .await
        .unwrap();
    let cipher = milepost::crypto::TokenCipher::new(
        &secrecy::SecretString::from(crate::helpers::ENCRYPTION_KEY),
        &[],
    );
    let refresh = cipher
        .decrypt(&row.get::<_, String>(1), row.get(0), "refresh_token")
        .unwrap();
    let lost = reqwest::Client::new()
        .post(format!("{}/token", app.sim.oauth_base_url()))
        .form(&[
            ("client_id", app.sim.config().client_id.as_str()),
            ("client_secret", app.sim.config().client_secret.as_str()),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.expose_secret()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(lost.status().as_u16(), 200);
    let app = app.restart().await;

    let r = app.refresh(Some(API_KEY)).await;
    assert_eq!(r.status().as_u16(), 409);
    let health = crate::helpers::json(app.get("/strava/health").await).await;
    assert_eq!(
        health["strava"],
        serde_json::json!("reauthorization_required")
    );
    assert_eq!(
        app.get("/strava/stats/monthly").await.status().as_u16(),
        200
    );

    app.connect_and_sync().await;
    assert_eq!(app.refresh(Some(API_KEY)).await.status().as_u16(), 200);
}

/// Two processes needing a token at once never spend one refresh token twice: the refresh
/// holds the token row, and the second uses what the first stored.
#[actix_web::test]
async fn two_replicas_refreshing_at_once_never_spend_a_rotated_refresh_token() {
    let app = crate::helpers::spawn_app_with(rotating(), |_| {}).await;
    app.connect_and_sync().await;
    let replica = app.replica().await;
    app.sim.reset_counts();
    for round in 0..10 {
        let (a, b) = futures::join!(
            app.services.token.ask(AccessToken::default()),
            replica.services.token.ask(AccessToken::default()),
        );
        for (who, grant) in [("app", a), ("replica", b)] {
            if let Err(e) = grant.unwrap() {
                panic!("round {round}, {who}: {e}");
            }
        }
    }
    let health = crate::helpers::json(app.get("/strava/health").await).await;
    assert_eq!(health["strava"], serde_json::json!("connected"));
    assert!(app.sim.token_refresh_count() >= 10);
    replica.stop().await;
}

/// Postgres refusing the write of a rotated token loses nothing: the tokens are kept, the
/// refresh token Strava has replaced is never sent again, and the write is retried, asked for
/// or not, until it lands.
#[actix_web::test]
async fn a_rotated_token_postgres_could_not_take_is_kept_and_saved_later() {
    let app = crate::helpers::spawn_app_with(rotating(), |_| {}).await;
    app.connect_and_sync().await;
    let db = app.db().await;
    let stored = async || -> String {
        let row = db
            .query_one("SELECT refresh_token FROM tokens", &[])
            .await
            .unwrap();
        row.get(0)
    };
    let before = stored().await;
    db.batch_execute(
        "CREATE FUNCTION refuse_writes() RETURNS trigger LANGUAGE plpgsql
             AS $$ BEGIN RAISE EXCEPTION 'no space left on device'; END $$;
         CREATE TRIGGER refuse_token_writes BEFORE UPDATE ON tokens
             FOR EACH ROW EXECUTE FUNCTION refuse_writes();",
    )
    .await
    .unwrap();
    app.sim.reset_counts();
    for _ in 0..3 {
        let asked = app
            .services
            .token
            .ask(AccessToken::default())
            .await
            .unwrap();
        assert!(
            matches!(asked, Err(milepost::actors::token::TokenError::Storage(_))),
            "{asked:?}"
        );
    }
    assert_eq!(
        app.sim.request_count("POST /oauth/token"),
        1,
        "the replaced refresh token was sent again"
    );

    db.batch_execute("DROP TRIGGER refuse_token_writes ON tokens")
        .await
        .unwrap();
    assert!(
        crate::helpers::eventually(async || stored().await != before).await,
        "the kept tokens were never saved"
    );
    // What was saved works: a restarted app refreshes with it.
    let app = app.restart().await;
    app.services
        .token
        .ask(AccessToken::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(app.refresh(Some(API_KEY)).await.status().as_u16(), 200);
}

const NEW_KEY: &str = "a-brand-new-encryption-key-0123456789abcdef";

/// A synced app, and its settings for `keys rotate` to [`NEW_KEY`] from the app's key.
async fn synced_app_and_new_key_settings() -> (crate::helpers::TestApp, milepost::config::Settings)
{
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let mut settings = app.settings.clone();
    settings.encryption_key = Some(secrecy::SecretString::from(NEW_KEY));
    settings.encryption_keys_previous =
        Some(secrecy::SecretString::from(crate::helpers::ENCRYPTION_KEY));
    (app, settings)
}

#[actix_web::test]
async fn keys_rotate_moves_every_token_to_the_new_key() {
    let (app, settings) = synced_app_and_new_key_settings().await;
    let out = milepost::commands::keys_rotate(&settings).await.unwrap();
    assert!(out.contains("1 athlete"), "{out}");

    let new_only = milepost::crypto::TokenCipher::new(&secrecy::SecretString::from(NEW_KEY), &[]);
    let row = app
        .db()
        .await
        .query_one(
            "SELECT athlete_id, access_token, refresh_token FROM tokens",
            &[],
        )
        .await
        .unwrap();
    for (i, field) in [(1, "access_token"), (2, "refresh_token")] {
        let stored: String = row.get(i);
        assert!(new_only.is_current(&stored));
        assert!(new_only.decrypt(&stored, row.get(0), field).is_ok());
    }
    // the app runs on the new key alone
    let mut app = app;
    app.settings.encryption_key = Some(secrecy::SecretString::from(NEW_KEY));
    let app = app.restart().await;
    assert_eq!(app.refresh(Some(API_KEY)).await.status().as_u16(), 200);
}

/// A refresh that commits a rotated token while `keys rotate` runs must not be overwritten by
/// the row `keys rotate` read before it: the command locks the rows it rewrites.
#[actix_web::test]
async fn keys_rotate_never_overwrites_a_token_rotated_meanwhile() {
    let (app, settings) = synced_app_and_new_key_settings().await;
    let old_key = milepost::crypto::TokenCipher::new(
        &secrecy::SecretString::from(crate::helpers::ENCRYPTION_KEY),
        &[],
    );

    // A refresh in progress: it holds the row and is about to commit a rotated token.
    let mut refresher = app.db().await;
    let refresh = refresher.transaction().await.unwrap();
    let athlete_id: i64 = refresh
        .query_one("SELECT athlete_id FROM tokens FOR UPDATE", &[])
        .await
        .unwrap()
        .get(0);
    let rotate = actix_web::rt::spawn(async move {
        milepost::commands::keys_rotate(&settings)
            .await
            .map_err(|e| e.to_string())
    });
    let observer = app.db().await;
    let waiting = async || {
        let row = observer
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .await
            .unwrap();
        row.get::<_, i64>(0) == 1
    };
    assert!(
        crate::helpers::eventually(waiting).await,
        "keys rotate never waited for the refresh's row lock"
    );
    let rotated = old_key.encrypt("the-rotated-refresh-token", athlete_id, "refresh_token");
    refresh
        .execute("UPDATE tokens SET refresh_token = $1", &[&rotated])
        .await
        .unwrap();
    refresh.commit().await.unwrap();

    let out = rotate.await.unwrap().unwrap();
    assert!(out.contains("1 athlete"), "{out}");
    let new_only = milepost::crypto::TokenCipher::new(&secrecy::SecretString::from(NEW_KEY), &[]);
    let stored: String = observer
        .query_one("SELECT refresh_token FROM tokens", &[])
        .await
        .unwrap()
        .get(0);
    let plain = new_only
        .decrypt(&stored, athlete_id, "refresh_token")
        .unwrap();
    assert_eq!(plain.expose_secret(), "the-rotated-refresh-token");
}
