//! The API catalog: member organisations register their APIs and upload versions (OpenAPI documents,
//! linted on upload); a version is published only when it breaks no SKALL rule of the profile and, within
//! its major version, breaks nothing the previous published version promised. Every change is an audit
//! event; reading the catalog is open to everyone.

use ena_audit::event::{ObjectRef, Result as AuditResult};
use ena_audit::{AuditLog, Context};
use ena_core::FieldError;
use ena_store::{Store, with_pool};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a catalog call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Internal(String),
}

impl From<sqlx::Error> for CatalogError {
    fn from(e: sqlx::Error) -> CatalogError {
        CatalogError::Internal(e.to_string())
    }
}

fn invalid(field: &str, value: impl ToString, reason: impl Into<String>) -> CatalogError {
    CatalogError::Invalid(vec![FieldError::new(field, value.to_string(), reason.into())])
}

/// An API to register.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiInput {
    /// Lowercase letters, digits and hyphens, 3–60: the API's id in the catalog (and its URL).
    #[schema(example = "bygglov")]
    pub id: String,
    #[schema(example = "Bygglov")]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Where consumers get support (an e-mail address or a URL).
    #[schema(example = "api@exempelkommun.se")]
    pub contact: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// `public`, `internal` or `confidential` (default `public`): how the information it gives out is
    /// classified.
    #[serde(default)]
    pub classification: Option<String>,
    /// The entity id of the member node that serves it (the organisation's own node), with `service`:
    /// the node's service id (node.toml `[[service]]`). Together they put the API behind that node's
    /// gateway.
    pub node: Option<String>,
    pub service: Option<String>,
}

/// How an API's information may be classified.
pub const CLASSIFICATIONS: [&str; 3] = ["public", "internal", "confidential"];

/// An API in the catalog.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CatalogApi)]
pub struct Api {
    pub id: String,
    /// The owner organisation (organisation number).
    pub owner: String,
    pub name: String,
    pub description: String,
    pub contact: String,
    pub tags: Vec<String>,
    pub classification: String,
    /// The member node and its service that serve the API (through the node's gateway).
    pub node: Option<String>,
    pub service: Option<String>,
    /// The newest published version, if any.
    pub published: Option<String>,
    pub created_at: String,
}

/// A version of an API.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CatalogVersion)]
pub struct Version {
    pub api_id: String,
    pub version: String,
    pub major: u64,
    /// `draft` or `published`.
    pub status: String,
    pub errors: u64,
    pub warnings: u64,
    pub created_at: String,
    pub published_at: Option<String>,
    pub deprecated_at: Option<String>,
    /// When a deprecated version stops answering (RFC 8594 `Sunset`).
    pub sunset_at: Option<String>,
    /// The version to move to (RFC 9745 `Link: rel=successor-version`).
    pub successor: Option<String>,
    pub retired_at: Option<String>,
    /// The operator's recorded exception: SKALL rules let through at publication, why, by whom, when.
    #[schema(value_type = Option<Object>)]
    pub lint_exception: Option<serde_json::Value>,
    /// The operator's recorded override: retired although applications still called it.
    #[schema(value_type = Option<Object>)]
    pub retire_override: Option<serde_json::Value>,
}

#[derive(Debug, sqlx::FromRow)]
struct ApiRow {
    id: String,
    owner: String,
    name: String,
    description: String,
    contact: String,
    tags: String,
    classification: String,
    node: Option<String>,
    service: Option<String>,
    created_at: i64,
    published: Option<String>,
}

#[derive(Debug, sqlx::FromRow)]
struct VersionRow {
    api_id: String,
    version: String,
    major: i64,
    status: String,
    errors: i64,
    warnings: i64,
    created_at: i64,
    published_at: Option<i64>,
    deprecated_at: Option<i64>,
    sunset_at: Option<i64>,
    successor: Option<String>,
    retired_at: Option<i64>,
    lint_exception: Option<String>,
    retire_override: Option<String>,
}

