//! Settings: profile and language, password, the live web sessions, devices (the extension
//! in each browser) and API tokens; for an owner, the organisation's users and invitations.
//!
//! One page, `/settings`, with a section each; every action is a form that posts and comes
//! back (303 to `/settings?done=…`), except the two that show a secret once (a new token, a
//! new invitation's link): those answer the page itself, the secret on it.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Extension, Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use threadline_crm::accounts::devices::{self, OwnToken, TokenKind};
use threadline_crm::accounts::google;
use threadline_crm::accounts::links::{self, Invitation};
use threadline_crm::accounts::passwords::{self, SignIn};
use threadline_crm::accounts::preferences;
use threadline_crm::accounts::sessions::{self, SessionInfo};
use threadline_crm::accounts::{self, Member};
use threadline_crm::{CrmError, Reason};
use threadline_domain::api::UserRole;
use threadline_http::AppState;
use uuid::Uuid;

use crate::error::WebError;
use crate::i18n::{Lang, Words};
use crate::layout::{render, Layout, Section};
use crate::pages::auth;
use crate::session::CsrfForm;
use crate::session::{ClientKey, Viewer};
use crate::WebConfig;

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    l: Layout,
    w: &'static Words,
    name: String,
    /// The chosen language's tag; empty: the browser's.
    language: String,
    /// The chosen IANA time zone; empty: UTC.
    time_zone: String,
    langs: [Lang; 3],
    sessions: Vec<SessionInfo>,
    current_session: Uuid,
    devices: Vec<OwnToken>,
    tokens: Vec<OwnToken>,
    owner: Option<OwnerPart>,
    /// A token just created, shown this once.
    new_token: Option<String>,
    /// An invitation's link just made, shown this once.
    new_link: Option<String>,
    notice: Option<&'static str>,
    /// A refusal of a form, with the section it is about (`profile`, `password`, `tokens`,
    /// `invitations`).
    problem: Option<(&'static str, String)>,
    /// Sign in with Google: offered by this server, and the linked account's address.
    google: Option<GooglePart>,
}

/// The profile's Google account (when a Google client is configured).
struct GooglePart {
    linked: Option<String>,
    has_password: bool,
}

/// What only an owner sees.
struct OwnerPart {
    members: Vec<Member>,
    invitations: Vec<Invitation>,
}

impl SettingsPage {
    fn problem_of(&self, section: &str) -> Option<&str> {
        self.problem
            .as_ref()
            .filter(|(s, _)| *s == section)
            .map(|(_, m)| m.as_str())
    }

    fn role_name(&self, role: &UserRole) -> &'static str {
        match role {
            UserRole::Owner => self.w.role_owner,
            UserRole::Member => self.w.role_member,
        }
    }
}

/// What a form did, for the notice on the page it comes back to.
#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

fn notice(w: &'static Words, done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "profile" => w.settings_saved,
        "password" => w.password_changed,
        "session" => w.session_ended,
        "revoked" => w.token_revoked,
        "invitation" => w.invitation_revoked,
        "google_linked" => w.google_linked_notice,
        "google_unlinked" => w.google_unlinked_notice,
        "google_taken" => w.google_account_taken,
        "google_needs_password" => w.google_unlink_needs_password,
        _ => return None,
    })
}

