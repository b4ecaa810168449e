//! Dropbox API v2. Today only its error envelope (`error`), in which the fault layer answers
//! Dropbox's requests. Its services go beside it, one module per service (`files` on the RPC,
//! upload and download routes, `oauth` for `/oauth2/token` and `auth/token/revoke`), with
//! their router wrapped by `faults::layer(…, Provider::Dropbox)` in `lib.rs`.

pub mod error;

pub use error::{DropboxError, DropboxFault};
