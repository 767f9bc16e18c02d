//! Two nodes in one process on both databases, joined by an in-process transport (the e2e tests run
//! real node processes over mTLS): delivery with a verified receipt, repeats, retries, and each refusal
//! logged with nothing stored.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ena_addresses::{Address, Capability, EncryptionKey as AddressKey, Schema};
use ena_audit::{AuditLog, Context, NoteSigner, RuleSet};
use ena_store::testing::test_stores;
use serde_json::json;

use crate::*;

const KOMMUN_NODE: &str = "https://kommun.example";
const SKATT_NODE: &str = "https://skatt.example";

#[derive(Default)]
struct World {
    nodes: Mutex<HashMap<String, PeerNode>>,
    addresses: Mutex<HashMap<String, Address>>,
    suspended: Mutex<Vec<String>>,
}

/// The key a registry lookup of `address` finds when the address is put into a URL path unencoded:
/// dot segments are resolved on the way (`a/../b` → `b`), as HTTP clients and servers do.
fn as_a_url_path_finds(address: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for s in address.split('/') {
        match s {
            ".." => {
                segments.pop();
            }
            "." | "" => {}
            s => segments.push(s),
        }
    }
    segments.last().copied().unwrap_or_default().to_owned()
}

impl Directory for World {
    fn address<'a>(&'a self, address: &'a str) -> BoxFuture<'a, Result<Address, String>> {
        Box::pin(async move {
            let key = as_a_url_path_finds(address);
            self.addresses.lock().unwrap().get(&key).cloned().ok_or_else(|| "no such address".into())
        })
    }
    fn schema<'a>(&'a self, message_type: &'a str, version: &'a str) -> BoxFuture<'a, Result<Schema, String>> {
        Box::pin(async move {
            if (message_type, version) != ("se.kommun.orosanmalan", "1.0") {
                return Err("no such message type".into());
            }
            Schema::compile(
                &json!({"type": "object", "required": ["child"], "properties": {"child": {"type": "string", "minLength": 12}}}),
            )
        })
    }
    fn node<'a>(&'a self, entity_id: &'a str) -> BoxFuture<'a, Result<PeerNode, String>> {
        Box::pin(async move {
            if self.suspended.lock().unwrap().iter().any(|s| s == entity_id) {
                return Err("the member is suspended".into());
            }
            self.nodes.lock().unwrap().get(entity_id).cloned().ok_or_else(|| "not a member".into())
        })
    }
}

/// Delivers to the other node's `receive`, as the sender's certificate would identify it; can be told to
/// fail the next `fail` attempts.
struct Loopback {
    to: Arc<Messaging>,
    from: String,
    fail: AtomicUsize,
}

impl Transport for Loopback {
    fn deliver<'a>(&'a self, _inbox: &'a str, wire: &'a Wire) -> BoxFuture<'a, Delivery> {
        Box::pin(async move {
            if self.fail.load(Ordering::SeqCst) > 0 {
                self.fail.fetch_sub(1, Ordering::SeqCst);
                return Delivery::Retry("connection refused".into());
            }
            match self.to.receive(&cert(&self.from), wire).await {
                Ok(r) => Delivery::Receipt(r),
                Err(MsgError::Refused(why)) => Delivery::Refused(why),
                Err(e) => Delivery::Retry(e.to_string()),
            }
        })
    }

    fn upload<'a>(
        &'a self,
        _inbox: &'a str,
        message: &'a str,
        n: usize,
        path: &'a std::path::Path,
        length: u64,
    ) -> BoxFuture<'a, Option<Delivery>> {
        Box::pin(async move {
            let mut sink = match self.to.begin_incoming(&cert(&self.from), &self.from, message, n, length).await {
                Ok(s) => s,
                Err(e) => return Some(Delivery::Refused(e.to_string())),
            };
            let bytes = std::fs::read(path).unwrap();
            for part in bytes.chunks(10_000) {
                if let Err(e) = sink.write(part).await {
                    return Some(Delivery::Refused(e.to_string()));
                }
            }
            sink.finish().await.err().map(|e| Delivery::Refused(e.to_string()))
        })
    }
}

