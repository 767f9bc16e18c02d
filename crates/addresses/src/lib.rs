//! Adressregister: digital addresses so that messages reach the right addressee — organisations, their
//! functions (e.g. a municipality's `socialtjanst`), companies and persons. Each address names the node
//! that serves it (a federation member), the message types it accepts (capabilities, by type and
//! version), the public keys messages to it are encrypted to (X25519), a status and a validity. Message
//! types are registered once per version with a JSON Schema 2020-12 and an information classification.
//!
//! Every address carries a revision (its ETag); every change is a row in the change feed and an audit
//! event. The operator administers everything; a member system administers its own organisation's
//! addresses and message types, as the decision point decides (`administer` on `address`).

pub mod repo;
pub mod schema;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ena_access::DecisionPoint;
use ena_audit::event::{ObjectRef, Result as AuditResult};
use ena_audit::{AuditSink, Context};
use ena_core::{FieldError, Organisationsnummer, PersonId};
use ena_federation::TrustAnchor;
use ena_store::Store;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub use crate::schema::Schema;

/// Address kinds.
pub const KINDS: [&str; 4] = ["organisation", "function", "company", "person"];
/// The HPKE suite message payloads are encrypted with (RFC 9180 ids: X25519-HKDF-SHA256, HKDF-SHA256,
/// ChaCha20-Poly1305); an address's keys are for this suite.
pub const HPKE_SUITE: &str = "X25519-HKDF-SHA256/HKDF-SHA256/ChaCha20-Poly1305";

#[derive(Debug, thiserror::Error)]
pub enum AddrError {
    #[error("{}", .0.iter().map(|e| format!("{}: {}", e.property, e.reason)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// (field, reason)
    #[error("{0}: {1}")]
    Conflict(String, String),
    /// The `If-Match` revision is not the stored one.
    #[error("the address is at revision {current:?}, not the one given in If-Match")]
    Stale { current: Option<i64> },
    #[error("{0}")]
    Internal(String),
}

impl From<sqlx::Error> for AddrError {
    fn from(e: sqlx::Error) -> AddrError {
        AddrError::Internal(e.to_string())
    }
}

fn invalid(field: &str, value: impl ToString, reason: impl Into<String>) -> FieldError {
    FieldError::new(field, value, reason)
}

/// Who administers: the operator, or a member system (its federation entity id and organisation).
#[derive(Debug, Clone)]
pub enum Admin {
    Operator,
    Member { entity_id: String, organisation: String },
}

/// Confidentiality, integrity and availability levels (0–3, as in MSB's KLASSA: 0 none … 3 serious harm).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Classification {
    #[schema(example = 2)]
    pub confidentiality: u8,
    #[schema(example = 2)]
    pub integrity: u8,
    #[schema(example = 1)]
    pub availability: u8,
}

/// A message type version as registered.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MessageTypeInput {
    #[schema(example = "Inkomstuppgift")]
    pub title: String,
    /// A JSON Schema 2020-12 for the structured payload; remote `$ref`s are refused.
    #[schema(value_type = Object)]
    pub schema: Value,
    pub classification: Classification,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageType {
    #[schema(example = "se.skatteverket.inkomstuppgift")]
    pub id: String,
    #[schema(example = "1.0")]
    pub version: String,
    pub title: String,
    /// The organisation number of the owner, or `operator`.
    pub owner: String,
    #[schema(value_type = Object)]
    pub schema: Value,
    pub classification: Classification,
    pub created_at: String,
}

/// A message type (and the versions of it) an address accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Capability {
    #[schema(example = "se.skatteverket.inkomstuppgift")]
    pub message_type: String,
    #[schema(example = json!(["1.0"]))]
    pub versions: Vec<String>,
}

/// A public key messages to the address are encrypted to: an OKP JWK on X25519.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EncryptionKey {
    #[schema(example = "OKP")]
    pub kty: String,
    #[schema(example = "X25519")]
    pub crv: String,
    /// The 32-byte public key, base64url.
    #[schema(example = "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo")]
    pub x: String,
    #[schema(example = "2026-11")]
    pub kid: String,
}

