//! FaR, the recipient registry: signed changes (a company's collected per its firmateckning), a
//! recipient's registration as they see it, and reachability for senders.

use std::collections::{BTreeMap, HashMap, HashSet};

use ena_audit::event::{ObjectRef, Result as AuditResult};
use ena_audit::{AuditSink, Context};
use ena_core::{FieldError, Organisationsnummer, PersonId};
use serde_json::{Value, json};

use crate::model::*;
use crate::{Mail, repo};

/// A signed statement must reach FaR within this many seconds of being made.
const STATEMENT_TTL: i64 = 600;
/// At most this many bad ids are named in one refusal.
const NAMED_ERRORS: usize = 20;

impl Mail {
    /// The statement `signer` signs for `change` of `recipient` at `at`: the exact text (JSON) whose
    /// SHA-256 the signature service signs and FaR keeps with the signature.
    pub fn statement(&self, signer: &PersonId, recipient: &Recipient, change: &Change, at: i64) -> String {
        json!({
            "type": "ena-mail-registration-change",
            "recipient": recipient.as_str(),
            "change": change.key(),
            "signer": signer.as_str(),
            "signedAt": ena_core::time::rfc3339_of(at),
        })
        .to_string()
    }

    /// Parse what a form or an API body asks, naming the field of anything wrong.
    pub async fn parse_change(
        &self,
        action: &str,
        operator: Option<&str>,
        sender: Option<&str>,
    ) -> Result<Change, MailError> {
        let sender_of = |s: Option<&str>| -> Result<String, MailError> {
            let s = s.unwrap_or_default();
            Organisationsnummer::parse(s)
                .map(|o| o.as_str().to_owned())
                .map_err(|e| invalid("sender", s, format!("{e}: the sending organisation's number")))
        };
        match action {
            "register" => {
                let op = operator.unwrap_or_default();
                if op.is_empty() {
                    return Err(invalid("operator", "(missing)", "the entity id of a mailbox operator"));
                }
                self.operators.operator(op).await.map_err(|why| {
                    invalid("operator", op, format!("not a mailbox operator in good standing: {why}"))
                })?;
                Ok(Change::Register { operator: op.to_owned() })
            }
            "deregister" => Ok(Change::Deregister),
            "block" => Ok(Change::Block { sender: sender_of(sender)? }),
            "unblock" => Ok(Change::Unblock { sender: sender_of(sender)? }),
            other => Err(invalid("action", other, "register, deregister, block or unblock")),
        }
    }

    /// May `viewer` see `recipient`'s registration and its history: themself, or a company they hold a
    /// register role in (signatory, CEO, board).
    pub fn may_view(&self, viewer: &PersonId, recipient: &Recipient) -> Result<(), MailError> {
        let may = match recipient {
            Recipient::Person(p) => p == viewer,
            Recipient::Organisation(org) => {
                self.representation.company(org).is_some_and(|c| !c.roles_of(viewer.as_str()).is_empty())
            }
        };
        if may {
            Ok(())
        } else {
            Err(MailError::Forbidden(
                "only the person themself, or a company's signatories, CEO and board, see a registration".into(),
            ))
        }
    }

    /// Who binds `recipient`: the person themself, or a company's signatories per its firmateckning
    /// (persons who may sign, and how many distinct ones a change needs). Refused for anyone else.
    fn binding(&self, signer: &PersonId, recipient: &Recipient) -> Result<(Vec<String>, usize), MailError> {
        match recipient {
            Recipient::Person(p) if p == signer => Ok((vec![p.as_str().to_owned()], 1)),
            Recipient::Person(_) => {
                Err(MailError::Forbidden("only the person themself registers for digital mail".into()))
            }
            Recipient::Organisation(org) => {
                let company = self
                    .representation
                    .company(org)
                    .ok_or_else(|| invalid("recipient", org, "not in the company register"))?;
                if !company.can_bind(signer.as_str()) {
                    return Err(MailError::Forbidden(format!(
                        "only {}'s signatories (firmateckning: {:?}) change its registration",
                        company.name, company.signing_rule
                    )));
                }
                let (who, needed) = company.binding();
                Ok((who.to_vec(), needed))
            }
        }
    }

