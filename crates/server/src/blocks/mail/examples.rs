//! Examples of this block's OpenAPI operations (REST API profile DOK.15), written once per shape; the
//! message body's HTML is rendered by the block's own Markdown renderer, so it cannot drift from it.

use serde_json::{Value, json};

use crate::apis;
use crate::openapi::*;

/// The example of `operation_id`'s request body or of its response in one media type.
pub fn example(operation_id: &str, part: Part) -> Option<Value> {
    match part {
        Part::Request => request(operation_id),
        Part::Response(_) => response(operation_id),
    }
}

fn operator() -> Value {
    json!({
        "id": "https://brevlada.myndighetspost.example", "name": "Min myndighetspost", "organisation": "162021004748",
        "serviceAddress": "162021004748:brevlada", "maxAttachmentBytes": 67_108_864u64
    })
}

fn registration() -> Value {
    json!({
        "recipient": "191212121212", "kind": "person", "status": "active",
        "operator": "https://brevlada.myndighetspost.example", "operatorDetails": operator(),
        "registeredAt": "2026-12-01T09:00:00Z", "updatedAt": "2026-12-02T10:30:00Z",
        "blockedSenders": ["162120000142"], "pending": []
    })
}

const BODY: &str =
    "## Beslut\n\nDin ansökan om bygglov är **beviljad**. Se [beslutet](https://e-tjanst.exempel.se/4711).";

fn message() -> Value {
    json!({
        "id": "0193a5b2-7c1e-7d3a-9f10-2b5c8e4d6a02", "recipient": "191212121212", "sender": "162120000142",
        "senderName": "Exempelkommunen", "subject": "Beslut om bygglov", "body": BODY, "bodyFormat": "markdown",
        "bodyHtml": ena_mail::markdown::to_html(BODY), "language": "sv",
        "support": {"text": "Frågor? Ring bygglovsenheten.", "phone": "+46 8 123 456 00"},
        "caseId": "0193a5b2-7c1e-7d3a-9f10-2b5c8e4d6a01",
        "objects": [{"kind": "property", "id": "Exempelby 1:23"}],
        "documents": [{"title": "Faktura för bygglovsavgift", "attachment": 0,
            "actions": [{"kind": "pay", "title": "Betala avgiften", "url": "https://betala.exempel.se/4711", "due": "2027-01-31"}]}],
        "attachments": [{"name": "faktura.pdf", "mediaType": "application/pdf", "size": 48213,
            "sha256": "nyxLHeCnw_WOay2aHE5_CzptnC5fixpNfA4_apssXY4"}],
        "replyAllowed": true, "visibility": "representatives", "receipt": "signed",
        "receivedAt": "2026-12-06T08:15:02Z", "read": false, "folder": "inbox", "asRepresentative": false
    })
}

fn response(operation_id: &str) -> Option<Value> {
    Some(match operation_id {
        "mailApiInfo" => serde_json::to_value(apis::MAIL_API.info()).ok()?,
        "listMailboxOperators" => json!({"items": [operator()], "page": 1, "limit": 20, "hasMore": false}),
        "askReachability" => json!({"items": [
            {"id": "191212121212", "reachable": true, "operator": operator(), "readByRepresentatives": true},
            {"id": "199001012385", "reachable": false, "paper": "sender-blocked", "readByRepresentatives": false},
            {"id": "165560112236", "reachable": false, "paper": "not-registered", "readByRepresentatives": false}
        ]}),
        "getMyRegistration" => registration(),
        "changeMyRegistration" => json!({"outcome": "done", "registration": registration()}),
        "listMyRegistrationChanges" => json!({"items": [{
            "change": "register:https://brevlada.myndighetspost.example", "signer": "191212121212",
            "statement": "{\"change\":\"register:https://brevlada.myndighetspost.example\",\"recipient\":\"191212121212\",\"signedAt\":\"2026-12-01T09:00:00Z\",\"signer\":\"191212121212\",\"type\":\"ena-mail-registration-change\"}",
            "signature": "eyJhbGciOiJFUzI1NiJ9..MEUCIQ",
            "signedAt": "2026-12-01T09:00:00Z", "appliedAt": "2026-12-01T09:00:00Z"
        }], "page": 1, "limit": 20, "hasMore": false}),
        "listMyMessages" => json!({"items": [message()], "page": 1, "limit": 20, "hasMore": false}),
        "getMyMessage" => {
            let mut m = message();
            m["read"] = json!(true);
            m
        }
        "markMyMessages" => json!({"changed": 2}),
        "replyToMyMessage" => json!({"id": "0193a5b2-7c1e-7d3a-9f10-2b5c8e4d6a03", "author": "191212121212",
            "body": "Tack, jag har läst beslutet.", "writtenAt": "2026-12-06T09:02:11Z", "sent": false, "refused": false}),
        _ => return None,
    })
}

fn request(operation_id: &str) -> Option<Value> {
    Some(match operation_id {
        "askReachability" => json!({"ids": ["191212121212", "199001012385", "165560112236"]}),
        "changeMyRegistration" => json!({"action": "register", "operator": "https://brevlada.myndighetspost.example"}),
        "replyToMyMessage" => json!({"body": "Tack, jag har läst beslutet."}),
        "markMyMessages" => {
            json!({"messageIds": ["0193a5b2-7c1e-7d3a-9f10-2b5c8e4d6a02"], "read": true, "folder": "archive"})
        }
        _ => return None,
    })
}
