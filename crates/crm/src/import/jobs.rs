//! Imports started from the web app: the upload is stored (the blob store) and checked at
//! once — a dry run over the whole file, whose report is the preview: the columns used and
//! ignored, what would be created, skipped and rejected and why. The user then starts it; it
//! runs in this server process, writing how far it got to its row (`contact_imports`) every
//! [`PROGRESS_EVERY`], so any process can show the progress; the rejected rows are kept as a
//! CSV to download. An import whose row has not moved for [`STALLED_AFTER`] while running
//! was interrupted (its process stopped): what it did is counted, the rest was not imported,
//! and starting the same file again imports only what is missing (rows already in the CRM
//! are skipped).

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::{Stream, TryStreamExt};
use serde::{Deserialize, Serialize};
use threadline_storage::db::{self, format_time, id_text, parse_time, parse_uuid, Db};
use uuid::Uuid;

use super::report::Report;
use super::{Import, Options, Progress, Source};
use crate::actor::Actor;
use crate::documents::blobs::BlobStore;
use crate::error::{CrmError, CrmResult, Reason};

/// How often a running import writes its progress.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(500);
/// A running import whose row has not been written for this long was interrupted.
pub const STALLED_AFTER: chrono::Duration = chrono::Duration::minutes(2);

/// Where an import is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Checked, not started: the preview.
    Checked,
    Running,
    /// The process running it stopped before the end.
    Interrupted,
    Done,
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Checked => "checked",
            State::Running => "running",
            State::Interrupted => "interrupted",
            State::Done => "done",
            State::Failed => "failed",
        }
    }
}

/// The columns of the file, as the import reads them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Columns {
    /// `"Header" → field` descriptions of the columns used.
    pub used: Vec<String>,
    /// Ignored columns: (header, why).
    pub ignored: Vec<(String, String)>,
}

/// An import, as its owner sees it.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: Uuid,
    pub file_name: String,
    pub size_bytes: u64,
    pub state: State,
    pub columns: Columns,
    /// The check's report (a dry run).
    pub check: Report,
    /// The import's report (so far, while running).
    pub report: Option<Report>,
    pub bytes_done: u64,
    pub has_rejects: bool,
    /// Why it failed.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Job {
    /// How far the import got, 0 to 100.
    pub fn percent(&self) -> u64 {
        match self.state {
            State::Done => 100,
            _ if self.size_bytes == 0 => 0,
            _ => (self.bytes_done * 100 / self.size_bytes).min(100),
        }
    }
}

fn refused(code: &'static str, message: impl Into<String>) -> CrmError {
    CrmError::new(Reason::Unacceptable, code, message).with_field("file")
}

/// Stores the uploaded CSV `body` and checks it (a dry run as `actor`): the new import's
/// id. A file that cannot be imported at all (not CSV UTF-8, no email column) is refused
/// with the reason (`not_importable`); a file over the documents' 50 MB limit too.
pub async fn check<S, E>(
    db: &Db,
    blobs: &BlobStore,
    actor: &Actor,
    file_name: &str,
    delimiter: u8,
    body: S,
    now: DateTime<Utc>,
) -> CrmResult<Uuid>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    if !delimiter.is_ascii() || delimiter == b'"' || delimiter == b'\n' || delimiter == b'\r' {
        return Err(refused(
            "bad_delimiter",
            "The separator must be one character such as a comma, a semicolon or a tab.",
        )
        .with_field("delimiter"));
    }
    let file_name = file_name.trim();
    let file_name = if file_name.is_empty() {
        "contacts.csv"
    } else {
        file_name
    };
    let stored = blobs.store_stream(body).await?;
    if stored.size == 0 {
        return Err(refused("empty_file", "The file is empty."));
    }
    let bytes = read_blob(blobs, &stored.sha256).await?;
    let mut import = Import::start(Source::bytes(bytes), delimiter)
        .map_err(|e| refused("not_importable", e.to_string()))?;
    let columns = Columns {
        used: import.map.describe(),
        ignored: import.map.ignored.clone(),
    };
    let mut report = Report::default();
    let options = Options {
        dry_run: true,
        ..Options::default()
    };
    import
        .run(db, actor, options, &mut report)
        .await
        .map_err(|e| refused("not_importable", e.to_string()))?;
    let id = db::new_id();
    let columns_json = serde_json::to_string(&columns).map_err(internal)?;
    let check_json = serde_json::to_string(&report).map_err(internal)?;
    let (sha, name, size) = (&stored.sha256, file_name, stored.size as i64);
    let (columns_json, check_json) = (&columns_json, &check_json);
    let delimiter = (delimiter as char).to_string();
    let delimiter = &delimiter;
    db.write(|tx| {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO contact_imports (id, org_id, user_id, file_name, delimiter, \
                 csv_sha256, size_bytes, state, columns_json, check_json, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'checked', $8, $9, $10, $10)",
            )
            .bind(id_text(id))
            .bind(id_text(actor.org_id))
            .bind(id_text(actor.user_id))
            .bind(name)
            .bind(delimiter)
            .bind(sha)
            .bind(size)
            .bind(columns_json)
            .bind(check_json)
            .bind(format_time(now))
            .execute(&mut **tx)
            .await?;
            Ok::<_, CrmError>(())
        })
    })
    .await?;
    Ok(id)
}

