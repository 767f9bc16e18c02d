//! Mina ärenden's events in a company's own software, on both databases and with two central
//! instances: an accounting firm's system subscribes for a person's cases — refused until the person
//! gives the firm a mandate in Mina ombud, then CloudEvents arrive by webhook (signed with the anchor's
//! published keys), as Server-Sent Events and on NATS JetStream; each once, however many instances run;
//! none before the case's visibleFrom, none for a service the mandate does not cover, none after the
//! mandate is revoked; bad subscriptions are refused by name.

use super::*;

const PERSON: &str = "191212121212";
/// Eks Redovisningsbyrå AB: the accounting firm whose system follows its clients' cases.
const FIRM: &str = "559900-1129";
const CREATED: &str = "se.ena.cases.case.created.v1";
const TRANSMISSION: &str = "se.ena.cases.transmission.created.v1";

fn case_for(service: &str, key: &str, visible_from: Option<String>) -> Value {
    let mut c = json!({"party": {"kind": "person", "id": PERSON}, "service": service, "status": "in-progress",
        "title": {"sv": "Ansökan om bygglov"}, "idempotencyKey": key});
    if let Some(v) = visible_from {
        c["visibleFrom"] = json!(v);
    }
    c
}

fn rfc3339_in(secs: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(secs);
    t.format(&time::format_description::well_known::Rfc3339).unwrap()
}

/// The webhook receiver: every (signature, body) it is given, in order.
async fn receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<(String, String)>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<(String, String)>();
    let hook = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/events", hook.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/events",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let tx = tx.clone();
            async move {
                let sig = headers.get("ena-signature").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                let _ = tx.send((sig, body));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    tokio::spawn(async move { axum::serve(hook, app).await });
    (url, rx)
}

/// What arrived within `wait`.
async fn drain(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(String, String)>,
    wait: Duration,
) -> Vec<(String, Value, String)> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some((sig, body))) = tokio::time::timeout_at(deadline, rx.recv()).await {
        out.push((sig, serde_json::from_str(&body).unwrap(), body));
    }
    out
}

/// The events of the SSE response read within `wait` (the `data:` lines).
async fn sse_events(r: &mut reqwest::Response, wait: Duration) -> Vec<Value> {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, r.chunk()).await {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text.lines().filter_map(|l| l.strip_prefix("data:")).map(|d| serde_json::from_str(d.trim()).unwrap()).collect()
}

/// The body of a 201.
async fn created(r: reqwest::Response) -> Value {
    assert_eq!(r.status(), 201, "{}", r.url().clone());
    r.json().await.unwrap()
}