impl From<ApiRow> for Api {
    fn from(r: ApiRow) -> Api {
        Api {
            id: r.id,
            owner: r.owner,
            name: r.name,
            description: r.description,
            contact: r.contact,
            tags: serde_json::from_str(&r.tags).unwrap_or_default(),
            classification: r.classification,
            node: r.node,
            service: r.service,
            published: r.published,
            created_at: ena_core::time::rfc3339_of(r.created_at),
        }
    }
}

impl From<VersionRow> for Version {
    fn from(r: VersionRow) -> Version {
        Version {
            api_id: r.api_id,
            version: r.version,
            major: u64::try_from(r.major).unwrap_or(0),
            status: r.status,
            errors: u64::try_from(r.errors).unwrap_or(0),
            warnings: u64::try_from(r.warnings).unwrap_or(0),
            created_at: ena_core::time::rfc3339_of(r.created_at),
            published_at: r.published_at.map(ena_core::time::rfc3339_of),
            deprecated_at: r.deprecated_at.map(ena_core::time::rfc3339_of),
            sunset_at: r.sunset_at.map(ena_core::time::rfc3339_of),
            successor: r.successor,
            retired_at: r.retired_at.map(ena_core::time::rfc3339_of),
            lint_exception: r.lint_exception.and_then(|t| serde_json::from_str(&t).ok()),
            retire_override: r.retire_override.and_then(|t| serde_json::from_str(&t).ok()),
        }
    }
}

const API_COLUMNS: &str = "a.id, a.owner, a.name, a.description, a.contact, a.tags, a.classification, a.node, a.service, a.created_at, \
    (SELECT v.version FROM apis_versions v WHERE v.api_id = a.id AND v.status = 'published' \
     ORDER BY v.published_at DESC, v.version DESC LIMIT 1) AS published";

const VERSION_COLUMNS: &str = "api_id, version, major, status, errors, warnings, created_at, published_at, \
    deprecated_at, sunset_at, successor, retired_at, lint_exception, retire_override";

/// The catalog service.
#[derive(Clone)]
pub struct Catalog {
    store: Store,
    audit: AuditLog,
}

fn valid_id(id: &str) -> bool {
    (3..=60).contains(&id.len())
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !id.starts_with('-')
        && !id.ends_with('-')
}

