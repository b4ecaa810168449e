//! Connecting a Google or a Dropbox account (see [`crate::oauth`] and [`pending`]); one flow
//! for both, each provider's own part being its [`Connector`](crate::oauth::Connector) (the authorization URL, the
//! code exchange and the account):
//!
//! - `POST /api/v1/connections/{google,dropbox}` (bearer) → [`ConnectStarted`]: a one-time
//!   start link on this server, to open in the browser within 5 minutes (the flow is stored
//!   bound to the caller and the token of the request). 409 `provider_not_configured` when
//!   the server has no client (Google) or app (Dropbox) for it.
//! - `GET /oauth/{provider}/start?flow` (no token: the browser, outside `/api/v1` and its
//!   OpenAPI document) → 303 to the provider's consent screen (PKCE S256, offline access, a
//!   random `state`), setting an HttpOnly, SameSite=Lax cookie whose secret's hash the flow
//!   keeps: the flow is now this browser's. Opened again, late, or after its token was
//!   revoked: a page saying so.
//! - `GET /oauth/{provider}/callback?code&state` → a small HTML page for a person: connected,
//!   or why not (refused; bad, expired or used state, or another provider's; another browser
//!   than the one that opened the start link; the token revoked; a failed exchange; the
//!   account connected to another user), and nothing stored then. The state is spent by the
//!   first callback that brings it, whatever follows; the cookie is cleared.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;
use utoipa::openapi::path::HttpMethod;

use crate::auth::AuthUser;
use crate::connections::{self, Owner, Provider};
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::oauth::google::granted;
use crate::oauth::pending::{self, Asker, NewFlow, Opened, Taken};
use crate::oauth::{dropbox, google};
use crate::openapi::{ApiRouter, Op};
use crate::secrets::SecretString;
use crate::state::AppState;

/// The `/api/v1` routes.
pub fn router() -> ApiRouter {
    let connect_op = |provider: Provider, id: &'static str, summary: &'static str| {
        let label = provider.label();
        Op::new("connections", id, summary)
            .description(&format!(
                "Starts {label}'s consent flow: open `start_url` in the browser within 5 \
                 minutes (it works once). That page ties the flow to the browser (an HttpOnly \
                 cookie) and sends it to {label}'s consent screen; {label} sends it back to \
                 the server's callback, which stores the connection (one per user: connecting \
                 again replaces its grant) and shows a page saying so. The callback refuses \
                 another browser than the one that opened `start_url`, a flow whose API token \
                 was revoked meanwhile, and a {label} account connected to another Threadline \
                 user. The whole flow must be finished within 10 minutes of opening \
                 `start_url`."
            ))
            .json::<ConnectStarted>("200", "Where to send the browser.")
            .error(
                "409",
                &format!(
                    "The server has no {} configured (`provider_not_configured`).",
                    match provider {
                        Provider::Google => "Google OAuth client",
                        Provider::Dropbox => "Dropbox app",
                    }
                ),
            )
    };
    ApiRouter::new()
        .routes(
            connect_op(
                Provider::Google,
                "connect_google",
                "Connect a Google account",
            )
            .route(
                "/connections/google",
                HttpMethod::Post,
                post(connect_google),
            ),
        )
        .routes(
            connect_op(
                Provider::Dropbox,
                "connect_dropbox",
                "Connect a Dropbox account",
            )
            .route(
                "/connections/dropbox",
                HttpMethod::Post,
                post(connect_dropbox),
            ),
        )
}

/// The browser's routes, outside `/api/v1`: each provider's start link and callback.
pub fn callbacks() -> Router<AppState> {
    Router::new()
        .route(
            google::START_PATH,
            get(|state, query| start(Provider::Google, state, query)),
        )
        .route(
            google::CALLBACK_PATH,
            get(|state, query, headers| callback(Provider::Google, state, query, headers)),
        )
        .route(
            dropbox::START_PATH,
            get(|state, query| start(Provider::Dropbox, state, query)),
        )
        .route(
            dropbox::CALLBACK_PATH,
            get(|state, query, headers| callback(Provider::Dropbox, state, query, headers)),
        )
}

