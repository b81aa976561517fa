//! The three actors and how they are wired: TokenActor (OAuth tokens), FetcherActor (the only
//! Strava caller), CacheActor (served data, written through to Postgres).

pub mod cache;
pub mod fetcher;
pub mod token;
pub mod webhook;

pub use cache::CacheActor;
pub use fetcher::FetcherActor;
pub use token::TokenActor;
