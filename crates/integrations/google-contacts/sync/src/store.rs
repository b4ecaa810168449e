//! The export's tables (migration 0015): the export row per connection (on/off, our group,
//! the CRM feed position, the People sync token) and the link table (the contacts core's
//! [`Link`]). Every function runs on the caller's connection, so that a run's writes share
//! one transaction.

use std::collections::BTreeMap;

use threadline_contacts_core::{ContentHash, Link, LinkState};
use threadline_crm::{CrmError, CrmResult};
use threadline_storage::db::{self, id_text, parse_uuid, Conn, Sql};
use uuid::Uuid;

/// A connection's export row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Export {
    pub enabled: bool,
    /// Our `contactGroups/…`, once found or created.
    pub group: Option<String>,
    /// The CRM changes-feed position up to which changes were exported.
    pub feed_seq: i64,
    /// The core's `HASH_VERSION` of the last complete export.
    pub mapping_version: Option<String>,
    /// Read every CRM contact and list Google in full next time (first run, turned on
    /// again).
    pub needs_adoption: bool,
    /// People's `nextSyncToken` of the last listing; `None`: list in full.
    pub sync_token: Option<String>,
    /// The last plan asked for a complete listing.
    pub needs_full_listing: bool,
}

type ExportRow = (
    i64,
    Option<String>,
    i64,
    Option<String>,
    i64,
    Option<String>,
    i64,
);

/// The connection's export row, if the export was ever turned on.
pub async fn export(conn: &mut Conn, connection: Uuid) -> CrmResult<Option<Export>> {
    let row: Option<ExportRow> = sqlx::query_as(
        "SELECT enabled, group_resource_name, feed_seq, mapping_version, needs_adoption,
                sync_token, needs_full_listing
         FROM google_contacts_exports WHERE connection_id = $1",
    )
    .bind(id_text(connection))
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(
        |(enabled, group, feed_seq, mapping_version, needs_adoption, sync_token, full)| Export {
            enabled: enabled != 0,
            group,
            feed_seq,
            mapping_version,
            needs_adoption: needs_adoption != 0,
            sync_token,
            needs_full_listing: full != 0,
        },
    ))
}

