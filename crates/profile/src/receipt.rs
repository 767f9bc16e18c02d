//! A consent receipt: the consent record's fields as ISO/IEC TS 27560 lists them (record and receipt ids,
//! the principal, the controllers, purposes, personal-data categories, lawful basis, storage and
//! retention, recipients, jurisdiction, the withdrawal method, the event history), signed by the
//! installation as a compact JWS (`typ` [`TYP`], ES256). Anyone verifies it with the keys at
//! `/profile/v1/jwks`; [`verify`] is ena's own check. Each download is signed anew with the history up to
//! then (given, and withdrawn or expired once they happened), under a new receipt id; the record id stays.

use ena_keys::jose::{SigningKey, Unverified};
use serde_json::{Value, json};

use crate::{Consent, repo::ConsentRow};

pub const TYP: &str = "ena-consent-receipt+jws";

/// The receipt's claims.
pub fn claims(issuer: &str, row: &ConsentRow, view: &Consent, now: i64) -> Value {
    let at = ena_core::time::rfc3339_of;
    let mut events = vec![json!({"event": "given", "at": at(row.given_at)})];
    if let Some(w) = row.withdrawn_at {
        events.push(json!({"event": "withdrawn", "at": at(w)}));
    } else if row.expires_at <= now {
        events.push(json!({"event": "expired", "at": at(row.expires_at)}));
    }
    let org = |number: &str, name: &Option<String>, role: &str| json!({"organisationNumber": number, "name": name, "role": role});
    json!({
        "iss": issuer,
        "iat": now,
        "schema": "ISO/IEC TS 27560:2023",
        "recordId": row.id,
        "receiptId": uuid::Uuid::now_v7().to_string(),
        "language": "sv",
        "jurisdiction": "SE",
        "principal": {"id": row.person, "idType": "personnummer"},
        "controllers": [
            org(&row.holder, &view.holder_name, "source"),
            org(&row.recipient, &view.recipient_name, "recipient"),
        ],
        "purposes": [{"purpose": row.purpose, "lawfulBasis": "consent (GDPR art. 6.1 a)"}],
        "personalDataCategories": [row.category],
        "recipients": [org(&row.recipient, &view.recipient_name, "recipient")],
        "storage": {
            "location": "SE",
            "retention": "the recipient keeps what it gets for the purpose only; the holder gives it while the consent is in force",
        },
        "validity": {"from": at(row.given_at), "until": at(row.expires_at)},
        "withdrawalMethod": "Mina sidor → Min profil → Samtycken → Återkalla, or POST /profile/v1/my/consents/{id}/withdrawals; effective at the next call",
        "status": view.status,
        "events": events,
    })
}

/// Sign the receipt of `row` as it stands at `now`: the compact JWS and the claims it signs.
pub fn sign(key: &SigningKey, issuer: &str, row: &ConsentRow, view: &Consent, now: i64) -> (String, Value) {
    let claims = claims(issuer, row, view, now);
    (key.sign(TYP, &claims), claims)
}

/// Check a receipt against the issuer's keys: its type, its signature and that it has the mandatory
/// fields. Returns the claims.
pub fn verify(token: &str, jwks: &Value) -> Result<serde_json::Map<String, Value>, String> {
    let t = Unverified::parse(token).map_err(|e| e.to_string())?;
    t.expect_typ(TYP).map_err(|e| e.to_string())?;
    t.verify(jwks).map_err(|e| e.to_string())?;
    for field in ["recordId", "receiptId", "principal", "controllers", "purposes", "withdrawalMethod", "events"] {
        if t.payload.get(field).is_none_or(Value::is_null) {
            return Err(format!("the receipt lacks {field}"));
        }
    }
    Ok(t.payload)
}
