//! Adressregister: addresses, message types and the change feed — this block at the edge: its API (`api.rs`).

pub mod api;
mod examples;

pub use examples::example;

/// Every route of the block, with who may call it.
pub fn routes() -> crate::callers::Routes {
    crate::callers::Routes::new().merge(api::router())
}
