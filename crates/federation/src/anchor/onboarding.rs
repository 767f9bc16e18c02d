//! Onboarding and membership: the agreement, applications and their checks, approve/reject, suspend/revoke, members, and members' own entity configurations (pushed or read from their well-known URLs).

use super::*;

/// A member's own entity configuration must be self-issued for `entity_id`, typed, signed with one of
/// the keys it registered, unexpired, name this anchor (`anchor_id`) in `authority_hints` (OpenID
/// Federation requires them of every entity but an anchor; a client that starts at the member finds its
/// superior there), and carry metadata only for `types` (the entity types applied for or approved;
/// `federation_entity` is every entity's). Returns its payload.
pub(super) fn check_member_configuration(
    token: &str,
    entity_id: &str,
    jwks: &Value,
    types: &[String],
    anchor_id: &str,
) -> Result<serde_json::Map<String, Value>, FieldError> {
    let bad = |reason: String| FieldError::new("entityConfiguration", "(JWT)", reason);
    let parsed = Unverified::parse(token).map_err(|e| bad(e.to_string()))?;
    parsed.expect_typ(ENTITY_STATEMENT_TYP).map_err(|e| bad(e.to_string()))?;
    let claim =
        |n: &str| parsed.payload.get(n).and_then(Value::as_str).unwrap_or_default().trim_end_matches('/').to_owned();
    if claim("iss") != entity_id || claim("sub") != entity_id {
        return Err(bad(format!("iss and sub must both be {entity_id}")));
    }
    parsed.verify(jwks).map_err(|e| bad(format!("{e} (it must be signed with a key in jwks)")))?;
    let exp = parsed.payload.get("exp").and_then(Value::as_i64).ok_or_else(|| bad("exp is missing".into()))?;
    if exp <= ena_core::time::unix_now() {
        return Err(bad("it has expired".into()));
    }
    let hints = parsed.payload.get("authority_hints").and_then(Value::as_array);
    if !hints.is_some_and(|h| h.iter().any(|a| a.as_str().map(|a| a.trim_end_matches('/')) == Some(anchor_id))) {
        return Err(FieldError::new(
            "entityConfiguration.authority_hints",
            "(JWT)",
            format!("must name the trust anchor {anchor_id} (authority_hints are required of every member)"),
        ));
    }
    if let Some(metadata) = parsed.payload.get("metadata").and_then(Value::as_object) {
        for t in metadata.keys() {
            if t != "federation_entity" && !types.iter().any(|a| a == t) {
                return Err(FieldError::new(
                    format!("entityConfiguration.metadata.{t}"),
                    t,
                    format!(
                        "metadata for an entity type the member is not approved for (approved: {})",
                        types.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(parsed.payload)
}

impl TrustAnchor {
    pub async fn agreement(&self) -> Result<Agreement, FederationError> {
        let a = repo::current_agreement(&self.store)
            .await?
            .ok_or_else(|| FederationError::NotFound("no agreement is published".into()))?;
        Ok(Agreement {
            version: a.version,
            title: a.title,
            body: a.body,
            published_at: ena_core::time::rfc3339_of(a.published_at),
        })
    }

    /// Why `entity_id`'s host cannot be a member's, if it cannot: node certificates name the host, so
    /// two members on one host could act as each other over TLS, and a member on the anchor's host (or
    /// `localhost`, which the anchor's own node-listener certificate names) could pose as the anchor.
    pub(super) async fn host_taken(&self, entity_id: &str) -> Result<Option<String>, FederationError> {
        let Some(host) = entity_host(entity_id).map(str::to_ascii_lowercase) else { return Ok(None) };
        let anchor = self.config.entity_id.split("://").nth(1).unwrap_or_default();
        let anchor_host = anchor.split(['/', ':']).next().unwrap_or_default().to_ascii_lowercase();
        if host == anchor_host || host == "localhost" {
            return Ok(Some(format!("its host {host} is the trust anchor's; a member needs a host of its own")));
        }
        let mut offset = 0;
        loop {
            let page = repo::members(&self.store, Some(MemberStatus::Active.as_str()), 500, offset).await?;
            let n = page.len();
            if let Some(m) = page.iter().find(|m| {
                m.entity_id != entity_id && entity_host(&m.entity_id).is_some_and(|h| h.eq_ignore_ascii_case(&host))
            }) {
                return Ok(Some(format!(
                    "another member ({}) already uses the host {host}: one member per host (certificates name the host)",
                    m.entity_id
                )));
            }
            if n < 500 {
                return Ok(None);
            }
            offset += 500;
        }
    }

    /// Check an application; on success returns the row to store.
    pub(super) async fn check_application(&self, input: &ApplicationInput) -> Result<ApplicationRow, FederationError> {
        let mut errors = Vec::new();
        let org = match Organisationsnummer::parse(&input.organisation_number) {
            Ok(o) => o.as_str().to_owned(),
            Err(e) => {
                errors.push(FieldError::new("organisationNumber", &input.organisation_number, e.to_string()));
                String::new()
            }
        };
        let name = input.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            errors.push(FieldError::new("name", &input.name, "must be 1 to 200 characters"));
        }
        let contact = input.contact.trim();
        if !contact.contains('@') || contact.len() > 254 || contact.contains(char::is_whitespace) {
            errors.push(FieldError::new("contact", &input.contact, "must be an e-mail address"));
        }
        let entity_id = input.entity_id.trim().trim_end_matches('/').to_owned();
        if entity_host(&entity_id).is_none() || entity_id.len() > 255 || entity_id.contains(['?', '#', ' ']) {
            errors.push(FieldError::new(
                "entityId",
                &input.entity_id,
                "must be an https URL with a host, no query or fragment",
            ));
        } else if entity_id == self.config.entity_id {
            errors.push(FieldError::new("entityId", &input.entity_id, "is the trust anchor's own identifier"));
        } else if let Some(why) = self.host_taken(&entity_id).await? {
            errors.push(FieldError::new("entityId", &input.entity_id, why));
        }
        let jwks_text = input.jwks.to_string();
        if jwks_text.len() > MAX_JWKS_BYTES {
            errors.push(FieldError::new(
                "jwks",
                format!("{} bytes", jwks_text.len()),
                format!("must be at most {MAX_JWKS_BYTES} bytes"),
            ));
        } else if let Err(e) = jose::check_public_jwks(&input.jwks, MAX_JWKS_KEYS) {
            errors.push(FieldError::new("jwks", "(keys)", e.reason));
        }
        if input.entity_types.is_empty() {
            errors.push(FieldError::new("entityTypes", "[]", "name at least one entity type"));
        }
        for (i, t) in input.entity_types.iter().enumerate() {
            if !ENTITY_TYPES.contains(&t.as_str()) {
                errors.push(FieldError::new(
                    format!("entityTypes[{i}]"),
                    t,
                    format!("must be one of {}", ENTITY_TYPES.join(", ")),
                ));
            }
        }
        for (i, t) in input.trust_marks.iter().enumerate() {
            if !self.config.trust_mark_types.contains(t) {
                errors.push(FieldError::new(
                    format!("trustMarks[{i}]"),
                    t,
                    format!("must be one of {}", self.config.trust_mark_types.join(", ")),
                ));
            }
        }
        let metadata = input.metadata.clone().unwrap_or_else(|| json!({}));
        match metadata.as_object() {
            Some(m) => {
                for t in m.keys() {
                    if !input.entity_types.contains(t) {
                        errors.push(FieldError::new(
                            format!("metadata.{t}"),
                            t,
                            "metadata for an entity type not applied for",
                        ));
                    }
                }
                if metadata.to_string().len() > 64 * 1024 {
                    errors.push(FieldError::new("metadata", "(object)", "must be at most 64 KiB"));
                }
            }
            None => errors.push(FieldError::new("metadata", &metadata, "must be an object keyed by entity type")),
        }
        if let Some(req) = &input.key_request
            && errors.iter().all(|e| e.property != "entityId")
            && let Err(e) = self.ca.issue(req, &entity_id, name, &org)
        {
            errors.push(FieldError::new("keyRequest", "(PEM)", e.to_string()));
        }
        if let Some(ec) = &input.entity_configuration
            && let Err(e) =
                check_member_configuration(ec, &entity_id, &input.jwks, &input.entity_types, &self.config.entity_id)
        {
            errors.push(e);
        }
        let agreement = self.agreement().await?;
        match input.accept_agreement {
            Some(v) if v == agreement.version => {}
            Some(v) => errors.push(FieldError::new(
                "acceptAgreement",
                v,
                format!("the agreement in force is version {}", agreement.version),
            )),
            None => errors.push(FieldError::new(
                "acceptAgreement",
                "(missing)",
                format!("accept agreement version {} (GET /federation/v1/agreement)", agreement.version),
            )),
        }
        if !errors.is_empty() {
            return Err(FederationError::Invalid(errors));
        }
        if let Some(m) = repo::member(&self.store, &entity_id).await?
            && m.status == MemberStatus::Active.as_str()
        {
            return Err(FederationError::Conflict(format!("{entity_id} is already an active member")));
        }
        Ok(ApplicationRow {
            id: uuid::Uuid::now_v7().to_string(),
            entity_id,
            organisation_number: org,
            name: name.to_owned(),
            contact: contact.to_owned(),
            jwks: jwks_text,
            entity_types: serde_json::to_string(&input.entity_types).unwrap_or_default(),
            metadata: metadata.to_string(),
            trust_marks: serde_json::to_string(&input.trust_marks).unwrap_or_default(),
            key_request: input.key_request.clone(),
            entity_configuration: input.entity_configuration.clone(),
            agreement_version: agreement.version,
            status: ApplicationStatus::Pending.as_str().into(),
            reason: None,
            created_at: ena_core::time::unix_now(),
            decided_at: None,
            decided_by: None,
        })
    }

    /// An organisation applies to join; the acceptance of the agreement is logged.
    pub async fn apply(&self, ctx: &Context, input: &ApplicationInput) -> Result<Application, FederationError> {
        let row = self.check_application(input).await?;
        if !repo::insert_application(&self.store, &row).await? {
            return Err(FederationError::Conflict(format!("{} already has a pending application", row.entity_id)));
        }
        let object = Some(ObjectRef { kind: "entity".into(), id: row.entity_id.clone() });
        let submit = ctx.event("federation.application.submit", object.clone(), AuditResult::Allowed, None);
        let mut accept = ctx.event("federation.agreement.accept", object, AuditResult::Allowed, None);
        accept.details = Some(BTreeMap::from([
            ("agreementVersion".to_owned(), row.agreement_version.to_string()),
            ("organisationNumber".to_owned(), row.organisation_number.clone()),
            ("application".to_owned(), row.id.clone()),
        ]));
        self.publish(ctx, vec![], vec![submit, accept]).await?;
        Ok(row.into())
    }

    /// An application; once approved, with the member's node certificate (certificates are public: the
    /// applicant, who holds the key, collects its certificate here with the application id).
    pub async fn application(&self, id: &str) -> Result<Application, FederationError> {
        let mut app: Application = repo::application(&self.store, id)
            .await?
            .ok_or_else(|| FederationError::NotFound(format!("no application {id}")))?
            .into();
        if app.status == ApplicationStatus::Approved {
            app.certificate = self.member(&app.entity_id).await.ok().and_then(|m| m.certificate);
        }
        Ok(app)
    }

    pub async fn applications(
        &self,
        status: Option<&str>,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<Application>, FederationError> {
        if let Some(s) = status
            && ApplicationStatus::parse(s).is_none()
        {
            return Err(invalid("status", s, "must be pending, approved or rejected"));
        }
        Ok(repo::applications(&self.store, status, limit, offset).await?.into_iter().map(Application::from).collect())
    }

    /// Approve a pending application: the member is published (subordinate statement), its certificate
    /// issued and its trust marks issued.
    pub async fn approve(&self, ctx: &Context, id: &str) -> Result<Application, FederationError> {
        let app = repo::application(&self.store, id)
            .await?
            .ok_or_else(|| FederationError::NotFound(format!("no application {id}")))?;
        if app.status != ApplicationStatus::Pending.as_str() {
            return Err(FederationError::Conflict(format!("application {id} was already {}", app.status)));
        }
        // Checked again: another application for the same host may have been approved meanwhile.
        if let Some(why) = self.host_taken(&app.entity_id).await? {
            return Err(FederationError::Conflict(format!("{}: {why}", app.entity_id)));
        }
        let now = ena_core::time::unix_now();
        // Everything is made before anything is written.
        let issued = match &app.key_request {
            Some(req) => {
                Some(self.ca.issue(req, &app.entity_id, &app.name, &app.organisation_number).map_err(|e| match e {
                    CaError::BadRequest(m) => invalid("keyRequest", "(PEM)", m),
                    other => FederationError::Ca(other.to_string()),
                })?)
            }
            None => None,
        };
        let member = MemberRow {
            entity_id: app.entity_id.clone(),
            organisation_number: app.organisation_number.clone(),
            name: app.name.clone(),
            contact: app.contact.clone(),
            jwks: app.jwks.clone(),
            entity_types: app.entity_types.clone(),
            metadata: app.metadata.clone(),
            entity_configuration: app.entity_configuration.clone(),
            status: MemberStatus::Active.as_str().into(),
            application_id: app.id.clone(),
            agreement_version: app.agreement_version,
            updated_at: ena_core::time::unix_now(),
        };
        let thumbprint = issued.as_ref().map(|c| c.thumbprint.clone());
        let (statement, exp) = self.sign_subordinate(&member, thumbprint.as_deref(), now);
        let mut issues = vec![Issue {
            sub: member.entity_id.clone(),
            kind: "subordinate-statement",
            token: statement,
            issued_at: now,
            expires_at: exp,
        }];
        let marks: Vec<String> = serde_json::from_str(&app.trust_marks).unwrap_or_default();
        for t in &marks {
            issues.push(self.sign_trust_mark(&member.entity_id, t, now));
        }
        if let Some(c) = &issued {
            issues.push(Issue {
                sub: member.entity_id.clone(),
                kind: "certificate",
                token: c.pem.clone(),
                issued_at: now,
                expires_at: c.not_after.unix_timestamp(),
            });
        }
        if !repo::decide_application(
            &self.store,
            id,
            ApplicationStatus::Approved.as_str(),
            None,
            &ctx.actor.id,
            ena_core::time::unix_now(),
        )
        .await?
        {
            return Err(FederationError::Conflict(format!("application {id} was decided meanwhile")));
        }
        repo::upsert_member(&self.store, &member).await?;
        if let Some(c) = &issued {
            repo::insert_certificate(
                &self.store,
                &CertificateRow {
                    serial: c.serial.clone(),
                    entity_id: member.entity_id.clone(),
                    pem: c.pem.clone(),
                    thumbprint: c.thumbprint.clone(),
                    not_after: c.not_after.unix_timestamp(),
                    revoked_at: None,
                },
            )
            .await?;
        }
        let decision = ctx.event(
            "federation.application.approve",
            Some(ObjectRef { kind: "entity".into(), id: member.entity_id.clone() }),
            AuditResult::Allowed,
            None,
        );
        self.publish(ctx, issues, vec![decision]).await?;
        self.changed().await?;
        self.application(id).await
    }

    pub async fn reject(&self, ctx: &Context, id: &str, reason: &str) -> Result<Application, FederationError> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 1000 {
            return Err(invalid("reason", reason, "give a reason of 1 to 1000 characters"));
        }
        let app = repo::application(&self.store, id)
            .await?
            .ok_or_else(|| FederationError::NotFound(format!("no application {id}")))?;
        if !repo::decide_application(
            &self.store,
            id,
            ApplicationStatus::Rejected.as_str(),
            Some(reason),
            &ctx.actor.id,
            ena_core::time::unix_now(),
        )
        .await?
        {
            return Err(FederationError::Conflict(format!("application {id} was already {}", app.status)));
        }
        let event = ctx.event(
            "federation.application.reject",
            Some(ObjectRef { kind: "entity".into(), id: app.entity_id.clone() }),
            AuditResult::Allowed,
            Some(reason.to_owned()),
        );
        self.publish(ctx, vec![], vec![event]).await?;
        self.application(id).await
    }

    /// Suspend (`revoke = false`) or revoke a member: gone from list and resolve, statements, trust marks
    /// and certificates revoked (the CRL lists them).
    pub async fn remove(
        &self,
        ctx: &Context,
        entity_id: &str,
        revoke: bool,
        reason: &str,
    ) -> Result<Member, FederationError> {
        let status = if revoke { MemberStatus::Revoked } else { MemberStatus::Suspended }.as_str();
        let member = repo::member(&self.store, entity_id)
            .await?
            .ok_or_else(|| FederationError::NotFound(format!("no member {entity_id}")))?;
        if member.status == MemberStatus::Revoked.as_str() || member.status == status {
            return Err(FederationError::Conflict(format!("{entity_id} is already {}", member.status)));
        }
        let now = ena_core::time::unix_now();
        repo::set_member_status(&self.store, entity_id, status, now).await?;
        let serials = repo::revoke_certificates(&self.store, entity_id, now).await?;
        for kind in ["subordinate-statement", "trust-mark", "certificate"] {
            repo::revoke_statements(&self.store, entity_id, kind, now).await?;
        }
        let mut event = ctx.event(
            &format!("federation.member.{}", if revoke { "revoke" } else { "suspend" }),
            Some(ObjectRef { kind: "entity".into(), id: entity_id.to_owned() }),
            AuditResult::Allowed,
            (!reason.trim().is_empty()).then(|| reason.trim().to_owned()),
        );
        event.details = Some(BTreeMap::from([("revokedCertificates".to_owned(), serials.join(","))]));
        self.publish(ctx, vec![], vec![event]).await?;
        self.changed().await?;
        self.member(entity_id).await
    }

    pub async fn member(&self, entity_id: &str) -> Result<Member, FederationError> {
        let m = repo::member(&self.store, entity_id)
            .await?
            .ok_or_else(|| FederationError::NotFound(format!("no member {entity_id}")))?;
        self.member_view(m).await
    }

    pub async fn members(&self, status: Option<&str>, limit: u32, offset: u64) -> Result<Vec<Member>, FederationError> {
        let mut out = Vec::new();
        for m in repo::members(&self.store, status, limit, offset).await? {
            out.push(self.member_view(m).await?);
        }
        Ok(out)
    }

    /// A stored member as shown, with its certificate in force.
    pub(super) async fn member_view(&self, m: MemberRow) -> Result<Member, FederationError> {
        let certificate = repo::certificates_of(&self.store, &m.entity_id)
            .await?
            .into_iter()
            .find(|c| c.revoked_at.is_none())
            .map(|c| c.pem);
        Ok(Member {
            entity_types: serde_json::from_str(&m.entity_types).unwrap_or_default(),
            entity_id: m.entity_id,
            organisation_number: m.organisation_number,
            name: m.name,
            status: MemberStatus::parse(&m.status).unwrap_or(MemberStatus::Revoked),
            agreement_version: m.agreement_version,
            updated_at: ena_core::time::rfc3339_of(m.updated_at),
            certificate,
        })
    }

    /// A member replaces its entity configuration; the token authenticates itself (it must verify with the
    /// member's registered keys).
    ///
    /// Only the member itself may send it (`caller` is the entity id its mTLS certificate proves), only
    /// with metadata for the entity types the operator approved, and only strictly newer (`iat`) than
    /// the one in force: every configuration the member ever published is public inside resolve
    /// responses, so an older one must not roll it back to old keys or endpoints. Sending the one in
    /// force again changes nothing.
    pub async fn update_configuration(&self, caller: &str, token: &str) -> Result<(), FederationError> {
        let parsed = Unverified::parse(token).map_err(|e| invalid("entityConfiguration", "(JWT)", e.to_string()))?;
        let entity_id = parsed.payload.get("sub").and_then(Value::as_str).unwrap_or_default().trim_end_matches('/');
        if entity_id != caller {
            return Err(FederationError::Forbidden(format!(
                "a member may publish only its own entity configuration: the certificate is {caller}'s, the configuration is about {entity_id}"
            )));
        }
        let m = self.active_member(entity_id).await?;
        let jwks: Value = serde_json::from_str(&m.jwks).unwrap_or_default();
        let types: Vec<String> = serde_json::from_str(&m.entity_types).unwrap_or_default();
        let payload = check_member_configuration(token, entity_id, &jwks, &types, &self.config.entity_id)
            .map_err(|e| FederationError::Invalid(vec![e]))?;
        if let Some(current) = &m.entity_configuration {
            if current == token {
                return Ok(());
            }
            let iat = |p: &serde_json::Map<String, Value>| p.get("iat").and_then(Value::as_i64).unwrap_or(i64::MIN);
            let in_force = Unverified::parse(current).map(|c| iat(&c.payload)).unwrap_or(i64::MIN);
            if iat(&payload) <= in_force {
                return Err(FederationError::Conflict(format!(
                    "the entity configuration's iat {} is not newer than the one in force (iat {in_force}); sign a new one",
                    iat(&payload)
                )));
            }
        }
        repo::set_member_configuration(&self.store, entity_id, token, ena_core::time::unix_now()).await?;
        self.changed().await?;
        Ok(())
    }

    pub(super) async fn active_member(&self, entity_id: &str) -> Result<MemberRow, FederationError> {
        match repo::member(&self.store, entity_id).await? {
            Some(m) if m.status == MemberStatus::Active.as_str() => Ok(m),
            _ => Err(FederationError::NotFound(format!("{entity_id} is not an active member of this federation"))),
        }
    }

    /// Fetch member `entity_id`'s entity configuration from where it serves it
    /// (`{entity_id}/.well-known/openid-federation`, media type `application/entity-statement+jwt`) and
    /// take it if it is newer than the one in force — with every check a push gets. `Ok(true)` when it
    /// replaced the stored one, `Ok(false)` when it is the one in force already.
    pub async fn refresh_configuration(&self, entity_id: &str) -> Result<bool, FederationError> {
        let member = self.active_member(entity_id).await?;
        let client = crate::client::member_reader(self.ca.certificate_pem()).map_err(FederationError::Ca)?;
        let url = format!("{}/.well-known/openid-federation", member.entity_id);
        let unreachable = |why: String| {
            invalid("entityId", entity_id, format!("{url} does not serve an entity configuration: {why}"))
        };
        let response = client.get(&url).send().await.map_err(|e| unreachable(e.to_string()))?;
        let typed = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with(ENTITY_STATEMENT_MEDIA_TYPE));
        if !response.status().is_success() || !typed {
            return Err(unreachable(format!("HTTP {} as {ENTITY_STATEMENT_MEDIA_TYPE}?", response.status())));
        }
        let token = response.text().await.map_err(|e| unreachable(e.to_string()))?;
        if member.entity_configuration.as_deref() == Some(token.trim()) {
            return Ok(false);
        }
        self.update_configuration(&member.entity_id, token.trim()).await?;
        Ok(true)
    }

    /// Refresh every active member's configuration from where it serves it; members that do not answer
    /// keep the one they pushed. Returns how many changed.
    pub async fn refresh_configurations(&self) -> Result<usize, FederationError> {
        let mut changed = 0;
        for id in self.list(None, None).await? {
            match self.refresh_configuration(&id).await {
                Ok(true) => changed += 1,
                Ok(false) => {}
                Err(e) => tracing::debug!(entity = %id, error = %e, "member configuration not refreshed"),
            }
        }
        Ok(changed)
    }
}
