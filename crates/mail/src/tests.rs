//! FaR on both databases: a person registers, blocks and deregisters with signed statements; a company
//! with joint signing needs two signatories across two changes; reachability answers per id with only
//! what the sender may know, tells of representatives, and stops pointing at a suspended operator at once.
//! Operators come from a small in-test federation stand-in ([`Standing`]): the trust anchor's own
//! implementation is exercised by the server's end-to-end tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ena_audit::{AuditLog, Context, NoteSigner, RuleSet};
use ena_core::PersonId;
use ena_representation::catalog::Catalog;
use ena_representation::register::FixtureRegister;
use ena_representation::{GrantInput, Representation};
use ena_store::testing::test_stores;

use crate::*;

const TOLVAN: &str = "191212121212";
const ANNA: &str = "199001012385";
const BERTIL: &str = "198506151235";
/// Andersson & Berg Handelsbolag: joint signing by Anna and Bertil.
const HANDELSBOLAG: &str = "165560112236";
const SENDER: &str = "162021004748";
const BOX: &str = "https://brevlada.example";

/// Which operators are in good standing: what the trust anchor answers in production.
#[derive(Default)]
struct Standing(Mutex<HashMap<String, bool>>);

impl Standing {
    fn set(&self, id: &str, good: bool) {
        self.0.lock().unwrap().insert(id.into(), good);
    }
}

impl Operators for Standing {
    fn operator<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Operator, String>> {
        let good = self.0.lock().unwrap().get(id).copied();
        Box::pin(async move {
            match good {
                Some(true) => Ok(Operator {
                    id: id.into(),
                    name: "Brevlådan".into(),
                    organisation: "162021005448".into(),
                    service_address: "162021005448:brevlada".into(),
                    max_attachment_bytes: DEFAULT_MAX_ATTACHMENT,
                }),
                Some(false) => Err("the operator is suspended".into()),
                None => Err("not a member of the federation".into()),
            }
        })
    }

    fn operators(&self) -> BoxFuture<'_, Result<Vec<Operator>, String>> {
        Box::pin(async move {
            let ids: Vec<String> = self.0.lock().unwrap().iter().filter(|(_, g)| **g).map(|(i, _)| i.clone()).collect();
            let mut out = Vec::new();
            for id in ids {
                out.push(self.operator(&id).await?);
            }
            Ok(out)
        })
    }
}

struct Fixture {
    mail: Mail,
    standing: Arc<Standing>,
    representation: Arc<Representation>,
}

async fn fixture(store: &ena_store::Store) -> Fixture {
    let audit =
        AuditLog::open(store.clone(), NoteSigner::ephemeral("test/mail").unwrap(), RuleSet::shipped()).await.unwrap();
    let access = Arc::new(ena_access::DecisionPoint::open(store.clone()).await.unwrap());
    let representation = Arc::new(Representation::new(
        store.clone(),
        Arc::new(FixtureRegister::shipped()),
        Catalog::shipped(),
        access,
        audit.clone(),
    ));
    let standing = Arc::new(Standing::default());
    standing.set(BOX, true);
    let mail = Mail::new(store.clone(), audit, standing.clone(), representation.clone());
    Fixture { mail, standing, representation }
}

fn person(id: &str) -> PersonId {
    PersonId::parse(id).unwrap()
}

/// Sign as the portal does: the statement FaR makes, "signed" (the signature service is the server's;
/// FaR keeps what it is given and checks the statement is this change's).
async fn change(
    m: &Mail,
    signer: &str,
    recipient: &str,
    action: &str,
    arg: Option<&str>,
) -> Result<Outcome, MailError> {
    let recipient = Recipient::any("recipient", recipient)?;
    let (operator, sender) = if action == "register" { (arg, None) } else { (None, arg) };
    let change = m.parse_change(action, operator, sender).await?;
    let statement = m.statement(&person(signer), &recipient, &change, ena_core::time::unix_now());
    let signed = Signed { statement, signature: "eyJ..sig".into() };
    m.change(&Context::system("portal"), &person(signer), &recipient, change, signed).await
}

