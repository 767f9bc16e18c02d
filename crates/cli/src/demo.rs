//! `ena demo`: a whole federation on this machine — the central services and three member nodes
//! (Skatteverket, Försäkringskassan, Exempelkommunen with its social services), each onboarded the real
//! way with its own data directory, keys and certificate; message types and addresses published; sample
//! messages sent and a synchronous call made; then it prints where to look and runs until Ctrl-C.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::local_federation::{LocalNode, node_dir, start_central, start_mailbox_node, start_node};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where the demo keeps everything (removed and made anew at each start if it holds an earlier demo).
    #[arg(long, default_value = "ena-demo")]
    data_dir: PathBuf,
    /// The central instance (portal, APIs).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// The central node listener (mTLS).
    #[arg(long, default_value = "127.0.0.1:8443")]
    node_listen: String,
}

const MARKER: &str = "demo.json";

fn schema(required: &[&str], properties: Value) -> String {
    json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "required": required, "properties": properties}).to_string()
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new("warn").context("log filter")?;
    crate::logging::init_human(filter);
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(demo(args))
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let dir = &args.data_dir;
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        if !dir.join(MARKER).exists() {
            bail!("{} exists and is not an earlier demo; give another --data-dir", dir.display());
        }
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(MARKER), "{}")?;
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    println!("Starting the central services …");
    // The central installation runs the built-in mailbox (Min myndighetspost) on its operator's node.
    let mailbox_dir = node_dir(&dir.join("central"), MAILBOX_HOST);
    let central =
        start_central(&dir.join("central"), &args.listen, &args.node_listen, Some(mailbox_dir), stop.clone()).await?;

    ena_server::blocks::apis::own::publish_own(&central.state, Some(&ena_node::openapi::DOCUMENT))
        .await
        .map_err(|e| anyhow::anyhow!("ena's own APIs in the catalog: {e}"))?;

    // Skatteverket's income register: the service its node produces for synchronous calls.
    let upstream_addr = crate::local_federation::start_income_register(stop.clone()).await?;

    println!("Onboarding three member nodes (keys, application, approval, certificate) …");
    // Each node's entity id is https://<host>:<peer port>, where it serves its entity configuration.
    use crate::local_federation::{entity_id, peer_port};
    let (skatt_port, fk_port, kommun_port) = (peer_port()?, peer_port()?, peer_port()?);
    let skatt_toml = format!(
        r#"
[[service]]
id = "inkomster"
upstream = "http://{upstream_addr}"
allow = ["{}", "{}"]

[[service]]
id = "inkomst-samtycke"
upstream = "http://{upstream_addr}"
allow = ["{}"]
consent = "se.skatteverket.inkomst"

[[service]]
id = "utdrag"
upstream = "http://{upstream_addr}"
api = "registerutdrag"
"#,
        entity_id("kommun.localhost", kommun_port),
        entity_id("forsakringskassan.localhost", fk_port),
        entity_id("kommun.localhost", kommun_port),
    );
    let skatt = start_node(
        &central,
        "skatteverket.localhost",
        skatt_port,
        "202100-5448",
        "Skatteverket",
        &skatt_toml,
        &[],
        stop.clone(),
    )
    .await?;
    let fk_toml = r#"
[[address]]
address = "202100-5521"
kind = "organisation"
name = "Försäkringskassan"
accepts = ["se.forsakringskassan.inkomstuppgift@1.0"]

