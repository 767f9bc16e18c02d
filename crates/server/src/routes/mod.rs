//! One router module per block (plus the system endpoints); each handler extracts, calls one service
//! function and maps the result.

pub mod access;
pub mod addresses;
pub mod audit;
pub mod docs;
pub mod federation;
pub mod identity;
pub mod plan;
pub mod representation;
pub mod signatures;
pub mod system;
pub mod testeid;
