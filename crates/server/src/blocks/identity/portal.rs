//! Login for the portal: choose a provider (`/login`), the redirect (`/login/start`), the callback that
//! verifies the ID token and starts a server-side session (`/login/callback`), logout (`POST /logout`, CSRF
//! token), and `Mina sidor` (`/mina-sidor`), a page that needs LoA 3 and sends a weaker session to step up.
//! Every failed login is refused with a clear page and an audit event.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use ena_audit::event::{ObjectRef, Result as AuditResult};
use ena_audit::{Actor, ActorKind, AuditSink, Context};
use ena_identity::loa::Loa;
use ena_identity::session::{self, Session};
use ena_identity::testeid::encode;

use crate::AppState;
use crate::callers::{Caller, Routes};
use crate::site::portal::{Lang, LangQuery, Layout};

pub const COOKIE: &str = "ena_session";
/// The level `Mina sidor` needs.
pub const MY_PAGES_LOA: Loa = Loa(3);

pub fn router() -> Routes {
    Routes::new()
        .get("/login", Caller::Public, login)
        .get("/login/start", Caller::Protocol, start)
        .get("/login/callback", Caller::Protocol, callback)
        .post("/logout", Caller::Public, logout)
        .get("/mina-sidor", Caller::Person(3), my_pages)
}

pub struct LoginTexts {
    title: &'static str,
    lead: &'static str,
    test_only: &'static str,
    my_title: &'static str,
    name: &'static str,
    number: &'static str,
    level: &'static str,
    logout: &'static str,
    ombud: &'static str,
    cases: &'static str,
    unread: &'static str,
    messages: &'static str,
    profile: &'static str,
    holdings: &'static str,
    accesses: &'static str,
    my_profile: &'static str,
}

const SV: LoginTexts = LoginTexts {
    title: "Logga in",
    lead: "Välj e-legitimation.",
    test_only: "Endast för test",
    my_title: "Mina sidor",
    name: "Namn",
    number: "Personnummer",
    level: "Tillitsnivå",
    logout: "Logga ut",
    ombud: "Mina ombud — vem du kan företräda och vem som får företräda dig",
    cases: "Mina ärenden — dina ärenden och deras du företräder, med när beslut väntas",
    unread: "olästa",
    messages: "Mina meddelanden — digital post från det offentliga, din och deras du får läsa för",
    profile: "Min profil",
    holdings: "Vem har uppgifter om mig — organisationer som har uppgifter om dig, och var",
    accesses: "Vem har läst mina uppgifter — det som loggats om dig, av vem och när",
    my_profile: "Min profil — kontaktuppgifter, språk och samtycken",
};
const EN: LoginTexts = LoginTexts {
    title: "Log in",
    lead: "Choose an e-ID.",
    test_only: "Test only",
    my_title: "My pages",
    name: "Name",
    number: "Personal identity number",
    level: "Level of assurance",
    logout: "Log out",
    ombud: "My representatives — whom you can act for and who may act for you",
    cases: "My cases — yours and those of the parties you act for, with when a decision is expected",
    unread: "unread",
    messages: "My messages — digital mail from the public sector, yours and that of those you may read for",
    profile: "My profile",
    holdings: "Who holds data about me — organisations that keep information about you, and where",
    accesses: "Who read my data — what has been logged about you, by whom and when",
    my_profile: "My profile — contact details, language and consents",
};

fn texts(lang: Lang) -> &'static LoginTexts {
    if lang == Lang::En { &EN } else { &SV }
}

#[derive(Template)]
#[template(path = "identity/templates/login.html")]
struct LoginPage {
    layout: Layout,
    f: &'static LoginTexts,
    lead: String,
    providers: Vec<(String, String, bool)>,
    loa: u8,
    return_to: String,
}

#[derive(Template)]
#[template(path = "identity/templates/mypages.html")]
struct MyPage {
    layout: Layout,
    f: &'static LoginTexts,
    name: String,
    masked: String,
    loa: u8,
    csrf: String,
    /// Cases with content the person has not seen (up to 100: "100+" beyond).
    unread: String,
    /// Unread messages in the inbox (the same way).
    unread_mail: String,
}

use crate::site::portal::personal_page as html;

/// Only local paths may be returned to (no open redirect): one leading `/`, then only unreserved and a
/// few reserved URL characters. Browsers strip tabs and newlines and read `\\` as `/`, so
/// `/<TAB>/evil.example` would otherwise become `//evil.example`; anything outside the set goes to the
/// default page.
fn safe_return(r: Option<&String>) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "/-._~%?=&+".contains(c);
    match r {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && p.chars().all(allowed) => p.clone(),
        _ => "/mina-sidor".to_owned(),
    }
}

/// The cookie that binds a login in progress to the browser that started it (login CSRF): set at
/// `/login/start` to the login's `state`, required equal at the callback, then cleared.
pub const LOGIN_COOKIE: &str = "ena_login";

