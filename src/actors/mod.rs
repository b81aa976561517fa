//! The three actors and how they are wired: TokenActor (OAuth tokens), FetcherActor (the only
//! Strava caller), CacheActor (served data, written through to Postgres).

pub mod cache;
pub mod fetcher;
pub mod token;
pub mod webhook;

pub use cache::CacheActor;
pub use fetcher::FetcherActor;
pub use token::TokenActor;

use actix::prelude::*;

/// Stop the actor: its timers and the work it runs stop with it (for a graceful shutdown, and
/// for tests that restart the app in one process).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

macro_rules! stops_on_shutdown {
    ($($actor:ty),*) => {$(
        impl Handler<Shutdown> for $actor {
            type Result = ();

            fn handle(&mut self, _: Shutdown, ctx: &mut Self::Context) {
                ctx.stop();
            }
        }
    )*};
}
stops_on_shutdown!(CacheActor, FetcherActor, TokenActor);
