//! Importing contacts from a CSV file: upload → the check's preview (columns used and
//! ignored, what would be created, skipped, rejected and why) → start → progress → the
//! result, with the rejected rows to download. The model does it all
//! (`threadline_crm::import::jobs`); the pages show it. Without JavaScript the progress page
//! has a Refresh link; with it, `app.js` refreshes the progress part by itself.

use askama::Template;
use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use threadline_crm::documents::blobs::BlobStore;
use threadline_crm::import::jobs::{self, Job, State as JobState};
use threadline_crm::CrmError;
use threadline_http::routes::documents::content_disposition;
use threadline_http::AppState;
use uuid::Uuid;

use crate::error::WebError;
use crate::i18n::{Lang, Words};
use crate::layout::{render, Layout, Section};
use crate::session::CsrfForm;
use crate::session::Viewer;

/// The largest upload: the documents' limit, and room for the form's other fields.
pub const MAX_UPLOAD_BYTES: usize =
    threadline_crm::documents::blobs::MAX_FILE_BYTES as usize + 64 * 1024;

/// How many of the user's imports the page lists.
const RECENT: i64 = 10;

#[derive(Template)]
#[template(path = "import/index.html")]
struct ImportPage {
    l: Layout,
    w: &'static Words,
    recent: Vec<Job>,
    problem: Option<String>,
}

impl ImportPage {
    fn state_word(&self, job: &Job) -> &'static str {
        state_word(self.w, job.state)
    }
}

fn state_word(w: &Words, state: JobState) -> &'static str {
    match state {
        JobState::Checked => w.import_checked,
        JobState::Running => w.import_running,
        JobState::Interrupted => w.import_interrupted,
        JobState::Done => w.import_done,
        JobState::Failed => w.import_failed,
    }
}

fn blobs(app: &AppState, lang: Lang) -> Result<&BlobStore, WebError> {
    app.blobs()
        .map_err(|_| WebError::Internal(lang, "the server has no data directory".into()))
}

async fn import_page(
    app: &AppState,
    viewer: &Viewer,
    problem: Option<String>,
) -> Result<Response, WebError> {
    let w = viewer.words();
    let recent = jobs::recent(app.db(), viewer, RECENT)
        .await
        .map_err(WebError::crm(viewer.lang))?;
    let mut page = render(&ImportPage {
        l: Layout::for_viewer(viewer, w.import_title, Section::Contacts),
        w,
        recent,
        problem: problem.clone(),
    });
    if problem.is_some() {
        *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(page)
}

/// `GET /import`: the upload form and the user's imports.
pub async fn index(State(app): State<AppState>, viewer: Viewer) -> Result<Response, WebError> {
    import_page(&app, &viewer, None).await
}

/// `POST /import` (multipart: `csrf`, `delimiter`, then `file`): stores and checks the file,
/// then shows its preview. The CSRF token must come before the file: nothing is stored for
/// a request without it.
pub async fn upload(
    State(app): State<AppState>,
    viewer: Viewer,
    mut form: Multipart,
) -> Result<Response, WebError> {
    let lang = viewer.lang;
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        WebError::Refused(lang, StatusCode::BAD_REQUEST, e.body_text())
    };
    let mut csrf_checked = false;
    let mut delimiter = b',';
    while let Some(field) = form.next_field().await.map_err(unreadable)? {
        match field.name() {
            Some("csrf") => {
                viewer.check_csrf(&field.text().await.map_err(unreadable)?)?;
                csrf_checked = true;
            }
            Some("delimiter") => {
                delimiter = match field.text().await.map_err(unreadable)?.as_str() {
                    "semicolon" => b';',
                    "tab" => b'\t',
                    _ => b',',
                };
            }
            Some("file") => {
                if !csrf_checked {
                    return Err(WebError::CrossSite(lang));
                }
                let name = field.file_name().unwrap_or("").to_string();
                let now = chrono::Utc::now();
                let blobs = blobs(&app, lang)?;
                return match jobs::check(app.db(), blobs, &viewer, &name, delimiter, field, now)
                    .await
                {
                    Ok(id) => Ok(Redirect::to(&format!("/import/{id}")).into_response()),
                    Err(e @ CrmError::Request { .. }) => {
                        let message = crate::error::refusal(&e, viewer.words());
                        import_page(&app, &viewer, message).await
                    }
                    Err(e) => Err(WebError::from_crm(e, lang)),
                };
            }
            _ => {}
        }
    }
    if !csrf_checked {
        return Err(WebError::CrossSite(lang));
    }
    import_page(&app, &viewer, Some(viewer.words().import_file.to_string())).await
}

#[derive(Template)]
#[template(path = "import/job.html")]
struct JobPage {
    l: Layout,
    w: &'static Words,
    job: Job,
}

impl JobPage {
    fn state_word(&self) -> &'static str {
        state_word(self.w, self.job.state)
    }

    fn checked(&self) -> bool {
        self.job.state == JobState::Checked
    }

    fn running(&self) -> bool {
        self.job.state == JobState::Running
    }

    /// The figures shown: the import's own once started, else the check's.
    fn figures(&self) -> &threadline_crm::import::report::Report {
        self.job.report.as_ref().unwrap_or(&self.job.check)
    }

    fn created(&self) -> String {
        (self.w.import_created)(self.figures().imported, self.checked())
    }

    fn companies(&self) -> String {
        (self.w.import_companies)(self.figures().companies_created, self.checked())
    }

    fn skipped(&self) -> String {
        (self.w.import_skipped)(self.figures().skipped())
    }

    fn rejected(&self) -> String {
        (self.w.import_rejected)(self.figures().rejected)
    }

    fn start_label(&self) -> String {
        (self.w.import_start)(self.job.check.imported)
    }
}

fn parse_id(raw: &str, lang: Lang) -> Result<Uuid, WebError> {
    raw.parse().map_err(|_| WebError::NotFound(lang))
}

/// `GET /import/{id}`: the preview, the progress or the result.
pub async fn show(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
) -> Result<Response, WebError> {
    let lang = viewer.lang;
    let job = jobs::job(app.db(), &viewer, parse_id(&raw, lang)?)
        .await
        .map_err(WebError::crm(lang))?;
    let w = viewer.words();
    Ok(render(&JobPage {
        l: Layout::for_viewer(&viewer, w.import_title, Section::Contacts),
        w,
        job,
    }))
}

/// `POST /import/{id}/start`.
pub async fn start(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
    axum::extract::Form(form): axum::extract::Form<CsrfForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let lang = viewer.lang;
    let id = parse_id(&raw, lang)?;
    jobs::start(app.db(), blobs(&app, lang)?, &viewer, id)
        .await
        .map_err(WebError::crm(lang))?;
    Ok(Redirect::to(&format!("/import/{id}")).into_response())
}

/// `GET /import/{id}/rejected.csv`: the rejected rows, as a download.
pub async fn rejects(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
) -> Result<Response, WebError> {
    let lang = viewer.lang;
    let (name, bytes) = jobs::rejects(app.db(), blobs(&app, lang)?, &viewer, parse_id(&raw, lang)?)
        .await
        .map_err(WebError::crm(lang))?;
    // The documents' download header: the same rule for every file name.
    let disposition = HeaderValue::from_str(&content_disposition(&name))
        .map_err(|e| WebError::Internal(lang, e.to_string()))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}
