//! Which of the account's calendars are imported as busy blocks, and the one CRM meetings are
//! exported to: what the API's `GET /connections/{id}/calendars` and
//! `PUT /connections/{id}/calendar-selection` and the web app's Integrations page both call.

use std::collections::BTreeSet;

use threadline_crm::{CrmError, Reason};
use threadline_storage::errors::DbFailure;
use threadline_sync_engine::SyncError;
use uuid::Uuid;

use crate::client::{CalendarEntry, CallError};
use crate::{store, CalendarSync};

/// Why a calendar request failed: the model refused it, or Google could not be asked, or
/// Google refused for good (`provider_error`).
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error(transparent)]
    Crm(#[from] CrmError),
    #[error(transparent)]
    Google(#[from] SyncError),
    #[error("{0}")]
    Provider(String),
}

impl From<sqlx::Error> for CalendarError {
    fn from(e: sqlx::Error) -> Self {
        CalendarError::Crm(e.into())
    }
}

impl DbFailure for CalendarError {
    fn database_error(&self) -> Option<&sqlx::Error> {
        match self {
            CalendarError::Crm(e) => e.database_error(),
            _ => None,
        }
    }
}

impl CalendarError {
    /// As the model's error (for callers that know only `CrmError`, the web app): Google's
    /// faults are `unavailable` (retry) or `needs_reauth`.
    pub fn into_crm(self) -> CrmError {
        match self {
            CalendarError::Crm(e) => e,
            CalendarError::Google(SyncError::NeedsReauth(m)) => {
                CrmError::new(Reason::Conflict, "needs_reauth", m)
            }
            CalendarError::Google(SyncError::Fatal(m)) => CrmError::Internal(m),
            CalendarError::Google(e) => {
                CrmError::new(Reason::Unavailable, "unavailable", e.to_string())
            }
            CalendarError::Provider(m) => CrmError::new(Reason::Unavailable, "provider_error", m),
        }
    }
}

/// A failed Google call made for a request: throttling, a passing fault or a refused token
/// is to be retried (as the sync run would); a lasting refusal is `Provider`.
pub fn google_failed(what: &str, e: CallError) -> CalendarError {
    if e.is_transient() || e.status() == Some(401) {
        CalendarError::Google(SyncError::retryable(format!("{what}: {e}")))
    } else {
        CalendarError::Provider(format!("{what}: {e}"))
    }
}

/// One calendar of the account, with what may be done with it and what is chosen.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub entry: CalendarEntry,
    /// Events can be read (not `freeBusyReader`).
    pub can_import: bool,
    /// Writer or owner: CRM meetings can be exported to it.
    pub can_export: bool,
    pub imported: bool,
    pub export: bool,
}

impl Calendar {
    pub fn primary(&self) -> bool {
        self.entry.primary.unwrap_or(false)
    }
}

fn can_import(entry: &CalendarEntry) -> bool {
    entry.access_role.as_deref() != Some("freeBusyReader")
}

fn can_export(entry: &CalendarEntry) -> bool {
    matches!(entry.access_role.as_deref(), Some("writer" | "owner"))
}

async fn entries(
    sync: &CalendarSync,
    connection: Uuid,
) -> Result<Vec<CalendarEntry>, CalendarError> {
    let token = sync.token(connection).await?;
    sync.client().calendar_list(&token).await.map_err(|e| {
        CalendarError::Google(SyncError::retryable(format!(
            "reading the calendar list: {e}"
        )))
    })
}

/// The account's calendars (Google's calendarList), the primary first, then in Google's
/// order, each with the stored selection.
pub async fn calendars(
    sync: &CalendarSync,
    connection: Uuid,
) -> Result<Vec<Calendar>, CalendarError> {
    let mut entries = entries(sync, connection).await?;
    entries.sort_by_key(|e| !e.primary.unwrap_or(false));
    let mut conn = sync.db().pool().acquire().await?;
    let settings = store::settings(&mut conn, connection).await?;
    Ok(entries
        .into_iter()
        .map(|e| Calendar {
            can_import: can_import(&e),
            can_export: can_export(&e),
            imported: settings.imports.contains(&e.id),
            export: settings.export.as_deref() == Some(e.id.as_str()),
            entry: e,
        })
        .collect())
}

/// Stores the selection, checked against the account's calendars: each imported one must be
/// readable and listed once, the export one writable. A deselected calendar's blocks go at
/// once; meetings converted from them stay. Answers what is stored.
pub async fn choose(
    sync: &CalendarSync,
    connection: Uuid,
    import: &[String],
    export: Option<&str>,
) -> Result<store::Settings, CalendarError> {
    let entries = entries(sync, connection).await?;
    let find = |calendar: &str| entries.iter().find(|e| e.id == calendar);
    let mut imports = BTreeSet::new();
    for (i, calendar) in import.iter().enumerate() {
        let field = format!("import[{i}]");
        match find(calendar) {
            None => {
                return Err(CrmError::invalid(
                    field,
                    format!("{calendar:?} is not a calendar of the connected account"),
                )
                .into())
            }
            Some(e) if !can_import(e) => {
                return Err(CrmError::invalid(
                    field,
                    format!("{calendar:?} shows free/busy only: its events cannot be imported"),
                )
                .into())
            }
            Some(_) => {}
        }
        if !imports.insert(calendar.clone()) {
            return Err(CrmError::invalid(field, "the same calendar is listed twice").into());
        }
    }
    if let Some(calendar) = export {
        match find(calendar) {
            None => {
                return Err(CrmError::invalid(
                    "export",
                    format!("{calendar:?} is not a calendar of the connected account"),
                )
                .into())
            }
            Some(e) if !can_export(e) => {
                return Err(CrmError::invalid(
                    "export",
                    format!(
                        "{calendar:?} is {}: meetings can only be exported to a calendar the \
                         account can write (writer or owner)",
                        e.access_role.as_deref().unwrap_or("not writable")
                    ),
                )
                .into())
            }
            Some(_) => {}
        }
    }
    let imports = &imports;
    let stored = sync
        .db()
        .write(|tx| {
            Box::pin(async move { store::set_selection(tx, connection, imports, export).await })
        })
        .await?;
    Ok(stored)
}
