//! Attacks from the security review (issue "Security and conformance"), each performed the way a
//! stranger, a member or a logged-in person would — over HTTP or mTLS against a real server — and each
//! answered with a clear refusal that changes nothing. docs/security.md lists every finding with its test.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ena_testkit::TestServer;
use serde_json::{Value, json};

use super::{
    Federated, Member, audit_event, check_problem, invalid_properties, json_of, location, payload, suspend,
    test_eid_until_callback,
};

/// Finding 1: the log's entries hold identity numbers. A stranger who walks the log by index gets leaf
/// hashes (enough to check proofs against the public checkpoint) and no event; the operator gets the
/// whole entry; what the federation publishes about organisations stays readable by anyone.
#[tokio::test]
async fn a_stranger_walking_the_log_reads_no_personal_data() {
    for server in TestServer::each().await {
        let label = &server.label;
        let c = &server.client;
        let token = server.operator_token();
        let posted = c
            .post(server.url("/audit/v1/events"))
            .bearer_auth(&token)
            .json(&audit_event("case.read", Some("19121212-1212")))
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), 201, "{label}");
        let index = posted.json::<Value>().await.unwrap()["firstIndex"].as_u64().unwrap();
        let entry = format!("/audit/v1/entries/{index}");

        let public = c.get(server.url(&entry)).send().await.unwrap();
        assert_eq!(public.status(), 200, "{label}");
        let text = public.text().await.unwrap();
        assert!(!text.contains("191212121212") && !text.contains("case.read"), "{label}: a stranger read {text}");
        let public: Value = serde_json::from_str(&text).unwrap();
        assert!(public.get("data").is_none() && public.get("event").is_none(), "{label}: {public}");

        let full = json_of(c.get(server.url(&entry)).bearer_auth(&token).send().await.unwrap()).await;
        assert_eq!(full["event"]["dataSubjects"][0], "191212121212", "{label}");
        let data = STANDARD.decode(full["data"].as_str().unwrap()).unwrap();
        assert_eq!(STANDARD.encode(ena_audit::merkle::leaf_hash(&data)), public["leafHash"], "{label}");

        // A wrong credential is refused, not quietly answered as a stranger.
        let wrong = c.get(server.url(&entry)).bearer_auth("ena_op_guess").send().await.unwrap();
        check_problem(wrong, 401, "authentication-required").await;

        // What the federation issued about organisations is public: its events can be read and checked.
        // (The anchor issues its entity configuration when it is first asked for.)
        server.get("/.well-known/openid-federation").await;
        let issued = json_of(
            c.get(server.url("/audit/v1/events?action=federation.entity-configuration.issue&limit=1"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        let issued = issued["items"][0]["index"].as_u64().expect("the anchor's configuration is logged");
        let open = json_of(c.get(server.url(&format!("/audit/v1/entries/{issued}"))).send().await.unwrap()).await;
        assert_eq!(open["event"]["action"], "federation.entity-configuration.issue", "{label}: {open}");
    }
}

/// Finding 2: a member approved as `ena_node` publishes a configuration that adds
/// `ena_credential_issuer`, then tries to register an employee credential.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cannot_make_itself_a_credential_issuer() {
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let node = server.node_listener().await;
        let mut member = Member::new("nod-only.exempel.se", &server.url(""));
        member.entity_types = json!(["ena_node"]);
        let cert = server.onboard(&member).await;
        let ca = server.state.federation.ca_certificate().to_owned();
        let tls = ena_federation::client::node_client(&ca, &cert, &member.tls.serialize_pem()).unwrap();

        // The subordinate statement names the approved types.
        let statement = server
            .client
            .get(server.url(&format!("/federation/v1/fetch?sub={}", member.id)))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(payload(&statement)["constraints"]["allowed_entity_types"], json!(["ena_node"]), "{label}");

        let grown = member.configuration_with(&["ena_node", "ena_credential_issuer"], 1);
        let refused = tls
            .put(format!("https://{node}/federation/v1/entity-configuration"))
            .header("content-type", "application/entity-statement+jwt")
            .body(grown)
            .send()
            .await
            .unwrap();
        let problem = check_problem(refused, 400, "validation-failed").await;
        assert_eq!(invalid_properties(&problem), ["entityConfiguration.metadata.ena_credential_issuer"], "{label}");

        // Resolve shows no credential keys for it, and the registry refuses its credentials.
        let resolved = server
            .client
            .get(server.url(&format!("/federation/v1/resolve?sub={}&trust_anchor=http://{}", member.id, server.addr)))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(payload(&resolved)["metadata"].get("ena_credential_issuer").is_none(), "{label}");
        let credential = member.credential_key.sign(
            "ena-employee+jwt",
            &json!({"iss": member.id, "sub": "191212121212", "name": "Tolvan Tolvansson", "jti": "anst-1",
                    "iat": ena_core::time::unix_now(), "exp": ena_core::time::unix_now() + 3600, "ena_roles": ["handläggare"]}),
        );
        let registered = tls
            .post(format!("https://{node}/identity/v1/employee-credentials"))
            .json(&json!({"credential": credential}))
            .send()
            .await
            .unwrap();
        let problem = check_problem(registered, 403, "permission-denied").await;
        assert!(problem["detail"].as_str().unwrap().contains("ena_credential_issuer"), "{label}: {problem}");
    }
}

