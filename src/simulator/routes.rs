//! The simulator's HTTP surface: `/oauth/*` and `/api/v3/*` as Strava answers them. Each
//! handler parses its input, asks [`Shared`], and renders the answer; the gates around them add
//! what every response of that family gets (request counting, latency, faults, rate limits and
//! their headers). Nothing here panics on request input: bad input is a 4xx JSON fault.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use rand::Rng;
use serde::Serialize;
use serde_json::{Value, json};
use url::Url;

use super::callback::callback_client;
use super::config::Fault;
use super::ratelimit::{self, Usage};
use super::render::{self, fault};
use super::state::{KNOWN_SCOPES, ListQuery, Shared};

const JSON: &str = "application/json; charset=utf-8";
const DEFAULT_PER_PAGE: u64 = 30;
const MAX_PER_PAGE: u64 = 200;

/// Registers every route on the app.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/oauth/authorize")
            .route(web::get().to(authorize))
            .default_service(web::to(not_found)),
    )
    .service(
        web::resource("/oauth/token")
            .route(web::post().to(token))
            .default_service(web::to(not_found)),
    )
    .service(
        web::resource("/oauth/revoke")
            .route(web::post().to(revoke))
            .default_service(web::to(not_found)),
    )
    .service(
        web::resource("/oauth/deauthorize")
            .route(web::post().to(deauthorize))
            .default_service(web::to(not_found)),
    )
    .service(
        web::scope("/api/v3")
            .service(
                web::resource("/athlete")
                    .route(web::get().to(athlete))
                    .default_service(web::to(not_found)),
            )
            .service(
                web::resource("/athletes/{id}/stats")
                    .route(web::get().to(athlete_stats))
                    .default_service(web::to(not_found)),
            )
            .service(
                web::resource("/athlete/activities")
                    .route(web::get().to(list_activities))
                    .default_service(web::to(not_found)),
            )
            .service(
                web::resource("/activities/{id}")
                    .route(web::get().to(get_activity))
                    .default_service(web::to(not_found)),
            )
            .service(
                web::resource("/push_subscriptions")
                    .route(web::get().to(list_subscriptions))
                    .route(web::post().to(create_subscription))
                    .default_service(web::to(not_found)),
            )
            .service(
                web::resource("/push_subscriptions/{id}")
                    .route(web::delete().to(delete_subscription))
                    .default_service(web::to(not_found)),
            )
            .default_service(web::to(not_found)),
    )
    .default_service(web::to(not_found));
}

// ---------------------------------------------------------------------------------------------
// Replies and gates

/// A status and an optional pre-serialized JSON body.
pub(crate) struct Reply {
    status: StatusCode,
    body: Option<Vec<u8>>,
    location: Option<String>,
}

impl Reply {
    fn json(status: StatusCode, value: &impl Serialize) -> Reply {
        match serde_json::to_vec(value) {
            Ok(body) => Reply::bytes(status, body),
            Err(e) => {
                tracing::error!(error = %e, "simulator failed to serialize a response");
                server_error()
            }
        }
    }

    fn bytes(status: StatusCode, body: Vec<u8>) -> Reply {
        Reply {
            status,
            body: Some(body),
            location: None,
        }
    }

    fn empty(status: StatusCode) -> Reply {
        Reply {
            status,
            body: None,
            location: None,
        }
    }

    fn fault(status: StatusCode, message: &str, resource: &str, field: &str, code: &str) -> Reply {
        Reply::json(status, &fault(message, resource, field, code))
    }

    fn redirect(location: String) -> Reply {
        Reply {
            status: StatusCode::FOUND,
            body: None,
            location: Some(location),
        }
    }

    fn finish(self, usage: Option<(Usage, &super::config::RateLimits)>) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status);
        if let Some((usage, limits)) = usage {
            for (name, value) in ratelimit::headers(limits, usage) {
                builder.insert_header((name, value));
            }
        }
        let mut response = match (self.location, self.body) {
            (Some(location), _) => builder.insert_header((header::LOCATION, location)).finish(),
            (None, Some(body)) => builder.content_type(JSON).body(body),
            (None, None) => builder.content_type(JSON).finish(),
        };
        // Strava's headers read `X-Ratelimit-Usage`, `Content-Type`: send them spelt that way.
        response.head_mut().set_camel_case_headers(true);
        response
    }
}

