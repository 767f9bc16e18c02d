//! Indexering: an index of *where* information about an object is kept — never the information. Holders
//! (member systems) register engagements: that their organisation holds information of a category about
//! an object (a person, an organisation, a property, a vehicle, a case), and where to ask for it. A
//! finder learns the holders and asks only them.
//!
//! Objects are kept only as a keyed hash (HMAC-SHA256 under a deployment key from the key vault, the same
//! on every instance): the table alone does not say whom it is about. **Only callers the decision point
//! allows for a category learn that information of it exists** (`find` on `category:<id>`): asking for a
//! category one may not is refused the same way whether or not anything is held; asking for everything
//! returns only the allowed categories. Every find is an audit event with the object (a person) as data
//! subject; registrations and deletions are audit events of the holder.

mod model;
pub mod repo;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aws_lc_rs::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use ena_audit::event::{ObjectRef, Result as AuditResult};
use ena_audit::{AuditLog, AuditSink, Context};
use ena_core::FieldError;
use ena_store::Store;

pub use crate::model::*;

/// The key-vault name of the pseudonym key.
pub const PSEUDONYM_KEY: &str = "index-pseudonym";

/// The block.
#[derive(Clone)]
pub struct Index {
    store: Store,
    audit: AuditLog,
    access: Arc<ena_access::DecisionPoint>,
    key: hmac::Key,
    /// Seals objects in the change feed (derived from the pseudonym key).
    seal: Arc<LessSafeKey>,
}

/// How long the change feed keeps a change.
pub const CHANGES_KEPT_SECONDS: i64 = 30 * 86_400;

/// The caller of a find: a member system and its organisation (canonical).
pub struct Finder<'a> {
    pub member: &'a str,
    pub organisation: &'a str,
}

impl Index {
    /// `secret`: the deployment's pseudonym key (32 bytes from the key vault).
    pub fn new(store: Store, audit: AuditLog, access: Arc<ena_access::DecisionPoint>, secret: &[u8]) -> Index {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let derived = hmac::sign(&key, b"ena index change feed sealing key");
        let seal = LessSafeKey::new(
            UnboundKey::new(&CHACHA20_POLY1305, derived.as_ref()).expect("32 bytes is a ChaCha20 key"),
        );
        Index { store, audit, access, key, seal: Arc::new(seal) }
    }

    fn seal_object(&self, object: &Object) -> Vec<u8> {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let mut data = object.id().as_bytes().to_vec();
        self.seal
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
            .expect("sealing a short id cannot fail");
        [nonce.as_slice(), &data].concat()
    }

    fn open_object(&self, sealed: &[u8]) -> Option<String> {
        let (nonce, data) = sealed.split_at_checked(NONCE_LEN)?;
        let mut data = data.to_vec();
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let plain = self.seal.open_in_place(nonce, Aad::empty(), &mut data).ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }

    /// The keyed hash an object is kept as.
    pub fn pseudonym(&self, object: &Object) -> Vec<u8> {
        let input = format!("{}:{}", object.kind.as_str(), object.id());
        hmac::sign(&self.key, input.as_bytes()).as_ref().to_vec()
    }

    async fn record(&self, event: ena_audit::AuditEvent) -> Result<(), IndexError> {
        self.audit.record(vec![event]).await.map(|_| ()).map_err(|e| IndexError::Internal(e.to_string()))
    }

