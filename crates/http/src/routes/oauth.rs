//! Connecting a Google account (see [`crate::oauth`]):
//!
//! - `POST /api/v1/connections/google` (bearer) → [`ConnectStarted`]: the URL of Google's
//!   consent screen to open in the browser (PKCE S256, offline access, a random `state`
//!   stored for 10 minutes, bound to the caller). 409 `provider_not_configured` when the
//!   server has no Google client.
//! - `GET /oauth/google/callback?code&state` (no token: the browser lands here, outside
//!   `/api/v1` and its OpenAPI document) → a small HTML page for a person: connected, or why
//!   not (refused, bad or expired state, failed exchange), and nothing stored then. The state
//!   is spent by the first callback that brings it, whatever follows.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
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
use crate::oauth::google::{granted, CALLBACK_PATH, IDENTITY_LABEL, IDENTITY_SCOPES};
use crate::oauth::pending::{self, NewFlow, Taken};
use crate::openapi::{ApiRouter, Op};
use crate::secrets::SecretString;
use crate::state::AppState;

/// The `/api/v1` route.
pub fn router() -> ApiRouter {
    let connect_op = Op::new("connections", "connect_google", "Connect a Google account")
        .description(
            "Starts Google's consent flow: open `authorization_url` in the browser. Google \
             sends the browser back to the server's callback, which stores the connection (one \
             per user: connecting again replaces its grant) and shows a page saying so. The URL \
             is good for 10 minutes, once.",
        )
        .json::<ConnectStarted>("200", "Where to send the browser.")
        .error(
            "409",
            "The server has no Google OAuth client configured (`provider_not_configured`).",
        );
    ApiRouter::new().routes(connect_op.route(
        "/connections/google",
        HttpMethod::Post,
        post(connect_google),
    ))
}

/// The callback, outside `/api/v1`.
pub fn callbacks() -> Router<AppState> {
    Router::new().route(CALLBACK_PATH, get(google_callback))
}

/// The answer of `POST /connections/google`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConnectStarted {
    /// Google's consent screen for this flow.
    pub authorization_url: String,
    /// Until when the flow may be finished (RFC 3339).
    pub expires_at: String,
}

async fn connect_google(
    auth: AuthUser,
    State(state): State<AppState>,
) -> ApiResult<Json<ConnectStarted>> {
    let google = state.oauth().google()?;
    let keys = state.keyring()?;
    // The Threadline address is usually the Google one (a Gmail extension): preselected.
    let scopes = state.integrations().scopes_of(Provider::Google);
    let authorization = google.authorization(Some(&auth.email), &scopes);
    let owner = Owner::from(&auth);
    let flow = &authorization;
    let expires_at = state
        .db()
        .write(|tx| {
            Box::pin(pending::create(
                tx,
                keys,
                NewFlow {
                    owner,
                    provider: Provider::Google,
                    state: &flow.state,
                    pkce_verifier: &flow.pkce_verifier,
                    scopes: &flow.scopes,
                    redirect_url: &flow.redirect_url,
                },
            ))
        })
        .await
        .map_err(ApiError::from)?;
    Ok(Json(ConnectStarted {
        authorization_url: authorization.url.to_string(),
        expires_at: db::format_time(expires_at),
    }))
}

async fn google_callback(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    match finish_google(&state, &params).await {
        Ok(page) | Err(page) => page.into_response(),
    }
}

