//! The actors and how they are wired: TokenActor (OAuth tokens), FetcherActor (the only caller
//! of Strava's API, with its rate budget), CacheActor (served data, written through to Postgres).
//! Every piece of state has one of them as its owner; everyone else sends the owner a message
//! through a [`Mailbox`].

pub mod cache;
pub mod fetcher;
pub mod mailbox;
pub mod token;

pub use cache::CacheActor;
pub use fetcher::FetcherActor;
pub use fetcher::budget::BudgetActor;
pub use mailbox::Mailbox;
pub use token::TokenActor;

use std::time::Duration;

use actix::prelude::*;

use mailbox::{Ask, answers_traced};

/// Stop the actor: its timers and the work it runs stop with it (for a graceful shutdown, and
/// for tests that restart the app in one process).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

impl Ask for Shutdown {
    const TIMEOUT: Duration = Duration::from_secs(10);
}

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
stops_on_shutdown!(CacheActor, FetcherActor, TokenActor, BudgetActor);
answers_traced!(CacheActor: cache::Get, cache::ListActivities, cache::Ingest,
    cache::ForgetActivities, cache::Health, Shutdown);
answers_traced!(FetcherActor: fetcher::RunSync, fetcher::Connect, fetcher::Status,
    fetcher::WebhookEvent, fetcher::Disconnect, Shutdown);
answers_traced!(TokenActor: token::AccessToken, token::ConnectedAthlete, token::ForgetTokens,
    token::BeginAuthorization, token::CompleteAuthorization, Shutdown);
answers_traced!(BudgetActor: fetcher::budget::Spend, fetcher::budget::Observe,
    fetcher::budget::Figures, Shutdown);
