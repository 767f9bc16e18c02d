//! The node's APIs as published (REST API profile VER.06): one `api-info` resource at each API's root,
//! answering from the same descriptors the OpenAPI document's tags are filled from.

use axum::Json;
use ena_server::apis::{ApiDescriptor, ApiInfo};

const fn api(id: &'static str, name: &'static str, sv: &'static str, en: &'static str) -> ApiDescriptor {
    ApiDescriptor {
        id,
        name,
        version: "1.0.0",
        released: "2026-11-29",
        status: "active",
        description_sv: sv,
        description_en: en,
        pages: &[],
    }
}

pub const MESSAGES_API: ApiDescriptor = api(
    "messages",
    "ena node messages API",
    "Meddelanden: skicka till en adress, utkorg med status och kvitton, inkorg, bilagor.",
    "Messages: send to an address, the outbox with status and receipts, the inbox, attachments.",
);
pub const CALLS_API: ApiDescriptor = api(
    "calls",
    "ena node calls API",
    "Synkrona anrop till andra organisationers tjänster genom noderna, med signerade svarsbevis.",
    "Synchronous calls to other organisations' services through the nodes, with signed response proofs.",
);
pub const MAIL_API: ApiDescriptor = api(
    "mail",
    "ena node mail API",
    "Mina meddelanden: brev från organisationens system, och brevlådeoperatörens kvitton och svar.",
    "Mina meddelanden: letters from the organisation's systems, and a mailbox operator's receipts and replies.",
);
pub const SUBSCRIPTIONS_API: ApiDescriptor = api(
    "subscriptions",
    "ena node subscriptions API",
    "Händelser som CloudEvents: webhooks med signatur, och en ström (SSE).",
    "Events as CloudEvents: signed webhooks, and a stream (SSE).",
);
pub const NODE_API: ApiDescriptor = api(
    "node",
    "ena node-to-node API",
    "Nod till nod över ömsesidig TLS: leveranser till inkorgen och anrop till tjänster.",
    "Node to node over mutual TLS: deliveries to the inbox and calls to services.",
);

/// Every API of the node.
pub const ALL: [ApiDescriptor; 5] = [MESSAGES_API, CALLS_API, MAIL_API, SUBSCRIPTIONS_API, NODE_API];

/// About this API (REST API profile VER.06).
#[utoipa::path(get, path = "/messages/v1/api-info", tag = "messages", operation_id = "messagesApiInfo",
    responses((status = 200, description = "Name, version, release date, status and documentation of the API", body = ApiInfo)))]
pub async fn messages_info() -> Json<ApiInfo> {
    Json(MESSAGES_API.info())
}

/// About this API (REST API profile VER.06).
#[utoipa::path(get, path = "/calls/v1/api-info", tag = "calls", operation_id = "callsApiInfo",
    responses((status = 200, description = "Name, version, release date, status and documentation of the API", body = ApiInfo)))]
pub async fn calls_info() -> Json<ApiInfo> {
    Json(CALLS_API.info())
}

/// About this API (REST API profile VER.06).
#[utoipa::path(get, path = "/mail/v1/api-info", tag = "mail", operation_id = "mailApiInfo",
    responses((status = 200, description = "Name, version, release date, status and documentation of the API", body = ApiInfo)))]
pub async fn mail_info() -> Json<ApiInfo> {
    Json(MAIL_API.info())
}

/// About this API (REST API profile VER.06).
#[utoipa::path(get, path = "/subscriptions/v1/api-info", tag = "subscriptions", operation_id = "subscriptionsApiInfo",
    responses((status = 200, description = "Name, version, release date, status and documentation of the API", body = ApiInfo)))]
pub async fn subscriptions_info() -> Json<ApiInfo> {
    Json(SUBSCRIPTIONS_API.info())
}

/// About this API (REST API profile VER.06); on the node-to-node listener, for member nodes.
#[utoipa::path(get, path = "/node/v1/api-info", tag = "node-to-node", operation_id = "nodeApiInfo",
    security(("nodeCertificate" = [])),
    responses((status = 200, description = "Name, version, release date, status and documentation of the API", body = ApiInfo)))]
pub async fn node_info() -> Json<ApiInfo> {
    Json(NODE_API.info())
}