fn server_error() -> Reply {
    Reply::json(
        StatusCode::INTERNAL_SERVER_ERROR,
        &json!({ "message": "error" }),
    )
}

fn rate_limited() -> Reply {
    Reply::fault(
        StatusCode::TOO_MANY_REQUESTS,
        "Rate Limit Exceeded",
        "Application",
        "rate limit",
        "exceeded",
    )
}

fn unauthorized() -> Reply {
    Reply::fault(
        StatusCode::UNAUTHORIZED,
        "Authorization Error",
        "Athlete",
        "access_token",
        "invalid",
    )
}

fn bad_request(resource: &str, field: &str) -> Reply {
    Reply::fault(
        StatusCode::BAD_REQUEST,
        "Bad Request",
        resource,
        field,
        "invalid",
    )
}

fn record_not_found(resource: &str, field: &str) -> Reply {
    Reply::fault(
        StatusCode::NOT_FOUND,
        "Record Not Found",
        resource,
        field,
        "invalid",
    )
}

/// What every API call answers while the app is inactive (Strava's 2026 developer program).
fn app_inactive() -> Reply {
    Reply::fault(
        StatusCode::FORBIDDEN,
        "Forbidden",
        "Application",
        "Status",
        "Inactive",
    )
}

/// The app credentials are wrong (push subscriptions), shaped like `authorization_error.json`.
fn application_unauthorized() -> Reply {
    Reply::fault(
        StatusCode::UNAUTHORIZED,
        "Authorization Error",
        "Application",
        "",
        "invalid",
    )
}

/// A `Malformed` fault: the body cut in half (so it never parses), sent with 200.
fn malformed(reply: Reply) -> Reply {
    let text = reply
        .body
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|| "{}".into());
    let mut cut = (text.len() / 2).max(1);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Reply::bytes(StatusCode::OK, text.as_bytes()[..cut].to_vec())
}

/// A `HeldAnswer` fault: `reply`, as it was when asked, sent after `hold`.
async fn held(reply: Reply, hold: Duration) -> Reply {
    tokio::time::sleep(hold).await;
    reply
}

/// Sleeps for the configured latency plus a `Latency` fault's.
async fn delay(shared: &Shared, fault: Option<&Fault>) {
    let mut total = shared.config.latency;
    if let Some(Fault::Latency(extra)) = fault {
        total = total.saturating_add(*extra);
    }
    if total > Duration::ZERO {
        tokio::time::sleep(total).await;
    }
}

/// Wraps an `/api/v3` handler: counts it, applies latency and faults, counts it against the rate
/// limits (429 once over, the request still counted) and adds the four rate-limit headers.
async fn api<F, Fut>(shared: &Shared, req: &HttpRequest, endpoint: &str, handler: F) -> HttpResponse
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Reply>,
{
    shared.count(endpoint);
    let is_read = matches!(*req.method(), Method::GET | Method::HEAD);
    let (usage, over_limit) = shared.record_api_request(is_read);
    let fault = shared.fault();
    delay(shared, fault.as_ref()).await;
    let reply = match fault {
        Some(Fault::ServerError) => server_error(),
        Some(Fault::RateLimited) => rate_limited(),
        _ if over_limit => rate_limited(),
        _ if shared.app_inactive() => app_inactive(),
        Some(Fault::Malformed) => malformed(handler().await),
        Some(Fault::HeldAnswer(hold)) => held(handler().await, hold).await,
        _ => handler().await,
    };
    tracing::debug!(
        endpoint,
        status = reply.status.as_u16(),
        "simulated Strava API request"
    );
    reply.finish(Some((usage, &shared.config.limits)))
}