async fn node(store: &ena_store::Store, entity: &str, address: &str, world: &Arc<World>) -> Arc<Messaging> {
    let signer = NoteSigner::ephemeral(&format!("{}/log", entity.trim_start_matches("https://"))).unwrap();
    let log_key = signer.verifier_key();
    let audit = AuditLog::open(store.clone(), signer, RuleSet::shipped()).await.unwrap();
    let me = Arc::new(NodeIdentity {
        entity_id: entity.into(),
        address: address.into(),
        signing: SigningKey::generate(),
        encryption: EncryptionKey::generate(),
    });
    world.nodes.lock().unwrap().insert(
        entity.into(),
        PeerNode {
            entity_id: entity.into(),
            certificate_sha256: cert(entity),
            jwks: json!({"keys": [me.signing.public_jwk()]}),
            log_key,
            inbox: format!("{entity}/node/v1/inbox"),
        },
    );
    let key: AddressKey = serde_json::from_value(me.encryption.public_jwk()).unwrap();
    world.addresses.lock().unwrap().insert(
        address.into(),
        Address {
            address: address.into(),
            kind: "organisation".into(),
            identifier: address.into(),
            function: None,
            organisation: address.into(),
            name: entity.into(),
            node: entity.into(),
            capabilities: vec![Capability {
                message_type: "se.kommun.orosanmalan".into(),
                versions: vec!["1.0".into()],
            }],
            encryption_keys: vec![key],
            status: ena_addresses::AddressStatus::Active,
            valid_from: None,
            valid_to: None,
            revision: 1,
            updated_at: String::new(),
        },
    );
    let files = attachments::Files::new(tempfile::tempdir().unwrap().keep());
    Arc::new(Messaging::new(store.clone(), audit, me, world.clone(), files))
}

/// A stand-in for the thumbprint of the node's certificate (base64url, as the real ones).
fn cert(entity: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("certificate-of-{entity}"))
}

fn message(payload: serde_json::Value) -> OutgoingInput {
    OutgoingInput {
        recipient: "2120000142".into(),
        message_type: "se.kommun.orosanmalan".into(),
        version: "1.0".into(),
        payload,
        conversation_id: None,
        case_id: Some("KS-2026-17".into()),
        ttl_seconds: None,
        attachments: Vec::new(),
    }
}

/// Skatteverket's node on `a` and the municipality's on `b` (migrated), in one world, and the transport
/// from the first to the second.
async fn two_nodes(
    a: &ena_store::Store,
    b: &ena_store::Store,
) -> (Arc<World>, Arc<Messaging>, Arc<Messaging>, Loopback) {
    a.migrate().await.unwrap();
    b.migrate().await.unwrap();
    let world = Arc::new(World::default());
    let skatt = node(a, SKATT_NODE, "162021005448", &world).await;
    let kommun = node(b, KOMMUN_NODE, "162120000142", &world).await;
    let transport = Loopback { to: kommun.clone(), from: SKATT_NODE.into(), fail: AtomicUsize::new(0) };
    (world, skatt, kommun, transport)
}

fn refusals(events: &[ena_audit::Entry], action: &str) -> usize {
    events.iter().filter(|e| e.event.action == action).count()
}

