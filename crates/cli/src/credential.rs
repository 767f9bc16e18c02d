//! `ena credential …`: employee service e-ID (e-tjänstelegitimation) for a member organisation — make the
//! issuing key, sign a credential, register, list and revoke credentials over the node listener, and
//! verify one as anyone can.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use ena_keys::jose::SigningKey;
use serde_json::{Value, json};

#[derive(Debug, clap::Subcommand)]
pub enum CredentialCommand {
    /// Create the issuing key (if missing) and print its public JWK Set: publish it as the `jwks` of the
    /// member's `ena_credential_issuer` federation metadata.
    Key {
        #[arg(long)]
        key: PathBuf,
    },
    /// Sign a credential stating that a person acts as the issuer's employee; prints the JWT.
    Issue {
        #[arg(long)]
        key: PathBuf,
        /// The issuing member's entity identifier.
        #[arg(long)]
        issuer: String,
        #[arg(long)]
        personal_number: String,
        #[arg(long)]
        name: String,
        /// Comma-separated role names.
        #[arg(long, value_delimiter = ',', required = true)]
        roles: Vec<String>,
        /// Validity in days (1–366).
        #[arg(long, default_value_t = 365)]
        days: i64,
        /// The credential's id (jti); random if not given.
        #[arg(long)]
        id: Option<String>,
    },
    /// Register a signed credential (file, or - for stdin) so verifiers can check it.
    Register {
        file: PathBuf,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// The issuer's registered credentials, newest first.
    List {
        #[arg(long)]
        personal_number: Option<String>,
        #[arg(long, default_value_t = 1)]
        page: u32,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Revoke a credential by id; verifiers refuse it from then on.
    Revoke {
        id: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Verify a credential (file, or - for stdin) through the federation's registry.
    Verify {
        file: PathBuf,
        #[arg(long, env = "ENA_SERVER", default_value = "http://127.0.0.1:8080")]
        server: String,
    },
}

/// How to reach the central instance's node listener as a member.
#[derive(Debug, clap::Args)]
pub struct NodeArgs {
    /// The node listener, e.g. https://ena.example:8443.
    #[arg(long, env = "ENA_NODE_URL")]
    node_url: String,
    /// The federation CA certificate (PEM).
    #[arg(long)]
    ca: PathBuf,
    /// The member's node certificate (PEM).
    #[arg(long)]
    cert: PathBuf,
    /// The node certificate's private key (PEM).
    #[arg(long)]
    tls_key: PathBuf,
}

fn read(path: &Path) -> anyhow::Result<String> {
    if path == Path::new("-") {
        return std::io::read_to_string(std::io::stdin()).context("cannot read stdin");
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

pub fn run(command: CredentialCommand) -> anyhow::Result<()> {
    match command {
        CredentialCommand::Key { key } => {
            let k = SigningKey::load_or_create(&key).with_context(|| format!("key {}", key.display()))?;
            println!("{}", serde_json::to_string_pretty(&json!({"keys": [k.public_jwk()]}))?);
            Ok(())
        }
        CredentialCommand::Issue { key, issuer, personal_number, name, roles, days, id } => {
            println!("{}", issue(&key, &issuer, &personal_number, &name, &roles, days, id)?);
            Ok(())
        }
        CredentialCommand::Register { file, node } => {
            let credential = read(&file)?.trim().to_owned();
            call(&node, |c, base| {
                c.post(format!("{base}/identity/v1/employee-credentials")).json(&json!({"credential": credential}))
            })
        }
        CredentialCommand::List { personal_number, page, node } => {
            let mut query = format!("page={page}");
            if let Some(p) = personal_number {
                query.push_str(&format!("&personalNumber={}", ena_core::percent_encode(&p)));
            }
            call(&node, |c, base| c.get(format!("{base}/identity/v1/employee-credentials?{query}")))
        }
        CredentialCommand::Revoke { id, reason, node } => call(&node, |c, base| {
            c.post(format!("{base}/identity/v1/employee-credentials/revoke")).json(&json!({"id": id, "reason": reason}))
        }),
        CredentialCommand::Verify { file, server } => {
            let credential = read(&file)?.trim().to_owned();
            let base = server.trim_end_matches('/').to_owned();
            send(
                reqwest::Client::new()
                    .post(format!("{base}/identity/v1/employee-credentials/verify"))
                    .json(&json!({"credential": credential})),
            )
        }
    }
}

fn issue(
    key: &Path,
    issuer: &str,
    personal_number: &str,
    name: &str,
    roles: &[String],
    days: i64,
    id: Option<String>,
) -> anyhow::Result<String> {
    if !key.exists() {
        bail!("--key: {} does not exist (create it with `ena credential key --key {}`)", key.display(), key.display());
    }
    let k = SigningKey::load_or_create(key).with_context(|| format!("--key {}", key.display()))?;
    let person = ena_core::PersonId::parse(personal_number).map_err(|e| anyhow::anyhow!("--personal-number: {e}"))?;
    if name.trim().is_empty() {
        bail!("--name: give the person's name");
    }
    if roles.iter().any(|r| r.trim().is_empty()) {
        bail!("--roles: role names must not be empty");
    }
    if !(1..=366).contains(&days) {
        bail!("--days: {days} is outside 1–366");
    }
    if !issuer.starts_with("https://") {
        bail!("--issuer: {issuer} is not an https entity identifier");
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({
        "iss": issuer.trim_end_matches('/'), "sub": person.as_str(), "name": name.trim(),
        "jti": id.unwrap_or_else(|| ena_identity::random_token(12)), "iat": now, "exp": now + days * 86_400,
        "ena_roles": roles.iter().map(|r| r.trim()).collect::<Vec<_>>(),
    });
    Ok(k.sign(ena_identity::employee::CREDENTIAL_TYP, &claims))
}

fn call(
    node: &NodeArgs,
    request: impl FnOnce(&reqwest::Client, &str) -> reqwest::RequestBuilder,
) -> anyhow::Result<()> {
    let client = ena_federation::client::node_client(&read(&node.ca)?, &read(&node.cert)?, &read(&node.tls_key)?)
        .map_err(|e| anyhow::anyhow!("node TLS client: {e}"))?;
    send(request(&client, node.node_url.trim_end_matches('/')))
}

fn send(request: reqwest::RequestBuilder) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
        let r = request.send().await.context("cannot reach the server")?;
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{}", body["detail"].as_str().unwrap_or(status.as_str()));
        }
        println!("{}", serde_json::to_string_pretty(&body)?);
        Ok(())
    })
}
