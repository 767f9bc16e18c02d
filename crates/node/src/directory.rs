//! The central services as a node sees them: addresses (cached, revalidated with ETags), message type
//! schemas (immutable per version, so cached for good) and other nodes (resolved through the trust
//! anchor, the resolve response checked against the anchor's keys; cached briefly so a suspension takes
//! effect within the TTL, 30 s by default).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use ena_addresses::{Address, Schema};
use ena_keys::jose::Unverified;
use ena_messaging::{BoxFuture, Directory, PeerNode};
use serde_json::Value;

/// How long an address or a resolved node is used before it is revalidated (default).
pub const DEFAULT_TTL: Duration = Duration::from_secs(30);

pub struct HttpDirectory {
    /// mTLS client (this node's certificate) for the central node listener.
    pub central: reqwest::Client,
    /// The central node listener, e.g. `https://127.0.0.1:8443`.
    pub central_url: String,
    /// Plain client for the central public listener.
    pub public: reqwest::Client,
    pub public_url: String,
    pub anchor_id: String,
    pub anchor_jwks: Value,
    /// How long cached addresses and nodes are used before they are checked again.
    pub ttl: Duration,
    addresses: RwLock<HashMap<String, (Address, Instant)>>,
    schemas: RwLock<HashMap<(String, String), Schema>>,
    nodes: RwLock<HashMap<String, (PeerNode, Instant)>>,
    /// The peers' certificates as the federation publishes them, shared with the mTLS client: a node is
    /// reached only over the certificate its resolved metadata names.
    pins: Arc<ena_federation::client::Pins>,
}

impl std::fmt::Debug for HttpDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpDirectory").field("central", &self.central_url).finish()
    }
}

