//! Integration tests of the HTTP API: the real router on a throwaway database (SQLite, or
//! PostgreSQL with THREADLINE_TEST_DATABASE_URL), called in-process with
//! `tower::ServiceExt::oneshot`; and the rules of portable SQL on that engine.

mod common;

mod auth;
mod connections;
mod contact_card;
mod contacts;
mod document_sync;
mod document_sync_team;
mod documents;
mod extension;
mod faults;
mod google_account;
mod google_contacts;
mod idempotency;
mod import;
mod isolation;
mod json_errors;
mod limits;
mod lookup;
mod meetings;
mod oauth;
mod oauth_dropbox;
mod openapi;
mod portable_sql;
mod privacy;
mod probes;
mod records;
mod storage;
mod sync;
mod tasks;
mod text;
mod tokens;
mod tracked_email_links;
mod tracked_email_source;
mod tracked_emails;
mod tracked_emails_team;
