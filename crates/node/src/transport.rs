//! Delivery to another node's inbox over mTLS (this node's federation certificate; only the federation
//! CA is trusted). Hosts under `.localhost` resolve to the loopback address (RFC 6761), so a demo or test
//! federation on one machine uses real entity host names and certificates.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use ena_messaging::{BoxFuture, Delivery, Transport, Wire};
use http_body::{Frame, SizeHint};
use serde_json::Value;
use tokio::sync::mpsc;

pub use ena_federation::client::LocalhostAware;

/// The mTLS client a node uses towards other nodes and the central node listener.
pub fn client(ca: &str, cert: &str, key: &str) -> anyhow::Result<reqwest::Client> {
    client_pinned(ca, cert, key, Arc::new(ena_federation::client::Pins::default()))
}

/// The same, accepting for a pinned host only the certificate the federation publishes for its node.
pub fn client_pinned(
    ca: &str,
    cert: &str,
    key: &str,
    pins: Arc<ena_federation::client::Pins>,
) -> anyhow::Result<reqwest::Client> {
    Ok(ena_federation::client::node_client_builder_pinned(ca, cert, key, pins)
        .map_err(anyhow::Error::msg)?
        .dns_resolver(Arc::new(LocalhostAware))
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build()?)
}

/// The header naming the sending node on attachment deliveries.
pub const SENDER_NODE: &str = "ena-sender-node";

/// Largest answer read from another node's inbox (a receipt or a problem).
const MAX_ANSWER: usize = 1024 * 1024;

/// Read a response body, stopping with an error past `max` bytes: another node's answer is untrusted and
/// must not be able to fill this node's memory.
pub async fn read_capped(mut response: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > max {
            return Err(format!("the answer is larger than {max} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A streamed HTTP body fed by a blocking producer (file reading, decryption) through a small channel:
/// memory stays at a few chunks whatever the length.
#[derive(Debug)]
pub struct ChannelBody {
    rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
    length: Option<u64>,
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.rx.poll_recv(cx).map(|next| next.map(|chunk| chunk.map(Frame::data)))
    }

    fn size_hint(&self) -> SizeHint {
        self.length.map(SizeHint::with_exact).unwrap_or_default()
    }
}

/// A body of `length` bytes (if known) that `produce` writes on the blocking pool, calling `send` with
/// each chunk (`false`: the receiver is gone, stop). An error from `produce` breaks the body off.
pub fn blocking_body(
    length: Option<u64>,
    produce: impl FnOnce(&dyn Fn(Bytes) -> bool) -> Result<(), String> + Send + 'static,
) -> ChannelBody {
    let (tx, rx) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let send = |chunk: Bytes| tx.blocking_send(Ok(chunk)).is_ok();
        if let Err(e) = produce(&send) {
            tracing::warn!(error = %e, "a streamed body broke off");
            let _ = tx.blocking_send(Err(std::io::Error::other(e)));
        }
    });
    ChannelBody { rx, length }
}

/// The file at `path` (`length` bytes) as a streamed body, read 256 KiB at a time.
fn file_body(path: PathBuf, length: u64) -> ChannelBody {
    blocking_body(Some(length), move |send| {
        use std::io::Read;
        let mut file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut sent = 0u64;
        loop {
            let mut buffer = vec![0u8; 256 * 1024];
            let n = file.read(&mut buffer).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            sent += n as u64;
            buffer.truncate(n);
            if !send(Bytes::from(buffer)) {
                return Ok(());
            }
        }
        if sent == length { Ok(()) } else { Err(format!("{} changed while it was sent", path.display())) }
    })
}

/// What a failed answer from another node comes to: refusals (4xx) are final; a timeout, overload or
/// server error is worth another attempt.
fn failure(status: reqwest::StatusCode, body: &Value) -> Delivery {
    let detail = body.get("detail").and_then(Value::as_str).map_or_else(|| format!("HTTP {status}"), str::to_owned);
    if status.is_client_error() && status != 408 && status != 429 {
        Delivery::Refused(detail)
    } else {
        Delivery::Retry(detail)
    }
}

#[derive(Debug)]
pub struct HttpTransport {
    pub client: reqwest::Client,
    /// This node's entity id (named on attachment deliveries; the recipient checks the certificate).
    pub me: String,
}

impl Transport for HttpTransport {
    fn deliver<'a>(&'a self, inbox: &'a str, wire: &'a Wire) -> BoxFuture<'a, Delivery> {
        Box::pin(async move {
            let response = match self.client.post(inbox).json(wire).send().await {
                Ok(r) => r,
                Err(e) => return Delivery::Retry(format!("{inbox}: {e}")),
            };
            let status = response.status();
            let body: Value = match read_capped(response, MAX_ANSWER).await {
                Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                Err(e) => return Delivery::Retry(e),
            };
            if status.is_success() {
                return match body.get("receipt").and_then(Value::as_str) {
                    Some(r) => Delivery::Receipt(r.to_owned()),
                    None => Delivery::Retry("the recipient answered without a receipt".into()),
                };
            }
            failure(status, &body)
        })
    }

    fn upload<'a>(
        &'a self,
        inbox: &'a str,
        message: &'a str,
        n: usize,
        path: &'a Path,
        length: u64,
    ) -> BoxFuture<'a, Option<Delivery>> {
        Box::pin(async move {
            let url = format!("{inbox}/{message}/attachments/{n}");
            let request = self
                .client
                .put(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .header(reqwest::header::CONTENT_LENGTH, length)
                .header(SENDER_NODE, &self.me)
                // Long enough for the file at 1 MiB/s, whatever the client's default.
                .timeout(Duration::from_secs(60 + (length >> 20)))
                .body(reqwest::Body::wrap(file_body(path.to_owned(), length)));
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) => return Some(Delivery::Retry(format!("{url}: {e}"))),
            };
            let status = response.status();
            if status.is_success() {
                return None;
            }
            let body = read_capped(response, MAX_ANSWER)
                .await
                .map(|b| serde_json::from_slice(&b).unwrap_or(Value::Null))
                .unwrap_or(Value::Null);
            Some(match failure(status, &body) {
                Delivery::Refused(why) => Delivery::Refused(format!("attachment {n}: {why}")),
                other => other,
            })
        })
    }
}
