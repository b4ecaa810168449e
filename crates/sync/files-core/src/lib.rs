//! Threadline's two-way file sync, shared by Google Drive and Dropbox: pure decision logic.
//!
//! No database, no network, no clock, no async. The caller (a Drive or Dropbox integration's
//! job, per user connection) reads the synced records' document trees, the link table and
//! the remote tree (a cursor's changes, or a full listing), calls [`plan::plan`], and
//! executes the [`plan::Plan`] it gets back. Everything here is a function of its input, so
//! every rule is tested as a table, as scenarios, and as random histories.
//!
//! - [`hash`]: content hashes — ours (SHA-256), Dropbox's `content_hash` (SHA-256 of the
//!   4 MiB blocks' SHA-256s, streamed), Drive's `md5Checksum` / `sha256Checksum` — and how
//!   two are compared.
//! - [`provider`]: what differs between providers ([`provider::Capabilities`]: the hash it
//!   lists, case-insensitive and NFC names, unique names, markers, trash, the root).
//! - [`names`]: the CRM's name rules, the reversible mapping, the keys two names of a folder
//!   must not share on each side, record folder names, conflict-copy and numbered names.
//! - [`link`]: both sides' items as read ([`link::CrmNode`], [`link::RemoteItem`]), the
//!   link row ([`link::Link`]), markers, derived node ids.
//! - [`decide`]: the per-item tables: content ([`decide::decide_content`]), existence
//!   ([`decide::decide_fate`]), who moved ([`decide::moved`]).
//! - [`mod@plan`]: a run → ordered, crash-safe steps, or a refusal by a guard.
//!
//! # The model
//!
//! The synced tree is `root / <module> / <record> / …the record's documents…`: the root is
//! Drive's `Threadline` folder in My Drive, or Dropbox's app folder itself
//! (`Apps/Threadline CRM`); the modules are `Companies`, `Contacts`, `Projects`, `Meetings`,
//! `Products`. Every item is a [`link::NodeKey`]: the root, a module folder, a record's
//! folder, or a document node (the CRM's `document_nodes` id). A link ties a key to a remote
//! id (Dropbox `id:…`, Drive file id) and remembers what both sides had at the last sync:
//! the CRM's version, our SHA-256, the CRM's parent and name; the remote parent, name, rev
//! (Dropbox `rev`, Drive `headRevisionId`) and hash; the path. One stage per file, as
//! rclone bisync and Maestral do: each side is compared with the link, never with the
//! other side's clock.
//!
//! # Decisions, and why
//!
//! **Changes come from hashes and ids, never from times.** A file changed in the CRM when
//! its SHA-256 differs from the link's; remotely when its hash does (a new rev with the
//! same hash is a touch: the link is refreshed, nothing moves). Changed on both sides to
//! the same content is no conflict; the CRM side's provider-kind hash is computed by the
//! caller when the planner needs it ([`plan::PlanError::HashesNeeded`]). Changed on both
//! sides differently: **both are kept** — the CRM's version keeps the node and the name and
//! is uploaded as a new remote file; the remote file (its id and content) becomes a new
//! CRM node beside it, the conflict copy, and is renamed to its name. One format, not
//! localised: `offer (conflict from Dropbox 2026-12-07 09-30).pdf`, stamped with the remote
//! version's modification time (UTC, to the minute), so that a rerun after a crash names
//! (and ids) the same copy.
//!
//! **Deletes are asymmetric** ([`decide::decide_fate`]). Deleted in the CRM (the trash):
//! deleted remotely — Dropbox `delete_v2` under the file's rev, Drive trash — unless it
//! changed remotely since (the edit wins and comes back as a new CRM document; the trashed
//! node stays restorable). A folder is deleted remotely only if nothing under it must be
//! kept. Restoring from the trash puts it back (a live node without a link is uploaded).
//! **Deleted remotely: never deleted in the CRM.** The link becomes
//! [`link::LinkState::GoneRemotely`] (Maestral's and the "drop the link") and the
//! node is not pushed back until it changes in the CRM; a change made before the remote
//! delete was noticed is pushed back at once (edit beats delete). A folder deleted remotely
//! comes back only when something new must go into it.
//!
//! **Moves are moves.** Identity is the id on both sides, so a rename or a move on either
//! side is one move on the other (Dropbox `move_v2`, Drive parents + name), never a delete
//! and an upload; a record renamed in the CRM moves its folder (one request, whatever it
//! holds). When both sides moved an item, the CRM's place wins (one move undoes the
//! other's). A remote move into *another record's* folder cannot be followed (a CRM document
//! belongs to one record): the item leaves its node, which is kept and tombstoned, and
//! comes into the other record as a new document. Two folders each moved into the other,
//! one on each side, would make a cycle: the CRM's places win there. A user's rename of one of our structural
//! folders is kept; a record folder moved elsewhere is moved back.
//!
//! **Names.** CRM names follow the CRM's rule (`threadline_domain::file_name`, through [`names::crm_refuses`]); a
//! remote name with characters the CRM refuses (Drive accepts `/ \ < > : " | ? *`) is
//! mapped to their full-width forms (`Q1: plan?` → `Q1： plan？`, rclone's and OneDrive's
//! encoding), and mapped back on the way out where the provider accepts the original; a
//! name that cannot be mapped reversibly (controls, a trailing dot or space, a device name,
//! too long) is skipped with the reason. Dropbox compares names without case and after NFC
//! ([`names::remote_key`]) and stores NFC: the link remembers the name as the provider
//! stores it, so an NFD name in the CRM is not renamed back and forth, a case-only rename
//! goes through a temporary name (`move_v2` refuses it), and a listing's stale casing (case-
//! only renames are not listed by `list_folder/continue`) changes nothing. Two items wanting
//! one name in a folder (a CRM `é` NFC and NFD, Drive's duplicates, a remote move onto a
//! taken name): the one already there keeps it, the others get `name (2).ext` on that side
//! only; the links remember both sides' names, so the two stay stable. **Record folders**
//! are named after the record; when another synced record of the kind already has a folder
//! of that name, the record's short id is added — `Acme (3f2a9c1b)` — stable (it does not
//! change when records come and go) and telling the two apart.
//!
//! **Skipped, with a reason on the run**: Google Workspace items and shortcuts
//! (`application/vnd.google-apps.*` other than folders: export them as PDF to have them in
//! the CRM); files over 50 MB either way ([`plan::MAX_FILE_BYTES`], the CRM's limit); names
//! that cannot be mapped; items outside a record's folder; a second copy of a folder we made
//! (a concurrent create: left for the user to merge). A second copy of one of our files
//! with the same content (the same marker) is deleted.
//!
//! **Found again after a crash or a lost answer.** Every run re-reads both sides, so a step
//! found done is recognised: a remote create carries our marker on Drive (`appProperties`
//! [`link::MARKER_PROPERTY`] = the key, [`link::ORG_PROPERTY`] = the organisation) and is
//! adopted by it; on Dropbox, which has no markers, by its place — the same folder, the
//! same name key, and the same content hash (different content: kept as a conflict copy,
//! nothing lost); Dropbox's `create_folder_v2` answers 409 `conflict/folder` for a folder
//! that exists, which is the same adoption. A move found done, an upload found done (the
//! same hash on both sides), a delete of a missing item: only the link is written. CRM
//! writes commit with their link in one transaction, under ids derived from the remote
//! item ([`link::derived_node_id`]). A conflict deletes the original's link first, so an
//! interrupted conflict is decided again, the same way, by the next run.
//!
//! **Listings.** Incremental (Dropbox `list_folder/continue`, Drive `changes.list` from a
//! start token fetched before the first full listing): what is not listed did not change;
//! Drive lists deletes by id, Dropbox by path (`DeletedMetadata` has no id: the links'
//! paths find them, a present listing of the same id is a move). Only what hangs under our
//! root counts: an item moved out of the tree is gone. Full (first run, Dropbox `reset`, a
//! rejected Drive token): reconciles against the links — no duplicates, and a linked item
//! missing is gone **only if the listing completed**.
//!
//! **Guards** ([`plan::Guards`]): a run that would delete more than 10 files remotely, or
//! more than a quarter of the linked files once it deletes 3 (rclone bisync allows half;
//! Nextcloud asks above 100; ten is a folder's worth, and above it a person confirms), or
//! in which as many linked files vanished remotely (a lost access looks like that), or
//! that finds the root or a record folder missing, a record folder that held 3 or more
//! linked files emptied, or a complete listing empty, is refused ([`plan::Refusal`]): the
//! caller writes nothing and marks the connection for review; "apply anyway" sets the
//! `allow_*` switches for one run.
//!
//! **Order** ([`plan::Plan`]): the CRM's folders, moves and new documents (imports and
//! conflict copies, linked at once, before any remote write can take their item's link);
//! then the remote folders, moves and new files (a parent before its children, a name
//! freed before it is taken, a cycle of renames through a temporary name); then new
//! contents both ways; remote deletes last; then link-only
//! writes; the cursor very last. The executor stops at the first failure.
//!
//! **Not here** (the caller's): HTTP, retries and backoff, rate limits, leases, the
//! adapters' mapping of wire formats to [`link::RemoteItem`] (Dropbox parent paths to
//! folder ids; Drive `trashed` to a delete), resumable transfers, verifying downloads
//! against the listed hash, and the schedule.

pub mod decide;
pub mod hash;
pub mod link;
pub mod names;
pub mod plan;
pub mod provider;

pub use decide::{Content, Fate};
pub use hash::{dropbox_content_hash, DropboxHasher, HashKind, RemoteHash};
pub use link::{node_sync_state, NodeSyncState};
pub use link::{CrmFile, CrmNode, CrmRecord, Link, LinkState, NodeKey, RecordKind, RecordRef};
pub use link::{RemoteItem, RemoteKind};
pub use plan::{
    plan, Guards, Listing, Plan, PlanError, PlanInput, Refusal, RemoteRun, Skip, SkipKind, Step,
};
pub use provider::{Capabilities, Provider};
