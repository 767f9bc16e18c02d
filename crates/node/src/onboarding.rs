//! Joining the federation: `init` (everything checked before anything is written, then the node's keys,
//! settings and application), `reapply` after a rejection, the agreement in force, and what an
//! application's state tells the node to do next.

use super::*;

/// What `ena node init` is told.
#[derive(Debug, Clone)]
pub struct InitOptions {
    pub data_dir: PathBuf,
    pub federation: String,
    pub federation_node: String,
    pub entity_id: String,
    pub organisation: String,
    pub name: String,
    pub contact: String,
    pub listen: String,
    pub peer_listen: String,
    /// The agreement version the organisation accepts (the CLI shows it and needs `--accept-agreement`).
    pub accept_agreement: i64,
    /// Apply as a mailbox operator of Mina meddelanden too, with this mailbox name.
    pub mailbox_operator: Option<String>,
}

/// The agreement in force at the federation `federation` (its public URL) — the first thing `node
/// init` asks, so an unreachable or wrong URL is found before anything is written.
pub async fn agreement(federation: &str) -> anyhow::Result<Agreement> {
    let federation = federation.trim_end_matches('/');
    let client = reqwest::Client::builder().timeout(Duration::from_secs(15)).build()?;
    let url = format!("{federation}/federation/v1/agreement");
    let response = client.get(&url).send().await.with_context(|| not_answering("--federation", federation))?;
    if !response.status().is_success() {
        bail!(
            "{url} answered {}: --federation must be the central instance's public URL (e.g. http://127.0.0.1:8080)",
            response.status()
        );
    }
    response
        .json()
        .await
        .with_context(|| format!("{url} did not answer with the agreement: is --federation an ena central instance?"))
}

/// The agreement (anslutningsavtal) an organisation accepts to join.
#[derive(Debug, Clone, Deserialize)]
pub struct Agreement {
    pub version: i64,
    pub title: String,
    pub body: String,
}

/// What to say when the central instance's public listener does not answer.
fn not_answering(flag: &str, url: &str) -> String {
    format!(
        "the federation at {url} does not answer: check {flag} (the central instance's public URL) and that `ena serve` runs there"
    )
}

/// What to say when the central instance's node listener does not answer.
pub(crate) fn node_listener_down(url: &str) -> String {
    let at = url.trim_start_matches("https://");
    format!(
        "the federation's node listener at {url} does not answer (`federation_node` in node.toml, `--federation-node` of `ena node init`): the central instance must run with `--node-listen {at}`"
    )
}

/// Whether something accepts TCP connections at an `https://host:port` URL (the node listener asks
/// for a federation certificate, which a node has only after approval, so a connection is all that can
/// be checked before).
async fn answers(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else { return false };
    let (Some(host), Some(port)) = (parsed.host_str(), parsed.port_or_known_default()) else { return false };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    matches!(
        tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect((host, port))).await,
        Ok(Ok(_))
    )
}

/// The trust anchor's entity id, from its entity configuration at `federation`.
async fn anchor_id(client: &reqwest::Client, federation: &str) -> anyhow::Result<String> {
    let ec = client
        .get(format!("{federation}/.well-known/openid-federation"))
        .send()
        .await
        .with_context(|| not_answering("--federation", federation))?
        .error_for_status()?
        .text()
        .await?;
    let parsed =
        ena_keys::jose::Unverified::parse(&ec).map_err(|e| anyhow!("the anchor's entity configuration: {e}"))?;
    Ok(parsed.payload.get("iss").and_then(Value::as_str).unwrap_or_default().trim_end_matches('/').to_owned())
}