#[tokio::test]
async fn two_nodes_exchange_messages_with_receipts_on_both_databases() {
    let stores = test_stores().await;
    let more = test_stores().await;
    for (a, b) in stores.into_iter().zip(more) {
        let label = a.label.clone();
        let (world, skatt, kommun, transport) = two_nodes(&a.store, &b.store).await;
        let ctx = Context::system("test-system");

        // Schema rejection before sending: nothing queued, the field named.
        let e = skatt.submit(&ctx, message(json!({"child": "2014"}))).await.unwrap_err();
        assert!(matches!(&e, MsgError::Invalid(f) if f[0].property == "payload/child"), "{label}: {e:?}");
        let e = skatt
            .submit(&ctx, OutgoingInput { recipient: "2021005448x".into(), ..message(json!({})) })
            .await
            .unwrap_err();
        assert!(matches!(&e, MsgError::Invalid(f) if f[0].property == "recipient"), "{label}: {e:?}");
        let e = skatt.submit(&ctx, OutgoingInput { version: "2.0".into(), ..message(json!({})) }).await.unwrap_err();
        assert!(matches!(&e, MsgError::Invalid(f) if f[0].property == "messageType"), "{label}: {e:?}");
        assert!(skatt.outbox(None, 10, 0).await.unwrap().is_empty(), "{label}");

        // Delivery after a failed attempt; the receipt verifies and is stored.
        let sent = skatt.submit(&ctx, message(json!({"child": "201401012383"}))).await.unwrap();
        assert_eq!(sent.status, "queued");
        transport.fail.store(1, Ordering::SeqCst);
        assert_eq!(skatt.deliver_due(&transport, 10, 4).await.unwrap(), 1);
        let after = skatt.outgoing(&sent.id).await.unwrap();
        assert_eq!((after.status.as_str(), after.attempts), ("queued", 1), "{label}: retried later");
        // Make it due now instead of waiting for the backoff.
        let due_now = writer::Op::Settle {
            claim: None,
            id: sent.id.clone(),
            status: "queued",
            next: 0,
            error: None,
            receipt: None,
            at: 0,
        };
        repo::apply(&a.store, &[due_now]).await.unwrap();
        assert_eq!(skatt.deliver_due(&transport, 10, 4).await.unwrap(), 1);
        let done = skatt.outgoing(&sent.id).await.unwrap();
        assert_eq!(done.status, "delivered", "{label}: {done:?}");
        let peer = world.nodes.lock().unwrap()[KOMMUN_NODE].clone();
        let receipt = Receipt::verify(done.receipt.as_deref().unwrap(), &peer.jwks, &peer.log_key).unwrap();
        assert_eq!(receipt.message_id, sent.id);
        let got = kommun.inbox(false, 10, 0).await.unwrap();
        assert_eq!(got.len(), 1, "{label}");
        assert_eq!(got[0].payload, json!({"child": "201401012383"}));
        assert_eq!((got[0].sender.as_str(), got[0].case_id.as_deref()), ("162021005448", Some("KS-2026-17")));

        // A repeat delivery: the same receipt, nothing stored twice.
        let row = repo::out(&a.store, &sent.id).await.unwrap().unwrap();
        let wire = Wire { envelope: row.envelope.clone(), ciphertext: URL_SAFE_NO_PAD.encode(&row.ciphertext) };
        assert_eq!(kommun.receive(&cert(SKATT_NODE), &wire).await.unwrap(), done.receipt.clone().unwrap());
        assert_eq!(kommun.inbox_count().await.unwrap(), 1, "{label}");
        // A delivery of a message that is being received on another connection right now: busy (the
        // sender retries), not a refusal.
        kommun.receiving.lock().unwrap().insert(sent.id.clone());
        let e = kommun.receive(&cert(SKATT_NODE), &wire).await.unwrap_err();
        assert!(matches!(&e, MsgError::Busy(_)), "{label}: {e:?}");
        kommun.receiving.lock().unwrap().clear();

        // Refusals, each logged, nothing stored: a wrong signer (the connection is another node), a
        // tampered envelope, a tampered ciphertext, a sender that is suspended.
        let e = kommun.receive(&cert(KOMMUN_NODE), &wire).await.unwrap_err();
        assert!(matches!(&e, MsgError::Refused(w) if w.contains("not that node's")), "{label}: {e:?}");
        let mut parts: Vec<String> = wire.envelope.split('.').map(str::to_owned).collect();
        let mut env: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        env["id"] = json!(uuid::Uuid::now_v7().to_string());
        parts[1] = URL_SAFE_NO_PAD.encode(env.to_string());
        let tampered = Wire { envelope: parts.join("."), ciphertext: wire.ciphertext.clone() };
        let e = kommun.receive(&cert(SKATT_NODE), &tampered).await.unwrap_err();
        assert!(matches!(&e, MsgError::Refused(w) if w.contains("signature")), "{label}: {e:?}");
        let second = skatt.submit(&ctx, message(json!({"child": "201401012383"}))).await.unwrap();
        let row2 = repo::out(&a.store, &second.id).await.unwrap().unwrap();
        let mut ct = row2.ciphertext.clone();
        ct[0] ^= 1;
        let flipped = Wire { envelope: row2.envelope.clone(), ciphertext: URL_SAFE_NO_PAD.encode(&ct) };
        let e = kommun.receive(&cert(SKATT_NODE), &flipped).await.unwrap_err();
        assert!(matches!(&e, MsgError::Refused(w) if w.contains("ciphertext")), "{label}: {e:?}");
        world.suspended.lock().unwrap().push(SKATT_NODE.into());
        let fresh = Wire { envelope: row2.envelope.clone(), ciphertext: URL_SAFE_NO_PAD.encode(&row2.ciphertext) };
        let e = kommun.receive(&cert(SKATT_NODE), &fresh).await.unwrap_err();
        assert!(matches!(&e, MsgError::Refused(w) if w.contains("suspended")), "{label}: {e:?}");
        assert_eq!(kommun.inbox_count().await.unwrap(), 1, "{label}: nothing stored");
        let events = kommun.audit().query(&Default::default(), 100, 0).await.unwrap();
        assert_eq!(refusals(&events, "messages.refused"), 4, "{label}");
        assert_eq!(refusals(&events, "messages.received"), 1, "{label}");

        // A refused delivery is final (failed); the sender's log has the story.
        assert_eq!(skatt.deliver_due(&transport, 10, 4).await.unwrap(), 1);
        let failed = skatt.outgoing(&second.id).await.unwrap();
        assert_eq!(failed.status, "failed", "{label}");
        assert!(failed.last_error.unwrap().contains("suspended"));

        // A claim left by a worker that died is released at the next start.
        world.suspended.lock().unwrap().clear();
        let third = skatt.submit(&ctx, message(json!({"child": "201401012383"}))).await.unwrap();
        assert_eq!(skatt.claim(10).await.unwrap().len(), 1, "{label}");
        assert_eq!(skatt.outgoing(&third.id).await.unwrap().status, "sent");
        assert!(skatt.claim(10).await.unwrap().is_empty(), "{label}: claimed once");
        assert_eq!(skatt.recover().await.unwrap(), 1, "{label}");
        assert_eq!(skatt.outgoing(&third.id).await.unwrap().status, "queued");
        assert_eq!(skatt.claim(10).await.unwrap().len(), 1, "{label}: due again at once");

        // Acknowledging takes it off the unread list.
        kommun.ack(&ctx, &sent.id).await.unwrap();
        assert!(kommun.inbox(false, 10, 0).await.unwrap().is_empty());
        assert_eq!(kommun.inbox(true, 10, 0).await.unwrap().len(), 1);
        assert!(matches!(kommun.ack(&ctx, "nope").await, Err(MsgError::NotFound(_))));
    }
}

