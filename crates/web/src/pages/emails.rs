//! A tracked email: `/emails/{id}` (its headers, the records it is on, its attachments, the
//! tasks made from it, and its body in a sandboxed frame), `/emails/{id}/body` (the body
//! alone, sanitised by [`crate::email_html`], under a Content-Security-Policy of its own) and
//! `/emails/{id}/attachments/{n}` (a download). Its owner adds the email to a contact's or a
//! company's timeline (`POST /emails/{id}/records`, the record found by what was typed:
//! [`crate::picker`]) or takes it off one (`POST /emails/{id}/records/remove`).
//!
//! What a viewer may see is the model's: [`TrackedEmailRecord::seen_by`] — a colleague's
//! private email is only "Tracked privately by …", and its body and attachments are 404.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use threadline_crm::email_source::{self, EmailAttachment};
use threadline_crm::records::tracked_emails::{
    RedactedTrackedEmail, TrackedEmailRecord, TrackedEmailView,
};
use threadline_crm::records::{self, Kind};
use threadline_crm::store;
use threadline_crm::tracking::links::{self, LinkChange, LinkRequest};
use threadline_crm::CrmError;
use threadline_domain::api::{Party, RecordKind, Task, TimelineLink};
use threadline_http::AppState;
use uuid::Uuid;

use crate::email_html;
use crate::error::WebError;
use crate::i18n::{Lang, Words};
use crate::layout::{render, Layout, Section};
use crate::picker::{self, Candidate, Found};
use crate::session::Viewer;

/// The body frame's policy: nothing runs, nothing loads but inline styles and images carried
/// in the email (remote ones only when asked), no form goes anywhere, framed only here. The
/// sandbox lets a link open in a new tab (never in this page), as in any mail client.
pub const BODY_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data: cid:; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'self'; \
     sandbox allow-popups allow-popups-to-escape-sandbox";

/// [`BODY_CSP`] when the user chose to see this email's remote images.
pub const BODY_CSP_WITH_IMAGES: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data: https:; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'self'; \
     sandbox allow-popups allow-popups-to-escape-sandbox";

/// `?images=1`: show remote images (this time, for this email).
#[derive(Debug, Default, Deserialize)]
pub struct ImagesQuery {
    #[serde(default)]
    images: Option<String>,
}

impl ImagesQuery {
    fn wanted(&self) -> bool {
        self.images.as_deref() == Some("1")
    }
}

/// A party as a line: `Name <address>`, or the address.
pub fn party(p: &Party) -> String {
    match p.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => format!("{name} <{}>", p.address),
        None => p.address.clone(),
    }
}

/// The page of a record on a timeline.
pub fn record_href(link: &TimelineLink) -> String {
    match link.record_kind {
        RecordKind::Contact => format!("/contacts/{}", link.record_id),
        RecordKind::Company => format!("/companies/{}", link.record_id),
    }
}

fn parse_id(raw: &str, lang: Lang) -> Result<Uuid, WebError> {
    Uuid::parse_str(raw).map_err(|_| WebError::NotFound(lang))
}

/// The live entry `id` of the viewer's organisation, as the viewer may see it.
async fn seen(app: &AppState, viewer: &Viewer, id: Uuid) -> Result<TrackedEmailView, WebError> {
    let lang = viewer.lang;
    let mut conn = super::conn(app, lang).await?;
    let record: TrackedEmailRecord = records::edit::get(&mut conn, viewer.org_id, id)
        .await
        .map_err(WebError::crm(lang))?;
    Ok(record.seen_by(viewer))
}

/// What the page shows of the body.
enum Body {
    /// In the frame.
    Html,
    Text(String),
    None,
}

#[derive(Template)]
#[template(path = "emails/email.html")]
struct EmailPage {
    l: Layout,
    w: &'static Words,
    email: TrackedEmailRecord,
    body: Body,
    images: bool,
    /// Remote images the sanitiser removed (0 when they are shown).
    blocked_images: usize,
    tasks: Vec<Task>,
    /// The viewer tracked it: they may change the records it is on.
    own: bool,
    pick: Pick,
}

/// The "add to a contact or company" field after a try ([`crate::picker`]).
#[derive(Default)]
struct Pick {
    typed: String,
    candidates: Vec<Candidate>,
    /// More matched than are shown.
    more: bool,
    problem: Option<&'static str>,
}

impl EmailPage {
    fn subject(&self) -> &str {
        if self.email.subject.trim().is_empty() {
            self.w.no_subject
        } else {
            &self.email.subject
        }
    }

