//! What people see: a mandate with its status and why, the lists a person may view, whom they act for, notices and the expiry sweep.

use std::collections::BTreeSet;

use super::*;

/// The shipped catalog and register as JSON (for the API's reference lists).
pub fn catalog_json(c: &Catalog) -> serde_json::Value {
    json!({"packages": c.packages, "services": c.services})
}

impl Representation {
    /// Where `m` stands at `t`: its stored status, or `expired` / `lapsed` once time has passed its end.
    pub(super) fn status(&self, m: &MandateRow, t: i64) -> MandateStatus {
        // The column only ever holds what this crate wrote; an unknown value is treated as ended.
        let stored = MandateStatus::parse(&m.status).unwrap_or(MandateStatus::Revoked);
        match stored {
            MandateStatus::Active if m.valid_to.is_some_and(|to| to <= t) => MandateStatus::Expired,
            MandateStatus::Pending | MandateStatus::Requested if m.pending_until.is_some_and(|u| u <= t) => {
                MandateStatus::Lapsed
            }
            s => s,
        }
    }

    /// A mandate as `actor` may see it: only one of its sides (principal, agent, grantor) that the
    /// actor may view; any other is answered as if it did not exist.
    pub async fn view_for(&self, actor: &PersonId, id: &str) -> Result<Mandate, ReprError> {
        let m = self.view(id).await?;
        let mine = |party: &str| self.viewable(actor, party).is_ok();
        if mine(&m.principal) || mine(&m.agent) || mine(&m.grantor) {
            Ok(m)
        } else {
            Err(ReprError::NotFound(format!("no mandate {id}")))
        }
    }

    /// A mandate with its approvals and its why.
    pub async fn view(&self, id: &str) -> Result<Mandate, ReprError> {
        let m = repo::get(&self.store, id).await?.ok_or_else(|| ReprError::NotFound(format!("no mandate {id}")))?;
        self.to_view(m).await
    }

    pub(super) async fn to_view(&self, m: MandateRow) -> Result<Mandate, ReprError> {
        let approvals = repo::approvals(&self.store, &m.id)
            .await?
            .into_iter()
            .map(|(person, at)| Approval { person, at: ena_core::time::rfc3339_of(at) })
            .collect();
        let mut why = Vec::new();
        let mut chain = vec![m.clone()];
        while let Some(pid) = chain.last().and_then(|c| c.parent_id.clone())
            && chain.len() < MAX_CHAIN
        {
            match repo::get(&self.store, &pid).await? {
                Some(p) => chain.push(p),
                None => break,
            }
        }
        chain.reverse();
        if let Some(root) = chain.first()
            && let Party::Organisation(org) = party_of(&root.principal)
            && let Some(c) = self.register.company(&org)
        {
            let given = repo::approvals(&self.store, &root.id).await?.len();
            why.push(format!(
                "{} ({}) signs {:?}: {} of {} required signatures given",
                c.name, org, c.signing_rule, given, root.required_approvals
            ));
        }
        for (i, step) in chain.iter().enumerate() {
            let line = if i == 0 {
                format!("{} granted {} the packages {}", step.principal, step.agent, packages_of(step).join(", "))
            } else {
                format!("{} passed {} on to {}", step.grantor, packages_of(step).join(", "), step.agent)
            };
            why.push(line);
        }
        let t = self.now();
        Ok(Mandate {
            principal_name: self.name_of(&m.principal),
            agent_name: self.name_of(&m.agent),
            status: self.status(&m, t),
            packages: packages_of(&m),
            valid_from: ena_core::time::rfc3339_of(m.valid_from),
            valid_to: m.valid_to.map(ena_core::time::rfc3339_of),
            may_delegate: m.may_delegate != 0,
            parent: m.parent_id.clone(),
            grantor: m.grantor.clone(),
            required_approvals: m.required_approvals,
            approvals,
            created_by: m.created_by.clone(),
            created_at: ena_core::time::rfc3339_of(m.created_at),
            why,
            id: m.id,
            principal: m.principal,
            agent: m.agent,
        })
    }

    /// `party`, if `actor` may see its mandates and notices: the person themselves, or a company they
    /// hold a register role in.
    pub fn viewable(&self, actor: &PersonId, party: &str) -> Result<Party, ReprError> {
        let party = parse_party("party", party)?;
        let sees = match &party {
            Party::Person(p) => p == actor.as_str(),
            Party::Organisation(o) => self.register.company(o).is_some_and(|c| !c.roles_of(actor.as_str()).is_empty()),
        };
        if sees {
            Ok(party)
        } else {
            Err(forbidden("party", "you can see your own mandates and those of companies you have a role in"))
        }
    }

