//! How long document storage keeps what is no longer current, and the collection that
//! removes the rest (issue 10: storage only grew).
//!
//! A pass ([`Collector::run_once`]), hourly in `serve` and once at start ([`Collector::spawn`]):
//! 1. **The trash**: what a delete took (a top node and everything that went with it) is
//!    purged [`Retention::trash_days`] after the delete: the nodes, their versions and their
//!    sync state. A folder's trash entry is always younger than those of the nodes that were
//!    trashed inside it before it (a node cannot be deleted while its folder is in the
//!    trash), so a purge never leaves a node whose folder is gone.
//! 2. **Old versions**: of every file, the newest [`Retention::versions_kept`] versions are
//!    kept (the current one among them), and every version replaced less than
//!    [`Retention::version_days`] ago; older ones go.
//! 3. **Abandoned uploads**: `blobs/tmp/*.part` files not written for an hour
//!    ([`blobs::GRACE`]; a running upload writes every 512 KiB, also in another server
//!    process sharing the data directory).
//! 4. **Unreferenced content**: a stored content that no file version, file, tracked email's
//!    source or attachment (`crate::email_source`) names, and
//!    whose file was not modified for [`blobs::GRACE`] (an upload writes or touches its
//!    content before its transaction references it: see `blobs`), is set aside, checked
//!    again (mtime, then the database) and deleted, or put back.
//!
//! **Several processes** (PostgreSQL, one data directory on shared storage): a pass first
//! takes the lease row `document_storage` of `maintenance_leases` (migration 0013) in a write
//! transaction; a process that finds it held skips the pass. Every step is idempotent anyway
//! (deletes by condition, files removed or set aside by atomic renames, a file already gone
//! is no error), so a pass that outlives its lease beside another one does no harm.

use std::time::{Duration, SystemTime};

use chrono::Utc;
use threadline_storage::db::{self, Db, Sql};

use super::blobs::{self, BlobStore};
use crate::error::{CrmError, CrmResult};

/// Default of [`Retention::trash_days`].
pub const DEFAULT_TRASH_DAYS: u32 = 30;
/// Default of [`Retention::versions_kept`].
pub const DEFAULT_VERSIONS_KEPT: u32 = 10;
/// Default of [`Retention::version_days`].
pub const DEFAULT_VERSION_DAYS: u32 = 30;
/// How often `serve` collects.
pub const INTERVAL: Duration = Duration::from_secs(60 * 60);
/// How long a pass holds the lease at most (a process that dies holding it delays the
/// others by this much).
const LEASE: Duration = Duration::from_secs(15 * 60);
const LEASE_NAME: &str = "document_storage";
/// Contents looked up in the database at once.
const BATCH: usize = 500;

/// How long what is no longer current is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Days a deleted node stays in the trash (restorable) before it is purged.
    pub trash_days: u32,
    /// Versions of each file always kept, the current one included (at least 1).
    pub versions_kept: u32,
    /// Days an older version is kept after it was replaced.
    pub version_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            trash_days: DEFAULT_TRASH_DAYS,
            versions_kept: DEFAULT_VERSIONS_KEPT,
            version_days: DEFAULT_VERSION_DAYS,
        }
    }
}

/// What a pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Collected {
    /// Folders and files purged from the trash.
    pub trash_nodes: u64,
    /// Old versions of files removed (trashed files' versions are in `trash_nodes`).
    pub versions: u64,
    /// Stored contents deleted, and their bytes.
    pub contents: u64,
    pub content_bytes: u64,
    /// Abandoned uploads' temporary files removed, and their bytes.
    pub temp_files: u64,
    pub temp_bytes: u64,
}

impl std::fmt::Display for Collected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "removed {} node(s) from the trash, {} old version(s), {} unreferenced content(s) \
             ({} bytes), {} abandoned upload(s) ({} bytes)",
            self.trash_nodes,
            self.versions,
            self.contents,
            self.content_bytes,
            self.temp_files,
            self.temp_bytes
        )
    }
}

/// Collects one data directory's and database's document storage.
#[derive(Debug, Clone)]
pub struct Collector {
    db: Db,
    store: BlobStore,
    retention: Retention,
    /// This collector in the lease row.
    owner: String,
}

impl Collector {
    pub fn new(db: Db, store: BlobStore, retention: Retention) -> Collector {
        Collector {
            db,
            store,
            retention,
            owner: db::id_text(db::new_id()),
        }
    }

