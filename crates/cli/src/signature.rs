//! `ena signature verify FILE SIG`: verify a signature from the signature service — the detached JWS
//! checked here with the key the federation's trust anchor publishes in its (self-signed) entity
//! configuration, then the log entry and its inclusion checked by the server's verify endpoint.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use base64::Engine;
use serde_json::{Value, json};
use sha2::Digest;

#[derive(Debug, clap::Subcommand)]
pub enum SignatureCommand {
    /// Verify SIG (a file holding the signature) over FILE.
    Verify {
        file: PathBuf,
        signature: PathBuf,
        /// The federation's central instance.
        #[arg(long, env = "ENA_SERVER", default_value = "http://127.0.0.1:8080")]
        server: String,
    },
}

pub fn run(command: SignatureCommand) -> anyhow::Result<()> {
    let SignatureCommand::Verify { file, signature, server } = command;
    let document = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let sig = std::fs::read_to_string(&signature).with_context(|| format!("cannot read {}", signature.display()))?;
    let sig = sig.trim().to_owned();
    let digest: [u8; 32] = sha2::Sha256::digest(&document).into();
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
        let http = reqwest::Client::new();
        let base = server.trim_end_matches('/');
        let ec = http
            .get(format!("{base}/.well-known/openid-federation"))
            .send()
            .await
            .with_context(|| format!("cannot reach {base}"))?
            .text()
            .await?;
        let anchor =
            ena_keys::jose::Unverified::parse(&ec).map_err(|e| anyhow::anyhow!("trust anchor configuration: {e}"))?;
        anchor.verify(&anchor.payload["jwks"]).map_err(|e| anyhow::anyhow!("trust anchor configuration: {e}"))?;
        let jwks = anchor
            .payload
            .get("metadata")
            .and_then(|m| m.get("ena_signature_service"))
            .and_then(|s| s.get("jwks"))
            .cloned()
            .context("the trust anchor publishes no signature service key")?;
        ena_identity::signature::verify_detached(&sig, &digest, &jwks)
            .map_err(|e| anyhow::anyhow!("the signature does not verify: {e}"))?;
        let sha = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
        let r = http
            .post(format!("{base}/signatures/v1/verify"))
            .json(&json!({"sha256": sha, "signature": sig}))
            .send()
            .await?;
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{}", body["detail"].as_str().unwrap_or("verification failed"));
        }
        println!(
            "ok: signed by {} ({}) at LoA {}; log entry {} proven in the checkpoint of size {}",
            body["name"].as_str().unwrap_or(""),
            ena_audit::event::mask(body["personalNumber"].as_str().unwrap_or("")),
            body["loa"],
            body["logIndex"],
            body["checkpointSize"]
        );
        Ok(())
    })
}
