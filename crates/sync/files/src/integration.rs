//! The document sync on the engine's seam, one type for both providers: Google Drive and
//! Dropbox each build a [`FilesIntegration`] with their client, name, scopes and interval.
//! Turning it on for a record or a module, and off again, is here too, so that the routes
//! (`threadline-http`) treat both providers alike.

use std::sync::Arc;
use std::time::Duration;

use threadline_connections::{self as connections, Connection, Provider};
use threadline_storage::db::{BoxFuture, Conn};
use threadline_sync_engine::{schedule, Card, Integration, JobContext, JobError, SyncJob};

use crate::run::{FileSync, RunOptions};
use crate::settings::{self, Target};

/// What differs between the two providers' integrations.
#[derive(Debug, Clone, Copy)]
pub struct Declaration {
    /// Its name in `sync_schedules.integration` (stored: never changes).
    pub name: &'static str,
    pub provider: Provider,
    pub scopes: &'static [&'static str],
    pub scopes_label: &'static str,
    /// Its card in the web app.
    pub card: Card,
    /// Drive's scope is asked for when the user turns the sync on (incremental
    /// authorization), not when Google is connected for the calendar.
    pub asked_at_connect: bool,
    pub interval: Duration,
    pub jitter: Duration,
}

/// A provider's document sync as an integration.
pub struct FilesIntegration {
    declaration: Declaration,
    sync: Arc<FileSync>,
}

/// What [`FilesIntegration::set_target`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switched {
    /// On, and due within seconds.
    On,
    /// On, but the connection lacks the scope: it runs once a grant has it.
    WaitingForScope,
    /// The target was removed; the sync is off when none is left.
    Off,
}

impl FilesIntegration {
    pub fn new(declaration: Declaration, sync: FileSync) -> FilesIntegration {
        FilesIntegration {
            declaration,
            sync: Arc::new(sync),
        }
    }

    pub fn sync(&self) -> &FileSync {
        &self.sync
    }

    pub fn declaration(&self) -> &Declaration {
        &self.declaration
    }

    /// Turns the sync on (`on`) or off for `target` on `connection`, in the caller's write
    /// transaction. On: the schedule is turned on and due at once when the connection holds
    /// the scopes. Off: when no target is left the schedule is turned off (its history
    /// stays); what was synced stays on both sides, with its links, so that turning it on
    /// again finds it instead of copying it twice.
    pub async fn set_target(
        &self,
        conn: &mut Conn,
        connection: &Connection,
        target: Target,
        on: bool,
    ) -> Result<Switched, connections::Error> {
        let d = &self.declaration;
        settings::ensure(conn, connection.id, d.name)
            .await
            .map_err(store_to_connections)?;
        if !on {
            settings::remove_target(conn, connection.id, target)
                .await
                .map_err(store_to_connections)?;
            let left = settings::get(conn, connection.id)
                .await
                .map_err(store_to_connections)?
                .is_some_and(|s| !s.targets.is_empty());
            if !left {
                schedule::turn_off(conn, connection.id, d.name).await?;
            }
            return Ok(Switched::Off);
        }
        settings::add_target(conn, connection.id, target)
            .await
            .map_err(store_to_connections)?;
        if !self.granted(&connection.scopes) {
            return Ok(Switched::WaitingForScope);
        }
        schedule::turn_on(conn, connection.id, d.name, d.interval, d.jitter).await?;
        Ok(Switched::On)
    }
}

fn store_to_connections(e: crate::store::StoreError) -> connections::Error {
    match e {
        crate::store::StoreError::Database(e) => connections::Error::from(e),
        other => connections::Error::Internal(other.to_string()),
    }
}

impl Integration for FilesIntegration {
    fn name(&self) -> &'static str {
        self.declaration.name
    }

    fn provider(&self) -> Provider {
        self.declaration.provider
    }

    fn scopes(&self) -> &'static [&'static str] {
        self.declaration.scopes
    }

    fn card(&self) -> Card {
        self.declaration.card
    }

    fn scopes_label(&self) -> &'static str {
        self.declaration.scopes_label
    }

    fn asked_at_connect(&self) -> bool {
        self.declaration.asked_at_connect
    }

    fn interval(&self) -> Duration {
        self.declaration.interval
    }

    fn jitter(&self) -> Duration {
        self.declaration.jitter
    }

    /// A grant with the scopes turns the schedule on (due now) when the user turned the
    /// sync on for something: they were sent to the provider for the scope, or connected
    /// again. Nothing when nothing is synced.
    fn on_connected<'a>(
        &'a self,
        conn: &'a mut Conn,
        connection: &'a Connection,
    ) -> BoxFuture<'a, Result<bool, connections::Error>> {
        Box::pin(async move {
            if !self.granted(&connection.scopes) {
                return Ok(false);
            }
            let on = settings::get(conn, connection.id)
                .await
                .map_err(store_to_connections)?
                .is_some_and(|s| !s.targets.is_empty());
            if !on {
                return Ok(false);
            }
            let d = &self.declaration;
            schedule::turn_on(conn, connection.id, d.name, d.interval, d.jitter).await?;
            schedule::resume_connection(conn, connection.id).await?;
            Ok(true)
        })
    }

    fn job(&self) -> Arc<dyn SyncJob> {
        Arc::new(FilesJob {
            name: self.declaration.name,
            sync: Arc::clone(&self.sync),
        })
    }
}

/// The scheduler's job: one run of a connection's document sync.
struct FilesJob {
    name: &'static str,
    sync: Arc<FileSync>,
}

impl SyncJob for FilesJob {
    fn integration(&self) -> &'static str {
        self.name
    }

    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            ctx.lease.ensure()?;
            let mut options = RunOptions {
                lease: Some(ctx.lease.clone()),
                tally: Some(Arc::clone(&ctx.tally)),
                ..RunOptions::default()
            };
            if ctx.apply_anyway {
                options = options.apply_anyway();
            }
            self.sync
                .run(ctx.connection_id, options)
                .await
                .map_err(JobError::from)?;
            Ok(())
        })
    }
}