/// An address as given by an administrator (`PUT /addresses/v1/addresses/{address}`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressInput {
    /// organisation, function, company or person; a function's address is `<orgnr>:<function>`.
    #[schema(example = "function")]
    pub kind: String,
    #[schema(example = "Exempelkommunen, socialtjänsten")]
    pub name: String,
    /// The entity id of the member node that receives for this address.
    #[schema(example = "https://node.exempel.kommun.se")]
    pub node: String,
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    #[serde(default)]
    pub encryption_keys: Vec<EncryptionKey>,
    /// active (default) or suspended.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub valid_from: Option<String>,
    #[serde(default)]
    pub valid_to: Option<String>,
}

/// An address's standing: only an active one takes messages; a removed one is kept (its revision goes
/// on) but no longer listed or found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AddressStatus {
    Active,
    Suspended,
    Removed,
}

ena_core::text_enum!(AddressStatus { Active = "active", Suspended = "suspended", Removed = "removed" });

/// An address in the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// `<orgnr>`, `<orgnr>:<function>` or `<personnummer>` (12 digits).
    #[schema(example = "162120000142:socialtjanst")]
    pub address: String,
    pub kind: String,
    pub identifier: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// The organisation it belongs to (for persons: the person).
    pub organisation: String,
    pub name: String,
    pub node: String,
    pub capabilities: Vec<Capability>,
    pub encryption_keys: Vec<EncryptionKey>,
    pub status: AddressStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<String>,
    /// Raised by one on every change; the address's ETag.
    pub revision: i64,
    pub updated_at: String,
}

impl Address {
    /// Whether a message of `message_type` version `version` may be sent here at `now` (unix seconds).
    pub fn accepts(&self, message_type: &str, version: &str, now: i64) -> Result<(), String> {
        if self.status != AddressStatus::Active {
            return Err(format!("the address is {}", self.status));
        }
        let t = |s: &Option<String>| s.as_deref().and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok());
        if t(&self.valid_from).is_some_and(|f| f.unix_timestamp() > now) {
            return Err("the address is not yet valid".into());
        }
        if t(&self.valid_to).is_some_and(|e| e.unix_timestamp() <= now) {
            return Err("the address is no longer valid".into());
        }
        let ok =
            self.capabilities.iter().any(|c| c.message_type == message_type && c.versions.iter().any(|v| v == version));
        if !ok {
            let accepted: Vec<String> = self
                .capabilities
                .iter()
                .flat_map(|c| c.versions.iter().map(move |v| format!("{}@{v}", c.message_type)))
                .collect();
            let accepted = if accepted.is_empty() { "none".to_owned() } else { accepted.join(", ") };
            return Err(format!(
                "the address {} does not accept {message_type} version {version} (it accepts: {accepted}); its owner lists the types it takes in `accepts` of its [[address]] in node.toml",
                self.address
            ));
        }
        Ok(())
    }
}

/// One change in the feed.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub seq: i64,
    pub address: String,
    /// created, updated or deleted.
    pub change: String,
    pub revision: i64,
    pub at: String,
}

/// Receives every change after it is stored (subscriptions hang off this).
pub trait ChangeHook: Send + Sync {
    fn changed(&self, change: &Change);
}

/// A parsed address string.
struct Parsed {
    identifier: String,
    function: Option<String>,
    person: bool,
}

fn parse_address(address: &str) -> Result<Parsed, FieldError> {
    let (id, function) = match address.split_once(':') {
        Some((id, f)) => (id, Some(f)),
        None => (address, None),
    };
    if let Some(f) = function {
        let ok = !f.is_empty()
            && f.len() <= 63
            && f.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(invalid("address", address, "a function name is 1–63 of a–z, 0–9 and '-'"));
        }
    }
    if let Ok(o) = Organisationsnummer::parse(id) {
        return Ok(Parsed { identifier: o.as_str().to_owned(), function: function.map(str::to_owned), person: false });
    }
    match PersonId::parse(id) {
        Ok(p) if function.is_none() => Ok(Parsed { identifier: p.as_str().to_owned(), function: None, person: true }),
        Ok(_) => Err(invalid("address", address, "persons have no functions")),
        Err(e) => Err(invalid("address", address, format!("not an organisation or identity number: {e}"))),
    }
}

