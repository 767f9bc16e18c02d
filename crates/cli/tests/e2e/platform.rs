//! The platform: the plan API on each database, trace context, problems, limits, health, docs and the portal pages.

use super::*;

#[tokio::test]
async fn plan_api_on_each_database() {
    for server in TestServer::each().await {
        let label = &server.label;
        let health = json_of(server.get("/healthz").await).await;
        assert_eq!(health["status"], "ok");
        let ready = json_of(server.get("/readyz").await).await;
        let expected_db = if label.starts_with("sqlite") { "sqlite" } else { "postgres" };
        assert_eq!(ready["database"], expected_db, "{label}");

        let info = json_of(server.get("/plan/v1/api-info").await).await;
        assert_eq!(info["apiName"], "ena plan API");
        for key in ["apiVersion", "apiReleased", "apiStatus", "apiDocumentation"] {
            assert!(info[key].is_string(), "{key}");
        }

        let page = json_of(server.get("/plan/v1/blocks?limit=4&page=2").await).await;
        assert_eq!(
            (page["total"].as_u64(), page["page"].as_u64(), page["items"].as_array().unwrap().len()),
            (Some(14), Some(2), 4)
        );
        let all = json_of(server.get("/plan/v1/blocks").await).await;
        assert_eq!(all["limit"], 20);
        assert_eq!(all["items"].as_array().unwrap().len(), 14);
        let trust = json_of(server.get("/plan/v1/blocks?category=tillit-och-sakerhet").await).await;
        assert_eq!(trust["total"], 5);

        let ombud = json_of(server.get("/plan/v1/blocks/mina-ombud").await).await;
        assert_eq!(ombud["agency"], "Bolagsverket");
        assert_eq!(ombud["dependsOn"][0]["id"], "identitet");
        assert_eq!(ombud["costs"][1], json!({"year": 2022, "development": 14000, "operations": 4000, "total": 18000}));

        let summary = json_of(server.get("/plan/v1/cost-summary").await).await;
        let totals: Vec<i64> =
            summary["perYear"].as_array().unwrap().iter().map(|y| y["total"].as_i64().unwrap()).collect();
        assert_eq!(totals, [155_900, 190_500, 194_500], "table 17 on {label}");
        let dev: Vec<i64> = summary["perYear"]
            .as_array()
            .unwrap()
            .iter()
            .map(|y| y["identifiedBlocks"]["development"].as_i64().unwrap())
            .collect();
        assert_eq!(dev, [84_500, 66_000, 28_000], "table 5 on {label}");
        assert_eq!(summary["schablon"]["value"], 10_000);

        // The what-if calculation of the shipped plan gives the stored plan's summary.
        let plan = shipped_plan_json();
        let calculated = server.client.post(server.url("/plan/v1/cost-calculations")).json(&plan).send().await.unwrap();
        assert_eq!(json_of(calculated).await, summary, "{label}");
    }
}

#[tokio::test]
async fn bad_input_gets_problems_naming_the_field_and_changes_nothing() {
    let config = ServerConfig { body_limit: 64 * 1024, ..ServerConfig::default() };
    for server in TestServer::each_with(config).await {
        let before = json_of(server.get("/plan/v1/cost-summary").await).await;
        let path = "/plan/v1/cost-calculations";

        let problem = check_problem(
            server.post_raw(path, "application/json", "{\"meta\": {\"unit\": }").await,
            400,
            "malformed-json",
        )
        .await;
        assert!(problem["detail"].as_str().unwrap().contains("line 1 column"), "{problem}");
        assert_eq!(problem["instance"], path);

        let mut plan = shipped_plan_json();
        plan["blocks"][0]["lines"][0]["costs"][0]["amount"] = json!("7000");
        let problem =
            check_problem(server.post_raw(path, "application/json", plan.to_string()).await, 400, "invalid-body").await;
        assert_eq!(invalid_properties(&problem), ["blocks[0].lines[0].costs[0].amount"]);

        let mut plan = shipped_plan_json();
        plan["meta"]["colour"] = json!("blue");
        let problem =
            check_problem(server.post_raw(path, "application/json", plan.to_string()).await, 400, "invalid-body").await;
        assert_eq!(invalid_properties(&problem), ["meta.colour"]);

        let mut plan = shipped_plan_json();
        plan["blocks"][2]["dependsOn"] = json!(["no-such-block"]);
        plan["blocks"][0]["lines"][0]["costs"][0]["amount"] = json!(-5);
        let problem =
            check_problem(server.post_raw(path, "application/json", plan.to_string()).await, 400, "validation-failed")
                .await;
        assert_eq!(invalid_properties(&problem), ["blocks[0].lines[0].costs[0].amount", "blocks[2].dependsOn[0]"]);

        // Numbers that would overflow the cost model are refused, not computed.
        let mut plan = shipped_plan_json();
        plan["meta"]["schablonRounding"] = json!(1_i64 << 62);
        plan["blocks"][1]["lines"][0]["costs"][0]["amount"] = json!(i64::MAX);
        let problem =
            check_problem(server.post_raw(path, "application/json", plan.to_string()).await, 400, "validation-failed")
                .await;
        assert_eq!(invalid_properties(&problem), ["meta.schablonRounding", "blocks[1].lines[0].costs[0].amount"]);

        check_problem(server.post_raw(path, "text/plain", "hello").await, 415, "unsupported-media-type").await;
        let huge = format!("{{\"pad\": \"{}\"}}", "x".repeat(70 * 1024));
        check_problem(server.post_raw(path, "application/json", huge).await, 413, "payload-too-large").await;

        let problem =
            check_problem(server.get("/plan/v1/blocks?limit=500&page=0").await, 400, "invalid-parameter").await;
        assert_eq!(invalid_properties(&problem), ["limit", "page"]);
        let problem = check_problem(server.get("/plan/v1/blocks?limit=ten").await, 400, "invalid-parameter").await;
        assert_eq!(invalid_properties(&problem), ["limit"]);
        let problem = check_problem(server.get("/plan/v1/blocks?category=nope").await, 400, "invalid-parameter").await;
        assert_eq!(invalid_properties(&problem), ["category"]);
        check_problem(server.get("/plan/v1/blocks/no-such-block").await, 404, "resource-not-found").await;
        check_problem(server.get("/plan/v2/blocks").await, 404, "route-not-found").await;
        check_problem(server.get("/no/such/path").await, 404, "route-not-found").await;
        let delete = server.client.delete(server.url("/plan/v1/blocks")).send().await.unwrap();
        check_problem(delete, 405, "method-not-allowed").await;
        let put = server.client.put(server.url("/plan/v1/cost-summary")).body("{}").send().await.unwrap();
        check_problem(put, 405, "method-not-allowed").await;

        assert_eq!(
            json_of(server.get("/plan/v1/cost-summary").await).await,
            before,
            "bad input changed the plan on {}",
            server.label
        );
    }
}

