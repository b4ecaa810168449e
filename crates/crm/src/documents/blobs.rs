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
//! transaction failed, a version or trash item purged) is removed by the collection
//! (`documents::retention`), with these primitives:
//!
//! - **The grace period** ([`GRACE`], an hour): a content whose file was modified within it
//!   is never removed. An upload's file is written (or, when that content is stored
//!   already, *touched*: its mtime set to now, [`touch_stored`]) before the upload's
//!   transaction references it, and that transaction follows within seconds; so a content
//!   an upload is about to reference is always young.
//! - **Set aside, then decide** ([`BlobStore::set_aside`]): the collector renames an old,
//!   unreferenced content into `tmp/` (atomically: from then on an upload finds it missing
//!   and stores its own copy), then looks at its mtime again and at the database: touched
//!   meanwhile, or referenced, it is put back ([`BlobStore::put_back`]); otherwise deleted
//!   ([`BlobStore::discard`]). A touch checks afterwards that the path still names the file
//!   it touched, so a touch either lands before the rename (and the collector sees it) or
//!   finds the content gone (and the upload stores its own). No lock, so it holds across
//!   processes sharing the data directory.
//! - **Temporary files** ([`BlobStore::sweep_temp`]): `tmp/*.part` files last written
//!   before the cut-off (an upload a crash or a kill left; a running upload writes every
//!   512 KiB, also in another process sharing the directory), and `tmp/*.reclaim` files a
//!   collector left (put back when their content is missing, else removed).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::{CrmError, Reason};
use threadline_storage::files;

/// Largest file, in bytes: 50 MB (Dropbox's per-file limit for the sync, in MiB).
pub const MAX_FILE_BYTES: u64 = 50 * 1024 * 1024;

