//! Receiving: a delivery checked step by step (certificate, signature, digest, decryption, schema, attachments), logged, answered with a receipt; the inbox and acknowledgements.

use super::*;

pub(super) fn to_incoming(r: repo::InRow) -> Incoming {
    Incoming {
        payload: serde_json::from_str(&r.payload).unwrap_or(Value::Null),
        id: r.id,
        sender: r.sender,
        sender_node: r.sender_node,
        recipient: r.recipient,
        message_type: r.message_type,
        version: r.version,
        conversation_id: r.conversation_id,
        case_id: r.case_id,
        attachments: Envelope::peek(&r.envelope).map(|e| e.attachments).unwrap_or_default(),
        envelope: r.envelope,
        receipt: r.receipt,
        received_at: ena_core::time::rfc3339_of(r.received_at),
        acked_at: r.acked_at.map(ena_core::time::rfc3339_of),
    }
}

impl Messaging {
    /// Node `sender` starts delivering attachment `n` of `message` over a connection whose certificate
    /// has the thumbprint `certificate`: it must be a member in good standing and the certificate its own,
    /// so only members can put files on this node's disk.
    pub async fn begin_incoming(
        &self,
        certificate: &str,
        sender: &str,
        message: &str,
        n: usize,
        length: u64,
    ) -> Result<attachments::Sink, MsgError> {
        let peer = self
            .directory
            .node(sender)
            .await
            .map_err(|why| MsgError::Refused(format!("sender node {}: {why}", clean(sender))))?;
        if peer.certificate_sha256 != certificate {
            return Err(MsgError::Refused(format!(
                "the connection's certificate is not the one the federation publishes for {}",
                clean(sender)
            )));
        }
        self.files.begin_incoming(certificate, message, n, length).await.map_err(|e| match e {
            AttachmentError::Invalid(why) => MsgError::Invalid(vec![FieldError::new("path", message, why)]),
            AttachmentError::TooLarge(max) => MsgError::Invalid(vec![FieldError::new(
                "Content-Length",
                length,
                format!("at most {max} bytes for one attachment and for all of one message's"),
            )]),
            AttachmentError::Quota(why) => MsgError::Busy(why),
            e => MsgError::Internal(e.to_string()),
        })
    }

    /// Received attachment `n` of message `id`: its description and a reader of its plaintext.
    pub async fn attachment(&self, id: &str, n: usize) -> Result<(Attachment, AttachmentReader), MsgError> {
        let row = repo::inbound(&self.store, id)
            .await?
            .ok_or_else(|| MsgError::NotFound(format!("no message {id} in the inbox")))?;
        let envelope = Envelope::peek(&row.envelope).map_err(|e| MsgError::Internal(e.to_string()))?;
        let attachment = envelope
            .attachments
            .get(n)
            .cloned()
            .ok_or_else(|| MsgError::NotFound(format!("message {id} has no attachment {n}")))?;
        let enc = URL_SAFE_NO_PAD.decode(&envelope.encryption.enc).map_err(|e| MsgError::Internal(e.to_string()))?;
        let key = seal::attachment_key(&self.me.encryption, &enc).map_err(|e| MsgError::Internal(e.to_string()))?;
        let reader = self.files.reader(id, n, &attachment, key).map_err(|e| MsgError::Internal(e.to_string()))?;
        Ok((attachment, reader))
    }

