//! Min profil: what a person controls about themself.
//!
//! - **Contact details and preferences**: e-mail addresses and mobile numbers, each verified with a
//!   six-digit code sent through the installation's notification sender before it is used; a code expires
//!   after ten minutes and allows five tries, and at most five codes a day go to one contact, at least
//!   30 s apart (each limit one conditional UPDATE, so instances cannot together exceed it). Preferred
//!   language and channel (or none). Contacts may be for notices about an organisation the person acts for
//!   (a company's people). Mina meddelanden asks [`Profile::notice_route`] whom to tell.
//! - **Consents**: a person lets a named organisation (a bank) get a named category of their data from
//!   another (income data at Skatteverket) for a purpose until a date. The producing node asks
//!   [`Profile::check`] at every call carrying the consent's reference, so a withdrawal takes effect at the
//!   next call; each check is an audit event with the person as data subject. Each consent has a receipt
//!   signed by the installation ([`receipt`]) with the ISO/IEC TS 27560 fields and its event history.

mod model;
pub mod receipt;
pub mod repo;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use ena_audit::event::{ObjectRef, Result as AuditResult};
use ena_audit::{AuditLog, AuditSink, Context};
use ena_core::FieldError;
use ena_keys::jose::SigningKey;
use ena_store::Store;

pub use crate::model::*;

/// What Min profil needs to know of the rest of ena to accept a consent.
pub trait Registry: Send + Sync {
    /// The name of the organisation if it is a member of the federation in good standing.
    fn organisation<'a>(
        &'a self,
        organisation: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Option<String>, String>> + Send + 'a>>;
    /// Whether `holder` keeps information of `category` at all (it registered some in the index).
    fn holds<'a>(
        &'a self,
        holder: &'a str,
        category: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<bool, String>> + Send + 'a>>;
}

/// Consents last 90 days unless the person says otherwise, and at most two years.
pub const DEFAULT_CONSENT_DAYS: i64 = 90;
pub const MAX_CONSENT_DAYS: i64 = 731;

/// What a code notice says (sent through the notification sender).
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeNotice {
    pub channel: Channel,
    pub address: String,
    pub code: String,
    pub language: String,
}

/// The block.
#[derive(Clone)]
pub struct Profile {
    store: Store,
    audit: AuditLog,
    key: Arc<SigningKey>,
    registry: Arc<dyn Registry>,
    /// The receipts' issuer (`<base>/profile`).
    issuer: String,
}

fn internal(e: impl std::fmt::Display) -> ProfileError {
    ProfileError::Internal(e.to_string())
}

fn code_hash(id: &str, code: &str) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, format!("{id}:{code}").as_bytes()).as_ref().to_vec()
}

impl Profile {
    pub fn new(store: Store, audit: AuditLog, key: SigningKey, registry: Arc<dyn Registry>, base: &str) -> Profile {
        Profile {
            store,
            audit,
            key: Arc::new(key),
            registry,
            issuer: format!("{}/profile", base.trim_end_matches('/')),
        }
    }

    /// The receipts' public keys.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({"keys": [self.key.public_jwk()]})
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    async fn record(&self, event: ena_audit::AuditEvent) -> Result<(), ProfileError> {
        self.audit.record(vec![event]).await.map(|_| ()).map_err(internal)
    }

    /// Log `event` in the background (the log's appender commits it with the next batch).
    fn record_soon(&self, event: ena_audit::AuditEvent) {
        let audit = self.audit.clone();
        tokio::spawn(async move {
            if let Err(e) = audit.record(vec![event]).await {
                tracing::error!(error = %e, "a consent use could not be logged");
            }
        });
    }

    fn event(
        &self,
        ctx: &Context,
        action: &str,
        object: (&str, &str),
        subject: &str,
        details: &[(&str, &str)],
    ) -> ena_audit::AuditEvent {
        let mut event = ctx.event(
            action,
            Some(ObjectRef { kind: object.0.into(), id: object.1.into() }),
            AuditResult::Allowed,
            None,
        );
        event.data_subjects.push(subject.to_owned());
        if !details.is_empty() {
            event.details = Some(details.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect());
        }
        event
    }

