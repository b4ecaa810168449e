//! The Google Calendar sync as the scheduler's job ([`SyncJob`]), and the OAuth token
//! source as its access tokens: what `serve` plugs together when a Google client is
//! configured.

use std::sync::Arc;

use uuid::Uuid;

use super::{CalendarSync, RunOptions};
use crate::db::BoxFuture;
use crate::oauth::TokenSource;
use crate::secrets::SecretString;
use crate::sync::{
    integration, AccessTokens, JobContext, JobError, SyncError, SyncJob, TokenError,
};

/// Runs a connection's Calendar sync when its `google_calendar` schedule is due.
pub struct CalendarJob(pub Arc<CalendarSync>);

impl SyncJob for CalendarJob {
    fn integration(&self) -> &'static str {
        integration::GOOGLE_CALENDAR
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
                .map_err(job_error)?;
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

/// What the scheduler does after a failed pass: the kinds map one to one.
fn job_error(e: SyncError) -> JobError {
    match e {
        SyncError::Retryable {
            reason,
            retry_after,
        } => JobError::Retryable {
            message: reason,
            retry_after,
        },
        // Refused again after a replacement: the token source knows more next time (a
        // refresh failing with invalid_grant pauses the schedules then).
        SyncError::TokenRejected(reason) => JobError::retryable(reason),
        SyncError::NeedsReauth(reason) => JobError::NeedsReauth(reason),
        SyncError::RefusedForReview(reasons) => JobError::RefusedForReview(reasons.join("; ")),
        SyncError::Fatal(reason) => JobError::Fatal(reason),
        SyncError::LeaseLost => JobError::LeaseLost,
    }
}

impl AccessTokens for TokenSource {
    fn access_token(&self, connection_id: Uuid) -> BoxFuture<'_, Result<SecretString, TokenError>> {
        Box::pin(async move { token_answer(TokenSource::access_token(self, connection_id).await) })
    }

    fn replace_rejected<'a>(
        &'a self,
        connection_id: Uuid,
        rejected: &'a SecretString,
    ) -> BoxFuture<'a, Result<SecretString, TokenError>> {
        Box::pin(async move {
            token_answer(TokenSource::replace_rejected(self, connection_id, rejected).await)
        })
    }
}

fn token_answer(
    answer: Result<crate::oauth::AccessToken, crate::oauth::Error>,
) -> Result<SecretString, TokenError> {
    match answer {
        Ok(token) => Ok(token.token),
        Err(e) if e.pauses_schedules() => Err(TokenError::NeedsReauth(e.to_string())),
        // Transient, or refused for a reason of the server's (`invalid_client`): the pass is
        // tried again later, with back-off; the status says why meanwhile.
        Err(e) => Err(TokenError::Unavailable(e.to_string())),
    }
}
