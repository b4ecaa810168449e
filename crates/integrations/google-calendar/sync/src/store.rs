//! The calendar sync's tables (migration 0008; `calendar_links.writable` 0011): the
//! selection, the cursors, the link table, the busy blocks; and how a CRM meeting reads and
//! writes as `threadline-calendar-core`'s owned fields. Every function runs on the caller's
//! connection, so that a run's writes share one transaction.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use threadline_calendar_core::ids::instance_start;
use threadline_calendar_core::link::OriginalStart;
use threadline_calendar_core::owned::normalise_address;
use threadline_calendar_core::{Block, ContentHash, Link, LinkKind, Owned, When};
use uuid::Uuid;

use threadline_crm::records::meetings::{Attendee, Meeting};
use threadline_crm::records::Record;
use threadline_crm::records::{save_row, soft_delete, Kind, Target};
use threadline_crm::{CrmError, CrmResult};
use threadline_storage::db::{self, id_text, parse_uuid, Conn};

// ---------------------------------------------------------------------------------------
// Selection and cursors

/// A connection's calendar choice and CRM cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub imports: BTreeSet<String>,
    pub export: Option<String>,
    /// The changes-feed `seq` up to which CRM changes were planned.
    pub crm_cursor: i64,
}

/// True once a selection was stored for the connection (even an empty one: "none").
pub async fn has_settings(conn: &mut Conn, connection: Uuid) -> CrmResult<bool> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM calendar_settings WHERE connection_id = $1")
            .bind(id_text(connection))
            .fetch_optional(&mut *conn)
            .await?;
    Ok(found.is_some())
}

pub async fn settings(conn: &mut Conn, connection: Uuid) -> CrmResult<Settings> {
    let row: Option<(Option<String>, i64)> = sqlx::query_as(
        "SELECT export_calendar_id, crm_cursor FROM calendar_settings WHERE connection_id = $1",
    )
    .bind(id_text(connection))
    .fetch_optional(&mut *conn)
    .await?;
    let imports: Vec<String> = sqlx::query_scalar(
        "SELECT calendar_id FROM calendar_imports WHERE connection_id = $1 ORDER BY calendar_id",
    )
    .bind(id_text(connection))
    .fetch_all(&mut *conn)
    .await?;
    let (export, crm_cursor) = row.unwrap_or((None, 0));
    Ok(Settings {
        imports: imports.into_iter().collect(),
        export,
        crm_cursor,
    })
}

/// Stores a new selection. Calendars no longer imported lose their blocks and block links
/// at once (converted meetings stay, and keep their dormant link); a calendar newly read
/// (imported, or the new export calendar) loses its cursor, so that its next listing is a
/// full one that finds what is already there.
pub async fn set_selection(
    conn: &mut Conn,
    connection: Uuid,
    imports: &BTreeSet<String>,
    export: Option<&str>,
) -> CrmResult<Settings> {
    let before = settings(conn, connection).await?;
    let now = db::now();
    sqlx::query(
        "INSERT INTO calendar_settings (connection_id, export_calendar_id, crm_cursor, updated_at)
         VALUES ($1, $2, 0, $3)
         ON CONFLICT (connection_id) DO UPDATE SET export_calendar_id = excluded.export_calendar_id,
             updated_at = excluded.updated_at",
    )
    .bind(id_text(connection))
    .bind(export)
    .bind(&now)
    .execute(&mut *conn)
    .await?;
    for gone in before.imports.difference(imports) {
        sqlx::query("DELETE FROM calendar_imports WHERE connection_id = $1 AND calendar_id = $2")
            .bind(id_text(connection))
            .bind(gone)
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM busy_blocks WHERE connection_id = $1 AND calendar_id = $2")
            .bind(id_text(connection))
            .bind(gone)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "DELETE FROM calendar_links
             WHERE connection_id = $1 AND calendar_id = $2 AND kind = 'block'",
        )
        .bind(id_text(connection))
        .bind(gone)
        .execute(&mut *conn)
        .await?;
    }
    let mut newly_read: Vec<&str> = imports
        .difference(&before.imports)
        .map(String::as_str)
        .collect();
    for added in imports.difference(&before.imports) {
        sqlx::query(
            "INSERT INTO calendar_imports (connection_id, calendar_id) VALUES ($1, $2)
             ON CONFLICT (connection_id, calendar_id) DO NOTHING",
        )
        .bind(id_text(connection))
        .bind(added)
        .execute(&mut *conn)
        .await?;
    }
    if export.is_some() && export != before.export.as_deref() {
        newly_read.extend(export);
    }
    for calendar in newly_read {
        delete_cursor(conn, connection, calendar).await?;
    }
    settings(conn, connection).await
}