    fn kind_word(&self, link: &TimelineLink) -> &'static str {
        match link.record_kind {
            RecordKind::Contact => self.w.email_contact,
            RecordKind::Company => self.w.email_company,
        }
    }

    fn candidate_kind(&self, c: &Candidate) -> &'static str {
        match c.kind {
            Kind::Company => self.w.email_company,
            _ => self.w.email_contact,
        }
    }

    /// The value a remove button posts: `contact:<id>`.
    fn link_value(&self, link: &TimelineLink) -> String {
        format!(
            "{}:{}",
            store::record_kind_text(link.record_kind),
            link.record_id
        )
    }

    fn frame_src(&self) -> String {
        let images = if self.images { "?images=1" } else { "" };
        format!("/emails/{}/body{images}", self.email.id)
    }
}

#[derive(Template)]
#[template(path = "emails/private.html")]
struct PrivatePage {
    l: Layout,
    w: &'static Words,
    email: RedactedTrackedEmail,
}

pub async fn email(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
    Query(query): Query<ImagesQuery>,
) -> Result<Response, WebError> {
    let id = parse_id(&raw, viewer.lang)?;
    email_page(&app, &viewer, id, query.wanted(), Pick::default()).await
}

/// The page of entry `id`, with the add field as `pick` left it.
async fn email_page(
    app: &AppState,
    viewer: &Viewer,
    id: Uuid,
    images: bool,
    pick: Pick,
) -> Result<Response, WebError> {
    let w = viewer.words();
    let lang = viewer.lang;
    let email = match seen(app, viewer, id).await? {
        TrackedEmailView::Whole(email) => email,
        TrackedEmailView::Redacted(email) => {
            return Ok(render(&PrivatePage {
                l: Layout::for_viewer(viewer, w.email_title, Section::None),
                w,
                email,
            }))
        }
    };
    let mut blocked_images = 0;
    let body = match (&email.html_body, &email.body_text) {
        (Some(html), _) if !html.trim().is_empty() => {
            blocked_images =
                email_html::sanitise(html, images, &email_html::Inline::new()).blocked_images;
            Body::Html
        }
        (_, Some(text)) if !text.trim().is_empty() => Body::Text(text.clone()),
        _ => Body::None,
    };
    let tasks = {
        let mut conn = super::conn(app, lang).await?;
        store::tasks_by_source(&mut conn, viewer.org_id, &email.message_ids)
            .await
            .map_err(WebError::crm(lang))?
    };
    let title = if email.subject.trim().is_empty() {
        w.email_title.to_string()
    } else {
        email.subject.clone()
    };
    let own = email.owner.id == viewer.user_id;
    let refused = pick.problem.is_some();
    let mut page = render(&EmailPage {
        l: Layout::for_viewer(viewer, &title, Section::None),
        w,
        email,
        body,
        images,
        blocked_images,
        tasks,
        own,
        pick,
    });
    if refused {
        *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(page)
}

/// The timelines the record field names.
const LINKABLE: [Kind; 2] = [Kind::Contact, Kind::Company];

#[derive(Deserialize)]
pub struct LinkForm {
    csrf: String,
    /// What was typed, or a choice's `kind:id`.
    #[serde(default)]
    record: String,
}

/// Adds or removes the link of the viewer's entry `id` to the record `(kind, record_id)`
/// (a contact or a company) and goes back to the email's records.
async fn change(
    app: &AppState,
    viewer: &Viewer,
    id: Uuid,
    kind: Kind,
    record_id: Uuid,
    change: LinkChange,
) -> Result<Response, WebError> {
    let kind = match kind {
        Kind::Company => RecordKind::Company,
        _ => RecordKind::Contact,
    };
    let request = LinkRequest {
        entry: id,
        kind,
        record_id,
        change,
        expected_version: None,
    };
    links::change_link(app.db(), viewer, request)
        .await
        .map_err(WebError::crm(viewer.lang))?;
    Ok(Redirect::to(&format!("/emails/{id}#records-h")).into_response())
}

/// `POST /emails/{id}/records`: puts the viewer's own entry on the timeline of the record
/// the field names ([`picker::find`]); several matches come back to choose from.
pub async fn add_record(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
    Form(form): Form<LinkForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let lang = viewer.lang;
    let w = viewer.words();
    let id = parse_id(&raw, lang)?;
    let found = {
        let mut conn = super::conn(&app, lang).await?;
        picker::find(&mut conn, viewer.org_id, &form.record, &LINKABLE)
            .await
            .map_err(WebError::crm(lang))?
    };
    let typed = form.record.trim().to_string();
    let pick = match found {
        Found::One(c) => return change(&app, &viewer, id, c.kind, c.id, LinkChange::Add).await,
        Found::Several { candidates, more } => Pick {
            typed,
            candidates,
            more,
            problem: None,
        },
        Found::None => Pick {
            typed,
            problem: Some(w.email_link_none),
            ..Pick::default()
        },
    };
    email_page(&app, &viewer, id, false, pick).await
}

/// `POST /emails/{id}/records/remove`: takes the viewer's own entry off one timeline
/// (`record` is `kind:id`).
pub async fn remove_record(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
    Form(form): Form<LinkForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let lang = viewer.lang;
    let id = parse_id(&raw, lang)?;
    let (kind, record_id) =
        picker::parse_value(&form.record, &LINKABLE).ok_or(WebError::NotFound(lang))?;
    change(&app, &viewer, id, kind, record_id, LinkChange::Remove).await
}

/// The largest attached image shown in the body (larger ones stay a `cid:` link to nothing:
/// the attachment is still listed on the page).
const MAX_INLINE_IMAGE_BYTES: u64 = 2 * 1024 * 1024;

/// The email's attached images that its HTML names by `cid:`, as `data:` URLs by Content-ID
/// ([`email_html::Inline`]).
async fn inline_images(
    app: &AppState,
    html: &str,
    attachments: &[EmailAttachment],
) -> Result<email_html::Inline, CrmError> {
    let mut inline = email_html::Inline::new();
    if !html.to_ascii_lowercase().contains("cid:") {
        return Ok(inline);
    }
    let Ok(blobs) = app.blobs() else {
        return Ok(inline);
    };
    for a in attachments {
        let (Some(cid), Some(sha256)) = (&a.content_id, &a.sha256) else {
            continue;
        };
        if !a.stored
            || a.size > MAX_INLINE_IMAGE_BYTES
            || !email_html::inline_image(&a.content_type)
        {
            continue;
        }
        let mut bytes = Vec::with_capacity(usize::try_from(a.size).unwrap_or(0));
        let mut stream = std::pin::pin!(blobs.open(sha256).await?);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| CrmError::internal(format!("reading {sha256}: {e}")))?;
            bytes.extend_from_slice(&chunk);
        }
        if let Some(url) = email_html::data_url(&a.content_type, &bytes) {
            inline.insert(cid.clone(), url);
        }
    }
    Ok(inline)
}