    /// Make a signed change: checked (who may, what is asked, the statement is the one for this change
    /// and fresh), then applied — or, for a company whose firmateckning needs more signatories, kept
    /// until they have signed too. Every signature is kept and logged.
    pub async fn change(
        &self,
        ctx: &Context,
        signer: &PersonId,
        recipient: &Recipient,
        change: Change,
        signed: Signed,
    ) -> Result<Outcome, MailError> {
        let (signers, needed) = match self.binding(signer, recipient) {
            Ok(b) => b,
            Err(e) => {
                self.log_change(ctx, recipient, &change, AuditResult::Denied, Some(e.to_string())).await?;
                return Err(e);
            }
        };
        let now = ena_core::time::unix_now();
        self.check_statement(signer, recipient, &change, &signed.statement, now)?;
        let current = repo::get(&self.store, recipient.as_str()).await?;
        match (&change, &current) {
            (Change::Deregister | Change::Block { .. } | Change::Unblock { .. }, None) => {
                return Err(MailError::Conflict(format!(
                    "{} is not registered for digital mail",
                    recipient_ref(recipient)
                )));
            }
            (Change::Register { operator }, Some(r)) if &r.operator == operator => {
                return Err(MailError::Conflict(format!("already registered with {operator}")));
            }
            _ => {}
        }
        let key = change.key();
        let waiting: Vec<repo::ChangeRow> = repo::pending(&self.store, recipient.as_str(), now - PENDING_DAYS * 86_400)
            .await?
            .into_iter()
            .filter(|c| c.change_key == key)
            .collect();
        if waiting.iter().any(|c| c.signer == signer.as_str()) {
            return Err(MailError::Conflict(format!(
                "you have signed this change already; it waits for {} more signature(s)",
                needed.saturating_sub(distinct(&waiting))
            )));
        }
        let row = repo::ChangeRow {
            id: uuid::Uuid::now_v7().to_string(),
            recipient: recipient.as_str().to_owned(),
            change_key: key.clone(),
            signer: signer.as_str().to_owned(),
            statement: signed.statement,
            signature: signed.signature,
            signed_at: now,
            applied_at: None,
        };
        if distinct(&waiting) + 1 < needed {
            repo::add_signature(&self.store, &row).await?;
            self.log_change(
                ctx,
                recipient,
                &change,
                AuditResult::Allowed,
                Some("signed; waits for more signatories".into()),
            )
            .await?;
            let mut signed_by: Vec<String> = waiting.into_iter().map(|c| c.signer).collect();
            signed_by.push(row.signer);
            let possible_signers = signers.into_iter().filter(|s| !signed_by.contains(s)).collect();
            let missing = needed - signed_by.len();
            return Ok(Outcome::Incomplete { pending: Pending { change: key, signed_by, missing, possible_signers } });
        }
        let completes: Vec<String> = waiting.into_iter().map(|c| c.id).collect();
        repo::apply(&self.store, recipient.kind(), &change, &row, &completes).await?;
        self.log_change(ctx, recipient, &change, AuditResult::Allowed, None).await?;
        Ok(Outcome::Done { registration: self.registration(recipient).await? })
    }

    fn check_statement(
        &self,
        signer: &PersonId,
        recipient: &Recipient,
        change: &Change,
        statement: &str,
        now: i64,
    ) -> Result<(), MailError> {
        let parsed: Value = serde_json::from_str(statement)
            .map_err(|e| invalid("statement", "(given)", format!("not the JSON statement FaR made: {e}")))?;
        let at = parsed["signedAt"].as_str().and_then(|t| ena_core::Timestamp::parse_rfc3339(t)).map(|t| t.unix());
        let expected = at.map(|at| self.statement(signer, recipient, change, at));
        match (at, expected) {
            (Some(at), Some(e)) if e == statement && (now - at).abs() <= STATEMENT_TTL => Ok(()),
            (Some(at), Some(e)) if e == statement => Err(invalid(
                "statement",
                &ena_core::time::rfc3339_of(at),
                format!("signed more than {STATEMENT_TTL} s ago: sign the change again"),
            )),
            _ => Err(invalid("statement", "(given)", "is not the statement of this change by this signer")),
        }
    }

