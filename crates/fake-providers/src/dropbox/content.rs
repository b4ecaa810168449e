//! File content: stored once, as a list of shared chunks (`Bytes`), read from a request body
//! as it streams in and written to a response body as a stream, so a 150 MiB upload costs the
//! fake about its size once; and Dropbox's `content_hash`.
//!
//! `content_hash` (Dropbox's "Content hash" reference page and the official hasher,
//! github.com/dropbox/dropbox-api-content-hasher `python/dropbox_content_hasher.py`): split
//! the content into blocks of 4 MiB (4,194,304 bytes, the last one shorter), SHA-256 each
//! block, concatenate the 32-byte digests, SHA-256 that, in lowercase hex. Empty content has
//! no block: the hash of nothing, `e3b0c442…b855` (the value in `files.stone`'s examples).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use bytes::BytesMut;
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};

/// Dropbox's block size for `content_hash`.
pub const BLOCK_SIZE: usize = 4 * 1024 * 1024;

/// The most one request may carry (`files.stone`: "The request payload must be at most 150
/// MiB.").
pub const MAX_PAYLOAD: u64 = 150 * 1024 * 1024;

/// How much a stored chunk holds at most: the body's small frames are gathered into chunks of
/// this size, so that a big file is a few hundred chunks, not tens of thousands of frames.
const CHUNK: usize = 1024 * 1024;

/// Dropbox's `content_hash`, fed in pieces of any size.
#[derive(Clone, Default)]
pub struct ContentHasher {
    overall: Sha256,
    block: Sha256,
    in_block: usize,
}

impl ContentHasher {
    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let take = (BLOCK_SIZE - self.in_block).min(data.len());
            self.block.update(&data[..take]);
            self.in_block += take;
            data = &data[take..];
            if self.in_block == BLOCK_SIZE {
                self.end_block();
            }
        }
    }

    fn end_block(&mut self) {
        let block = std::mem::take(&mut self.block).finalize();
        self.overall.update(block);
        self.in_block = 0;
    }

    /// The lowercase hex digest.
    pub fn finish(mut self) -> String {
        if self.in_block > 0 {
            self.end_block();
        }
        hex(&self.overall.finalize())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `content_hash` of a whole content.
pub fn content_hash(data: &[u8]) -> String {
    let mut hasher = ContentHasher::default();
    hasher.update(data);
    hasher.finish()
}

/// A file's bytes, shared (cloning is cheap): chunks in order.
#[derive(Clone, Default)]
pub struct Content {
    chunks: Arc<Vec<Bytes>>,
    len: u64,
}

impl Content {
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A copy in one buffer (for the test controls).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len as usize);
        for chunk in self.chunks.iter() {
            out.extend_from_slice(chunk);
        }
        out
    }

    /// The bytes as a response body, streamed chunk by chunk without a copy.
    pub fn body(&self) -> Body {
        let chunks = self.chunks.clone();
        let stream = futures_util::stream::iter(
            (0..chunks.len()).map(move |i| Ok::<_, std::convert::Infallible>(chunks[i].clone())),
        );
        Body::from_stream(stream)
    }
}

impl From<Vec<u8>> for Content {
    fn from(data: Vec<u8>) -> Content {
        let mut builder = ContentBuilder::default();
        builder.push(Bytes::from(data));
        builder.finish()
    }
}

/// Content being gathered (a request body, an upload session's appends).
#[derive(Default)]
pub struct ContentBuilder {
    chunks: Vec<Bytes>,
    current: BytesMut,
    len: u64,
}

impl ContentBuilder {
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends bytes; a large piece is kept as it is, small ones are gathered.
    pub fn push(&mut self, data: Bytes) {
        self.len += data.len() as u64;
        if data.len() >= CHUNK {
            self.flush();
            self.chunks.push(data);
            return;
        }
        if self.current.len() + data.len() > CHUNK {
            self.flush();
        }
        if self.current.capacity() == 0 {
            self.current.reserve(CHUNK);
        }
        self.current.extend_from_slice(&data);
    }

    /// Appends what another builder gathered (its chunks move, no copy).
    pub fn append(&mut self, mut other: ContentBuilder) {
        other.flush();
        self.flush();
        self.len += other.len;
        self.chunks.append(&mut other.chunks);
    }

    fn flush(&mut self) {
        if !self.current.is_empty() {
            self.chunks.push(std::mem::take(&mut self.current).freeze());
        }
    }

