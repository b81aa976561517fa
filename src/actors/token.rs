//! TokenActor: owns the athlete's OAuth tokens and the OAuth handshake. It decrypts the stored
//! tokens, hands out an access token, refreshing it first when less than an hour is left, and
//! does so single-flight: [`AccessToken`] is an `AtomicResponse`, so concurrent askers queue
//! behind one refresh and then get its result. A rotated refresh token is committed to Postgres
//! before the new access token is handed out; Strava rejecting the refresh token marks the
//! connection `reauthorization_required`.
//!
//! The token rows and the owner lock are this actor's alone: forgetting an athlete asks it to
//! delete them ([`ForgetTokens`]), and since a refresh holds the actor until it has stored its
//! tokens, a forget always comes after it and no refresh can write a forgotten row back.
//!
//! A callback holds the actor only to store what it got: checking its state and exchanging its
//! code run beside the actor's serialized work, so callbacks never delay a sync's token.
//!
//! It calls Strava's OAuth token endpoint (code exchange, refresh) and revokes a refused
//! athlete's tokens; Strava's API, and the revocation of a disconnect, are the FetcherActor's
//! (which asks this actor for the refresh token to revoke, [`RefreshToken`]).
//!
//! In production without OWNER_ATHLETE_ID the first connection needs the setup code (SPEC §5,
//! `actors/setup.rs`): a state issued for it carries its binding, and only such a state, for
//! the code stored now, can make its athlete the owner; doing so spends the code. A forget that
//! releases the owner lock writes a fresh code and prints its link.
//!
//! Messages: [`BeginAuthorization`], [`CompleteAuthorization`], [`AccessToken`],
//! [`RefreshToken`], [`ConnectedAthlete`], [`ForgetTokens`], [`SetupLinkWaiting`].

use std::sync::Arc;
use std::time::Duration as StdDuration;

use actix::prelude::*;
use chrono::{DateTime, Duration, TimeZone, Utc};
use deadpool_postgres::Pool;
use secrecy::{ExposeSecret, SecretString};
use tracing::Instrument;

use crate::actors::mailbox::{Ask, answers_traced};
use crate::actors::setup::SetupLinks;
use crate::actors::shutdown::{Shutdown, stops_on_shutdown};
use crate::clock::Clock;
use crate::crypto::{
    StateError, StateSigner, TokenCipher, constant_time_eq, setup_binding, setup_code_matches,
};
use crate::metrics::Metrics;
use crate::store::coordination::{Fence, Heard, Replica};
use crate::store::queue::GENERATION_CHANNEL;
use crate::store::{self, Claim, StoreError, StoredTokens};
use crate::strava::client::Failure;
use crate::strava::{StravaClient, StravaError};

/// Refresh when less than this is left on the access token (SPEC §1).
pub const REFRESH_MARGIN: Duration = Duration::hours(1);
const ACCESS_FIELD: &str = "access_token";
const REFRESH_FIELD: &str = "refresh_token";
pub const CONNECTED: &str = "connected";
pub const REAUTHORIZATION_REQUIRED: &str = "reauthorization_required";

/// How soon rotated tokens that could not be saved are tried again, asked for or not.
const SAVE_RETRY: StdDuration = StdDuration::from_secs(5);
/// Room for every sync, confirmation and callback asking at once.
const MAILBOX_CAPACITY: usize = 256;
/// A refresh is one Strava call (with its own timeout) and one write; askers queue behind it.
const TOKEN_TIMEOUT: StdDuration = StdDuration::from_secs(30);
/// Answered from memory or one query.
const LOOKUP_TIMEOUT: StdDuration = StdDuration::from_secs(10);

#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    #[error("no athlete is connected")]
    NotConnected,
    #[error("the Strava connection needs re-authorization")]
    ReauthorizationRequired,
    #[error("stored token cannot be decrypted (wrong ENCRYPTION_KEY?)")]
    Undecryptable,
    #[error("Strava refused the token refresh")]
    Strava(#[from] StravaError),
    #[error("the token store failed")]
    Storage(#[from] StoreError),
}

impl From<deadpool_postgres::PoolError> for TokenError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Storage(e.into())
    }
}

impl From<tokio_postgres::Error> for TokenError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Storage(e.into())
    }
}

impl From<anyhow::Error> for TokenError {
    fn from(e: anyhow::Error) -> Self {
        Self::Storage(e.into())
    }
}

