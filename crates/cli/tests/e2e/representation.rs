//! Mina ombud: mandates over the API and in the portal, checks by member systems.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mina_ombud_over_http_on_each_database() {
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let federated = server.two_members().await;
        let (node, tls_a) = (federated.node, federated.tls_a.clone());
        let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let anna = server.person("199001012385", 4).await.cookie;
        let bertil = server.person("198506151235", 3).await.cookie;
        let david = server.person("200107044562", 3).await.cookie;
        let cecilia = server.person("194702289879", 2).await.cookie;
        let api = |path: &str| server.url(&format!("/representation/v1{path}"));
        let post =
            |cookie: &str, path: &str, body: Value| browser.post(api(path)).header("cookie", cookie).json(&body).send();
        let valid_to = time::OffsetDateTime::now_utc() + time::Duration::days(60);
        let valid_to = valid_to.format(&time::format_description::well_known::Rfc3339).unwrap();
        let hb_to_david = json!({"principal": "556011-2236", "agent": "200107044562",
                                  "packages": ["anstallda-och-arbetsgivaravgifter"], "validTo": valid_to});

        // The member system's check, through its access token.
        let at = federated.token_a().await;
        let check_url = format!("https://{node}/representation/v1/check");
        let check = |body: Value| tls_a.post(&check_url).bearer_auth(&at).json(&body).send();
        let q = json!({"agent": "200107044562", "principal": "556011-2236", "service": "skatteverket/arbetsgivardeklaration"});
        assert_eq!(json_of(check(q.clone()).await.unwrap()).await["allowed"], false, "{label}");

        // Joint signing over HTTP: Anna initiates, Bertil approves; then the check allows, with the why.
        let r = post(&anna, "/mandates", hb_to_david.clone()).await.unwrap();
        assert_eq!(r.status(), 201, "{label}");
        let m: Value = r.json().await.unwrap();
        assert_eq!(m["status"], "pending");
        let id = m["id"].as_str().unwrap().to_owned();
        check_problem(post(&anna, &format!("/mandates/{id}/approve"), json!({})).await.unwrap(), 409, "conflict").await;
        check_problem(
            post(&david, &format!("/mandates/{id}/approve"), json!({})).await.unwrap(),
            403,
            "permission-denied",
        )
        .await;
        let m = json_of(post(&bertil, &format!("/mandates/{id}/approve"), json!({})).await.unwrap()).await;
        assert_eq!(m["status"], "active", "{label}: {m}");
        let c = json_of(check(q.clone()).await.unwrap()).await;
        assert_eq!(c["allowed"], true, "{label}: {c}");
        assert_eq!(c["basis"][0]["chain"][0], id.as_str());
        let acting = json_of(browser.get(api("/acting-for")).header("cookie", &david).send().await.unwrap()).await;
        assert!(
            acting.as_array().unwrap().iter().any(|a| a["party"] == "165560112236" && a["basis"] == "mandate"),
            "{label}: {acting}"
        );
        let received =
            json_of(browser.get(api("/mandates?view=received")).header("cookie", &david).send().await.unwrap()).await;
        assert_eq!(received["items"][0]["id"], id.as_str());
        let notices = json_of(browser.get(api("/notices")).header("cookie", &david).send().await.unwrap()).await;
        assert!(notices.as_array().unwrap().iter().any(|n| n["kind"] == "granted"), "{label}: {notices}");
        // "May I delegate this?" without storing.
        let dry = json_of(post(&anna, "/mandate-checks", hb_to_david.clone()).await.unwrap()).await;
        assert_eq!(dry["requiredApprovals"], 2);

        // Revoked by the agent: the next check says no.
        let m = json_of(post(&david, &format!("/mandates/{id}/revoke"), json!({})).await.unwrap()).await;
        assert_eq!(m["status"], "revoked");
        assert_eq!(json_of(check(q.clone()).await.unwrap()).await["allowed"], false, "{label}");

        // Bad input: each names the field; nothing changes; denied attempts are logged.
        let mut to_self = hb_to_david.clone();
        to_self["agent"] = json!("556011-2236");
        let p = check_problem(post(&anna, "/mandates", to_self).await.unwrap(), 400, "validation-failed").await;
        assert_eq!(invalid_properties(&p), vec!["agent".to_owned()], "{label}");
        let mut backwards = hb_to_david.clone();
        // Starting a day after it ends, whatever today is.
        let after_end = time::OffsetDateTime::now_utc() + time::Duration::days(61);
        backwards["validFrom"] = json!(after_end.format(&time::format_description::well_known::Rfc3339).unwrap());
        let p = check_problem(post(&anna, "/mandates", backwards).await.unwrap(), 400, "validation-failed").await;
        assert_eq!(invalid_properties(&p), vec!["validTo".to_owned()]);
        let mut unknown = hb_to_david.clone();
        unknown["packages"] = json!(["flyga-drake"]);
        let p = check_problem(post(&anna, "/mandates", unknown).await.unwrap(), 400, "validation-failed").await;
        assert_eq!(invalid_properties(&p), vec!["packages[0]".to_owned()]);
        let p = check_problem(post(&david, "/mandates", hb_to_david.clone()).await.unwrap(), 403, "permission-denied")
            .await;
        assert_eq!(
            invalid_properties(&p),
            vec!["principal".to_owned()],
            "{label}: a non-signatory grants for the company"
        );
        let care = json!({"principal": "194702289879", "agent": "200107044562", "packages": ["vard-och-omsorg-anhorig"], "validTo": valid_to});
        let p = check_problem(post(&cecilia, "/mandates", care).await.unwrap(), 403, "permission-denied").await;
        assert_eq!(invalid_properties(&p), vec!["loa".to_owned()], "{label}: LoA 2 cannot grant");
        check_problem(
            browser.post(api("/mandates")).json(&hb_to_david).send().await.unwrap(),
            401,
            "authentication-required",
        )
        .await;
        let mut nobody = q.clone();
        nobody["principal"] = json!("559999-9990");
        let p = check_problem(check(nobody).await.unwrap(), 400, "validation-failed").await;
        assert_eq!(invalid_properties(&p), vec!["principal".to_owned()], "{label}: {p}");
        check_problem(tls_a.post(&check_url).json(&q).send().await.unwrap(), 401, "authentication-required").await;
        denied_event_logged(&server, "representation.grant", "signs for").await;
        denied_event_logged(&server, "representation.check", "165560112236").await;
        let granted =
            json_of(browser.get(api("/mandates?party=556011-2236")).header("cookie", &anna).send().await.unwrap())
                .await;
        assert_eq!(granted["items"].as_array().unwrap().len(), 1, "{label}: only the one grant was stored");
    }
}

