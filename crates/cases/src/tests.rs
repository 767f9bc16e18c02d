//! The block on both databases: create (idempotent), update (revision, transitions, the decision date and
//! its history), transmissions (a decision decides), the party view across parties and services, the
//! seen-log, labels and read marks, and bad input naming its field.

use ena_audit::{AuditLog, NoteSigner, RuleSet};
use ena_store::testing::test_stores;
use serde_json::json;

use crate::*;

const KOMMUN: &str = "162120000142";
const PERSON: &str = "191212121212";
const COMPANY: &str = "5560360793";

fn input(party: (&str, &str), service: &str, key: Option<&str>) -> CaseInput {
    serde_json::from_value(json!({
        "party": {"kind": party.0, "id": party.1}, "service": service, "status": "in-progress",
        "title": {"sv": "Ansökan om bygglov", "en": "Building permit"}, "summary": {"sv": "Vi handlägger din ansökan."},
        "idempotencyKey": key, "lifeEvent": "bygga-hus",
        "expectedDecision": {"at": "2099-02-15T00:00:00Z", "reason": "Handläggningstiden är tio veckor."},
        "guiActions": [{"action": "open", "priority": "primary", "title": {"sv": "Öppna"}, "url": "https://e.kommun.se/4711"}]
    }))
    .unwrap()
}

/// The real audit log (its signing key lives only as long as the test).
async fn audit_log(store: &ena_store::Store) -> AuditLog {
    AuditLog::open(store.clone(), NoteSigner::ephemeral("test/cases").unwrap(), RuleSet::shipped()).await.unwrap()
}

fn fields(e: &CaseError) -> Vec<String> {
    match e {
        CaseError::Invalid(f) => f.iter().map(|x| x.property.clone()).collect(),
        other => panic!("not invalid: {other:?}"),
    }
}

