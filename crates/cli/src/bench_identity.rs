//! `ena bench identity`: the login round trip through the built-in test eID over HTTP, token issuance
//! rate of the test provider, and ID-token verification rate of the relying party. Reports; never fails
//! on timing.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ena_identity::loa::{AcrMap, Loa, acr_uri};
use ena_identity::rp::{ProviderConfig, RelyingParty};
use ena_identity::testeid::{TestClient, TestProvider};
use ena_identity::{random_token, sha256_b64};
use ena_server::{AppState, ServerConfig};

#[derive(Debug, clap::Args)]
pub struct IdentityBench {
    /// Logins timed over HTTP.
    #[arg(long, default_value_t = 200)]
    logins: usize,
    /// Seconds per rate measurement.
    #[arg(long, default_value_t = 3)]
    seconds: u64,
}

fn median_ms(mut v: Vec<Duration>) -> f64 {
    v.sort_unstable();
    v.get(v.len() / 2).map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

fn rate(seconds: u64, mut op: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        op()?;
        n += 1;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

pub fn run(args: IdentityBench) -> anyhow::Result<()> {
    // In-process: a code issued and exchanged (PKCE checked, ID token signed), one at a time.
    let provider = TestProvider::new(
        "https://op.bench",
        vec![TestClient {
            client_id: "rp".into(),
            client_secret_sha256: ena_identity::sha256_b64("s"),
            redirect_uris: vec!["https://rp.bench/cb".into()],
        }],
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    let verifier = random_token(32);
    let query: HashMap<String, String> = [
        ("client_id", "rp"),
        ("redirect_uri", "https://rp.bench/cb"),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "s"),
        ("nonce", "n"),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .chain([("code_challenge".to_owned(), sha256_b64(&verifier))])
    .collect();
    let mut last_token = String::new();
    let issued = rate(args.seconds, || {
        let request = provider.check_authorize(&query, None).map_err(|(_, e)| anyhow::anyhow!(e))?;
        let redirect = provider.approve(request, "191212121212").map_err(|e| anyhow::anyhow!(e))?;
        let code = redirect.split("code=").nth(1).and_then(|r| r.split('&').next()).unwrap_or_default().to_owned();
        let form: HashMap<String, String> = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "https://rp.bench/cb"),
            ("client_id", "rp"),
            ("client_secret", "s"),
            ("code_verifier", verifier.as_str()),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let tokens = provider.token(&form, None, None).map_err(|e| anyhow::anyhow!(e))?;
        last_token = tokens["id_token"].as_str().unwrap_or_default().to_owned();
        Ok(())
    })?;
    let p = ProviderConfig {
        id: "bench".into(),
        name: "bench".into(),
        issuer: "https://op.bench".into(),
        client_id: "rp".into(),
        client_secret: "s".into(),
        test_only: true,
        federation_metadata: None,
    };
    let rp = RelyingParty::new(vec![p.clone()], AcrMap::default(), None);
    let jwks = provider.jwks();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let verified = rate(args.seconds, || {
        let who = rp.verify_id_token(&last_token, &p, &jwks, "n", now).map_err(|e| anyhow::anyhow!(e))?;
        anyhow::ensure!(who.loa >= Loa(3) && !acr_uri(who.loa).is_empty());
        Ok(())
    })?;
    println!("test eID: {issued:.0} codes issued and exchanged for ID tokens per second (one at a time, in process)");
    println!(
        "relying party: {verified:.0} ID tokens verified per second (signature, claims, identity number; one core)"
    );

    // Over HTTP: the whole login through the test eID, as a browser does it (5 requests), median.
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(async {
        let temp = tempfile::tempdir()?;
        let store = ena_store::Store::open_sqlite(&temp.path().join("bench.db")).await?;
        ena_server::prepare_store(&store).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let config = ServerConfig { federation_entity_id: format!("http://{addr}"), ..ServerConfig::default() };
        let state = AppState::open(store, config, temp.path()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let signatures = state.signatures.clone();
        api_tokens(&state, args.seconds).await?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, ena_server::app(state).into_make_service()).await;
        });
        let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
        let base = format!("http://{addr}");
        let mut times = Vec::new();
        for _ in 0..args.logins {
            let t = Instant::now();
            let start = c.get(format!("{base}/login/start?provider=test-eid&loa=3")).send().await?;
            let to = header(&start, "location");
            let login_cookie = header(&start, "set-cookie").split(';').next().unwrap_or_default().to_owned();
            let page = c.get(&to).send().await?.text().await?;
            let mut body: Vec<String> = page
                .split("<input type=\"hidden\" name=\"")
                .skip(1)
                .filter_map(|rest| {
                    let name = rest.split('"').next()?;
                    let value = rest.split("value=\"").nth(1)?.split('"').next()?;
                    Some(format!("{name}={}", ena_identity::testeid::encode(value)))
                })
                .collect();
            body.push("person=191212121212".into());
            let picked = c
                .post(format!("{base}/test-eid/authorize"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.join("&"))
                .send()
                .await?;
            let callback = c.get(header(&picked, "location")).header("cookie", login_cookie).send().await?;
            anyhow::ensure!(callback.status() == 303, "login failed: {}", callback.status());
            let cookie = header(&callback, "set-cookie").split(';').next().unwrap_or_default().to_owned();
            let mine = c.get(format!("{base}/mina-sidor")).header("cookie", cookie).send().await?;
            anyhow::ensure!(mine.status() == 200, "Mina sidor: {}", mine.status());
            times.push(t.elapsed());
        }
        // Signatures through the service, one at a time: each sign appends (durably) to the audit log; each
        // verify checks the JWS, reads the entry and proves its inclusion in the latest checkpoint.
        let session = ena_identity::session::Session {
            person: ena_core::PersonId::parse("191212121212").map_err(|e| anyhow::anyhow!("{e}"))?,
            name: "Tolvan Tolvansson".into(),
            loa: Loa(3),
            provider: "bench".into(),
            csrf: String::new(),
            sid: String::new(),
            created_at: 0,
        };
        let digest = [7u8; 32];
        let deadline = Instant::now() + Duration::from_secs(args.seconds);
        let (mut n, started) = (0u64, Instant::now());
        let mut last = None;
        while Instant::now() < deadline {
            last = Some(signatures.sign(&session, &digest).await.map_err(|e| anyhow::anyhow!("{e}"))?);
            n += 1;
        }
        let sign_rate = n as f64 / started.elapsed().as_secs_f64();
        let sig = last.ok_or_else(|| anyhow::anyhow!("no signature was made"))?.signature;
        let deadline = Instant::now() + Duration::from_secs(args.seconds);
        let (mut m, started) = (0u64, Instant::now());
        while Instant::now() < deadline {
            signatures.verify(&digest, &sig).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            m += 1;
        }
        let verify_rate = m as f64 / started.elapsed().as_secs_f64();
        println!("signature service: {sign_rate:.0} signatures/s (each a durable log append), {verify_rate:.0} verifications/s (JWS + log entry + inclusion proof); one at a time");
        println!(
            "login round trip over HTTP through the test eID (start, provider page, pick, callback, Mina sidor): median {:.2} ms over {} logins",
            median_ms(times),
            args.logins
        );
        Ok::<(), anyhow::Error>(())
    })
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

/// Identity-bound API tokens through the token service: one member onboarded in process, then tokens
/// issued to it (mTLS client authentication: every issuance is a durable log append) one at a time and
/// 16 at once, tokens issued with private_key_jwt (assertion checked against the member's resolved
/// federation metadata, single-use jti stored), and tokens checked as a resource does.
async fn api_tokens(state: &AppState, seconds: u64) -> anyhow::Result<()> {
    use serde_json::json;
    let ta = state.federation.clone();
    let (id, client_key) = onboard_member(state).await?;
    let peer = ena_federation::NodePeer {
        entity_id: id.clone(),
        organisation_number: "2120000142".into(),
        name: "Bench member".into(),
        certificate_sha256: "bench-certificate-thumbprint".into(),
    };
    let audience = ta.entity_id().to_owned();
    let form: HashMap<String, String> = [("grant_type", "client_credentials"), ("audience", audience.as_str())]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();

    let timed = |n: u64, started: Instant| n as f64 / started.elapsed().as_secs_f64();
    let (mut n, started) = (0u64, Instant::now());
    let mut token = String::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        let body = state.tokens.token(Some(&peer), &form).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        token = body["access_token"].as_str().unwrap_or_default().to_owned();
        n += 1;
    }
    let mtls = timed(n, started);

    let counter = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (state, peer, form, counter) = (state.clone(), peer.clone(), form.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            while started.elapsed() < Duration::from_secs(seconds) {
                state.tokens.token(Some(&peer), &form).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let mtls_16 = timed(counter.load(std::sync::atomic::Ordering::Relaxed), started);

    let endpoint = state.tokens.token_endpoint().to_owned();
    let (mut n, started) = (0u64, Instant::now());
    while started.elapsed() < Duration::from_secs(seconds) {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let assertion = client_key.sign(
            "JWT",
            &json!({"iss": id, "sub": id, "aud": endpoint, "iat": now, "exp": now + 60, "jti": random_token(12)}),
        );
        let mut f = form.clone();
        f.insert("client_assertion_type".into(), ena_identity::token::CLIENT_ASSERTION_TYPE.into());
        f.insert("client_assertion".into(), assertion);
        state.tokens.token(None, &f).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        n += 1;
    }
    let jwt = timed(n, started);

    let (mut n, started) = (0u64, Instant::now());
    while started.elapsed() < Duration::from_secs(seconds) {
        let caller = state
            .tokens
            .check(&token, Some("bench-certificate-thumbprint"), &audience)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        anyhow::ensure!(caller.certificate_bound);
        n += 1;
    }
    let checked = timed(n, started);
    println!(
        "API tokens: {mtls:.0} issued/s over mTLS client auth one at a time, {mtls_16:.0}/s 16 at once (each a durable log append); {jwt:.0}/s with private_key_jwt (one at a time); {checked:.0} certificate-bound tokens checked/s"
    );
    Ok(())
}

/// Onboard one member in process whose `oauth_client` metadata holds the returned key (so it can get
/// tokens with private_key_jwt); returns its entity id.
pub(crate) async fn onboard_member(state: &AppState) -> anyhow::Result<(String, ena_keys::jose::SigningKey)> {
    use ena_federation::anchor::{ApplicationInput, ENA_NODE};
    use ena_keys::jose::SigningKey;
    use serde_json::json;
    let ta = state.federation.clone();
    let (fed_key, client_key) = (SigningKey::generate()?, SigningKey::generate()?);
    let id = "https://node.bench.example".to_owned();
    let jwks = json!({"keys": [fed_key.public_jwk()]});
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let ec = fed_key.sign(
        ena_federation::chain::ENTITY_STATEMENT_TYP,
        &json!({"iss": id, "sub": id, "iat": now, "exp": now + 86_400, "jwks": jwks, "authority_hints": [ta.entity_id()],
                "metadata": {"oauth_client": {"jwks": {"keys": [client_key.public_jwk()]}}}}),
    );
    let input = ApplicationInput {
        organisation_number: "212000-0142".into(),
        name: "Bench member".into(),
        contact: "bench@example.se".into(),
        entity_id: id.clone(),
        jwks,
        entity_types: vec![ENA_NODE.into(), "oauth_client".into()],
        metadata: None,
        trust_marks: vec![],
        key_request: None,
        entity_configuration: Some(ec),
        accept_agreement: Some(ta.agreement().await?.version),
    };
    let ctx = ena_audit::Context::system("bench");
    let app = ta.apply(&ctx, &input).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    ta.approve(&ctx, &app.id).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((id, client_key))
}
