//! Mina sidor → Mina meddelanden (`/mina-sidor/meddelanden`): the inbox — the person's own mail and that of
//! those they may read for — by folder, unread first if asked, with pages; read/unread and folders in bulk
//! (a POST form with the session's CSRF token); the message page (the body as the block's inert renderer
//! made it, documents with their actions, attachments, who it is for); and the settings page: register
//! yourself or a company you sign for with an operator, block and unblock senders, deregister — each a
//! signed change. No JavaScript.

use std::collections::HashMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use ena_identity::session::Session;
use ena_mail::{Folder, Message, Outcome, Recipient};

use crate::AppState;
use crate::auth::Person;
use crate::callers::{Caller, Routes};
use crate::extract::ApiQuery;
use crate::site::portal::{Lang, LangQuery, Layout, csrf_form, org_display, party_names, personal_page as html};

pub const PATH: &str = "/mina-sidor/meddelanden";
const SETTINGS: &str = "/mina-sidor/meddelanden/installningar";

pub fn router() -> Routes {
    Routes::new()
        .get(PATH, Caller::Person(3), inbox)
        .post("/mina-sidor/meddelanden/bulk", Caller::Person(3), bulk)
        .get(SETTINGS, Caller::Person(3), settings)
        .post(SETTINGS, Caller::Person(3), change_settings)
        .get("/mina-sidor/meddelanden/{id}", Caller::Person(3), message_page)
        .post("/mina-sidor/meddelanden/{id}/svar", Caller::Person(3), reply)
        .get("/mina-sidor/meddelanden/{id}/bilagor/{n}", Caller::Person(3), attachment)
}

pub struct MailTexts {
    title: &'static str,
    lead: &'static str,
    inbox: &'static str,
    archive: &'static str,
    bin: &'static str,
    unread_only: &'static str,
    show: &'static str,
    subject: &'static str,
    from: &'static str,
    to: &'static str,
    received: &'static str,
    new: &'static str,
    none: &'static str,
    select: &'static str,
    with_selected: &'static str,
    mark_read: &'static str,
    mark_unread: &'static str,
    move_inbox: &'static str,
    apply: &'static str,
    previous: &'static str,
    next: &'static str,
    yourself: &'static str,
    as_representative: &'static str,
    back: &'static str,
    documents: &'static str,
    attachments: &'static str,
    support: &'static str,
    case_link: &'static str,
    due: &'static str,
    settings: &'static str,
    settings_lead: &'static str,
    registered_with: &'static str,
    not_registered: &'static str,
    operator: &'static str,
    register: &'static str,
    deregister: &'static str,
    blocked: &'static str,
    block: &'static str,
    unblock: &'static str,
    sender: &'static str,
    waiting: &'static str,
    signed_note: &'static str,
    done: &'static str,
    failed: &'static str,
    unavailable: &'static str,
    replies: &'static str,
    reply: &'static str,
    reply_send: &'static str,
    reply_sent: &'static str,
    reply_waiting: &'static str,
    reply_refused: &'static str,
    receipt_note: &'static str,
}

