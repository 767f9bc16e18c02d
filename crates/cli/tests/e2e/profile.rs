//! Min profil over HTTP on both databases, as its users use it. Tolvan adds contact details and verifies
//! them with the codes the notification sender (a real command) delivers — a guessed code is refused,
//! spent after five tries, a new code too soon is 429 — and sets his preferences. He lets Exempelkommunen
//! get his income data from Skatteverket: a consent for an organisation that is no member, a category
//! Skatteverket keeps none of, or a past end is refused by name; the receipt verifies with jwcrypto and
//! PyJWT against the published keys. Then the municipality's system calls Skatteverket's consent-bound
//! service through the two `ena node` processes: without the consent reference, with a made-up one, and
//! after withdrawal it is refused; with it, Skatteverket's service is told whose data it may give. The
//! use shows in Tolvan's who-read-my-data with its purpose and the calling unit — and so do the nodes'
//! own log entries about him (the call served, a message sent and received), handed over once each.

use super::*;
use crate::nodekit::tax_agency_and_municipality;

const TOLVAN: &str = "191212121212";
const INCOME: &str = "se.skatteverket.inkomst";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_verify_with_codes_and_consents_govern_calls_through_the_nodes() {
    for db in ena_store::testing::test_stores().await {
        let notices = tempfile::tempdir().unwrap();
        let config = ServerConfig {
            notify_command: Some(format!("cat > \"$(mktemp -p {})\"", notices.path().display())),
            ..ServerConfig::default()
        };
        let mut server = TestServer::start_with(db, config).await;
        let label = server.label.clone();
        let central_node = server.node_listener().await;
        // Skatteverket's income service behind its node: it answers for the person the consent names.
        let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream_addr = upstream.local_addr().unwrap();
        let service = axum::Router::new().route(
            "/personer",
            axum::routing::post(|headers: axum::http::HeaderMap| async move {
                let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                axum::Json(json!({"pnr": h("ena-consent-subject"), "consent": h("ena-consent"), "inkomst": 412000}))
            }),
        );
        tokio::spawn(async move { axum::serve(upstream, service).await });
        let produces = format!(
            "\n[[service]]\nid = \"inkomst-samtycke\"\nupstream = \"http://{upstream_addr}\"\nallow = [\"{{kommun}}\"]\nconsent = \"{INCOME}\"\n"
        );
        // The municipality's message type marks the child as the person a concern is about.
        let schema = json!({"type": "object", "properties": {"child": {"type": "string", "x-ena-data-subject": true}}});
        let (skatt, kommun) = tax_agency_and_municipality(&server, central_node, &produces, &schema).await;
        // Skatteverket keeps income data (its system registers in the index; here in-process).
        let item = ena_index::BatchItem {
            delete: false,
            object_type: ena_index::ObjectType::Person,
            object_id: TOLVAN.into(),
            category: INCOME.into(),
            address: Some("202100-5448:inkomst".into()),
            updated_at: None,
            source: None,
        };
        server.state.index.register(&ena_audit::Context::system("test"), "162021005448", &[item]).await.unwrap();

        let tolvan = server.person(TOLVAN, 3).await;
        let send = |method: reqwest::Method, path: &str, body: Option<Value>| {
            let mut r = tolvan.browser.request(method, server.url(path)).header("cookie", &tolvan.cookie);
            if let Some(b) = body {
                r = r.json(&b);
            }
            r.send()
        };
        let post = |path: &str, body: Value| send(reqwest::Method::POST, path, Some(body));
        let get = |path: &str| send(reqwest::Method::GET, path, None);

        // ---- contact details ----
        let p = check_problem(
            post("/profile/v1/my/contacts", json!({"channel": "email", "address": "tolvan"})).await.unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["address"], "{label}");
        let p = check_problem(
            post(
                "/profile/v1/my/contacts",
                json!({"channel": "email", "address": "t@example.se", "organisation": "202100-5521"}),
            )
            .await
            .unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["organisation"], "{label}: not a company he acts for");
        let r =
            post("/profile/v1/my/contacts", json!({"channel": "email", "address": "Tolvan@Example.se"})).await.unwrap();
        assert_eq!(r.status(), 201, "{label}");
        let mail: Value = r.json().await.unwrap();
        let mail_id = mail["id"].as_str().unwrap().to_owned();
        assert!(mail["verifiedAt"].is_null(), "{label}");
        let code = code_for(notices.path(), "Tolvan@example.se").await;
        let verify =
            |id: &str, code: &str| post(&format!("/profile/v1/my/contacts/{id}/verifications"), json!({"code": code}));
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for _ in 0..5 {
            check_problem(verify(&mail_id, wrong).await.unwrap(), 400, "validation-failed").await;
        }
        check_problem(verify(&mail_id, &code).await.unwrap(), 429, "too-many-requests").await;
        check_problem(
            post(&format!("/profile/v1/my/contacts/{mail_id}/codes"), json!({})).await.unwrap(),
            429,
            "too-many-requests",
        )
        .await;
        // Another person cannot reach his contact.
        let anna = server.person("199001012385", 3).await;
        let r = anna
            .browser
            .post(server.url(&format!("/profile/v1/my/contacts/{mail_id}/verifications")))
            .header("cookie", &anna.cookie)
            .json(&json!({"code": code}))
            .send();
        check_problem(r.await.unwrap(), 404, "resource-not-found").await;
        // A phone number verified with its code.
        let r = post("/profile/v1/my/contacts", json!({"channel": "sms", "address": "070-123 45 67"})).await.unwrap();
        let phone: Value = r.json().await.unwrap();
        let code = code_for(notices.path(), "+46701234567").await;
        let done = json_of(verify(phone["id"].as_str().unwrap(), &code).await.unwrap()).await;
        assert!(done["verifiedAt"].is_string(), "{label}: {done}");
        let p = check_problem(
            send(reqwest::Method::PUT, "/profile/v1/my/preferences", Some(json!({"language": "fi", "channel": "fax"})))
                .await
                .unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["language", "channel"], "{label}");
        let prefs = json!({"language": "en", "channel": "sms"});
        let r = send(reqwest::Method::PUT, "/profile/v1/my/preferences", Some(prefs.clone())).await.unwrap();
        assert_eq!(json_of(r).await, prefs, "{label}");
        let listed = json_of(get("/profile/v1/my/contacts").await.unwrap()).await;
        assert_eq!(listed["items"].as_array().unwrap().len(), 2, "{label}: {listed}");

        // ---- consents ----
        let consent = |recipient: &str, category: &str, expires: Option<&str>| {
            let mut c = json!({"recipient": recipient, "holder": "202100-5448", "category": category, "purpose": "Ansökan om bostadsbidrag"});
            if let Some(e) = expires {
                c["expiresAt"] = json!(e);
            }
            c
        };
        for (body, field) in [
            (consent("556677-8899", INCOME, None), "recipient"),
            (consent("212000-0142", "se.skatteverket.skuld", None), "category"),
            (consent("212000-0142", INCOME, Some("2020-01-01T00:00:00Z")), "expiresAt"),
        ] {
            let p = check_problem(post("/profile/v1/my/consents", body).await.unwrap(), 400, "validation-failed").await;
            assert_eq!(invalid_properties(&p), [field], "{label}: {p}");
        }
        let r = post("/profile/v1/my/consents", consent("212000-0142", INCOME, None)).await.unwrap();
        assert_eq!(r.status(), 201, "{label}");
        let given: Value = r.json().await.unwrap();
        let id = given["id"].as_str().unwrap().to_owned();
        assert_eq!(given["status"], "active", "{label}: {given}");
        assert_eq!(
            given["holderName"], "skatteverket.localhost",
            "{label}: the member's name as the federation has it"
        );

        // The receipt: jwcrypto and PyJWT verify it with the keys anyone can fetch.
        let receipt = json_of(get(&format!("/profile/v1/my/consents/{id}/receipt")).await.unwrap()).await;
        assert_eq!(receipt["claims"]["recordId"], id.as_str(), "{label}");
        assert!(receipt["claims"]["withdrawalMethod"].is_string(), "{label}");
        let jwks = json_of(server.client.get(server.url("/profile/v1/jwks")).send().await.unwrap()).await;
        let interop = tempfile::tempdir().unwrap();
        let file = interop.path().join("receipt.json");
        std::fs::write(
            &file,
            json!({"jwks": jwks, "tokens": [{"token": receipt["receipt"], "typ": "ena-consent-receipt+jws"}]})
                .to_string(),
        )
        .unwrap();
        assert!(oidf(&["verify", file.to_str().unwrap()]).contains("\"ok\": true"), "{label}");
        // Anna cannot read it.
        let r = anna
            .browser
            .get(server.url(&format!("/profile/v1/my/consents/{id}/receipt")))
            .header("cookie", &anna.cookie);
        check_problem(r.send().await.unwrap(), 404, "resource-not-found").await;

        // ---- the call through the nodes ----
        let c = reqwest::Client::new();
        let call = |consent: Option<&str>| {
            let mut r = kommun
                .post_raw(&c, "/calls/v1/202100-5448/inkomst-samtycke/personer", b"{}")
                .header("ena-org-unit", "Ekonomiskt%20bist%C3%A5nd");
            if let Some(id) = consent {
                r = r.header("ena-consent", id);
            }
            r.send()
        };
        let p = check_problem(call(None).await.unwrap(), 403, "permission-denied").await;
        assert!(p["detail"].as_str().unwrap().contains("ena-consent"), "{label}: {p}");
        let made_up = uuid::Uuid::now_v7().to_string();
        check_problem(call(Some(&made_up)).await.unwrap(), 403, "permission-denied").await;
        check_problem(call(Some("not-an-id")).await.unwrap(), 403, "permission-denied").await;
        let r = call(Some(&id)).await.unwrap();
        assert_eq!(r.status(), 200, "{label}: {}", r.text().await.unwrap());
        let answer: Value = r.json().await.unwrap();
        assert_eq!((answer["pnr"].as_str(), answer["consent"].as_str()), (Some(TOLVAN), Some(id.as_str())), "{label}");

        // Tolvan sees the use: Skatteverket gave it, to the municipality, for the purpose, by its unit.
        // (An allowed use is logged without waiting for the disk: it may take a moment to show.)
        let mut used = Value::Null;
        for _ in 0..50 {
            let events = json_of(get("/audit/v1/my/events?limit=100").await.unwrap()).await;
            let found = events["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["action"] == "profile.consent.use" && e["outcome"] == "allowed");
            if let Some(e) = found {
                used = e.clone();
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(used.is_object(), "{label}: the allowed consent use is not in Tolvan's events");
        assert_eq!(used["who"], "skatteverket.localhost (202100-5448)", "{label}: {used}");
        assert_eq!(used["recipient"], "kommun.localhost (212000-0142)", "{label}: {used}");
        assert_eq!(used["purpose"], "Ansökan om bostadsbidrag", "{label}: {used}");
        assert_eq!(used["unit"], "Ekonomiskt bistånd", "{label}: {used}");
        let page = get("/mina-sidor/atkomst").await.unwrap().text().await.unwrap();
        assert!(page.contains("Ekonomiskt bistånd") && page.contains("Ansökan om bostadsbidrag"), "{label}");

        // ---- the nodes' own logs reach Min profil ----
        // Skatteverket reports a concern about Tolvan to the municipality. Both nodes log the message with
        // Tolvan as data subject (the type's schema marks the field) and hand those events over, as
        // Skatteverket's node does with the call it served under the consent.
        let message = json!({"recipient": "212000-0142:socialtjanst", "messageType": "se.kommun.orosanmalan", "version": "1.0",
            "payload": {"child": TOLVAN, "concern": "Underrättelse"}});
        let sent = skatt.post(&c, "/messages/v1/outbox", &message).send().await.unwrap();
        assert_eq!(sent.status(), 201, "{label}");
        let sent: Value = sent.json().await.unwrap();
        crate::nodekit::wait_status(&skatt, &c, sent["id"].as_str().unwrap(), "delivered").await;
        let from_nodes = |events: &Value| -> Vec<(String, String)> {
            events["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|e| Some((e["action"].as_str()?.to_owned(), e["reportedBy"].as_str()?.to_owned())))
                .collect()
        };
        let mut seen = Vec::new();
        for _ in 0..100 {
            seen = from_nodes(&json_of(get("/audit/v1/my/events?limit=100").await.unwrap()).await);
            if seen.len() >= 3 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        seen.sort();
        let (skatt_name, kommun_name) = ("skatteverket.localhost (202100-5448)", "kommun.localhost (212000-0142)");
        assert_eq!(
            seen,
            [
                ("calls.served".to_owned(), skatt_name.to_owned()),
                ("messages.queued".to_owned(), skatt_name.to_owned()),
                ("messages.received".to_owned(), kommun_name.to_owned()),
            ],
            "{label}: each node's events about Tolvan, once"
        );
        let page = get("/mina-sidor/atkomst").await.unwrap().text().await.unwrap();
        assert!(page.contains("messages.received") && page.contains("loggat av: kommun.localhost"), "{label}");

        // Handing the same events over again adds nothing; a node may hand over only its own log; an
        // outsider and a logged-in person cannot hand over at all.
        let node_store = skatt.store().await;
        let size = ena_audit::repo::size(&node_store).await.unwrap();
        let own: Vec<Value> = ena_audit::repo::leaves(&node_store, 0, size)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|l| {
                let event: Value = serde_json::from_slice(&l.data).unwrap();
                event.get("dataSubjects").is_some().then(|| json!({"index": l.idx, "event": event}))
            })
            .collect();
        assert_eq!(own.len(), 2, "{label}: Skatteverket's node logged the call and the message about Tolvan");
        let skatt_log = "skatteverket.localhost/log";
        let as_skatt = skatt.tls_client_localhost();
        let hand_over = format!("https://localhost:{}/audit/v1/node-events", central_node.port());
        let again =
            json_of(as_skatt.post(&hand_over).json(&json!({"log": skatt_log, "events": own})).send().await.unwrap())
                .await;
        assert_eq!((again["accepted"].as_u64(), again["repeated"].as_u64()), (Some(0), Some(2)), "{label}: {again}");
        let kommun_log = "kommun.localhost/log";
        let forged = json!({"log": kommun_log, "events": [own[0]]});
        let p = check_problem(as_skatt.post(&hand_over).json(&forged).send().await.unwrap(), 400, "invalid-parameter")
            .await;
        assert_eq!(invalid_properties(&p), ["log"], "{label}: {p}");
        let outsider = reqwest::Client::new().post(server.url("/audit/v1/node-events")).json(&forged).send();
        check_problem(outsider.await.unwrap(), 401, "authentication-required").await;
        let person = tolvan.browser.post(server.url("/audit/v1/node-events")).header("cookie", &tolvan.cookie);
        check_problem(person.json(&forged).send().await.unwrap(), 401, "authentication-required").await;
        let after = from_nodes(&json_of(get("/audit/v1/my/events?limit=100").await.unwrap()).await);
        assert_eq!(after.len(), 3, "{label}: nothing doubled, nothing forged");

        // Withdrawn: the next call is refused, and the receipt's history says so.
        let w = json_of(post(&format!("/profile/v1/my/consents/{id}/withdrawals"), json!({})).await.unwrap()).await;
        assert_eq!(w["status"], "withdrawn", "{label}: {w}");
        let p = check_problem(call(Some(&id)).await.unwrap(), 403, "permission-denied").await;
        assert!(p["detail"].as_str().unwrap().contains("withdrawn"), "{label}: {p}");
        let receipt = json_of(get(&format!("/profile/v1/my/consents/{id}/receipt")).await.unwrap()).await;
        assert_eq!(receipt["claims"]["events"][1]["event"], "withdrawn", "{label}");
        check_problem(
            post(&format!("/profile/v1/my/consents/{id}/withdrawals"), json!({})).await.unwrap(),
            400,
            "validation-failed",
        )
        .await;

        // Min profil in Mina sidor shows both; a form without the session's CSRF token changes nothing.
        let page = get("/mina-sidor/profil?lang=en").await.unwrap().text().await.unwrap();
        assert!(page.contains("+46701234567") && page.contains("Withdrawn"), "{label}");
        let r = tolvan
            .browser
            .post(server.url("/mina-sidor/profil"))
            .header("cookie", &tolvan.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("action=delete-contact&contact={mail_id}&csrf=wrong"))
            .send();
        assert_eq!(r.await.unwrap().status(), 403, "{label}");
        assert_eq!(json_of(get("/profile/v1/my/contacts").await.unwrap()).await["items"].as_array().unwrap().len(), 2);
        drop((skatt, kommun));
    }
}

/// The code the notification sender was given for `address` (the newest), once it has been written.
async fn code_for(dir: &std::path::Path, address: &str) -> String {
    for _ in 0..100 {
        let mut found: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|f| {
                let f = f.ok()?;
                let v: Value = serde_json::from_str(&std::fs::read_to_string(f.path()).ok()?).ok()?;
                if v["kind"] != "verification-code" || v["address"] != address {
                    return None;
                }
                Some((f.metadata().ok()?.modified().ok()?, v["code"].as_str()?.to_owned()))
            })
            .collect();
        found.sort();
        if let Some((_, code)) = found.pop() {
            return code;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no verification code for {address} reached the notification sender");
}