fn login_cookie(headers: &HeaderMap) -> Option<String> {
    cookie_named(headers, LOGIN_COOKIE)
}

fn wanted_loa(q: &HashMap<String, String>) -> Loa {
    q.get("loa").and_then(|v| v.parse::<i64>().ok()).and_then(Loa::parse).unwrap_or(Loa(3))
}

/// Offer the OpenID providers the federation vouches for: active `openid_provider` members whose chain
/// resolves and whose resolved metadata names an issuer. The portal is their client under its entity
/// identifier and authenticates with `private_key_jwt` (its key is in the trust anchor's
/// `openid_relying_party` metadata). A provider that stops resolving disappears from the list.
async fn refresh_federation_providers(state: &AppState) {
    let Ok(ids) = state.federation.list(Some("openid_provider"), None).await else { return };
    let mut offered = Vec::new();
    for id in ids {
        let Ok(metadata) = state.federation.resolved_metadata(&id).await else { continue };
        let Some(issuer) = metadata["openid_provider"]["issuer"].as_str() else { continue };
        let Ok(member) = state.federation.member(&id).await else { continue };
        offered.push(ena_identity::rp::ProviderConfig {
            id: ena_federation::ca::entity_host(&id).unwrap_or(&id).to_owned(),
            name: member.name,
            issuer: issuer.trim_end_matches('/').to_owned(),
            client_id: state.federation.entity_id().to_owned(),
            client_secret: String::new(),
            test_only: false,
            federation_metadata: Some(metadata["openid_provider"].clone()),
        });
    }
    state.identity.rp.set_federation_providers(offered);
}

async fn login(State(state): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    refresh_federation_providers(&state).await;
    let lang = LangQuery::from_map(&q).lang();
    let f = texts(lang);
    let loa = wanted_loa(&q);
    let page = LoginPage {
        layout: Layout::new(lang, f.title, "/login"),
        f,
        lead: format!("{} ({loa})", f.lead),
        providers: state
            .identity
            .rp
            .providers()
            .into_iter()
            .map(|p| (p.id.clone(), p.name.clone(), p.test_only))
            .collect(),
        loa: loa.0,
        return_to: encode(&safe_return(q.get("return"))),
    };
    html(StatusCode::OK, page.render())
}

fn refuse(state: &AppState, field: &str, reason: &str) -> impl std::future::Future<Output = Response> + Send {
    let state = state.clone();
    let (field, reason) = (field.to_owned(), reason.to_owned());
    async move {
        let ctx = Context {
            actor: Actor { kind: ActorKind::Anonymous, id: "anonymous".into(), organisation: None },
            on_behalf_of: None,
            correlation_id: None,
        };
        let event = ctx.event("identity.login", None, AuditResult::Denied, Some(format!("{field}: {reason}")));
        if let Err(e) = state.audit.record(vec![event]).await {
            tracing::error!(error = %e, "could not record a refused login");
        }
        // A problem: the error middleware renders it as a page for browsers and as problem+json otherwise.
        crate::problem::ApiError::invalid(
            ena_core::ErrorCode::InvalidParameter,
            format!("Inloggningen misslyckades / the login failed — {field}: {reason}."),
            vec![ena_core::FieldError::new(field, "(login)", reason)],
        )
        .into_response()
    }
}

async fn start(State(state): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    let provider = q.get("provider").cloned().unwrap_or_default();
    refresh_federation_providers(&state).await;
    let redirect_uri = format!("{}/login/callback", state.identity.base_url);
    match state.identity.rp.start(&provider, &redirect_uri, wanted_loa(&q), &safe_return(q.get("return"))).await {
        Ok((url, pending)) => match session::save_login(&state.store, &pending).await {
            Ok(()) => {
                let secure = if state.identity.secure_cookies { "; Secure" } else { "" };
                // SameSite=Lax: the provider's redirect back is a top-level GET, which carries it.
                let bind = format!(
                    "{LOGIN_COOKIE}={}; Path=/login; HttpOnly; SameSite=Lax{secure}; Max-Age={}",
                    pending.state,
                    session::LOGIN_SECS
                );
                ([(header::SET_COOKIE, bind)], Redirect::to(&url)).into_response()
            }
            Err(e) => crate::problem::ApiError::internal(&e).into_response(),
        },
        Err(e) => refuse(&state, e.field, &e.reason).await,
    }
}