/// Why a callback was refused.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("Strava OAuth not configured")]
    NotConfigured,
    #[error("the first connection needs the setup code")]
    SetupRequired,
    #[error("Invalid or expired state parameter")]
    InvalidState,
    #[error("Missing required scope: {0}")]
    MissingScope(&'static str),
    #[error("This integration belongs to another account.")]
    NotOwner,
    #[error("the code exchange failed")]
    Exchange(#[source] StravaError),
    #[error("the tokens could not be stored")]
    Storage(#[from] StoreError),
    #[error("the token actor did not answer")]
    Mailbox(#[from] MailboxError),
}

impl From<anyhow::Error> for CallbackError {
    fn from(e: anyhow::Error) -> Self {
        Self::Storage(e.into())
    }
}

impl From<tokio_postgres::Error> for CallbackError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Storage(e.into())
    }
}

impl From<deadpool_postgres::PoolError> for CallbackError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Storage(e.into())
    }
}

/// Decrypted tokens, held only in this actor.
#[derive(Clone)]
struct Tokens {
    athlete_id: i64,
    access: SecretString,
    refresh: SecretString,
    expires_at: DateTime<Utc>,
    status: String,
}

/// What the OAuth handshake needs that lives in configuration.
#[derive(Clone)]
pub struct OAuthSettings {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub owner_athlete_id: Option<i64>,
    /// Production without a pinned owner: while no owner exists, `/strava/authorize?setup=`
    /// must carry the setup code stored in Postgres, whose links these print.
    pub setup: Option<SetupLinks>,
}

pub struct TokenActor {
    pool: Pool,
    cipher: Arc<TokenCipher>,
    signer: Arc<StateSigner>,
    strava: StravaClient,
    oauth: OAuthSettings,
    metrics: Arc<Metrics>,
    clock: Clock,
    tokens: Option<Tokens>,
    /// `tokens` were rotated by Strava and Postgres has not taken them yet: they hold the only
    /// refresh token that still works, so they are kept and saved before any other use.
    unsaved: bool,
    /// The pending retry of that save, while one is scheduled.
    save_retry: Option<SpawnHandle>,
    /// Another replica may change the token rows (a connection, a refresh): each change
    /// announced makes the next use read them again.
    replica: Option<Replica>,
}

impl TokenActor {
    pub fn new(
        pool: Pool,
        cipher: Arc<TokenCipher>,
        signer: Arc<StateSigner>,
        strava: StravaClient,
        oauth: OAuthSettings,
        metrics: Arc<Metrics>,
        clock: Clock,
    ) -> Self {
        Self {
            pool,
            cipher,
            signer,
            strava,
            oauth,
            metrics,
            clock,
            tokens: None,
            unsaved: false,
            save_retry: None,
            replica: None,
        }
    }

    /// Reads the token rows again after every change announced on `replica`'s connection.
    pub fn following(mut self, replica: Replica) -> Self {
        self.replica = Some(replica);
        self
    }
}

impl Actor for TokenActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        if let Some(replica) = &self.replica {
            ctx.add_stream(replica.heard(GENERATION_CHANNEL));
        }
    }
}

impl StreamHandler<Heard> for TokenActor {
    /// Something was committed (here or by another replica): the rows are read again at the
    /// next use, unless the only working refresh token is held here unsaved.
    fn handle(&mut self, _: Heard, _: &mut Self::Context) {
        if !self.unsaved {
            self.tokens = None;
        }
    }

    fn finished(&mut self, _: &mut Self::Context) {}
}

stops_on_shutdown!(TokenActor);
answers_traced!(TokenActor: AccessToken, RefreshToken, ConnectedAthlete, ForgetTokens, SetupLinkWaiting, BeginAuthorization, CompleteAuthorization, Shutdown);

fn encrypt(cipher: &TokenCipher, t: &Tokens, scope: &str) -> StoredTokens {
    StoredTokens {
        athlete_id: t.athlete_id,
        access_token: cipher.encrypt(t.access.expose_secret(), t.athlete_id, ACCESS_FIELD),
        refresh_token: cipher.encrypt(t.refresh.expose_secret(), t.athlete_id, REFRESH_FIELD),
        expires_at: t.expires_at,
        scope: scope.to_owned(),
        status: t.status.clone(),
    }
}

