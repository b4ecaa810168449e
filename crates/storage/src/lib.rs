//! Threadline's storage layer: where the data is kept, and nothing about what it means.
//!
//! - [`db`]: the database — SQLite (the default, one file) or PostgreSQL, through one set of
//!   portable queries on sqlx's `Any` driver; [`db::Db::write`] (one writer on SQLite,
//!   SERIALIZABLE with retries on PostgreSQL); the schema's migrations (`migrations/`).
//! - [`errors`]: what a database error means on either engine (transient, full, read-only,
//!   unique violation) and [`Error`], the error of opening and migrating.
//! - [`files`]: the data directory's files are private (folders 0700, files 0600).
//! - [`secrets`]: secrets at rest (XChaCha20-Poly1305, a key file with rotation; secrets
//!   whose `Debug` is redacted).
//! - [`testing`]: a throwaway database per test, on the engine the environment picks.
//!
//! Invariants: no knowledge of records, users, providers or HTTP; depends on no other
//! Threadline crate.

pub mod db;
pub mod errors;
pub mod files;
pub mod secrets;
pub mod testing;

pub use db::Db;
pub use errors::Error;
