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

    let asks = (0..10).map(|_| app.services.token.ask(AccessToken));
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
