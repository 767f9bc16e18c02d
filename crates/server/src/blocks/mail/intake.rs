//! The built-in mailbox takes its mail from the operator's own node, as any mailbox operator's system
//! would: through the node's local API (node token). A letter is opened — its seal and the sender's
//! signature checked against the sending node's keys as the federation publishes them, and the sender
//! named by the federation, not by the letter — and offered to the mailbox, then acknowledged on the
//! node. The mailbox takes each delivery once (keyed by the message id), so several instances polling one
//! node, or a crash between taking and acknowledging, store it once. A letter the mailbox refuses (a
//! recipient who left, a sender blocked since) is recorded as refused in the log, returned to its sender
//! with the operator node's signed `returned` receipt, and acknowledged.
//!
//! The same round hands the node what goes back to senders: the first openings of letters that asked
//! for a signed receipt, and the replies written. The node makes each once (keyed by letter, or by the
//! reply's id), so a retry or a second instance sends nothing twice.

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
    let (receipts, replies) = send_back(state, &config).await?;
    Ok((taken + refused + receipts + replies > 0).then(|| {
        format!(
            "the mailbox took {taken} letters, refused {refused}, sent {receipts} opening receipts and {replies} replies"
        )
    }))
}

/// What the node said to a request that goes back to a sender: `Ok(Some(body))` when done (or refused
/// for good: a 4xx other than 409 will not change by asking again), `Ok(None)` to ask again next round.
async fn ask_node(state: &AppState, config: &MailboxConfig, path: &str, body: &Value) -> Result<Option<Value>, String> {
    let url = format!("{}{path}", config.node_api.trim_end_matches('/'));
    let r = state
        .mail_client
        .post(url)
        .bearer_auth(&config.node_token)
        .json(body)
        .send()
        .await
        .map_err(|e| format!("the mailbox's node: {e}"))?;
    let status = r.status();
    let answer: Value = r.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(Some(answer));
    }
    // Refused for good: the request itself is wrong, or the letter is unknown there. A timeout (408),
    // throttling (429), the token (401/403: perhaps being replaced), a claim in progress (409) and any
    // 5xx are asked again later.
    if matches!(status.as_u16(), 400 | 404 | 410 | 422) {
        tracing::warn!(%path, %status, detail = %answer["detail"], "the mailbox's node refused what goes back to a sender");
        return Ok(Some(serde_json::json!({"refused": answer})));
    }
    Ok(None)
}