/// Finding 3: anyone can read a member's older configuration from a resolve response and push it back.
/// Updates must be strictly newer and come over the member's own mTLS connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_configuration_cannot_roll_a_member_back() {
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let Federated { node, a, tls_a, tls_b, .. } = server.two_members().await;
        let old = a.configuration_with(&["ena_node"], -10);
        let put = |client: &reqwest::Client, url: String, body: String| {
            client.put(url).header("content-type", "application/entity-statement+jwt").body(body).send()
        };
        let newer = a.configuration_with(&["ena_node"], 5);
        let ok = put(&tls_a, format!("https://{node}/federation/v1/entity-configuration"), newer).await.unwrap();
        assert_eq!(ok.status(), 204, "{label}: {}", ok.text().await.unwrap());

        // A stranger over plain HTTP, replaying an older one.
        let stranger =
            put(&server.client, server.url("/federation/v1/entity-configuration"), old.clone()).await.unwrap();
        check_problem(stranger, 401, "authentication-required").await;
        // Another member over its own certificate.
        let other =
            put(&tls_b, format!("https://{node}/federation/v1/entity-configuration"), old.clone()).await.unwrap();
        check_problem(other, 403, "permission-denied").await;
        // Not a JWS at all: named, over the member's own connection.
        let malformed =
            put(&tls_a, format!("https://{node}/federation/v1/entity-configuration"), "e30.e30.c2ln".into())
                .await
                .unwrap();
        let malformed = check_problem(malformed, 400, "invalid-body").await;
        assert!(invalid_properties(&malformed)[0].starts_with("header"), "{malformed}");
        // The member itself, with the older one.
        let stale = put(&tls_a, format!("https://{node}/federation/v1/entity-configuration"), old).await.unwrap();
        let problem = check_problem(stale, 409, "conflict").await;
        assert!(problem["detail"].as_str().unwrap().contains("iat"), "{label}: {problem}");
    }
}

/// Finding 4: a suspended member keeps using an mTLS connection it opened while in good standing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_member_is_refused_on_its_open_connection() {
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let Federated { node, a, tls_a, .. } = server.two_members().await;
        let whoami = format!("https://{node}/federation/v1/whoami");
        assert_eq!(tls_a.get(&whoami).send().await.unwrap().status(), 200, "{label}");
        // The pooled client keeps that connection open across the suspension.
        suspend(&server, &a.id).await;
        let after = tls_a.get(&whoami).send().await;
        match after {
            Ok(r) => {
                check_problem(r, 403, "permission-denied").await;
            }
            // Closed by the server on suspension: also a refusal.
            Err(e) => assert!(e.is_request() || e.is_connect(), "{label}: {e}"),
        }
        // The token endpoint's tls_client_auth, on a connection of its own (the refused one was closed).
        let ask = || {
            tls_a
                .post(format!("https://{node}/identity/v1/token"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials")
                .send()
        };
        let token = match ask().await {
            Ok(r) => r,
            Err(_) => ask().await.unwrap(),
        };
        check_problem(token, 403, "permission-denied").await;
    }
}

