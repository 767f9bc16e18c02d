//! Min profil on both databases: codes verify a contact only within their limits, preferences choose
//! the notice route, and a consent is honoured only for its own flow while in force, with a receipt
//! that verifies and tells its history. (The federation and the index are given as a fixed registry
//! here; the end-to-end tests use the real ones.)

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use ena_audit::{AuditLog, Context, NoteSigner, RuleSet};
use ena_store::testing::test_stores;

use crate::*;

const TOLVAN: &str = "191212121212";
const SKATT: &str = "162021005448";
const BANK: &str = "165560000001";
const INCOME: &str = "se.skatteverket.inkomst";

struct Fixed;

impl Registry for Fixed {
    fn organisation<'a>(
        &'a self,
        o: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Option<String>, String>> + Send + 'a>> {
        Box::pin(async move {
            Ok(match o {
                SKATT => Some("Skatteverket".into()),
                BANK => Some("Banken AB".into()),
                _ => None,
            })
        })
    }
    fn holds<'a>(&'a self, h: &'a str, c: &'a str) -> Pin<Box<dyn Future<Output = Result<bool, String>> + Send + 'a>> {
        Box::pin(async move { Ok(h == SKATT && c == INCOME) })
    }
}

fn field(e: ProfileError) -> String {
    match e {
        ProfileError::Invalid(f) => f.iter().map(|f| f.property.clone()).collect::<Vec<_>>().join(","),
        other => panic!("expected invalid input, got {other:?}"),
    }
}