impl HttpDirectory {
    /// Learn the anchor's identity and keys from its entity configuration (self-signed; checked).
    pub async fn connect(
        central: reqwest::Client,
        central_url: &str,
        public_url: &str,
        ttl: Duration,
        pins: Arc<ena_federation::client::Pins>,
    ) -> anyhow::Result<HttpDirectory> {
        let public = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
        let ec = public
            .get(format!("{public_url}/.well-known/openid-federation"))
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "the federation at {public_url} (`federation` in node.toml) does not answer: {e}; is its `ena serve` running?"
                )
            })?
            .error_for_status()?
            .text()
            .await?;
        let parsed = Unverified::parse(&ec).map_err(|e| anyhow::anyhow!("the anchor's entity configuration: {e}"))?;
        let jwks = parsed.payload.get("jwks").cloned().unwrap_or(Value::Null);
        parsed.verify(&jwks).map_err(|e| anyhow::anyhow!("the anchor's entity configuration: {e}"))?;
        let anchor_id = parsed.payload.get("iss").and_then(Value::as_str).unwrap_or_default().to_owned();
        Ok(HttpDirectory {
            pins,
            central,
            central_url: central_url.trim_end_matches('/').to_owned(),
            public,
            public_url: public_url.trim_end_matches('/').to_owned(),
            anchor_id,
            anchor_jwks: jwks,
            ttl,
            addresses: RwLock::default(),
            schemas: RwLock::default(),
            nodes: RwLock::default(),
        })
    }

    /// Forget a cached address (it changed).
    pub fn invalidate(&self, address: &str) {
        self.addresses.write().expect("addresses").remove(address);
    }

    /// A page of the registry's change feed after `since`: (changes, where to continue).
    pub async fn changes(&self, since: i64) -> Result<(Vec<ena_addresses::Change>, i64), String> {
        let url = format!("{}/addresses/v1/changes?since={since}&limit=100", self.central_url);
        let response = self.central.get(url).send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(problem_detail(response).await);
        }
        let page: Value = response.json().await.map_err(|e| e.to_string())?;
        let changes: Vec<ena_addresses::Change> =
            serde_json::from_value(page["items"].clone()).map_err(|e| e.to_string())?;
        Ok((changes, page["next"].as_i64().unwrap_or(since)))
    }

    /// Ask FaR (Mina meddelanden's recipient registry) over the node listener whether `ids` can get
    /// digital mail from this organisation. Never cached: a registration, a blocked sender or a
    /// suspended operator counts from the next letter on.
    pub async fn reachability(&self, ids: &[&str]) -> Result<Vec<ena_mail::Reach>, String> {
        let response = self
            .central
            .post(format!("{}/mail/v1/reachability", self.central_url))
            .json(&serde_json::json!({"ids": ids}))
            .send()
            .await
            .map_err(|e| format!("the recipient registry does not answer: {e}"))?;
        if !response.status().is_success() {
            return Err(problem_detail(response).await);
        }
        let answer: Value = response.json().await.map_err(|e| e.to_string())?;
        serde_json::from_value(answer["items"].clone()).map_err(|e| format!("the recipient registry's answer: {e}"))
    }

    /// Ask Min profil over the node listener whether a call from `recipient` may have `category` data
    /// under consent `consent_id` from this node's organisation. Never cached: a withdrawal counts from
    /// the next call. `Ok(Err(why))`: no consent in force; `Err`: Min profil did not answer.
    pub async fn check_consent(
        &self,
        consent_id: &str,
        recipient: &str,
        category: &str,
        service: &str,
        unit: &str,
    ) -> Result<Result<Value, String>, String> {
        let response = self
            .central
            .post(format!("{}/profile/v1/consent-checks", self.central_url))
            .json(&serde_json::json!({"consentId": consent_id, "recipient": recipient, "category": category, "service": service, "unit": unit}))
            .send()
            .await
            .map_err(|e| format!("Min profil does not answer: {e}"))?;
        let status = response.status();
        if status.is_success() {
            return Ok(Ok(response.json().await.map_err(|e| format!("Min profil's answer: {e}"))?));
        }
        let why = problem_detail(response).await;
        if status.is_client_error() { Ok(Err(why)) } else { Err(why) }
    }

    /// Hand events of this node's log that name data subjects over to the central log (node listener,
    /// this node's certificate). The answer says what was added, already held, or refused.
    pub async fn hand_over(
        &self,
        log: &str,
        events: &[ena_audit::forward::ForwardedEvent],
    ) -> Result<ena_audit::forward::TakenOver, String> {
        let response = self
            .central
            .post(format!("{}/audit/v1/node-events", self.central_url))
            .json(&serde_json::json!({"log": log, "events": events}))
            .send()
            .await
            .map_err(|e| format!("the central log does not answer: {e}"))?;
        if !response.status().is_success() {
            return Err(problem_detail(response).await);
        }
        response.json().await.map_err(|e| format!("the central log's answer: {e}"))
    }

    /// The terms this node's gateway enforces, unless unchanged since `etag` (`None`).
    pub async fn gateway_table(
        &self,
        etag: Option<&str>,
    ) -> Result<Option<(ena_apis::gateway::Table, String)>, String> {
        let mut request = self.central.get(format!("{}/apis/v1/gateway", self.central_url));
        if let Some(tag) = etag {
            request = request.header("if-none-match", tag);
        }
        let response = request.send().await.map_err(|e| format!("the API catalog does not answer: {e}"))?;
        if response.status() == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(problem_detail(response).await);
        }
        let tag = response.headers().get("etag").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let table = response.json().await.map_err(|e| format!("the API catalog's table: {e}"))?;
        Ok(Some((table, tag)))
    }

    /// Report what the gateway counted (absolute since `boot`). `Err((why, refused))`: `refused` when the
    /// catalog answered that it will not take these rows (4xx) — sending them again would not help.
    pub async fn report_usage(&self, boot: &str, rows: &[ena_apis::gateway::UsageRow]) -> Result<(), (String, bool)> {
        let response = self
            .central
            .post(format!("{}/apis/v1/usage", self.central_url))
            .json(&serde_json::json!({"boot": boot, "rows": rows}))
            .send()
            .await
            .map_err(|e| (format!("the API catalog does not answer: {e}"), false))?;
        let refused = response.status().is_client_error();
        if !response.status().is_success() {
            return Err((problem_detail(response).await, refused));
        }
        Ok(())
    }

    /// The cached address if still fresh (the benchmark's "cached lookup").
    pub fn cached_address(&self, address: &str) -> Option<Address> {
        let cache = self.addresses.read().expect("addresses");
        cache.get(address).filter(|(_, at)| at.elapsed() < self.ttl).map(|(a, _)| a.clone())
    }

    async fn fetch_address(&self, address: &str) -> Result<Address, String> {
        if let Some(a) = self.cached_address(address) {
            return Ok(a);
        }
        let held = self.addresses.read().expect("addresses").get(address).map(|(a, _)| a.clone());
        // Looked up only as written: a non-canonical string would be normalised on the way (dot
        // segments, case) and check another address than the one passed on.
        ena_messaging::require_canonical("address", address)?;
        // Named in the body (a person's address is an identity number, which never goes in a URL).
        let mut request = self
            .central
            .post(format!("{}/addresses/v1/address-lookups", self.central_url))
            .json(&serde_json::json!({"address": address}));
        if let Some(a) = &held {
            request = request.header("if-none-match", format!("\"{}\"", a.revision));
        }
        let response = request.send().await.map_err(|e| format!("the address registry does not answer: {e}"))?;
        let fresh = match response.status().as_u16() {
            304 => held.ok_or("the registry answered 304 to nothing held")?,
            200 => {
                // The signed copy, not the body: the channel is not what vouches for recipients' keys.
                let signed = response.headers().get(SIGNED_ANSWER).and_then(|v| v.to_str().ok()).unwrap_or_default();
                let a = verify_signed_address(signed, &self.anchor_id, &self.anchor_jwks)?;
                if a.address != address {
                    return Err(format!("the registry's signed answer is about {}, not {address}", a.address));
                }
                a
            }
            404 => {
                self.addresses.write().expect("addresses").remove(address);
                return Err("no such address in the registry".into());
            }
            _ => return Err(problem_detail(response).await),
        };
        self.addresses.write().expect("addresses").insert(address.to_owned(), (fresh.clone(), Instant::now()));
        Ok(fresh)
    }

    async fn fetch_schema(&self, message_type: &str, version: &str) -> Result<Schema, String> {
        let safe = |s: &str| {
            !s.is_empty()
                && s.len() <= 128
                && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        };
        if !safe(message_type) || !safe(version) {
            return Err(format!("{message_type:?} version {version:?} is not a message type name"));
        }
        let key = (message_type.to_owned(), version.to_owned());
        if let Some(s) = self.schemas.read().expect("schemas").get(&key) {
            return Ok(s.clone());
        }
        let url = format!(
            "{}/addresses/v1/message-types/{}/versions/{}",
            self.central_url,
            ena_core::percent_encode(message_type),
            ena_core::percent_encode(version)
        );
        let response =
            self.central.get(url).send().await.map_err(|e| format!("the address registry does not answer: {e}"))?;
        if response.status() == 404 {
            return Err(format!("no message type {message_type} version {version} is registered"));
        }
        if !response.status().is_success() {
            return Err(problem_detail(response).await);
        }
        let t: Value = response.json().await.map_err(|e| e.to_string())?;
        let schema = Schema::compile(&t["schema"])?;
        self.schemas.write().expect("schemas").insert(key, schema.clone());
        Ok(schema)
    }

    async fn resolve(&self, entity_id: &str) -> Result<PeerNode, String> {
        if let Some((n, at)) = self.nodes.read().expect("nodes").get(entity_id)
            && at.elapsed() < self.ttl
        {
            return Ok(n.clone());
        }
        let response = self
            .public
            .get(
                reqwest::Url::parse_with_params(
                    &format!("{}/federation/v1/resolve", self.public_url),
                    &[("sub", entity_id), ("trust_anchor", self.anchor_id.as_str())],
                )
                .map_err(|e| e.to_string())?,
            )
            .send()
            .await
            .map_err(|e| format!("the federation does not answer: {e}"))?;
        if !response.status().is_success() {
            self.nodes.write().expect("nodes").remove(entity_id);
            return Err(problem_detail(response).await);
        }
        let token = response.text().await.map_err(|e| e.to_string())?;
        let parsed = Unverified::parse(&token).map_err(|e| format!("resolve response: {e}"))?;
        parsed.verify(&self.anchor_jwks).map_err(|e| format!("resolve response: {e}"))?;
        parsed.expect_typ("resolve-response+jwt").map_err(|e| format!("resolve response: {e}"))?;
        let claim = |k: &str| parsed.payload.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        if claim("sub") != entity_id || claim("iss") != self.anchor_id {
            return Err(format!(
                "the resolve response is about {} from {}, not {entity_id} from the anchor",
                claim("sub"),
                claim("iss")
            ));
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if parsed.payload.get("exp").and_then(Value::as_i64).is_none_or(|exp| exp <= now) {
            return Err("the resolve response has expired".into());
        }
        let node = &parsed.payload.get("metadata").and_then(|m| m.get("ena_node")).cloned().unwrap_or(Value::Null);
        let text = |k: &str| {
            node.get(k).and_then(Value::as_str).map(str::to_owned).ok_or(format!("its ena_node metadata has no {k}"))
        };
        let peer = PeerNode {
            entity_id: entity_id.to_owned(),
            certificate_sha256: text("tls_client_certificate_sha256")?,
            jwks: node.get("jwks").cloned().ok_or("its ena_node metadata has no jwks")?,
            log_key: text("log_verifier_key")?,
            inbox: text("inbox_endpoint")?,
        };
        if let Some(host) = reqwest::Url::parse(&peer.inbox).ok().and_then(|u| u.host_str().map(str::to_owned)) {
            self.pins.set(&host, &peer.certificate_sha256);
        }
        self.nodes.write().expect("nodes").insert(entity_id.to_owned(), (peer.clone(), Instant::now()));
        Ok(peer)
    }
}