    /// Receive a delivery over a connection whose client certificate has the SHA-256 `certificate`
    /// (base64url). Returns the signed receipt — the same one again for a repeated delivery.
    pub async fn receive(&self, certificate: &str, wire: &Wire) -> Result<String, MsgError> {
        match self.accept(certificate, wire).await {
            Ok(receipt) => Ok(receipt),
            Err(e @ (MsgError::Internal(_) | MsgError::Busy(_))) => Err(e),
            Err(e) => {
                // What the refused envelope claims is untrusted: cleaned and shortened before it is logged.
                let claimed = Envelope::peek(&wire.envelope).ok();
                let id = claimed.as_ref().map(|e| clean(&e.id)).unwrap_or_default();
                let peer =
                    claimed.map_or_else(|| format!("certificate {}", clean(certificate)), |e| clean(&e.sender_node));
                let ctx = Context::system(&peer);
                let object = (!id.is_empty()).then(|| ObjectRef { kind: "message".into(), id });
                let event = ctx.event("messages.refused", object, AuditResult::Denied, Some(clean(&e.to_string())));
                self.audit.append(vec![event]).await.map_err(|e| MsgError::Internal(e.to_string()))?;
                Err(e)
            }
        }
    }

    /// Accept a delivery, in the steps ARCHITECTURE.md names: the envelope (certificate ↔ the
    /// federation's thumbprint, signature, fields), the addresses, one receipt at a time per id and a
    /// repeat answered with the stored receipt, the payload (digest, decryption, schema), the
    /// attachments, the log entry and receipt, and the inbox.
    pub(super) async fn accept(&self, certificate: &str, wire: &Wire) -> Result<String, MsgError> {
        let (envelope, peer) = self.verify_envelope(certificate, wire).await?;
        self.check_addresses(&envelope).await?;
        let fresh =
            self.receiving.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(envelope.id.clone());
        if !fresh {
            return Err(MsgError::Busy(format!("message {} is being received on another connection", envelope.id)));
        }
        let _receiving = Receiving(self, envelope.id.clone());
        // A repeat: the same receipt, nothing else happens (exactly-once effect).
        if let Some(stored) = repo::inbound(&self.store, &envelope.id).await? {
            self.files.remove_incoming(certificate, &envelope.id).await;
            return repeat(stored, wire);
        }
        let at = ena_core::time::unix_now();
        let (plaintext, attachment_key, subjects) = self.open_payload(&envelope, wire, at).await?;
        // Each attachment arrived from this node as signed, and every chunk opens.
        let attachment_digests = self.check_attachments(certificate, &envelope, attachment_key).await?;
        let receipt = self.log_receipt(&peer, &envelope, wire, &plaintext, &subjects, &attachment_digests, at).await?;
        self.store_incoming(certificate, envelope, wire, &plaintext, receipt, at).await
    }

    /// The envelope, checked: sent over the certificate the federation publishes for the node it
    /// names, signed with that node's keys, for this node, with sane fields. Returns it and the sender
    /// node's entity id.
    async fn verify_envelope(&self, certificate: &str, wire: &Wire) -> Result<(Envelope, String), MsgError> {
        let refused = |why: String| MsgError::Refused(why);
        let claimed = Envelope::peek(&wire.envelope).map_err(|e| refused(format!("envelope: {e}")))?;
        let peer = claimed.sender_node.as_str();
        // The federation says whose certificate this is: it must be the node the envelope names.
        let sender = self.directory.node(peer).await.map_err(|why| refused(format!("sender node {peer}: {why}")))?;
        if sender.certificate_sha256 != certificate {
            return Err(refused(format!(
                "the envelope names {peer} as sender node, but the connection's certificate is not that node's"
            )));
        }
        let envelope =
            Envelope::verify(&wire.envelope, &sender.jwks).map_err(|e| refused(format!("envelope signature: {e}")))?;
        if envelope.recipient_node != self.me.entity_id {
            return Err(refused(format!("the message is for {}, not this node", envelope.recipient_node)));
        }
        let fields = serde_json::to_value(&envelope).unwrap_or(Value::Null);
        if fields.as_object().is_some_and(|o| {
            o.values().any(|v| v.as_str().is_some_and(|s| s.chars().any(char::is_control) || s.len() > 512))
        }) {
            return Err(refused("an envelope field holds control characters or is too long".into()));
        }
        if envelope.attachments.len() > attachments::MAX_ATTACHMENTS {
            return Err(refused(format!("more than {} attachments", attachments::MAX_ATTACHMENTS)));
        }
        for (n, a) in envelope.attachments.iter().enumerate() {
            let sane = attachments::valid_name(&a.name).is_ok()
                && attachments::valid_media_type(&a.media_type).is_ok()
                && a.size <= attachments::MAX_SIZE
                && a.ciphertext_length == attachments::ciphertext_length(a.size);
            if !sane {
                return Err(refused(format!("attachment {n}: a bad name, media type or length")));
            }
        }
        require_canonical("sender", &envelope.sender).map_err(refused)?;
        require_canonical("recipient", &envelope.recipient).map_err(refused)?;
        Ok((envelope, peer.to_owned()))
    }