/// The canonical form of an address string (12-digit numbers), or why it is not one.
pub fn canonical(address: &str) -> Result<String, FieldError> {
    let p = parse_address(address)?;
    Ok(match p.function {
        Some(f) => format!("{}:{f}", p.identifier),
        None => p.identifier,
    })
}

fn check_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    (1..=3).contains(&parts.len())
        && parts.iter().all(|p| !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit()))
}

fn check_type_id(id: &str) -> bool {
    id.len() <= 128
        && id.split('.').count() >= 2
        && id
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
}

/// Which federation members may serve addresses: `Ok` for an active member node, or why not.
pub trait Nodes: Send + Sync {
    fn check_node<'a>(&'a self, entity_id: &'a str) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;
}

impl Nodes for TrustAnchor {
    fn check_node<'a>(&'a self, entity_id: &'a str) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            match self.member(entity_id).await {
                Ok(m) if m.status != ena_federation::anchor::MemberStatus::Active => {
                    Err(format!("the member is {}", m.status))
                }
                Ok(m) if !m.entity_types.iter().any(|t| t == "ena_node") => Err("the member is not an ena_node".into()),
                Ok(_) => Ok(()),
                Err(_) => Err("not a member of the federation".into()),
            }
        })
    }
}

/// The address registry service.
pub struct Addresses {
    store: Store,
    access: Arc<DecisionPoint>,
    nodes: Arc<dyn Nodes>,
    schemas: RwLock<HashMap<(String, String), Schema>>,
    hook: Option<Arc<dyn ChangeHook>>,
}

impl std::fmt::Debug for Addresses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Addresses").finish_non_exhaustive()
    }
}

impl Addresses {
    pub fn new(store: Store, access: Arc<DecisionPoint>, nodes: Arc<dyn Nodes>) -> Addresses {
        Addresses { store, access, nodes, schemas: RwLock::default(), hook: None }
    }

    pub fn with_hook(mut self, hook: Arc<dyn ChangeHook>) -> Addresses {
        self.hook = Some(hook);
        self
    }

    /// Register a message type version. Versions are immutable: the same content again is accepted
    /// unchanged (`Ok(false)`), different content is a conflict — publish a new version instead.
    pub async fn put_message_type(
        &self,
        audit: &dyn AuditSink,
        ctx: &Context,
        admin: &Admin,
        id: &str,
        version: &str,
        input: MessageTypeInput,
    ) -> Result<(MessageType, bool), AddrError> {
        let object = format!("{id}@{version}");
        let result = self.register_type(admin, id, version, input).await;
        self.log(audit, ctx, "addresses.message_type.put", "message_type", &object, &result, |r| r.1).await?;
        result
    }

    /// Register a message type this release ships (Mina meddelanden's): checked as any type and owned by
    /// `operator`, seeded at every start and a no-op once there with the same content. Like the shipped
    /// policies it is the code's, not anyone's action, so it writes no audit event (a fresh log stays
    /// empty until something happens).
    pub async fn seed_message_type(&self, id: &str, version: &str, input: MessageTypeInput) -> Result<(), AddrError> {
        self.register_type(&Admin::Operator, id, version, input).await.map(|_| ())
    }

