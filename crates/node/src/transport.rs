//! Delivery to another node's inbox over mTLS (this node's federation certificate; only the federation
//! CA is trusted). Hosts under `.localhost` resolve to the loopback address (RFC 6761), so a demo or test
//! federation on one machine uses real entity host names and certificates.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ena_messaging::{BoxFuture, Delivery, Transport, Wire};
use serde_json::Value;

/// Resolves `*.localhost` to 127.0.0.1 and everything else with the system resolver.
#[derive(Debug)]
pub struct LocalhostAware;

impl reqwest::dns::Resolve for LocalhostAware {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            if host == "localhost" || host.ends_with(".localhost") {
                let addrs: reqwest::dns::Addrs = Box::new(std::iter::once(SocketAddr::from(([127, 0, 0, 1], 0))));
                return Ok(addrs);
            }
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let addrs: reqwest::dns::Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// The mTLS client a node uses towards other nodes and the central node listener.
pub fn client(ca: &str, cert: &str, key: &str) -> anyhow::Result<reqwest::Client> {
    Ok(ena_federation::client::node_client_builder(ca, cert, key)
        .map_err(anyhow::Error::msg)?
        .dns_resolver(Arc::new(LocalhostAware))
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build()?)
}

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

#[derive(Debug)]
pub struct HttpTransport {
    pub client: reqwest::Client,
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
            let detail =
                body.get("detail").and_then(Value::as_str).map_or_else(|| format!("HTTP {status}"), str::to_owned);
            // Refusals (4xx) are final; a timeout, overload or server error is worth another attempt.
            if status.is_client_error() && status != 408 && status != 429 {
                Delivery::Refused(detail)
            } else {
                Delivery::Retry(detail)
            }
        })
    }
}
