//! Two central instances on one database are one deployment: the same anchor keys, log key, CA, token,
//! signature and portal-client keys and operator token (all from the key vault, opened with the one
//! key-encryption key both are given), and every cache that serves a decision follows what the *other*
//! instance changed: the resolve cache, the anchor's key ring, the decision point's policy slices. The
//! index's pseudonym key is one too: what one instance registered, the other finds.

use ena_keys::jose::Unverified;
use ena_testkit::TestServer;
use serde_json::json;

use crate::{Member, audit_event, payload, suspend};

#[tokio::test]
async fn two_central_instances_on_one_database_are_one_deployment_on_each_database() {
    use ena_audit::note::{NoteVerifier, verify_checkpoint};

    for a in TestServer::each().await {
        let label = a.label.clone();
        let b = a.second_instance().await;
        assert_ne!(a.data_dir.path(), b.data_dir.path(), "{label}: each instance has its own data directory");

        // One operator token: B accepts the token A wrote to its data directory.
        assert_eq!(a.operator_token(), b.operator_token(), "{label}");
        let members = b.client.get(b.url("/federation/v1/members")).bearer_auth(a.operator_token()).send().await;
        assert_eq!(members.unwrap().status(), 200, "{label}");

        // One anchor key set, and the same keys of the services it publishes.
        let ec = |s: &TestServer| {
            let c = s.client.get(s.url("/.well-known/openid-federation")).send();
            async move { c.await.unwrap().text().await.unwrap() }
        };
        let (ec_a, ec_b) = (ec(&a).await, ec(&b).await);
        let (pa, pb) = (payload(&ec_a), payload(&ec_b));
        assert_eq!(pa["iss"], pb["iss"], "{label}: one entity id");
        assert_eq!(pa["jwks"], pb["jwks"], "{label}: one anchor key set");
        Unverified::parse(&ec_b).unwrap().verify(&pa["jwks"]).expect("B's configuration verifies with A's keys");
        for service in ["ena_signature_service", "oauth_authorization_server", "openid_relying_party"] {
            assert!(pa["metadata"][service]["jwks"]["keys"][0]["kid"].is_string(), "{label}: {service}");
            assert_eq!(pa["metadata"][service]["jwks"], pb["metadata"][service]["jwks"], "{label}: {service}");
        }
        assert_eq!(a.state.federation.ca_certificate(), b.state.federation.ca_certificate(), "{label}: one CA");

        // One log key: an event appended through B is covered by a checkpoint A's verifier key accepts.
        let vkey = a.get("/audit/v1/verifier-key").await.text().await.unwrap();
        assert_eq!(vkey, b.get("/audit/v1/verifier-key").await.text().await.unwrap(), "{label}");
        let verifier = NoteVerifier::parse(&vkey).unwrap();
        let appended = b
            .client
            .post(b.url("/audit/v1/events"))
            .bearer_auth(a.operator_token())
            .json(&audit_event("case.read", None))
            .send()
            .await
            .unwrap();
        assert_eq!(appended.status(), 201, "{label}");
        let appended: serde_json::Value = appended.json().await.unwrap();
        verify_checkpoint(appended["checkpoint"].as_str().unwrap(), &verifier).expect("B's checkpoint, A's key");
        verify_checkpoint(&a.get("/audit/v1/checkpoint").await.text().await.unwrap(), &verifier).unwrap();

        // The resolve cache: B resolves (and caches) a member, A suspends it, B's next answer refuses it.
        let ta = a.state.config.federation_entity_id.clone();
        let member = Member::new("zwei.exempel.se", &ta);
        a.onboard(&member).await;
        let resolve = |s: &TestServer| {
            let r = s.client.get(s.url(&format!("/federation/v1/resolve?sub={}&trust_anchor={ta}", member.id))).send();
            async move { r.await.unwrap().status().as_u16() }
        };
        assert_eq!((resolve(&b).await, resolve(&b).await), (200, 200), "{label}: resolved, then from B's cache");
        suspend(&a, &member.id).await;
        assert_eq!(resolve(&b).await, 404, "{label}: B sees A's suspension at once");

        // A rotation (as `ena federation rotate-key` does it, in the vault) is published by both instances
        // after their next ring reload, and both publish the same set.
        let vault = ena_keys::KeyVault::open(a.db.store.clone(), a.data_dir.path(), None).await.unwrap();
        let kid = ena_federation::keys::KeyRing::rotate(&vault, ena_core::time::unix_now()).await.unwrap();
        assert!(a.state.federation.reload_keys().await.unwrap(), "{label}");
        assert!(b.state.federation.reload_keys().await.unwrap(), "{label}");
        let (pa, pb) = (payload(&ec(&a).await), payload(&ec(&b).await));
        assert_eq!(pa["jwks"], pb["jwks"], "{label}: the same keys after the rotation");
        let kids: Vec<&str> =
            pa["jwks"]["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
        assert!(kids.len() == 2 && kids.contains(&kid.as_str()), "{label}: the next key is published: {kids:?}");

        // A policy A stores binds B's next decision (AuthZEN's configuration is public; the operator
        // check of the policy API is the decision point's own).
        let forbid = json!({"resource": "api:plan", "description": "test",
            "text": "@reason(\"closed\") forbid (principal, action == Ena::Action::\"operate\", resource == Ena::Api::\"plan\");"});
        let put = a
            .client
            .put(a.url("/access/v1/policies/no-plan-operators"))
            .bearer_auth(a.operator_token())
            .json(&forbid)
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success(), "{label}: {}", put.text().await.unwrap());
        let refused = b
            .client
            .put(b.url("/plan/v1/plan"))
            .bearer_auth(a.operator_token())
            .json(&crate::shipped_plan_json())
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403, "{label}: B decides with A's new policy");

        // One pseudonym key for the index: what A registered, B finds by the same keyed hash.
        let ctx = ena_audit::Context::system("test");
        let item = ena_index::BatchItem {
            delete: false,
            object_type: ena_index::ObjectType::Person,
            object_id: "191212121212".into(),
            category: "se.exempel.inkomst".into(),
            address: Some("162021005448:inkomst".into()),
            updated_at: None,
            source: None,
        };
        let out = a.state.index.register(&ctx, "162021005448", &[item]).await.unwrap();
        assert_eq!(out[0].status, "accepted", "{label}");
        let tolvan = ena_index::Object::parse("objectId", ena_index::ObjectType::Person, "19121212-1212").unwrap();
        assert_eq!(a.state.index.pseudonym(&tolvan), b.state.index.pseudonym(&tolvan), "{label}: one key");
        let rows = ena_index::repo::find(&b.state.store, &b.state.index.pseudonym(&tolvan), None, None).await.unwrap();
        assert_eq!(rows.len(), 1, "{label}: B finds what A registered");
    }
}