async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let st = q.get("state").cloned().unwrap_or_default();
    // The login must have been started in this browser: an attacker's own callback URL, opened by a
    // victim, would otherwise log the victim in as the attacker.
    let bound = login_cookie(&headers)
        .is_some_and(|c| aws_lc_rs::constant_time::verify_slices_are_equal(c.as_bytes(), st.as_bytes()).is_ok());
    if !bound {
        return refuse(&state, "state", "this login was not started in this browser (start the login again)").await;
    }
    let pending = match session::take_login(&state.store, &st).await {
        Ok(Some(p)) => p,
        Ok(None) => return refuse(&state, "state", "unknown, already used or expired (start the login again)").await,
        Err(e) => return crate::problem::ApiError::internal(&e).into_response(),
    };
    if let Some(error) = q.get("error") {
        let why = q.get("error_description").cloned().unwrap_or_default();
        return refuse(&state, "provider", &format!("{error}: {why}")).await;
    }
    let redirect_uri = format!("{}/login/callback", state.identity.base_url);
    // The ID token is not kept: logout names the client instead (no identity number in its URL).
    let (who, _id_token) = match state
        .identity
        .rp
        .finish(&pending, q.get("code").map(String::as_str).unwrap_or_default(), &redirect_uri)
        .await
    {
        Ok(w) => w,
        Err(e) => return refuse(&state, e.field, &e.reason).await,
    };
    let (cookie, _) = match session::create(&state.store, &who).await {
        Ok(s) => s,
        Err(e) => return crate::problem::ApiError::internal(&e).into_response(),
    };
    let ctx = Context {
        actor: Actor { kind: ActorKind::Person, id: who.person.as_str().to_owned(), organisation: None },
        on_behalf_of: None,
        correlation_id: None,
    };
    let mut event = ctx.event(
        "identity.login",
        Some(ObjectRef { kind: "session".into(), id: who.provider.clone() }),
        AuditResult::Allowed,
        None,
    );
    event.data_subjects = vec![who.person.as_str().to_owned()];
    event.details = Some(std::collections::BTreeMap::from([("loa".to_owned(), who.loa.0.to_string())]));
    if let Err(e) = state.audit.record(vec![event]).await {
        return crate::problem::ApiError::internal(&e).into_response();
    }
    let secure = if state.identity.secure_cookies { "; Secure" } else { "" };
    let set = format!(
        "{COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Lax{secure}; Max-Age={}",
        state.identity.timeouts.absolute
    );
    let clear = format!("{LOGIN_COOKIE}=; Path=/login; HttpOnly; SameSite=Lax{secure}; Max-Age=0");
    let mut response = Redirect::to(&pending.return_to).into_response();
    for c in [set, clear] {
        if let Ok(v) = header::HeaderValue::from_str(&c) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

fn cookie_named(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    cookie_named(headers, COOKIE)
}

/// How many of the person's cases (their own and those they act for) have content they have not seen.
async fn unread_cases(state: &AppState, s: &Session) -> String {
    let Ok(scopes) = crate::blocks::cases::scopes(state, &s.person).await else { return String::new() };
    let unseen = ena_cases::Filter { unseen: true, ..Default::default() };
    let ctx = crate::blocks::cases::person_context(s);
    let sort = ena_cases::Sort::ContentUpdated;
    match state.cases.list(&state.audit, &ctx, s.person.as_str(), &scopes, &unseen, sort, 101, 0).await {
        Ok(l) if l.len() > 100 => "100+".into(),
        Ok(l) => l.len().to_string(),
        Err(_) => String::new(),
    }
}

/// The session of the request, if it has a live one.
pub async fn current(state: &AppState, headers: &HeaderMap) -> Option<(String, Session)> {
    let token = cookie(headers)?;
    let s = session::find(&state.store, &token, state.identity.timeouts).await.ok()??;
    Some((token, s))
}

async fn my_pages(
    State(state): State<AppState>,
    crate::auth::Person(s): crate::auth::Person,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = q.lang();
    if s.loa < MY_PAGES_LOA {
        // Logged in, but not strongly enough: log in again at the level this page needs.
        return Redirect::to(&format!("/login?loa={}&return=%2Fmina-sidor", MY_PAGES_LOA.0)).into_response();
    }
    let f = texts(lang);
    let unread = unread_cases(&state, &s).await;
    let unread_mail = crate::blocks::mail::portal::unread(&state, &s).await;
    let page = MyPage {
        unread,
        unread_mail,
        layout: Layout::new(lang, f.my_title, "/mina-sidor"),
        f,
        name: s.name.clone(),
        masked: ena_audit::event::mask(s.person.as_str()),
        loa: s.loa.0,
        csrf: s.csrf.clone(),
    };
    html(StatusCode::OK, page.render())
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let Some((token, s)) = current(&state, &headers).await else { return Redirect::to("/").into_response() };
    if form.get("csrf") != Some(&s.csrf) {
        return crate::problem::ApiError::invalid(
            ena_core::ErrorCode::PermissionDenied,
            "The form's CSRF token does not match this session.",
            vec![ena_core::FieldError::new("csrf", "(token)", "does not match the session")],
        )
        .into_response();
    }
    if let Err(e) = session::end(&state.store, &token).await {
        return crate::problem::ApiError::internal(&e).into_response();
    }
    // End the session at the provider too when it supports RP-initiated logout.
    let home = format!("{}/", state.identity.base_url);
    let to = state.identity.rp.logout_url(&s.provider, &home).await.unwrap_or_else(|| "/".to_owned());
    let clear = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    ([(header::SET_COOKIE, clear)], Redirect::to(&to)).into_response()
}
