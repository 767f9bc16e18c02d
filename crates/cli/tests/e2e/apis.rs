//! API-hantering over HTTP on both databases: the lint and the change report as a developer portal and an
//! agency's pipeline use them — JSON and YAML, the report's rule ids and places; a document that is not
//! JSON, YAML or OpenAPI named with the parser's line and column; the wrong media type 415; a document
//! over the body limit 413; nothing stored. The catalog: a member registers an API and uploads versions;
//! a version with lint errors or one that breaks its major's promises is not published; another member
//! cannot touch it; anyone reads it.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_publish_apis_past_the_lint_and_the_compatibility_check() {
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let fed = server.two_members().await;
        let node = |path: &str| format!("https://{}{path}", fed.node);
        // Both test members are the same organisation; a third, Skatteverket, is another.
        let mut other = ena_testkit::callers::Member::new("c.exempel.se", &fed.anchor);
        other.organisation = "202100-5448".into();
        let cert = server.onboard(&other).await;
        let ca = server.state.federation.ca_certificate().to_owned();
        let tls_c = ena_federation::client::node_client(&ca, &cert, &other.tls.serialize_pem()).unwrap();
        let (a, b) = (&fed.tls_a, &tls_c);
        let upload = |c: &reqwest::Client, doc: &Value| {
            c.post(node("/apis/v1/apis/bestallningar/versions"))
                .header("content-type", "application/json")
                .body(doc.to_string())
                .send()
        };

        let input =
            json!({"id": "bestallningar", "name": "Beställningar", "contact": "api@example.se", "tags": ["bygglov"]});
        let r = a.post(node("/apis/v1/apis")).json(&input).send().await.unwrap();
        assert_eq!(r.status(), 201, "{label}: {}", r.text().await.unwrap());
        check_problem(a.post(node("/apis/v1/apis")).json(&input).send().await.unwrap(), 409, "conflict").await;
        let bad = json!({"id": "Bad_Id", "name": "", "contact": "x", "tags": []});
        let p = check_problem(a.post(node("/apis/v1/apis")).json(&bad).send().await.unwrap(), 400, "validation-failed")
            .await;
        assert_eq!(invalid_properties(&p), ["id", "name"], "{label}: {p}");
        let outsider = reqwest::Client::new().post(server.url("/apis/v1/apis")).json(&input).send().await.unwrap();
        check_problem(outsider, 401, "authentication-required").await;

        // A version with a lint error is kept as a draft but not published.
        let mut flawed = base();
        flawed["info"]["version"] = json!("1.0.0");
        flawed["info"].as_object_mut().unwrap().remove("x-limitations");
        let r = json_with(upload(a, &flawed).await.unwrap(), 201).await;
        assert_eq!(
            (r["version"]["status"].as_str(), r["lint"]["errors"].as_u64()),
            (Some("draft"), Some(1)),
            "{label}: {r}"
        );
        let publish = |c: &reqwest::Client, v: &str| {
            c.post(node(&format!("/apis/v1/apis/bestallningar/versions/{v}/publications"))).send()
        };
        let p = check_problem(publish(a, "1.0.0").await.unwrap(), 409, "conflict").await;
        assert!(p["detail"].as_str().unwrap().contains("SKALL"), "{label}: {p}");

        // A clean one is published; another member can neither upload nor publish.
        let r = json_with(upload(a, &base()).await.unwrap(), 201).await;
        assert_eq!(r["version"]["version"], "1.2.0", "{label}");
        check_problem(upload(b, &base()).await.unwrap(), 403, "permission-denied").await;
        check_problem(publish(b, "1.2.0").await.unwrap(), 403, "permission-denied").await;
        let r = json_of(publish(a, "1.2.0").await.unwrap()).await;
        assert_eq!(r["version"]["status"], "published", "{label}: {r}");
        check_problem(upload(a, &base()).await.unwrap(), 409, "conflict").await;

        // 1.3.0 claims compatibility but removes an operation: refused, and says what broke.
        let mut next = base();
        next["info"]["version"] = json!("1.3.0");
        next["paths"]["/orders/v1/orders/{orderId}"].as_object_mut().unwrap().remove("get");
        json_with(upload(a, &next).await.unwrap(), 201).await;
        let p = check_problem(publish(a, "1.3.0").await.unwrap(), 409, "conflict").await;
        assert!(p["detail"].as_str().unwrap().contains("GET /orders/v1/orders/{orderId} is removed"), "{label}: {p}");
        // A compatible 1.4.0 is published with its change report.
        let mut compatible = base();
        compatible["info"]["version"] = json!("1.4.0");
        compatible["components"]["schemas"]["Order"]["properties"]["note"] = json!({"type": "string"});
        json_with(upload(a, &compatible).await.unwrap(), 201).await;
        let r = json_of(publish(a, "1.4.0").await.unwrap()).await;
        assert_eq!(
            (r["changes"]["breaking"].as_u64(), r["changes"]["compatible"].as_u64()),
            (Some(0), Some(1)),
            "{label}: {r}"
        );

        // 1.2.0 is deprecated towards 1.4.0: a sunset at least a day ahead, a successor that is published.
        let deprecate = |c: &reqwest::Client, v: &str, body: Value| {
            c.post(node(&format!("/apis/v1/apis/bestallningar/versions/{v}/deprecations"))).json(&body).send()
        };
        let soon = ena_core::time::rfc3339_of(ena_core::time::unix_now() + 3600);
        let later = ena_core::time::rfc3339_of(ena_core::time::unix_now() + 3 * 86_400);
        let p = check_problem(deprecate(a, "1.2.0", json!({"sunset": soon})).await.unwrap(), 400, "validation-failed")
            .await;
        assert_eq!(invalid_properties(&p), ["sunset"], "{label}: {p}");
        let p = check_problem(
            deprecate(a, "1.2.0", json!({"sunset": later, "successor": "1.3.0"})).await.unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["successor"], "{label}: a draft is no successor: {p}");
        check_problem(deprecate(b, "1.2.0", json!({"sunset": later})).await.unwrap(), 403, "permission-denied").await;
        let v = json_of(deprecate(a, "1.2.0", json!({"sunset": later, "successor": "1.4.0"})).await.unwrap()).await;
        assert_eq!(
            (v["status"].as_str(), v["successor"].as_str()),
            (Some("deprecated"), Some("1.4.0")),
            "{label}: {v}"
        );
        check_problem(deprecate(a, "1.2.0", json!({"sunset": later})).await.unwrap(), 409, "conflict").await;
        // Retired only after the sunset, and only what was deprecated.
        let retire = |v: &str| a.post(node(&format!("/apis/v1/apis/bestallningar/versions/{v}/retirements"))).send();
        let p = check_problem(retire("1.2.0").await.unwrap(), 409, "conflict").await;
        assert!(p["detail"].as_str().unwrap().contains("sunset"), "{label}: {p}");
        check_problem(retire("1.0.0").await.unwrap(), 409, "conflict").await;

        // Anyone reads the catalog.
        let anyone = reqwest::Client::new();
        let found = json_of(anyone.get(server.url("/apis/v1/apis?q=beställ&tag=bygglov")).send().await.unwrap()).await;
        assert_eq!(found["items"][0]["published"], "1.4.0", "{label}: {found}");
        let none = json_of(anyone.get(server.url("/apis/v1/apis?q=nothing-like-it")).send().await.unwrap()).await;
        assert_eq!(none["items"], json!([]), "{label}");
        let versions =
            json_of(anyone.get(server.url("/apis/v1/apis/bestallningar/versions")).send().await.unwrap()).await;
        assert_eq!(versions["items"].as_array().unwrap().len(), 4, "{label}: {versions}");
        let v =
            json_of(anyone.get(server.url("/apis/v1/apis/bestallningar/versions/1.0.0")).send().await.unwrap()).await;
        assert_eq!(v["lint"]["findings"][0]["rule"], "DOK.09", "{label}: {v}");
        check_problem(anyone.get(server.url("/apis/v1/apis/nothing")).send().await.unwrap(), 404, "resource-not-found")
            .await;

        // The developer portal's pages: the API with its versions and lifecycle, a version's lint and
        // change reports, its rendered reference and its document.
        let page = |path: &str| anyone.get(server.url(path)).send();
        let html = page("/api-katalog/bestallningar?lang=en").await.unwrap().text().await.unwrap();
        for text in ["Beställningar", "id=\"versions\"", "1.4.0", "deprecated", "No plans yet", "availability: 99.5 %"]
        {
            assert!(html.contains(text), "{label}: the API's page lacks {text}");
        }
        let html = page("/api-katalog/bestallningar/1.4.0?lang=en").await.unwrap().text().await.unwrap();
        assert!(html.contains("Against 1.2.0: 0 breaking, 1 compatible"), "{label}: {html}");
        let html = page("/api-katalog/bestallningar/1.0.0").await.unwrap().text().await.unwrap();
        assert!(html.contains("DOK.09") && html.contains("id=\"lint\""), "{label}: the lint report is on the page");
        let docs = page("/api-katalog/bestallningar/1.4.0/docs").await.unwrap();
        assert_eq!(docs.status(), 200, "{label}");
        let docs = docs.text().await.unwrap();
        assert!(
            docs.contains("/orders/v1/orders/{orderId}") && !docs.contains("Error codes"),
            "{label}: their API, not ena's registry"
        );
        let doc = json_of(page("/api-katalog/bestallningar/1.4.0/openapi.json").await.unwrap()).await;
        assert_eq!(doc["info"]["version"], "1.4.0", "{label}");
        assert_eq!(page("/api-katalog/nothing").await.unwrap().status(), 404, "{label}");
        assert_eq!(page("/api-katalog/bestallningar/9.9.9").await.unwrap().status(), 404, "{label}");
    }
}