const SV: MailTexts = MailTexts {
    title: "Mina meddelanden",
    lead: "Digital post från myndigheter, kommuner och regioner — till dig, och till dem du får läsa post för genom Mina ombud.",
    inbox: "Inkorg",
    archive: "Arkiv",
    bin: "Papperskorg",
    unread_only: "bara olästa",
    show: "Visa",
    subject: "Ämne",
    from: "Från",
    to: "Till",
    received: "Mottaget",
    new: "Ny",
    none: "Inga meddelanden.",
    select: "Välj",
    with_selected: "Med valda meddelanden",
    mark_read: "markera som lästa",
    mark_unread: "markera som olästa",
    move_inbox: "flytta till inkorgen",
    apply: "Utför",
    previous: "Föregående",
    next: "Nästa",
    yourself: "dig",
    as_representative: "du läser som ombud",
    back: "Alla meddelanden",
    documents: "Dokument",
    attachments: "Bilagor",
    support: "Frågor",
    case_link: "Ärendet i Mina ärenden",
    due: "senast",
    settings: "Inställningar för digital post",
    settings_lead: "Välj brevlåda för din digitala post och för företag du tecknar. Varje ändring signeras med din e-legitimation.",
    registered_with: "Din post går till",
    not_registered: "Inte ansluten till digital post: myndigheter skickar din post på papper.",
    operator: "Brevlåda",
    register: "Anslut eller byt brevlåda",
    deregister: "Avsluta digital post",
    blocked: "Avsändare du inte vill få digital post från (de skickar på papper)",
    block: "Spärra avsändare",
    unblock: "Häv spärr",
    sender: "Avsändarens organisationsnummer",
    waiting: "Väntar på underskrift av",
    signed_note: "Ändringen är signerad och sparad.",
    done: "Klart.",
    failed: "Det gick inte",
    unavailable: "brevlådan är avstängd just nu",
    replies: "Svar",
    reply: "Svara avsändaren",
    reply_send: "Skicka svaret",
    reply_sent: "Ditt svar är sparat och skickas till avsändaren.",
    reply_waiting: "skickas",
    reply_refused: "kunde inte skickas: avsändaren tar inte emot svar på det här meddelandet längre",
    receipt_note: "Avsändaren bad om kvitto: när meddelandet öppnades första gången fick avsändaren ett signerat kvitto med tidpunkten.",
};

const EN: MailTexts = MailTexts {
    title: "My messages",
    lead: "Digital mail from agencies, municipalities and regions — to you, and to those whose mail you may read through Mina ombud.",
    inbox: "Inbox",
    archive: "Archive",
    bin: "Bin",
    unread_only: "unread only",
    show: "Show",
    subject: "Subject",
    from: "From",
    to: "To",
    received: "Received",
    new: "New",
    none: "No messages.",
    select: "Select",
    with_selected: "With the selected messages",
    mark_read: "mark as read",
    mark_unread: "mark as unread",
    move_inbox: "move to the inbox",
    apply: "Apply",
    previous: "Previous",
    next: "Next",
    yourself: "you",
    as_representative: "you read it as a representative",
    back: "All messages",
    documents: "Documents",
    attachments: "Attachments",
    support: "Questions",
    case_link: "The case in My cases",
    due: "by",
    settings: "Digital mail settings",
    settings_lead: "Choose the mailbox for your digital mail and for companies you sign for. Every change is signed with your e-ID.",
    registered_with: "Your mail goes to",
    not_registered: "Not registered for digital mail: agencies send your mail on paper.",
    operator: "Mailbox",
    register: "Register or change mailbox",
    deregister: "Stop digital mail",
    blocked: "Senders you do not want digital mail from (they send paper)",
    block: "Block sender",
    unblock: "Unblock",
    sender: "The sender's organisation number",
    waiting: "Waiting for the signature of",
    signed_note: "The change is signed and saved.",
    done: "Done.",
    failed: "That did not work",
    unavailable: "the mailbox is suspended at the moment",
    replies: "Replies",
    reply: "Reply to the sender",
    reply_send: "Send the reply",
    reply_sent: "Your reply is saved and goes to the sender.",
    reply_waiting: "being sent",
    reply_refused: "could not be sent: the sender no longer takes replies to this message",
    receipt_note: "The sender asked for a receipt: when the message was first opened, the sender got a signed receipt with the time.",
};

fn texts(lang: Lang) -> &'static MailTexts {
    if lang == Lang::En { &EN } else { &SV }
}

fn minute(rfc3339: &str) -> String {
    rfc3339.get(..16).unwrap_or(rfc3339).replace('T', " ")
}