/// Finding 7: login CSRF. The attacker logs in with their own e-ID up to the callback and sends the
/// callback URL to a victim, whose browser would otherwise be logged in as the attacker.
#[tokio::test]
async fn a_callback_opened_in_another_browser_logs_no_one_in() {
    for server in TestServer::each().await {
        let label = &server.label;
        let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let (callback, _attackers_cookie) =
            test_eid_until_callback(&server, &c, "191212121212", 3, "%2Fmina-sidor").await;
        // The victim's browser has no login cookie of this login.
        let victim = c.get(&callback).send().await.unwrap();
        assert_eq!(victim.status(), 400, "{label}: the victim was logged in as the attacker");
        assert!(victim.headers().get("set-cookie").is_none_or(|v| !v.to_str().unwrap().starts_with("ena_session=")));
        let problem: Value = victim.json().await.unwrap();
        assert_eq!(invalid_properties(&problem), ["state"], "{label}: {problem}");
        // A login cookie of another login does not fit either.
        let (callback, _) = test_eid_until_callback(&server, &c, "191212121212", 3, "%2Fmina-sidor").await;
        let (_, other) = test_eid_until_callback(&server, &c, "191212121212", 3, "%2Fmina-sidor").await;
        let mixed = c.get(&callback).header("cookie", other).send().await.unwrap();
        assert_eq!(mixed.status(), 400, "{label}");
        let problem: Value = mixed.json().await.unwrap();
        assert_eq!(invalid_properties(&problem), ["state"], "{label}: refused for its state: {problem}");
    }
}

/// Finding 8: an open redirect after login through a tab the browser strips (`/\t/evil.example`).
#[tokio::test]
async fn the_return_address_after_login_stays_on_this_site() {
    for server in TestServer::each().await {
        let label = &server.label;
        let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        for evil in
            ["/%09/evil.example", "/%0A/evil.example", "//evil.example", "/%5Cevil.example", "https://evil.example"]
        {
            let page = c.get(server.url(&format!("/login?return={evil}"))).send().await.unwrap().text().await.unwrap();
            assert!(!page.contains("evil.example"), "{label}: the login page kept {evil}");
            let (callback, cookie) = test_eid_until_callback(&server, &c, "191212121212", 3, evil).await;
            let done = c.get(callback).header("cookie", cookie).send().await.unwrap();
            assert_eq!((done.status().as_u16(), location(&done)), (303, "/mina-sidor".to_owned()), "{label}: {evil}");
        }
        // An ordinary local return address is kept.
        let (callback, cookie) = test_eid_until_callback(&server, &c, "191212121212", 3, "%2Fombud%3Flang%3Den").await;
        let done = c.get(callback).header("cookie", cookie).send().await.unwrap();
        assert_eq!(location(&done), "/ombud?lang=en", "{label}");
    }
}

/// Finding 11: the first caller to name an origin pinned the key for it. A log that is neither a
/// member node's (its published `log_verifier_key`) nor configured is refused, and pins nothing.
#[tokio::test]
async fn a_stranger_cannot_squat_an_origin_at_the_witness() {
    let stranger = TestServer::start(ena_store::testing::sqlite().await).await;
    let witness = TestServer::start(ena_store::testing::sqlite().await).await;
    let token = stranger.operator_token();
    let appended: Value = stranger
        .client
        .post(stranger.url("/audit/v1/events"))
        .bearer_auth(&token)
        .json(&audit_event("case.read", None))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let vkey = stranger.get("/audit/v1/verifier-key").await.text().await.unwrap();
    let refused = witness
        .client
        .post(witness.url("/audit/v1/witness/cosign"))
        .json(&json!({"checkpoint": appended["checkpoint"], "verifierKey": vkey.trim(), "proof": []}))
        .send()
        .await
        .unwrap();
    let problem = check_problem(refused, 403, "permission-denied").await;
    assert_eq!(invalid_properties(&problem), ["verifierKey"]);
    // Nothing was pinned: the witness has no state for that origin.
    let origin = vkey.split('+').next().unwrap().to_owned();
    let pinned = ena_audit::repo::witnessed(&witness.db.store, &origin).await.unwrap();
    assert!(pinned.is_none(), "the refused log pinned its key: {pinned:?}");
}

