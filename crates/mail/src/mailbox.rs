//! The built-in mailbox (the *Min myndighetspost* role): messages delivered to this installation's
//! operator, read in Mina sidor by the recipient and by whoever may read their mail, with each viewer's
//! read marks and folders, receipts on first opening when the sender asked, and retention.

use std::collections::BTreeMap;

use ena_audit::event::{ObjectRef, Result as AuditResult};
use ena_audit::{ActorKind, Context};
use ena_core::FieldError;

use crate::model::*;
use crate::{Mail, markdown, repo};

pub const MAX_SUBJECT: usize = 200;
pub const MAX_BODY: usize = 100_000;
const ACTIONS: &[&str] = &["pay", "sign", "book", "respond", "confirm"];
const OBJECTS: &[&str] = &["person", "organisation", "property", "vehicle"];

/// Check a message as a sender wrote it, naming every bad field; `max_attachment` is the operator's.
pub fn check_input(m: &MailInput, max_attachment: u64) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Err(e) = Recipient::canonical("recipient", &m.recipient) {
        errors.push(e);
    }
    let chars = |s: &str| s.chars().count();
    if m.subject.trim().is_empty() || chars(&m.subject) > MAX_SUBJECT {
        errors.push(FieldError::new("subject", &short(&m.subject), format!("1 to {MAX_SUBJECT} characters")));
    }
    if m.subject.chars().any(char::is_control) {
        errors.push(FieldError::new("subject", &short(&m.subject), "one line, no control characters"));
    }
    if chars(&m.body) > MAX_BODY {
        errors.push(FieldError::new("body", "(too long)", format!("at most {MAX_BODY} characters")));
    }
    if let Some(l) = &m.language
        && (l.len() < 2 || l.len() > 8 || !l.chars().all(|c| c.is_ascii_alphabetic() || c == '-'))
    {
        errors.push(FieldError::new("language", l, "a language tag such as sv or en"));
    }
    if let Some(url) = m.support.as_ref().and_then(|s| s.url.as_deref())
        && !url.starts_with("https://")
    {
        errors.push(FieldError::new("support/url", url, "an https URL"));
    }
    if let Some(c) = &m.case_id
        && (c.is_empty() || c.len() > 64)
    {
        errors.push(FieldError::new("caseId", c, "the case's id in Mina ärenden"));
    }
    for (i, o) in m.objects.iter().enumerate() {
        if !OBJECTS.contains(&o.kind.as_str()) {
            errors.push(FieldError::new(&format!("objects/{i}/kind"), &o.kind, OBJECTS.join(", ")));
        }
        if o.id.trim().is_empty() || o.id.len() > 100 {
            errors.push(FieldError::new(&format!("objects/{i}/id"), &short(&o.id), "1 to 100 characters"));
        }
    }
    for (i, d) in m.documents.iter().enumerate() {
        if d.title.trim().is_empty() || chars(&d.title) > MAX_SUBJECT {
            errors.push(FieldError::new(&format!("documents/{i}/title"), &short(&d.title), "1 to 200 characters"));
        }
        if let Some(a) = d.attachment
            && a >= m.attachments.len()
        {
            errors.push(FieldError::new(
                &format!("documents/{i}/attachment"),
                &a.to_string(),
                "an index in attachments",
            ));
        }
        for (j, a) in d.actions.iter().enumerate() {
            let at = format!("documents/{i}/actions/{j}");
            if !ACTIONS.contains(&a.kind.as_str()) {
                errors.push(FieldError::new(&format!("{at}/kind"), &a.kind, ACTIONS.join(", ")));
            }
            if !a.url.starts_with("https://") || !markdown::safe_url(&a.url) {
                errors.push(FieldError::new(
                    &format!("{at}/url"),
                    &short(&a.url),
                    "an https URL of the sender's service",
                ));
            }
            if a.title.trim().is_empty() || chars(&a.title) > 100 {
                errors.push(FieldError::new(&format!("{at}/title"), &short(&a.title), "1 to 100 characters"));
            }
            if let Some(due) = &a.due
                && ena_core::Timestamp::parse_rfc3339(due).is_none()
                && !is_date(due)
            {
                errors.push(FieldError::new(&format!("{at}/due"), due, "an RFC 3339 date or time"));
            }
        }
    }
    for (i, a) in m.attachments.iter().enumerate() {
        let at = format!("attachments/{i}");
        if a.name.trim().is_empty()
            || a.name.len() > 200
            || a.name.contains(['/', '\\'])
            || a.name.chars().any(char::is_control)
        {
            errors.push(FieldError::new(&format!("{at}/name"), &short(&a.name), "a file name (no path)"));
        }
        if !a.media_type.contains('/') || a.media_type.len() > 100 {
            errors.push(FieldError::new(
                &format!("{at}/mediaType"),
                &short(&a.media_type),
                "a media type such as application/pdf",
            ));
        }
        if a.size > max_attachment {
            errors.push(FieldError::new(
                &format!("{at}/size"),
                &a.size.to_string(),
                format!("the recipient's mailbox takes at most {max_attachment} bytes per attachment"),
            ));
        }
        if a.sha256.len() != 43 || !a.sha256.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            errors.push(FieldError::new(
                &format!("{at}/sha256"),
                &short(&a.sha256),
                "the file's SHA-256, base64url (43 characters)",
            ));
        }
    }
    if let Some(t) = &m.expires_at
        && ena_core::Timestamp::parse_rfc3339(t).is_none_or(|t| t.unix() <= ena_core::time::unix_now())
    {
        errors.push(FieldError::new("expiresAt", t, "an RFC 3339 time in the future"));
    }
    errors
}