/// Make the node's keys and settings, and apply to the federation. Returns the application id.
///
/// Everything that can be checked is checked before anything is written (the arguments, the
/// federation's public URL and node listener, the agreement version); if the application is then
/// refused, the data directory is removed again, so the same command can simply be run again.
pub async fn init(o: &InitOptions) -> anyhow::Result<String> {
    let host = host_of(&o.entity_id)?.to_owned();
    let organisation = ena_core::Organisationsnummer::parse(&o.organisation)
        .map_err(|e| anyhow!("--organisation: not an organisationsnummer: {e}"))?;
    check_contact(&o.contact)?;
    if o.data_dir.join(NODE_FILE).exists() {
        bail!(
            "{} already has a node ({NODE_FILE}): to apply again after a rejection run `ena node reapply --data-dir {}`; for a new node choose another --data-dir",
            o.data_dir.display(),
            o.data_dir.display()
        );
    }
    if std::fs::read_dir(&o.data_dir).is_ok_and(|mut d| d.next().is_some()) {
        bail!("--data-dir {} is not empty: choose a new directory for the node", o.data_dir.display());
    }
    let peer: SocketAddr = o.peer_listen.parse().map_err(|_| anyhow!("--peer-listen: not an address:port"))?;
    let _: SocketAddr = o.listen.parse().map_err(|_| anyhow!("--listen: not an address:port"))?;
    if let (_, Some(port)) = host_port(&o.entity_id)?
        && port != peer.port()
    {
        bail!(
            "--entity-id names port {port}, but --peer-listen is on {}: the entity id must answer (the node serves its entity configuration there)",
            peer.port()
        );
    }
    let federation = o.federation.trim_end_matches('/').to_owned();
    let federation_node = o.federation_node.trim_end_matches('/').to_owned();
    if !federation_node.starts_with("https://") {
        bail!("--federation-node must be the central instance's node listener as https://host:port");
    }
    let client = reqwest::Client::builder().timeout(Duration::from_secs(15)).build()?;
    let anchor = anchor_id(&client, &federation).await?;
    if !answers(&federation_node).await {
        bail!(node_listener_down(&federation_node));
    }
    let file = NodeFile {
        entity_id: o.entity_id.trim_end_matches('/').to_owned(),
        organisation: organisation.as_str().to_owned(),
        name: o.name.clone(),
        contact: o.contact.clone(),
        federation,
        federation_node,
        listen: o.listen.clone(),
        peer_listen: o.peer_listen.clone(),
        inbox_url: format!("https://{host}:{}/node/v1/inbox", peer.port()),
        application: None,
        address: vec![AddressSpec {
            address: organisation.as_str().to_owned(),
            kind: "organisation".into(),
            name: o.name.clone(),
            accepts: Vec::new(),
        }],
        message_type: Vec::new(),
        service: Vec::new(),
        mailbox_operator: o.mailbox_operator.clone().map(|name| MailboxOperatorSpec {
            name,
            function: default_mailbox_function(),
            max_attachment_bytes: default_max_attachment(),
        }),
    };
    let mut file = file;
    if let Some(address) = file.mailbox_address() {
        file.address.push(AddressSpec {
            address,
            kind: "function".into(),
            name: format!("{}, digital post", o.name),
            accepts: vec![format!("{}@{}", "se.ena.mail", "1.0")],
        });
    }
    let existed = o.data_dir.exists();
    let made = async {
        ena_keys::files::create_private_dir(&o.data_dir)
            .with_context(|| format!("cannot create {}", o.data_dir.display()))?;
        let keys = load_keys(&o.data_dir, &file.entity_id)?;
        submit(&client, &o.data_dir, file, &keys, &anchor, o.accept_agreement).await
    }
    .await;
    if made.is_err() {
        // Leave nothing half made: the same command can be run again.
        let _ = if existed { empty_dir(&o.data_dir) } else { std::fs::remove_dir_all(&o.data_dir) };
    }
    made
}

/// Apply again with the node's keys, after the operator rejected the application (or it was never
/// sent): the reason is shown by `ena node run`/`status`; fix what it says (node.toml, or `contact` and
/// `name` here) and run this. Returns the new application id.
pub async fn reapply(
    dir: &Path,
    contact: Option<String>,
    name: Option<String>,
    accept_agreement: i64,
) -> anyhow::Result<String> {
    let mut file = read_file(dir)?;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(15)).build()?;
    if let Some(id) = &file.application {
        let app = application(&client, &file.federation, id).await?;
        match app["status"].as_str() {
            Some("rejected") => {}
            Some("pending") => bail!("application {id} is still awaiting the operator's decision: nothing to reapply"),
            Some("approved") => {
                bail!("application {id} was approved: start the node with `ena node run --data-dir {}`", dir.display())
            }
            other => bail!("application {id} is {}", other.unwrap_or("unknown")),
        }
    }
    if let Some(c) = contact {
        check_contact(&c)?;
        file.contact = c;
    }
    if let Some(n) = name {
        file.name = n;
    }
    let anchor = anchor_id(&client, &file.federation).await?;
    let keys = load_keys(dir, &file.entity_id)?;
    submit(&client, dir, file, &keys, &anchor, accept_agreement).await
}

