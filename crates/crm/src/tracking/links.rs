//! The timelines a tracked entry is on, changed by hand: its owner adds a contact or a
//! company, or takes one off (tracking only ever adds them: [`super::track`]).
//!
//! Rules:
//! - only the entry's owner changes its links (403 for the others, as for its visibility);
//!   a deleted entry is 404;
//! - a link is added to a live contact or company of the organisation (else 422, field
//!   `record_id`); exactly the record named is linked (adding a contact does not add its
//!   company, unlike tracking: what a person chose by hand is what they get);
//! - idempotent: adding a link that is there, or removing one that is not, changes nothing
//!   (the entry keeps its version); a change makes a new version of the entry and puts it
//!   on the changes feed, so that readers of the timeline and the extension see it;
//! - `expected_version` (the API's `If-Match`, a form's hidden version) is optional: links
//!   are a set, so two people's additions do not overwrite each other; when given, a stale
//!   entry is refused before anything is written.

use threadline_domain::api::RecordKind;
use threadline_storage::db::{self, id_text, Conn, Db};
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::{CrmError, CrmResult};
use crate::records::tracked_emails::{expect_owner, TrackedEmailRecord};
use crate::records::{edit, expect_version, log_change, record_exists, Kind};
use crate::store;

/// What to do with one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkChange {
    Add,
    Remove,
}

/// One change of the links of entry `entry`: `change` the link to the timeline of
/// `(kind, record_id)`, at `expected_version` when given.
#[derive(Debug, Clone, Copy)]
pub struct LinkRequest {
    pub entry: Uuid,
    pub kind: RecordKind,
    pub record_id: Uuid,
    pub change: LinkChange,
    pub expected_version: Option<i64>,
}

/// The record kind of a timeline as the model's [`Kind`].
fn kind_of(kind: RecordKind) -> Kind {
    match kind {
        RecordKind::Contact => Kind::Contact,
        RecordKind::Company => Kind::Company,
    }
}

/// Makes `request` on the caller's own entry, in one write transaction; answers the entry
/// as stored after it.
pub async fn change_link(
    db: &Db,
    actor: &Actor,
    request: LinkRequest,
) -> CrmResult<TrackedEmailRecord> {
    db.write(|tx| Box::pin(change_link_in(tx, actor, request)))
        .await
}

async fn change_link_in(
    conn: &mut Conn,
    actor: &Actor,
    request: LinkRequest,
) -> CrmResult<TrackedEmailRecord> {
    let LinkRequest {
        entry: id,
        kind,
        record_id,
        change,
        expected_version,
    } = request;
    let org = actor.org_id;
    let entry: TrackedEmailRecord = edit::get(conn, org, id).await?;
    if let Some(expected) = expected_version {
        expect_version(conn, Kind::TrackedEmail, org, id, expected).await?;
    }
    expect_owner(conn, actor, id, "change the records of").await?;
    let kind_text = store::record_kind_text(kind);
    let changed = match change {
        LinkChange::Add => {
            if !record_exists(conn, org, kind_of(kind), record_id).await? {
                return Err(CrmError::unknown_record(
                    "record_id",
                    format!("there is no {kind_text} with id {record_id}"),
                ));
            }
            sqlx::query(
                "INSERT INTO tracked_email_links (tracked_email_id, record_kind, record_id)
                 VALUES ($1, $2, $3)
                 ON CONFLICT (tracked_email_id, record_kind, record_id) DO NOTHING",
            )
            .bind(id_text(id))
            .bind(kind_text)
            .bind(id_text(record_id))
            .execute(&mut *conn)
            .await?
            .rows_affected()
        }
        LinkChange::Remove => sqlx::query(
            "DELETE FROM tracked_email_links
             WHERE tracked_email_id = $1 AND record_kind = $2 AND record_id = $3",
        )
        .bind(id_text(id))
        .bind(kind_text)
        .bind(id_text(record_id))
        .execute(&mut *conn)
        .await?
        .rows_affected(),
    };
    if changed == 0 {
        return Ok(entry);
    }
    let now = db::now();
    let version: i64 = sqlx::query_scalar(
        "UPDATE tracked_emails SET version = version + 1, updated_at = $1
         WHERE org_id = $2 AND id = $3 RETURNING version",
    )
    .bind(&now)
    .bind(id_text(org))
    .bind(id_text(id))
    .fetch_one(&mut *conn)
    .await?;
    log_change(conn, org, Kind::TrackedEmail, id, version, false, &now).await?;
    edit::get(conn, org, id).await
}
