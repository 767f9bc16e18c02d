//! The usual callers of a test, so a test reads like its scenario: a person logged in through the
//! built-in test eID at a level, an operator person (a person whom a policy of the decision point lets
//! operate ena), and member systems of the federation with their certificate, node connection and
//! access token. Each helper goes through the same HTTP a real caller uses; none of them reaches into
//! the database.

use std::net::SocketAddr;

use serde_json::{Value, json};

use crate::TestServer;
use crate::web::{form, form_body, hidden_fields, json_of, location, post_form, session_cookie};

/// A person logged in to the portal: their identity number, their session cookie and a browser that
/// does not follow redirects (so a test sees them).
pub struct Person {
    pub id: String,
    pub cookie: String,
    pub browser: reqwest::Client,
}

/// A browser as a test uses one: cookies by hand, redirects not followed.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("browser")
}

impl TestServer {
    /// `id` logged in through the test eID at `loa`; panics if the login is refused.
    pub async fn person(&self, id: &str, loa: u8) -> Person {
        let browser = browser();
        let cookie = test_eid_login(self, &browser, id, loa).await.unwrap_or_else(|(status, page)| {
            panic!("{}: login of {id} at LoA {loa} refused ({status}): {page}", self.label)
        });
        Person { id: id.to_owned(), cookie, browser }
    }

    /// `id` logged in at LoA 3 after the bootstrap operator token gave them the operator role, through
    /// a policy of the decision point (`operator-<id>`), as a deployment's first operator does.
    pub async fn operator_person(&self, id: &str) -> Person {
        let text = format!(
            "permit (principal == Ena::Person::\"{id}\", action == Ena::Action::\"operate\", resource is Ena::Api);"
        );
        let r = self
            .client
            .put(self.url(&format!("/access/v1/policies/operator-{id}")))
            .bearer_auth(self.operator_token())
            .json(&json!({"resource": "api", "description": "operator (test)", "text": text}))
            .send()
            .await
            .expect("PUT policy");
        assert!(r.status().is_success(), "{}: operator policy for {id}: {}", self.label, r.status());
        self.person(id, 3).await
    }

    /// Apply for `member` and have the operator approve it; returns its node certificate (PEM).
    pub async fn onboard(&self, member: &Member) -> String {
        let c = &self.client;
        let token = self.operator_token();
        let agreement = json_of(c.get(self.url("/federation/v1/agreement")).send().await.unwrap()).await["version"]
            .as_i64()
            .unwrap();
        let ec = c.get(self.url("/.well-known/openid-federation")).send().await.unwrap().text().await.unwrap();
        let mark = payload(&ec)["trust_mark_issuers"].as_object().unwrap().keys().next().unwrap().clone();
        let created =
            c.post(self.url("/federation/v1/applications")).json(&member.application(agreement, &mark)).send().await;
        let created = created.unwrap();
        assert_eq!(created.status(), 201, "{}: application of {}", self.label, member.id);
        let app: Value = created.json().await.unwrap();
        let approve = format!("/federation/v1/applications/{}/approve", app["id"].as_str().unwrap());
        assert_eq!(c.post(self.url(&approve)).bearer_auth(&token).send().await.unwrap().status(), 200);
        let members = c.get(self.url("/federation/v1/members?limit=100")).bearer_auth(&token).send().await;
        let members = json_of(members.unwrap()).await;
        let m = members["items"].as_array().unwrap().iter().find(|m| m["entityId"] == member.id.as_str()).unwrap();
        m["certificate"].as_str().unwrap().to_owned()
    }

    /// Two onboarded members (A and B) and this server's node listener, with an mTLS client for each.
    pub async fn two_members(&mut self) -> Federated {
        let node = self.node_listener().await;
        let anchor = self.url("");
        let (a, b) = (Member::new("a.exempel.se", &anchor), Member::new("b.exempel.se", &anchor));
        let (cert_a, cert_b) = (self.onboard(&a).await, self.onboard(&b).await);
        let ca = self.state.federation.ca_certificate().to_owned();
        let tls_a = ena_federation::client::node_client(&ca, &cert_a, &a.tls.serialize_pem()).unwrap();
        let tls_b = ena_federation::client::node_client(&ca, &cert_b, &b.tls.serialize_pem()).unwrap();
        Federated { node, anchor, a, b, cert_a, tls_a, tls_b }
    }
}

/// Two onboarded members (A and B) and the server's node listener, with an mTLS client for each.
pub struct Federated {
    pub node: SocketAddr,
    /// The trust anchor's entity id (the server's base URL), the audience of tokens for it.
    pub anchor: String,
    pub a: Member,
    pub b: Member,
    pub cert_a: String,
    pub tls_a: reqwest::Client,
    pub tls_b: reqwest::Client,
}

impl Federated {
    /// An access token for member system A, from the token endpoint on the node listener (mTLS client
    /// credentials, so bound to A's certificate), for the central services.
    pub async fn token_a(&self) -> String {
        let url = format!("https://{}/identity/v1/token", self.node);
        let body = form(&[("grant_type", "client_credentials"), ("audience", &self.anchor)]);
        let r = post_form(&self.tls_a, &url, body).await;
        assert_eq!(r.status(), 200, "token for {}", self.a.id);
        json_of(r).await["access_token"].as_str().unwrap().to_owned()
    }
}

