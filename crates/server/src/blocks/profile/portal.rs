//! Mina sidor → Min profil (`/mina-sidor/profil`): contact details (add, verify with the code sent, ask
//! for a new code, remove — for yourself or for a company you act for), preferred language and channel,
//! and consents (give, see, download the signed receipt, withdraw). Every change is a POST form with the
//! session's CSRF token; no JavaScript.

use std::collections::HashMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use ena_identity::session::Session;
use ena_profile::{Channel, ConsentInput, ContactInput, Preferences};

use crate::AppState;
use crate::auth::Person;
use crate::callers::{Caller, Routes};
use crate::problem::ApiError;
use crate::site::portal::{Lang, LangQuery, Layout, csrf_form, org_display, personal_page as html, readable_time};

pub const PATH: &str = "/mina-sidor/profil";

pub fn router() -> Routes {
    Routes::new().get(PATH, Caller::Person(3), page).post(PATH, Caller::Person(3), change).get(
        "/mina-sidor/profil/samtycken/{id}/kvitto",
        Caller::Person(3),
        receipt,
    )
}

pub struct ProfileTexts {
    title: &'static str,
    lead: &'static str,
    back: &'static str,
    contacts: &'static str,
    contacts_lead: &'static str,
    channel: &'static str,
    email: &'static str,
    sms: &'static str,
    address: &'static str,
    for_whom: &'static str,
    yourself: &'static str,
    verified: &'static str,
    unverified: &'static str,
    code: &'static str,
    verify: &'static str,
    new_code: &'static str,
    remove: &'static str,
    add: &'static str,
    no_contacts: &'static str,
    preferences: &'static str,
    language: &'static str,
    notices_by: &'static str,
    no_notices: &'static str,
    save: &'static str,
    consents: &'static str,
    consents_lead: &'static str,
    recipient: &'static str,
    holder: &'static str,
    category: &'static str,
    purpose: &'static str,
    until: &'static str,
    status: &'static str,
    receipt: &'static str,
    withdraw: &'static str,
    give: &'static str,
    no_consents: &'static str,
    org_hint: &'static str,
    code_sent: &'static str,
    test_code: &'static str,
    done: &'static str,
    failed: &'static str,
    active: &'static str,
    withdrawn: &'static str,
    expired: &'static str,
}

const SV: ProfileTexts = ProfileTexts {
    title: "Min profil",
    lead: "Hur du vill bli kontaktad av det offentliga, och vilka organisationer du har gett samtycke att hämta dina uppgifter.",
    back: "Mina sidor",
    contacts: "Kontaktuppgifter",
    contacts_lead: "En ny adress eller ett nytt nummer används först när du har bekräftat det med koden vi skickar dit. Du kan också ange var du vill få besked om post till ett företag du företräder.",
    channel: "Kanal",
    email: "E-post",
    sms: "Sms",
    address: "Adress eller nummer",
    for_whom: "Gäller",
    yourself: "Dig själv",
    verified: "Bekräftad",
    unverified: "Inte bekräftad",
    code: "Kod",
    verify: "Bekräfta",
    new_code: "Skicka ny kod",
    remove: "Ta bort",
    add: "Lägg till",
    no_contacts: "Du har inga kontaktuppgifter ännu.",
    preferences: "Språk och kanal",
    language: "Språk",
    notices_by: "Besked om ny post via",
    no_notices: "Inga besked",
    save: "Spara",
    consents: "Samtycken",
    consents_lead: "Ett samtycke låter en organisation hämta en viss sorts uppgifter om dig från en annan, för ett syfte, till ett datum. Du kan återkalla det när som helst; det gäller från nästa hämtning. Kvittot är signerat och kan kontrolleras av vem som helst.",
    recipient: "Mottagare (organisationsnummer)",
    holder: "Hämtas från (organisationsnummer)",
    category: "Slags uppgifter",
    purpose: "Syfte",
    until: "Gäller till",
    status: "Status",
    receipt: "Kvitto",
    withdraw: "Återkalla",
    give: "Ge samtycke",
    no_consents: "Du har inte gett några samtycken.",
    org_hint: "t.ex. 556000-0001",
    code_sent: "En kod är skickad. Skriv in den nedan.",
    test_code: "Testinstallation — ingen avsändare för e-post eller sms är inställd. Din kod är",
    done: "Klart.",
    failed: "Det gick inte",
    active: "Gäller",
    withdrawn: "Återkallat",
    expired: "Har gått ut",
};

