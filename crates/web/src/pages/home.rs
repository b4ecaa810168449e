//! Home: my open tasks by due date (next: the emails tracked lately, the connections that
//! need attention).

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use chrono::NaiveDate;
use threadline_crm::records::tasks::{self, Task};
use threadline_http::AppState;

use crate::error::WebError;
use crate::i18n::Words;
use crate::layout::{render, Layout, Section};
use crate::session::Viewer;

/// How many open tasks Home shows.
const OPEN_TASKS: i64 = 20;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    l: Layout,
    w: &'static Words,
    tasks: Vec<Task>,
    today: NaiveDate,
}

impl HomePage {
    fn late(&self, due: &NaiveDate) -> bool {
        *due < self.today
    }
}

pub async fn home(State(app): State<AppState>, viewer: Viewer) -> Result<Response, WebError> {
    let w = viewer.words();
    let lang = viewer.lang;
    let mut conn = app
        .db()
        .pool()
        .acquire()
        .await
        .map_err(|e| WebError::Internal(lang, e.to_string()))?;
    let tasks = tasks::open_of(&mut conn, &viewer, OPEN_TASKS)
        .await
        .map_err(WebError::crm(lang))?;
    Ok(render(&HomePage {
        l: Layout::for_viewer(&viewer, w.home_title, Section::Home),
        w,
        tasks,
        today: chrono::Utc::now().date_naive(),
    }))
}
