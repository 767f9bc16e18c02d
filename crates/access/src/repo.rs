//! SQL of the stored policies (both dialects).

use ena_store::{Store, with_pool};

use crate::PolicyRecord;

type Row = (String, String, String, String, i64);

fn record((id, resource, description, text, updated_at): Row) -> PolicyRecord {
    PolicyRecord { id, resource, description, text, updated_at: ena_core::time::rfc3339_of(updated_at) }
}

pub async fn count(store: &Store) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) =
        with_pool!(store, pool => sqlx::query_as("SELECT COUNT(*) FROM access_policies").fetch_one(pool).await)?;
    Ok(n)
}

pub async fn insert(store: &Store, p: &PolicyRecord, now: i64) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => sqlx::query("INSERT INTO access_policies (id, resource, description, policy_text, updated_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&p.id).bind(&p.resource).bind(&p.description).bind(&p.text).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn upsert(store: &Store, p: &PolicyRecord, now: i64) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => sqlx::query("INSERT INTO access_policies (id, resource, description, policy_text, updated_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET resource = excluded.resource, description = excluded.description, policy_text = excluded.policy_text, updated_at = excluded.updated_at")
        .bind(&p.id).bind(&p.resource).bind(&p.description).bind(&p.text).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn all(store: &Store) -> Result<Vec<PolicyRecord>, sqlx::Error> {
    let rows: Vec<Row> = with_pool!(store, pool => sqlx::query_as("SELECT id, resource, description, policy_text, updated_at FROM access_policies ORDER BY id").fetch_all(pool).await)?;
    Ok(rows.into_iter().map(record).collect())
}

pub async fn page(store: &Store, limit: u32, offset: u64) -> Result<Vec<PolicyRecord>, sqlx::Error> {
    let rows: Vec<Row> = with_pool!(store, pool => sqlx::query_as("SELECT id, resource, description, policy_text, updated_at FROM access_policies ORDER BY id LIMIT $1 OFFSET $2")
        .bind(i64::from(limit)).bind(offset as i64).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(record).collect())
}

pub async fn get(store: &Store, id: &str) -> Result<Option<PolicyRecord>, sqlx::Error> {
    let row: Option<Row> = with_pool!(store, pool => sqlx::query_as("SELECT id, resource, description, policy_text, updated_at FROM access_policies WHERE id = $1").bind(id).fetch_optional(pool).await)?;
    Ok(row.map(record))
}

pub async fn delete(store: &Store, id: &str) -> Result<bool, sqlx::Error> {
    let n = with_pool!(store, pool => sqlx::query("DELETE FROM access_policies WHERE id = $1").bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// The policies' revision (raised by every change, by any instance).
/// The revision every change raises (`Store::revision`: on SQLite kept in memory, on PostgreSQL read).
pub async fn revision(store: &Store) -> Result<i64, sqlx::Error> {
    store.revision("access_revision").await
}

pub async fn raise_revision(store: &Store) -> Result<(), sqlx::Error> {
    store.raise_revision("access_revision").await
}

#[cfg(test)]
mod tests {
    use ena_store::testing::test_stores;
    use serde_json::json;

    use crate::{AccessRequest, DecisionPoint, PolicyRecord};

    /// A forbid on one service (for maintenance).
    fn closed() -> PolicyRecord {
        PolicyRecord {
            id: "moms-closed".into(),
            resource: "service:skatteverket/moms".into(),
            description: "closed for maintenance".into(),
            text: "@reason(\"closed\") forbid (principal, action, resource);".into(),
            updated_at: String::new(),
        }
    }

    fn request(value: serde_json::Value) -> AccessRequest {
        serde_json::from_value(value).unwrap()
    }

    #[tokio::test]
    async fn shipped_policies_slices_reasons_and_default_deny_on_both_databases() {
        for db in test_stores().await {
            let label = &db.label;
            db.store.migrate().await.unwrap();
            let audit = ena_audit::AuditLog::open(
                db.store.clone(),
                ena_audit::NoteSigner::ephemeral("test/log").unwrap(),
                ena_audit::RuleSet { rules: vec![] },
            )
            .await
            .unwrap();
            let ctx = ena_audit::Context::system("test");
            let dp = DecisionPoint::open(db.store.clone()).await.unwrap().with_audit(audit.clone());
            let n = dp.policy_count();
            assert!(n >= 5, "{label}: shipped policies seeded");
            // Opening again does not seed twice.
            assert_eq!(DecisionPoint::open(db.store.clone()).await.unwrap().policy_count(), n);

            let operate = request(
                json!({"subject": {"type": "operator", "id": "operator"}, "action": {"name": "operate"}, "resource": {"type": "api", "id": "plan"}}),
            );
            let d = dp.decide(&operate).await.unwrap();
            assert!(d.allowed, "{label}: {d:?}");
            assert_eq!(d.reasons[0].policy, "operator-operates-ena");
            assert_eq!(d.reasons[0].reason.as_deref(), Some("the federation operator may run operator actions"));

            // Someone else: default deny, no reasons.
            let mut other = operate.clone();
            other.subject.kind = "person".into();
            other.subject.id = "191212121212".into();
            let d = dp.decide(&other).await.unwrap();
            assert!(!d.allowed && d.reasons.is_empty(), "{label}: {d:?}");
            assert!(d.authzen()["context"]["reason_admin"]["403"].is_string());

            // Acting on a service with the package the service needs, or without.
            let act = |packages: serde_json::Value| {
                request(json!({
                "subject": {"type": "person", "id": "191212121212"}, "action": {"name": "act"},
                "resource": {"type": "service", "id": "skatteverket/moms", "properties": {"package": "skatt-och-moms"}},
                "context": {"packages": packages, "self": false}}))
            };
            let d = dp.decide(&act(json!(["skatt-och-moms"]))).await.unwrap();
            assert!(d.allowed, "{label}: {d:?}");
            assert_eq!(d.reasons[0].policy, "act-for-a-party");
            assert!(!dp.decide(&act(json!(["vard-anhorig"]))).await.unwrap().allowed);

            // A forbid for one resource lands only in that resource's slice.
            dp.put_policy(&ctx, closed()).await.unwrap();
            let d = dp.decide(&act(json!(["skatt-och-moms"]))).await.unwrap();
            assert!(!d.allowed, "{label}");
            assert_eq!(d.reasons[0].effect, "forbid");
            let mut elsewhere = act(json!(["skatt-och-moms"]));
            elsewhere.resource.id = "skatteverket/deklaration".into();
            assert!(dp.decide(&elsewhere).await.unwrap().allowed, "{label}: other services keep their slice");
            dp.delete_policy(&ctx, "moms-closed").await.unwrap();
            assert!(dp.decide(&act(json!(["skatt-och-moms"]))).await.unwrap().allowed);

            // Two instances on one database: a policy one stores or deletes binds the other's very next
            // decision (its compiled slices follow the stored revision).
            let other = DecisionPoint::open(db.store.clone()).await.unwrap().with_audit(audit.clone());
            assert!(other.decide(&act(json!(["skatt-och-moms"]))).await.unwrap().allowed, "{label}");
            dp.put_policy(&ctx, closed()).await.unwrap();
            let d = other.decide(&act(json!(["skatt-och-moms"]))).await.unwrap();
            assert!(!d.allowed && d.reasons[0].policy == "moms-closed", "{label}: the other instance sees it: {d:?}");
            other.delete_policy(&ctx, "moms-closed").await.unwrap();
            // Each change was recorded by the decision point itself, naming the policy.
            let filter = ena_audit::repo::EventFilter {
                object_id: Some("moms-closed".into()),
                ..ena_audit::repo::EventFilter::default()
            };
            let logged: Vec<String> =
                audit.query(&filter, 10, 0).await.unwrap().into_iter().map(|e| e.event.action).collect();
            assert_eq!(
                logged.iter().filter(|a| *a == "access.policy.put").count(),
                2,
                "{label}: each put is logged: {logged:?}"
            );
            assert_eq!(logged.iter().filter(|a| *a == "access.policy.delete").count(), 2, "{label}: {logged:?}");
            assert!(dp.decide(&act(json!(["skatt-och-moms"]))).await.unwrap().allowed, "{label}: and back");

            // Bad policies and requests name the field; nothing is stored.
            for (p, field) in [
                (
                    PolicyRecord {
                        id: "x y".into(),
                        resource: "*".into(),
                        description: String::new(),
                        text: "permit(principal, action, resource);".into(),
                        updated_at: String::new(),
                    },
                    "id",
                ),
                (
                    PolicyRecord {
                        id: "bad-resource".into(),
                        resource: "Service".into(),
                        description: String::new(),
                        text: "permit(principal, action, resource);".into(),
                        updated_at: String::new(),
                    },
                    "resource",
                ),
                (
                    PolicyRecord {
                        id: "bad-text".into(),
                        resource: "*".into(),
                        description: String::new(),
                        text: "permit(principal, action, resource".into(),
                        updated_at: String::new(),
                    },
                    "text",
                ),
                (
                    PolicyRecord {
                        id: "off-schema".into(),
                        resource: "*".into(),
                        description: String::new(),
                        text: "permit(principal, action, resource) when { resource.colour == \"red\" };".into(),
                        updated_at: String::new(),
                    },
                    "text",
                ),
            ] {
                match dp.put_policy(&ctx, p).await {
                    Err(crate::AccessError::Invalid(f, _)) => assert_eq!(f, field, "{label}"),
                    other => panic!("{label}: {field}: {other:?}"),
                }
            }
            assert_eq!(dp.policy_count(), n, "{label}: nothing stored");
            let mut bad = operate.clone();
            bad.subject.kind = "Person!".into();
            assert!(matches!(dp.decide(&bad).await, Err(crate::AccessError::Invalid(f, _)) if f == "subject.type"));
        }
    }

    /// The shipped policies, as a table: each question with the answer and the policy that gives it
    /// (`None`: default deny, no policy). A row names what it pins, so a changed policy fails by name.
    #[tokio::test]
    async fn shipped_policies_answer_each_kind_of_question() {
        let db = ena_store::testing::sqlite().await;
        db.store.migrate().await.unwrap();
        let dp = DecisionPoint::open(db.store.clone()).await.unwrap();
        let member = json!({"type": "member", "id": "https://nod.exempel.se", "properties": {"organisationNumber": "2120000142"}});
        let person = json!({"type": "person", "id": "191212121212"});
        let api = |id: &str| json!({"type": "api", "id": id});
        let address = |org: &str| json!({"type": "address", "id": "a1", "properties": {"organisationNumber": org}});
        let service = json!({"type": "service", "id": "skatteverket/moms", "properties": {"package": "skatt-och-moms", "right": "service:skatteverket/moms"}});
        let act = |packages: serde_json::Value, own: bool| json!({"packages": packages, "self": own});
        let operator = json!({"type": "operator", "id": "operator"});
        #[rustfmt::skip]
        let cases: Vec<(&str, serde_json::Value, &str, serde_json::Value, Option<serde_json::Value>, Option<&str>)> = vec![
            ("the operator operates an API", operator.clone(), "operate", api("plan"), None, Some("operator-operates-ena")),
            ("a member does not operate", member.clone(), "operate", api("plan"), None, None),
            ("a person does not operate", person.clone(), "operate", api("plan"), None, None),
            ("a member uses an API", member.clone(), "use", api("addresses"), None, Some("authenticated-use-ena")),
            ("a person uses an API", person.clone(), "use", api("representation"), None, Some("authenticated-use-ena")),
            ("the operator does not 'use'", operator.clone(), "use", api("plan"), None, None),
            ("a member asks the decision point", member.clone(), "evaluate", api("access"), None, Some("members-ask-the-decision-point")),
            ("a member checks representation", member.clone(), "evaluate", api("representation"), None, Some("members-check-representation")),
            ("evaluate on another API is not given", member.clone(), "evaluate", api("plan"), None, None),
            ("a member administers its own address", member.clone(), "administer", address("2120000142"), None, Some("members-administer-own-addresses")),
            ("not another organisation's", member.clone(), "administer", address("2021005448"), None, None),
            ("a person acts for themself", person.clone(), "act", service.clone(), Some(act(json!([]), true)), Some("act-for-a-party")),
            ("for another with the package", person.clone(), "read", service.clone(), Some(act(json!(["skatt-och-moms"]), false)), Some("act-for-a-party")),
            ("for another with the single-service right", person.clone(), "write", service.clone(), Some(act(json!(["service:skatteverket/moms"]), false)), Some("act-for-a-party")),
            ("not with another package", person.clone(), "act", service.clone(), Some(act(json!(["vard-anhorig"]), false)), None),
            ("not with another service's right", person.clone(), "act", service.clone(), Some(act(json!(["service:skatteverket/deklaration"]), false)), None),
        ];
        for (what, subject, action, resource, context, policy) in cases {
            let mut question = json!({"subject": subject, "action": {"name": action}, "resource": resource});
            if let Some(context) = context {
                question["context"] = context;
            }
            let d = dp.decide(&request(question)).await.unwrap();
            assert_eq!(d.allowed, policy.is_some(), "{what}: {d:?}");
            let by: Vec<&str> = d.reasons.iter().map(|r| r.policy.as_str()).collect();
            assert_eq!(by, policy.into_iter().collect::<Vec<_>>(), "{what}");
            assert!(d.errors.is_empty(), "{what}: {d:?}");
        }
    }

    /// The batch semantics, as a table: which requests are decided, and with what, for each semantic.
    #[tokio::test]
    async fn batch_semantics_decide_in_order_and_stop_where_they_say() {
        use crate::Semantic;
        let db = ena_store::testing::sqlite().await;
        let dp = DecisionPoint::open(db.store.clone()).await.unwrap();
        let permit = request(
            json!({"subject": {"type": "operator", "id": "operator"}, "action": {"name": "operate"}, "resource": {"type": "api", "id": "plan"}}),
        );
        let deny = request(
            json!({"subject": {"type": "member", "id": "https://x.example"}, "action": {"name": "operate"}, "resource": {"type": "api", "id": "plan"}}),
        );
        let broken = request(
            json!({"subject": {"type": "no such type", "id": "x"}, "action": {"name": "operate"}, "resource": {"type": "api", "id": "plan"}}),
        );
        // (semantic, requests, the outcomes expected: Some(allowed), or None for an error)
        let cases: Vec<(Semantic, Vec<&AccessRequest>, Vec<Option<bool>>)> = vec![
            (
                Semantic::ExecuteAll,
                vec![&permit, &deny, &broken, &permit],
                vec![Some(true), Some(false), None, Some(true)],
            ),
            (Semantic::DenyOnFirstDeny, vec![&permit, &deny, &permit], vec![Some(true), Some(false)]),
            (Semantic::DenyOnFirstDeny, vec![&permit, &broken, &permit], vec![Some(true), None]),
            (Semantic::DenyOnFirstDeny, vec![&permit, &permit], vec![Some(true), Some(true)]),
            (Semantic::PermitOnFirstPermit, vec![&deny, &broken, &permit, &deny], vec![Some(false), None, Some(true)]),
            (Semantic::PermitOnFirstPermit, vec![&deny, &deny], vec![Some(false), Some(false)]),
            (Semantic::ExecuteAll, vec![], vec![]),
        ];
        for (semantic, requests, expected) in cases {
            let owned: Vec<AccessRequest> = requests.into_iter().cloned().collect();
            let got: Vec<Option<bool>> =
                dp.decide_batch(&owned, semantic).await.into_iter().map(|r| r.ok().map(|d| d.allowed)).collect();
            assert_eq!(got, expected, "{semantic:?}");
        }
        assert!(
            matches!(Semantic::parse("all_of_them"), Err(crate::AccessError::Invalid(f, _)) if f == "options.evaluations_semantic")
        );
        assert_eq!(Semantic::parse("permit_on_first_permit").unwrap(), Semantic::PermitOnFirstPermit);
    }
}