    /// Register or remove `holder`'s engagements: each item accepted or refused on its own (naming the
    /// field), the accepted ones applied in one transaction.
    pub async fn register(
        &self,
        ctx: &Context,
        holder: &str,
        items: &[BatchItem],
    ) -> Result<Vec<ItemOutcome>, IndexError> {
        if items.is_empty() || items.len() > repo::MAX_BATCH {
            return Err(IndexError::Invalid(vec![FieldError::new(
                "items",
                &items.len().to_string(),
                format!("1 to {} items per batch", repo::MAX_BATCH),
            )]));
        }
        let now = ena_core::time::unix_now();
        let subscribed = repo::subscribed(&self.store).await?;
        let mut outcomes = Vec::with_capacity(items.len());
        let mut changes = Vec::with_capacity(items.len());
        let mut feed = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match self.change(&format!("items/{i}"), holder, item, now) {
                Ok((c, object)) => {
                    if subscribed.contains(&item.category) {
                        feed.push(repo::ChangeRow {
                            seq: 0,
                            category: item.category.clone(),
                            kind: if item.delete { "deleted" } else { "registered" }.into(),
                            object_type: object.kind.as_str().into(),
                            object_sealed: self.seal_object(&object),
                            holder: holder.to_owned(),
                            address: item.address.clone().unwrap_or_default().trim().to_owned(),
                            at: now,
                        });
                    }
                    changes.push(c);
                    outcomes.push(ItemOutcome { index: i, status: "accepted", errors: Vec::new() });
                }
                Err(errors) => outcomes.push(ItemOutcome { index: i, status: "refused", errors }),
            }
        }
        if !changes.is_empty() {
            repo::apply(&self.store, &changes, &feed).await?;
            if !feed.is_empty() {
                repo::prune_changes(&self.store, now - CHANGES_KEPT_SECONDS).await?;
            }
        }
        let deleted = changes.iter().filter(|c| matches!(c, repo::Change::Delete { .. })).count();
        let mut event = ctx.event(
            "index.register",
            Some(ObjectRef { kind: "organisation".into(), id: holder.to_owned() }),
            AuditResult::Allowed,
            None,
        );
        event.details = Some(BTreeMap::from([
            ("upserted".to_owned(), (changes.len() - deleted).to_string()),
            ("deleted".to_owned(), deleted.to_string()),
            ("refused".to_owned(), (items.len() - changes.len()).to_string()),
        ]));
        self.record(event).await?;
        Ok(outcomes)
    }

    /// One item checked into a change, or every field wrong with it.
    fn change(
        &self,
        at: &str,
        holder: &str,
        item: &BatchItem,
        now: i64,
    ) -> Result<(repo::Change, Object), Vec<FieldError>> {
        let mut errors = Vec::new();
        let object = Object::parse(&format!("{at}/objectId"), item.object_type, &item.object_id)
            .map_err(|e| errors.push(e))
            .ok();
        if let Err(e) = check_category(&format!("{at}/category"), &item.category) {
            errors.push(e);
        }
        let updated_at = match &item.updated_at {
            None => Some(now),
            Some(t) => match ena_core::Timestamp::parse_rfc3339(t) {
                Some(t) => Some(t.unix()),
                None => {
                    errors.push(FieldError::new(&format!("{at}/updatedAt"), t, "an RFC 3339 time"));
                    None
                }
            },
        };
        if !item.delete {
            match &item.address {
                Some(a) if !a.trim().is_empty() && a.len() <= 200 => {}
                Some(a) => errors.push(FieldError::new(&format!("{at}/address"), a, "1–200 characters")),
                None => errors.push(FieldError::new(
                    &format!("{at}/address"),
                    "(missing)",
                    "where to ask: the holder's address or service",
                )),
            }
        }
        if let Some(s) = item.source.as_ref().filter(|s| s.len() > 200) {
            errors.push(FieldError::new(&format!("{at}/source"), s, "at most 200 characters"));
        }
        let (Some(object), Some(updated_at), true) = (object, updated_at, errors.is_empty()) else {
            return Err(errors);
        };
        let object_key = self.pseudonym(&object);
        let change = if item.delete {
            repo::Change::Delete { object_key, category: item.category.clone(), holder: holder.to_owned() }
        } else {
            repo::Change::Upsert(repo::Row {
                object_key,
                category: item.category.clone(),
                holder: holder.to_owned(),
                address: item.address.clone().unwrap_or_default().trim().to_owned(),
                updated_at,
                source: item.source.clone(),
                registered_at: now,
            })
        };
        Ok((change, object))
    }

    /// May `finder` learn of information of `category`?
    async fn may_find(&self, finder: &Finder<'_>, category: &str) -> Result<bool, IndexError> {
        self.access
            .decide_simple(
                ("member", finder.member),
                &[("organisationNumber", finder.organisation)],
                "find",
                ("category", category),
            )
            .await
            .map(|d| d.allowed)
            .map_err(|e| IndexError::Internal(e.to_string()))
    }

    /// Who holds information about an object: only of the categories `finder` may learn of. Asking for
    /// one category it may not is refused — the same refusal whether or not anything is held.
    pub async fn find(
        &self,
        ctx: &Context,
        finder: &Finder<'_>,
        input: &FindInput,
    ) -> Result<Vec<Engagement>, IndexError> {
        let object =
            Object::parse("objectId", input.object_type, &input.object_id).map_err(|e| IndexError::Invalid(vec![e]))?;
        if let Some(c) = &input.category {
            check_category("category", c).map_err(|e| IndexError::Invalid(vec![e]))?;
        }
        let holder = match &input.holder {
            Some(h) => Some(
                ena_core::Organisationsnummer::parse(h)
                    .map(|o| o.as_str().to_owned())
                    .map_err(|e| IndexError::Invalid(vec![FieldError::new("holder", h, e.to_string())]))?,
            ),
            None => None,
        };
        let mut event = ctx.event(
            "index.find",
            Some(ObjectRef { kind: input.object_type.as_str().into(), id: format!("{object:?}") }),
            AuditResult::Allowed,
            None,
        );
        if let Some(s) = object.subject() {
            event.data_subjects.push(s.to_owned());
        }
        if let Some(c) = &input.category
            && !self.may_find(finder, c).await?
        {
            event.outcome.result = AuditResult::Denied;
            event.outcome.reason = Some(format!("not allowed to find {c}"));
            self.record(event).await?;
            return Err(IndexError::Forbidden(format!(
                "this caller may not learn whether information of {c} exists (no policy permits find on category {c})"
            )));
        }
        let rows =
            repo::find(&self.store, &self.pseudonym(&object), input.category.as_deref(), holder.as_deref()).await?;
        let mut allowed: HashMap<String, bool> = HashMap::new();
        let mut found = Vec::new();
        for r in rows {
            let may = match allowed.get(&r.category) {
                Some(m) => *m,
                None => {
                    let m = self.may_find(finder, &r.category).await?;
                    allowed.insert(r.category.clone(), m);
                    m
                }
            };
            if may {
                found.push(Engagement {
                    category: r.category,
                    holder: r.holder,
                    address: r.address,
                    updated_at: ena_core::time::rfc3339_of(r.updated_at),
                    source: r.source,
                });
            }
        }
        event.details = Some(BTreeMap::from([("found".to_owned(), found.len().to_string())]));
        self.record(event).await?;
        Ok(found)
    }
}

