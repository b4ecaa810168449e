//! The Google Calendar integration, both ways: the executor of `threadline-calendar-core`'s
//! plans, on the sync engine's seam ([`GoogleCalendar`] is its [`Integration`]; its routes
//! are `threadline-google-calendar-http`).
//!
//! [`Integration`]: threadline_sync_engine::Integration
//!
//! - [`client`]: the Calendar v3 HTTP client (paging, sync tokens, If-Match, back-off).
//! - [`store`]: the tables (migration 0008): selection, cursors, links, busy blocks; CRM
//!   meetings as owned fields.
//! - [`executor`]: one run — read both sides, plan, execute in the planner's order.
//!
//! **Which meetings are the user's** (exported to their export calendar): the CRM's
//! meetings belong to the organisation and have no owner, so a meeting is the user's when
//! one of the user's own addresses (login address or alias) is among its attendees — the
//! same rule Google uses to put an event in someone's calendar. Meetings already linked to
//! the connection (exported, or converted from one of the user's blocks) stay theirs: later
//! changes keep flowing even if the user's address is removed from the attendees. Another
//! user of the organisation attending the same meeting exports it to their own calendar.
//!
//! A run (`CalendarSync::run`) for one connection at a time per process (a second call waits
//! for the first and then runs, cheaply: it finds nothing new). Across processes the
//! scheduler's lease keeps runs apart; the run itself is also safe to repeat, since every
//! step is (see `threadline-calendar-core`'s order).

pub mod busy;
pub mod client;
pub mod convert;
pub mod executor;
pub mod job;
pub mod selection;
pub mod store;

mod integration;

pub use integration::{GoogleCalendar, NAME, SCOPES};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use threadline_calendar_core::Guards;
use uuid::Uuid;

use client::CalendarClient;
use threadline_storage::db::Db;
use threadline_storage::secrets::ExposeSecret;
use threadline_sync_engine::{
    fence, with_token_replacement, AccessTokens, Lease, RunCounts, SyncError,
};

/// The calendar sync of one server: database, Google client, token source.
pub struct CalendarSync {
    db: Db,
    client: CalendarClient,
    tokens: Arc<dyn AccessTokens>,
    /// One run per connection at a time in this process.
    running: Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
}

/// How a run is made.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// The mass-change guards; "apply anyway" after a review sets their `allow_*`.
    pub guards: Guards,
    /// The scheduler's lease on the schedule ([`threadline_sync_engine::JobContext::lease`]): checked
    /// before each Google write, and fencing each database write, so that a run that lost
    /// its lease (another process may run the schedule now) writes nothing more. `None` for
    /// a run called directly (tests, benchmarks).
    pub lease: Option<Lease>,
}

impl CalendarSync {
    pub fn new(db: Db, client: CalendarClient, tokens: Arc<dyn AccessTokens>) -> CalendarSync {
        CalendarSync {
            db,
            client,
            tokens,
            running: Mutex::new(HashMap::new()),
        }
    }

    pub fn client(&self) -> &CalendarClient {
        &self.client
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// A valid access token of the connection.
    pub async fn token(&self, connection_id: Uuid) -> Result<String, SyncError> {
        let token = self.tokens.access_token(connection_id).await?;
        Ok(token.expose_secret().to_string())
    }

    /// One sync of the connection's calendars, both ways.
    pub async fn run(
        &self,
        connection_id: Uuid,
        options: RunOptions,
    ) -> Result<RunCounts, SyncError> {
        let lock = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(connection_id)
            .or_default()
            .clone();
        let _running = lock.lock().await;
        // Every step of a run is safe to repeat: after a 401, once more with a new token.
        let options = &options;
        let run = |token: String| async move { self.attempt(connection_id, options, &token).await };
        with_token_replacement(self.tokens.as_ref(), connection_id, "Google", run).await
    }

    async fn attempt(
        &self,
        connection_id: Uuid,
        options: &RunOptions,
        token: &str,
    ) -> Result<RunCounts, SyncError> {
        self.choose_defaults(connection_id, token, options.lease.as_ref())
            .await?;
        executor::run(self, connection_id, options.clone(), token.to_string()).await
    }

    /// On a connection's first run, before its user chose anything: the account's primary
    /// calendar, imported, and the one meetings are exported to (when it is writable) — what
    /// someone who just connected expects to see. A choice made since, even "none", stays.
    async fn choose_defaults(
        &self,
        connection_id: Uuid,
        token: &str,
        lease: Option<&Lease>,
    ) -> Result<(), SyncError> {
        {
            let mut conn = self.db.pool().acquire().await?;
            if store::has_settings(&mut conn, connection_id).await? {
                return Ok(());
            }
        }
        let calendars = self
            .client
            .calendar_list(token)
            .await
            .map_err(|e| executor::call_failed("reading the calendar list", e))?;
        let Some(primary) = calendars.iter().find(|c| c.primary == Some(true)) else {
            return Ok(());
        };
        let imports = std::collections::BTreeSet::from([primary.id.clone()]);
        let export = matches!(primary.access_role.as_deref(), Some("writer" | "owner"))
            .then_some(primary.id.as_str());
        let (imports, export) = (&imports, export);
        self.db
            .write(|tx| {
                Box::pin(async move {
                    fence(lease, tx).await?;
                    // Another process may have chosen meanwhile.
                    if !store::has_settings(tx, connection_id).await? {
                        store::set_selection(tx, connection_id, imports, export).await?;
                    }
                    Ok::<_, threadline_sync_engine::FencedError>(())
                })
            })
            .await?;
        Ok(())
    }
}
