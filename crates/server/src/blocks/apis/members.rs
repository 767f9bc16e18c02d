//! A person acting for a member organisation in the developer portal (`/api-katalog/{apiId}/prenumerationer`,
//! LoA 3): for each organisation they may act for with the representation package `api-hantering`
//! (Mina ombud: its signatories and CEO, or whom they gave it), its subscriptions to the API, its
//! applications' use of it over the last 30 days, a form to subscribe one of its addresses to a plan and
//! one to revoke a subscription. Each change is a CSRF form, checked again on the server (the package,
//! the membership), and an audit event naming the person and the organisation.

use std::collections::HashMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use ena_apis::plans::{Step, Subscription, SubscriptionInput};
use ena_core::{ErrorCode, FieldError};

use crate::AppState;
use crate::auth::Person;
use crate::callers::{Caller, Routes};
use crate::problem::ApiError;
use crate::site::portal::{Lang, LangQuery, Layout, csrf_form, org_display, personal_page};

/// The representation package that lets a person subscribe for an organisation.
pub const PACKAGE: &str = "api-hantering";

pub fn router() -> Routes {
    Routes::new().get("/api-katalog/{api_id}/prenumerationer", Caller::Person(3), page).post(
        "/api-katalog/{api_id}/prenumerationer",
        Caller::Person(3),
        change,
    )
}

struct Texts {
    back: &'static str,
    title: &'static str,
    lead: &'static str,
    no_organisation: &'static str,
    not_member: &'static str,
    subscriptions: &'static str,
    no_subscriptions: &'static str,
    application: &'static str,
    application_help: &'static str,
    plan: &'static str,
    status: &'static str,
    action: &'static str,
    revoke: &'static str,
    usage: &'static str,
    no_usage: &'static str,
    major: &'static str,
    calls: &'static str,
    error_rate: &'static str,
    refused: &'static str,
    deprecated_calls: &'static str,
    no_plans: &'static str,
    subscribe: &'static str,
    done: &'static str,
    failed: &'static str,
}

const SV: Texts = Texts {
    back: "Tillbaka till API:et",
    title: "Prenumerationer",
    lead: "Här prenumererar du för de organisationer du får företräda med behörigheten API-hantering (Mina ombud), och ser hur deras applikationer använt API:et de senaste 30 dagarna.",
    no_organisation: "Du företräder ingen organisation med behörigheten API-hantering.",
    not_member: "Organisationen är inte medlem i federationen: den behöver en nod för att anropa API:et.",
    subscriptions: "Prenumerationer",
    no_subscriptions: "Inga prenumerationer på API:et.",
    application: "Applikation (adress)",
    application_help: "Organisationsnumret, eller nummer:funktion — adressen organisationens nod anropar från.",
    plan: "Plan",
    status: "Status",
    action: "Åtgärd",
    revoke: "Avsluta",
    usage: "Användning de senaste 30 dagarna",
    no_usage: "Inga anrop ännu.",
    major: "Huvudversion",
    calls: "Anrop",
    error_rate: "Andel fel",
    refused: "Nekade",
    deprecated_calls: "Till utfasad version",
    no_plans: "API:et har inga planer ännu.",
    subscribe: "Prenumerera",
    done: "Klart.",
    failed: "Det gick inte",
};

const EN: Texts = Texts {
    back: "Back to the API",
    title: "Subscriptions",
    lead: "Here you subscribe for the organisations you may act for with the API management package (Mina ombud), and see how their applications used the API over the last 30 days.",
    no_organisation: "You act for no organisation with the API management package.",
    not_member: "The organisation is not a member of the federation: it needs a node to call the API.",
    subscriptions: "Subscriptions",
    no_subscriptions: "No subscriptions to the API.",
    application: "Application (address)",
    application_help: "The organisation number, or number:function — the address the organisation's node calls from.",
    plan: "Plan",
    status: "Status",
    action: "Action",
    revoke: "Revoke",
    usage: "Use over the last 30 days",
    no_usage: "No calls yet.",
    major: "Major version",
    calls: "Calls",
    error_rate: "Error rate",
    refused: "Refused",
    deprecated_calls: "To a deprecated version",
    no_plans: "The API has no plans yet.",
    subscribe: "Subscribe",
    done: "Done.",
    failed: "That did not work",
};

struct OrganisationView {
    number: String,
    name: String,
    display: String,
    member: bool,
    subscriptions: Vec<Subscription>,
    /// application, major, calls, error rate, refused, deprecated
    usage: Vec<(String, u64, u64, String, u64, u64)>,
}

#[derive(Template)]
#[template(path = "apis/templates/subscriptions.html")]
struct SubscriptionsPage {
    layout: Layout,
    t: &'static Texts,
    title: String,
    api_id: String,
    path: String,
    csrf: String,
    plans: Vec<(String, String)>,
    organisations: Vec<OrganisationView>,
    message: Option<String>,
    error: Option<String>,
}

/// The organisations (12-digit numbers, with their names) `person` acts for with [`PACKAGE`].
async fn organisations(state: &AppState, person: &ena_core::PersonId) -> Vec<(String, String)> {
    state
        .representation
        .acting_for(person)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a.kind == "organisation" && a.packages.iter().any(|p| p == PACKAGE))
        .filter_map(|a| {
            let number = ena_core::Organisationsnummer::parse(&a.party).ok()?.as_str().to_owned();
            Some((number, a.name.unwrap_or_else(|| org_display(&a.party))))
        })
        .collect()
}