fn is_date(s: &str) -> bool {
    ena_core::Timestamp::parse_rfc3339(&format!("{s}T00:00:00Z")).is_some()
}

fn short(s: &str) -> String {
    if s.chars().count() > 60 { format!("{}…", s.chars().take(60).collect::<String>()) } else { s.to_owned() }
}

impl Mail {
    /// Take a delivered message into the mailbox of operator `own` (its entity id), which takes
    /// attachments of at most `max_attachment` bytes: only for a recipient registered with it who does
    /// not block the sender, and only a message that passes the checks. A repeated delivery is the
    /// message stored the first time (`false`).
    pub async fn accept(
        &self,
        ctx: &Context,
        own: &str,
        max_attachment: u64,
        d: Delivery,
    ) -> Result<(Message, bool), MailError> {
        if let Some(row) = repo::message_by_reference(&self.store, &d.reference).await? {
            return Ok((self.view(row, None, true)?, false));
        }
        let errors = check_input(&d.input, max_attachment);
        if !errors.is_empty() {
            return Err(MailError::Invalid(errors));
        }
        let recipient = d.input.recipient.clone();
        let refused = match repo::get(&self.store, &recipient).await? {
            None => Some("the recipient is not registered for digital mail"),
            Some(r) if r.operator != own => Some("the recipient's mail goes to another operator"),
            Some(_) if !repo::blocking(&self.store, &d.sender, &[recipient.as_str()]).await?.is_empty() => {
                Some("the recipient does not accept digital mail from this sender")
            }
            Some(_) => None,
        };
        if let Some(why) = refused {
            self.log_message(
                ctx,
                "mail.message.deliver",
                &d.reference,
                &recipient,
                AuditResult::Denied,
                Some(why.into()),
            )
            .await?;
            return Err(MailError::Forbidden(why.into()));
        }
        let now = ena_core::time::unix_now();
        let row = repo::MessageRow {
            id: uuid::Uuid::now_v7().to_string(),
            recipient: recipient.clone(),
            sender: d.sender,
            sender_name: d.sender_name,
            subject: d.input.subject.clone(),
            case_id: d.input.case_id.clone(),
            recipient_only: i64::from(d.input.visibility == Visibility::RecipientOnly),
            reply_allowed: i64::from(d.input.reply_allowed),
            receipt: d.input.receipt.as_str().to_owned(),
            expires_at: d.input.expires_at.as_deref().and_then(ena_core::Timestamp::parse_rfc3339).map(|t| t.unix()),
            in_reply_to: d.input.in_reply_to.clone(),
            content: serde_json::to_string(&Content { input: d.input, evidence: d.evidence })
                .map_err(|e| MailError::Internal(e.to_string()))?,
            delivery_ref: d.reference.clone(),
            received_at: now,
            first_opened_at: None,
        };
        let created = repo::insert_message(&self.store, &row).await?;
        let row = if created {
            self.log_message(ctx, "mail.message.deliver", &row.id, &recipient, AuditResult::Allowed, None).await?;
            row
        } else {
            repo::message_by_reference(&self.store, &d.reference)
                .await?
                .ok_or_else(|| MailError::Internal("a delivered message vanished".into()))?
        };
        Ok((self.view(row, None, true)?, created))
    }

