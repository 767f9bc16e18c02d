//! What the edge serves besides the blocks: the start page, the error page and the shared portal
//! layout (`portal.rs`, `templates/`), the API documentation (`docs.rs`), health and metrics
//! (`system.rs`).

pub mod docs;
mod examples;
pub mod portal;
pub mod system;

pub use examples::example;

/// The site's routes, each with who may call it.
pub fn routes() -> crate::callers::Routes {
    crate::callers::Routes::new().merge(system::router()).merge(docs::router()).merge(portal::router())
}