    async fn register_type(
        &self,
        admin: &Admin,
        id: &str,
        version: &str,
        input: MessageTypeInput,
    ) -> Result<(MessageType, bool), AddrError> {
        let mut errors = Vec::new();
        if !check_type_id(id) {
            errors.push(invalid(
                "id",
                id,
                "a dotted name of at least two parts of a–z, 0–9 and '-', e.g. se.skatteverket.inkomstuppgift",
            ));
        }
        if !check_version(version) {
            errors.push(invalid("version", version, "one to three dot-separated numbers, e.g. 1.0"));
        }
        if input.title.trim().is_empty() || input.title.len() > 200 {
            errors.push(invalid("title", &input.title, "1–200 characters"));
        }
        let c = input.classification;
        for (name, level) in
            [("confidentiality", c.confidentiality), ("integrity", c.integrity), ("availability", c.availability)]
        {
            if level > 3 {
                errors.push(invalid(&format!("classification.{name}"), level, "a level from 0 to 3"));
            }
        }
        let compiled = Schema::compile(&input.schema);
        if let Err(e) = &compiled {
            errors.push(invalid("schema", "(given)", e.clone()));
        }
        if !errors.is_empty() {
            return Err(AddrError::Invalid(errors));
        }
        let owner = match admin {
            Admin::Operator => "operator".to_owned(),
            Admin::Member { organisation, .. } => organisation.clone(),
        };
        let row = repo::TypeRow {
            id: id.to_owned(),
            version: version.to_owned(),
            title: input.title.trim().to_owned(),
            owner,
            schema_json: input.schema.to_string(),
            confidentiality: i64::from(c.confidentiality),
            integrity: i64::from(c.integrity),
            availability: i64::from(c.availability),
            created_at: ena_core::time::unix_now(),
        };
        // A member may add versions only to its own types (and name new ones); the operator to any.
        let existing_owner = repo::message_types_owner(&self.store, id).await?;
        if let (Admin::Member { .. }, Some(o)) = (admin, &existing_owner)
            && o != &row.owner
        {
            return Err(AddrError::Forbidden(format!("the message type {id} belongs to {o}")));
        }
        if let Admin::Member { entity_id, organisation } = admin {
            self.may_administer(entity_id, organisation, &row.owner).await?;
        }
        let exclusive = matches!(admin, Admin::Member { .. });
        match repo::insert_message_type(&self.store, &row, exclusive).await? {
            repo::TypeInsert::Inserted => return Ok((to_type(row), true)),
            repo::TypeInsert::OwnedBy(o) => {
                return Err(AddrError::Forbidden(format!("the message type {id} belongs to {o}")));
            }
            repo::TypeInsert::Exists => {}
        }
        let stored =
            repo::message_type(&self.store, id, version).await?.ok_or_else(|| AddrError::NotFound(id.into()))?;
        let same = serde_json::from_str::<Value>(&stored.schema_json).ok().as_ref() == Some(&input.schema)
            && stored.title == row.title
            && (stored.confidentiality, stored.integrity, stored.availability)
                == (row.confidentiality, row.integrity, row.availability);
        if !same {
            return Err(AddrError::Conflict(
                "version".into(),
                format!(
                    "{id} version {version} is registered with other content; versions never change — register a new version"
                ),
            ));
        }
        Ok((to_type(stored), false))
    }

    pub async fn message_type(&self, id: &str, version: &str) -> Result<MessageType, AddrError> {
        repo::message_type(&self.store, id, version)
            .await?
            .map(to_type)
            .ok_or_else(|| AddrError::NotFound(format!("no message type {id} version {version}")))
    }

    pub async fn message_types(&self, limit: u32, offset: u64) -> Result<Vec<MessageType>, AddrError> {
        Ok(repo::message_types(&self.store, limit, offset).await?.into_iter().map(to_type).collect())
    }

    /// The compiled schema of a message type version (compiled once per process).
    pub async fn schema(&self, id: &str, version: &str) -> Result<Schema, AddrError> {
        let key = (id.to_owned(), version.to_owned());
        if let Some(s) = self.schemas.read().expect("schemas").get(&key) {
            return Ok(s.clone());
        }
        let t = self.message_type(id, version).await?;
        let s = Schema::compile(&t.schema).map_err(AddrError::Internal)?;
        self.schemas.write().expect("schemas").insert(key, s.clone());
        Ok(s)
    }

    /// Create or replace an address. With `if_match`, only if the stored revision is that one.
    pub async fn put_address(
        &self,
        audit: &dyn AuditSink,
        ctx: &Context,
        admin: &Admin,
        address: &str,
        input: AddressInput,
        if_match: Option<i64>,
    ) -> Result<Address, AddrError> {
        let result = self.store_address(admin, address, input, if_match).await;
        let object = canonical(address).unwrap_or_else(|_| address.to_owned());
        self.log(audit, ctx, "addresses.address.put", "address", &object, &result, |_| true).await?;
        let (a, created) = result?;
        self.announce(&a.address, if created { "created" } else { "updated" }, a.revision).await;
        Ok(a)
    }