/// How many unread messages the person's inbox holds (up to 100: "100+" beyond), for the hub.
pub async fn unread(state: &AppState, s: &Session) -> String {
    let Ok(scopes) = super::scopes(state, &s.person).await else { return String::new() };
    match state.mail.list(s.person.as_str(), &scopes, Folder::Inbox, true, 101, 0).await {
        Ok(l) if l.len() > 100 => "100+".into(),
        Ok(l) => l.len().to_string(),
        Err(_) => String::new(),
    }
}

struct Row {
    id: String,
    subject: String,
    from: String,
    to: String,
    received: String,
    unread: bool,
}

#[derive(Template)]
#[template(path = "mail/templates/meddelanden.html")]
struct InboxPage {
    layout: Layout,
    f: &'static MailTexts,
    lang_en: bool,
    csrf: String,
    rows: Vec<Row>,
    folder: &'static str,
    unread: bool,
    page: u32,
    previous: Option<String>,
    next: Option<String>,
    message: Option<String>,
    error: Option<String>,
}

async fn render_inbox(
    state: &AppState,
    s: &Session,
    q: HashMap<String, String>,
    message: Option<String>,
    refused: Option<String>,
) -> Response {
    let lang = LangQuery::from_map(&q).lang();
    let f = texts(lang);
    let mut api_q = q.clone();
    if let Some(v) = api_q.get_mut("unread") {
        *v = if v == "on" || v == "true" { "true".into() } else { "false".into() };
    }
    for k in ["lang", "done"] {
        api_q.remove(k);
    }
    let query = ApiQuery(api_q);
    let mut errors = Vec::new();
    let (folder, unread) = super::api::folder_of(&query, &mut errors);
    let (rows, page, more, error) = match query.page(errors) {
        Ok(p) => {
            let scopes = super::scopes(state, &s.person).await.unwrap_or_default();
            match state.mail.list(s.person.as_str(), &scopes, folder, unread, p.limit + 1, p.offset()).await {
                Ok(found) => {
                    let (items, more) = p.trim(found);
                    let names = party_names(state, s, f.yourself).await;
                    let rows = items
                        .iter()
                        .map(|m| Row {
                            id: m.id.clone(),
                            subject: m.subject.clone(),
                            from: m.sender_name.clone(),
                            to: names
                                .get(&m.recipient)
                                .cloned()
                                .unwrap_or_else(|| ena_audit::event::mask(&m.recipient)),
                            received: minute(&m.received_at),
                            unread: !m.read,
                        })
                        .collect();
                    (rows, p.page, more, None)
                }
                Err(e) => (Vec::new(), 1, false, Some(format!("{} — {e}", f.failed))),
            }
        }
        Err(e) => {
            let named: Vec<String> =
                e.0.invalid_parameters.iter().map(|p| format!("{}: {}", p.property, p.reason)).collect();
            (Vec::new(), 1, false, Some(format!("{} — {}", f.failed, named.join("; "))))
        }
    };
    let error = refused.or(error);
    let en = if lang == Lang::En { "&lang=en" } else { "" };
    let unread_q = if unread { "&unread=on" } else { "" };
    let link = |n: u32| format!("{PATH}?folder={}{unread_q}{en}&page={n}", folder.as_str());
    let view = InboxPage {
        layout: Layout::new(lang, f.title, PATH),
        f,
        lang_en: lang == Lang::En,
        csrf: s.csrf.clone(),
        rows,
        folder: folder.as_str(),
        unread,
        previous: (page > 1).then(|| link(page - 1)),
        next: more.then(|| link(page + 1)),
        page,
        message,
        error: error.clone(),
    };
    html(if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK }, view.render())
}

async fn inbox(State(state): State<AppState>, Person(s): Person, Query(q): Query<HashMap<String, String>>) -> Response {
    let message = q.contains_key("done").then(|| texts(LangQuery::from_map(&q).lang()).done.to_owned());
    render_inbox(&state, &s, q, message, None).await
}

