//! What the document sync's two providers (Google Drive, Dropbox) share, above the sync
//! engine and below their integrations (which may not depend on each other): the link table
//! ([`store`]). The executor of `threadline-files-core`'s plans over a provider-neutral
//! remote comes here next (see `crates/integrations/README.md`).
//!
//! Invariants: names no provider API (the providers' clients are their integrations');
//! every write of a link goes through [`store`], on the caller's connection.

pub mod integration;
pub mod remote;
pub mod run;
pub mod settings;
pub mod store;

pub use store::{StoreError, StoreResult};
