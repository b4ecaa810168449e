//! Threadline's Dropbox document sync: [`client::DropboxClient`], the Dropbox API v2 client
//! behind the provider-neutral [`threadline_files_sync::remote::RemoteFiles`] that the files
//! executor drives, and [`integration`], its declaration on the engine's seam (hourly, on
//! each user's Dropbox connection). Its routes are the document sync's shared ones
//! (`threadline-http`'s `routes::document_sync`).
//!
//! # Dropbox as the executor sees it
//!
//! - **The root is the app folder.** An "App folder" app sees `Apps/<app name>` of the
//!   user's Dropbox as `""`; its id for the core is `""` too, so an item at the top of the
//!   app folder has `parent: Some("")`. Paths from the core (`/Companies/Acme/offer.pdf`)
//!   are the API's paths.
//! - **Ids are `id:…`**, kept across moves and renames; a write answers the item as
//!   Dropbox stored it (its name in Dropbox's casing and NFC form, its `rev`, its
//!   `content_hash`).
//! - **Parents are paths.** Dropbox lists `path_lower`, not parent ids: the client resolves
//!   each item's parent path, once every page is read, with the folders of the same listing,
//!   then with the links' folders (`ListRequest::folders`, keyed by `remote::path_key`); a
//!   parent it cannot resolve is `None` (outside the tree, for the core).
//! - **Deletes are paths** (`DeletedMetadata` has no id): `RemoteRun::deleted_paths`.
//! - **Listings**: `files/list_folder` (recursive, from `""`) and `/continue` until
//!   `has_more` is false; from a stored cursor `/continue` alone (incremental); a cursor
//!   Dropbox resets (409 `reset`) is answered by a full listing, never an error.
//! - **Content**: downloads by `rev:` (the bytes of the listed revision, streamed); uploads
//!   stream from the blob's file, in one `files/upload` up to 8 MiB and through an upload
//!   session in 8 MiB chunks above (memory bounded by a chunk); `mode: add` for a new file,
//!   `update` under the linked rev with `strict_conflict` for new content, never
//!   `autorename`: a conflict is the executor's to decide.
//!
//! See [`client`] for the wire details: errors, retries, the `Dropbox-API-Arg` header.

pub mod client;
pub mod integration;

pub use client::{DropboxClient, RetryPolicy};
pub use integration::{build, NAME};