/// Starts the checked import `id` of `actor` in this process (a background task); a second
/// start of the same import is refused (`already_started`).
pub async fn start(db: &Db, blobs: &BlobStore, actor: &Actor, id: Uuid) -> CrmResult<()> {
    // Another user's import is not found, as if there were none.
    job(db, actor, id).await?;
    let claimed = db
        .write(|tx| {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE contact_imports SET state = 'running', updated_at = $1 \
                     WHERE id = $2 AND user_id = $3 AND state = 'checked'",
                )
                .bind(format_time(Utc::now()))
                .bind(id_text(id))
                .bind(id_text(actor.user_id))
                .execute(&mut **tx)
                .await?;
                Ok::<_, CrmError>(done.rows_affected() == 1)
            })
        })
        .await?;
    if !claimed {
        return Err(CrmError::new(
            Reason::Conflict,
            "already_started",
            "This import has been started already.",
        ));
    }
    let (db, blobs, actor) = (db.clone(), blobs.clone(), actor.clone());
    tokio::spawn(async move {
        let outcome = run(&db, &blobs, &actor, id).await;
        if let Err(e) = outcome {
            tracing::warn!(import = %id, error = %e, "a contact import failed");
            let message = e.to_string();
            let _ = finish(&db, id, "failed", None, Some(&message)).await;
        }
    });
    Ok(())
}

/// A CSV being written in memory (the rejected rows).
#[derive(Clone, Default)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The import's progress, for the task that writes it to its row.
struct Watch(tokio::sync::watch::Sender<(u64, Report)>);

impl Progress for Watch {
    fn advanced(&self, bytes_read: u64, report: &Report) {
        let _ = self.0.send((bytes_read, report.clone()));
    }
}

async fn run(db: &Db, blobs: &BlobStore, actor: &Actor, id: Uuid) -> CrmResult<()> {
    let row: (String, String) =
        sqlx::query_as("SELECT csv_sha256, delimiter FROM contact_imports WHERE id = $1")
            .bind(id_text(id))
            .fetch_one(db.pool())
            .await?;
    let bytes = read_blob(blobs, &row.0).await?;
    let delimiter = row.1.bytes().next().unwrap_or(b',');
    let mut import = Import::start(Source::bytes(bytes), delimiter).map_err(internal)?;
    let rejects = SharedBuffer::default();
    import
        .write_rejects_to(Box::new(rejects.clone()))
        .map_err(internal)?;
    let (sender, mut receiver) = tokio::sync::watch::channel((0u64, Report::default()));
    import.set_progress(Box::new(Watch(sender)));
    let writer = {
        let db = db.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROGRESS_EVERY).await;
                let changed = receiver.has_changed();
                let (bytes, report) = receiver.borrow_and_update().clone();
                match changed {
                    Ok(true) => {
                        let _ = write_progress(&db, id, bytes, &report).await;
                    }
                    Ok(false) => {
                        // Alive: keep updated_at fresh, so it does not look interrupted.
                        let _ = write_progress(&db, id, bytes, &report).await;
                    }
                    Err(_) => break,
                }
            }
        })
    };
    let mut report = Report::default();
    let outcome = import.run(db, actor, Options::default(), &mut report).await;
    drop(import);
    writer.abort();
    let rejected = std::mem::take(&mut *rejects.0.lock().map_err(|_| internal("poisoned"))?);
    let rejects_sha = if report.rejected > 0 {
        let body =
            futures_util::stream::once(
                async move { Ok::<_, std::io::Error>(Bytes::from(rejected)) },
            );
        Some(blobs.store_stream(body).await?.sha256)
    } else {
        None
    };
    let json = serde_json::to_string(&report).map_err(internal)?;
    match outcome {
        Ok(()) => finish(db, id, "done", Some((&json, rejects_sha.as_deref())), None).await,
        Err(e) => {
            let message = format!(
                "{e}; the rows up to row {} were imported, those after it were not",
                report.done_through_row
            );
            finish(
                db,
                id,
                "failed",
                Some((&json, rejects_sha.as_deref())),
                Some(&message),
            )
            .await
        }
    }
}

async fn write_progress(db: &Db, id: Uuid, bytes: u64, report: &Report) -> CrmResult<()> {
    let json = serde_json::to_string(report).map_err(internal)?;
    let json = &json;
    db.write(|tx| {
        Box::pin(async move {
            sqlx::query(
                "UPDATE contact_imports SET bytes_done = $1, report_json = $2, updated_at = $3 \
                 WHERE id = $4 AND state = 'running'",
            )
            .bind(bytes as i64)
            .bind(json)
            .bind(format_time(Utc::now()))
            .bind(id_text(id))
            .execute(&mut **tx)
            .await?;
            Ok::<_, CrmError>(())
        })
    })
    .await
}