/// The answer of `POST /connections/{provider}`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConnectStarted {
    /// This server's one-time start link: open it in the browser that is to finish the flow.
    pub start_url: String,
    /// Until when `start_url` may be opened (RFC 3339).
    pub expires_at: String,
}

async fn connect_google(
    auth: AuthUser,
    State(state): State<AppState>,
) -> ApiResult<Json<ConnectStarted>> {
    // The Threadline address is usually the Google one (a Gmail extension): preselected.
    Ok(Json(
        start_google_flow(&state, &auth, &auth.email, &[]).await?,
    ))
}

async fn connect_dropbox(
    auth: AuthUser,
    State(state): State<AppState>,
) -> ApiResult<Json<ConnectStarted>> {
    Ok(Json(
        start_flow(&state, &auth, Provider::Dropbox, None, &[]).await?,
    ))
}

/// Starts a Google consent flow for the caller, as `POST /connections/google` does, asking
/// for the scopes of the integrations asked at connect plus `more` (incremental
/// authorization: an integration the user turns on asks for its own scopes then; Google
/// keeps those granted before). `login_hint` preselects the account.
pub async fn start_google_flow(
    state: &AppState,
    auth: &AuthUser,
    login_hint: &str,
    more: &[&str],
) -> ApiResult<ConnectStarted> {
    start_flow(state, auth, Provider::Google, Some(login_hint), more).await
}

/// Starts `provider`'s consent flow for the caller, asking for the identity's scopes, those
/// of `provider`'s integrations asked at connect, and `more`.
pub async fn start_flow(
    state: &AppState,
    auth: &AuthUser,
    provider: Provider,
    login_hint: Option<&str>,
    more: &[&str],
) -> ApiResult<ConnectStarted> {
    let asker = Asker::Token(auth.token_id);
    start_flow_for(state, Owner::from(auth), asker, provider, login_hint, more).await
}

/// [`start_flow`] for `owner`, bound to `asker`: an API token, or the web app's session
/// (whose Connect button starts the same flow).
pub async fn start_flow_for(
    state: &AppState,
    owner: Owner,
    asker: Asker,
    provider: Provider,
    login_hint: Option<&str>,
    more: &[&str],
) -> ApiResult<ConnectStarted> {
    let connector = state.oauth().connector(provider)?;
    let keys = state.keyring()?;
    let mut scopes = state.integrations().connect_scopes(provider);
    for scope in more {
        if !scopes.contains(scope) {
            scopes.push(scope);
        }
    }
    let authorization = connector.authorization(login_hint, &scopes);
    let flow = &authorization;
    let created = state
        .db()
        .write(|tx| {
            Box::pin(pending::create(
                tx,
                keys,
                NewFlow {
                    owner,
                    asker,
                    provider,
                    state: &flow.state,
                    pkce_verifier: &flow.pkce_verifier,
                    authorization_url: flow.url.as_str(),
                    scopes: &flow.scopes,
                    redirect_url: &flow.redirect_url,
                },
            ))
        })
        .await
        .map_err(ApiError::from)?;
    Ok(ConnectStarted {
        start_url: connector.start_url(&created.start_secret).to_string(),
        expires_at: db::format_time(created.expires_at),
    })
}

/// What a page of a flow that did not finish tells the person to do.
fn start_again(provider: Provider) -> String {
    format!(
        "Start again from Threadline: Integrations → Connect {}.",
        provider.label()
    )
}

/// The start link's cookie for flow `id`: one per flow (two flows in one browser do not
/// replace each other's). `__Host-` (Secure, `Path=/`, no `Domain`: no other host can set or
/// replace it) when the server is reached over https.
fn cookie_name(https: bool, id: uuid::Uuid) -> String {
    let prefix = if https { "__Host-" } else { "" };
    format!("{prefix}threadline_oauth_{}", id.simple())
}