/// Finding 5: a member node names as sender a non-canonical address that a lookup normalises to its
/// own (`<victim>/../<own>`), so the check passes while the raw string is stored and shown.
#[tokio::test]
async fn a_non_canonical_sender_or_recipient_is_refused_on_both_databases() {
    let stores = test_stores().await;
    let more = test_stores().await;
    for (a, b) in stores.into_iter().zip(more) {
        let label = a.label.clone();
        let (_world, skatt, kommun, _transport) = two_nodes(&a.store, &b.store).await;
        let ctx = Context::system("test-system");
        let sent = skatt.submit(&ctx, message(json!({"child": "201401012383"}))).await.unwrap();
        let row = repo::out(&a.store, &sent.id).await.unwrap().unwrap();
        let envelope = Envelope::verify(&row.envelope, &json!({"keys": [skatt.me.signing.public_jwk()]})).unwrap();
        for (field, posing) in
            [("sender", "162120000142/../162021005448"), ("recipient", "162021005448/../162120000142")]
        {
            let mut forged = envelope.clone();
            match field {
                "sender" => forged.sender = posing.into(),
                _ => forged.recipient = posing.into(),
            }
            let wire =
                Wire { envelope: forged.sign(&skatt.me.signing), ciphertext: URL_SAFE_NO_PAD.encode(&row.ciphertext) };
            let e = kommun.receive(&cert(SKATT_NODE), &wire).await.unwrap_err();
            assert!(
                matches!(&e, MsgError::Refused(w) if w.contains(field) && w.contains("canonical")),
                "{label}: {field} {posing}: {e:?}"
            );
        }
        assert_eq!(kommun.inbox_count().await.unwrap(), 0, "{label}: nothing stored");
        // The same envelope as signed, canonical, is taken.
        let wire = Wire { envelope: row.envelope.clone(), ciphertext: URL_SAFE_NO_PAD.encode(&row.ciphertext) };
        kommun.receive(&cert(SKATT_NODE), &wire).await.unwrap();
        assert_eq!(kommun.inbox_count().await.unwrap(), 1, "{label}");
    }
}

