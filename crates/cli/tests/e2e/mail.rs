//! Mina meddelanden over HTTP on both databases, as its users use it: a mailbox operator joins the
//! federation as `ena_mailbox_operator`; people register in FaR from their portal session (each change
//! signed by the signature service, which anyone can verify), block a sender, register their company with
//! both signatories of a joint firmateckning; an agency's member system asks reachability and learns only
//! what it may; suspending the operator stops FaR pointing at it at once; bad input is refused by name.

use base64::Engine;
use sha2::Digest;

use super::*;

const TOLVAN: &str = "191212121212";
const ANNA: &str = "199001012385";
const BERTIL: &str = "198506151235";
const CECILIA: &str = "194702289879";
/// Andersson & Berg Handelsbolag: Anna and Bertil sign jointly.
const HANDELSBOLAG: &str = "556011-2236";

/// A mailbox operator: a member approved as `ena_mailbox_operator` with its metadata.
pub(crate) fn mailbox_operator(anchor: &str) -> Member {
    let mut m = Member::new("brevlada.exempel.se", anchor);
    m.organisation = "202100-5448".into();
    m.entity_types = json!(["ena_node", "ena_mailbox_operator"]);
    m.extra_metadata = json!({"ena_mailbox_operator": {
        "name": "Exempelbrevlådan", "service_address": "162021005448:brevlada", "max_attachment_bytes": 1_048_576
    }});
    m
}

