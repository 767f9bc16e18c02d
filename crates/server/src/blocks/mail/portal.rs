//! Mina sidor → Mina meddelanden.

use crate::callers::Routes;

pub fn router() -> Routes {
    Routes::new()
}