async fn page(
    app: &AppState,
    viewer: &Viewer,
    notice: Option<&'static str>,
) -> Result<SettingsPage, WebError> {
    let lang = viewer.lang;
    let w = viewer.words();
    let now = chrono::Utc::now();
    let sessions = sessions::list_sessions(app.db(), viewer.user_id, now)
        .await
        .map_err(WebError::crm(lang))?;
    let mut conn = app
        .db()
        .pool()
        .acquire()
        .await
        .map_err(|e| WebError::Internal(lang, e.to_string()))?;
    let (devices, tokens): (Vec<OwnToken>, Vec<OwnToken>) =
        devices::tokens_of(&mut conn, viewer.user_id, None)
            .await
            .map_err(WebError::crm(lang))?
            .into_iter()
            .filter(OwnToken::is_active)
            .partition(|t| t.kind == TokenKind::Device);
    let owner = if viewer.session.role == UserRole::Owner {
        Some(OwnerPart {
            members: accounts::members(&mut conn, viewer)
                .await
                .map_err(WebError::crm(lang))?,
            invitations: links::pending_invitations(app.db(), viewer, now)
                .await
                .map_err(WebError::crm(lang))?,
        })
    } else {
        None
    };
    let google = if crate::pages::google_sign_in::offered(app) {
        Some(GooglePart {
            linked: google::linked(&mut conn, viewer.user_id)
                .await
                .map_err(WebError::crm(lang))?,
            has_password: google::has_password(&mut conn, viewer.user_id)
                .await
                .map_err(WebError::crm(lang))?,
        })
    } else {
        None
    };
    Ok(SettingsPage {
        l: Layout::for_viewer(viewer, w.settings_title, Section::Settings),
        w,
        name: viewer.name.clone(),
        language: viewer.session.language.clone().unwrap_or_default(),
        time_zone: viewer.session.time_zone.clone().unwrap_or_default(),
        langs: Lang::ALL,
        sessions,
        current_session: viewer.session.id,
        devices,
        tokens,
        owner,
        new_token: None,
        new_link: None,
        notice,
        problem: None,
        google,
    })
}

/// `GET /settings`.
pub async fn settings(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(q): Query<Done>,
) -> Result<Response, WebError> {
    let notice = notice(viewer.words(), q.done.as_deref());
    Ok(render(&page(&app, &viewer, notice).await?))
}

fn back(done: &str) -> Response {
    Redirect::to(&format!("/settings?done={done}")).into_response()
}

/// The page again with a refusal of the model in `section`, 422; other errors as pages.
async fn refused(
    app: &AppState,
    viewer: &Viewer,
    section: &'static str,
    error: CrmError,
) -> Result<Response, WebError> {
    match error.reason() {
        Some(reason) if !matches!(reason, Reason::Forbidden | Reason::NotFound) => {
            let message = crate::error::refusal(&error, viewer.words()).unwrap_or_default();
            with_problem(app, viewer, section, message).await
        }
        _ => Err(WebError::from_crm(error, viewer.lang)),
    }
}

/// The page again with `message` in `section`, 422.
async fn with_problem(
    app: &AppState,
    viewer: &Viewer,
    section: &'static str,
    message: String,
) -> Result<Response, WebError> {
    let mut shown = page(app, viewer, None).await?;
    shown.problem = Some((section, message));
    let mut response = render(&shown);
    *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(response)
}

#[derive(Deserialize)]
pub struct ProfileForm {
    csrf: String,
    name: String,
    /// `en`, `nl`, `de`, or empty: the browser's.
    language: String,
    /// An IANA name (the Planning's too), or empty: UTC.
    #[serde(default)]
    time_zone: String,
}

