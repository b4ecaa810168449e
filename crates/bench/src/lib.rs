//! Threadline's server benchmarks (figures in BENCHMARKS.md, "Server"):
//!
//! - [`dataset`]: the data, a pure function of a seed; [`seed`] writes it into an empty
//!   server database (SQLite or PostgreSQL) through the server's own schema; [`verify`]
//!   reads a sample back through the API.
//! - [`workload`] + [`lookup`]: `POST /api/v1/lookup` of 20-address batches by many
//!   concurrent clients against the running release server, and the same lookups as the
//!   endpoint's raw SQL on the same database, side by side ([`stats`]: p50, p99, rate).
//! - [`pages`]: the web app's contacts list, a search and a company page with a 1,000-entry
//!   timeline, signed in over HTTP against the release server, and the same pages' calls
//!   into the CRM model ("raw") side by side.
//! - [`files`]: 50 MiB uploads and downloads through the documents API against a raw
//!   loopback copy, with the server's memory ([`server`] runs the binary and reads
//!   `/proc`).
//! - [`suite`]: all of it for one engine, and the report; [`cpu`]: where the CPU went.

pub mod api;
pub mod cpu;
pub mod dataset;
pub mod files;
pub mod lookup;
pub mod pages;
pub mod seed;
pub mod server;
pub mod stats;
pub mod suite;
pub mod verify;
pub mod workload;
