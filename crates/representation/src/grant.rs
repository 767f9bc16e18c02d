//! Granting under the signing rules: terms and validity, packages within what the principal holds, approvals by the binding signatories, requests and their answers, revocation, and the notices they send.

use super::*;

impl Representation {
    pub(super) async fn notify(&self, party: &str, kind: &str, mandate: &str, text: String) -> Result<(), ReprError> {
        let id = uuid::Uuid::now_v7().to_string();
        let at = self.now();
        repo::notice(&self.store, &id, party, kind, mandate, &text, at).await?;
        if let Some(hook) = &self.hook {
            hook.notify(&Notice {
                id,
                party: party.to_owned(),
                kind: kind.to_owned(),
                mandate: mandate.to_owned(),
                text,
                created_at: ena_core::time::rfc3339_of(at),
            });
        }
        Ok(())
    }

    /// Check the packages of a grant or request for `principal`.
    /// The package a right belongs to: the package itself, or a single service's (`service:<id>`).
    pub(super) fn package_of_right(&self, right: &str) -> Option<&catalog::Package> {
        match right.strip_prefix(SERVICE_RIGHT) {
            Some(service) => self.catalog.service(service).and_then(|s| self.catalog.package(&s.package)),
            None => self.catalog.package(right),
        }
    }

    /// Does holding `held` cover `right` (the right itself, or the package of a single service right)?
    pub(super) fn covers(&self, held: &[String], right: &str) -> bool {
        held.iter().any(|h| h == right)
            || right
                .strip_prefix(SERVICE_RIGHT)
                .and_then(|s| self.catalog.service(s))
                .is_some_and(|s| held.contains(&s.package))
    }

    pub(super) fn check_packages(&self, principal: &Party, packages: &[String]) -> Result<(), ReprError> {
        if packages.is_empty() {
            return Err(invalid("packages", "name at least one package or single service (service:<id>)"));
        }
        for (i, id) in packages.iter().enumerate() {
            let field = format!("packages[{i}]");
            let p = self
                .package_of_right(id)
                .ok_or_else(|| invalid(&field, format!("unknown package or service {id:?}")))?;
            if p.party != principal.kind() {
                return Err(invalid(
                    &field,
                    format!("{id} is a package of a {}, the principal is a {}", p.party, principal.kind()),
                ));
            }
            if !p.assignable {
                return Err(invalid(
                    &field,
                    format!("{id} cannot be granted by mandate (it follows only from the register)"),
                ));
            }
            if packages[..i].contains(id) {
                return Err(invalid(&field, format!("{id} is named twice")));
            }
        }
        Ok(())
    }

    /// Validity of a grant: from (default now) and to (required unless open-ended explicitly).
    pub(super) fn validity(
        &self,
        from: &Option<String>,
        to: &Option<String>,
        open_ended: bool,
    ) -> Result<(i64, Option<i64>), ReprError> {
        let from = from.as_deref().map(|f| parse_time("validFrom", f)).transpose()?.unwrap_or_else(|| self.now());
        let to = match (to, open_ended) {
            (Some(_), true) => return Err(invalid("validTo", "give validTo or openEnded, not both")),
            (None, true) => None,
            (None, false) => {
                return Err(invalid("validTo", "mandates are time-limited: give validTo (or openEnded: true)"));
            }
            (Some(t), false) => Some(parse_time("validTo", t)?),
        };
        if let Some(t) = to {
            if t <= from {
                return Err(invalid("validTo", "must be after validFrom"));
            }
            if t <= self.now() {
                return Err(invalid("validTo", "is in the past"));
            }
        }
        Ok((from, to))
    }

    /// "May I delegate this?": check a grant without making it; returns the mandate it would create.
    /// What every new mandate (grant or request) must satisfy: two distinct parties, companies in the
    /// register, rights of the principal's kind, a validity.
    pub(super) fn terms(&self, input: &GrantInput) -> Result<(Party, Party, i64, Option<i64>), ReprError> {
        let principal = parse_party("principal", &input.principal)?;
        let agent = parse_party("agent", &input.agent)?;
        if principal == agent {
            return Err(invalid("agent", "a mandate to oneself (the agent is the principal)"));
        }
        if let Party::Organisation(o) = &principal {
            self.company_of("principal", o)?;
        }
        if let Party::Organisation(o) = &agent {
            self.company_of("agent", o)?;
        }
        self.check_packages(&principal, &input.packages)?;
        let (from, to) = self.validity(&input.valid_from, &input.valid_to, input.open_ended)?;
        Ok((principal, agent, from, to))
    }

