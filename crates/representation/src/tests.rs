//! Scenario tests of the representation register, on both databases, with the real decision point and
//! audit log.

use std::sync::{Arc, Mutex};

use ena_audit::{AuditLog, NoteSigner, RuleSet};
use ena_core::PersonId;
use ena_store::testing::{TestStore, test_stores};

use super::*;

use crate::catalog::Catalog;
use crate::register::FixtureRegister;

const TOLVAN: &str = "191212121212"; // signatory + CEO of Tolvans Bygg (sole); board of Styrelsebolaget
const ANNA: &str = "199001012385"; // signatory of Andersson & Berg (joint); board of Styrelsebolaget
const BERTIL: &str = "198506151235"; // signatory of Andersson & Berg (joint)
const CECILIA: &str = "194702289879"; // board of Styrelsebolaget
const DAVID: &str = "200107044562"; // CEO of Styrelsebolaget; employee of the accounting firm
const EVA: &str = "197110206542"; // signatory of Eks Redovisningsbyrå (sole)
const BYGG: &str = "556677-8899";
const HB: &str = "556011-2236";
const BYRA: &str = "559900-1129";
const STYRELSE: &str = "556123-4567";

#[derive(Default)]
struct Collected(Mutex<Vec<Notice>>);

impl NoticeHook for Collected {
    fn notify(&self, notice: &Notice) {
        self.0.lock().unwrap().push(notice.clone());
    }
}

async fn open(db: &TestStore) -> (Representation, AuditLog, Arc<Collected>) {
    db.store.migrate().await.unwrap();
    let audit =
        AuditLog::open(db.store.clone(), NoteSigner::ephemeral("test.example/log").unwrap(), RuleSet::shipped())
            .await
            .unwrap();
    let access = Arc::new(ena_access::DecisionPoint::open(db.store.clone()).await.unwrap());
    let hook = Arc::new(Collected::default());
    let r = Representation::new(
        db.store.clone(),
        Arc::new(FixtureRegister::shipped()),
        Catalog::shipped(),
        access,
        audit.clone(),
    )
    .with_hook(hook.clone());
    (r, audit, hook)
}

fn who(p: &str) -> PersonId {
    PersonId::parse(p).unwrap()
}

fn in_days(d: i64) -> String {
    ena_core::time::rfc3339_of(ena_core::time::unix_now() + d * 86_400)
}

fn grant(principal: &str, agent: &str, packages: &[&str]) -> GrantInput {
    GrantInput {
        principal: principal.into(),
        agent: agent.into(),
        packages: packages.iter().map(|p| (*p).to_owned()).collect(),
        valid_to: Some(in_days(90)),
        ..GrantInput::default()
    }
}

async fn may(r: &Representation, agent: &str, principal: &str, service: &str) -> CheckResult {
    let input = CheckInput {
        agent: agent.into(),
        principal: principal.into(),
        service: service.into(),
        action: None,
        at: None,
    };
    r.check("test", &input).await.unwrap()
}

fn field_of(e: &ReprError) -> String {
    match e {
        ReprError::Invalid(f, _) | ReprError::Forbidden(f, _) | ReprError::Conflict(f, _) => f.clone(),
        other => format!("{other:?}"),
    }
}