/// `Set-Cookie` for the flow's cookie: `value` for `max_age` seconds (0 clears it). HttpOnly
/// (no script reads it); SameSite=Lax, not Strict: Google's redirect to the callback is a
/// cross-site navigation, on which a Strict cookie would not be sent, while Lax still keeps
/// it off cross-site subrequests and POSTs; Secure over https.
fn set_cookie(https: bool, id: uuid::Uuid, value: &str, max_age: i64) -> HeaderValue {
    let secure = if https { "; Secure" } else { "" };
    let text = format!(
        "{}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
        cookie_name(https, id)
    );
    HeaderValue::from_str(&text).expect("a cookie of URL-safe characters")
}

/// The value of the request's cookie `name`.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// True when the browser reaches the server over https (as `provider`'s redirect URL says).
fn https(state: &AppState, provider: Provider) -> bool {
    state
        .oauth()
        .connector(provider)
        .is_ok_and(|connector| connector.redirect_url().scheme() == "https")
}

async fn start(
    provider: Provider,
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    match open(provider, &state, &params).await {
        Ok(redirect) => redirect,
        Err(page) => page.into_response(),
    }
}

/// The start link's work: the redirect to the provider with the cookie, or a page saying
/// why not.
async fn open(
    provider: Provider,
    state: &AppState,
    params: &HashMap<String, String>,
) -> Result<Response, Page> {
    let failed = |status, what: &str| Page::failed(provider, status, what, &start_again(provider));
    let Some(secret) = params.get("flow").filter(|v| !v.is_empty()) else {
        return Err(failed(
            StatusCode::BAD_REQUEST,
            "This link is not complete (it has no flow).",
        ));
    };
    let keys = state.keyring().map_err(|e| Page::internal(provider, &e))?;
    let secret = SecretString::from(secret.clone());
    let opened = state
        .db()
        .write(|tx| Box::pin(pending::open(tx, keys, &secret, provider)))
        .await
        .map_err(|e| Page::internal(provider, &e))?;
    let refused = |what: &str| Err(failed(StatusCode::BAD_REQUEST, what));
    match opened {
        Opened::Started {
            flow_id,
            browser_secret,
            authorization_url,
            expires_at: _,
        } => {
            use crate::secrets::ExposeSecret;
            let https = https(state, provider);
            let max_age = pending::LIFETIME.num_seconds();
            let cookie = set_cookie(https, flow_id, browser_secret.expose_secret(), max_age);
            let location = HeaderValue::from_str(authorization_url.expose_secret())
                .map_err(|e| Page::internal(provider, &e))?;
            Ok((
                StatusCode::SEE_OTHER,
                [
                    (header::LOCATION, location),
                    (header::SET_COOKIE, cookie),
                    // The URLs hold secrets: not sent on, not cached.
                    (
                        header::REFERRER_POLICY,
                        HeaderValue::from_static("no-referrer"),
                    ),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                ],
            )
                .into_response())
        }
        Opened::Used => refused(
            "This link was already opened: a connect link works once, in one browser. Nothing \
             was connected.",
        ),
        Opened::Expired => refused(
            "This link has expired: it must be opened within 5 minutes. Nothing was connected.",
        ),
        Opened::Unknown => refused(
            "This link is not one Threadline made, or it was finished long ago. Nothing was \
             connected.",
        ),
        Opened::TokenRevoked => Err(token_revoked_page(provider)),
    }
}

/// The flow's API token was revoked after it asked.
fn token_revoked_page(provider: Provider) -> Page {
    Page::failed(
        provider,
        StatusCode::FORBIDDEN,
        "The Threadline API token or sign-in that started this connection has been revoked \
         or signed out since, so the connection was stopped. Nothing was connected.",
        &format!(
            "Start again from Threadline, signed in: Integrations → Connect {}.",
            provider.label()
        ),
    )
}

async fn callback(
    provider: Provider,
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut flow_id = None;
    let page = match finish(provider, &state, &params, &headers, &mut flow_id).await {
        Ok(page) | Err(page) => page,
    };
    let mut response = page.into_response();
    // The flow is over, whatever the outcome: its cookie goes.
    if let Some(id) = flow_id {
        response.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(https(&state, provider), id, "", 0),
        );
    }
    response
}

