//! Integration tests of the HTTP API: the real router on a temporary SQLite database,
//! called in-process with `tower::ServiceExt::oneshot`.

mod common;

mod auth;
mod contacts;
mod idempotency;
mod isolation;
mod json_errors;
mod lookup;
mod tasks;
mod tracked_emails;