/// Finding 6: identity numbers in URLs — paths and query strings — are refused before routing, on every
/// route, without echoing the number; the places that took them in a URL take them in a body instead.
#[tokio::test]
async fn identity_numbers_in_urls_are_refused_and_bodies_take_them() {
    for server in TestServer::each().await {
        let label = &server.label;
        let c = &server.client;
        let token = server.operator_token();
        for (url, field) in [
            ("/addresses/v1/addresses/191212121212", "path"),
            ("/addresses/v1/addresses/19121212-1212", "path"),
            ("/addresses/v1/addresses?identifier=191212121212", "identifier"),
            ("/audit/v1/events?dataSubject=19121212-1212", "dataSubject"),
            ("/representation/v1/mandates?party=191212121212", "party"),
            ("/mina-sidor/ombud?party=191212121212", "party"),
            ("/no/such/route/191212121212", "path"),
        ] {
            let r = c.get(server.url(url)).bearer_auth(&token).send().await.unwrap();
            let problem = check_problem(r, 400, "invalid-parameter").await;
            assert_eq!(invalid_properties(&problem), [field], "{label}: {url}");
            assert!(!problem.to_string().contains("1212121212"), "{label}: {url} echoed: {problem}");
        }
        // Organisation numbers and ids are not identity numbers.
        let org = c.get(server.url("/addresses/v1/addresses/2120000142")).bearer_auth(&token).send().await.unwrap();
        let problem = check_problem(org, 404, "resource-not-found").await;
        assert!(
            problem["detail"].as_str().unwrap().contains("no address"),
            "{label}: looked up, not refused: {problem}"
        );

        // A person's address: published, read and removed with the number in the body.
        let key = json!({"kty": "OKP", "crv": "X25519", "x": STANDARD.encode([7u8; 32]).replace('=', "").replace('+', "-").replace('/', "_"), "kid": "k1"});
        let person = json!({"personalNumber": "19121212-1212",
                            "address": {"kind": "person", "name": "Tolvan Tolvansson", "node": "https://nobody.example", "encryptionKeys": [key]}});
        let put =
            c.put(server.url("/addresses/v1/person-addresses")).bearer_auth(&token).json(&person).send().await.unwrap();
        // No member node https://nobody.example: refused naming the field, and the number is not echoed.
        let problem = check_problem(put, 400, "validation-failed").await;
        assert!(invalid_properties(&problem).contains(&"node".to_owned()), "{label}: {problem}");
        assert!(!problem.to_string().contains("1212121212"), "{label}: {problem}");
        let lookup = c
            .post(server.url("/addresses/v1/address-lookups"))
            .bearer_auth(&token)
            .json(&json!({"address": "19121212-1212"}))
            .send()
            .await
            .unwrap();
        check_problem(lookup, 404, "resource-not-found").await;
        let bad = c
            .put(server.url("/addresses/v1/person-addresses"))
            .bearer_auth(&token)
            .json(&json!({"personalNumber": "2120000142", "address": person["address"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(invalid_properties(&check_problem(bad, 400, "validation-failed").await), ["personalNumber"]);
    }
}

/// Finding 6, the log: `ena serve`'s request log names the route template, never the path or query.
#[test]
fn the_request_log_names_the_route_not_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let served = super::start_serve(&dir.path().join("data"), &["--log-level", "info"], &[]);
    for path in [
        "/addresses/v1/addresses/2120000142",
        "/addresses/v1/addresses/191212121212",
        "/plan/v1/blocks/identitet?lang=en",
        "/audit/v1/events?dataSubject=191212121212",
    ] {
        super::get(&served.addr, path);
    }
    let (_, lines) = super::sigterm_and_wait(served);
    let log = lines.join("\n");
    assert!(log.contains("/addresses/v1/addresses/{address}"), "the route template is logged: {log}");
    assert!(log.contains("/plan/v1/blocks/{id}"), "{log}");
    for secret in ["191212121212", "2120000142", "identitet", "lang=en"] {
        assert!(!log.contains(secret), "{secret} reached the log: {log}");
    }
}

/// Finding 9: a member on another member's host, or on the anchor's, would hold a certificate naming
/// that host and could act as it over TLS. One member per host; never the anchor's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organisation_cannot_join_on_a_host_already_in_use() {
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let Federated { a, .. } = server.two_members().await;
        let c = &server.client;
        let agreement = json_of(c.get(server.url("/federation/v1/agreement")).send().await.unwrap()).await["version"]
            .as_i64()
            .unwrap();
        let anchor_host = server.addr.ip().to_string();
        for host in [
            format!("{}/other", a.id.trim_start_matches("https://")),
            "A.EXEMPEL.SE/x".to_owned(),
            anchor_host,
            "localhost".into(),
        ] {
            let mut squatter = Member::new(&host, &server.url(""));
            squatter.organisation = "556677-8899".into();
            let mut body = squatter.application(agreement, "");
            body["trustMarks"] = json!([]);
            body["keyRequest"] = json!(squatter.csr(host.split('/').next().unwrap()));
            let r = c.post(server.url("/federation/v1/applications")).json(&body).send().await.unwrap();
            let problem = check_problem(r, 400, "validation-failed").await;
            assert!(invalid_properties(&problem).contains(&"entityId".to_owned()), "{label}: {host}: {problem}");
        }
    }
}

/// Finding 9: a node reaches another only over the certificate the federation publishes for it. A
/// certificate the CA issued for the same name to someone else (mis-issuance, a man in the middle with
/// the CA's key) fails the handshake once the host is pinned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_host_with_another_certificate_fails_the_handshake() {
    let mut server = TestServer::start(ena_store::testing::sqlite().await).await;
    let Federated { node, cert_a, a, .. } = server.two_members().await;
    let ca = server.state.federation.ca_certificate().to_owned();
    let url = format!("https://localhost:{}/federation/v1/whoami", node.port());
    let pinned = |pins: std::sync::Arc<ena_federation::client::Pins>| {
        ena_federation::client::node_client_builder_pinned(&ca, &cert_a, &a.tls.serialize_pem(), pins)
            .unwrap()
            .tls_info(true)
            .build()
            .unwrap()
    };
    // Unpinned: the CA's word is enough; learn the certificate the listener serves.
    let open = pinned(Default::default()).get(&url).send().await.unwrap();
    assert_eq!(open.status(), 200);
    let served = open.extensions().get::<reqwest::tls::TlsInfo>().and_then(|t| t.peer_certificate()).unwrap().to_vec();
    let right = std::sync::Arc::new(ena_federation::client::Pins::default());
    right.set("localhost", &ena_federation::ca::thumbprint(&served));
    assert_eq!(pinned(right).get(&url).send().await.unwrap().status(), 200, "the published certificate is taken");
    let wrong = std::sync::Arc::new(ena_federation::client::Pins::default());
    wrong.set("LOCALHOST", &ena_federation::ca::thumbprint(b"another certificate"));
    let e = pinned(wrong).get(&url).send().await.unwrap_err();
    assert!(e.is_connect() || e.is_request(), "{e}");
}

