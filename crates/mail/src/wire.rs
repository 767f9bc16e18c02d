//! Mail as it travels through ena messaging: the message types, their payload schemas, and the two
//! signatures a message carries — the sender's (its organisation's, made by its node with the node's
//! message-signing key, over the mail exactly as written) and the **seal** the sending node adds as
//! intermediary (a counter-signature over the sender's signature's SHA-256, with the second it took the
//! mail and "signatures OK"). Neither is encryption: messaging encrypts the whole payload end to end to
//! the operator's node. The operator checks both against the sending node's keys as the federation
//! publishes them before the mailbox takes the message.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ena_messaging::jws;
use ena_messaging::keys::SigningKey;
use ena_messaging::receipt::LogProof;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::model::MailInput;

/// A letter to a recipient's mailbox operator.
pub const MAIL_TYPE: &str = "se.ena.mail";
/// A receipt from the operator back to the sender (opened, returned).
pub const RECEIPT_TYPE: &str = "se.ena.mail-receipt";
/// A recipient's reply to a letter that allows replies, back to the sender.
pub const REPLY_TYPE: &str = "se.ena.mail-reply";
pub const VERSION: &str = "1.0";
const SIGNATURE_TYP: &str = "ena-mail+jws";
const SEAL_TYP: &str = "ena-mail-seal+jws";
const OPERATOR_RECEIPT_TYP: &str = "ena-mail-receipt+jws";

/// The JSON Schema of a letter's payload (the mail itself is checked field by field by the mailbox).
pub fn mail_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["mail", "signature", "seal"],
        "additionalProperties": false,
        "properties": {
            "mail": {"type": "object", "required": ["recipient", "subject", "body"],
                     "properties": {"recipient": {"type": "string", "pattern": "^[0-9]{12}$"},
                                    "subject": {"type": "string", "minLength": 1, "maxLength": 200},
                                    "body": {"type": "string", "maxLength": 100000}}},
            "signature": {"type": "string", "maxLength": 400000},
            "seal": {"type": "string", "maxLength": 4000}
        }
    })
}

/// The JSON Schema of a receipt's payload: `message` (the letter), `kind`, `at`, a `reason` when returned,
/// and the signed receipt itself as `receipt` (a compact JWS; the schema leaves further properties open).
/// Exactly as first shipped: a registered version never changes, and installations hold this one.
pub fn receipt_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["message", "kind", "at"],
        "properties": {
            "message": {"type": "string", "maxLength": 64},
            "kind": {"enum": ["opened", "returned"]},
            "at": {"type": "string"},
            "reason": {"type": "string", "maxLength": 500},
            "proof": {"type": "object"}
        }
    })
}

/// The JSON Schema of a reply's payload: who replies (the recipient the letter was for; a representative
/// writing for them is named as `author`), to which letter, and what.
pub fn reply_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["inReplyTo", "from", "subject", "body", "at"],
        "additionalProperties": false,
        "properties": {
            "inReplyTo": {"type": "string", "maxLength": 64},
            "from": {"type": "string", "pattern": "^[0-9]{12}$"},
            "author": {"type": "string", "pattern": "^[0-9]{12}$"},
            "subject": {"type": "string", "minLength": 1, "maxLength": 200},
            "body": {"type": "string", "minLength": 1, "maxLength": 20000},
            "at": {"type": "string"}
        }
    })
}

/// What happened to a letter at the operator, for the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReceiptKind {
    /// The recipient opened it the first time.
    Opened,
    /// The mailbox did not take it (the recipient left, or blocked the sender since it was sent).
    Returned,
}

impl ReceiptKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptKind::Opened => "opened",
            ReceiptKind::Returned => "returned",
        }
    }

    pub fn parse(s: &str) -> Option<ReceiptKind> {
        [ReceiptKind::Opened, ReceiptKind::Returned].into_iter().find(|k| k.as_str() == s)
    }

    /// The operator node's log event the receipt proves.
    pub fn action(self) -> &'static str {
        match self {
            ReceiptKind::Opened => "mail.letter.opened",
            ReceiptKind::Returned => "mail.letter.returned",
        }
    }
}

/// The operator node's signed receipt for a letter: opened (the first time, to the second) or returned,
/// with the event's place in the operator node's transparency log, so anyone with the operator node's
/// published keys checks it offline (`ena mail verify-receipt`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OperatorReceipt {
    /// The letter: the id of the message that carried it (the sender's outbox knows it by that id).
    pub letter: String,
    pub kind: ReceiptKind,
    /// RFC 3339, to the second.
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The node that sent the letter.
    pub sender_node: String,
    /// The mailbox operator's node that signs this.
    pub operator_node: String,
    pub log: LogProof,
}

impl OperatorReceipt {
    pub fn sign(&self, key: &SigningKey) -> String {
        jws::sign(key, OPERATOR_RECEIPT_TYP, self)
    }

    /// What the receipt says, not verified (for showing it; `verify` decides).
    pub fn peek(token: &str) -> Option<OperatorReceipt> {
        jws::Unverified::parse(token, OPERATOR_RECEIPT_TYP).ok()?.claims_unverified()
    }

    /// Whether `token` is such a receipt (by its header), before verifying it.
    pub fn is_one(token: &str) -> bool {
        jws::Unverified::parse(token, OPERATOR_RECEIPT_TYP).is_ok()
    }

