//! Mina ärenden: the cases an organisation (an agency, a municipality) keeps for a party — a person or an
//! organisation — in one model every organisation writes to and every party reads from.
//!
//! A case has a status (only allowed transitions), texts per language with a non-sensitive variant for
//! notifications, dates (`visibleFrom`, `dueAt`, `expiresAt`), a **committed expected-decision date**
//! whose every move needs a reason and is kept (the party sees the history; a case past its date without
//! a decision is overdue), immutable transmissions (a correction is a new one, threaded by
//! `relatedTransmissionId`), an activity history and a seen-log written here and never edited, and GUI
//! and API actions that point to the organisation's own service. Each change raises the revision (the
//! ETag); a stale `If-Match` is refused. Creating with the same idempotency key returns the same case.
//!
//! Who may write is decided by the caller's organisation (only the owner writes its cases); who may read
//! a party's cases is decided outside (Mina ombud gives the parties and services a person acts for) and
//! passed in as [`Scope`]s. Every read and change is an audit event with the party as data subject when
//! the party is a person.

mod check;
pub mod events;
mod model;
pub mod repo;
#[cfg(test)]
mod tests;

use ena_audit::event::{ObjectRef, Result as AuditResult};
use ena_audit::{AuditSink, Context};
use ena_core::FieldError;
use ena_store::Store;

pub use crate::check::{MAX_TEXT, MAX_TITLE};
use crate::check::{check_actions, check_texts, short, time_of};
pub use crate::model::*;
use crate::model::{Body, invalid};

/// The block.
#[derive(Clone)]
pub struct Cases {
    store: Store,
}