/// Hand the node the opening receipts and replies waiting: (receipts, replies) handed over.
async fn send_back(state: &AppState, config: &MailboxConfig) -> Result<(usize, usize), String> {
    let store = &state.store;
    let (mut receipts, mut replies) = (0, 0);
    let now = ena_core::time::unix_now();
    // What the node cannot do now is asked again later, backing off (1 s doubling to 10 min), so one
    // that keeps failing neither floods the node nor holds up the others.
    let later = |attempts: i64| now + ena_mail::backoff(attempts);
    for (id, letter, at, attempts) in
        ena_mail::repo::pending_receipts(store, now, 100).await.map_err(|e| e.to_string())?
    {
        let body = serde_json::json!({"letter": letter, "kind": "opened", "at": ena_core::time::rfc3339_of(at)});
        match ask_node(state, config, "/mail/v1/receipts", &body).await? {
            Some(answer) => {
                ena_mail::repo::receipt_made(store, &id, "opened", &answer.to_string())
                    .await
                    .map_err(|e| e.to_string())?;
                receipts += 1;
            }
            None => {
                ena_mail::repo::receipt_later(store, &id, "opened", later(attempts)).await.map_err(|e| e.to_string())?
            }
        }
    }
    for reply in ena_mail::repo::pending_replies(store, now, 100).await.map_err(|e| e.to_string())? {
        let Some(letter) = ena_mail::repo::message(store, &reply.message_id).await.map_err(|e| e.to_string())? else {
            continue;
        };
        let mut body = serde_json::json!({"letter": letter.delivery_ref, "id": reply.id, "from": letter.recipient,
            "body": reply.body, "at": ena_core::time::rfc3339_of(reply.created_at)});
        if reply.author != letter.recipient {
            body["author"] = Value::String(reply.author.clone());
        }
        match ask_node(state, config, "/mail/v1/replies", &body).await? {
            Some(answer) => {
                let sent = answer["message"].as_str().unwrap_or(ena_mail::repo::REPLY_REFUSED);
                ena_mail::repo::reply_sent(store, &reply.id, sent).await.map_err(|e| e.to_string())?;
                replies += 1;
            }
            None => {
                ena_mail::repo::reply_later(store, &reply.id, later(reply.attempts)).await.map_err(|e| e.to_string())?
            }
        }
    }
    Ok((receipts, replies))
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
                // A fault here (the database, the federation not answering) is not the letter's: it
                // stays on the node, unacknowledged, for the next round.
                Err(Failure::Retry(why)) => {
                    tracing::warn!(letter = %id, %why, "the mailbox could not take a letter now; it stays on the node");
                    continue;
                }
                Err(Failure::Refused(why)) => {
                    refused += 1;
                    // Back to its sender with the node's signed receipt; asked again next round if the
                    // node does not answer (the letter stays unacknowledged until then).
                    let back = serde_json::json!({"letter": id, "kind": "returned",
                        "at": ena_core::time::rfc3339_of(ena_core::time::unix_now()), "reason": why.chars().take(500).collect::<String>()});
                    if ask_node(state, config, "/mail/v1/receipts", &back).await?.is_none() {
                        continue;
                    }
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

/// Why a letter was not taken: refused for good (it goes back to its sender), or not now.
enum Failure {
    Refused(String),
    Retry(String),
}

async fn open(state: &AppState, config: &MailboxConfig, item: &Value) -> Result<(), Failure> {
    let node = item["senderNode"].as_str().unwrap_or_default();
    let member = state.federation.member(node).await.map_err(|e| Failure::Retry(format!("the sending node: {e}")))?;
    let sender = ena_core::Organisationsnummer::parse(&member.organisation_number)
        .map(|o| o.as_str().to_owned())
        .map_err(|e| Failure::Retry(e.to_string()))?;
    let metadata =
        state.federation.approved_metadata(node, ENA_NODE).await.map_err(|e| Failure::Retry(e.to_string()))?;
    let (mail, seal, mut evidence) =
        ena_mail::wire::open_letter(&item["payload"], &sender, &metadata["jwks"]).map_err(Failure::Refused)?;
    evidence["sealedAt"] = Value::String(seal.received_at);
    evidence["receipt"] = item["receipt"].clone();
    let delivery = ena_mail::Delivery {
        reference: item["id"].as_str().unwrap_or_default().to_owned(),
        sender,
        sender_name: member.name,
        input: mail,
        evidence,
    };
    let (message, created) =
        state.mail.accept(&ctx(config), &config.operator, config.max_attachment_bytes, delivery).await.map_err(
            |e| match e {
                ena_mail::MailError::Invalid(fields) => Failure::Refused(
                    fields.iter().map(|f| format!("{}: {}", f.property, f.reason)).collect::<Vec<_>>().join("; "),
                ),
                ena_mail::MailError::Forbidden(why) => Failure::Refused(why),
                other => Failure::Retry(other.to_string()),
            },
        )?;
    if created {
        notify(state, message).await;
    }
    Ok(())
}

/// Tell the recipient of a new letter, the way they chose in Min profil: a person on their preferred
/// channel's verified contact (or not at all if they chose none); an organisation through the contacts its
/// people gave for it. Without either the gateway is told the recipient and finds them itself.
async fn notify(state: &AppState, message: ena_mail::Message) {
    let notifier = || crate::notify::Notifier::of(state.config.notify_command.as_deref());
    let notice = |to: Option<ena_profile::NoticeTarget>, language: String| crate::notify::Notice::Mail {
        link: format!("{}/{}", super::portal::PATH, message.id),
        recipient: message.recipient.clone(),
        message_id: message.id.clone(),
        sender_name: message.sender_name.clone(),
        to,
        language,
    };
    let is_person = ena_core::PersonId::parse(&message.recipient).is_ok();
    if is_person {
        match state.profile.notice_route(&message.recipient).await {
            Ok(ena_profile::NoticeRoute::Suppressed) => {}
            Ok(ena_profile::NoticeRoute::To(t)) => {
                let language = t.language.clone();
                crate::notify::spawn(notifier(), notice(Some(t), language));
            }
            Ok(ena_profile::NoticeRoute::Unknown { language }) => {
                crate::notify::spawn(notifier(), notice(None, language))
            }
            Err(e) => tracing::warn!(error = %e, "Min profil does not answer; the notice goes to the gateway as is"),
        }
        return;
    }
    let targets = state.profile.organisation_targets(&message.recipient).await.unwrap_or_default();
    if targets.is_empty() {
        crate::notify::spawn(notifier(), notice(None, "sv".into()));
    }
    for t in targets {
        let language = t.language.clone();
        crate::notify::spawn(notifier(), notice(Some(t), language));
    }
}
