//! Member nodes as separate processes: messages, receipts, attachments, synchronous calls, events, addresses, kill tests.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_exchange_signed_encrypted_messages_with_receipts_on_each_database() {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let central_node = server.node_listener().await;
        // The municipality's node owns the message type and serves its social services' address.
        let kommun_dir_schema = json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "required": ["child", "concern"],
            "properties": {"child": {"type": "string", "pattern": "^[0-9]{12}$"}, "concern": {"type": "string", "minLength": 1}}});
        // Skatteverket's own service behind its node (a plain HTTP service no one else can reach).
        let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream_addr = upstream.local_addr().unwrap();
        // The person is named in the body: identity numbers never go in URLs.
        let service = axum::Router::new().route(
            "/personer",
            axum::routing::post(|headers: axum::http::HeaderMap, axum::Json(asked): axum::Json<Value>| async move {
                let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                axum::Json(json!({"pnr": asked["personnummer"], "inkomst": 412000, "traceparent": h("traceparent"), "consumer": h("ena-consumer")}))
            }),
        );
        tokio::spawn(async move { axum::serve(upstream, service).await });
        // A second service whose upstream is down: port 1 (tcpmux), where nothing listens (not a port
        // picked and released, which a parallel test could take meanwhile).
        let down = "127.0.0.1:1";
        let produces = format!(
            "\n[[service]]\nid = \"inkomster\"\nupstream = \"http://{upstream_addr}\"\nallow = [\"{{kommun}}\"]\n\
             \n[[service]]\nid = \"stangd\"\nupstream = \"http://{down}\"\nallow = [\"{{kommun}}\"]\n"
        );
        let (skatt, kommun) = tax_agency_and_municipality(&server, central_node, &produces, &kommun_dir_schema).await;
        let c = reqwest::Client::new();
        let message = json!({"recipient": "212000-0142:socialtjanst", "messageType": "se.kommun.orosanmalan", "version": "1.0",
                             "payload": {"child": "201401012383", "concern": "Barnet har inte varit i skolan på tre veckor."},
                             "caseId": "SKV-2026-0042"});

        // Schema rejection before sending: the field named, nothing queued.
        let mut bad = message.clone();
        bad["payload"] = json!({"child": "2014"});
        let p =
            check_problem(skatt.post(&c, "/messages/v1/outbox", &bad).send().await.unwrap(), 400, "validation-failed")
                .await;
        let mut named = invalid_properties(&p);
        named.sort();
        assert_eq!(named, ["payload/child", "payload/concern"], "{label}: {p}");
        let mut unknown = message.clone();
        unknown["recipient"] = json!("212000-0142:skola");
        let p = check_problem(
            skatt.post(&c, "/messages/v1/outbox", &unknown).send().await.unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["recipient"], "{label}");
        check_problem(
            c.post(format!("{}/messages/v1/outbox", skatt.api)).json(&message).send().await.unwrap(),
            401,
            "authentication-required",
        )
        .await;

        // The node's listener has the central instance's edge: security headers, trace context, and
        // problems for what the router refuses.
        let health = c.get(format!("{}/healthz", skatt.api)).send().await.unwrap();
        for header in ["x-content-type-options", "content-security-policy", "x-frame-options", "traceparent"] {
            assert!(health.headers().contains_key(header), "{label}: the node's answer lacks {header}");
        }
        check_problem(c.get(format!("{}/nowhere", skatt.api)).send().await.unwrap(), 404, "route-not-found").await;

        // Delivered; the receipt verifies with the recipient's keys as the federation publishes them.
        let r = skatt.post(&c, "/messages/v1/outbox", &message).send().await.unwrap();
        assert_eq!(r.status(), 201, "{label}");
        let sent: Value = r.json().await.unwrap();
        let id = sent["id"].as_str().unwrap().to_owned();
        let done = wait_status(&skatt, &c, &id, "delivered").await;
        let meta = server.state.federation.resolved_metadata(&kommun.entity_id).await.unwrap();
        let receipt = ena_messaging::receipt::Receipt::verify(
            done["receipt"].as_str().unwrap(),
            &meta["ena_node"]["jwks"],
            meta["ena_node"]["log_verifier_key"].as_str().unwrap(),
        )
        .unwrap();
        assert_eq!(receipt.message_id, id, "{label}");
        // Independently: jwcrypto and PyJWT verify the receipt and the envelope with only the keys the
        // federation publishes, and the audit verifier checks the receipt's inclusion proof.
        let row = ena_messaging::repo::out(&skatt.store().await, &id).await.unwrap().unwrap();
        let sender_meta = server.state.federation.resolved_metadata(&skatt.entity_id).await.unwrap();
        let interop = tempfile::tempdir().unwrap();
        let write = |name: &str, v: Value| {
            let path = interop.path().join(name);
            std::fs::write(&path, v.to_string()).unwrap();
            path.to_str().unwrap().to_owned()
        };
        let receipt_file = write(
            "receipt.json",
            json!({"jwks": meta["ena_node"]["jwks"], "tokens": [{"token": done["receipt"], "typ": "ena-receipt+jws"}]}),
        );
        assert!(oidf(&["verify", &receipt_file]).contains("\"ok\": true"), "{label}");
        let envelope_file = write(
            "envelope.json",
            json!({"jwks": sender_meta["ena_node"]["jwks"], "tokens": [{"token": row.envelope, "typ": "ena-envelope+jws"}]}),
        );
        assert!(oidf(&["verify", &envelope_file]).contains("\"ok\": true"), "{label}");
        {
            use base64::Engine;
            use sha2::Digest;
            let std_b64 = base64::engine::general_purpose::STANDARD;
            let leaf = std_b64.decode(&receipt.log.leaf).unwrap();
            let mut h = sha2::Sha256::new();
            h.update([0u8]);
            h.update(&leaf);
            let root = receipt.log.checkpoint.lines().nth(2).unwrap().to_owned();
            let case = write(
                "inclusion.json",
                json!({"leafIdx": receipt.log.index, "treeSize": receipt.log.tree_size, "root": root,
                "leafHash": std_b64.encode(h.finalize()), "proof": receipt.log.inclusion_proof}),
            );
            let (ok, out, err) =
                ena_off_thread(vec!["audit".into(), "verify-proof".into(), "--file".into(), case]).await;
            assert!(ok, "{label}: {out}{err}");
        }
        let inbox = json_of(kommun.get(&c, "/messages/v1/inbox").send().await.unwrap()).await;
        let got = &inbox["items"][0];
        assert_eq!(got["payload"], message["payload"], "{label}");
        assert_eq!((got["sender"].as_str(), got["caseId"].as_str()), (Some("162021005448"), Some("SKV-2026-0042")));

        // What travelled, from the sender's database: a replay gets the same receipt and stores nothing.
        let row = ena_messaging::repo::out(&skatt.store().await, &id).await.unwrap().unwrap();
        let wire = json!({"envelope": row.envelope, "ciphertext": b64.encode(&row.ciphertext)});
        let inbox_url = meta["ena_node"]["inbox_endpoint"].as_str().unwrap().to_owned();
        let as_skatt = skatt.tls_client_localhost();
        let again = json_of(as_skatt.post(&inbox_url).json(&wire).send().await.unwrap()).await;
        assert_eq!(again["receipt"], done["receipt"], "{label}: a replay is answered with the same receipt");
        // A tampered envelope, and the right envelope from the wrong node: refused and logged.
        let mut parts: Vec<String> = row.envelope.split('.').map(str::to_owned).collect();
        let mut env: Value = serde_json::from_slice(&b64.decode(&parts[1]).unwrap()).unwrap();
        env["caseId"] = json!("SKV-2026-9999");
        parts[1] = b64.encode(env.to_string());
        let tampered = json!({"envelope": parts.join("."), "ciphertext": wire["ciphertext"]});
        let p =
            check_problem(as_skatt.post(&inbox_url).json(&tampered).send().await.unwrap(), 403, "permission-denied")
                .await;
        assert!(p["detail"].as_str().unwrap().contains("signature"), "{label}: {p}");
        let as_kommun = kommun.tls_client_localhost();
        let p =
            check_problem(as_kommun.post(&inbox_url).json(&wire).send().await.unwrap(), 403, "permission-denied").await;
        assert!(p["detail"].as_str().unwrap().contains("not that node's"), "{label}: {p}");
        // A node that signs with its own key but names another organisation as sender: refused.
        let own_key = ena_messaging::keys::SigningKey::from_pkcs8(
            &std::fs::read(kommun.dir.path().join("message-signing.key")).unwrap(),
        )
        .unwrap();
        let mut posing: ena_messaging::envelope::Envelope =
            ena_messaging::envelope::Envelope::peek(&row.envelope).unwrap();
        posing.id = uuid_like(&posing.id);
        posing.sender_node = kommun.entity_id.clone();
        let posing = json!({"envelope": posing.sign(&own_key), "ciphertext": wire["ciphertext"]});
        let p = check_problem(as_kommun.post(&inbox_url).json(&posing).send().await.unwrap(), 403, "permission-denied")
            .await;
        assert!(p["detail"].as_str().unwrap().contains("is not served by the sending node"), "{label}: {p}");
        let count = json_of(kommun.get(&c, "/messages/v1/inbox?all=true").send().await.unwrap()).await;
        assert_eq!(count["items"].as_array().unwrap().len(), 1, "{label}: nothing more stored");
        let refused = ena_audit::repo::query(
            &kommun.store().await,
            &ena_audit::repo::EventFilter { action: Some("messages.refused".into()), ..Default::default() },
            10,
            0,
        )
        .await
        .unwrap();
        assert_eq!(refused.len(), 3, "{label}: the three refusals are in the recipient's log");

        // The node's own OpenAPI document covers its API and is valid (openapi-spec-validator).
        let doc = json_of(c.get(format!("{}/openapi.json", kommun.api)).send().await.unwrap()).await;
        for path in [
            "/messages/v1/outbox",
            "/messages/v1/inbox/{id}/ack",
            "/calls/v1/{address}/{service}/{rest}",
            "/subscriptions/v1/events",
            "/messages/v1/attachments",
            "/messages/v1/inbox/{id}/attachments/{n}",
            "/node/v1/inbox",
            "/node/v1/inbox/{id}/attachments/{n}",
        ] {
            assert!(doc["paths"][path].is_object(), "{label}: {path} in the node's OpenAPI document");
        }
        let doc_file = interop.path().join("node-openapi.json");
        std::fs::write(&doc_file, doc.to_string()).unwrap();
        let out =
            Command::new("python3").args(["-m", "openapi_spec_validator"]).arg(&doc_file).output().expect("python3");
        assert!(
            out.status.success(),
            "{label}: openapi-spec-validator (scripts/test installs it): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );

        // Acknowledged messages leave the unread list.
        assert_eq!(
            kommun.post(&c, &format!("/messages/v1/inbox/{id}/ack"), &json!({})).send().await.unwrap().status(),
            204
        );
        assert!(
            json_of(kommun.get(&c, "/messages/v1/inbox").send().await.unwrap()).await["items"]
                .as_array()
                .unwrap()
                .is_empty()
        );

        // Both nodes' logs verify with the audit verifier.
        for n in [&skatt, &kommun] {
            let mut args = vec!["audit".to_owned(), "verify".into(), "--data-dir".into(), n.arg()];
            if let Some(url) = &n.database {
                args.extend(["--database-url".into(), url.clone()]);
            }
            let (ok, out, err) = ena_off_thread(args).await;
            assert!(ok, "{label}: {out}{err}");
        }

        // A synchronous call through both nodes: the answer is the service's, bound to the request.
        let trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let asked = br#"{"personnummer":"201401012383"}"#;
        let r = kommun
            .post_raw(&c, "/calls/v1/202100-5448/inkomster/personer?ar=2026", asked)
            .header("traceparent", trace)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{label}");
        let hash = r.headers()["ena-request-hash"].to_str().unwrap().to_owned();
        let proof = r.headers()["ena-response-proof"].to_str().unwrap().to_owned();
        let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
        let bytes = r.bytes().await.unwrap();
        let answer: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            (answer["pnr"].as_str(), answer["consumer"].as_str()),
            (Some("201401012383"), Some("162120000142")),
            "{label}"
        );
        assert!(
            answer["traceparent"].as_str().unwrap().starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{label}: the trace runs through: {answer}"
        );
        assert_eq!(
            hash,
            ena_messaging::calls::request_hash("POST", "/personer?ar=2026", "application/json", "162120000142", asked)
        );
        let producer = server.state.federation.resolved_metadata(&skatt.entity_id).await.unwrap();
        let p = ena_messaging::calls::CallProof::verify(&proof, &producer["ena_node"]["jwks"]).unwrap();
        assert_eq!(p.request_sha512, hash, "{label}");
        assert_eq!(p.response_sha512, ena_messaging::calls::response_hash(200, &content_type, &bytes), "{label}");
        // Skatteverket's own node is not on the service's list; an unknown service: refused, logged.
        let p = check_problem(
            skatt.post_raw(&c, "/calls/v1/202100-5448/inkomster/personer", asked).send().await.unwrap(),
            403,
            "permission-denied",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("decision point"), "{label}: {p}");
        check_problem(
            kommun.get(&c, "/calls/v1/202100-5448/deklarationer/x").send().await.unwrap(),
            404,
            "resource-not-found",
        )
        .await;
        let p = check_problem(
            kommun.get(&c, "/calls/v1/202100-5448/inkomster/personer%2F..%2Fadmin").send().await.unwrap(),
            400,
            "invalid-parameter",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["path"], "{label}: no way out of the service's base path");
        let p = check_problem(
            kommun.get(&c, "/calls/v1/nonsense/inkomster").send().await.unwrap(),
            400,
            "invalid-parameter",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["address"], "{label}");
        let skatt_store = skatt.store().await;
        let filter = |action: &str| ena_audit::repo::EventFilter { action: Some(action.into()), ..Default::default() };
        assert_eq!(
            ena_audit::repo::query(&skatt_store, &filter("calls.served"), 10, 0).await.unwrap().len(),
            1,
            "{label}"
        );
        assert_eq!(
            ena_audit::repo::query(&skatt_store, &filter("calls.refused"), 10, 0).await.unwrap().len(),
            2,
            "{label}"
        );
        assert_eq!(
            ena_audit::repo::query(&kommun.store().await, &filter("calls.made"), 10, 0).await.unwrap().len(),
            2,
            "{label}"
        );
        // The producer's own service does not answer: 503 to the consumer, named, not a hang or a 500.
        let p = check_problem(
            kommun.get(&c, "/calls/v1/202100-5448/stangd/status").send().await.unwrap(),
            503,
            "service-unavailable",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("stangd"), "{label}: {p}");

        // Attachments: uploaded to the sender's node, sent with a message (encrypted, streamed to the
        // recipient's node over mTLS before the message), read back decrypted from the recipient's node.
        let file: Vec<u8> = (0..200_003u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let upload = |body: Vec<u8>, media_type: Option<&str>| {
            // A refused upload is answered before its body is read, and the server then closes the
            // connection: no reuse, so the next upload does not race that close.
            let mut r = c
                .post(format!("{}/messages/v1/attachments", skatt.api))
                .bearer_auth(&skatt.token)
                .header("connection", "close")
                .body(body);
            if let Some(t) = media_type {
                r = r.header("content-type", t);
            }
            r.send()
        };
        let p = check_problem(upload(file.clone(), None).await.unwrap(), 400, "validation-failed").await;
        assert_eq!(invalid_properties(&p), ["Content-Type"], "{label}: {p}");
        let r = upload(file.clone(), Some("application/pdf")).await.unwrap();
        assert_eq!(r.status(), 201, "{label}");
        let up: Value = r.json().await.unwrap();
        assert_eq!(up["size"], 200_003, "{label}");
        let mut with = message.clone();
        with["attachments"] = json!([{"id": uuid_like(up["id"].as_str().unwrap()), "name": "utredning.pdf"}]);
        let p =
            check_problem(skatt.post(&c, "/messages/v1/outbox", &with).send().await.unwrap(), 400, "validation-failed")
                .await;
        assert_eq!(invalid_properties(&p), ["attachments/0/id"], "{label}: {p}");
        with["attachments"] = json!([{"id": up["id"], "name": "../utredning.pdf"}]);
        let p =
            check_problem(skatt.post(&c, "/messages/v1/outbox", &with).send().await.unwrap(), 400, "validation-failed")
                .await;
        assert_eq!(invalid_properties(&p), ["attachments/0/name"], "{label}: {p}");
        with["attachments"] = json!([{"id": up["id"], "name": "Utredning 2026 (slutlig).pdf"}]);
        let r = skatt.post(&c, "/messages/v1/outbox", &with).send().await.unwrap();
        assert_eq!(r.status(), 201, "{label}");
        let with_id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        wait_status(&skatt, &c, &with_id, "delivered").await;
        let got = json_of(kommun.get(&c, &format!("/messages/v1/inbox/{with_id}")).send().await.unwrap()).await;
        assert_eq!(got["attachments"][0]["size"], 200_003, "{label}: {got}");
        let r = kommun.get(&c, &format!("/messages/v1/inbox/{with_id}/attachments/0")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{label}");
        assert_eq!(r.headers()["content-type"], "application/pdf");
        assert_eq!(
            r.headers()["content-disposition"],
            "attachment; filename=\"Utredning 2026 (slutlig).pdf\"; filename*=UTF-8''Utredning%202026%20%28slutlig%29.pdf",
            "{label}: a plain name for curl -OJ, the exact one in filename*"
        );
        assert!(r.bytes().await.unwrap() == file, "{label}: the attachment reads back as sent");
        check_problem(
            kommun.get(&c, &format!("/messages/v1/inbox/{with_id}/attachments/1")).send().await.unwrap(),
            404,
            "resource-not-found",
        )
        .await;
        // Files on another node's disk: only from the node the federation says holds the certificate, and
        // only under a message id (no path escapes).
        let put = |client: &reqwest::Client, id: &str, sender: &str| {
            client.put(format!("{inbox_url}/{id}/attachments/0")).header("ena-sender-node", sender).body("x").send()
        };
        let p = check_problem(
            put(&as_kommun, &uuid_like(&with_id), &skatt.entity_id).await.unwrap(),
            403,
            "permission-denied",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("certificate"), "{label}: {p}");
        let p = check_problem(
            put(&as_skatt, "..%2F..%2Fnode.db", &skatt.entity_id).await.unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("not an id"), "{label}: {p}");

        // A suspended recipient: refused at once, nothing queued.
        suspend(&server, &kommun.entity_id).await;
        // The sending node reads members' standing from the anchor (test nodes cache it for a second,
        // `--directory-ttl 1`): asked until it refuses, with a deadline, rather than after a sleep as long
        // as the cache (a message the stale cache still took is of no matter here: the test ends).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let refused = loop {
            let r = skatt.post(&c, "/messages/v1/outbox", &message).send().await.unwrap();
            if r.status() == 400 || std::time::Instant::now() > deadline {
                break r;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        let p = check_problem(refused, 400, "validation-failed").await;
        assert_eq!(invalid_properties(&p), ["recipient"], "{label}: {p}");
        assert!(p["detail"].as_str().unwrap().contains("not an active member"), "{label}: {p}");
    }
}

/// Any OpenID Federation implementation can resolve our members: spid-cie-oidc (PyPI, installed by
/// scripts/test in .ci/oidf-venv) starts at the trust anchor, fetches each real node's own entity
/// configuration from its entity id (`https://<host>:<port>/.well-known/openid-federation`), follows its
/// `authority_hints` to the anchor's fetch endpoint and validates the chain; a node not in the
/// federation, or an anchor key it does not hold, gets no chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openid_federation_client_walks_each_members_chain() {
    let python = Path::new(ROOT).join("../../.ci/oidf-venv/bin/python");
    assert!(python.exists(), "spid-cie-oidc is not installed: run scripts/test (it makes .ci/oidf-venv)");
    let script = Path::new(ROOT).join("../../scripts/interop/oidf_chain.py");
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let central_node = server.node_listener().await;
        let (skatt, kommun) = tax_agency_and_municipality(&server, central_node, "", &json!({"type": "object"})).await;
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, server.state.federation.ca_certificate()).unwrap();
        let anchor = server.url("");
        let walk = |leaf: String, pin: Option<std::path::PathBuf>| {
            let (python, script, ca, anchor) = (python.clone(), script.clone(), ca.clone(), anchor.clone());
            tokio::task::spawn_blocking(move || {
                let mut cmd = Command::new(python);
                cmd.arg(script).arg(&anchor).arg(&leaf).env("OIDF_CA", ca);
                if let Some(p) = pin {
                    cmd.arg(p);
                }
                cmd.output().unwrap()
            })
        };
        // The member serves its own configuration, naming the anchor.
        let own = reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(server.state.federation.ca_certificate().as_bytes()).unwrap(),
            )
            .resolve(
                &kommun.entity_id.trim_start_matches("https://").split(':').next().unwrap().to_owned(),
                format!("127.0.0.1:{}", kommun.entity_id.rsplit(':').next().unwrap()).parse().unwrap(),
            )
            .build()
            .unwrap()
            .get(format!("{}/.well-known/openid-federation", kommun.entity_id))
            .send()
            .await
            .unwrap();
        assert_eq!(own.headers()["content-type"], "application/entity-statement+jwt", "{label}");
        assert_eq!(payload(&own.text().await.unwrap())["authority_hints"], json!([anchor.trim_end_matches('/')]));
        for node in [&skatt, &kommun] {
            let out = walk(node.entity_id.clone(), None).await.unwrap();
            assert!(out.status.success(), "{label}: {}: {}", node.entity_id, String::from_utf8_lossy(&out.stderr));
            let resolved: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(resolved["chain_length"], 3, "{label}: {resolved}");
            let published = &resolved["metadata"]["ena_node"];
            assert!(
                published["tls_client_certificate_sha256"].is_string(),
                "{label}: the anchor's override: {resolved}"
            );
            assert!(published["inbox_endpoint"].as_str().unwrap().starts_with(&node.entity_id), "{label}: {resolved}");
        }
        // The anchor reads the configuration from there too (and takes pushes): what the node serves is
        // the one in force, so nothing changes; a member that serves nothing is named.
        assert!(!server.state.federation.refresh_configuration(&kommun.entity_id).await.unwrap(), "{label}");
        // Not a member (nothing answers there), and an anchor key the client does not trust: no chain.
        let out = walk("https://stranger.localhost:9".into(), None).await.unwrap();
        assert!(!out.status.success(), "{label}: a stranger got a chain");
        let other = dir.path().join("other-anchor.json");
        std::fs::write(
            &other,
            json!({"keys": [ena_keys::jose::SigningKey::generate().unwrap().public_jwk()]}).to_string(),
        )
        .unwrap();
        let out = walk(kommun.entity_id.clone(), Some(other)).await.unwrap();
        assert!(!out.status.success(), "{label}: a chain validated against keys that are not the anchor's");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_events_reach_webhooks_and_server_sent_events_on_each_database() {
    use base64::Engine;
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let central_node = server.node_listener().await;
        let (skatt, mut kommun) =
            tax_agency_and_municipality(&server, central_node, "", &json!({"type": "object", "required": ["child"]}))
                .await;
        let c = reqwest::Client::new();

        // The municipality's system takes events by webhook.
        // While `refusing` is set it answers 503 (and counts the refusals).
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, String)>();
        let refusing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let refused = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let hook = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hook_url = format!("http://{}/events", hook.local_addr().unwrap());
        let (refusing_, refused_) = (refusing.clone(), refused.clone());
        let app = axum::Router::new().route(
            "/events",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let (tx, refusing, refused) = (tx.clone(), refusing_.clone(), refused_.clone());
                async move {
                    if refusing.load(std::sync::atomic::Ordering::SeqCst) {
                        refused.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                    }
                    let sig = headers.get("ena-signature").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                    let _ = tx.send((sig, body));
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        );
        tokio::spawn(async move { axum::serve(hook, app).await });
        let bad = check_problem(
            kommun
                .post(&c, "/subscriptions/v1", &json!({"types": ["se.ena.nothing"], "webhook": "ftp://x"}))
                .send()
                .await
                .unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(invalid_properties(&bad), ["types[0]", "webhook"], "{label}");
        let r = kommun
            .post(
                &c,
                "/subscriptions/v1",
                &json!({"types": ["se.ena.message.received", "se.ena.address.changed"], "webhook": hook_url}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{label}");

        // The tax agency's system listens to its node's events as Server-Sent Events.
        let mut sse = skatt.get(&c, "/subscriptions/v1/events").send().await.unwrap();
        assert_eq!(sse.headers()["content-type"], "text/event-stream", "{label}");

        let message = json!({"recipient": "212000-0142:socialtjanst", "messageType": "se.kommun.orosanmalan", "version": "1.0", "payload": {"child": "201401012383"}});
        let sent: Value = skatt.post(&c, "/messages/v1/outbox", &message).send().await.unwrap().json().await.unwrap();
        let id = sent["id"].as_str().unwrap().to_owned();

        // SSE: queued, then delivered.
        let mut seen = String::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !seen.contains("\"delivered\"") && std::time::Instant::now() < deadline {
            if let Ok(Ok(Some(chunk))) = tokio::time::timeout(std::time::Duration::from_secs(1), sse.chunk()).await {
                seen.push_str(&String::from_utf8_lossy(&chunk));
            }
        }
        assert!(
            seen.contains("event: se.ena.message.status")
                && seen.contains(&id)
                && seen.contains("\"queued\"")
                && seen.contains("\"delivered\""),
            "{label}: {seen}"
        );

        // Webhook: the arrival, as a CloudEvent the node signed.
        let (sig, body) =
            tokio::time::timeout(std::time::Duration::from_secs(20), rx.recv()).await.expect("a webhook call").unwrap();
        let event: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (event["specversion"].as_str(), event["type"].as_str()),
            (Some("1.0"), Some("se.ena.message.received")),
            "{label}: {event}"
        );
        assert_eq!(event["data"]["id"], id.as_str());
        let meta = server.state.federation.resolved_metadata(&kommun.entity_id).await.unwrap();
        let signed: Value = {
            let parts: Vec<&str> = sig.split('.').collect();
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap()
        };
        ena_messaging::jws::Unverified::parse(&sig, "ena-event+jws")
            .unwrap()
            .verify::<Value>(&meta["ena_node"]["jwks"])
            .unwrap();
        assert_eq!(
            signed["sha256"],
            ena_messaging::envelope::sha256_b64(body.as_bytes()),
            "{label}: the signature covers this body"
        );

        // The subscription outlives a restart of the node (kill -9).
        kommun.kill_and_restart().await;
        let subs = json_of(kommun.get(&c, "/subscriptions/v1").send().await.unwrap()).await;
        assert_eq!(subs[0]["webhook"], hook_url.as_str(), "{label}: {subs}");

        // An address change in the registry reaches the subscriber too.
        let current = json_of(
            server
                .client
                .get(server.url("/addresses/v1/addresses/2120000142:socialtjanst"))
                .bearer_auth(server.operator_token())
                .send()
                .await
                .unwrap(),
        )
        .await;
        let mut renamed = json!({"kind": current["kind"], "name": "Socialtjänsten (ny)", "node": current["node"],
            "capabilities": current["capabilities"], "encryptionKeys": current["encryptionKeys"]});
        renamed["status"] = json!("active");
        let r = server
            .client
            .put(server.url("/addresses/v1/addresses/2120000142:socialtjanst"))
            .bearer_auth(server.operator_token())
            .json(&renamed)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{label}");
        let mut found = false;
        while let Ok(Some((_, body))) = tokio::time::timeout(std::time::Duration::from_secs(15), rx.recv()).await {
            let e: Value = serde_json::from_str(&body).unwrap();
            // A node announces what changed shortly before it (re)started too, so the address's creation
            // may come first.
            if e["type"] == "se.ena.address.changed"
                && e["subject"] == "162120000142:socialtjanst"
                && e["data"]["change"] == "updated"
            {
                found = true;
                break;
            }
        }
        assert!(found, "{label}: the address change arrived by webhook");

        // A webhook that is down when an event happens: the event is queued in the node's database and
        // still arrives after the node is killed (-9) and restarted.
        refusing.store(true, std::sync::atomic::Ordering::SeqCst);
        let sent: Value = skatt.post(&c, "/messages/v1/outbox", &message).send().await.unwrap().json().await.unwrap();
        let second = sent["id"].as_str().unwrap().to_owned();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while refused.load(std::sync::atomic::Ordering::SeqCst) == 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(refused.load(std::sync::atomic::Ordering::SeqCst) > 0, "{label}: the webhook was tried");
        let store = kommun.store().await;
        while ena_messaging::repo::queued_webhooks(&store).await.unwrap().is_empty() {
            assert!(std::time::Instant::now() < deadline, "{label}: the refused event is queued");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        kommun.kill_and_restart().await;
        refusing.store(false, std::sync::atomic::Ordering::SeqCst);
        // The restarted node tries again after a quarter of the backoff of the attempts made so far (the
        // backoff is at most 1.5 × 2^(n−1) s): wait through that, and 15 s more.
        let attempts = ena_messaging::repo::queued_webhooks(&store).await.unwrap().iter().map(|p| p.attempts).max();
        let backoff = 1.5 * 2f64.powi((attempts.unwrap_or(1) - 1).clamp(0, 10) as i32).min(600.0);
        let wait = std::time::Duration::from_secs_f64(backoff / 4.0 + 15.0);
        let mut arrived = false;
        while let Ok(Some((_, body))) = tokio::time::timeout(wait, rx.recv()).await {
            let e: Value = serde_json::from_str(&body).unwrap();
            if e["type"] == "se.ena.message.received" && e["data"]["id"] == second.as_str() {
                arrived = true;
                break;
            }
        }
        assert!(arrived, "{label}: the queued event arrived after the restart");

        // Unsubscribing: gone from the list, a second time 404, and after a restart still gone.
        let id = subs[0]["id"].as_str().unwrap().to_owned();
        let delete = || c.delete(format!("{}/subscriptions/v1/{id}", kommun.api)).bearer_auth(&kommun.token).send();
        assert_eq!(delete().await.unwrap().status(), 204, "{label}");
        check_problem(delete().await.unwrap(), 404, "resource-not-found").await;
        kommun.kill_and_restart().await;
        let after = json_of(kommun.get(&c, "/subscriptions/v1").send().await.unwrap()).await;
        assert_eq!(after, json!([]), "{label}: the subscription stays removed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ena_demo_runs_a_federation_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let mut child = Command::new(ENA)
        .args(["demo", "--data-dir", data.to_str().unwrap(), "--listen", "127.0.0.1:0", "--node-listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    // Read everything the demo prints (to its end, so it never writes into a closed pipe); go on once it
    // says it is ready.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let lines = tokio::task::spawn_blocking(move || {
        let mut seen = Vec::new();
        while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(120)) {
            let done = line.contains("Ctrl-C stops it all");
            seen.push(line);
            if done {
                break;
            }
        }
        seen
    })
    .await
    .unwrap();
    let text = lines.join("\n");
    assert!(text.contains("ena demo ready"), "{text}");
    let info: Value = serde_json::from_str(&std::fs::read_to_string(data.join("demo.json")).unwrap()).unwrap();
    assert_eq!(info["nodes"].as_array().unwrap().len(), 4);
    let c = reqwest::Client::new();
    // The sample messages were delivered with receipts, and the municipality has its orosanmälan.
    let kommun = info["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["entityId"].as_str().unwrap().starts_with("https://kommun.localhost:"))
        .unwrap();
    let inbox = json_of(
        c.get(format!("{}/messages/v1/inbox", kommun["api"].as_str().unwrap()))
            .bearer_auth(kommun["token"].as_str().unwrap())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(inbox["items"][0]["messageType"], "se.kommun.orosanmalan", "{inbox}");
    let fk = info["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["entityId"].as_str().unwrap().starts_with("https://forsakringskassan.localhost:"))
        .unwrap();
    let sent = json_of(
        c.get(format!("{}/messages/v1/outbox/{}", fk["api"].as_str().unwrap(), info["messages"][0].as_str().unwrap()))
            .bearer_auth(fk["token"].as_str().unwrap())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(sent["status"], "delivered", "{sent}");
    // Its attachment reads back decrypted on the municipality's node.
    let file = c
        .get(format!(
            "{}/messages/v1/inbox/{}/attachments/0",
            kommun["api"].as_str().unwrap(),
            info["messages"][0].as_str().unwrap()
        ))
        .bearer_auth(kommun["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(file.headers()["content-type"], "text/plain; charset=utf-8");
    assert!(file.text().await.unwrap().starts_with("Utredning: barnet"));
    assert!(text.contains("answered 200 OK"), "the sample synchronous call: {text}");
    // Mina meddelanden: four letters went through messaging to the mailbox operator's node and into the
    // central installation's mailbox (each delivered with the operator node's signed receipt); the one to
    // a person not registered for digital mail is on paper, with the reason.
    let letters = info["letters"].as_array().unwrap();
    assert_eq!(letters.len(), 5, "{info}");
    for letter in letters {
        let node = info["nodes"].as_array().unwrap().iter().find(|n| n["entityId"] == letter["node"]).unwrap();
        let url = format!("{}/mail/v1/outbox/{}", node["api"].as_str().unwrap(), letter["id"].as_str().unwrap());
        let mut seen = Value::Null;
        for _ in 0..100 {
            seen = json_of(c.get(&url).bearer_auth(node["token"].as_str().unwrap()).send().await.unwrap()).await;
            if seen["status"] == "delivered" || seen["status"] == "paper" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        if seen["recipient"] == "194702289879" {
            assert_eq!(
                (seen["status"].as_str(), seen["paper"].as_str()),
                (Some("paper"), Some("not-registered")),
                "{seen}"
            );
        } else {
            assert_eq!(seen["status"], "delivered", "{seen}");
            assert!(seen["message"]["receipt"].as_str().is_some_and(|r| r.contains('.')), "{seen}");
            assert!(seen["operator"].as_str().unwrap().starts_with("https://myndighetspost.localhost:"), "{seen}");
        }
    }
    // A repeated submission with the same idempotency key is the same letter (nothing sent twice); the key
    // with another letter is refused; an attachment over the operator's declared limit is refused by name.
    let skatt = info["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["entityId"].as_str().unwrap().starts_with("https://skatteverket."))
        .unwrap();
    let (api, token) = (skatt["api"].as_str().unwrap(), skatt["token"].as_str().unwrap());
    let letter = |subject: &str| json!({"mail": {"recipient": "191212121212", "subject": subject, "body": "Hej"}, "idempotencyKey": "demo-test-1"});
    let send = |body: Value| c.post(format!("{api}/mail/v1/outbox")).bearer_auth(token).json(&body).send();
    let first = send(letter("Samma brev")).await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = json_of(send(letter("Samma brev")).await.unwrap()).await;
    assert_eq!(again["id"], first["id"], "{again}");
    let url = format!("{api}/mail/v1/outbox/{}", first["id"].as_str().unwrap());
    for _ in 0..200 {
        if json_of(c.get(&url).bearer_auth(token).send().await.unwrap()).await["status"] == "delivered" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    check_problem(send(letter("Ett annat brev")).await.unwrap(), 409, "conflict").await;
    let big = vec![0u8; 64 * 1024 * 1024 + 1];
    let upload: Value = c
        .post(format!("{api}/messages/v1/attachments"))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(big)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let too_big = json!({"mail": {"recipient": "191212121212", "subject": "Stor bilaga", "body": "x"},
        "files": [{"id": upload["id"], "name": "stor.bin"}]});
    let p = check_problem(send(too_big).await.unwrap(), 400, "validation-failed").await;
    assert_eq!(p["invalid-parameters"][0]["property"], "mail/attachments/0/size", "{p}");
    let central_db = ena_store::Store::open_sqlite(&data.join("central").join("ena.db")).await.unwrap();
    // The mailbox takes letters once a second.
    let mut stored: Vec<(String, String)> = Vec::new();
    for _ in 0..300 {
        stored = ena_store::with_pool!(&central_db, pool => sqlx::query_as(
            "SELECT recipient, subject FROM mail_messages ORDER BY subject").fetch_all(pool).await)
        .unwrap();
        if stored.len() >= 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(stored.len(), 4 + 1, "the demo's four and the idempotent one, once: {stored:?}");
    assert!(stored.iter().any(|(r, s)| r == "165566778899" && s.starts_with("Påminnelse")), "{stored:?}");
    central_db.close().await;
    // Ctrl-C (SIGINT) stops everything and the process exits cleanly.
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    assert!(status.success(), "exit status {status}");
}

/// With `--features nats`, a node started with `--nats-url` publishes the same events to JetStream.
#[cfg(feature = "nats")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_events_go_to_nats_jetstream() {
    use ena_node::async_nats;
    let Ok(nats_url) = std::env::var("ENA_TEST_NATS_URL") else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI must set ENA_TEST_NATS_URL");
        eprintln!("ENA_TEST_NATS_URL not set: the NATS test did not run");
        return;
    };
    // The central instance's case-event stream lives on the same NATS server; the node's stream must
    // sit beside it (JetStream refuses overlapping subjects, which once kept the node's stream out).
    // The node's stream is made afresh each run, so its creation beside that one is what is tested.
    ena_server::blocks::cases::events::Outlet::open(Some(&nats_url)).await.expect("the case-event stream");
    let js = async_nats::jetstream::new(async_nats::connect(&nats_url).await.unwrap());
    let _ = js.delete_stream(ena_node::events::NATS_STREAM).await;
    let mut server = TestServer::each().await.into_iter().next().unwrap();
    let central_node = server.node_listener().await;
    let (mut skatt, _kommun) = tax_agency_and_municipality(&server, central_node, "", &json!({"type": "object"})).await;
    // Restart the sender with NATS.
    skatt.child.kill().unwrap();
    skatt.child.wait().unwrap();
    let mut cmd = Command::new(ENA);
    cmd.args([
        "node",
        "run",
        "--data-dir",
        &skatt.arg(),
        "--directory-ttl",
        "1",
        "--log",
        "warn",
        "--nats-url",
        &nats_url,
    ]);
    let _ = std::fs::remove_file(skatt.dir.path().join("node.ready.json"));
    skatt.child = cmd.stdout(std::process::Stdio::null()).spawn().unwrap();
    for _ in 0..200 {
        if skatt.dir.path().join("node.ready.json").exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let stream = js.get_stream(ena_node::events::NATS_STREAM).await.expect("the node created the ENA stream");
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            filter_subject: "ena.message.status".into(),
            deliver_policy: async_nats::jetstream::consumer::DeliverPolicy::New,
            ..Default::default()
        })
        .await
        .unwrap();
    let c = reqwest::Client::new();
    let message = json!({"recipient": "212000-0142:socialtjanst", "messageType": "se.kommun.orosanmalan", "version": "1.0", "payload": {}});
    let sent: Value = skatt.post(&c, "/messages/v1/outbox", &message).send().await.unwrap().json().await.unwrap();
    let id = sent["id"].as_str().unwrap().to_owned();
    let mut statuses = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !statuses.contains(&"delivered".to_owned()) && std::time::Instant::now() < deadline {
        use futures_util::StreamExt;
        let mut batch =
            consumer.fetch().max_messages(100).expires(std::time::Duration::from_secs(1)).messages().await.unwrap();
        while let Some(Ok(m)) = batch.next().await {
            let e: Value = serde_json::from_slice(&m.payload).unwrap();
            if e["subject"] == id.as_str() {
                statuses.push(e["data"]["status"].as_str().unwrap().to_owned());
            }
            m.ack().await.unwrap();
        }
    }
    assert_eq!(statuses, ["queued", "delivered"], "the message's status events in JetStream");
}