    async fn log_message(
        &self,
        ctx: &Context,
        action: &str,
        message: &str,
        recipient: &str,
        result: AuditResult,
        reason: Option<String>,
    ) -> Result<(), MailError> {
        let mut event =
            ctx.event(action, Some(ObjectRef { kind: "mail-message".into(), id: message.to_owned() }), result, reason);
        if !recipient.starts_with("16") {
            event.data_subjects.push(recipient.to_owned());
        }
        self.record(event).await
    }

    fn view(
        &self,
        row: repo::MessageRow,
        mark: Option<(Option<i64>, String)>,
        own: bool,
    ) -> Result<Message, MailError> {
        let content: Content = serde_json::from_str(&row.content).map_err(|e| MailError::Internal(e.to_string()))?;
        let i = content.input;
        let body_html = match i.body_format {
            BodyFormat::Markdown => markdown::to_html(&i.body),
            BodyFormat::Text => markdown::escape(&i.body).replace('\n', "<br>"),
        };
        let (read_at, folder) = mark.unwrap_or((None, "inbox".into()));
        Ok(Message {
            id: row.id,
            recipient: row.recipient,
            sender: row.sender,
            sender_name: row.sender_name,
            subject: i.subject,
            body: i.body,
            body_format: i.body_format,
            body_html,
            language: i.language,
            support: i.support,
            case_id: i.case_id,
            objects: i.objects,
            documents: i.documents,
            attachments: i.attachments,
            reply_allowed: i.reply_allowed,
            visibility: i.visibility,
            receipt: i.receipt,
            received_at: ena_core::time::rfc3339_of(row.received_at),
            expires_at: row.expires_at.map(ena_core::time::rfc3339_of),
            in_reply_to: i.in_reply_to,
            read: read_at.is_some(),
            folder: Folder::parse(&folder).unwrap_or_default(),
            as_representative: !own,
            replies: Vec::new(),
        })
    }

