//! Threadline's two-way file sync, shared by Google Drive and Dropbox: pure decision logic.
//!
//! No database, no network, no clock, no async. Modules so far: [`hash`] (content hashes,
//! Dropbox's `content_hash`), [`provider`] (what differs between providers), [`names`]
//! (the name mapping), [`link`] (both sides' items and the link row), [`decide`] (the
//! per-item decision tables).

pub mod decide;
pub mod hash;
pub mod link;
pub mod names;
pub mod plan;
pub mod provider;

pub use decide::{Content, Fate};
pub use hash::{dropbox_content_hash, DropboxHasher, HashKind, RemoteHash};
pub use link::{CrmFile, CrmNode, CrmRecord, Link, LinkState, NodeKey, RecordKind, RecordRef};
pub use link::{RemoteItem, RemoteKind};
pub use plan::{plan, Guards, Listing, Plan, PlanError, PlanInput, Refusal, RemoteRun, Step};
pub use provider::{Capabilities, Provider};
