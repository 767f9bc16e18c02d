//! Employee service e-ID (*e-tjänstelegitimation*): a member organisation states, in a JWT it signs
//! itself, that a person acts as its employee with given roles. The signing key is the `jwks` of the
//! member's `ena_credential_issuer` metadata, which verifiers find by resolving the issuer through the
//! federation — so a credential is only as good as its issuer's membership. Issuers register each
//! credential here (over the node listener) so that revocation is visible to every verifier: a credential
//! the registry does not know, or knows as revoked, is refused.
//!
//! The credential: header `{alg, kid, typ: "ena-employee+jwt"}`; claims `iss` (issuer entity id), `sub`
//! (personnummer or samordningsnummer), `name`, `jti`, `iat`, `exp`, `ena_roles` (role names).

use ena_audit::event::{ObjectRef, Result as AuditResult};
use ena_audit::{Actor, ActorKind, AuditLog, AuditSink, Context};
use ena_core::PersonId;
use ena_federation::anchor::{ENA_CREDENTIAL_ISSUER, FederationError};
use ena_federation::{NodePeer, TrustAnchor};
use ena_keys::jose::Unverified;
use ena_store::Store;
use serde::Serialize;
use serde_json::Value;

use crate::repo::{self, CredentialRow};
use crate::{Refusal, refuse};

pub const CREDENTIAL_TYP: &str = "ena-employee+jwt";
/// The longest validity a credential may state.
pub const MAX_LIFETIME_SECS: i64 = 366 * 24 * 3600;
const LEEWAY: i64 = 60;
const MAX_ROLES: usize = 50;

/// A credential as listed to its issuer and as verifiers see it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Credential {
    pub issuer: String,
    pub id: String,
    pub personal_number: String,
    pub name: String,
    pub roles: Vec<String>,
    pub issued_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub revocation_reason: Option<String>,
}

impl From<CredentialRow> for Credential {
    fn from(r: CredentialRow) -> Credential {
        Credential {
            roles: serde_json::from_str(&r.roles).unwrap_or_default(),
            issuer: r.issuer,
            id: r.jti,
            personal_number: r.person_id,
            name: r.name,
            issued_at: r.issued_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            revocation_reason: r.revocation_reason,
        }
    }
}

/// What a valid credential says, and who its issuer is in the federation.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedCredential {
    #[serde(flatten)]
    pub credential: Credential,
    pub issuer_name: String,
    pub issuer_organisation_number: String,
}

struct Parsed {
    row: CredentialRow,
}

/// Check a credential's form, signature (issuer resolved through the federation) and times.
async fn check(anchor: &TrustAnchor, token: &str) -> Result<Parsed, Refusal> {
    let t = Unverified::parse(token).map_err(|e| refuse("invalid_request", "credential", e.to_string()))?;
    t.expect_typ(CREDENTIAL_TYP).map_err(|e| refuse("invalid_request", "credential", e.to_string()))?;
    let claim = |name: &'static str| {
        t.payload
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| refuse("invalid_request", "credential", format!("claim {name} is missing")))
    };
    let issuer = claim("iss")?.to_owned();
    let metadata = anchor.approved_metadata(&issuer, ENA_CREDENTIAL_ISSUER).await.map_err(|e| match e {
        FederationError::Forbidden(why) => refuse("invalid_request", "credential", why),
        e => refuse(
            "invalid_request",
            "credential",
            format!("the issuer {issuer} does not resolve in the federation: {e}"),
        ),
    })?;
    let jwks = metadata.get("jwks").ok_or_else(|| {
        refuse(
            "invalid_request",
            "credential",
            format!("the issuer {issuer} publishes no {ENA_CREDENTIAL_ISSUER} keys in its federation metadata"),
        )
    })?;
    t.verify(jwks).map_err(|e| refuse("invalid_request", "credential", format!("signature: {e}")))?;
    let person = PersonId::parse(claim("sub")?)
        .map_err(|e| refuse("invalid_request", "credential", format!("sub is not an identity number: {e}")))?;
    let name = claim("name")?.to_owned();
    let jti = claim("jti")?.to_owned();
    if jti.len() > 128 {
        return Err(refuse("invalid_request", "credential", "jti is longer than 128 characters"));
    }
    let num = |n: &'static str| {
        t.payload
            .get(n)
            .and_then(Value::as_i64)
            .ok_or_else(|| refuse("invalid_request", "credential", format!("claim {n} is missing")))
    };
    let (iat, exp) = (num("iat")?, num("exp")?);
    let now = ena_core::time::unix_now();
    if iat > now + LEEWAY {
        return Err(refuse("invalid_request", "credential", format!("issued in the future (iat {iat})")));
    }
    if exp <= now {
        return Err(refuse("invalid_grant", "credential", format!("expired at {exp}")));
    }
    if exp - iat > MAX_LIFETIME_SECS {
        return Err(refuse("invalid_request", "credential", "valid for longer than 366 days"));
    }
    let roles: Vec<String> = match t.payload.get("ena_roles") {
        Some(Value::Array(a)) if a.len() <= MAX_ROLES => a
            .iter()
            .map(|r| r.as_str().filter(|s| !s.is_empty() && s.len() <= 100).map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| refuse("invalid_request", "credential", "ena_roles must be non-empty strings"))?,
        _ => {
            return Err(refuse(
                "invalid_request",
                "credential",
                format!("ena_roles must be an array of at most {MAX_ROLES} role names"),
            ));
        }
    };
    Ok(Parsed {
        row: CredentialRow {
            issuer,
            jti,
            person_id: person.as_str().to_owned(),
            name,
            roles: serde_json::to_string(&roles).unwrap_or_default(),
            token: token.trim().to_owned(),
            issued_at: iat,
            expires_at: exp,
            revoked_at: None,
            revocation_reason: None,
        },
    })
}