    async fn store_address(
        &self,
        admin: &Admin,
        address: &str,
        input: AddressInput,
        if_match: Option<i64>,
    ) -> Result<(Address, bool), AddrError> {
        let parsed = parse_address(address).map_err(|e| AddrError::Invalid(vec![e]))?;
        let mut errors = Vec::new();
        let kind = input.kind.as_str();
        if !KINDS.contains(&kind) {
            errors.push(invalid("kind", kind, "organisation, function, company or person"));
        } else if (kind == "function") != parsed.function.is_some() {
            errors.push(invalid("kind", kind, "a function's address is <orgnr>:<function>, and only a function's"));
        } else if (kind == "person") != parsed.person {
            errors.push(invalid(
                "kind",
                kind,
                "a person's address is a personnummer or samordningsnummer, and only a person's",
            ));
        }
        if input.name.trim().is_empty() || input.name.len() > 200 {
            errors.push(invalid("name", &input.name, "1–200 characters"));
        }
        if let Err(why) = self.nodes.check_node(&input.node).await {
            errors.push(invalid("node", &input.node, why));
        }
        // An address is published active or suspended; it is removed by deleting it.
        let status = match input.status.as_deref().map(AddressStatus::parse) {
            None => AddressStatus::Active,
            Some(Some(s @ (AddressStatus::Active | AddressStatus::Suspended))) => s,
            Some(_) => {
                errors.push(invalid("status", input.status.as_deref().unwrap_or_default(), "active or suspended"));
                AddressStatus::Active
            }
        };
        let time = |field: &str, v: &Option<String>, errors: &mut Vec<FieldError>| {
            v.as_deref().and_then(|s| match OffsetDateTime::parse(s, &Rfc3339) {
                Ok(t) => Some(t),
                Err(e) => {
                    errors.push(invalid(field, s, format!("an RFC 3339 time: {e}")));
                    None
                }
            })
        };
        let from = time("validFrom", &input.valid_from, &mut errors);
        let to = time("validTo", &input.valid_to, &mut errors);
        if let (Some(f), Some(t)) = (from, to)
            && t <= f
        {
            errors.push(invalid("validTo", input.valid_to.as_deref().unwrap_or_default(), "must be after validFrom"));
        }
        let mut types = Vec::new();
        for (i, c) in input.capabilities.iter().enumerate() {
            if c.versions.is_empty() {
                errors.push(invalid(&format!("capabilities[{i}].versions"), "[]", "name at least one version"));
            }
            for (j, v) in c.versions.iter().enumerate() {
                if repo::message_type(&self.store, &c.message_type, v).await?.is_none() {
                    errors.push(invalid(
                        &format!("capabilities[{i}].versions[{j}]"),
                        v,
                        format!("no message type {} version {v} is registered", c.message_type),
                    ));
                }
            }
            if types.contains(&c.message_type) {
                errors.push(invalid(&format!("capabilities[{i}].messageType"), &c.message_type, "listed twice"));
            }
            types.push(c.message_type.clone());
        }
        if !input.capabilities.is_empty() && input.encryption_keys.is_empty() {
            errors.push(FieldError::missing("encryptionKeys", "an address that accepts messages needs an X25519 key"));
        }
        for (i, k) in input.encryption_keys.iter().enumerate() {
            let x = URL_SAFE_NO_PAD.decode(&k.x).ok().filter(|x| x.len() == 32);
            if k.kty != "OKP" || k.crv != "X25519" || x.is_none() {
                errors.push(invalid(&format!("encryptionKeys[{i}]"), &k.x, "an OKP JWK on X25519 with a 32-byte x"));
            }
            if k.kid.is_empty() || k.kid.len() > 64 {
                errors.push(invalid(&format!("encryptionKeys[{i}].kid"), &k.kid, "1–64 characters"));
            }
        }
        if !errors.is_empty() {
            return Err(AddrError::Invalid(errors));
        }
        let organisation = parsed.identifier.clone();
        match admin {
            Admin::Operator => {}
            Admin::Member { .. } if parsed.person => {
                return Err(AddrError::Forbidden("persons' addresses are administered centrally".into()));
            }
            Admin::Member { entity_id, organisation: own } => {
                self.may_administer(entity_id, own, &organisation).await?;
                // A member points its addresses at its own node (the operator may point them anywhere).
                if input.node != *entity_id {
                    return Err(AddrError::Invalid(vec![invalid(
                        "node",
                        &input.node,
                        "a member's addresses are served by its own node",
                    )]));
                }
            }
        }
        let canonical = match &parsed.function {
            Some(f) => format!("{}:{f}", parsed.identifier),
            None => parsed.identifier.clone(),
        };
        let mut a = Address {
            address: canonical,
            kind: kind.to_owned(),
            identifier: parsed.identifier,
            function: parsed.function,
            organisation,
            name: input.name.trim().to_owned(),
            node: input.node,
            capabilities: input.capabilities,
            encryption_keys: input.encryption_keys,
            status,
            valid_from: from.and_then(|t| t.format(&Rfc3339).ok()),
            valid_to: to.and_then(|t| t.format(&Rfc3339).ok()),
            revision: 0,
            updated_at: ena_core::time::now_rfc3339(),
        };
        let row = to_row(&a);
        match repo::put_address(&self.store, &row, &types, if_match).await? {
            repo::Written::Revision(r, change) => {
                a.revision = r;
                Ok((a, change == "created"))
            }
            repo::Written::Stale(current) => Err(AddrError::Stale { current }),
        }
    }

