//! Examples of this block's OpenAPI operations (REST API profile DOK.15), beside its routes: computed
//! from shipped data where there is any, otherwise written once per shape.

use ena_plan::{Plan, block_views, compute};
use serde_json::{Value, json};

use crate::apis;
use crate::openapi::*;

/// The example of `operation_id`'s request body or of its response in one media type.
pub fn example(operation_id: &str, part: Part) -> Option<Value> {
    match part {
        Part::Request => request(operation_id),
        Part::Response(_) => response(operation_id),
    }
}

fn response(operation_id: &str) -> Option<Value> {
    let plan = Plan::shipped();
    let value = match operation_id {
        "planApiInfo" => serde_json::to_value(apis::PLAN_API.info()).ok()?,
        "listBlocks" => {
            let views = block_views(&plan);
            json!({ "items": views.iter().take(2).collect::<Vec<_>>(), "page": 1, "limit": 2, "total": views.len() })
        }
        "getBlock" => serde_json::to_value(block_views(&plan).into_iter().find(|b| b.id == "mina-ombud")?).ok()?,
        "getCostSummary" | "calculateCosts" => serde_json::to_value(compute(&plan)).ok()?,
        "getPlan" => serde_json::to_value(&plan).ok()?,
        "replacePlan" => serde_json::to_value(compute(&plan)).ok()?,
        _ => return None,
    };
    Some(value)
}

fn request(operation_id: &str) -> Option<Value> {
    let value = match operation_id {
        "calculateCosts" | "replacePlan" => serde_json::to_value(Plan::shipped()).unwrap_or(Value::Null),
        _ => return None,
    };
    Some(value)
}