    // ---- contact details -------------------------------------------------------------------------

    pub async fn contacts(&self, person: &str, limit: u32, offset: u64) -> Result<Vec<Contact>, ProfileError> {
        Ok(repo::contacts(&self.store, person, limit, offset).await?.into_iter().map(to_contact).collect())
    }

    /// Add a contact detail (unverified) and make its first code; the caller sends the returned notice.
    /// `may_act_for`: whether the person acts for `input.organisation` (checked by the caller, who knows
    /// the representation register).
    pub async fn add_contact(
        &self,
        ctx: &Context,
        person: &str,
        input: &ContactInput,
        may_act_for: impl AsyncFnOnce(&str) -> bool,
    ) -> Result<(Contact, CodeNotice), ProfileError> {
        let address = canonical_address(input.channel, &input.address).map_err(|e| ProfileError::Invalid(vec![e]))?;
        let organisation = match &input.organisation {
            None => String::new(),
            Some(o) => {
                let org = ena_core::Organisationsnummer::parse(o)
                    .map_err(|e| invalid("organisation", o, &e.to_string()))?
                    .as_str()
                    .to_owned();
                if !may_act_for(&org).await {
                    return Err(invalid("organisation", o, "not an organisation you act for"));
                }
                org
            }
        };
        let now = ena_core::time::unix_now();
        let row = repo::ContactRow {
            id: uuid::Uuid::now_v7().to_string(),
            person: person.to_owned(),
            channel: input.channel.as_str().to_owned(),
            address,
            organisation,
            verified_at: None,
            created_at: now,
        };
        if !repo::insert_contact(&self.store, &row).await? {
            return Err(invalid("address", &row.address, "you have this contact already"));
        }
        self.record(self.event(ctx, "profile.contact.add", ("contact", &row.id), person, &[("channel", &row.channel)]))
            .await?;
        let notice = self.new_code(person, &row.id).await?;
        Ok((to_contact(row), notice))
    }

    /// Make a new code for an unverified contact (within the limits); the caller sends the notice.
    pub async fn new_code(&self, person: &str, id: &str) -> Result<CodeNotice, ProfileError> {
        let row = self.own_contact(person, id).await?;
        if row.verified_at.is_some() {
            return Err(ProfileError::Invalid(vec![FieldError::new("contact", id, "already verified")]));
        }
        let code = format!("{:06}", rand::random_range(0..1_000_000u32));
        let now = ena_core::time::unix_now();
        if !repo::set_code(&self.store, person, id, &code_hash(id, &code), now).await? {
            return Err(ProfileError::TooMany(format!(
                "a new code can be sent {} s after the last, and at most {} a day; try again later",
                repo::LIMITS.resend_after,
                repo::LIMITS.per_window
            )));
        }
        let language = self.preferences(person).await?.language;
        Ok(CodeNotice { channel: channel_of(&row.channel), address: row.address, code, language })
    }

