//! API-hantering at the edge: `/apis/v1` — the REST API profile lint and the breaking-change report for
//! anyone's OpenAPI document and the catalog (`api.rs`), with its OpenAPI examples (`examples.rs`), and the
//! catalog in the portal (`portal.rs`, `/api-katalog`); plans, subscriptions, the gateways' table and usage,
//! notices and the operator's exceptions (`plans.rs`); each API's and version's portal pages (`pages.rs`); a person's subscriptions for the organisations they
//! act for (`members.rs`); ena's
//! own APIs put in the catalog at start (`own.rs`). The rules and the
//! comparison are `ena_apis`.

pub mod api;
mod examples;
mod members;
pub mod own;
mod pages;
pub mod plans;
pub mod portal;

pub use examples::example;

/// Every route of the block, with who may call it.
pub fn routes() -> crate::callers::Routes {
    api::router().merge(plans::router()).merge(portal::router()).merge(pages::router()).merge(members::router())
}