#[tokio::test]
async fn cases_are_kept_and_seen_on_both_databases() {
    for db in test_stores().await {
        let label = db.label.clone();
        let audit = audit_log(&db.store).await;
        let cases = Cases::new(db.store.clone());
        let ctx = Context::system("kommun-system");
        let kommun = Agency { organisation: KOMMUN.into(), name: Some("Exempelkommunen".into()) };
        let other = Agency { organisation: "162021005448".into(), name: None };

        // Create; the same key again is the same case.
        let (a, created) = cases
            .create(&audit, &ctx, &kommun, input(("person", PERSON), "kommun/mina-arenden", Some("k-1")))
            .await
            .unwrap();
        assert!(created, "{label}");
        let (again, created) = cases
            .create(&audit, &ctx, &kommun, input(("person", PERSON), "kommun/mina-arenden", Some("k-1")))
            .await
            .unwrap();
        assert!(!created && again.id == a.id, "{label}: idempotent");
        assert_eq!((a.revision, a.status), (1, CaseStatus::InProgress), "{label}");
        assert!(a.expected_decision.is_some() && !a.overdue, "{label}");

        // Bad input names every field; nothing is made.
        let bad: CaseInput =
            serde_json::from_value(json!({"party": {"kind": "person", "id": "19121212-1213"}, "status": "in-progress",
            "title": {}, "expectedDecision": {"at": "2001-01-01T00:00:00Z", "reason": ""}}))
            .unwrap();
        let e = cases.create(&audit, &ctx, &kommun, bad).await.unwrap_err();
        let named = fields(&e);
        for f in ["party/id", "service", "title", "expectedDecision/at", "expectedDecision/reason"] {
            assert!(named.iter().any(|n| n == f), "{label}: {f} in {named:?}");
        }

        // Updates: If-Match, allowed transitions, a moved date needs a reason and is kept.
        let e = cases.update(&audit, &ctx, &kommun, &a.id, 7, CaseUpdate::default()).await.unwrap_err();
        assert!(matches!(e, CaseError::Stale { current: 1 }), "{label}: {e:?}");
        let e = cases.update(&audit, &ctx, &other, &a.id, 1, CaseUpdate::default()).await.unwrap_err();
        assert!(matches!(e, CaseError::Forbidden(_)), "{label}: another agency's case");
        let moved: CaseUpdate = serde_json::from_value(
            json!({"expectedDecision": {"at": "2099-03-15T00:00:00Z", "reason": "Vi väntar på ett yttrande."}}),
        )
        .unwrap();
        let b = cases.update(&audit, &ctx, &kommun, &a.id, 1, moved).await.unwrap();
        assert_eq!(b.revision, 2, "{label}");
        let no_reason: CaseUpdate =
            serde_json::from_value(json!({"expectedDecision": {"at": "2099-04-15T00:00:00Z", "reason": " "}})).unwrap();
        assert_eq!(
            fields(&cases.update(&audit, &ctx, &kommun, &a.id, 2, no_reason).await.unwrap_err()),
            ["expectedDecision/reason"],
            "{label}"
        );
        let h = cases.history(&a.id).await.unwrap();
        assert_eq!(h.decision_dates.len(), 2, "{label}: the whole history of the date");
        assert_eq!(h.decision_dates[1].reason, "Vi väntar på ett yttrande.", "{label}");

        // A decision decides; a completed case stays completed.
        let decision: TransmissionInput =
            serde_json::from_value(json!({"kind": "decision", "title": {"sv": "Beslut om bygglov"}})).unwrap();
        let t = cases.transmit(&audit, &ctx, &kommun, &a.id, decision, Some("msg-1".into())).await.unwrap();
        let again: TransmissionInput =
            serde_json::from_value(json!({"kind": "decision", "title": {"sv": "Beslut om bygglov"}})).unwrap();
        assert!(
            matches!(
                cases.transmit(&audit, &ctx, &kommun, &a.id, again, Some("msg-1".into())).await,
                Err(CaseError::Conflict(_))
            ),
            "{label}: one message once"
        );
        let corr: TransmissionInput = serde_json::from_value(
            json!({"kind": "correction", "relatedTransmissionId": "nope", "title": {"sv": "Rättelse"}}),
        )
        .unwrap();
        assert_eq!(
            fields(&cases.transmit(&audit, &ctx, &kommun, &a.id, corr, None).await.unwrap_err()),
            ["relatedTransmissionId"],
            "{label}"
        );
        let corr: TransmissionInput = serde_json::from_value(
            json!({"kind": "correction", "relatedTransmissionId": t.id, "title": {"sv": "Rättelse"}}),
        )
        .unwrap();
        cases.transmit(&audit, &ctx, &kommun, &a.id, corr, None).await.unwrap();
        let done: CaseUpdate = serde_json::from_value(json!({"status": "completed"})).unwrap();
        let c = cases.update(&audit, &ctx, &kommun, &a.id, 4, done).await.unwrap();
        assert!(c.decided_at.is_some() && c.status == CaseStatus::Completed, "{label}: {c:?}");
        let reopen: CaseUpdate = serde_json::from_value(json!({"status": "in-progress"})).unwrap();
        assert_eq!(
            fields(&cases.update(&audit, &ctx, &kommun, &a.id, 5, reopen).await.unwrap_err()),
            ["status"],
            "{label}"
        );

        // The party view: the person's own cases and a company's, only the services covered.
        let (company_case, _) = cases
            .create(&audit, &ctx, &kommun, input(("organisation", COMPANY), "skatteverket/moms", None))
            .await
            .unwrap();
        let (hidden, _) = cases
            .create(&audit, &ctx, &kommun, input(("organisation", COMPANY), "region/vardarenden", None))
            .await
            .unwrap();
        let scopes = [
            Scope { party: PERSON.into(), services: None },
            Scope { party: format!("16{COMPANY}"), services: Some(vec!["skatteverket/moms".into()]) },
        ];
        let listed =
            cases.list(&audit, &ctx, PERSON, &scopes, &Filter::default(), Sort::ContentUpdated, 20, 0).await.unwrap();
        let ids: Vec<&str> = listed.iter().map(|l| l.case.id.as_str()).collect();
        assert!(ids.contains(&a.id.as_str()) && ids.contains(&company_case.id.as_str()), "{label}: {ids:?}");
        assert!(!ids.contains(&hidden.id.as_str()), "{label}: a service no mandate covers is not shown");
        let text = Filter { text: Some("BYGGLOV".into()), ..Default::default() };
        assert_eq!(
            cases.list(&audit, &ctx, PERSON, &scopes, &text, Sort::Created, 20, 0).await.unwrap().len(),
            2,
            "{label}: free text"
        );
        let unseen = Filter { unseen: true, ..Default::default() };
        assert_eq!(
            cases.list(&audit, &ctx, PERSON, &scopes, &unseen, Sort::Due, 20, 0).await.unwrap().len(),
            2,
            "{label}"
        );

        // Opening writes the seen-log (masked) and the case is then read.
        let (_, history) = cases.open(&audit, &ctx, PERSON, &scopes, &a.id).await.unwrap();
        assert!(!history.transmissions.is_empty() && !history.activities.is_empty(), "{label}");
        let (_, history) = cases.open(&audit, &ctx, PERSON, &scopes, &company_case.id).await.unwrap();
        assert_eq!(history.seen[0].person, "19121212-****", "{label}: masked");
        assert_eq!(history.seen[0].on_behalf_of.as_deref(), Some(COMPANY), "{label}");
        assert_eq!(
            cases.list(&audit, &ctx, PERSON, &scopes, &unseen, Sort::Due, 20, 0).await.unwrap().len(),
            0,
            "{label}: all read"
        );
        assert!(
            matches!(cases.open(&audit, &ctx, PERSON, &scopes, &hidden.id).await, Err(CaseError::NotFound(_))),
            "{label}"
        );

        // Labels and read marks, in bulk; a case not in scope is refused by name.
        cases.label(PERSON, &scopes, &[a.id.clone(), company_case.id.clone()], "archive", true).await.unwrap();
        let archived = Filter { label: Some("archive".into()), ..Default::default() };
        assert_eq!(
            cases.list(&audit, &ctx, PERSON, &scopes, &archived, Sort::Due, 20, 0).await.unwrap().len(),
            2,
            "{label}"
        );
        assert_eq!(
            fields(&cases.label(PERSON, &scopes, std::slice::from_ref(&hidden.id), "bin", true).await.unwrap_err()),
            ["caseIds"],
            "{label}"
        );
        cases.mark(PERSON, &scopes, std::slice::from_ref(&a.id), false).await.unwrap();
        assert_eq!(
            cases.list(&audit, &ctx, PERSON, &scopes, &unseen, Sort::Due, 20, 0).await.unwrap().len(),
            1,
            "{label}: unread again"
        );

        // The cursor walks the list one case at a time, newest change first, without repeats.
        let mut after = None;
        let mut walked = Vec::new();
        loop {
            let f = Filter { after: after.clone(), ..Default::default() };
            let page = cases.list(&audit, &ctx, PERSON, &scopes, &f, Sort::ContentUpdated, 1, 0).await.unwrap();
            let Some(l) = page.first() else { break };
            let at = ena_core::Timestamp::parse_rfc3339(&l.case.content_updated_at).unwrap().unix();
            after = Some((at, l.case.id.clone()));
            walked.push(l.case.id.clone());
        }
        assert_eq!(walked, listed.iter().map(|l| l.case.id.clone()).collect::<Vec<_>>(), "{label}: cursor order");

        // Time passes the committed date (set back in the database: the API refuses a past date): the
        // case is overdue for the party and the organisation, and one alert is raised, once.
        let past = ena_core::time::unix_now() - 60;
        ena_store::with_pool!(&db.store, pool => sqlx::query("UPDATE cases SET expected_decision_at = $1 WHERE id = $2")
            .bind(past).bind(&company_case.id).execute(pool).await.map(|_| ())).unwrap();
        assert_eq!(cases.flag_overdue(&audit).await.unwrap(), 1, "{label}");
        assert_eq!(cases.flag_overdue(&audit).await.unwrap(), 0, "{label}: raised once");
        let overdue = cases.of_organisation(&kommun, true, 20, 0).await.unwrap();
        assert_eq!(overdue.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), [company_case.id.as_str()], "{label}");
        let f = Filter { overdue: true, ..Default::default() };
        let mine = cases.list(&audit, &ctx, PERSON, &scopes, &f, Sort::Due, 20, 0).await.unwrap();
        assert!(mine.len() == 1 && mine[0].case.overdue, "{label}: flagged to the party");
    }
}