#[tokio::test]
async fn companies_relatives_and_accounting_firms_on_both_databases() {
    for db in test_stores().await {
        let label = db.label.clone();
        let (r, _audit, hook) = open(&db).await;

        // Register roles: Tolvan signs alone for his company and is its CEO.
        let c = may(&r, TOLVAN, BYGG, "skatteverket/moms").await;
        assert!(c.allowed, "{label}: {c:?}");
        assert!(c.basis.iter().any(|b| b.role.as_deref() == Some("signatory")), "{label}: {c:?}");
        // David is CEO of Styrelsebolaget: tax yes, annual accounts (a board matter) no.
        assert!(may(&r, DAVID, STYRELSE, "skatteverket/moms").await.allowed);
        assert!(!may(&r, DAVID, STYRELSE, "bolagsverket/arsredovisning").await.allowed);

        // Sole signatory: Tolvan's grant to the accounting firm is in force at once.
        let mut to_firm = grant(BYGG, BYRA, &["skatt-och-moms", "bokslut-och-arsredovisning"]);
        to_firm.may_delegate = true;
        let firm = r.grant(&who(TOLVAN), &to_firm).await.unwrap();
        assert_eq!(firm.status, "active", "{label}");
        assert!(may(&r, BYRA, BYGG, "skatteverket/moms").await.allowed);
        assert!(
            hook.0.lock().unwrap().iter().any(|n| n.kind == "granted" && n.party == "165599001129"),
            "{label}: notice to the agent"
        );

        // A firm holding a package may pass on a single service of it (narrower), not widen it back.
        let mut one_service = grant(BYGG, EVA, &["service:skatteverket/moms"]);
        one_service.parent = Some(firm.id.clone());
        // Passed-on mandates end when the firm's does (a validTo a second later would be refused).
        one_service.valid_to = firm.valid_to.clone();
        assert_eq!(r.grant(&who(EVA), &one_service).await.unwrap().status, "active", "{label}");

        // The firm passes tax (delegable) on to its employee David — through its signatory Eva.
        let mut to_david = grant(BYGG, DAVID, &["skatt-och-moms"]);
        to_david.parent = Some(firm.id.clone());
        to_david.valid_to = firm.valid_to.clone();
        let e = r.grant(&who(DAVID), &to_david).await.unwrap_err();
        assert!(
            matches!(e, ReprError::Forbidden(ref f, _) if f == "parent"),
            "{label}: an employee cannot pass it to himself: {e:?}"
        );
        let passed = r.grant(&who(EVA), &to_david).await.unwrap();
        assert_eq!(passed.status, "active");
        let c = may(&r, DAVID, BYGG, "skatteverket/moms").await;
        assert!(c.allowed, "{label}: {c:?}");
        assert_eq!(c.basis[0].chain, vec![firm.id.clone(), passed.id.clone()], "{label}: the why is the chain");
        assert!(passed.why.len() >= 2, "{label}: {:?}", passed.why);
        // Not delegable, not held, or outliving the firm's mandate: refused.
        let mut accounts = to_david.clone();
        accounts.packages = vec!["bokslut-och-arsredovisning".into()];
        assert_eq!(field_of(&r.grant(&who(EVA), &accounts).await.unwrap_err()), "packages[0]");
        let mut payroll = to_david.clone();
        payroll.packages = vec!["anstallda-och-arbetsgivaravgifter".into()];
        assert!(
            matches!(r.grant(&who(EVA), &payroll).await.unwrap_err(), ReprError::Forbidden(f, _) if f == "packages[0]")
        );
        let mut longer = to_david.clone();
        longer.valid_to = Some(in_days(365));
        assert_eq!(field_of(&r.grant(&who(EVA), &longer).await.unwrap_err()), "validTo");
        // Revoking the firm's mandate takes effect on the next check, down the chain.
        r.revoke(&who(TOLVAN), &firm.id).await.unwrap();
        assert!(!may(&r, BYRA, BYGG, "skatteverket/moms").await.allowed, "{label}");
        assert!(
            !may(&r, DAVID, BYGG, "skatteverket/moms").await.allowed,
            "{label}: passed-on rights end with their source"
        );
        assert!(matches!(r.revoke(&who(TOLVAN), &firm.id).await.unwrap_err(), ReprError::Conflict(..)));

        // Joint signing: Anna initiates, the grant waits for Bertil.
        let hb = r.grant(&who(ANNA), &grant(HB, DAVID, &["anstallda-och-arbetsgivaravgifter"])).await.unwrap();
        assert_eq!((hb.status.as_str(), hb.required_approvals), ("pending", 2), "{label}");
        assert!(
            !may(&r, DAVID, HB, "skatteverket/arbetsgivardeklaration").await.allowed,
            "{label}: not before the rule is met"
        );
        assert!(matches!(r.approve(&who(ANNA), &hb.id).await.unwrap_err(), ReprError::Conflict(..)), "{label}: twice");
        assert!(
            matches!(r.approve(&who(TOLVAN), &hb.id).await.unwrap_err(), ReprError::Forbidden(..)),
            "{label}: not a signatory"
        );
        assert!(
            matches!(r.grant(&who(TOLVAN), &grant(HB, DAVID, &["skatt-och-moms"])).await.unwrap_err(), ReprError::Forbidden(f, _) if f == "principal")
        );
        let hb = r.approve(&who(BERTIL), &hb.id).await.unwrap();
        assert_eq!(hb.status, "active", "{label}");
        assert_eq!(hb.approvals.len(), 2);
        assert!(may(&r, DAVID, HB, "skatteverket/arbetsgivardeklaration").await.allowed);

        // The board jointly: all three board members.
        let b = r.grant(&who(TOLVAN), &grant(STYRELSE, BYRA, &["bokslut-och-arsredovisning"])).await.unwrap();
        assert_eq!(b.required_approvals, 3);
        assert_eq!(r.approve(&who(ANNA), &b.id).await.unwrap().status, "pending");
        assert_eq!(r.approve(&who(CECILIA), &b.id).await.unwrap().status, "active", "{label}");

        // A single service right: VAT returns only, not the tax account of the same package.
        let moms_only = r.grant(&who(TOLVAN), &grant(BYGG, CECILIA, &["service:skatteverket/moms"])).await.unwrap();
        assert_eq!(moms_only.status, "active");
        let c = may(&r, CECILIA, BYGG, "skatteverket/moms").await;
        assert!(c.allowed, "{label}: {c:?}");
        assert_eq!(c.reasons[0].policy, "act-for-a-party");
        assert_eq!(c.basis[0].chain, vec![moms_only.id.clone()], "{label}: the basis names the single-service mandate");
        assert!(!may(&r, CECILIA, BYGG, "skatteverket/skattekonto").await.allowed, "{label}: only that service");
        assert_eq!(
            field_of(&r.grant(&who(TOLVAN), &grant(BYGG, CECILIA, &["service:okand"])).await.unwrap_err()),
            "packages[0]"
        );

        // A person grants a relative a care mandate.
        let care = r.grant(&who(CECILIA), &grant(CECILIA, DAVID, &["vard-och-omsorg-anhorig"])).await.unwrap();
        assert_eq!(care.status, "active");
        assert!(may(&r, DAVID, CECILIA, "region/vardarenden").await.allowed, "{label}");
        assert!(!may(&r, DAVID, CECILIA, "kommun/mina-arenden").await.allowed, "{label}: only what was granted");
        assert!(!may(&r, ANNA, CECILIA, "region/vardarenden").await.allowed);
        let acting = r.acting_for(&who(DAVID)).await.unwrap();
        assert!(acting.iter().any(|a| a.party == CECILIA && a.basis == "mandate"), "{label}: {acting:?}");
        assert!(acting.iter().any(|a| a.party == "165561234567" && a.basis == "role"), "{label}: {acting:?}");

        // A request declined, another accepted.
        let mut ask = grant(CECILIA, DAVID, &["post-och-arenden"]);
        let asked = r.request(&who(DAVID), &ask).await.unwrap();
        assert_eq!(asked.status, "requested");
        assert!(matches!(r.respond(&who(ANNA), &asked.id, true).await.unwrap_err(), ReprError::Forbidden(..)));
        assert_eq!(r.respond(&who(CECILIA), &asked.id, false).await.unwrap().status, "declined", "{label}");
        assert!(!may(&r, DAVID, CECILIA, "kommun/mina-arenden").await.allowed);
        ask.valid_to = Some(in_days(30));
        let again = r.request(&who(DAVID), &ask).await.unwrap();
        assert_eq!(r.respond(&who(CECILIA), &again.id, true).await.unwrap().status, "active", "{label}");
        assert!(may(&r, DAVID, CECILIA, "kommun/mina-arenden").await.allowed);

        // Views: granted by Cecilia, received by David.
        let granted = r.list(&who(CECILIA), CECILIA, "granted", 20, 0).await.unwrap();
        assert_eq!(granted.len(), 3, "{label}: care, the declined request and the accepted one");
        let received = r.list(&who(DAVID), DAVID, "received", 20, 0).await.unwrap();
        assert!(received.len() >= 4, "{label}");
        assert!(matches!(r.list(&who(DAVID), CECILIA, "granted", 20, 0).await.unwrap_err(), ReprError::Forbidden(..)));
        let notices = r.notices(&who(DAVID), DAVID, 50, 0).await.unwrap();
        assert!(
            notices.iter().any(|n| n.kind == "declined") && notices.iter().any(|n| n.kind == "granted"),
            "{label}: {notices:?}"
        );
    }
}