impl Catalog {
    pub fn new(store: Store, audit: AuditLog) -> Catalog {
        Catalog { store, audit }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn audit(&self) -> &AuditLog {
        &self.audit
    }

    async fn log(&self, ctx: &Context, action: &str, id: &str, details: &[(&str, String)]) -> Result<(), CatalogError> {
        let mut event =
            ctx.event(action, Some(ObjectRef { kind: "api".into(), id: id.to_owned() }), AuditResult::Allowed, None);
        if !details.is_empty() {
            event.details = Some(details.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect());
        }
        self.audit.append(vec![event]).await.map(|_| ()).map_err(|e| CatalogError::Internal(e.to_string()))
    }

    /// Register an API owned by `owner`; its id must be free.
    pub async fn register(&self, ctx: &Context, owner: &str, input: ApiInput) -> Result<Api, CatalogError> {
        let mut errors = Vec::new();
        if !valid_id(&input.id) {
            errors.push(FieldError::new("id", &input.id, "3–60 lowercase letters, digits and hyphens"));
        } else if input.id.starts_with("ena-") && owner != "ena" {
            errors.push(FieldError::new("id", &input.id, "ids beginning ena- are ena's own APIs'"));
        }
        if input.name.trim().is_empty() || input.name.len() > 200 {
            errors.push(FieldError::new("name", &input.name, "1–200 characters"));
        }
        if input.contact.trim().is_empty() || input.contact.len() > 200 {
            errors.push(FieldError::new("contact", &input.contact, "an e-mail address or URL, at most 200 characters"));
        }
        if input.description.len() > 4000 {
            errors.push(FieldError::new("description", input.description.len(), "at most 4000 characters"));
        }
        if input.tags.len() > 10 || input.tags.iter().any(|t| t.is_empty() || t.len() > 40) {
            errors.push(FieldError::new("tags", input.tags.join(","), "at most 10 tags of 1–40 characters"));
        }
        let classification = input.classification.as_deref().unwrap_or("public");
        if !CLASSIFICATIONS.contains(&classification) {
            errors.push(FieldError::new("classification", classification, "public, internal or confidential"));
        }
        if input.node.is_some() != input.service.is_some() {
            errors.push(FieldError::new(
                "service",
                input.service.as_deref().unwrap_or_default(),
                "node and service go together",
            ));
        }
        if let Some(node) = &input.node
            && (!node.starts_with("https://") || node.len() > 200)
        {
            errors.push(FieldError::new("node", node, "the serving node's entity id (https://…)"));
        }
        if let Some(service) = &input.service
            && !(1..=63).contains(&service.len())
        {
            errors.push(FieldError::new("service", service, "the node's service id (1–63 of a–z, 0–9 and '-')"));
        }
        if !errors.is_empty() {
            return Err(CatalogError::Invalid(errors));
        }
        let now = ena_core::time::unix_now();
        let tags = serde_json::to_string(&input.tags).unwrap_or_else(|_| "[]".into());
        self.log(ctx, "apis.register", &input.id, &[("owner", owner.to_owned())]).await?;
        let inserted = with_pool!(&self.store, pool => {
            sqlx::query("INSERT INTO apis_apis (id, owner, name, description, contact, tags, created_at, updated_at, classification, node, service) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING")
                .bind(&input.id).bind(owner).bind(input.name.trim()).bind(&input.description).bind(input.contact.trim())
                .bind(&tags).bind(now).bind(classification).bind(&input.node).bind(&input.service)
                .execute(pool).await.map(|r| r.rows_affected())
        })?;
        if inserted == 0 {
            return Err(CatalogError::Conflict(format!("The catalog already has an API {}.", input.id)));
        }
        self.api(&input.id).await
    }

    /// One API.
    pub async fn api(&self, id: &str) -> Result<Api, CatalogError> {
        let sql = format!("SELECT {API_COLUMNS} FROM apis_apis a WHERE a.id = $1");
        let row: Option<ApiRow> = with_pool!(&self.store, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await
        })?;
        row.map(Api::from).ok_or_else(|| CatalogError::NotFound(format!("The catalog has no API {id}.")))
    }