#[tokio::test]
async fn traceparent_is_continued_or_started_on_every_response() {
    let server = TestServer::start(ena_store::testing::sqlite().await).await;
    let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    for path in ["/healthz", "/plan/v1/blocks/nope", "/nowhere"] {
        let response = server.client.get(server.url(path)).header("traceparent", incoming).send().await.unwrap();
        let returned = response.headers()["traceparent"].to_str().unwrap().to_owned();
        assert!(returned.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"), "{path}: {returned}");
        assert!(!returned.contains("00f067aa0ba902b7"), "the server is a new span");
    }
    let response = server.get("/healthz").await;
    let started = response.headers()["traceparent"].to_str().unwrap();
    assert_eq!(started.len(), 55, "{started}");
    let problem = check_problem(
        server.client.get(server.url("/nowhere")).header("traceparent", incoming).send().await.unwrap(),
        404,
        "route-not-found",
    )
    .await;
    assert_eq!(problem["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
}

#[tokio::test]
async fn metrics_openapi_docs_and_portal() {
    let server = TestServer::start(ena_store::testing::sqlite().await).await;
    server.get("/plan/v1/blocks/mina-ombud").await;
    let metrics = server.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"http_requests_total{method="GET",route="/plan/v1/blocks/{id}",status="200"}"#),
        "{metrics}"
    );
    assert!(metrics.contains("http_request_duration_seconds_bucket"), "{metrics}");
    assert!(metrics.contains(r#"db_pool_connections{state="max"} 8"#), "{metrics}");

    let doc = json_of(server.get("/openapi.json").await).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/plan/v1/cost-summary"]["get"].is_object());

    let docs = server.get("/docs").await;
    assert_eq!(docs.headers()["content-type"], "text/html; charset=utf-8");
    let html = docs.text().await.unwrap();
    assert!(html.contains("/plan/v1/cost-calculations") && html.contains("id=\"error-invalid-body\""));
    assert!(
        !html.contains("<script") && !html.contains("https://cdn"),
        "the reference page works offline without scripts"
    );

    let home = server.get("/").await.text().await.unwrap();
    assert!(home.contains("<html lang=\"sv\">") && home.contains("Välkommen till ena"));
    let home_en = server.get("/?lang=en").await.text().await.unwrap();
    assert!(home_en.contains("<html lang=\"en\">") && home_en.contains("Welcome to ena"));
    let blocks = server.get("/byggblock").await.text().await.unwrap();
    assert!(blocks.contains("Tillit och säkerhet") && blocks.contains("141\u{a0}500") && blocks.contains("Mina ombud"));
    let blocks_en = server.get("/byggblock?lang=en").await.text().await.unwrap();
    assert!(blocks_en.contains("Trust and security") && blocks_en.contains("190,500"));
    let block = server.get("/byggblock/mina-ombud?lang=en").await.text().await.unwrap();
    assert!(block.contains("Bolagsverket") && block.contains("/byggblock/identitet?lang=en"));

    // A browser on a portal path gets a page, an API client gets a problem.
    let html_404 = server.client.get(server.url("/byggblock/nope")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(html_404.status(), 404);
    assert!(html_404.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(html_404.headers().contains_key("content-security-policy"), "error pages keep the security headers");
    let api_404 =
        server.client.get(server.url("/plan/v1/blocks/nope")).header("accept", "text/html").send().await.unwrap();
    check_problem(api_404, 404, "resource-not-found").await;
    let csp = server.get("/").await.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'none'"));
}

/// The start page lists what this version has — every API of the registry that feeds /docs, with its
/// portal pages — in both languages, so it cannot go stale when a block is added.
#[tokio::test]
async fn the_start_page_lists_every_api_of_the_registry() {
    let server = TestServer::start(ena_store::testing::sqlite().await).await;
    for lang in ["", "?lang=en"] {
        let html = server.get(&format!("/{lang}")).await.text().await.unwrap();
        for api in ena_server::apis::ALL {
            assert!(html.contains(api.name), "{lang}: the start page lacks {}", api.name);
            assert!(html.contains(&format!("href=\"/docs#api-{}\"", api.id)), "{lang}: no docs link for {}", api.id);
            for (path, sv, en) in api.pages {
                let label = if lang.is_empty() { sv } else { en };
                assert!(html.contains(&format!("href=\"{path}{lang}\"")) && html.contains(label), "{lang}: {path}");
            }
        }
    }
}