/// The header and `typ` of the address registry's signed answers (the central server's
/// `routes::addresses`).
pub const SIGNED_ANSWER: &str = "ena-signed-answer";
const ADDRESS_TYP: &str = "ena-address+jwt";

/// An address from the registry's signed answer: signed by the trust anchor's keys (`anchor_jwks`, from
/// its entity configuration), `typ` `ena-address+jwt`, issued by `anchor_id`.
pub fn verify_signed_address(token: &str, anchor_id: &str, anchor_jwks: &Value) -> Result<Address, String> {
    if token.is_empty() {
        return Err("the registry's answer is not signed (no ena-signed-answer)".into());
    }
    let parsed = Unverified::parse(token).map_err(|e| format!("the registry's signed answer: {e}"))?;
    parsed.expect_typ(ADDRESS_TYP).map_err(|e| format!("the registry's signed answer: {e}"))?;
    parsed.verify(anchor_jwks).map_err(|e| format!("the registry's signed answer: {e}"))?;
    if parsed.payload.get("iss").and_then(Value::as_str) != Some(anchor_id) {
        return Err("the registry's signed answer is not the trust anchor's".into());
    }
    let mut fields = parsed.payload.clone();
    fields.remove("iss");
    fields.remove("iat");
    serde_json::from_value(Value::Object(fields)).map_err(|e| format!("the registry's signed answer: {e}"))
}