const EN: ProfileTexts = ProfileTexts {
    title: "My profile",
    lead: "How you want the public sector to reach you, and which organisations you have let fetch your data.",
    back: "My pages",
    contacts: "Contact details",
    contacts_lead: "A new address or number is used once you have confirmed it with the code we send there. You can also say where you want notices about mail to a company you act for.",
    channel: "Channel",
    email: "E-mail",
    sms: "Text message",
    address: "Address or number",
    for_whom: "For",
    yourself: "Yourself",
    verified: "Confirmed",
    unverified: "Not confirmed",
    code: "Code",
    verify: "Confirm",
    new_code: "Send a new code",
    remove: "Remove",
    add: "Add",
    no_contacts: "You have no contact details yet.",
    preferences: "Language and channel",
    language: "Language",
    notices_by: "Notices of new mail by",
    no_notices: "No notices",
    save: "Save",
    consents: "Consents",
    consents_lead: "A consent lets an organisation fetch a certain kind of data about you from another, for a purpose, until a date. You can withdraw it at any time; it counts from the next fetch. The receipt is signed and anyone can check it.",
    recipient: "Recipient (organisation number)",
    holder: "Fetched from (organisation number)",
    category: "Kind of data",
    purpose: "Purpose",
    until: "Valid until",
    status: "Status",
    receipt: "Receipt",
    withdraw: "Withdraw",
    give: "Give consent",
    no_consents: "You have given no consents.",
    org_hint: "e.g. 556000-0001",
    code_sent: "A code has been sent. Enter it below.",
    test_code: "Test installation — no e-mail or SMS sender is set up. Your code is",
    done: "Done.",
    failed: "That did not work",
    active: "In force",
    withdrawn: "Withdrawn",
    expired: "Expired",
};

fn texts(lang: Lang) -> &'static ProfileTexts {
    if lang == Lang::En { &EN } else { &SV }
}

struct ContactRow {
    id: String,
    channel: &'static str,
    address: String,
    for_whom: String,
    verified: bool,
}

struct ConsentRow {
    id: String,
    recipient: String,
    holder: String,
    category: String,
    purpose: String,
    until: String,
    status: &'static str,
    active: bool,
}

#[derive(Template)]
#[template(path = "profile/templates/profil.html")]
struct ProfilePage {
    layout: Layout,
    f: &'static ProfileTexts,
    lang_en: bool,
    csrf: String,
    contacts: Vec<ContactRow>,
    /// Organisations the person acts for: (number, name).
    organisations: Vec<(String, String)>,
    preferences: Preferences,
    consents: Vec<ConsentRow>,
    message: Option<String>,
    error: Option<String>,
}

async fn render(state: &AppState, s: &Session, lang: Lang, message: Option<String>, error: Option<String>) -> Response {
    let f = texts(lang);
    let person = s.person.as_str();
    let organisations: Vec<(String, String)> = state
        .representation
        .acting_for(&s.person)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a.party != person && a.kind == "organisation")
        .map(|a| (a.party.clone(), a.name.unwrap_or_else(|| org_display(&a.party))))
        .collect();
    let contacts = state
        .profile
        .contacts(person, 100, 0)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|c| ContactRow {
            channel: if c.channel == Channel::Sms { f.sms } else { f.email },
            for_whom: match &c.organisation {
                None => f.yourself.to_owned(),
                Some(o) => {
                    organisations.iter().find(|(n, _)| n == o).map_or_else(|| org_display(o), |(_, n)| n.clone())
                }
            },
            verified: c.verified_at.is_some(),
            id: c.id,
            address: c.address,
        })
        .collect();
    let consents = state
        .profile
        .consents(person, 100, 0)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|c| ConsentRow {
            recipient: c.recipient_name.clone().unwrap_or_else(|| org_display(&c.recipient)),
            holder: c.holder_name.clone().unwrap_or_else(|| org_display(&c.holder)),
            status: match c.status {
                "active" => f.active,
                "withdrawn" => f.withdrawn,
                _ => f.expired,
            },
            active: c.status == "active",
            until: readable_time(&c.expires_at),
            id: c.id,
            category: c.category,
            purpose: c.purpose,
        })
        .collect();
    let view = ProfilePage {
        layout: Layout::new(lang, f.title, PATH),
        f,
        lang_en: lang == Lang::En,
        csrf: s.csrf.clone(),
        contacts,
        organisations,
        preferences: state.profile.preferences(person).await.unwrap_or_default(),
        consents,
        message,
        error: error.clone(),
    };
    html(if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK }, view.render())
}

