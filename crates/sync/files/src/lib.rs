//! What the document sync's two providers (Google Drive, Dropbox) share, above the sync
//! engine and below their integrations (which may not depend on each other):
//!
//! - [`store`]: the link table (`file_links`, migration 0017), the core's `Link` per
//!   connection;
//! - [`settings`]: what a connection syncs (records, whole modules) and its cursor
//!   (migration 0018), and waking the syncs that cover a record when its documents change;
//! - [`remote`]: [`remote::RemoteFiles`], what the executor asks of a provider;
//! - [`run`]: [`run::FileSync`], the executor of `threadline-files-core`'s plans (the
//!   checklist in `crates/sync/files-core/README.md`);
//! - [`integration`]: [`integration::FilesIntegration`], the engine's `Integration` both
//!   providers declare themselves with, and turning the sync on and off.
//!
//! Invariants: names no provider API (the providers' clients are their integrations');
//! every write of a link goes through [`store`], on the caller's connection; a CRM write
//! and its link commit in one transaction fenced by the run's lease; the cursor is saved
//! last.

pub mod integration;
pub mod remote;
pub mod run;
pub mod settings;
pub mod store;

pub use store::{StoreError, StoreResult};
