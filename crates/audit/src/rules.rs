//! Follow-up rules (*logguppföljning*): evaluated on every appended batch, they raise alert events into
//! the same log. Rules are data (`data/audit/rules.toml`, or any file given to `ena serve`).

use std::collections::{HashMap, VecDeque};

use serde::Deserialize;

use crate::event::{Actor, ActorKind, AuditEvent, ObjectRef, Outcome, Result as Res};

/// The rules shipped with ena.
pub const DEFAULT_RULES: &str = include_str!("../../../data/audit/rules.toml");

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    #[serde(default)]
    pub rules: Vec<Rule>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Names the alert: its action is `alert.<id>`.
    pub id: String,
    pub kind: RuleKind,
    /// How many events (denied attempts, or distinct actors) raise the alert.
    pub threshold: usize,
    /// Within how many seconds.
    pub window_secs: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleKind {
    /// At least `threshold` denied attempts by one actor within the window.
    DeniedBurst,
    /// Events about one data subject by at least `threshold` distinct actors within the window.
    SubjectFanout,
}

impl RuleSet {
    pub fn parse(text: &str) -> Result<RuleSet, String> {
        let set: RuleSet = toml::from_str(text).map_err(|e| e.to_string())?;
        for (i, rule) in set.rules.iter().enumerate() {
            if rule.threshold == 0 || rule.window_secs <= 0 {
                return Err(format!("rules[{i}] ({}): threshold and window_secs must be positive", rule.id));
            }
            if rule.id.is_empty() || !rule.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                return Err(format!("rules[{i}]: id {:?} must be lowercase letters, digits and '-'", rule.id));
            }
        }
        Ok(set)
    }

    pub fn shipped() -> RuleSet {
        RuleSet::parse(DEFAULT_RULES).expect("data/audit/rules.toml is valid (pinned by tests)")
    }
}

/// Sliding-window state of every rule.
#[derive(Debug, Default)]
pub struct Evaluator {
    rules: Vec<Rule>,
    /// (rule index, actor) → times of denied attempts in the window.
    denied: HashMap<(usize, String), VecDeque<i64>>,
    /// (rule index, subject) → actor → last time seen.
    fanout: HashMap<(usize, String), HashMap<String, i64>>,
}

impl Evaluator {
    pub fn new(set: RuleSet) -> Evaluator {
        Evaluator { rules: set.rules, ..Evaluator::default() }
    }

    /// Feed events (in log order); returns the alerts they raise. Alerts never feed back into rules.
    pub fn observe<'a>(&mut self, events: impl IntoIterator<Item = &'a AuditEvent>) -> Vec<AuditEvent> {
        let mut alerts = Vec::new();
        if self.rules.is_empty() {
            return alerts;
        }
        for event in events.into_iter().filter(|e| !e.action.starts_with("alert.")) {
            let Some(now) = ena_core::Timestamp::parse_rfc3339(&event.time).map(ena_core::Timestamp::unix) else {
                continue;
            };
            for (r, rule) in self.rules.iter().enumerate() {
                match rule.kind {
                    RuleKind::DeniedBurst if event.outcome.result == Res::Denied => {
                        let times = self.denied.entry((r, event.actor.id.clone())).or_default();
                        times.push_back(now);
                        while times.front().is_some_and(|t| now - t >= rule.window_secs) {
                            times.pop_front();
                        }
                        if times.len() >= rule.threshold {
                            // One alert per burst: start counting afresh.
                            times.clear();
                            alerts.push(alert(
                                rule,
                                event,
                                "actor",
                                &event.actor.id,
                                format!(
                                    "{} denied attempts by one actor within {} s",
                                    rule.threshold, rule.window_secs
                                ),
                            ));
                        }
                    }
                    RuleKind::SubjectFanout => {
                        for subject in &event.data_subjects {
                            let actors = self.fanout.entry((r, subject.clone())).or_default();
                            actors.insert(event.actor.id.clone(), now);
                            actors.retain(|_, t| now - *t < rule.window_secs);
                            if actors.len() >= rule.threshold {
                                actors.clear();
                                let mut a = alert(
                                    rule,
                                    event,
                                    "data-subject",
                                    subject,
                                    format!(
                                        "{} distinct actors accessed one data subject within {} s",
                                        rule.threshold, rule.window_secs
                                    ),
                                );
                                a.data_subjects = vec![subject.clone()];
                                // The subject may not see an alert that names the actors under suspicion.
                                a.restricted = true;
                                alerts.push(a);
                            }
                        }
                    }
                    RuleKind::DeniedBurst => {}
                }
            }
        }
        alerts
    }
}