fn decrypt(cipher: &TokenCipher, s: StoredTokens) -> Result<Tokens, TokenError> {
    let open = |value: &str, field| {
        cipher
            .decrypt(value, s.athlete_id, field)
            .map_err(|_| TokenError::Undecryptable)
    };
    Ok(Tokens {
        athlete_id: s.athlete_id,
        access: open(&s.access_token, ACCESS_FIELD)?,
        refresh: open(&s.refresh_token, REFRESH_FIELD)?,
        expires_at: s.expires_at,
        status: s.status,
    })
}

fn expiry(unix: i64) -> DateTime<Utc> {
    // An unreadable expiry counts as expired: the next use refreshes.
    Utc.timestamp_opt(unix, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// An access token good for at least [`REFRESH_MARGIN`], and whose it is. With
/// `force_refresh`, ask Strava even if the token looks fresh (Strava answered 401 to it: a
/// revoked connection shows as a dead refresh token).
#[derive(Message, Default)]
#[rtype(result = "Result<AccessGrant, TokenError>")]
pub struct AccessToken {
    pub force_refresh: bool,
    /// The leader's epoch: a refresh writes the token row only while it is the leader's, and
    /// calls Strava only after checking it.
    pub fence: Option<Fence>,
}

impl AccessToken {
    pub fn under(fence: Option<&Fence>) -> Self {
        Self {
            force_refresh: false,
            fence: fence.cloned(),
        }
    }
}

impl Ask for AccessToken {
    const TIMEOUT: Option<StdDuration> = Some(TOKEN_TIMEOUT);
}

/// A token handed out (an access token, or for a revoke the refresh token), and whose it is.
pub struct Grant {
    pub athlete_id: i64,
    pub token: SecretString,
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("athlete_id", &self.athlete_id)
            .finish_non_exhaustive()
    }
}

pub type AccessGrant = Grant;
pub type RefreshGrant = Grant;

impl Handler<AccessToken> for TokenActor {
    type Result = AtomicResponse<Self, Result<AccessGrant, TokenError>>;

    #[tracing::instrument(name = "token.access", skip_all)]
    fn handle(&mut self, msg: AccessToken, _: &mut Self::Context) -> Self::Result {
        let pool = self.pool.clone();
        let cipher = self.cipher.clone();
        let strava = self.strava.clone();
        let metrics = self.metrics.clone();
        let cached = self.tokens.clone();
        let unsaved = self.unsaved;
        let now = self.clock.now();
        AtomicResponse::new(Box::pin(
            async move {
                let current = known_or_stored(cached, &pool, &cipher).await?;
                if unsaved {
                    save_rotated(&pool, &cipher, current.clone()).await?;
                    tracing::info!(athlete = current.athlete_id, "rotated tokens saved");
                }
                if current.status == REAUTHORIZATION_REQUIRED {
                    return Err(Unusable::with(current, TokenError::ReauthorizationRequired));
                }
                if !msg.force_refresh && current.expires_at - now > REFRESH_MARGIN {
                    return Ok(current);
                }
                refresh(&pool, &cipher, &strava, &metrics, current, &msg, now).await
            }
            .in_current_span()
            .into_actor(self)
            .map(|result: Result<Tokens, Unusable>, act, ctx| match result {
                Ok(tokens) => {
                    let grant = AccessGrant {
                        athlete_id: tokens.athlete_id,
                        token: tokens.access.clone(),
                    };
                    act.tokens = Some(tokens);
                    act.unsaved = false;
                    Ok(grant)
                }
                Err(Unusable { known, error }) => {
                    match known {
                        Known::Now(tokens) => {
                            act.tokens = Some(tokens);
                            act.unsaved = false;
                        }
                        Known::Unsaved(tokens) => {
                            act.tokens = Some(tokens);
                            act.unsaved = true;
                            act.retry_save(ctx);
                        }
                        Known::Gone => {
                            act.tokens = None;
                            act.unsaved = false;
                        }
                        Known::Unchanged => {}
                    }
                    Err(error)
                }
            }),
        ))
    }
}

/// The connected athlete's refresh token as stored, for revoking it at Strava (a disconnect):
/// no refresh happens. Atomic with refreshes, so it is never a token a refresh just rotated away.
#[derive(Message)]
#[rtype(result = "Result<RefreshGrant, TokenError>")]
pub struct RefreshToken;

impl Ask for RefreshToken {
    const TIMEOUT: Option<StdDuration> = Some(TOKEN_TIMEOUT);
}

impl Handler<RefreshToken> for TokenActor {
    type Result = AtomicResponse<Self, Result<RefreshGrant, TokenError>>;

    #[tracing::instrument(name = "token.refresh_token", skip_all)]
    fn handle(&mut self, _: RefreshToken, _: &mut Self::Context) -> Self::Result {
        let pool = self.pool.clone();
        let cipher = self.cipher.clone();
        let cached = self.tokens.clone();
        AtomicResponse::new(Box::pin(
            async move {
                let current = known_or_stored(cached, &pool, &cipher).await?;
                if current.status == REAUTHORIZATION_REQUIRED {
                    // Strava refused it already: there is nothing left to revoke with it.
                    return Err(TokenError::ReauthorizationRequired);
                }
                Ok(RefreshGrant {
                    athlete_id: current.athlete_id,
                    token: current.refresh,
                })
            }
            .in_current_span()
            .into_actor(self),
        ))
    }
}

/// A failed [`AccessToken`]: the error, and what is now known of the tokens (to remember a
/// status change, or that the row is gone).
struct Unusable {
    known: Known,
    error: TokenError,
}

enum Known {
    Unchanged,
    Now(Tokens),
    /// Rotated by Strava, not yet in Postgres.
    Unsaved(Tokens),
    Gone,
}

impl Unusable {
    fn with(known: Tokens, error: TokenError) -> Self {
        Self {
            known: Known::Now(known),
            error,
        }
    }

    /// Rotated tokens Postgres did not take: kept, and saved before any other use.
    fn unsaved(tokens: Tokens, e: anyhow::Error) -> Self {
        tracing::warn!(
            athlete = tokens.athlete_id,
            error = %crate::error::chain(e.as_ref()),
            "could not save the rotated tokens; keeping them and trying again"
        );
        Self {
            known: Known::Unsaved(tokens),
            error: TokenError::Storage(e.into()),
        }
    }

    /// The row went while Strava answered the refresh.
    fn forgotten() -> Self {
        Self {
            known: Known::Gone,
            error: TokenError::NotConnected,
        }
    }
}

macro_rules! unusable_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Unusable {
            fn from(e: $t) -> Self {
                Self { known: Known::Unchanged, error: e.into() }
            }
        }
    )*};
}
unusable_from!(
    TokenError,
    anyhow::Error,
    deadpool_postgres::PoolError,
    tokio_postgres::Error
);

