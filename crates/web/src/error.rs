//! The web app's one error type: every lower error becomes a [`WebError`] here, and every
//! `WebError` is a page in the viewer's language with the right status. A refusal a person can
//! act on (a field's value) is not an error page: the form is shown again with the message.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use threadline_crm::{CrmError, Reason};

use crate::i18n::{Lang, Words};
use crate::layout::Layout;

#[derive(Debug)]
pub enum WebError {
    /// No such page, or not this viewer's to see (the same answer: existence is not leaked).
    NotFound(Lang),
    /// An owner's action asked by a member.
    Forbidden(Lang),
    /// A state-changing request from another site, or without the session's CSRF token.
    CrossSite(Lang),
    /// The model refused for a reason it worded itself.
    Refused(Lang, StatusCode, String),
    /// Logged; the page says only that the server failed.
    Internal(Lang, String),
}

/// A refusal of the model in the viewer's words: by its reason, its stable code and the field
/// at fault. A kind of refusal the words have is said in them; a field's value refused for a
/// rule they do not name keeps the model's English detail (after a sentence in the viewer's
/// language, on an nl or de page). Not a refusal (a database failure): `None`.
pub fn refusal(error: &CrmError, w: &'static Words) -> Option<String> {
    let CrmError::Request {
        reason,
        code,
        message,
        field,
    } = error
    else {
        return None;
    };
    // `phones[1].number` → `phones`.
    let field = field
        .as_deref()
        .map(|f| f.split(['[', '.']).next().unwrap_or(f));
    let said = match (reason, *code, field) {
        (_, "not_found", Some(_)) => w.refused_unknown_record,
        (Reason::NotFound, ..) => w.not_found,
        (Reason::Forbidden, ..) => w.refused_forbidden,
        (_, "name_conflict", _) => w.refused_name_conflict,
        (Reason::Conflict, ..) => w.refused_conflict,
        (Reason::StaleVersion | Reason::VersionRequired, ..) => w.refused_stale,
        (Reason::TooLarge, ..) => w.refused_too_large,
        (Reason::StorageFull, ..) => w.refused_storage_full,
        (Reason::Unavailable, ..) => w.refused_unavailable,
        (_, "invalid_field", Some("time_zone")) => w.time_zone_refused,
        (_, "invalid_field", Some("emails" | "email")) => w.refused_email,
        (_, "weak_password", _) => w.password_rules,
        _ if w.lang == Lang::En => return Some(message.clone()),
        (Reason::BadInput, ..) => return Some(format!("{} ({message})", w.refused_input)),
        _ => return Some(format!("{} ({message})", w.refused_value)),
    };
    Some(said.to_string())
}

impl WebError {
    pub fn from_crm(error: CrmError, lang: Lang) -> WebError {
        let said = refusal(&error, lang.words());
        match error {
            CrmError::Request { reason, .. } => {
                let message = said.unwrap_or_default();
                match reason {
                    Reason::NotFound => WebError::NotFound(lang),
                    Reason::Forbidden => WebError::Forbidden(lang),
                    Reason::Conflict | Reason::StaleVersion => {
                        WebError::Refused(lang, StatusCode::CONFLICT, message)
                    }
                    Reason::TooLarge => {
                        WebError::Refused(lang, StatusCode::PAYLOAD_TOO_LARGE, message)
                    }
                    Reason::Unavailable | Reason::StorageFull => {
                        WebError::Refused(lang, StatusCode::SERVICE_UNAVAILABLE, message)
                    }
                    Reason::BadInput | Reason::Unacceptable | Reason::VersionRequired => {
                        WebError::Refused(lang, StatusCode::UNPROCESSABLE_ENTITY, message)
                    }
                }
            }
            other => WebError::Internal(lang, other.to_string()),
        }
    }

    /// For `.map_err`: the model's error in this language.
    pub fn crm(lang: Lang) -> impl FnOnce(CrmError) -> WebError {
        move |e| WebError::from_crm(e, lang)
    }

    fn parts(&self) -> (Lang, StatusCode, String) {
        match self {
            WebError::NotFound(l) => (*l, StatusCode::NOT_FOUND, l.words().not_found.into()),
            WebError::Forbidden(l) => (*l, StatusCode::FORBIDDEN, l.words().forbidden.into()),
            WebError::CrossSite(l) => (
                *l,
                StatusCode::FORBIDDEN,
                l.words().refused_cross_site.into(),
            ),
            WebError::Refused(l, status, message) => (*l, *status, message.clone()),
            WebError::Internal(l, detail) => {
                tracing::error!(error = %detail, "web page failed");
                (
                    *l,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    l.words().internal_error.into(),
                )
            }
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    l: Layout,
    w: &'static Words,
    message: &'a str,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (lang, status, message) = self.parts();
        let w = lang.words();
        let page = ErrorPage {
            l: Layout::signed_out(w, w.error_title),
            w,
            message: &message,
        };
        (status, crate::layout::render(&page)).into_response()
    }
}
