//! What the anchor signs and serves: its entity configuration and historical keys, subordinate statements (fetch), list, resolve, trust marks and their status, history, the CRL, and who a client certificate belongs to.

use super::*;

/// A member node proven by its TLS client certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodePeer {
    pub entity_id: String,
    pub organisation_number: String,
    pub name: String,
    /// base64url SHA-256 of the certificate.
    pub certificate_sha256: String,
}

impl TrustAnchor {
    pub(super) fn sign_configuration(&self, now: i64) -> (String, i64) {
        let c = &self.config;
        let exp = now + c.lifetime;
        let issuers: serde_json::Map<String, Value> =
            c.trust_mark_types.iter().map(|t| (t.clone(), json!([c.entity_id]))).collect();
        let claims = json!({
            "iss": c.entity_id, "sub": c.entity_id, "iat": now, "exp": exp,
            "jwks": self.keys().published(now, c.lifetime),
            "metadata": {"federation_entity": {
                "organization_name": c.name,
                "federation_fetch_endpoint": c.endpoint("fetch"),
                "federation_list_endpoint": c.endpoint("list"),
                "federation_resolve_endpoint": c.endpoint("resolve"),
                "federation_trust_mark_status_endpoint": c.endpoint("trust-mark-status"),
                "federation_trust_mark_endpoint": c.endpoint("trust-mark"),
                "federation_historical_keys_endpoint": c.endpoint("historical-keys"),
                "ena_crl_uri": c.endpoint("crl"),
                "ena_ca_certificate_uri": c.endpoint("ca-certificate"),
            }},
            "trust_mark_issuers": issuers,
        });
        let mut claims = claims;
        for (t, v) in c.extra_metadata.as_object().into_iter().flatten() {
            claims["metadata"][t] = v.clone();
        }
        (self.keys().active().sign(ENTITY_STATEMENT_TYP, &claims), exp)
    }

    /// The anchor's entity configuration; re-issued (and logged) at half-life.
    pub async fn entity_configuration(&self) -> Result<String, FederationError> {
        let now = ena_core::time::unix_now();
        let half = self.config.lifetime / 2;
        if let Some((token, exp)) = &self.cache.lock().expect("cache lock").configuration
            && exp - now > half
        {
            return Ok(token.clone());
        }
        // Another process (or a restart) may have issued one that is still fresh.
        if let Some(row) = repo::latest_statement(&self.store, &self.config.entity_id, "entity-configuration").await?
            && row.expires_at - now > half
            && Unverified::parse(&row.token)
                .and_then(|t| t.verify(&self.jwks()).map(|()| t))
                .is_ok_and(|t| t.payload.get("jwks") == Some(&self.jwks()))
        {
            self.cache.lock().expect("cache lock").configuration = Some((row.token.clone(), row.expires_at));
            return Ok(row.token);
        }
        let (token, exp) = self.sign_configuration(now);
        let issue = Issue {
            sub: self.config.entity_id.clone(),
            kind: "entity-configuration",
            token: token.clone(),
            issued_at: now,
            expires_at: exp,
        };
        self.publish(&Context::system("federation"), vec![issue], vec![]).await?;
        self.cache.lock().expect("cache lock").configuration = Some((token.clone(), exp));
        Ok(token)
    }

    /// The historical keys (a signed `jwk-set+jwt`).
    pub fn historical_keys(&self) -> String {
        let now = ena_core::time::unix_now();
        let claims = json!({"iss": self.config.entity_id, "iat": now, "keys": self.keys().history()});
        self.keys().active().sign(HISTORICAL_KEYS_TYP, &claims)
    }

    pub(super) fn sign_subordinate(&self, member: &MemberRow, thumbprint: Option<&str>, now: i64) -> (String, i64) {
        let exp = now + self.config.lifetime;
        let jwks: Value = serde_json::from_str(&member.jwks).unwrap_or_default();
        let types: Vec<String> = serde_json::from_str(&member.entity_types).unwrap_or_default();
        // The approved entity types travel with the statement: any chain validator (ours or another
        // implementation's) drops metadata of other types, whatever the member's configuration says.
        let mut claims = json!({
            "iss": self.config.entity_id, "sub": member.entity_id, "iat": now, "exp": exp, "jwks": jwks,
            "source_endpoint": self.config.endpoint("fetch"),
            "constraints": {"allowed_entity_types": types},
        });
        if self.config.metadata_policy.as_object().is_some_and(|p| !p.is_empty()) {
            claims["metadata_policy"] = self.config.metadata_policy.clone();
        }
        if let Some(t) = thumbprint
            && types.iter().any(|x| x == ENA_NODE)
        {
            // The anchor's word on the node's TLS certificate overrides anything the member says.
            claims["metadata"] = json!({ENA_NODE: {"tls_client_certificate_sha256": t}});
        }
        (self.keys().active().sign(ENTITY_STATEMENT_TYP, &claims), exp)
    }

