//! The Threadline server: the `/api/v1` JSON API behind the Gmail tracking bar.
//!
//! - [`app`]: the router ([`app::router`]) and its shared [`state::AppState`].
//! - [`routes`]: one module per resource.
//! - [`auth`]: bearer tokens and the [`auth::AuthUser`] extractor.
//! - [`extract`]: the JSON body extractor whose every rejection is an [`error::ApiError`].
//! - [`idempotency`]: replaying POSTs sent again with the same `Idempotency-Key`.
//! - [`db`], [`store`]: the database (SQLite or PostgreSQL, one set of queries) and the
//!   loaders shared by several routes.
//! - [`documents`]: each record's folders and files (content on disk by SHA-256).
//! - [`ids`], [`validate`]: message ids and request checks.
//! - [`admin`]: organisations, users and tokens, for the CLI and for tests.
//! - [`connections`]: each user's connections to outside services (tokens encrypted with
//!   [`secrets`], the keys of the server's configuration).
//! - [`sync`]: the sync engine: durable schedules, leases, runs and the runner that `serve`
//!   starts, and the integrations — Google Calendar, both ways ([`sync::calendar`]).
//! - [`oauth`]: connecting a Google account (authorization code with PKCE) and the sync
//!   engine's valid access tokens (refresh ahead of expiry, one refresh at a time).
//! - [`metrics`]: Prometheus metrics (`GET /metrics`) and the middleware that records them.
//! - [`import`]: `import contacts --csv FILE` (streamed, batched, through the API's checks).
//! - [`cli`], [`config`]: the `threadline-server` command line and its TOML configuration file.
//! - [`testing`]: a throwaway database per test, on the engine the environment picks.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod state;
pub mod sync;

pub use threadline_storage::{db, secrets, testing};
// The CRM model (`threadline-crm`), under the names the server's modules and tests use.
pub use threadline_crm::accounts as admin;
pub use threadline_crm::{accounts, documents, ids, import, records, store, validate};
// Connections and OAuth (`threadline-connections`).
pub use threadline_connections::{self as connections, oauth};

pub use app::router;
pub use error::{ApiError, ServerError};
pub use state::AppState;