/// Saves the CRM cursor (creating the settings row if there is none).
pub async fn save_crm_cursor(conn: &mut Conn, connection: Uuid, seq: i64) -> CrmResult<()> {
    sqlx::query(
        "INSERT INTO calendar_settings (connection_id, export_calendar_id, crm_cursor, updated_at)
         VALUES ($1, NULL, $2, $3)
         ON CONFLICT (connection_id) DO UPDATE SET crm_cursor = excluded.crm_cursor,
             updated_at = excluded.updated_at",
    )
    .bind(id_text(connection))
    .bind(seq)
    .bind(db::now())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn cursors(conn: &mut Conn, connection: Uuid) -> CrmResult<HashMap<String, String>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT calendar_id, sync_token FROM calendar_cursors WHERE connection_id = $1",
    )
    .bind(id_text(connection))
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().collect())
}

pub async fn save_cursor(
    conn: &mut Conn,
    connection: Uuid,
    calendar: &str,
    token: &str,
) -> CrmResult<()> {
    sqlx::query(
        "INSERT INTO calendar_cursors (connection_id, calendar_id, sync_token, updated_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (connection_id, calendar_id) DO UPDATE SET sync_token = excluded.sync_token,
             updated_at = excluded.updated_at",
    )
    .bind(id_text(connection))
    .bind(calendar)
    .bind(token)
    .bind(db::now())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn delete_cursor(conn: &mut Conn, connection: Uuid, calendar: &str) -> CrmResult<()> {
    sqlx::query("DELETE FROM calendar_cursors WHERE connection_id = $1 AND calendar_id = $2")
        .bind(id_text(connection))
        .bind(calendar)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The organisation's highest changes-feed `seq` now (0 when empty).
pub async fn crm_head(conn: &mut Conn, org: Uuid) -> CrmResult<i64> {
    let head: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM changes WHERE org_id = $1")
        .bind(id_text(org))
        .fetch_one(&mut *conn)
        .await?;
    Ok(head.unwrap_or(0))
}

/// Meetings changed after `after` up to `upto` (changes-feed `seq`).
pub async fn changed_meetings(
    conn: &mut Conn,
    org: Uuid,
    after: i64,
    upto: i64,
) -> CrmResult<Vec<Uuid>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT record_id FROM changes
         WHERE org_id = $1 AND record_kind = 'meeting' AND seq > $2 AND seq <= $3 ORDER BY seq",
    )
    .bind(id_text(org))
    .bind(after)
    .bind(upto)
    .fetch_all(&mut *conn)
    .await?;
    ids.iter().map(|s| Ok(parse_uuid(s)?)).collect()
}

// ---------------------------------------------------------------------------------------
// Links

fn kind_text(kind: LinkKind) -> &'static str {
    match kind {
        LinkKind::Exported => "exported",
        LinkKind::Block => "block",
        LinkKind::Converted => "converted",
    }
}

fn parse_kind(s: &str) -> CrmResult<LinkKind> {
    match s {
        "exported" => Ok(LinkKind::Exported),
        "block" => Ok(LinkKind::Block),
        "converted" => Ok(LinkKind::Converted),
        other => Err(CrmError::internal(format!(
            "unknown calendar link kind {other:?} stored"
        ))),
    }
}

type LinkRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    i64,
);

const LINK_COLUMNS: &str =
    "calendar_id, remote_id, kind, crm_id, remote_etag, hash, snapshot, series_id, writable";

fn link_of(row: LinkRow) -> CrmResult<Link> {
    let (calendar_id, remote_id, kind, crm_id, remote_etag, hash, snapshot, series_id, writable) =
        row;
    let snapshot = snapshot
        .map(|s| serde_json::from_str::<Owned>(&s))
        .transpose()
        .map_err(|e| CrmError::internal(format!("bad calendar link snapshot stored: {e}")))?;
    Ok(Link {
        kind: parse_kind(&kind)?,
        crm_id: parse_uuid(&crm_id)?,
        calendar_id,
        remote_id,
        remote_etag,
        hash: ContentHash(hash),
        snapshot,
        series_id,
        writable: writable != 0,
    })
}

