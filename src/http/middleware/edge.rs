//! Everything a request meets between the connection and the router, in one middleware: one
//! service call and one future per request, nothing boxed, each concern a function of its own
//! file. In order, a request:
//! - is counted in flight on its worker ([`drain`]), so a shutdown waits for it, and once
//!   draining its answer closes the connection;
//! - has its path normalized and its route found ([`route`]), so the span, the counter and the
//!   log all see `/strava/health` for `/strava/health/` (as the old service redirected);
//! - if it is the first to carry `X-Forwarded-For`, has its peer checked against
//!   `TRUSTED_PROXIES` ([`forwarded`]: a warning, once, for a proxy not listed);
//! - gets its id and its span ([`request_span`]; a read from memory's at debug level), entered
//!   whenever anything below runs, so every line logged below (a refusal, a handler, its error
//!   id) carries the id;
//! - is answered here if it is a CORS preflight ([`cors`], whatever its size: the real request
//!   still meets the limits) or over a limit ([`limits`]): nothing oversized reaches a handler;
//! - else goes to the router (where the OAuth routes' per-address rate limit wraps just those
//!   two handlers).
//!
//! Every answer, preflights and refusals included, then gets its CORS headers (so the frontend
//! can read a refusal), the security headers ([`headers`]), `X-Request-Id`, is counted
//! ([`metrics`]; an unauthenticated refusal also by its cause, and logged at most once a minute
//! per route and cause, [`refusals`]) and, with `ACCESS_LOG`, logged ([`access_log`]) in its
//! span.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::Error;
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::HeaderValue;
use tracing::Span;

use super::cors::Cors;
use super::drain::{Drain, InFlight, WorkerCount};
use super::forwarded::ForwardedCheck;
use super::headers::SecurityHeaders;
use super::metrics::{RequestCounter, UNMATCHED};
use super::refusals::{self, Refusals};
use super::request_span::{self, RequestId, X_REQUEST_ID};
use super::route::{self, RouteId, Routes};
use super::{access_log, limits};
use crate::error::ErrorCode;

/// What the edge needs, shared by every worker.
pub struct EdgeConfig {
    pub routes: Arc<Routes>,
    pub counter: Arc<RequestCounter>,
    pub cors: Cors,
    pub security: SecurityHeaders,
    pub drain: Arc<Drain>,
    pub access_log: bool,
    pub refusals: Arc<Refusals>,
    pub forwarded: ForwardedCheck,
}

/// The middleware (`App::wrap`); each worker's app gets its own in-flight count.
pub struct Edge(Rc<Worker>);

/// One worker's edge.
struct Worker {
    config: Arc<EdgeConfig>,
    in_flight: WorkerCount,
}

impl Edge {
    pub fn new(config: Arc<EdgeConfig>) -> Self {
        let in_flight = config.drain.worker();
        Self(Rc::new(Worker { config, in_flight }))
    }
}

impl<S, B> Transform<S, ServiceRequest> for Edge
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: Unpin,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = EdgeService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(EdgeService {
            service,
            worker: self.0.clone(),
        }))
    }
}

pub struct EdgeService<S> {
    service: S,
    worker: Rc<Worker>,
}

impl<S, B> Service<ServiceRequest> for EdgeService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: Unpin,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = EdgeFuture<S::Future, B>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let in_flight = self.worker.in_flight.enter();
        let config = &self.worker.config;
        route::normalize(&mut req);
        let route = config.routes.find(req.match_info().as_str());
        let pattern = route.map_or(UNMATCHED, |id| config.routes.pattern(id));
        let id = RequestId::new();
        let span = match route {
            Some(route) if config.routes.is_read(route) && !config.access_log => {
                request_span::read_span(id, req.method(), pattern)
            }
            _ => request_span::span(id, req.method(), pattern),
        };
        let origin = config.cors.allowed(req.headers()).cloned();
        config
            .forwarded
            .check(req.peer_addr().map(|a| a.ip()), req.headers());
        let early = config
            .cors
            .preflight(req.method(), req.headers())
            .or_else(|| limits::refuse(&req));
        let answer = match early {
            Some(answer) => Answer::Here(ready(req.into_response(answer))),
            None => Answer::Router(span.in_scope(|| self.service.call(req))),
        };
        EdgeFuture {
            answer,
            after: After {
                span,
                id,
                origin,
                route,
                started: config.access_log.then(Instant::now),
                worker: self.worker.clone(),
                _in_flight: in_flight,
            },
            _body: std::marker::PhantomData,
        }
    }
}

/// Where the answer comes from.
enum Answer<F> {
    Router(F),
    Here(Ready<ServiceResponse<BoxBody>>),
}

/// What is done to the answer.
struct After {
    span: Span,
    id: RequestId,
    origin: Option<HeaderValue>,
    route: Option<RouteId>,
    started: Option<Instant>,
    worker: Rc<Worker>,
    /// Released when the answer leaves the edge.
    _in_flight: InFlight,
}

impl After {
    fn finish<B>(&self, response: &mut ServiceResponse<B>) {
        let config = &self.worker.config;
        let headers = response.headers_mut();
        Cors::decorate(self.origin.clone(), headers);
        config.security.apply(headers);
        headers.insert(X_REQUEST_ID, self.id.header_value());
        let status = response.status().as_u16();
        config.counter.count(self.route, status);
        if (400..500).contains(&status) {
            let pattern = self.route.map(|id| config.routes.pattern(id));
            let code = response.response().extensions().get::<ErrorCode>().copied();
            if let Some((route, cause)) =
                refusals::refusal(status, pattern, response.request().path(), code)
            {
                let _entered = self.span.enter();
                config
                    .refusals
                    .refused(route, cause, status, Instant::now());
            }
        }
        config.drain.close_if_draining(response);
        if let Some(started) = self.started {
            let pattern = self.route.map(|id| config.routes.pattern(id));
            access_log::log(response.request(), pattern, status, started.elapsed());
        }
    }
}

pub struct EdgeFuture<F, B> {
    answer: Answer<F>,
    after: After,
    _body: std::marker::PhantomData<fn() -> B>,
}

impl<F, B> Future for EdgeFuture<F, B>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>> + Unpin,
    B: MessageBody,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let _entered = this.after.span.enter();
        let mut response = match &mut this.answer {
            Answer::Router(inner) => match Pin::new(inner).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(response)) => response.map_into_left_body(),
            },
            Answer::Here(here) => match Pin::new(here).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(response) => response.map_into_right_body(),
            },
        };
        this.after.finish(&mut response);
        Poll::Ready(Ok(response))
    }
}
