//! Auktorisation: the decision point over AuthZEN and the policy API.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authzen_decision_point_and_operator_policies_on_each_database() {
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let two = server.two_members().await;
        let (node, tls_a) = (two.node, two.tls_a.clone());
        let c = &server.client;
        let ta = format!("http://{}", server.addr);
        let token = server.operator_token();
        let at = two.token_a().await;
        let evaluation = format!("https://{node}/access/v1/evaluation");
        let ask =
            |body: Value| tls_a.post(&evaluation).bearer_auth(&at).header("x-request-id", "req-1").json(&body).send();
        let act = |packages: Value| {
            json!({"subject": {"type": "person", "id": "191212121212"}, "action": {"name": "act"},
                   "resource": {"type": "service", "id": "skatteverket/moms", "properties": {"package": "skatt-och-moms"}},
                   "context": {"packages": packages, "self": false}})
        };

        // Discovery, then decisions with their reasons; a deny is 200 too.
        let conf = json_of(c.get(server.url("/.well-known/authzen-configuration")).send().await.unwrap()).await;
        assert_eq!(conf["access_evaluation_endpoint"], format!("{ta}/access/v1/evaluation"));
        let r = ask(act(json!(["skatt-och-moms"]))).await.unwrap();
        assert_eq!(r.headers()["x-request-id"], "req-1");
        let d = json_of(r).await;
        assert_eq!(d["decision"], true, "{label}: {d}");
        assert_eq!(d["context"]["reasons"][0]["policy"], "act-for-a-party");
        let d = json_of(ask(act(json!([]))).await.unwrap()).await;
        assert_eq!(d["decision"], false, "{label}: {d}");
        assert!(d["context"]["reason_admin"]["403"].as_str().unwrap().contains("default deny"));

        // Batch: defaults, per-item overrides, semantics.
        let mut batch = act(json!(["skatt-och-moms"]));
        batch["evaluations"] = json!([{}, {"context": {"packages": [], "self": false}}, {}]);
        let url = format!("https://{node}/access/v1/evaluations");
        let all = json_of(tls_a.post(&url).bearer_auth(&at).json(&batch).send().await.unwrap()).await;
        let decisions: Vec<bool> =
            all["evaluations"].as_array().unwrap().iter().map(|e| e["decision"].as_bool().unwrap()).collect();
        assert_eq!(decisions, vec![true, false, true], "{label}: {all}");
        batch["options"] = json!({"evaluations_semantic": "deny_on_first_deny"});
        let cut = json_of(tls_a.post(&url).bearer_auth(&at).json(&batch).send().await.unwrap()).await;
        assert_eq!(cut["evaluations"].as_array().unwrap().len(), 2, "{label}: {cut}");
        batch["options"] = json!({"evaluations_semantic": "maybe"});
        let p = check_problem(
            tls_a.post(&url).bearer_auth(&at).json(&batch).send().await.unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(invalid_properties(&p), vec!["options.evaluations_semantic".to_owned()]);

        // Bad requests name the field; no token is 401.
        let mut bad = act(json!([]));
        bad["subject"]["type"] = json!("Person!");
        let p = check_problem(ask(bad).await.unwrap(), 400, "validation-failed").await;
        assert_eq!(invalid_properties(&p), vec!["subject.type".to_owned()], "{label}: {p}");
        let mut missing = act(json!([]));
        missing.as_object_mut().unwrap().remove("subject");
        let p = check_problem(ask(missing).await.unwrap(), 400, "invalid-body").await;
        assert!(p["detail"].as_str().unwrap().contains("subject"), "{label}: {p}");
        check_problem(
            tls_a.post(&evaluation).json(&act(json!([]))).send().await.unwrap(),
            401,
            "authentication-required",
        )
        .await;

        // Operator endpoints go through the same decision point: a forbid on api:plan stops plan updates.
        let policies =
            json_of(c.get(server.url("/access/v1/policies?limit=100")).bearer_auth(&token).send().await.unwrap()).await;
        assert!(policies["items"].as_array().unwrap().iter().any(|p| p["id"] == "operator-operates-ena"), "{label}");
        let put = |id: &str, body: Value| {
            c.put(server.url(&format!("/access/v1/policies/{id}"))).bearer_auth(&token).json(&body).send()
        };
        let p = check_problem(
            put(
                "broken",
                json!({"resource": "*", "text": "permit(principal, action, resource) when { resource.colour };"}),
            )
            .await
            .unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(invalid_properties(&p), vec!["text".to_owned()], "{label}: {p}");
        let r = put("plan-frozen", json!({"resource": "api:plan", "description": "Plan frozen during the audit",
            "text": "@reason(\"the plan is frozen during the audit\") forbid (principal, action == Ena::Action::\"operate\", resource == Ena::Api::\"plan\");"})).await.unwrap();
        assert_eq!(r.status(), 200, "{label}: {}", r.text().await.unwrap());
        let plan = json_of(c.get(server.url("/plan/v1/plan")).send().await.unwrap()).await;
        let refused = c.put(server.url("/plan/v1/plan")).bearer_auth(&token).json(&plan).send().await.unwrap();
        let p = check_problem(refused, 403, "permission-denied").await;
        assert!(p["detail"].as_str().unwrap().contains("frozen"), "{label}: {p}");
        denied_event_logged(&server, "PUT /plan/v1/plan", "frozen").await;
        // Other APIs are untouched by the plan's slice.
        assert_eq!(
            c.get(server.url("/access/v1/policies/plan-frozen")).bearer_auth(&token).send().await.unwrap().status(),
            200
        );
        let r = c.delete(server.url("/access/v1/policies/plan-frozen")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 204);
        let r = c.put(server.url("/plan/v1/plan")).bearer_auth(&token).json(&plan).send().await.unwrap();
        assert!(r.status().is_success(), "{label}: {}", r.status());
        check_problem(
            c.delete(server.url("/access/v1/policies/plan-frozen")).bearer_auth(&token).send().await.unwrap(),
            404,
            "resource-not-found",
        )
        .await;
        // Member systems' use of ena's APIs is decided there too: shut member A out of the identity API.
        let (member_a, credentials) = (two.a.id.clone(), format!("https://{node}/identity/v1/employee-credentials"));
        assert_eq!(tls_a.get(&credentials).send().await.unwrap().status(), 200, "{label}");
        let text = format!(
            "@reason(\"suspended from the identity API\") forbid (principal == Ena::Member::\"{member_a}\", action == Ena::Action::\"use\", resource == Ena::Api::\"identity\");"
        );
        let r = put("shut-out-a", json!({"resource": "api:identity", "text": text})).await.unwrap();
        assert_eq!(r.status(), 200, "{label}: {}", r.text().await.unwrap());
        let p = check_problem(tls_a.get(&credentials).send().await.unwrap(), 403, "permission-denied").await;
        assert!(p["detail"].as_str().unwrap().contains("suspended from the identity API"), "{label}: {p}");
        assert_eq!(two.tls_b.get(&credentials).send().await.unwrap().status(), 200, "{label}: only A");
    }
}
