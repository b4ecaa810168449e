//! Who is looking: the session cookie → the model's session ([`Viewer`]), the language of the
//! page, and the two checks of every state-changing request: it comes from this site (the
//! browser's `Sec-Fetch-Site`, else `Origin`), and it carries the session's CSRF token.

use axum::extract::{FromRef, FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use threadline_crm::accounts::sessions::{self, Session};
use threadline_http::AppState;

use crate::error::WebError;
use crate::i18n::{Lang, Words};
use crate::WebConfig;

/// The session cookie's name: `__Host-` when served over HTTPS (the browser then insists on
/// `Secure`, `Path=/` and no `Domain`), which plain HTTP cannot have.
pub fn cookie_name(config: &WebConfig) -> &'static str {
    if config.secure_cookies {
        "__Host-threadline"
    } else {
        "threadline"
    }
}

/// The cookie that holds a new session: HttpOnly, SameSite=Lax (a link from an email into
/// the app arrives signed in; a cross-site POST carries no cookie), Secure over HTTPS. A
/// session cookie of the browser's session: the server's timeouts bound its life.
pub fn session_cookie(config: &WebConfig, value: String) -> Cookie<'static> {
    Cookie::build((cookie_name(config), value))
        .path("/")
        .http_only(true)
        .secure(config.secure_cookies)
        .same_site(SameSite::Lax)
        .build()
}

/// Removes the session cookie.
pub fn removal(config: &WebConfig) -> Cookie<'static> {
    let mut cookie = session_cookie(config, String::new());
    cookie.make_removal();
    cookie
}

/// A signed-in person: their session, with the language and words of their pages.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub session: Session,
    pub lang: Lang,
}

impl Viewer {
    pub fn words(&self) -> &'static Words {
        self.lang.words()
    }

    /// How dates and times are written for this viewer: their zone, their language.
    pub fn clock(&self) -> crate::dates::Clock {
        crate::dates::Clock::new(self.session.time_zone.as_deref(), self.words())
    }

    /// The form's CSRF token is the session's.
    pub fn check_csrf(&self, token: &str) -> Result<(), WebError> {
        if self.session.csrf_matches(token) {
            Ok(())
        } else {
            Err(WebError::CrossSite(self.lang))
        }
    }
}

impl std::ops::Deref for Viewer {
    type Target = threadline_crm::Actor;

    fn deref(&self) -> &threadline_crm::Actor {
        &self.session.actor
    }
}

/// A state-changing form that carries only the session's CSRF token (sign out, start,
/// revoke, …): check it with [`Viewer::check_csrf`].
#[derive(Debug, serde::Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

/// Not signed in: to the sign-in page, which comes back here afterwards.
pub struct SignInFirst(String);

impl IntoResponse for SignInFirst {
    fn into_response(self) -> Response {
        let next =
            percent_encoding::utf8_percent_encode(&self.0, percent_encoding::NON_ALPHANUMERIC);
        Redirect::to(&format!("/sign-in?next={next}")).into_response()
    }
}

impl<S> FromRequestParts<S> for Viewer
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        if let Some(viewer) = parts.extensions.get::<Viewer>() {
            return Ok(viewer.clone());
        }
        let app = AppState::from_ref(state);
        let config = parts
            .extensions
            .get::<std::sync::Arc<WebConfig>>()
            .cloned()
            .unwrap_or_default();
        let jar = CookieJar::from_headers(&parts.headers);
        let here = parts
            .extensions
            .get::<OriginalUri>()
            .map(|u| u.0.clone())
            .unwrap_or_else(|| parts.uri.clone());
        let next = here
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let Some(cookie) = jar.get(cookie_name(&config)) else {
            return Err(SignInFirst(next).into_response());
        };
        let session = sessions::session(app.db(), cookie.value(), chrono::Utc::now())
            .await
            .map_err(|e| {
                WebError::from_crm(e, Lang::choose(None, &parts.headers)).into_response()
            })?;
        let Some(session) = session else {
            return Err(SignInFirst(next).into_response());
        };
        let lang = Lang::choose(session.language.as_deref(), &parts.headers);
        let viewer = Viewer { session, lang };
        parts.extensions.insert(viewer.clone());
        Ok(viewer)
    }
}

/// The language of a page for someone who is not signed in.
pub struct BrowserLang(pub Lang);

impl<S: Send + Sync> FromRequestParts<S> for BrowserLang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(BrowserLang(Lang::choose(None, &parts.headers)))
    }
}

/// Who is asking, for the sign-in throttle: the peer's IP address (`local` for a request
/// made in-process).
pub struct ClientKey(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientKey {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        Ok(ClientKey(peer.unwrap_or_else(|| "local".into())))
    }
}

/// Whether a state-changing request comes from this site. Browsers send `Sec-Fetch-Site`
/// (all current ones) or at least `Origin` on a POST; a request with neither is not from a
/// browser's cross-site form, so it passes (the CSRF token still has to match).
pub fn same_site(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin" || site == "none";
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(origin) => {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
            let origin_host = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            origin_host.is_some() && origin_host == host
        }
    }
}

/// Refuses a state-changing request from another site before any handler runs (also the
/// signed-out forms, which have no session token yet: a sign-in from another site is refused).
pub async fn refuse_cross_site(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !same_site(request.method(), request.headers()) {
        let lang = Lang::choose(None, request.headers());
        return WebError::CrossSite(lang).into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn cross_site_posts_are_refused() {
        let post = Method::POST;
        assert!(same_site(
            &post,
            &headers(&[("sec-fetch-site", "same-origin")])
        ));
        assert!(!same_site(
            &post,
            &headers(&[("sec-fetch-site", "cross-site")])
        ));
        assert!(!same_site(
            &post,
            &headers(&[("sec-fetch-site", "same-site")])
        ));
        assert!(same_site(
            &post,
            &headers(&[
                ("origin", "http://127.0.0.1:8787"),
                ("host", "127.0.0.1:8787")
            ])
        ));
        assert!(!same_site(
            &post,
            &headers(&[
                ("origin", "https://evil.example"),
                ("host", "127.0.0.1:8787")
            ])
        ));
        assert!(!same_site(
            &post,
            &headers(&[("origin", "null"), ("host", "127.0.0.1:8787")])
        ));
        assert!(same_site(
            &Method::GET,
            &headers(&[("sec-fetch-site", "cross-site")])
        ));
    }
}