    /// The sender's address is served by the node that signed; the recipient's by this node, and it
    /// accepts this message type and version now.
    async fn check_addresses(&self, envelope: &Envelope) -> Result<(), MsgError> {
        let refused = |why: String| MsgError::Refused(why);
        // The sender organisation is the node's: its address must be served by the node that signed.
        let sender_address = self
            .directory
            .address(&envelope.sender)
            .await
            .map_err(|why| refused(format!("sender {}: {why}", envelope.sender)))?;
        if sender_address.node != envelope.sender_node {
            return Err(refused(format!(
                "{} is not served by the sending node {}",
                envelope.sender, envelope.sender_node
            )));
        }
        // The recipient address is one this node serves, and it accepts this type and version now.
        let recipient = self
            .directory
            .address(&envelope.recipient)
            .await
            .map_err(|why| refused(format!("recipient {}: {why}", envelope.recipient)))?;
        if recipient.node != self.me.entity_id {
            return Err(refused(format!("{} is not served by this node", envelope.recipient)));
        }
        recipient.accepts(&envelope.message_type, &envelope.version, ena_core::time::unix_now()).map_err(refused)?;
        Ok(())
    }

    /// The payload, checked: not expired, the ciphertext the envelope was signed for, sealed to this
    /// node's key, JSON that fits the message type's schema. Returns the plaintext and the key the
    /// attachments were encrypted under, and the persons the payload is about (where the schema says).
    async fn open_payload(
        &self,
        envelope: &Envelope,
        wire: &Wire,
        at: i64,
    ) -> Result<(Vec<u8>, [u8; 32], Vec<String>), MsgError> {
        let refused = |why: String| MsgError::Refused(why);
        if ena_core::Timestamp::parse_rfc3339(&envelope.expires).map(ena_core::Timestamp::unix).is_none_or(|e| e <= at)
        {
            return Err(refused("the message has expired".into()));
        }
        let ciphertext =
            URL_SAFE_NO_PAD.decode(&wire.ciphertext).map_err(|_| refused("ciphertext: not base64url".into()))?;
        if sha256_b64(&ciphertext) != envelope.ciphertext_sha256
            || ciphertext.len() as u64 != envelope.ciphertext_length
        {
            return Err(refused("the ciphertext is not the one the envelope was signed for".into()));
        }
        if envelope.encryption.suite != seal::SUITE || envelope.encryption.kid != self.me.encryption.kid() {
            return Err(refused("encrypted with another suite or key than this node's".into()));
        }
        let enc = URL_SAFE_NO_PAD
            .decode(&envelope.encryption.enc)
            .map_err(|_| refused("encryption.enc: not base64url".into()))?;
        let (plaintext, attachment_key) =
            seal::open(&self.me.encryption, &enc, &envelope.id, &ciphertext).map_err(|e| refused(e.to_string()))?;
        let payload: Value =
            serde_json::from_slice(&plaintext).map_err(|_| refused("the payload is not JSON".into()))?;
        let schema = self
            .directory
            .schema(&envelope.message_type, &envelope.version)
            .await
            .map_err(|why| refused(format!("message type: {why}")))?;
        if let Err(errors) = schema.check(&payload, "payload") {
            let list = errors.iter().map(|e| format!("{}: {}", e.property, e.reason)).collect::<Vec<_>>().join("; ");
            return Err(refused(format!("the payload does not fit the schema: {list}")));
        }
        Ok((plaintext, attachment_key, schema.data_subjects(&payload)))
    }

