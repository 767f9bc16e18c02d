//! The node's own OpenAPI 3.1 document (`GET /openapi.json` on its local API): the local API for the
//! organisation's systems and the node-to-node API on the mTLS listener.

use serde_json::{Value, json};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    // Only the two any-method call routes, which no handler documents: every other operation is
    // collected from the routes (`document`).
    paths(crate::calls::call_out_doc, crate::calls::call_in_doc),
    components(schemas(ena_messaging::OutgoingInput, ena_messaging::Outgoing, ena_messaging::Incoming, ena_messaging::Wire,
        ena_messaging::attachments::Upload, ena_messaging::attachments::Attachment, ena_messaging::attachments::AttachmentInput,
        crate::events::SubscriptionInput, crate::events::Subscription, ena_server::openapi::ProblemSchema)),
    tags(
        (name = "messages", description = "Send and receive messages (local API, node token)"),
        (name = "calls", description = "Synchronous calls to services behind other nodes (local API, node token)"),
        (name = "subscriptions", description = "Events by webhook and Server-Sent Events (local API, node token)"),
        (name = "mail", description = "Mina meddelanden: letters to people's and companies' digital mailboxes, or paper (local API, node token)"),
        (name = "node-to-node", description = "What other member nodes call, on the mTLS listener"),
    )
)]
struct NodeDoc;

/// The document, built once (it is collected from the routes, which `/openapi.json` is one of).
pub static DOCUMENT: std::sync::LazyLock<Value> = std::sync::LazyLock::new(document);

/// The document: the operations the node's routes collected (`Routes::api`), the two call routes, the
/// security schemes and info.
pub fn document() -> Value {
    let mut api = NodeDoc::openapi();
    let (local, local_untimed) = crate::api::local_routes();
    let (peer, peer_untimed) = crate::api::peer_routes();
    for routes in [&local, &local_untimed, &peer, &peer_untimed] {
        let (paths, schemas) = routes.documented();
        api.paths.merge(paths.clone());
        let components = api.components.get_or_insert_with(Default::default);
        for (name, schema) in schemas {
            components.schemas.entry(name.clone()).or_insert_with(|| schema.clone());
        }
    }
    let mut doc = serde_json::to_value(api).unwrap_or(Value::Null);
    doc["openapi"] = json!("3.1.0");
    doc["info"] = json!({
        "title": "ena member node",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "A member organisation's node (`ena node run`): its local API for the organisation's own systems, and the node-to-node API other nodes call over mutual TLS with federation certificates. Errors are RFC 9457 problem details with a stable `code`.",
        "license": { "name": "EUPL-1.2 OR MIT", "url": "https://interoperable-europe.ec.europa.eu/collection/eupl/eupl-text-eupl-12" },
        "contact": { "name": "The organisation that runs this node", "url": "https://ena.example/support", "email": "support@ena.example" },
        "x-api-released": crate::info::MESSAGES_API.released,
        "x-api-status": "active",
        "x-sla": {
            "availability": "As the organisation running the node sets it (the node keeps no state outside its data directory and database; a restart loses nothing)",
            "responseTime": "Local API calls are answered at once; deliveries and their retries run in the background",
            "support": "The organisation running the node; ena's maintainers via https://ena.example/support"
        },
        "x-limitations": "Payloads are at most 4 MiB of JSON and attachments stream up to their announced size; a message type's schema is fetched from the address registry and cached; synchronous calls are answered within 30 s or fail with 503. Lists page with `limit` and `page`.",
    });
    doc["servers"] = json!([{ "url": "/", "description": "This node" }]);
    if let Some(tags) = doc["tags"].as_array_mut() {
        for tag in tags.iter_mut() {
            let id = if tag["name"] == "node-to-node" { "node" } else { tag["name"].as_str().unwrap_or_default() };
            if let Some(api) = crate::info::ALL.iter().find(|a| a.id == id) {
                tag["x-api-name"] = json!(api.name);
                tag["x-api-version"] = json!(api.version);
                tag["x-api-released"] = json!(api.released);
                tag["x-api-status"] = json!(api.status);
            }
        }
    }
    doc["components"]["securitySchemes"] = json!({
        "nodeToken": { "type": "http", "scheme": "bearer", "description": "The node token: DATA_DIR/node.token" },
        "nodeCertificate": { "type": "mutualTLS", "description": "A member node's federation TLS certificate" },
    });
    // Who may call an operation is the route's declaration: a public one (api-info) says so with `[]`.
    let declared: Vec<_> =
        [&local, &local_untimed, &peer, &peer_untimed].iter().flat_map(|r| r.declared().to_vec()).collect();
    for (path, item) in doc["paths"].as_object_mut().into_iter().flatten() {
        for (method, operation) in item.as_object_mut().into_iter().flatten() {
            let caller = declared.iter().find(|d| d.path == *path && d.method.as_str().eq_ignore_ascii_case(method));
            if let Some(d) = caller
                && operation.get("security").is_none()
            {
                operation["security"] = d.caller.security();
            }
        }
    }
    ena_server::openapi::fill_examples(&mut doc);
    ena_server::openapi::profile_pass(&mut doc, "/docs");
    doc
}

#[cfg(test)]
mod tests {
    use ena_server::callers::Caller;

    /// The node's document passes the REST API profile lint with no error.
    #[test]
    fn the_document_passes_the_rest_api_profile_lint() {
        let errors = ena_apis::lint(&super::document()).error_lines();
        assert!(errors.is_empty(), "{} errors:\n{}", errors.len(), errors.join("\n"));
    }

    /// Every documented operation is a declared route with the security its declared caller has, and
    /// every route that needs a caller is documented: the node's routes say who may call them, and
    /// the document says the same.
    #[test]
    fn documented_operations_and_declared_callers_agree() {
        let doc = super::document();
        let (local, local_untimed) = crate::api::local_routes();
        let (peer, peer_untimed) = crate::api::peer_routes();
        let declared: Vec<_> = [local, local_untimed, peer, peer_untimed]
            .iter()
            .flat_map(|r| r.declared().to_vec())
            // OpenAPI writes `{rest}` where axum matches `{*rest}`.
            .map(|d| (d.method.as_str().to_lowercase(), d.path.replace("{*", "{"), d.caller))
            .collect();
        let mut documented = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let found = declared.iter().find(|(m, p, _)| m == method && p == path);
                let (_, _, caller) = found.unwrap_or_else(|| panic!("{method} {path} is documented but not declared"));
                assert_eq!(operation["security"], caller.security(), "{method} {path}");
                documented += 1;
            }
        }
        assert!(documented >= 17, "{documented} operations");
        for (method, path, caller) in &declared {
            if *caller == Caller::Public || method == "head" || method == "options" {
                continue;
            }
            // A call route without a path below the service is documented with the one that has it.
            let paths = doc["paths"].as_object().unwrap();
            let covered = paths.keys().any(|p| p == path || p.starts_with(&format!("{path}/{{")));
            assert!(covered, "{method} {path} ({caller:?}) is not documented");
        }
    }
}