fn fields(e: &MailError) -> Vec<String> {
    match e {
        MailError::Invalid(f) => f.iter().map(|x| x.property.clone()).collect(),
        other => panic!("not invalid: {other:?}"),
    }
}

#[tokio::test]
async fn a_person_registers_blocks_and_deregisters_with_signed_changes_on_both_databases() {
    for db in test_stores().await {
        let label = db.label.clone();
        let f = fixture(&db.store).await;
        let m = &f.mail;
        let me = Recipient::Person(person(TOLVAN));
        assert!(m.registration(&me).await.unwrap().is_none(), "{label}");

        let Outcome::Done { registration: Some(r) } = change(m, TOLVAN, TOLVAN, "register", Some(BOX)).await.unwrap()
        else {
            panic!("{label}: registered at once")
        };
        assert_eq!((r.status, r.operator.as_str()), (RegistrationStatus::Active, BOX), "{label}");
        assert!(r.operator_details.is_some(), "{label}");

        // Someone else cannot register me; nor register with an operator not in good standing.
        assert!(matches!(change(m, ANNA, TOLVAN, "deregister", None).await, Err(MailError::Forbidden(_))), "{label}");
        let e = change(m, TOLVAN, TOLVAN, "register", Some("https://not-an-operator.example")).await.unwrap_err();
        assert_eq!(fields(&e), ["operator"], "{label}");
        let e = change(m, TOLVAN, TOLVAN, "block", Some("12345")).await.unwrap_err();
        assert_eq!(fields(&e), ["sender"], "{label}");

        change(m, TOLVAN, TOLVAN, "block", Some("202100-4748")).await.unwrap();
        let r = m.registration(&me).await.unwrap().unwrap();
        assert_eq!(r.blocked_senders, [SENDER], "{label}: stored canonical");

        // A statement that is not this change's, or stale, is refused.
        let change_ = m.parse_change("unblock", None, Some(SENDER)).await.unwrap();
        let other = m.statement(&person(TOLVAN), &me, &Change::Deregister, ena_core::time::unix_now());
        let e = m
            .change(
                &Context::system("p"),
                &person(TOLVAN),
                &me,
                change_.clone(),
                Signed { statement: other, signature: "x".into() },
            )
            .await
            .unwrap_err();
        assert_eq!(fields(&e), ["statement"], "{label}");
        let old = m.statement(&person(TOLVAN), &me, &change_, ena_core::time::unix_now() - 3600);
        let e = m
            .change(
                &Context::system("p"),
                &person(TOLVAN),
                &me,
                change_,
                Signed { statement: old, signature: "x".into() },
            )
            .await
            .unwrap_err();
        assert_eq!(fields(&e), ["statement"], "{label}: stale");

        // Every applied change is kept with its statement and signature, newest first.
        let kept = m.changes(&me, 10, 0).await.unwrap();
        assert_eq!(
            kept.iter().map(|c| c.change.as_str()).collect::<Vec<_>>(),
            [format!("block:{SENDER}"), format!("register:{BOX}")],
            "{label}"
        );
        assert!(
            kept.iter().all(|c| c.applied_at.is_some() && c.signature == "eyJ..sig" && c.signer == TOLVAN),
            "{label}"
        );

        let Outcome::Done { registration: None } = change(m, TOLVAN, TOLVAN, "deregister", None).await.unwrap() else {
            panic!("{label}: deregistered")
        };
        assert!(m.registration(&me).await.unwrap().is_none(), "{label}");
        assert!(matches!(change(m, TOLVAN, TOLVAN, "deregister", None).await, Err(MailError::Conflict(_))), "{label}");
    }
}

