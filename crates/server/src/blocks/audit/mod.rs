//! Spårbarhet: the transparency log — this block at the edge: its API (`api.rs`) and, for a person, what
//! the log holds about them (`my/events`, and Mina sidor → Vem har läst mina uppgifter in `portal.rs`).

pub mod api;
mod examples;
pub mod portal;

pub use examples::example;

/// Every route of the block, with who may call it.
pub fn routes() -> crate::callers::Routes {
    crate::callers::Routes::new().merge(api::router()).merge(portal::router())
}
