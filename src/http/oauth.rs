//! The OAuth handshake: `/authorize` sends the browser to Strava with a signed state bound to a
//! cookie; `/callback` hands what Strava sent back to the actors.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::params::query_param;
use super::params::{self, Problems};
use super::reply::mailbox;
use super::state::AppState;
use crate::actors::fetcher::Connect;
use crate::actors::token::{BeginAuthorization, CallbackError, CompleteAuthorization};
use crate::error::{ApiError, ErrorCode};

/// The cookie binding an OAuth state to the browser that started the handshake.
pub const STATE_COOKIE: &str = "milepost_oauth_state";
const STATE_COOKIE_MAX_AGE: CookieDuration = CookieDuration::minutes(10);

fn state_cookie(value: String, production: bool, max_age: CookieDuration) -> Cookie<'static> {
    Cookie::build(STATE_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(production)
        .max_age(max_age)
        .finish()
}

fn redirect(location: &str) -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::TemporaryRedirect();
    response.insert_header((header::LOCATION, location));
    response
}

#[tracing::instrument(name = "GET authorize", skip_all)]
pub async fn authorize(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let setup = query_param(&req, params::SETUP.name);
    let auth = state
        .token
        .ask(BeginAuthorization { setup })
        .await
        .map_err(mailbox)?
        .map_err(callback_error)?;
    Ok(redirect(&auth.url)
        .cookie(state_cookie(
            auth.state,
            state.production,
            STATE_COOKIE_MAX_AGE,
        ))
        .finish())
}

#[tracing::instrument(name = "GET callback", skip_all)]
pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let frontend = state.frontend_url.trim_end_matches('/');
    let expire_cookie = state_cookie(String::new(), state.production, CookieDuration::ZERO);
    // Strava sends `error` (and no code) when the athlete declined.
    if query_param(&req, params::ERROR.name).is_some() {
        tracing::info!("the athlete declined access at Strava");
        return Ok(redirect(&format!("{frontend}/?strava=denied"))
            .cookie(expire_cookie)
            .finish());
    }
    let mut problems = Problems::of(&req);
    let code = problems.require(&params::CODE);
    let oauth_state = problems.require(&params::STATE);
    let scope = query_param(&req, params::SCOPE.name);
    let (Some(code), Some(oauth_state)) = (code, oauth_state) else {
        return Err(problems.into_error());
    };
    let message = CompleteAuthorization {
        code,
        state: oauth_state,
        cookie: req.cookie(STATE_COOKIE).map(|c| c.value().to_owned()),
        scope,
    };
    state
        .fetcher
        .ask(Connect(message))
        .await
        .map_err(mailbox)?
        .map_err(callback_error)?;
    Ok(redirect(&format!("{frontend}/?strava=success"))
        .cookie(expire_cookie)
        .finish())
}

fn callback_error(e: CallbackError) -> ApiError {
    match e {
        CallbackError::NotConfigured => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::OauthNotConfigured,
            "Strava OAuth not configured",
        ),
        CallbackError::SetupRequired => ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::SetupRequired,
            "No athlete owns this instance yet: the first connection needs the setup link \
             (/strava/authorize?setup=…) that milepost printed in its start-up log, or in its \
             log after the operator's disconnect (the newest link printed is the one that works)",
        ),
        CallbackError::InvalidState => ApiError::bad_request(
            ErrorCode::InvalidState,
            "Invalid or expired state parameter",
        ),
        e @ CallbackError::MissingScope(_) => {
            ApiError::bad_request(ErrorCode::MissingScope, e.to_string())
        }
        e @ CallbackError::NotOwner => {
            ApiError::new(StatusCode::FORBIDDEN, ErrorCode::NotOwner, e.to_string())
        }
        CallbackError::Exchange(cause) => ApiError::server(
            StatusCode::BAD_GATEWAY,
            ErrorCode::OauthFailed,
            "OAuth authorization failed. Please try again.",
            &cause,
        ),
        CallbackError::Storage(cause) => ApiError::internal(&cause),
        CallbackError::Mailbox(cause) => ApiError::unavailable(&cause),
    }
}
