//! Documents: a tree of folders and files per record (company, contact, project, meeting,
//! product), as in the CRM's UI; the routes are in `routes::documents`.
//!
//! - [`names`]: which file and folder names are accepted, and why not.
//! - [`blobs`]: the content on disk, stored once by SHA-256, streamed in and out, 50 MB per
//!   file.
//! - [`tree`]: folders, files, versions and the trash in the database.

pub mod blobs;
pub mod names;
pub mod tree;