#[tokio::test]
async fn expiry_is_exact_and_bad_input_changes_nothing_on_both_databases() {
    for db in test_stores().await {
        let label = db.label.clone();
        let (r, _audit, _hook) = open(&db).await;
        let end = ena_core::time::unix_now() + 3600;
        let mut g = grant(CECILIA, DAVID, &["vard-och-omsorg-anhorig"]);
        g.valid_to = Some(ena_core::time::rfc3339_of(end));
        r.grant(&who(CECILIA), &g).await.unwrap();
        let at = |t: i64| CheckInput {
            agent: DAVID.into(),
            principal: CECILIA.into(),
            service: "region/vardarenden".into(),
            action: None,
            at: Some(ena_core::time::rfc3339_of(t)),
        };
        assert!(r.check("test", &at(end - 1)).await.unwrap().allowed, "{label}: in force until the last second");
        assert!(!r.check("test", &at(end)).await.unwrap().allowed, "{label}: not at validTo itself");
        // Ending within 14 days: both parties are told, once.
        assert_eq!(r.notice_expiring().await.unwrap(), 1, "{label}");
        assert_eq!(r.notice_expiring().await.unwrap(), 0, "{label}");

        let before = r.list(&who(CECILIA), CECILIA, "granted", 100, 0).await.unwrap().len();
        let cases: Vec<(GrantInput, &str)> = vec![
            (grant(CECILIA, CECILIA, &["post-och-arenden"]), "agent"),
            (
                GrantInput {
                    valid_from: Some(in_days(10)),
                    valid_to: Some(in_days(5)),
                    ..grant(CECILIA, DAVID, &["post-och-arenden"])
                },
                "validTo",
            ),
            (GrantInput { valid_to: None, ..grant(CECILIA, DAVID, &["post-och-arenden"]) }, "validTo"),
            (grant(CECILIA, DAVID, &["flyga-drake"]), "packages[0]"),
            (grant(CECILIA, DAVID, &["skatt-och-moms"]), "packages[0]"),
            (grant(CECILIA, DAVID, &[]), "packages"),
            (grant(CECILIA, "19121212-1213", &["post-och-arenden"]), "agent"),
            (grant(CECILIA, "556677-8890", &["post-och-arenden"]), "agent"),
            (grant(BYGG, DAVID, &["bolagsandringar"]), "packages[0]"),
        ];
        for (input, field) in cases {
            let e = r.grant(&who(CECILIA), &input).await.unwrap_err();
            assert_eq!(field_of(&e), field, "{label}: {input:?} → {e:?}");
        }
        // Someone else's principal.
        assert!(
            matches!(r.grant(&who(DAVID), &grant(CECILIA, ANNA, &["post-och-arenden"])).await.unwrap_err(), ReprError::Forbidden(f, _) if f == "principal")
        );
        assert_eq!(
            r.list(&who(CECILIA), CECILIA, "granted", 100, 0).await.unwrap().len(),
            before,
            "{label}: nothing stored"
        );
        // Checks naming unknown parties or services.
        for (input, field) in [
            (
                CheckInput {
                    agent: "x".into(),
                    principal: CECILIA.into(),
                    service: "region/vardarenden".into(),
                    action: None,
                    at: None,
                },
                "agent",
            ),
            (
                CheckInput {
                    agent: DAVID.into(),
                    principal: "556677-8890".into(),
                    service: "region/vardarenden".into(),
                    action: None,
                    at: None,
                },
                "principal",
            ),
            (
                CheckInput {
                    agent: DAVID.into(),
                    principal: "559999-9999".into(),
                    service: "region/vardarenden".into(),
                    action: None,
                    at: None,
                },
                "principal",
            ),
            (
                CheckInput {
                    agent: DAVID.into(),
                    principal: CECILIA.into(),
                    service: "okand/tjanst".into(),
                    action: None,
                    at: None,
                },
                "service",
            ),
            (
                CheckInput {
                    agent: DAVID.into(),
                    principal: CECILIA.into(),
                    service: "region/vardarenden".into(),
                    action: Some("delete".into()),
                    at: None,
                },
                "action",
            ),
        ] {
            assert_eq!(field_of(&r.check("test", &input).await.unwrap_err()), field, "{label}");
        }
    }
}

