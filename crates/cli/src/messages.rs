//! `ena messages verify-receipt`: check a delivery receipt offline, with nothing but the recipient
//! node's published keys — its signature, the signed checkpoint of the recipient's log, the receipt
//! event's inclusion in it, and that the event is this message's receipt.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde_json::Value;

#[derive(Debug, clap::Subcommand)]
pub enum MessagesCommand {
    /// Verify a receipt offline. FILE is the sent message as the node's outbox shows it
    /// (`GET /messages/v1/outbox/{id}`, its `receipt`) or the receipt itself (a compact JWS).
    VerifyReceipt {
        file: PathBuf,
        /// The recipient node's published keys: the output of `ena federation resolve <its entity id>`,
        /// or its `ena_node` metadata (with `jwks` and `log_verifier_key`).
        #[arg(long)]
        keys: PathBuf,
    },
}

pub fn run(command: MessagesCommand) -> anyhow::Result<()> {
    match command {
        MessagesCommand::VerifyReceipt { file, keys } => verify_receipt(&file, &keys),
    }
}

pub(crate) fn read(path: &Path, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

/// A node's published keys from a file: its JWK Set and its log's verifier key. The file is the output
/// of `ena federation resolve <entity id>`, or the node's `ena_node` metadata.
/// A node's published keys, and its entity id when the file names it (`sub` of `ena federation resolve`).
pub(crate) struct NodeKeys {
    pub jwks: Value,
    pub log_key: String,
    pub entity: Option<String>,
}

pub(crate) fn node_keys(keys: &Path) -> anyhow::Result<NodeKeys> {
    let keys_text = read(keys, "the keys file")?;
    let keys_json: Value = serde_json::from_str(&keys_text)
        .with_context(|| format!("{} is not JSON (save `ena federation resolve <entity id>` there)", keys.display()))?;
    // `ena federation resolve` prints {metadata: {ena_node: …}}; the metadata alone works too.
    let node = [&keys_json["metadata"]["ena_node"], &keys_json["ena_node"], &keys_json]
        .into_iter()
        .find(|v| v.get("jwks").is_some())
        .with_context(|| format!("{} holds no ena_node metadata with `jwks`", keys.display()))?;
    let log_key = node["log_verifier_key"]
        .as_str()
        .with_context(|| format!("{}: the ena_node metadata has no `log_verifier_key`", keys.display()))?;
    Ok(NodeKeys {
        jwks: node["jwks"].clone(),
        log_key: log_key.to_owned(),
        entity: keys_json["sub"].as_str().map(str::to_owned),
    })
}

fn verify_receipt(file: &Path, keys: &Path) -> anyhow::Result<()> {
    let text = read(file, "the receipt file")?;
    let trimmed = text.trim();
    // The outbox's message (JSON naming its id and carrying the receipt), or the bare JWS.
    let (token, message_id) = match serde_json::from_str::<Value>(trimmed) {
        Ok(message) => {
            let Some(token) = message["receipt"].as_str() else {
                bail!(
                    "{} has no `receipt`: the message is {} (a receipt comes with status delivered)",
                    file.display(),
                    message["status"].as_str().unwrap_or("not a sent message")
                );
            };
            (token.to_owned(), message["id"].as_str().map(str::to_owned))
        }
        Err(_) if trimmed.split('.').count() == 3 => (trimmed.to_owned(), None),
        Err(e) => bail!("{} is neither a sent message (JSON) nor a receipt (compact JWS): {e}", file.display()),
    };
    let k = node_keys(keys)?;
    let receipt = ena_messaging::receipt::Receipt::verify(&token, &k.jwks, &k.log_key)
        .map_err(|e| anyhow::anyhow!("the receipt does not verify: {e}"))?;
    if let Some(id) = message_id
        && id != receipt.message_id
    {
        bail!("the receipt is for message {}, not {id}", receipt.message_id);
    }
    println!(
        "receipt verified: message {} received by {} at {}",
        receipt.message_id, receipt.recipient_node, receipt.received_at
    );
    println!(
        "  from {}; logged at index {} of the recipient's log (tree size {}, checkpoint signed, inclusion proven)",
        receipt.sender_node, receipt.log.index, receipt.log.tree_size
    );
    println!("  envelope sha256 {}, payload sha256 {}", receipt.envelope_sha256, receipt.payload_sha256);
    Ok(())
}
