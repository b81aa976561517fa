//! The status page at `/`: what a person reads first. The handler gathers what the actors
//! know (the connection, the imported activities, the last sync, the rate budget, and the
//! bodies the page shows, from this worker's CacheReader) and hands it to the page's pure
//! renderer.

use std::sync::Arc;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use super::ops::connection_state;
use super::reply::mailbox;
use super::state::AppState;
use super::stats::reader;
use crate::actors::cache::{CachedBody, Get, Health, Lookup, Read};
use crate::actors::fetcher::Status;
use crate::error::ApiError;
use crate::render::page::{self, Budget, Connection, Facts, Imports};
use crate::stats::keys;

fn bytes(body: &Option<Arc<CachedBody>>) -> Option<&[u8]> {
    body.as_ref().map(|b| &b.body[..])
}

pub async fn status(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let reader = reader(&req)?;
    let body = |key| async move {
        match reader.ask(Get(Read::Fixed(key))).await {
            Ok(Lookup::Found(body)) => Ok(Some(body)),
            Ok(_) => Ok(None),
            Err(e) => Err(mailbox(e)),
        }
    };
    let (facts, fetcher, ytd, monthly, recent) = futures::join!(
        state.cache.ask(Health),
        state.fetcher.ask(Status),
        body(keys::YTD),
        body(keys::MONTHLY),
        body(keys::RECENT),
    );
    let fetcher = fetcher.map_err(mailbox)?;
    let (ytd, monthly, recent) = (ytd?, monthly?, recent?);
    let (connection, imports, last_sync) = match facts.map_err(mailbox)? {
        Ok(facts) => {
            let app = fetcher.app.unwrap_or_default();
            let connection = match connection_state(facts.connection.as_deref(), &app) {
                "connected" => Connection::Connected,
                "reauthorization_required" => Connection::ReauthorizationRequired,
                "app_inactive" => Connection::AppInactive,
                _ => Connection::NotConnected,
            };
            let imports = Imports {
                activities: facts.imported,
                last: facts.last_import,
            };
            (connection, imports, facts.last_sync)
        }
        Err(_) => (Connection::DatabaseUnreachable, Imports::default(), None),
    };
    let host = req.connection_info().host().to_owned();
    let base_url = match &state.public_origin {
        Some(origin) => origin.clone(),
        None => format!("{}://{host}", req.connection_info().scheme()),
    };
    let html = page::render(&Facts {
        connection,
        imports,
        last_sync,
        next_refresh: last_sync.and_then(|at| at.checked_add_signed(state.refresh_interval)),
        budget: fetcher.budget.as_ref().map(|b| Budget {
            used: b.usage,
            limit: b.limit,
        }),
        ytd: bytes(&ytd),
        monthly: bytes(&monthly),
        recent: bytes(&recent),
        base_url: &base_url,
        now: state.clock.now(),
    });
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(page::content_security_policy()),
        ))
        .content_type("text/html; charset=utf-8")
        .body(html))
}