async fn finish(
    db: &Db,
    id: Uuid,
    state: &'static str,
    report: Option<(&str, Option<&str>)>,
    error: Option<&str>,
) -> CrmResult<()> {
    db.write(|tx| {
        Box::pin(async move {
            sqlx::query(
                "UPDATE contact_imports SET state = $1, \
                 report_json = COALESCE($2, report_json), rejects_sha256 = $3, error = $4, \
                 bytes_done = CASE WHEN $1 = 'done' THEN size_bytes ELSE bytes_done END, \
                 updated_at = $5 WHERE id = $6",
            )
            .bind(state)
            .bind(report.map(|r| r.0))
            .bind(report.and_then(|r| r.1))
            .bind(error)
            .bind(format_time(Utc::now()))
            .bind(id_text(id))
            .execute(&mut **tx)
            .await?;
            Ok::<_, CrmError>(())
        })
    })
    .await
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: String,
    file_name: String,
    size_bytes: i64,
    state: String,
    columns_json: String,
    check_json: String,
    report_json: Option<String>,
    bytes_done: i64,
    rejects_sha256: Option<String>,
    error: Option<String>,
    created_at: String,
    updated_at: String,
}

const JOB_COLUMNS: &str = "id, file_name, size_bytes, state, columns_json, check_json, \
     report_json, bytes_done, rejects_sha256, error, created_at, updated_at";

impl JobRow {
    fn job(self, now: DateTime<Utc>) -> CrmResult<Job> {
        let updated_at = parse_time(&self.updated_at)?;
        let state = match self.state.as_str() {
            "checked" => State::Checked,
            "running" if now - updated_at > STALLED_AFTER => State::Interrupted,
            "running" => State::Running,
            "done" => State::Done,
            _ => State::Failed,
        };
        Ok(Job {
            id: parse_uuid(&self.id)?,
            file_name: self.file_name,
            size_bytes: self.size_bytes.max(0) as u64,
            state,
            columns: serde_json::from_str(&self.columns_json).map_err(internal)?,
            check: serde_json::from_str(&self.check_json).map_err(internal)?,
            report: self
                .report_json
                .map(|j| serde_json::from_str(&j))
                .transpose()
                .map_err(internal)?,
            bytes_done: self.bytes_done.max(0) as u64,
            has_rejects: self.rejects_sha256.is_some(),
            error: self.error,
            created_at: parse_time(&self.created_at)?,
            updated_at,
        })
    }
}

/// The import `id` of `actor` (an import is its owner's only); `not_found` otherwise.
pub async fn job(db: &Db, actor: &Actor, id: Uuid) -> CrmResult<Job> {
    job_row(db, actor, id).await?.job(Utc::now())
}

/// The row of `actor`'s import `id`; not found for another user's.
async fn job_row(db: &Db, actor: &Actor, id: Uuid) -> CrmResult<JobRow> {
    let row: Option<JobRow> = sqlx::query_as(&format!(
        "SELECT {JOB_COLUMNS} FROM contact_imports WHERE id = $1 AND user_id = $2 AND org_id = $3"
    ))
    .bind(id_text(id))
    .bind(id_text(actor.user_id))
    .bind(id_text(actor.org_id))
    .fetch_optional(db.pool())
    .await?;
    row.ok_or_else(|| {
        CrmError::new(
            Reason::NotFound,
            "not_found",
            format!("there is no import {id}"),
        )
    })
}

/// `actor`'s imports, newest first, at most `limit`.
pub async fn recent(db: &Db, actor: &Actor, limit: i64) -> CrmResult<Vec<Job>> {
    let rows: Vec<JobRow> = sqlx::query_as(&format!(
        "SELECT {JOB_COLUMNS} FROM contact_imports WHERE user_id = $1 AND org_id = $2 \
         ORDER BY created_at DESC, id DESC LIMIT $3"
    ))
    .bind(id_text(actor.user_id))
    .bind(id_text(actor.org_id))
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    let now = Utc::now();
    rows.into_iter().map(|r| r.job(now)).collect()
}

/// The rejected rows of `actor`'s import `id`, as CSV: (file name, content).
pub async fn rejects(
    db: &Db,
    blobs: &BlobStore,
    actor: &Actor,
    id: Uuid,
) -> CrmResult<(String, Vec<u8>)> {
    let job = job_row(db, actor, id).await?;
    let Some(sha) = job.rejects_sha256 else {
        return Err(CrmError::new(
            Reason::NotFound,
            "not_found",
            "this import rejected no row",
        ));
    };
    let stem = job
        .file_name
        .strip_suffix(".csv")
        .unwrap_or(&job.file_name)
        .to_string();
    Ok((
        format!("{stem}-rejected.csv"),
        read_blob(blobs, &sha).await?,
    ))
}

async fn read_blob(blobs: &BlobStore, sha: &str) -> CrmResult<Vec<u8>> {
    let chunks: Vec<Bytes> = blobs
        .open(sha)
        .await?
        .try_collect()
        .await
        .map_err(|e| CrmError::internal(format!("cannot read the stored file: {e}")))?;
    Ok(chunks.concat())
}

fn internal(e: impl std::fmt::Display) -> CrmError {
    CrmError::internal(e.to_string())
}