/// Wraps `/oauth/token`: counting, latency and faults, but no rate limits (Strava sends none).
async fn oauth<F, Fut>(shared: &Shared, endpoint: &str, handler: F) -> HttpResponse
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Reply>,
{
    shared.count(endpoint);
    let fault = shared.fault();
    delay(shared, fault.as_ref()).await;
    let reply = match fault {
        Some(Fault::ServerError) => server_error(),
        Some(Fault::RateLimited) => rate_limited(),
        Some(Fault::Malformed) => malformed(handler().await),
        _ => handler().await,
    };
    tracing::debug!(
        endpoint,
        status = reply.status.as_u16(),
        "simulated Strava OAuth request"
    );
    reply.finish(None)
}

// ---------------------------------------------------------------------------------------------
// Input helpers

fn query_params(req: &HttpRequest) -> HashMap<String, String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect()
}

/// Query parameters overlaid with the body's: URL-encoded form, or a JSON object.
fn form_params(req: &HttpRequest, body: &[u8]) -> HashMap<String, String> {
    let mut params = query_params(req);
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if is_json {
        if let Ok(map) = serde_json::from_slice::<serde_json::Map<String, Value>>(body) {
            for (k, v) in map {
                let text = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                params.insert(k, text);
            }
        }
    } else {
        params.extend(url::form_urlencoded::parse(body).into_owned());
    }
    params
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn path_id(req: &HttpRequest) -> Option<i64> {
    req.match_info().get("id")?.parse().ok()
}

/// The `client_id:client_secret` of HTTP Basic authentication.
fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    use base64::Engine as _;
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let (id, secret) = String::from_utf8(decoded)
        .ok()?
        .split_once(':')
        .map(|(i, s)| (i.to_owned(), s.to_owned()))?;
    Some((id, secret))
}

fn app_credentials_ok(shared: &Shared, params: &HashMap<String, String>) -> bool {
    params.get("client_id").map(String::as_str) == Some(shared.config.client_id.as_str())
        && params.get("client_secret").map(String::as_str)
            == Some(shared.config.client_secret.as_str())
}

// ---------------------------------------------------------------------------------------------
// OAuth

/// `GET /oauth/authorize`: the athlete approves at once (or denies in deny mode) and the browser
/// is sent back to `redirect_uri` with `state`, `code` and the granted `scope`.
async fn authorize(shared: web::Data<Shared>, req: HttpRequest) -> HttpResponse {
    shared.count("GET /oauth/authorize");
    delay(&shared, None).await;
    authorize_reply(&shared, &query_params(&req)).finish(None)
}

fn authorize_reply(shared: &Shared, q: &HashMap<String, String>) -> Reply {
    if q.get("client_id") != Some(&shared.config.client_id) {
        return bad_request("Application", "client_id");
    }
    let Some(mut redirect) = q.get("redirect_uri").and_then(|u| Url::parse(u).ok()) else {
        return bad_request("Application", "redirect_uri");
    };
    if q.get("response_type").map(String::as_str) != Some("code") {
        return bad_request("Application", "response_type");
    }
    let requested = q
        .get("scope")
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("read");
    if !requested
        .split(',')
        .all(|s| KNOWN_SCOPES.contains(&s.trim()))
    {
        return bad_request("Authorize", "scope");
    }
    let state = q.get("state").map(String::as_str).unwrap_or_default();
    {
        let mut pairs = redirect.query_pairs_mut();
        pairs.append_pair("state", state);
        if shared.deny() {
            pairs.append_pair("error", "access_denied");
        } else {
            let scope = shared
                .granted_scope_override()
                .unwrap_or_else(|| requested.to_string());
            let code = shared.issue_code(&scope);
            pairs
                .append_pair("code", &code)
                .append_pair("scope", &scope);
        }
    }
    Reply::redirect(redirect.into())
}

/// `POST /oauth/token`: the authorization-code and refresh-token grants.
async fn token(shared: web::Data<Shared>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let params = form_params(&req, &body);
    let exchange_latency = shared.config.code_exchange_latency;
    if exchange_latency > Duration::ZERO
        && params.get("grant_type").map(String::as_str) == Some("authorization_code")
    {
        tokio::time::sleep(exchange_latency).await;
    }
    oauth(&shared, "POST /oauth/token", || async {
        token_reply(&shared, &params)
    })
    .await
}

