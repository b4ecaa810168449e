//! The Google Contacts export, one way (CRM → Google): the People API v1 client, its
//! tables and the executor of `threadline-contacts-core`'s plans. The design, step by step,
//! is `crates/integrations/google-contacts/README.md`.
//!
//! - [`client`]: the People API v1 HTTP client (paging, sync tokens, batches, back-off).
//! - [`store`]: the tables (migration 0015): the export row and the links.
//! - [`group`]: our contact group, found by its stamp, created, or adopted on a 409.
//! - [`job`]: one run of the export (preconditions, group, CRM side, listing, plan, writes,
//!   position) and the scheduler's job.
//! - [`integration`]: its declaration on the sync engine's seam (`google_contacts`).

pub mod client;
pub mod group;
pub mod integration;
pub mod job;
pub mod store;

pub use integration::{GoogleContacts, Switched, NAME, SCOPES};
pub use job::{ContactsExport, RunCounts, RunOptions};