    /// Check a code: the try is counted first; a right code verifies the contact.
    pub async fn verify(&self, ctx: &Context, person: &str, id: &str, code: &str) -> Result<Contact, ProfileError> {
        let row = self.own_contact(person, id).await?;
        if row.verified_at.is_some() {
            return Ok(to_contact(row));
        }
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("code", "…", "the six digits sent to you"));
        }
        let now = ena_core::time::unix_now();
        let Some(hash) = repo::take_try(&self.store, person, id, now).await? else {
            return Err(ProfileError::TooMany(
                "this code has expired or has been tried too many times; ask for a new one".into(),
            ));
        };
        let right = aws_lc_rs::constant_time::verify_slices_are_equal(&hash, &code_hash(id, code)).is_ok();
        let mut event = self.event(ctx, "profile.contact.verify", ("contact", id), person, &[]);
        if !right || !repo::mark_verified(&self.store, id, &hash, now).await? {
            event.outcome.result = AuditResult::Denied;
            event.outcome.reason = Some("wrong code".into());
            self.record(event).await?;
            return Err(invalid("code", "…", "not the code sent to you"));
        }
        self.record(event).await?;
        self.own_contact(person, id).await.map(to_contact)
    }

    pub async fn delete_contact(&self, ctx: &Context, person: &str, id: &str) -> Result<(), ProfileError> {
        if !repo::delete_contact(&self.store, person, id).await? {
            return Err(ProfileError::NotFound("you have no such contact".into()));
        }
        self.record(self.event(ctx, "profile.contact.delete", ("contact", id), person, &[])).await
    }

    async fn own_contact(&self, person: &str, id: &str) -> Result<repo::ContactRow, ProfileError> {
        repo::contact(&self.store, person, id)
            .await?
            .ok_or_else(|| ProfileError::NotFound("you have no such contact".into()))
    }

    pub async fn preferences(&self, person: &str) -> Result<Preferences, ProfileError> {
        Ok(repo::preferences(&self.store, person)
            .await?
            .map(|(language, channel)| Preferences { language, channel })
            .unwrap_or_default())
    }

    pub async fn set_preferences(
        &self,
        ctx: &Context,
        person: &str,
        p: &Preferences,
    ) -> Result<Preferences, ProfileError> {
        p.check().map_err(ProfileError::Invalid)?;
        repo::put_preferences(&self.store, person, &p.language, &p.channel, ena_core::time::unix_now()).await?;
        self.record(self.event(ctx, "profile.preferences.set", ("person", "preferences"), person, &[])).await?;
        Ok(p.clone())
    }

    /// Whom to tell about mail to `person`: their preferred channel's verified contact, nothing if they
    /// chose no notices, or unknown (the notifier resolves them) when nothing is verified.
    pub async fn notice_route(&self, person: &str) -> Result<NoticeRoute, ProfileError> {
        let p = self.preferences(person).await?;
        let channel = match p.channel.as_str() {
            "none" => return Ok(NoticeRoute::Suppressed),
            "sms" => Channel::Sms,
            _ => Channel::Email,
        };
        let verified = repo::verified(&self.store, person, channel.as_str(), "").await?;
        Ok(match verified.into_iter().next() {
            Some(address) => NoticeRoute::To(NoticeTarget { channel, address, language: p.language }),
            None => NoticeRoute::Unknown { language: p.language },
        })
    }

    /// Whom to tell about mail to `organisation`: the verified contacts its people gave for it.
    pub async fn organisation_targets(&self, organisation: &str) -> Result<Vec<NoticeTarget>, ProfileError> {
        let mut out = Vec::new();
        for (person, channel, address) in repo::for_organisation(&self.store, organisation).await? {
            let language = self.preferences(&person).await?.language;
            out.push(NoticeTarget { channel: channel_of(&channel), address, language });
        }
        Ok(out)
    }
}

fn channel_of(s: &str) -> Channel {
    if s == "sms" { Channel::Sms } else { Channel::Email }
}

fn to_contact(r: repo::ContactRow) -> Contact {
    Contact {
        id: r.id,
        channel: channel_of(&r.channel),
        address: r.address,
        organisation: (!r.organisation.is_empty()).then_some(r.organisation),
        verified_at: r.verified_at.map(ena_core::time::rfc3339_of),
        created_at: ena_core::time::rfc3339_of(r.created_at),
    }
}

// ---- consents -------------------------------------------------------------------------------------

/// A consent's state at `now`.
pub fn status(c: &repo::ConsentRow, now: i64) -> &'static str {
    if c.withdrawn_at.is_some() {
        "withdrawn"
    } else if c.expires_at <= now {
        "expired"
    } else {
        "active"
    }
}

impl Profile {
    async fn organisation(&self, field: &str, value: &str) -> Result<(String, String), ProfileError> {
        let org = ena_core::Organisationsnummer::parse(value)
            .map_err(|e| invalid(field, value, &e.to_string()))?
            .as_str()
            .to_owned();
        match self.registry.organisation(&org).await.map_err(ProfileError::Internal)? {
            Some(name) => Ok((org, name)),
            None => Err(invalid(field, value, "no member of the federation has this organisation number")),
        }
    }