/// Finding 9: the registry's answers are signed by the trust anchor, and nodes take the signed copy —
/// a man in the middle of the channel cannot swap a recipient's encryption key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn address_answers_are_signed_by_the_anchor_and_a_swapped_one_is_refused() {
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let Federated { node, a, tls_a, .. } = server.two_members().await;
        let token = server.operator_token();
        let key =
            json!({"kty": "OKP", "crv": "X25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo", "kid": "k1"});
        let put = server
            .client
            .put(server.url("/addresses/v1/addresses/2120000142"))
            .bearer_auth(&token)
            .json(&json!({"kind": "organisation", "name": "Exempelkommunen", "node": a.id, "encryptionKeys": [key]}))
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 201, "{label}: {}", put.text().await.unwrap());
        let answer = tls_a
            .post(format!("https://{node}/addresses/v1/address-lookups"))
            .json(&json!({"address": "2120000142"}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{label}");
        let signed = answer.headers()["ena-signed-answer"].to_str().unwrap().to_owned();
        let body: Value = answer.json().await.unwrap();
        let ec = payload(&server.get("/.well-known/openid-federation").await.text().await.unwrap());
        let anchor = ec["iss"].as_str().unwrap();
        let verified = ena_node::directory::verify_signed_address(&signed, anchor, &ec["jwks"]).unwrap();
        assert_eq!(serde_json::to_value(&verified).unwrap(), body, "{label}: the signed copy is the answer");

        // Swapped key in the signed copy, no signature, or signed by someone else: refused.
        let mut parts: Vec<String> = signed.split('.').map(str::to_owned).collect();
        let mut claims = payload(&signed);
        claims["encryptionKeys"][0]["x"] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
        let swapped = parts.join(".");
        assert!(ena_node::directory::verify_signed_address(&swapped, anchor, &ec["jwks"]).is_err(), "{label}");
        assert!(ena_node::directory::verify_signed_address("", anchor, &ec["jwks"]).is_err(), "{label}");
        let stranger = ena_keys::jose::SigningKey::generate().unwrap();
        let forged = stranger.sign("ena-address+jwt", &claims);
        let e = ena_node::directory::verify_signed_address(&forged, anchor, &ec["jwks"]).unwrap_err();
        assert!(e.contains("signed answer"), "{label}: {e}");
    }
}