/// The callback's work; both outcomes are pages.
async fn finish_google(state: &AppState, params: &HashMap<String, String>) -> Result<Page, Page> {
    let param = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let start_again = "Start again from Threadline: Settings → Connections → Connect Google.";
    let Some(flow_state) = param("state") else {
        return Err(Page::failed(
            StatusCode::BAD_REQUEST,
            "This link is not a complete answer from Google (it has no state).",
            start_again,
        ));
    };
    let keys = state.keyring().map_err(|e| Page::internal(&e))?;
    let flow_state = SecretString::from(flow_state.to_string());
    let taken = state
        .db()
        .write(|tx| Box::pin(pending::take(tx, keys, &flow_state)))
        .await
        .map_err(|e| Page::internal(&e))?;
    let flow = match taken {
        Taken::Found(flow) if flow.provider == Provider::Google => flow,
        Taken::Found(_) | Taken::Unknown => {
            return Err(Page::failed(
                StatusCode::BAD_REQUEST,
                "This link was already used, or Threadline did not start it. Nothing was \
                 connected.",
                start_again,
            ))
        }
        Taken::Expired => {
            return Err(Page::failed(
                StatusCode::BAD_REQUEST,
                "This link has expired: connecting must be finished within 10 minutes. \
                 Nothing was connected.",
                start_again,
            ))
        }
    };
    if let Some(error) = param("error") {
        let text = if error == "access_denied" {
            "You did not allow Threadline to use your Google account, so nothing was connected."
                .to_string()
        } else {
            format!(
                "Google answered with the error \u{201c}{error}\u{201d}. Nothing was connected."
            )
        };
        return Err(Page::failed(StatusCode::BAD_REQUEST, &text, start_again));
    }
    let Some(code) = param("code") else {
        return Err(Page::failed(
            StatusCode::BAD_REQUEST,
            "Google's answer has no authorization code. Nothing was connected.",
            start_again,
        ));
    };
    let google = state.oauth().google().map_err(|e| Page::internal(&e))?;
    let grant = google
        .exchange(code, &flow.pkce_verifier, &flow.redirect_url, &flow.scopes)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "the Google code exchange failed");
            Page::failed(
                StatusCode::BAD_GATEWAY,
                &format!("Google did not complete the connection: {e}. Nothing was connected."),
                start_again,
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
            // Nothing keeps these tokens: give them back.
            if let Some(refresh) = &grant.refresh_token {
                if let Err(e) = google.revoke(refresh).await {
                    tracing::warn!(error = %e, "could not revoke a grant that was not stored");
                }
            }
            return Err(Page::internal(&e));
        }
    };
    let connection = &upserted.connection;
    // The integrations the grant covers: scheduled (or resumed, after a re-authorization)
    // and due now, so that the user sees their data without waiting for the interval.
    for integration in state.integrations().of(Provider::Google) {
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
        created = upserted.created,
        account_changed = upserted.account_changed,
        "Google account connected"
    );
    let account = connection
        .account_email
        .clone()
        .unwrap_or_else(|| format!("account {}", connection.account_id));
    let identity = (!granted(IDENTITY_SCOPES, &connection.scopes)).then_some(IDENTITY_LABEL);
    let missing: Vec<&str> = identity
        .into_iter()
        .chain(
            state
                .integrations()
                .of(Provider::Google)
                .filter(|i| !i.granted(&connection.scopes))
                .map(|i| i.scopes_label()),
        )
        .collect();
    let next = if missing.is_empty() {
        "You can close this tab.".to_string()
    } else {
        format!(
            "Google did not grant access to {}: what needs it will not sync. Connect again and \
             tick every box to allow it. You can close this tab.",
            missing.join(", ")
        )
    };
    Ok(Page {
        status: StatusCode::OK,
        title: "Google account connected",
        lines: vec![format!("Threadline is now connected to {account}."), next],
    })
}

/// A page for the person in the browser. Every text is escaped: parts of it come from the
/// query string and from Google.
struct Page {
    status: StatusCode,
    title: &'static str,
    lines: Vec<String>,
}

impl Page {
    fn failed(status: StatusCode, what: &str, next: &str) -> Page {
        Page {
            status,
            title: "Google account not connected",
            lines: vec![what.to_string(), next.to_string()],
        }
    }

    fn internal(e: &dyn std::fmt::Display) -> Page {
        tracing::error!(error = %e, "the Google callback failed");
        Page::failed(
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
            title = escape_html(self.title),
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
