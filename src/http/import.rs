//! Imports over HTTP (SPEC §11): `POST /strava/import` takes a Strava export ZIP or one
//! activity file and hands it to the ImportActor, `GET /strava/import/{id}` reports a job, and
//! `DELETE /strava/import` forgets every imported activity. All three take `X-API-Key`, checked
//! before anything else: a wrong key never gets its body read.
//!
//! The upload's body is never held in memory. It goes chunk by chunk to a file of its own under
//! `MILEPOST_DATA_DIR/uploads` (0700), which the ImportActor deletes once the job is over, so
//! the app's 64 KiB `PayloadConfig` (for bodies read whole) does not apply to it and
//! `IMPORT_MAX_BYTES` does: a `Content-Length` above it is refused before a byte is read, and a
//! body without one is cut off the moment it passes it. Whatever goes wrong before the job
//! starts (the limit, a broken-off body, a job already running, a shutdown that drops the
//! request) deletes the partial file. A refusal sent before the body's end closes the
//! connection rather than read the rest ([`unread`]).
//!
//! Timeouts: actix-web times only a request's head (`client_request_timeout`), never its body,
//! so an upload of 2 GiB over a slow line takes as long as it needs while it keeps moving. One
//! that stalls for [`UPLOAD_IDLE`] is given up with a 408: it would otherwise hold a connection
//! and a partial file for good. A shutdown waits for in-flight requests only `SHUTDOWN_GRACE`
//! (startup.rs); an upload still arriving then is dropped, its file with it.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, MessageBody};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use futures::StreamExt;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use super::auth::require_api_key;
use super::reply::mailbox;
use super::state::AppState;
use crate::actors::importer::{Busy, ForgetImports, ImportError, ImportStatus, StartImport};
use crate::error::{ApiError, ErrorCode};

/// An upload that sends nothing for this long is given up.
pub const UPLOAD_IDLE: Duration = Duration::from_secs(60);
/// Chunks arrive at a few KiB; writing them in larger pieces costs fewer trips to the blocking
/// pool that file I/O runs on.
const WRITE_BUFFER: usize = 256 * 1024;

/// `POST /strava/import`: 202 `{"import_id"}` once the job has started.
#[tracing::instrument(name = "POST import", skip_all)]
pub async fn upload(
    req: HttpRequest,
    mut payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    match take(&req, &mut payload, &state).await {
        Ok(response) => response,
        Err(refusal) => unread(refusal, payload),
    }
}

async fn take(
    req: &HttpRequest,
    payload: &mut web::Payload,
    state: &AppState,
) -> Result<HttpResponse, ApiError> {
    require_api_key(req, state)?;
    let max = state.import_max_bytes;
    if declared_length(req).is_some_and(|length| length > max) {
        return Err(too_large(max));
    }
    // One import at a time: a second upload is refused before its body is stored.
    if state
        .importer
        .ask(Busy)
        .await
        .map_err(mailbox)?
        .map_err(import_error)?
    {
        return Err(import_error(ImportError::Running));
    }
    let (upload, bytes) = receive(payload, &state.uploads, max).await?;
    let job = state
        .importer
        .ask(StartImport {
            inputs: vec![upload.path.clone()],
            remove_after: true,
            shown_as: Some("upload".to_owned()),
            ..StartImport::default()
        })
        .await
        .map_err(mailbox)?
        .map_err(import_error)?;
    // From here on the job owns the file and deletes it when it is done.
    upload.keep();
    tracing::info!(import = %job.id, bytes, "upload taken");
    Ok(HttpResponse::Accepted().json(json!({"import_id": job.id})))
}

/// A refusal that may leave the body unread. actix-http drains the rest of a chunked body
/// it answered early, to its end, which a client can make endless (and a 401 must not read
/// it at all); while the handler still holds the body, it closes the connection after the
/// answer instead (reading on only for `client_disconnect_timeout` at most). So the answer's
/// body holds the request's until it is sent.
fn unread(refusal: ApiError, payload: web::Payload) -> HttpResponse {
    let (response, body) = refusal.error_response().into_parts();
    let body = body.try_into_bytes().unwrap_or_default();
    response
        .set_body(Unread {
            body: Some(body),
            _request: payload,
        })
        .map_into_boxed_body()
}

/// A response body that keeps the request's body, unread, until it has been sent.
struct Unread {
    body: Option<bytes::Bytes>,
    _request: web::Payload,
}

impl MessageBody for Unread {
    type Error = std::convert::Infallible;

