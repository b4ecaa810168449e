//! Content-addressed file storage on local disk: each content once, named by its SHA-256.
//!
//! Layout under the data directory: `blobs/ab/cd/<sha256 hex>` (the first two pairs of hex
//! digits as folders, so that no folder grows huge), and `blobs/tmp/` for uploads in
//! progress (on the same file system, so that the final rename is atomic).
//!
//! A write streams the body into a temporary file through a SHA-256 hasher and a byte
//! counter; past [`MAX_FILE_BYTES`] it stops, deletes the temporary file and answers 413.
//! At the end the file is flushed and fsynced, then renamed to its hash's path (or dropped,
//! when that content is already stored), and the directory is fsynced. The temporary file
//! is deleted whatever ends the write early (an error, the client going away: the future is
//! dropped, and [`TempFile`]'s `Drop` removes it). Folders are made 0700 and files 0600,
//! whatever the umask (`threadline_storage::files`).
//!
//! Nothing here touches the database: a blob nobody references (an upload whose
//! transaction failed) is left for a later sweep, which must only remove unreferenced blobs
//! older than the longest upload.

use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::{CrmError, Reason};
use threadline_storage::files;

/// Largest file, in bytes: 50 MB (Dropbox's per-file limit for the sync, in MiB).
pub const MAX_FILE_BYTES: u64 = 50 * 1024 * 1024;

/// Size of the write buffer and of download chunks: large, so that a 50 MB file is a few
/// hundred system calls and allocations, not tens of thousands.
const IO_CHUNK: usize = 512 * 1024;

/// A stored content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    /// Lowercase hex SHA-256 of the content.
    pub sha256: String,
    pub size: u64,
    /// False when the same content was stored already (this upload added nothing on disk).
    pub newly_stored: bool,
}

/// The blob directory.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    /// The store under `<data_dir>/blobs` (created on the first write).
    pub fn in_data_dir(data_dir: &Path) -> BlobStore {
        BlobStore {
            root: data_dir.join("blobs"),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where uploads in progress are written.
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// The path of the content with this hash (which must be 64 lowercase hex digits).
    pub fn path_of(&self, sha256: &str) -> Result<PathBuf, CrmError> {
        if sha256.len() != 64
            || !sha256
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(CrmError::internal(format!("bad content hash {sha256:?}")));
        }
        Ok(self
            .root
            .join(&sha256[0..2])
            .join(&sha256[2..4])
            .join(sha256))
    }

    /// Stores a stream of chunks (an upload's body), at most [`MAX_FILE_BYTES`]
    /// (`payload_too_large` past it, counted while streaming whatever its announced length
    /// said).
    pub async fn store_stream<S, E>(&self, stream: S) -> Result<StoredBlob, CrmError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let tmp_dir = self.tmp_dir();
        create_private_dir_all(&tmp_dir).await?;
        let temp = TempFile {
            path: tmp_dir.join(format!(
                "{}.part",
                threadline_storage::db::new_id().simple()
            )),
        };
        let file = tokio::fs::OpenOptions::from(files::create_new_private())
            .open(&temp.path)
            .await
            .map_err(io_error)?;
        let mut out = tokio::io::BufWriter::with_capacity(IO_CHUNK, file);
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let mut stream = std::pin::pin!(stream);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                CrmError::new(
                    Reason::BadInput,
                    "invalid_body",
                    format!("the upload could not be read to its end: {e}"),
                )
            })?;
            size += chunk.len() as u64;
            if size > MAX_FILE_BYTES {
                // `temp` is dropped on return: the partial file goes.
                return Err(file_too_large());
            }
            hasher.update(&chunk);
            out.write_all(&chunk).await.map_err(io_error)?;
        }
        out.flush().await.map_err(io_error)?;
        let file = out.into_inner();
        file.sync_all().await.map_err(io_error)?;
        drop(file);

        let sha256 = hex(&hasher.finalize());
        let target = self.path_of(&sha256)?;
        let newly_stored = if tokio::fs::try_exists(&target).await.map_err(io_error)? {
            false
        } else {
            let dir = target
                .parent()
                .expect("a blob path has folders")
                .to_path_buf();
            create_private_dir_all(&dir).await?;
            tokio::fs::rename(&temp.path, &target)
                .await
                .map_err(io_error)?;
            sync_dir(dir).await?;
            true
        };
        drop(temp); // removes the temporary file when it was not renamed
        Ok(StoredBlob {
            sha256,
            size,
            newly_stored,
        })
    }

    /// Opens a stored content for reading, as a stream of large chunks.
    pub async fn open(
        &self,
        sha256: &str,
    ) -> Result<impl Stream<Item = std::io::Result<Bytes>> + Send + 'static, CrmError> {
        let path = self.path_of(sha256)?;
        let file = tokio::fs::File::open(&path).await.map_err(|e| {
            CrmError::internal(format!("cannot open the stored content {sha256}: {e}"))
        })?;
        Ok(read_chunks(file))
    }
}

/// The file as a stream of chunks of up to [`IO_CHUNK`] bytes.
fn read_chunks(file: tokio::fs::File) -> impl Stream<Item = std::io::Result<Bytes>> + Send {
    futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = BytesMut::with_capacity(IO_CHUNK);
        // Fill the chunk (a read may return less than asked).
        while buf.len() < IO_CHUNK {
            match file.read_buf(&mut buf).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return Some((Err(e), None)),
            }
        }
        if buf.is_empty() {
            None
        } else {
            Some((Ok(buf.freeze()), Some(file)))
        }
    })
}

