//! Stopping without losing an accepted request. actix-web's graceful stop finishes the requests
//! it has started but closes, unanswered, every connection whose request it has not read yet
//! (one accepted a moment before the stop, or a kept connection a request was just written
//! on). So on SIGTERM or Ctrl-C [`Drain::stop_server`] first drains: `/readyz` answers 503 and
//! every answer carries `Connection: close`, so a load balancer takes this replica out and
//! clients finish their current request and reconnect elsewhere, while it keeps serving. Then
//! it stops accepting, waits until every accepted request has been answered, and only then
//! stops the server. Connections still in the kernel's listen backlog then are reset by the
//! kernel: milepost never accepted them.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::{ServerHandle, ServiceResponse};
use actix_web::http::ConnectionType;

/// How long no request may be in flight after the listener is paused before the server stops:
/// long enough for a connection accepted just before the pause to have its request read.
const QUIET: Duration = Duration::from_millis(100);
/// The longest wait for that quiet; requests still running then are left to the server's own
/// graceful stop, which finishes started requests.
const SETTLE_AT_MOST: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(10);

/// Whether the server is draining, and how many requests are being handled.
#[derive(Debug, Default)]
pub struct Drain {
    draining: AtomicBool,
    /// One count per HTTP worker: a request is counted on its own worker's line.
    workers: Mutex<Vec<Arc<AtomicUsize>>>,
}

/// One worker's count of the requests it is handling.
#[derive(Debug, Clone)]
pub struct WorkerCount(Arc<AtomicUsize>);

/// Counts one request while it is handled.
#[derive(Debug)]
pub struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl WorkerCount {
    /// Counts a request until the guard is dropped.
    pub fn enter(&self) -> InFlight {
        self.0.fetch_add(1, Ordering::AcqRel);
        InFlight(self.0.clone())
    }
}

impl Drain {
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// A new worker's count.
    pub fn worker(&self) -> WorkerCount {
        let count = Arc::new(AtomicUsize::new(0));
        if let Ok(mut workers) = self.workers.lock() {
            workers.push(count.clone());
        }
        WorkerCount(count)
    }

    /// Requests being handled now.
    pub fn in_flight(&self) -> usize {
        self.workers.lock().map_or(0, |workers| {
            workers.iter().map(|w| w.load(Ordering::Acquire)).sum()
        })
    }

    /// Once draining, `response` closes its connection after it is sent.
    pub fn close_if_draining<B>(&self, response: &mut ServiceResponse<B>) {
        if self.is_draining() {
            response
                .response_mut()
                .head_mut()
                .set_connection_type(ConnectionType::Close);
        }
    }

    /// Drains for `period`, stops accepting, waits until no request is in flight (for
    /// [`QUIET`], at most [`SETTLE_AT_MOST`]), then stops `server` gracefully.
    pub async fn stop_server(&self, server: &ServerHandle, period: Duration) {
        self.draining.store(true, Ordering::Release);
        tracing::info!(
            drain_secs = period.as_secs_f64(),
            "shutting down: draining (readyz answers 503, connections close after their answer)"
        );
        tokio::time::sleep(period).await;
        server.pause().await;
        let paused = Instant::now();
        let mut quiet_since = paused;
        while paused.elapsed() < SETTLE_AT_MOST {
            if self.in_flight() > 0 {
                quiet_since = Instant::now();
            } else if quiet_since.elapsed() >= QUIET {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        tracing::info!(
            in_flight = self.in_flight(),
            "shutting down: no longer accepting; finishing in-flight requests"
        );
        server.stop(true).await;
    }
}
