//! Sign in with Google, beside the password (only when a Google client is configured), and
//! linking or unlinking a Google account in Settings.
//!
//! - `GET /sign-in/google`: starts a sign-in (`threadline_connections::oauth::sign_in`): the
//!   flow stored, its browser cookie set (HttpOnly, SameSite=Lax so that it comes back with
//!   Google's redirect, path `/sign-in/google`), 303 to Google.
//! - `GET /settings/google/link`: the same for a signed-in user, the flow bound to their
//!   session: its callback links the Google account to them. A link (GET) rather than a form:
//!   a form's redirect to Google would need Google in the settings page's `form-action`, and
//!   starting a flow changes nothing by itself (a flow started from another site ends at
//!   Google's consent screen, in this browser, for this user's own Google account).
//! - `GET /sign-in/google/callback`: the flow taken by its state (good once, this browser's),
//!   the code exchanged and the ID token verified, then who it is (`accounts::google`): the
//!   same session as the password path (`auth::start_session`), or the sign-in page with
//!   the reason.
//! - `POST /settings/google/unlink`: only with a password (the model refuses otherwise).

use std::sync::Arc;

use axum::extract::{Extension, Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Deserialize;
use threadline_connections::oauth::sign_in::{self, SignInError, Taken};
use threadline_crm::accounts::google::{self, GoogleSignIn};
use threadline_http::AppState;
use threadline_storage::secrets::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::error::WebError;
use crate::i18n::Lang;
use crate::pages::auth;
use crate::session::{BrowserLang, CsrfForm, Viewer};
use crate::WebConfig;

/// The cookie that binds a sign-in to the browser that started it.
const COOKIE: &str = "threadline_google_sign_in";
const COOKIE_PATH: &str = "/sign-in/google";

fn cookie(config: &WebConfig, value: String) -> Cookie<'static> {
    Cookie::build((COOKIE, value))
        .path(COOKIE_PATH)
        .http_only(true)
        .secure(config.secure_cookies)
        .same_site(SameSite::Lax)
        .build()
}

fn internal<E: std::fmt::Display>(lang: Lang) -> impl Fn(E) -> WebError {
    move |e| WebError::Internal(lang, e.to_string())
}

/// True when the server has a Google client: the sign-in page offers Google.
pub fn offered(app: &AppState) -> bool {
    app.oauth().google().is_ok()
}

async fn begin(
    app: &AppState,
    config: &WebConfig,
    jar: CookieJar,
    lang: Lang,
    session: Option<Uuid>,
) -> Result<Response, WebError> {
    let google = app.oauth().google().map_err(|_| WebError::NotFound(lang))?;
    let keys = app.keyring().map_err(internal(lang))?;
    let started = app
        .db()
        .write(|tx| Box::pin(sign_in::start(tx, keys, google, session)))
        .await
        .map_err(internal(lang))?;
    let jar = jar.add(cookie(
        config,
        started.browser_secret.expose_secret().to_string(),
    ));
    Ok((jar, Redirect::to(started.authorization_url.as_str())).into_response())
}

/// `GET /sign-in/google`.
pub async fn start(
    State(app): State<AppState>,
    Extension(config): Extension<Arc<WebConfig>>,
    BrowserLang(lang): BrowserLang,
    jar: CookieJar,
) -> Result<Response, WebError> {
    begin(&app, &config, jar, lang, None).await
}

/// `GET /settings/google/link`.
pub async fn link(
    State(app): State<AppState>,
    Extension(config): Extension<Arc<WebConfig>>,
    viewer: Viewer,
    jar: CookieJar,
) -> Result<Response, WebError> {
    begin(&app, &config, jar, viewer.lang, Some(viewer.session.id)).await
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
}

