//! The OpenAPI document and the interactive docs page, served entirely from the binary.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use super::state::AppState;

/// Only this page's own script and style, and requests back to this service.
const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub async fn openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.openapi.clone())
}

fn asset(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, DOCS_CSP))
        .body(body)
}

pub async fn page() -> HttpResponse {
    asset("text/html; charset=utf-8", include_str!("docs/index.html"))
}

pub async fn script() -> HttpResponse {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("docs/docs.js"),
    )
}

pub async fn style() -> HttpResponse {
    asset("text/css; charset=utf-8", include_str!("docs/docs.css"))
}