mod no_escalation {
    use proptest::prelude::*;

    use super::*;

    /// Persons and companies the random operations pick from.
    const PERSONS: [&str; 4] = [TOLVAN, EVA, DAVID, CECILIA];
    const PARTIES: [&str; 6] = [TOLVAN, EVA, DAVID, CECILIA, BYGG, BYRA];
    const ORGANISATION_PACKAGES: [&str; 3] =
        ["skatt-och-moms", "anstallda-och-arbetsgivaravgifter", "bokslut-och-arsredovisning"];
    const PERSON_PACKAGES: [&str; 2] = ["post-och-arenden", "vard-och-omsorg-anhorig"];

    /// The packages picked by `indices` among those of `principal`'s kind (some not delegable).
    fn packages_for(principal: &str, indices: &[usize]) -> Vec<&'static str> {
        let list: &[&str] = if parse_party("p", principal).unwrap().kind() == "person" {
            &PERSON_PACKAGES
        } else {
            &ORGANISATION_PACKAGES
        };
        let mut out: Vec<&str> = indices.iter().map(|i| list[i % list.len()]).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The person who signs for each party (the person themselves, or the company's sole signatory).
    const BINDER: [usize; 6] = [0, 1, 2, 3, 0, 1];

    #[derive(Debug, Clone)]
    enum Op {
        /// A grant from the principal, by its binder (`honest`) or by a random person.
        Grant {
            honest: bool,
            actor: usize,
            principal: usize,
            agent: usize,
            packages: Vec<usize>,
            may_delegate: bool,
        },
        /// Pass on an earlier mandate, by the binder of its agent (`honest`) or by a random person, asking for
        /// random packages (perhaps more than it holds).
        PassOn {
            honest: bool,
            actor: usize,
            parent: usize,
            agent: usize,
            packages: Vec<usize>,
            may_delegate: bool,
        },
        Revoke {
            actor: usize,
            mandate: usize,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        let packages = || proptest::collection::vec(0..4usize, 1..3);
        prop_oneof![
            3 => (proptest::bool::weighted(0.8), 0..4usize, 0..6usize, 0..6usize, packages(), proptest::bool::weighted(0.7))
                .prop_map(|(honest, actor, principal, agent, packages, may_delegate)| Op::Grant { honest, actor, principal, agent, packages, may_delegate }),
            4 => (proptest::bool::weighted(0.8), 0..4usize, 0..12usize, 0..6usize, packages(), proptest::bool::weighted(0.7))
                .prop_map(|(honest, actor, parent, agent, packages, may_delegate)| Op::PassOn { honest, actor, parent, agent, packages, may_delegate }),
            1 => (0..4usize, 0..12usize).prop_map(|(actor, mandate)| Op::Revoke { actor, mandate }),
        ]
    }

    fn index_of(party: &str) -> usize {
        PARTIES.iter().position(|p| parse_party("p", p).unwrap().id() == party).unwrap()
    }

    fn party(i: usize) -> Party {
        parse_party("party", PARTIES[i]).unwrap()
    }

    /// Independently of the check's code: is there a chain of in-force mandates, each holding `package`,
    /// from a grant by the principal itself down to `m`?
    async fn rooted(r: &Representation, m: &MandateRow, package: &str, t: i64) -> bool {
        let mut current = m.clone();
        for _ in 0..16 {
            if !in_force(&current, t) || !packages_of(&current).iter().any(|p| p == package) {
                return false;
            }
            match current.parent_id.clone() {
                None => return current.grantor == current.principal,
                Some(pid) => match repo::get(&r.store, &pid).await.unwrap() {
                    Some(p)
                        if p.agent == current.grantor && p.principal == current.principal && p.may_delegate == 1 =>
                    {
                        current = p
                    }
                    _ => return false,
                },
            }
        }
        false
    }

    /// Run one sequence of operations, checking the property as it goes and at the end; returns how many
    /// passings-on succeeded.
    fn run(ops: Vec<Op>) -> usize {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let db = ena_store::testing::sqlite().await;
            let (r, _audit, _hook) = open(&db).await;
            let mut created: Vec<String> = Vec::new();
            let mut passed_on = 0;
            for op in ops {
                match op {
                    Op::Grant { honest, actor, principal, agent, packages, may_delegate } => {
                        let mut input =
                            grant(PARTIES[principal], PARTIES[agent], &packages_for(PARTIES[principal], &packages));
                        input.may_delegate = may_delegate;
                        let actor = if honest { BINDER[principal] } else { actor };
                        if let Ok(m) = r.grant(&who(PERSONS[actor]), &input).await {
                            created.push(m.id);
                        }
                    }
                    Op::PassOn { honest, actor, parent, agent, packages, may_delegate } => {
                        if created.is_empty() {
                            continue;
                        }
                        let pid = created[parent % created.len()].clone();
                        let p = repo::get(&r.store, &pid).await.unwrap().unwrap();
                        let mut input = grant(&p.principal, PARTIES[agent], &packages_for(&p.principal, &packages));
                        input.valid_to = p.valid_to.map(ena_core::time::rfc3339_of);
                        input.open_ended = p.valid_to.is_none();
                        input.may_delegate = may_delegate;
                        input.parent = Some(pid);
                        let holder = index_of(&p.agent);
                        let actor = if honest { BINDER[holder] } else { actor };
                        let held = r
                            .holdings(&party(holder), &party_of(&p.principal), ena_core::time::unix_now())
                            .await
                            .unwrap();
                        if let Ok(m) = r.grant(&who(PERSONS[actor]), &input).await {
                            passed_on += 1;
                            for package in &m.packages {
                                assert!(
                                    held.contains_key(package),
                                    "passed on {package} that the grantor did not hold: {m:?}"
                                );
                            }
                            created.push(m.id);
                        }
                    }
                    Op::Revoke { actor, mandate } => {
                        if let Some(id) = created.get(mandate % created.len().max(1)) {
                            let _ = r.revoke(&who(PERSONS[actor]), id).await;
                        }
                    }
                }
            }
            let t = ena_core::time::unix_now();
            for a in 0..PARTIES.len() {
                for p in 0..PARTIES.len() {
                    if a == p {
                        continue;
                    }
                    for (package, grounds) in r.holdings(&party(a), &party(p), t).await.unwrap() {
                        for g in grounds.iter().filter(|g| g.kind == "mandate") {
                            let leaf = repo::get(&r.store, g.chain.last().unwrap()).await.unwrap().unwrap();
                            assert!(
                                rooted(&r, &leaf, &package, t).await,
                                "{} holds {package} for {} without a rooted chain: {g:?}",
                                PARTIES[a],
                                PARTIES[p]
                            );
                        }
                    }
                }
            }
            passed_on
        })
    }

