//! Reading the changes feed: the records of an organisation changed after a point, oldest
//! change first, one entry per record (its latest change; [`super::log_change`] writes
//! them). `GET /api/v1/changes` serves it; a sync reads it to export only what changed.

use threadline_storage::db::{id_text, parse_uuid, Conn, Sql};
use uuid::Uuid;

use super::{Kind, DOCUMENT_CHANGE_KIND};
use crate::error::{CrmError, CrmResult};

/// One record's latest change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Its position in the organisation's feed: read on after the last one seen.
    pub seq: i64,
    /// A [`Kind`]'s name, or [`DOCUMENT_CHANGE_KIND`].
    pub kind: String,
    pub id: Uuid,
    pub version: i64,
    pub deleted: bool,
}

/// The changes of `org` after `after`, oldest first, at most `limit`; of the kinds
/// `kinds` only (their stored names, e.g. `contact`), or of every kind when it is empty.
pub async fn since(
    conn: &mut Conn,
    org: Uuid,
    after: i64,
    kinds: &[&str],
    limit: u32,
) -> CrmResult<Vec<Change>> {
    let mut sql = Sql::new(
        "SELECT seq, record_kind, record_id, version, deleted FROM changes WHERE org_id = ",
    );
    sql.push_bind(id_text(org))
        .push(" AND seq > ")
        .push_bind(after);
    if !kinds.is_empty() {
        sql.push(" AND record_kind IN ")
            .push_list(kinds.iter().copied());
    }
    sql.push(" ORDER BY seq LIMIT ").push_bind(i64::from(limit));
    let rows: Vec<(i64, String, String, i64, i64)> =
        sql.build_query_as().fetch_all(&mut *conn).await?;
    rows.into_iter()
        .map(|(seq, kind, id, version, deleted)| {
            if kind != DOCUMENT_CHANGE_KIND && Kind::parse(&kind).is_none() {
                return Err(CrmError::internal(format!(
                    "bad kind {kind:?} in the changes feed"
                )));
            }
            Ok(Change {
                seq,
                kind,
                id: parse_uuid(&id)?,
                version,
                deleted: deleted != 0,
            })
        })
        .collect()
}

/// The organisation's last position in the feed (0 when nothing changed yet): where a
/// reader that has just read everything goes on from.
pub async fn last_seq(conn: &mut Conn, org: Uuid) -> CrmResult<i64> {
    let seq: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM changes WHERE org_id = $1")
            .bind(id_text(org))
            .fetch_one(&mut *conn)
            .await?;
    Ok(seq)
}