fn node_context(peer: &NodePeer) -> Context {
    Context {
        actor: Actor {
            kind: ActorKind::Node,
            id: peer.entity_id.clone(),
            organisation: Some(peer.organisation_number.clone()),
        },
        on_behalf_of: None,
        correlation_id: None,
    }
}

async fn record(
    audit: &AuditLog,
    ctx: &Context,
    action: &str,
    row: Option<&CredentialRow>,
    result: AuditResult,
    reason: Option<String>,
) -> Result<(), Refusal> {
    let object = row.map(|r| ObjectRef { kind: "employee-credential".into(), id: format!("{}#{}", r.issuer, r.jti) });
    let mut event = ctx.event(action, object, result, reason);
    if let Some(r) = row {
        event.data_subjects = vec![r.person_id.clone()];
    }
    audit.record(vec![event]).await.map_err(|e| refuse("server_error", "log", e.to_string()))?;
    Ok(())
}

/// The registry of employee credentials: what issuers register and revoke and anyone verifies. It
/// holds what it needs — the store, the trust anchor that vouches for issuers' keys, and the log each
/// registration, revocation and refused verification is written to before the call returns.
#[derive(Clone)]
pub struct EmployeeCredentials {
    store: Store,
    anchor: std::sync::Arc<TrustAnchor>,
    audit: AuditLog,
}

impl EmployeeCredentials {
    pub fn new(store: Store, anchor: std::sync::Arc<TrustAnchor>, audit: AuditLog) -> EmployeeCredentials {
        EmployeeCredentials { store, anchor, audit }
    }

    /// The issuer `peer` registers a credential it signed.
    pub async fn register(&self, peer: &NodePeer, token: &str) -> Result<Credential, Refusal> {
        let (store, anchor, audit) = (&self.store, self.anchor.as_ref(), &self.audit);
        let ctx = node_context(peer);
        let approved = match anchor.member(&peer.entity_id).await {
            Ok(m) => m.entity_types.iter().any(|t| t == ENA_CREDENTIAL_ISSUER),
            Err(_) => false,
        };
        if !approved {
            let why = format!("{} is not approved as {ENA_CREDENTIAL_ISSUER} in the federation", peer.entity_id);
            record(audit, &ctx, "identity.employee-credential.register", None, AuditResult::Denied, Some(why.clone()))
                .await?;
            return Err(refuse("forbidden", "credential", why));
        }
        let parsed = match check(anchor, token).await {
            Ok(p) => p,
            Err(e) => {
                record(
                    audit,
                    &ctx,
                    "identity.employee-credential.register",
                    None,
                    AuditResult::Denied,
                    Some(e.to_string()),
                )
                .await?;
                return Err(e);
            }
        };
        if parsed.row.issuer != peer.entity_id {
            let e = refuse(
                "forbidden",
                "credential",
                format!("issued by {}, not by the calling member {}", parsed.row.issuer, peer.entity_id),
            );
            record(
                audit,
                &ctx,
                "identity.employee-credential.register",
                Some(&parsed.row),
                AuditResult::Denied,
                Some(e.to_string()),
            )
            .await?;
            return Err(e);
        }
        if !repo::insert_credential(store, &parsed.row).await? {
            return Err(refuse(
                "conflict",
                "credential",
                format!("{} already registered a credential with jti {}", parsed.row.issuer, parsed.row.jti),
            ));
        }
        record(audit, &ctx, "identity.employee-credential.register", Some(&parsed.row), AuditResult::Allowed, None)
            .await?;
        Ok(parsed.row.into())
    }