/// The callback's work; both outcomes are pages. `flow_id` is set once the state's flow is
/// found.
async fn finish(
    provider: Provider,
    state: &AppState,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
    flow_id: &mut Option<uuid::Uuid>,
) -> Result<Page, Page> {
    let label = provider.label();
    let again = start_again(provider);
    let failed = |status, what: &str| Page::failed(provider, status, what, &again);
    let internal = |e: &dyn std::fmt::Display| Page::internal(provider, e);
    let param = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let Some(flow_state) = param("state") else {
        return Err(failed(
            StatusCode::BAD_REQUEST,
            &format!("This link is not a complete answer from {label} (it has no state)."),
        ));
    };
    let keys = state.keyring().map_err(|e| internal(&e))?;
    let flow_state = SecretString::from(flow_state.to_string());
    let taken = state
        .db()
        .write(|tx| Box::pin(pending::take(tx, keys, &flow_state)))
        .await
        .map_err(|e| internal(&e))?;
    let flow = match taken {
        // Another provider's flow is spent too: its state came back to the wrong callback.
        Taken::Found(flow) if flow.provider == provider => flow,
        Taken::Found(_) | Taken::Unknown => {
            return Err(failed(
                StatusCode::BAD_REQUEST,
                "This link was already used, or Threadline did not start it. Nothing was \
                 connected.",
            ))
        }
        Taken::Expired => {
            return Err(failed(
                StatusCode::BAD_REQUEST,
                "This link has expired: connecting must be finished within 10 minutes. \
                 Nothing was connected.",
            ))
        }
    };
    *flow_id = Some(flow.id);
    // The browser that opened the start link, and only it: an authorization URL taken from
    // someone's flow and opened in another browser connects nothing.
    if !flow.opened_by(cookie(
        headers,
        &cookie_name(https(state, provider), flow.id),
    )) {
        return Err(failed(
            StatusCode::BAD_REQUEST,
            "This connection was not started in this browser: it must be finished in the \
             browser that opened Threadline's connect link. Nothing was connected.",
        ));
    }
    if flow.token_revoked {
        return Err(token_revoked_page(provider));
    }
    if let Some(error) = param("error") {
        let text = if error == "access_denied" {
            format!(
                "You did not allow Threadline to use your {label} account, so nothing was \
                 connected."
            )
        } else {
            format!(
                "{label} answered with the error \u{201c}{error}\u{201d}. Nothing was connected."
            )
        };
        return Err(failed(StatusCode::BAD_REQUEST, &text));
    }
    let Some(code) = param("code") else {
        return Err(failed(
            StatusCode::BAD_REQUEST,
            &format!("{label}'s answer has no authorization code. Nothing was connected."),
        ));
    };
    let connector = state
        .oauth()
        .connector(provider)
        .map_err(|e| internal(&e))?;
    let grant = connector
        .exchange(code, &flow.pkce_verifier, &flow.redirect_url, &flow.scopes)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, provider = provider.as_str(), "the code exchange failed");
            failed(
                StatusCode::BAD_GATEWAY,
                &format!("{label} did not complete the connection: {e}. Nothing was connected."),
            )
        })?;
    let grant = &grant;
    let stored = state
        .db()
        .write(|tx| Box::pin(connections::upsert(tx, keys, flow.owner, grant)))
        .await;
    let upserted = match stored {
        Ok(upserted) => upserted,
        Err(e) => {
            let taken = matches!(e, connections::Error::AccountTaken(_));
            // Nothing keeps these tokens: given back, unless they are the other user's too
            // (Google keeps one grant per account and client: see `Connector::discard`).
            if let Err(e) = connector.discard(grant, taken).await {
                tracing::warn!(error = %e, provider = provider.as_str(), "could not revoke a grant that was not stored");
            }
            return Err(match e {
                connections::Error::AccountTaken(_) => {
                    tracing::warn!(user = %flow.owner.user_id, provider = provider.as_str(), "refused an account connected to another user");
                    let fallback = format!("This {label} account");
                    let account = grant.account_email.as_deref().unwrap_or(&fallback);
                    Page::failed(
                        provider,
                        StatusCode::CONFLICT,
                        &format!(
                            "{account} is already connected to another Threadline user, so it \
                             was not connected to yours. Nothing was connected."
                        ),
                        "To move it to this Threadline user, disconnect it from the other one \
                         first (Settings → Connections), then connect again.",
                    )
                }
                // The provider's answer, not the server, is at fault (an account id over 320
                // characters): said as such, not as a server error.
                connections::Error::Invalid { .. } => Page::failed(
                    provider,
                    StatusCode::BAD_GATEWAY,
                    &format!(
                        "{label} answered an account that Threadline cannot store ({e}). \
                         Nothing was connected."
                    ),
                    &format!("Try another {label} account, or tell your Threadline administrator."),
                ),
                e => internal(&e),
            });
        }
    };
    let connection = &upserted.connection;
    // The integrations the grant covers: scheduled (or resumed, after a re-authorization)
    // and due now, so that the user sees their data without waiting for the interval.
    for integration in state.integrations().of(provider) {
        let id = connection.id;
        let scheduled = state
            .db()
            .write(|tx| Box::pin(integration.on_connected(tx, connection)))
            .await;
        match scheduled {
            Ok(true) => state.sync_wake().notify_one(),
            Ok(false) => {}
            // Connected all the same; the next "sync now" or reconnect schedules it.
            Err(e) => {
                tracing::error!(error = %e, connection = %id, integration = integration.name(), "could not schedule the integration's sync")
            }
        }
    }
    tracing::info!(
        connection = %connection.id,
        user = %connection.user_id,
        provider = provider.as_str(),
        created = upserted.created,
        account_changed = upserted.account_changed,
        "account connected"
    );
    let account = connection
        .account_email
        .clone()
        .unwrap_or_else(|| format!("account {}", connection.account_id));
    let (identity_scopes, identity_label) = connector.identity();
    let identity = (!granted(identity_scopes, &connection.scopes)).then_some(identity_label);
    let missing: Vec<&str> = identity
        .into_iter()
        .chain(
            state
                .integrations()
                .of(provider)
                // Those this flow asked for (one turned on by itself is asked for then).
                .filter(|i| i.granted(&flow.scopes) && !i.granted(&connection.scopes))
                .map(|i| i.scopes_label()),
        )
        .collect();
    let next = if missing.is_empty() {
        "You can close this tab.".to_string()
    } else {
        format!(
            "{label} did not grant access to {}: what needs it will not sync. Connect again and \
             tick every box to allow it. You can close this tab.",
            missing.join(", ")
        )
    };
    Ok(Page {
        status: StatusCode::OK,
        title: format!("{label} account connected"),
        lines: vec![format!("Threadline is now connected to {account}."), next],
    })
}

