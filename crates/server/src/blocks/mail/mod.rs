//! Mina meddelanden at the edge: the API (`api.rs`) — the recipient registry for people (their own and
//! their companies' registrations, signed with the signature service), reachability for senders, the
//! operators in good standing, the built-in mailbox's messages — and the portal pages of Mina sidor
//! (`portal.rs`). What both use: the parties whose mail a person reads, and the signing of a change.

pub mod api;
mod examples;
pub mod intake;
pub mod portal;

pub use examples::example;

use ena_core::PersonId;
use ena_mail::{COMPANY_RIGHTS, Change, MailScope, Outcome, PERSON_RIGHTS, Recipient, Signed};

use crate::AppState;
use crate::problem::ApiError;

/// Every route of the block, with who may call it.
pub fn routes() -> crate::callers::Routes {
    crate::callers::Routes::new().merge(api::router()).merge(portal::router())
}

/// The parties whose mail `person` reads: themself; each company where their register role brings
/// the company's mail package (its own people: they read recipient-only mail too); each party whose
/// mandate in force holds the mail package or service (not recipient-only mail).
pub async fn scopes(state: &AppState, person: &PersonId) -> Result<Vec<MailScope>, ApiError> {
    let acting = state.representation.acting_for(person).await?;
    Ok(acting
        .into_iter()
        .filter_map(|a| {
            let rights = if a.kind == "organisation" { COMPANY_RIGHTS } else { PERSON_RIGHTS };
            let holds = a.packages.iter().any(|p| rights.contains(&p.as_str()));
            match a.basis.as_str() {
                "self" => Some(MailScope { party: a.party, own: true }),
                "role" if holds => Some(MailScope { party: a.party, own: true }),
                "mandate" if holds => Some(MailScope { party: a.party, own: false }),
                _ => None,
            }
        })
        .collect())
}

/// Make a registration change for `recipient` as the person of `session`: FaR's statement for it,
/// signed by the signature service for this session (LoA 3 or higher), then the change with its
/// signature.
pub async fn sign_and_change(
    state: &AppState,
    session: &ena_identity::session::Session,
    recipient: &Recipient,
    change: Change,
) -> Result<Outcome, ApiError> {
    let at = ena_core::time::unix_now();
    let statement = state.mail.statement(&session.person, recipient, &change, at);
    let digest: [u8; 32] = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, statement.as_bytes())
        .as_ref()
        .try_into()
        .map_err(|_| ApiError::internal(&"a SHA-256 digest is 32 bytes"))?;
    let signed = state.signatures.sign(session, &digest).await?;
    let ctx = crate::blocks::cases::person_context(session);
    Ok(state
        .mail
        .change(&ctx, &session.person, recipient, change, Signed { statement, signature: signed.signature })
        .await?)
}

/// The recipient a person names (`party`: an organisation number), or themself. Whether they may act
/// for it is FaR's to decide (and log).
pub fn recipient_of(session: &ena_identity::session::Session, party: Option<&str>) -> Result<Recipient, ApiError> {
    match party.map(str::trim).filter(|p| !p.is_empty()) {
        None => Ok(Recipient::Person(session.person.clone())),
        Some(p) => Ok(Recipient::any("party", p)?),
    }
}