fn config() -> ServerConfig {
    #[cfg(feature = "nats")]
    if let Ok(url) = std::env::var("ENA_TEST_NATS_URL") {
        return ServerConfig { nats_url: Some(url), ..ServerConfig::default() };
    }
    ServerConfig::default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_firm_follows_its_clients_cases_once_they_let_it() {
    let with_nats = config().nats_url.is_some();
    if !with_nats {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI must build with nats and set ENA_TEST_NATS_URL");
        eprintln!("ENA_TEST_NATS_URL not set (or built without --features nats): the NATS delivery is not tested");
    }
    for mut server in TestServer::each_with(config()).await {
        let label = server.label.clone();
        // A second instance on the same database runs its own dispatcher all along.
        let second = server.second_instance().await;
        let fed = server.two_members().await;
        let (kommun, kommun_token) = (fed.tls_a.clone(), fed.token_a().await);
        let mut firm = Member::new("redovisning.exempel.se", &fed.anchor);
        firm.organisation = FIRM.into();
        let cert = server.onboard(&firm).await;
        let tls = ena_federation::client::node_client(
            server.state.federation.ca_certificate(),
            &cert,
            &firm.tls.serialize_pem(),
        )
        .unwrap();
        let body = form(&[("grant_type", "client_credentials"), ("audience", &fed.anchor)]);
        let r = post_form(&tls, &format!("https://{}/identity/v1/token", fed.node), body).await;
        let token = json_of(r).await["access_token"].as_str().unwrap().to_owned();
        let url = |path: &str| format!("https://{}{path}", fed.node);
        let subscribe = |body: Value| tls.post(url("/cases/v1/subscriptions")).bearer_auth(&token).json(&body).send();
        let (hook, mut hooked) = receiver().await;
        let follow = json!({"party": {"kind": "person", "id": PERSON}, "delivery": "webhook", "webhook": hook});

        // Not yet: the person has not let the firm follow anything.
        check_problem(subscribe(follow.clone()).await.unwrap(), 403, "permission-denied").await;
        // Bad subscriptions, each named.
        let bad = json!({"party": {"kind": "person", "id": "19121212-1213"}, "types": ["se.ena.cases.nope"], "delivery": "webhook"});
        let p = check_problem(subscribe(bad).await.unwrap(), 400, "validation-failed").await;
        assert_eq!(invalid_properties(&p), ["party/id", "types/0", "webhook"], "{label}");
        let p = check_problem(
            subscribe(json!({"party": {"kind": "person", "id": PERSON}, "delivery": "sse", "webhook": hook}))
                .await
                .unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["webhook"], "{label}");
        let p = check_problem(
            subscribe(json!({"party": {"kind": "person", "id": PERSON}, "delivery": "webhook", "webhook": "ftp://x"}))
                .await
                .unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["webhook"], "{label}");
        if !with_nats {
            let nats = json!({"party": {"kind": "person", "id": PERSON}, "delivery": "nats"});
            let p = check_problem(subscribe(nats).await.unwrap(), 400, "validation-failed").await;
            assert_eq!(invalid_properties(&p), ["delivery"], "{label}");
        }
        let r = tls.get(url("/cases/v1/subscriptions/not-an-id")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(invalid_properties(&check_problem(r, 400, "validation-failed").await), ["subscriptionId"]);

        // Tolvan gives the firm "post och ärenden" (the municipality's cases), in Mina ombud.
        let tolvan = server.person(PERSON, 3).await;
        let grant = json!({"principal": PERSON, "agent": FIRM, "packages": ["post-och-arenden"], "validTo": rfc3339_in(86400 * 30)});
        let r = tolvan
            .browser
            .post(server.url("/representation/v1/mandates"))
            .header("cookie", &tolvan.cookie)
            .json(&grant)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{label}");
        let mandate: Value = r.json().await.unwrap();
        assert_eq!(mandate["status"], "active", "{label}: {mandate}");

        let webhook_sub = created(subscribe(follow.clone()).await.unwrap()).await;
        let sse_sub = created(
            subscribe(json!({"party": {"kind": "person", "id": PERSON}, "types": [TRANSMISSION], "delivery": "sse"}))
                .await
                .unwrap(),
        )
        .await;
        let sse_path = format!("/cases/v1/subscriptions/{}/events", sse_sub["id"].as_str().unwrap());
        let mut sse = tls.get(url(&sse_path)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(sse.headers()["content-type"], "text/event-stream", "{label}");
        let r = tls.get(url(&format!("/cases/v1/subscriptions/{}/events", webhook_sub["id"].as_str().unwrap())));
        check_problem(r.bearer_auth(&token).send().await.unwrap(), 400, "validation-failed").await;
        // The municipality cannot read or end the firm's subscription.
        let other = kommun.get(url(&format!("/cases/v1/subscriptions/{}", webhook_sub["id"].as_str().unwrap())));
        check_problem(other.bearer_auth(&kommun_token).send().await.unwrap(), 404, "resource-not-found").await;
        let listed = json_of(tls.get(url("/cases/v1/subscriptions")).bearer_auth(&token).send().await.unwrap()).await;
        assert_eq!(listed["items"].as_array().unwrap().len(), 2, "{label}: {listed}");
        #[cfg(feature = "nats")]
        let nats = if with_nats {
            use ena_node::async_nats;
            let s = created(
                subscribe(json!({"party": {"kind": "person", "id": PERSON}, "types": [CREATED], "delivery": "nats"}))
                    .await
                    .unwrap(),
            )
            .await;
            let client = async_nats::connect(std::env::var("ENA_TEST_NATS_URL").unwrap()).await.unwrap();
            let js = async_nats::jetstream::new(client);
            let stream = js.get_stream("ENA_CASES").await.expect("the server made the ENA_CASES stream");
            let consumer = stream
                .create_consumer(async_nats::jetstream::consumer::pull::Config {
                    filter_subject: format!("ena.cases.{}", s["id"].as_str().unwrap()),
                    // Idle until read below; an ephemeral consumer is otherwise dropped after 5 s.
                    inactive_threshold: Duration::from_secs(120),
                    ..Default::default()
                })
                .await
                .unwrap();
            Some(consumer)
        } else {
            None
        };

        // The municipality's cases: one now, one visible in 3 s, one in a service the mandate does not cover.
        let post = |body: Value| kommun.post(url("/cases/v1/cases")).bearer_auth(&kommun_token).json(&body).send();
        let now_case = created(post(case_for("kommun/mina-arenden", "ev-1", None)).await.unwrap()).await;
        let later = created(post(case_for("kommun/mina-arenden", "ev-2", Some(rfc3339_in(3)))).await.unwrap()).await;
        let care = created(post(case_for("region/vardarenden", "ev-3", None)).await.unwrap()).await;
        let (now_id, later_id) = (now_case["id"].as_str().unwrap(), later["id"].as_str().unwrap());
        let decision = json!({"kind": "decision", "title": {"sv": "Beslut om bygglov"}});
        let t = kommun.post(url(&format!("/cases/v1/cases/{now_id}/transmissions"))).bearer_auth(&kommun_token);
        assert_eq!(t.json(&decision).send().await.unwrap().status(), 201, "{label}");

        let first = drain(&mut hooked, Duration::from_millis(2000)).await;
        let subjects: Vec<&str> = first.iter().map(|(_, e, _)| e["subject"].as_str().unwrap()).collect();
        assert!(!subjects.contains(&later_id), "{label}: no event before visibleFrom: {subjects:?}");
        assert!(!subjects.contains(&care["id"].as_str().unwrap()), "{label}: not a service the mandate covers");
        let kinds: Vec<&str> = first.iter().map(|(_, e, _)| e["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, [CREATED, TRANSMISSION], "{label}: {first:?}");
        let (sig, event, raw) = &first[0];
        assert_eq!((event["specversion"].as_str(), event["subject"].as_str()), (Some("1.0"), Some(now_id)));
        assert_eq!(event["data"]["service"], "kommun/mina-arenden", "{label}: {event}");
        assert_eq!(first[1].1["data"]["kind"], "decision", "{label}");
        // The signature: a JWS by the trust anchor's published key over the body's SHA-256.
        let ec = server.client.get(server.url("/.well-known/openid-federation")).send().await.unwrap();
        let jwks = payload(&ec.text().await.unwrap())["jwks"].clone();
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            file.path(),
            json!({"jwks": jwks, "tokens": [{"token": sig, "typ": "ena-event+jws"}]}).to_string(),
        )
        .unwrap();
        assert!(
            oidf(&["verify", file.path().to_str().unwrap()]).contains("\"ok\": true"),
            "{label}: jwcrypto verifies it"
        );
        assert_eq!(payload(sig)["sha256"], ena_messaging::envelope::sha256_b64(raw.as_bytes()).as_str(), "{label}");

        // After visibleFrom, the later case's event comes — once, with two dispatchers running.
        let rest = drain(&mut hooked, Duration::from_millis(4000)).await;
        let subjects: Vec<&str> = rest.iter().map(|(_, e, _)| e["subject"].as_str().unwrap()).collect();
        assert_eq!(subjects, [later_id], "{label}: exactly one event each: {rest:?}");

        // The stream: only the transmission; resumable after its id.
        let streamed = sse_events(&mut sse, Duration::from_millis(1000)).await;
        assert_eq!(streamed.len(), 1, "{label}: {streamed:?}");
        assert_eq!((streamed[0]["type"].as_str(), streamed[0]["subject"].as_str()), (Some(TRANSMISSION), Some(now_id)));
        let resumed = tls.get(url(&sse_path)).bearer_auth(&token).header("last-event-id", "999999999");
        let mut resumed = resumed.send().await.unwrap();
        assert!(
            sse_events(&mut resumed, Duration::from_millis(700)).await.is_empty(),
            "{label}: nothing after that id"
        );
        let bad = tls.get(url(&sse_path)).bearer_auth(&token).header("last-event-id", "x").send().await.unwrap();
        assert_eq!(invalid_properties(&check_problem(bad, 400, "validation-failed").await), ["Last-Event-ID"]);

        #[cfg(feature = "nats")]
        if let Some(consumer) = nats {
            use futures_util::StreamExt;
            let mut got = Vec::new();
            let mut batch = consumer.fetch().max_messages(10).expires(Duration::from_secs(2)).messages().await.unwrap();
            while let Some(Ok(m)) = batch.next().await {
                got.push(serde_json::from_slice::<Value>(&m.payload).unwrap()["subject"].as_str().unwrap().to_owned());
                m.ack().await.unwrap();
            }
            assert_eq!(got, [now_id, later_id], "{label}: the created events on JetStream, once each");
        }

        // Each delivery is in the audit log with the person as data subject.
        let found = server
            .client
            .post(server.url("/audit/v1/event-searches"))
            .bearer_auth(server.operator_token())
            .json(&json!({"dataSubject": PERSON, "action": "cases.event.deliver"}))
            .send()
            .await
            .unwrap();
        let found = json_of(found).await;
        assert!(found["items"].as_array().unwrap().len() >= 4, "{label}: {found}");

        // The mandate revoked: the next change reaches no one (checked per event, nothing cached).
        let revoke = format!("/representation/v1/mandates/{}/revoke", mandate["id"].as_str().unwrap());
        let r = tolvan.browser.post(server.url(&revoke)).header("cookie", &tolvan.cookie).json(&json!({})).send().await;
        assert_eq!(r.unwrap().status(), 200, "{label}");
        let r = post(case_for("kommun/mina-arenden", "ev-4", None)).await.unwrap();
        assert_eq!(r.status(), 201, "{label}");
        assert!(drain(&mut hooked, Duration::from_millis(1500)).await.is_empty(), "{label}: revoked, nothing sent");

        // Ended: gone, and a second end is 404.
        let path = url(&format!("/cases/v1/subscriptions/{}", webhook_sub["id"].as_str().unwrap()));
        assert_eq!(tls.delete(&path).bearer_auth(&token).send().await.unwrap().status(), 204, "{label}");
        check_problem(tls.delete(&path).bearer_auth(&token).send().await.unwrap(), 404, "resource-not-found").await;
        drop(second);
    }
}
