//! Examples of this block's OpenAPI operations (REST API profile DOK.15), beside its routes: computed
//! from shipped data where there is any, otherwise written once per shape.

use serde_json::{Value, json};

use crate::openapi::*;

/// The example of `operation_id`'s request body or of its response in one media type.
pub fn example(operation_id: &str, part: Part) -> Option<Value> {
    if let Part::Response(media) = part {
        if media.starts_with("text/plain") {
            return (operation_id == "metrics").then(|| json!(METRICS_EXAMPLE));
        }
    }
    match part {
        Part::Request => request(operation_id),
        Part::Response(_) => response(operation_id),
    }
}

fn response(operation_id: &str) -> Option<Value> {
    let value = match operation_id {
        "healthz" => json!({ "status": "ok" }),
        "readyz" => json!({ "status": "ready", "database": "sqlite" }),
        "openApiDocument" => {
            json!({ "openapi": "3.1.0", "info": { "title": "ena", "version": "0.1.0" }, "paths": {} })
        }

        _ => return None,
    };
    Some(value)
}

fn request(_operation_id: &str) -> Option<Value> {
    None
}

const METRICS_EXAMPLE: &str = "# TYPE http_requests_total counter\n\
http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 3\n\
# TYPE db_pool_connections gauge\ndb_pool_connections{state=\"idle\"} 1\n";