/// 413 `payload_too_large` for a file over [`MAX_FILE_BYTES`].
pub fn file_too_large() -> CrmError {
    CrmError::new(
        Reason::TooLarge,
        "payload_too_large",
        format!(
            "the file is larger than 50 MB ({MAX_FILE_BYTES} bytes), the most a document may be"
        ),
    )
}

fn io_error(e: std::io::Error) -> CrmError {
    match e.kind() {
        // ENOSPC / EDQUOT: the client can act on it (later), and nothing was kept.
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
            tracing::error!(error = %e, "document storage is full");
            CrmError::new(
                Reason::StorageFull,
                "storage_full",
                "the server's document storage is full: the file was not kept; retry once \
                 space is freed",
            )
        }
        std::io::ErrorKind::ReadOnlyFilesystem => {
            tracing::error!(error = %e, "document storage is read-only");
            CrmError::new(
                Reason::Unavailable,
                "read_only",
                "the server's document storage takes no files right now (read-only): the file \
                 was not kept; retry later",
            )
        }
        _ => CrmError::internal(format!("document storage: {e}")),
    }
}

/// `dir` and its missing parents, made with mode 0700 ([`files`]).
async fn create_private_dir_all(dir: &Path) -> Result<(), CrmError> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || files::create_private_dir_all(&dir))
        .await
        .map_err(|e| CrmError::internal(format!("document storage: {e}")))?
        .map_err(io_error)
}

/// Makes a rename in `dir` durable.
async fn sync_dir(dir: PathBuf) -> Result<(), CrmError> {
    tokio::task::spawn_blocking(move || std::fs::File::open(&dir)?.sync_all())
        .await
        .map_err(|e| CrmError::internal(format!("document storage: {e}")))?
        .map_err(io_error)
}

/// An upload's temporary file: removed when dropped (it is gone already after a rename).
struct TempFile {
    path: PathBuf,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(error = %e, "could not remove an upload's temporary file"),
        }
    }
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: Vec<Vec<u8>>) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
        futures_util::stream::iter(parts.into_iter().map(|p| Ok(Bytes::from(p))))
    }

    fn files_under(dir: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return found;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(files_under(&path));
            } else {
                found.push(path);
            }
        }
        found
    }

    #[tokio::test]
    async fn stores_once_by_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::in_data_dir(dir.path());
        let a = store
            .store_stream(chunks(vec![b"hello ".to_vec(), b"world".to_vec()]))
            .await
            .unwrap();
        assert_eq!(
            a.sha256,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert_eq!(a.size, 11);
        assert!(a.newly_stored);
        let b = store
            .store_stream(chunks(vec![b"hello world".to_vec()]))
            .await
            .unwrap();
        assert_eq!(b.sha256, a.sha256);
        assert!(!b.newly_stored);
        let path = store.path_of(&a.sha256).unwrap();
        assert!(path.ends_with(format!("b9/4d/{}", a.sha256)));
        assert_eq!(files_under(store.root()), vec![path.clone()]);
        assert_eq!(std::fs::read(&path).unwrap(), b"hello world");

        let mut read = Vec::new();
        let mut stream = std::pin::pin!(store.open(&a.sha256).await.unwrap());
        while let Some(chunk) = stream.next().await {
            read.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(read, b"hello world");
    }

    #[tokio::test]
    async fn too_large_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::in_data_dir(dir.path());
        let chunk = vec![7u8; 1024 * 1024];
        let mut parts = vec![chunk; 50];
        parts.push(vec![1]);
        let e = store.store_stream(chunks(parts)).await.unwrap_err();
        assert_eq!(e.reason(), Some(Reason::TooLarge));
        assert!(e.to_string().contains("50 MB"), "{e}");
        assert!(files_under(store.root()).is_empty());
    }

    #[tokio::test]
    async fn a_failed_stream_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::in_data_dir(dir.path());
        let stream = futures_util::stream::iter(vec![
            Ok(Bytes::from_static(b"part")),
            Err(std::io::Error::other("connection reset")),
        ]);
        let e = store.store_stream(stream).await.unwrap_err();
        assert_eq!(e.reason(), Some(Reason::BadInput));
        assert!(files_under(store.root()).is_empty());
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// Whatever the umask (the tests' is usually 022): content and temporary files 0600,
    /// folders 0700.
    #[cfg(unix)]
    #[tokio::test]
    async fn files_and_folders_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::in_data_dir(dir.path());
        let tmp = store.tmp_dir();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen_in_stream = seen.clone();
        // The second chunk looks at the temporary file the first was written to.
        let stream = futures_util::stream::iter([1, 2]).then(move |i| {
            let (tmp, seen) = (tmp.clone(), seen_in_stream.clone());
            async move {
                if i == 2 {
                    for entry in std::fs::read_dir(&tmp).unwrap() {
                        seen.lock().unwrap().push(mode(&entry.unwrap().path()));
                    }
                }
                Ok::<_, std::io::Error>(Bytes::from(vec![i; 10]))
            }
        });
        let blob = store.store_stream(stream).await.unwrap();
        assert_eq!(*seen.lock().unwrap(), vec![0o600], "the temporary file");
        let path = store.path_of(&blob.sha256).unwrap();
        assert_eq!(mode(&path), 0o600);
        for folder in [
            store.root(),
            &store.tmp_dir(),
            path.parent().unwrap(),
            path.parent().unwrap().parent().unwrap(),
        ] {
            assert_eq!(mode(folder), 0o700, "{}", folder.display());
        }
    }

    #[test]
    fn only_hashes_make_paths() {
        let store = BlobStore::in_data_dir(Path::new("/d"));
        assert!(store.path_of("../../etc/passwd").is_err());
        assert!(store.path_of(&"A".repeat(64)).is_err());
        assert!(store.path_of(&"a".repeat(64)).is_ok());
    }
}