    /// One pass; `None` when another collector holds the lease.
    pub async fn run_once(&self) -> CrmResult<Option<Collected>> {
        if !self.take_lease().await? {
            return Ok(None);
        }
        let result = self.collect().await;
        // Let go even after a failure: the next pass (any process's) tries again.
        let released = self.release_lease().await;
        let collected = result?;
        released?;
        Ok(Some(collected))
    }

    /// Runs a pass now and then every `every`, logging what each removed, until the task is
    /// aborted (an abort mid-pass leaves nothing half done that the next pass does not
    /// finish).
    pub fn spawn(self, every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                match self.run_once().await {
                    Ok(Some(collected)) => {
                        tracing::info!(
                            trash_nodes = collected.trash_nodes,
                            versions = collected.versions,
                            contents = collected.contents,
                            content_bytes = collected.content_bytes,
                            temp_files = collected.temp_files,
                            temp_bytes = collected.temp_bytes,
                            "document storage collected: {collected}"
                        );
                    }
                    Ok(None) => tracing::info!(
                        "document storage: another server process is collecting; skipped"
                    ),
                    Err(e) => tracing::warn!(
                        error = %e,
                        "document storage could not be collected; trying again at the next pass"
                    ),
                }
                tokio::time::sleep(every).await;
            }
        })
    }

    async fn collect(&self) -> CrmResult<Collected> {
        let now = Utc::now();
        let days = |n: u32| chrono::Duration::days(i64::from(n));
        let mut collected = Collected {
            trash_nodes: self
                .purge_trash(&db::format_time(now - days(self.retention.trash_days)))
                .await?,
            versions: self
                .prune_versions(&db::format_time(now - days(self.retention.version_days)))
                .await?,
            ..Collected::default()
        };
        let cutoff = SystemTime::now() - blobs::GRACE;
        let swept = self.store.sweep_temp(cutoff).await?;
        collected.temp_files = swept.files;
        collected.temp_bytes = swept.bytes;
        (collected.contents, collected.content_bytes) = self.collect_contents(cutoff).await?;
        Ok(collected)
    }

    /// True when this collector now holds the lease (free, expired, or its own).
    async fn take_lease(&self) -> CrmResult<bool> {
        let now = Utc::now();
        let (now, expires) = (
            db::format_time(now),
            db::format_time(now + chrono::Duration::from_std(LEASE).expect("15 minutes")),
        );
        let owner = &self.owner;
        self.db
            .write(|tx| {
                let (now, expires) = (now.clone(), expires.clone());
                Box::pin(async move {
                    let done = sqlx::query(
                        "INSERT INTO maintenance_leases (name, owner, expires_at)
                         VALUES ($1, $2, $3)
                         ON CONFLICT (name) DO UPDATE
                         SET owner = excluded.owner, expires_at = excluded.expires_at
                         WHERE maintenance_leases.expires_at <= $4
                            OR maintenance_leases.owner = excluded.owner",
                    )
                    .bind(LEASE_NAME)
                    .bind(owner)
                    .bind(expires)
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                    Ok::<_, CrmError>(done.rows_affected() == 1)
                })
            })
            .await
    }

    async fn release_lease(&self) -> CrmResult<()> {
        let owner = &self.owner;
        let now = db::now();
        self.db
            .write(|tx| {
                let now = now.clone();
                Box::pin(async move {
                    sqlx::query(
                        "UPDATE maintenance_leases SET expires_at = $3, finished_at = $3
                         WHERE name = $1 AND owner = $2",
                    )
                    .bind(LEASE_NAME)
                    .bind(owner)
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                    Ok::<_, CrmError>(())
                })
            })
            .await
    }

    /// Purges what deletes before `cutoff` took; the number of nodes.
    async fn purge_trash(&self, cutoff: &str) -> CrmResult<u64> {
        // Every node of a trash entry (top node) deleted before the cut-off.
        const EXPIRED: &str = "SELECT n.id FROM document_nodes n
             JOIN document_nodes t ON t.id = n.trash_id
             WHERE t.trash_id = t.id AND t.deleted_at < $1";
        self.db
            .write(|tx| {
                Box::pin(async move {
                    // A file-sync link of a purged node stays (`file_links`, keyed by the
                    // node's id, no foreign key): its sync then sees the node gone from the
                    // CRM and deletes the remote copy, instead of taking the remote file
                    // for a new one and bringing it back.
                    sqlx::query(&format!(
                        "DELETE FROM document_file_versions WHERE node_id IN ({EXPIRED})"
                    ))
                    .bind(cutoff)
                    .execute(&mut **tx)
                    .await?;
                    let done = sqlx::query(&format!(
                        "DELETE FROM document_nodes WHERE id IN ({EXPIRED})"
                    ))
                    .bind(cutoff)
                    .execute(&mut **tx)
                    .await?;
                    Ok::<_, CrmError>(done.rows_affected())
                })
            })
            .await
    }

    /// Removes the versions beyond each file's newest `versions_kept` that were replaced
    /// before `cutoff`; how many.
    async fn prune_versions(&self, cutoff: &str) -> CrmResult<u64> {
        let kept = i64::from(self.retention.versions_kept.max(1));
        self.db
            .write(|tx| {
                Box::pin(async move {
                    // Newest first: a version's rank, and when it was replaced (the next
                    // newer version's creation).
                    let done = sqlx::query(
                        "DELETE FROM document_file_versions WHERE id IN (
                             SELECT id FROM (
                                 SELECT id,
                                        ROW_NUMBER() OVER (PARTITION BY node_id
                                                           ORDER BY node_version DESC) AS place,
                                        LAG(created_at) OVER (PARTITION BY node_id
                                                              ORDER BY node_version DESC)
                                            AS replaced_at
                                 FROM document_file_versions
                             ) ranked
                             WHERE place > $1 AND replaced_at < $2
                         )",
                    )
                    .bind(kept)
                    .bind(cutoff)
                    .execute(&mut **tx)
                    .await?;
                    Ok::<_, CrmError>(done.rows_affected())
                })
            })
            .await
    }

    /// Deletes the stored contents last modified before `cutoff` that nothing references;
    /// how many, and their bytes.
    async fn collect_contents(&self, cutoff: SystemTime) -> CrmResult<(u64, u64)> {
        let old = self.store.contents_older_than(cutoff).await?;
        let (mut count, mut bytes) = (0, 0);
        for batch in old.chunks(BATCH) {
            let shas: Vec<&str> = batch.iter().map(|(sha, _)| sha.as_str()).collect();
            let referenced = self.referenced(&shas).await?;
            for sha in shas
                .into_iter()
                .filter(|s| !referenced.iter().any(|r| r == s))
            {
                let Some(aside) = self.store.set_aside(sha).await? else {
                    continue; // gone already (another process)
                };
                // Touched by an upload since it was listed, or referenced meanwhile: back.
                let keep = match aside.modified >= cutoff {
                    true => Ok(true),
                    false => self.referenced(&[sha]).await.map(|r| !r.is_empty()),
                };
                match keep {
                    Ok(false) => {
                        let freed = self.store.discard(aside).await?;
                        if freed > 0 {
                            count += 1;
                            bytes += freed;
                        }
                    }
                    Ok(true) => self.store.put_back(aside).await?,
                    Err(e) => {
                        self.store.put_back(aside).await?;
                        return Err(e);
                    }
                }
            }
        }
        Ok((count, bytes))
    }

    /// Which of `shas` a file version, a file, a tracked email's source or one of its
    /// attachments, or a contact import's file or rejected rows names (any organisation's:
    /// content is stored once for all).
    async fn referenced(&self, shas: &[&str]) -> CrmResult<Vec<String>> {
        let mut sql = Sql::new("SELECT sha256 FROM document_file_versions WHERE sha256 IN ");
        sql.push_list(shas.iter().copied())
            .push(" UNION SELECT sha256 FROM document_nodes WHERE sha256 IN ")
            .push_list(shas.iter().copied())
            .push(" UNION SELECT blob_sha256 FROM tracked_email_sources WHERE blob_sha256 IN ")
            .push_list(shas.iter().copied())
            .push(" UNION SELECT sha256 FROM tracked_email_attachments WHERE sha256 IN ")
            .push_list(shas.iter().copied())
            .push(" UNION SELECT csv_sha256 FROM contact_imports WHERE csv_sha256 IN ")
            .push_list(shas.iter().copied())
            .push(" UNION SELECT rejects_sha256 FROM contact_imports WHERE rejects_sha256 IN ")
            .push_list(shas.iter().copied());
        Ok(sql.build_query_scalar().fetch_all(self.db.pool()).await?)
    }
}