async fn render(
    state: &AppState,
    s: &ena_identity::session::Session,
    api_id: &str,
    lang: Lang,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let t = if lang == Lang::En { &EN } else { &SV };
    let api = state.catalog.api(api_id).await?;
    let plans = state
        .catalog
        .plans(api_id)
        .await?
        .into_iter()
        .map(|p| (p.id.clone(), format!("{} ({})", p.name, p.id)))
        .collect();
    let mut views = Vec::new();
    for (number, name) in organisations(state, &s.person).await {
        let member = ena_federation::repo::active_member_of(&state.store, &number)
            .await
            .map_err(|e| ApiError::internal(&e))?
            .is_some();
        let subscriptions = state
            .catalog
            .subscriptions(&number, 100, 0)
            .await?
            .into_iter()
            .filter(|x| x.api_id == api_id && x.organisation == number)
            .collect();
        // The organisation's own applications only (an owner would see everyone's: not here).
        let usage = state
            .catalog
            .usage(api_id, &number, 30)
            .await?
            .into_iter()
            .filter(|u| u.application.split(':').next() == Some(number.as_str()))
            .map(|u| {
                let rate = super::pages::error_rate(u.calls, u.errors);
                (u.application, u.major, u.calls, rate, u.refused, u.deprecated)
            })
            .collect();
        views.push(OrganisationView { display: org_display(&number), number, name, member, subscriptions, usage });
    }
    let path = format!("/api-katalog/{api_id}/prenumerationer");
    let page = SubscriptionsPage {
        layout: Layout::new(lang, t.title, &path),
        t,
        title: format!("{}: {}", t.title, api.name),
        api_id: api_id.to_owned(),
        path,
        csrf: s.csrf.clone(),
        plans,
        organisations: views,
        message,
        error: error.clone(),
    };
    Ok(personal_page(if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK }, page.render()))
}

async fn page(
    State(state): State<AppState>,
    Person(s): Person,
    Path(api_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let lang = LangQuery::from_map(&q).lang();
    let message = q.contains_key("done").then(|| if lang == Lang::En { EN.done } else { SV.done }.to_owned());
    render(&state, &s, &api_id, lang, message, None).await
}

async fn change(
    State(state): State<AppState>,
    Person(s): Person,
    Path(api_id): Path<String>,
    Query(q): Query<LangQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let lang = q.lang();
    let form = match csrf_form(&s, &body) {
        Ok(f) => f,
        Err(r) => return Ok(r),
    };
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_owned()).unwrap_or_default();
    let outcome: Result<(), ApiError> = async {
        // Checked here again, whatever the page offered: the person acts for it with the package, and
        // it is a member in good standing.
        let organisation = field("organisation");
        if !organisations(&state, &s.person).await.iter().any(|(n, _)| *n == organisation) {
            return Err(ApiError::invalid(
                ErrorCode::PermissionDenied,
                "You do not act for that organisation with the API management package.",
                vec![FieldError::new("organisation", &organisation, "not one you act for with api-hantering")],
            ));
        }
        if ena_federation::repo::active_member_of(&state.store, &organisation)
            .await
            .map_err(|e| ApiError::internal(&e))?
            .is_none()
        {
            return Err(ApiError::invalid(
                ErrorCode::PermissionDenied,
                "The organisation is not a member of the federation.",
                vec![FieldError::new("organisation", &organisation, "not a member in good standing")],
            ));
        }
        let mut ctx = crate::blocks::cases::person_context(&s);
        ctx.actor.organisation = Some(organisation.clone());
        match field("action").as_str() {
            "subscribe" => {
                let held = state
                    .federation
                    .organisation_trust_marks(&organisation)
                    .await
                    .map_err(|e| ApiError::internal(&e))?;
                let input = SubscriptionInput { plan: field("plan"), application: field("application") };
                state.catalog.subscribe(&ctx, &organisation, &held, &api_id, input).await?;
                Ok(())
            }
            "revoke" => {
                let id = field("subscription");
                let sub = state.catalog.subscription(&id).await?;
                if sub.organisation != organisation || sub.api_id != api_id {
                    return Err(ApiError::new(
                        ErrorCode::ResourceNotFound,
                        format!("No subscription {id} of that organisation."),
                    ));
                }
                state.catalog.step(&ctx, &organisation, &id, Step::Revoke, None).await?;
                Ok(())
            }
            other => Err(ApiError::invalid(
                ErrorCode::ValidationFailed,
                "No such change.",
                vec![FieldError::new("action", other, "not a change this page makes")],
            )),
        }
    }
    .await;
    match outcome {
        Ok(()) => {
            let en = if lang == Lang::En { "&lang=en" } else { "" };
            Ok(Redirect::to(&format!("/api-katalog/{api_id}/prenumerationer?done=1{en}")).into_response())
        }
        Err(e) => {
            let t = if lang == Lang::En { &EN } else { &SV };
            let detail = e.fields_or_detail();
            render(&state, &s, &api_id, lang, None, Some(format!("{} — {detail}", t.failed))).await
        }
    }
}
