//! Signing in and out, the owner's first setup, and joining by an invitation.
//!
//! The forms work without JavaScript. A wrong password, a weak password or a throttled
//! sign-in shows the form again with the reason and what was typed (never the password).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Extension, Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use threadline_crm::accounts::links::{self, LinkPurpose};
use threadline_crm::accounts::passwords::{self, SignIn};
use threadline_crm::accounts::sessions;
use threadline_crm::CrmError;
use threadline_http::AppState;
use uuid::Uuid;

use crate::error::WebError;
use crate::i18n::{Lang, Words};
use crate::layout::{render, Layout};
use crate::pages::google_sign_in;
use crate::session::CsrfForm;
use crate::session::{self, BrowserLang, ClientKey, Viewer};
use crate::WebConfig;

#[derive(Template)]
#[template(path = "auth/sign_in.html")]
struct SignInPage {
    l: Layout,
    w: &'static Words,
    email: String,
    next: String,
    problem: Option<String>,
    notice: Option<&'static str>,
    /// "Sign in with Google" is offered (a Google client is configured).
    google: bool,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    signed_out: Option<String>,
}

/// Only a path of this site (`/x`, never `//host` or `/\host`): the page to return to after
/// signing in cannot send the person elsewhere.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(|c| c.is_control()) =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

pub async fn sign_in_form(
    State(app): State<AppState>,
    BrowserLang(lang): BrowserLang,
    Query(q): Query<NextQuery>,
) -> Response {
    let w = lang.words();
    render(&SignInPage {
        l: Layout::signed_out(w, w.sign_in),
        w,
        email: String::new(),
        next: safe_next(q.next.as_deref()),
        problem: None,
        notice: q.signed_out.map(|_| w.signed_out),
        google: google_sign_in::offered(&app),
    })
}

/// The sign-in page with `problem` (a Google sign-in that did not sign anyone in).
pub(crate) fn sign_in_page(app: &AppState, lang: Lang, problem: String) -> Response {
    let w = lang.words();
    render(&SignInPage {
        l: Layout::signed_out(w, w.sign_in),
        w,
        email: String::new(),
        next: "/".into(),
        problem: Some(problem),
        notice: None,
        google: google_sign_in::offered(app),
    })
}

#[derive(Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
    next: Option<String>,
}

pub async fn sign_in(
    State(app): State<AppState>,
    Extension(config): Extension<Arc<WebConfig>>,
    BrowserLang(lang): BrowserLang,
    ClientKey(client): ClientKey,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<SignInForm>,
) -> Result<Response, WebError> {
    let w = lang.words();
    let now = chrono::Utc::now();
    let next = safe_next(form.next.as_deref());
    let outcome = passwords::sign_in(app.db(), &form.email, &form.password, &client, now)
        .await
        .map_err(WebError::crm(lang))?;
    let problem = match outcome {
        SignIn::Signed(user_id) => {
            return start_session(&app, &config, &headers, jar, user_id, &next).await;
        }
        SignIn::WrongCredentials => w.wrong_credentials.to_string(),
        SignIn::Throttled { retry_after_secs } => w.throttled(retry_after_secs),
    };
    let mut page = render(&SignInPage {
        l: Layout::signed_out(w, w.sign_in),
        w,
        email: form.email,
        next,
        problem: Some(problem),
        notice: None,
        google: google_sign_in::offered(&app),
    });
    *page.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
    Ok(page)
}

/// A new session for `user_id`, its cookie set, on to `next`.
pub(crate) async fn start_session(
    app: &AppState,
    config: &WebConfig,
    headers: &HeaderMap,
    jar: CookieJar,
    user_id: Uuid,
    next: &str,
) -> Result<Response, WebError> {
    let lang = Lang::choose(None, headers);
    let agent = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let new = sessions::create_session(app.db(), user_id, agent, chrono::Utc::now())
        .await
        .map_err(WebError::crm(lang))?;
    let jar = jar.add(session::session_cookie(config, new.cookie_value));
    Ok((jar, Redirect::to(next)).into_response())
}

/// Ends this session; the cookie is removed too.
pub async fn sign_out(
    State(app): State<AppState>,
    Extension(config): Extension<Arc<WebConfig>>,
    viewer: Viewer,
    jar: CookieJar,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    leave(&app, &config, &viewer, jar, &form, false).await
}

/// Ends every session of the viewer, on every device (the extension's tokens are revoked
/// separately, under Devices).
pub async fn sign_out_everywhere(
    State(app): State<AppState>,
    Extension(config): Extension<Arc<WebConfig>>,
    viewer: Viewer,
    jar: CookieJar,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    leave(&app, &config, &viewer, jar, &form, true).await
}

