//! Mina ärenden over HTTP on both databases, as its users use it: an agency's member system (an
//! identity-bound token) creates a case for a person and one for a company, moves the committed
//! decision date with a reason and posts a decision; the person and the company's signatory see them in
//! one list and open them (the seen-log and the audit log show it); another agency, a stale revision, a
//! transition not allowed, a moved date without a reason, a changed transmission, a representative
//! without the package and malformed filters are refused by name, and nothing changes.

use super::*;

const PERSON: &str = "191212121212";
/// Andersson & Berg HB: Anna is a signatory (holds skatt-och-moms by her role), David has nothing.
const COMPANY: &str = "556011-2236";
const ANNA: &str = "199001012385";
const DAVID: &str = "200107044562";

struct Agency<'a> {
    client: &'a reqwest::Client,
    node: std::net::SocketAddr,
    token: String,
}

impl Agency<'_> {
    fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.node)
    }
    async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.client.post(self.url(path)).bearer_auth(&self.token).json(&body).send().await.unwrap()
    }
    async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).bearer_auth(&self.token).send().await.unwrap()
    }
    async fn patch(&self, path: &str, etag: Option<&str>, body: Value) -> reqwest::Response {
        let mut r = self.client.patch(self.url(path)).bearer_auth(&self.token).json(&body);
        if let Some(e) = etag {
            r = r.header("if-match", e);
        }
        r.send().await.unwrap()
    }
}

fn new_case(party: (&str, &str), service: &str, key: &str) -> Value {
    json!({
        "party": {"kind": party.0, "id": party.1}, "service": service, "status": "in-progress",
        "title": {"sv": "Ansökan om bygglov", "en": "Building permit application"},
        "summary": {"sv": "Vi har tagit emot din ansökan."}, "idempotencyKey": key, "lifeEvent": "bygga-hus",
        "expectedDecision": {"at": "2099-01-31T00:00:00Z", "reason": "Handläggningstiden är normalt åtta veckor."},
        "guiActions": [{"action": "open", "priority": "primary", "title": {"sv": "Öppna"}, "url": "https://e.exempel.se/4711"}]
    })
}

/// The body of a 201.
async fn created(r: reqwest::Response) -> Value {
    assert_eq!(r.status(), 201, "{}", r.url().clone());
    r.json().await.unwrap()
}

async fn my(server: &TestServer, p: &Person, path: &str) -> reqwest::Response {
    p.browser.get(server.url(path)).header("cookie", &p.cookie).send().await.unwrap()
}

