//! Making a busy block a CRM meeting that keeps the link to its Google event: what the API's
//! `POST /busy-blocks/{id}/convert` and the web app's planning do for a block that is not a
//! series (one occurrence of a series is read from Google first: the API's route).

use threadline_calendar_core::LinkKind;
use threadline_crm::{CrmError, CrmResult, Reason};
use threadline_storage::db::Db;
use uuid::Uuid;

use crate::store;

pub fn block_not_found(id: Uuid) -> CrmError {
    CrmError::new(
        Reason::NotFound,
        "not_found",
        format!("there is no busy block with id {id}"),
    )
}

pub fn cancelled_occurrence() -> CrmError {
    CrmError::new(
        Reason::Conflict,
        "conflict",
        "a cancelled occurrence of a series cannot become a meeting",
    )
}

pub fn occurrence_required() -> CrmError {
    CrmError::invalid(
        "occurrence",
        "the block is a series: name the occurrence to convert in `occurrence`, by its \
         original start (RFC 3339 for a timed series, YYYY-MM-DD for an all-day one)",
    )
}

/// User `user`'s block `block_id` (not a series) made a meeting, from what its last listing
/// said: one transaction. Answers the meeting's id.
pub async fn block(db: &Db, org: Uuid, user: Uuid, block_id: Uuid) -> CrmResult<Uuid> {
    let meeting_id = threadline_storage::db::new_id();
    db.write(|tx| {
        Box::pin(async move {
            let block = store::block(tx, org, user, block_id)
                .await?
                .ok_or_else(|| block_not_found(block_id))?;
            // The event became a series since the caller looked: a series' first
            // occurrence is not what was asked for.
            if !block.recurrence.is_empty() {
                return Err(occurrence_required());
            }
            let link = store::links_of(tx, block.connection_id, block_id)
                .await?
                .into_iter()
                .find(|l| l.kind == LinkKind::Block)
                .ok_or_else(|| block_not_found(block_id))?;
            let (converted, fields) = link
                .converted(meeting_id)
                .ok_or_else(cancelled_occurrence)?;
            store::create_meeting(tx, org, meeting_id, &fields, &Default::default()).await?;
            // Same (calendar, event) key: the converted link replaces the block's. It keeps
            // the block link's `writable` (the user organises the event, as its last listing
            // said), so the meeting's CRM edits reach Google only then. The block itself does
            // not carry it: the link row already does, and the block is removed here anyway.
            store::put_link(tx, block.connection_id, &converted).await?;
            store::remove_block(tx, block_id).await?;
            CrmResult::Ok(())
        })
    })
    .await?;
    Ok(meeting_id)
}