    /// A page of the messages `viewer` may read in `folder` — their own and those of every party in
    /// `scopes` (recipient-only messages only where the scope is their own) — newest first.
    pub async fn list(
        &self,
        viewer: &str,
        scopes: &[MailScope],
        folder: Folder,
        unread_only: bool,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<Message>, MailError> {
        let own: Vec<&str> = scopes.iter().filter(|s| s.own).map(|s| s.party.as_str()).collect();
        let others: Vec<&str> = scopes.iter().filter(|s| !s.own).map(|s| s.party.as_str()).collect();
        let rows = repo::list(
            &self.store,
            viewer,
            &own,
            &others,
            folder.as_str(),
            unread_only,
            ena_core::time::unix_now(),
            limit,
            offset,
        )
        .await?;
        rows.into_iter()
            .map(|(row, read_at, folder)| {
                let own = own.contains(&row.recipient.as_str());
                self.view(row, Some((read_at, folder.unwrap_or_else(|| "inbox".into()))), own)
            })
            .collect()
    }

    /// Open a message: only one `viewer` may read per `scopes`; the reading is recorded (a
    /// representative's read is its own audit event), the viewer's read mark set, and the first opening
    /// of a message whose sender asked for a signed receipt noted for the receipt.
    pub async fn open(
        &self,
        ctx: &Context,
        viewer: &str,
        scopes: &[MailScope],
        id: &str,
    ) -> Result<Message, MailError> {
        let (row, own) = self.readable(scopes, id).await?;
        let now = ena_core::time::unix_now();
        let action = if own { "mail.message.open" } else { "mail.message.read-by-representative" };
        let mut event = ctx.event(
            action,
            Some(ObjectRef { kind: "mail-message".into(), id: id.to_owned() }),
            AuditResult::Allowed,
            None,
        );
        if !row.recipient.starts_with("16") {
            event.data_subjects.push(row.recipient.clone());
        }
        if ctx.actor.kind == ActorKind::Person && !own {
            event.details = Some(BTreeMap::from([("readFor".to_owned(), row.recipient.clone())]));
        }
        self.record(event).await?;
        repo::mark(&self.store, viewer, &[row.id.as_str()], Some(Some(now)), None).await?;
        if repo::first_open(&self.store, &row.id, now).await? && row.receipt == ReceiptMode::Signed.as_str() {
            repo::add_receipt(&self.store, &row.id, "opened", now, "{}").await?;
        }
        let mark = repo::mark_of(&self.store, &row.id, viewer).await?;
        let replies = repo::replies(&self.store, &row.id).await?;
        let mut message = self.view(row, mark, own)?;
        message.replies = replies.into_iter().map(ReplyView::of).collect();
        Ok(message)
    }

    /// Reply to a message that allows replies, as `author` (the recipient, or a representative who may read
    /// it): kept here and handed to the operator's node, which sends it to the letter's sender.
    pub async fn reply(
        &self,
        ctx: &Context,
        author: &str,
        scopes: &[MailScope],
        id: &str,
        body: &str,
    ) -> Result<ReplyView, MailError> {
        let (row, _) = self.readable(scopes, id).await?;
        if row.reply_allowed != 1 {
            return Err(MailError::Invalid(vec![FieldError::new(
                "messageId",
                id,
                "the sender does not take replies to this message",
            )]));
        }
        let body = body.trim();
        if body.is_empty() || body.chars().count() > 20_000 {
            return Err(MailError::Invalid(vec![FieldError::new("body", "…", "1 to 20 000 characters")]));
        }
        let reply = repo::ReplyRow {
            id: uuid::Uuid::now_v7().to_string(),
            message_id: row.id.clone(),
            author: author.to_owned(),
            body: body.to_owned(),
            created_at: ena_core::time::unix_now(),
            sent_message: None,
            attempts: 0,
        };
        repo::insert_reply(&self.store, &reply).await?;
        self.log_message(ctx, "mail.message.reply", &row.id, &row.recipient, AuditResult::Allowed, None).await?;
        Ok(ReplyView::of(reply))
    }

    async fn readable(&self, scopes: &[MailScope], id: &str) -> Result<(repo::MessageRow, bool), MailError> {
        let not_found = || MailError::NotFound(format!("no message {id} among yours"));
        let row = repo::message(&self.store, id).await?.ok_or_else(not_found)?;
        let own = may_read(scopes, &row).ok_or_else(not_found)?;
        Ok((row, own))
    }

    /// Attachment `n` of a message `viewer` may read: the delivery it came with (the operator node holds
    /// the file under that message id) and what the letter says of it. The download is recorded.
    pub async fn attachment(
        &self,
        ctx: &Context,
        scopes: &[MailScope],
        id: &str,
        n: usize,
    ) -> Result<(String, AttachmentInfo), MailError> {
        let (row, _) = self.readable(scopes, id).await?;
        let content: Content = serde_json::from_str(&row.content).map_err(|e| MailError::Internal(e.to_string()))?;
        let info = content
            .input
            .attachments
            .get(n)
            .cloned()
            .ok_or_else(|| MailError::NotFound(format!("message {id} has no attachment {n}")))?;
        self.log_message(ctx, "mail.attachment.read", &row.id, &row.recipient, AuditResult::Allowed, None).await?;
        Ok((row.delivery_ref, info))
    }

    /// Mark messages read or unread, or move them to a folder (bulk); every id must be one the viewer
    /// may read, else nothing changes and the first stranger is named.
    pub async fn mark(
        &self,
        viewer: &str,
        scopes: &[MailScope],
        ids: &[String],
        read: Option<bool>,
        folder: Option<Folder>,
    ) -> Result<u64, MailError> {
        if ids.is_empty() || ids.len() > 500 {
            return Err(invalid("messageIds", &ids.len().to_string(), "1 to 500 message ids"));
        }
        let found = repo::messages(&self.store, ids).await?;
        for (i, id) in ids.iter().enumerate() {
            if found.get(id).and_then(|row| may_read(scopes, row)).is_none() {
                return Err(invalid(&format!("messageIds/{i}"), id, "not a message of yours"));
            }
        }
        let now = ena_core::time::unix_now();
        let read = read.map(|r| r.then_some(now));
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        repo::mark(&self.store, viewer, &ids, read, folder.map(Folder::as_str)).await?;
        Ok(ids.len() as u64)
    }

    /// Remove messages past their expiry, and those received more than `retention_days` ago.
    pub async fn purge(&self, retention_days: i64) -> Result<u64, MailError> {
        let now = ena_core::time::unix_now();
        Ok(repo::purge(&self.store, now, now - retention_days * 86_400).await?)
    }
}

/// Whether `row` is readable under `scopes` now: `Some(own)` (the viewer's own mail, or a party's they
/// read for), `None` when not theirs, recipient-only for a representative, or expired.
fn may_read(scopes: &[MailScope], row: &repo::MessageRow) -> Option<bool> {
    let scope = scopes.iter().find(|s| s.party == row.recipient)?;
    let hidden =
        (!scope.own && row.recipient_only == 1) || row.expires_at.is_some_and(|t| t <= ena_core::time::unix_now());
    (!hidden).then_some(scope.own)
}

/// What is stored of a message beyond its query columns.
#[derive(serde::Serialize, serde::Deserialize)]
struct Content {
    input: MailInput,
    evidence: serde_json::Value,
}
