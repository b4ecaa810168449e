//! What every page shares: the `<head>`, the navigation, who is signed in and the session's
//! CSRF token for its forms (`templates/base.html`).

use askama::Template;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};

use crate::assets;
use crate::dates::Clock;
use crate::i18n::Words;
use crate::session::Viewer;

/// The sections of the navigation; the current one is marked `aria-current="page"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    None,
    Home,
    Companies,
    Contacts,
    Projects,
    Meetings,
    Products,
    Tasks,
    Planning,
    Integrations,
    Settings,
}

/// A signed-in viewer, as the layout shows them.
pub struct Who {
    pub name: String,
    pub email: String,
    pub csrf: String,
}

pub struct Layout {
    pub w: &'static Words,
    pub lang: &'static str,
    pub title: String,
    pub css: String,
    pub js: String,
    pub icon: String,
    pub who: Option<Who>,
    pub section: Section,
    /// Every date and time on the page is written by it (the viewer's zone and language).
    pub clock: Clock,
}

impl Layout {
    pub fn signed_out(w: &'static Words, title: &str) -> Layout {
        Layout {
            w,
            lang: w.lang.tag(),
            title: title.to_string(),
            css: assets::url("app.css"),
            js: assets::url("app.js"),
            icon: assets::url("icon.svg"),
            who: None,
            section: Section::None,
            clock: Clock::new(None, w),
        }
    }

    pub fn for_viewer(viewer: &Viewer, title: &str, section: Section) -> Layout {
        let mut layout = Layout::signed_out(viewer.words(), title);
        layout.who = Some(Who {
            name: viewer.session.actor.name.clone(),
            email: viewer.session.email.clone(),
            csrf: viewer.session.csrf_token.clone(),
        });
        layout.section = section;
        layout.clock = viewer.clock();
        layout
    }

    /// `aria-current` for the navigation link of `section` (its name in lowercase).
    pub fn current(&self, section: &str) -> &'static str {
        if format!("{:?}", self.section).eq_ignore_ascii_case(section) {
            "page"
        } else {
            "false"
        }
    }

    /// An instant in the viewer's zone and language ([`Clock::at`]).
    pub fn at(&self, at: &DateTime<Utc>) -> String {
        self.clock.at(at)
    }

    /// An RFC 3339 instant in the viewer's zone and language.
    pub fn at_text(&self, at: &str) -> String {
        self.clock.at_text(at)
    }

    /// A date in the viewer's language.
    pub fn day(&self, d: &NaiveDate) -> String {
        self.clock.day(d)
    }

    /// The UTC instant for `<time datetime>`.
    pub fn iso(&self, at: &DateTime<Utc>) -> String {
        Clock::iso(at)
    }

    pub fn csrf(&self) -> &str {
        self.who.as_ref().map(|w| w.csrf.as_str()).unwrap_or("")
    }
}

/// A page's HTML; a template that fails to render (it cannot, short of a bug) is logged and
/// answered 500.
pub fn render<T: Template>(page: &T) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a template failed to render");
            (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}