    /// Log the receipt event first, then sign the receipt that carries its place in the log.
    #[allow(clippy::too_many_arguments)]
    async fn log_receipt(
        &self,
        peer: &str,
        envelope: &Envelope,
        wire: &Wire,
        plaintext: &[u8],
        subjects: &[String],
        attachment_digests: &[String],
        at: i64,
    ) -> Result<String, MsgError> {
        // Log the receipt event first: the receipt carries its place in the log.
        let mut event = Context::system(peer).event(
            "messages.received",
            Some(ObjectRef { kind: "message".into(), id: envelope.id.clone() }),
            AuditResult::Allowed,
            None,
        );
        // The sending organisation (the address's organisation number), so a person shown this event
        // sees who sent it; the persons the payload is about are its data subjects.
        event.actor.organisation = envelope.sender.split(':').next().map(str::to_owned);
        event.data_subjects = subjects.to_vec();
        event.details = Some(
            [
                ("envelopeSha256", sha256_b64(wire.envelope.as_bytes())),
                ("ciphertextSha256", envelope.ciphertext_sha256.clone()),
                ("payloadSha256", sha256_b64(&plaintext)),
                ("sender", envelope.sender.clone()),
                ("recipient", envelope.recipient.clone()),
                ("messageType", envelope.message_type.clone()),
            ]
            .into_iter()
            .chain((!attachment_digests.is_empty()).then(|| ("attachmentsSha256", attachment_digests.join(" "))))
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        );
        let log = LogProof::append(&self.audit, event).await.map_err(MsgError::Internal)?;
        let receipt = Receipt {
            message_id: envelope.id.clone(),
            sender_node: envelope.sender_node.clone(),
            recipient_node: self.me.entity_id.clone(),
            envelope_sha256: sha256_b64(wire.envelope.as_bytes()),
            ciphertext_sha256: envelope.ciphertext_sha256.clone(),
            payload_sha256: sha256_b64(&plaintext),
            received_at: ena_core::time::rfc3339_of(at),
            log,
        }
        .sign(&self.me.signing);
        Ok(receipt)
    }

    /// Move the attachments into the inbox, then commit the message row (a stored message always has
    /// its files); a delivery that raced in another process gets the first one's receipt.
    async fn store_incoming(
        &self,
        certificate: &str,
        envelope: Envelope,
        wire: &Wire,
        plaintext: &[u8],
        receipt: String,
        at: i64,
    ) -> Result<String, MsgError> {
        // The files go into the inbox before the message row: a stored message always has them.
        let moved = {
            let (files, cert, envelope) = (self.files.clone(), certificate.to_owned(), envelope.clone());
            tokio::task::spawn_blocking(move || {
                envelope
                    .attachments
                    .iter()
                    .enumerate()
                    .try_for_each(|(n, a)| files.accept_incoming(&cert, &envelope.id, n, a))
            })
            .await
        };
        match moved {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(MsgError::Internal(format!("attachments: {e}"))),
            Err(e) => return Err(MsgError::Internal(e.to_string())),
        }
        if !envelope.attachments.is_empty() {
            self.files.remove_incoming(certificate, &envelope.id).await;
        }
        let row = repo::InRow {
            id: envelope.id.clone(),
            sender: envelope.sender,
            sender_node: envelope.sender_node,
            recipient: envelope.recipient,
            message_type: envelope.message_type,
            version: envelope.version,
            conversation_id: envelope.conversation_id,
            case_id: envelope.case_id,
            envelope: wire.envelope.clone(),
            payload: String::from_utf8_lossy(&plaintext).into_owned(),
            receipt: receipt.clone(),
            received_at: at,
            acked_at: None,
            seq: OffsetDateTime::now_utc().unix_timestamp_nanos() as i64 / 1000,
        };
        if !self.writer.write(writer::Op::InsertIn(Box::new(row.clone()))).await.map_err(MsgError::Internal)? {
            // Two deliveries of one message raced in two processes sharing the database; the first
            // one's receipt stands.
            let stored =
                repo::inbound(&self.store, &row.id).await?.ok_or_else(|| MsgError::Internal("inbox race".into()))?;
            return repeat(stored, wire);
        }
        if let Some(events) = &self.events {
            events.message_received(
                &row.id,
                serde_json::json!({"id": row.id, "sender": row.sender, "senderNode": row.sender_node, "recipient": row.recipient,
                    "messageType": row.message_type, "version": row.version, "conversationId": row.conversation_id, "caseId": row.case_id}),
            );
        }
        Ok(receipt)
    }

