//! Sending: `submit` (address, node in good standing, schema, seal, sign, queue), attachments uploaded and encrypted for the outbox, and the outbox as the sender sees it.

use super::*;

pub(super) fn to_outgoing(r: repo::OutRow) -> Outgoing {
    Outgoing {
        id: r.id,
        recipient: r.recipient,
        recipient_node: r.recipient_node,
        message_type: r.message_type,
        version: r.version,
        conversation_id: r.conversation_id,
        status: r.status,
        attempts: r.attempts,
        last_error: r.last_error,
        attachments: Envelope::peek(&r.envelope).map(|e| e.attachments).unwrap_or_default(),
        receipt: r.receipt,
        created_at: ena_core::time::rfc3339_of_ms(r.created_at_ms),
        updated_at: ena_core::time::rfc3339_of_ms(r.updated_at_ms),
    }
}

impl Messaging {
    /// Validate, seal, sign and queue a message. Nothing is stored unless all of it holds.
    pub async fn submit(&self, ctx: &Context, input: OutgoingInput) -> Result<Outgoing, MsgError> {
        let uploads = input.attachments.clone();
        let (recipient, message_type) = (input.recipient.clone(), input.message_type.clone());
        let result = self.build(input).await;
        let (event_result, reason, object) = match &result {
            Ok((row, _)) => (AuditResult::Allowed, None, row.id.clone()),
            Err(MsgError::Internal(_)) => return result.map(|(row, _)| to_outgoing(row)),
            Err(e) => (AuditResult::Denied, Some(e.to_string()), String::new()),
        };
        let mut subjects = Vec::new();
        if let Ok((row, about)) = &result {
            subjects.clone_from(about);
            if let Err(e) = self.writer.write(writer::Op::InsertOut(Box::new(row.clone()))).await {
                self.files.remove_outbox(&row.id).await;
                return Err(MsgError::Internal(e));
            }
            // Each upload is sent once: it is in the outbox now, encrypted.
            for a in &uploads {
                if let Err(e) = self.files.remove_upload(&a.id).await {
                    tracing::warn!(upload = %a.id, error = %e, "a sent upload could not be removed");
                }
            }
            self.queued.notify_one();
            if let Some(events) = &self.events {
                let detail = serde_json::json!({"recipient": row.recipient, "messageType": row.message_type});
                events.message_status(&row.id, OutboxStatus::Queued.as_str(), detail);
            }
        }
        let object = (!object.is_empty()).then(|| ObjectRef { kind: "message".into(), id: object });
        let mut event = ctx.event("messages.queued", object, event_result, reason);
        // The persons the payload is about (where its type's schema marks them) are the event's data
        // subjects: Min profil shows them the message through this node's forwarded log.
        event.data_subjects = subjects;
        event.details =
            Some([("recipient", recipient), ("messageType", message_type)].map(|(k, v)| (k.to_owned(), v)).into());
        self.audit.append(vec![event]).await.map_err(|e| MsgError::Internal(e.to_string()))?;
        result.map(|(row, _)| to_outgoing(row))
    }