fn token_reply(shared: &Shared, p: &HashMap<String, String>) -> Reply {
    if !app_credentials_ok(shared, p) {
        return bad_request("Application", "client_id");
    }
    let param = |name: &str| p.get(name).map(String::as_str).unwrap_or_default();
    match param("grant_type") {
        "authorization_code" => match shared.exchange_code(param("code")) {
            Some(t) => Reply::json(
                StatusCode::OK,
                &json!({
                    "token_type": "Bearer",
                    "expires_at": t.expires_at,
                    "expires_in": t.expires_in,
                    "refresh_token": t.refresh_token,
                    "access_token": t.access_token,
                    "athlete": shared.athlete.summary(shared.clock.now()),
                }),
            ),
            None => bad_request("RequestToken", "code"),
        },
        "refresh_token" if shared.refresh_refused_as_inactive() => app_inactive(),
        "refresh_token" => match shared.refresh(param("refresh_token")) {
            Some(t) => Reply::json(
                StatusCode::OK,
                &json!({
                    "token_type": "Bearer",
                    "access_token": t.access_token,
                    "expires_at": t.expires_at,
                    "expires_in": t.expires_in,
                    "refresh_token": t.refresh_token,
                }),
            ),
            None => bad_request("RefreshToken", "refresh_token"),
        },
        _ => bad_request("Application", "grant_type"),
    }
}

/// `POST /oauth/deauthorize`: revokes every token of the athlete. Real responses carry the
/// rate-limit headers, so it is counted (never refused) against the overall limit.
async fn deauthorize(
    shared: web::Data<Shared>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    shared.count("POST /oauth/deauthorize");
    delay(&shared, None).await;
    let usage = shared.record_unlimited_request();
    let params = form_params(&req, &body);
    let token = params
        .get("access_token")
        .map(String::as_str)
        .or_else(|| bearer(&req));
    let reply = match token {
        Some(token) if shared.deauthorize(token) => {
            Reply::json(StatusCode::OK, &json!({ "access_token": token }))
        }
        _ => unauthorized(),
    };
    reply.finish(Some((usage, &shared.config.limits)))
}

/// `POST /oauth/revoke`: the app authenticates with HTTP Basic (`client_id:client_secret`) and
/// names one token in the form body (`token`, optional `token_type_hint`); revoking either of an
/// athlete's tokens revokes both. An unknown token is no error (RFC 7009). Like deauthorize it
/// carries the rate-limit headers and is counted, never refused.
async fn revoke(shared: web::Data<Shared>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    shared.count("POST /oauth/revoke");
    delay(&shared, None).await;
    if shared.revoke_missing() {
        return record_not_found("resource", "path").finish(None);
    }
    let usage = shared.record_unlimited_request();
    let app_ok = basic_credentials(&req).is_some_and(|(id, secret)| {
        id == shared.config.client_id && secret == shared.config.client_secret
    });
    let params = form_params(&req, &body);
    let reply = match params.get("token").filter(|t| !t.is_empty()) {
        _ if !app_ok => application_unauthorized(),
        None => bad_request("Token", "token"),
        Some(token) => {
            shared.revoke(token);
            Reply::json(StatusCode::OK, &json!({}))
        }
    };
    reply.finish(Some((usage, &shared.config.limits)))
}

// ---------------------------------------------------------------------------------------------
// API

/// `GET /athlete`.
async fn athlete(shared: web::Data<Shared>, req: HttpRequest) -> HttpResponse {
    api(&shared, &req, "GET /athlete", || async {
        match bearer(&req).and_then(|t| shared.authenticate(t)) {
            Some(_) => Reply::json(StatusCode::OK, &shared.athlete.detailed(shared.clock.now())),
            None => unauthorized(),
        }
    })
    .await
}