    async fn log_change(
        &self,
        ctx: &Context,
        recipient: &Recipient,
        change: &Change,
        result: AuditResult,
        reason: Option<String>,
    ) -> Result<(), MailError> {
        let mut event = ctx.event(
            &format!("mail.registration.{}", change.action()),
            Some(ObjectRef { kind: "mail-recipient".into(), id: recipient_ref(recipient) }),
            result,
            reason,
        );
        if recipient.is_person() {
            event.data_subjects.push(recipient.as_str().to_owned());
        }
        event.details = Some(BTreeMap::from([("change".to_owned(), change.key())]));
        self.record(event).await
    }

    pub(crate) async fn record(&self, event: ena_audit::AuditEvent) -> Result<(), MailError> {
        self.audit.record(vec![event]).await.map(|_| ()).map_err(|e| MailError::Internal(e.to_string()))
    }

    /// `recipient`'s entry as they (or whoever acts for them) see it; `None` when not registered and
    /// nothing waits for signatures.
    pub async fn registration(&self, recipient: &Recipient) -> Result<Option<Registration>, MailError> {
        let now = ena_core::time::unix_now();
        let waiting = repo::pending(&self.store, recipient.as_str(), now - PENDING_DAYS * 86_400).await?;
        let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for c in waiting {
            by_key.entry(c.change_key).or_default().push(c.signer);
        }
        let (signers, needed) = match recipient {
            Recipient::Organisation(org) => {
                self.representation.company(org).map(|c| (c.binding().0.to_vec(), c.binding().1)).unwrap_or((vec![], 1))
            }
            Recipient::Person(p) => (vec![p.as_str().to_owned()], 1),
        };
        let pending: Vec<Pending> = by_key
            .into_iter()
            .map(|(change, signed_by)| Pending {
                missing: needed.saturating_sub(signed_by.len()),
                possible_signers: signers.iter().filter(|s| !signed_by.contains(s)).cloned().collect(),
                change,
                signed_by,
            })
            .collect();
        let Some(row) = repo::get(&self.store, recipient.as_str()).await? else {
            return Ok((!pending.is_empty()).then(|| Registration {
                recipient: recipient.as_str().to_owned(),
                kind: recipient.kind().into(),
                status: RegistrationStatus::Pending,
                operator: String::new(),
                operator_details: None,
                registered_at: String::new(),
                updated_at: String::new(),
                blocked_senders: vec![],
                pending,
            }));
        };
        Ok(Some(Registration {
            operator_details: self.operators.operator(&row.operator).await.ok(),
            blocked_senders: repo::blocked_by(&self.store, &row.id).await?,
            recipient: row.id,
            kind: row.kind,
            status: RegistrationStatus::Active,
            operator: row.operator,
            registered_at: ena_core::time::rfc3339_of(row.registered_at),
            updated_at: ena_core::time::rfc3339_of(row.updated_at),
            pending,
        }))
    }

