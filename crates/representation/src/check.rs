//! Checking: what a party holds (register roles and mandates in force with their chains), and the check a service asks — holdings, the decision point's service slice, an audit event.

use super::*;

impl Representation {
    /// Does every mandate above `m` hold at `t` (and hold what `m` passes on)?
    pub(super) async fn chain_in_force(&self, m: &MandateRow, t: i64) -> Result<bool, ReprError> {
        Ok(self.chain(m, t).await?.is_some())
    }

    /// The chain of mandate ids from the root grant to `m`, if all are in force at `t` and each passes
    /// on only what its parent holds.
    pub(super) async fn chain(&self, m: &MandateRow, t: i64) -> Result<Option<Vec<String>>, ReprError> {
        let mut chain = vec![m.id.clone()];
        let mut current = m.clone();
        for _ in 0..MAX_CHAIN {
            let Some(parent_id) = current.parent_id.clone() else {
                chain.reverse();
                return Ok(Some(chain));
            };
            let Some(parent) = repo::get(&self.store, &parent_id).await? else { return Ok(None) };
            let held = packages_of(&parent);
            if !in_force(&parent, t)
                || parent.may_delegate == 0
                || !packages_of(&current).iter().all(|p| self.covers(&held, p))
            {
                return Ok(None);
            }
            chain.push(parent.id.clone());
            current = parent;
        }
        Ok(None)
    }

    /// The packages `agent` holds for `principal` at `t`, each with its grounds.
    pub async fn holdings(
        &self,
        agent: &Party,
        principal: &Party,
        t: i64,
    ) -> Result<BTreeMap<String, Vec<Basis>>, ReprError> {
        let mut held: BTreeMap<String, Vec<Basis>> = BTreeMap::new();
        if agent == principal {
            let own = self.catalog.packages.iter().filter(|p| p.party == principal.kind());
            for p in own {
                held.entry(p.id.clone()).or_default().push(Basis {
                    kind: "self".into(),
                    package: p.id.clone(),
                    role: None,
                    chain: vec![],
                    text: "acting for oneself".into(),
                });
            }
            return Ok(held);
        }
        if let (Party::Person(person), Party::Organisation(org)) = (agent, principal)
            && let Some(company) = self.register.company(org)
        {
            let roles = company.roles_of(person);
            for p in self.catalog.held_by_roles(&roles) {
                for role in roles.iter().filter(|r| p.roles.contains(r)) {
                    held.entry(p.id.clone()).or_default().push(Basis {
                        kind: "role".into(),
                        package: p.id.clone(),
                        role: Some(role.as_str().into()),
                        chain: vec![],
                        text: format!("register role {} in {} → package {}", role.as_str(), company.name, p.id),
                    });
                }
            }
        }
        for m in repo::active_between(&self.store, agent.id(), principal.id()).await? {
            if !in_force(&m, t) {
                continue;
            }
            let Some(chain) = self.chain(&m, t).await? else { continue };
            for p in packages_of(&m) {
                let text = if chain.len() > 1 {
                    format!(
                        "mandate {} from {}, passed on to {} ({} steps) → package {p}",
                        chain[0],
                        m.principal,
                        m.agent,
                        chain.len()
                    )
                } else {
                    format!("mandate {} from {} to {} → package {p}", m.id, m.principal, m.agent)
                };
                held.entry(p.clone()).or_default().push(Basis {
                    kind: "mandate".into(),
                    package: p,
                    role: None,
                    chain: chain.clone(),
                    text,
                });
            }
        }
        Ok(held)
    }

    /// May `agent` act for `principal` on a service at a time? Decided by the decision point; recorded.
    pub async fn check(&self, asked_by: &str, input: &CheckInput) -> Result<CheckResult, ReprError> {
        let agent = parse_party("agent", &input.agent)?;
        let principal = parse_party("principal", &input.principal)?;
        for (field, party) in [("agent", &agent), ("principal", &principal)] {
            if let Party::Organisation(o) = party {
                self.company_of(field, o)?;
            }
        }
        let service = self
            .catalog
            .service(&input.service)
            .ok_or_else(|| invalid("service", format!("unknown service {:?}", input.service)))?
            .clone();
        let action = input.action.clone().unwrap_or_else(|| "act".into());
        if !["act", "read", "write"].contains(&action.as_str()) {
            return Err(invalid("action", "act, read or write"));
        }
        let t = input.at.as_deref().map(|a| parse_time("at", a)).transpose()?.unwrap_or_else(|| self.now());
        let held = self.holdings(&agent, &principal, t).await?;
        let packages: Vec<String> = held.keys().cloned().collect();
        let decision = self.decide(&agent, &action, &service, &packages, agent == principal).await?;
        let right = format!("{SERVICE_RIGHT}{}", service.id);
        let basis = if decision.allowed {
            held.get(&service.package).into_iter().chain(held.get(&right)).flatten().cloned().collect()
        } else {
            vec![]
        };
        let ctx = Context {
            actor: Actor { kind: ActorKind::Node, id: asked_by.to_owned(), organisation: None },
            on_behalf_of: Some(agent.id().to_owned()),
            correlation_id: None,
        };
        let result = if decision.allowed { AuditResult::Allowed } else { AuditResult::Denied };
        let mut event = ctx.event(
            "representation.check",
            Some(ObjectRef { kind: "service".into(), id: service.id.clone() }),
            result,
            Some(format!("{} for {} at {}", agent.id(), principal.id(), ena_core::time::rfc3339_of(t))),
        );
        event.data_subjects = [principal.id(), agent.id()]
            .into_iter()
            .filter(|s| PersonId::parse(s).is_ok())
            .map(str::to_owned)
            .collect();
        self.audit.record(vec![event]).await.map_err(|e| ReprError::Internal(e.to_string()))?;
        Ok(CheckResult {
            allowed: decision.allowed,
            package: service.package,
            basis,
            reasons: decision.reasons,
            at: ena_core::time::rfc3339_of(t),
        })
    }

    /// The decision point's answer for the gathered packages (the service's policy slice).
    pub async fn decide(
        &self,
        agent: &Party,
        action: &str,
        service: &catalog::Service,
        packages: &[String],
        own: bool,
    ) -> Result<ena_access::Decision, ReprError> {
        use cedar_policy::{Context as CedarContext, RestrictedExpression};
        let map = |e: ena_access::AccessError| ReprError::Internal(e.to_string());
        let principal = ena_access::uid(agent.kind(), agent.id(), "agent").map_err(map)?;
        let (resource, entities) = self
            .services
            .get(&service.id)
            .ok_or_else(|| invalid("service", format!("unknown service {:?}", service.id)))?;
        let action = ena_access::action_uid(action).map_err(map)?;
        let context = CedarContext::from_pairs([
            (
                "packages".to_owned(),
                RestrictedExpression::new_set(packages.iter().map(|p| RestrictedExpression::new_string(p.clone()))),
            ),
            ("self".to_owned(), RestrictedExpression::new_bool(own)),
        ])
        .map_err(|e| ReprError::Internal(e.to_string()))?;
        self.access
            .decide_parts(principal, action, resource.clone(), context, entities, "service", &service.id)
            .await
            .map_err(map)
    }
}