/// ena's own APIs are in the catalog from the start: every block's and the node's, through the same
/// lint and compatibility gate; a second start adds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enas_own_apis_are_in_the_catalog() {
    for server in TestServer::each().await {
        let label = server.label.clone();
        let node = &*ena_node::openapi::DOCUMENT;
        let published = ena_server::blocks::apis::own::publish_own(&server.state, Some(node)).await.unwrap();
        assert_eq!(published, ena_server::apis::ALL.len() + 1, "{label}");
        assert_eq!(ena_server::blocks::apis::own::publish_own(&server.state, Some(node)).await.unwrap(), 0, "{label}");
        let found = json_of(reqwest::get(server.url("/apis/v1/apis?tag=ena&limit=100")).await.unwrap()).await;
        let ids: Vec<&str> = found["items"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
        assert!(
            ids.contains(&"ena-apis") && ids.contains(&"ena-node") && ids.contains(&"ena-profile"),
            "{label}: {ids:?}"
        );
        assert!(found["items"].as_array().unwrap().iter().all(|a| a["published"].is_string()), "{label}: {found}");
    }
}

pub(crate) async fn json_with(r: reqwest::Response, status: u16) -> Value {
    assert_eq!(r.status(), status);
    r.json().await.unwrap()
}

/// A person subscribes for an organisation in the developer portal: only for one they act for with the
/// representation package `api-hantering` (Tolvan is Tolvans Bygg AB's signatory and CEO) that is a
/// member; every change a CSRF form checked again on the server; nothing stored on refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_subscribes_for_their_organisation_in_the_portal() {
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let fed = server.two_members().await;
        let node = |path: &str| format!("https://{}{path}", fed.node);
        let mut bygg = ena_testkit::callers::Member::new("bygg.exempel.se", &fed.anchor);
        bygg.organisation = "556677-8899".into();
        server.onboard(&bygg).await;
        let a = &fed.tls_a;
        let input = json!({"id": "bestallningar", "name": "Beställningar", "contact": "api@example.se"});
        json_with(a.post(node("/apis/v1/apis")).json(&input).send().await.unwrap(), 201).await;
        let doc = base().to_string();
        let up =
            a.post(node("/apis/v1/apis/bestallningar/versions")).header("content-type", "application/json").body(doc);
        json_with(up.send().await.unwrap(), 201).await;
        json_of(a.post(node("/apis/v1/apis/bestallningar/versions/1.2.0/publications")).send().await.unwrap()).await;
        let plan = json!({"id": "bas", "name": "Bas", "ratePerSecond": 5});
        json_with(a.post(node("/apis/v1/apis/bestallningar/plans")).json(&plan).send().await.unwrap(), 201).await;

        let path = "/api-katalog/bestallningar/prenumerationer";
        // Not logged in: to the login, not the page.
        let anonymous = ena_testkit::callers::browser().get(server.url(path)).send().await.unwrap();
        assert!(anonymous.status().is_redirection(), "{label}: {}", anonymous.status());
        let tolvan = server.person("191212121212", 3).await;
        let get = |p: &ena_testkit::callers::Person| {
            p.browser.get(server.url(&format!("{path}?lang=en"))).header("cookie", &p.cookie).send()
        };
        let post = |p: &ena_testkit::callers::Person, body: String| {
            p.browser
                .post(server.url(&format!("{path}?lang=en")))
                .header("cookie", &p.cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
        };
        let html = get(&tolvan).await.unwrap().text().await.unwrap();
        assert!(html.contains("Tolvans Bygg AB") && html.contains("No subscriptions to the API."), "{label}: {html}");
        let csrf = hidden_fields(&html).into_iter().find(|(k, _)| k == "csrf").unwrap().1;
        let subscribe = |org: &str, application: &str, csrf: &str| {
            form(&[
                ("csrf", csrf),
                ("action", "subscribe"),
                ("organisation", org),
                ("plan", "bas"),
                ("application", application),
            ])
        };
        let stored = || async {
            ena_store::with_pool!(&server.state.store, pool => sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM apis_subscriptions").fetch_one(pool).await)
                .unwrap()
                .0
        };
        // A forged form, an organisation Tolvan does not act for, an address of another organisation.
        assert_eq!(
            post(&tolvan, subscribe("165566778899", "556677-8899", "wrong")).await.unwrap().status(),
            403,
            "{label}"
        );
        let r = post(&tolvan, subscribe("162120000142", "212000-0142", &csrf)).await.unwrap();
        assert_eq!(r.status(), 400, "{label}");
        assert!(r.text().await.unwrap().contains("organisation: not one you act for"), "{label}");
        let r = post(&tolvan, subscribe("165566778899", "212000-0142", &csrf)).await.unwrap();
        assert_eq!(r.status(), 400, "{label}");
        assert!(r.text().await.unwrap().contains("application: an address of your own organisation"), "{label}");
        assert_eq!(stored().await, 0, "{label}: nothing stored");
        // Subscribed, shown, revoked.
        let r = post(&tolvan, subscribe("165566778899", "556677-8899", &csrf)).await.unwrap();
        assert_eq!(r.status(), 303, "{label}");
        let html = get(&tolvan).await.unwrap().text().await.unwrap();
        assert!(html.contains("<td>bas</td><td>active</td>"), "{label}: {html}");
        let id = hidden_fields(&html).into_iter().find(|(k, _)| k == "subscription").unwrap().1;
        let revoke =
            form(&[("csrf", &csrf), ("action", "revoke"), ("organisation", "165566778899"), ("subscription", &id)]);
        assert_eq!(post(&tolvan, revoke).await.unwrap().status(), 303, "{label}");
        assert!(get(&tolvan).await.unwrap().text().await.unwrap().contains("<td>bas</td><td>revoked</td>"), "{label}");
        let events = ena_audit::repo::query(
            &server.state.store,
            &ena_audit::repo::EventFilter { action: Some("apis.subscription.create".into()), ..Default::default() },
            5,
            0,
        )
        .await
        .unwrap();
        let event: ena_audit::AuditEvent = serde_json::from_slice(&events[0].data).unwrap();
        assert_eq!(event.actor.organisation.as_deref(), Some("165566778899"), "{label}: for whom the person acted");
        // David, the CEO of a company that is no member of the federation, sees it said, and cannot
        // subscribe for it.
        let david = server.person("200107044562", 3).await;
        let html = get(&david).await.unwrap().text().await.unwrap();
        assert!(html.contains("Styrelsebolaget") && html.contains("not a member of the federation"), "{label}: {html}");
        // His session's CSRF token, from a page that has forms for him.
        let profile = david.browser.get(server.url("/mina-sidor/profil")).header("cookie", &david.cookie).send();
        let csrf = hidden_fields(&profile.await.unwrap().text().await.unwrap())
            .into_iter()
            .find(|(k, _)| k == "csrf")
            .unwrap()
            .1;
        let r = post(&david, subscribe("165561234567", "556123-4567", &csrf)).await.unwrap();
        assert_eq!(r.status(), 400, "{label}");
        assert!(r.text().await.unwrap().contains("organisation: not a member in good standing"), "{label}");
        assert_eq!(stored().await, 1, "{label}");
    }
}