#[tokio::test]
async fn a_company_with_joint_signing_registers_when_both_signatories_have_signed_on_both_databases() {
    for db in test_stores().await {
        let label = db.label.clone();
        let f = fixture(&db.store).await;
        let m = &f.mail;
        let company = Recipient::Organisation(HANDELSBOLAG.into());
        // Not a signatory: refused.
        assert!(
            matches!(change(m, TOLVAN, "556011-2236", "register", Some(BOX)).await, Err(MailError::Forbidden(_))),
            "{label}"
        );

        let Outcome::Incomplete { pending } = change(m, ANNA, "556011-2236", "register", Some(BOX)).await.unwrap()
        else {
            panic!("{label}: one of two signatures is incomplete")
        };
        assert_eq!(
            (pending.signed_by.clone(), pending.missing, pending.possible_signers.clone()),
            (vec![ANNA.to_owned()], 1, vec![BERTIL.to_owned()]),
            "{label}"
        );
        let r = m.registration(&company).await.unwrap().unwrap();
        assert_eq!((r.status, r.pending.len()), (RegistrationStatus::Pending, 1), "{label}");
        // Not reachable while incomplete; the same signatory again is told it waits for another.
        let reach = m.reachability(&Context::system("s"), SENDER, &[HANDELSBOLAG.into()]).await.unwrap();
        assert_eq!(reach[0].paper, Some(PaperReason::NotRegistered), "{label}");
        assert!(
            matches!(change(m, ANNA, "556011-2236", "register", Some(BOX)).await, Err(MailError::Conflict(_))),
            "{label}"
        );

        let Outcome::Done { registration: Some(r) } =
            change(m, BERTIL, "556011-2236", "register", Some(BOX)).await.unwrap()
        else {
            panic!("{label}: complete with the second signatory")
        };
        assert!(r.pending.is_empty() && r.status == RegistrationStatus::Active, "{label}");
        let kept = m.changes(&company, 10, 0).await.unwrap();
        assert_eq!(kept.len(), 2, "{label}: both signatures kept");
        assert!(kept.iter().all(|c| c.applied_at.is_some()), "{label}");
        let reach = m.reachability(&Context::system("s"), SENDER, &[HANDELSBOLAG.into()]).await.unwrap();
        assert!(
            reach[0].reachable && reach[0].read_by_representatives,
            "{label}: a company's mail is read by its people"
        );
    }
}

#[tokio::test]
async fn reachability_answers_each_id_with_what_the_sender_may_know_on_both_databases() {
    for db in test_stores().await {
        let label = db.label.clone();
        let f = fixture(&db.store).await;
        let m = &f.mail;
        let ctx = Context::system("sender-node");
        change(m, TOLVAN, TOLVAN, "register", Some(BOX)).await.unwrap();
        change(m, ANNA, ANNA, "register", Some(BOX)).await.unwrap();
        change(m, ANNA, ANNA, "block", Some(SENDER)).await.unwrap();
        // Bertil lets Tolvan read his mail (Mina ombud's mail package).
        change(m, BERTIL, BERTIL, "register", Some(BOX)).await.unwrap();
        let grant = GrantInput {
            principal: BERTIL.into(),
            agent: TOLVAN.into(),
            packages: vec!["post-och-arenden".into()],
            open_ended: true,
            ..GrantInput::default()
        };
        f.representation.grant(&person(BERTIL), &grant).await.unwrap();

        let ids: Vec<String> = [TOLVAN, ANNA, BERTIL, "194702289879"].map(String::from).to_vec();
        let reach = m.reachability(&ctx, SENDER, &ids).await.unwrap();
        let by: HashMap<&str, &Reach> = reach.iter().map(|r| (r.id.as_str(), r)).collect();
        assert!(by[TOLVAN].reachable && !by[TOLVAN].read_by_representatives, "{label}");
        assert_eq!(by[TOLVAN].operator.as_ref().unwrap().service_address, "162021005448:brevlada", "{label}");
        assert_eq!((by[ANNA].reachable, by[ANNA].paper), (false, Some(PaperReason::SenderBlocked)), "{label}");
        assert!(by[ANNA].operator.is_none(), "{label}: a blocked sender learns no operator");
        assert!(by[BERTIL].reachable && by[BERTIL].read_by_representatives, "{label}: Tolvan may read it");
        assert_eq!(by["194702289879"].paper, Some(PaperReason::NotRegistered), "{label}");
        // Another sender is not blocked by Anna.
        let other = m.reachability(&ctx, "162120000142", &[ANNA.into()]).await.unwrap();
        assert!(other[0].reachable, "{label}");

        // Suspending the operator stops pointing at it at the next call.
        f.standing.set(BOX, false);
        let reach = m.reachability(&ctx, SENDER, &[TOLVAN.into()]).await.unwrap();
        assert_eq!(reach[0].paper, Some(PaperReason::OperatorUnavailable), "{label}");
        f.standing.set(BOX, true);

        // Bad input: non-canonical and forged ids are named; more than 10 000 are refused whole.
        let e = m
            .reachability(
                &ctx,
                SENDER,
                &["19121212-1212".into(), "191212121213".into(), TOLVAN.into(), "5560112236".into()],
            )
            .await
            .unwrap_err();
        assert_eq!(fields(&e), ["ids/0", "ids/1", "ids/3"], "{label}");
        let MailError::Invalid(named) = &e else { unreachable!() };
        assert!(named[0].reason.contains("191212121212"), "{label}: the canonical form is suggested");
        let many = vec![TOLVAN.to_owned(); MAX_REACHABILITY + 1];
        assert_eq!(fields(&m.reachability(&ctx, SENDER, &many).await.unwrap_err()), ["ids"], "{label}");

        // 10 000 ids at once (chunked queries), in the order asked.
        let mut many: Vec<String> = (0..MAX_REACHABILITY - 1).map(|i| test_number(1950 + i % 40, i % 1000)).collect();
        many.push(TOLVAN.into());
        let reach = m.reachability(&ctx, SENDER, &many).await.unwrap();
        assert_eq!(reach.len(), many.len(), "{label}");
        assert!(reach.last().unwrap().reachable && reach.iter().filter(|r| r.reachable).count() == 1, "{label}");
    }
}