#[tokio::test]
async fn an_agency_keeps_cases_and_people_see_theirs_and_those_they_act_for() {
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let fed = server.two_members().await;
        let kommun = Agency { client: &fed.tls_a, node: fed.node, token: fed.token_a().await };
        // Another agency: a member of its own organisation.
        let mut other = Member::new("c.exempel.se", &fed.anchor);
        other.organisation = "202100-5448".into();
        let cert = server.onboard(&other).await;
        let tls_c = ena_federation::client::node_client(
            server.state.federation.ca_certificate(),
            &cert,
            &other.tls.serialize_pem(),
        )
        .unwrap();
        let body = form(&[("grant_type", "client_credentials"), ("audience", &fed.anchor)]);
        let r = post_form(&tls_c, &format!("https://{}/identity/v1/token", fed.node), body).await;
        let token_c = json_of(r).await["access_token"].as_str().unwrap().to_owned();
        let skatt = Agency { client: &tls_c, node: fed.node, token: token_c };

        // Create, and the same idempotency key again is the same case.
        let r = kommun.post("/cases/v1/cases", new_case(("person", PERSON), "kommun/mina-arenden", "bn-1")).await;
        assert_eq!(r.status(), 201, "{label}");
        assert_eq!(r.headers()["etag"], "\"1\"", "{label}");
        let case: Value = r.json().await.unwrap();
        let id = case["id"].as_str().unwrap().to_owned();
        let again = kommun.post("/cases/v1/cases", new_case(("person", PERSON), "kommun/mina-arenden", "bn-1")).await;
        assert_eq!(again.status(), 200, "{label}");
        assert_eq!(json_of(again).await["id"], id.as_str(), "{label}: idempotent");
        let company = created(
            kommun.post("/cases/v1/cases", new_case(("organisation", COMPANY), "skatteverket/moms", "moms-1")).await,
        )
        .await;
        let company_id = company["id"].as_str().unwrap().to_owned();
        let care = created(
            kommun.post("/cases/v1/cases", new_case(("organisation", COMPANY), "region/vardarenden", "vard-1")).await,
        )
        .await;
        let care_id = care["id"].as_str().unwrap().to_owned();

        // Bad input, each named, nothing made or changed.
        let mut bad = new_case(("person", "19121212-1213"), "", "bad-1");
        bad["expectedDecision"] = json!({"at": "2001-01-01T00:00:00Z", "reason": ""});
        let p = check_problem(kommun.post("/cases/v1/cases", bad).await, 400, "validation-failed").await;
        let named = invalid_properties(&p);
        for f in ["party/id", "service", "expectedDecision/at", "expectedDecision/reason"] {
            assert!(named.iter().any(|n| n == f), "{label}: {f} in {named:?}");
        }
        let path = format!("/cases/v1/cases/{id}");
        check_problem(skatt.get(&path).await, 403, "permission-denied").await;
        check_problem(skatt.patch(&path, Some("\"1\""), json!({"status": "awaiting"})).await, 403, "permission-denied")
            .await;
        let p = check_problem(kommun.patch(&path, None, json!({"status": "awaiting"})).await, 400, "invalid-parameter")
            .await;
        assert_eq!(invalid_properties(&p), ["If-Match"], "{label}");
        check_problem(
            kommun.patch(&path, Some("\"7\""), json!({"status": "awaiting"})).await,
            412,
            "precondition-failed",
        )
        .await;
        let no_reason = json!({"expectedDecision": {"at": "2099-02-15T00:00:00Z", "reason": " "}});
        let p = check_problem(kommun.patch(&path, Some("\"1\""), no_reason).await, 400, "validation-failed").await;
        assert_eq!(invalid_properties(&p), ["expectedDecision/reason"], "{label}");
        let past = json!({"expectedDecision": {"at": "2020-02-15T00:00:00Z", "reason": "Fel"}});
        let p = check_problem(kommun.patch(&path, Some("\"1\""), past).await, 400, "validation-failed").await;
        assert_eq!(invalid_properties(&p), ["expectedDecision/at"], "{label}");
        assert_eq!(kommun.get(&path).await.headers()["etag"], "\"1\"", "{label}: nothing changed");

        // The date moves with a reason; its history keeps both.
        let moved = json!({"expectedDecision": {"at": "2099-02-15T00:00:00Z", "reason": "Vi väntar på ett yttrande."}});
        let r = kommun.patch(&path, Some("\"1\""), moved).await;
        assert_eq!(r.status(), 200, "{label}");
        assert_eq!(r.headers()["etag"], "\"2\"", "{label}");

        // A decision decides; transmissions never change; a completed case is not reopened.
        let decision = json!({"kind": "decision", "title": {"sv": "Beslut om bygglov"}, "messageId": "m-1"});
        let t = created(kommun.post(&format!("{path}/transmissions"), decision).await).await;
        let t_path = format!("{path}/transmissions/{}", t["id"].as_str().unwrap());
        assert_eq!(kommun.get(&t_path).await.status(), 200, "{label}");
        let changed =
            kommun.client.put(kommun.url(&t_path)).bearer_auth(&kommun.token).json(&json!({"kind": "information"}));
        check_problem(changed.send().await.unwrap(), 405, "method-not-allowed").await;
        let r = kommun.patch(&path, Some("\"3\""), json!({"status": "completed"})).await;
        assert_eq!(r.status(), 200, "{label}");
        let done = json_of(r).await;
        assert!(done["decidedAt"].is_string(), "{label}: {done}");
        let p = check_problem(
            kommun.patch(&path, Some("\"4\""), json!({"status": "in-progress"})).await,
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["status"], "{label}");

        // The person sees their case in their list and opens it.
        let person = server.person(PERSON, 3).await;
        let list = json_of(my(&server, &person, "/cases/v1/my/cases").await).await;
        let ids: Vec<&str> = list["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [id.as_str()], "{label}: only their own");
        assert_eq!(list["items"][0]["seen"], false, "{label}");
        let opened = json_of(my(&server, &person, &format!("/cases/v1/my/cases/{id}")).await).await;
        assert_eq!(opened["history"]["decisionDates"].as_array().unwrap().len(), 2, "{label}: the date's history");
        assert_eq!(opened["history"]["seen"][0]["person"], "19121212-****", "{label}: masked");

        // Anna, the company's signatory, sees its VAT case but not its care case (no package for it).
        let anna = server.person(ANNA, 3).await;
        let list = json_of(my(&server, &anna, "/cases/v1/my/cases").await).await;
        let ids: Vec<&str> = list["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [company_id.as_str()], "{label}: {list}");
        check_problem(my(&server, &anna, &format!("/cases/v1/my/cases/{care_id}")).await, 404, "resource-not-found")
            .await;
        let opened = json_of(my(&server, &anna, &format!("/cases/v1/my/cases/{company_id}")).await).await;
        assert_eq!(opened["history"]["seen"][0]["onBehalfOf"], "5560112236", "{label}: {opened}");
        // David acts for no one: nothing, and the company's case is not found for him.
        let david = server.person(DAVID, 3).await;
        let list = json_of(my(&server, &david, "/cases/v1/my/cases").await).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 0, "{label}");
        check_problem(
            my(&server, &david, &format!("/cases/v1/my/cases/{company_id}")).await,
            404,
            "resource-not-found",
        )
        .await;

        // The agency sees who opened it; every read is in the audit log with the person as data subject.
        let h = json_of(kommun.get(&format!("{path}/history")).await).await;
        assert_eq!(h["seen"].as_array().unwrap().len(), 1, "{label}");
        let events = server
            .client
            .post(server.url("/audit/v1/event-searches"))
            .bearer_auth(server.operator_token())
            .json(&json!({"dataSubject": PERSON, "action": "cases.case.read"}))
            .send()
            .await
            .unwrap();
        let events = json_of(events).await;
        let readers: Vec<&str> =
            events["items"].as_array().unwrap().iter().map(|e| e["event"]["actor"]["kind"].as_str().unwrap()).collect();
        assert!(readers.contains(&"node") && readers.contains(&"person"), "{label}: {events}");

        // Malformed filters, each named; a cursor continues a page.
        let bad =
            "/cases/v1/my/cases?status=bogus&sort=size&updatedFrom=yesterday&unseen=maybe&organisation=123&cursor=%25";
        let p = check_problem(my(&server, &person, bad).await, 400, "invalid-parameter").await;
        let mut named = invalid_properties(&p);
        named.sort();
        named.dedup();
        assert_eq!(named, ["cursor", "organisation", "sort", "status", "unseen", "updatedFrom"], "{label}");
        created(kommun.post("/cases/v1/cases", new_case(("person", PERSON), "kommun/mina-arenden", "bn-2")).await)
            .await;
        let first = json_of(my(&server, &person, "/cases/v1/my/cases?limit=1").await).await;
        let cursor = first["nextCursor"].as_str().unwrap_or_else(|| panic!("{label}: {first}")).to_owned();
        let second = json_of(my(&server, &person, &format!("/cases/v1/my/cases?limit=1&cursor={cursor}")).await).await;
        assert_ne!(first["items"][0]["id"], second["items"][0]["id"], "{label}");
        assert_eq!(second["hasMore"], false, "{label}");

        // Labels and read marks in bulk; a case not among mine is named.
        let r = person
            .browser
            .post(server.url("/cases/v1/my/label-changes"))
            .header("cookie", &person.cookie)
            .json(&json!({"caseIds": [id, company_id], "label": "archive", "add": true}))
            .send()
            .await
            .unwrap();
        let p = check_problem(r, 400, "validation-failed").await;
        assert_eq!(invalid_properties(&p), ["caseIds"], "{label}: the company's case is not the person's");
        let r = person
            .browser
            .post(server.url("/cases/v1/my/label-changes"))
            .header("cookie", &person.cookie)
            .json(&json!({"caseIds": [id], "label": "archive", "add": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(json_of(r).await["changed"], 1, "{label}");
        let archived = json_of(my(&server, &person, "/cases/v1/my/cases?label=archive").await).await;
        assert_eq!(archived["items"][0]["labels"], json!(["archive"]), "{label}");

        // The portal: the hub, the list and the case page, with the date's history and the seen-log.
        let hub = my(&server, &person, "/mina-sidor").await.text().await.unwrap();
        assert!(hub.contains("/mina-sidor/arenden") && hub.contains("olästa"), "{label}: {hub}");
        let page = my(&server, &person, "/mina-sidor/arenden?lang=en").await.text().await.unwrap();
        assert!(page.contains("Building permit application") && page.contains("yourself"), "{label}");
        let page = my(&server, &person, &format!("/mina-sidor/arenden/{id}")).await.text().await.unwrap();
        assert!(page.contains("Vi väntar på ett yttrande.") && page.contains("19121212-****"), "{label}");
        let bulk = form(&[("csrf", "wrong"), ("id", &id), ("action", "bin")]);
        let r = person
            .browser
            .post(server.url("/mina-sidor/arenden/bulk"))
            .header("cookie", &person.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(bulk)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{label}: no CSRF token, no change");

        // A second instance on the same database answers the same.
        let second = server.second_instance().await;
        let r = second.client.get(second.url("/cases/v1/my/cases")).header("cookie", &person.cookie).send().await;
        let again = json_of(r.unwrap()).await;
        assert_eq!(again["items"].as_array().unwrap().len(), 2, "{label}: {again}");
    }
}

/// The case id travels on messages: Skatteverket's node (by its certificate) keeps a case for a person
/// and sends a message carrying the case's id; once delivered, the message is in the case's history,
/// which the person sees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_delivered_with_a_case_id_joins_that_case() {
    use crate::nodekit::{tax_agency_and_municipality, wait_status};
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let central_node = server.node_listener().await;
        let schema = json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "required": ["child", "concern"],
            "properties": {"child": {"type": "string"}, "concern": {"type": "string"}}});
        let (skatt, _kommun) = tax_agency_and_municipality(&server, central_node, "", &schema).await;
        let as_skatt = skatt.tls_client_localhost();
        let cases = format!("https://localhost:{}/cases/v1/cases", central_node.port());
        let r =
            as_skatt.post(&cases).json(&new_case(("person", PERSON), "skatteverket/moms", "moms-2026")).send().await;
        let case = created(r.unwrap()).await;
        let id = case["id"].as_str().unwrap().to_owned();
        assert_eq!(case["organisation"], "162021005448", "{label}: kept by the node's organisation");

        let c = reqwest::Client::new();
        let message = json!({"recipient": "212000-0142:socialtjanst", "messageType": "se.kommun.orosanmalan", "version": "1.0",
            "payload": {"child": "201401012383", "concern": "Underrättelse"}, "caseId": id});
        let sent = skatt.post(&c, "/messages/v1/outbox", &message).send().await.unwrap();
        let message_id = created(sent).await["id"].as_str().unwrap().to_owned();
        wait_status(&skatt, &c, &message_id, "delivered").await;
        let mut history = Value::Null;
        for _ in 0..100 {
            history = json_of(as_skatt.get(format!("{cases}/{id}/history")).send().await.unwrap()).await;
            if history["transmissions"].as_array().is_some_and(|t| !t.is_empty()) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let t = &history["transmissions"][0];
        assert_eq!(
            (t["kind"].as_str(), t["messageId"].as_str()),
            (Some("message"), Some(message_id.as_str())),
            "{label}"
        );
        let person = server.person(PERSON, 3).await;
        let opened = json_of(my(&server, &person, &format!("/cases/v1/my/cases/{id}")).await).await;
        assert_eq!(
            opened["history"]["transmissions"][0]["messageId"],
            message_id.as_str(),
            "{label}: the party sees it"
        );
    }
}

/// `ena bench cases` runs end to end at a small size, so the figures in docs/benchmarks.md can be
/// measured again, with the plan that says how (a covering index a group of parties); sizes that do
/// not rise and fewer parties than a representative acts for are refused by the flag's name.
#[test]
fn the_cases_bench_runs_small_and_refuses_what_cannot_be_measured() {
    let dir = tempfile::tempdir().unwrap();
    let out = ena(&[
        "bench",
        "cases",
        "--sizes",
        "300,600",
        "--parties",
        "200",
        "--acting-for",
        "3,30",
        "--searches",
        "3",
        "--seconds",
        "1",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("| cases | 3 parties | 30 parties |") && text.contains("| 600 |"), "the table: {text}");
    assert!(text.contains("USING COVERING INDEX cases_party_service_updated"), "the plan: {text}");
    assert!(text.contains("event latency from an update's commit to the webhook"), "{text}");
    for (args, flag) in
        [(vec!["--sizes", "600,300"], "--sizes"), (vec!["--parties", "10", "--acting-for", "100"], "--parties")]
    {
        let out = ena(&[&["bench", "cases"][..], &args].concat());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(flag), "{args:?}: {err}");
    }
}