/// The body alone, for the page's sandboxed frame: the HTML sanitised (remote images only
/// with `?images=1`), else the text as text; under [`BODY_CSP`].
pub async fn body(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
    Query(query): Query<ImagesQuery>,
) -> Result<Response, WebError> {
    let lang = viewer.lang;
    let id = parse_id(&raw, lang)?;
    let TrackedEmailView::Whole(email) = seen(&app, &viewer, id).await? else {
        return Err(WebError::NotFound(lang));
    };
    let images = query.wanted();
    let (content_type, content) = match (email.html_body, email.body_text) {
        (Some(html), _) if !html.trim().is_empty() => {
            let inline = inline_images(&app, &html, &email.attachments)
                .await
                .map_err(WebError::crm(lang))?;
            (
                "text/html; charset=utf-8",
                email_html::sanitise(&html, images, &inline).html,
            )
        }
        (_, Some(text)) => ("text/plain; charset=utf-8", text),
        _ => ("text/plain; charset=utf-8", String::new()),
    };
    let csp = if images {
        BODY_CSP_WITH_IMAGES
    } else {
        BODY_CSP
    };
    let mut response = content.into_response();
    let h = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_SECURITY_POLICY, csp),
        (header::X_FRAME_OPTIONS, "SAMEORIGIN"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "private, no-cache"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    Ok(response)
}

/// Attachment `n` of the email, as a download (the same answer as the API's).
pub async fn attachment(
    State(app): State<AppState>,
    viewer: Viewer,
    Path((raw, n)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let lang = viewer.lang;
    let id = parse_id(&raw, lang)?;
    let index: u32 = n.parse().map_err(|_| WebError::NotFound(lang))?;
    let attachment = {
        let mut conn = super::conn(&app, lang).await?;
        email_source::attachment(&mut conn, &viewer, id, index)
            .await
            .map_err(WebError::crm(lang))?
    };
    let blobs = app
        .blobs()
        .map_err(|e| WebError::Internal(lang, e.to_string()))?;
    threadline_http::routes::tracked_emails::attachment_download(blobs, &attachment)
        .await
        .map_err(WebError::crm(lang))
}