impl Cases {
    pub fn new(store: Store) -> Cases {
        Cases { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Record `action` on `case` (the party a data subject when a person).
    #[allow(clippy::too_many_arguments)]
    async fn log(
        &self,
        audit: &dyn AuditSink,
        ctx: &Context,
        action: &str,
        case: &str,
        party: Option<&str>,
        result: AuditResult,
        reason: Option<String>,
    ) -> Result<(), CaseError> {
        let mut event = ctx.event(action, Some(ObjectRef { kind: "case".into(), id: case.into() }), result, reason);
        if let Some(p) = party
            && is_person(p)
        {
            event.data_subjects.push(p.to_owned());
        }
        audit.record(vec![event]).await.map(|_| ()).map_err(|e| CaseError::Internal(e.to_string()))
    }

    /// Create a case for a party; the same idempotency key again returns the case already made.
    pub async fn create(
        &self,
        audit: &dyn AuditSink,
        ctx: &Context,
        agency: &Agency,
        input: CaseInput,
    ) -> Result<(Case, bool), CaseError> {
        let mut errors = Vec::new();
        let party = match &input.party {
            Some(p) => match p.canonical("party") {
                Ok(id) => Some((p.kind.clone(), id)),
                Err(CaseError::Invalid(e)) => {
                    errors.extend(e);
                    None
                }
                Err(e) => return Err(e),
            },
            None => {
                errors.push(FieldError::new("party", "(missing)", "{kind: person|organisation, id}"));
                None
            }
        };
        if input.service.is_empty() || input.service.len() > 128 {
            errors.push(FieldError::new(
                "service",
                &input.service,
                "the service the case belongs to, e.g. kommun/mina-arenden",
            ));
        }
        let Some(status) = input.status else {
            errors.push(FieldError::new("status", "(missing)", format!("one of {}", CaseStatus::words())));
            return Err(CaseError::Invalid(errors));
        };
        check_texts("title", &input.title, true, MAX_TITLE, &mut errors);
        check_texts("summary", &input.summary, false, MAX_TEXT, &mut errors);
        check_texts("additionalInfo", &input.additional_info, false, MAX_TEXT, &mut errors);
        check_texts("noticeTitle", &input.notice_title, false, MAX_TITLE, &mut errors);
        check_actions("guiActions", &input.gui_actions, true, &mut errors);
        check_actions("apiActions", &input.api_actions, false, &mut errors);
        for (field, v, max) in [
            ("extendedStatus", &input.extended_status, 100),
            ("externalReference", &input.external_reference, 200),
            ("process", &input.process, 200),
            ("lifeEvent", &input.life_event, 64),
            ("idempotencyKey", &input.idempotency_key, 200),
        ] {
            short(field, v, max, &mut errors);
        }
        let visible_from = time_of("visibleFrom", &input.visible_from, &mut errors);
        let due_at = time_of("dueAt", &input.due_at, &mut errors);
        let expires_at = time_of("expiresAt", &input.expires_at, &mut errors);
        let now = ena_core::time::unix_now();
        let expected = self.check_expected(&input.expected_decision, now, &mut errors);
        if !errors.is_empty() {
            return Err(CaseError::Invalid(errors));
        }
        let (party_kind, party) = party.expect("checked");
        if let Some(key) = &input.idempotency_key
            && let Some(row) = repo::by_idempotency(&self.store, &agency.organisation, key).await?
        {
            return Ok((self.view(row, now)?, false));
        }
        let body = Body {
            extended_status: input.extended_status,
            title: input.title,
            summary: input.summary,
            additional_info: input.additional_info,
            notice_title: input.notice_title,
            external_reference: input.external_reference.clone(),
            gui_actions: input.gui_actions,
            api_actions: input.api_actions,
            expected_decision_reason: input.expected_decision.as_ref().map(|e| e.reason.clone()),
            organisation_name: agency.name.clone(),
        };
        let row = repo::CaseRow {
            id: uuid::Uuid::now_v7().to_string(),
            party,
            party_kind,
            organisation: agency.organisation.clone(),
            service: input.service,
            status: status.as_str().to_owned(),
            life_event: input.life_event,
            process: input.process,
            external_ref: input.external_reference,
            idempotency_key: input.idempotency_key,
            visible_from,
            due_at,
            expires_at,
            expected_decision_at: expected,
            decided_at: None,
            search_text: search_text(&body),
            body: serde_json::to_string(&body).map_err(|e| CaseError::Internal(e.to_string()))?,
            revision: 1,
            created_at: now,
            content_updated_at: now,
        };
        let date = expected.map(|at| (at, body.expected_decision_reason.clone().unwrap_or_default()));
        let created = repo::insert(&self.store, &row, date, &ctx.actor.id).await?;
        if !created {
            // Another request with the same key won the race: its case is the one.
            let key = row.idempotency_key.as_deref().unwrap_or_default();
            let first = repo::by_idempotency(&self.store, &agency.organisation, key)
                .await?
                .ok_or_else(|| CaseError::Internal("a conflicting case vanished".into()))?;
            return Ok((self.view(first, now)?, false));
        }
        self.log(audit, ctx, "cases.case.create", &row.id, Some(&row.party), AuditResult::Allowed, None).await?;
        Ok((self.view(row, now)?, true))
    }

    /// A committed date: in the future, with a reason.
    fn check_expected(&self, e: &Option<ExpectedDecision>, now: i64, errors: &mut Vec<FieldError>) -> Option<i64> {
        let e = e.as_ref()?;
        let at = time_of("expectedDecision/at", &Some(e.at.clone()), errors)?;
        if at <= now {
            errors.push(FieldError::new("expectedDecision/at", &e.at, "must be in the future"));
        }
        if e.reason.trim().is_empty() || e.reason.chars().count() > 500 {
            errors.push(FieldError::new(
                "expectedDecision/reason",
                &e.reason,
                "say why this date (1 to 500 characters)",
            ));
        }
        Some(at)
    }

    /// The case, if `agency` owns it.
    async fn owned(&self, agency: &Agency, id: &str) -> Result<repo::CaseRow, CaseError> {
        let row = repo::get(&self.store, id).await?.ok_or_else(|| CaseError::NotFound(format!("no case {id}")))?;
        if row.organisation != agency.organisation {
            return Err(CaseError::Forbidden(format!("case {id} is kept by another organisation")));
        }
        Ok(row)
    }

    /// The owner reads its case (an audit event with the party as data subject).
    pub async fn get(
        &self,
        audit: &dyn AuditSink,
        ctx: &Context,
        agency: &Agency,
        id: &str,
    ) -> Result<Case, CaseError> {
        let row = match self.owned(agency, id).await {
            Ok(r) => r,
            Err(e) => {
                self.log(audit, ctx, "cases.case.read", id, None, AuditResult::Denied, Some(e.to_string())).await?;
                return Err(e);
            }
        };
        self.log(audit, ctx, "cases.case.read", id, Some(&row.party), AuditResult::Allowed, None).await?;
        self.view(row, ena_core::time::unix_now())
    }

    /// Change a case at `if_match` (its revision): only allowed transitions; a moved decision date
    /// needs a reason and is kept in the history.
    pub async fn update(
        &self,
        audit: &dyn AuditSink,
        ctx: &Context,
        agency: &Agency,
        id: &str,
        if_match: i64,
        u: CaseUpdate,
    ) -> Result<Case, CaseError> {
        let mut row = self.owned(agency, id).await?;
        if row.revision != if_match {
            return Err(CaseError::Stale { current: row.revision });
        }
        let mut body: Body = serde_json::from_str(&row.body).map_err(|e| CaseError::Internal(e.to_string()))?;
        let mut errors = Vec::new();
        let current = CaseStatus::parse(&row.status).ok_or_else(|| CaseError::Internal("stored status".into()))?;
        if let Some(next) = u.status
            && !current.may_become(next)
        {
            errors.push(FieldError::new("status", next.as_str(), format!("a {current} case cannot become {next}")));
        }
        for (field, texts, max) in [
            ("title", &u.title, MAX_TITLE),
            ("summary", &u.summary, MAX_TEXT),
            ("additionalInfo", &u.additional_info, MAX_TEXT),
            ("noticeTitle", &u.notice_title, MAX_TITLE),
        ] {
            if let Some(t) = texts {
                check_texts(field, t, field == "title", max, &mut errors);
            }
        }
        if let Some(a) = &u.gui_actions {
            check_actions("guiActions", a, true, &mut errors);
        }
        if let Some(a) = &u.api_actions {
            check_actions("apiActions", a, false, &mut errors);
        }
        short("extendedStatus", &u.extended_status, 100, &mut errors);
        let due_at = time_of("dueAt", &u.due_at, &mut errors);
        let expires_at = time_of("expiresAt", &u.expires_at, &mut errors);
        let now = ena_core::time::unix_now();
        let expected = self.check_expected(&u.expected_decision, now, &mut errors);
        if expected.is_some() && row.decided_at.is_some() {
            errors.push(FieldError::new("expectedDecision", "(date)", "the case is decided already"));
        }
        if !errors.is_empty() {
            return Err(CaseError::Invalid(errors));
        }
        let moved = expected.filter(|at| Some(*at) != row.expected_decision_at);
        if let Some(s) = u.status {
            row.status = s.as_str().to_owned();
        }
        macro_rules! set {
            ($field:ident) => {
                if let Some(v) = u.$field {
                    body.$field = v;
                }
            };
        }
        set!(title);
        set!(summary);
        set!(additional_info);
        set!(notice_title);
        set!(gui_actions);
        set!(api_actions);
        if u.extended_status.is_some() {
            body.extended_status = u.extended_status;
        }
        if due_at.is_some() {
            row.due_at = due_at;
        }
        if expires_at.is_some() {
            row.expires_at = expires_at;
        }
        let date = moved.map(|at| (at, u.expected_decision.as_ref().map(|e| e.reason.clone()).unwrap_or_default()));
        if let Some((at, reason)) = &date {
            row.expected_decision_at = Some(*at);
            body.expected_decision_reason = Some(reason.clone());
        }
        row.search_text = search_text(&body);
        row.body = serde_json::to_string(&body).map_err(|e| CaseError::Internal(e.to_string()))?;
        row.revision += 1;
        row.content_updated_at = now;
        let activity = match (&date, u.status) {
            (Some(_), _) => ("decision-date-moved", "The expected decision date was moved.".to_owned()),
            (None, Some(s)) if s != current => ("status-changed", format!("Status: {current} → {s}")),
            _ => ("case-updated", "The case was updated.".to_owned()),
        };
        if !repo::update(&self.store, &row, if_match, date, &ctx.actor.id, activity).await? {
            let current = repo::get(&self.store, id).await?.map_or(0, |r| r.revision);
            return Err(CaseError::Stale { current });
        }
        self.log(audit, ctx, "cases.case.update", id, Some(&row.party), AuditResult::Allowed, None).await?;
        self.view(row, now)
    }

    /// Add an immutable transmission; a `decision` decides the case.
    pub async fn transmit(
        &self,
        audit: &dyn AuditSink,
        ctx: &Context,
        agency: &Agency,
        id: &str,
        t: TransmissionInput,
        message_id: Option<String>,
    ) -> Result<Transmission, CaseError> {
        let row = self.owned(agency, id).await?;
        let mut errors = Vec::new();
        let Some(kind) = t.kind else {
            return Err(invalid("kind", "(missing)", format!("one of {}", TransmissionKind::words())));
        };
        check_texts("title", &t.title, true, MAX_TITLE, &mut errors);
        check_texts("summary", &t.summary, false, MAX_TEXT, &mut errors);
        for (i, a) in t.attachments.iter().enumerate() {
            if !a.url.starts_with("https://") {
                errors.push(FieldError::new(format!("attachments/{i}/url"), &a.url, "an https URL"));
            }
            if a.name.is_empty() || a.name.len() > 255 {
                errors.push(FieldError::new(format!("attachments/{i}/name"), &a.name, "1 to 255 characters"));
            }
        }
        if let Some(r) = &t.related_transmission_id
            && !repo::transmission_exists(&self.store, id, r).await?
        {
            errors.push(FieldError::new("relatedTransmissionId", r, "no transmission of this case has this id"));
        }
        if !errors.is_empty() {
            return Err(CaseError::Invalid(errors));
        }
        let now = ena_core::time::unix_now();
        let tr = Transmission {
            id: uuid::Uuid::now_v7().to_string(),
            kind,
            related_transmission_id: t.related_transmission_id,
            message_id,
            title: t.title,
            summary: t.summary,
            attachments: t.attachments,
            created_at: ena_core::time::rfc3339_of(now),
        };
        let decides = kind == TransmissionKind::Decision;
        if !repo::insert_transmission(&self.store, &row.id, &tr, now, decides).await? {
            return Err(CaseError::Conflict(format!(
                "message {} is in this case already",
                tr.message_id.as_deref().unwrap_or_default()
            )));
        }
        self.log(audit, ctx, "cases.transmission.create", id, Some(&row.party), AuditResult::Allowed, None).await?;
        Ok(tr)
    }

    /// A case's transmissions, activities, seen-log and decision-date history (for its owner or party).
    pub async fn history(&self, id: &str) -> Result<History, CaseError> {
        Ok(History {
            transmissions: repo::transmissions(&self.store, id).await?,
            activities: repo::activities(&self.store, id).await?,
            seen: repo::seen(&self.store, id).await?,
            decision_dates: repo::decision_dates(&self.store, id).await?,
        })
    }

    /// The party view: the cases of every party in `scopes`, filtered, sorted, a page (`limit` from
    /// `offset`), visible ones only (past `visibleFrom`). Showing a page with other parties' cases is a
    /// read of them: one audit event naming those parties that are persons as data subjects.
    #[allow(clippy::too_many_arguments)]
    pub async fn list(
        &self,
        audit: &dyn AuditSink,
        ctx: &Context,
        viewer: &str,
        scopes: &[Scope],
        filter: &Filter,
        sort: Sort,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<Listed>, CaseError> {
        let now = ena_core::time::unix_now();
        let listing = repo::Listing { viewer, scopes, filter, sort, now, limit, offset };
        let rows = repo::list(&self.store, &listing).await?;
        let ids: Vec<String> = rows.iter().map(|(r, _)| r.id.clone()).collect();
        let labels = repo::labels_of(&self.store, viewer, &ids).await?;
        let mut others: Vec<String> = rows
            .iter()
            .filter(|(r, _)| r.party != viewer && is_person(&r.party))
            .map(|(r, _)| r.party.clone())
            .collect();
        others.sort();
        others.dedup();
        if rows.iter().any(|(r, _)| r.party != viewer) {
            let mut event = ctx.event("cases.case.list", None, AuditResult::Allowed, None);
            event.data_subjects = others;
            audit.record(vec![event]).await.map_err(|e| CaseError::Internal(e.to_string()))?;
        }
        rows.into_iter()
            .map(|(r, seen)| {
                let mine = labels.iter().filter(|(c, _)| *c == r.id).map(|(_, l)| l.clone()).collect();
                Ok(Listed { case: self.view(r, now)?, seen, labels: mine })
            })
            .collect()
    }

    /// An organisation's follow-up: its own cases, newest change first; `overdue` only those past their
    /// expected-decision date without a decision.
    pub async fn of_organisation(
        &self,
        agency: &Agency,
        overdue: bool,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<Case>, CaseError> {
        let now = ena_core::time::unix_now();
        let rows =
            repo::of_organisation(&self.store, &agency.organisation, overdue.then_some(now), limit, offset).await?;
        rows.into_iter().map(|r| self.view(r, now)).collect()
    }

    /// Raise an audit alert (`alert.case-overdue`, for the organisation's follow-up) for every case past
    /// its expected-decision date without a decision, once per committed date; of several instances the
    /// one whose claim takes raises it. Returns how many were raised.
    pub async fn flag_overdue(&self, audit: &dyn AuditSink) -> Result<u64, CaseError> {
        let now = ena_core::time::unix_now();
        let mut raised = 0;
        for row in repo::overdue_unflagged(&self.store, now, 500).await? {
            if !repo::claim_overdue(&self.store, &row.id, now).await? {
                continue;
            }
            let ctx = Context::system("ena-cases");
            let due = ena_core::time::rfc3339_of(row.expected_decision_at.unwrap_or_default());
            let mut event = ctx.event(
                "alert.case-overdue",
                Some(ObjectRef { kind: "case".into(), id: row.id.clone() }),
                AuditResult::Allowed,
                Some(format!("no decision by the committed date {due} (organisation {})", row.organisation)),
            );
            if is_person(&row.party) {
                event.data_subjects.push(row.party.clone());
            }
            audit.record(vec![event]).await.map_err(|e| CaseError::Internal(e.to_string()))?;
            raised += 1;
        }
        Ok(raised)
    }

    /// A person opens a case of a party in `scopes`: the read is logged and the seen-log written.
    pub async fn open(
        &self,
        audit: &dyn AuditSink,
        ctx: &Context,
        viewer: &str,
        scopes: &[Scope],
        id: &str,
    ) -> Result<(Case, History), CaseError> {
        let now = ena_core::time::unix_now();
        let row = repo::get(&self.store, id).await?.filter(|r| visible(r, scopes, now));
        let Some(row) = row else {
            self.log(
                audit,
                ctx,
                "cases.case.read",
                id,
                None,
                AuditResult::Denied,
                Some("not a case the person may see".into()),
            )
            .await?;
            return Err(CaseError::NotFound(format!("no case {id} among yours or those you act for")));
        };
        let on_behalf = (row.party != viewer).then(|| row.party.clone());
        repo::mark_seen(&self.store, id, viewer, on_behalf.as_deref(), row.revision, now).await?;
        let ctx = Context { on_behalf_of: on_behalf.clone(), ..ctx.clone() };
        self.log(audit, &ctx, "cases.case.read", id, Some(&row.party), AuditResult::Allowed, None).await?;
        let history = self.history(id).await?;
        Ok((self.view(row, now)?, history))
    }

    /// A person's own labels on cases they may see (`archive`, `bin` or their own words): add or remove.
    pub async fn label(
        &self,
        viewer: &str,
        scopes: &[Scope],
        ids: &[String],
        label: &str,
        on: bool,
    ) -> Result<u64, CaseError> {
        if label.is_empty() || label.chars().count() > 40 || label.contains(char::is_control) {
            return Err(invalid("label", label, "1 to 40 characters (archive, bin or your own)"));
        }
        if ids.is_empty() || ids.len() > 100 {
            return Err(invalid("caseIds", ids.len(), "1 to 100 case ids"));
        }
        let now = ena_core::time::unix_now();
        let mut changed = 0;
        for id in ids {
            let ok = repo::get(&self.store, id).await?.is_some_and(|r| visible(&r, scopes, now));
            if !ok {
                return Err(invalid("caseIds", id, "not a case among yours or those you act for"));
            }
        }
        for id in ids {
            changed += repo::set_label(&self.store, id, viewer, label, on).await?;
        }
        Ok(changed)
    }

    /// Mark cases read (as opening them would, without the content) or unread.
    pub async fn mark(&self, viewer: &str, scopes: &[Scope], ids: &[String], read: bool) -> Result<(), CaseError> {
        if ids.is_empty() || ids.len() > 100 {
            return Err(invalid("caseIds", ids.len(), "1 to 100 case ids"));
        }
        let now = ena_core::time::unix_now();
        let mut rows = Vec::new();
        for id in ids {
            match repo::get(&self.store, id).await?.filter(|r| visible(r, scopes, now)) {
                Some(r) => rows.push(r),
                None => return Err(invalid("caseIds", id, "not a case among yours or those you act for")),
            }
        }
        for r in rows {
            if read {
                let on_behalf = (r.party != viewer).then(|| r.party.clone());
                repo::mark_seen(&self.store, &r.id, viewer, on_behalf.as_deref(), r.revision, now).await?;
            } else {
                repo::unmark_seen(&self.store, &r.id, viewer).await?;
            }
        }
        Ok(())
    }

    fn view(&self, r: repo::CaseRow, now: i64) -> Result<Case, CaseError> {
        let body: Body = serde_json::from_str(&r.body).map_err(|e| CaseError::Internal(e.to_string()))?;
        let t = |v: Option<i64>| v.map(ena_core::time::rfc3339_of);
        Ok(Case {
            party: PartyRef {
                kind: r.party_kind.clone(),
                id: if r.party_kind == "organisation" { r.party[2..].to_owned() } else { r.party.clone() },
            },
            organisation: r.organisation,
            organisation_name: body.organisation_name.clone(),
            service: r.service,
            status: CaseStatus::parse(&r.status).ok_or_else(|| CaseError::Internal("stored status".into()))?,
            extended_status: body.extended_status,
            title: body.title,
            summary: body.summary,
            additional_info: body.additional_info,
            notice_title: body.notice_title,
            external_reference: body.external_reference,
            process: r.process,
            life_event: r.life_event,
            visible_from: t(r.visible_from),
            due_at: t(r.due_at),
            expires_at: t(r.expires_at),
            expected_decision: r.expected_decision_at.map(|at| ExpectedDecision {
                at: ena_core::time::rfc3339_of(at),
                reason: body.expected_decision_reason.clone().unwrap_or_default(),
            }),
            overdue: r.decided_at.is_none() && r.expected_decision_at.is_some_and(|at| at < now),
            decided_at: t(r.decided_at),
            gui_actions: body.gui_actions,
            api_actions: body.api_actions,
            revision: r.revision,
            created_at: ena_core::time::rfc3339_of(r.created_at),
            content_updated_at: ena_core::time::rfc3339_of(r.content_updated_at),
            id: r.id,
        })
    }
}

/// Whether a person with `scopes` may see the case now (its party is one of theirs, its service covered,
/// and it is past `visibleFrom`).
fn visible(r: &repo::CaseRow, scopes: &[Scope], now: i64) -> bool {
    r.visible_from.is_none_or(|v| v <= now)
        && scopes.iter().any(|s| s.party == r.party && s.services.as_ref().is_none_or(|list| list.contains(&r.service)))
}

/// Whether a canonical party id is a person's (organisations' start with 16).
fn is_person(party: &str) -> bool {
    party.len() == 12 && !party.starts_with("16")
}

/// What free-text search looks in: every title and summary, lower-cased.
fn search_text(b: &Body) -> String {
    let mut s = String::new();
    for t in [&b.title, &b.summary, &b.additional_info] {
        for v in t.values() {
            s.push_str(&v.to_lowercase());
            s.push('\n');
        }
    }
    if let Some(e) = &b.external_reference {
        s.push_str(&e.to_lowercase());
    }
    s
}