    #[test]
    fn passings_on_happen() {
        // The same strategy from a fixed seed: the property must not hold just because nothing was passed on.
        use proptest::strategy::ValueTree;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = proptest::collection::vec(op(), 1..25);
        let total: usize = (0..64).map(|_| run(strategy.new_tree(&mut runner).unwrap().current())).sum();
        assert!(total >= 15, "only {total} successful passings-on in 64 deterministic cases");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// No sequence of grants, passings-on and revocations lets an agent hold a package for a principal
        /// unless the principal granted it and every mandate on the way still holds it; and a passing-on
        /// never grants what its grantor did not hold at that moment.
        #[test]
        fn no_sequence_of_grants_escalates(ops in proptest::collection::vec(op(), 1..25)) {
            run(ops);
        }
    }
}

/// The service reads "now" from the clock it is given: a mandate in force ends when the clock passes its
/// `validTo`, with no waiting and no `at` in the check.
#[tokio::test]
async fn a_mandate_ends_when_the_services_clock_passes_its_end() {
    let db = ena_store::testing::sqlite().await;
    let (r, _audit, _hook) = open(&db).await;
    let clock = Arc::new(ena_core::ManualClock::at(ena_core::Timestamp::now()));
    let r = r.with_clock(clock.clone());
    let end = ena_core::Clock::now(clock.as_ref()).unix() + 3600;
    let mut g = grant(CECILIA, DAVID, &["vard-och-omsorg-anhorig"]);
    g.valid_to = Some(ena_core::time::rfc3339_of(end));
    r.grant(&who(CECILIA), &g).await.unwrap();
    let ask = CheckInput {
        agent: DAVID.into(),
        principal: CECILIA.into(),
        service: "region/vardarenden".into(),
        action: None,
        at: None,
    };
    assert!(r.check("test", &ask).await.unwrap().allowed, "in force now");
    clock.advance(3599);
    assert!(r.check("test", &ask).await.unwrap().allowed, "in force until its last second");
    clock.advance(1);
    assert!(!r.check("test", &ask).await.unwrap().allowed, "ended at validTo by the service's clock");
}

