//! `ena mail verify-receipt`: check a letter's receipts offline, with nothing but the mailbox operator
//! node's published keys — the delivery receipt (messaging's: the operator's node received the letter,
//! to the second, logged in its log) and the operator's signed receipts since (opened the first time, or
//! returned), each with its event's inclusion in the operator node's log.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use ena_mail::wire::OperatorReceipt;
use ena_messaging::receipt::Receipt;
use serde_json::Value;

use crate::messages::{NodeKeys, node_keys, read};

#[derive(Debug, clap::Subcommand)]
pub enum MailCommand {
    /// Verify a letter's receipts offline. FILE is the letter as the sending node shows it
    /// (`GET /mail/v1/outbox/{id}`), or one receipt (a compact JWS).
    VerifyReceipt {
        file: PathBuf,
        /// The mailbox operator node's published keys: the output of `ena federation resolve <its entity
        /// id>`, or its `ena_node` metadata (with `jwks` and `log_verifier_key`).
        #[arg(long)]
        keys: PathBuf,
    },
}

pub fn run(command: MailCommand) -> anyhow::Result<()> {
    match command {
        MailCommand::VerifyReceipt { file, keys } => verify(&file, &keys),
    }
}

fn verify(file: &Path, keys: &Path) -> anyhow::Result<()> {
    let text = read(file, "the letter file")?;
    let keys = node_keys(keys)?;
    let trimmed = text.trim();
    let letter: Value = match serde_json::from_str(trimmed) {
        Ok(letter) => letter,
        Err(_) if trimmed.split('.').count() == 3 => return verify_one(trimmed, &Expect::default(), &keys),
        Err(e) => bail!("{} is neither a letter (JSON) nor a receipt (compact JWS): {e}", file.display()),
    };
    if letter["status"] == "paper" {
        bail!(
            "{}: the letter went on paper ({}); there is no receipt to verify",
            file.display(),
            letter["paper"].as_str().unwrap_or("no reason given")
        );
    }
    let carrier = letter["message"]["id"].as_str().with_context(|| {
        format!("{} is not a letter from `GET /mail/v1/outbox/{{id}}` (no `message.id`)", file.display())
    })?;
    let Some(delivery) = letter["message"]["receipt"].as_str() else {
        bail!(
            "{}: the letter has no delivery receipt yet (status {}); ask again once it is delivered",
            file.display(),
            letter["status"].as_str().unwrap_or("unknown")
        );
    };
    let expect = Expect { letter: Some(carrier.to_owned()), operator: letter["operator"].as_str().map(str::to_owned) };
    verify_one(delivery, &expect, &keys)?;
    for r in letter["receipts"].as_array().into_iter().flatten() {
        let token =
            r["receipt"].as_str().with_context(|| format!("a receipt in {} has no `receipt`", file.display()))?;
        verify_one(token, &expect, &keys)?;
    }
    Ok(())
}

/// What a receipt must name: the letter (the message that carried it) and its operator's node.
#[derive(Default)]
struct Expect {
    letter: Option<String>,
    operator: Option<String>,
}

impl Expect {
    /// The receipt names `letter` and was made by `node`, which is the node whose keys were given (when
    /// the keys file names it) and the operator the letter went to (when the letter names it).
    fn check(&self, keys: &NodeKeys, letter: &str, node: &str) -> anyhow::Result<()> {
        if let Some(want) = &self.letter
            && want != letter
        {
            bail!("the receipt is for letter {letter}, not {want}");
        }
        if let Some(entity) = &keys.entity
            && entity != node
        {
            bail!("the receipt says it is {node}'s, but the keys given are {entity}'s");
        }
        if let Some(operator) = &self.operator
            && operator != node
        {
            bail!("the receipt is {node}'s, but the letter went to the operator {operator}");
        }
        Ok(())
    }
}

/// Verify one receipt of either kind (told apart by its header).
fn verify_one(token: &str, expect: &Expect, keys: &NodeKeys) -> anyhow::Result<()> {
    if OperatorReceipt::is_one(token) {
        let r = OperatorReceipt::verify(token, &keys.jwks, &keys.log_key)
            .map_err(|e| anyhow::anyhow!("the operator's receipt does not verify: {e}"))?;
        expect.check(keys, &r.letter, &r.operator_node)?;
        println!("{} receipt verified: letter {} {} at {}", r.kind.as_str(), r.letter, r.kind.as_str(), r.at);
        if let Some(reason) = &r.reason {
            println!("  reason: {reason}");
        }
        println!(
            "  signed by the operator's node {}; logged at index {} of its log (tree size {}, checkpoint signed, inclusion proven)",
            r.operator_node, r.log.index, r.log.tree_size
        );
        return Ok(());
    }
    let r = Receipt::verify(token, &keys.jwks, &keys.log_key)
        .map_err(|e| anyhow::anyhow!("the delivery receipt does not verify: {e}"))?;
    expect.check(keys, &r.message_id, &r.recipient_node)?;
    println!(
        "delivery receipt verified: letter {} received by {} at {}",
        r.message_id, r.recipient_node, r.received_at
    );
    println!(
        "  from {}; logged at index {} of the operator node's log (tree size {}, checkpoint signed, inclusion proven)",
        r.sender_node, r.log.index, r.log.tree_size
    );
    Ok(())
}