    /// Remove an address (kept as a tombstone so revisions keep counting).
    pub async fn delete_address(
        &self,
        audit: &dyn AuditSink,
        ctx: &Context,
        admin: &Admin,
        address: &str,
    ) -> Result<i64, AddrError> {
        let result = async {
            let a = self.address(address).await?;
            if let Admin::Member { entity_id, organisation } = admin {
                if a.kind == "person" {
                    return Err(AddrError::Forbidden("persons' addresses are administered centrally".into()));
                }
                self.may_administer(entity_id, organisation, &a.organisation).await?;
            }
            repo::delete_address(&self.store, &a.address, ena_core::time::unix_now())
                .await?
                .ok_or_else(|| AddrError::NotFound(format!("no address {address}")))
        }
        .await;
        let object = canonical(address).unwrap_or_else(|_| address.to_owned());
        self.log(audit, ctx, "addresses.address.delete", "address", &object, &result, |_| true).await?;
        let revision = result?;
        self.announce(&object, "deleted", revision).await;
        Ok(revision)
    }

    /// One address (removed ones are not found).
    pub async fn address(&self, address: &str) -> Result<Address, AddrError> {
        let canonical = canonical(address).map_err(|e| AddrError::Invalid(vec![e]))?;
        repo::address(&self.store, &canonical)
            .await?
            .filter(|r| r.status != AddressStatus::Removed.as_str())
            .map(from_row)
            .transpose()?
            .ok_or_else(|| AddrError::NotFound(format!("no address {canonical}")))
    }

