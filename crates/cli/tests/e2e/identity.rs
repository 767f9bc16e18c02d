//! Identitet: login, sessions, the test eID, signatures, access tokens and employee credentials.

use super::*;

#[tokio::test]
async fn login_through_the_test_eid_with_loa_step_up_and_logout() {
    for server in TestServer::each().await {
        let label = &server.label;
        let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let discovery =
            json_of(c.get(server.url("/test-eid/.well-known/openid-configuration")).send().await.unwrap()).await;
        assert_eq!(discovery["issuer"], format!("http://{}/test-eid", server.addr));

        // Not logged in: Mina sidor sends to login at LoA 3.
        let r = c.get(server.url("/mina-sidor")).send().await.unwrap();
        assert_eq!((r.status().as_u16(), location(&r)), (303, "/login?loa=3&return=%2Fmina-sidor".to_owned()));

        let cookie = test_eid_login(&server, &c, "191212121212", 3).await.unwrap();
        let page = c.get(server.url("/mina-sidor")).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(page.status(), 200, "{label}");
        let html = page.text().await.unwrap();
        assert!(
            html.contains("Tolvan Tolvansson") && html.contains("19121212-****") && !html.contains("191212121212"),
            "{label}"
        );

        // LoA 2 session: Mina sidor asks to step up.
        let weak = test_eid_login(&server, &c, "194702289879", 2).await.unwrap();
        let r = c.get(server.url("/mina-sidor")).header("cookie", &weak).send().await.unwrap();
        assert_eq!(r.status(), 303, "{label}: a LoA 2 session must step up");
        // A LoA 2 person cannot be picked when LoA 3 is asked for: the provider answers access_denied.
        let refused = test_eid_login(&server, &c, "194702289879", 3).await.unwrap_err();
        assert_eq!(refused.0, 400, "{label}");
        assert!(
            refused.1.contains("access_denied") && refused.1.contains("\"property\":\"provider\""),
            "{}",
            refused.1
        );

        // A forged callback is refused (an unknown state), and so is a replayed one: the same callback
        // URL with the same browser cookie, after it logged the person in once (state is single-use).
        let forged = c.get(server.url("/login/callback?code=abc&state=nope")).send().await.unwrap();
        assert_eq!(forged.status(), 400);
        assert!(forged.text().await.unwrap().contains("state"));
        let (callback, login_cookie) = test_eid_until_callback(&server, &c, "191212121212", 3, "%2Fmina-sidor").await;
        let first = c.get(&callback).header("cookie", &login_cookie).send().await.unwrap();
        assert_eq!(first.status(), 303, "{label}: the callback logs in once");
        let replayed = c.get(&callback).header("cookie", &login_cookie).send().await.unwrap();
        assert_eq!(replayed.status(), 400, "{label}: the same callback again is refused");
        let text = replayed.text().await.unwrap();
        assert!(text.contains("state") && !text.contains("Tolvan"), "{label}: refused for its state: {text}");

        // Logout needs the session's CSRF token.
        let html =
            c.get(server.url("/mina-sidor")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
        let csrf = hidden_fields(&html).into_iter().find(|(k, _)| k == "csrf").unwrap().1;
        let bad = c
            .post(server.url("/logout"))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("csrf=wrong")
            .send()
            .await
            .unwrap();
        let problem = check_problem(bad, 403, "permission-denied").await;
        assert_eq!(invalid_properties(&problem), ["csrf"], "{label}: refused for its CSRF token: {problem}");
        let still = c.get(server.url("/mina-sidor")).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(still.status(), 200, "{label}: a refused logout leaves the session as it was");
        let out = c
            .post(server.url("/logout"))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={csrf}"))
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), 303);
        // RP-initiated logout: on to the provider's end-session endpoint, which sends the browser home.
        let end = location(&out);
        // No ID token (it holds the identity number) in the URL: the client is named by client_id.
        assert!(end.contains("/test-eid/logout?client_id=") && !end.contains("id_token_hint"), "{label}: {end}");
        let home = c.get(&end).send().await.unwrap();
        assert_eq!((home.status().as_u16(), location(&home)), (303, server.url("/")), "{label}");
        let home = encode_query(&server.url("/"));
        // One fault per request, each refused for itself: the answer names the field at fault.
        for (bad, why, field) in [
            (format!("id_token_hint=e30.e30.c2ln&post_logout_redirect_uri={home}"), "a forged hint", "id_token_hint"),
            (
                "client_id=ena-portal&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F".to_owned(),
                "a foreign redirect",
                "post_logout_redirect_uri",
            ),
            (format!("client_id=nobody&post_logout_redirect_uri={home}"), "an unknown client", "client_id"),
        ] {
            let r = c.get(server.url(&format!("/test-eid/logout?{bad}"))).send().await.unwrap();
            assert_eq!(r.status(), 400, "{label}: {why} is refused");
            let text = r.text().await.unwrap();
            assert!(text.contains(field), "{label}: {why} is refused naming {field}: {text}");
        }
        let r = c.get(server.url("/mina-sidor")).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(r.status(), 303, "{label}: the session ended");

        // Failed logins are audit events.
        let token = server.operator_token();
        let denied = json_of(
            c.get(server.url("/audit/v1/events?action=identity.login&outcome=denied"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert!(denied["items"].as_array().unwrap().len() >= 2, "{label}: {denied}");
    }
}

/// Agencies' developers test their own e-services against the test eID: the operator registers a
/// client (secret shown once, stored hashed, redirect URIs exact), and panva/openid-client — a
/// certified relying-party library, from npm — logs in through it; bad registrations name the field;
/// a removed client logs in no more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_eid_clients_are_registered_and_log_in_with_openid_client() {
    let rp = Path::new(ROOT).join("../../.ci/oidc/rp.mjs");
    assert!(
        Path::new(ROOT).join("../../.ci/oidc/node_modules/openid-client").exists(),
        "openid-client is not installed: run scripts/test (it runs npm ci in .ci/oidc)"
    );
    for server in TestServer::each().await {
        let label = server.label.clone();
        let c = &server.client;
        let token = server.operator_token();
        let clients = server.url("/identity/v1/test-eid-clients");
        let callback = "http://127.0.0.1:9/callback";
        // Bad registrations, each field named; a stranger is refused.
        let bad = json!({"clientId": "x", "name": "", "redirectUris": ["http://evil.example/cb", "https://ok.example/cb#frag", "/relative"]});
        let p = check_problem(
            c.post(&clients).bearer_auth(&token).json(&bad).send().await.unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(
            invalid_properties(&p),
            ["clientId", "name", "redirectUris[0]", "redirectUris[1]", "redirectUris[2]"],
            "{label}: {p}"
        );
        check_problem(c.post(&clients).json(&bad).send().await.unwrap(), 401, "authentication-required").await;
        let created = c
            .post(&clients)
            .bearer_auth(&token)
            .json(&json!({"clientId": "kommunens-etjanst", "name": "Exempelkommunen, e-tjänst (test)", "redirectUris": [callback]}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201, "{label}");
        let created: Value = created.json().await.unwrap();
        let secret = created["clientSecret"].as_str().unwrap().to_owned();
        let listed = json_of(c.get(&clients).bearer_auth(&token).send().await.unwrap()).await;
        assert_eq!(listed["items"][0]["clientId"], "kommunens-etjanst", "{label}");
        assert!(!listed.to_string().contains(&secret), "{label}: the secret is shown once only");
        let stored = ena_identity::repo::test_client(&server.db.store, "kommunens-etjanst").await.unwrap().unwrap();
        assert_ne!(stored.secret_sha256, secret, "{label}: stored hashed");
        check_problem(
            c.post(&clients)
                .bearer_auth(&token)
                .json(&json!({"clientId": "kommunens-etjanst", "name": "again", "redirectUris": [callback]}))
                .send()
                .await
                .unwrap(),
            409,
            "conflict",
        )
        .await;

        // The relying-party library logs in as Tolvan through the registered client.
        let issuer = server.url("/test-eid");
        let run = |secret: String, redirect: String| {
            let (rp, issuer) = (rp.clone(), issuer.clone());
            tokio::task::spawn_blocking(move || {
                Command::new("node")
                    .arg(&rp)
                    .args([issuer.as_str(), "kommunens-etjanst", secret.as_str(), redirect.as_str(), "191212121212"])
                    .output()
                    .expect("node must be installed")
            })
        };
        let out = run(secret.clone(), callback.to_owned()).await.unwrap();
        assert!(out.status.success(), "{label}: {}", String::from_utf8_lossy(&out.stderr));
        let claims: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(claims["https://id.oidc.se/claim/personalIdentityNumber"], "191212121212", "{label}: {claims}");
        assert_eq!(claims["aud"], "kommunens-etjanst", "{label}");
        // A wrong secret, or a redirect URI that is not exactly a registered one: no login.
        let out = run("wrong".into(), callback.to_owned()).await.unwrap();
        assert!(!out.status.success(), "{label}: a wrong secret logged in");
        let out = run(secret.clone(), format!("{callback}/../other")).await.unwrap();
        assert!(!out.status.success(), "{label}: an unregistered redirect URI logged in");
        // Removed: unknown from then on.
        let gone = c.delete(format!("{clients}/kommunens-etjanst")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(gone.status(), 204, "{label}");
        let out = run(secret, callback.to_owned()).await.unwrap();
        assert!(!out.status.success(), "{label}: a removed client logged in");
        denied_or_logged(&server, "identity.test-eid-client.register").await;
    }
}

/// Interop: ena's portal logs in through panva/node-oidc-provider (a certified OpenID provider, installed
/// from npm by scripts/test into .ci/oidc), not only through its own test eID.
#[tokio::test]
async fn login_through_node_oidc_provider() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let issuer = format!("http://127.0.0.1:{port}");
    let config = ServerConfig {
        oidc_providers: vec![ena_identity::rp::ProviderConfig {
            id: "node-oidc".into(),
            name: "node-oidc-provider".into(),
            issuer: issuer.clone(),
            client_id: "ena".into(),
            client_secret: "interop-secret".into(),
            test_only: true,
            federation_metadata: None,
        }],
        ..ServerConfig::default()
    };
    for server in TestServer::each_with(config).await {
        let label = &server.label;
        let mut op = spawn_op(port, &[&server.url("/login/callback")]);
        let session = op_login(&server, &issuer, "node-oidc").await;
        let page =
            reqwest::Client::new().get(server.url("/mina-sidor")).header("cookie", &session).send().await.unwrap();
        assert_eq!(page.status(), 200, "{label}");
        assert!(page.text().await.unwrap().contains("Tolvan Tolvansson"));
        let _ = op.kill();
        let _ = op.wait();
    }
}

/// The signature service: sign as a LoA 3 person, verify (JWS, log entry, inclusion), refuse a modified
/// document and a weak session; jwcrypto and PyJWT verify the detached JWS with the key the federation
/// publishes.
// Multi-threaded: the test runs the `ena` binary against the in-process server and waits for it.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_are_signed_and_verified_on_each_database() {
    use base64::Engine;
    for server in TestServer::each().await {
        let label = &server.label;
        let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let doc = base64::engine::general_purpose::STANDARD.encode(b"Beslut om bygglov, diarienummer 2026-1234");
        let unauth = c.post(server.url("/signatures/v1/sign")).json(&json!({"document": doc})).send().await.unwrap();
        check_problem(unauth, 401, "authentication-required").await;

        let weak = test_eid_login(&server, &c, "194702289879", 2).await.unwrap();
        let r = c
            .post(server.url("/signatures/v1/sign"))
            .header("cookie", &weak)
            .json(&json!({"document": doc}))
            .send()
            .await
            .unwrap();
        let p = check_problem(r, 403, "permission-denied").await;
        assert_eq!(invalid_properties(&p), vec!["loa"], "{label}");

        let cookie = test_eid_login(&server, &c, "191212121212", 3).await.unwrap();
        let bad = c
            .post(server.url("/signatures/v1/sign"))
            .header("cookie", &cookie)
            .json(&json!({"sha256": "short"}))
            .send()
            .await
            .unwrap();
        assert_eq!(invalid_properties(&check_problem(bad, 400, "validation-failed").await), vec!["sha256"]);
        let signed = c
            .post(server.url("/signatures/v1/sign"))
            .header("cookie", &cookie)
            .json(&json!({"document": doc}))
            .send()
            .await
            .unwrap();
        assert_eq!(signed.status(), 201, "{label}");
        let signed: Value = signed.json().await.unwrap();
        let sig = signed["signature"].as_str().unwrap().to_owned();
        assert!(sig.contains(".."), "detached payload");

        let ok = json_of(
            c.post(server.url("/signatures/v1/verify"))
                .json(&json!({"document": doc, "signature": sig}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((ok["personalNumber"].as_str(), ok["loa"].as_u64()), (Some("191212121212"), Some(3)), "{label}");
        assert_eq!(ok["logIndex"], signed["logIndex"]);
        let modified = base64::engine::general_purpose::STANDARD.encode(b"Beslut om bygglov, diarienummer 2026-1235");
        let r = c
            .post(server.url("/signatures/v1/verify"))
            .json(&json!({"document": modified, "signature": sig}))
            .send()
            .await
            .unwrap();
        assert_eq!(invalid_properties(&check_problem(r, 400, "validation-failed").await), vec!["signature"], "{label}");

        // Independent check with the key the trust anchor publishes.
        let ec = c.get(server.url("/.well-known/openid-federation")).send().await.unwrap().text().await.unwrap();
        let jwks = payload(&ec)["metadata"]["ena_signature_service"]["jwks"].clone();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sig.json");
        // The digest is computed here from the document, not taken from the server's answer: the outside
        // tools then check our claim against the document itself.
        let own = {
            use sha2::Digest;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(sha2::Sha256::digest(base64::engine::general_purpose::STANDARD.decode(&doc).unwrap()))
        };
        assert_eq!(signed["sha256"], own.as_str(), "{label}: the server signed the document's SHA-256");
        std::fs::write(&file, json!({"jwks": jwks, "signature": sig, "sha256": own}).to_string()).unwrap();
        let out = oidf(&["verify-detached", file.to_str().unwrap()]);
        assert!(out.contains("191212121212"), "{out}");

        // The CLI: the JWS checked locally with the federation-published key, the log by the server.
        let (doc_path, sig_path) = (dir.path().join("beslut.txt"), dir.path().join("beslut.sig"));
        std::fs::write(&doc_path, b"Beslut om bygglov, diarienummer 2026-1234").unwrap();
        std::fs::write(&sig_path, &sig).unwrap();
        let run = |doc: &Path| {
            Command::new(ENA)
                .args(["signature", "verify"])
                .arg(doc)
                .arg(&sig_path)
                .args(["--server", &server.url("")])
                .output()
                .unwrap()
        };
        let good = run(&doc_path);
        assert!(good.status.success(), "{label}: {}", String::from_utf8_lossy(&good.stderr));
        assert!(
            String::from_utf8_lossy(&good.stdout)
                .starts_with("ok: signed by Tolvan Tolvansson (19121212-****) at LoA 3")
        );
        let changed = dir.path().join("changed.txt");
        std::fs::write(&changed, b"Beslut om bygglov, diarienummer 2026-1235").unwrap();
        let bad = run(&changed);
        assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("does not verify"), "{label}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_bound_api_tokens_on_each_database() {
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let Federated { node, a, b, cert_a, tls_a, tls_b, .. } = server.two_members().await;
        let c = &server.client;
        let ta = format!("http://{}", server.addr);
        let (node_token, node_caller) =
            (format!("https://{node}/identity/v1/token"), format!("https://{node}/identity/v1/caller"));
        let public_token = server.url("/identity/v1/token");

        // mTLS client credentials: a short-lived token for one audience, bound to A's certificate.
        let r = post_form(&tls_a, &node_token, form(&[("grant_type", "client_credentials"), ("audience", &ta)])).await;
        assert_eq!(r.status(), 200, "{label}");
        assert_eq!(r.headers()["cache-control"], "no-store");
        let body: Value = r.json().await.unwrap();
        let at = body["access_token"].as_str().unwrap().to_owned();
        let claims = payload(&at);
        assert_eq!(claims["aud"], ta.as_str());
        assert_eq!(claims["sub"], a.id.as_str());
        assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 300);
        let der = rustls_pemfile_der(&cert_a);
        use base64::Engine;
        use sha2::Digest;
        let x5t = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&der));
        assert_eq!(claims["cnf"]["x5t#S256"], x5t, "{label}: RFC 8705 thumbprint of A's certificate");
        let caller = json_of(tls_a.get(&node_caller).bearer_auth(&at).send().await.unwrap()).await;
        assert_eq!(caller["client"], a.id.as_str(), "{label}: {caller}");
        assert_eq!(caller["certificateBound"], true);

        // The same token from B's certificate, or without one: refused and logged.
        let p = check_problem(
            tls_b.get(&node_caller).bearer_auth(&at).send().await.unwrap(),
            401,
            "authentication-required",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("another client certificate"), "{label}: {p}");
        assert_eq!(p["error"], "invalid_token");
        check_problem(
            c.get(server.url("/identity/v1/caller")).bearer_auth(&at).send().await.unwrap(),
            401,
            "authentication-required",
        )
        .await;
        denied_event_logged(&server, "identity.token.use", "another client certificate").await;
        // Tampered tokens fail on their signature, and on nothing else: one that A sends over its own
        // connection with a later expiry (binding intact), and one made unbound (no cnf) sent with no
        // certificate at all. Only the signature can refuse them.
        let parts: Vec<&str> = at.split('.').collect();
        let encode = |claims: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
        let mut longer = payload(&at);
        longer["exp"] = json!(longer["exp"].as_i64().unwrap() + 3600);
        let mut unbound = payload(&at);
        unbound.as_object_mut().unwrap().remove("cnf");
        for (forged, client) in [
            (format!("{}.{}.{}", parts[0], encode(&longer), parts[2]), &tls_a),
            (format!("{}.{}.{}", parts[0], encode(&unbound), parts[2]), c),
        ] {
            let url = if std::ptr::eq(client, c) { server.url("/identity/v1/caller") } else { node_caller.clone() };
            let p = check_problem(
                client.get(&url).bearer_auth(&forged).send().await.unwrap(),
                401,
                "authentication-required",
            )
            .await;
            assert!(p["detail"].as_str().unwrap().contains("signature"), "{label}: refused for its signature: {p}");
        }
        // A token for another audience is refused here.
        let r =
            post_form(&tls_a, &node_token, form(&[("grant_type", "client_credentials"), ("audience", &b.id)])).await;
        let for_b = json_of(r).await["access_token"].as_str().unwrap().to_owned();
        let p = check_problem(
            tls_a.get(&node_caller).bearer_auth(&for_b).send().await.unwrap(),
            401,
            "authentication-required",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("not for"), "{label}: {p}");

        // private_key_jwt on the public listener: the key comes from A's federation metadata; single use.
        let assertion = |key: &ena_keys::jose::SigningKey, exp: i64, jti: &str| {
            key.sign(
                "JWT",
                &json!({"iss": a.id, "sub": a.id, "aud": public_token, "iat": ena_core::time::unix_now(), "exp": exp, "jti": jti}),
            )
        };
        let jwt_form = |assertion: &str| {
            form(&[
                ("grant_type", "client_credentials"),
                ("audience", ta.as_str()),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", assertion),
            ])
        };
        let good = assertion(&a.client_key, ena_core::time::unix_now() + 60, "j1");
        let r = post_form(c, &public_token, jwt_form(&good)).await;
        assert_eq!(r.status(), 200, "{label}");
        let unbound = json_of(r).await["access_token"].as_str().unwrap().to_owned();
        assert!(payload(&unbound)["cnf"].is_null(), "no certificate, no binding");
        let caller =
            json_of(c.get(server.url("/identity/v1/caller")).bearer_auth(&unbound).send().await.unwrap()).await;
        assert_eq!(caller["client"], a.id.as_str());
        assert_eq!(caller["certificateBound"], false);
        for (bad, needle) in [
            (good.clone(), "replay"),
            (assertion(&a.key, ena_core::time::unix_now() + 60, "j2"), "no key"),
            (assertion(&a.client_key, ena_core::time::unix_now() - 120, "j3"), "expired"),
            (assertion(&a.client_key, ena_core::time::unix_now() + 3600, "j4"), "at most"),
        ] {
            let p =
                check_problem(post_form(c, &public_token, jwt_form(&bad)).await, 401, "authentication-required").await;
            assert_eq!(p["error"], "invalid_client", "{label}: {p}");
            assert!(p["detail"].as_str().unwrap().contains(needle), "{label}: {needle} in {p}");
        }
        denied_event_logged(&server, "identity.token.issue", "replay").await;

        // Bad requests, each naming its field.
        let p = check_problem(
            post_form(c, &public_token, form(&[("grant_type", "client_credentials"), ("audience", &ta)])).await,
            401,
            "authentication-required",
        )
        .await;
        assert_eq!(p["error"], "invalid_client");
        for (body, error, field) in [
            (form(&[("grant_type", "password"), ("audience", &ta)]), "unsupported_grant_type", "grant_type"),
            (form(&[("grant_type", "client_credentials")]), "invalid_request", "audience"),
            (
                form(&[("grant_type", "client_credentials"), ("audience", "https://okand.example.se")]),
                "invalid_target",
                "audience",
            ),
            (
                form(&[("grant_type", "client_credentials"), ("audience", &ta), ("scope", "a\"b")]),
                "invalid_scope",
                "scope",
            ),
            (
                form(&[("grant_type", "client_credentials"), ("audience", &ta), ("client_id", &b.id)]),
                "invalid_client",
                "client_id",
            ),
        ] {
            let r = post_form(&tls_a, &node_token, body).await;
            let status = if error == "invalid_client" { 401 } else { 400 };
            assert_eq!(r.status(), status, "{label}: {error}");
            let p: Value = r.json().await.unwrap();
            assert_eq!(p["error"], error, "{label}: {p}");
            assert_eq!(invalid_properties(&p), vec![field.to_owned()], "{label}: {p}");
        }

        // On behalf of a person: the person (LoA 3 session) gives A a subject token; A exchanges it.
        let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let cookie = test_eid_login(&server, &browser, "191212121212", 3).await.unwrap();
        let subject = |actor: &str| {
            c.post(server.url("/identity/v1/subject-tokens"))
                .header("cookie", &cookie)
                .json(&json!({"actor": actor, "represents": "212000-0142"}))
                .send()
        };
        let st: Value = subject(&a.id).await.unwrap().json().await.unwrap();
        let exchange = |token: &str| {
            form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
                ("audience", ta.as_str()),
                ("subject_token", token),
                ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"),
            ])
        };
        let r = post_form(&tls_a, &node_token, exchange(st["subjectToken"].as_str().unwrap())).await;
        assert_eq!(r.status(), 200, "{label}");
        let obo = json_of(r).await;
        assert_eq!(obo["issued_token_type"], "urn:ietf:params:oauth:token-type:access_token");
        let obo = obo["access_token"].as_str().unwrap().to_owned();
        assert_eq!(payload(&obo)["act"]["sub"], a.id.as_str());
        let caller = json_of(tls_a.get(&node_caller).bearer_auth(&obo).send().await.unwrap()).await;
        assert_eq!(caller["person"], "191212121212", "{label}: {caller}");
        assert_eq!(caller["represents"], "162120000142");
        assert_eq!(caller["loa"], 3);
        // Replayed, or exchanged by another member: refused.
        let p = check_problem(
            post_form(&tls_a, &node_token, exchange(st["subjectToken"].as_str().unwrap())).await,
            400,
            "invalid-parameter",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("replay"), "{p}");
        let for_a: Value = subject(&a.id).await.unwrap().json().await.unwrap();
        let p = check_problem(
            post_form(&tls_b, &node_token, exchange(for_a["subjectToken"].as_str().unwrap())).await,
            400,
            "invalid-parameter",
        )
        .await;
        assert_eq!(p["error"], "invalid_grant");
        // Bad subject-token requests.
        check_problem(subject("https://okand.example.se").await.unwrap(), 400, "invalid-parameter").await;
        check_problem(
            c.post(server.url("/identity/v1/subject-tokens")).json(&json!({"actor": a.id})).send().await.unwrap(),
            401,
            "authentication-required",
        )
        .await;
        // The person logs out: the token backed by the session is refused from then on.
        let page =
            c.get(server.url("/mina-sidor")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
        let csrf = hidden_fields(&page).into_iter().find(|(k, _)| k == "csrf").unwrap().1;
        let out = browser
            .post(server.url("/logout"))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("csrf", &csrf)]))
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), 303);
        let p = check_problem(
            tls_a.get(&node_caller).bearer_auth(&obo).send().await.unwrap(),
            401,
            "authentication-required",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("session"), "{label}: {p}");

        // Published: RFC 8414 metadata and the federation's oauth_authorization_server.
        let meta = json_of(c.get(server.url("/.well-known/oauth-authorization-server")).send().await.unwrap()).await;
        assert_eq!(meta["token_endpoint"], public_token.as_str());
        assert_eq!(
            payload(&ec_of(&server).await)["metadata"]["oauth_authorization_server"]["tls_client_certificate_bound_access_tokens"],
            true
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn employee_credentials_issue_list_revoke_verify_on_each_database() {
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let Federated { node, a, tls_a, tls_b, .. } = server.two_members().await;
        let c = &server.client;
        let registry = format!("https://{node}/identity/v1/employee-credentials");
        let verify = server.url("/identity/v1/employee-credentials/verify");
        let credential = |key: &ena_keys::jose::SigningKey, jti: &str, sub: &str, exp: i64| {
            key.sign(
                "ena-employee+jwt",
                &json!({"iss": a.id, "sub": sub, "name": "Tolvan Tolvansson", "jti": jti, "iat": ena_core::time::unix_now(),
                        "exp": exp, "ena_roles": ["handläggare", "attestant"]}),
            )
        };
        let year = ena_core::time::unix_now() + 365 * 86400;
        let good = credential(&a.credential_key, "anst-1", "191212121212", year);

        // A registers what it signed; anyone verifies it through the federation.
        let r = tls_a.post(&registry).json(&json!({"credential": good})).send().await.unwrap();
        assert_eq!(r.status(), 201, "{label}");
        let v = json_of(c.post(&verify).json(&json!({"credential": good})).send().await.unwrap()).await;
        assert_eq!(v["personalNumber"], "191212121212", "{label}: {v}");
        assert_eq!(v["roles"], json!(["handläggare", "attestant"]));
        assert_eq!(v["issuerName"], "Exempelkommunen");
        // Twice, by someone else, or off the node listener: refused.
        check_problem(tls_a.post(&registry).json(&json!({"credential": good})).send().await.unwrap(), 409, "conflict")
            .await;
        check_problem(
            tls_b.post(&registry).json(&json!({"credential": good})).send().await.unwrap(),
            403,
            "permission-denied",
        )
        .await;
        check_problem(
            c.post(server.url("/identity/v1/employee-credentials"))
                .json(&json!({"credential": good}))
                .send()
                .await
                .unwrap(),
            401,
            "authentication-required",
        )
        .await;
        // Bad credentials, each refused with the reason.
        for (bad, needle) in [
            (credential(&a.key, "anst-2", "191212121212", year), "no key"),
            (credential(&a.credential_key, "anst-3", "191212121213", year), "identity number"),
            (credential(&a.credential_key, "anst-4", "191212121212", ena_core::time::unix_now() - 10), "expired"),
            (
                credential(&a.credential_key, "anst-5", "191212121212", ena_core::time::unix_now() + 400 * 86400),
                "366 days",
            ),
            ("not.a.jwt".to_owned(), "credential"),
        ] {
            let p = check_problem(
                tls_a.post(&registry).json(&json!({"credential": bad})).send().await.unwrap(),
                400,
                "invalid-parameter",
            )
            .await;
            assert!(p["detail"].as_str().unwrap().contains(needle), "{label}: {needle} in {p}");
            assert_eq!(invalid_properties(&p), vec!["credential".to_owned()]);
        }
        // Signed but never registered: verifiers cannot see its status, so it is refused.
        let unregistered = credential(&a.credential_key, "anst-6", "191212121212", year);
        let p = check_problem(
            c.post(&verify).json(&json!({"credential": unregistered})).send().await.unwrap(),
            400,
            "invalid-parameter",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("not registered"), "{label}: {p}");

        // Listing is per issuer, paged.
        let second = credential(&a.credential_key, "anst-7", "199001012385", year);
        assert_eq!(tls_a.post(&registry).json(&json!({"credential": second})).send().await.unwrap().status(), 201);
        let page = json_of(tls_a.get(format!("{registry}?limit=1")).send().await.unwrap()).await;
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
        assert_eq!(page["hasMore"], true);
        // One person's: the identity number in a body (a URL with one is refused before routing).
        let searches = format!("https://{node}/identity/v1/employee-credential-searches");
        let mine =
            json_of(tls_a.post(&searches).json(&json!({"personalNumber": "191212121212"})).send().await.unwrap()).await;
        assert_eq!(mine["items"].as_array().unwrap().len(), 1, "{label}: {mine}");
        assert_eq!(mine["items"][0]["id"], "anst-1", "{label}: {mine}");
        assert_eq!(json_of(tls_b.get(&registry).send().await.unwrap()).await["items"], json!([]));
        let p = check_problem(
            tls_a.post(&searches).json(&json!({"personalNumber": "12"})).send().await.unwrap(),
            400,
            "invalid-parameter",
        )
        .await;
        assert!(!p.to_string().contains("191212121212"), "{label}");
        check_problem(
            tls_a.get(format!("{registry}?personalNumber=191212121212")).send().await.unwrap(),
            400,
            "invalid-parameter",
        )
        .await;
        check_problem(tls_a.get(format!("{registry}?limit=0")).send().await.unwrap(), 400, "invalid-parameter").await;

        // Revocation: only by the issuer, with a reason; verifiers then refuse the credential.
        let revoke = format!("{registry}/revoke");
        check_problem(
            tls_b.post(&revoke).json(&json!({"id": "anst-1", "reason": "slutat"})).send().await.unwrap(),
            404,
            "resource-not-found",
        )
        .await;
        check_problem(
            tls_a.post(&revoke).json(&json!({"id": "anst-1", "reason": " "})).send().await.unwrap(),
            400,
            "invalid-parameter",
        )
        .await;
        let r =
            json_of(tls_a.post(&revoke).json(&json!({"id": "anst-1", "reason": "slutat"})).send().await.unwrap()).await;
        assert!(r["revokedAt"].is_i64(), "{label}: {r}");
        let p = check_problem(
            c.post(&verify).json(&json!({"credential": good})).send().await.unwrap(),
            400,
            "invalid-parameter",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("revoked"), "{label}: {p}");
        denied_event_logged(&server, "identity.employee-credential.verify", "revoked").await;
        // The issuer leaves the federation: its credentials no longer verify.
        let token = server.operator_token();
        let r = c
            .post(server.url("/federation/v1/members/suspend"))
            .bearer_auth(&token)
            .json(&json!({"entityId": a.id, "reason": "test"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let p = check_problem(
            c.post(&verify).json(&json!({"credential": second})).send().await.unwrap(),
            400,
            "invalid-parameter",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("does not resolve"), "{label}: {p}");
    }
}

/// A provider the federation vouches for is offered at /login without any configuration: the portal is
/// its client under ena's entity identifier, authenticating with private_key_jwt (node-oidc-provider
/// checks the assertion against the keys ena publishes as `openid_relying_party` metadata).
#[tokio::test]
async fn login_through_an_openid_provider_found_in_the_federation() {
    for server in TestServer::each().await {
        let label = server.label.clone();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let issuer = format!("http://127.0.0.1:{port}");
        let ec = payload(&ec_of(&server).await);
        let rp = &ec["metadata"]["openid_relying_party"];
        assert_eq!(rp["token_endpoint_auth_method"], "private_key_jwt");
        let client_id = ec["sub"].as_str().unwrap().to_owned();
        let mut op = spawn_op(port, &[&server.url("/login/callback"), &client_id, &rp["jwks"].to_string()]);

        // Not a member yet: not offered.
        let page = server.get("/login").await.text().await.unwrap();
        assert!(!page.contains("provider=op.exempel.se"), "{label}");
        // The provider's operator publishes its endpoints and keys in the federation (read here from
        // its own discovery, as that operator would when writing the metadata).
        let web = reqwest::Client::new();
        let discovery: Value =
            web.get(format!("{issuer}/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
        let keys: Value = web.get(discovery["jwks_uri"].as_str().unwrap()).send().await.unwrap().json().await.unwrap();
        let provider_metadata = |jwks: &Value| {
            json!({"openid_provider": {"issuer": issuer, "authorization_endpoint": discovery["authorization_endpoint"],
                   "token_endpoint": discovery["token_endpoint"], "jwks": jwks}})
        };
        let mut member = Member::new("op.exempel.se", &server.url(""));
        member.entity_types = json!(["ena_node", "openid_provider"]);
        member.extra_metadata = provider_metadata(&keys);
        server.onboard(&member).await;
        let page = server.get("/login").await.text().await.unwrap();
        assert!(page.contains("provider=op.exempel.se"), "{label}: the federation's provider is offered");
        let session = op_login(&server, &issuer, "op.exempel.se").await;
        let mine =
            reqwest::Client::new().get(server.url("/mina-sidor")).header("cookie", &session).send().await.unwrap();
        assert_eq!(mine.status(), 200, "{label}");

        // Finding 13: the keys are the federation's word, not the web's. A provider member whose
        // federation metadata names other keys than the ones its web discovery serves (a hijacked
        // discovery, or the other way round) gets no login through.
        let other = ena_keys::jose::SigningKey::generate().unwrap();
        let mut hijacked = Member::new("op2.exempel.se", &server.url(""));
        hijacked.entity_types = json!(["ena_node", "openid_provider"]);
        hijacked.extra_metadata = provider_metadata(&json!({"keys": [other.public_jwk()]}));
        server.onboard(&hijacked).await;
        let refused = op_callback(&server, &issuer, "op2.exempel.se").await;
        assert_eq!(
            refused.status(),
            400,
            "{label}: a token signed with keys the federation does not publish was taken"
        );
        let body = refused.text().await.unwrap();
        assert!(body.contains("signature") || body.contains("key"), "{label}: {body}");
        suspend(&server, &hijacked.id).await;

        // Suspended from the federation: no longer offered, and a login through it is refused.
        let r = server
            .client
            .post(server.url("/federation/v1/members/suspend"))
            .bearer_auth(server.operator_token())
            .json(&json!({"entityId": member.id, "reason": "test"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let page = server.get("/login").await.text().await.unwrap();
        assert!(!page.contains("provider=op.exempel.se"), "{label}");
        let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let refused = c.get(server.url("/login/start?provider=op.exempel.se&loa=3")).send().await.unwrap();
        check_problem(refused, 400, "invalid-parameter").await;
        let _ = op.kill();
        let _ = op.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_cli_issues_registers_revokes_and_verifies() {
    // On each database: the credential registry is a repository of its own.
    for mut server in TestServer::each().await {
        let node = server.node_listener().await;
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
        let key = file("issuer.key");
        let (ok, out, err) = ena_off_thread(vec!["credential".into(), "key".into(), "--key".into(), key.clone()]).await;
        assert!(ok, "{err}");
        assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["keys"][0]["kty"], "EC");

        // The member publishes that key as its ena_credential_issuer metadata and joins.
        let mut member = Member::new("c.exempel.se", &server.url(""));
        member.credential_key = ena_keys::jose::SigningKey::load_or_create(Path::new(&key)).unwrap();
        let cert = server.onboard(&member).await;
        std::fs::write(file("ca.pem"), server.state.federation.ca_certificate()).unwrap();
        std::fs::write(file("cert.pem"), &cert).unwrap();
        std::fs::write(file("tls.key"), member.tls.serialize_pem()).unwrap();
        let node_args = |mut args: Vec<String>| {
            args.extend(
                [
                    "--node-url".to_owned(),
                    format!("https://{node}"),
                    "--ca".into(),
                    file("ca.pem"),
                    "--cert".into(),
                    file("cert.pem"),
                    "--tls-key".into(),
                    file("tls.key"),
                ]
                .into_iter(),
            );
            args
        };
        let issue = |pnr: &str| {
            ["credential", "issue", "--key", &key, "--issuer", &member.id, "--personal-number", pnr]
                .iter()
                .map(|s| s.to_string())
                .chain(
                    ["--name", "Tolvan Tolvansson", "--roles", "handläggare,attestant", "--id", "anst-9"]
                        .map(String::from),
                )
                .collect::<Vec<_>>()
        };
        let (ok, _, err) = ena_off_thread(issue("191212121213")).await;
        assert!(!ok && err.contains("--personal-number"), "{err}");
        let (ok, jwt, err) = ena_off_thread(issue("191212121212")).await;
        assert!(ok, "{err}");
        std::fs::write(file("credential.jwt"), jwt.trim()).unwrap();

        let (ok, out, err) =
            ena_off_thread(node_args(vec!["credential".into(), "register".into(), file("credential.jwt")])).await;
        assert!(ok && out.contains("anst-9"), "{out}{err}");
        let verify =
            vec!["credential".into(), "verify".into(), file("credential.jwt"), "--server".into(), server.url("")];
        let (ok, out, err) = ena_off_thread(verify.clone()).await;
        assert!(ok && out.contains("attestant"), "{out}{err}");
        let (ok, out, err) = ena_off_thread(node_args(vec!["credential".into(), "list".into()])).await;
        assert!(ok && out.contains("anst-9"), "{out}{err}");
        let (ok, _, err) = ena_off_thread(node_args(vec![
            "credential".into(),
            "revoke".into(),
            "anst-9".into(),
            "--reason".into(),
            "slutat".into(),
        ]))
        .await;
        assert!(ok, "{err}");
        let (ok, _, err) = ena_off_thread(verify).await;
        assert!(!ok && err.contains("revoked"), "{err}");
    }
}