/// The tokens this actor holds, or else the stored ones.
async fn known_or_stored(
    cached: Option<Tokens>,
    pool: &Pool,
    cipher: &TokenCipher,
) -> Result<Tokens, TokenError> {
    if let Some(tokens) = cached {
        return Ok(tokens);
    }
    let db = pool.get().await?;
    let stored = store::load_tokens(&db)
        .await?
        .ok_or(TokenError::NotConnected)?;
    decrypt(cipher, stored)
}

/// Refreshes `current` at Strava under its row's lock, so two processes never spend one
/// refresh token: the row is read again first, and tokens another process stored meanwhile are
/// used as they are (refreshed further only if they too need it). With `force_refresh`, tokens that
/// have not changed are refreshed however fresh they look (Strava refused their access token).
async fn refresh(
    pool: &Pool,
    cipher: &TokenCipher,
    strava: &StravaClient,
    metrics: &Metrics,
    mut current: Tokens,
    asked: &AccessToken,
    now: DateTime<Utc>,
) -> Result<Tokens, Unusable> {
    let mut db = pool.get().await?;
    // A stale leader's refresh stops here, before Strava spends the refresh token.
    let tx = store::fenced(&mut db, asked.fence.as_ref()).await?;
    let Some(stored) = store::lock_tokens(&tx, current.athlete_id).await? else {
        return Err(Unusable::forgotten());
    };
    let stored = decrypt(cipher, stored)?;
    let same = |a: &SecretString, b: &SecretString| a.expose_secret() == b.expose_secret();
    if !same(&stored.refresh, &current.refresh) || !same(&stored.access, &current.access) {
        tracing::info!(
            athlete = stored.athlete_id,
            "using the tokens another process stored"
        );
        current = stored;
        if current.status == REAUTHORIZATION_REQUIRED {
            return Err(Unusable::with(current, TokenError::ReauthorizationRequired));
        }
        if current.expires_at - now > REFRESH_MARGIN {
            return Ok(current);
        }
    } else if !asked.force_refresh && stored.expires_at - now > REFRESH_MARGIN {
        return Ok(stored);
    }
    let answer = match strava.refresh_token(current.refresh.expose_secret()).await {
        Ok(answer) => answer,
        Err(StravaError::InvalidRefreshToken) => {
            metrics.token_refresh_failures.inc();
            store::set_token_status(&tx, current.athlete_id, REAUTHORIZATION_REQUIRED).await?;
            tx.commit().await?;
            tracing::warn!(
                athlete = current.athlete_id,
                "Strava rejected the refresh token; the owner must reconnect"
            );
            let mut marked = current;
            marked.status = REAUTHORIZATION_REQUIRED.into();
            return Err(Unusable::with(marked, TokenError::ReauthorizationRequired));
        }
        Err(e) => {
            metrics.token_refresh_failures.inc();
            return Err(Unusable::with(current, e.into()));
        }
    };
    let fresh = Tokens {
        athlete_id: current.athlete_id,
        access: SecretString::from(answer.access_token),
        refresh: SecretString::from(answer.refresh_token),
        expires_at: expiry(answer.expires_at),
        status: CONNECTED.into(),
    };
    // The rotated refresh token is durable before anyone uses the new access token: if this
    // write fails, the new tokens are not handed out.
    //
    // A crash between Strava's answer and this commit loses the rotated token, and nothing can
    // make that impossible: Strava killed the old refresh token when it answered. The loss is
    // recoverable instead: the next refresh reads Strava's `invalid`, the connection becomes
    // `reauthorization_required` (shown by /strava/health, syncs stop, cached stats keep
    // serving) and the owner's next visit to /strava/authorize restores it (tests/api/tokens.rs).
    //
    // Postgres failing the write loses nothing either: the tokens are kept in this actor,
    // unused, and saved before anything else (retried every few seconds).
    let stored = encrypt(cipher, &fresh, "");
    let written = async {
        let updated = store::update_tokens(&tx, &stored).await?;
        tx.commit().await?;
        anyhow::Ok(updated)
    };
    match written.await {
        Ok(true) => {}
        Ok(false) => return Err(Unusable::forgotten()),
        Err(e) => return Err(Unusable::unsaved(fresh, e)),
    }
    metrics.token_refreshes.inc();
    tracing::info!(athlete = fresh.athlete_id, "access token refreshed");
    Ok(fresh)
}