/// `GET /sign-in/google/callback`.
pub async fn callback(
    State(app): State<AppState>,
    Extension(config): Extension<Arc<WebConfig>>,
    BrowserLang(lang): BrowserLang,
    viewer: Result<Viewer, Response>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(q): Query<Callback>,
) -> Result<Response, WebError> {
    let w = lang.words();
    let browser = jar.get(COOKIE).map(|c| c.value().to_string());
    let mut gone = cookie(&config, String::new());
    gone.make_removal();
    let jar = jar.add(gone);
    let refuse = |jar: CookieJar, problem: &'static str, status: StatusCode| {
        let mut page = auth::sign_in_page(&app, lang, problem.to_string());
        *page.status_mut() = status;
        (jar, page).into_response()
    };
    let Some(state) = q.state.map(SecretString::from) else {
        return Ok(refuse(
            jar,
            w.google_sign_in_failed,
            StatusCode::BAD_REQUEST,
        ));
    };
    let google = app.oauth().google().map_err(|_| WebError::NotFound(lang))?;
    let keys = app.keyring().map_err(internal(lang))?;
    let taken = app
        .db()
        .write(|tx| {
            let browser = browser.clone();
            let state = &state;
            Box::pin(async move { sign_in::take(tx, keys, state, browser.as_deref()).await })
        })
        .await
        .map_err(internal(lang))?;
    // Google's `error=access_denied` (cancelled) comes without a code: the flow is spent.
    let (Taken::Found(flow), Some(code)) = (taken, q.code) else {
        return Ok(refuse(
            jar,
            w.google_sign_in_failed,
            StatusCode::BAD_REQUEST,
        ));
    };
    let verified = match google.sign_in(&code, &flow).await {
        Ok(verified) => verified,
        Err(SignInError::Refused(refusal)) => {
            tracing::warn!(%refusal, "a Google sign-in was refused");
            return Ok(refuse(jar, w.google_not_verified, StatusCode::UNAUTHORIZED));
        }
        Err(SignInError::Provider(e)) if e.is_transient() => {
            return Ok(refuse(
                jar,
                w.google_unreachable,
                StatusCode::SERVICE_UNAVAILABLE,
            ));
        }
        Err(SignInError::Provider(e)) => {
            tracing::warn!(error = %e, "a Google sign-in failed");
            return Ok(refuse(jar, w.google_not_verified, StatusCode::UNAUTHORIZED));
        }
    };
    let now = chrono::Utc::now();
    if let Some(session_id) = flow.session_id {
        // Linking from Settings: by the session that started it, still signed in here.
        let viewer = match viewer {
            Ok(viewer) if viewer.session.id == session_id => viewer,
            _ => {
                return Ok(refuse(
                    jar,
                    w.google_sign_in_failed,
                    StatusCode::BAD_REQUEST,
                ))
            }
        };
        return match google::link(app.db(), viewer.user_id, &verified.identity, now).await {
            Ok(()) => Ok((jar, Redirect::to("/settings?done=google_linked")).into_response()),
            Err(e) if e.code() == Some("google_account_taken") => {
                Ok((jar, Redirect::to("/settings?done=google_taken")).into_response())
            }
            Err(e) => Err(WebError::from_crm(e, viewer.lang)),
        };
    }
    let user_id = match google::sign_in(app.db(), &verified.identity, now)
        .await
        .map_err(WebError::crm(lang))?
    {
        GoogleSignIn::Linked(user) | GoogleSignIn::LinkedNow(user) => user,
        GoogleSignIn::LinkInSettings => {
            return Ok(refuse(
                jar,
                w.google_link_in_settings,
                StatusCode::FORBIDDEN,
            ))
        }
        GoogleSignIn::Unknown => {
            return Ok(refuse(jar, w.google_unknown_account, StatusCode::FORBIDDEN))
        }
    };
    auth::start_session(&app, &config, &headers, jar, user_id, "/").await
}

/// `POST /settings/google/unlink`.
pub async fn unlink(
    State(app): State<AppState>,
    viewer: Viewer,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    match google::unlink(app.db(), &viewer).await {
        Ok(()) => Ok(Redirect::to("/settings?done=google_unlinked").into_response()),
        Err(e) if e.code() == Some("password_required") => {
            Ok(Redirect::to("/settings?done=google_needs_password").into_response())
        }
        Err(e) => Err(WebError::from_crm(e, viewer.lang)),
    }
}