/// The steps a page offers (`allowed_steps`) are exactly the ones the service then lets the person
/// take: for each person, what it says of approving and revoking matches what approving and revoking do.
#[tokio::test]
async fn allowed_steps_say_what_the_steps_then_do() {
    let db = ena_store::testing::sqlite().await;
    let (r, _audit, _hook) = open(&db).await;
    // A joint grant for Andersson & Berg by Anna: pending until Bertil approves.
    let m = r.grant(&who(ANNA), &grant(HB, DAVID, &["skatt-och-moms"])).await.unwrap();
    assert_eq!(m.status, "pending");
    let steps = |p: &str, m: &Mandate| r.allowed_steps(&who(p), m);
    assert_eq!(steps(ANNA, &m), Steps { approve: false, answer: false, revoke: true }, "approved already");
    assert_eq!(steps(BERTIL, &m), Steps { approve: true, answer: false, revoke: true });
    assert_eq!(steps(TOLVAN, &m), Steps::default(), "no side of this mandate");
    assert_eq!(steps(DAVID, &m), Steps { approve: false, answer: false, revoke: true }, "the agent's side");
    assert!(r.approve(&who(TOLVAN), &m.id).await.is_err() && r.revoke(&who(TOLVAN), &m.id).await.is_err());
    assert!(r.approve(&who(ANNA), &m.id).await.is_err(), "Anna may not approve twice");
    let m = r.approve(&who(BERTIL), &m.id).await.unwrap();
    assert_eq!(m.status, "active");
    assert!(!steps(BERTIL, &m).approve, "nothing left to approve");
    assert!(r.approve(&who(BERTIL), &m.id).await.is_err());
    let m = r.revoke(&who(DAVID), &m.id).await.unwrap();
    assert_eq!(
        (m.status, steps(ANNA, &m)),
        (MandateStatus::Revoked, Steps::default()),
        "a revoked mandate has no steps"
    );
    assert!(r.revoke(&who(ANNA), &m.id).await.is_err());
}