    /// The current revision of an address, if it exists (for a cheap `If-None-Match`).
    pub async fn revision(&self, address: &str) -> Result<Option<i64>, AddrError> {
        let a = self.address(address).await;
        match a {
            Ok(a) => Ok(Some(a.revision)),
            Err(AddrError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Addresses of an identifier and/or accepting a message type.
    pub async fn lookup(
        &self,
        identifier: Option<&str>,
        message_type: Option<&str>,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<Address>, AddrError> {
        let identifier = match identifier {
            Some(i) => Some(parse_address(i).map_err(|mut e| {
                e.property = "identifier".into();
                AddrError::Invalid(vec![e])
            })?),
            None => None,
        };
        if identifier.as_ref().is_some_and(|p| p.function.is_some()) {
            return Err(AddrError::Invalid(vec![invalid(
                "identifier",
                "(given)",
                "an organisation or identity number, without a function",
            )]));
        }
        let rows = repo::addresses(
            &self.store,
            identifier.as_ref().map(|p| p.identifier.as_str()),
            message_type,
            limit,
            offset,
        )
        .await?;
        rows.into_iter().map(from_row).collect()
    }

    /// Changes after `since`, oldest first.
    pub async fn changes(&self, since: i64, limit: u32) -> Result<Vec<Change>, AddrError> {
        Ok(repo::changes(&self.store, since, limit)
            .await?
            .into_iter()
            .map(|c| Change {
                seq: c.seq,
                address: c.address,
                change: c.change,
                revision: c.revision,
                at: ena_core::time::rfc3339_of(c.at),
            })
            .collect())
    }

    /// May the member `entity_id` (of `own` organisation) administer what belongs to `organisation`?
    async fn may_administer(&self, entity_id: &str, own: &str, organisation: &str) -> Result<(), AddrError> {
        let d = self
            .access
            .decide_with(
                ("member", entity_id),
                &[("organisationNumber", own)],
                "administer",
                ("address", organisation),
                &[("organisationNumber", organisation)],
            )
            .await
            .map_err(|e| AddrError::Internal(e.to_string()))?;
        if d.allowed {
            Ok(())
        } else {
            Err(AddrError::Forbidden(format!(
                "the decision point does not let {entity_id} administer what belongs to {organisation}"
            )))
        }
    }

    async fn announce(&self, address: &str, change: &str, revision: i64) {
        let Some(hook) = &self.hook else { return };
        // The feed row has the sequence number; fetch the newest change of this address for it.
        let seq = repo::last_change(&self.store, address).await.ok().flatten().unwrap_or(0);
        hook.changed(&Change {
            seq,
            address: address.to_owned(),
            change: change.to_owned(),
            revision,
            at: ena_core::time::now_rfc3339(),
        });
    }

    /// Record the attempt: allowed when it changed something, denied when refused; nothing for
    /// internal failures or unchanged repeats.
    #[allow(clippy::too_many_arguments)]
    async fn log<T>(
        &self,
        audit: &dyn AuditSink,
        ctx: &Context,
        action: &str,
        kind: &str,
        object: &str,
        result: &Result<T, AddrError>,
        changed: impl Fn(&T) -> bool,
    ) -> Result<(), AddrError> {
        let (outcome, reason) = match result {
            Ok(v) if changed(v) => (AuditResult::Allowed, None),
            Ok(_) | Err(AddrError::Internal(_)) => return Ok(()),
            Err(e) => (AuditResult::Denied, Some(e.to_string())),
        };
        let mut event =
            ctx.event(action, Some(ObjectRef { kind: kind.into(), id: object.to_owned() }), outcome, reason);
        if PersonId::parse(object).is_ok() {
            event.data_subjects = vec![object.to_owned()];
        }
        audit.record(vec![event]).await.map_err(|e| AddrError::Internal(e.to_string()))?;
        Ok(())
    }
}

fn to_type(r: repo::TypeRow) -> MessageType {
    MessageType {
        schema: serde_json::from_str(&r.schema_json).unwrap_or(Value::Null),
        classification: Classification {
            confidentiality: r.confidentiality as u8,
            integrity: r.integrity as u8,
            availability: r.availability as u8,
        },
        id: r.id,
        version: r.version,
        title: r.title,
        owner: r.owner,
        created_at: ena_core::time::rfc3339_of(r.created_at),
    }
}

fn to_row(a: &Address) -> repo::AddressRow {
    repo::AddressRow {
        address: a.address.clone(),
        kind: a.kind.clone(),
        identifier: a.identifier.clone(),
        function_name: a.function.clone(),
        organisation: a.organisation.clone(),
        name: a.name.clone(),
        node: a.node.clone(),
        body: serde_json::to_string(a).unwrap_or_default(),
        status: a.status.as_str().to_owned(),
        revision: a.revision,
        updated_at: ena_core::time::unix_of(&a.updated_at),
    }
}

fn from_row(r: repo::AddressRow) -> Result<Address, AddrError> {
    let mut a: Address =
        serde_json::from_str(&r.body).map_err(|e| AddrError::Internal(format!("stored address: {e}")))?;
    // The columns are the truth for what a write changes outside the body (revision, status).
    a.revision = r.revision;
    a.status = AddressStatus::parse(&r.status)
        .ok_or_else(|| AddrError::Internal(format!("stored address status {:?}", r.status)))?;
    a.updated_at = ena_core::time::rfc3339_of(r.updated_at);
    Ok(a)
}
