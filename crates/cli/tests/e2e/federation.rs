//! Tillitsramverk: onboarding, entity statements, resolve, trust marks, the CA, the CLI and the portal.

use super::*;

#[tokio::test]
async fn federation_onboarding_and_resolve_on_each_database() {
    for server in TestServer::each().await {
        let label = &server.label;
        let c = &server.client;
        let token = server.operator_token();
        let ta = format!("http://{}", server.addr);

        let ec = c.get(server.url("/.well-known/openid-federation")).send().await.unwrap();
        assert_eq!(ec.headers()["content-type"], "application/entity-statement+jwt", "{label}");
        let ec = ec.text().await.unwrap();
        let anchor_jwks = payload(&ec)["jwks"].clone();
        assert_eq!(
            payload(&ec)["metadata"]["federation_entity"]["federation_resolve_endpoint"],
            format!("{ta}/federation/v1/resolve")
        );
        let agreement = json_of(c.get(server.url("/federation/v1/agreement")).send().await.unwrap()).await["version"]
            .as_i64()
            .unwrap();
        let marks = payload(&ec)["trust_mark_issuers"].as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        let member = Member::new("nod.exempel.se", &ta);
        let body = member.application(agreement, &marks[0]);

        // Bad input: each field named, nothing stored.
        let mut bad = body.clone();
        bad["organisationNumber"] = json!("212000-0143");
        bad["entityTypes"] = json!(["toaster"]);
        bad["keyRequest"] = json!(member.csr("evil.example.se"));
        bad["acceptAgreement"] = json!(agreement + 1);
        let problem = check_problem(
            c.post(server.url("/federation/v1/applications")).json(&bad).send().await.unwrap(),
            400,
            "validation-failed",
        )
        .await;
        let fields = invalid_properties(&problem);
        for f in ["organisationNumber", "entityTypes[0]", "keyRequest", "acceptAgreement"] {
            assert!(fields.contains(&f.to_owned()), "{label}: {f} in {fields:?}");
        }
        let mut unknown = body.clone();
        unknown["surprise"] = json!(1);
        check_problem(
            c.post(server.url("/federation/v1/applications")).json(&unknown).send().await.unwrap(),
            400,
            "invalid-body",
        )
        .await;
        check_problem(
            c.post(server.url("/federation/v1/applications"))
                .header("content-type", "application/json")
                .body("{\"name\":")
                .send()
                .await
                .unwrap(),
            400,
            "malformed-json",
        )
        .await;

        let created = c.post(server.url("/federation/v1/applications")).json(&body).send().await.unwrap();
        assert_eq!(created.status(), 201, "{label}");
        let app: Value = created.json().await.unwrap();
        let id = app["id"].as_str().unwrap().to_owned();
        check_problem(
            c.post(server.url("/federation/v1/applications")).json(&body).send().await.unwrap(),
            409,
            "conflict",
        )
        .await;
        check_problem(
            c.get(server.url("/federation/v1/applications")).send().await.unwrap(),
            401,
            "authentication-required",
        )
        .await;
        let pending = json_of(
            c.get(server.url("/federation/v1/applications?status=pending")).bearer_auth(&token).send().await.unwrap(),
        )
        .await;
        assert_eq!(pending["items"].as_array().unwrap().len(), 1, "{label}");
        check_problem(
            c.get(server.url("/federation/v1/applications?status=maybe")).bearer_auth(&token).send().await.unwrap(),
            400,
            "validation-failed",
        )
        .await;

        let approve = format!("/federation/v1/applications/{id}/approve");
        check_problem(c.post(server.url(&approve)).send().await.unwrap(), 401, "authentication-required").await;
        assert_eq!(
            json_of(c.post(server.url(&approve)).bearer_auth(&token).send().await.unwrap()).await["status"],
            "approved"
        );
        check_problem(c.post(server.url(&approve)).bearer_auth(&token).send().await.unwrap(), 409, "conflict").await;

        // The federation endpoints, checked by jwcrypto and PyJWT with only the published keys.
        let list: Vec<String> =
            json_of(c.get(server.url("/federation/v1/list?entity_type=ena_node")).send().await.unwrap())
                .await
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect();
        assert_eq!(list, vec![member.id.clone()], "{label}");
        let fetch = c.get(server.url(&format!("/federation/v1/fetch?sub={}", member.id))).send().await.unwrap();
        assert_eq!(fetch.headers()["content-type"], "application/entity-statement+jwt");
        let fetch = fetch.text().await.unwrap();
        let resolve = c
            .get(server.url(&format!("/federation/v1/resolve?sub={}&trust_anchor={ta}", member.id)))
            .send()
            .await
            .unwrap();
        assert_eq!(resolve.headers()["content-type"], "application/resolve-response+jwt");
        let resolve = resolve.text().await.unwrap();
        let mark = c
            .get(server.url(&format!("/federation/v1/trust-mark?sub={}&trust_mark_type={}", member.id, marks[0])))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let status = c
            .post(server.url("/federation/v1/trust-mark-status"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("trust_mark={mark}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let historical =
            c.get(server.url("/federation/v1/historical-keys")).send().await.unwrap().text().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens.json");
        std::fs::write(
            &file,
            json!({"jwks": anchor_jwks, "tokens": [
                {"token": ec, "typ": "entity-statement+jwt"},
                {"token": fetch, "typ": "entity-statement+jwt"},
                {"token": resolve, "typ": "resolve-response+jwt"},
                {"token": mark, "typ": "trust-mark+jwt"},
                {"token": status, "typ": "trust-mark-status-response+jwt"},
                {"token": historical, "typ": "jwk-set+jwt"},
                {"token": member.configuration(), "typ": "entity-statement+jwt", "jwks_from": "self"},
            ]})
            .to_string(),
        )
        .unwrap();
        assert_eq!(oidf(&["verify", file.to_str().unwrap()]).lines().count(), 7, "{label}");
        assert_eq!(payload(&status)["status"], "active");
        let resolved = payload(&resolve);
        assert_eq!(resolved["metadata"]["ena_node"]["api_endpoint"], format!("{}/node/v1", member.id));
        assert!(resolved["metadata"]["ena_node"]["tls_client_certificate_sha256"].is_string());
        assert_eq!(resolved["trust_chain"].as_array().unwrap().len(), 3);

        // Spec error codes ride along in the problem.
        let wrong_ta = check_problem(
            c.get(server.url(&format!("/federation/v1/resolve?sub={}&trust_anchor=https://other.example", member.id)))
                .send()
                .await
                .unwrap(),
            400,
            "invalid-parameter",
        )
        .await;
        assert_eq!(wrong_ta["error"], "invalid_trust_anchor", "{label}");
        let missing =
            check_problem(c.get(server.url("/federation/v1/resolve")).send().await.unwrap(), 400, "invalid-parameter")
                .await;
        assert_eq!(missing["error"], "invalid_request");
        // Updates come only over the member's own certificate (security.rs tests them over mTLS).
        check_problem(
            c.put(server.url("/federation/v1/entity-configuration")).body("e30.e30.c2ln").send().await.unwrap(),
            401,
            "authentication-required",
        )
        .await;

        // History with log indices that prove.
        let history = json_of(
            c.get(server.url(&format!("/federation/v1/history?sub={}&limit=50", member.id))).send().await.unwrap(),
        )
        .await;
        let items = history["items"].as_array().unwrap();
        assert!(!items.is_empty(), "{label}: the onboarded member has statements in its history");
        for item in items {
            let index = item["logIndex"].as_i64().expect("every statement is in the log");
            let entry = json_of(c.get(server.url(&format!("/audit/v1/entries/{index}"))).send().await.unwrap()).await;
            assert_eq!(entry["index"], index, "{label}");
            assert_eq!(entry["event"]["details"]["sha256"], item["sha256"], "{label}");
        }

        // Suspension: out of list and resolve, certificate on the CRL (read by openssl).
        let member_view = json_of(
            c.get(server.url("/federation/v1/members?status=active")).bearer_auth(&token).send().await.unwrap(),
        )
        .await;
        let cert = member_view["items"][0]["certificate"].as_str().unwrap().to_owned();
        let suspended = c
            .post(server.url("/federation/v1/members/suspend"))
            .bearer_auth(&token)
            .json(&json!({"entityId": member.id, "reason": "test"}))
            .send()
            .await
            .unwrap();
        assert_eq!(suspended.status(), 200, "{label}");
        assert!(
            json_of(c.get(server.url("/federation/v1/list")).send().await.unwrap())
                .await
                .as_array()
                .unwrap()
                .is_empty()
        );
        let gone = check_problem(
            c.get(server.url(&format!("/federation/v1/resolve?sub={}&trust_anchor={ta}", member.id)))
                .send()
                .await
                .unwrap(),
            404,
            "resource-not-found",
        )
        .await;
        assert_eq!(gone["error"], "not_found");
        let crl = c.get(server.url("/federation/v1/crl")).send().await.unwrap().text().await.unwrap();
        std::fs::write(dir.path().join("crl.pem"), &crl).unwrap();
        std::fs::write(dir.path().join("cert.pem"), &cert).unwrap();
        std::fs::write(
            dir.path().join("ca.pem"),
            c.get(server.url("/federation/v1/ca-certificate")).send().await.unwrap().text().await.unwrap(),
        )
        .unwrap();
        let serial = Command::new("openssl")
            .args(["x509", "-noout", "-serial", "-in"])
            .arg(dir.path().join("cert.pem"))
            .output()
            .unwrap();
        assert!(serial.status.success(), "{label}: openssl x509: {}", String::from_utf8_lossy(&serial.stderr));
        let serial = String::from_utf8_lossy(&serial.stdout).trim().trim_start_matches("serial=").to_owned();
        // A serial is 1–20 bytes of hex: an empty one would make the next check pass on anything.
        assert!(serial.len() >= 2 && serial.chars().all(|c| c.is_ascii_hexdigit()), "{label}: serial {serial:?}");
        let crl_text = Command::new("openssl")
            .args(["crl", "-noout", "-text", "-in"])
            .arg(dir.path().join("crl.pem"))
            .output()
            .unwrap();
        assert!(crl_text.status.success(), "{label}: openssl crl: {}", String::from_utf8_lossy(&crl_text.stderr));
        let revoked: Vec<String> = String::from_utf8_lossy(&crl_text.stdout)
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Serial Number: ").map(|s| s.trim().to_uppercase()))
            .collect();
        assert!(revoked.contains(&serial.to_uppercase()), "{label}: serial {serial} among the CRL's {revoked:?}");
        let verify = Command::new("openssl")
            .args(["verify", "-crl_check", "-CAfile"])
            .arg(dir.path().join("ca.pem"))
            .arg("-CRLfile")
            .arg(dir.path().join("crl.pem"))
            .arg(dir.path().join("cert.pem"))
            .output()
            .unwrap();
        assert!(!verify.status.success(), "{label}: openssl must refuse the revoked certificate");
        assert!(
            String::from_utf8_lossy(&verify.stdout).contains("revoked")
                || String::from_utf8_lossy(&verify.stderr).contains("revoked")
        );
    }
}

/// A chain made by another implementation (jwcrypto/PyJWT, RSA and EC keys) validates with ena's
/// library, its policies applied; broken variants get the spec's error codes.
#[test]
fn chains_from_another_implementation_validate() {
    use ena_federation::chain::{ErrorCode, validate};
    let made: Value = serde_json::from_str(&oidf(&["make-chain"])).unwrap();
    let chain: Vec<String> = serde_json::from_value(made["chain"].clone()).unwrap();
    let anchor = made["anchor"].as_str().unwrap();
    let now = ena_core::time::unix_now();
    let resolved = validate(&chain, anchor, &made["anchor_jwks"], now).unwrap();
    let rp = &resolved.metadata["openid_relying_party"];
    assert_eq!(rp["grant_types"], json!(["authorization_code"]));
    assert_eq!(rp["contacts"], json!(["ops@int.python.example"]));
    for (name, reason) in [("expired", "expired"), ("wrong_typ", "header.typ"), ("too_long", "max_path_length")] {
        let bad: Vec<String> = serde_json::from_value(made["bad"][name].clone()).unwrap();
        let e = validate(&bad, anchor, &made["anchor_jwks"], now).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTrustChain, "{name}");
        assert!(e.reason.contains(reason), "{name}: {e}");
    }
    let other = json!({"keys": [ena_keys::jose::SigningKey::generate().unwrap().public_jwk()]});
    assert_eq!(validate(&chain, anchor, &other, now).unwrap_err().code, ErrorCode::InvalidTrustAnchor);
}

/// The CLI as members and operators use it, against a running `ena serve`.
#[test]
fn federation_cli_apply_decide_list_resolve_suspend() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let served = start_serve(&data, &[], &[]);
    let server = format!("http://{}", served.addr);
    let fed = |args: &[&str]| {
        let out = Command::new(ENA)
            .arg("federation")
            .args(args)
            .args(["--server", &server, "--data-dir", data.to_str().unwrap()])
            .env_remove("ENA_OPERATOR_TOKEN")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let member = Member::new("cli.exempel.se", &server);
    let mut application = member.application(0, &format!("{server}/trust-marks/loa3"));
    application.as_object_mut().unwrap().remove("acceptAgreement");
    let file = dir.path().join("application.json");
    std::fs::write(&file, application.to_string()).unwrap();

    // Without accepting the agreement: refused, naming the field.
    let (ok, _, err) = fed(&["apply", file.to_str().unwrap()]);
    assert!(!ok && err.contains("acceptAgreement"), "{err}");
    let (ok, out, err) = fed(&["apply", file.to_str().unwrap(), "--accept-agreement"]);
    assert!(ok, "{err}");
    assert!(err.contains("Anslutningsavtal"), "the agreement is shown: {err}");
    let id = serde_json::from_str::<Value>(&out).unwrap()["id"].as_str().unwrap().to_owned();
    let (_, out, _) = fed(&["applications", "--status", "pending"]);
    assert!(out.contains(&id) && out.contains("cli.exempel.se"), "{out}");
    let (ok, out, err) = fed(&["approve", &id]);
    assert!(ok && out.contains("approved"), "{err}");
    let (ok, _, err) = fed(&["approve", &id]);
    assert!(!ok && err.contains("409"), "approving twice: {err}");
    let (_, out, _) = fed(&["list", "--entity-type", "ena_node"]);
    assert_eq!(out.trim(), member.id);
    let (ok, out, err) = fed(&["resolve", &member.id]);
    assert!(ok, "{err}");
    assert!(err.contains("validated"), "{err}");
    let resolved: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(resolved["metadata"]["ena_node"]["api_endpoint"], format!("{}/node/v1", member.id));
    let (ok, _, _) = fed(&["suspend", &member.id, "--reason", "test"]);
    assert!(ok);
    let (ok, _, err) = fed(&["resolve", &member.id]);
    assert!(!ok && err.contains("404"), "{err}");
    let (ok, out, _) = fed(&["rotate-key"]);
    assert!(ok && out.contains("new federation signing key"));
    sigterm_and_wait(served);
}

/// How the portal shows an RFC 3339 time the API answers (`2026-12-04T13:05:00Z` → `2026-12-04 13:05 UTC`),
/// as a `<time>` element carrying the RFC 3339 value.
fn shown_time(rfc3339: &str) -> String {
    format!("<time datetime=\"{rfc3339}\">{} {} UTC</time>", &rfc3339[..10], &rfc3339[11..16])
}

/// The article of application `id` on a portal page.
fn article<'a>(page: &'a str, id: &str) -> &'a str {
    let start =
        page.find(&format!("<article class=\"card\" aria-labelledby=\"app-{id}\"")).expect("the application is listed");
    let rest = &page[start..];
    &rest[..rest.find("</article>").unwrap()]
}

