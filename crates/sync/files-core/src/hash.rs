//! Content hashes: ours (SHA-256 of the bytes), Dropbox's `content_hash`, Drive's
//! `md5Checksum` / `sha256Checksum`, and how two of them are compared.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Dropbox's block size for `content_hash`: 4 MiB.
pub const DROPBOX_BLOCK: usize = 4 * 1024 * 1024;

/// Which hash a provider gives for a file's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HashKind {
    /// SHA-256 of the bytes: ours, and Drive's `sha256Checksum` (missing on some old files).
    Sha256,
    /// Drive's `md5Checksum` (binary files only).
    Md5,
    /// Dropbox's `content_hash`: SHA-256 of the concatenated SHA-256s of 4 MiB blocks.
    DropboxContentHash,
}

/// A content hash as a provider gave it: its kind and lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RemoteHash {
    pub kind: HashKind,
    pub hex: String,
}

impl RemoteHash {
    pub fn new(kind: HashKind, hex: impl Into<String>) -> RemoteHash {
        RemoteHash {
            kind,
            hex: hex.into().to_ascii_lowercase(),
        }
    }
}

/// Dropbox's `content_hash`, fed in pieces of any size (a streamed upload or download):
/// split the content into 4 MiB blocks, SHA-256 each block, concatenate the raw 32-byte
/// digests, SHA-256 that, lowercase hex (Dropbox's "Content hash" reference;
/// `dropbox/dropbox-api-content-hasher`). Memory stays at one block's hasher.
#[derive(Clone, Default)]
pub struct DropboxHasher {
    overall: Sha256,
    block: Sha256,
    in_block: usize,
}

impl DropboxHasher {
    pub fn new() -> DropboxHasher {
        DropboxHasher::default()
    }

    pub fn update(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let take = (DROPBOX_BLOCK - self.in_block).min(bytes.len());
            self.block.update(&bytes[..take]);
            self.in_block += take;
            bytes = &bytes[take..];
            if self.in_block == DROPBOX_BLOCK {
                self.finish_block();
            }
        }
    }

    fn finish_block(&mut self) {
        let block = std::mem::take(&mut self.block).finalize();
        self.overall.update(block);
        self.in_block = 0;
    }

    /// The hash as Dropbox's `content_hash` field spells it.
    pub fn finish(mut self) -> String {
        if self.in_block > 0 {
            self.finish_block();
        }
        hex(&self.overall.finalize())
    }
}

/// Dropbox's `content_hash` of `bytes`.
pub fn dropbox_content_hash(bytes: &[u8]) -> String {
    let mut h = DropboxHasher::new();
    h.update(bytes);
    h.finish()
}

/// SHA-256 of `bytes`, lowercase hex (the CRM's content hash).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a CRM content (its SHA-256, and the other hashes the caller computed of it)
/// is the content a provider's hash names. `None`: the CRM side lacks a hash of that kind,
/// so the question cannot be answered (the planner asks the caller for it).
pub fn same_content(sha256: &str, others: &[RemoteHash], remote: &RemoteHash) -> Option<bool> {
    if remote.kind == HashKind::Sha256 {
        return Some(sha256.eq_ignore_ascii_case(&remote.hex));
    }
    others
        .iter()
        .find(|h| h.kind == remote.kind)
        .map(|h| h.hex.eq_ignore_ascii_case(&remote.hex))
}