    pub(super) fn sign_trust_mark(&self, sub: &str, trust_mark_type: &str, now: i64) -> Issue {
        let exp = now + 365 * 86_400;
        let claims = json!({"iss": self.config.entity_id, "sub": sub, "trust_mark_type": trust_mark_type, "iat": now, "exp": exp});
        Issue {
            sub: sub.to_owned(),
            kind: "trust-mark",
            token: self.keys().active().sign(TRUST_MARK_TYP, &claims),
            issued_at: now,
            expires_at: exp,
        }
    }

    /// The subordinate statement about `sub` (fetch endpoint); re-issued and logged at half-life.
    pub async fn fetch(&self, sub: &str) -> Result<String, FederationError> {
        if sub == self.config.entity_id {
            return Err(invalid(
                "sub",
                sub,
                "the anchor issues no statement about itself; get its entity configuration",
            ));
        }
        let member = self.active_member(sub).await?;
        let now = ena_core::time::unix_now();
        if let Some(row) = repo::latest_statement(&self.store, sub, "subordinate-statement").await?
            && row.expires_at - now > self.config.lifetime / 2
        {
            return Ok(row.token);
        }
        let thumbprint = repo::certificates_of(&self.store, sub)
            .await?
            .into_iter()
            .find(|c| c.revoked_at.is_none())
            .map(|c| c.thumbprint);
        let (token, exp) = self.sign_subordinate(&member, thumbprint.as_deref(), now);
        let issue = Issue {
            sub: sub.to_owned(),
            kind: "subordinate-statement",
            token: token.clone(),
            issued_at: now,
            expires_at: exp,
        };
        self.publish(&Context::system("federation"), vec![issue], vec![]).await?;
        Ok(token)
    }

    /// Entity ids of active members, optionally only those of one entity type or holding a trust mark type.
    pub async fn list(
        &self,
        entity_type: Option<&str>,
        trust_mark_type: Option<&str>,
    ) -> Result<Vec<String>, FederationError> {
        if let Some(t) = entity_type
            && !ENTITY_TYPES.contains(&t)
        {
            return Err(invalid("entity_type", t, format!("must be one of {}", ENTITY_TYPES.join(", "))));
        }
        let mut out = Vec::new();
        let mut offset = 0;
        loop {
            let page = repo::members(&self.store, Some(MemberStatus::Active.as_str()), 500, offset).await?;
            let n = page.len();
            for m in page {
                let types: Vec<String> = serde_json::from_str(&m.entity_types).unwrap_or_default();
                if entity_type.is_some_and(|t| !types.iter().any(|x| x == t)) {
                    continue;
                }
                if let Some(tm) = trust_mark_type
                    && !self.active_trust_marks(&m.entity_id).await?.iter().any(|(t, _)| t == tm)
                {
                    continue;
                }
                out.push(m.entity_id);
            }
            if n < 500 {
                return Ok(out);
            }
            offset += 500;
        }
    }

    /// The trust mark types an organisation's member (in good standing) holds now: what a plan of the
    /// API catalog may require of a subscriber.
    pub async fn organisation_trust_marks(&self, organisation: &str) -> Result<Vec<String>, FederationError> {
        let Some(member) = repo::active_member_of(&self.store, organisation).await? else {
            return Ok(Vec::new());
        };
        Ok(self.active_trust_marks(&member.entity_id).await?.into_iter().map(|(t, _)| t).collect())
    }

    pub(super) async fn active_trust_marks(&self, sub: &str) -> Result<Vec<(String, String)>, FederationError> {
        let now = ena_core::time::unix_now();
        Ok(repo::statements_about(&self.store, sub, 100, 0)
            .await?
            .into_iter()
            .filter(|s| s.kind == "trust-mark" && s.revoked_at.is_none() && s.expires_at > now)
            .filter_map(|s| {
                let t = Unverified::parse(&s.token).ok()?.payload.get("trust_mark_type")?.as_str()?.to_owned();
                Some((t, s.token))
            })
            .collect())
    }