/// Writes rotated tokens over the athlete's row, only while it is still there: a forgotten
/// athlete stays forgotten. A failed write keeps the tokens as unsaved.
async fn save_rotated(pool: &Pool, cipher: &TokenCipher, tokens: Tokens) -> Result<(), Unusable> {
    // (the granted scope is not rewritten)
    let stored = encrypt(cipher, &tokens, "");
    let written = async {
        let db = pool.get().await?;
        store::update_tokens(&db, &stored).await
    };
    match written.await {
        Ok(true) => Ok(()),
        Ok(false) => Err(Unusable::forgotten()),
        Err(e) => Err(Unusable::unsaved(tokens, e)),
    }
}

impl TokenActor {
    /// Asks for the token again in a while, so unsaved tokens reach Postgres even when nobody
    /// needs them meanwhile.
    fn retry_save(&mut self, ctx: &mut Context<Self>) {
        if self.save_retry.is_some() {
            return;
        }
        let retry = ctx.run_later(SAVE_RETRY, |act, ctx| {
            act.save_retry = None;
            if act.unsaved {
                ctx.notify(AccessToken::default());
            }
        });
        self.save_retry = Some(retry);
    }
}

/// Which athlete is connected, if any (whatever the state of their tokens).
#[derive(Message)]
#[rtype(result = "Result<Option<i64>, TokenError>")]
pub struct ConnectedAthlete;

impl Ask for ConnectedAthlete {
    const TIMEOUT: Option<StdDuration> = Some(LOOKUP_TIMEOUT);
}

impl Handler<ConnectedAthlete> for TokenActor {
    type Result = ResponseFuture<Result<Option<i64>, TokenError>>;

    fn handle(&mut self, _: ConnectedAthlete, _: &mut Self::Context) -> Self::Result {
        let known = self.tokens.as_ref().map(|t| t.athlete_id);
        let pool = self.pool.clone();
        Box::pin(async move {
            if known.is_some() {
                return Ok(known);
            }
            let db = pool.get().await?;
            Ok(store::load_tokens(&db).await?.map(|t| t.athlete_id))
        })
    }
}