/// A valid personnummer born 1950 + `n / 300` … (distinct for distinct `n` below 15 000).
fn nth_person(n: u32) -> String {
    let (yy, day, serial) = (50 + n / 300 % 50, 1 + n % 300 / 20 % 28, n % 20 * 10 + 1);
    let nine: Vec<u32> = format!("{yy:02}01{day:02}{serial:03}").chars().map(|c| c.to_digit(10).unwrap()).collect();
    let sum: u32 =
        nine.iter().enumerate().map(|(i, &d)| if i % 2 == 0 { (d * 2) / 10 + (d * 2) % 10 } else { d }).sum();
    let ten: String = nine.iter().map(|d| char::from_digit(*d, 10).unwrap()).collect();
    format!("19{ten}{}", (10 - sum % 10) % 10)
}

/// A representative of many parties (an accounting firm's employee) sees every one of them: no cap at a
/// thousand, ended mandates do not crowd out those in force, one entry per principal with every package.
#[tokio::test]
async fn acting_for_lists_every_party_of_a_busy_representative_on_both_databases() {
    for db in test_stores().await {
        let label = db.label.clone();
        let (r, _audit, _hook) = open(&db).await;
        let now = ena_core::time::unix_now();
        let row = |principal: &str, status: &str, package: &str, created_at: i64| repo::MandateRow {
            id: uuid::Uuid::now_v7().to_string(),
            grantor: principal.to_owned(),
            principal: principal.to_owned(),
            agent: EVA.to_owned(),
            packages: format!("[\"{package}\"]"),
            valid_from: now - 86_400,
            valid_to: Some(now + 86_400),
            may_delegate: 0,
            parent_id: None,
            status: status.to_owned(),
            required_approvals: 1,
            created_by: "test".into(),
            created_at,
            pending_until: None,
            activated_at: Some(now),
            ended_at: None,
            ended_by: None,
        };
        let principals: Vec<String> = (0..1100).map(nth_person).collect();
        let mut rows: Vec<repo::MandateRow> =
            principals.iter().map(|p| row(p, "active", "post-och-arenden", now - 1000)).collect();
        rows.push(row(&principals[0], "active", "vard-och-omsorg-anhorig", now - 900));
        // Newer, and ended: they must not push the ones in force out of the list.
        rows.extend((2000..3200).map(|n| row(&nth_person(n), "revoked", "post-och-arenden", now)));
        repo::insert_many(&db.store, &rows).await.unwrap();

        let acting = r.acting_for(&who(EVA)).await.unwrap();
        let mandated: Vec<&ActingFor> = acting.iter().filter(|a| a.basis == "mandate").collect();
        assert_eq!(mandated.len(), 1100, "{label}: every principal in force, once");
        let first = mandated.iter().find(|a| a.party == principals[0]).unwrap();
        assert_eq!(first.packages, ["post-och-arenden", "vard-och-omsorg-anhorig"], "{label}: both mandates' packages");
        assert_eq!(first.kind, "person", "{label}");
    }
}
