//! A file arriving in a record's documents, whoever sends it (the API's `PUT …/files`, the
//! web app's upload form): what will be refused is refused before the content is taken (the
//! record, the folder, the name), then the content streams into the blob store (refused
//! past 50 MB, nothing kept), then the node is made in one write, which checks again.
//!
//! Also the one rule of a download: only a live file has content.

use bytes::Bytes;
use futures_util::Stream;
use threadline_storage::db::{Conn, Db};
use uuid::Uuid;

use super::blobs::BlobStore;
use super::tree::{self, NewContent, Node, NodeKind, RecordRef};
use crate::actor::Actor;
use crate::error::{CrmError, CrmResult, Reason};

/// A new file named `name` in `parent` (the top of the record's tree without one), its
/// content read from `body`. `field` names the name's field in a refusal.
#[allow(clippy::too_many_arguments)]
pub async fn upload_file<S, E>(
    db: &Db,
    blobs: &BlobStore,
    actor: &Actor,
    record: RecordRef,
    parent: Option<Uuid>,
    name: &str,
    content_type: String,
    body: S,
) -> CrmResult<Node>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    tree::valid_name("name", name)?;
    let mut tx = db.begin_read().await?;
    let refused = async {
        tree::require_record(&mut tx, actor.org_id, record).await?;
        tree::check_parent(&mut tx, actor.org_id, record, parent, "parent_id").await?;
        tree::check_name_free(&mut tx, actor.org_id, record, parent, name, None).await
    }
    .await;
    // Ended whatever its queries answered: on PostgreSQL an open transaction holds its
    // locks until its connection is used again.
    tx.rollback().await?;
    refused?;
    let content = NewContent {
        blob: blobs.store_stream(body).await?,
        content_type,
    };
    db.write(|tx| Box::pin(tree::create_file(tx, actor, record, parent, name, &content)))
        .await
}

/// A live file's node, with its content's SHA-256 and size; 404 when there is no such live
/// node, 409 `not_a_file` for a folder.
pub async fn file_node(conn: &mut Conn, org: Uuid, id: Uuid) -> CrmResult<(Node, String, u64)> {
    let node = tree::live_node(conn, org, id).await?;
    match (node.kind, node.sha256.clone(), node.size) {
        (NodeKind::File, Some(sha256), Some(size)) => {
            Ok((node, sha256, u64::try_from(size).unwrap_or_default()))
        }
        _ => Err(CrmError::new(
            Reason::Conflict,
            "not_a_file",
            format!("{id} is a folder: only a file has content"),
        )),
    }
}