async fn page(State(state): State<AppState>, Person(s): Person, Query(q): Query<HashMap<String, String>>) -> Response {
    let lang = LangQuery::from_map(&q).lang();
    let message = q.contains_key("done").then(|| texts(lang).done.to_owned());
    render(&state, &s, lang, message, None).await
}

/// One change from the page's forms, by `action`.
async fn change(State(state): State<AppState>, Person(s): Person, Query(q): Query<LangQuery>, body: Bytes) -> Response {
    let lang = q.lang();
    let f = texts(lang);
    let form = match csrf_form(&s, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_owned()).unwrap_or_default();
    let ctx = crate::blocks::cases::person_context(&s);
    let person = s.person.as_str();
    let profile = &state.profile;
    // A change that sends a code answers with the page itself (saying a code was sent, and on a test
    // installation without a sender, what it is); the rest redirect.
    let outcome: Result<Option<Option<String>>, ApiError> = async {
        match field("action").as_str() {
            "add-contact" => {
                let channel = if field("channel") == "sms" { Channel::Sms } else { Channel::Email };
                let organisation = Some(field("organisation")).filter(|o| !o.is_empty());
                let input = ContactInput { channel, address: field("address"), organisation };
                let acts = async |org: &str| super::acts_for(&state, &s.person, org).await;
                let (_, notice) = profile.add_contact(&ctx, person, &input, acts).await?;
                Ok(Some(super::send_code(&state, notice)))
            }
            "new-code" => {
                let notice = profile.new_code(person, &field("contact")).await?;
                Ok(Some(super::send_code(&state, notice)))
            }
            "verify" => {
                profile.verify(&ctx, person, &field("contact"), &field("code")).await.map(|_| None).map_err(Into::into)
            }
            "delete-contact" => {
                profile.delete_contact(&ctx, person, &field("contact")).await.map(|_| None).map_err(Into::into)
            }
            "preferences" => {
                let p = Preferences { language: field("language"), channel: field("channel") };
                profile.set_preferences(&ctx, person, &p).await.map(|_| None).map_err(Into::into)
            }
            "give-consent" => {
                let expires_at = Some(field("until")).filter(|d| !d.is_empty()).map(|d| format!("{d}T23:59:59Z"));
                let input = ConsentInput {
                    recipient: field("recipient"),
                    holder: field("holder"),
                    category: field("category"),
                    purpose: field("purpose"),
                    expires_at,
                };
                profile.give(&ctx, person, &input).await.map(|_| None).map_err(Into::into)
            }
            "withdraw" => profile.withdraw(&ctx, person, &field("consent")).await.map(|_| None).map_err(Into::into),
            other => Err(ApiError::invalid(
                ena_core::ErrorCode::ValidationFailed,
                "No such change.",
                vec![ena_core::FieldError::new("action", other, "not a change this page makes")],
            )),
        }
    }
    .await;
    let en = if lang == Lang::En { "&lang=en" } else { "" };
    match outcome {
        Ok(None) => Redirect::to(&format!("{PATH}?done=1{en}")).into_response(),
        Ok(Some(shown)) => {
            let message = match shown {
                Some(code) => format!("{} {} {code}.", f.code_sent, f.test_code),
                None => f.code_sent.to_owned(),
            };
            render(&state, &s, lang, Some(message), None).await
        }
        Err(e) => {
            let detail = e.fields_or_detail();
            render(&state, &s, lang, None, Some(format!("{} — {detail}", f.failed))).await
        }
    }
}

/// A consent's signed receipt as a file (`application/jose`), to keep or hand to anyone who checks it.
async fn receipt(State(state): State<AppState>, Person(s): Person, Path(id): Path<String>) -> Response {
    match state.profile.receipt(s.person.as_str(), &id).await {
        Ok((token, _)) => (
            [
                (header::CONTENT_TYPE, "application/jose".to_owned()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"samtycke-{id}.jws\"")),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
            token,
        )
            .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}
