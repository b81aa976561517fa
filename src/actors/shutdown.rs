//! [`Shutdown`]: the message every actor answers by stopping, its timers and the work it runs
//! with it (for a graceful shutdown, and for tests that restart the app in one process).

use std::time::Duration;

use actix::Message;

use super::mailbox::Ask;

/// Stop the actor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

impl Ask for Shutdown {
    const TIMEOUT: Option<Duration> = Some(Duration::from_secs(10));
}

/// Makes `$actor` stop on [`Shutdown`].
macro_rules! stops_on_shutdown {
    ($actor:ty) => {
        impl actix::Handler<$crate::actors::shutdown::Shutdown> for $actor {
            type Result = ();

            fn handle(&mut self, _: $crate::actors::shutdown::Shutdown, ctx: &mut Self::Context) {
                actix::ActorContext::stop(ctx);
            }
        }
    };
}
pub(crate) use stops_on_shutdown;
