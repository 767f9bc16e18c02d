//! Plan and portfolio: the building blocks and the cost model — this block at the edge: its API (`api.rs`), its portal pages (`portal.rs`, `templates/`).

pub mod api;
mod examples;
pub mod portal;

pub use examples::example;

/// Every route of the block, with who may call it.
pub fn routes() -> crate::callers::Routes {
    crate::callers::Routes::new().merge(api::router()).merge(portal::router())
}