/// Delete the athlete's tokens, and the owner lock unless `keep_owner` (the TokenActor's part of
/// forgetting an athlete). Atomic with refreshes: one in progress finishes first, and none
/// afterwards finds a row to write. Releasing the owner lock where setup codes are in use
/// writes a fresh code in the same transaction and prints its link once committed.
#[derive(Message)]
#[rtype(result = "Result<(), TokenError>")]
pub struct ForgetTokens {
    pub athlete_id: i64,
    pub keep_owner: bool,
    /// The leader's epoch.
    pub fence: Option<Fence>,
}

impl Ask for ForgetTokens {
    const TIMEOUT: Option<StdDuration> = Some(TOKEN_TIMEOUT);
}

impl Handler<ForgetTokens> for TokenActor {
    type Result = AtomicResponse<Self, Result<(), TokenError>>;

    #[tracing::instrument(name = "token.forget", skip_all)]
    fn handle(&mut self, msg: ForgetTokens, _: &mut Self::Context) -> Self::Result {
        let pool = self.pool.clone();
        let setup = self.oauth.setup.clone().filter(|_| !msg.keep_owner);
        AtomicResponse::new(Box::pin(
            async move {
                let mut db = pool.get().await?;
                let tx = store::fenced(&mut db, msg.fence.as_ref()).await?;
                store::forget_tokens(&tx, msg.athlete_id, msg.keep_owner).await?;
                let fresh = match &setup {
                    Some(links) => Some(links.renew(&tx).await?),
                    None => None,
                };
                tx.commit().await?;
                if let (Some(links), Some(code)) = (&setup, &fresh) {
                    links.print(
                        code,
                        "the owner disconnected; nobody owns this instance now",
                    );
                }
                Ok(())
            }
            .in_current_span()
            .into_actor(self)
            .map(|result: Result<(), TokenError>, act, _| {
                if result.is_ok() {
                    act.tokens = None;
                    act.unsaved = false;
                }
                result
            }),
        ))
    }
}

/// Whether a setup link is waiting to be followed: setup codes are in use, nobody owns the
/// instance and a code is stored (the operators' view shows it).
#[derive(Message)]
#[rtype(result = "Result<bool, TokenError>")]
pub struct SetupLinkWaiting;

impl Ask for SetupLinkWaiting {
    const TIMEOUT: Option<StdDuration> = Some(LOOKUP_TIMEOUT);
}

impl Handler<SetupLinkWaiting> for TokenActor {
    type Result = ResponseFuture<Result<bool, TokenError>>;

    fn handle(&mut self, _: SetupLinkWaiting, _: &mut Self::Context) -> Self::Result {
        let in_use = self.oauth.setup.is_some();
        let pool = self.pool.clone();
        Box::pin(async move {
            if !in_use {
                return Ok(false);
            }
            let db = pool.get().await?;
            let (owner, code) = store::setup::first_connection(&db).await?;
            Ok(owner.is_none() && code.is_some())
        })
    }
}

/// Starts the OAuth handshake: the Strava URL to send the browser to and the state to bind to
/// the browser's cookie. Where setup codes are in use and no owner exists, `setup` must be the
/// stored code, and the state is bound to it.
#[derive(Message, Default)]
#[rtype(result = "Result<Authorization, CallbackError>")]
pub struct BeginAuthorization {
    pub setup: Option<String>,
}

impl Ask for BeginAuthorization {
    const TIMEOUT: Option<StdDuration> = Some(LOOKUP_TIMEOUT);
}

pub struct Authorization {
    pub url: String,
    pub state: String,
}

impl Handler<BeginAuthorization> for TokenActor {
    type Result = ResponseFuture<Result<Authorization, CallbackError>>;

    fn handle(&mut self, msg: BeginAuthorization, _: &mut Self::Context) -> Self::Result {
        let (Some(_), Some(redirect_uri)) = (&self.oauth.client_id, &self.oauth.redirect_uri)
        else {
            return Box::pin(async { Err(CallbackError::NotConfigured) });
        };
        let now = self.clock.now().timestamp();
        let signer = self.signer.clone();
        let strava = self.strava.clone();
        let redirect_uri = redirect_uri.clone();
        let authorization = move |binding: Option<&str>| {
            let issued = signer.issue_for(now, binding);
            Authorization {
                url: strava.authorize_url(&redirect_uri, &issued.value),
                state: issued.value,
            }
        };
        if self.oauth.setup.is_none() {
            return Box::pin(async move { Ok(authorization(None)) });
        }
        let pool = self.pool.clone();
        Box::pin(async move {
            let db = pool.get().await?;
            match store::setup::first_connection(&db).await? {
                // Someone owns the instance: the owner lock decides who may connect, and the
                // state can make nobody the owner.
                (Some(_), _) => Ok(authorization(None)),
                (None, Some(stored))
                    if setup_code_matches(msg.setup.as_deref().unwrap_or_default(), &stored) =>
                {
                    Ok(authorization(Some(&setup_binding(&stored))))
                }
                (None, _) => Err(CallbackError::SetupRequired),
            }
        })
    }
}

