//! API-hantering: the API catalog's pure core. `document` reads an uploaded OpenAPI 3.0/3.1 document
//! (JSON or YAML, with the parser's line and column on failure); `lint` checks it against DIGG's REST
//! API profile (rule ids, SKALL → error, BÖR → warning, JSON pointers, one-line hints); `diff` lists every
//! change between two versions as compatible or breaking by the profile's VER rules; `catalog` the
//! registered APIs and their versions, published only past the lint and the compatibility check; `plans`
//! the terms producers offer, consumers' subscriptions, the gateways' usage and the deprecation pipeline;
//! `gateway` the rules a producer node enforces per call.

pub mod catalog;
pub mod diff;
pub mod document;
pub mod gateway;
pub mod lint;
pub mod plans;
pub mod rules;

pub use diff::{DiffReport, diff};
pub use document::{DocumentError, parse};
pub use lint::{Finding, Level, RULES, Report, lint};
