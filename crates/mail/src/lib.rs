//! Mina meddelanden: digital mail from public bodies to people and companies.
//!
//! **FaR**, the recipient registry (`far.rs`): who chose to receive digital mail, by personal or
//! organisation number, at which mailbox operator, and which senders they block (every public sender is
//! accepted by default; a blocked one sends paper). Every change is a statement its signer signed with
//! the signature service, kept with the signature; a company's change needs the signatures its
//! firmateckning needs (from the company register), collected across several logins. Reachability
//! answers a sender for up to 10 000 ids at once with only what that sender may know, and says when
//! mail will be read by a representative (Mina ombud's mail package).
//!
//! **Mailbox operators** are federation members approved as `ena_mailbox_operator` holding the
//! `connected-mina-meddelanden` trust mark ([`Operators`], implemented for the trust anchor); FaR asks
//! for an operator's standing on every use, so a suspended operator gets no mail from the next call on.

mod far;
pub mod mailbox;
pub mod markdown;
mod model;
pub mod repo;
#[cfg(test)]
mod tests;
pub mod wire;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use ena_audit::AuditLog;
use ena_federation::anchor::{ENA_MAILBOX_OPERATOR, MemberStatus, TrustAnchor};
use ena_representation::Representation;
use ena_store::Store;
use serde_json::Value;

pub use crate::model::*;
/// The retry delay after failed attempts, as messaging backs off (what goes back to senders waits the same way).
pub use ena_messaging::backoff;

/// A boxed future (the traits below are used as objects).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where mailbox operators and their standing come from.
pub trait Operators: Send + Sync {
    /// The operator `id` if it is in good standing now, else why not.
    fn operator<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Operator, String>>;
    /// Every operator in good standing.
    fn operators(&self) -> BoxFuture<'_, Result<Vec<Operator>, String>>;
}

/// The largest attachment an operator takes when its metadata does not say (bytes).
pub const DEFAULT_MAX_ATTACHMENT: u64 = 64 * 1024 * 1024;

impl Operators for TrustAnchor {
    fn operator<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Operator, String>> {
        Box::pin(async move {
            let member = self.member(id).await.map_err(|_| "not a member of the federation".to_owned())?;
            if member.status != MemberStatus::Active {
                return Err(format!("the operator is {}", member.status));
            }
            let metadata = self.approved_metadata(id, ENA_MAILBOX_OPERATOR).await.map_err(|e| e.to_string())?;
            let mark = format!("{}/trust-marks/{OPERATOR_TRUST_MARK}", self.entity_id());
            self.trust_mark(id, &mark)
                .await
                .map_err(|_| format!("it holds no valid {OPERATOR_TRUST_MARK} trust mark"))?;
            let text = |k: &str| metadata.get(k).and_then(Value::as_str).map(str::to_owned);
            Ok(Operator {
                id: id.to_owned(),
                name: text("name").unwrap_or(member.name),
                organisation: ena_core::Organisationsnummer::parse(&member.organisation_number)
                    .map(|o| o.as_str().to_owned())
                    .unwrap_or(member.organisation_number),
                service_address: text("service_address").ok_or("its metadata names no service_address")?,
                max_attachment_bytes: metadata
                    .get("max_attachment_bytes")
                    .and_then(Value::as_u64)
                    .unwrap_or(DEFAULT_MAX_ATTACHMENT),
            })
        })
    }

    fn operators(&self) -> BoxFuture<'_, Result<Vec<Operator>, String>> {
        Box::pin(async move {
            let mark = format!("{}/trust-marks/{OPERATOR_TRUST_MARK}", self.entity_id());
            let ids = self.list(Some(ENA_MAILBOX_OPERATOR), Some(&mark)).await.map_err(|e| e.to_string())?;
            let mut out = Vec::new();
            for id in ids {
                if let Ok(o) = self.operator(&id).await {
                    out.push(o);
                }
            }
            Ok(out)
        })
    }
}

/// The block's service.
#[derive(Clone)]
pub struct Mail {
    store: Store,
    audit: AuditLog,
    operators: Arc<dyn Operators>,
    representation: Arc<Representation>,
}

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mail").finish_non_exhaustive()
    }
}

impl Mail {
    pub fn new(
        store: Store,
        audit: AuditLog,
        operators: Arc<dyn Operators>,
        representation: Arc<Representation>,
    ) -> Mail {
        Mail { store, audit, operators, representation }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Every mailbox operator in good standing.
    pub async fn operators(&self) -> Result<Vec<Operator>, MailError> {
        self.operators.operators().await.map_err(MailError::Internal)
    }
}
