//! Telling people things through the installation's pluggable notification sender: new mail in Mina
//! meddelanden, and Min profil's verification codes. The default only logs that a notice is due (the
//! recipient masked, never a code); `--notify-command` hands each notice to a program of the operator's
//! choosing — an e-mail or SMS gateway's client — as one JSON object on its standard input (`kind` says
//! which), so numbers, addresses and codes go in a body, never on a command line or in a log. A notice that
//! fails is logged and not retried: the mail itself is safe in the mailbox, and a code can be asked anew.

use std::time::Duration;

use serde::Serialize;
use tokio::io::AsyncWriteExt;

/// What a notice says.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum Notice {
    /// New mail: whose mailbox, from whom, where to read it — not the subject (a notice travels over
    /// channels less private than the mailbox). `to`: the contact the recipient verified in Min profil
    /// for their preferred channel (or the one a company's person gave for it); without one the gateway
    /// finds the recipient itself.
    Mail {
        recipient: String,
        message_id: String,
        sender_name: String,
        /// The message in Mina sidor (a path on this installation).
        link: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        to: Option<ena_profile::NoticeTarget>,
        language: String,
    },
    /// A code to verify a contact detail in Min profil, sent to that contact.
    VerificationCode(ena_profile::CodeNotice),
}

impl Notice {
    /// Who it is for, masked, and what it is about, for the log.
    fn describe(&self) -> (String, String) {
        match self {
            Notice::Mail { recipient, message_id, .. } => {
                (ena_audit::event::mask(recipient), format!("new mail {message_id}"))
            }
            Notice::VerificationCode(c) => (c.channel.as_str().to_owned(), "a verification code".to_owned()),
        }
    }
}

/// How notifications leave.
pub enum Notifier {
    /// Log only (the default).
    Log,
    /// Run this shell command per notification, the notice as JSON on its standard input.
    Command(String),
}

impl Notifier {
    pub fn of(command: Option<&str>) -> Notifier {
        match command {
            Some(c) if !c.trim().is_empty() => Notifier::Command(c.to_owned()),
            _ => Notifier::Log,
        }
    }

    pub async fn send(&self, notice: &Notice) {
        let (to, what) = notice.describe();
        match self {
            Notifier::Log => tracing::info!(
                %to, %what, "a notification is due (log only; --notify-command sends e-mail or SMS)"
            ),
            Notifier::Command(command) => {
                if let Err(why) = run(command, notice).await {
                    tracing::warn!(%to, %what, %why, "the notification was not sent");
                }
            }
        }
    }

    pub fn is_log_only(&self) -> bool {
        matches!(self, Notifier::Log)
    }
}

/// At most this many notifications are on their way at once; the intake never waits for one.
static IN_FLIGHT: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(8);

/// Send `notice` off the caller's path (a slow or hanging gateway does not hold up the mailbox's intake).
pub fn spawn(notifier: Notifier, notice: Notice) {
    tokio::spawn(async move {
        let Ok(_slot) = IN_FLIGHT.acquire().await else { return };
        notifier.send(&notice).await;
    });
}

async fn run(command: &str, notice: &Notice) -> Result<(), String> {
    let mut child = tokio::process::Command::new("sh")
        .args(["-c", command])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start the notify command: {e}"))?;
    let body = serde_json::to_vec(notice).map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(&body).await.map_err(|e| format!("writing to the notify command: {e}"))?;
    }
    match tokio::time::timeout(Duration::from_secs(10), child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(format!("the notify command exited with {status}")),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the notify command took over 10 s".into()),
    }
}
