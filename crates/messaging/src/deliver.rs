//! Delivering: claim due outbox rows, post them (attachments first), verify the receipt, settle; backoff with jitter, expiry and failure.

use super::*;

/// Wait for the first of `futures` to finish: (its output, its index, the others).
pub(super) async fn futures_select_all<F: Future + Unpin>(mut futures: Vec<F>) -> (F::Output, usize, Vec<F>) {
    let (out, i) = std::future::poll_fn(|cx| {
        for (i, f) in futures.iter_mut().enumerate() {
            if let std::task::Poll::Ready(out) = Pin::new(f).poll(cx) {
                return std::task::Poll::Ready((out, i));
            }
        }
        std::task::Poll::Pending
    })
    .await;
    drop(futures.swap_remove(i));
    (out, i, futures)
}

impl Messaging {
    /// At a node's start: deliveries that were in flight when it last stopped are due again now (the
    /// receiver's duplicate check makes a second delivery harmless). Returns how many.
    pub async fn recover(&self) -> Result<u64, MsgError> {
        Ok(repo::release_claims(&self.store).await?)
    }

    /// Claim up to `limit` due messages for delivery (each then needs [`Messaging::attempt`]).
    pub async fn claim(&self, limit: u32) -> Result<Vec<repo::OutRow>, MsgError> {
        let at = ena_core::time::unix_now();
        Ok(repo::claim_due(&self.store, at, at + LEASE_SECS, limit).await?)
    }

    /// Notified whenever a message is queued, so a waiting delivery worker starts at once.
    pub fn queued(&self) -> &tokio::sync::Notify {
        &self.queued
    }

    /// One round of delivery: claim up to `limit` due messages and try each (at most `parallel` at once).
    /// Returns how many were claimed.
    pub async fn deliver_due(&self, transport: &dyn Transport, limit: u32, parallel: usize) -> Result<usize, MsgError> {
        let at = ena_core::time::unix_now();
        let rows = repo::claim_due(&self.store, at, at + LEASE_SECS, limit).await?;
        let n = rows.len();
        let mut pending = rows.into_iter();
        let mut running = Vec::new();
        loop {
            while running.len() < parallel.max(1) {
                let Some(row) = pending.next() else { break };
                running.push(Box::pin(self.attempt(transport, row)));
            }
            if running.is_empty() {
                break;
            }
            let (result, _, rest) = futures_select_all(running).await;
            running = rest;
            result?;
        }
        Ok(n)
    }

    /// Try to deliver one claimed message and settle it: delivered, queued for a retry, failed or expired.
    pub async fn attempt(&self, transport: &dyn Transport, row: repo::OutRow) -> Result<(), MsgError> {
        let at = ena_core::time::unix_now();
        let stamp = ena_core::time::unix_ms_now();
        if row.expires_at <= at {
            self.settle(&row, OutboxStatus::Expired, at, Some("expired before delivery"), None, stamp).await?;
            return self
                .log_outcome(&row.id, "messages.expired", AuditResult::Failed, Some("expired before delivery".into()))
                .await;
        }
        let peer = match self.directory.node(&row.recipient_node).await {
            Ok(p) => p,
            Err(why) => return self.retry_or_fail(&row, &format!("recipient node: {why}"), at).await,
        };
        let delivery = match self.send_attachments(transport, &peer, &row).await {
            Some(failed) => failed,
            None => {
                let wire = Wire { envelope: row.envelope.clone(), ciphertext: URL_SAFE_NO_PAD.encode(&row.ciphertext) };
                transport.deliver(&peer.inbox, &wire).await
            }
        };
        match delivery {
            Delivery::Receipt(token) => match self.check_receipt(&row, &peer, &token) {
                Ok(()) => {
                    // Two independent durable writes (the outbox row, the log): in parallel.
                    let (settled, logged) = tokio::join!(
                        self.settle(&row, OutboxStatus::Delivered, at, None, Some(&token), stamp),
                        self.log_outcome(&row.id, "messages.delivered", AuditResult::Allowed, None)
                    );
                    settled.and(logged)
                }
                Err(why) => self.retry_or_fail(&row, &format!("receipt refused: {why}"), at).await,
            },
            Delivery::Refused(why) => {
                self.settle(&row, OutboxStatus::Failed, at, Some(&why), None, stamp).await?;
                self.log_outcome(&row.id, "messages.failed", AuditResult::Failed, Some(why)).await
            }
            Delivery::Retry(why) => self.retry_or_fail(&row, &why, at).await,
        }
    }

