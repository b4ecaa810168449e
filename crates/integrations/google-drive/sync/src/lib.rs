//! Google Drive for the document sync: the Drive API v3 client behind
//! `threadline-files-sync`'s provider-neutral [`RemoteFiles`](threadline_files_sync::remote::RemoteFiles).
//! The executor and the decisions (`threadline-files-core`) never name Drive; this crate
//! owns its wire format. The integration (its job and its declaration on the sync engine's
//! seam) comes here next; `crates/integrations/google-drive/README.md` says what is built.
//!
//! - [`client`]: [`DriveClient`] — listings (in full from a start page token taken first,
//!   or incremental from `changes.list`; a refused token lists in full), streamed
//!   downloads checked against the revision, folders and files stamped with our marker
//!   (`appProperties` `threadlineNode` / `threadlineOrg`), multipart and resumable uploads
//!   streamed from disk, moves, trashing, errors classified for the executor, back-off.

pub mod client;
pub mod integration;

pub use client::{DriveClient, RetryPolicy};
pub use integration::{build, NAME, SCOPE};