/// `POST /settings/profile`: the name, the language and the time zone (the pages switch at
/// once).
pub async fn save_profile(
    State(app): State<AppState>,
    viewer: Viewer,
    Form(form): Form<ProfileForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let language = Some(form.language.as_str()).filter(|l| !l.is_empty());
    let zone = Some(form.time_zone.trim()).filter(|z| !z.is_empty());
    // The zone first: a name the tz database does not know changes nothing.
    let saved = match preferences::set_time_zone(app.db(), viewer.user_id, zone).await {
        Ok(()) => match sessions::set_name(app.db(), viewer.user_id, &form.name).await {
            Ok(()) => sessions::set_language(app.db(), viewer.user_id, language).await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    match saved {
        Ok(()) => Ok(back("profile")),
        Err(e) => refused(&app, &viewer, "profile", e).await,
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf: String,
    current: String,
    new: String,
}

/// `POST /settings/password`: with the current password (checked as a sign-in is, under the
/// same throttle). Setting it ends every session; this browser gets a new one.
pub async fn change_password(
    State(app): State<AppState>,
    Extension(config): Extension<Arc<WebConfig>>,
    viewer: Viewer,
    ClientKey(client): ClientKey,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<PasswordForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let lang = viewer.lang;
    let w = viewer.words();
    let now = chrono::Utc::now();
    if let Err(e) = passwords::check_password_rules(&form.new) {
        return refused(&app, &viewer, "password", e).await;
    }
    let checked = passwords::sign_in(app.db(), &viewer.session.email, &form.current, &client, now)
        .await
        .map_err(WebError::crm(lang))?;
    let problem = match checked {
        SignIn::Signed(user_id) if user_id == viewer.user_id => None,
        SignIn::Throttled { retry_after_secs } => Some(w.throttled(retry_after_secs)),
        _ => Some(w.wrong_current_password.to_string()),
    };
    if let Some(problem) = problem {
        return with_problem(&app, &viewer, "password", problem).await;
    }
    if let Err(e) = passwords::set_password(app.db(), viewer.user_id, &form.new, now).await {
        return refused(&app, &viewer, "password", e).await;
    }
    auth::start_session(
        &app,
        &config,
        &headers,
        jar,
        viewer.user_id,
        "/settings?done=password",
    )
    .await
}

/// `POST /settings/sessions/{id}/end`: signs out one of the viewer's sessions.
pub async fn end_session(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    sessions::end_own_session(app.db(), viewer.user_id, id, chrono::Utc::now())
        .await
        .map_err(WebError::crm(viewer.lang))?;
    if id == viewer.session.id {
        return Ok(Redirect::to("/sign-in?signed_out=1").into_response());
    }
    Ok(back("session"))
}

#[derive(Deserialize)]
pub struct TokenForm {
    csrf: String,
    name: String,
}

/// `POST /settings/tokens`: a new personal token, shown on the answer this once.
pub async fn create_token(
    State(app): State<AppState>,
    viewer: Viewer,
    Form(form): Form<TokenForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    match devices::create_personal_token(app.db(), &viewer, &form.name).await {
        Ok((_, token)) => {
            let mut shown = page(&app, &viewer, None).await?;
            shown.new_token = Some(token);
            Ok(render(&shown))
        }
        Err(e) => refused(&app, &viewer, "tokens", e).await,
    }
}

/// `POST /settings/tokens/{id}/revoke`: a token or a device (with the tokens made with it).
pub async fn revoke_token(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    devices::revoke_own_token(app.db(), &viewer, id)
        .await
        .map_err(WebError::crm(viewer.lang))?;
    Ok(back("revoked"))
}

#[derive(Deserialize)]
pub struct InviteForm {
    csrf: String,
    email: String,
    role: String,
}

/// `POST /settings/invitations` (owners): the one-time link is shown on the answer, once.
pub async fn invite(
    State(app): State<AppState>,
    Extension(config): Extension<Arc<WebConfig>>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(form): Form<InviteForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let role = UserRole::parse(&form.role);
    match links::invite(app.db(), &viewer, &form.email, role, chrono::Utc::now()).await {
        Ok((_, token)) => {
            let mut shown = page(&app, &viewer, None).await?;
            shown.new_link = Some(format!("{}/join/{token}", origin(&app, &config, &headers)));
            Ok(render(&shown))
        }
        Err(e) => refused(&app, &viewer, "invitations", e).await,
    }
}

/// This server as people reach it, for a link to copy: its public URL, else as the browser
/// reached it (`Host`).
fn origin(app: &AppState, config: &WebConfig, headers: &HeaderMap) -> String {
    if let Some(url) = app.public_url() {
        return url.to_string();
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b':' | b'-' | b'[' | b']'))
        })
        .unwrap_or("localhost");
    let scheme = if config.secure_cookies {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}

/// `POST /settings/invitations/{id}/revoke` (owners).
pub async fn revoke_invitation(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    links::revoke_invitation(app.db(), &viewer, id, chrono::Utc::now())
        .await
        .map_err(WebError::crm(viewer.lang))?;
    Ok(back("invitation"))
}
