//! The extension's sign-in through the web app (`/connect/extension`): the options page
//! opens it (with `identity.launchWebAuthFlow`) with the browser's identity redirect URI, a
//! `state`, a PKCE `code_challenge` and the browser's name; the signed-in user allows or
//! denies. Allow redirects to `redirect_uri#code=…&state=…` with a one-time code, which the
//! extension trades for a device token at `POST /api/v1/extension/token`; deny to
//! `redirect_uri#error=access_denied&state=…`. The model checks the redirect URI (only an
//! extension's: [`devices::redirect_uri_allowed`]) before anything is shown or sent there.

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::Deserialize;
use threadline_crm::accounts::devices;
use threadline_http::AppState;

use crate::error::WebError;
use crate::headers::csp_with_form_target;
use crate::i18n::Words;
use crate::layout::{render, Layout, Section};
use crate::session::Viewer;

/// Most characters of the extension's `state` echoed back.
const MAX_STATE_CHARS: usize = 200;

#[derive(Template)]
#[template(path = "connect.html")]
struct ConnectPage {
    l: Layout,
    w: &'static Words,
    device: String,
    who: String,
    redirect_uri: String,
    state: String,
    code_challenge: String,
}

#[derive(Deserialize)]
pub struct ConnectQuery {
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    code_challenge: String,
    #[serde(default)]
    device: String,
}

/// The request checked by the model, and a `state` of printable ASCII within bounds;
/// else a 400 page (nothing is sent to a redirect URI that is not an extension's).
fn checked(viewer: &Viewer, q: &ConnectQuery) -> Result<String, WebError> {
    let device = devices::check_device_request(&q.redirect_uri, &q.code_challenge, &q.device)
        .map_err(WebError::crm(viewer.lang))?;
    if q.state.is_empty()
        || q.state.chars().count() > MAX_STATE_CHARS
        || !q.state.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(WebError::Refused(
            viewer.lang,
            StatusCode::BAD_REQUEST,
            "the sign-in's state is missing or not valid".into(),
        ));
    }
    Ok(device)
}

/// `GET /connect/extension`: "Allow <device> to use Threadline as <you>?"
pub async fn ask(viewer: Viewer, Query(q): Query<ConnectQuery>) -> Result<Response, WebError> {
    let device = checked(&viewer, &q)?;
    let w = viewer.words();
    let mut response = render(&ConnectPage {
        l: Layout::for_viewer(&viewer, w.connect_title, Section::Settings),
        w,
        device,
        who: format!("{} <{}>", viewer.name, viewer.session.email),
        redirect_uri: q.redirect_uri.clone(),
        state: q.state,
        code_challenge: q.code_challenge,
    });
    // The form's answer redirects to the extension: `form-action` must allow it.
    let csp = csp_with_form_target(&q.redirect_uri);
    if let Ok(value) = HeaderValue::from_str(&csp) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    Ok(response)
}

#[derive(Deserialize)]
pub struct ConnectForm {
    csrf: String,
    decision: String,
    #[serde(flatten)]
    request: ConnectQuery,
}

/// `POST /connect/extension`: allow (a one-time code) or deny, back to the extension.
pub async fn decide(
    State(app): State<AppState>,
    viewer: Viewer,
    Form(form): Form<ConnectForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let q = &form.request;
    checked(&viewer, q)?;
    let state = utf8_percent_encode(&q.state, NON_ALPHANUMERIC);
    let fragment = if form.decision == "allow" {
        let code = devices::issue_device_code(
            app.db(),
            &viewer,
            &q.redirect_uri,
            &q.code_challenge,
            &q.device,
            chrono::Utc::now(),
        )
        .await
        .map_err(WebError::crm(viewer.lang))?;
        format!("code={code}&state={state}")
    } else {
        format!("error=access_denied&state={state}")
    };
    Ok(Redirect::to(&format!("{}#{fragment}", q.redirect_uri)).into_response())
}