/// The connection's whole link table.
pub async fn links(conn: &mut Conn, connection: Uuid) -> CrmResult<Vec<Link>> {
    let rows: Vec<LinkRow> = sqlx::query_as(&format!(
        "SELECT {LINK_COLUMNS} FROM calendar_links WHERE connection_id = $1
         ORDER BY calendar_id, remote_id"
    ))
    .bind(id_text(connection))
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(link_of).collect()
}

/// The links of one CRM id (a meeting's, or a block's).
pub async fn links_of(conn: &mut Conn, connection: Uuid, crm_id: Uuid) -> CrmResult<Vec<Link>> {
    let rows: Vec<LinkRow> = sqlx::query_as(&format!(
        "SELECT {LINK_COLUMNS} FROM calendar_links WHERE connection_id = $1 AND crm_id = $2"
    ))
    .bind(id_text(connection))
    .bind(id_text(crm_id))
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(link_of).collect()
}

/// The link of (calendar, remote event), if there is one.
pub async fn link_at(
    conn: &mut Conn,
    connection: Uuid,
    calendar: &str,
    remote_id: &str,
) -> CrmResult<Option<Link>> {
    let row: Option<LinkRow> = sqlx::query_as(&format!(
        "SELECT {LINK_COLUMNS} FROM calendar_links
         WHERE connection_id = $1 AND calendar_id = $2 AND remote_id = $3"
    ))
    .bind(id_text(connection))
    .bind(calendar)
    .bind(remote_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(link_of).transpose()
}

/// Inserts or replaces the link of (calendar, remote event).
pub async fn put_link(conn: &mut Conn, connection: Uuid, link: &Link) -> CrmResult<()> {
    let snapshot = link
        .snapshot
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| CrmError::internal(format!("cannot serialise a link snapshot: {e}")))?;
    sqlx::query(
        "INSERT INTO calendar_links (connection_id, calendar_id, remote_id, kind, crm_id,
             remote_etag, hash, snapshot, series_id, writable, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (connection_id, calendar_id, remote_id) DO UPDATE SET
             kind = excluded.kind, crm_id = excluded.crm_id, remote_etag = excluded.remote_etag,
             hash = excluded.hash, snapshot = excluded.snapshot, series_id = excluded.series_id,
             writable = excluded.writable, updated_at = excluded.updated_at",
    )
    .bind(id_text(connection))
    .bind(&link.calendar_id)
    .bind(&link.remote_id)
    .bind(kind_text(link.kind))
    .bind(id_text(link.crm_id))
    .bind(&link.remote_etag)
    .bind(&link.hash.0)
    .bind(snapshot)
    .bind(&link.series_id)
    .bind(i64::from(link.writable))
    .bind(db::now())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The (calendar, event) keys of the connection linked to a meeting (exported or
/// converted) now: a run planned before a conversion must not bring the block back over it.
pub async fn meeting_link_keys(
    conn: &mut Conn,
    connection: Uuid,
) -> CrmResult<Vec<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT calendar_id, remote_id FROM calendar_links
         WHERE connection_id = $1 AND kind <> $2",
    )
    .bind(id_text(connection))
    .bind(kind_text(LinkKind::Block))
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn delete_link(
    conn: &mut Conn,
    connection: Uuid,
    calendar: &str,
    remote_id: &str,
) -> CrmResult<()> {
    sqlx::query(
        "DELETE FROM calendar_links WHERE connection_id = $1 AND calendar_id = $2 AND remote_id = $3",
    )
    .bind(id_text(connection))
    .bind(calendar)
    .bind(remote_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Busy blocks

/// Whose blocks: the connection and its user.
#[derive(Debug, Clone, Copy)]
pub struct BlockOwner {
    pub org_id: Uuid,
    pub user_id: Uuid,
    pub connection_id: Uuid,
}

/// A grey busy block, as the API answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BusyBlock {
    pub id: Uuid,
    pub connection_id: Uuid,
    /// The Google calendar and event it mirrors.
    pub calendar_id: String,
    pub event_id: String,
    /// As Google gives it; absent for a private event (busy only) or an untitled one.
    pub title: Option<String>,
    pub all_day: bool,
    pub start_at: Option<DateTime<Utc>>,
    pub end_at: Option<DateTime<Utc>>,
    pub time_zone: Option<String>,
    /// All-day: the first day and the day after the last (exclusive).
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub location: Option<String>,
    pub description: Option<String>,
    pub attendees: Vec<String>,
    /// A series: its `RRULE`/`EXDATE` lines (expand them to show it); empty otherwise.
    pub recurrence: Vec<String>,
    /// An exception of a series: the series' event id, and where the series had put it.
    pub series_id: Option<String>,
    pub original_start: Option<String>,
    /// A cancelled instance of a series: hide that occurrence.
    pub cancelled: bool,
    /// A private event: only its time is kept.
    pub private: bool,
    /// A series: the original starts (as `original_start` gives them: RFC 3339 UTC, or
    /// `YYYY-MM-DD` for an all-day series) of its occurrences that are CRM meetings now
    /// (converted, from the series or from an exception's block). Hide them when expanding
    /// `recurrence`: the meeting shows that occurrence, wherever it is now. Empty otherwise.
    pub converted_occurrences: Vec<String>,
}

#[derive(sqlx::FromRow)]
struct BlockRow {
    id: String,
    connection_id: String,
    calendar_id: String,
    event_id: String,
    title: Option<String>,
    all_day: i64,
    start_at: Option<String>,
    end_at: Option<String>,
    time_zone: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
    location: Option<String>,
    description: Option<String>,
    attendees: String,
    recurrence: String,
    series_id: Option<String>,
    original_start: Option<String>,
    cancelled: i64,
    private: i64,
}

const BLOCK_COLUMNS: &str = "id, connection_id, calendar_id, event_id, title, all_day, start_at, \
     end_at, time_zone, start_date, end_date, location, description, attendees, recurrence, \
     series_id, original_start, cancelled, private";

fn block_of(row: BlockRow) -> CrmResult<BusyBlock> {
    let json_list = |s: &str| -> CrmResult<Vec<String>> {
        serde_json::from_str(s)
            .map_err(|e| CrmError::internal(format!("bad list in busy_blocks: {e}")))
    };
    let date = |s: Option<String>| -> CrmResult<Option<NaiveDate>> {
        s.map(|d| {
            NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                .map_err(|e| CrmError::internal(format!("bad date {d:?} in busy_blocks: {e}")))
        })
        .transpose()
    };
    Ok(BusyBlock {
        id: parse_uuid(&row.id)?,
        connection_id: parse_uuid(&row.connection_id)?,
        calendar_id: row.calendar_id,
        event_id: row.event_id,
        title: row.title,
        all_day: row.all_day != 0,
        start_at: row.start_at.as_deref().map(db::parse_time).transpose()?,
        end_at: row.end_at.as_deref().map(db::parse_time).transpose()?,
        time_zone: row.time_zone,
        start_date: date(row.start_date)?,
        end_date: date(row.end_date)?,
        location: row.location,
        description: row.description,
        attendees: json_list(&row.attendees)?,
        recurrence: json_list(&row.recurrence)?,
        series_id: row.series_id,
        original_start: row.original_start,
        cancelled: row.cancelled != 0,
        private: row.private != 0,
        converted_occurrences: Vec::new(),
    })
}

/// An original start as busy blocks store and answer it.
fn original_start_text(start: &OriginalStart) -> String {
    match start {
        OriginalStart::Date(d) => d.format("%Y-%m-%d").to_string(),
        OriginalStart::Instant(at) => db::format_time(*at),
    }
}

/// Inserts or replaces block `id`; answers whether it was new. A private event keeps its
/// time only.
pub async fn upsert_block(
    conn: &mut Conn,
    owner: BlockOwner,
    id: Uuid,
    block: &Block,
    private: bool,
) -> CrmResult<bool> {
    let fields = block.fields.as_ref().filter(|_| !private);
    let (all_day, start_at, end_at, zone, start_date, end_date, range_start, range_end) =
        match block.fields.as_ref().map(|f| &f.when) {
            Some(When::Timed {
                start,
                end,
                time_zone,
            }) => (
                0,
                Some(db::format_time(*start)),
                Some(db::format_time(*end)),
                Some(time_zone.clone()),
                None,
                None,
                Some(db::format_time(*start)),
                Some(db::format_time(*end)),
            ),
            Some(When::AllDay { start, end }) => (
                1,
                None,
                None,
                None,
                Some(start.format("%Y-%m-%d").to_string()),
                Some(end.format("%Y-%m-%d").to_string()),
                Some(midnight(*start)),
                Some(midnight(*end)),
            ),
            None => (0, None, None, None, None, None, None, None),
        };
    // A series may recur for ever: it overlaps every range after its start.
    let range_end = if block.recurrence.is_empty() {
        range_end
    } else {
        None
    };
    let original_start = block.original_start.as_ref().map(original_start_text);
    let attendees: Vec<&String> = fields
        .map(|f| f.attendees.iter().collect())
        .unwrap_or_default();
    let existed: Option<i64> = sqlx::query_scalar("SELECT 1 FROM busy_blocks WHERE id = $1")
        .bind(id_text(id))
        .fetch_optional(&mut *conn)
        .await?;
    sqlx::query(&format!(
        "INSERT INTO busy_blocks ({BLOCK_COLUMNS}, org_id, user_id, range_start, range_end,
             updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
             $18, $19, $20, $21, $22, $23, $24)
         ON CONFLICT (id) DO UPDATE SET title = excluded.title, all_day = excluded.all_day,
             start_at = excluded.start_at, end_at = excluded.end_at,
             time_zone = excluded.time_zone, start_date = excluded.start_date,
             end_date = excluded.end_date, location = excluded.location,
             description = excluded.description, attendees = excluded.attendees,
             recurrence = excluded.recurrence, series_id = excluded.series_id,
             original_start = excluded.original_start, cancelled = excluded.cancelled,
             private = excluded.private, range_start = excluded.range_start,
             range_end = excluded.range_end, updated_at = excluded.updated_at"
    ))
    .bind(id_text(id))
    .bind(id_text(owner.connection_id))
    .bind(&block.calendar_id)
    .bind(&block.event_id)
    .bind(fields.map(|f| f.title.clone()).filter(|t| !t.is_empty()))
    .bind(all_day as i64)
    .bind(start_at)
    .bind(end_at)
    .bind(zone)
    .bind(start_date)
    .bind(end_date)
    .bind(fields.and_then(|f| f.location.clone()))
    .bind(fields.and_then(|f| f.description.clone()))
    .bind(json_text(&attendees))
    .bind(json_text(&block.recurrence))
    .bind(&block.series_id)
    .bind(original_start)
    .bind(i64::from(block.cancelled))
    .bind(i64::from(private))
    .bind(id_text(owner.org_id))
    .bind(id_text(owner.user_id))
    .bind(range_start)
    .bind(range_end)
    .bind(db::now())
    .execute(&mut *conn)
    .await?;
    Ok(existed.is_none())
}

/// JSON text of a list of strings (which cannot fail to serialise).
fn json_text<T: Serialize>(list: &T) -> String {
    serde_json::to_string(list).expect("a list of strings serialises")
}

fn midnight(date: NaiveDate) -> String {
    db::format_time(
        date.and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc(),
    )
}

pub async fn remove_block(conn: &mut Conn, id: Uuid) -> CrmResult<bool> {
    let done = sqlx::query("DELETE FROM busy_blocks WHERE id = $1")
        .bind(id_text(id))
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The user's blocks overlapping [`from`, `to`), series (and their exceptions) that started
/// before `to` included, by start.
pub async fn blocks_in_range(
    conn: &mut Conn,
    org: Uuid,
    user: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> CrmResult<Vec<BusyBlock>> {
    let rows: Vec<BlockRow> = sqlx::query_as(&format!(
        "SELECT {BLOCK_COLUMNS} FROM busy_blocks
         WHERE org_id = $1 AND user_id = $2
           AND (series_id IS NOT NULL
                OR (range_start < $3 AND (range_end IS NULL OR range_end > $4)))
         ORDER BY range_start NULLS LAST, id"
    ))
    .bind(id_text(org))
    .bind(id_text(user))
    .bind(db::format_time(to))
    .bind(db::format_time(from))
    .fetch_all(&mut *conn)
    .await?;
    let mut blocks = rows
        .into_iter()
        .map(block_of)
        .collect::<CrmResult<Vec<_>>>()?;
    let connections: BTreeSet<Uuid> = blocks
        .iter()
        .filter(|b| !b.recurrence.is_empty())
        .map(|b| b.connection_id)
        .collect();
    for connection in connections {
        let mut converted = converted_occurrences(conn, connection).await?;
        for block in blocks
            .iter_mut()
            .filter(|b| b.connection_id == connection && !b.recurrence.is_empty())
        {
            block.converted_occurrences = converted
                .remove(&(block.calendar_id.clone(), block.event_id.clone()))
                .unwrap_or_default();
        }
    }
    Ok(blocks)
}

/// The connection's occurrences of series that are live CRM meetings (converted links with a
/// series), by (calendar, series): their original starts, read from the instance ids, in
/// order. A meeting deleted in the CRM is left out: until the next run makes it a block
/// again, the series itself shows that occurrence as busy.
async fn converted_occurrences(
    conn: &mut Conn,
    connection: Uuid,
) -> CrmResult<BTreeMap<(String, String), Vec<String>>> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT l.calendar_id, l.series_id, l.remote_id FROM calendar_links l
         JOIN meetings m ON m.id = l.crm_id
         WHERE l.connection_id = $1 AND l.kind = 'converted' AND l.series_id IS NOT NULL
           AND m.deleted_at IS NULL",
    )
    .bind(id_text(connection))
    .fetch_all(&mut *conn)
    .await?;
    let mut out: BTreeMap<(String, String), BTreeSet<OriginalStart>> = BTreeMap::new();
    for (calendar, series, remote_id) in rows {
        if let Some(start) = instance_start(&series, &remote_id) {
            out.entry((calendar, series)).or_default().insert(start);
        }
    }
    Ok(out
        .into_iter()
        .map(|(key, starts)| (key, starts.iter().map(original_start_text).collect()))
        .collect())
}

/// The user's block `id`, or `None`.
pub async fn block(
    conn: &mut Conn,
    org: Uuid,
    user: Uuid,
    id: Uuid,
) -> CrmResult<Option<BusyBlock>> {
    let row: Option<BlockRow> = sqlx::query_as(&format!(
        "SELECT {BLOCK_COLUMNS} FROM busy_blocks WHERE id = $1 AND org_id = $2 AND user_id = $3"
    ))
    .bind(id_text(id))
    .bind(id_text(org))
    .bind(id_text(user))
    .fetch_optional(&mut *conn)
    .await?;
    row.map(block_of).transpose()
}

// ---------------------------------------------------------------------------------------
// CRM meetings as owned fields

/// A meeting's owned fields and its attendees' display names (by normalised address).
pub fn owned_of(meeting: &Meeting) -> CrmResult<(Owned, BTreeMap<String, String>)> {
    let when = if meeting.all_day {
        match (meeting.start_date, meeting.end_date) {
            (Some(start), Some(end)) => When::AllDay { start, end },
            _ => {
                return Err(CrmError::internal(format!(
                    "all-day meeting {} has no dates stored",
                    meeting.id
                )))
            }
        }
    } else {
        match (meeting.start_at, meeting.end_at, &meeting.time_zone) {
            (Some(start), Some(end), Some(zone)) => When::Timed {
                start,
                end,
                time_zone: zone.clone(),
            },
            _ => {
                return Err(CrmError::internal(format!(
                    "timed meeting {} has no times stored",
                    meeting.id
                )))
            }
        }
    };
    let names = meeting
        .attendees
        .iter()
        .filter_map(|a| Some((normalise_address(&a.address), a.name.clone()?)))
        .collect();
    Ok((
        Owned::new(
            &meeting.title,
            when,
            meeting.location.as_deref(),
            meeting.description.as_deref(),
            meeting.attendees.iter().map(|a| a.address.as_str()),
        ),
        names,
    ))
}

/// Meetings of `org` by id, tombstones included.
pub async fn meetings(conn: &mut Conn, org: Uuid, ids: &[Uuid]) -> CrmResult<Vec<Meeting>> {
    Meeting::load(conn, org, ids).await
}

/// The columns of a meeting's row that the owned fields set (the records' own mapping).
fn meeting_columns(
    fields: &Owned,
    attendees: &[Attendee],
) -> CrmResult<Vec<(&'static str, threadline_crm::records::Col)>> {
    let when = match &fields.when {
        When::Timed {
            start,
            end,
            time_zone,
        } => threadline_crm::records::meetings::When::Timed {
            start_at: db::format_time(*start),
            end_at: db::format_time(*end),
            time_zone: time_zone.clone(),
        },
        When::AllDay { start, end } => threadline_crm::records::meetings::When::AllDay {
            start_date: start.format("%Y-%m-%d").to_string(),
            end_date: end.format("%Y-%m-%d").to_string(),
        },
    };
    threadline_crm::records::meetings::row_columns(
        &fields.title,
        &when,
        fields.location.as_deref(),
        fields.description.as_deref(),
        attendees,
    )
}

/// The attendee list for `fields`: kept attendees keep their entry (name, contact), new ones
/// get Google's display name.
fn attendees_for(
    fields: &Owned,
    current: &[Attendee],
    names: &BTreeMap<String, String>,
) -> Vec<Attendee> {
    fields
        .attendees
        .iter()
        .map(|address| {
            current
                .iter()
                .find(|a| normalise_address(&a.address) == *address)
                .cloned()
                .unwrap_or_else(|| Attendee {
                    address: address.clone(),
                    name: names.get(address).cloned(),
                    contact_id: None,
                })
        })
        .collect()
}

/// Sets meeting `id`'s owned fields (and undeletes it when `restore`); links and the rest
/// stay. The change goes to the changes feed like any other. `false` when there is no such
/// meeting (or it is deleted and `restore` is off): nothing to write.
pub async fn write_meeting(
    conn: &mut Conn,
    org: Uuid,
    id: Uuid,
    fields: &Owned,
    names: &BTreeMap<String, String>,
    restore: bool,
) -> CrmResult<bool> {
    let Some(current) = meetings(conn, org, &[id]).await?.into_iter().next() else {
        return Ok(false);
    };
    if current.meta.deleted_at.is_some() {
        if !restore {
            return Ok(false);
        }
        sqlx::query("UPDATE meetings SET deleted_at = NULL WHERE org_id = $1 AND id = $2")
            .bind(id_text(org))
            .bind(id_text(id))
            .execute(&mut *conn)
            .await?;
    }
    let attendees = attendees_for(fields, &current.attendees, names);
    save_row(
        conn,
        Kind::Meeting,
        org,
        id,
        Target::Existing {
            expected_version: current.meta.version,
        },
        &meeting_columns(fields, &attendees)?,
    )
    .await?;
    Ok(true)
}

/// A new meeting `id` with `fields` (a converted block).
pub async fn create_meeting(
    conn: &mut Conn,
    org: Uuid,
    id: Uuid,
    fields: &Owned,
    names: &BTreeMap<String, String>,
) -> CrmResult<()> {
    let attendees = attendees_for(fields, &[], names);
    save_row(
        conn,
        Kind::Meeting,
        org,
        id,
        Target::New,
        &meeting_columns(fields, &attendees)?,
    )
    .await?;
    Ok(())
}

/// Soft-deletes meeting `id` if it is live.
pub async fn delete_meeting(conn: &mut Conn, org: Uuid, id: Uuid) -> CrmResult<bool> {
    let Some(current) = meetings(conn, org, &[id]).await?.into_iter().next() else {
        return Ok(false);
    };
    if current.meta.deleted_at.is_some() {
        return Ok(false);
    }
    soft_delete(conn, Kind::Meeting, org, id, current.meta.version).await?;
    Ok(true)
}

/// The user's own addresses (login, aliases and their connected Google accounts':
/// `threadline_crm::accounts::own_addresses`), normalised: a meeting with one of them among
/// its attendees is the user's, and is exported.
pub async fn user_addresses(conn: &mut Conn, user: Uuid) -> CrmResult<BTreeSet<String>> {
    let mut out: BTreeSet<String> = threadline_crm::accounts::own_addresses(conn, user)
        .await?
        .into_iter()
        .map(|a| normalise_address(&a))
        .collect();
    let email: Option<String> = sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
        .bind(id_text(user))
        .fetch_optional(&mut *conn)
        .await?;
    out.extend(email.map(|e| normalise_address(&e)));
    Ok(out)
}