    /// Give a consent: both organisations must be members, the holder must keep the category (the index
    /// says so), the purpose said, the end within two years.
    pub async fn give(&self, ctx: &Context, person: &str, input: &ConsentInput) -> Result<Consent, ProfileError> {
        let mut errors = Vec::new();
        let recipient = self.organisation("recipient", &input.recipient).await;
        let holder = self.organisation("holder", &input.holder).await;
        if let Err(e) = ena_index::check_category("category", &input.category) {
            errors.push(e);
        }
        let purpose = input.purpose.trim();
        if purpose.is_empty() || purpose.chars().count() > 200 {
            errors.push(FieldError::new("purpose", purpose, "1–200 characters"));
        }
        let now = ena_core::time::unix_now();
        let expires_at = match &input.expires_at {
            None => Some(now + DEFAULT_CONSENT_DAYS * 86_400),
            Some(t) => match ena_core::Timestamp::parse_rfc3339(t).map(|t| t.unix()) {
                Some(at) if at > now && at <= now + MAX_CONSENT_DAYS * 86_400 => Some(at),
                Some(_) => {
                    errors.push(FieldError::new("expiresAt", t, "in the future, at most two years ahead"));
                    None
                }
                None => {
                    errors.push(FieldError::new("expiresAt", t, "an RFC 3339 time"));
                    None
                }
            },
        };
        for r in [&recipient, &holder] {
            if let Err(ProfileError::Invalid(f)) = r {
                errors.extend(f.iter().cloned());
            }
        }
        let (recipient, holder) = match (recipient, holder) {
            (Ok(r), Ok(h)) if errors.is_empty() => (r, h),
            (Err(e @ ProfileError::Internal(_)), _) | (_, Err(e @ ProfileError::Internal(_))) => return Err(e),
            _ => return Err(ProfileError::Invalid(errors)),
        };
        if recipient.0 == holder.0 {
            return Err(invalid("recipient", &input.recipient, "the holder itself needs no consent"));
        }
        if !self.registry.holds(&holder.0, &input.category).await.map_err(ProfileError::Internal)? {
            return Err(invalid(
                "category",
                &input.category,
                &format!("{} keeps no information of this category (none in the index)", holder.1),
            ));
        }
        let row = repo::ConsentRow {
            id: uuid::Uuid::now_v7().to_string(),
            person: person.to_owned(),
            recipient: recipient.0,
            holder: holder.0,
            category: input.category.clone(),
            purpose: purpose.to_owned(),
            given_at: now,
            expires_at: expires_at.unwrap_or(now),
            withdrawn_at: None,
        };
        // Logged before it is stored: no consent exists unrecorded.
        self.record(self.event(ctx, "profile.consent.give", ("consent", &row.id), person, &consent_details(&row)))
            .await?;
        repo::insert_consent(&self.store, &row).await?;
        Ok(self.view(row, now).await)
    }

    /// Withdraw a consent (effective at the next check).
    pub async fn withdraw(&self, ctx: &Context, person: &str, id: &str) -> Result<Consent, ProfileError> {
        let row = self.own_consent(person, id).await?;
        let now = ena_core::time::unix_now();
        if row.withdrawn_at.is_some() {
            return Err(ProfileError::Invalid(vec![FieldError::new("consent", id, "already withdrawn")]));
        }
        self.record(self.event(ctx, "profile.consent.withdraw", ("consent", id), person, &consent_details(&row)))
            .await?;
        repo::withdraw(&self.store, person, id, now).await?;
        let row = self.own_consent(person, id).await?;
        Ok(self.view(row, now).await)
    }

    pub async fn consents(&self, person: &str, limit: u32, offset: u64) -> Result<Vec<Consent>, ProfileError> {
        let now = ena_core::time::unix_now();
        let mut out = Vec::new();
        for row in repo::consents(&self.store, person, limit, offset).await? {
            out.push(self.view(row, now).await);
        }
        Ok(out)
    }

    pub async fn consent(&self, person: &str, id: &str) -> Result<Consent, ProfileError> {
        let row = self.own_consent(person, id).await?;
        Ok(self.view(row, ena_core::time::unix_now()).await)
    }