    /// Mandates of `party` that `actor` may see: `granted` (party is principal), `received` (party is
    /// agent) or `expired` (either side, ended within 15 months). Newest first.
    pub async fn list(
        &self,
        actor: &PersonId,
        party: &str,
        view: &str,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<Mandate>, ReprError> {
        let party = self.viewable(actor, party)?;
        let parties = vec![party.id().to_owned()];
        let t = self.now();
        let rows = match view {
            "granted" => repo::of_parties(&self.store, &parties, true, limit, offset).await?,
            "received" => repo::of_parties(&self.store, &parties, false, limit, offset).await?,
            "expired" => {
                let mut rows = repo::of_parties(&self.store, &parties, true, 1000, 0).await?;
                rows.extend(repo::of_parties(&self.store, &parties, false, 1000, 0).await?);
                rows.retain(|m| {
                    m.valid_to.is_some_and(|to| to <= t && to > t - EXPIRED_VISIBLE_SECS)
                        && m.status == MandateStatus::Active.as_str()
                });
                rows.sort_by_key(|m| std::cmp::Reverse(m.valid_to));
                rows.into_iter().skip(offset as usize).take(limit as usize).collect()
            }
            other => return Err(invalid("view", format!("{other:?}: granted, received or expired"))),
        };
        let mut out = Vec::with_capacity(rows.len());
        for m in rows {
            let v = self.to_view(m).await?;
            if view == "expired" || v.status != MandateStatus::Expired {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// Whom `actor` can act for: themselves, companies by register role, principals of mandates in force.
    pub async fn acting_for(&self, actor: &PersonId) -> Result<Vec<ActingFor>, ReprError> {
        let mut out = vec![ActingFor {
            party: actor.as_str().to_owned(),
            kind: "person".into(),
            name: None,
            basis: "self".into(),
            packages: self.catalog.packages.iter().filter(|p| p.party == "person").map(|p| p.id.clone()).collect(),
        }];
        for (org, roles) in self.register.roles_of(actor.as_str()) {
            out.push(ActingFor {
                name: self.name_of(&org),
                party: org,
                kind: "organisation".into(),
                basis: "role".into(),
                packages: self.catalog.held_by_roles(&roles).map(|p| p.id.clone()).collect(),
            });
        }
        // One read of the actor's mandates in force, their principal and packages only; the packages of
        // each principal are gathered here rather than asked per principal (a representative of a
        // thousand parties is one narrow query, not a thousand). A passed-on mandate is read whole and
        // its chain checked link by link.
        let t = self.now();
        let mut mandated: Vec<(String, BTreeSet<String>)> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for (id, principal, packages, passed_on) in repo::in_force_of_agent(&self.store, actor.as_str(), t).await? {
            if passed_on {
                let Some(m) = repo::get(&self.store, &id).await? else { continue };
                if self.chain(&m, t).await?.is_none() {
                    continue;
                }
            }
            let at = *index.entry(principal.clone()).or_insert_with(|| {
                // As in `holdings`: a role the actor has in the principal counts beside the mandate.
                let roles = self.register.company(&principal).map(|c| c.roles_of(actor.as_str())).unwrap_or_default();
                mandated.push((principal.clone(), self.catalog.held_by_roles(&roles).map(|p| p.id.clone()).collect()));
                mandated.len() - 1
            });
            mandated[at].1.extend(packages_in(&packages));
        }
        for (principal, packages) in mandated {
            out.push(ActingFor {
                name: self.name_of(&principal),
                kind: party_of(&principal).kind().into(),
                party: principal,
                basis: "mandate".into(),
                packages: packages.into_iter().collect(),
            });
        }
        Ok(out)
    }

    /// Notices to `party` (the actor or a company the actor has a role in), newest first.
    pub async fn notices(
        &self,
        actor: &PersonId,
        party: &str,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<Notice>, ReprError> {
        let p = self.viewable(actor, party)?;
        Ok(repo::notices(&self.store, p.id(), limit, offset)
            .await?
            .into_iter()
            .map(|(id, party, kind, mandate, text, at)| Notice {
                id,
                party,
                kind,
                mandate,
                text,
                created_at: ena_core::time::rfc3339_of(at),
            })
            .collect())
    }

    /// Tell both parties of every mandate ending within 14 days (once per mandate); returns how many.
    pub async fn notice_expiring(&self) -> Result<usize, ReprError> {
        let t = self.now();
        let due = repo::take_expiring(&self.store, t, t + EXPIRY_NOTICE_SECS).await?;
        for m in &due {
            let text = format!(
                "Fullmakten upphör / the mandate ends {}",
                m.valid_to.map(ena_core::time::rfc3339_of).unwrap_or_default()
            );
            self.notify(&m.principal, "expiring", &m.id, text.clone()).await?;
            self.notify(&m.agent, "expiring", &m.id, text).await?;
        }
        Ok(due.len())
    }
}