/// A problem answer as one line for a person: its detail and each invalid parameter, or the status.
pub async fn problem_text(response: reqwest::Response) -> String {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let mut text = body.get("detail").and_then(Value::as_str).map_or_else(|| format!("HTTP {status}"), str::to_owned);
    for p in body.get("invalid-parameters").and_then(Value::as_array).into_iter().flatten() {
        text.push_str(&format!(
            "; {}: {}",
            p.get("property").and_then(Value::as_str).unwrap_or("?"),
            p.get("reason").and_then(Value::as_str).unwrap_or("")
        ));
    }
    text
}

/// The `detail` of a problem answer, or the status.
pub async fn problem_detail(response: reqwest::Response) -> String {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    body.get("detail").and_then(Value::as_str).map_or_else(|| format!("HTTP {status}"), str::to_owned)
}

impl Directory for HttpDirectory {
    fn address<'a>(&'a self, address: &'a str) -> BoxFuture<'a, Result<Address, String>> {
        Box::pin(self.fetch_address(address))
    }
    fn schema<'a>(&'a self, message_type: &'a str, version: &'a str) -> BoxFuture<'a, Result<Schema, String>> {
        Box::pin(self.fetch_schema(message_type, version))
    }
    fn node<'a>(&'a self, entity_id: &'a str) -> BoxFuture<'a, Result<PeerNode, String>> {
        Box::pin(self.resolve(entity_id))
    }
}