async fn leave(
    app: &AppState,
    config: &WebConfig,
    viewer: &Viewer,
    jar: CookieJar,
    form: &CsrfForm,
    everywhere: bool,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let now = chrono::Utc::now();
    let ended = if everywhere {
        sessions::end_all_sessions(app.db(), viewer.user_id, now)
            .await
            .map(drop)
    } else {
        sessions::end_session(app.db(), viewer.session.id, now).await
    };
    ended.map_err(WebError::crm(viewer.lang))?;
    let jar = jar.add(session::removal(config));
    Ok((jar, Redirect::to("/sign-in?signed_out=1")).into_response())
}

#[derive(Template)]
#[template(path = "auth/link.html")]
struct LinkPage {
    l: Layout,
    w: &'static Words,
    /// Setup (email + name + password) or invitation (name + password).
    setup: bool,
    action: String,
    email: String,
    name: String,
    org_name: String,
    inviter: String,
    problem: Option<String>,
}

#[derive(Template)]
#[template(path = "auth/link_invalid.html")]
struct LinkInvalidPage {
    l: Layout,
    w: &'static Words,
}

fn link_invalid(w: &'static Words) -> Response {
    let mut page = render(&LinkInvalidPage {
        l: Layout::signed_out(w, w.link_invalid_title),
        w,
    });
    *page.status_mut() = axum::http::StatusCode::GONE;
    page
}

/// `GET /setup/{token}` and `GET /join/{token}`: the form of a one-time link.
pub async fn link_form(
    State(app): State<AppState>,
    BrowserLang(lang): BrowserLang,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    let w = lang.words();
    let Some(info) = links::link(app.db(), &token, chrono::Utc::now())
        .await
        .map_err(WebError::crm(lang))?
    else {
        return Ok(link_invalid(w));
    };
    let setup = matches!(info.purpose, LinkPurpose::Setup);
    let title = if setup {
        w.setup_title
    } else {
        w.invitation_title
    };
    Ok(render(&LinkPage {
        l: Layout::signed_out(w, title),
        w,
        setup,
        action: format!("/{}/{token}", if setup { "setup" } else { "join" }),
        email: info.email.unwrap_or_default(),
        name: String::new(),
        org_name: info.org_name,
        inviter: info.inviter.unwrap_or_default(),
        problem: None,
    }))
}

#[derive(Deserialize)]
pub struct LinkForm {
    email: Option<String>,
    name: String,
    password: String,
}

/// `POST /setup/{token}` and `POST /join/{token}`: sets the password (and for the setup the
/// owner's address), signs in.
pub async fn redeem_link(
    State(app): State<AppState>,
    Extension(config): Extension<Arc<WebConfig>>,
    BrowserLang(lang): BrowserLang,
    headers: HeaderMap,
    jar: CookieJar,
    Path(token): Path<String>,
    Form(form): Form<LinkForm>,
) -> Result<Response, WebError> {
    let w = lang.words();
    let now = chrono::Utc::now();
    let Some(info) = links::link(app.db(), &token, now)
        .await
        .map_err(WebError::crm(lang))?
    else {
        return Ok(link_invalid(w));
    };
    let setup = matches!(info.purpose, LinkPurpose::Setup);
    let email = if setup {
        form.email.clone().unwrap_or_default()
    } else {
        info.email.clone().unwrap_or_default()
    };
    let redeemed = if setup {
        links::redeem_setup_link(app.db(), &token, &email, &form.name, &form.password, now).await
    } else {
        links::accept_invitation(app.db(), &token, &form.name, &form.password, now).await
    };
    match redeemed {
        Ok(user_id) => start_session(&app, &config, &headers, jar, user_id, "/").await,
        Err(e @ CrmError::Request { .. }) => {
            let message = crate::error::refusal(&e, w).unwrap_or_default();
            let title = if setup {
                w.setup_title
            } else {
                w.invitation_title
            };
            let mut page = render(&LinkPage {
                l: Layout::signed_out(w, title),
                w,
                setup,
                action: format!("/{}/{token}", if setup { "setup" } else { "join" }),
                email,
                name: form.name,
                org_name: info.org_name,
                inviter: info.inviter.unwrap_or_default(),
                problem: Some(message),
            });
            *page.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            Ok(page)
        }
        Err(other) => Err(WebError::from_crm(other, lang)),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/companies?page=2")), "/companies?page=2");
        for bad in [
            "//evil.example/x",
            "/\\evil.example",
            "https://evil.example",
            "",
            "/a\nb",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
