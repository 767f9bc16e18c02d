//! The registry on both databases: message types, addresses administered by the operator and by members
//! within their own organisation (through the decision point), revisions, lookups, the change feed,
//! and bad input naming the field with nothing changed.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use ena_access::DecisionPoint;
use ena_audit::{AuditLog, Context, NoteSigner, RuleSet};
use ena_store::testing::test_stores;
use serde_json::{Value, json};

use crate::*;

/// The federation's answer for a node, as the real `TrustAnchor` gives it (e2e tests use the real one).
struct Members;

impl Nodes for Members {
    fn check_node<'a>(&'a self, entity_id: &'a str) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            match entity_id {
                "https://node.kommun.example" | "https://node.skatt.example" => Ok(()),
                "https://gone.example" => Err("the member is suspended".into()),
                _ => Err("not a member of the federation".into()),
            }
        })
    }
}

#[derive(Default)]
struct Seen(Mutex<Vec<Change>>);

impl ChangeHook for Seen {
    fn changed(&self, change: &Change) {
        self.0.lock().unwrap().push(change.clone());
    }
}

const KOMMUN: &str = "212000-0142";
const SKATT: &str = "202100-5448";

fn member(org: &str) -> Admin {
    let entity_id = if org == KOMMUN { "https://node.kommun.example" } else { "https://node.skatt.example" };
    Admin::Member {
        entity_id: entity_id.into(),
        organisation: Organisationsnummer::parse(org).unwrap().as_str().into(),
    }
}

fn type_input(schema: Value) -> MessageTypeInput {
    MessageTypeInput {
        title: "Orosanmälan".into(),
        schema,
        classification: Classification { confidentiality: 3, integrity: 2, availability: 1 },
    }
}

fn schema() -> Value {
    json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
           "required": ["child", "concern"], "additionalProperties": false,
           "properties": {"child": {"type": "string", "pattern": "^[0-9]{12}$"}, "concern": {"type": "string", "minLength": 1}}})
}

fn key() -> EncryptionKey {
    EncryptionKey {
        kty: "OKP".into(),
        crv: "X25519".into(),
        x: "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo".into(),
        kid: "k1".into(),
    }
}

fn address_input(kind: &str, node: &str) -> AddressInput {
    AddressInput {
        kind: kind.into(),
        name: "Exempelkommunen, socialtjänsten".into(),
        node: node.into(),
        capabilities: vec![Capability { message_type: "se.kommun.orosanmalan".into(), versions: vec!["1.0".into()] }],
        encryption_keys: vec![key()],
        status: None,
        valid_from: None,
        valid_to: None,
    }
}

fn fields(e: &AddrError) -> Vec<String> {
    match e {
        AddrError::Invalid(f) => f.iter().map(|f| f.property.clone()).collect(),
        other => panic!("not a validation error: {other:?}"),
    }
}