/// The documented schedule, as facts rather than the formula again: the first retry after 1–1.5 s, each
/// wait's floor twice the one before, never more than 10 minutes plus 50 % jitter.
#[test]
fn backoff_grows_with_jitter_and_is_capped() {
    let floors = [(0, 1), (1, 2), (2, 4), (3, 8), (5, 32), (9, 512), (10, 600), (11, 600), (40, 600)];
    for (attempts, floor) in floors {
        let waits: Vec<i64> = (0..200).map(|_| backoff(attempts)).collect();
        let (least, most) = (*waits.iter().min().unwrap(), *waits.iter().max().unwrap());
        assert!(least >= floor, "attempt {attempts}: {least} s is under {floor} s");
        assert!(most <= floor + floor / 2, "attempt {attempts}: {most} s is over {floor} s + 50 %");
        if floor >= 8 {
            assert!(most > least, "attempt {attempts}: no jitter in 200 draws");
        }
    }
    assert!(backoff(i64::MAX) <= 900 && backoff(-1) >= 1, "out-of-range attempt counts stay in the schedule");
}

/// `ttlSeconds` is 1 s to 30 days (named when outside); a message that waits past it is settled
/// `expired`, not sent; a second envelope under an id already received is refused and changes nothing.
#[tokio::test]
async fn time_to_live_expiry_and_a_reused_id_on_both_databases() {
    let stores = test_stores().await;
    let more = test_stores().await;
    for (a, b) in stores.into_iter().zip(more) {
        let label = a.label.clone();
        let (_world, skatt, kommun, transport) = two_nodes(&a.store, &b.store).await;
        let ctx = Context::system("test-system");
        for ttl in [0, -5, 30 * 24 * 3600 + 1] {
            let input = OutgoingInput { ttl_seconds: Some(ttl), ..message(json!({"child": "201401012383"})) };
            let e = skatt.submit(&ctx, input).await.unwrap_err();
            assert!(matches!(&e, MsgError::Invalid(f) if f[0].property == "ttlSeconds"), "{label}: {ttl}: {e:?}");
        }
        assert!(skatt.outbox(None, 10, 0).await.unwrap().is_empty(), "{label}: nothing queued");
        let longest = OutgoingInput { ttl_seconds: Some(30 * 24 * 3600), ..message(json!({"child": "201401012383"})) };
        skatt.submit(&ctx, longest).await.unwrap();

        // Expiry: a 1-second message whose recipient does not answer is expired at its next attempt.
        let short = OutgoingInput { ttl_seconds: Some(1), ..message(json!({"child": "201401012383"})) };
        let doomed = skatt.submit(&ctx, short).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        transport.fail.store(10, Ordering::SeqCst);
        skatt.deliver_due(&transport, 10, 4).await.unwrap();
        let after = skatt.outgoing(&doomed.id).await.unwrap();
        assert_eq!(after.status, "expired", "{label}: {after:?}");
        assert_eq!(kommun.inbox_count().await.unwrap(), 0, "{label}: not delivered");
        transport.fail.store(0, Ordering::SeqCst);

        // A reused id: the first envelope is taken; another one signed by the same node under the same
        // id is refused, and the first stays as it was.
        let sent = skatt.submit(&ctx, message(json!({"child": "201401012383"}))).await.unwrap();
        let row = repo::out(&a.store, &sent.id).await.unwrap().unwrap();
        let wire = Wire { envelope: row.envelope.clone(), ciphertext: URL_SAFE_NO_PAD.encode(&row.ciphertext) };
        let receipt = kommun.receive(&cert(SKATT_NODE), &wire).await.unwrap();
        let jwks = json!({"keys": [skatt.me.signing.public_jwk()]});
        let mut other = Envelope::verify(&row.envelope, &jwks).unwrap();
        other.case_id = Some("KS-2026-99".into());
        let reused = Wire { envelope: other.sign(&skatt.me.signing), ciphertext: wire.ciphertext.clone() };
        let e = kommun.receive(&cert(SKATT_NODE), &reused).await.unwrap_err();
        assert!(matches!(&e, MsgError::Refused(w) if w.contains("another envelope")), "{label}: {e:?}");
        let got = kommun.inbox(false, 10, 0).await.unwrap();
        assert_eq!(got.len(), 1, "{label}");
        assert_eq!(got[0].case_id.as_deref(), Some("KS-2026-17"), "{label}: the first envelope stands");
        assert_eq!(kommun.receive(&cert(SKATT_NODE), &wire).await.unwrap(), receipt, "{label}: the first again");
    }
}