/// A valid personnummer born on 1 January of `year` with serial `n` (Luhn check digit computed).
fn test_number(year: usize, n: usize) -> String {
    let ten = format!("{:02}0101{:03}", year % 100, n);
    let sum: u32 = ten
        .chars()
        .enumerate()
        .map(|(i, c)| {
            let d = c.to_digit(10).unwrap() * if i % 2 == 0 { 2 } else { 1 };
            d / 10 + d % 10
        })
        .sum();
    format!("{}{ten}{}", year / 100, (10 - sum % 10) % 10)
}

fn letter(recipient: &str, subject: &str) -> MailInput {
    serde_json::from_value(serde_json::json!({
        "recipient": recipient, "subject": subject, "body": "Hej!\n\n**Beslut**: bifall. <script>alert(1)</script>",
        "bodyFormat": "markdown", "language": "sv", "receipt": "signed", "replyAllowed": true,
        "documents": [{"title": "Faktura", "attachment": 0, "actions": [{"kind": "pay", "title": "Betala", "url": "https://betala.exempel.se/1", "due": "2099-01-31"}]}],
        "attachments": [{"name": "faktura.pdf", "mediaType": "application/pdf", "size": 1234, "sha256": "q".repeat(43)}]
    }))
    .unwrap()
}

fn delivery(reference: &str, input: MailInput) -> Delivery {
    Delivery {
        reference: reference.into(),
        sender: SENDER.into(),
        sender_name: "Exempelmyndigheten".into(),
        input,
        evidence: serde_json::json!({}),
    }
}