    /// APIs whose name, id or description holds `q` (all when empty) and that carry `tag`, by id.
    pub async fn search(&self, q: &str, tag: Option<&str>, limit: u32, offset: u64) -> Result<Vec<Api>, CatalogError> {
        let like = format!("%{}%", q.to_lowercase().replace(['%', '_'], ""));
        let tag_like = tag.map(|t| format!("%{}%", serde_json::to_string(t).unwrap_or_default()));
        let sql = format!(
            "SELECT {API_COLUMNS} FROM apis_apis a WHERE (LOWER(a.name) LIKE $1 OR a.id LIKE $1 OR LOWER(a.description) LIKE $1) \
             AND ($2 IS NULL OR a.tags LIKE $2) ORDER BY a.id LIMIT $3 OFFSET $4"
        );
        let rows: Vec<ApiRow> = with_pool!(&self.store, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(&like).bind(tag_like.as_deref()).bind(i64::from(limit))
                .bind(i64::try_from(offset).unwrap_or(i64::MAX)).fetch_all(pool).await
        })?;
        Ok(rows.into_iter().map(Api::from).collect())
    }

    pub(crate) async fn owned(&self, owner: &str, id: &str) -> Result<Api, CatalogError> {
        let api = self.api(id).await?;
        if api.owner != owner {
            return Err(CatalogError::Forbidden(format!("The API {id} is another organisation's.")));
        }
        Ok(api)
    }

    /// Upload a version of `id` (its owner only): parsed, linted and kept as a draft. Its number is the
    /// document's `info.version`, which must be new for the API.
    pub async fn add_version(
        &self,
        ctx: &Context,
        owner: &str,
        id: &str,
        bytes: &[u8],
    ) -> Result<(Version, crate::Report), CatalogError> {
        self.owned(owner, id).await?;
        let (doc, _) = crate::parse(bytes).map_err(|e| invalid("body", "(the document)", e.to_string()))?;
        let version =
            doc.pointer("/info/version").and_then(serde_json::Value::as_str).unwrap_or_default().trim().to_owned();
        let Some(major) = crate::diff::major(&doc) else {
            return Err(invalid("info.version", &version, "a version whose first number is the major, e.g. 1.2.0"));
        };
        if version.len() > 40 {
            return Err(invalid("info.version", &version, "at most 40 characters"));
        }
        let report = crate::lint(&doc);
        let now = ena_core::time::unix_now();
        self.log(
            ctx,
            "apis.version.upload",
            id,
            &[("version", version.clone()), ("errors", report.errors.to_string())],
        )
        .await?;
        let lint = serde_json::to_string(&report).map_err(|e| CatalogError::Internal(e.to_string()))?;
        let document = serde_json::to_string(&doc).map_err(|e| CatalogError::Internal(e.to_string()))?;
        let inserted = with_pool!(&self.store, pool => {
            sqlx::query("INSERT INTO apis_versions (api_id, version, major, status, document, errors, warnings, lint, created_at) \
                         VALUES ($1, $2, $3, 'draft', $4, $5, $6, $7, $8) ON CONFLICT (api_id, version) DO NOTHING")
                .bind(id).bind(&version).bind(i64::try_from(major).unwrap_or(i64::MAX)).bind(&document)
                .bind(report.errors as i64).bind(report.warnings as i64).bind(&lint).bind(now)
                .execute(pool).await.map(|r| r.rows_affected())
        })?;
        if inserted == 0 {
            return Err(CatalogError::Conflict(format!("{id} already has a version {version}: raise info.version.")));
        }
        Ok((self.version(id, &version).await?, report))
    }

    /// One version.
    pub async fn version(&self, id: &str, version: &str) -> Result<Version, CatalogError> {
        let sql = format!("SELECT {VERSION_COLUMNS} FROM apis_versions WHERE api_id = $1 AND version = $2");
        let row: Option<VersionRow> = with_pool!(&self.store, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).bind(version).fetch_optional(pool).await
        })?;
        row.map(Version::from).ok_or_else(|| CatalogError::NotFound(format!("{id} has no version {version}.")))
    }

    /// The versions of `id`, newest first.
    pub async fn versions(&self, id: &str) -> Result<Vec<Version>, CatalogError> {
        self.api(id).await?;
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM apis_versions WHERE api_id = $1 ORDER BY created_at DESC, version DESC LIMIT 200"
        );
        let rows: Vec<VersionRow> = with_pool!(&self.store, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_all(pool).await
        })?;
        Ok(rows.into_iter().map(Version::from).collect())
    }

    /// A version's document and lint report.
    pub async fn document(
        &self,
        id: &str,
        version: &str,
    ) -> Result<(serde_json::Value, serde_json::Value), CatalogError> {
        let row: Option<(String, String)> = with_pool!(&self.store, pool => {
            sqlx::query_as("SELECT document, lint FROM apis_versions WHERE api_id = $1 AND version = $2")
                .bind(id).bind(version).fetch_optional(pool).await
        })?;
        let (doc, lint) = row.ok_or_else(|| CatalogError::NotFound(format!("{id} has no version {version}.")))?;
        let parse = |s: &str| serde_json::from_str(s).map_err(|e| CatalogError::Internal(e.to_string()));
        Ok((parse(&doc)?, parse(&lint)?))
    }

    /// Publish a draft (its owner only): refused while it breaks a SKALL rule, and while it breaks what the
    /// newest published version of the same major promised (a breaking change needs a new major). The
    /// change is a conditional UPDATE (only a draft becomes published), so a version is published once.
    pub async fn publish(
        &self,
        ctx: &Context,
        owner: &str,
        id: &str,
        version: &str,
    ) -> Result<(Version, Option<crate::DiffReport>), CatalogError> {
        self.owned(owner, id).await?;
        let v = self.version(id, version).await?;
        if v.status != "draft" {
            return Err(CatalogError::Conflict(format!("{id} {version} is {}, not a draft.", v.status)));
        }
        let (doc, lint) = self.document(id, version).await?;
        if v.errors > 0 {
            // An operator may have let named rules through (recorded, with why); any other error blocks.
            let excepted: Vec<String> = v
                .lint_exception
                .as_ref()
                .map(|e| {
                    e["rules"].as_array().into_iter().flatten().filter_map(|r| r.as_str().map(str::to_owned)).collect()
                })
                .unwrap_or_default();
            let left: Vec<String> =
                crate::plans::error_rules(&lint).into_iter().filter(|r| !excepted.contains(r)).collect();
            if !left.is_empty() {
                return Err(CatalogError::Conflict(format!(
                    "{id} {version} breaks {} SKALL rule(s) of the REST API profile ({}); GET its lint report, mend and upload a new version, or ask the operator for a recorded exception.",
                    v.errors,
                    left.join(", ")
                )));
            }
        }
        let previous: Option<(String, String)> = with_pool!(&self.store, pool => {
            sqlx::query_as("SELECT version, document FROM apis_versions WHERE api_id = $1 AND major = $2 AND status = 'published' \
                            ORDER BY published_at DESC, version DESC LIMIT 1")
                .bind(id).bind(i64::try_from(v.major).unwrap_or(i64::MAX)).fetch_optional(pool).await
        })?;
        let mut report = None;
        if let Some((before, text)) = &previous {
            let old: serde_json::Value =
                serde_json::from_str(text).map_err(|e| CatalogError::Internal(e.to_string()))?;
            let r = crate::diff(&old, &doc);
            if r.is_breaking() {
                let first = r
                    .changes
                    .iter()
                    .find(|c| c.rule == "VER.01")
                    .map(|c| format!(" (first: {} at {})", c.message, c.pointer))
                    .unwrap_or_default();
                return Err(CatalogError::Conflict(format!(
                    "{id} {version} claims to be compatible with {before} (same major) but makes {} breaking change(s){first}; publish it as a new major version.",
                    r.breaking
                )));
            }
            report = Some(r);
        }
        self.log(ctx, "apis.version.publish", id, &[("version", version.to_owned())]).await?;
        let now = ena_core::time::unix_now();
        let updated = with_pool!(&self.store, pool => {
            sqlx::query("UPDATE apis_versions SET status = 'published', published_at = $3 WHERE api_id = $1 AND version = $2 AND status = 'draft'")
                .bind(id).bind(version).bind(now).execute(pool).await.map(|r| r.rows_affected())
        })?;
        if updated == 0 {
            return Err(CatalogError::Conflict(format!("{id} {version} was published meanwhile.")));
        }
        let text = match &report {
            Some(r) => format!(
                "{id} {version} is published: {} compatible change(s) since {}.",
                r.compatible,
                previous.as_ref().map(|p| p.0.as_str()).unwrap_or_default()
            ),
            None => format!(
                "{id} {version} is published (a new major version: see its change report against the previous one)."
            ),
        };
        self.notify(ctx, id, "published", version, &text).await?;
        Ok((self.version(id, version).await?, report))
    }

    /// Deprecate a published version (its owner only): it keeps answering until `sunset` (RFC 3339, at
    /// least a day ahead), and names `successor` (a published version of the same API) where there is one.
    pub async fn deprecate(
        &self,
        ctx: &Context,
        owner: &str,
        id: &str,
        version: &str,
        sunset: &str,
        successor: Option<&str>,
    ) -> Result<Version, CatalogError> {
        self.owned(owner, id).await?;
        let now = ena_core::time::unix_now();
        let at = ena_core::Timestamp::parse_rfc3339(sunset)
            .map(ena_core::Timestamp::unix)
            .ok_or_else(|| invalid("sunset", sunset, "an RFC 3339 date-time"))?;
        if at < now + 86_400 {
            return Err(invalid("sunset", sunset, "at least a day ahead: consumers need time to move"));
        }
        if let Some(next) = successor {
            let s =
                self.version(id, next).await.map_err(|_| invalid("successor", next, "not a version of this API"))?;
            if s.status != "published" || next == version {
                return Err(invalid("successor", next, "a published version of this API other than this one"));
            }
        }
        let v = self
            .transition(
                ctx,
                owner,
                id,
                version,
                "published",
                "deprecated",
                "apis.version.deprecate",
                (Some(at), successor),
            )
            .await?;
        let next = successor.map(|s| format!("; move to {s}")).unwrap_or_default();
        let text = format!("{id} {version} is deprecated and stops answering at {sunset}{next}.");
        self.notify(ctx, id, "deprecated", version, &text).await?;
        Ok(v)
    }

    /// Retire a deprecated version (its owner only) once its sunset has passed: it is no longer served
    /// (the gateway answers 410) and stays in the catalog as history.
    pub async fn retire(&self, ctx: &Context, owner: &str, id: &str, version: &str) -> Result<Version, CatalogError> {
        self.owned(owner, id).await?;
        let v = self.version(id, version).await?;
        let now = ena_core::time::unix_now();
        let sunset = v.sunset_at.as_deref().and_then(ena_core::Timestamp::parse_rfc3339).map(ena_core::Timestamp::unix);
        if v.status == "deprecated" && sunset.is_some_and(|s| s > now) {
            return Err(CatalogError::Conflict(format!(
                "{id} {version} is deprecated until its sunset {}: retire it after that.",
                v.sunset_at.unwrap_or_default()
            )));
        }
        // Who would be left without an answer: subscribed applications that called this major lately,
        // while no other released version of the major answers for it.
        let others: Option<(String,)> = with_pool!(&self.store, pool => {
            sqlx::query_as("SELECT version FROM apis_versions WHERE api_id = $1 AND major = $2 AND version <> $3 \
                            AND status IN ('published', 'deprecated') LIMIT 1")
                .bind(id).bind(i64::try_from(v.major).unwrap_or(i64::MAX)).bind(version).fetch_optional(pool).await
        })?;
        if others.is_none() && v.retire_override.is_none() {
            let callers = self.callers(id, v.major).await?;
            if !callers.is_empty() {
                return Err(CatalogError::Conflict(format!(
                    "{id} {version} was called in the last {} days by {} subscribed application(s) ({}); they must move first, or the operator records an override.",
                    crate::plans::QUIET_DAYS,
                    callers.len(),
                    callers.join(", ")
                )));
            }
        }
        self.transition(ctx, owner, id, version, "deprecated", "retired", "apis.version.retire", (None, None)).await
    }

    /// Move `version` from status `from` to `to` with one conditional UPDATE (logged first); a version in
    /// another status is a conflict that names it.
    #[allow(clippy::too_many_arguments)]
    async fn transition(
        &self,
        ctx: &Context,
        owner: &str,
        id: &str,
        version: &str,
        from: &str,
        to: &str,
        action: &str,
        (sunset, successor): (Option<i64>, Option<&str>),
    ) -> Result<Version, CatalogError> {
        let v = self.version(id, version).await?;
        if v.status != from {
            return Err(CatalogError::Conflict(format!(
                "{id} {version} is {}; only a {from} version can become {to}.",
                v.status
            )));
        }
        self.log(ctx, action, id, &[("version", version.to_owned()), ("owner", owner.to_owned())]).await?;
        let now = ena_core::time::unix_now();
        let n = with_pool!(&self.store, pool => {
            let q = if to == "deprecated" {
                sqlx::query("UPDATE apis_versions SET status = $3, deprecated_at = $5, sunset_at = $6, successor = $7 \
                             WHERE api_id = $1 AND version = $2 AND status = $4")
                    .bind(id).bind(version).bind(to).bind(from).bind(now).bind(sunset).bind(successor)
            } else {
                sqlx::query("UPDATE apis_versions SET status = $3, retired_at = $5 WHERE api_id = $1 AND version = $2 AND status = $4")
                    .bind(id).bind(version).bind(to).bind(from).bind(now)
            };
            q.execute(pool).await.map(|r| r.rows_affected())
        })?;
        if n == 0 {
            return Err(CatalogError::Conflict(format!("{id} {version} changed meanwhile; read it again.")));
        }
        self.version(id, version).await
    }
}