async fn upload(node: &Messaging, bytes: &[u8]) -> attachments::Upload {
    let mut sink = node.begin_upload("application/pdf").await.unwrap();
    for part in bytes.chunks(50_000) {
        sink.write(part).await.unwrap();
    }
    sink.finish().await.unwrap().unwrap()
}

fn read_attachment(reader: &attachments::AttachmentReader) -> Vec<u8> {
    let mut out = Vec::new();
    reader
        .read(|c| {
            out.extend_from_slice(c);
            true
        })
        .unwrap();
    out
}

#[tokio::test]
async fn attachments_travel_encrypted_and_altered_ones_are_refused_on_both_databases() {
    let stores = test_stores().await;
    let more = test_stores().await;
    for (a, b) in stores.into_iter().zip(more) {
        let label = a.label.clone();
        let (_world, skatt, kommun, transport) = two_nodes(&a.store, &b.store).await;
        let ctx = Context::system("test-system");
        let first: Vec<u8> = (0..300_001u32).map(|i| (i % 253) as u8).collect();
        let second = b"hello".to_vec();

        // Bad input: an unknown upload, a bad name, one upload named twice — the field named, nothing queued.
        let up = upload(&skatt, &first).await;
        assert_eq!(skatt.upload(&up.id).await.unwrap(), up);
        let with = |list: Vec<(&str, &str)>| OutgoingInput {
            attachments: list
                .into_iter()
                .map(|(id, name)| attachments::AttachmentInput { id: id.into(), name: name.into() })
                .collect(),
            ..message(json!({"child": "201401012383"}))
        };
        let unknown = uuid::Uuid::now_v7().to_string();
        for (input, field) in [
            (with(vec![(&unknown, "a.pdf")]), "attachments/0/id"),
            (with(vec![("../../node.db", "a.pdf")]), "attachments/0/id"),
            (with(vec![(&up.id, "../a.pdf")]), "attachments/0/name"),
            (with(vec![(&up.id, "a.pdf"), (&up.id, "b.pdf")]), "attachments/1/id"),
        ] {
            let e = skatt.submit(&ctx, input).await.unwrap_err();
            assert!(matches!(&e, MsgError::Invalid(f) if f[0].property == field), "{label}: {field}: {e:?}");
        }
        assert!(skatt.outbox(None, 10, 0).await.unwrap().is_empty(), "{label}");

        // Two attachments arrive, open, and read back as sent; the uploads are used up.
        let up2 = upload(&skatt, &second).await;
        let sent = skatt.submit(&ctx, with(vec![(&up.id, "utredning.pdf"), (&up2.id, "bilaga.pdf")])).await.unwrap();
        assert_eq!(sent.attachments.len(), 2);
        assert_eq!((sent.attachments[0].size, sent.attachments[1].name.as_str()), (300_001, "bilaga.pdf"));
        assert!(matches!(skatt.upload(&up.id).await, Err(MsgError::NotFound(_))), "{label}: used once");
        assert_eq!(skatt.deliver_due(&transport, 10, 4).await.unwrap(), 1);
        let done = skatt.outgoing(&sent.id).await.unwrap();
        assert_eq!(done.status, "delivered", "{label}: {done:?}");
        let got = kommun.incoming(&sent.id).await.unwrap();
        assert_eq!(got.attachments, sent.attachments);
        let (meta, reader) = kommun.attachment(&sent.id, 0).await.unwrap();
        assert_eq!((meta.name.as_str(), meta.media_type.as_str()), ("utredning.pdf", "application/pdf"));
        assert_eq!(read_attachment(&reader), first, "{label}");
        assert_eq!(read_attachment(&kommun.attachment(&sent.id, 1).await.unwrap().1), second);
        assert!(matches!(kommun.attachment(&sent.id, 2).await, Err(MsgError::NotFound(_))));
        let events = kommun.audit().query(&Default::default(), 100, 0).await.unwrap();
        let received = events.iter().find(|e| e.event.action == "messages.received").unwrap();
        let digests = &received.event.details.as_ref().unwrap()["attachmentsSha256"];
        assert_eq!(digests.split(' ').next().unwrap(), sha256_b64(&first), "{label}: the plaintext digest is logged");

        // A ciphertext altered in the sender's outbox after signing: refused by the recipient, failed.
        let up3 = upload(&skatt, &first).await;
        let altered = skatt.submit(&ctx, with(vec![(&up3.id, "a.pdf")])).await.unwrap();
        let path = skatt.files.outbox_file(&altered.id, 0).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[1000] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(skatt.deliver_due(&transport, 10, 4).await.unwrap(), 1);
        let failed = skatt.outgoing(&altered.id).await.unwrap();
        assert_eq!(failed.status, "failed", "{label}: {failed:?}");
        assert!(failed.last_error.as_deref().unwrap().contains("attachment 0"), "{label}: {failed:?}");

        // An envelope whose attachment never arrived: refused, logged, nothing stored.
        let up4 = upload(&skatt, &second).await;
        let lost = skatt.submit(&ctx, with(vec![(&up4.id, "a.pdf")])).await.unwrap();
        let row = repo::out(&a.store, &lost.id).await.unwrap().unwrap();
        let wire = Wire { envelope: row.envelope.clone(), ciphertext: URL_SAFE_NO_PAD.encode(&row.ciphertext) };
        let e = kommun.receive(&cert(SKATT_NODE), &wire).await.unwrap_err();
        assert!(matches!(&e, MsgError::Refused(w) if w.contains("did not arrive")), "{label}: {e:?}");
        assert_eq!(kommun.inbox_count().await.unwrap(), 1, "{label}");
        // Only a member, over its own certificate, may put files on another node's disk.
        let e = kommun.begin_incoming(&cert(KOMMUN_NODE), SKATT_NODE, &lost.id, 0, 10).await.unwrap_err();
        assert!(matches!(&e, MsgError::Refused(w) if w.contains("certificate")), "{label}: {e:?}");
        let e = kommun.begin_incoming(&cert(SKATT_NODE), "https://unknown.example", &lost.id, 0, 10).await.unwrap_err();
        assert!(matches!(&e, MsgError::Refused(w) if w.contains("not a member")), "{label}: {e:?}");
    }
}
