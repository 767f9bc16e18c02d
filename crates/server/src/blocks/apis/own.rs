//! ena's own APIs in the catalog from the start: each block's API (the central document's paths under
//! `/<block>/`) and the member node's API, owned by `ena` (the federation's operator), published through
//! the same lint and compatibility gate as anyone's. Run by `ena serve` and `ena demo` at start; a version
//! already in the catalog is left as it is, so a restart adds nothing and an upgrade adds the new version.

use ena_apis::catalog::{ApiInput, CatalogError};
use serde_json::{Value, json};

use crate::AppState;
use crate::apis::ALL;

/// The catalog's owner of ena's own APIs.
pub const OWNER: &str = "ena";

/// The part of `doc` one block serves: its paths and its tag; info names the block's API.
fn block_document(doc: &Value, id: &str, name: &str, version: &str, description: &str) -> Value {
    let mut part = doc.clone();
    let prefix = format!("/{id}/");
    if let Some(paths) = part["paths"].as_object_mut() {
        paths.retain(|p, _| p.starts_with(&prefix));
    }
    if let Some(tags) = part["tags"].as_array_mut() {
        tags.retain(|t| t["name"] == id);
    }
    part["info"]["title"] = json!(name);
    part["info"]["version"] = json!(version);
    part["info"]["description"] = json!(description);
    part
}

async fn publish(state: &AppState, id: &str, name: &str, description: &str, doc: &Value) -> Result<bool, CatalogError> {
    let ctx = ena_audit::Context::system("ena-catalog");
    let catalog = &state.catalog;
    if let Err(CatalogError::NotFound(_)) = catalog.api(id).await {
        let input: ApiInput = serde_json::from_value(json!({"id": id, "name": name, "description": description,
            "contact": "the federation's operator (see /docs)", "tags": ["ena"], "classification": "public"}))
        .map_err(|e| CatalogError::Internal(e.to_string()))?;
        match catalog.register(&ctx, OWNER, input).await {
            Ok(_) | Err(CatalogError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let version = doc["info"]["version"].as_str().unwrap_or_default().to_owned();
    let status = match catalog.version(id, &version).await {
        Ok(v) => v.status,
        Err(CatalogError::NotFound(_)) => {
            let bytes = serde_json::to_vec(doc).map_err(|e| CatalogError::Internal(e.to_string()))?;
            match catalog.add_version(&ctx, OWNER, id, &bytes).await {
                Ok((v, _)) => v.status,
                // Another instance uploaded it meanwhile.
                Err(CatalogError::Conflict(_)) => catalog.version(id, &version).await?.status,
                Err(e) => return Err(e),
            }
        }
        Err(e) => return Err(e),
    };
    if status != "draft" {
        return Ok(false);
    }
    match catalog.publish(&ctx, OWNER, id, &version).await {
        Ok(_) => Ok(true),
        Err(CatalogError::Conflict(why)) if why.contains("meanwhile") => Ok(false),
        Err(e) => Err(e),
    }
}

/// Put each of ena's APIs (and the node's, `node_doc`) in the catalog: how many versions were published
/// now. A version the gate refuses is reported by name, not hidden.
pub async fn publish_own(state: &AppState, node_doc: Option<&Value>) -> Result<usize, String> {
    let central: Value = serde_json::from_slice(&state.openapi).map_err(|e| e.to_string())?;
    let mut published = 0;
    for api in ALL {
        let id = format!("ena-{}", api.id);
        let doc = block_document(&central, api.id, api.name, api.version, api.description_en);
        published += usize::from(
            publish(state, &id, api.name, api.description_en, &doc).await.map_err(|e| format!("{id}: {e:?}"))?,
        );
    }
    if let Some(doc) = node_doc {
        let description = doc["info"]["description"].as_str().unwrap_or_default().to_owned();
        published += usize::from(
            publish(state, "ena-node", "ena member node", &description, doc)
                .await
                .map_err(|e| format!("ena-node: {e:?}"))?,
        );
    }
    Ok(published)
}