    /// Resolve `sub` under `trust_anchor` (must be this anchor): a signed resolve response with the
    /// validated chain and resolved metadata. Cached until its earliest expiry or a membership change.
    pub async fn resolve(&self, sub: &str, trust_anchor: &str) -> Result<String, FederationError> {
        let now = ena_core::time::unix_now();
        if trust_anchor.trim_end_matches('/') != self.config.entity_id {
            return Err(ChainError {
                code: ChainCode::InvalidTrustAnchor,
                index: 0,
                reason: format!(
                    "{trust_anchor} is not a trust anchor this resolver serves ({})",
                    self.config.entity_id
                ),
            }
            .into());
        }
        // The revision is read before anything else, so an answer cached now is never newer than the
        // revision it is stored under (a change by another instance after this read raises it again).
        let revision = repo::revision(&self.store).await?;
        if let Some((token, exp, at)) = self.cache.lock().expect("cache lock").resolved.get(sub)
            && *exp > now + 5
            && *at == revision
        {
            return Ok(token.clone());
        }
        let configuration = self.entity_configuration().await?;
        let chain = if sub == self.config.entity_id {
            vec![configuration]
        } else {
            let member = self.active_member(sub).await.map_err(|_| ChainError {
                code: ChainCode::NotFound,
                index: 0,
                reason: format!("{sub} is not an active member"),
            })?;
            let ec = member.entity_configuration.ok_or_else(|| ChainError {
                code: ChainCode::NotFound,
                index: 0,
                reason: format!("{sub} has not published its entity configuration to the federation"),
            })?;
            vec![ec, self.fetch(sub).await?, configuration]
        };
        let resolved = chain::validate(&chain, &self.config.entity_id, &self.jwks(), now)?;
        let marks: Vec<Value> = if sub == self.config.entity_id {
            vec![]
        } else {
            self.active_trust_marks(sub)
                .await?
                .into_iter()
                .map(|(t, token)| json!({"trust_mark_type": t, "trust_mark": token}))
                .collect()
        };
        let exp = resolved.expires.min(now + self.config.lifetime);
        let claims = json!({
            "iss": self.config.entity_id, "sub": sub, "iat": now, "exp": exp,
            "metadata": resolved.metadata, "trust_marks": marks, "trust_chain": chain,
        });
        let token = self.keys().active().sign(RESOLVE_TYP, &claims);
        self.cache.lock().expect("cache lock").resolved.insert(sub.to_owned(), (token.clone(), exp, revision));
        Ok(token)
    }

    /// The metadata of `sub` as the federation resolves it (chain validated, policies applied): what
    /// other blocks use to find a member's keys. Refused when `sub` is not an active member with a valid
    /// chain.
    pub async fn resolved_metadata(&self, sub: &str) -> Result<Value, FederationError> {
        let token = self.resolve(sub, &self.config.entity_id.clone()).await?;
        // We signed it a moment ago (or cached what we signed): the payload needs no second check.
        let parsed = Unverified::parse(&token).map_err(|e| FederationError::Ca(e.to_string()))?;
        Ok(parsed.payload.get("metadata").cloned().unwrap_or_else(|| json!({})))
    }

    /// The resolved metadata of `sub` for `entity_type`, only if the operator approved `sub` as that
    /// type. Every consumer of a type (credential issuers, token clients, providers) reads it here, so a
    /// member cannot take on a role by publishing its metadata; the subordinate statement's
    /// `allowed_entity_types` says the same to other validators.
    pub async fn approved_metadata(&self, sub: &str, entity_type: &str) -> Result<Value, FederationError> {
        let member = self.active_member(sub).await?;
        let types: Vec<String> = serde_json::from_str(&member.entity_types).unwrap_or_default();
        if !types.iter().any(|t| t == entity_type) {
            return Err(FederationError::Forbidden(format!(
                "{sub} is not approved as {entity_type} in this federation (approved: {})",
                types.join(", ")
            )));
        }
        let mut metadata = self.resolved_metadata(sub).await?;
        Ok(metadata.get_mut(entity_type).map(Value::take).unwrap_or_else(|| json!({})))
    }