    /// Check each attachment the envelope lists arrived from `certificate` with the signed length and
    /// hash, and open every chunk once: the plaintexts' SHA-256 (base64url), in order.
    pub(super) async fn check_attachments(
        &self,
        certificate: &str,
        envelope: &Envelope,
        key: [u8; 32],
    ) -> Result<Vec<String>, MsgError> {
        if envelope.attachments.is_empty() {
            return Ok(Vec::new());
        }
        let (files, cert, envelope) = (self.files.clone(), certificate.to_owned(), envelope.clone());
        let checked = tokio::task::spawn_blocking(move || {
            envelope
                .attachments
                .iter()
                .enumerate()
                .map(|(n, a)| {
                    files.verify_incoming(&cert, &envelope.id, n, a, &key).map_err(|e| match e {
                        AttachmentError::Io(e) => MsgError::Internal(format!("attachment {n}: {e}")),
                        e => MsgError::Refused(format!("attachment {n}: {e}")),
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e| MsgError::Internal(e.to_string()))?;
        checked
    }

    pub async fn incoming(&self, id: &str) -> Result<Incoming, MsgError> {
        repo::inbound(&self.store, id)
            .await?
            .map(to_incoming)
            .ok_or_else(|| MsgError::NotFound(format!("no message {id} in the inbox")))
    }

    pub async fn inbox(&self, all: bool, limit: u32, offset: u64) -> Result<Vec<Incoming>, MsgError> {
        Ok(repo::inbox(&self.store, all, limit, offset).await?.into_iter().map(to_incoming).collect())
    }

    /// Received messages of `message_type` in conversation `conversation` (a letter's receipts and replies).
    pub async fn in_conversation(&self, conversation: &str, message_type: &str) -> Result<Vec<Incoming>, MsgError> {
        Ok(repo::inbound_in_conversation(&self.store, conversation, message_type)
            .await?
            .into_iter()
            .map(to_incoming)
            .collect())
    }

    /// The local system has taken the message (idempotent).
    pub async fn ack(&self, ctx: &Context, id: &str) -> Result<(), MsgError> {
        if !repo::ack(&self.store, id, ena_core::time::unix_now()).await? {
            return Err(MsgError::NotFound(format!("no message {id} in the inbox")));
        }
        let event = ctx.event(
            "messages.acknowledged",
            Some(ObjectRef { kind: "message".into(), id: id.into() }),
            AuditResult::Allowed,
            None,
        );
        self.audit.append(vec![event]).await.map_err(|e| MsgError::Internal(e.to_string()))?;
        Ok(())
    }

    pub async fn inbox_count(&self) -> Result<i64, MsgError> {
        Ok(repo::inbox_count(&self.store).await?)
    }
}

/// A message id received before: its stored receipt again (exactly-once effect), or a refusal when the
/// id now comes with another envelope.
fn repeat(stored: repo::InRow, wire: &Wire) -> Result<String, MsgError> {
    if stored.envelope != wire.envelope {
        return Err(MsgError::Refused(format!("message id {} was already received with another envelope", stored.id)));
    }
    Ok(stored.receipt)
}