    /// The outbox row of a message, and the persons its payload is about.
    pub(super) async fn build(&self, input: OutgoingInput) -> Result<(repo::OutRow, Vec<String>), MsgError> {
        let recipient = ena_addresses::canonical(&input.recipient)
            .map_err(|e| MsgError::Invalid(vec![FieldError { property: "recipient".into(), ..e }]))?;
        let ttl = input.ttl_seconds.unwrap_or(DEFAULT_TTL_SECS);
        if !(1..=MAX_TTL_SECS).contains(&ttl) {
            return Err(invalid("ttlSeconds", ttl, format!("from 1 to {MAX_TTL_SECS}")));
        }
        for (field, v) in [("conversationId", &input.conversation_id), ("caseId", &input.case_id)] {
            if v.as_ref().is_some_and(|v| v.is_empty() || v.len() > 200) {
                return Err(invalid(field, v.as_deref().unwrap_or_default(), "1–200 characters"));
            }
        }
        let uploads = self.uploads(&input.attachments).await?;
        let address = self.directory.address(&recipient).await.map_err(|why| invalid("recipient", &recipient, why))?;
        // The type first: a type no one registered is named as such, not as one the address refuses.
        let schema = self.directory.schema(&input.message_type, &input.version).await.map_err(|why| {
            invalid(
                "messageType",
                format!("{}@{}", input.message_type, input.version),
                format!("{why} (GET /addresses/v1/message-types lists the registered types and versions)"),
            )
        })?;
        let at = ena_core::time::unix_now();
        address
            .accepts(&input.message_type, &input.version, at)
            .map_err(|why| invalid("messageType", &input.message_type, why))?;
        // A recipient whose node is not a member in good standing (suspended, revoked) is refused now,
        // not retried until the message expires.
        self.directory.node(&address.node).await.map_err(|why| {
            invalid(
                "recipient",
                &recipient,
                format!("its node {} is not reachable through the federation: {why}", address.node),
            )
        })?;
        schema.check(&input.payload, "payload").map_err(MsgError::Invalid)?;
        let subjects = schema.data_subjects(&input.payload);
        let plaintext = serde_json::to_vec(&input.payload).map_err(|e| MsgError::Internal(e.to_string()))?;
        if plaintext.len() > MAX_PAYLOAD {
            return Err(invalid("payload", plaintext.len(), format!("at most {MAX_PAYLOAD} bytes of JSON")));
        }
        let key = address
            .encryption_keys
            .first()
            .ok_or_else(|| invalid("recipient", &recipient, "the address has no encryption key"))?;
        let public = URL_SAFE_NO_PAD
            .decode(&key.x)
            .map_err(|_| invalid("recipient", &recipient, "the address's key is malformed"))?;
        let id = uuid::Uuid::now_v7().to_string();
        let sealed =
            seal::seal(&public, &id, &plaintext).map_err(|e| invalid("recipient", &recipient, e.to_string()))?;
        let (enc, ciphertext) = (sealed.enc, sealed.ciphertext);
        let attachments = self.encrypt_attachments(&id, uploads, sealed.attachment_key).await?;
        let envelope = Envelope {
            id: id.clone(),
            sender: self.me.address.clone(),
            sender_node: self.me.entity_id.clone(),
            recipient: recipient.clone(),
            recipient_node: address.node.clone(),
            message_type: input.message_type.clone(),
            version: input.version.clone(),
            conversation_id: input.conversation_id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
            case_id: input.case_id,
            created: ena_core::time::rfc3339_of(at),
            expires: ena_core::time::rfc3339_of(at + ttl),
            encryption: Encryption {
                suite: seal::SUITE.into(),
                kid: key.kid.clone(),
                enc: URL_SAFE_NO_PAD.encode(enc),
            },
            ciphertext_sha256: sha256_b64(&ciphertext),
            ciphertext_length: ciphertext.len() as u64,
            attachments,
        };
        let stamp = ena_core::time::unix_ms_now();
        let row = repo::OutRow {
            id,
            recipient,
            recipient_node: address.node,
            message_type: input.message_type,
            version: input.version,
            conversation_id: envelope.conversation_id.clone(),
            envelope: envelope.sign(&self.me.signing),
            ciphertext,
            status: OutboxStatus::Queued.as_str().into(),
            attempts: 0,
            next_attempt_at: at,
            expires_at: at + ttl,
            last_error: None,
            receipt: None,
            created_at_ms: stamp,
            updated_at_ms: stamp,
        };
        Ok((row, subjects))
    }

    /// The named uploads, checked: each exists, once, with a name a recipient can save.
    pub(super) async fn uploads(&self, inputs: &[AttachmentInput]) -> Result<Vec<(Upload, String)>, MsgError> {
        if inputs.len() > attachments::MAX_ATTACHMENTS {
            return Err(invalid("attachments", inputs.len(), format!("at most {}", attachments::MAX_ATTACHMENTS)));
        }
        let mut found = Vec::with_capacity(inputs.len());
        for (i, a) in inputs.iter().enumerate() {
            attachments::valid_name(&a.name).map_err(|why| invalid(&format!("attachments/{i}/name"), &a.name, why))?;
            if inputs[..i].iter().any(|b| b.id == a.id) {
                return Err(invalid(&format!("attachments/{i}/id"), &a.id, "named twice"));
            }
            let upload = match self.files.upload(&a.id).await {
                Ok(Some(u)) => u,
                Ok(None) | Err(AttachmentError::Invalid(_)) => {
                    return Err(invalid(
                        &format!("attachments/{i}/id"),
                        &a.id,
                        "no such upload (POST /messages/v1/attachments first; each is sent once)",
                    ));
                }
                Err(e) => return Err(MsgError::Internal(e.to_string())),
            };
            found.push((upload, a.name.clone()));
        }
        Ok(found)
    }