/// Finishes the handshake: verifies the state against the browser's cookie, checks the granted
/// scope, exchanges the code, enforces the owner lock and stores the encrypted tokens.
///
/// Only the last step holds the actor: checking the state, consuming its nonce, the code
/// exchange (up to the Strava timeout) and revoking a refused athlete's tokens run beside it, so a
/// flood of callbacks never holds up a sync's [`AccessToken`]. Storing the tokens and the owner
/// lock is [`StoreConnection`], atomic with refreshes and forgets like them.
#[derive(Message)]
#[rtype(result = "Result<i64, CallbackError>")]
pub struct CompleteAuthorization {
    pub code: String,
    pub state: String,
    pub cookie: Option<String>,
    pub scope: Option<String>,
}

impl Ask for CompleteAuthorization {
    const TIMEOUT: Option<StdDuration> = Some(TOKEN_TIMEOUT);
}

/// Scopes that let milepost read activities.
const ACTIVITY_SCOPES: [&str; 2] = ["activity:read", "activity:read_all"];

impl Handler<CompleteAuthorization> for TokenActor {
    type Result = ResponseFuture<Result<i64, CallbackError>>;

    #[tracing::instrument(name = "token.complete_authorization", skip_all)]
    fn handle(&mut self, msg: CompleteAuthorization, ctx: &mut Self::Context) -> Self::Result {
        let pool = self.pool.clone();
        let strava = self.strava.clone();
        let verified = self.signer.verify(&msg.state, self.clock.now().timestamp());
        let me = ctx.address();
        Box::pin(
            async move {
                let state = verified.map_err(|e: StateError| {
                    tracing::debug!(reason = ?e, "refused an OAuth state");
                    CallbackError::InvalidState
                })?;
                let bound = msg
                    .cookie
                    .as_deref()
                    .is_some_and(|c| constant_time_eq(c.as_bytes(), msg.state.as_bytes()));
                if !bound {
                    tracing::debug!("refused an OAuth state not bound to this browser");
                    return Err(CallbackError::InvalidState);
                }
                {
                    let db = pool.get().await?;
                    if !store::consume_state_nonce(&db, &state.nonce, expiry(state.expires_at))
                        .await?
                    {
                        tracing::debug!("refused a replayed OAuth state");
                        return Err(CallbackError::InvalidState);
                    }
                }
                // Strava always says what was granted; no scope is no activity scope.
                let granted: Vec<&str> = msg
                    .scope
                    .as_deref()
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .collect();
                if !ACTIVITY_SCOPES.iter().any(|s| granted.contains(s)) {
                    return Err(CallbackError::MissingScope("activity:read"));
                }
                let answer = strava
                    .exchange_code(&msg.code)
                    .await
                    .map_err(CallbackError::Exchange)?;
                let athlete_id = answer.athlete.as_ref().map(|a| a.id).ok_or_else(|| {
                    let missing: Box<dyn std::error::Error + Send + Sync> =
                        "no athlete in the token answer".into();
                    CallbackError::Exchange(StravaError::Decode(missing.into()))
                })?;
                let tokens = Tokens {
                    athlete_id,
                    access: SecretString::from(answer.access_token),
                    refresh: SecretString::from(answer.refresh_token),
                    expires_at: expiry(answer.expires_at),
                    status: CONNECTED.into(),
                };
                let (access, refresh) = (tokens.access.clone(), tokens.refresh.clone());
                let stored = me
                    .send(StoreConnection {
                        tokens,
                        scope: msg.scope.unwrap_or_default(),
                        setup: state.setup,
                    })
                    .await?;
                if let Err(CallbackError::NotOwner | CallbackError::SetupRequired) = &stored {
                    // Their tokens are of no use here: hand them back rather than leave them live.
                    if let Err(e) = hand_back(&strava, &refresh, &access).await {
                        tracing::info!(error = %crate::error::chain(&e), "could not revoke the refused athlete's tokens");
                    }
                }
                stored.map(|()| athlete_id)
            }
            .in_current_span(),
        )
    }
}