/// The operator's portal page decides applications without JavaScript, in Swedish and English: each
/// application with what the operator needs to decide, each decision with its time, reason and decider
/// (a person masked), every refusal in the page's language.
#[tokio::test]
async fn operator_portal_decides_applications() {
    for server in TestServer::each().await {
        let label = &server.label;
        let c = &server.client;
        let post = |path: &str, body: String| {
            c.post(server.url(path)).header("content-type", "application/x-www-form-urlencoded").body(body).send()
        };
        let page = c.get(server.url("/anslutning")).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("type=\"password\"") && html.contains("Anslutningsavtal"), "{label}");

        let agreement = json_of(c.get(server.url("/federation/v1/agreement")).send().await.unwrap()).await["version"]
            .as_i64()
            .unwrap();
        let ids: Vec<String> = two_applications(&server, agreement).await;
        let token = server.operator_token();

        let denied = post("/anslutning", form(&[("token", "wrong"), ("status", "pending")])).await.unwrap();
        assert_eq!(denied.status(), 401, "{label}");
        let page = denied.text().await.unwrap();
        assert!(page.contains("Operatörsnyckeln stämmer inte") && !page.contains(&ids[0]), "{label}: {page}");
        let listed = post("/anslutning", form(&[("token", &token), ("status", "pending")])).await.unwrap();
        assert_eq!(listed.headers()["cache-control"], "no-store");
        let html = listed.text().await.unwrap();
        assert!(ids.iter().all(|id| html.contains(id.as_str())), "{label}: both applications listed");

        // What the operator decides on, in Swedish: the status in words, the organisation number as
        // written, the contact to write to, the agreement accepted and whether it is the one in force,
        // and when it came in (readable, with the RFC 3339 value kept in <time>).
        let created =
            json_of(c.get(server.url(&format!("/federation/v1/applications/{}", ids[0]))).send().await.unwrap()).await
                ["createdAt"]
                .as_str()
                .unwrap()
                .to_owned();
        let card = article(&html, &ids[0]);
        for want in [
            "<dd>Väntar på beslut</dd>",
            "<dd>212000-0142</dd>",
            "<a href=\"mailto:fed@exempel.se\">fed@exempel.se</a>",
            "https://a.portal.example.se",
            "Godkänt anslutningsavtal",
            &format!("version {agreement} (det som gäller nu)"),
            &shown_time(&created),
        ] {
            assert!(card.contains(want), "{label}: {want:?} in {card}");
        }
        assert!(!card.contains("<dd>pending") && !card.contains("162120000142"), "{label}: no raw values: {card}");
        let english = post("/anslutning?lang=en", form(&[("token", &token), ("status", "pending")])).await.unwrap();
        let english = english.text().await.unwrap();
        let card = article(&english, &ids[0]);
        for want in
            ["<dd>Awaiting decision</dd>", "Organisation number", &format!("version {agreement} (the one in force)")]
        {
            assert!(card.contains(want), "{label}: {want:?} in {card}");
        }

        let no_reason = post(
            "/anslutning/beslut",
            form(&[("token", &token), ("id", &ids[1]), ("decision", "reject"), ("reason", "")]),
        )
        .await
        .unwrap();
        assert_eq!(no_reason.status(), 400, "{label}");
        let page = no_reason.text().await.unwrap();
        assert!(page.contains("Skäl: ange varför"), "{label}: refused for the missing reason: {page}");
        let approved = post(
            "/anslutning/beslut",
            form(&[("token", &token), ("id", &ids[0]), ("decision", "approve"), ("reason", "")]),
        )
        .await
        .unwrap();
        assert_eq!(approved.status(), 200, "{label}");
        assert!(approved.text().await.unwrap().contains("godkändes"));
        let rejected = post(
            "/anslutning/beslut?lang=en",
            form(&[
                ("token", &token),
                ("id", &ids[1]),
                ("decision", "reject"),
                ("reason", "Wrong organisation"),
                ("status", "all"),
            ]),
        )
        .await
        .unwrap();
        let page = rejected.text().await.unwrap();
        assert!(page.contains("was rejected"), "{label}");
        let card = article(&page, &ids[1]);
        assert!(
            card.contains("<dd>Rejected</dd>") && card.contains("The operator token (operator-token)"),
            "{label}: {card}"
        );

        // Decided applications, in the Swedish list of all: decision, time, reason and who decided.
        let api = |id: String| {
            let url = server.url(&format!("/federation/v1/applications/{id}"));
            async move { json_of(c.get(url).send().await.unwrap()).await }
        };
        let (first, second) = (api(ids[0].clone()).await, api(ids[1].clone()).await);
        assert_eq!(second["decidedBy"], "operator-token", "{label}: the API names the decider");
        let all = post("/anslutning", form(&[("token", &token), ("status", "all")])).await.unwrap();
        let all = all.text().await.unwrap();
        let card = article(&all, &ids[1]);
        for want in [
            "<dd>Avslagen</dd>",
            "<dt>Skäl</dt><dd>Wrong organisation</dd>",
            "<dt>Beslutad av</dt><dd>Operatörsnyckeln (operator-token)</dd>",
            &shown_time(second["decidedAt"].as_str().unwrap()),
        ] {
            assert!(card.contains(want), "{label}: {want:?} in {card}");
        }
        assert!(article(&all, &ids[0]).contains("<dd>Godkänd</dd>"), "{label}");

        // Deciding again is refused in the page's language, saying what was decided and when.
        let decided_at = first["decidedAt"].as_str().unwrap();
        let when = format!("{} {} UTC", &decided_at[..10], &decided_at[11..16]);
        let again = |lang: &'static str| {
            post(
                &format!("/anslutning/beslut{lang}"),
                form(&[("token", &token), ("id", &ids[0]), ("decision", "approve"), ("reason", "")]),
            )
        };
        let sv = again("").await.unwrap();
        assert_eq!(sv.status(), 409, "{label}");
        let page = sv.text().await.unwrap();
        assert!(
            page.contains(&format!("Ansökan är redan beslutad (godkänd {when}); inget ändrades.")),
            "{label}: refused in Swedish: {page}"
        );
        assert!(!page.contains("already"), "{label}: no English on the Swedish page");
        let en = again("?lang=en").await.unwrap();
        assert_eq!(en.status(), 409, "{label}");
        let page = en.text().await.unwrap();
        assert!(
            page.contains(&format!("The application is already decided (approved {when}); nothing was changed.")),
            "{label}: refused in English: {page}"
        );
        let missing =
            post("/anslutning/beslut", form(&[("token", &token), ("id", "no-such"), ("decision", "approve")]))
                .await
                .unwrap();
        assert_eq!(missing.status(), 404, "{label}");
        assert!(missing.text().await.unwrap().contains("Det finns ingen ansökan no-such; inget ändrades."), "{label}");
        let odd = post("/anslutning/beslut", form(&[("token", &token), ("id", &ids[0]), ("decision", "maybe")]))
            .await
            .unwrap();
        assert_eq!(odd.status(), 400, "{label}");
        assert!(
            odd.text().await.unwrap().contains("Beslutet godtogs inte (decision: välj Godkänn eller Avslå)"),
            "{label}"
        );

        // A person decides with her session: the page names her by a masked number only, as does the
        // public view of the application; the operator's list has the number as recorded.
        let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let grant = c
            .put(server.url("/access/v1/policies/operator-tolvan"))
            .bearer_auth(&token)
            .json(&json!({"resource": "api", "description": "federation operator",
                          "text": "permit (principal == Ena::Person::\"191212121212\", action == Ena::Action::\"operate\", resource is Ena::Api);"}))
            .send()
            .await
            .unwrap();
        assert!(grant.status().is_success(), "{label}");
        let tolvan = test_eid_login(&server, &browser, "191212121212", 3).await.unwrap();
        let third = Member::new("c.portal.example.se", &server.url(""));
        let mut body = third.application(agreement, "");
        body["trustMarks"] = json!([]);
        let applied = c.post(server.url("/federation/v1/applications")).json(&body).send().await.unwrap();
        assert_eq!(applied.status(), 201, "{label}");
        let third = applied.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        let page = browser
            .get(server.url("/anslutning?status=all"))
            .header("cookie", &tolvan)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = hidden_fields(&page).into_iter().find(|(k, _)| k == "csrf").expect("the session's form").1;
        let decided = browser
            .post(server.url("/anslutning/beslut"))
            .header("cookie", &tolvan)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("csrf", &csrf),
                ("id", &third),
                ("decision", "reject"),
                ("reason", "Fel värd"),
                ("status", "all"),
            ]))
            .send()
            .await
            .unwrap();
        assert_eq!(decided.status(), 200, "{label}");
        let page = decided.text().await.unwrap();
        let card = article(&page, &third);
        assert!(card.contains("<dt>Beslutad av</dt><dd>19121212-****</dd>"), "{label}: masked: {card}");
        assert!(!page.contains("191212121212"), "{label}: the number is never shown in full");
        assert_eq!(api(third.clone()).await["decidedBy"], "operator", "{label}: the public view names the role only");
        let listed = json_of(
            c.get(server.url("/federation/v1/applications?status=rejected")).bearer_auth(&token).send().await.unwrap(),
        )
        .await;
        let recorded = listed["items"].as_array().unwrap().iter().find(|a| a["id"] == third.as_str()).unwrap();
        assert_eq!(recorded["decidedBy"], "191212121212", "{label}: the operator's list has it as recorded");
    }
}

