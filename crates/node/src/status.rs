//! `ena node status`: what a node has registered and where it stands in the federation, asked of the
//! federation itself (not only read from node.toml), so a newcomer sees what others see.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::{Value, json};

use crate::{READY_FILE, application, application_standing, read_file};

/// The node's status as JSON: settings, the application, the membership entry, each address and
/// message type as the registry has it, the services, and whether the node is running.
pub async fn status(dir: &Path) -> anyhow::Result<Value> {
    let file = read_file(dir)?;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(15)).build()?;
    let app = match &file.application {
        Some(id) => {
            let app = application(&client, &file.federation, id).await?;
            json!({"id": id, "status": app["status"], "reason": app["reason"], "decidedAt": app["decidedAt"],
                   "next": application_standing(&app, dir)})
        }
        None => {
            json!({"status": "none", "next": format!("apply: ena node reapply --data-dir {} --accept-agreement", dir.display())})
        }
    };
    let running =
        std::fs::read_to_string(dir.join(READY_FILE)).ok().and_then(|t| serde_json::from_str::<Value>(&t).ok());
    let mut out = json!({
        "entityId": file.entity_id, "organisation": file.organisation, "name": file.name,
        "federation": file.federation, "federationNode": file.federation_node,
        "application": app,
        "running": running.unwrap_or(Value::Null),
        "services": file.service.iter().map(|s| json!({"id": s.id, "upstream": s.upstream, "allow": s.allow})).collect::<Vec<_>>(),
    });
    let (Ok(ca), Ok(cert), Ok(key)) = (
        std::fs::read_to_string(dir.join("ca.crt")),
        std::fs::read_to_string(dir.join("tls.crt")),
        std::fs::read_to_string(dir.join("tls.key")),
    ) else {
        out["membership"] = json!({"status": "not yet a member", "next": "the node collects its certificate at its first `ena node run` after approval"});
        return Ok(out);
    };
    let mtls = crate::transport::client_pinned(&ca, &cert, &key, Arc::new(ena_federation::client::Pins::default()))?;
    let base = &file.federation_node;
    out["membership"] = match mtls.get(format!("{base}/federation/v1/membership")).send().await {
        Ok(r) if r.status().is_success() => {
            let mut m: Value = r.json().await.context("the membership entry")?;
            // The certificate's PEM is long and in tls.crt already.
            if let Some(o) = m.as_object_mut() {
                o.remove("certificate");
            }
            m
        }
        Ok(r) => json!({"status": "refused", "detail": crate::directory::problem_text(r).await}),
        Err(e) => {
            json!({"status": "unknown", "detail": format!("{:#}", anyhow::Error::from(e).context(crate::node_listener_down(base)))})
        }
    };
    let mut addresses = Vec::new();
    for a in &file.address {
        let r =
            mtls.post(format!("{base}/addresses/v1/address-lookups")).json(&json!({"address": a.address})).send().await;
        let registry = match r {
            Ok(r) if r.status().is_success() => {
                let v: Value = r.json().await.unwrap_or(Value::Null);
                json!({"status": v["status"], "revision": v["revision"], "capabilities": v["capabilities"], "node": v["node"]})
            }
            Ok(r) if r.status() == 404 => {
                json!({"status": "not published", "next": "published at the node's next start"})
            }
            Ok(r) => json!({"status": "unknown", "detail": crate::directory::problem_text(r).await}),
            Err(e) => json!({"status": "unknown", "detail": e.to_string()}),
        };
        addresses.push(json!({"address": a.address, "kind": a.kind, "accepts": a.accepts, "registry": registry}));
    }
    out["addresses"] = Value::Array(addresses);
    let mut types = Vec::new();
    for t in &file.message_type {
        let url = format!(
            "{base}/addresses/v1/message-types/{}/versions/{}",
            ena_core::percent_encode(&t.id),
            ena_core::percent_encode(&t.version)
        );
        let registry = match mtls.get(url).send().await {
            Ok(r) if r.status().is_success() => json!("registered"),
            Ok(r) if r.status() == 404 => json!("not registered (registered at the node's next start)"),
            Ok(r) => json!(crate::directory::problem_text(r).await),
            Err(e) => json!(e.to_string()),
        };
        types.push(json!({"id": t.id, "version": t.version, "schema": t.schema, "registry": registry}));
    }
    out["messageTypes"] = Value::Array(types);
    Ok(out)
}