#[tokio::test]
async fn the_built_in_mailbox_takes_shows_and_forgets_mail_on_both_databases() {
    for db in test_stores().await {
        let label = db.label.clone();
        let f = fixture(&db.store).await;
        f.standing.set("https://other.example", true);
        let m = f.mail.clone();
        let ctx = Context::system("mailbox-node");
        change(&m, TOLVAN, TOLVAN, "register", Some(BOX)).await.unwrap();
        change(&m, BERTIL, BERTIL, "register", Some(BOX)).await.unwrap();
        change(&m, ANNA, ANNA, "register", Some("https://other.example")).await.unwrap();

        let (first, created) = m.accept(&ctx, BOX, 10_000, delivery("d-1", letter(TOLVAN, "Beslut"))).await.unwrap();
        assert!(created, "{label}");
        assert!(
            first.body_html.contains("<strong>Beslut</strong>") && first.body_html.contains("&lt;script&gt;"),
            "{label}"
        );
        let (again, created) = m.accept(&ctx, BOX, 10_000, delivery("d-1", letter(TOLVAN, "Beslut"))).await.unwrap();
        assert!(!created && again.id == first.id, "{label}: a repeated delivery is the same message");

        // Refused: not registered, registered elsewhere, blocking the sender; bad fields named.
        for (who, why) in [("194702289879", "not registered"), (ANNA, "another operator")] {
            let e = m.accept(&ctx, BOX, 10_000, delivery(&format!("d-{who}"), letter(who, "x"))).await.unwrap_err();
            assert!(matches!(&e, MailError::Forbidden(t) if t.contains(why)), "{label}: {e:?}");
        }
        change(&m, BERTIL, BERTIL, "block", Some(SENDER)).await.unwrap();
        let e = m.accept(&ctx, BOX, 10_000, delivery("d-b", letter(BERTIL, "x"))).await.unwrap_err();
        assert!(matches!(e, MailError::Forbidden(_)), "{label}");
        change(&m, BERTIL, BERTIL, "unblock", Some(SENDER)).await.unwrap();
        let mut bad = letter(TOLVAN, "");
        bad.attachments[0].size = 20_000;
        bad.documents[0].actions[0].url = "javascript:alert(1)".into();
        bad.documents[0].actions[0].kind = "steal".into();
        let e = m.accept(&ctx, BOX, 10_000, delivery("d-bad", bad)).await.unwrap_err();
        assert_eq!(
            fields(&e),
            ["subject", "documents/0/actions/0/kind", "documents/0/actions/0/url", "attachments/0/size"],
            "{label}"
        );

        // Bertil's mail: one to all who may read it, one for him alone.
        m.accept(&ctx, BOX, 10_000, delivery("d-2", letter(BERTIL, "Till Bertil"))).await.unwrap();
        let mut secret = letter(BERTIL, "Bara Bertil");
        secret.visibility = Visibility::RecipientOnly;
        m.accept(&ctx, BOX, 10_000, delivery("d-3", secret)).await.unwrap();

        let bertil = [MailScope { party: BERTIL.into(), own: true }];
        let tolvan = [MailScope { party: TOLVAN.into(), own: true }, MailScope { party: BERTIL.into(), own: false }];
        let list = m.list(BERTIL, &bertil, Folder::Inbox, false, 20, 0).await.unwrap();
        assert_eq!(
            list.iter().map(|x| x.subject.as_str()).collect::<Vec<_>>(),
            ["Bara Bertil", "Till Bertil"],
            "{label}"
        );
        let list = m.list(TOLVAN, &tolvan, Folder::Inbox, false, 20, 0).await.unwrap();
        assert_eq!(list.iter().map(|x| x.subject.as_str()).collect::<Vec<_>>(), ["Till Bertil", "Beslut"], "{label}");
        assert!(list[0].as_representative && !list[1].as_representative, "{label}");
        let hidden = m.list(BERTIL, &bertil, Folder::Inbox, false, 20, 0).await.unwrap()[0].id.clone();
        assert!(
            matches!(m.open(&ctx, TOLVAN, &tolvan, &hidden).await, Err(MailError::NotFound(_))),
            "{label}: recipient only"
        );

        // Opening marks it read for that viewer only and notes the receipt once.
        let opened = m.open(&ctx, TOLVAN, &tolvan, &first.id).await.unwrap();
        assert!(opened.read, "{label}");
        m.open(&ctx, TOLVAN, &tolvan, &first.id).await.unwrap();
        let unread = m.list(TOLVAN, &tolvan, Folder::Inbox, true, 20, 0).await.unwrap();
        assert_eq!(unread.len(), 1, "{label}");
        let receipts: Vec<(String,)> = ena_store::with_pool!(&db.store, pool => sqlx::query_as(
            "SELECT kind FROM mail_receipts WHERE message_id = $1").bind(&first.id).fetch_all(pool).await)
        .unwrap();
        assert_eq!(receipts, [("opened".to_owned(),)], "{label}");

        // Folders and marks in bulk; a stranger's message is named and nothing changes.
        m.mark(TOLVAN, &tolvan, &[first.id.clone()], Some(false), Some(Folder::Archive)).await.unwrap();
        assert_eq!(m.list(TOLVAN, &tolvan, Folder::Archive, true, 20, 0).await.unwrap().len(), 1, "{label}");
        let e = m.mark(TOLVAN, &tolvan, &[first.id.clone(), hidden.clone()], Some(true), None).await.unwrap_err();
        assert_eq!(fields(&e), ["messageIds/1"], "{label}");

        // Retention: nothing is older than a day yet; with none kept, all go.
        assert_eq!(m.purge(1).await.unwrap(), 0, "{label}");
        assert_eq!(m.purge(-1).await.unwrap(), 3, "{label}");
        assert!(m.list(TOLVAN, &tolvan, Folder::Archive, false, 20, 0).await.unwrap().is_empty(), "{label}");
    }
}