[[message_type]]
id = "se.forsakringskassan.inkomstuppgift"
version = "1.0"
title = "Inkomstuppgift"
schema = "inkomstuppgift.json"
classification = { confidentiality = 2, integrity = 3, availability = 1 }
"#;
    let fk_schema = schema(
        &["personnummer", "ar", "inkomst"],
        json!({
        // The person the income is about: both nodes name them in their logs, and the events reach
        // Tolvan's Vem har läst mina uppgifter.
        "personnummer": {"type": "string", "pattern": "^[0-9]{12}$", "x-ena-data-subject": true}, "ar": {"type": "integer"}, "inkomst": {"type": "integer", "minimum": 0}}),
    );
    // init writes the organisation's own address; the one above replaces it with what it accepts.
    let fk = start_node(
        &central,
        "forsakringskassan.localhost",
        fk_port,
        "202100-5521",
        "Försäkringskassan",
        fk_toml,
        &[("inkomstuppgift.json", fk_schema)],
        stop.clone(),
    )
    .await?;
    let kommun_toml = ena_node::samples::MUNICIPALITY_TOML;
    let kommun_schema = schema(
        &["barn", "oro"],
        json!({
        "barn": {"type": "string", "pattern": "^[0-9]{12}$", "x-ena-data-subject": true}, "oro": {"type": "string", "minLength": 1}, "anmalare": {"type": "string"}}),
    );
    let kommun = start_node(
        &central,
        "kommun.localhost",
        kommun_port,
        "212000-0142",
        "Exempelkommunen",
        kommun_toml,
        &[("orosanmalan.json", kommun_schema)],
        stop.clone(),
    )
    .await?;

    let mailbox = start_mailbox_node(
        &central,
        MAILBOX_HOST,
        peer_port()?,
        "202100-6255",
        "Myndigheten för digital förvaltning",
        "Min myndighetspost",
        stop.clone(),
    )
    .await?;

    println!("Creating sample cases in Mina ärenden …");
    let cases = sample_cases(&central, &kommun, &skatt).await?;

    println!("Registering the test persons and Tolvans Bygg AB for digital mail, and sending them letters …");
    let letters = sample_mail(&central, &mailbox, &skatt, &kommun, &cases).await?;

    println!("Registering who holds what about the test persons in the index …");
    sample_index(&central, &skatt, &fk, &kommun).await?;

    println!("Tolvan lets Exempelkommunen get his income data from Skatteverket; the municipality asks …");
    let consent_id = sample_consent(&central, &kommun).await?;

    println!("Sending sample messages and making a synchronous call …");
    let http = reqwest::Client::new();
    let send = |from: &LocalNode, body: Value| {
        http.post(format!("{}/messages/v1/outbox", from.api)).bearer_auth(&from.token).json(&body).send()
    };
    // The first message carries a file: uploaded first, then named in the message.
    let upload: Value = http
        .post(format!("{}/messages/v1/attachments", fk.api))
        .bearer_auth(&fk.token)
        .header("content-type", "text/plain; charset=utf-8")
        .body("Utredning: barnet har inte hämtats från förskolan tre dagar i rad (måndag–onsdag vecka 48).\n")
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let m1: Value = send(&fk, json!({"recipient": "212000-0142:socialtjanst", "messageType": "se.kommun.orosanmalan", "version": "1.0",
        "payload": {"barn": "201401012383", "oro": "Barnet har inte hämtats från förskolan tre dagar i rad.", "anmalare": "Försäkringskassan"},
        "caseId": "FK-2026-1187", "attachments": [{"id": upload["id"], "name": "utredning.txt"}]})).await?.error_for_status()?.json().await?;
    let m2: Value = send(
        &skatt,
        json!({"recipient": "202100-5521", "messageType": "se.forsakringskassan.inkomstuppgift", "version": "1.0",
        "payload": {"personnummer": "191212121212", "ar": 2026, "inkomst": 412000}, "caseId": cases.decided}),
    )
    .await?
    .error_for_status()?
    .json()
    .await?;
    let call = http
        .post(format!("{}/calls/v1/202100-5448/inkomster/personer", kommun.api))
        .bearer_auth(&kommun.token)
        .json(&serde_json::json!({"personnummer": "191212121212"}))
        .send()
        .await?;
    let call_status = call.status();
    println!(
        "Publishing Skatteverket's sample API in the catalog with a plan and Exempelkommunen's subscription; calls through the gateway …"
    );
    let gateway_calls = sample_api(&central, &skatt, &kommun).await?;
    let call_hash = call.headers().get("ena-request-hash").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let call_body = call.text().await?;
    for (node, m) in [(&fk, &m1), (&skatt, &m2)] {
        let id = m["id"].as_str().unwrap_or_default();
        for _ in 0..100 {
            let v: Value = http
                .get(format!("{}/messages/v1/outbox/{id}", node.api))
                .bearer_auth(&node.token)
                .send()
                .await?
                .json()
                .await?;
            if v["status"] == "delivered" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    let nodes = [&skatt, &fk, &kommun, &mailbox];
    let info = json!({
        "central": {"url": central.url, "nodeListener": central.node_url, "operatorToken": central.operator_token, "dataDir": central.dir},
        "nodes": nodes.iter().map(|n| json!({"entityId": n.entity_id, "api": n.api, "token": n.token, "dataDir": n.dir})).collect::<Vec<_>>(),
        "messages": [m1["id"], m2["id"]],
        "letters": letters,
    });
    std::fs::write(dir.join(MARKER), serde_json::to_string_pretty(&info)?)?;
    println!();
    println!("ena demo ready — a federation of four member nodes on this machine");
    println!();
    println!("  Portal and API reference   {}/  and  {}/docs", central.url, central.url);
    println!("  Operator token             {}", central.operator_token);
    println!("  Members                    {}/federation/v1/members (operator token)", central.url);
    println!("  Address registry           {}/addresses/v1/addresses (operator token)", central.url);
    for n in nodes {
        println!("  Node {:<36} local API {}  token {}", n.entity_id, n.api, n.token);
    }
    println!();
    println!(
        "  Sent: Försäkringskassan → Exempelkommunen socialtjänst (orosanmälan), Skatteverket → Försäkringskassan (inkomstuppgift)."
    );
    println!(
        "  API catalog: {}/api-katalog — Registerutdrag (Skatteverket, through its node's gateway: answered {:?}, 429 over the plan's rate)",
        central.url, gateway_calls
    );
    println!("  Read the municipality's inbox:");
    println!("    curl -s -H 'authorization: Bearer {}' {}/messages/v1/inbox", kommun.token, kommun.api);
    println!("  Its attachment, decrypted:");
    println!(
        "    curl -s -H 'authorization: Bearer {}' {}/messages/v1/inbox/{}/attachments/0",
        kommun.token,
        kommun.api,
        m1["id"].as_str().unwrap_or_default()
    );
    println!("  The sender's view with the signed receipt:");
    println!(
        "    curl -s -H 'authorization: Bearer {}' {}/messages/v1/outbox/{}",
        fk.token,
        fk.api,
        m1["id"].as_str().unwrap_or_default()
    );
    println!(
        "  Synchronous call (Exempelkommunen → Skatteverket's income register) answered {call_status}, request hash {call_hash}:"
    );
    println!("    {call_body}");
    println!(
        "    curl -s -H 'authorization: Bearer {}' -H 'content-type: application/json' -d '{{\"personnummer\":\"191212121212\"}}' {}/calls/v1/202100-5448/inkomster/personer -i",
        kommun.token, kommun.api
    );
    println!(
        "  Mina ärenden: log in at {}/login with the test eID as 191212121212 (Tolvan Tolvansson), then Mina sidor → Mina ärenden:",
        central.url
    );
    println!(
        "    one case awaiting you (Exempelkommunen), one for Tolvans Bygg AB with a moved decision date (Skatteverket),"
    );
    println!("    one decided, its decision passed on to Försäkringskassan as a message that joined the case.");
    println!(
        "  Mina meddelanden: Mina sidor → Mina meddelanden — a decision with an attachment (Skatteverket), a fee to pay"
    );
    println!(
        "    (Exempelkommunen), a letter in the decided case; Tolvans Bygg AB's mail beside yours; settings to block a sender."
    );
    println!(
        "  Min profil: Mina sidor → Min profil — Tolvan's consent {consent_id} (income data to Exempelkommunen) with its"
    );
    println!(
        "    signed receipt; the municipality's call under it is in Vem har läst mina uppgifter. Withdraw it and call:"
    );
    println!(
        "    curl -s -H 'authorization: Bearer {}' -H 'ena-consent: {consent_id}' -H 'content-type: application/json' -d '{{}}' {}/calls/v1/202100-5448/inkomst-samtycke/samtycke -i",
        kommun.token, kommun.api
    );
    println!("  Verify a node's log:  ena audit verify --data-dir {}", kommun.dir.display());
    println!("  Everything is in {} (demo.json lists it). Ctrl-C stops it all.", dir.display());
    crate::serve::shutdown_signal().await;
    println!("Stopping …");
    let _ = stop_tx.send(true);
    for n in [skatt, fk, kommun, mailbox] {
        let _ = tokio::time::timeout(Duration::from_secs(10), n.task).await;
    }
    central.state.store.close().await;
    println!("ena demo stopped.");
    Ok(())
}

const MAILBOX_HOST: &str = "myndighetspost.localhost";

/// The index as agencies fill it: Skatteverket holds income data about Tolvan and Anna, Försäkringskassan
/// benefit data about Tolvan, the municipality a building permit for a property and Tolvan's case — each
/// registered as that organisation's member system would. A policy lets Försäkringskassan learn of income
/// data, and its system then looks Tolvan up: he sees that look-up in Mina sidor → Vem har läst mina
/// uppgifter, and all four holdings under Vem har uppgifter om mig.
async fn sample_index(
    central: &crate::local_federation::Central,
    skatt: &LocalNode,
    fk: &LocalNode,
    kommun: &LocalNode,
) -> anyhow::Result<()> {
    use ena_index::{BatchItem, FindInput, Finder, ObjectType};
    let state = &central.state;
    let item = |object_type, id: &str, category: &str, address: &str| BatchItem {
        delete: false,
        object_type,
        object_id: id.into(),
        category: category.into(),
        address: Some(address.into()),
        updated_at: None,
        source: None,
    };
    let holders = [
        (
            skatt,
            "162021005448",
            vec![
                item(ObjectType::Person, "191212121212", "se.skatteverket.inkomst", "202100-5448:inkomst"),
                item(ObjectType::Person, "199001012385", "se.skatteverket.inkomst", "202100-5448:inkomst"),
            ],
        ),
        (
            fk,
            "162021005521",
            vec![item(ObjectType::Person, "191212121212", "se.forsakringskassan.ersattning", "202100-5521")],
        ),
        (
            kommun,
            "162120000142",
            vec![
                item(ObjectType::Property, "EXEMPELBY 1:23", "se.kommun.bygglov", "212000-0142:socialtjanst"),
                item(ObjectType::Person, "191212121212", "se.kommun.bygglov", "212000-0142:socialtjanst"),
            ],
        ),
    ];
    for (node, org, items) in holders {
        let ctx = ena_audit::Context {
            actor: ena_audit::Actor {
                kind: ena_audit::ActorKind::Node,
                id: node.entity_id.clone(),
                organisation: Some(org.into()),
            },
            on_behalf_of: None,
            correlation_id: None,
        };
        let out = state.index.register(&ctx, org, &items).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        if let Some(refused) = out.iter().find(|o| o.status != "accepted") {
            anyhow::bail!("the demo's engagement was refused: {refused:?}");
        }
    }
    state
        .access
        .put_configured_policy(ena_access::PolicyRecord {
            id: "demo-fk-finds-income".into(),
            resource: "category:se.skatteverket.inkomst".into(),
            description: "Försäkringskassan learns who holds income data (the demo)".into(),
            text: format!(
                "@reason(\"Försäkringskassan checks income for benefits\") permit (principal == Ena::Member::\"{}\", action == Ena::Action::\"find\", resource == Ena::Category::\"se.skatteverket.inkomst\");",
                fk.entity_id
            ),
            updated_at: String::new(),
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let ctx = ena_audit::Context {
        actor: ena_audit::Actor {
            kind: ena_audit::ActorKind::Node,
            id: fk.entity_id.clone(),
            organisation: Some("162021005521".into()),
        },
        on_behalf_of: None,
        correlation_id: None,
    };
    let finder = Finder { member: &fk.entity_id, organisation: "162021005521" };
    let input =
        FindInput { object_type: ObjectType::Person, object_id: "191212121212".into(), category: None, holder: None };
    let found = state.index.find(&ctx, &finder, &input).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    if found.len() != 1 {
        anyhow::bail!("Försäkringskassan should learn of Tolvan's income data alone, found {found:?}");
    }
    Ok(())
}

/// Tolvan's consent (as he gives it in Min profil) that Exempelkommunen may get his income data from
/// Skatteverket for a housing allowance application, and the municipality's system asking Skatteverket's
/// consent-bound service through the nodes with it — the use shows in his who-read-my-data by itself.
async fn sample_consent(central: &crate::local_federation::Central, kommun: &LocalNode) -> anyhow::Result<String> {
    let tolvan = ena_audit::Context {
        actor: ena_audit::Actor { kind: ena_audit::ActorKind::Person, id: "191212121212".into(), organisation: None },
        on_behalf_of: None,
        correlation_id: None,
    };
    let input = ena_profile::ConsentInput {
        recipient: "212000-0142".into(),
        holder: "202100-5448".into(),
        category: "se.skatteverket.inkomst".into(),
        purpose: "Ansökan om bostadsbidrag".into(),
        expires_at: None,
    };
    let consent =
        central.state.profile.give(&tolvan, "191212121212", &input).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let r = reqwest::Client::new()
        .post(format!("{}/calls/v1/202100-5448/inkomst-samtycke/samtycke", kommun.api))
        .bearer_auth(&kommun.token)
        .header("ena-consent", &consent.id)
        .header("ena-org-unit", "Ekonomiskt%20bist%C3%A5nd")
        .json(&json!({}))
        .send()
        .await?;
    if !r.status().is_success() {
        anyhow::bail!("the call under Tolvan's consent was refused: {}", r.text().await?);
    }
    Ok(consent.id)
}

/// FaR registrations for the test persons and Tolvans Bygg AB at the built-in mailbox — each signed by
/// the signature service for a test-eID session of the person, as the portal does — and letters from the
/// agencies' nodes: a decision with an attachment, a fee with a pay action, a letter in a case, one to the
/// company, and one to someone not registered (paper). Waits until the mailbox has taken them.
async fn sample_mail(
    central: &crate::local_federation::Central,
    mailbox: &LocalNode,
    skatt: &LocalNode,
    kommun: &LocalNode,
    cases: &SampleCases,
) -> anyhow::Result<Vec<Value>> {
    let state = &central.state;
    for (person, name, company) in [
        ("191212121212", "Tolvan Tolvansson", Some("556677-8899")),
        ("199001012385", "Anna Andersson", None),
        ("198506151235", "Bertil Berg", None),
    ] {
        let who = ena_identity::rp::LoggedIn {
            person: ena_core::PersonId::parse(person)?,
            name: name.into(),
            loa: ena_identity::loa::Loa(3),
            provider: "test-eid".into(),
        };
        let (_, session) = ena_identity::session::create(&state.store, &who).await?;
        let register = ena_mail::Change::Register { operator: mailbox.entity_id.clone() };
        let me = ena_mail::Recipient::Person(who.person.clone());
        ena_server::blocks::mail::sign_and_change(state, &session, &me, register.clone())
            .await
            .map_err(|e| anyhow::anyhow!("registering {name}: {}", e.0.detail))?;
        if let Some(org) = company {
            let company = ena_mail::Recipient::any("party", org)?;
            ena_server::blocks::mail::sign_and_change(state, &session, &company, register)
                .await
                .map_err(|e| anyhow::anyhow!("registering {org}: {}", e.0.detail))?;
        }
    }
    let http = reqwest::Client::new();
    let decision: Value = http
        .post(format!("{}/messages/v1/attachments", skatt.api))
        .bearer_auth(&skatt.token)
        .header("content-type", "text/plain; charset=utf-8")
        .body("Beslut om slutlig skatt 2025\n\nSlutlig skatt: 98 412 kr. Att få tillbaka: 1 204 kr.\n")
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let letters = [
        (
            skatt,
            json!({"mail": {"recipient": "191212121212", "subject": "Beslut om slutlig skatt 2025",
            "body": "Hej Tolvan!\n\nDitt **beslut om slutlig skatt** för 2025 är klart. Du får tillbaka 1 204 kr.\n\n- Beslutet finns som bilaga.\n- Läs mer på [skatteverket.se](https://www.skatteverket.se/).",
            "bodyFormat": "markdown", "language": "sv", "receipt": "signed",
            "support": {"text": "Frågor om beslutet? Ring Skatteupplysningen.", "phone": "0771-567 567"},
            "documents": [{"title": "Beslut om slutlig skatt", "attachment": 0}]},
            "files": [{"id": decision["id"], "name": "beslut-slutlig-skatt-2025.txt"}]}),
        ),
        (
            kommun,
            json!({"mail": {"recipient": "191212121212", "subject": "Faktura: bygglovsavgift",
            "body": "Avgiften för ditt bygglov är 8 400 kr. Betala senast 31 januari.", "receipt": "simple",
            "objects": [{"kind": "property", "id": "Exempelby 1:23"}],
            "documents": [{"title": "Faktura 2026-4711", "actions": [{"kind": "pay", "title": "Betala 8 400 kr",
                "url": "https://betala.exempelkommunen.se/2026-4711", "due": "2027-01-31"}]}]}}),
        ),
        (
            skatt,
            json!({"mail": {"recipient": "191212121212", "subject": "Ditt ärende är avgjort",
            "body": "Vi har fattat beslut i ditt ärende. Beslutet har också skickats till Försäkringskassan.",
            "caseId": cases.decided, "replyAllowed": true}}),
        ),
        (
            skatt,
            json!({"mail": {"recipient": "165566778899", "subject": "Påminnelse: momsdeklaration",
            "body": "Tolvans Bygg AB:s momsdeklaration för november ska vara inne den 12 januari.",
            "documents": [{"title": "Momsdeklaration november", "actions": [{"kind": "respond", "title": "Deklarera",
                "url": "https://www.skatteverket.se/moms", "due": "2027-01-12"}]}]}}),
        ),
        (
            kommun,
            json!({"mail": {"recipient": "194702289879", "subject": "Information om sophämtning",
            "body": "Sophämtningen flyttas till tisdagar från och med januari."}}),
        ),
    ];
    let mut sent = Vec::new();
    for (node, letter) in letters {
        let r: Value = http
            .post(format!("{}/mail/v1/outbox", node.api))
            .bearer_auth(&node.token)
            .json(&letter)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        sent.push(json!({"node": node.entity_id, "id": r["id"], "status": r["status"]}));
    }
    // The mailbox takes letters once a second; wait until all four digital ones are in.
    let expected = sent.iter().filter(|l| l["status"] != "paper").count() as i64;
    for _ in 0..100 {
        let n: (i64,) = ena_store::with_pool!(&state.store, pool => sqlx::query_as("SELECT COUNT(*) FROM mail_messages")
            .fetch_one(pool).await)?;
        if n.0 >= expected {
            return Ok(sent);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the mailbox did not take the demo's letters within 10 s")
}

/// The ids of the demo's sample cases.
struct SampleCases {
    decided: String,
}

/// Sample cases from the demo's agencies, made over the central node listener with each node's own
/// certificate: Exempelkommunen asks Tolvan to complete an application (awaiting him); Skatteverket
/// keeps a VAT case for Tolvans Bygg AB whose decision date moved (with its reason); and Skatteverket
/// decides a case of Tolvan's, whose decision letter the sample message to Försäkringskassan carries.
async fn sample_cases(
    central: &crate::local_federation::Central,
    kommun: &LocalNode,
    skatt: &LocalNode,
) -> anyhow::Result<SampleCases> {
    let client = |n: &LocalNode| -> anyhow::Result<reqwest::Client> {
        let read =
            |f: &str| std::fs::read_to_string(n.dir.join(f)).with_context(|| format!("{}: {f}", n.dir.display()));
        ena_node::transport::client(&read("ca.crt")?, &read("tls.crt")?, &read("tls.key")?)
            .map_err(|e| anyhow::anyhow!(e))
    };
    let (as_kommun, as_skatt) = (client(kommun)?, client(skatt)?);
    let url = format!("{}/cases/v1/cases", central.node_url);
    let in_days = |d: i64| ena_core::time::rfc3339_of(ena_core::time::unix_now() + d * 86_400);
    let create = |c: &reqwest::Client, body: Value| {
        let (c, url) = (c.clone(), url.clone());
        async move {
            let r = c.post(&url).json(&body).send().await?;
            let status = r.status();
            let v: Value = r.json().await?;
            anyhow::ensure!(status.is_success(), "a sample case was refused: {v}");
            Ok::<Value, anyhow::Error>(v)
        }
    };
    create(&as_kommun, json!({
        "party": {"kind": "person", "id": "191212121212"}, "service": "kommun/mina-arenden", "status": "awaiting",
        "extendedStatus": "Komplettering begärd",
        "title": {"sv": "Ansökan om bygglov, Storgatan 1", "en": "Building permit application, Storgatan 1"},
        "summary": {"sv": "Vi behöver en situationsplan för att kunna handlägga din ansökan.", "en": "We need a site plan to process your application."},
        "lifeEvent": "bygga-hus", "externalReference": "BN 2026/4711", "idempotencyKey": "demo-bygglov",
        "dueAt": in_days(14),
        "expectedDecision": {"at": in_days(56), "reason": "Handläggningstiden är normalt åtta veckor från komplett ansökan."},
        "guiActions": [{"action": "complete", "priority": "primary", "title": {"sv": "Komplettera ansökan", "en": "Complete the application"}, "url": "https://e-tjanst.exempelkommunen.se/bygglov/4711"}]
    })).await?;
    let moms = create(&as_skatt, json!({
        "party": {"kind": "organisation", "id": "556677-8899"}, "service": "skatteverket/moms", "status": "in-progress",
        "title": {"sv": "Omprövning av momsdeklaration, oktober", "en": "Review of the VAT return, October"},
        "summary": {"sv": "Vi granskar avdraget för ingående moms."}, "idempotencyKey": "demo-moms",
        "expectedDecision": {"at": in_days(21), "reason": "Granskningen tar normalt tre veckor."}
    })).await?;
    let moved = json!({"expectedDecision": {"at": in_days(42), "reason": "Vi väntar på underlag från er bank."}});
    let r = as_skatt
        .patch(format!("{url}/{}", moms["id"].as_str().unwrap_or_default()))
        .header("if-match", "\"1\"")
        .json(&moved)
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "moving the sample decision date was refused: {}", r.text().await?);
    let decided = create(&as_skatt, json!({
        "party": {"kind": "person", "id": "191212121212"}, "service": "skatteverket/skattekonto", "status": "in-progress",
        "title": {"sv": "Ändrad inkomstuppgift 2026", "en": "Corrected income statement 2026"},
        "idempotencyKey": "demo-inkomst",
        "expectedDecision": {"at": in_days(7), "reason": "Ändringar av inkomstuppgifter beslutas inom en vecka."}
    })).await?;
    let decided = decided["id"].as_str().unwrap_or_default().to_owned();
    let decision = json!({"kind": "decision", "title": {"sv": "Beslut: inkomstuppgiften ändras till 412 000 kr", "en": "Decision: the income statement is corrected to SEK 412,000"},
        "summary": {"sv": "Beslutet skickas även till Försäkringskassan."}});
    let r = as_skatt.post(format!("{url}/{decided}/transmissions")).json(&decision).send().await?;
    anyhow::ensure!(r.status().is_success(), "the sample decision was refused: {}", r.text().await?);
    let r = as_skatt
        .patch(format!("{url}/{decided}"))
        .header("if-match", "\"2\"")
        .json(&json!({"status": "completed"}))
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "completing the sample case was refused: {}", r.text().await?);
    Ok(SampleCases { decided })
}

/// The sample agency API: Skatteverket's register extracts (`registerutdrag`, the corpus's base API
/// renamed), served by Skatteverket's node behind its gateway, with a plan that needs approval,
/// Exempelkommunen's subscription approved, and traffic through the gateway — a few calls over the
/// plan's rate among them, refused with 429 — so the catalog shows the lint report and use at once.
/// Returns how the calls were answered.
async fn sample_api(
    central: &crate::local_federation::Central,
    skatt: &LocalNode,
    kommun: &LocalNode,
) -> anyhow::Result<Vec<u16>> {
    let fail = |e: ena_apis::catalog::CatalogError| anyhow::anyhow!("the sample API: {e:?}");
    let catalog = &central.state.catalog;
    let ctx = ena_audit::Context::system("demo");
    let input: ena_apis::catalog::ApiInput = serde_json::from_value(
        json!({"id": "registerutdrag", "name": "Registerutdrag",
        "description": "Beställ utdrag ur Skatteverkets register (ett exempel-API i demon).", "contact": "api@skatteverket.localhost",
        "tags": ["demo", "skatteverket"], "classification": "internal", "node": skatt.entity_id, "service": "utdrag"}),
    )?;
    catalog.register(&ctx, "162021005448", input).await.map_err(fail)?;
    catalog
        .add_version(&ctx, "162021005448", "registerutdrag", sample_api_document().as_bytes())
        .await
        .map_err(fail)?;
    catalog.publish(&ctx, "162021005448", "registerutdrag", "1.2.0").await.map_err(fail)?;
    let plan: ena_apis::plans::PlanInput = serde_json::from_value(json!({"id": "bas", "name": "Bas",
        "ratePerSecond": 2, "burst": 5, "quotaPerDay": 10000, "approval": true}))?;
    catalog.add_plan(&ctx, "162021005448", "registerutdrag", plan).await.map_err(fail)?;
    let sub: ena_apis::plans::SubscriptionInput =
        serde_json::from_value(json!({"plan": "bas", "application": "212000-0142"}))?;
    let held =
        central.state.federation.organisation_trust_marks("162120000142").await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let s = catalog.subscribe(&ctx, "162120000142", &held, "registerutdrag", sub).await.map_err(fail)?;
    catalog.step(&ctx, "162021005448", &s.id, ena_apis::plans::Step::Approve, None).await.map_err(fail)?;
    // The node takes the catalog's terms every 2 s: wait for the first call let through, then a burst.
    let http = reqwest::Client::new();
    let call = || {
        http.get(format!("{}/calls/v1/202100-5448/utdrag/utdrag/v1/utdrag", kommun.api))
            .bearer_auth(&kommun.token)
            .send()
    };
    let mut answered = Vec::new();
    for _ in 0..50 {
        let status = call().await?.status().as_u16();
        if status == 200 {
            answered.push(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for _ in 0..8 {
        answered.push(call().await?.status().as_u16());
    }
    Ok(answered)
}

/// The sample API's OpenAPI document: the lint corpus's base API (which keeps every rule of the
/// profile), its orders renamed to register extracts.
fn sample_api_document() -> String {
    crate::bench_apis::BASE
        .replace("/orders/", "/utdrag/")
        .replace("Orders", "Registerutdrag")
        .replace("orders", "utdrag")
        .replace("Order", "Utdrag")
        .replace("order", "utdrag")
}