    /// Encrypt the uploads into the outbox as message `id`'s attachments (on the blocking pool: a chunk
    /// at a time, whatever the size).
    pub(super) async fn encrypt_attachments(
        &self,
        id: &str,
        uploads: Vec<(Upload, String)>,
        key: [u8; 32],
    ) -> Result<Vec<Attachment>, MsgError> {
        if uploads.is_empty() {
            return Ok(Vec::new());
        }
        let (files, message) = (self.files.clone(), id.to_owned());
        let result = tokio::task::spawn_blocking(move || {
            uploads
                .iter()
                .enumerate()
                .map(|(n, (upload, name))| files.encrypt_upload(upload, name, &message, n, &key))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e| MsgError::Internal(e.to_string()))?;
        match result {
            Ok(list) => Ok(list),
            Err(e) => {
                self.files.remove_outbox(id).await;
                Err(MsgError::Internal(format!("attachments: {e}")))
            }
        }
    }

    /// Store an upload from a local system: start it here, write its bytes, finish it.
    pub async fn begin_upload(&self, media_type: &str) -> Result<attachments::Sink, MsgError> {
        self.files.begin_upload(media_type).await.map_err(|e| match e {
            AttachmentError::Invalid(why) => invalid("Content-Type", media_type, why),
            e => MsgError::Internal(e.to_string()),
        })
    }

    /// Finish an upload started with [`Messaging::begin_upload`]; logged.
    pub async fn finish_upload(&self, ctx: &Context, sink: attachments::Sink) -> Result<Upload, MsgError> {
        let upload = match sink.finish().await {
            Ok(Some(u)) => u,
            Ok(None) => return Err(MsgError::Internal("not an upload".into())),
            Err(e) => return Err(MsgError::Internal(e.to_string())),
        };
        let object = Some(ObjectRef { kind: "upload".into(), id: upload.id.clone() });
        let mut event = ctx.event("messages.uploaded", object, AuditResult::Allowed, None);
        event.details = Some(
            [
                ("size", upload.size.to_string()),
                ("sha256", upload.sha256.clone()),
                ("mediaType", upload.media_type.clone()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        );
        self.audit.append(vec![event]).await.map_err(|e| MsgError::Internal(e.to_string()))?;
        Ok(upload)
    }

    pub async fn upload(&self, id: &str) -> Result<Upload, MsgError> {
        match self.files.upload(id).await {
            Ok(Some(u)) => Ok(u),
            Ok(None) | Err(AttachmentError::Invalid(_)) => Err(MsgError::NotFound(format!("no upload {id}"))),
            Err(e) => Err(MsgError::Internal(e.to_string())),
        }
    }

    pub async fn outgoing(&self, id: &str) -> Result<Outgoing, MsgError> {
        repo::out(&self.store, id)
            .await?
            .map(to_outgoing)
            .ok_or_else(|| MsgError::NotFound(format!("no message {id} in the outbox")))
    }

    pub async fn outbox(&self, status: Option<&str>, limit: u32, offset: u64) -> Result<Vec<Outgoing>, MsgError> {
        // An unknown status is an error, not an empty list that looks like "nothing there".
        if let Some(s) = status
            && crate::OutboxStatus::parse(s).is_none()
        {
            return Err(invalid("status", s, format!("must be {}", crate::OutboxStatus::words())));
        }
        Ok(repo::outs(&self.store, status, limit, offset).await?.into_iter().map(to_outgoing).collect())
    }

    /// Messages per status.
    pub async fn counts(&self) -> Result<Vec<(String, i64)>, MsgError> {
        Ok(repo::counts(&self.store).await?)
    }
}