#[tokio::test]
async fn contacts_verify_with_codes_within_limits_and_consents_hold_only_for_their_flow() {
    for db in test_stores().await {
        let label = db.label.clone();
        let audit =
            AuditLog::open(db.store.clone(), NoteSigner::ephemeral("test/profile").unwrap(), RuleSet::shipped())
                .await
                .unwrap();
        let key = ena_keys::jose::SigningKey::generate().unwrap();
        let profile = Profile::new(db.store.clone(), audit.clone(), key, Arc::new(Fixed), "https://ena.example");
        let ctx = Context::system("test");
        let yes = async |_: &str| true;
        let no = async |_: &str| false;

        // A contact: a bad address is named; the first code comes with it.
        let bad = ContactInput { channel: Channel::Email, address: "tolvan".into(), organisation: None };
        assert_eq!(field(profile.add_contact(&ctx, TOLVAN, &bad, yes).await.unwrap_err()), "address", "{label}");
        let mail = ContactInput { channel: Channel::Email, address: "Tolvan@Example.se".into(), organisation: None };
        let (contact, notice) = profile.add_contact(&ctx, TOLVAN, &mail, yes).await.unwrap();
        assert_eq!(contact.address, "Tolvan@example.se");
        assert!(contact.verified_at.is_none());
        assert_eq!(notice.code.len(), 6);
        assert_eq!(field(profile.add_contact(&ctx, TOLVAN, &mail, yes).await.unwrap_err()), "address", "{label}");
        // For an organisation the person does not act for: refused by name.
        let company = ContactInput { organisation: Some("5560000001".into()), ..mail.clone() };
        assert_eq!(field(profile.add_contact(&ctx, TOLVAN, &company, no).await.unwrap_err()), "organisation");

        // Not yet verified: the notice route does not use it.
        assert_eq!(profile.notice_route(TOLVAN).await.unwrap(), NoticeRoute::Unknown { language: "sv".into() });
        // A new code at once is refused (30 s apart).
        assert!(matches!(profile.new_code(TOLVAN, &contact.id).await, Err(ProfileError::TooMany(_))), "{label}");
        // Guessing: five wrong tries, then even the right code is refused (the code is spent).
        let wrong = if notice.code == "000000" { "111111" } else { "000000" };
        for _ in 0..5 {
            assert_eq!(field(profile.verify(&ctx, TOLVAN, &contact.id, wrong).await.unwrap_err()), "code");
        }
        let spent = profile.verify(&ctx, TOLVAN, &contact.id, &notice.code).await.unwrap_err();
        assert!(matches!(spent, ProfileError::TooMany(_)), "{label}: {spent:?}");
        // Someone else cannot verify or see it.
        assert!(matches!(
            profile.verify(&ctx, "199001012385", &contact.id, &notice.code).await,
            Err(ProfileError::NotFound(_))
        ));

        // A second contact verified with its code becomes the notice route.
        let sms = ContactInput { channel: Channel::Sms, address: "070-123 45 67".into(), organisation: None };
        let (phone, code) = profile.add_contact(&ctx, TOLVAN, &sms, yes).await.unwrap();
        let verified = profile.verify(&ctx, TOLVAN, &phone.id, &code.code).await.unwrap();
        assert!(verified.verified_at.is_some(), "{label}");
        let prefs = Preferences { language: "en".into(), channel: "sms".into() };
        profile.set_preferences(&ctx, TOLVAN, &prefs).await.unwrap();
        assert_eq!(
            profile.notice_route(TOLVAN).await.unwrap(),
            NoticeRoute::To(NoticeTarget {
                channel: Channel::Sms,
                address: "+46701234567".into(),
                language: "en".into()
            })
        );
        let bad_prefs = Preferences { language: "fi".into(), channel: "fax".into() };
        assert_eq!(field(profile.set_preferences(&ctx, TOLVAN, &bad_prefs).await.unwrap_err()), "language,channel");
        profile.set_preferences(&ctx, TOLVAN, &Preferences { channel: "none".into(), ..prefs }).await.unwrap();
        assert_eq!(profile.notice_route(TOLVAN).await.unwrap(), NoticeRoute::Suppressed);
        // A company's person: verified contacts for it are its notice targets.
        let (for_company, code) = profile.add_contact(&ctx, TOLVAN, &company, yes).await.unwrap();
        profile.verify(&ctx, TOLVAN, &for_company.id, &code.code).await.unwrap();
        let targets = profile.organisation_targets(BANK).await.unwrap();
        assert_eq!(targets.len(), 1, "{label}");
        assert_eq!(targets[0].address, "Tolvan@example.se");

        // Consents: an unknown organisation, a category the holder keeps none of, a past end — by name.
        let input = ConsentInput {
            recipient: "5560000001".into(),
            holder: "2021005448".into(),
            category: INCOME.into(),
            purpose: "Bolåneansökan".into(),
            expires_at: None,
        };
        let unknown = ConsentInput { recipient: "5566778899".into(), ..input.clone() };
        assert_eq!(field(profile.give(&ctx, TOLVAN, &unknown).await.unwrap_err()), "recipient", "{label}");
        let other = ConsentInput { category: "se.skatteverket.skuld".into(), ..input.clone() };
        assert_eq!(field(profile.give(&ctx, TOLVAN, &other).await.unwrap_err()), "category");
        let past =
            ConsentInput { expires_at: Some("2020-01-01T00:00:00Z".into()), purpose: " ".into(), ..input.clone() };
        assert_eq!(field(profile.give(&ctx, TOLVAN, &past).await.unwrap_err()), "purpose,expiresAt");

        let consent = profile.give(&ctx, TOLVAN, &input).await.unwrap();
        assert_eq!((consent.status, consent.recipient_name.as_deref()), ("active", Some("Banken AB")));
        let ask = |recipient: &str, category: &str| ConsentCheckInput {
            consent_id: consent.id.clone(),
            recipient: recipient.into(),
            category: category.into(),
            service: Some("inkomst".into()),
            unit: None,
        };
        let used = profile.check(&ctx, SKATT, &ask("5560000001", INCOME)).await.unwrap();
        assert_eq!((used.subject.as_str(), used.purpose.as_str()), (TOLVAN, "Bolåneansökan"), "{label}");
        // Another recipient, another category, another holder: refused.
        for (holder, recipient, category) in [
            (SKATT, "2021005521", INCOME),
            (SKATT, "5560000001", "se.skatteverket.skuld"),
            (BANK, "5560000001", INCOME),
        ] {
            let r = profile.check(&ctx, holder, &ask(recipient, category)).await;
            assert!(matches!(r, Err(ProfileError::Refused(_))), "{label}: {holder} {recipient} {category}");
        }
        let unknown_id =
            ConsentCheckInput { consent_id: uuid::Uuid::now_v7().to_string(), ..ask("5560000001", INCOME) };
        assert!(matches!(profile.check(&ctx, SKATT, &unknown_id).await, Err(ProfileError::Refused(_))));
        let not_uuid = ConsentCheckInput { consent_id: "x".into(), ..ask("5560000001", INCOME) };
        assert_eq!(field(profile.check(&ctx, SKATT, &not_uuid).await.unwrap_err()), "consentId");

        // The receipt verifies with the published keys and names the 27560 fields.
        let (token, _) = profile.receipt(TOLVAN, &consent.id).await.unwrap();
        let claims = receipt::verify(&token, &profile.jwks()).unwrap();
        assert_eq!(claims["recordId"], consent.id.as_str());
        assert_eq!(claims["principal"]["id"], TOLVAN);
        assert_eq!(claims["events"].as_array().unwrap().len(), 1);
        let other_key = serde_json::json!({"keys": [ena_keys::jose::SigningKey::generate().unwrap().public_jwk()]});
        assert!(receipt::verify(&token, &other_key).is_err(), "{label}: a receipt verifies with another key");
        assert!(matches!(profile.receipt("199001012385", &consent.id).await, Err(ProfileError::NotFound(_))));

        // Withdrawn: the next check is refused, the receipt's history says so.
        profile.withdraw(&ctx, TOLVAN, &consent.id).await.unwrap();
        let r = profile.check(&ctx, SKATT, &ask("5560000001", INCOME)).await;
        assert!(matches!(r, Err(ProfileError::Refused(ref why)) if why.contains("withdrawn")), "{label}: {r:?}");
        let claims = receipt::verify(&profile.receipt(TOLVAN, &consent.id).await.unwrap().0, &profile.jwks()).unwrap();
        assert_eq!(claims["events"][1]["event"], "withdrawn", "{label}");
        assert_eq!(field(profile.withdraw(&ctx, TOLVAN, &consent.id).await.unwrap_err()), "consent");

        // Expired: refused. (Made directly: the API takes no past end.)
        let old = repo::ConsentRow {
            id: uuid::Uuid::now_v7().to_string(),
            person: TOLVAN.into(),
            recipient: BANK.into(),
            holder: SKATT.into(),
            category: INCOME.into(),
            purpose: "old".into(),
            given_at: 1,
            expires_at: 2,
            withdrawn_at: None,
        };
        repo::insert_consent(&db.store, &old).await.unwrap();
        let r = profile
            .check(&ctx, SKATT, &ConsentCheckInput { consent_id: old.id.clone(), ..ask("5560000001", INCOME) })
            .await;
        assert!(matches!(r, Err(ProfileError::Refused(ref why)) if why.contains("expired")), "{label}: {r:?}");

        // Every use and refusal is in the log with the person as data subject.
        let uses = audit
            .query(
                &ena_audit::repo::EventFilter {
                    subject: Some(TOLVAN.into()),
                    action: Some("profile.consent.use".into()),
                    ..Default::default()
                },
                100,
                0,
            )
            .await
            .unwrap();
        assert_eq!(uses.len(), 6, "{label}: one allowed use, four refusals of the consent's own flows, one expired");
        assert_eq!(profile.consents(TOLVAN, 10, 0).await.unwrap().len(), 2);
    }
}