/// Revokes a refused athlete's tokens at Strava; deauthorizes them where Strava has no revoke
/// (404).
async fn hand_back(
    strava: &StravaClient,
    refresh: &SecretString,
    access: &SecretString,
) -> Result<(), StravaError> {
    match strava.revoke(refresh.expose_secret()).await {
        Ok(_) => Ok(()),
        Err(Failure {
            error: StravaError::NotFound,
            ..
        }) => strava
            .deauthorize(access.expose_secret())
            .await
            .map(|_| ())
            .map_err(|f| f.error),
        Err(f) => Err(f.error),
    }
}

/// The serialized end of [`CompleteAuthorization`]: enforce the owner lock, store the
/// encrypted tokens and keep them. Sent by the TokenActor to itself.
#[derive(Message)]
#[rtype(result = "Result<(), CallbackError>")]
struct StoreConnection {
    tokens: Tokens,
    scope: String,
    /// The setup code's binding the callback's state was issued for, if any.
    setup: Option<String>,
}

impl Handler<StoreConnection> for TokenActor {
    type Result = AtomicResponse<Self, Result<(), CallbackError>>;

    fn handle(&mut self, msg: StoreConnection, _: &mut Self::Context) -> Self::Result {
        let pool = self.pool.clone();
        let cipher = self.cipher.clone();
        let pinned_owner = self.oauth.owner_athlete_id;
        let setup_in_use = self.oauth.setup.is_some();
        AtomicResponse::new(Box::pin(
            async move {
                let StoreConnection {
                    tokens,
                    scope,
                    setup,
                } = msg;
                let athlete_id = tokens.athlete_id;
                let mut db = pool.get().await?;
                let owner = match pinned_owner {
                    Some(pinned) => pinned,
                    None => store::owner(&db).await?.unwrap_or(athlete_id),
                };
                if owner != athlete_id {
                    // The edge logs refusals, once a minute per route and cause.
                    tracing::debug!(
                        athlete = athlete_id,
                        "refused a connection from an athlete who does not own this instance"
                    );
                    return Err(CallbackError::NotOwner);
                }
                let tx = db.transaction().await?;
                match store::claim_owner(&tx, athlete_id).await? {
                    Claim::Owned(owner) if owner == athlete_id => {}
                    Claim::Owned(_) => return Err(CallbackError::NotOwner),
                    // A first connection, decided by the claim itself: a disconnect that
                    // committed after the owner was read above still needs the setup code.
                    Claim::Claimed if setup_in_use => {
                        // Locked, so two callbacks cannot both spend the code.
                        let code = store::setup::lock_setup_code(&tx).await?;
                        let bound = code.as_deref().map(setup_binding);
                        let issued_for_it = matches!(
                            (&bound, &setup),
                            (Some(b), Some(s)) if constant_time_eq(b.as_bytes(), s.as_bytes())
                        );
                        if !issued_for_it {
                            tracing::debug!(
                                athlete = athlete_id,
                                "refused a first connection whose state was not issued for the \
                                 current setup code"
                            );
                            return Err(CallbackError::SetupRequired);
                        }
                        store::setup::spend_setup_code(&tx).await?;
                    }
                    Claim::Claimed => {}
                }
                store::save_tokens(&tx, &encrypt(&cipher, &tokens, &scope)).await?;
                tx.commit().await?;
                tracing::info!(athlete = athlete_id, "athlete connected");
                Ok(tokens)
            }
            .in_current_span()
            .into_actor(self)
            .map(|result: Result<Tokens, CallbackError>, act, _| {
                act.tokens = Some(result?);
                act.unsaved = false;
                Ok(())
            }),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_never_show_their_tokens() {
        let refresh = RefreshGrant {
            athlete_id: 7,
            token: SecretString::from("refresh-secret-value"),
        };
        let access = AccessGrant {
            athlete_id: 7,
            token: SecretString::from("access-secret-value"),
        };
        for shown in [format!("{refresh:?}"), format!("{access:?}")] {
            assert!(shown.contains("athlete_id: 7"), "{shown}");
            assert!(!shown.contains("secret-value"), "{shown}");
        }
    }
}
