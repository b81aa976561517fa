//! The one HTTP error type. Every error body is JSON `{"detail": …, "code": "…"}` with `detail`
//! as the old FastAPI service gave it; 5xx bodies are opaque and carry an error id that also
//! appears in the log line with the cause.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Value, json};

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    detail: Value,
    code: &'static str,
    retry_after: Option<u64>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.code)
    }
}

/// A short random id tying a 5xx answer to its log line.
fn error_id() -> String {
    format!("{:08x}", rand::random::<u32>())
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<Value>) -> Self {
        Self {
            status,
            detail: detail.into(),
            code,
            retry_after: None,
        }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail.into())
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail.into())
    }

    /// The old service's 401 for a missing or wrong API key.
    pub fn invalid_api_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
            json!({"message": "Invalid or missing API key", "category": "security"}),
        )
    }

    /// FastAPI's 422: one entry per problem, `loc` naming where it is.
    pub fn validation(problems: Vec<(&'static str, String, String, &'static str)>) -> Self {
        let detail: Vec<Value> = problems
            .into_iter()
            .map(|(place, name, msg, kind)| json!({"loc": [place, name], "msg": msg, "type": kind}))
            .collect();
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
            Value::Array(detail),
        )
    }

    /// A server-side failure: `public` is what the client reads, the cause goes to the log only.
    pub fn server(
        status: StatusCode,
        code: &'static str,
        public: &str,
        cause: &dyn std::fmt::Display,
    ) -> Self {
        let id = error_id();
        tracing::error!(error_id = %id, %code, cause = %cause, "{public}");
        Self::new(status, code, format!("{public} (Error ID: {id})"))
    }

    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        Self::server(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Internal server error",
            cause,
        )
    }

    /// An actor did not answer (stopped, or its mailbox is full): try again shortly.
    pub fn unavailable(cause: &dyn std::fmt::Display) -> Self {
        Self::server(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
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
            "strava_error",
            "Failed to refresh Strava data",
            &"secret cause",
        );
        let body = body(e).await;
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.starts_with("Failed to refresh Strava data (Error ID: "));
        assert!(!detail.contains("secret"));
    }
}