/// The operator node's receipt, as `ena mail verify-receipt` checks it: it verifies with the node's key and
/// its log's key, and a receipt claiming another second, kind or letter than the logged event, signed by
/// another key, or checked against another log, does not.
#[tokio::test]
async fn an_operator_receipt_verifies_offline_and_any_change_is_caught() {
    use crate::wire::{OperatorReceipt, ReceiptKind};
    use ena_audit::event::{ObjectRef, Result as AuditResult};
    for db in test_stores().await {
        let label = db.label.clone();
        let audit = AuditLog::open(db.store.clone(), NoteSigner::ephemeral("test/box").unwrap(), RuleSet::shipped())
            .await
            .unwrap();
        let key = ena_messaging::keys::SigningKey::generate();
        let jwks = serde_json::json!({"keys": [key.public_jwk()]});
        let at = "2026-12-06T10:15:00Z";
        let mut event = Context::system("test").event(
            ReceiptKind::Opened.action(),
            Some(ObjectRef { kind: "message".into(), id: "L1".into() }),
            AuditResult::Allowed,
            None,
        );
        event.details = Some(
            [("at", at), ("senderNode", "https://skatt.example")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        );
        let log = ena_messaging::receipt::LogProof::append(&audit, event).await.unwrap();
        let receipt = OperatorReceipt {
            letter: "L1".into(),
            kind: ReceiptKind::Opened,
            at: at.into(),
            reason: None,
            sender_node: "https://skatt.example".into(),
            operator_node: BOX.into(),
            log,
        };
        let log_key = audit.verifier_key();
        let verify = |r: &OperatorReceipt| OperatorReceipt::verify(&r.sign(&key), &jwks, &log_key);
        assert_eq!(verify(&receipt).unwrap(), receipt, "{label}");
        let mut later = receipt.clone();
        later.at = "2026-12-06T10:16:00Z".into();
        let mut returned = receipt.clone();
        returned.kind = ReceiptKind::Returned;
        let mut other = receipt.clone();
        other.letter = "L2".into();
        let mut elsewhere = receipt.clone();
        elsewhere.sender_node = "https://annan.example".into();
        for forged in [later, returned, other, elsewhere] {
            assert!(verify(&forged).unwrap_err().contains("not this receipt's"), "{label}: {forged:?}");
        }
        let stranger = ena_messaging::keys::SigningKey::generate();
        assert!(OperatorReceipt::verify(&receipt.sign(&stranger), &jwks, &log_key).is_err(), "{label}");
        let other_log = NoteSigner::ephemeral("test/other").unwrap().verifier_key();
        assert!(OperatorReceipt::verify(&receipt.sign(&key), &jwks, &other_log).is_err(), "{label}");
    }
}