/// Bulk: read, unread, or a folder, on the ticked messages.
async fn bulk(State(state): State<AppState>, Person(s): Person, Query(q): Query<LangQuery>, body: Bytes) -> Response {
    let lang = q.lang();
    let form = match csrf_form(&s, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let ids: Vec<String> = form.iter().filter(|(k, _)| k == "id").map(|(_, v)| v.clone()).collect();
    let scopes = match super::scopes(&state, &s.person).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let (read, folder) = match field("action").unwrap_or_default() {
        "read" => (Some(true), None),
        "unread" => (Some(false), None),
        other => (None, Folder::parse(other)),
    };
    let outcome = if read.is_none() && folder.is_none() {
        Err(ena_mail::MailError::Invalid(vec![ena_core::FieldError::new(
            "action",
            field("action").unwrap_or_default(),
            "read, unread, inbox, archive or bin",
        )]))
    } else {
        state.mail.mark(s.person.as_str(), &scopes, &ids, read, folder).await
    };
    let en = if lang == Lang::En { "&lang=en" } else { "" };
    match outcome {
        Ok(_) => Redirect::to(&format!("{PATH}?done=1{en}")).into_response(),
        Err(e) => {
            let mut q = HashMap::new();
            if lang == Lang::En {
                q.insert("lang".to_owned(), "en".to_owned());
            }
            render_inbox(&state, &s, q, None, Some(format!("{} — {e}", texts(lang).failed))).await
        }
    }
}

#[derive(Template)]
#[template(path = "mail/templates/meddelande.html")]
struct MessagePage {
    layout: Layout,
    f: &'static MailTexts,
    lang_q: &'static str,
    m: Message,
    to: String,
    /// (title, attachment name, [(kind, title, url, due, place)])
    documents: Vec<(String, String, Vec<(String, String, String, String, String)>)>,
    /// (name, media type, size, download link)
    attachments: Vec<(String, String, String, String)>,
    csrf: String,
    signed_receipt: bool,
    notice: Option<&'static str>,
    error: Option<String>,
}

async fn message_page(
    State(state): State<AppState>,
    Person(s): Person,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = if q.get("lang").map(String::as_str) == Some("en") { Lang::En } else { Lang::Sv };
    let notice = q.contains_key("svar").then_some(texts(lang).reply_sent);
    render_message(&state, &s, &id, lang, notice, None).await
}

/// A reply from the message page (a POST form with the session's CSRF token).
async fn reply(
    State(state): State<AppState>,
    Person(s): Person,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
    body: Bytes,
) -> Response {
    let lang = q.lang();
    let form = match csrf_form(&s, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let text = form.iter().find(|(k, _)| k == "body").map(|(_, v)| v.as_str()).unwrap_or_default();
    let scopes = match super::scopes(&state, &s.person).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let ctx = crate::blocks::cases::person_context(&s);
    match state.mail.reply(&ctx, s.person.as_str(), &scopes, &id, text).await {
        Ok(_) => {
            let en = if lang == Lang::En { "&lang=en" } else { "" };
            Redirect::to(&format!("{PATH}/{id}?svar=1{en}")).into_response()
        }
        Err(ena_mail::MailError::NotFound(m)) => {
            crate::problem::ApiError::from(ena_mail::MailError::NotFound(m)).into_response()
        }
        Err(e) => render_message(&state, &s, &id, lang, None, Some(format!("{} — {e}", texts(lang).failed))).await,
    }
}

async fn render_message(
    state: &AppState,
    s: &Session,
    id: &str,
    lang: Lang,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Response {
    let f = texts(lang);
    let scopes = match super::scopes(state, &s.person).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let ctx = crate::blocks::cases::person_context(s);
    let m = match state.mail.open(&ctx, s.person.as_str(), &scopes, id).await {
        Ok(m) => m,
        Err(e) => return crate::problem::ApiError::from(e).into_response(),
    };
    let names = party_names(state, s, f.yourself).await;
    let documents = m
        .documents
        .iter()
        .map(|d| {
            let file = d.attachment.and_then(|i| m.attachments.get(i)).map(|a| a.name.clone()).unwrap_or_default();
            let actions = d
                .actions
                .iter()
                .map(|a| {
                    let due = a.due.as_deref().map(|d| d.get(..10).unwrap_or(d).to_owned()).unwrap_or_default();
                    (a.kind.clone(), a.title.clone(), a.url.clone(), due, a.place.clone().unwrap_or_default())
                })
                .collect();
            (d.title.clone(), file, actions)
        })
        .collect();
    let attachments = m
        .attachments
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let link = format!("{PATH}/{}/bilagor/{i}", m.id);
            (a.name.clone(), a.media_type.clone(), format!("{} kB", a.size.div_ceil(1024)), link)
        })
        .collect();
    let page = MessagePage {
        layout: Layout::new(lang, &m.subject, &format!("{PATH}/{}", m.id)),
        f,
        lang_q: if lang == Lang::En { "?lang=en" } else { "" },
        to: names.get(&m.recipient).cloned().unwrap_or_else(|| ena_audit::event::mask(&m.recipient)),
        documents,
        attachments,
        csrf: s.csrf.clone(),
        signed_receipt: m.receipt == ena_mail::ReceiptMode::Signed,
        notice,
        error: error.clone(),
        m,
    };
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    html(status, page.render())
}

struct PartyView {
    /// Empty for yourself, else the organisation number (the form's `party`).
    party: String,
    name: String,
    operator: Option<(String, bool)>,
    blocked: Vec<(String, String)>,
    waiting: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "mail/templates/installningar.html")]
