//! The CRM model: what Threadline keeps and the rules it keeps it by, whoever asks (the JSON
//! API, the web app, the CLI, a sync).
//!
//! - [`actor`]: who acts — a user of an organisation; every read and write is scoped by it.
//! - [`records`]: companies, contacts, projects, meetings, products, tasks, tracked emails:
//!   versions (ETag), soft delete, the changes feed ([`records::log_change`]), keyset
//!   pagination, search; [`records::Record`] / [`records::Editable`] are what each type
//!   implements.
//! - [`card`]: a contact's card, what the contact panel beside a Gmail thread shows.
//! - [`documents`]: each record's folders and files; content on disk by SHA-256.
//! - [`accounts`]: organisations, users and API tokens; the web app's sign-in: passwords
//!   and the throttled sign-in, web sessions, the setup link and invitations.
//! - [`import`]: contacts from a CSV file (Google / Outlook exports), through the same
//!   checks and save as the API.
//! - [`tracking`]: tracking an email — the product's central write; [`email_source`]: its
//!   raw RFC 822 source, kept whole (gzip) and parsed, with its attachments.
//! - [`privacy`]: the never-log list, internal domains, own addresses; what tracking and new
//!   contacts obey.
//! - [`ids`], [`validate`]: message ids and field checks; [`store`]: batch loaders.
//! - [`error`]: [`CrmError`], the model's one error (a [`error::Reason`] and a stable code).
//!
//! Invariants: no HTTP (no axum, no status codes, no headers), no provider; depends only on
//! `threadline-storage` and `threadline-domain`.

pub mod accounts;
pub mod actor;
pub mod card;
pub mod documents;
pub mod email_source;
pub mod error;
pub mod ids;
pub mod import;
pub mod privacy;
pub mod records;
pub mod store;
pub mod tracking;
pub mod validate;

pub use actor::Actor;
pub use error::{CrmError, CrmResult, Reason};