/// Turns the export on or off. Turning it on (first time or again) asks the next run for an
/// adoption pass: every CRM contact, a full listing (what is already in Google is adopted by
/// its `clientData`, never duplicated). Turning it off keeps the links and the group.
pub async fn set_enabled(conn: &mut Conn, connection: Uuid, enabled: bool) -> CrmResult<()> {
    let before = export(conn, connection).await?;
    if before.as_ref().is_some_and(|e| e.enabled == enabled) {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO google_contacts_exports (connection_id, enabled, feed_seq, needs_adoption,
             needs_full_listing, updated_at)
         VALUES ($1, $2, 0, 1, 0, $3)
         ON CONFLICT (connection_id) DO UPDATE SET enabled = excluded.enabled,
             needs_adoption = CASE WHEN excluded.enabled = 1 THEN 1
                                   ELSE google_contacts_exports.needs_adoption END,
             sync_token = CASE WHEN excluded.enabled = 1 THEN NULL
                               ELSE google_contacts_exports.sync_token END,
             updated_at = excluded.updated_at",
    )
    .bind(id_text(connection))
    .bind(i64::from(enabled))
    .bind(db::now())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Stores our group (`None`: forget it, it was deleted in Google).
pub async fn save_group(conn: &mut Conn, connection: Uuid, group: Option<&str>) -> CrmResult<()> {
    sqlx::query(
        "UPDATE google_contacts_exports SET group_resource_name = $2, updated_at = $3
         WHERE connection_id = $1",
    )
    .bind(id_text(connection))
    .bind(group)
    .bind(db::now())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Where a completed run leaves the export: stored after every write of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position<'a> {
    pub feed_seq: i64,
    pub sync_token: Option<&'a str>,
    pub needs_full_listing: bool,
    /// The mapping version every exported contact now has (`HASH_VERSION`).
    pub mapping_version: &'a str,
}

/// Moves the feed position and the sync token; the adoption pass is done.
pub async fn save_position(
    conn: &mut Conn,
    connection: Uuid,
    position: &Position<'_>,
) -> CrmResult<()> {
    sqlx::query(
        "UPDATE google_contacts_exports SET feed_seq = $2, sync_token = $3,
             needs_full_listing = $4, mapping_version = $5, needs_adoption = 0, updated_at = $6
         WHERE connection_id = $1",
    )
    .bind(id_text(connection))
    .bind(position.feed_seq)
    .bind(position.sync_token)
    .bind(i64::from(position.needs_full_listing))
    .bind(position.mapping_version)
    .bind(db::now())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Forgets the sync token (it expired): the next listing is a full one.
pub async fn clear_sync_token(conn: &mut Conn, connection: Uuid) -> CrmResult<()> {
    sqlx::query(
        "UPDATE google_contacts_exports SET sync_token = NULL, updated_at = $2
         WHERE connection_id = $1",
    )
    .bind(id_text(connection))
    .bind(db::now())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Links

type LinkRow = (String, Option<String>, Option<String>, String, String);

fn state_text(state: LinkState) -> &'static str {
    match state {
        LinkState::Exported => "exported",
        LinkState::Pending => "pending_create",
        LinkState::DeletedInGoogle => "deleted_in_google",
    }
}

fn link_of((contact, resource_name, etag, hash, state): LinkRow) -> CrmResult<Link> {
    let state = match state.as_str() {
        "exported" => LinkState::Exported,
        "pending_create" => LinkState::Pending,
        "deleted_in_google" => LinkState::DeletedInGoogle,
        other => {
            return Err(CrmError::internal(format!(
                "a Google Contacts link in an unknown state {other:?}"
            )))
        }
    };
    Ok(Link {
        contact_id: parse_uuid(&contact)?,
        resource_name,
        etag,
        hash: ContentHash(hash),
        state,
    })
}

/// Every link of the connection, by contact id.
pub async fn links(conn: &mut Conn, connection: Uuid) -> CrmResult<Vec<Link>> {
    let rows: Vec<LinkRow> = sqlx::query_as(
        "SELECT contact_id, resource_name, etag, owned_hash, state FROM google_contacts_links
         WHERE connection_id = $1 ORDER BY contact_id",
    )
    .bind(id_text(connection))
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(link_of).collect()
}

/// Inserts or replaces the link of the contact.
pub async fn put_link(conn: &mut Conn, connection: Uuid, link: &Link) -> CrmResult<()> {
    put_links(conn, connection, std::slice::from_ref(link)).await
}

/// Most links per statement of [`put_links`]: 7 parameters each, far under both engines'
/// limits and cheap to bind on SQLite (whose binding time grows with a statement's
/// parameters, see `crates/bench/src/seed.rs`).
const LINKS_PER_STATEMENT: usize = 100;

/// Inserts or replaces the links of their contacts (a contact given twice: the last one),
/// [`LINKS_PER_STATEMENT`] to a statement rather than a statement (and, outside a
/// transaction, a commit) each.
pub async fn put_links(conn: &mut Conn, connection: Uuid, links: &[Link]) -> CrmResult<()> {
    // One row per contact: PostgreSQL refuses an upsert that touches a row twice.
    let by_contact: BTreeMap<Uuid, &Link> = links.iter().map(|l| (l.contact_id, l)).collect();
    let links: Vec<&Link> = by_contact.into_values().collect();
    let now = db::now();
    for chunk in links.chunks(LINKS_PER_STATEMENT) {
        let mut sql = Sql::new(
            "INSERT INTO google_contacts_links (connection_id, contact_id, resource_name, etag,
                 owned_hash, state, updated_at) VALUES ",
        );
        for (i, link) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push("(")
                .push_bind(id_text(connection))
                .push(", ")
                .push_bind(id_text(link.contact_id))
                .push(", ")
                .push_bind(link.resource_name.clone())
                .push(", ")
                .push_bind(link.etag.clone())
                .push(", ")
                .push_bind(link.hash.0.clone())
                .push(", ")
                .push_bind(state_text(link.state))
                .push(", ")
                .push_bind(now.clone())
                .push(")");
        }
        sql.push(
            " ON CONFLICT (connection_id, contact_id) DO UPDATE SET
                 resource_name = excluded.resource_name, etag = excluded.etag,
                 owned_hash = excluded.owned_hash, state = excluded.state,
                 updated_at = excluded.updated_at",
        );
        sql.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Drops the link of the contact (its person was deleted).
pub async fn delete_link(conn: &mut Conn, connection: Uuid, contact: Uuid) -> CrmResult<()> {
    sqlx::query("DELETE FROM google_contacts_links WHERE connection_id = $1 AND contact_id = $2")
        .bind(id_text(connection))
        .bind(id_text(contact))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// How many of a connection's links are in each state: what the export's page shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkCounts {
    /// Contacts in Google, ours.
    pub exported: i64,
    /// Created, the answer not read yet (found again by the next run).
    pub pending: i64,
    /// Deleted by the user in Google; made again when they change in the CRM.
    pub deleted_in_google: i64,
}

pub async fn link_counts(conn: &mut Conn, connection: Uuid) -> CrmResult<LinkCounts> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT state, COUNT(*) FROM google_contacts_links WHERE connection_id = $1
         GROUP BY state",
    )
    .bind(id_text(connection))
    .fetch_all(&mut *conn)
    .await?;
    let mut counts = LinkCounts::default();
    for (state, n) in rows {
        match state.as_str() {
            "exported" => counts.exported = n,
            "pending_create" => counts.pending = n,
            "deleted_in_google" => counts.deleted_in_google = n,
            other => {
                return Err(CrmError::internal(format!(
                    "unknown link state {other:?} stored"
                )))
            }
        }
    }
    Ok(counts)
}