impl Index {
    /// Who holds information about `person` (canonical), for the person themself: every category — it is
    /// their own data, no policy is asked — a page at a time; the reading is an audit event.
    pub async fn holdings(
        &self,
        ctx: &Context,
        person: &str,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<Engagement>, IndexError> {
        let object = Object::parse("person", ObjectType::Person, person).map_err(|e| IndexError::Invalid(vec![e]))?;
        let rows = repo::of_object(&self.store, &self.pseudonym(&object), limit, offset).await?;
        let mut event = ctx.event(
            "index.holdings.read",
            Some(ObjectRef { kind: "person".into(), id: format!("{object:?}") }),
            AuditResult::Allowed,
            None,
        );
        event.data_subjects.push(object.id().to_owned());
        self.record(event).await?;
        Ok(rows
            .into_iter()
            .map(|r| Engagement {
                category: r.category,
                holder: r.holder,
                address: r.address,
                updated_at: ena_core::time::rfc3339_of(r.updated_at),
                source: r.source,
            })
            .collect())
    }

    /// Remove one of `holder`'s engagements.
    pub async fn delete(&self, ctx: &Context, holder: &str, key: &EngagementKey) -> Result<(), IndexError> {
        let object =
            Object::parse("objectId", key.object_type, &key.object_id).map_err(|e| IndexError::Invalid(vec![e]))?;
        check_category("category", &key.category).map_err(|e| IndexError::Invalid(vec![e]))?;
        let gone = repo::delete(&self.store, &self.pseudonym(&object), &key.category, holder).await?;
        let mut event = ctx.event(
            "index.delete",
            Some(ObjectRef { kind: "organisation".into(), id: holder.to_owned() }),
            if gone { AuditResult::Allowed } else { AuditResult::Denied },
            (!gone).then(|| "no such engagement".to_owned()),
        );
        event.details = Some(BTreeMap::from([("category".to_owned(), key.category.clone())]));
        self.record(event).await?;
        if !gone {
            return Err(IndexError::NotFound(format!(
                "your organisation has no engagement of {} for this object",
                key.category
            )));
        }
        Ok(())
    }
}

impl Index {
    /// Subscribe `finder` to the changes of a category it may learn of (refused like a find otherwise).
    pub async fn subscribe(
        &self,
        ctx: &Context,
        finder: &Finder<'_>,
        category: &str,
    ) -> Result<Subscription, IndexError> {
        check_category("category", category).map_err(|e| IndexError::Invalid(vec![e]))?;
        let mut event = ctx.event(
            "index.subscribe",
            Some(ObjectRef { kind: "category".into(), id: category.to_owned() }),
            AuditResult::Allowed,
            None,
        );
        if !self.may_find(finder, category).await? {
            event.outcome.result = AuditResult::Denied;
            event.outcome.reason = Some(format!("not allowed to find {category}"));
            self.record(event).await?;
            return Err(IndexError::Forbidden(format!(
                "this caller may not learn whether information of {category} exists (no policy permits find on category {category})"
            )));
        }
        self.record(event).await?;
        let row = repo::subscribe(
            &self.store,
            &repo::SubscriptionRow {
                id: uuid::Uuid::now_v7().to_string(),
                member: finder.member.to_owned(),
                organisation: finder.organisation.to_owned(),
                category: category.to_owned(),
                created_at: ena_core::time::unix_now(),
            },
        )
        .await?;
        Ok(to_subscription(row))
    }

