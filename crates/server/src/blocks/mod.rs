//! The building blocks at the edge, one folder each: a block's API routes (`api.rs`), its portal pages
//! (`portal.rs`, `templates/`) and its OpenAPI examples (`examples.rs`) sit together, so whoever knows
//! the block finds its HTTP in one step. The block crates themselves know nothing of HTTP; these
//! modules extract, call one service function and map the result. [`ALL`] is the one place they are
//! composed (`crate::routes`).

pub mod access;
pub mod addresses;
pub mod apis;
pub mod audit;
pub mod cases;
pub mod federation;
pub mod identity;
pub mod index;
pub mod mail;
pub mod plan;
pub mod profile;
pub mod representation;
pub mod signatures;

use serde_json::Value;

use crate::callers::Routes;
use crate::openapi::Part;

/// One block at the edge.
pub struct Block {
    pub id: &'static str,
    /// Its routes, each with who may call it.
    pub routes: fn() -> Routes,
    /// Its operations' examples.
    pub example: fn(&str, Part) -> Option<Value>,
}

/// Every block this version serves, in the order its routes are composed.
pub const ALL: &[Block] = &[
    Block { id: "plan", routes: plan::routes, example: plan::example },
    Block { id: "audit", routes: audit::routes, example: audit::example },
    Block { id: "federation", routes: federation::routes, example: federation::example },
    Block { id: "identity", routes: identity::routes, example: identity::example },
    Block { id: "signatures", routes: signatures::routes, example: signatures::example },
    Block { id: "access", routes: access::routes, example: access::example },
    Block { id: "representation", routes: representation::routes, example: representation::example },
    Block { id: "addresses", routes: addresses::routes, example: addresses::example },
    Block { id: "cases", routes: cases::routes, example: cases::example },
    Block { id: "mail", routes: mail::routes, example: mail::example },
    Block { id: "index", routes: index::routes, example: index::example },
    Block { id: "profile", routes: profile::routes, example: profile::example },
    Block { id: "apis", routes: apis::routes, example: apis::example },
];

/// The example of an operation, from the block (or the site) that has it.
pub fn example(operation_id: &str, part: Part) -> Option<Value> {
    ALL.iter().find_map(|b| (b.example)(operation_id, part)).or_else(|| crate::site::example(operation_id, part))
}