/// `GET /athletes/{id}/stats`: only the token's own athlete.
async fn athlete_stats(shared: web::Data<Shared>, req: HttpRequest) -> HttpResponse {
    api(&shared, &req, "GET /athletes/{id}/stats", || async {
        let Some(grant) = bearer(&req).and_then(|t| shared.authenticate(t)) else {
            return unauthorized();
        };
        if path_id(&req) != Some(grant.athlete_id) {
            return record_not_found("Athlete", "id");
        }
        Reply::json(StatusCode::OK, &shared.stats_json())
    })
    .await
}

/// `GET /athlete/activities?before&after&page&per_page`.
async fn list_activities(shared: web::Data<Shared>, req: HttpRequest) -> HttpResponse {
    api(&shared, &req, "GET /athlete/activities", || async {
        let Some(grant) = bearer(&req).and_then(|t| shared.authenticate(t)) else {
            return unauthorized();
        };
        if !grant.scope.can_read_activities() {
            return missing_activity_permission();
        }
        let query = match parse_list_query(&query_params(&req)) {
            Ok(q) => q,
            Err(reply) => return reply,
        };
        match shared.list_activities(query, grant.scope.can_read_private()) {
            Ok(body) => Reply::bytes(StatusCode::OK, body),
            Err(_) => server_error(),
        }
    })
    .await
}

fn missing_activity_permission() -> Reply {
    Reply::fault(
        StatusCode::UNAUTHORIZED,
        "Authorization Error",
        "AccessToken",
        "activity:read_permission",
        "missing",
    )
}

/// Validates the list parameters: integers only, `per_page` capped at 200, 0 meaning default.
fn parse_list_query(q: &HashMap<String, String>) -> Result<ListQuery, Reply> {
    fn get<T: std::str::FromStr>(
        q: &HashMap<String, String>,
        name: &str,
    ) -> Result<Option<T>, Reply> {
        match q.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| bad_request("Application", name)),
        }
    }
    let before = get::<i64>(q, "before")?;
    let after = get::<i64>(q, "after")?;
    let page = get::<u64>(q, "page")?.unwrap_or(1).max(1);
    let per_page = match get::<u64>(q, "per_page")? {
        None | Some(0) => DEFAULT_PER_PAGE,
        Some(n) => n.min(MAX_PER_PAGE),
    };
    Ok(ListQuery {
        before,
        after,
        page,
        per_page,
    })
}