    /// A new mandate row: `status` pending (a grant) or requested (a request), lapsing after `lapse` seconds.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new_mandate(
        &self,
        actor: &PersonId,
        input: &GrantInput,
        (principal, agent, from, to): (&Party, &Party, i64, Option<i64>),
        grantor: &Party,
        status: MandateStatus,
        lapse: i64,
    ) -> MandateRow {
        let t = self.now();
        MandateRow {
            id: uuid::Uuid::now_v7().to_string(),
            principal: principal.id().to_owned(),
            agent: agent.id().to_owned(),
            packages: serde_json::to_string(&input.packages).unwrap_or_default(),
            valid_from: from,
            valid_to: to,
            may_delegate: i64::from(input.may_delegate),
            parent_id: input.parent.clone(),
            grantor: grantor.id().to_owned(),
            status: status.as_str().to_owned(),
            required_approvals: self.required(grantor),
            created_by: actor.as_str().to_owned(),
            created_at: t,
            pending_until: Some(t + lapse),
            activated_at: None,
            ended_at: None,
            ended_by: None,
        }
    }

    pub async fn may_grant(&self, actor: &PersonId, input: &GrantInput) -> Result<MandateRow, ReprError> {
        let (principal, agent, from, to) = self.terms(input)?;
        let grantor = match &input.parent {
            None => {
                if !self.speaks_for(actor, &principal) {
                    return Err(forbidden(
                        "principal",
                        match &principal {
                            Party::Person(_) => "only the person themselves can grant their mandates".to_owned(),
                            Party::Organisation(o) => {
                                format!("you are not one who signs for {o} under its signing rule")
                            }
                        },
                    ));
                }
                principal.clone()
            }
            Some(parent_id) => {
                let parent = repo::get(&self.store, parent_id)
                    .await?
                    .ok_or_else(|| invalid("parent", format!("no mandate {parent_id}")))?;
                let holder = party_of(&parent.agent);
                if !self.speaks_for(actor, &holder) {
                    return Err(forbidden("parent", "you neither hold that mandate nor sign for the one who does"));
                }
                if !in_force(&parent, self.now()) || !self.chain_in_force(&parent, self.now()).await? {
                    return Err(forbidden("parent", "that mandate is not in force"));
                }
                if parent.principal != principal.id() {
                    return Err(invalid(
                        "principal",
                        "a passed-on mandate keeps the principal of the mandate it comes from",
                    ));
                }
                if parent.may_delegate == 0 {
                    return Err(forbidden("parent", "that mandate may not be passed on"));
                }
                if agent == holder {
                    return Err(invalid("agent", "the agent already holds the mandate being passed on"));
                }
                let held = packages_of(&parent);
                for (i, id) in input.packages.iter().enumerate() {
                    if !self.covers(&held, id) {
                        return Err(forbidden(
                            format!("packages[{i}]"),
                            format!("{id} is not in the mandate being passed on: no one can grant more than they hold"),
                        ));
                    }
                    if !self.package_of_right(id).is_some_and(|p| p.delegable) {
                        return Err(invalid(format!("packages[{i}]"), format!("{id} may not be passed on")));
                    }
                }
                if from < parent.valid_from {
                    return Err(invalid("validFrom", "before the mandate being passed on starts"));
                }
                if let Some(parent_to) = parent.valid_to
                    && to.is_none_or(|t| t > parent_to)
                {
                    return Err(invalid(
                        "validTo",
                        format!("after the mandate being passed on ends ({})", ena_core::time::rfc3339_of(parent_to)),
                    ));
                }
                holder
            }
        };
        Ok(self.new_mandate(
            actor,
            input,
            (&principal, &agent, from, to),
            &grantor,
            MandateStatus::Pending,
            PENDING_SECS,
        ))
    }

    /// Grant a mandate: the actor's approval is the first; active at once when the grantor's signing rule
    /// is met, else pending for the other signatories.
    pub async fn grant(&self, actor: &PersonId, input: &GrantInput) -> Result<Mandate, ReprError> {
        self.attempt(actor, "representation.grant", async {
            let m = self.may_grant(actor, input).await?;
            repo::insert(&self.store, &m).await?;
            self.recorded(actor, "representation.grant", &m).await?;
            self.add_approval(actor, &m.id).await
        })
        .await
    }

    /// Record an approval and activate the mandate when enough have approved.
    pub(super) async fn add_approval(&self, actor: &PersonId, id: &str) -> Result<Mandate, ReprError> {
        let m = repo::get(&self.store, id).await?.ok_or_else(|| ReprError::NotFound(format!("no mandate {id}")))?;
        let t = self.now();
        if !repo::approve(&self.store, id, actor.as_str(), t).await? {
            return Err(ReprError::Conflict("id".into(), "you have already approved this mandate".into()));
        }
        let count = repo::approvals(&self.store, id).await?.len() as i64;
        if count >= m.required_approvals
            && repo::transition(&self.store, id, MandateStatus::Pending, MandateStatus::Active, t, None).await?
        {
            let text = format!("Fullmakt {id} gäller nu / mandate in force");
            self.notify(&m.principal, "granted", id, text.clone()).await?;
            self.notify(&m.agent, "granted", id, text).await?;
        } else if count < m.required_approvals {
            for other in self.binders(&party_of(&m.grantor)).into_iter().filter(|p| p != actor.as_str()) {
                self.notify(
                    &other,
                    "approval-needed",
                    id,
                    format!("Fullmakt {id} väntar på ditt godkännande / needs your approval"),
                )
                .await?;
            }
        }
        self.view(id).await
    }

    /// The persons whose approvals bind `party`.
    pub(super) fn binders(&self, party: &Party) -> Vec<String> {
        match party {
            Party::Person(p) => vec![p.clone()],
            Party::Organisation(o) => self.register.company(o).map(|c| c.binding().0.to_vec()).unwrap_or_default(),
        }
    }

    /// What `actor` may do with `m` now: the rules of `approve`, `respond` and `revoke` (and an approval
    /// not yet given), for pages that offer only the steps that would succeed.
    pub fn allowed_steps(&self, actor: &PersonId, m: &Mandate) -> Steps {
        let row = |status: MandateStatus| (status, m.principal.as_str(), m.grantor.as_str(), m.agent.as_str());
        let may = |step| self.refused(step, actor, row(m.status)).is_none();
        Steps {
            approve: may(Step::Approve) && !m.approvals.iter().any(|a| a.person == actor.as_str()),
            answer: may(Step::Answer),
            revoke: may(Step::Revoke),
        }
    }

    /// Why `actor` may not take `step` on the stored mandate `m` now, if it may not.
    fn refusal(&self, step: Step, actor: &PersonId, m: &MandateRow) -> Option<ReprError> {
        self.refused(step, actor, (self.status(m, self.now()), &m.principal, &m.grantor, &m.agent))
    }

    /// The rules of the steps, on a mandate's status (as of now) and parties.
    fn refused(
        &self,
        step: Step,
        actor: &PersonId,
        (status, principal, grantor, agent): (MandateStatus, &str, &str, &str),
    ) -> Option<ReprError> {
        let conflict = |what: &str| Some(ReprError::Conflict("id".into(), format!("the mandate is {status}, {what}")));
        match step {
            Step::Approve if status != MandateStatus::Pending => conflict("not waiting for approval"),
            Step::Approve if !self.speaks_for(actor, &party_of(grantor)) => {
                Some(forbidden("id", format!("you do not sign for {grantor}")))
            }
            Step::Answer if status != MandateStatus::Requested => conflict("not a request"),
            Step::Answer if !self.speaks_for(actor, &party_of(principal)) => {
                Some(forbidden("id", format!("you do not speak for {principal}")))
            }
            Step::Revoke if ![principal, grantor, agent].iter().any(|s| self.speaks_for(actor, &party_of(s))) => {
                Some(forbidden("id", "only the principal's, the grantor's or the agent's side can revoke"))
            }
            Step::Revoke
                if ![MandateStatus::Active, MandateStatus::Pending, MandateStatus::Requested].contains(&status) =>
            {
                Some(ReprError::Conflict("id".into(), format!("the mandate is already {status}")))
            }
            _ => None,
        }
    }

    /// A signatory approves a pending grant.
    pub async fn approve(&self, actor: &PersonId, id: &str) -> Result<Mandate, ReprError> {
        self.attempt(actor, "representation.approve", async {
            let m = repo::get(&self.store, id).await?.ok_or_else(|| ReprError::NotFound(format!("no mandate {id}")))?;
            if let Some(refusal) = self.refusal(Step::Approve, actor, &m) {
                return Err(refusal);
            }
            let out = self.add_approval(actor, id).await?;
            self.recorded(actor, "representation.approve", &m).await?;
            Ok(out)
        })
        .await
    }

    /// An agent (the actor, or a company the actor signs for) asks a principal for a mandate.
    pub async fn request(&self, actor: &PersonId, input: &GrantInput) -> Result<Mandate, ReprError> {
        self.attempt(actor, "representation.request", async {
            if input.parent.is_some() {
                return Err(invalid("parent", "a request asks the principal; it cannot name a parent"));
            }
            let (principal, agent, from, to) = self.terms(input)?;
            if !self.speaks_for(actor, &agent) {
                return Err(forbidden("agent", "you can request mandates for yourself or a company you sign for"));
            }
            let m = self.new_mandate(
                actor,
                input,
                (&principal, &agent, from, to),
                &principal,
                MandateStatus::Requested,
                REQUEST_SECS,
            );
            repo::insert(&self.store, &m).await?;
            self.recorded(actor, "representation.request", &m).await?;
            for p in self.binders(&principal) {
                self.notify(&p, "requested", &m.id, format!("{} ber om en fullmakt / requests a mandate", m.agent))
                    .await?;
            }
            self.view(&m.id).await
        })
        .await
    }

    /// The principal (or one who signs for it) accepts or declines a request.
    pub async fn respond(&self, actor: &PersonId, id: &str, accept: bool) -> Result<Mandate, ReprError> {
        let action = if accept { "representation.accept" } else { "representation.decline" };
        self.attempt(actor, action, async {
            let m = repo::get(&self.store, id).await?.ok_or_else(|| ReprError::NotFound(format!("no mandate {id}")))?;
            if let Some(refusal) = self.refusal(Step::Answer, actor, &m) {
                return Err(refusal);
            }
            self.recorded(actor, action, &m).await?;
            if accept {
                repo::accept_request(&self.store, id, m.required_approvals, self.now() + PENDING_SECS).await?;
                self.notify(&m.agent, "accepted", id, "Din begäran godtogs / your request was accepted".into()).await?;
                self.add_approval(actor, id).await
            } else {
                repo::transition(
                    &self.store,
                    id,
                    MandateStatus::Requested,
                    MandateStatus::Declined,
                    self.now(),
                    Some(actor.as_str()),
                )
                .await?;
                self.notify(&m.agent, "declined", id, "Din begäran avböjdes / your request was declined".into())
                    .await?;
                self.view(id).await
            }
        })
        .await
    }

    /// Revoke: the principal's side, the grantor's side or the agent's side may end a mandate.
    pub async fn revoke(&self, actor: &PersonId, id: &str) -> Result<Mandate, ReprError> {
        self.attempt(actor, "representation.revoke", async {
            let m = repo::get(&self.store, id).await?.ok_or_else(|| ReprError::NotFound(format!("no mandate {id}")))?;
            if let Some(refusal) = self.refusal(Step::Revoke, actor, &m) {
                return Err(refusal);
            }
            let from = MandateStatus::parse(&m.status)
                .ok_or_else(|| ReprError::Internal(format!("stored mandate status {:?}", m.status)))?;
            if !repo::transition(&self.store, id, from, MandateStatus::Revoked, self.now(), Some(actor.as_str()))
                .await?
            {
                return Err(ReprError::Conflict(
                    "id".into(),
                    format!("the mandate is already {}", self.status(&m, self.now())),
                ));
            }
            self.recorded(actor, "representation.revoke", &m).await?;
            for party in [&m.principal, &m.agent] {
                self.notify(party, "revoked", id, "Fullmakten återkallades / the mandate was revoked".into()).await?;
            }
            self.view(id).await
        })
        .await
    }
}