/// How recently modified a stored content or a temporary file must have been for a
/// collection to leave it, whether referenced or not: an hour, far longer than an upload
/// takes between writing (or touching) its content and committing its reference.
pub const GRACE: Duration = Duration::from_secs(60 * 60);

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
        if !is_hash(sha256) {
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
        // Stored already: touched, so that no collection removes it before this upload's
        // transaction references it (see the module's doc).
        let newly_stored = if touch_stored(&target).await? {
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

/// A content set aside by a collection ([`BlobStore::set_aside`]): in `tmp/`, to be put
/// back or discarded.
#[derive(Debug)]
pub struct SetAside {
    pub sha256: String,
    pub size: u64,
    /// Its mtime once set aside: within the grace period, an upload touched it.
    pub modified: SystemTime,
    path: PathBuf,
}

/// What [`BlobStore::sweep_temp`] removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TempSwept {
    /// `.part` files (abandoned uploads) removed.
    pub files: u64,
    pub bytes: u64,
    /// `.reclaim` files a collection left, put back where their content was missing.
    pub put_back: u64,
}

/// Suffix of an upload's temporary file.
const PART: &str = ".part";
/// Suffix of a content set aside by a collection.
const RECLAIM: &str = ".reclaim";

impl BlobStore {
    /// Every stored content last modified before `cutoff`: its hash and size (files whose
    /// name is not a hash are ignored).
    pub async fn contents_older_than(
        &self,
        cutoff: SystemTime,
    ) -> Result<Vec<(String, u64)>, CrmError> {
        let root = self.root.clone();
        blocking(move || {
            let mut found = Vec::new();
            for first in read_dir_or_empty(&root)? {
                if !is_hex_pair(&first) {
                    continue; // `tmp`
                }
                for second in read_dir_or_empty(&first)? {
                    if !is_hex_pair(&second) {
                        continue;
                    }
                    for file in read_dir_or_empty(&second)? {
                        let Some(sha) = file.file_name().and_then(|n| n.to_str()) else {
                            continue;
                        };
                        if !is_hash(sha) {
                            continue;
                        }
                        match std::fs::metadata(&file) {
                            Ok(meta) if meta.is_file() && meta.modified()? < cutoff => {
                                found.push((sha.to_string(), meta.len()));
                            }
                            Ok(_) => {}
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                            Err(e) => return Err(e),
                        }
                    }
                }
            }
            Ok(found)
        })
        .await
    }

    /// Moves the content `sha256` into `tmp/` (atomically), for a collection to decide on;
    /// `None` when it is not stored (any more).
    pub async fn set_aside(&self, sha256: &str) -> Result<Option<SetAside>, CrmError> {
        let from = self.path_of(sha256)?;
        // When it was set aside is in the name (its mtime is the content's, old).
        let since_epoch = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let tmp = self.tmp_dir();
        let to = tmp.join(format!(
            "{sha256}.{since_epoch}.{}{RECLAIM}",
            threadline_storage::db::new_id().simple()
        ));
        let sha256 = sha256.to_string();
        blocking(move || {
            files::create_private_dir_all(&tmp)?;
            match std::fs::rename(&from, &to) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            }
            let meta = std::fs::metadata(&to)?;
            Ok(Some(SetAside {
                sha256,
                size: meta.len(),
                modified: meta.modified()?,
                path: to,
            }))
        })
        .await
    }

    /// Puts a content set aside back where it was (over a copy an upload stored meanwhile:
    /// the same bytes).
    pub async fn put_back(&self, aside: SetAside) -> Result<(), CrmError> {
        let to = self.path_of(&aside.sha256)?;
        blocking(move || match std::fs::rename(&aside.path, &to) {
            // Put back already by a sweep of `tmp/` (another process's).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        })
        .await
    }

    /// Deletes a content set aside; the bytes freed (0 when it was gone already).
    pub async fn discard(&self, aside: SetAside) -> Result<u64, CrmError> {
        let removed = blocking(move || remove_if_there(&aside.path)).await?;
        Ok(if removed { aside.size } else { 0 })
    }

    /// Removes what uploads and collections left in `tmp/` and last modified before
    /// `cutoff`: abandoned `.part` files; `.reclaim` files are put back when their content
    /// is missing (a collection stopped half-way: the next one decides again), else removed.
    pub async fn sweep_temp(&self, cutoff: SystemTime) -> Result<TempSwept, CrmError> {
        let tmp = self.tmp_dir();
        let store = self.clone();
        blocking(move || {
            let mut swept = TempSwept::default();
            for path in read_dir_or_empty(&tmp)? {
                let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                let meta = match std::fs::metadata(&path) {
                    Ok(meta) => meta,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                if !meta.is_file() {
                    continue;
                }
                if name.ends_with(PART) {
                    if meta.modified()? < cutoff && remove_if_there(&path)? {
                        swept.files += 1;
                        swept.bytes += meta.len();
                    }
                } else if let Some(rest) = name.strip_suffix(RECLAIM) {
                    // `<sha256>.<set aside at, Unix seconds>.<random>`
                    let mut parts = rest.split('.');
                    let sha = parts.next().unwrap_or_default();
                    let set_aside_at = parts
                        .next()
                        .and_then(|s| s.parse::<u64>().ok())
                        .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s));
                    let Ok(target) = store.path_of(sha) else {
                        continue;
                    };
                    if set_aside_at.is_none_or(|at| at >= cutoff) {
                        continue; // a collection may be deciding on it right now
                    }
                    if target.exists() {
                        remove_if_there(&path)?;
                    } else {
                        files::create_private_dir_all(target.parent().expect("folders"))?;
                        match std::fs::rename(&path, &target) {
                            Ok(()) => swept.put_back += 1,
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                            Err(e) => return Err(e),
                        }
                    }
                }
            }
            Ok(swept)
        })
        .await
    }
}

/// Marks the content stored at `path` as just used (mtime = now), so that no collection
/// removes it within [`GRACE`]; false when there is none (the caller stores its own copy).
/// True only when, after the touch, `path` still names the file touched: a collection that
/// set it aside before is seen (false), one that sets it aside after sees the new mtime.
async fn touch_stored(path: &Path) -> Result<bool, CrmError> {
    let path = path.to_path_buf();
    blocking(move || {
        // The path may change under us (set aside, put back, stored by another upload):
        // a few tries, then store our own copy.
        for _ in 0..3 {
            let file = match std::fs::File::open(&path) {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(e),
            };
            file.set_modified(SystemTime::now())?;
            let touched = file.metadata()?;
            match std::fs::metadata(&path) {
                Ok(now) if same_file(&now, &touched) => return Ok(true),
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    })
    .await
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    a.len() == b.len() && a.modified().ok() == b.modified().ok()
}

/// Removes a file; false when it was not there.
fn remove_if_there(path: &Path) -> std::io::Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// The entries of a folder; none when it does not exist.
fn read_dir_or_empty(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| Ok(e?.path())).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

fn is_hex_pair(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.len() == 2 && n.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_hash(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Runs file-system work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, CrmError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| CrmError::internal(format!("document storage: {e}")))?
        .map_err(io_error)
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
    blocking(move || files::create_private_dir_all(&dir)).await
}

/// Makes a rename in `dir` durable.
async fn sync_dir(dir: PathBuf) -> Result<(), CrmError> {
    blocking(move || std::fs::File::open(&dir)?.sync_all()).await
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
        let b = stored(&store, b"hello world").await;
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

    async fn stored(store: &BlobStore, bytes: &[u8]) -> StoredBlob {
        store
            .store_stream(chunks(vec![bytes.to_vec()]))
            .await
            .unwrap()
    }

    /// Sets the file's mtime `by` into the past.
    fn age(path: &Path, by: Duration) {
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(SystemTime::now() - by)
            .unwrap();
    }

    const TWO_HOURS: Duration = Duration::from_secs(2 * 60 * 60);

    fn an_hour_ago() -> SystemTime {
        SystemTime::now() - GRACE
    }

    #[tokio::test]
    async fn the_temp_sweep_removes_only_stale_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::in_data_dir(dir.path());
        let kept = stored(&store, b"kept").await;
        let lost = stored(&store, b"lost").await;
        let tmp = store.tmp_dir();
        let write = |name: &str, old: bool| {
            let path = tmp.join(name);
            std::fs::write(&path, b"12345").unwrap();
            if old {
                age(&path, TWO_HOURS);
            }
            path
        };
        let crashed = write("a.part", true);
        let uploading = write("b.part", false);
        // Collections that stopped half-way two hours ago: one content was stored again
        // since, the other is missing (put back); one set aside just now (left alone).
        let two_hours_ago = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            - TWO_HOURS.as_secs();
        let now = two_hours_ago + TWO_HOURS.as_secs();
        let stored_again = write(&format!("{}.{two_hours_ago}.x.reclaim", kept.sha256), true);
        let lost_path = store.path_of(&lost.sha256).unwrap();
        std::fs::rename(
            &lost_path,
            tmp.join(format!("{}.{two_hours_ago}.y.reclaim", lost.sha256)),
        )
        .unwrap();
        let deciding = write(&format!("{}.{now}.z.reclaim", kept.sha256), true);

        let swept = store.sweep_temp(an_hour_ago()).await.unwrap();
        assert_eq!(
            swept,
            TempSwept {
                files: 1,
                bytes: 5,
                put_back: 1
            }
        );
        assert!(!crashed.exists());
        assert!(uploading.exists());
        assert!(!stored_again.exists());
        assert!(deciding.exists());
        assert_eq!(std::fs::read(&lost_path).unwrap(), b"lost");
    }

    #[tokio::test]
    async fn storing_a_content_again_makes_it_young() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::in_data_dir(dir.path());
        let a = stored(&store, b"a").await;
        let path = store.path_of(&a.sha256).unwrap();
        assert!(store
            .contents_older_than(an_hour_ago())
            .await
            .unwrap()
            .is_empty());
        age(&path, TWO_HOURS);
        assert_eq!(
            store.contents_older_than(an_hour_ago()).await.unwrap(),
            vec![(a.sha256.clone(), 1)]
        );
        let again = stored(&store, b"a").await;
        assert!(!again.newly_stored);
        assert!(
            store
                .contents_older_than(an_hour_ago())
                .await
                .unwrap()
                .is_empty(),
            "touched by the second upload"
        );
    }

    /// The two interleavings of an upload of a stored content with a collection of it.
    #[tokio::test]
    async fn an_upload_racing_a_collection_keeps_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::in_data_dir(dir.path());
        let a = stored(&store, b"a").await;
        let path = store.path_of(&a.sha256).unwrap();

        // Set aside first: the upload finds it missing and stores its own copy, which the
        // discard leaves.
        age(&path, TWO_HOURS);
        let aside = store.set_aside(&a.sha256).await.unwrap().expect("stored");
        assert!(aside.modified < an_hour_ago());
        assert!(!path.exists());
        let upload = stored(&store, b"a").await;
        assert!(upload.newly_stored);
        assert_eq!(store.discard(aside).await.unwrap(), 1);
        assert_eq!(std::fs::read(&path).unwrap(), b"a");

        // Touched first: the collection sees it young once set aside, and puts it back.
        age(&path, TWO_HOURS);
        let upload = stored(&store, b"a").await;
        assert!(!upload.newly_stored);
        let aside = store.set_aside(&a.sha256).await.unwrap().expect("stored");
        assert!(aside.modified >= an_hour_ago(), "touched by the upload");
        store.put_back(aside).await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"a");
        assert_eq!(
            store
                .set_aside(&"0".repeat(64))
                .await
                .unwrap()
                .map(|a| a.size),
            None
        );
    }

    #[test]
    fn only_hashes_make_paths() {
        let store = BlobStore::in_data_dir(Path::new("/d"));
        assert!(store.path_of("../../etc/passwd").is_err());
        assert!(store.path_of(&"A".repeat(64)).is_err());
        assert!(store.path_of(&"a".repeat(64)).is_ok());
    }
}