/// `--contact` must be an address a person reads: required, and shaped like an e-mail address.
fn check_contact(contact: &str) -> anyhow::Result<()> {
    let ok = contact.split_once('@').is_some_and(|(user, domain)| {
        !user.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
    }) && !contact.contains(char::is_whitespace)
        && contact.len() <= 254;
    if !ok {
        bail!(
            "--contact {contact:?} is not an e-mail address: give the address where your organisation takes federation matters"
        );
    }
    Ok(())
}

/// Remove what is inside `dir` (a directory that existed, empty, before `init`).
fn empty_dir(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() { std::fs::remove_dir_all(&path)? } else { std::fs::remove_file(&path)? }
    }
    Ok(())
}

/// Send the application (keys, CSR, signed entity configuration, the accepted agreement) and write
/// node.toml naming it.
async fn submit(
    client: &reqwest::Client,
    dir: &Path,
    mut file: NodeFile,
    keys: &Keys,
    anchor: &str,
    accept_agreement: i64,
) -> anyhow::Result<String> {
    let host = host_of(&file.entity_id)?.to_owned();
    let tls = rcgen::KeyPair::from_pem(&keys.tls_pem).context("tls.key")?;
    let mut params = rcgen::CertificateParams::new(vec![host.clone()])?;
    params.distinguished_name.push(rcgen::DnType::CommonName, host.as_str());
    let csr = params.serialize_request(&tls)?.pem()?;
    let (entity_types, trust_marks) = if file.mailbox_operator.is_some() {
        (
            json!(["ena_node", "ena_mailbox_operator"]),
            json!([format!("{anchor}/trust-marks/connected-mina-meddelanden")]),
        )
    } else {
        (json!(["ena_node"]), json!([]))
    };
    let application = json!({
        "organisationNumber": file.organisation, "name": file.name, "contact": file.contact,
        "entityId": file.entity_id, "jwks": {"keys": [keys.entity.public_jwk()]}, "entityTypes": entity_types,
        "trustMarks": trust_marks,
        "metadata": node_metadata(&file, keys),
        "keyRequest": csr, "entityConfiguration": entity_configuration(&file, keys, anchor),
        "acceptAgreement": accept_agreement,
    });
    let response = client
        .post(format!("{}/federation/v1/applications", file.federation))
        .json(&application)
        .send()
        .await
        .with_context(|| not_answering("--federation", &file.federation))?;
    if !response.status().is_success() {
        bail!("the federation refused the application: {}", directory::problem_text(response).await);
    }
    let created: Value = response.json().await?;
    let id =
        created["id"].as_str().ok_or_else(|| anyhow!("the federation answered without an application id"))?.to_owned();
    file.application = Some(id.clone());
    std::fs::write(dir.join(NODE_FILE), toml::to_string_pretty(&file)?)?;
    Ok(id)
}

/// An application as the federation shows it to its applicant.
pub(crate) async fn application(client: &reqwest::Client, federation: &str, id: &str) -> anyhow::Result<Value> {
    let response = client
        .get(format!("{federation}/federation/v1/applications/{id}"))
        .send()
        .await
        .with_context(|| not_answering("`federation` in node.toml", federation))?;
    if !response.status().is_success() {
        bail!("application {id}: {}", directory::problem_text(response).await);
    }
    Ok(response.json().await?)
}

/// What an application's state means for the node, as one line that says what to do next.
pub(crate) fn application_standing(app: &Value, dir: &Path) -> String {
    let id = app["id"].as_str().unwrap_or_default();
    match app["status"].as_str() {
        Some("rejected") => format!(
            "application {id} was rejected by the operator{}: {}. Fix what the reason says (node.toml, or --contact/--name) and apply again: ena node reapply --data-dir {} --accept-agreement",
            app["decidedAt"].as_str().map(|t| format!(" at {t}")).unwrap_or_default(),
            app["reason"].as_str().unwrap_or("no reason given"),
            dir.display()
        ),
        Some("pending") => format!(
            "application {id} is awaiting the operator's decision (on the central instance's /anslutning page, or `ena federation approve {id} --data-dir <its data directory>`); start the node again once it is approved"
        ),
        Some("approved") => format!("application {id} was approved"),
        other => format!("application {id} is {}", other.unwrap_or("unknown")),
    }
}
