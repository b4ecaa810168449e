//! Threadline's pure domain logic, shared by the extension's WASM core and the server.
//!
//! Nothing here touches a browser, a network or a disk: every function is a plain
//! transformation that can be tested as a table.
//!
//! - [`address`]: parsing and normalising email addresses, match keys.
//! - [`company`]: free-mail domains and company suggestions from a domain.
//! - [`matching`]: turning looked-up candidates into a per-address verdict.
//! - [`message`]: Gmail message and thread identities.
//! - [`privacy`]: the never-log list, internal domains (colleagues), own addresses.
//! - [`api`]: the JSON wire types of `/api/v1`.
//! - [`card`]: the contact panel: which matched contact it shows, what of its card.
//! - [`lookup_cache`]: the extension's expiring cache of address verdicts.
//! - [`send`]: deciding when an outgoing email was really sent.
//! - [`date`]: calendar dates on the wire (`YYYY-MM-DD`) without chrono's format parser.
//! - [`text`]: which characters a stored text may hold (controls and bidi overrides refused).

pub mod address;
pub mod api;
pub mod card;
pub mod company;
pub mod date;
pub mod file_name;
pub mod lookup_cache;
pub mod matching;
pub mod message;
pub mod privacy;
pub mod send;
pub mod text;
