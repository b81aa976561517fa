//! The actors and how they are wired: TokenActor (OAuth tokens), FetcherActor (the only caller
//! of Strava's API, with its rate budget), CacheActor (served data, written through to Postgres),
//! ImportActor (import jobs: the athlete's export and activity files).
//! Every piece of state has one of them as its owner; everyone else sends the owner a message
//! through a [`Mailbox`].

pub mod cache;
pub mod fetcher;
pub mod importer;
pub mod mailbox;
pub mod setup;
pub mod shutdown;
pub mod token;

pub use cache::CacheActor;
pub use fetcher::FetcherActor;
pub use fetcher::budget::BudgetActor;
pub use importer::ImportActor;
pub use mailbox::Mailbox;
pub use shutdown::Shutdown;
pub use token::TokenActor;