    fn size(&self) -> BodySize {
        BodySize::Sized(self.body.as_ref().map_or(0, |b| b.len() as u64))
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<bytes::Bytes, Self::Error>>> {
        Poll::Ready(self.body.take().map(Ok))
    }
}

/// `GET /strava/import/{id}`: a job's state, progress and, once done, its summary.
#[tracing::instrument(name = "GET import", skip_all)]
pub async fn status(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_api_key(&req, &state)?;
    let id = req.match_info().get("id").unwrap_or_default();
    // Anything the importer could not have made is simply unknown: no need to ask.
    if !is_job_id(id) {
        return Err(unknown_job());
    }
    let job = state
        .importer
        .ask(ImportStatus { id: id.to_owned() })
        .await
        .map_err(mailbox)?
        .map_err(import_error)?
        .ok_or_else(unknown_job)?;
    Ok(HttpResponse::Ok().json(json!({
        "import_id": job.id,
        "state": job.state,
        "files_done": job.files_done,
        "files_total": job.files_total,
        "summary": job.summary,
        "error": job.error,
    })))
}

/// `DELETE /strava/import`: deletes every imported activity, `{"deleted": n}`.
#[tracing::instrument(name = "DELETE import", skip_all)]
pub async fn forget(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_api_key(&req, &state)?;
    let deleted = state
        .importer
        .ask(ForgetImports)
        .await
        .map_err(mailbox)?
        .map_err(import_error)?;
    Ok(HttpResponse::Ok().json(json!({ "deleted": deleted })))
}

/// The ids the ImportActor gives jobs: a UUID's 32 lowercase hex digits.
fn is_job_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn unknown_job() -> ApiError {
    ApiError::not_found("Import not found")
}

fn import_error(e: ImportError) -> ApiError {
    match e {
        ImportError::Running => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::ImportRunning,
            "An import is already running; try again once it is done",
        ),
        ImportError::TimedOut => ApiError::unavailable(&e),
        ImportError::Storage(_) => ApiError::internal(&e),
    }
}

/// The body's declared length. (A `Content-Length` that is not a number never gets here:
/// actix-web answers it with a 400 itself.)
fn declared_length(req: &HttpRequest) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn too_large(max: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
        format!("Upload larger than IMPORT_MAX_BYTES ({max} bytes)"),
    )
}

/// An uploaded file under `uploads`, deleted when dropped unless [`kept`](Upload::keep): every
/// way out of the handler before the job owns the file, a dropped request included, leaves
/// nothing behind.
struct Upload {
    path: PathBuf,
    kept: bool,
}

impl Upload {
    fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.kept {
            // An unlink: quick enough for the worker thread, and it must happen even when the
            // request's future is dropped rather than finished.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A new file of a random name in `dir` (made 0700 if need be), readable by this user only.
async fn create(dir: &Path) -> std::io::Result<(Upload, tokio::fs::File)> {
    use std::os::unix::fs::PermissionsExt as _;
    tokio::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .await?;
    // A directory made before (by hand, or by an older version) is narrowed too: uploads are
    // the athlete's whole history.
    tokio::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).await?;
    sweep_stale(dir).await;
    let path = dir.join(format!("{}.upload", uuid::Uuid::new_v4().simple()));
    let file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .await?;
    Ok((Upload { path, kept: false }, file))
}

/// Uploads older than this were left by a process that died during their import (a finished
/// or refused one deletes its file): no upload waits, nor any import reads one, this long.
const STALE_UPLOAD: Duration = Duration::from_secs(24 * 3600);

/// Deletes uploads a process that died left behind in `dir`, before a new one is stored.
async fn sweep_stale(dir: &Path) {
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let path = entry.path();
        let stale = entry
            .metadata()
            .await
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|age| age > STALE_UPLOAD);
        if stale && path.extension().is_some_and(|ext| ext == "upload") {
            tracing::info!(file = %path.display(), "deleting an upload a stopped import left");
            let _ = tokio::fs::remove_file(&path).await;
        }
    }
}

/// Streams the body to a new file in `dir`; the file and how many bytes it holds. Past `max`
/// bytes, empty, broken off or stalled, the file is deleted and the request refused.
async fn receive(
    payload: &mut web::Payload,
    dir: &Path,
    max: u64,
) -> Result<(Upload, u64), ApiError> {
    let (upload, file) = create(dir).await.map_err(|e| ApiError::internal(&e))?;
    let mut out = tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file);
    let mut received: u64 = 0;
    loop {
        let chunk = match actix_web::rt::time::timeout(UPLOAD_IDLE, payload.next()).await {
            Err(_) => {
                return Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    ErrorCode::RequestTimeout,
                    format!(
                        "Nothing of the upload arrived for {} seconds",
                        UPLOAD_IDLE.as_secs()
                    ),
                ));
            }
            Ok(None) => break,
            Ok(Some(Err(_))) => {
                return Err(ApiError::bad_request(
                    ErrorCode::MalformedBody,
                    "The upload broke off before its end",
                ));
            }
            Ok(Some(Ok(chunk))) => chunk,
        };
        received = received.saturating_add(u64::try_from(chunk.len()).unwrap_or(u64::MAX));
        if received > max {
            return Err(too_large(max));
        }
        out.write_all(&chunk)
            .await
            .map_err(|e| ApiError::internal(&e))?;
    }
    if received == 0 {
        return Err(ApiError::bad_request(
            ErrorCode::MalformedBody,
            "Empty body: send a Strava export ZIP or one activity file (FIT, GPX or TCX, each \
             optionally gzipped) as the request body",
        ));
    }
    out.flush().await.map_err(|e| ApiError::internal(&e))?;
    Ok((upload, received))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_the_importer_makes_is_a_job_id() {
        assert!(is_job_id("0123456789abcdef0123456789abcdef"));
        for id in [
            "",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdef0",
            "0123456789ABCDEF0123456789ABCDEF",
            "0123456789abcdef0123456789abcdeg",
            "../../../../../../../../etc/pass",
            "0123456789abcdef0123456789abcdé",
        ] {
            assert!(!is_job_id(id), "{id}");
        }
    }
}
