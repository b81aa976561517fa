//! The one way to ask an actor something: [`Mailbox::ask`]. It waits at most the message's own
//! [`Ask::TIMEOUT`] (no timer for an actor on the asker's own thread), counts handled messages, errors and those in flight, times each one, and
//! carries the caller's tracing span into the actor ([`Traced`]), so what an actor logs while
//! handling a request's message carries that request's id.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::dev::{MessageResponse, ToEnvelope};
use actix::{Actor, Addr, Handler, MailboxError, Message};

use crate::metrics::{MessageLabels, Metrics};

/// A message an actor answers, with how long a caller waits for the answer. Chosen per message:
/// a read or a webhook acknowledgement must never wait as long as a sync.
pub trait Ask: Message {
    /// `None` for a message only ever asked of an actor on the asker's own thread (a worker's
    /// CacheReader): an actor that does not answer there has stopped the thread, so no timer
    /// could fire, and a timer per read would be paid for nothing.
    const TIMEOUT: Option<Duration>;
}

/// Whether an actor's answer was an error, for the error counter.
pub trait Reply {
    fn is_error(&self) -> bool;
}

impl<T, E> Reply for Result<T, E> {
    fn is_error(&self) -> bool {
        self.is_err()
    }
}

impl<T> Reply for Option<T> {
    fn is_error(&self) -> bool {
        false
    }
}

impl Reply for () {
    fn is_error(&self) -> bool {
        false
    }
}

/// A message together with the span of whoever sent it.
pub struct Traced<M> {
    span: tracing::Span,
    msg: M,
}

impl<M: Message> Message for Traced<M> {
    type Result = M::Result;
}

/// Lets `$actor` answer each listed message [`Traced`]: the sender's span is entered while the
/// actor's own handler runs, so spans that handler opens (`#[tracing::instrument]`) are
/// children of it, and futures it returns carry them (`in_current_span`).
macro_rules! answers_traced {
    ($actor:ty: $($msg:ty),* $(,)?) => {$(
        impl actix::Handler<$crate::actors::mailbox::Traced<$msg>> for $actor {
            type Result = <Self as actix::Handler<$msg>>::Result;

            fn handle(
                &mut self,
                traced: $crate::actors::mailbox::Traced<$msg>,
                ctx: &mut Self::Context,
            ) -> Self::Result {
                let (span, msg) = traced.into_parts();
                let _entered = span.enter();
                <Self as actix::Handler<$msg>>::handle(self, msg, ctx)
            }
        }
    )*};
}
pub(crate) use answers_traced;

impl<M> Traced<M> {
    pub(crate) fn into_parts(self) -> (tracing::Span, M) {
        (self.span, self.msg)
    }
}

/// The last segment of a type's path: `milepost::actors::cache::Get` → `Get`.
fn short_name<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

/// An actor's address with the metrics every message to it is counted in.
pub struct Mailbox<A: Actor> {
    addr: Addr<A>,
    metrics: Arc<Metrics>,
}

impl<A: Actor> Clone for Mailbox<A> {
    fn clone(&self) -> Self {
        Self {
            addr: self.addr.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

impl<A: Actor> std::fmt::Debug for Mailbox<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mailbox<{}>", short_name::<A>())
    }
}

impl<A: Actor> Mailbox<A> {
    pub fn new(addr: Addr<A>, metrics: Arc<Metrics>) -> Self {
        Self { addr, metrics }
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The address, for what is told rather than asked (no answer, so nothing to count).
    pub fn addr(&self) -> &Addr<A> {
        &self.addr
    }

    /// Sends `msg` and waits for the answer (at most `M::TIMEOUT`), counting and timing it.
    pub async fn ask<M>(&self, msg: M) -> Result<M::Result, MailboxError>
    where
        A: Handler<Traced<M>>,
        A::Context: ToEnvelope<A, Traced<M>>,
        M: Ask + Send + 'static,
        M::Result: Send + Reply,
        <A as Handler<Traced<M>>>::Result: MessageResponse<A, Traced<M>>,
    {
        let figures = self.metrics.actor_message::<A, M>(|| MessageLabels {
            actor: short_name::<A>(),
            message: short_name::<M>(),
        });
        figures.started();
        let sent = Instant::now();
        let traced = Traced {
            span: tracing::Span::current(),
            msg,
        };
        let request = self.addr.send(traced);
        let answer = match M::TIMEOUT {
            Some(timeout) => request.timeout(timeout).await,
            None => request.await,
        };
        let failed = answer.as_ref().map_or(true, Reply::is_error);
        figures.finished(sent, failed);
        answer
    }
}