    /// Stream the message's attachments (if any) to the recipient node: `None` when all arrived.
    pub(super) async fn send_attachments(
        &self,
        transport: &dyn Transport,
        peer: &PeerNode,
        row: &repo::OutRow,
    ) -> Option<Delivery> {
        let list = Envelope::peek(&row.envelope).map(|e| e.attachments).unwrap_or_default();
        if list.is_empty() {
            return None;
        }
        // A large transfer may outlast the claim's lease: keep the claim for as long as it may take at
        // 1 MiB/s, so that no second attempt starts beside this one.
        let bytes: u64 = list.iter().map(|a| a.ciphertext_length).sum();
        let until = ena_core::time::unix_now() + LEASE_SECS + (bytes >> 20) as i64;
        if let Err(e) = repo::extend_claim(&self.store, &row.id, row.attempts, until).await {
            return Some(Delivery::Retry(format!("outbox: {e}")));
        }
        for (n, a) in list.iter().enumerate() {
            let path = match self.files.outbox_file(&row.id, n) {
                Ok(p) => p,
                Err(e) => return Some(Delivery::Refused(format!("attachment {n}: {e}"))),
            };
            if let Some(failed) = transport.upload(&peer.inbox, &row.id, n, &path, a.ciphertext_length).await {
                return Some(failed);
            }
        }
        None
    }

    pub(super) fn check_receipt(&self, row: &repo::OutRow, peer: &PeerNode, token: &str) -> Result<(), String> {
        let r = Receipt::verify(token, &peer.jwks, &peer.log_key).map_err(|e| e.to_string())?;
        let ok = r.message_id == row.id
            && r.envelope_sha256 == sha256_b64(row.envelope.as_bytes())
            && r.ciphertext_sha256 == sha256_b64(&row.ciphertext)
            && r.recipient_node == row.recipient_node;
        if ok { Ok(()) } else { Err("it does not describe what was sent".into()) }
    }

    /// Settle the attempt on claimed `row` — only if the row is still that claim (`sent`, same attempt
    /// count): an attempt that outlived its lease must not overwrite a later attempt's outcome.
    pub(super) async fn settle(
        &self,
        row: &repo::OutRow,
        status: OutboxStatus,
        next: i64,
        error: Option<&str>,
        receipt: Option<&str>,
        at: i64,
    ) -> Result<(), MsgError> {
        let id = row.id.as_str();
        let op = writer::Op::Settle {
            id: id.to_owned(),
            claim: Some(row.attempts),
            status: status.as_str(),
            next,
            error: error.map(clean),
            receipt: receipt.map(str::to_owned),
            at,
        };
        let applied = self.writer.write(op).await.map_err(MsgError::Internal)?;
        if applied && status != OutboxStatus::Queued {
            // Delivered, failed or expired: the encrypted attachments are not needed any more.
            self.files.remove_outbox(id).await;
        }
        if let Some(events) = &self.events
            && status != OutboxStatus::Queued
        {
            // The case the message belongs to travels on (the node links a delivered message to it).
            let envelope = Envelope::peek(&row.envelope).ok();
            let case_id = envelope.as_ref().and_then(|e| e.case_id.clone());
            let message_type = envelope.map(|e| e.message_type);
            events.message_status(
                id,
                status.as_str(),
                serde_json::json!({"error": error, "caseId": case_id, "messageType": message_type}),
            );
        }
        Ok(())
    }

    pub(super) async fn retry_or_fail(&self, row: &repo::OutRow, why: &str, at: i64) -> Result<(), MsgError> {
        let next = at + backoff(row.attempts);
        let stamp = ena_core::time::unix_ms_now();
        if next >= row.expires_at {
            self.settle(&row, OutboxStatus::Expired, at, Some(why), None, stamp).await?;
            return self.log_outcome(&row.id, "messages.expired", AuditResult::Failed, Some(why.to_owned())).await;
        }
        tracing::info!(message = %row.id, attempts = row.attempts, retry_in = next - at, reason = %why, "delivery will be retried");
        self.settle(&row, OutboxStatus::Queued, next, Some(why), None, stamp).await
    }

    pub(super) async fn log_outcome(
        &self,
        id: &str,
        action: &str,
        result: AuditResult,
        reason: Option<String>,
    ) -> Result<(), MsgError> {
        let event = Context::system(&self.me.entity_id).event(
            action,
            Some(ObjectRef { kind: "message".into(), id: id.into() }),
            result,
            reason,
        );
        self.audit.append(vec![event]).await.map_err(|e| MsgError::Internal(e.to_string()))?;
        Ok(())
    }
}
