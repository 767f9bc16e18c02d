//! Spårbarhet: the transparency log over HTTP and from the CLI, proofs, witnesses, follow-up rules.

use super::*;

#[tokio::test]
async fn audit_api_on_each_database() {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use ena_audit::merkle;
    use ena_audit::note::{NoteVerifier, verify_checkpoint};

    for server in TestServer::each().await {
        let label = server.label.clone();
        let token = server.operator_token();
        let vkey = server.get("/audit/v1/verifier-key").await.text().await.unwrap();
        let verifier = NoteVerifier::parse(&vkey).unwrap();
        let checkpoint = server.get("/audit/v1/checkpoint").await;
        assert!(checkpoint.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        verify_checkpoint(&checkpoint.text().await.unwrap(), &verifier).unwrap();

        // Without the token: 401, and the attempt itself is logged.
        let anonymous = server
            .client
            .post(server.url("/audit/v1/events"))
            .json(&audit_event("case.read", None))
            .send()
            .await
            .unwrap();
        check_problem(anonymous, 401, "authentication-required").await;

        let post =
            |body: Value| server.client.post(server.url("/audit/v1/events")).bearer_auth(&token).json(&body).send();
        let one = post(audit_event("case.read", Some("19121212-1212"))).await.unwrap();
        assert_eq!(one.status(), 201, "{label}");
        let one: Value = one.json().await.unwrap();
        let batch: Value = post(json!([audit_event("case.update", None), audit_event("case.close", None)]))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(batch["count"], 2);
        assert_eq!(batch["firstIndex"].as_u64().unwrap(), one["firstIndex"].as_u64().unwrap() + 1);
        let signed = verify_checkpoint(batch["checkpoint"].as_str().unwrap(), &verifier).unwrap();
        assert_eq!(signed.size, batch["treeSize"].as_u64().unwrap());

        // Bad events name their fields and append nothing.
        let size_before = signed.size;
        let mut bad = audit_event("", Some("19121212-1213"));
        bad["time"] = json!("yesterday");
        let problem = check_problem(post(bad).await.unwrap(), 400, "validation-failed").await;
        assert_eq!(invalid_properties(&problem), ["time", "action", "dataSubjects[0]"]);
        assert!(!problem.to_string().contains("19121212-1213"), "identity numbers are not echoed: {problem}");
        let problem = check_problem(post(json!({"time": 1})).await.unwrap(), 400, "invalid-body").await;
        assert!(!invalid_properties(&problem).is_empty());

        // Every entry carries its exact leaf bytes; the proofs verify against a signed root.
        let index = one["firstIndex"].as_u64().unwrap();
        let entry = json_of(
            server
                .client
                .get(server.url(&format!("/audit/v1/entries/{index}")))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        let data = STANDARD.decode(entry["data"].as_str().unwrap()).unwrap();
        assert_eq!(STANDARD.encode(merkle::leaf_hash(&data)), entry["leafHash"]);
        assert_eq!(entry["event"]["dataSubjects"][0], "191212121212", "normalised to 12 digits");
        let proof =
            json_of(server.get(&format!("/audit/v1/proofs/inclusion?index={index}&treeSize={size_before}")).await)
                .await;
        let hashes: Vec<merkle::Hash> = proof["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| STANDARD.decode(h.as_str().unwrap()).unwrap().try_into().unwrap())
            .collect();
        merkle::verify_inclusion(index, size_before, &merkle::leaf_hash(&data), &hashes, &signed.root).unwrap();
        // The consistency proof from the first checkpoint to this one verifies (RFC 9162 §2.1.4.2).
        let first = json_of(server.get("/audit/v1/proofs/inclusion?index=0&treeSize=1").await).await;
        assert_eq!(first["proof"], json!([]), "a one-leaf tree needs no inclusion proof");
        let consistency =
            json_of(server.get(&format!("/audit/v1/proofs/consistency?from=1&to={size_before}")).await).await;
        assert_eq!(consistency["to"], size_before);
        let path: Vec<merkle::Hash> = consistency["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| STANDARD.decode(h.as_str().unwrap()).unwrap().try_into().unwrap())
            .collect();
        let entry0 =
            json_of(server.client.get(server.url("/audit/v1/entries/0")).bearer_auth(&token).send().await.unwrap())
                .await;
        let root1 = merkle::leaf_hash(&STANDARD.decode(entry0["data"].as_str().unwrap()).unwrap());
        merkle::verify_consistency(1, size_before, &path, &root1, &signed.root).unwrap();
        // And by a Merkle tree implementation that is not ena's; a proof with one bit changed fails there.
        consistent_by_ct_merkle((1, root1), (size_before, signed.root), &consistency["proof"]).unwrap();
        let mut forged = consistency["proof"].clone();
        let first_hash = STANDARD.decode(forged[0].as_str().unwrap()).unwrap();
        forged[0] =
            json!(STANDARD.encode(
                first_hash.iter().enumerate().map(|(i, b)| if i == 0 { b ^ 1 } else { *b }).collect::<Vec<u8>>()
            ));
        assert!(consistent_by_ct_merkle((1, root1), (size_before, signed.root), &forged).is_err(), "{label}");

        for (path, param) in [
            (format!("/audit/v1/proofs/inclusion?index={size_before}&treeSize={size_before}"), "index"),
            (format!("/audit/v1/proofs/inclusion?index=0&treeSize={}", size_before + 1), "treeSize"),
            ("/audit/v1/proofs/inclusion?index=x&treeSize=1".to_owned(), "index"),
            ("/audit/v1/proofs/inclusion?treeSize=1".to_owned(), "index"),
            ("/audit/v1/proofs/consistency?from=0&to=1".to_owned(), "from"),
            ("/audit/v1/proofs/consistency?from=3&to=2".to_owned(), "from"),
            (format!("/audit/v1/proofs/consistency?from=1&to={}", size_before + 5), "to"),
        ] {
            let problem = check_problem(server.get(&path).await, 400, "invalid-parameter").await;
            assert_eq!(invalid_properties(&problem), [param], "{path}");
        }
        check_problem(server.get("/audit/v1/entries/999999").await, 404, "resource-not-found").await;

        // Queries (operator): by correlation id, by data subject in a body (RES.02), by outcome.
        let trace = "00-11112222333344445555666677778888-1111222233334444-01";
        let traced = server
            .client
            .post(server.url("/audit/v1/events"))
            .bearer_auth(&token)
            .header("traceparent", trace)
            .json(&audit_event("case.read", None))
            .send()
            .await
            .unwrap();
        assert_eq!(traced.status(), 201);
        let found = json_of(
            server
                .client
                .get(server.url("/audit/v1/events?correlationId=11112222333344445555666677778888"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            found["items"].as_array().unwrap().len(),
            1,
            "{label}: the request's trace id became the correlation id"
        );
        let by_subject = json_of(
            server
                .client
                .post(server.url("/audit/v1/event-searches"))
                .bearer_auth(&token)
                .json(&json!({"dataSubject": "121212-1212"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(by_subject["items"].as_array().unwrap().len(), 0, "121212-1212 is 2012-12-12, another person");
        let by_subject = json_of(
            server
                .client
                .post(server.url("/audit/v1/event-searches"))
                .bearer_auth(&token)
                .json(&json!({"dataSubject": "19121212-1212"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(by_subject["items"].as_array().unwrap().len(), 1, "{label}");
        let denied = json_of(
            server.client.get(server.url("/audit/v1/events?outcome=denied")).bearer_auth(&token).send().await.unwrap(),
        )
        .await;
        assert_eq!(denied["items"][0]["event"]["actor"]["kind"], "anonymous", "the 401 above is in the log");
        let problem = check_problem(
            server
                .client
                .get(server.url("/audit/v1/events?outcome=maybe&limit=0"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap(),
            400,
            "invalid-parameter",
        )
        .await;
        assert_eq!(invalid_properties(&problem), ["outcome"]);

        // Five denied attempts within a minute raise the shipped denied-burst alert.
        for _ in 0..5 {
            server.client.get(server.url("/audit/v1/alerts")).bearer_auth("wrong").send().await.unwrap();
        }
        let mut alerts = Value::Null;
        for _ in 0..50 {
            alerts =
                json_of(server.client.get(server.url("/audit/v1/alerts")).bearer_auth(&token).send().await.unwrap())
                    .await;
            if !alerts["items"].as_array().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(alerts["items"][0]["event"]["action"], "alert.denied-burst", "{label}: {alerts}");

        // Plan writes are audited.
        let plan = shipped_plan_json();
        let put = server.client.put(server.url("/plan/v1/plan")).bearer_auth(&token).json(&plan).send().await.unwrap();
        assert_eq!(put.status(), 200, "{label}");
        let replaced = json_of(
            server
                .client
                .get(server.url("/audit/v1/events?action=plan.replace"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(replaced["items"][0]["event"]["outcome"]["result"], "allowed");
        check_problem(
            server.client.put(server.url("/plan/v1/plan")).json(&plan).send().await.unwrap(),
            401,
            "authentication-required",
        )
        .await;
    }
}

#[tokio::test]
async fn witness_cosigns_another_nodes_log_over_http() {
    let member = TestServer::start(ena_store::testing::sqlite().await).await;
    let vkey = member.get("/audit/v1/verifier-key").await.text().await.unwrap();
    // A log outside the federation is witnessed only when configured (security.rs: the unlisted one).
    let config = ServerConfig { witnessed_logs: vec![vkey.trim().to_owned()], ..ServerConfig::default() };
    let central = TestServer::start_with(ena_store::testing::sqlite().await, config).await;
    let token = member.operator_token();
    let append = || {
        member
            .client
            .post(member.url("/audit/v1/events"))
            .bearer_auth(&token)
            .json(&audit_event("case.read", None))
            .send()
    };
    let first: Value = append().await.unwrap().json().await.unwrap();
    let cosign = |checkpoint: &str, proof: Value| {
        central
            .client
            .post(central.url("/audit/v1/witness/cosign"))
            .json(&json!({"checkpoint": checkpoint, "verifierKey": vkey.trim(), "proof": proof}))
            .send()
    };
    let r = json_of(cosign(first["checkpoint"].as_str().unwrap(), json!([])).await.unwrap()).await;
    assert!(r["checkpoint"].as_str().unwrap().ends_with(r["cosignature"].as_str().unwrap()));
    for _ in 0..3 {
        append().await.unwrap();
    }
    let now = member.get("/audit/v1/checkpoint").await.text().await.unwrap();
    let proof = json_of(member.get("/audit/v1/proofs/consistency?from=1&to=4").await).await;
    // What the witness is given is checked here by code that is not ena's first.
    let member_key = ena_audit::note::NoteVerifier::parse(&vkey).unwrap();
    let root = |note: &str| ena_audit::note::verify_checkpoint(note, &member_key).unwrap();
    let (was, is) = (root(first["checkpoint"].as_str().unwrap()), root(&now));
    consistent_by_ct_merkle((was.size, was.root), (is.size, is.root), &proof["proof"]).unwrap();
    json_of(cosign(&now, proof["proof"].clone()).await.unwrap()).await;
    // Going back (the first checkpoint again) is a conflict, recorded as an alert at the witness.
    check_problem(cosign(first["checkpoint"].as_str().unwrap(), json!([])).await.unwrap(), 409, "conflict").await;
    let ctoken = central.operator_token();
    let alerts =
        json_of(central.client.get(central.url("/audit/v1/alerts")).bearer_auth(&ctoken).send().await.unwrap()).await;
    assert_eq!(alerts["items"][0]["event"]["action"], "alert.split-view");
    let problem = check_problem(cosign("not a note", json!([])).await.unwrap(), 400, "validation-failed").await;
    assert_eq!(invalid_properties(&problem), ["checkpoint"]);
    let problem = check_problem(cosign(&now, json!(["short"])).await.unwrap(), 400, "invalid-parameter").await;
    assert_eq!(invalid_properties(&problem), ["proof[0]"]);
}

/// Verify a consistency proof (base64 hashes, as the API gives them) from the tree `old` (size, root)
/// to `new` with ct-merkle, an RFC 6962 implementation no one here wrote.
fn consistent_by_ct_merkle(old: (u64, [u8; 32]), new: (u64, [u8; 32]), proof: &Value) -> Result<(), String> {
    use base64::Engine;
    use ct_merkle::{ConsistencyProof, RootHash};
    let mut bytes = Vec::new();
    for h in proof.as_array().ok_or("the proof is not an array")? {
        let hash = base64::engine::general_purpose::STANDARD.decode(h.as_str().ok_or("a hash is not text")?);
        bytes.extend(hash.map_err(|e| e.to_string())?);
    }
    let proof = ConsistencyProof::<sha2::Sha256>::try_from_bytes(bytes).map_err(|e| format!("{e:?}"))?;
    let old = RootHash::<sha2::Sha256>::new(old.1.into(), old.0);
    let new = RootHash::<sha2::Sha256>::new(new.1.into(), new.0);
    new.verify_consistency(&old, &proof).map_err(|e| format!("{e:?}"))
}

/// `ena serve` killed (-9) in the middle of a stream of appends loses no acknowledged event, on SQLite
/// and on PostgreSQL: after a restart the log verifies, its signed tree covers the highest acknowledged
/// index and every acknowledged event is at its own.
#[test]
fn crash_during_appends_loses_no_acknowledged_event_and_verify_passes() {
    let mut databases = vec![("sqlite", Vec::new())];
    match std::env::var("ENA_TEST_POSTGRES_URL") {
        Ok(base) => {
            let url = tokio::runtime::Runtime::new().unwrap().block_on(ena_testkit::postgres_schema_url(&base));
            databases.push(("postgres", vec!["--database-url".to_owned(), url]));
        }
        Err(_) => {
            assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI must set ENA_TEST_POSTGRES_URL");
            eprintln!("ENA_TEST_POSTGRES_URL not set: the PostgreSQL half of the crash test did not run");
        }
    }
    for (label, database) in databases {
        let database: Vec<&str> = database.iter().map(String::as_str).collect();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut served = start_serve(&data, &database, &[]);
        let token = String::from_utf8(ena(&["admin", "token", "--data-dir", data.to_str().unwrap()]).stdout)
            .unwrap()
            .trim()
            .to_owned();
        assert!(token.starts_with("ena_op_"), "{label}: {token}");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writers = stream_appends(served.addr.clone(), token.clone(), stop.clone());
        std::thread::sleep(Duration::from_millis(1500));
        // kill -9 in the middle of the stream.
        served.child.kill().unwrap();
        served.child.wait().unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let acked: Vec<(u64, String)> = writers.into_iter().flat_map(|w| w.join().unwrap()).collect();
        assert!(acked.len() > 20, "{label}: only {} appends were acknowledged before the kill", acked.len());

        // Restart: the log verifies, and every acknowledged event is there at its index.
        let served = start_serve(&data, &database, &[]);
        let mut verify = vec!["audit", "verify", "--data-dir", data.to_str().unwrap()];
        verify.extend(&database);
        let out = ena(&verify);
        assert!(out.status.success(), "{label}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8(out.stdout).unwrap().starts_with("ok: "), "{label}");
        // The signed tree covers the highest acknowledged index, and every acknowledged event is at its own.
        let highest = acked.iter().map(|(i, _)| *i).max().unwrap();
        let (status, checkpoint) = get(&served.addr, "/audit/v1/checkpoint");
        assert_eq!(status, 200, "{label}");
        let note = checkpoint.split("\r\n\r\n").nth(1).unwrap_or_default();
        let size: u64 = note.lines().nth(1).and_then(|l| l.trim().parse().ok()).expect("a tree size in the checkpoint");
        assert!(
            size > highest,
            "{label}: the checkpoint's tree ({size}) covers the highest acknowledged index {highest}"
        );
        for (index, action) in &acked {
            let (status, body) = get_as(&served.addr, &format!("/audit/v1/entries/{index}"), Some(&token));
            assert_eq!(status, 200, "{label}: acknowledged entry {index} is missing");
            assert!(body.contains(action.as_str()), "{label}: entry {index} does not hold {action}");
        }
        sigterm_and_wait(served);
    }
}

#[tokio::test]
async fn tampering_with_the_sqlite_file_is_named_by_verify() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let served = start_serve(&data, &[], &[]);
    let token = String::from_utf8(ena(&["admin", "token", "--data-dir", data.to_str().unwrap()]).stdout)
        .unwrap()
        .trim()
        .to_owned();
    let client = reqwest::Client::new();
    // `ena serve` puts ena's own APIs in the catalog at start (audited): once that is done, this test's
    // events follow at known places.
    for _ in 0..100 {
        let (status, body) = get(&served.addr, "/apis/v1/apis/ena-node");
        if status == 200 && body.contains("\"published\":\"") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, checkpoint) = get(&served.addr, "/audit/v1/checkpoint");
    let note = checkpoint.split("\r\n\r\n").nth(1).unwrap_or_default();
    let base: u64 = note.lines().nth(1).and_then(|l| l.trim().parse().ok()).expect("a tree size in the checkpoint");
    for i in 0..12 {
        let r = client
            .post(format!("http://{}/audit/v1/events", served.addr))
            .bearer_auth(&token)
            .json(&audit_event(&format!("t.{i}"), None))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let data_arg = data.to_str().unwrap().to_owned();
    let verify = || ena(&["audit", "verify", "--data-dir", &data_arg]);
    assert!(verify().status.success());

    let show = ena(&["audit", "show", &(base + 5).to_string(), "--data-dir", &data_arg]);
    assert!(String::from_utf8(show.stdout).unwrap().contains("\"action\": \"t.5\""));
    let tail = String::from_utf8(ena(&["audit", "tail", "-n", "3", "--data-dir", &data_arg]).stdout).unwrap();
    assert_eq!(tail.lines().count(), 3, "{tail}");

    // Edit one stored leaf directly in SQLite, as an intruder with file access would.
    let store = ena_store::Store::open_sqlite(&data.join("ena.db")).await.unwrap();
    ena_store::with_pool!(&store, pool => {
        sqlx::query("UPDATE audit_leaves SET data = replace(data, 't.7', 't.X') WHERE action = 't.7'").execute(pool).await.map(|_| ())
    })
    .unwrap();
    store.close().await;
    let out = verify();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let index = stderr.split("tampering found at index ").nth(1).and_then(|s| s.split(':').next()).map(str::to_owned);
    assert!(stderr.contains("was changed"), "{stderr}");
    let (status, body) = get_as(
        &served.addr,
        &format!("/audit/v1/entries/{}", index.clone().expect("verify names an index")),
        Some(&token),
    );
    assert_eq!(status, 200);
    assert!(body.contains("t.X"), "verify named the edited leaf ({index:?}): {body}");
    sigterm_and_wait(served);
}

#[test]
fn verify_proof_reads_transparency_dev_cases() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/merkle/testdata");
    if !root.is_dir() {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI must have ../shared/testdata");
        eprintln!("!!! {} is missing: verify-proof was NOT tested against the vectors !!!", root.display());
        return;
    }
    for (file, ok) in [
        ("inclusion/1/happy-path.json", true),
        ("inclusion/1/wrong-leaf.json", false),
        ("consistency/1/happy-path.json", true),
        ("consistency/1/swapped-roots.json", false),
    ] {
        let out = ena(&["audit", "verify-proof", "--file", root.join(file).to_str().unwrap()]);
        assert_eq!(out.status.success(), ok, "{file}: {}", String::from_utf8_lossy(&out.stderr));
        if ok {
            assert!(String::from_utf8(out.stdout).unwrap().starts_with("ok"));
        }
    }
    let out = ena(&["audit", "verify-proof", "--file", "/nonexistent.json"]);
    assert!(String::from_utf8(out.stderr).unwrap().contains("cannot read /nonexistent.json"));
}