fn alert(rule: &Rule, cause: &AuditEvent, object_type: &str, object_id: &str, reason: String) -> AuditEvent {
    AuditEvent {
        time: cause.time.clone(),
        actor: Actor { kind: ActorKind::System, id: "ena-audit-rules".into(), organisation: None },
        on_behalf_of: None,
        action: format!("alert.{}", rule.id),
        object: Some(ObjectRef { kind: object_type.into(), id: object_id.into() }),
        data_subjects: Vec::new(),
        outcome: Outcome { result: Res::Allowed, reason: Some(reason) },
        correlation_id: cause.correlation_id.clone(),
        restricted: false,
        reveal_at: None,
        details: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    fn event(second: i64, actor: &str, result: Res, subject: Option<&str>) -> AuditEvent {
        let time = OffsetDateTime::from_unix_timestamp(1_800_000_000 + second).unwrap().format(&Rfc3339).unwrap();
        AuditEvent {
            time,
            actor: Actor { kind: ActorKind::System, id: actor.into(), organisation: None },
            on_behalf_of: None,
            action: "test.read".into(),
            object: None,
            data_subjects: subject.map(|s| vec![s.to_owned()]).unwrap_or_default(),
            outcome: Outcome { result, reason: None },
            correlation_id: None,
            restricted: false,
            reveal_at: None,
            details: None,
        }
    }

    fn rules(text: &str) -> Evaluator {
        Evaluator::new(RuleSet::parse(text).unwrap())
    }

    #[test]
    fn shipped_rules_parse() {
        assert!(!RuleSet::shipped().rules.is_empty());
    }

    #[test]
    fn denied_burst_fires_once_per_burst_within_the_window() {
        let mut e = rules("[[rules]]\nid = \"burst\"\nkind = \"denied-burst\"\nthreshold = 3\nwindow_secs = 60\n");
        let spread: Vec<_> = (0..3).map(|i| event(i * 40, "a", Res::Denied, None)).collect();
        assert!(e.observe(&spread).is_empty(), "three denials over 80 s are not a burst");
        let burst: Vec<_> = (0..7).map(|i| event(1000 + i, "b", Res::Denied, None)).collect();
        let alerts = e.observe(&burst);
        assert_eq!(alerts.len(), 2, "7 denials with threshold 3 → two alerts");
        assert_eq!(alerts[0].action, "alert.burst");
        assert_eq!(alerts[0].object.as_ref().unwrap().id, "b");
        let allowed: Vec<_> = (0..5).map(|i| event(2000 + i, "c", Res::Allowed, None)).collect();
        assert!(e.observe(&allowed).is_empty());
    }

    #[test]
    fn subject_fanout_counts_distinct_actors() {
        let mut e = rules("[[rules]]\nid = \"fanout\"\nkind = \"subject-fanout\"\nthreshold = 3\nwindow_secs = 3600\n");
        let same_actor: Vec<_> = (0..5).map(|i| event(i, "a", Res::Allowed, Some("191212121212"))).collect();
        assert!(e.observe(&same_actor).is_empty());
        let alerts = e.observe(&[
            event(10, "b", Res::Allowed, Some("191212121212")),
            event(11, "c", Res::Allowed, Some("191212121212")),
        ]);
        assert_eq!(alerts.len(), 1);
        assert!(alerts[0].restricted);
        assert_eq!(alerts[0].data_subjects, ["191212121212"]);
    }

    #[test]
    fn bad_rules_are_refused() {
        assert!(
            RuleSet::parse("[[rules]]\nid = \"x\"\nkind = \"denied-burst\"\nthreshold = 0\nwindow_secs = 1\n").is_err()
        );
        assert!(RuleSet::parse("[[rules]]\nid = \"x\"\nkind = \"nope\"\nthreshold = 1\nwindow_secs = 1\n").is_err());
    }
}
