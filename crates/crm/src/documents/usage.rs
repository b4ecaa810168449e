//! The storage an organisation's documents use: current files, old versions, the trash.
//!
//! Bytes are the sizes of the contents as uploaded, counted once per file version: a
//! content stored once on disk for several files (or organisations) is counted for each.

use serde::Serialize;
use uuid::Uuid;

use crate::error::CrmResult;
use threadline_storage::db::{id_text, Conn};

/// What an organisation's documents hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StorageUsage {
    /// The live trees: files at their current content.
    pub current: CurrentUsage,
    /// Earlier contents of live files, kept as versions.
    pub old_versions: VersionUsage,
    /// What is in the trash: every version of its files.
    pub trash: TrashUsage,
    /// `current.bytes + old_versions.bytes + trash.bytes`.
    pub total_bytes: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CurrentUsage {
    pub files: i64,
    pub folders: i64,
    /// The files' current sizes.
    pub bytes: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct VersionUsage {
    pub versions: i64,
    pub bytes: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TrashUsage {
    pub files: i64,
    pub folders: i64,
    /// Versions of the trashed files, the current ones included.
    pub versions: i64,
    /// All of those versions' bytes: what purging the trash frees.
    pub bytes: i64,
}

/// The organisation's document storage, as of one read.
pub async fn usage(conn: &mut Conn, org: Uuid) -> CrmResult<StorageUsage> {
    let mut usage = StorageUsage::default();
    let nodes: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT kind, CASE WHEN deleted_at IS NULL THEN 0 ELSE 1 END,
                COUNT(*), CAST(COALESCE(SUM(size), 0) AS BIGINT)
         FROM document_nodes WHERE org_id = $1
         GROUP BY kind, CASE WHEN deleted_at IS NULL THEN 0 ELSE 1 END",
    )
    .bind(id_text(org))
    .fetch_all(&mut *conn)
    .await?;
    for (kind, trashed, count, bytes) in nodes {
        match (kind.as_str(), trashed != 0) {
            ("file", false) => {
                usage.current.files = count;
                usage.current.bytes = bytes;
            }
            ("folder", false) => usage.current.folders = count,
            ("file", true) => usage.trash.files = count,
            (_, true) => usage.trash.folders = count,
            _ => {}
        }
    }
    // Versions by whether their file is trashed, and whether a newer one exists.
    let versions: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT CASE WHEN n.deleted_at IS NULL THEN 0 ELSE 1 END,
                CASE WHEN EXISTS (SELECT 1 FROM document_file_versions w
                                  WHERE w.node_id = v.node_id
                                    AND w.node_version > v.node_version)
                     THEN 1 ELSE 0 END,
                COUNT(*), CAST(COALESCE(SUM(v.size), 0) AS BIGINT)
         FROM document_file_versions v JOIN document_nodes n ON n.id = v.node_id
         WHERE v.org_id = $1
         GROUP BY 1, 2",
    )
    .bind(id_text(org))
    .fetch_all(&mut *conn)
    .await?;
    for (trashed, replaced, count, bytes) in versions {
        match (trashed != 0, replaced != 0) {
            (false, true) => {
                usage.old_versions.versions += count;
                usage.old_versions.bytes += bytes;
            }
            (false, false) => {}
            (true, _) => {
                usage.trash.versions += count;
                usage.trash.bytes += bytes;
            }
        }
    }
    usage.total_bytes = usage.current.bytes + usage.old_versions.bytes + usage.trash.bytes;
    Ok(usage)
}