/// `GET /activities/{id}`: a DetailedActivity, 404 when absent or hidden from the token.
async fn get_activity(shared: web::Data<Shared>, req: HttpRequest) -> HttpResponse {
    api(&shared, &req, "GET /activities/{id}", || async {
        let Some(grant) = bearer(&req).and_then(|t| shared.authenticate(t)) else {
            return unauthorized();
        };
        if !grant.scope.can_read_activities() {
            return missing_activity_permission();
        }
        let detail = path_id(&req)
            .filter(|_| grant.athlete_id == shared.config.athlete_id)
            .and_then(|id| shared.activity_detail(id, grant.scope.can_read_private()));
        match detail {
            Some(Ok(body)) => Reply::bytes(StatusCode::OK, body),
            Some(Err(_)) => server_error(),
            None => record_not_found("Activity", "id"),
        }
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Push subscriptions

fn subscription_json(shared: &Shared, id: i64, callback_url: &str, created: String) -> Value {
    json!({
        "id": id,
        "resource_state": 2,
        "application_id": shared.config.client_id.parse::<i64>().unwrap_or(0),
        "callback_url": callback_url,
        "created_at": created,
        "updated_at": created,
    })
}

/// `POST /push_subscriptions`: validates the callback like Strava (a GET that must echo the
/// challenge) and stores the app's one subscription.
async fn create_subscription(
    shared: web::Data<Shared>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let params = form_params(&req, &body);
    api(&shared, &req, "POST /push_subscriptions", || async {
        if !app_credentials_ok(&shared, &params) {
            return application_unauthorized();
        }
        let (Some(callback), Some(verify_token)) = (params.get("callback_url"), params.get("verify_token")) else {
            return bad_request("PushSubscription", "callback_url");
        };
        if shared.subscription().is_some() {
            return Reply::fault(StatusCode::BAD_REQUEST, "Bad Request", "PushSubscription", "", "already exists");
        }
        let not_verifiable =
            || Reply::fault(StatusCode::BAD_REQUEST, "Bad Request", "PushSubscription", "callback url", "not verifiable");
        let Ok(url) = Url::parse(callback) else {
            return not_verifiable();
        };
        if let Err(reason) = verify_callback(&url, verify_token).await {
            tracing::info!(%reason, "simulated Strava could not verify the push subscription callback");
            return not_verifiable();
        }
        match shared.create_subscription(callback) {
            Some(sub) => {
                // The create answer has nanoseconds, the list answer whole seconds, as recorded.
                let created = sub.created_at.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string();
                Reply::json(StatusCode::CREATED, &subscription_json(&shared, sub.id, &sub.callback_url, created))
            }
            None => Reply::fault(StatusCode::BAD_REQUEST, "Bad Request", "PushSubscription", "", "already exists"),
        }
    })
    .await
}

/// Strava's validation request: `GET callback?hub.mode=subscribe&hub.challenge=X&hub.verify_token=T`
/// must answer 200 with `{"hub.challenge":"X"}`.
async fn verify_callback(callback: &Url, verify_token: &str) -> Result<(), String> {
    let challenge = format!("{:032x}", rand::thread_rng().r#gen::<u128>());
    let mut url = callback.clone();
    url.query_pairs_mut()
        .append_pair("hub.mode", "subscribe")
        .append_pair("hub.challenge", &challenge)
        .append_pair("hub.verify_token", verify_token);
    let response = callback_client()
        .map_err(|e| e.to_string())?
        .get(url)
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(format!("callback answered {}", response.status()));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| e.without_url().to_string())?;
    let body: Value =
        serde_json::from_slice(&body).map_err(|e| format!("callback body is not JSON: {e}"))?;
    if body.get("hub.challenge").and_then(Value::as_str) == Some(challenge.as_str()) {
        Ok(())
    } else {
        Err("callback did not echo hub.challenge".into())
    }
}

/// `GET /push_subscriptions?client_id&client_secret`.
async fn list_subscriptions(shared: web::Data<Shared>, req: HttpRequest) -> HttpResponse {
    api(&shared, &req, "GET /push_subscriptions", || async {
        if !app_credentials_ok(&shared, &query_params(&req)) {
            return application_unauthorized();
        }
        let list: Vec<Value> = shared
            .subscription()
            .map(|sub| {
                subscription_json(
                    &shared,
                    sub.id,
                    &sub.callback_url,
                    render::timestamp(sub.created_at),
                )
            })
            .into_iter()
            .collect();
        Reply::json(StatusCode::OK, &list)
    })
    .await
}

/// `DELETE /push_subscriptions/{id}?client_id&client_secret` → 204.
async fn delete_subscription(
    shared: web::Data<Shared>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let params = form_params(&req, &body);
    api(&shared, &req, "DELETE /push_subscriptions/{id}", || async {
        if !app_credentials_ok(&shared, &params) {
            return application_unauthorized();
        }
        match path_id(&req) {
            Some(id) if shared.delete_subscription(id) => Reply::empty(StatusCode::NO_CONTENT),
            _ => record_not_found("PushSubscription", "id"),
        }
    })
    .await
}

/// Anything unrouted: Strava's JSON 404 (under `/api/v3` with the API's counting and headers).
async fn not_found(shared: web::Data<Shared>, req: HttpRequest) -> HttpResponse {
    let endpoint = format!("{} (unmatched)", req.method());
    if req.path().starts_with("/api/v3") {
        api(&shared, &req, &endpoint, || async {
            record_not_found("resource", "path")
        })
        .await
    } else {
        shared.count(&endpoint);
        delay(&shared, None).await;
        record_not_found("resource", "path").finish(None)
    }
}