    /// The signed changes of `recipient`, newest first (statement, signer, signature, when applied).
    pub async fn changes(
        &self,
        recipient: &Recipient,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<SignedChange>, MailError> {
        Ok(repo::changes(&self.store, recipient.as_str(), limit, offset)
            .await?
            .into_iter()
            .map(|c| SignedChange {
                change: c.change_key,
                signer: c.signer,
                statement: c.statement,
                signature: c.signature,
                signed_at: ena_core::time::rfc3339_of(c.signed_at),
                applied_at: c.applied_at.map(ena_core::time::rfc3339_of),
            })
            .collect())
    }

    /// Reachability for `sender` (the asking member's organisation, canonical): for each id, whether
    /// digital mail from this sender will be delivered, at which operator, and whether a representative
    /// may read it; why not (paper) otherwise. Ids must be canonical; at most [`MAX_REACHABILITY`].
    pub async fn reachability(&self, ctx: &Context, sender: &str, ids: &[String]) -> Result<Vec<Reach>, MailError> {
        if ids.len() > MAX_REACHABILITY {
            return Err(invalid(
                "ids",
                &format!("({} ids)", ids.len()),
                format!("at most {MAX_REACHABILITY} ids per call: split the list"),
            ));
        }
        let mut errors = Vec::new();
        let mut parsed = Vec::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            match Recipient::canonical(&format!("ids/{i}"), id) {
                Ok(r) => parsed.push(r),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            let n = errors.len();
            errors.truncate(NAMED_ERRORS);
            if n > NAMED_ERRORS {
                errors.push(FieldError::new("ids", &format!("({n} bad ids)"), "only the first 20 are named"));
            }
            return Err(MailError::Invalid(errors));
        }
        let mut unique: Vec<&str> = parsed.iter().map(Recipient::as_str).collect();
        unique.sort_unstable();
        unique.dedup();
        // Who is registered, who blocks this sender, and which persons have a representative who reads
        // their mail — all three at once (the last over every person asked: a few more probes, but no
        // wait for the first two).
        let mut persons: Vec<String> = parsed.iter().filter(|r| r.is_person()).map(|r| r.as_str().to_owned()).collect();
        persons.sort_unstable();
        persons.dedup();
        let (registered, blocking, represented) = tokio::join!(
            repo::among(&self.store, &unique),
            repo::blocking(&self.store, sender, &unique),
            self.representation.represented_among(&persons, PERSON_RIGHTS)
        );
        let (registered, blocking) = (registered?, blocking?);
        let represented: HashSet<String> = represented.map_err(|e| MailError::Internal(e.to_string()))?;
        let mut operators: HashMap<&str, Option<Operator>> = HashMap::new();
        for r in registered.values() {
            if !operators.contains_key(r.operator.as_str()) {
                operators.insert(&r.operator, self.operators.operator(&r.operator).await.ok());
            }
        }
        let answers: Vec<Reach> = parsed
            .iter()
            .map(|r| {
                let id = r.as_str();
                let paper = |why| Reach {
                    id: id.to_owned(),
                    reachable: false,
                    paper: Some(why),
                    operator: None,
                    read_by_representatives: false,
                };
                let Some(row) = registered.get(id) else { return paper(PaperReason::NotRegistered) };
                if blocking.contains(id) {
                    return paper(PaperReason::SenderBlocked);
                }
                let Some(Some(operator)) = operators.get(row.operator.as_str()) else {
                    return paper(PaperReason::OperatorUnavailable);
                };
                Reach {
                    id: id.to_owned(),
                    reachable: true,
                    paper: None,
                    operator: Some(operator.clone()),
                    read_by_representatives: !r.is_person() || represented.contains(id),
                }
            })
            .collect();
        let mut event = ctx.event(
            "mail.reachability",
            Some(ObjectRef { kind: "organisation".into(), id: sender.to_owned() }),
            AuditResult::Allowed,
            None,
        );
        let reachable = answers.iter().filter(|a| a.reachable).count();
        event.details = Some(BTreeMap::from([
            ("ids".to_owned(), ids.len().to_string()),
            ("reachable".to_owned(), reachable.to_string()),
        ]));
        self.record(event).await?;
        Ok(answers)
    }
}

fn distinct(rows: &[repo::ChangeRow]) -> usize {
    rows.iter().map(|c| c.signer.as_str()).collect::<HashSet<_>>().len()
}

/// A recipient in an event's object or a message: an organisation as itself, a person masked (the event
/// names the person as its data subject, where the operator alone reads it).
fn recipient_ref(r: &Recipient) -> String {
    match r {
        Recipient::Person(p) => format!("{p:?}"),
        Recipient::Organisation(o) => o.clone(),
    }
}
