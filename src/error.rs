//! The one HTTP error type. Every error body is JSON `{"detail": …, "code": "…"}` with `detail`
//! as the old FastAPI service gave it; 5xx bodies are opaque and carry an error id that also
//! appears in the log line with the cause.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{Value, json};

/// The stable `code` of every error body. Clients match on these strings: a variant's serialized
/// name never changes once released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A read before any sync, an unknown year, an unknown path.
    NotFound,
    /// FastAPI's 422: a parameter or field is missing or malformed.
    ValidationError,
    InvalidApiKey,
    InvalidMetricsToken,
    InvalidVerifyToken,
    InternalError,
    /// An actor did not answer in time.
    Unavailable,
    NotReady,
    NotConnected,
    ReauthorizationRequired,
    /// The Strava rate budget is spent.
    RateLimited,
    StravaError,
    OauthNotConfigured,
    OauthFailed,
    InvalidState,
    MissingScope,
    NotOwner,
    MalformedBody,
    MalformedEvent,
    PayloadTooLarge,
    UnsupportedMediaType,
    UriTooLong,
    HeadersTooLarge,
    CorsRejected,
    /// Over the per-address limit of the OAuth routes.
    TooManyRequests,
    /// Production's first connection without the start-up log's setup code.
    SetupRequired,
    /// Strava says the application is inactive (its owner's subscription lapsed).
    StravaAppInactive,
    /// A request body that did not arrive in time.
    RequestTimeout,
    /// Work only the leader does, and no replica leads now.
    NoLeader,
    /// One import at a time: another one (or a forget) is under way.
    ImportRunning,
}

impl ErrorCode {
    /// Every code, for the OpenAPI document.
    pub const ALL: [ErrorCode; 30] = [
        Self::NotFound,
        Self::ValidationError,
        Self::InvalidApiKey,
        Self::InvalidMetricsToken,
        Self::InvalidVerifyToken,
        Self::InternalError,
        Self::Unavailable,
        Self::NotReady,
        Self::NotConnected,
        Self::ReauthorizationRequired,
        Self::RateLimited,
        Self::StravaError,
        Self::OauthNotConfigured,
        Self::OauthFailed,
        Self::InvalidState,
        Self::MissingScope,
        Self::NotOwner,
        Self::MalformedBody,
        Self::MalformedEvent,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::UriTooLong,
        Self::HeadersTooLarge,
        Self::CorsRejected,
        Self::TooManyRequests,
        Self::SetupRequired,
        Self::StravaAppInactive,
        Self::RequestTimeout,
        Self::NoLeader,
        Self::ImportRunning,
    ];
}

/// The serialized name, so a log line says what the body said.
impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match serde_json::to_value(self) {
            Ok(Value::String(name)) => f.write_str(&name),
            _ => Err(std::fmt::Error),
        }
    }
}

/// Where a request problem is: the first entry of FastAPI's `loc`, and an OpenAPI parameter's `in`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Place {
    Query,
    Path,
    Header,
    Body,
}

/// One entry of a FastAPI 422: `{"loc": [place, name], "msg": msg, "type": kind}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub place: Place,
    pub name: String,
    pub msg: String,
    /// Pydantic's error type, e.g. `missing`, `int_parsing`, `less_than_equal`.
    pub kind: &'static str,
}

impl Problem {
    pub fn new(place: Place, name: &str, msg: impl Into<String>, kind: &'static str) -> Self {
        Self {
            place,
            name: name.to_owned(),
            msg: msg.into(),
            kind,
        }
    }

    /// Pydantic's `missing`.
    pub fn missing(place: Place, name: &str) -> Self {
        Self::new(place, name, "Field required", "missing")
    }

    fn to_json(&self) -> Value {
        json!({"loc": [self.place, self.name], "msg": self.msg, "type": self.kind})
    }
}

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    detail: Value,
    code: ErrorCode,
    retry_after: Option<u64>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.code)
    }
}

