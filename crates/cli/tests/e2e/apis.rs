//! API-hantering over HTTP on both databases: the lint and the change report as a developer portal and an
//! agency's pipeline use them — JSON and YAML, the report's rule ids and places; a document that is not
//! JSON, YAML or OpenAPI named with the parser's line and column; the wrong media type 415; a document
//! over the body limit 413; nothing stored.

use super::*;

fn base() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../apis/corpus/base.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lint_and_the_change_report_over_http() {
    for server in TestServer::each().await {
        let label = server.label.clone();
        let c = reqwest::Client::new();
        let lint = |media: &str, body: String| {
            c.post(server.url("/apis/v1/lint")).header("content-type", media.to_owned()).body(body).send()
        };
        let clean = json_of(lint("application/json", base().to_string()).await.unwrap()).await;
        assert_eq!((clean["errors"].as_u64(), clean["warnings"].as_u64()), (Some(0), Some(0)), "{label}: {clean}");

        let mut flawed = base();
        flawed["info"].as_object_mut().unwrap().remove("x-limitations");
        flawed["components"]["securitySchemes"]["basic"] = json!({"type": "http", "scheme": "basic"});
        let yaml = format!("# YAML\n{}", serde_json::to_string_pretty(&flawed).unwrap());
        let report = json_of(lint("application/yaml", yaml).await.unwrap()).await;
        let rules: Vec<(&str, &str, &str)> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["rule"].as_str().unwrap(), f["level"].as_str().unwrap(), f["pointer"].as_str().unwrap()))
            .collect();
        assert_eq!(
            rules,
            [("DOK.09", "error", "/info"), ("SAK.09", "error", "/components/securitySchemes/basic")],
            "{label}: {report}"
        );
        assert!(report["findings"][1]["hint"].as_str().unwrap().contains("OAuth"), "{label}");

        // Bad input, named.
        let p = check_problem(
            lint("application/yaml", "openapi: 3.1.0\ninfo:\n  title: [oops\n".into()).await.unwrap(),
            400,
            "invalid-body",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["body"], "{label}");
        assert!(p["detail"].as_str().unwrap().contains("line "), "{label}: {p}");
        let p =
            check_problem(lint("application/json", r#"{"swagger": "2.0"}"#.into()).await.unwrap(), 400, "invalid-body")
                .await;
        assert!(p["detail"].as_str().unwrap().contains("/swagger"), "{label}: {p}");
        check_problem(lint("text/plain", base().to_string()).await.unwrap(), 415, "unsupported-media-type").await;
        let huge = format!("{{\"openapi\": \"3.1.0\", \"padding\": \"{}\"}}", "x".repeat(1_100_000));
        check_problem(lint("application/json", huge).await.unwrap(), 413, "payload-too-large").await;

        // The change report: a new version removing an operation under the same major.
        let mut next = base();
        next["info"]["version"] = json!("1.3.0");
        next["paths"]["/orders/v1/orders/{orderId}"].as_object_mut().unwrap().remove("get");
        let diff = |old: String, new: String| {
            c.post(server.url("/apis/v1/diff")).json(&json!({"old": old, "new": new})).send()
        };
        let r = json_of(diff(base().to_string(), next.to_string()).await.unwrap()).await;
        assert_eq!((r["breaking"].as_u64(), r["versionOk"].as_bool()), (Some(1), Some(false)), "{label}: {r}");
        assert_eq!(r["changes"][0]["pointer"], "/paths/~1orders~1v1~1orders~1{orderId}/get", "{label}: {r}");
        assert_eq!(r["changes"][0]["document"], "old", "{label}");
        let same = json_of(diff(base().to_string(), base().to_string()).await.unwrap()).await;
        assert_eq!((same["breaking"].as_u64(), same["compatible"].as_u64()), (Some(0), Some(0)), "{label}");
        let p = check_problem(diff(base().to_string(), "{".into()).await.unwrap(), 400, "invalid-body").await;
        assert_eq!(invalid_properties(&p), ["new"], "{label}: {p}");
        let p = check_problem(
            c.post(server.url("/apis/v1/diff")).json(&json!({"old": "x"})).send().await.unwrap(),
            400,
            "invalid-body",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("new"), "{label}: {p}");
    }
}
