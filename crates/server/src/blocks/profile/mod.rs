//! Min profil at the edge: `/profile/v1` — for a person, their contact details (verified with codes sent
//! through the notification sender), preferences and consents with signed receipts; for a producing
//! member node, the consent check it makes before answering a call (`consent-checks`); for anyone, the
//! receipts' keys. The portal page is `portal.rs` (`/mina-sidor/profil`).

pub mod api;
mod examples;
pub mod portal;

use std::future::Future;
use std::pin::Pin;

pub use examples::example;

use crate::AppState;

/// Every route of the block, with who may call it.
pub fn routes() -> crate::callers::Routes {
    api::router().merge(portal::router())
}

/// What Min profil asks of the federation (members in good standing) and the index (who keeps what).
pub struct Registry {
    pub store: ena_store::Store,
}

impl ena_profile::Registry for Registry {
    fn organisation<'a>(
        &'a self,
        organisation: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Option<String>, String>> + Send + 'a>> {
        Box::pin(async move {
            let m =
                ena_federation::repo::active_member_of(&self.store, organisation).await.map_err(|e| e.to_string())?;
            Ok(m.map(|m| m.name))
        })
    }

    fn holds<'a>(
        &'a self,
        holder: &'a str,
        category: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<bool, String>> + Send + 'a>> {
        Box::pin(async move { ena_index::repo::holds(&self.store, holder, category).await.map_err(|e| e.to_string()) })
    }
}

/// Whether `person` acts for `organisation` (a role or a mandate in force): who may give a contact for
/// notices about it.
pub async fn acts_for(state: &AppState, person: &ena_core::PersonId, organisation: &str) -> bool {
    state.representation.acting_for(person).await.is_ok_and(|all| all.iter().any(|a| a.party == organisation))
}

/// Send a verification code through the notification sender. On a test installation whose sender only
/// logs, the code is returned to be shown (TEST ONLY: there is nowhere else for it to go).
pub fn send_code(state: &AppState, notice: ena_profile::CodeNotice) -> Option<String> {
    let notifier = crate::notify::Notifier::of(state.config.notify_command.as_deref());
    let shown = (notifier.is_log_only() && state.config.test_eid).then(|| notice.code.clone());
    crate::notify::spawn(notifier, crate::notify::Notice::VerificationCode(notice));
    shown
}