    pub async fn subscriptions(&self, member: &str, limit: u32, offset: u64) -> Result<Vec<Subscription>, IndexError> {
        Ok(repo::subscriptions(&self.store, member, limit, offset).await?.into_iter().map(to_subscription).collect())
    }

    pub async fn unsubscribe(&self, ctx: &Context, member: &str, id: &str) -> Result<(), IndexError> {
        if !repo::unsubscribe(&self.store, member, id).await? {
            return Err(IndexError::NotFound("your system has no such subscription".into()));
        }
        let event = ctx.event(
            "index.unsubscribe",
            Some(ObjectRef { kind: "subscription".into(), id: id.to_owned() }),
            AuditResult::Allowed,
            None,
        );
        self.record(event).await
    }

    /// The changes of a subscription's category after `after` (its `seq`), oldest first — only while the
    /// decision point still lets the subscriber learn of the category. The reading is an audit event with
    /// the persons in the page as data subjects.
    pub async fn changes(
        &self,
        ctx: &Context,
        finder: &Finder<'_>,
        id: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<ChangeItem>, IndexError> {
        let Some(s) = repo::subscription(&self.store, finder.member, id).await? else {
            return Err(IndexError::NotFound("your system has no such subscription".into()));
        };
        if !self.may_find(finder, &s.category).await? {
            return Err(IndexError::Forbidden(format!(
                "this caller may no longer learn of {} (no policy permits find on category {})",
                s.category, s.category
            )));
        }
        let rows = repo::changes(&self.store, &s.category, after, limit).await?;
        let mut event = ctx.event(
            "index.changes.read",
            Some(ObjectRef { kind: "subscription".into(), id: id.to_owned() }),
            AuditResult::Allowed,
            None,
        );
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let Some(object_id) = self.open_object(&r.object_sealed) else {
                return Err(IndexError::Internal(format!("change {} does not open with this deployment's key", r.seq)));
            };
            if r.object_type == "person" {
                event.data_subjects.push(object_id.clone());
            }
            out.push(ChangeItem {
                seq: r.seq,
                kind: r.kind,
                object_type: r.object_type,
                object_id,
                category: r.category,
                holder: r.holder,
                address: r.address,
                at: ena_core::time::rfc3339_of(r.at),
            });
        }
        event.data_subjects.sort();
        event.data_subjects.dedup();
        self.record(event).await?;
        Ok(out)
    }
}

fn to_subscription(r: repo::SubscriptionRow) -> Subscription {
    Subscription { id: r.id, category: r.category, created_at: ena_core::time::rfc3339_of(r.created_at) }
}
