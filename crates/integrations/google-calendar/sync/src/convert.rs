//! Making a busy block a CRM meeting that keeps the link to its Google event: what the API's
//! `POST /busy-blocks/{id}/convert` and the web app's planning both call ([`busy`]): a block
//! that is not a series from what its last listing said; one occurrence of a series read
//! from Google first.

use chrono::{DateTime, NaiveDate, Utc};
use threadline_calendar_core::decide::display_names;
use threadline_calendar_core::ids::instance_id;
use threadline_calendar_core::link::OriginalStart;
use threadline_calendar_core::{Link, LinkKind};
use threadline_crm::{CrmError, CrmResult, Reason};
use threadline_storage::db::{Conn, Db};
use uuid::Uuid;

use crate::selection::{google_failed, CalendarError};
use crate::store::{self, BusyBlock};
use crate::CalendarSync;

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

fn not_an_occurrence(raw: &str) -> CrmError {
    CrmError::invalid(
        "occurrence",
        format!("{raw:?} is not an occurrence of this series"),
    )
}

/// User `user`'s busy block `block_id` made a meeting: the block itself, or for a series the
/// occurrence named by its original start `occurrence` (required there, refused on any other
/// block). Answers the meeting's id.
pub async fn busy(
    sync: &CalendarSync,
    org: Uuid,
    user: Uuid,
    block_id: Uuid,
    occurrence: Option<&str>,
) -> Result<Uuid, CalendarError> {
    let block = {
        let mut conn = sync.db().pool().acquire().await?;
        store::block(&mut conn, org, user, block_id).await?
    }
    .ok_or_else(|| block_not_found(block_id))?;
    match (occurrence, block.recurrence.is_empty()) {
        (None, true) => Ok(self::block(sync.db(), org, user, block_id).await?),
        (Some(_), true) => Err(CrmError::invalid(
            "occurrence",
            "the block is not a series, it has no occurrences: convert it without \
             `occurrence`",
        )
        .into()),
        (None, false) => Err(occurrence_required().into()),
        (Some(raw), false) => self::occurrence(sync, org, user, &block, raw).await,
    }
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

/// The original start `raw` names, in the series' form: a date for an all-day series, an
/// instant for a timed one.
fn occurrence_start(series: &BusyBlock, raw: &str) -> CrmResult<OriginalStart> {
    if series.all_day {
        NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .ok()
            .filter(|_| raw.len() == 10)
            .map(OriginalStart::Date)
            .ok_or_else(|| {
                CrmError::invalid(
                    "occurrence",
                    format!(
                        "{raw:?} is not a date (YYYY-MM-DD): the series is all-day, so an \
                         occurrence is named by its original date"
                    ),
                )
            })
    } else {
        DateTime::parse_from_rfc3339(raw)
            .map(|at| OriginalStart::Instant(at.with_timezone(&Utc)))
            .map_err(|_| {
                CrmError::invalid(
                    "occurrence",
                    format!(
                        "{raw:?} is not an RFC 3339 date and time: the series is timed, so an \
                         occurrence is named by its original start"
                    ),
                )
            })
    }
}

/// What occurrence `instance_id` is linked as now: nothing, or an exception's block (`Some`
/// of its link: that block becomes the meeting, as converting it would make it); 409 when
/// the occurrence is a meeting already.
async fn occurrence_link(
    conn: &mut Conn,
    connection: Uuid,
    calendar: &str,
    instance_id: &str,
) -> CrmResult<Option<Link>> {
    match store::link_at(conn, connection, calendar, instance_id).await? {
        Some(link) if link.kind == LinkKind::Block => Ok(Some(link)),
        Some(link) => Err(CrmError::new(
            Reason::Conflict,
            "conflict",
            format!("this occurrence is meeting {} already", link.crm_id),
        )),
        None => Ok(None),
    }
}

/// One occurrence of `series` (named by its original start `raw`) made a meeting. Google is
/// asked for the occurrence by its instance id, outside any transaction (it may be an
/// instance the series never changed, which no listing names); then the meeting and its
/// converted link are written in one transaction. The series block stays. Answers the
/// meeting's id.
pub async fn occurrence(
    sync: &CalendarSync,
    org: Uuid,
    user: Uuid,
    series: &BusyBlock,
    raw: &str,
) -> Result<Uuid, CalendarError> {
    let start = occurrence_start(series, raw)?;
    let instance = instance_id(&series.event_id, &start);
    let (connection, calendar) = (series.connection_id, series.calendar_id.as_str());
    {
        // Answered before asking Google; checked again when writing.
        let mut conn = sync.db().pool().acquire().await?;
        occurrence_link(&mut conn, connection, calendar, &instance).await?;
    }
    let token = sync.token(connection).await?;
    let client = sync.client();
    let event = match client.get_event(&token, calendar, &instance).await {
        Ok(event) => event,
        Err(e) if matches!(e.status(), Some(404 | 410)) => {
            return Err(not_an_occurrence(raw).into())
        }
        Err(e) => return Err(google_failed("reading the occurrence from Google", e)),
    };
    if event.is_cancelled() {
        return Err(cancelled_occurrence().into());
    }
    // The calendar's zone reads a time that names none, as the sync's listing reads it (the
    // listing's `timeZone` is the calendar's), so both see the same fields.
    let zone = match client.calendar_entry(&token, calendar).await {
        Ok(entry) => entry.time_zone,
        // No longer in the account's list: the events name their zones (a series must).
        Err(e) if e.status() == Some(404) => None,
        Err(e) => return Err(google_failed("reading the calendar from Google", e)),
    };
    // What Google answered for that id must be that occurrence of this series (an id with
    // a fraction of a second dropped, say, names another start).
    let same_start = OriginalStart::of(&event, zone.as_deref()).ok().flatten() == Some(start);
    if event.recurring_event_id.as_deref() != Some(series.event_id.as_str()) || !same_start {
        return Err(not_an_occurrence(raw).into());
    }
    let meeting_id = threadline_storage::db::new_id();
    let (link, fields) = Link::converted_instance(meeting_id, calendar, &event, zone.as_deref())
        .map_err(|e| {
            CalendarError::Provider(format!("Google's occurrence could not be read: {e}"))
        })?;
    let names = display_names(&event);
    let (series_id, link, fields, names) = (series.id, &link, &fields, &names);
    sync.db()
        .write(|tx| {
            Box::pin(async move {
                // The series may have gone meanwhile (a run saw it deleted).
                store::block(tx, org, user, series_id)
                    .await?
                    .ok_or_else(|| block_not_found(series_id))?;
                let exception =
                    occurrence_link(tx, connection, &link.calendar_id, &link.remote_id).await?;
                if let Some(exception) = exception {
                    store::remove_block(tx, exception.crm_id).await?;
                }
                store::create_meeting(tx, org, meeting_id, fields, names).await?;
                // Replaces an exception's block link (same key), as converting its block
                // would.
                store::put_link(tx, connection, link).await?;
                CrmResult::Ok(())
            })
        })
        .await?;
    Ok(meeting_id)
}
