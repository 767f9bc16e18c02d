//! The index on both databases: a holder's batch is taken item by item (bad ids refused by name, the rest
//! applied), objects are kept only as keyed hashes, and a finder learns only of the categories the
//! decision point lets it — asking for another is refused the same way whether or not anything is held.

use std::sync::Arc;

use ena_access::{DecisionPoint, PolicyRecord};
use ena_audit::{AuditLog, Context, NoteSigner, RuleSet};
use ena_store::testing::test_stores;

use crate::*;

const TOLVAN: &str = "191212121212";
const SKATT: &str = "162021005448";
const FK: &str = "162021005521";
const INCOME: &str = "se.skatteverket.inkomst";
const DEBTS: &str = "se.skatteverket.skuld";

fn item(object_type: ObjectType, id: &str, category: &str) -> BatchItem {
    BatchItem {
        delete: false,
        object_type,
        object_id: id.into(),
        category: category.into(),
        address: Some("162021005448:inkomst".into()),
        updated_at: Some("2026-11-30T12:00:00Z".into()),
        source: Some("beskattningsdatabasen".into()),
    }
}

#[tokio::test]
async fn holders_register_item_by_item_and_finders_learn_only_what_they_may() {
    for db in test_stores().await {
        let label = db.label.clone();
        let audit = AuditLog::open(db.store.clone(), NoteSigner::ephemeral("test/index").unwrap(), RuleSet::shipped())
            .await
            .unwrap();
        let access = Arc::new(DecisionPoint::open(db.store.clone()).await.unwrap());
        access
            .put_configured_policy(PolicyRecord {
                id: "fk-finds-income".into(),
                resource: format!("category:{INCOME}"),
                description: "Försäkringskassan learns who holds income data".into(),
                text: format!(
                    "permit (principal is Ena::Member, action == Ena::Action::\"find\", resource == Ena::Category::\"{INCOME}\") \
                     when {{ principal.organisationNumber == \"{FK}\" }};"
                ),
                updated_at: String::new(),
            })
            .await
            .unwrap();
        let index = Index::new(db.store.clone(), audit, access, &[7u8; 32]);
        let ctx = Context::system("test");

        // A batch: two good items, a bad personal number, a bad category, a missing address.
        let mut missing = item(ObjectType::Vehicle, "abc123", INCOME);
        missing.address = None;
        let batch = [
            item(ObjectType::Person, TOLVAN, INCOME),
            item(ObjectType::Person, "191212121213", INCOME),
            item(ObjectType::Person, TOLVAN, "Inkomst!"),
            item(ObjectType::Property, "stockholm  södermalm 1:23", DEBTS),
            missing,
            item(ObjectType::Person, TOLVAN, DEBTS),
        ];
        let out = index.register(&ctx, SKATT, &batch).await.unwrap();
        let status: Vec<&str> = out.iter().map(|o| o.status).collect();
        assert_eq!(status, ["accepted", "refused", "refused", "accepted", "refused", "accepted"], "{label}");
        assert_eq!(out[1].errors[0].property, "items/1/objectId", "{label}");
        assert_eq!(out[2].errors[0].property, "items/2/category", "{label}");
        assert_eq!(out[4].errors[0].property, "items/4/address", "{label}");
        assert!(!format!("{:?}", out[1]).contains("191212121213"), "{label}: a refusal does not echo the number");
        assert_eq!(repo::count(&db.store).await.unwrap(), 3, "{label}");
        assert!(index.register(&ctx, SKATT, &[]).await.is_err(), "{label}");

        // Kept only as keyed hashes: no column holds the number.
        let rows: Vec<(Vec<u8>, String, String, String)> = ena_store::with_pool!(&db.store, pool => sqlx::query_as(
            "SELECT object_key, category, holder, address FROM index_engagements").fetch_all(pool).await)
        .unwrap();
        for (key, category, holder, address) in &rows {
            assert_eq!(key.len(), 32, "{label}");
            assert!(!String::from_utf8_lossy(key).contains(TOLVAN), "{label}");
            assert!(![category, holder, address].iter().any(|c| c.contains(TOLVAN)), "{label}");
        }

        // Försäkringskassan may learn of income data, not of debts: it sees the one, never the other.
        let fk = Finder { member: "https://fk.example", organisation: FK };
        let ask = |category: Option<&str>| FindInput {
            object_type: ObjectType::Person,
            object_id: TOLVAN.into(),
            category: category.map(str::to_owned),
            holder: None,
        };
        let found = index.find(&ctx, &fk, &ask(None)).await.unwrap();
        assert_eq!(found.len(), 1, "{label}: {found:?}");
        assert_eq!((found[0].category.as_str(), found[0].holder.as_str()), (INCOME, SKATT), "{label}");
        assert_eq!(index.find(&ctx, &fk, &ask(Some(INCOME))).await.unwrap().len(), 1, "{label}");
        let held = index.find(&ctx, &fk, &ask(Some(DEBTS))).await.unwrap_err().to_string();
        let mut nobody = ask(Some(DEBTS));
        nobody.object_id = "199001012385".into();
        let not_held = index.find(&ctx, &fk, &nobody).await.unwrap_err().to_string();
        assert_eq!(held, not_held, "{label}: the refusal does not say whether anything is held");
        // Another organisation learns of nothing.
        let other = Finder { member: "https://annan.example", organisation: "162120000142" };
        assert!(index.find(&ctx, &other, &ask(None)).await.unwrap().is_empty(), "{label}");
        // A property by any spelling of its designation.
        let mut property = ask(None);
        (property.object_type, property.object_id) = (ObjectType::Property, "Stockholm Södermalm 1:23".into());
        assert!(index.find(&ctx, &fk, &property).await.unwrap().is_empty(), "{label}: debts are not FK's to see");
        // Every find is an audit event, the denied one too, with Tolvan as data subject.
        let finds: Vec<(String,)> = ena_store::with_pool!(&db.store, pool => sqlx::query_as(
            "SELECT result FROM audit_leaves WHERE action = 'index.find' ORDER BY idx").fetch_all(pool).await)
        .unwrap();
        assert_eq!(finds.len(), 6, "{label}: {finds:?}");

        // The holder removes one: it is gone for the finder.
        let mut gone = item(ObjectType::Person, TOLVAN, INCOME);
        gone.delete = true;
        let out = index.register(&ctx, SKATT, &[gone]).await.unwrap();
        assert_eq!(out[0].status, "accepted", "{label}");
        assert!(index.find(&ctx, &fk, &ask(None)).await.unwrap().is_empty(), "{label}");
        assert_eq!(repo::count(&db.store).await.unwrap(), 2, "{label}");

        // Subscriptions: Försäkringskassan follows income data (debts are refused like a find); the
        // feed carries each change with its object, sealed at rest, only while it may learn of it.
        let refused = index.subscribe(&ctx, &fk, DEBTS).await.unwrap_err().to_string();
        assert_eq!(refused, held, "{label}: refused like a find");
        let sub = index.subscribe(&ctx, &fk, INCOME).await.unwrap();
        assert_eq!(index.subscribe(&ctx, &fk, INCOME).await.unwrap().id, sub.id, "{label}: once per category");
        let anna = item(ObjectType::Person, "199001012385", INCOME);
        let debts = item(ObjectType::Person, "199001012385", DEBTS);
        index.register(&ctx, SKATT, &[anna.clone(), debts]).await.unwrap();
        let mut anna_gone = anna;
        anna_gone.delete = true;
        index.register(&ctx, SKATT, &[anna_gone]).await.unwrap();
        let feed = index.changes(&ctx, &fk, &sub.id, 0, 100).await.unwrap();
        let kinds: Vec<(&str, &str)> = feed.iter().map(|c| (c.kind.as_str(), c.object_id.as_str())).collect();
        assert_eq!(kinds, [("registered", "199001012385"), ("deleted", "199001012385")], "{label}: income only");
        assert!(index.changes(&ctx, &fk, &sub.id, feed[0].seq, 100).await.unwrap().len() == 1, "{label}");
        let sealed: Vec<(Vec<u8>,)> = ena_store::with_pool!(&db.store, pool => sqlx::query_as(
            "SELECT object_sealed FROM index_changes").fetch_all(pool).await)
        .unwrap();
        assert!(sealed.iter().all(|(b,)| !String::from_utf8_lossy(b).contains("199001012385")), "{label}: sealed");
        // Another system cannot read this subscription.
        assert!(matches!(index.changes(&ctx, &other, &sub.id, 0, 10).await, Err(IndexError::NotFound(_))));
        // Unsubscribed, the feed is gone.
        let mut unsub = index.subscriptions("https://fk.example", 10, 0).await.unwrap();
        assert_eq!(unsub.len(), 1, "{label}");
        index.unsubscribe(&ctx, "https://fk.example", &unsub.remove(0).id).await.unwrap();
        assert!(matches!(index.changes(&ctx, &fk, &sub.id, 0, 10).await, Err(IndexError::NotFound(_))), "{label}");
    }
}