    /// The member node whose resolved `ena_node` metadata publishes `verifier_key` as its log's key, if
    /// any: the logs a witness of this federation cosigns without being configured for them.
    pub async fn member_with_log_key(&self, verifier_key: &str) -> Result<Option<String>, FederationError> {
        for id in self.list(Some(ENA_NODE), None).await? {
            let Ok(node) = self.approved_metadata(&id, ENA_NODE).await else { continue };
            if node.get("log_verifier_key").and_then(Value::as_str).map(str::trim) == Some(verifier_key.trim()) {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    /// Issue a trust mark of `trust_mark_type` to `sub` on demand (the trust mark endpoint): the newest
    /// valid one issued at approval.
    pub async fn trust_mark(&self, sub: &str, trust_mark_type: &str) -> Result<String, FederationError> {
        self.active_member(sub).await?;
        self.active_trust_marks(sub)
            .await?
            .into_iter()
            .find(|(t, _)| t == trust_mark_type)
            .map(|(_, token)| token)
            .ok_or_else(|| FederationError::NotFound(format!("{sub} holds no trust mark {trust_mark_type}")))
    }

    /// The status of a trust mark (a signed `trust-mark-status-response+jwt`): active, revoked, expired or
    /// invalid.
    pub async fn trust_mark_status(&self, token: &str) -> Result<String, FederationError> {
        let parsed = Unverified::parse(token).map_err(|e| invalid("trust_mark", "(JWT)", e.to_string()))?;
        let status = if parsed.expect_typ(TRUST_MARK_TYP).is_err() || parsed.verify(&self.keys().all()).is_err() {
            "invalid"
        } else {
            match repo::statement_by_token(&self.store, token).await? {
                None => "invalid",
                Some(s) if s.revoked_at.is_some() => "revoked",
                Some(s) if s.expires_at <= ena_core::time::unix_now() => "expired",
                Some(_) => "active",
            }
        };
        let claims = json!({"iss": self.config.entity_id, "iat": ena_core::time::unix_now(), "trust_mark": token, "status": status});
        Ok(self.keys().active().sign(STATUS_TYP, &claims))
    }

    /// Everything the federation issued about `sub`, newest first.
    pub async fn history(&self, sub: &str, limit: u32, offset: u64) -> Result<Vec<HistoryItem>, FederationError> {
        Ok(repo::statements_about(&self.store, sub, limit, offset)
            .await?
            .into_iter()
            .map(|s| HistoryItem {
                sha256: sha256(&s.token),
                kind: s.kind,
                token: s.token,
                issued_at: s.issued_at,
                expires_at: s.expires_at,
                revoked_at: s.revoked_at.map(ena_core::time::rfc3339_of),
                log_index: s.log_index,
            })
            .collect())
    }

    /// The CRL (PEM) of every revoked certificate.
    pub async fn crl(&self) -> Result<String, FederationError> {
        let revoked: Vec<(String, time::OffsetDateTime)> = repo::revoked_certificates(&self.store)
            .await?
            .into_iter()
            .filter_map(|(serial, at)| Some((serial, time::OffsetDateTime::from_unix_timestamp(at).ok()?)))
            .collect();
        // The CRL number only has to grow: seconds since the epoch do.
        self.ca.crl(&revoked, ena_core::time::unix_now().max(1) as u64).map_err(|e| FederationError::Ca(e.to_string()))
    }

    /// Who presented `der` (a client certificate that already chained to the federation CA): a member in
    /// good standing whose current, unrevoked certificate it is — or why not.
    pub async fn node_peer(&self, der: &[u8]) -> Result<NodePeer, String> {
        let thumbprint = crate::ca::thumbprint(der);
        let cert = repo::certificate_by_thumbprint(&self.store, &thumbprint)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the certificate was not issued to a member by this federation")?;
        if cert.revoked_at.is_some() {
            return Err("the certificate is revoked".into());
        }
        let member =
            repo::member(&self.store, &cert.entity_id).await.map_err(|e| e.to_string())?.ok_or("no such member")?;
        if member.status != MemberStatus::Active.as_str() {
            return Err(format!("the member is {}", member.status));
        }
        Ok(NodePeer {
            entity_id: member.entity_id,
            organisation_number: member.organisation_number,
            name: member.name,
            certificate_sha256: thumbprint,
        })
    }

    /// The certificate and key of this instance's own node listener, issued by the CA for `names`.
    pub fn server_certificate(&self, names: &[String]) -> Result<(String, String), FederationError> {
        self.ca.issue_server(names).map_err(|e| FederationError::Ca(e.to_string()))
    }
}