/// Mutual TLS on the node listener, checked with curl and openssl (tools no one here wrote) and with
/// ena's own outbound node client.
#[test]
fn node_listener_requires_a_good_member_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let served = start_serve(&data, &["--node-listen", "127.0.0.1:0"], &[]);
    let node_addr = loop {
        let line = served.log.recv_timeout(Duration::from_secs(30)).expect("node listener line");
        if let Some(rest) = line.split("node mTLS listening on https://").nth(1) {
            break rest.split(' ').next().unwrap().to_owned();
        }
    };
    let base = format!("http://{}", served.addr);
    let token = std::fs::read_to_string(data.join("operator.token")).unwrap().trim().to_owned();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let http = reqwest::Client::new();
    // Not `localhost`: that is the anchor's own node listener's name (one member per host, not the anchor's).
    let member = Member::new("nod.exempel.se", &base);
    let (cert_pem, ca_pem) = rt.block_on(async {
        let agreement = http
            .get(format!("{base}/federation/v1/agreement"))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()["version"]
            .as_i64()
            .unwrap();
        let mut body = member.application(agreement, "");
        body["trustMarks"] = json!([]);
        let app: Value = http
            .post(format!("{base}/federation/v1/applications"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let approved = http
            .post(format!("{base}/federation/v1/applications/{}/approve", app["id"].as_str().unwrap()))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(approved.status(), 200);
        let members: Value = http
            .get(format!("{base}/federation/v1/members"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let ca = http.get(format!("{base}/federation/v1/ca-certificate")).send().await.unwrap().text().await.unwrap();
        (members["items"][0]["certificate"].as_str().unwrap().to_owned(), ca)
    });
    let path = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let (ca, cert, key) =
        (path("ca.pem", &ca_pem), path("cert.pem", &cert_pem), path("key.pem", &member.tls.serialize_pem()));
    let url = format!("https://{node_addr}/federation/v1/whoami");
    let curl = |extra: &[&str]| {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "10", "--cacert", &ca])
            .args(extra)
            .arg(&url)
            .output()
            .expect("curl");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    // A member's certificate: curl and openssl both get through; the handler sees the verified member.
    let (ok, body, err) = curl(&["--cert", &cert, "--key", &key]);
    assert!(ok, "{err}");
    let peer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(peer["entityId"], member.id);
    let s_client = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &node_addr,
            "-cert",
            &cert,
            "-key",
            &key,
            "-CAfile",
            &ca,
            "-verify_return_error",
            "-brief",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let s_err = String::from_utf8_lossy(&s_client.stderr);
    assert!(s_err.contains("Verification: OK"), "{s_err}");

    // ena's own outbound client, trusting only the federation CA.
    let client = ena_federation::client::node_client(&ca_pem, &cert_pem, &member.tls.serialize_pem()).unwrap();
    let who: Value = rt.block_on(async { client.get(&url).send().await.unwrap().json().await.unwrap() });
    assert_eq!(who["entityId"], member.id);

    // No certificate, or a self-signed one: the handshake fails.
    let (ok, _, _) = curl(&[]);
    assert!(!ok, "no client certificate must be refused");
    let own = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, "localhost");
    let self_signed = params.self_signed(&own).unwrap();
    let (ss_cert, ss_key) = (path("self.pem", &self_signed.pem()), path("self.key", &own.serialize_pem()));
    let (ok, _, err) = curl(&["--cert", &ss_cert, "--key", &ss_key]);
    assert!(!ok, "a self-signed certificate must be refused: {err}");

    // Suspended: the certificate is revoked, every request is refused.
    rt.block_on(async {
        let r = http
            .post(format!("{base}/federation/v1/members/suspend"))
            .bearer_auth(&token)
            .json(&json!({"entityId": member.id}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    });
    let (_, body, _) = curl(&["--cert", &cert, "--key", &key]);
    let problem: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["code"], "permission-denied", "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("revoked"), "{problem}");
    sigterm_and_wait(served);
}

/// The operator's list is paged: 50 a page, with next and previous, for the token form as for a person.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_portal_pages_long_lists_on_each_database() {
    for server in TestServer::each().await {
        let label = &server.label;
        let c = &server.client;
        let agreement = json_of(c.get(server.url("/federation/v1/agreement")).send().await.unwrap()).await["version"]
            .as_i64()
            .unwrap();
        let mut ids = Vec::new();
        for i in 0..51 {
            let m = Member::new(&format!("n{i}.paging.example.se"), &server.url(""));
            let mut body = m.application(agreement, "");
            body["trustMarks"] = json!([]);
            let r = c.post(server.url("/federation/v1/applications")).json(&body).send().await.unwrap();
            assert_eq!(r.status(), 201, "{label}");
            ids.push(r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
        }
        let token = server.operator_token();
        let list = |page: &str| {
            c.post(server.url("/anslutning"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(&[("token", &token), ("status", "pending"), ("page", page)]))
                .send()
        };
        let first = list("1").await.unwrap().text().await.unwrap();
        let shown = |html: &str| ids.iter().filter(|id| html.contains(id.as_str())).count();
        assert_eq!(shown(&first), 50, "{label}: 50 on the first page");
        assert!(first.contains("Nästa sida") && !first.contains("Föregående sida"), "{label}");
        let second = list("2").await.unwrap().text().await.unwrap();
        assert_eq!(shown(&second), 1, "{label}: the rest on the second");
        assert!(second.contains("Föregående sida") && !second.contains("Nästa sida"), "{label}");
        // The oldest is the one on the second page (newest first).
        assert!(second.contains(ids[0].as_str()), "{label}");
    }
}
