//! `ena federation …`: members apply and resolve; operators list, approve, reject, suspend and revoke;
//! `rotate-key` works offline on a data directory. Every call is plain HTTP against a server's
//! `/federation/v1` API, so the CLI and the API cannot disagree.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

#[derive(Debug, clap::Args)]
pub struct Server {
    /// The federation's central instance [default: from --data-dir — a node's `federation` in
    /// node.toml, or the URL a central instance recorded there — else http://127.0.0.1:8080].
    #[arg(long, env = "ENA_SERVER", global = true)]
    server: Option<String>,
    /// Operator token (operator commands) [default: read from --data-dir].
    #[arg(long, env = "ENA_OPERATOR_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// Data directory of the central instance (its operator token and URL), or of a member node (its
    /// federation's URL).
    #[arg(long, env = "ENA_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub enum FederationCommand {
    /// Apply to join: FILE is the application JSON (see the API reference, applyForMembership).
    Apply {
        file: PathBuf,
        /// Accept the agreement in force (its title and version are printed) instead of giving
        /// acceptAgreement in the file.
        #[arg(long)]
        accept_agreement: bool,
    },
    /// List applications (operator).
    Applications {
        /// pending, approved or rejected.
        #[arg(long)]
        status: Option<String>,
    },
    /// Approve an application (operator).
    Approve { id: String },
    /// Reject an application with a reason (operator).
    Reject {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Suspend a member: out of list and resolve, certificate revoked (operator).
    Suspend {
        entity_id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Revoke a member for good (operator).
    Revoke {
        entity_id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Entity ids of active members.
    List {
        #[arg(long)]
        entity_type: Option<String>,
    },
    /// Resolve an entity and validate its trust chain here, against the anchor's published keys; prints
    /// the resolved metadata.
    Resolve {
        sub: String,
        /// Trust anchor [default: the server's own entity id].
        #[arg(long)]
        trust_anchor: Option<String>,
    },
    /// Add a new federation signing key to the deployment's key vault (in its database): every
    /// instance publishes it within a minute and signs with it five minutes later; the old key stays
    /// published while statements it signed are valid. Needs --data-dir of an instance (its SQLite
    /// database and key-encryption key), or --database-url and --key-encryption-key.
    RotateKey {
        /// postgres://… when the deployment's database is PostgreSQL.
        #[arg(long, env = "ENA_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
        /// The deployment's key-encryption key [default: DATA_DIR/key-encryption.key].
        #[arg(long, env = "ENA_KEY_ENCRYPTION_KEY")]
        key_encryption_key: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
pub struct FederationArgs {
    #[command(flatten)]
    server: Server,
    #[command(subcommand)]
    command: FederationCommand,
}

struct Client {
    base: String,
    http: reqwest::Client,
    token: Option<String>,
    /// Set when --data-dir is a member node's: operator commands say where the operator token is.
    node_dir: Option<PathBuf>,
}

/// The central instance to talk to, and where that was learnt.
fn server_of(server: &Server) -> (String, String) {
    if let Some(url) = &server.server {
        return (url.clone(), "--server".into());
    }
    if let Some(dir) = &server.data_dir {
        if let Ok(file) = ena_node::read_file(dir) {
            return (file.federation, format!("{}", dir.join(ena_node::NODE_FILE).display()));
        }
        let recorded = dir.join(ena_server::PUBLIC_URL_FILE);
        if let Ok(url) = std::fs::read_to_string(&recorded) {
            return (url.trim().to_owned(), format!("{}", recorded.display()));
        }
    }
    ("http://127.0.0.1:8080".into(), "the default; --server URL to change".into())
}

impl Client {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.trim_end_matches('/'))
    }

    fn operator_token(&self) -> anyhow::Result<&str> {
        if let (None, Some(dir)) = (&self.token, &self.node_dir) {
            bail!(
                "this is an operator command, and {} is a member node's data directory: give the central instance's --data-dir (where `ena serve` keeps operator.token) or --token",
                dir.display()
            );
        }
        self.token.as_deref().context("this is an operator command: give --token or the central instance's --data-dir")
    }

    /// Send, and turn a problem+json answer into a one-line error naming the fields.
    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let response = request.send().await.with_context(|| {
            format!(
                "cannot reach the central instance at {}: is `ena serve` running there? (--server URL to name another)",
                self.base
            )
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let mut message = format!("{status}: {}", body["detail"].as_str().unwrap_or("request failed"));
        for p in body["invalid-parameters"].as_array().into_iter().flatten() {
            message.push_str(&format!(
                "\n  {}: {}",
                p["property"].as_str().unwrap_or("?"),
                p["reason"].as_str().unwrap_or("")
            ));
        }
        bail!(message)
    }
}

/// An organisation number as people write it (`212000-0142`); as given if it is not one.
pub fn org_display(org: &str) -> String {
    ena_core::Organisationsnummer::parse(org).map(|o| o.display_form()).unwrap_or_else(|_| org.to_owned())
}

fn print(value: &Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

fn payload(token: &str) -> anyhow::Result<Value> {
    Ok(Value::Object(ena_keys::jose::Unverified::parse(token).map_err(|e| anyhow::anyhow!("{e}"))?.payload))
}

pub fn run(args: FederationArgs) -> anyhow::Result<()> {
    if let FederationCommand::RotateKey { database_url, key_encryption_key } = &args.command {
        let location =
            crate::audit::LogLocation { data_dir: args.server.data_dir.clone(), database_url: database_url.clone() };
        let kid = tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
            let vault = location.vault(key_encryption_key.as_deref()).await?;
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            ena_federation::keys::KeyRing::rotate(&vault, now).await.context("cannot add the key")
        })?;
        println!(
            "new federation signing key {kid}: every instance publishes it within a minute and signs with it from {} seconds from now",
            ena_federation::keys::ROLLOVER_NOTICE
        );
        return Ok(());
    }
    let token = match (&args.server.token, &args.server.data_dir) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(dir)) => {
            std::fs::read_to_string(ena_server::auth::token_path(dir)).ok().map(|t| t.trim().to_owned())
        }
        (None, None) => None,
    };
    let (base, from) = server_of(&args.server);
    eprintln!("server: {base} (from {from})");
    let node_dir = args.server.data_dir.clone().filter(|d| d.join(ena_node::NODE_FILE).exists());
    let client = Client { base, http: reqwest::Client::new(), token, node_dir };
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(run_async(&client, args.command))
}

async fn run_async(c: &Client, command: FederationCommand) -> anyhow::Result<()> {
    match command {
        FederationCommand::Apply { file, accept_agreement } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let mut body: Value =
                serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
            if accept_agreement {
                let agreement: Value = c.send(c.http.get(c.url("/federation/v1/agreement"))).await?.json().await?;
                eprintln!(
                    "accepting \"{}\" (version {})",
                    agreement["title"].as_str().unwrap_or(""),
                    agreement["version"]
                );
                body["acceptAgreement"] = agreement["version"].clone();
            }
            let app: Value =
                c.send(c.http.post(c.url("/federation/v1/applications")).json(&body)).await?.json().await?;
            print(&app);
        }
        FederationCommand::Applications { status } => {
            let token = c.operator_token()?;
            let mut page = 1;
            loop {
                let mut url = format!("/federation/v1/applications?limit=100&page={page}");
                if let Some(s) = &status {
                    url.push_str(&format!("&status={s}"));
                }
                let body: Value = c.send(c.http.get(c.url(&url)).bearer_auth(token)).await?.json().await?;
                for a in body["items"].as_array().into_iter().flatten() {
                    println!(
                        "{}  {:<9} {}  {} ({})",
                        a["id"].as_str().unwrap_or(""),
                        a["status"].as_str().unwrap_or(""),
                        a["entityId"].as_str().unwrap_or(""),
                        a["name"].as_str().unwrap_or(""),
                        org_display(a["organisationNumber"].as_str().unwrap_or(""))
                    );
                }
                if body["hasMore"] != json!(true) {
                    break;
                }
                page += 1;
            }
        }
        FederationCommand::Approve { id } => {
            let token = c.operator_token()?;
            let app: Value = c
                .send(c.http.post(c.url(&format!("/federation/v1/applications/{id}/approve"))).bearer_auth(token))
                .await?
                .json()
                .await?;
            print(&app);
        }
        FederationCommand::Reject { id, reason } => {
            let token = c.operator_token()?;
            let req = c
                .http
                .post(c.url(&format!("/federation/v1/applications/{id}/reject")))
                .bearer_auth(token)
                .json(&json!({"reason": reason}));
            print(&c.send(req).await?.json().await?);
        }
        FederationCommand::Suspend { entity_id, reason } => remove(c, "suspend", &entity_id, &reason).await?,
        FederationCommand::Revoke { entity_id, reason } => remove(c, "revoke", &entity_id, &reason).await?,
        FederationCommand::List { entity_type } => {
            let path = match entity_type {
                Some(t) => format!("/federation/v1/list?entity_type={}", ena_core::percent_encode(&t)),
                None => "/federation/v1/list".to_owned(),
            };
            let req = c.http.get(c.url(&path));
            let ids: Vec<String> = c.send(req).await?.json().await?;
            for id in ids {
                println!("{id}");
            }
        }
        FederationCommand::Resolve { sub, trust_anchor } => {
            let ec = c.send(c.http.get(c.url("/.well-known/openid-federation"))).await?.text().await?;
            let anchor = payload(&ec)?;
            let anchor_id = trust_anchor.unwrap_or_else(|| anchor["iss"].as_str().unwrap_or_default().to_owned());
            let token = c
                .send(c.http.get(c.url(&format!(
                    "/federation/v1/resolve?sub={}&trust_anchor={}",
                    ena_core::percent_encode(&sub),
                    ena_core::percent_encode(&anchor_id)
                ))))
                .await?
                .text()
                .await?;
            let parsed =
                ena_keys::jose::Unverified::parse(&token).map_err(|e| anyhow::anyhow!("resolve response: {e}"))?;
            parsed.verify(&anchor["jwks"]).map_err(|e| anyhow::anyhow!("resolve response: {e}"))?;
            let chain: Vec<String> =
                serde_json::from_value(parsed.payload["trust_chain"].clone()).context("trust_chain")?;
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let resolved = ena_federation::chain::validate(&chain, &anchor_id, &anchor["jwks"], now)
                .map_err(|e| anyhow::anyhow!("the trust chain does not validate here: {e}"))?;
            eprintln!("trust chain of {} statements validated against {anchor_id}", chain.len());
            print(&json!({"sub": resolved.subject, "trustAnchor": resolved.trust_anchor, "expires": resolved.expires,
                "metadata": resolved.metadata, "trustMarks": parsed.payload.get("trust_marks")}));
        }
        FederationCommand::RotateKey { .. } => unreachable!("handled before connecting"),
    }
    Ok(())
}

async fn remove(c: &Client, action: &str, entity_id: &str, reason: &str) -> anyhow::Result<()> {
    let token = c.operator_token()?;
    let req = c
        .http
        .post(c.url(&format!("/federation/v1/members/{action}")))
        .bearer_auth(token)
        .json(&json!({"entityId": entity_id, "reason": reason}));
    print(&c.send(req).await?.json().await?);
    Ok(())
}
