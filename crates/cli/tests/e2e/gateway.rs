//! API-hantering's plans, subscriptions, gateway and deprecation pipeline, on both databases, with the
//! producer's and the consumer's nodes as their own processes: Skatteverket publishes an API its node
//! serves, offers plans, approves Kommunen's subscription; Kommunen's system calls through both nodes
//! and the producer node's gateway checks the version, the subscription and the plan (size, rate); the
//! catalog learns who calls what, tells subscribers of new versions and deprecations, and refuses to
//! retire a version still called until the operator records an override; after retirement the gateway
//! answers 410.

use super::*;
use crate::apis::json_with;

fn base() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../apis/corpus/base.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Ask until `status` comes (the producer node takes the catalog's terms every 2 s).
async fn until<F>(label: &str, status: u16, mut ask: impl FnMut() -> F) -> reqwest::Response
where
    F: std::future::Future<Output = Result<reqwest::Response, reqwest::Error>>,
{
    let mut last = 0;
    for _ in 0..60 {
        let r = ask().await.unwrap();
        if r.status() == status {
            return r;
        }
        last = r.status().as_u16();
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    panic!("{label}: never {status} (last {last})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_to_a_catalog_api_pass_the_gateway_and_the_pipeline_knows_who_calls() {
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let central_node = server.node_listener().await;
        // Skatteverket's service: orders under /orders/v1 and /orders/v2.
        let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream_addr = upstream.local_addr().unwrap();
        // It counts what reaches it and keeps the last traceparent, so the test sees what the gateway
        // forwarded and what it did not.
        let reached = std::sync::Arc::new(std::sync::Mutex::new((0usize, String::new())));
        let (got, posted) = (reached.clone(), reached.clone());
        let service = axum::Router::new().route(
            "/orders/{major}/orders",
            axum::routing::get(move |headers: axum::http::HeaderMap| async move {
                let trace = headers.get("traceparent").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                let mut r = got.lock().unwrap();
                *r = (r.0 + 1, trace);
                axum::Json(json!({"items": []}))
            })
            .post(move |body: axum::body::Bytes| async move {
                posted.lock().unwrap().0 += 1;
                axum::Json(json!({"size": body.len()}))
            }),
        );
        let forwarded = || reached.lock().unwrap().0;
        tokio::spawn(async move { axum::serve(upstream, service).await });
        let produces =
            format!("\n[[service]]\nid = \"orders\"\nupstream = \"http://{upstream_addr}\"\napi = \"bestallningar\"\n");
        let schema = json!({"type": "object"});
        let (skatt, kommun) = tax_agency_and_municipality(&server, central_node, &produces, &schema).await;
        let (producer, consumer) = (skatt.tls_client_localhost(), kommun.tls_client_localhost());
        let central = |p: &str| format!("https://localhost:{}{p}", central_node.port());
        let c = reqwest::Client::new();
        let call = || kommun.get(&c, "/calls/v1/202100-5448/orders/orders/v1/orders").send();

        // The API, served by Skatteverket's node; a version with a lint error goes out only under the
        // operator's recorded exception.
        let input = json!({"id": "bestallningar", "name": "Beställningar", "contact": "api@skatteverket.se",
                           "classification": "internal", "node": skatt.entity_id, "service": "orders"});
        // Kommunen cannot put an API on Skatteverket's node (its gateway would enforce a stranger's plans),
        // and ena- ids are ena's own.
        let mut posing = input.clone();
        posing["id"] = json!("kapad");
        let p = check_problem(
            consumer.post(central("/apis/v1/apis")).json(&posing).send().await.unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["node"], "{label}: {p}");
        let mut reserved = input.clone();
        reserved["id"] = json!("ena-orders");
        let p = check_problem(
            producer.post(central("/apis/v1/apis")).json(&reserved).send().await.unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["id"], "{label}: {p}");
        json_with(producer.post(central("/apis/v1/apis")).json(&input).send().await.unwrap(), 201).await;
        let upload = |doc: &Value| {
            producer
                .post(central("/apis/v1/apis/bestallningar/versions"))
                .header("content-type", "application/json")
                .body(doc.to_string())
                .send()
        };
        let publish =
            |v: &str| producer.post(central(&format!("/apis/v1/apis/bestallningar/versions/{v}/publications"))).send();
        let mut flawed = base();
        flawed["info"]["version"] = json!("1.0.0");
        flawed["info"].as_object_mut().unwrap().remove("x-limitations");
        json_with(upload(&flawed).await.unwrap(), 201).await;
        let exception = |body: Value| {
            c.post(server.url("/apis/v1/apis/bestallningar/versions/1.0.0/exceptions"))
                .bearer_auth(server.operator_token())
                .json(&body)
                .send()
        };
        let p = check_problem(
            exception(json!({"rules": ["SAK.09"], "reason": "x"})).await.unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["rules", "reason"], "{label}: a rule it does not break, no reason: {p}");
        let by_member = producer
            .post(central("/apis/v1/apis/bestallningar/versions/1.0.0/exceptions"))
            .json(&json!({"rules": ["DOK.09"], "reason": "The producer grants itself one"}))
            .send()
            .await
            .unwrap();
        assert!([401, 403].contains(&by_member.status().as_u16()), "{label}: only the operator grants exceptions");
        check_problem(publish("1.0.0").await.unwrap(), 409, "conflict").await;
        let v = json_of(
            exception(
                json!({"rules": ["DOK.09"], "reason": "Limitations are stated on the agency's site until 1.2.0"}),
            )
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(v["lintException"]["rules"], json!(["DOK.09"]), "{label}: {v}");
        assert_eq!(json_of(publish("1.0.0").await.unwrap()).await["version"]["status"], "published", "{label}");
        json_with(upload(&base()).await.unwrap(), 201).await;
        json_of(publish("1.2.0").await.unwrap()).await;

        // Plans: one that needs approval and admits two calls at once and 1 000 bytes; one closed to
        // Kommunen; one that needs LoA 4.
        let plan = |body: Value| producer.post(central("/apis/v1/apis/bestallningar/plans")).json(&body).send();
        let bas = json!({"id": "bas", "name": "Bas", "ratePerSecond": 1, "burst": 2, "approval": true, "maxRequestBytes": 1000});
        json_with(plan(bas.clone()).await.unwrap(), 201).await;
        check_problem(plan(bas).await.unwrap(), 409, "conflict").await;
        json_with(
            plan(json!({"id": "sluten", "name": "Sluten", "ratePerSecond": 5, "organisations": ["556016-0680"]}))
                .await
                .unwrap(),
            201,
        )
        .await;
        json_with(plan(json!({"id": "hog", "name": "Hög", "ratePerSecond": 5, "requiredLoa": 4})).await.unwrap(), 201)
            .await;
        let p = check_problem(
            plan(json!({"id": "X", "name": "", "ratePerSecond": 0, "organisations": ["nope"], "requiredLoa": 7}))
                .await
                .unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(
            invalid_properties(&p),
            ["id", "name", "ratePerSecond", "burst", "organisations", "requiredLoa"],
            "{label}: {p}"
        );
        let plans = json_of(c.get(server.url("/apis/v1/apis/bestallningar/plans")).send().await.unwrap()).await;
        assert_eq!(plans["items"].as_array().unwrap().len(), 3, "{label}");

        // Before a subscription the gateway refuses, and says what to do; the consumer node passes the
        // producer's problem on.
        let r = until(&label, 403, call).await;
        let p = check_problem(r, 403, "permission-denied").await;
        assert!(p["detail"].as_str().unwrap().contains("no subscription"), "{label}: {p}");

        // Subscribing: bad input named, closed plans refused, nothing stored.
        let subscribe =
            |body: Value| consumer.post(central("/apis/v1/apis/bestallningar/subscriptions")).json(&body).send();
        let p = check_problem(
            subscribe(json!({"plan": "ingen", "application": "212000-0142"})).await.unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["plan"], "{label}");
        let p = check_problem(
            subscribe(json!({"plan": "bas", "application": "202100-5448"})).await.unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["application"], "{label}: another organisation's address");
        let p = check_problem(
            subscribe(json!({"plan": "sluten", "application": "212000-0142"})).await.unwrap(),
            403,
            "permission-denied",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("is not open to"), "{label}: {p}");
        let p = check_problem(
            subscribe(json!({"plan": "hog", "application": "212000-0142"})).await.unwrap(),
            403,
            "permission-denied",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("loa4"), "{label}: {p}");
        let outsider = c
            .post(server.url("/apis/v1/apis/bestallningar/subscriptions"))
            .json(&json!({"plan": "bas", "application": "212000-0142"}))
            .send()
            .await
            .unwrap();
        check_problem(outsider, 401, "authentication-required").await;
        let s = json_with(subscribe(json!({"plan": "bas", "application": "212000-0142"})).await.unwrap(), 201).await;
        assert_eq!(s["status"], "pending", "{label}: {s}");
        check_problem(subscribe(json!({"plan": "bas", "application": "212000-0142"})).await.unwrap(), 409, "conflict")
            .await;
        let id = s["id"].as_str().unwrap().to_owned();
        let p = check_problem(until(&label, 403, call).await, 403, "permission-denied").await;
        let step = |who: &reqwest::Client, what: &str| {
            who.post(central(&format!("/apis/v1/subscriptions/{id}/{what}"))).json(&json!({"reason": "test"})).send()
        };
        check_problem(step(&consumer, "approvals").await.unwrap(), 403, "permission-denied").await;
        assert!(
            p["detail"].as_str().unwrap().contains("no subscription")
                || p["detail"].as_str().unwrap().contains("approval"),
            "{label}: {p}"
        );
        assert_eq!(json_of(step(&producer, "approvals").await.unwrap()).await["status"], "active", "{label}");

        // Let through: the answer carries the rate limit and the time the gateway added; the service got
        // the caller's trace.
        let r = until(&label, 200, call).await;
        let trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let traced = kommun
            .get(&c, "/calls/v1/202100-5448/orders/orders/v1/orders")
            .header("traceparent", trace)
            .send()
            .await
            .unwrap();
        assert_eq!(traced.status(), 200, "{label}");
        assert!(
            reached.lock().unwrap().1.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{label}: the trace runs through"
        );
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        for h in ["ratelimit", "ratelimit-policy", "server-timing", "ena-response-proof"] {
            assert!(r.headers().contains_key(h), "{label}: no {h}: {:?}", r.headers());
        }
        assert!(r.headers()["ratelimit-policy"].to_str().unwrap().starts_with("\"bas\";q=2"), "{label}");
        // Over the rate (two at once, one a second): 429 with Retry-After.
        let mut limited = None;
        for _ in 0..5 {
            let r = call().await.unwrap();
            if r.status() == 429 {
                limited = Some(r);
                break;
            }
        }
        let r = limited.unwrap_or_else(|| panic!("{label}: five calls at once were never limited"));
        assert!(r.headers().contains_key("retry-after"), "{label}");
        check_problem(r, 429, "too-many-requests").await;
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        // Larger than the plan admits: 413, nothing forwarded.
        let before = forwarded();
        let big = kommun
            .post(&c, "/calls/v1/202100-5448/orders/orders/v1/orders", &json!({"text": "x".repeat(1200)}))
            .send()
            .await
            .unwrap();
        check_problem(big, 413, "payload-too-large").await;
        assert_eq!(forwarded(), before, "{label}: the refused call never reached the service");
        // No version in the path, or one never published: 404.
        check_problem(
            kommun.get(&c, "/calls/v1/202100-5448/orders/orders/v9/orders").send().await.unwrap(),
            404,
            "resource-not-found",
        )
        .await;

        // Suspended: refused until approved again.
        assert_eq!(json_of(step(&producer, "suspensions").await.unwrap()).await["status"], "suspended", "{label}");
        // The subscriber cannot undo a suspension by revoking and subscribing again.
        check_problem(step(&consumer, "revocations").await.unwrap(), 403, "permission-denied").await;
        let p = check_problem(until(&label, 403, call).await, 403, "permission-denied").await;
        assert!(p["detail"].as_str().unwrap().contains("suspended"), "{label}: {p}");
        json_of(step(&producer, "approvals").await.unwrap()).await;
        until(&label, 200, call).await;

        // Version 2 is published and 1 deprecated towards it: subscribers are told, calls to v1 carry
        // Deprecation, Sunset and the successor's link.
        let v2: Value = serde_json::from_str(
            &base().to_string().replace("/orders/v1/", "/orders/v2/").replace("\"1.2.0\"", "\"2.0.0\""),
        )
        .unwrap();
        json_with(upload(&v2).await.unwrap(), 201).await;
        json_of(publish("2.0.0").await.unwrap()).await;
        let sunset = ena_core::time::rfc3339_of(ena_core::time::unix_now() + 3 * 86_400);
        let deprecate = |v: &str| {
            producer
                .post(central(&format!("/apis/v1/apis/bestallningar/versions/{v}/deprecations")))
                .json(&json!({"sunset": sunset, "successor": "2.0.0"}))
                .send()
        };
        json_of(deprecate("1.0.0").await.unwrap()).await;
        json_of(deprecate("1.2.0").await.unwrap()).await;
        let mut deprecated = None;
        for _ in 0..60 {
            let r = call().await.unwrap();
            if r.status() == 200 && r.headers().contains_key("deprecation") {
                deprecated = Some(r);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
        let r = deprecated.unwrap_or_else(|| panic!("{label}: calls to v1 never said it is deprecated"));
        assert!(r.headers()["sunset"].to_str().unwrap().ends_with("GMT"), "{label}");
        assert_eq!(r.headers()["link"], "</v2/>; rel=\"successor-version\"", "{label}");
        let notices = json_of(consumer.get(central("/apis/v1/notices")).send().await.unwrap()).await;
        let kinds: Vec<(&str, &str)> = notices["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| (n["kind"].as_str().unwrap(), n["version"].as_str().unwrap()))
            .collect();
        assert_eq!(
            kinds,
            [("deprecated", "1.2.0"), ("deprecated", "1.0.0"), ("published", "2.0.0")],
            "{label}: {notices}"
        );

        // The catalog knows who still calls v1 (the node reports every 2 s).
        let mut usage = Value::Null;
        for _ in 0..40 {
            usage = json_of(producer.get(central("/apis/v1/apis/bestallningar/usage")).send().await.unwrap()).await;
            let mine = usage["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["application"] == "162120000142" && r["major"] == 1);
            if mine.is_some_and(|r| r["deprecated"].as_u64().unwrap_or(0) > 0) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        let row = usage["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["application"] == "162120000142" && r["major"] == 1)
            .unwrap();
        // The calls before the subscription are counted, but not under the caller's name.
        assert!(
            usage["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["application"] == "-" && r["refused"].as_u64().unwrap() >= 1),
            "{label}: {usage}"
        );
        assert_eq!(
            (row["major"].as_u64(), row["application"].as_str()),
            (Some(1), Some("162120000142")),
            "{label}: {usage}"
        );
        assert!(row["calls"].as_u64().unwrap() >= 3 && row["refused"].as_u64().unwrap() >= 4, "{label}: {usage}");
        let mine =
            json_of(consumer.get(central("/apis/v1/apis/bestallningar/usage?days=7")).send().await.unwrap()).await;
        let rows = mine["items"].as_array().unwrap();
        assert!(!rows.is_empty() && rows.iter().all(|r| r["application"] == "162120000142"), "{label}: {mine}");

        let p = check_problem(
            consumer.get(central("/apis/v1/apis/bestallningar/usage?days=0")).send().await.unwrap(),
            400,
            "invalid-parameter",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["days"], "{label}");
        let v = json_of(c.get(server.url("/apis/v1/apis/bestallningar/versions/1.2.0")).send().await.unwrap()).await;
        assert_eq!(v["callerCount"], 1, "{label}: how many, not who, on a public answer: {v}");
        // The portal's page of the API shows use per major (no application named) and the plans.
        let html = c.get(server.url("/api-katalog/bestallningar?lang=en")).send().await.unwrap().text().await.unwrap();
        for text in ["id=\"usage\"", "id=\"plans\"", "v1", "LoA 4", "556016-0680"] {
            assert!(html.contains(text), "{label}: the API's page lacks {text}");
        }
        assert!(!html.contains("162120000142"), "{label}: no application is named on the public page");

        // The sunset passes (moved back in the database: the test's clock), but the application still
        // called v1 lately: no retirement without the operator's recorded override.
        ena_store::with_pool!(&server.state.store, pool => sqlx::query("UPDATE apis_versions SET sunset_at = 1 WHERE api_id = 'bestallningar' AND version = '1.2.0'").execute(pool).await.map(|_| ())).unwrap();
        let retire = || producer.post(central("/apis/v1/apis/bestallningar/versions/1.2.0/retirements")).send();
        // 1.0.0 is retired first: 1.2.0 still answers for major 1, so no one is left without an answer.
        ena_store::with_pool!(&server.state.store, pool => sqlx::query("UPDATE apis_versions SET sunset_at = 1 WHERE api_id = 'bestallningar' AND version = '1.0.0'").execute(pool).await.map(|_| ())).unwrap();
        let retire_old =
            producer.post(central("/apis/v1/apis/bestallningar/versions/1.0.0/retirements")).send().await.unwrap();
        assert_eq!(retire_old.status(), 200, "{label}: 1.2.0 still answers for v1");
        let p = check_problem(retire().await.unwrap(), 409, "conflict").await;
        assert!(p["detail"].as_str().unwrap().contains("162120000142"), "{label}: the problem names the caller: {p}");
        let force = |reason: &str| {
            c.post(server.url("/apis/v1/apis/bestallningar/versions/1.2.0/retirement-overrides"))
                .bearer_auth(server.operator_token())
                .json(&json!({"reason": reason}))
                .send()
        };
        let p = check_problem(force("soon").await.unwrap(), 400, "validation-failed").await;
        assert_eq!(invalid_properties(&p), ["reason"], "{label}");
        json_of(force("Kommunen has confirmed it moves to v2 this week").await.unwrap()).await;
        assert_eq!(json_of(retire().await.unwrap()).await["status"], "retired", "{label}");
        let r = until(&label, 410, call).await;
        let before = forwarded();
        assert_eq!(call().await.unwrap().status(), 410, "{label}");
        assert_eq!(forwarded(), before, "{label}: a retired version's calls never reach the service");
        assert_eq!(r.headers()["link"], "</v2/>; rel=\"successor-version\"", "{label}");
        check_problem(r, 410, "gone").await;
        until(&label, 200, || kommun.get(&c, "/calls/v1/202100-5448/orders/orders/v2/orders").send()).await;

        // Every step is in the central log; every refusal in the producer node's.
        let central_log = server.state.store.clone();
        for action in [
            "apis.subscription.create",
            "apis.subscription.approve",
            "apis.subscription.suspend",
            "apis.version.exception",
            "apis.version.retire-override",
            "apis.notice",
        ] {
            let found = ena_audit::repo::query(
                &central_log,
                &ena_audit::repo::EventFilter { action: Some(action.into()), ..Default::default() },
                5,
                0,
            )
            .await
            .unwrap();
            assert!(!found.is_empty(), "{label}: no {action} in the central log");
        }
        let refused = ena_audit::repo::query(
            &skatt.store().await,
            &ena_audit::repo::EventFilter { action: Some("calls.refused".into()), ..Default::default() },
            100,
            0,
        )
        .await
        .unwrap();
        assert!(
            refused.len() >= 5,
            "{label}: the gateway's refusals are in the producer node's log ({})",
            refused.len()
        );
    }
}
