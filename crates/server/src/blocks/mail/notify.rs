//! Telling a recipient that new mail has come: through a pluggable sender. The default only logs that a
//! notification is due (the recipient masked); `--mailbox-notify-command` hands each notification to a
//! program of the operator's choosing — an e-mail or SMS gateway's client — as one JSON object on its
//! standard input, so the recipient's number goes in a body, never on a command line or in a log. A
//! notification that fails is logged and not retried: the message itself is safe in the mailbox.

use std::time::Duration;

use serde::Serialize;
use tokio::io::AsyncWriteExt;

/// What a notification says: whose mailbox, from whom, where to read it. Not the subject: a notice
/// travels over channels less private than the mailbox.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    pub recipient: String,
    pub message_id: String,
    pub sender_name: String,
    /// The message in Mina sidor (a path on this installation).
    pub link: String,
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
        let masked = ena_audit::event::mask(&notice.recipient);
        match self {
            Notifier::Log => tracing::info!(
                recipient = %masked, message = %notice.message_id, sender = %notice.sender_name,
                "new mail: a notification is due (log only; --mailbox-notify-command sends e-mail or SMS)"
            ),
            Notifier::Command(command) => {
                if let Err(why) = run(command, notice).await {
                    tracing::warn!(recipient = %masked, message = %notice.message_id, %why, "the notification was not sent");
                }
            }
        }
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
