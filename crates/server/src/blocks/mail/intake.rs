//! The built-in mailbox takes its mail from the operator's own node, as any mailbox operator's system
//! would: through the node's local API (node token). A letter is opened — its seal and the sender's
//! signature checked against the sending node's keys as the federation publishes them, and the sender
//! named by the federation, not by the letter — and offered to the mailbox, then acknowledged on the
//! node. The mailbox takes each delivery once (keyed by the message id), so several instances polling one
//! node, or a crash between taking and acknowledging, store it once. A letter the mailbox refuses (a
//! recipient who left, a sender blocked since) is recorded as refused in the log and acknowledged.

use std::time::Duration;

use ena_audit::event::{ObjectRef, Result as AuditResult};
use ena_audit::{Actor, ActorKind, AuditSink, Context};
use ena_federation::anchor::ENA_NODE;
use serde_json::Value;

use crate::{AppState, MailboxConfig};

/// A client for the mailbox's node (its local API is plain HTTP on a loopback or private address).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap_or_default()
}

fn ctx(config: &MailboxConfig) -> Context {
    Context {
        actor: Actor { kind: ActorKind::System, id: format!("mailbox:{}", config.operator), organisation: None },
        on_behalf_of: None,
        correlation_id: None,
    }
}

/// Pages of 100 read in one round at most, so a backlog drains at up to 2 000 letters a round.
const PAGES_PER_ROUND: usize = 20;

/// Take what the node holds: every unacknowledged letter, a page at a time, more pages while they come
/// full. Returns what was done.
pub async fn take(state: &AppState) -> Result<Option<String>, String> {
    let Some(settings) = &state.config.mailbox else { return Ok(None) };
    let Some(config) = settings.read()? else { return Ok(None) };
    let (mut taken, mut refused) = (0, 0);
    for _ in 0..PAGES_PER_ROUND {
        let (t, r, full) = take_page(state, &config).await?;
        (taken, refused) = (taken + t, refused + r);
        if !full {
            break;
        }
    }
    Ok((taken + refused > 0).then(|| format!("the mailbox took {taken} letters and refused {refused}")))
}

/// One page of the node's unacknowledged messages: (taken, refused, whether the page was full).
async fn take_page(state: &AppState, config: &MailboxConfig) -> Result<(usize, usize, bool), String> {
    let client = &state.mail_client;
    let url = |path: &str| format!("{}{path}", config.node_api.trim_end_matches('/'));
    let page: Value = client
        .get(url("/messages/v1/inbox?limit=100"))
        .bearer_auth(&config.node_token)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| format!("the mailbox's node: {e}"))?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let (mut taken, mut refused) = (0, 0);
    let items = page["items"].as_array().cloned().unwrap_or_default();
    for item in &items {
        let id = item["id"].as_str().unwrap_or_default();
        if item["messageType"] == ena_mail::wire::MAIL_TYPE {
            match open(state, config, item).await {
                Ok(()) => taken += 1,
                Err(why) => {
                    refused += 1;
                    let mut event = ctx(config).event(
                        "mail.message.refuse",
                        Some(ObjectRef { kind: "message".into(), id: id.to_owned() }),
                        AuditResult::Denied,
                        Some(why),
                    );
                    if let Some(r) = item["payload"]["mail"]["recipient"].as_str().filter(|r| !r.starts_with("16")) {
                        event.data_subjects.push(r.to_owned());
                    }
                    state.audit.record(vec![event]).await.map_err(|e| e.to_string())?;
                }
            }
        }
        // Other types are not the mailbox's: they stay for whatever else reads this node.
        else {
            continue;
        }
        client
            .post(url(&format!("/messages/v1/inbox/{id}/ack")))
            .bearer_auth(&config.node_token)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("acknowledging {id} on the mailbox's node: {e}"))?;
    }
    Ok((taken, refused, items.len() >= 100 && page["hasMore"] == true))
}

async fn open(state: &AppState, config: &MailboxConfig, item: &Value) -> Result<(), String> {
    let node = item["senderNode"].as_str().unwrap_or_default();
    let member = state.federation.member(node).await.map_err(|e| format!("the sending node: {e}"))?;
    let sender = ena_core::Organisationsnummer::parse(&member.organisation_number)
        .map(|o| o.as_str().to_owned())
        .map_err(|e| e.to_string())?;
    let metadata = state.federation.approved_metadata(node, ENA_NODE).await.map_err(|e| e.to_string())?;
    let (mail, seal, mut evidence) = ena_mail::wire::open_letter(&item["payload"], &sender, &metadata["jwks"])?;
    evidence["sealedAt"] = Value::String(seal.received_at);
    evidence["receipt"] = item["receipt"].clone();
    let delivery = ena_mail::Delivery {
        reference: item["id"].as_str().unwrap_or_default().to_owned(),
        sender,
        sender_name: member.name,
        input: mail,
        evidence,
    };
    state.mail.accept(&ctx(config), &config.operator, config.max_attachment_bytes, delivery).await.map(|_| ()).map_err(
        |e| match e {
            ena_mail::MailError::Invalid(fields) => {
                fields.iter().map(|f| format!("{}: {}", f.property, f.reason)).collect::<Vec<_>>().join("; ")
            }
            other => other.to_string(),
        },
    )
}
