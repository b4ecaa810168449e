//! Documents: a tree of folders and files per record (company, contact, project, meeting,
//! product), as in the CRM's UI; the routes are in `routes::documents`.
//!
//! - names: which file and folder names are accepted, and why not, is
//!   `threadline_domain::file_name` (one rule for the CRM and the file-sync core).
//! - [`blobs`]: the content on disk, stored once by SHA-256, streamed in and out, 50 MB per
//!   file.
//! - [`tree`]: folders, files, versions and the trash in the database.
//! - [`retention`]: how long the trash and old versions are kept, and the collection that
//!   removes them and content nothing references any more.
//! - [`usage`]: the storage an organisation's documents use.
//! - [`upload`]: a file arriving (the checks, the content, the node), for the API and the
//!   web app alike; which node has content to download.

pub mod blobs;
pub mod retention;
pub mod tree;
pub mod upload;
pub mod usage;
