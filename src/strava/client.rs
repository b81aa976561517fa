//! The HTTP client for Strava's API and OAuth endpoints. It knows URLs, credentials, timeouts and
//! error shapes; it does not decide when to call. In the server, Strava's API (athlete, athlete
//! stats, activities) is called only by the FetcherActor, each call under its rate budget. Of
//! the OAuth endpoints, the TokenActor calls the token endpoint (code exchange, refresh) and
//! revokes a refused athlete's tokens; the FetcherActor revokes on a disconnect, under its
//! budget. Deauthorize, which Strava retires on June 1, 2027, is the fallback where revoke
//! answers 404. The push subscription endpoints are called by the one-shot `milepost webhook`
//! commands, never by the server.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

use super::budget::RateHeaders;
use super::models::{
    Activity, ActivityStats, Athlete, Fault, OwnedActivity, PushSubscription, TokenResponse,
};

/// Installs rustls' ring provider as the process default (reqwest is built without one, to keep
/// a single crypto stack). Idempotent; call before building any reqwest client.
pub fn install_tls_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means another provider is already installed, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Why a call to Strava failed. Cloneable (a sync's outcome goes to every caller joined to it),
/// keeping the cause for the log.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StravaError {
    #[error("Strava did not answer in time")]
    Timeout,
    /// The cause carries no URL: a query may hold credentials.
    #[error("could not reach Strava")]
    Transport(#[source] Arc<reqwest::Error>),
    #[error("Strava rate limit exceeded")]
    RateLimited,
    #[error("Strava rejected the access token")]
    Unauthorized,
    #[error("Strava rejected the refresh token: re-authorization required")]
    InvalidRefreshToken,
    #[error("not found at Strava")]
    NotFound,
    /// 403 Application/Status/Inactive: the app works again only once its owner subscribes and
    /// reactivates it at Strava; no retry helps.
    #[error("the Strava application is inactive")]
    AppInactive,
    #[error("Strava answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("unreadable answer from Strava")]
    Decode(#[source] Arc<dyn std::error::Error + Send + Sync>),
}

impl StravaError {
    /// Worth another try later (network trouble, Strava's own errors).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Timeout | Self::Transport(_) | Self::Decode(_) => true,
            Self::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// A successful API answer together with the rate-limit figures it carried.
#[derive(Debug)]
pub struct Answer<T> {
    pub value: T,
    pub rate: RateHeaders,
}

/// A failed API call, with the rate-limit figures its response carried (if it got one): the
/// budget counts refused requests too.
#[derive(Debug)]
pub struct Failure {
    pub error: StravaError,
    pub rate: RateHeaders,
}

impl From<StravaError> for Failure {
    fn from(error: StravaError) -> Self {
        Self {
            error,
            rate: RateHeaders::default(),
        }
    }
}

/// Where Strava lives and who we are to it.
#[derive(Clone)]
pub struct StravaConfig {
    pub api_base_url: String,
    pub oauth_base_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub timeout: Duration,
}

#[derive(Clone)]
pub struct StravaClient {
    http: reqwest::Client,
    config: StravaConfig,
}

impl std::fmt::Debug for StravaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StravaClient")
            .field("api_base_url", &self.config.api_base_url)
            .field("oauth_base_url", &self.config.oauth_base_url)
            .finish_non_exhaustive()
    }
}

fn transport(e: reqwest::Error) -> StravaError {
    if e.is_timeout() {
        StravaError::Timeout
    } else {
        // without the URL: it may carry credentials in its query
        StravaError::Transport(Arc::new(e.without_url()))
    }
}

impl StravaClient {
    pub fn new(config: StravaConfig) -> anyhow::Result<Self> {
        install_tls_provider();
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("milepost/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { http, config })
    }

    pub fn config(&self) -> &StravaConfig {
        &self.config
    }

    /// The URL the athlete's browser is sent to for consent.
    pub fn authorize_url(&self, redirect_uri: &str, state: &str) -> String {
        let mut url = format!(
            "{}/authorize",
            self.config.oauth_base_url.trim_end_matches('/')
        );
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("approval_prompt", "auto")
            .append_pair("scope", "read,activity:read_all")
            .append_pair("state", state)
            .finish();
        url.push('?');
        url.push_str(&query);
        url
    }

    fn oauth_url(&self, path: &str) -> String {
        format!(
            "{}/{path}",
            self.config.oauth_base_url.trim_end_matches('/')
        )
    }

    fn api_url(&self, path: &str) -> String {
        format!("{}/{path}", self.config.api_base_url.trim_end_matches('/'))
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Result<TokenResponse, StravaError> {
        let secret = self.config.client_secret.expose_secret();
        let mut body = vec![
            ("client_id", self.config.client_id.as_str()),
            ("client_secret", secret),
        ];
        body.extend_from_slice(form);
        let response = self
            .http
            .post(self.oauth_url("token"))
            .form(&body)
            .send()
            .await
            .map_err(transport)?;
        let (value, _) = decode::<TokenResponse>(response)
            .await
            .map_err(|f| f.error)?;
        Ok(value)
    }

    /// Trades the one-time authorization code for tokens (and the athlete).
    pub async fn exchange_code(&self, code: &str) -> Result<TokenResponse, StravaError> {
        self.token_request(&[("code", code), ("grant_type", "authorization_code")])
            .await
    }

    /// Asks for a fresh access token; the answer may carry a rotated refresh token.
    pub async fn refresh_token(&self, refresh_token: &str) -> Result<TokenResponse, StravaError> {
        self.token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    /// Revokes every token of the athlete the refresh token belongs to (revoking either token
    /// revokes both). The app authenticates with HTTP Basic; Strava answered 404 before it
    /// offered revoke, and [`deauthorize`](Self::deauthorize) is the fallback then.
    pub async fn revoke(&self, refresh_token: &str) -> Result<Answer<()>, Failure> {
        let response = self
            .http
            .post(self.oauth_url("revoke"))
            .basic_auth(
                &self.config.client_id,
                Some(self.config.client_secret.expose_secret()),
            )
            .form(&[
                ("token", refresh_token),
                ("token_type_hint", "refresh_token"),
            ])
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let rate = RateHeaders::from_headers(response.headers());
        let bytes = response.bytes().await.map_err(|e| Failure {
            error: transport(e),
            rate,
        })?;
        if status.is_success() {
            // Whatever the body holds (if anything), the tokens are gone.
            return Ok(Answer { value: (), rate });
        }
        Err(Failure {
            error: classify(status, &bytes),
            rate,
        })
    }

    /// Revokes every token of the athlete (the access token's; until June 1, 2027).
    pub async fn deauthorize(&self, access_token: &str) -> Result<Answer<()>, Failure> {
        let response = self
            .http
            .post(self.oauth_url("deauthorize"))
            .bearer_auth(access_token)
            .form(&[("access_token", access_token)])
            .send()
            .await
            .map_err(transport)?;
        let (_, rate) = decode::<serde_json::Value>(response).await?;
        Ok(Answer { value: (), rate })
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        access_token: &str,
    ) -> Result<Answer<T>, Failure> {
        let response = self
            .http
            .request(Method::GET, self.api_url(path))
            .bearer_auth(access_token)
            .query(query)
            .send()
            .await
            .map_err(transport)?;
        let (value, rate) = decode(response).await?;
        Ok(Answer { value, rate })
    }

    pub async fn athlete(&self, access_token: &str) -> Result<Answer<Athlete>, Failure> {
        self.get("athlete", &[], access_token).await
    }

    pub async fn athlete_stats(
        &self,
        athlete_id: i64,
        access_token: &str,
    ) -> Result<Answer<ActivityStats>, Failure> {
        self.get(&format!("athletes/{athlete_id}/stats"), &[], access_token)
            .await
    }

    /// One page of `/athlete/activities`.
    pub async fn activities_page(
        &self,
        access_token: &str,
        page: u32,
        per_page: u32,
        after: Option<i64>,
        before: Option<i64>,
    ) -> Result<Answer<Vec<Activity>>, Failure> {
        let mut query = vec![
            ("page", page.to_string()),
            ("per_page", per_page.to_string()),
        ];
        if let Some(after) = after {
            query.push(("after", after.to_string()));
        }
        if let Some(before) = before {
            query.push(("before", before.to_string()));
        }
        self.get("athlete/activities", &query, access_token).await
    }

    pub async fn activity(
        &self,
        id: i64,
        access_token: &str,
    ) -> Result<Answer<OwnedActivity>, Failure> {
        self.get(&format!("activities/{id}"), &[], access_token)
            .await
    }

    /// Creates the app's push subscription; Strava validates `callback_url` during the call.
    pub async fn create_push_subscription(
        &self,
        callback_url: &str,
        verify_token: &str,
    ) -> Result<PushSubscription, Failure> {
        let response = self
            .http
            .post(self.api_url("push_subscriptions"))
            .form(&[
                ("client_id", self.config.client_id.as_str()),
                ("client_secret", self.config.client_secret.expose_secret()),
                ("callback_url", callback_url),
                ("verify_token", verify_token),
            ])
            .send()
            .await
            .map_err(transport)?;
        Ok(decode(response).await?.0)
    }

    /// Deletes the app's push subscription `id`.
    pub async fn delete_push_subscription(&self, id: i64) -> Result<(), Failure> {
        let response = self
            .http
            .delete(self.api_url(&format!("push_subscriptions/{id}")))
            .query(&[
                ("client_id", self.config.client_id.as_str()),
                ("client_secret", self.config.client_secret.expose_secret()),
            ])
            .send()
            .await
            .map_err(transport)?;
        if response.status().is_success() {
            return Ok(());
        }
        decode::<serde_json::Value>(response).await.map(|_| ())
    }

    /// The app's push subscriptions (app credentials, not a user token).
    pub async fn push_subscriptions(&self) -> Result<Vec<PushSubscription>, Failure> {
        let response = self
            .http
            .get(self.api_url("push_subscriptions"))
            .query(&[
                ("client_id", self.config.client_id.as_str()),
                ("client_secret", self.config.client_secret.expose_secret()),
            ])
            .send()
            .await
            .map_err(transport)?;
        Ok(decode(response).await?.0)
    }
}

/// Maps a response to its value or to the error its status and Fault body describe.
async fn decode<T: DeserializeOwned>(
    response: reqwest::Response,
) -> Result<(T, RateHeaders), Failure> {
    let status = response.status();
    let rate = RateHeaders::from_headers(response.headers());
    let failed = |error| Failure { error, rate };
    let bytes = response.bytes().await.map_err(|e| failed(transport(e)))?;
    if status.is_success() {
        let value =
            serde_json::from_slice(&bytes).map_err(|e| failed(StravaError::Decode(Arc::new(e))))?;
        return Ok((value, rate));
    }
    Err(failed(classify(status, &bytes)))
}

/// What a failed answer means, from its status and its Fault body (if it has one).
fn classify(status: StatusCode, body: &[u8]) -> StravaError {
    let fault: Fault = serde_json::from_slice(body).unwrap_or_default();
    match status {
        StatusCode::TOO_MANY_REQUESTS => StravaError::RateLimited,
        StatusCode::NOT_FOUND => StravaError::NotFound,
        StatusCode::BAD_REQUEST if fault.is_invalid_refresh_token() => {
            StravaError::InvalidRefreshToken
        }
        StatusCode::UNAUTHORIZED => StravaError::Unauthorized,
        StatusCode::FORBIDDEN if fault.is_app_inactive() => StravaError::AppInactive,
        _ => StravaError::Status {
            status: status.as_u16(),
            message: fault.message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INACTIVE: &str = r#"{"message":"Forbidden","errors":[{"resource":"Application","field":"Status","code":"Inactive"}]}"#;

    #[test]
    fn an_inactive_application_is_named_and_never_retried() {
        let e = classify(StatusCode::FORBIDDEN, INACTIVE.as_bytes());
        assert!(matches!(e, StravaError::AppInactive), "{e:?}");
        assert!(!e.is_transient());
    }

    #[test]
    fn other_403s_stay_plain_statuses() {
        for body in [
            r#"{"message":"Forbidden","errors":[{"resource":"Application","field":"Status","code":"Suspended"}]}"#,
            r#"{"message":"Forbidden","errors":[{"resource":"Athlete","field":"Status","code":"Inactive"}]}"#,
            r#"{"message":"Forbidden","errors":[]}"#,
            r#"{"message":"Forbidden","errors":"Inactive"}"#,
            "<html>Forbidden</html>",
            "",
        ] {
            let e = classify(StatusCode::FORBIDDEN, body.as_bytes());
            assert!(
                matches!(e, StravaError::Status { status: 403, .. }),
                "{body}: {e:?}"
            );
        }
    }

    #[test]
    fn the_inactive_fault_under_another_status_is_not_taken_for_it() {
        assert!(matches!(
            classify(StatusCode::UNAUTHORIZED, INACTIVE.as_bytes()),
            StravaError::Unauthorized
        ));
        assert!(matches!(
            classify(StatusCode::INTERNAL_SERVER_ERROR, INACTIVE.as_bytes()),
            StravaError::Status { status: 500, .. }
        ));
    }
}
