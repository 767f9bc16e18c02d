//! Indexering at the edge: `/index/v1` for member systems — register engagements (one, or a batch taken
//! item by item), remove them, and find who holds information about an object (only the categories the
//! decision point lets the caller learn of); and for a person, who holds information about them (the API's
//! `my/engagements` and the portal page, `portal.rs`). Object ids go in bodies only, never in a path or
//! query.

pub mod api;
mod examples;
pub mod portal;

pub use examples::example;

/// Every route of the block, with who may call it.
pub fn routes() -> crate::callers::Routes {
    api::router().merge(portal::router())
}