/// An error and every cause under it, `outer: inner: innermost`, for a log line.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// A short random id tying a 5xx answer to its log line.
fn error_id() -> String {
    format!("{:08x}", rand::random::<u32>())
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, detail: impl Into<Value>) -> Self {
        Self {
            status,
            detail: detail.into(),
            code,
            retry_after: None,
        }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, detail.into())
    }

    pub fn bad_request(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail.into())
    }

    /// The old service's 401 for a missing or wrong API key.
    pub fn invalid_api_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidApiKey,
            json!({"message": "Invalid or missing API key", "category": "security"}),
        )
    }

    /// FastAPI's 422: one entry per problem, `loc` naming where it is.
    pub fn validation(problems: &[Problem]) -> Self {
        let detail: Vec<Value> = problems.iter().map(Problem::to_json).collect();
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ValidationError,
            Value::Array(detail),
        )
    }

    /// A server-side failure: `public` is what the client reads, the cause goes to the log only.
    pub fn server(
        status: StatusCode,
        code: ErrorCode,
        public: &str,
        cause: &dyn std::error::Error,
    ) -> Self {
        let id = error_id();
        tracing::error!(error_id = %id, %code, cause = %chain(cause), "{public}");
        Self::new(status, code, format!("{public} (Error ID: {id})"))
    }

    pub fn internal(cause: &dyn std::error::Error) -> Self {
        Self::server(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::InternalError,
            "Internal server error",
            cause,
        )
    }

    /// An actor did not answer (stopped, or its mailbox is full): try again shortly.
    pub fn unavailable(cause: &dyn std::error::Error) -> Self {
        Self::server(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "Service temporarily unavailable",
            cause,
        )
        .with_retry_after(1)
    }

    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        // For the edge, which counts and logs refusals by their code.
        response.extensions_mut().insert(self.code);
        response.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        if let Some(secs) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        response.json(json!({"detail": self.detail, "code": self.code}))
    }
}

impl From<actix::MailboxError> for ApiError {
    fn from(e: actix::MailboxError) -> Self {
        Self::unavailable(&e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    async fn body(e: ApiError) -> Value {
        let bytes = to_bytes(e.error_response().into_body()).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[actix_web::test]
    async fn the_api_key_error_is_the_old_services_body() {
        assert_eq!(
            body(ApiError::invalid_api_key()).await,
            json!({"detail": {"message": "Invalid or missing API key", "category": "security"}, "code": "invalid_api_key"})
        );
    }

    #[actix_web::test]
    async fn server_errors_carry_an_error_id_and_not_the_cause() {
        let e = ApiError::server(
            StatusCode::BAD_GATEWAY,
            ErrorCode::StravaError,
            "Failed to refresh Strava data",
            &std::io::Error::other("secret cause"),
        );
        let body = body(e).await;
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.starts_with("Failed to refresh Strava data (Error ID: "));
        assert!(!detail.contains("secret"));
    }

    #[test]
    fn a_chain_names_every_cause() {
        #[derive(Debug, thiserror::Error)]
        #[error("the sync failed")]
        struct Outer(#[source] std::io::Error);
        let e = Outer(std::io::Error::other("connection reset"));
        assert_eq!(chain(&e), "the sync failed: connection reset");
    }

    /// The strings clients match on, as they were before the codes became an enum.
    #[test]
    fn every_code_serializes_to_its_released_string() {
        let released = [
            "not_found",
            "validation_error",
            "invalid_api_key",
            "invalid_metrics_token",
            "invalid_verify_token",
            "internal_error",
            "unavailable",
            "not_ready",
            "not_connected",
            "reauthorization_required",
            "rate_limited",
            "strava_error",
            "oauth_not_configured",
            "oauth_failed",
            "invalid_state",
            "missing_scope",
            "not_owner",
            "malformed_body",
            "malformed_event",
            "payload_too_large",
            "unsupported_media_type",
            "uri_too_long",
            "headers_too_large",
            "cors_rejected",
            "too_many_requests",
            "setup_required",
            "strava_app_inactive",
            "request_timeout",
            "no_leader",
            "import_running",
        ];
        assert_eq!(ErrorCode::ALL.len(), released.len());
        for (code, text) in ErrorCode::ALL.into_iter().zip(released) {
            assert_eq!(serde_json::to_value(code).unwrap(), json!(text));
            assert_eq!(code.to_string(), text);
        }
    }

    #[actix_web::test]
    async fn a_validation_error_lists_every_problem_in_fastapis_shape() {
        let e = ApiError::validation(&[
            Problem::missing(Place::Query, "code"),
            Problem::new(
                Place::Path,
                "year",
                "Input should be less than or equal to 2026",
                "less_than_equal",
            ),
        ]);
        assert_eq!(
            body(e).await,
            json!({"detail": [
                {"loc": ["query", "code"], "msg": "Field required", "type": "missing"},
                {"loc": ["path", "year"], "msg": "Input should be less than or equal to 2026", "type": "less_than_equal"},
            ], "code": "validation_error"})
        );
    }
}
