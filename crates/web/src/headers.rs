//! The headers of every page of the web app: a strict Content-Security-Policy (no inline
//! script or style, no `eval`, nothing from another origin, never framed), and the browser's
//! other protections.

use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;

/// Pages: only this server's scripts, styles, images and fonts; forms post only here; no
/// plugin, no `<base>`, never in a frame. `frame-src 'self'` lets a tracked email's body show
/// in its sandboxed frame (which has a stricter policy of its own).
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; \
     frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// [`PAGE_CSP`] whose forms may also go (by their answer's redirect) to `target`, an origin
/// the caller checked (the extension's sign-in redirect URI: `form-action` covers the
/// redirects of a form's answer too).
pub fn csp_with_form_target(target: &str) -> String {
    PAGE_CSP.replace(
        "form-action 'self'",
        &format!("form-action 'self' {target}"),
    )
}

/// Adds the page headers that a handler did not set itself.
pub async fn page_headers(mut response: Response) -> Response {
    set_page_headers(response.headers_mut());
    response
}

/// The page headers, where not set already.
pub fn set_page_headers(headers: &mut HeaderMap) {
    let defaults: [(HeaderName, &'static str); 5] = [
        (header::CONTENT_SECURITY_POLICY, PAGE_CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=()",
        ),
    ];
    for (name, value) in defaults {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
}