/// A representative of a thousand parties (an accounting firm) gets one list of them all, limited to the
/// services each mandate covers — on SQLite too, whose parser refuses an expression a thousand ORs deep.
#[tokio::test]
async fn a_representative_of_a_thousand_parties_sees_their_cases_in_one_list_on_both_databases() {
    for db in test_stores().await {
        let label = db.label.clone();
        let audit = audit_log(&db.store).await;
        let cases = Cases::new(db.store.clone());
        let ctx = Context::system("skatteverket-system");
        let skatteverket = Agency { organisation: "162021005448".into(), name: Some("Skatteverket".into()) };
        let kommun = Agency { organisation: KOMMUN.into(), name: None };
        let make = |agency: &Agency, party: (&'static str, &'static str), service: &'static str| {
            let (cases, audit, ctx, agency) = (&cases, &audit, &ctx, agency.clone());
            async move { cases.create(audit, ctx, &agency, input(party, service, None)).await.unwrap().0.id }
        };
        let moms = make(&skatteverket, ("organisation", COMPANY), "skatteverket/moms").await;
        let _annual = make(&skatteverket, ("organisation", COMPANY), "bolagsverket/arsredovisning").await;
        let _outside = make(&skatteverket, ("organisation", "5566778899"), "skatteverket/moms").await;
        let tolvan = make(&kommun, ("person", PERSON), "kommun/mina-arenden").await;
        let own = make(&kommun, ("person", "200107044562"), "kommun/mina-arenden").await;

        let tax = Some(vec!["skatteverket/moms".to_owned(), "skatteverket/skattekonto".to_owned()]);
        let mut scopes = vec![Scope { party: "200107044562".into(), services: None }];
        scopes.extend((0..999u64).map(|i| Scope { party: format!("16{}", 5_500_000_000 + i), services: tax.clone() }));
        scopes.push(Scope { party: format!("16{COMPANY}"), services: tax.clone() });
        scopes.push(Scope { party: PERSON.into(), services: Some(vec!["kommun/mina-arenden".into()]) });
        scopes.push(Scope { party: "165566778899".into(), services: Some(vec![]) });
        let page = cases
            .list(&audit, &ctx, "200107044562", &scopes, &Filter::default(), Sort::ContentUpdated, 50, 0)
            .await
            .unwrap();
        let mut got: Vec<String> = page.into_iter().map(|l| l.case.id).collect();
        got.sort();
        let mut want = vec![moms, tolvan, own];
        want.sort();
        assert_eq!(got, want, "{label}: each party's cases in the services in scope, and no other");
    }
}