/// Operators are persons: operator actions are done by a person logged in with e-ID at LoA 3 whom a
/// policy of the decision point lets operate the API, and every event names the person; the shared
/// token stays for bootstrap and automation and is named `operator-token`.
#[tokio::test]
async fn operators_are_persons_with_a_role_from_the_decision_point() {
    for server in TestServer::each().await {
        let label = server.label.clone();
        let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let token = server.operator_token();
        let tolvan = super::test_eid_login(&server, &c, "191212121212", 3).await.unwrap();
        let members = server.url("/federation/v1/members");

        // Logged in, but no policy names her: refused, and the refusal names her.
        let r = c.get(&members).header("cookie", &tolvan).send().await.unwrap();
        let p = check_problem(r, 403, "permission-denied").await;
        assert!(p["detail"].as_str().unwrap().contains("operator role"), "{label}: {p}");

        // The bootstrap token grants the role through the decision point.
        let grant = |id: &str, person: &str| {
            c.put(server.url(&format!("/access/v1/policies/{id}")))
                .bearer_auth(&token)
                .json(&json!({"resource": "api", "description": "federation operator",
                              "text": format!("permit (principal == Ena::Person::\"{person}\", action == Ena::Action::\"operate\", resource is Ena::Api);")}))
                .send()
        };
        assert!(grant("operator-tolvan", "191212121212").await.unwrap().status().is_success(), "{label}");
        assert_eq!(c.get(&members).header("cookie", &tolvan).send().await.unwrap().status(), 200, "{label}");

        // A decision with her session: the CSRF token is needed, and the events name her.
        let agreement = json_of(c.get(server.url("/federation/v1/agreement")).send().await.unwrap()).await["version"]
            .as_i64()
            .unwrap();
        let applicant = Member::new("ansokan.exempel.se", &server.url(""));
        let mut body = applicant.application(agreement, "");
        body["trustMarks"] = json!([]);
        let app: Value =
            c.post(server.url("/federation/v1/applications")).json(&body).send().await.unwrap().json().await.unwrap();
        let approve = server.url(&format!("/federation/v1/applications/{}/approve", app["id"].as_str().unwrap()));
        let p =
            check_problem(c.post(&approve).header("cookie", &tolvan).send().await.unwrap(), 403, "permission-denied")
                .await;
        assert_eq!(invalid_properties(&p), ["x-csrf-token"], "{label}");
        let page =
            c.get(server.url("/mina-sidor")).header("cookie", &tolvan).send().await.unwrap().text().await.unwrap();
        let csrf = super::hidden_fields(&page).into_iter().find(|(k, _)| k == "csrf").unwrap().1;
        let ok = c.post(&approve).header("cookie", &tolvan).header("x-csrf-token", &csrf).send().await.unwrap();
        assert_eq!(ok.status(), 200, "{label}: {}", ok.text().await.unwrap());
        let search = |actor: &str| {
            c.post(server.url("/audit/v1/event-searches"))
                .bearer_auth(&token)
                .json(&json!({"actor": actor, "limit": 100}))
                .send()
        };
        let hers = json_of(search("191212121212").await.unwrap()).await;
        let actions: Vec<&str> =
            hers["items"].as_array().unwrap().iter().filter_map(|e| e["event"]["action"].as_str()).collect();
        assert!(
            actions.iter().any(|a| a.starts_with("federation.")),
            "{label}: the approval names the person: {actions:?}"
        );
        let bootstrap = json_of(search("operator-token").await.unwrap()).await;
        assert!(
            !bootstrap["items"].as_array().unwrap().is_empty(),
            "{label}: the token's events are named operator-token"
        );

        // The portal's operator page: her session shows the applications without any token.
        let other = Member::new("ansokan2.exempel.se", &server.url(""));
        let mut body = other.application(agreement, "");
        body["trustMarks"] = json!([]);
        c.post(server.url("/federation/v1/applications")).json(&body).send().await.unwrap();
        let page =
            c.get(server.url("/anslutning")).header("cookie", &tolvan).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("ansokan2.exempel.se") && page.contains("name=\"csrf\""), "{label}: {page}");

        // A person with the role but a LoA 2 login is refused.
        assert!(grant("operator-weak", "194702289879").await.unwrap().status().is_success(), "{label}");
        let weak = super::test_eid_login(&server, &c, "194702289879", 2).await.unwrap();
        let p = check_problem(c.get(&members).header("cookie", &weak).send().await.unwrap(), 403, "permission-denied")
            .await;
        assert!(p["detail"].as_str().unwrap().contains("LoA 3"), "{label}: {p}");
    }
}
