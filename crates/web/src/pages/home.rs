//! Home: my open tasks by due date, the emails tracked lately (the organisation's timeline
//! as I am shown it: a colleague's private email as "Tracked privately by …"), and my
//! connections that need attention (their sync state is the engine's).

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use threadline_connections::{self as connections, Owner};
use threadline_crm::records::tasks::{self, Task};
use threadline_crm::records::tracked_emails::{self, TrackedEmailView};
use threadline_crm::Actor;
use threadline_http::AppState;
use threadline_sync_engine::schedule::{self, SyncHealth};
use uuid::Uuid;

use crate::error::WebError;
use crate::i18n::Words;
use crate::layout::{render, Layout, Section};
use crate::session::Viewer;

/// How many open tasks Home shows.
const OPEN_TASKS: i64 = 20;
/// How many tracked emails Home shows.
const RECENT_EMAILS: u32 = 10;

/// A tracked email in Home's list.
struct Recent {
    id: Uuid,
    /// The subject; `None` for a colleague's private email.
    subject: Option<String>,
    /// Who tracked it (for a private one: said instead of the subject).
    owner: String,
    at: DateTime<Utc>,
}

/// A connection that needs attention.
struct Attention {
    provider: &'static str,
    account: String,
    needs_reauth: bool,
    reason: Option<String>,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    l: Layout,
    w: &'static Words,
    tasks: Vec<Task>,
    recent: Vec<Recent>,
    attention: Vec<Attention>,
    today: NaiveDate,
}

impl HomePage {
    fn late(&self, due: &NaiveDate) -> bool {
        *due < self.today
    }
}

fn recent_of(view: TrackedEmailView) -> Recent {
    match view {
        TrackedEmailView::Whole(e) => Recent {
            id: e.id,
            subject: Some(e.subject),
            owner: e.owner.name,
            at: e.sent_at.unwrap_or(e.meta.created_at),
        },
        TrackedEmailView::Redacted(e) => Recent {
            id: e.id,
            subject: None,
            owner: e.owner.name,
            at: e.sent_at.unwrap_or(e.meta.created_at),
        },
    }
}

/// The viewer's connections whose sync state needs them (not the disconnected ones: the
/// user chose that).
async fn attention(
    conn: &mut threadline_storage::db::Conn,
    viewer: &Actor,
) -> Result<Vec<Attention>, String> {
    let mine = connections::list_for(conn, Owner::from(viewer))
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for connection in mine {
        if connection.status == connections::Status::Disconnected {
            continue;
        }
        let state = schedule::state(conn, &connection)
            .await
            .map_err(|e| e.to_string())?;
        if state.state.needs_attention() {
            out.push(Attention {
                provider: connection.provider.label(),
                account: connection
                    .account_email
                    .clone()
                    .unwrap_or(connection.account_id.clone()),
                needs_reauth: state.state == SyncHealth::NeedsReauth,
                reason: state.reason,
            });
        }
    }
    Ok(out)
}

pub async fn home(State(app): State<AppState>, viewer: Viewer) -> Result<Response, WebError> {
    let w = viewer.words();
    let lang = viewer.lang;
    let mut conn = super::conn(&app, lang).await?;
    let tasks = tasks::open_of(&mut conn, &viewer, OPEN_TASKS)
        .await
        .map_err(WebError::crm(lang))?;
    let recent = tracked_emails::timeline(&mut conn, &viewer, None, None, false, RECENT_EMAILS)
        .await
        .map_err(WebError::crm(lang))?
        .entries
        .into_iter()
        .map(|e| recent_of(e.seen_by(&viewer)))
        .collect();
    let attention = attention(&mut conn, &viewer)
        .await
        .map_err(|e| WebError::Internal(lang, e))?;
    Ok(render(&HomePage {
        l: Layout::for_viewer(&viewer, w.home_title, Section::Home),
        w,
        tasks,
        recent,
        attention,
        today: viewer.clock().today(),
    }))
}
