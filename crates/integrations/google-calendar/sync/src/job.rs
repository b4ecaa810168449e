//! The Google Calendar sync as the scheduler's job ([`SyncJob`]).

use std::sync::Arc;

use super::{CalendarSync, RunOptions};
use threadline_storage::db::BoxFuture;
use threadline_sync_engine::{JobContext, JobError, SyncJob};

/// Runs a connection's Calendar sync when its `google_calendar` schedule is due.
pub struct CalendarJob(pub Arc<CalendarSync>);

impl SyncJob for CalendarJob {
    fn integration(&self) -> &'static str {
        crate::NAME
    }

    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            ctx.lease.ensure()?;
            let mut options = RunOptions {
                lease: Some(ctx.lease.clone()),
                ..RunOptions::default()
            };
            if ctx.apply_anyway {
                // A person reviewed the refused run and chose to apply it.
                options.guards.allow_mass_delete = true;
                options.guards.allow_empty_calendar = true;
            }
            let counts = self
                .0
                .run(ctx.connection_id, options)
                .await
                .map_err(JobError::from)?;
            let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
            ctx.tally.created(n(counts.created));
            ctx.tally.updated(n(counts.updated));
            ctx.tally.deleted(n(counts.deleted));
            ctx.tally.conflicts(n(counts.conflicts));
            ctx.tally.skipped(n(counts.skipped));
            ctx.tally.errors(n(counts.errors));
            Ok(())
        })
    }
}
