//! Identitet: login, API tokens, employee credentials and the test eID — this block at the edge: its API (`api.rs`), its portal pages (`portal.rs`, `templates/`), the test eID provider (`testeid.rs`).

pub mod api;
mod examples;
pub mod portal;
pub mod testeid;

pub use examples::example;

/// Every route of the block, with who may call it.
pub fn routes() -> crate::callers::Routes {
    crate::callers::Routes::new().merge(api::router()).merge(portal::router()).merge(testeid::router())
}