/// Mina ombud notices also go to the configured webhook as CloudEvents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_reach_the_webhook_as_cloudevents() {
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(serde_json::from_str(&body).unwrap_or(Value::Null));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let config = ServerConfig { notice_webhook: Some(hook), ..ServerConfig::default() };
    let server = TestServer::each_with(config).await.into_iter().next().unwrap();
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let eva = server.person("197110206542", 3).await.cookie;
    let valid_to = (time::OffsetDateTime::now_utc() + time::Duration::days(30))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let r = browser
        .post(server.url("/representation/v1/mandates"))
        .header("cookie", &eva)
        .json(&json!({"principal": "559900-1129", "agent": "200107044562", "packages": ["skatt-och-moms"], "validTo": valid_to}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let mut events = Vec::new();
    for _ in 0..50 {
        events = received.lock().unwrap().clone();
        if events.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(events.len(), 2, "one notice to each party: {events:?}");
    assert_eq!(events[0]["specversion"], "1.0");
    assert_eq!(events[0]["type"], "se.ena.representation.granted");
    let parties: Vec<&str> = events.iter().map(|e| e["data"]["party"].as_str().unwrap()).collect();
    assert!(parties.contains(&"165599001129") && parties.contains(&"200107044562"), "{parties:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn address_registry_over_http_on_each_database() {
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let node = server.node_listener().await;
        let kommun = Member::new("kommun.exempel.se", &server.url(""));
        let mut skatt = Member::new("skatt.exempel.se", &server.url(""));
        skatt.organisation = "202100-5448".into();
        let ca = server.state.federation.ca_certificate().to_owned();
        let cert_k = server.onboard(&kommun).await;
        let cert_s = server.onboard(&skatt).await;
        let tls_k = ena_federation::client::node_client(&ca, &cert_k, &kommun.tls.serialize_pem()).unwrap();
        let tls_s = ena_federation::client::node_client(&ca, &cert_s, &skatt.tls.serialize_pem()).unwrap();
        let at = |path: &str| format!("https://{node}{path}");
        let c = &server.client;
        let token = server.operator_token();

        // A message type registered by the municipality's node.
        let mt = json!({"title": "Orosanmälan", "classification": {"confidentiality": 3, "integrity": 2, "availability": 1},
            "schema": {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "required": ["child"],
                       "properties": {"child": {"type": "string"}}}});
        // Registered, then the same content again changes nothing.
        for expected in [201, 200] {
            let r = tls_k
                .put(at("/addresses/v1/message-types/se.kommun.orosanmalan/versions/1.0"))
                .json(&mt)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), expected, "{label}");
        }
        let mut remote = mt.clone();
        remote["schema"]["properties"]["child"] = json!({"$ref": "https://evil.example/x.json"});
        let p = check_problem(
            tls_k
                .put(at("/addresses/v1/message-types/se.kommun.orosanmalan/versions/2.0"))
                .json(&remote)
                .send()
                .await
                .unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["schema"], "{label}: a remote $ref is refused");

        // The municipality's node publishes its social services' address.
        let key =
            json!({"kty": "OKP", "crv": "X25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo", "kid": "k1"});
        let body = json!({"kind": "function", "name": "Socialtjänsten", "node": kommun.id,
            "capabilities": [{"messageType": "se.kommun.orosanmalan", "versions": ["1.0"]}], "encryptionKeys": [key]});
        let r = tls_k.put(at("/addresses/v1/addresses/212000-0142:socialtjanst")).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 201, "{label}");
        assert_eq!(r.headers()["etag"], "\"1\"");
        // Lookup by a member with ETags.
        let r = tls_s.get(at("/addresses/v1/addresses/2120000142:socialtjanst")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{label}");
        let etag = r.headers()["etag"].to_str().unwrap().to_owned();
        let a: Value = r.json().await.unwrap();
        assert_eq!(
            (a["address"].as_str(), a["node"].as_str()),
            (Some("162120000142:socialtjanst"), Some(kommun.id.as_str()))
        );
        let r = tls_s
            .get(at("/addresses/v1/addresses/2120000142:socialtjanst"))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 304, "{label}");
        let found =
            json_of(tls_s.get(at("/addresses/v1/addresses?messageType=se.kommun.orosanmalan")).send().await.unwrap())
                .await;
        assert_eq!(found["items"].as_array().unwrap().len(), 1, "{label}: {found}");

        // Another organisation's node may not change it; a stale If-Match is refused; both logged.
        let p = check_problem(
            tls_s.put(at("/addresses/v1/addresses/212000-0142:socialtjanst")).json(&body).send().await.unwrap(),
            403,
            "permission-denied",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("administer"), "{label}: {p}");
        denied_event_logged(&server, "addresses.address.put", "administer").await;
        let p = check_problem(
            tls_k
                .put(at("/addresses/v1/addresses/212000-0142:socialtjanst"))
                .header("if-match", "\"7\"")
                .json(&body)
                .send()
                .await
                .unwrap(),
            412,
            "precondition-failed",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["If-Match"], "{label}");
        let r = tls_k
            .put(at("/addresses/v1/addresses/212000-0142:socialtjanst"))
            .header("if-match", &etag)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!((r.status().as_u16(), r.headers()["etag"].to_str().unwrap()), (200, "\"2\""), "{label}");

        // Bad input names each field; nothing changes.
        let mut bad = body.clone();
        bad["node"] = json!("https://nobody.example");
        bad["capabilities"][0]["versions"] = json!(["9.9"]);
        bad["encryptionKeys"][0]["crv"] = json!("P-256");
        let p = check_problem(
            c.put(server.url("/addresses/v1/addresses/2120000142:socialtjanst"))
                .bearer_auth(&token)
                .json(&bad)
                .send()
                .await
                .unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["node", "capabilities[0].versions[0]", "encryptionKeys[0]"], "{label}");
        let p = check_problem(
            c.get(server.url("/addresses/v1/addresses/12345")).bearer_auth(&token).send().await.unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["address"], "{label}");
        let p = check_problem(
            c.get(server.url("/addresses/v1/changes?since=-1")).bearer_auth(&token).send().await.unwrap(),
            400,
            "invalid-parameter",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["since"], "{label}");
        check_problem(
            c.get(server.url("/addresses/v1/addresses/2120000142")).send().await.unwrap(),
            401,
            "authentication-required",
        )
        .await;

        // The operator publishes a person's address; the feed lists every change in order.
        let person = json!({"kind": "person", "name": "Tolvan Tolvansson", "node": skatt.id, "encryptionKeys": [key]});
        let r = c
            .put(server.url("/addresses/v1/person-addresses"))
            .bearer_auth(&token)
            .json(&json!({"personalNumber": "19121212-1212", "address": person}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{label}");
        let feed =
            json_of(c.get(server.url("/addresses/v1/changes?limit=2")).bearer_auth(&token).send().await.unwrap()).await;
        assert_eq!(feed["items"].as_array().unwrap().len(), 2, "{label}");
        assert_eq!(feed["hasMore"], true);
        let rest = json_of(
            c.get(server.url(&format!("/addresses/v1/changes?since={}", feed["next"])))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(rest["items"][0]["address"], "191212121212", "{label}: {rest}");

        // A suspended member's node can no longer serve new addresses.
        suspend(&server, &skatt.id).await;
        let p = check_problem(
            c.put(server.url("/addresses/v1/addresses/2021005448"))
                .bearer_auth(&token)
                .json(&json!({"kind": "organisation", "name": "Skatteverket", "node": skatt.id}))
                .send()
                .await
                .unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("suspended"), "{label}: {p}");
    }
}