    /// Verify with the operator node's JWK Set and its log's verifier key: the signature, the log proof,
    /// and that the logged event is this receipt's — same letter, kind, second and sending node. Which
    /// node signed is the caller's to check: the keys given are that node's.
    pub fn verify(token: &str, jwks: &Value, log_key: &str) -> Result<OperatorReceipt, String> {
        let r: OperatorReceipt = jws::Unverified::parse(token, OPERATOR_RECEIPT_TYP)
            .and_then(|u| u.verify(jwks))
            .map_err(|e| format!("the signature: {e}"))?;
        let event = r.log.verify(log_key).map_err(|e| e.to_string())?;
        if event["action"] != r.kind.action()
            || event["object"]["id"] != r.letter.as_str()
            || event["details"]["at"] != r.at.as_str()
            || event["details"]["senderNode"] != r.sender_node.as_str()
        {
            return Err("the logged event is not this receipt's (another letter, kind or time)".into());
        }
        Ok(r)
    }
}

/// What a letter's payload holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Letter {
    pub mail: Value,
    pub signature: String,
    pub seal: String,
}

/// The seal's claims.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Seal {
    /// base64url SHA-256 of the sender's signature (the compact JWS text).
    pub signature_sha256: String,
    /// When the intermediary took the mail from the sender's system (RFC 3339, seconds).
    pub received_at: String,
    /// The sender's signature was checked before sealing.
    pub signatures_ok: bool,
    /// The sending organisation (canonical).
    pub sender: String,
    /// The intermediary: the sending node's entity id.
    pub intermediary: String,
}

fn sha256(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, text.as_bytes()))
}

/// Sign `mail` for `sender` with the node's key and seal it as intermediary `node` at `at`.
pub fn sign_and_seal(key: &SigningKey, sender: &str, node: &str, mail: &MailInput, at: i64) -> Letter {
    let mail = serde_json::to_value(mail).unwrap_or(Value::Null);
    let signature = jws::sign(key, SIGNATURE_TYP, &mail);
    let seal = Seal {
        signature_sha256: sha256(&signature),
        received_at: ena_core::time::rfc3339_of(at),
        signatures_ok: true,
        sender: sender.to_owned(),
        intermediary: node.to_owned(),
    };
    Letter { mail, seal: jws::sign(key, SEAL_TYP, &seal), signature }
}

/// Check a letter from `sender` (its organisation, canonical, as the federation knows the sending node)
/// with the sending node's published `jwks`: the seal's signature, the sender's signature, that the seal
/// covers that signature and names this sender, and that the signed mail is the mail carried. Returns the
/// mail, the seal, and the evidence to keep with the message.
pub fn open_letter(letter: &Value, sender: &str, jwks: &Value) -> Result<(MailInput, Seal, Value), String> {
    let letter: Letter = serde_json::from_value(letter.clone()).map_err(|e| format!("not a letter: {e}"))?;
    let seal: Seal = jws::Unverified::parse(&letter.seal, SEAL_TYP)
        .and_then(|u| u.verify(jwks))
        .map_err(|e| format!("the seal: {e}"))?;
    let signed: Value = jws::Unverified::parse(&letter.signature, SIGNATURE_TYP)
        .and_then(|u| u.verify(jwks))
        .map_err(|e| format!("the sender's signature: {e}"))?;
    if seal.signature_sha256 != sha256(&letter.signature) || !seal.signatures_ok {
        return Err("the seal does not cover the sender's signature".into());
    }
    if seal.sender != sender {
        return Err(format!("the seal names sender {}, the sending node belongs to {sender}", seal.sender));
    }
    if signed != letter.mail {
        return Err("the mail carried is not the mail signed".into());
    }
    let mail: MailInput = serde_json::from_value(letter.mail).map_err(|e| format!("mail: {e}"))?;
    let evidence = json!({"signature": letter.signature, "seal": letter.seal});
    Ok((mail, seal, evidence))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail() -> MailInput {
        serde_json::from_value(json!({"recipient": "191212121212", "subject": "Beslut", "body": "Hej"})).unwrap()
    }

    #[test]
    fn a_sealed_letter_opens_and_any_change_is_caught() {
        let key = SigningKey::generate();
        let jwks = json!({"keys": [key.public_jwk()]});
        let letter =
            serde_json::to_value(sign_and_seal(&key, "162021004748", "https://a.example", &mail(), 1_780_000_000))
                .unwrap();
        let (m, seal, _) = open_letter(&letter, "162021004748", &jwks).unwrap();
        assert_eq!((m.subject.as_str(), seal.received_at.as_str()), ("Beslut", "2026-05-28T20:26:40Z"));

        let mut changed = letter.clone();
        changed["mail"]["subject"] = json!("Betala nu");
        assert!(open_letter(&changed, "162021004748", &jwks).unwrap_err().contains("not the mail signed"));
        assert!(open_letter(&letter, "162120000142", &jwks).unwrap_err().contains("names sender"));
        let other = SigningKey::generate();
        let forged =
            serde_json::to_value(sign_and_seal(&other, "162021004748", "https://a.example", &mail(), 1)).unwrap();
        assert!(open_letter(&forged, "162021004748", &jwks).is_err());
        let mut swapped = letter.clone();
        swapped["seal"] = forged["seal"].clone();
        assert!(open_letter(&swapped, "162021004748", &jwks).is_err());
    }
}