#[tokio::test]
async fn registry_on_both_databases() {
    for db in test_stores().await {
        let label = &db.label;
        db.store.migrate().await.unwrap();
        let audit =
            AuditLog::open(db.store.clone(), NoteSigner::ephemeral("test.example/log").unwrap(), RuleSet::shipped())
                .await
                .unwrap();
        let access = Arc::new(DecisionPoint::open(db.store.clone()).await.unwrap());
        let seen = Arc::new(Seen::default());
        let reg = Addresses::new(db.store.clone(), access, Arc::new(Members)).with_hook(seen.clone());
        let ctx = Context::system("test");
        let op = Admin::Operator;

        // Message types: registered by the owner member, immutable per version.
        let (t, created) = reg
            .put_message_type(&audit, &ctx, &member(KOMMUN), "se.kommun.orosanmalan", "1.0", type_input(schema()))
            .await
            .unwrap();
        assert!(created, "{label}");
        assert_eq!(t.owner, "162120000142");
        let (_, again) = reg
            .put_message_type(&audit, &ctx, &member(KOMMUN), "se.kommun.orosanmalan", "1.0", type_input(schema()))
            .await
            .unwrap();
        assert!(!again, "{label}: the same content again changes nothing");
        let mut other = schema();
        other["required"] = json!(["child"]);
        let e = reg
            .put_message_type(&audit, &ctx, &op, "se.kommun.orosanmalan", "1.0", type_input(other))
            .await
            .unwrap_err();
        assert!(matches!(e, AddrError::Conflict(ref f, _) if f == "version"), "{label}: {e:?}");
        let e = reg
            .put_message_type(&audit, &ctx, &member(SKATT), "se.kommun.orosanmalan", "2.0", type_input(schema()))
            .await
            .unwrap_err();
        assert!(matches!(e, AddrError::Forbidden(_)), "{label}: another member's type: {e:?}");
        // Two members naming one new type at the same moment: one owns it, the other is refused.
        let (kommun, skatt) = (member(KOMMUN), member(SKATT));
        let (a, b) = tokio::join!(
            reg.put_message_type(&audit, &ctx, &kommun, "se.ny.typ", "1.0", type_input(schema())),
            reg.put_message_type(&audit, &ctx, &skatt, "se.ny.typ", "2.0", type_input(schema())),
        );
        assert!(a.is_ok() != b.is_ok(), "{label}: exactly one owns se.ny.typ: {a:?} {b:?}");
        let refused = if a.is_ok() { b } else { a };
        assert!(matches!(refused, Err(AddrError::Forbidden(_))), "{label}: {refused:?}");

        // Bad message types: every field named, nothing stored.
        let mut bad =
            type_input(json!({"type": "object", "properties": {"x": {"$ref": "https://evil.example/schema.json"}}}));
        bad.classification.integrity = 7;
        bad.title = " ".into();
        let e = reg.put_message_type(&audit, &ctx, &op, "Not A Type", "v1", bad).await.unwrap_err();
        assert_eq!(fields(&e), ["id", "version", "title", "classification.integrity", "schema"], "{label}");
        let e =
            reg.put_message_type(&audit, &ctx, &op, "se.x.y", "1", type_input(json!({"type": 12}))).await.unwrap_err();
        assert_eq!(fields(&e), ["schema"], "{label}: not a valid schema");
        let e = reg
            .put_message_type(
                &audit,
                &ctx,
                &op,
                "se.x.y",
                "1",
                type_input(json!({"$schema": "http://json-schema.org/draft-04/schema#"})),
            )
            .await
            .unwrap_err();
        assert_eq!(fields(&e), ["schema"], "{label}: only 2020-12");
        assert_eq!(reg.message_types(100, 0).await.unwrap().len(), 2, "{label}: the first type and se.ny.typ");

        // The schema checks payloads, naming the offending path.
        let s = reg.schema("se.kommun.orosanmalan", "1.0").await.unwrap();
        assert!(s.check(&json!({"child": "201401012383", "concern": "…"}), "payload").is_ok());
        let errs = s.check(&json!({"child": "2014", "extra": 1}), "payload").unwrap_err();
        let props: Vec<_> = errs.iter().map(|e| e.property.as_str()).collect();
        // The bad pattern at its value, the missing property by its own name, the extra one at the object.
        assert!(props.contains(&"payload/child"), "{label}: {props:?}");
        assert!(props.contains(&"payload/concern"), "{label}: a missing property is named: {props:?}");
        assert!(props.contains(&"payload"), "{label}: {props:?}");

        // A member creates its own function address; revisions count; the ETag condition holds.
        let a = reg
            .put_address(
                &audit,
                &ctx,
                &member(KOMMUN),
                "2120000142:socialtjanst",
                address_input("function", "https://node.kommun.example"),
                None,
            )
            .await
            .unwrap();
        assert_eq!(
            (a.address.as_str(), a.revision, a.organisation.as_str()),
            ("162120000142:socialtjanst", 1, "162120000142")
        );
        assert!(a.accepts("se.kommun.orosanmalan", "1.0", 0).is_ok());
        assert!(a.accepts("se.kommun.orosanmalan", "2.0", 0).is_err());
        let mut renamed = address_input("function", "https://node.kommun.example");
        renamed.name = "Socialtjänsten".into();
        let e =
            reg.put_address(&audit, &ctx, &op, "212000-0142:socialtjanst", renamed.clone(), Some(7)).await.unwrap_err();
        assert!(matches!(e, AddrError::Stale { current: Some(1) }), "{label}: {e:?}");
        let b = reg.put_address(&audit, &ctx, &op, "212000-0142:socialtjanst", renamed, Some(1)).await.unwrap();
        assert_eq!((b.revision, b.name.as_str()), (2, "Socialtjänsten"), "{label}");
        assert_eq!(reg.address("162120000142:socialtjanst").await.unwrap(), b);

        // Another member may not touch it, nor create addresses for the municipality.
        let e = reg
            .put_address(
                &audit,
                &ctx,
                &member(SKATT),
                "2120000142:socialtjanst",
                address_input("function", "https://node.skatt.example"),
                None,
            )
            .await
            .unwrap_err();
        assert!(matches!(e, AddrError::Forbidden(_)), "{label}: {e:?}");
        let e = reg.delete_address(&audit, &ctx, &member(SKATT), "2120000142:socialtjanst").await.unwrap_err();
        assert!(matches!(e, AddrError::Forbidden(_)), "{label}: {e:?}");
        // Persons: only centrally.
        let person = address_input("person", "https://node.skatt.example");
        let e = reg.put_address(&audit, &ctx, &member(SKATT), "19121212-1212", person.clone(), None).await.unwrap_err();
        assert!(matches!(e, AddrError::Forbidden(_)), "{label}: {e:?}");
        let p = reg.put_address(&audit, &ctx, &op, "19121212-1212", person, None).await.unwrap();
        assert_eq!(p.address, "191212121212");

        // Bad addresses: each field named, nothing changed.
        let mut bad = address_input("company", "https://gone.example");
        bad.capabilities
            .push(Capability { message_type: "se.kommun.orosanmalan".into(), versions: vec!["9.9".into()] });
        bad.encryption_keys = vec![EncryptionKey { crv: "P-256".into(), ..key() }];
        bad.valid_from = Some("2027-01-01T00:00:00Z".into());
        bad.valid_to = Some("2026-01-01T00:00:00Z".into());
        bad.status = Some("open".into());
        let e = reg.put_address(&audit, &ctx, &op, "2120000142:socialtjanst", bad, None).await.unwrap_err();
        assert_eq!(
            fields(&e),
            [
                "kind",
                "node",
                "status",
                "validTo",
                "capabilities[1].versions[0]",
                "capabilities[1].messageType",
                "encryptionKeys[0]"
            ],
            "{label}"
        );
        let mut no_key = address_input("organisation", "https://nobody.example");
        no_key.encryption_keys.clear();
        let e = reg.put_address(&audit, &ctx, &op, "2120000142", no_key, None).await.unwrap_err();
        assert_eq!(fields(&e), ["node", "encryptionKeys"], "{label}");
        for bad in ["2120000143", "2120000142:Social Tjänst", "19121212-1212:x", "nonsense"] {
            let e = reg
                .put_address(&audit, &ctx, &op, bad, address_input("function", "https://node.kommun.example"), None)
                .await
                .unwrap_err();
            assert_eq!(fields(&e), ["address"], "{label}: {bad}");
        }
        assert_eq!(reg.address("2120000142:socialtjanst").await.unwrap().revision, 2, "{label}: unchanged");

        // Lookups by identifier and by capability, paged.
        let by_org = reg.lookup(Some("212000-0142"), None, 10, 0).await.unwrap();
        assert_eq!(by_org.len(), 1, "{label}");
        let by_type = reg.lookup(None, Some("se.kommun.orosanmalan"), 10, 0).await.unwrap();
        assert_eq!(
            by_type.iter().map(|a| a.address.as_str()).collect::<Vec<_>>(),
            ["162120000142:socialtjanst", "191212121212"]
        );
        assert_eq!(reg.lookup(None, Some("se.kommun.orosanmalan"), 1, 1).await.unwrap()[0].address, "191212121212");
        assert!(matches!(reg.lookup(Some("nope"), None, 10, 0).await, Err(AddrError::Invalid(_))));

        // Removal: gone from lookups, the feed has every change in order, revisions never reused.
        assert_eq!(reg.delete_address(&audit, &ctx, &member(KOMMUN), "2120000142:socialtjanst").await.unwrap(), 3);
        assert!(matches!(reg.address("2120000142:socialtjanst").await, Err(AddrError::NotFound(_))));
        assert!(reg.lookup(None, Some("se.kommun.orosanmalan"), 10, 0).await.unwrap().len() == 1);
        let again = reg
            .put_address(
                &audit,
                &ctx,
                &member(KOMMUN),
                "2120000142:socialtjanst",
                address_input("function", "https://node.kommun.example"),
                None,
            )
            .await
            .unwrap();
        assert_eq!(again.revision, 4, "{label}");
        let feed = reg.changes(0, 100).await.unwrap();
        let summary: Vec<_> = feed.iter().map(|c| (c.address.as_str(), c.change.as_str(), c.revision)).collect();
        assert_eq!(
            summary,
            [
                ("162120000142:socialtjanst", "created", 1),
                ("162120000142:socialtjanst", "updated", 2),
                ("191212121212", "created", 1),
                ("162120000142:socialtjanst", "deleted", 3),
                ("162120000142:socialtjanst", "created", 4),
            ],
            "{label}"
        );
        assert_eq!(reg.changes(feed[2].seq, 100).await.unwrap().len(), 2);
        assert_eq!(seen.0.lock().unwrap().len(), 5, "{label}: the hook saw every change");

        // Every change and every refusal is in the log.
        let events = audit.query(&Default::default(), 1000, 0).await.unwrap();
        let count = |action: &str, denied: bool| {
            events
                .iter()
                .filter(|e| {
                    e.event.action == action && (e.event.outcome.result == ena_audit::event::Result::Denied) == denied
                })
                .count()
        };
        assert_eq!(count("addresses.address.put", false), 4, "{label}");
        assert!(count("addresses.address.put", true) >= 8, "{label}");
        assert_eq!(count("addresses.address.delete", true), 1, "{label}");
        assert_eq!(count("addresses.message_type.put", false), 2, "{label}");
        assert_eq!(count("addresses.message_type.put", true), 6, "{label}");
    }
}