/// A page for the person in the browser. Every text is escaped: parts of it come from the
/// query string and from the provider.
struct Page {
    status: StatusCode,
    title: String,
    lines: Vec<String>,
}

impl Page {
    fn failed(provider: Provider, status: StatusCode, what: &str, next: &str) -> Page {
        Page {
            status,
            title: format!("{} account not connected", provider.label()),
            lines: vec![what.to_string(), next.to_string()],
        }
    }

    fn internal(provider: Provider, e: &dyn std::fmt::Display) -> Page {
        tracing::error!(error = %e, provider = provider.as_str(), "the OAuth callback failed");
        Page::failed(
            provider,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on the Threadline server (the details are in its log). \
             Nothing was connected.",
            "Try again in a moment.",
        )
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let paragraphs: String = self
            .lines
            .iter()
            .map(|line| format!("<p>{}</p>\n", escape_html(line)))
            .collect();
        let body = format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width\">\
             <title>{title} – Threadline</title>\
             <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:3em auto;\
             padding:0 1em;color:#202124}}h1{{font-size:1.4em}}</style></head>\n\
             <body><h1>{title}</h1>\n{paragraphs}</body></html>\n",
            title = escape_html(&self.title),
        );
        (
            self.status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                // No script, nothing loaded from anywhere; inline style only.
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
                ),
                // The URL holds the authorization code: not sent on, not cached.
                (header::REFERRER_POLICY, "no-referrer"),
                (header::CACHE_CONTROL, "no-store"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            body,
        )
            .into_response()
    }
}

/// Text as HTML text or attribute content.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }
}