    /// The issuer's credentials, newest first, optionally one person's.
    pub async fn list(
        &self,
        peer: &NodePeer,
        person: Option<&str>,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<Credential>, Refusal> {
        let person = match person {
            Some(p) => {
                Some(PersonId::parse(p).map_err(|e| refuse("invalid_request", "personalNumber", e.to_string()))?)
            }
            None => None,
        };
        Ok(repo::credentials(&self.store, &peer.entity_id, person.as_ref().map(PersonId::as_str), limit, offset)
            .await?
            .into_iter()
            .map(Credential::from)
            .collect())
    }

    /// The issuer revokes one of its credentials; verifiers refuse it from now on.
    pub async fn revoke(&self, peer: &NodePeer, id: &str, reason: &str) -> Result<Credential, Refusal> {
        let (store, audit) = (&self.store, &self.audit);
        let reason = reason.trim();
        if reason.is_empty() || reason.len() > 500 {
            return Err(refuse("invalid_request", "reason", "give a reason of 1–500 characters"));
        }
        if !repo::revoke_credential(store, &peer.entity_id, id, reason).await? {
            return Err(refuse("not_found", "id", format!("{} has registered no credential {id}", peer.entity_id)));
        }
        let row = repo::credential(store, &peer.entity_id, id)
            .await?
            .ok_or_else(|| refuse("not_found", "id", format!("no credential {id}")))?;
        record(
            audit,
            &node_context(peer),
            "identity.employee-credential.revoke",
            Some(&row),
            AuditResult::Allowed,
            Some(reason.to_owned()),
        )
        .await?;
        Ok(row.into())
    }

    /// Verify a credential for anyone: form, signature by a key the federation vouches for, times, and the
    /// registry (known, not revoked). A refusal is recorded in the log.
    pub async fn verify(&self, token: &str) -> Result<VerifiedCredential, Refusal> {
        let audit = &self.audit;
        let outcome = verify_inner(&self.store, &self.anchor, token).await;
        if let Err(e) = &outcome {
            let ctx = Context {
                actor: Actor { kind: ActorKind::Anonymous, id: "verifier".into(), organisation: None },
                on_behalf_of: None,
                correlation_id: None,
            };
            record(audit, &ctx, "identity.employee-credential.verify", None, AuditResult::Denied, Some(e.to_string()))
                .await?;
        }
        outcome
    }
}

async fn verify_inner(store: &Store, anchor: &TrustAnchor, token: &str) -> Result<VerifiedCredential, Refusal> {
    let parsed = check(anchor, token).await?;
    let row = repo::credential(store, &parsed.row.issuer, &parsed.row.jti).await?.ok_or_else(|| {
        refuse(
            "invalid_grant",
            "credential",
            format!("{} has not registered credential {}", parsed.row.issuer, parsed.row.jti),
        )
    })?;
    if row.token != parsed.row.token {
        return Err(refuse("invalid_grant", "credential", "differs from the credential registered under its jti"));
    }
    if let Some(at) = row.revoked_at {
        let why = row.revocation_reason.clone().unwrap_or_default();
        return Err(refuse("invalid_grant", "credential", format!("revoked by its issuer at {at}: {why}")));
    }
    let member = anchor.member(&row.issuer).await.map_err(|e| refuse("invalid_grant", "credential", e.to_string()))?;
    Ok(VerifiedCredential {
        credential: row.into(),
        issuer_name: member.name,
        issuer_organisation_number: member.organisation_number,
    })
}