/// A member of the federation as its own software is: its keys, and what it applies with.
pub struct Member {
    pub id: String,
    /// Federation entity key (signs the entity configuration).
    pub key: ena_keys::jose::SigningKey,
    pub tls: rcgen::KeyPair,
    /// `oauth_client` key (private_key_jwt at the token endpoint).
    pub client_key: ena_keys::jose::SigningKey,
    /// `ena_credential_issuer` key (signs employee credentials).
    pub credential_key: ena_keys::jose::SigningKey,
    /// Entity types applied for, and metadata beyond ena_node's (by entity type).
    pub entity_types: Value,
    pub extra_metadata: Value,
    /// The organisation number applied with.
    pub organisation: String,
    /// The trust anchor it names in `authority_hints`.
    pub anchor: String,
}

impl Member {
    /// A member of the federation whose trust anchor is `anchor` (its entity id, the server's base URL).
    pub fn new(host: &str, anchor: &str) -> Member {
        Member {
            anchor: anchor.trim_end_matches('/').to_owned(),
            id: format!("https://{host}"),
            key: ena_keys::jose::SigningKey::generate().unwrap(),
            tls: rcgen::KeyPair::generate().unwrap(),
            client_key: ena_keys::jose::SigningKey::generate().unwrap(),
            credential_key: ena_keys::jose::SigningKey::generate().unwrap(),
            entity_types: json!(["ena_node", "oauth_client", "ena_credential_issuer"]),
            extra_metadata: json!({}),
            organisation: "212000-0142".into(),
        }
    }

    pub fn jwks(&self) -> Value {
        json!({"keys": [self.key.public_jwk()]})
    }

    pub fn configuration(&self) -> String {
        let types: Vec<&str> = self.entity_types.as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
        self.configuration_with(&types, 0)
    }

    /// A self-signed entity configuration with metadata for `types`, issued `iat_offset` seconds from now.
    pub fn configuration_with(&self, types: &[&str], iat_offset: i64) -> String {
        let now = ena_core::time::unix_now() + iat_offset;
        let all = json!({
            "ena_node": {"api_endpoint": format!("{}/node/v1", self.id)},
            "oauth_client": {"jwks": {"keys": [self.client_key.public_jwk()]}},
            "ena_credential_issuer": {"jwks": {"keys": [self.credential_key.public_jwk()]}},
        });
        let mut metadata = json!({});
        for t in types {
            if let Some(m) = all.get(*t) {
                metadata[*t] = m.clone();
            }
        }
        for (t, m) in self.extra_metadata.as_object().unwrap() {
            metadata[t] = m.clone();
        }
        self.key.sign(
            "entity-statement+jwt",
            &json!({"iss": self.id, "sub": self.id, "iat": now, "exp": now + 3600, "jwks": self.jwks(),
                    "authority_hints": [self.anchor], "metadata": metadata}),
        )
    }

    /// A certificate signing request for `cn` with the member's TLS key.
    pub fn csr(&self, cn: &str) -> String {
        let mut p = rcgen::CertificateParams::new(vec![cn.to_owned()]).unwrap();
        p.distinguished_name.push(rcgen::DnType::CommonName, cn);
        p.serialize_request(&self.tls).unwrap().pem().unwrap()
    }

    /// The body of its application, accepting agreement version `agreement`, asking for `trust_mark`.
    pub fn application(&self, agreement: i64, trust_mark: &str) -> Value {
        json!({
            "organisationNumber": self.organisation, "name": "Exempelkommunen", "contact": "fed@exempel.se",
            "entityId": self.id, "jwks": self.jwks(), "entityTypes": self.entity_types,
            "metadata": {"ena_node": {"api_endpoint": format!("{}/node/v1", self.id)}},
            "trustMarks": [trust_mark], "keyRequest": self.csr(self.id.trim_start_matches("https://")),
            "entityConfiguration": self.configuration(), "acceptAgreement": agreement
        })
    }
}

/// Log in through the built-in test eID as `person` up to the provider's redirect back: returns the
/// callback URL and the login cookie `/login/start` set in this browser.
pub async fn test_eid_until_callback(
    server: &TestServer,
    c: &reqwest::Client,
    person: &str,
    loa: u8,
    return_to: &str,
) -> (String, String) {
    let start = c
        .get(server.url(&format!("/login/start?provider=test-eid&loa={loa}&return={return_to}")))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 303, "start redirects to the provider");
    let login_cookie = start
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .unwrap_or_default();
    let page = c.get(location(&start)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("ENDAST FÖR TEST"), "the test provider says TEST ONLY");
    let mut fields = hidden_fields(&html);
    fields.push(("person".into(), person.into()));
    let picked = c
        .post(server.url("/test-eid/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&fields))
        .send()
        .await
        .unwrap();
    assert_eq!(picked.status(), 303);
    (location(&picked), login_cookie)
}

/// Log in through the built-in test eID as `person`, asking for `loa`; returns the session cookie or the
/// refusal page's status and text.
pub async fn test_eid_login(
    server: &TestServer,
    c: &reqwest::Client,
    person: &str,
    loa: u8,
) -> Result<String, (u16, String)> {
    let (callback, login_cookie) = test_eid_until_callback(server, c, person, loa, "%2Fmina-sidor").await;
    let callback = c.get(callback).header("cookie", login_cookie).send().await.unwrap();
    if callback.status() != 303 {
        let status = callback.status().as_u16();
        return Err((status, callback.text().await.unwrap()));
    }
    assert_eq!(location(&callback), "/mina-sidor");
    Ok(session_cookie(&callback))
}

/// The claims of a compact JWS, unverified (the tests check signatures elsewhere).
pub fn payload(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}