    /// The consent's receipt, signed now with its history so far: the compact JWS and its claims.
    pub async fn receipt(&self, person: &str, id: &str) -> Result<(String, serde_json::Value), ProfileError> {
        let row = self.own_consent(person, id).await?;
        let view = self.view(row.clone(), ena_core::time::unix_now()).await;
        Ok(receipt::sign(&self.key, &self.issuer, &row, &view, ena_core::time::unix_now()))
    }

    async fn own_consent(&self, person: &str, id: &str) -> Result<repo::ConsentRow, ProfileError> {
        match repo::consent(&self.store, id).await? {
            Some(c) if c.person == person => Ok(c),
            _ => Err(ProfileError::NotFound("you have no such consent".into())),
        }
    }

    async fn view(&self, r: repo::ConsentRow, now: i64) -> Consent {
        let name = async |org: &str| self.registry.organisation(org).await.ok().flatten();
        Consent {
            recipient_name: name(&r.recipient).await,
            holder_name: name(&r.holder).await,
            status: status(&r, now),
            id: r.id,
            recipient: r.recipient,
            holder: r.holder,
            category: r.category,
            purpose: r.purpose,
            given_at: ena_core::time::rfc3339_of(r.given_at),
            expires_at: ena_core::time::rfc3339_of(r.expires_at),
            withdrawn_at: r.withdrawn_at.map(ena_core::time::rfc3339_of),
        }
    }

    /// The producing node `holder` asks whether a call from `recipient` may have `category` data under
    /// consent `consent_id`. Every answer about an existing consent is an audit event with its person as
    /// data subject (the use, or the refused attempt).
    pub async fn check(
        &self,
        ctx: &Context,
        holder: &str,
        input: &ConsentCheckInput,
    ) -> Result<ConsentUse, ProfileError> {
        let refused = || ProfileError::Refused("no consent in force for this call".into());
        if uuid::Uuid::parse_str(&input.consent_id).is_err() {
            return Err(invalid("consentId", &input.consent_id, "a consent id (UUID)"));
        }
        let recipient = ena_core::Organisationsnummer::parse(&input.recipient)
            .map_err(|e| invalid("recipient", &input.recipient, &e.to_string()))?;
        let Some(row) = repo::consent(&self.store, &input.consent_id).await? else {
            return Err(refused());
        };
        let now = ena_core::time::unix_now();
        let why = if row.holder != holder || row.recipient != recipient.as_str() || row.category != input.category {
            Some("the consent is for another flow (recipient, holder or category)")
        } else {
            match status(&row, now) {
                "withdrawn" => Some("the consent has been withdrawn"),
                "expired" => Some("the consent has expired"),
                _ => None,
            }
        };
        let mut details = consent_details(&row);
        let service = input.service.clone().unwrap_or_default();
        if !service.is_empty() {
            details.push(("service", &service));
        }
        // At most 100 characters of what the caller said its unit is (it is the caller's word).
        let unit: String = input.unit.as_deref().unwrap_or_default().chars().take(100).collect();
        if !unit.is_empty() {
            details.push(("unit", &unit));
        }
        let mut event = self.event(ctx, "profile.consent.use", ("consent", &row.id), &row.person, &details);
        if let Some(why) = why {
            event.outcome.result = AuditResult::Denied;
            event.outcome.reason = Some(why.to_owned());
            self.record(event).await?;
            return Err(ProfileError::Refused(why.into()));
        }
        // An allowed use is logged without waiting for the disk: the call's record that counts is the
        // producing node's entry of the served call, written before the answer leaves that node and
        // handed over to this log; waiting here would add a commit to every call (refusals wait).
        self.record_soon(event);
        Ok(ConsentUse {
            consent_id: row.id,
            subject: row.person,
            recipient: row.recipient,
            holder: row.holder,
            category: row.category,
            purpose: row.purpose,
            expires_at: ena_core::time::rfc3339_of(row.expires_at),
        })
    }
}

fn consent_details(r: &repo::ConsentRow) -> Vec<(&'static str, &str)> {
    vec![("recipient", &r.recipient), ("holder", &r.holder), ("category", &r.category), ("purpose", &r.purpose)]
}
