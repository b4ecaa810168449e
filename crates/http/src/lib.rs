//! Threadline's HTTP layer: the `/api/v1` JSON API (and, next, the web app) over the CRM
//! model, the connections and the sync engine.
//!
//! - [`app`]: the router ([`app::router`]) and its shared [`state::AppState`].
//! - [`routes`]: one module per resource; an integration's routes are its own crate's
//!   (`crates/integrations/*/http`), given to [`app::router`] by the server's registry.
//! - [`auth`]: bearer tokens and the [`auth::AuthUser`] extractor (it derefs to the CRM
//!   model's `Actor`).
//! - [`error`]: [`ApiError`], the one error of the API, into which every lower layer's error
//!   converts, here and nowhere else.
//! - [`extract`]: the JSON body extractor whose every rejection is an [`ApiError`].
//! - [`idempotency`]: replaying POSTs sent again with the same `Idempotency-Key`.
//! - [`openapi`]: the OpenAPI 3.1 document, built from the same registrations as the router.
//! - [`metrics`]: Prometheus metrics (`GET /metrics`) and the middleware that records them.
//! - [`rate_limit`]: per-token (else per-address) request rates, answered 429 past them.
//! - [`public_url`]: where people reach this server, for the absolute links to the web
//!   app's pages in the answers.
//! - [`serve`]: the accept loop: connection cap, header/idle/body timeouts, shutdown
//!   deadline.
//!
//! Invariants: the only layer that knows HTTP (axum, status codes, headers); no SQL of its
//! own beyond reads that serve one route; names no integration.

pub mod app;
pub mod auth;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod metrics;
pub mod openapi;
pub mod public_url;
pub mod rate_limit;
pub mod routes;
pub mod serve;
pub mod state;

// The layers below, under short names for this crate's modules.
pub(crate) use threadline_connections::{self as connections, oauth};
pub(crate) use threadline_crm::{accounts, documents, ids, privacy, records, store, validate};
#[cfg(test)]
pub(crate) use threadline_storage::testing;
pub(crate) use threadline_storage::{db, secrets};
pub(crate) use threadline_sync_engine as sync;

pub use app::router;
pub use error::{ApiError, ServerError};
pub use public_url::PublicUrl;
pub use state::AppState;