struct SettingsPage {
    layout: Layout,
    f: &'static MailTexts,
    lang_en: bool,
    csrf: String,
    parties: Vec<PartyView>,
    operators: Vec<(String, String)>,
    message: Option<String>,
    error: Option<String>,
}

async fn render_settings(
    state: &AppState,
    s: &Session,
    lang: Lang,
    message: Option<String>,
    error: Option<String>,
) -> Response {
    let f = texts(lang);
    let operators: Vec<(String, String)> =
        state.mail.operators().await.unwrap_or_default().into_iter().map(|o| (o.id, o.name)).collect();
    let mut who: Vec<(String, Recipient, String)> =
        vec![(String::new(), Recipient::Person(s.person.clone()), f.yourself.to_owned())];
    // Companies the person may sign for (their registration is theirs to change, with the others needed).
    for a in state.representation.acting_for(&s.person).await.unwrap_or_default() {
        if a.basis == "role" && state.representation.company(&a.party).is_some_and(|c| c.can_bind(s.person.as_str())) {
            let name = a.name.clone().unwrap_or_else(|| org_display(&a.party));
            who.push((org_display(&a.party), Recipient::Organisation(a.party), name));
        }
    }
    let mut parties = Vec::new();
    for (party, recipient, name) in who {
        let reg = state.mail.registration(&recipient).await.ok().flatten();
        let operator = reg.as_ref().filter(|r| !r.operator.is_empty()).map(|r| {
            let good = r.operator_details.is_some();
            (r.operator_details.as_ref().map_or_else(|| r.operator.clone(), |o| o.name.clone()), good)
        });
        let blocked = reg
            .as_ref()
            .map(|r| r.blocked_senders.iter().map(|b| (b.clone(), org_display(b))).collect())
            .unwrap_or_default();
        let waiting = reg
            .as_ref()
            .map(|r| {
                r.pending
                    .iter()
                    .map(|p| {
                        (
                            p.change.clone(),
                            p.possible_signers.iter().map(|x| ena_audit::event::mask(x)).collect::<Vec<_>>().join(", "),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        parties.push(PartyView { party, name, operator, blocked, waiting });
    }
    let view = SettingsPage {
        layout: Layout::new(lang, f.settings, SETTINGS),
        f,
        lang_en: lang == Lang::En,
        csrf: s.csrf.clone(),
        parties,
        operators,
        message,
        error: error.clone(),
    };
    html(if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK }, view.render())
}

async fn settings(
    State(state): State<AppState>,
    Person(s): Person,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = LangQuery::from_map(&q).lang();
    let message = q.contains_key("done").then(|| texts(lang).signed_note.to_owned());
    render_settings(&state, &s, lang, message, None).await
}

/// A signed change from the settings form: register (with the chosen operator), deregister, block or
/// unblock a sender — for yourself or a company you sign for.
async fn change_settings(
    State(state): State<AppState>,
    Person(s): Person,
    Query(q): Query<LangQuery>,
    body: Bytes,
) -> Response {
    let lang = q.lang();
    let form = match csrf_form(&s, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let outcome = async {
        let recipient = super::recipient_of(&s, field("party"))?;
        let change =
            state.mail.parse_change(field("action").unwrap_or_default(), field("operator"), field("sender")).await?;
        super::sign_and_change(&state, &s, &recipient, change).await
    }
    .await;
    let en = if lang == Lang::En { "&lang=en" } else { "" };
    match outcome {
        Ok(Outcome::Done { .. } | Outcome::Incomplete { .. }) => {
            Redirect::to(&format!("{SETTINGS}?done=1{en}")).into_response()
        }
        Err(e) => {
            let detail = e.fields_or_detail();
            render_settings(&state, &s, lang, None, Some(format!("{} — {detail}", texts(lang).failed))).await
        }
    }
}

/// An attachment, streamed from the mailbox's node (which keeps the file encrypted at rest and decrypts
/// it as it streams), with the name and media type the letter gives.
async fn attachment(
    State(state): State<AppState>,
    Person(s): Person,
    Path((id, n)): Path<(String, usize)>,
) -> Response {
    let scopes = match super::scopes(&state, &s.person).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let ctx = crate::blocks::cases::person_context(&s);
    let (delivery, info) = match state.mail.attachment(&ctx, &scopes, &id, n).await {
        Ok(v) => v,
        Err(e) => return crate::problem::ApiError::from(e).into_response(),
    };
    let Some(Ok(Some(config))) = state.config.mailbox.as_ref().map(crate::MailboxSettings::read) else {
        return crate::problem::ApiError::new(
            ena_core::ErrorCode::ServiceUnavailable,
            "this installation's mailbox is not running",
        )
        .into_response();
    };
    let url = format!("{}/messages/v1/inbox/{delivery}/attachments/{n}", config.node_api.trim_end_matches('/'));
    let upstream = match state.mail_client.get(url).bearer_auth(&config.node_token).send().await {
        Ok(r) if r.status().is_success() => r,
        Ok(r) => {
            tracing::warn!(status = %r.status(), "the mailbox's node refused an attachment");
            return crate::problem::ApiError::new(
                ena_core::ErrorCode::ServiceUnavailable,
                "the attachment cannot be read now",
            )
            .into_response();
        }
        Err(e) => {
            tracing::warn!(error = %e, "the mailbox's node does not answer");
            return crate::problem::ApiError::new(
                ena_core::ErrorCode::ServiceUnavailable,
                "the attachment cannot be read now",
            )
            .into_response();
        }
    };
    let ascii: String =
        info.name.chars().map(|c| if c.is_ascii_alphanumeric() || ".-_".contains(c) { c } else { '_' }).collect();
    let disposition =
        format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{}", ena_core::percent_encode(&info.name));
    // Chunk by chunk as the node decrypts it: the file never sits whole in memory here either.
    let chunks = futures_util::stream::unfold(upstream, |mut r| async move {
        match r.chunk().await {
            Ok(Some(c)) => Some((Ok::<_, reqwest::Error>(c), r)),
            Ok(None) => None,
            Err(e) => Some((Err(e), r)),
        }
    });
    let body = axum::body::Body::from_stream(chunks);
    (
        [(axum::http::header::CONTENT_TYPE, info.media_type), (axum::http::header::CONTENT_DISPOSITION, disposition)],
        body,
    )
        .into_response()
}