async fn change(server: &TestServer, p: &Person, body: Value) -> reqwest::Response {
    p.browser
        .post(server.url("/mail/v1/my/registration-changes"))
        .header("cookie", &p.cookie)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn get(server: &TestServer, p: &Person, path: &str) -> reqwest::Response {
    p.browser.get(server.url(path)).header("cookie", &p.cookie).send().await.unwrap()
}

#[tokio::test]
async fn people_register_for_digital_mail_and_senders_learn_only_what_they_may() {
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let fed = server.two_members().await;
        let operator = mailbox_operator(&fed.anchor);
        server.onboard(&operator).await;
        let box_id = operator.id.clone();

        // Anyone lists the operators in good standing.
        let ops = json_of(server.client.get(server.url("/mail/v1/operators")).send().await.unwrap()).await;
        assert_eq!(ops["items"].as_array().unwrap().len(), 1, "{label}: {ops}");
        assert_eq!(ops["items"][0]["serviceAddress"], "162021005448:brevlada", "{label}");

        // Tolvan registers; the change is signed by the signature service for his session.
        let tolvan = server.person(TOLVAN, 3).await;
        let r = change(&server, &tolvan, json!({"action": "register", "operator": box_id})).await;
        assert_eq!(r.status(), 200, "{label}");
        let done = json_of(r).await;
        assert_eq!(
            (done["outcome"].as_str(), done["registration"]["status"].as_str()),
            (Some("done"), Some("active")),
            "{label}"
        );
        let kept = json_of(get(&server, &tolvan, "/mail/v1/my/registration-changes").await).await;
        let signed = &kept["items"][0];
        let sha = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(signed["statement"].as_str().unwrap().as_bytes()));
        let verified = server
            .client
            .post(server.url("/signatures/v1/verify"))
            .json(&json!({"sha256": sha, "signature": signed["signature"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(verified.status(), 200, "{label}: anyone verifies the registration's signature");
        assert_eq!(json_of(verified).await["personalNumber"], TOLVAN, "{label}");

        // Anna registers and blocks agency A; a LoA 2 session, no session, and bad changes are refused.
        let anna = server.person(ANNA, 3).await;
        assert_eq!(
            change(&server, &anna, json!({"action": "register", "operator": box_id})).await.status(),
            200,
            "{label}"
        );
        assert_eq!(
            change(&server, &anna, json!({"action": "block", "sender": "212000-0142"})).await.status(),
            200,
            "{label}"
        );
        let weak = server.person(CECILIA, 2).await;
        let p = check_problem(change(&server, &weak, json!({"action": "deregister"})).await, 403, "permission-denied")
            .await;
        assert!(p["detail"].as_str().unwrap().contains("loa"), "{label}: {p}");
        let anonymous =
            server.client.post(server.url("/mail/v1/my/registration-changes")).json(&json!({"action": "deregister"}));
        check_problem(anonymous.send().await.unwrap(), 401, "authentication-required").await;
        let bad = change(&server, &anna, json!({"action": "register", "operator": "https://nobody.example"})).await;
        let p = check_problem(bad, 400, "validation-failed").await;
        assert_eq!(p["invalid-parameters"][0]["property"], "operator", "{label}");
        let bad = change(&server, &anna, json!({"action": "block", "sender": "12"})).await;
        assert_eq!(
            check_problem(bad, 400, "validation-failed").await["invalid-parameters"][0]["property"],
            "sender",
            "{label}"
        );
        let bad = change(&server, &anna, json!({"action": "register", "operator": box_id, "colour": "red"})).await;
        check_problem(bad, 400, "invalid-body").await;
        let p = check_problem(
            change(&server, &anna, json!({"party": TOLVAN, "action": "deregister"})).await,
            403,
            "permission-denied",
        )
        .await;
        assert!(!p.to_string().contains(TOLVAN), "{label}: the refusal does not echo the number");

        // The company: Anna signs (202, Bertil named as who else may sign), then Bertil completes it.
        let r = change(&server, &anna, json!({"party": HANDELSBOLAG, "action": "register", "operator": box_id})).await;
        assert_eq!(r.status(), 202, "{label}");
        let pending: Value = r.json().await.unwrap();
        assert_eq!(pending["pending"]["possibleSigners"], json!([BERTIL]), "{label}: {pending}");
        let bertil = server.person(BERTIL, 3).await;
        let r =
            change(&server, &bertil, json!({"party": HANDELSBOLAG, "action": "register", "operator": box_id})).await;
        assert_eq!(r.status(), 200, "{label}");
        let company = json_of(get(&server, &bertil, "/mail/v1/my/registration?party=556011-2236").await).await;
        assert_eq!(company["status"], "active", "{label}: {company}");
        check_problem(
            get(&server, &tolvan, "/mail/v1/my/registration-changes?party=556011-2236").await,
            403,
            "permission-denied",
        )
        .await;

        // The sender (agency A's member system) asks; only what it may know.
        let token = fed.token_a().await;
        let ask = |ids: Value| {
            fed.tls_a
                .post(format!("https://{}/mail/v1/reachability", fed.node))
                .bearer_auth(&token)
                .json(&json!({"ids": ids}))
                .send()
        };
        let answer = json_of(ask(json!([TOLVAN, ANNA, CECILIA, "165560112236"])).await.unwrap()).await;
        let items = answer["items"].as_array().unwrap();
        assert_eq!(
            (items[0]["reachable"].as_bool(), items[0]["operator"]["id"].as_str()),
            (Some(true), Some(box_id.as_str())),
            "{label}"
        );
        assert_eq!((items[1]["paper"].as_str(), items[1].get("operator")), (Some("sender-blocked"), None), "{label}");
        assert_eq!(items[2]["paper"], "not-registered", "{label}");
        assert_eq!(
            (items[3]["reachable"].as_bool(), items[3]["readByRepresentatives"].as_bool()),
            (Some(true), Some(true)),
            "{label}"
        );
        // Non-canonical and forged ids are named; over 10 000 refused whole; a person cannot ask.
        let p =
            check_problem(ask(json!(["19121212-1212", "191212121213"])).await.unwrap(), 400, "validation-failed").await;
        let named: Vec<&str> =
            p["invalid-parameters"].as_array().unwrap().iter().map(|x| x["property"].as_str().unwrap()).collect();
        assert_eq!(named, ["ids/0", "ids/1"], "{label}");
        let many: Vec<String> = vec![TOLVAN.to_owned(); 10_001];
        let p = check_problem(ask(json!(many)).await.unwrap(), 400, "validation-failed").await;
        assert_eq!(p["invalid-parameters"][0]["property"], "ids", "{label}");
        let by_person = tolvan
            .browser
            .post(server.url("/mail/v1/reachability"))
            .header("cookie", &tolvan.cookie)
            .json(&json!({"ids": [ANNA]}));
        assert!(by_person.send().await.unwrap().status().is_client_error(), "{label}");

        // Suspending the operator: FaR stops pointing at it at once.
        let suspended = server
            .client
            .post(server.url("/federation/v1/members/suspend"))
            .bearer_auth(server.operator_token())
            .json(&json!({"entityId": box_id, "reason": "test"}))
            .send()
            .await
            .unwrap();
        assert_eq!(suspended.status(), 200, "{label}");
        let answer = json_of(ask(json!([TOLVAN])).await.unwrap()).await;
        assert_eq!(answer["items"][0]["paper"], "operator-unavailable", "{label}");
        let ops = json_of(server.client.get(server.url("/mail/v1/operators")).send().await.unwrap()).await;
        assert!(ops["items"].as_array().unwrap().is_empty(), "{label}");

        // Every change is in the audit log with the person as data subject.
        let n: Vec<(String,)> = ena_store::with_pool!(&server.state.store, pool => sqlx::query_as(
            "SELECT result FROM audit_leaves WHERE action LIKE 'mail.registration.%' ORDER BY idx").fetch_all(pool).await).unwrap();
        let results: Vec<&str> = n.iter().map(|(r,)| r.as_str()).collect();
        assert_eq!(results.len(), 6, "{label}: {results:?}");
        assert_eq!(
            results.iter().filter(|r| **r == "denied").count(),
            1,
            "{label}: Anna's try at Tolvan's registration"
        );
    }
}

/// Letters from Skatteverket's node to the built-in mailbox while the operator's node is killed with
/// SIGKILL and started again: messaging retries, nothing is lost, and each letter is in the mailbox once
/// (the intake takes each delivery once however often it is offered). On both databases; the nodes are
/// `ena node` processes, the operator's made with `--mailbox-operator`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_down_loses_no_letter_and_stores_each_once() {
    use crate::nodekit::{free_port, start_node, start_node_in};
    let stores = ena_store::testing::test_stores().await;
    for db in stores {
        let boxes = tempfile::tempdir().unwrap();
        let box_dir = tempfile::tempdir_in(boxes.path()).unwrap();
        // Each notice in a file of its own: notifications run side by side.
        let notices = boxes.path().join("notices");
        std::fs::create_dir(&notices).unwrap();
        let config = ServerConfig {
            mailbox: Some(ena_server::MailboxSettings { node_dir: box_dir.path().to_owned(), retention_days: 30 }),
            notify_command: Some(format!("cat > \"$(mktemp -p {})\"", notices.display())),
            ..ServerConfig::default()
        };
        let mut server = TestServer::start_with(db, config).await;
        let label = server.label.clone();
        let central_node = server.node_listener().await;
        let mut operator = start_node_in(
            &server,
            central_node,
            box_dir,
            "brevlada.localhost",
            free_port(),
            "202100-6255",
            "",
            &[],
            &["--mailbox-operator", "Exempelbrevlådan"],
        )
        .await;
        let skatt =
            start_node(&server, central_node, "skatteverket.localhost", free_port(), "202100-5448", "", &[]).await;
        let tolvan = server.person(TOLVAN, 3).await;
        let r = change(&server, &tolvan, json!({"action": "register", "operator": operator.entity_id})).await;
        assert_eq!(r.status(), 200, "{label}: {}", r.text().await.unwrap());
        let anna = server.person(ANNA, 3).await;
        let r = change(&server, &anna, json!({"action": "register", "operator": operator.entity_id})).await;
        assert_eq!(r.status(), 200, "{label}: {}", r.text().await.unwrap());

        let c = reqwest::Client::new();
        let post =
            |body: Value| c.post(format!("{}/mail/v1/outbox", skatt.api)).bearer_auth(&skatt.token).json(&body).send();
        // The first letter asks for a signed receipt and takes replies.
        let send = |i: usize| {
            let mut mail = json!({"recipient": TOLVAN, "subject": format!("Brev {i}"), "body": "Hej"});
            if i == 0 {
                (mail["receipt"], mail["replyAllowed"]) = (json!("signed"), json!(true));
            }
            post(json!({"mail": mail, "idempotencyKey": format!("k-{i}")}))
        };
        let mut ids = Vec::new();
        for i in 0..10 {
            let r = send(i).await.unwrap();
            assert_eq!(r.status(), 201, "{label}");
            ids.push(r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
        }
        // Down hard, mid-stream; more letters queue meanwhile (FaR still names the operator).
        operator.child.kill().unwrap();
        operator.child.wait().unwrap();
        for i in 10..20 {
            let r = send(i).await.unwrap();
            assert_eq!(r.status(), 201, "{label}");
            ids.push(r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
        }
        // A repeated submission while it is down is the same letter.
        assert_eq!(json_of(send(15).await.unwrap()).await["id"], ids[15].as_str(), "{label}");
        // A letter to Anna waits too; meanwhile she blocks Skatteverket, so the mailbox will return it.
        let r = post(json!({"mail": {"recipient": ANNA, "subject": "Till Anna", "body": "Hej"}})).await.unwrap();
        assert_eq!(r.status(), 201, "{label}");
        let to_anna: Value = r.json().await.unwrap();
        let r = change(&server, &anna, json!({"action": "block", "sender": "202100-5448"})).await;
        assert_eq!(r.status(), 200, "{label}: {}", r.text().await.unwrap());
        let (child, api) = crate::nodekit::spawn_node(operator.dir.path(), operator.database.as_deref()).await;
        (operator.child, operator.api) = (child, api);

        // Every letter delivered with the operator node's receipt, and in the mailbox once.
        for id in &ids {
            let mut status = Value::Null;
            for _ in 0..600 {
                status = json_of(
                    c.get(format!("{}/mail/v1/outbox/{id}", skatt.api)).bearer_auth(&skatt.token).send().await.unwrap(),
                )
                .await;
                if status["status"] == "delivered" {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            assert_eq!(status["status"], "delivered", "{label}: {status}");
        }
        let mut subjects: Vec<(String,)> = Vec::new();
        for _ in 0..100 {
            subjects = ena_store::with_pool!(&server.state.store, pool => sqlx::query_as(
                "SELECT subject FROM mail_messages WHERE recipient = $1 ORDER BY subject").bind(TOLVAN).fetch_all(pool).await).unwrap();
            if subjects.len() >= 20 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let distinct: std::collections::BTreeSet<&str> = subjects.iter().map(|(s,)| s.as_str()).collect();
        assert_eq!((subjects.len(), distinct.len()), (20, 20), "{label}: each letter once");
        // Tolvan reads them in Mina meddelanden.
        let inbox = json_of(get(&server, &tolvan, "/mail/v1/my/messages?limit=100").await).await;
        assert_eq!(inbox["items"].as_array().unwrap().len(), 20, "{label}");
        receipts_replies_and_notices(&server, &tolvan, &skatt, &operator, &ids, &to_anna, &inbox, &notices).await;
        drop(operator);
        drop(boxes);
    }
}

/// What goes back to the sender and out to the recipient, after the kill test's letters are in: the
/// letter Anna's block turned away comes back `returned` with the operator node's signed receipt; Tolvan
/// opens the letter that asked for a signed receipt (twice: one receipt) and replies to it (a letter that
/// takes no replies, and an empty reply, are refused by name); Skatteverket's node shows the receipt and
/// the reply, and `ena mail verify-receipt` checks every receipt offline with the operator node's keys as
/// `ena federation resolve` gives them — and refuses a receipt of another letter. Each new letter was
/// notified through the notify command, once, with the number in the JSON body.
#[allow(clippy::too_many_arguments)]
async fn receipts_replies_and_notices(
    server: &TestServer,
    tolvan: &Person,
    skatt: &crate::nodekit::NodeProc,
    operator_node: &crate::nodekit::NodeProc,
    ids: &[String],
    to_anna: &Value,
    inbox: &Value,
    notices: &std::path::Path,
) {
    let label = &server.label;
    let operator = operator_node.entity_id.as_str();
    let c = reqwest::Client::new();
    let letter = |id: String| c.get(format!("{}/mail/v1/outbox/{id}", skatt.api)).bearer_auth(&skatt.token).send();
    let until = |want: &'static str| {
        move |v: &Value| v["receipts"].as_array().is_some_and(|r| r.iter().any(|r| r["kind"] == want))
    };
    let mut returned = Value::Null;
    for _ in 0..300 {
        returned = json_of(letter(to_anna["id"].as_str().unwrap().to_owned()).await.unwrap()).await;
        if until("returned")(&returned) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(until("returned")(&returned), "{label}: {returned}");
    assert!(
        returned["receipts"][0]["reason"].as_str().unwrap().contains("does not accept digital mail from this sender"),
        "{label}: {returned}"
    );

    let items = inbox["items"].as_array().unwrap();
    let find =
        |subject: &str| items.iter().find(|m| m["subject"] == subject).unwrap()["id"].as_str().unwrap().to_owned();
    let (first, other) = (find("Brev 0"), find("Brev 1"));
    for _ in 0..2 {
        let opened = json_of(get(server, tolvan, &format!("/mail/v1/my/messages/{first}")).await).await;
        assert_eq!(
            (opened["receipt"].as_str(), opened["replyAllowed"].as_bool()),
            (Some("signed"), Some(true)),
            "{label}"
        );
    }
    let reply = |id: &str, body: &str| {
        tolvan
            .browser
            .post(server.url(&format!("/mail/v1/my/messages/{id}/replies")))
            .header("cookie", &tolvan.cookie)
            .json(&json!({"body": body}))
            .send()
    };
    assert_eq!(reply(&first, "Tack, jag har läst beslutet.").await.unwrap().status(), 201, "{label}");
    let p = check_problem(reply(&other, "Hej").await.unwrap(), 400, "validation-failed").await;
    assert_eq!(p["invalid-parameters"][0]["property"], "messageId", "{label}: {p}");
    let p = check_problem(reply(&first, "  ").await.unwrap(), 400, "validation-failed").await;
    assert_eq!(p["invalid-parameters"][0]["property"], "body", "{label}: {p}");

    let mut seen = Value::Null;
    for _ in 0..300 {
        seen = json_of(letter(ids[0].clone()).await.unwrap()).await;
        if until("opened")(&seen) && !seen["replies"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(seen["receipts"].as_array().unwrap().len(), 1, "{label}: one receipt for two openings: {seen}");
    assert_eq!(seen["receipts"][0]["kind"], "opened", "{label}: {seen}");
    assert_eq!(seen["replies"][0]["from"], TOLVAN, "{label}: {seen}");
    assert_eq!(seen["replies"][0]["body"], "Tack, jag har läst beslutet.", "{label}: {seen}");
    assert_eq!(seen["replies"][0]["subject"], "Svar: Brev 0", "{label}: {seen}");

    // The node makes a receipt once however often it is asked; bad requests are refused by name.
    let ask = |body: Value| {
        c.post(format!("{}/mail/v1/receipts", operator_node.api)).bearer_auth(&operator_node.token).json(&body).send()
    };
    let carrier = seen["message"]["id"].clone();
    let again = ask(json!({"letter": carrier, "kind": "opened", "at": "2026-12-06T10:00:00Z"})).await.unwrap();
    assert_eq!(again.status(), 200, "{label}");
    assert_eq!(again.json::<Value>().await.unwrap()["receipt"], seen["receipts"][0]["receipt"], "{label}");
    for (body, field) in [
        (json!({"letter": carrier, "kind": "lost", "at": "2026-12-06T10:00:00Z"}), "kind"),
        (json!({"letter": carrier, "kind": "opened", "at": "igår"}), "at"),
    ] {
        let p = check_problem(ask(body).await.unwrap(), 400, "validation-failed").await;
        assert_eq!(p["invalid-parameters"][0]["property"], field, "{label}: {p}");
    }
    let unknown =
        ask(json!({"letter": "01a00000-0000-7000-8000-000000000000", "kind": "opened", "at": "2026-12-06T10:00:00Z"}));
    check_problem(unknown.await.unwrap(), 404, "resource-not-found").await;

    // Offline, with the operator node's published keys.
    let dir = tempfile::tempdir().unwrap();
    let (keys, opened_file, returned_file) =
        (dir.path().join("keys.json"), dir.path().join("letter.json"), dir.path().join("returned.json"));
    let base = server.url("");
    // The server answers in this process: the command runs off the test's runtime threads.
    let args = ["federation".to_owned(), "resolve".to_owned(), operator.to_owned(), "--server".to_owned(), base];
    let resolved = tokio::task::spawn_blocking(move || ena(&args.each_ref().map(String::as_str))).await.unwrap();
    assert!(resolved.status.success(), "{label}: {}", String::from_utf8_lossy(&resolved.stderr));
    std::fs::write(&keys, &resolved.stdout).unwrap();
    std::fs::write(&opened_file, seen.to_string()).unwrap();
    std::fs::write(&returned_file, returned.to_string()).unwrap();
    let verify = |file: &std::path::Path| {
        ena(&["mail", "verify-receipt", file.to_str().unwrap(), "--keys", keys.to_str().unwrap()])
    };
    let out = verify(&opened_file);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{label}: {text} {}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("delivery receipt verified") && text.contains("opened receipt verified"), "{label}: {text}");
    let out = verify(&returned_file);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("returned receipt verified"), "{label}: {text}");
    // Another letter's receipt passed off as this one's.
    let mut forged = seen.clone();
    forged["receipts"][0]["receipt"] = returned["receipts"][0]["receipt"].clone();
    std::fs::write(&opened_file, forged.to_string()).unwrap();
    let out = verify(&opened_file);
    assert!(!out.status.success(), "{label}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is for letter"),
        "{label}: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Notifications leave off the intake's path: give the last ones a moment.
    let mut sent: Vec<Value> = Vec::new();
    for _ in 0..50 {
        sent = std::fs::read_dir(notices)
            .unwrap()
            // A notice still being written does not parse yet: counted next time.
            .filter_map(|f| serde_json::from_str(&std::fs::read_to_string(f.ok()?.path()).ok()?).ok())
            .collect();
        if sent.len() >= 20 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(sent.len(), 20, "{label}: one notice per new letter: {sent:?}");
    assert!(
        sent.iter()
            .all(|n| n["recipient"] == TOLVAN && n["link"].as_str().unwrap().starts_with("/mina-sidor/meddelanden/")),
        "{label}: {sent:?}"
    );
}
