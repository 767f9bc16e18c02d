//! Mina ärenden at the edge: the API (`api.rs`) for organisations and for people, the portal pages of
//! Mina sidor (`portal.rs`), and what both use — the scopes a person sees cases in (their own and every
//! party Mina ombud lets them act for, limited to the services their packages cover) and the list's
//! filters read from a query string.

pub mod api;
pub mod events;
mod examples;
pub mod portal;

pub use examples::example;

use base64::Engine;
use ena_audit::{Actor, ActorKind, Context};
use ena_cases::{CaseStatus, Filter, Listed, Scope, Sort};
use ena_core::{FieldError, Organisationsnummer, Page, PersonId};

use crate::AppState;
use crate::extract::ApiQuery;
use crate::problem::ApiError;

/// Every route of the block, with who may call it.
pub fn routes() -> crate::callers::Routes {
    crate::callers::Routes::new().merge(api::router()).merge(events::router()).merge(portal::router())
}

/// The parties `person` sees cases of: themself (every service), each company they hold a register role
/// in and each party that gave them a mandate in force — with only the services of the packages held.
pub async fn scopes(state: &AppState, person: &PersonId) -> Result<Vec<Scope>, ApiError> {
    let acting = state.representation.acting_for(person).await?;
    let catalog = state.representation.catalog();
    Ok(acting
        .into_iter()
        .map(|a| {
            let services = (a.basis != "self").then(|| {
                catalog.services.iter().filter(|s| a.packages.contains(&s.package)).map(|s| s.id.clone()).collect()
            });
            Scope { party: a.party, services }
        })
        .collect())
}

/// The audit context of a person reading through the portal or the API.
pub fn person_context(s: &ena_identity::session::Session) -> Context {
    Context {
        actor: Actor { kind: ActorKind::Person, id: s.person.as_str().to_owned(), organisation: None },
        on_behalf_of: None,
        correlation_id: None,
    }
}

/// The opaque cursor after `last`: its content time and id.
pub fn cursor_of(last: &Listed) -> String {
    let at = ena_core::Timestamp::parse_rfc3339(&last.case.content_updated_at).map_or(0, |t| t.unix());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{at}.{}", last.case.id))
}

fn parse_cursor(raw: &str) -> Option<(i64, String)> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (at, id) = text.split_once('.')?;
    Some((at.parse().ok()?, id.to_owned()))
}

/// The list's filters, sort and page from a query string; every malformed parameter is named.
pub fn filter_of(q: &ApiQuery) -> Result<(Filter, Sort, Page), ApiError> {
    let mut errors = Vec::new();
    let mut f = Filter::default();
    if let Some(list) = q.str("status").filter(|s| !s.is_empty()) {
        for word in list.split(',') {
            match CaseStatus::parse(word.trim()) {
                Some(s) => f.status.push(s),
                None => errors.push(FieldError::new("status", word, format!("one of {}", CaseStatus::words()))),
            }
        }
    }
    if let Some(o) = q.str("organisation").filter(|s| !s.is_empty()) {
        match Organisationsnummer::parse(o) {
            Ok(n) => f.organisation = Some(n.as_str().to_owned()),
            Err(e) => errors.push(FieldError::new("organisation", o, e.to_string())),
        }
    }
    for (name, slot) in [("service", &mut f.service), ("lifeEvent", &mut f.life_event), ("label", &mut f.label)] {
        if let Some(v) = q.str(name).filter(|s| !s.is_empty()) {
            if v.chars().count() > 128 {
                errors.push(FieldError::new(name, v, "at most 128 characters"));
            } else {
                *slot = Some(v.to_owned());
            }
        }
    }
    if let Some(t) = q.str("q").map(str::trim).filter(|s| !s.is_empty()) {
        if t.chars().count() > 200 {
            errors.push(FieldError::new("q", "(text)", "at most 200 characters"));
        } else {
            f.text = Some(t.to_owned());
        }
    }
    for (name, slot) in [("updatedFrom", &mut f.updated_from), ("updatedTo", &mut f.updated_to)] {
        if let Some(v) = q.str(name).filter(|s| !s.is_empty()) {
            match ena_core::Timestamp::parse_rfc3339(v) {
                Some(t) => *slot = Some(t.unix()),
                None => errors.push(FieldError::new(name, v, "an RFC 3339 time, e.g. 2026-12-01T00:00:00Z")),
            }
        }
    }
    if let (Some(a), Some(b)) = (f.updated_from, f.updated_to)
        && a >= b
    {
        errors.push(FieldError::new("updatedTo", b, "must be after updatedFrom"));
    }
    f.unseen = api::flag(q, "unseen", &mut errors);
    f.overdue = api::flag(q, "overdue", &mut errors);
    let sort = match q.str("sort").filter(|s| !s.is_empty()) {
        None => Sort::ContentUpdated,
        Some(word) => api::SORTS.iter().find(|(w, _)| *w == word).map(|(_, s)| *s).unwrap_or_else(|| {
            errors.push(FieldError::new("sort", word, "contentUpdated, due or created"));
            Sort::ContentUpdated
        }),
    };
    if let Some(c) = q.str("cursor").filter(|s| !s.is_empty()) {
        match parse_cursor(c) {
            Some(after) => f.after = Some(after),
            None => errors.push(FieldError::new("cursor", c, "a nextCursor this API gave")),
        }
        if sort != Sort::ContentUpdated {
            errors.push(FieldError::new("cursor", c, "only with sort=contentUpdated"));
        }
        if q.str("page").is_some() {
            errors.push(FieldError::new("page", q.str("page").unwrap_or_default(), "not with a cursor"));
        }
    }
    let page = q.page(errors)?;
    Ok((f, sort, page))
}