    /// Every byte so far, in order, without a copy.
    pub fn chunks(&mut self) -> &[Bytes] {
        self.flush();
        &self.chunks
    }

    pub fn finish(mut self) -> Content {
        self.flush();
        Content {
            chunks: Arc::new(self.chunks),
            len: self.len,
        }
    }

    /// The content so far, shared (the builder keeps its copy of the chunk list, not of the
    /// bytes).
    pub fn snapshot(&mut self) -> Content {
        self.flush();
        Content {
            chunks: Arc::new(self.chunks.clone()),
            len: self.len,
        }
    }
}

/// Why a request body could not be read.
pub enum ReadError {
    /// More than [`MAX_PAYLOAD`] bytes.
    TooLarge,
    /// The connection failed mid-body.
    Broken,
}

/// Reads a request body as it streams in, up to [`MAX_PAYLOAD`].
pub async fn read_body(body: Body) -> Result<ContentBuilder, ReadError> {
    let mut body = body;
    let mut builder = ContentBuilder::default();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ReadError::Broken)?;
        if let Ok(data) = frame.into_data() {
            if builder.len() + data.len() as u64 > MAX_PAYLOAD {
                return Err(ReadError::TooLarge);
            }
            builder.push(data);
        }
    }
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The simplest statement of the algorithm, to check the incremental hasher against.
    fn reference(data: &[u8]) -> String {
        let mut digests = Vec::new();
        for block in data.chunks(BLOCK_SIZE) {
            digests.extend_from_slice(&Sha256::digest(block));
        }
        hex(&Sha256::digest(&digests))
    }

    /// The splits the official hasher's tests feed (python/run_tests.py): pieces across,
    /// at and around block boundaries.
    #[test]
    fn the_hasher_agrees_with_the_reference_whatever_the_pieces() {
        const B: usize = BLOCK_SIZE;
        let splits: &[&[usize]] = &[
            &[0],
            &[100],
            &[100, 10],
            &[B - 1],
            &[B],
            &[B + 1],
            &[B - 2, 1],
            &[B - 2, 2],
            &[B - 2, 3],
            &[B - 2, B + 1],
            &[B - 2, B + 3],
            &[5, 5, 5, B],
            &[5, 5, 5, 2 * B],
        ];
        let longest = splits
            .iter()
            .map(|s| s.iter().sum::<usize>())
            .max()
            .unwrap();
        let data: Vec<u8> = (0..longest).map(|i| (i * 7 + i / 251) as u8).collect();
        for split in splits {
            let total: usize = split.iter().sum();
            let mut hasher = ContentHasher::default();
            let mut at = 0;
            for piece in *split {
                hasher.update(&data[at..at + piece]);
                at += piece;
            }
            assert_eq!(hasher.finish(), reference(&data[..total]), "{split:?}");
        }
    }

    /// A body over 150 MiB is refused as it streams in, without being held whole.
    #[tokio::test]
    async fn a_body_over_the_limit_is_refused() {
        let piece = Bytes::from(vec![0u8; CHUNK]);
        let pieces = (MAX_PAYLOAD as usize / CHUNK) + 1;
        let stream = futures_util::stream::iter(
            (0..pieces).map(move |_| Ok::<_, std::convert::Infallible>(piece.clone())),
        );
        assert!(matches!(
            read_body(Body::from_stream(stream)).await,
            Err(ReadError::TooLarge)
        ));
        let exact = futures_util::stream::iter(
            (0..MAX_PAYLOAD as usize / CHUNK)
                .map(|_| Ok::<_, std::convert::Infallible>(Bytes::from_static(&[1u8; 16]))),
        );
        assert!(read_body(Body::from_stream(exact)).await.is_ok());
    }

    #[test]
    fn a_builder_keeps_bytes_in_order_and_gathers_small_pieces() {
        let mut builder = ContentBuilder::default();
        let mut want = Vec::new();
        for i in 0..3000u32 {
            let piece = vec![(i % 256) as u8; 1000];
            want.extend_from_slice(&piece);
            builder.push(Bytes::from(piece));
        }
        let mut other = ContentBuilder::default();
        other.push(Bytes::from(vec![9u8; 2 * CHUNK]));
        want.extend(std::iter::repeat_n(9u8, 2 * CHUNK));
        builder.append(other);
        assert!(builder.chunks().len() <= 6, "{}", builder.chunks().len());
        let content = builder.finish();
        assert_eq!(content.len(), want.len() as u64);
        assert!(content.to_vec() == want);
    }
}
