//! Meetings: `/api/v1/meetings` (list, search by title, get, create, PUT, PATCH, delete).
//!
//! A meeting is either **timed** (`all_day: false`, the default): `start_at` and `end_at`
//! RFC 3339 instants (stored and answered in UTC) and `time_zone`, the IANA name they are
//! meant in (checked against jiff's bundled tz database), `end_at` ≥ `start_at`; or
//! **all-day** (`all_day: true`): `start_date` and `end_date` (`YYYY-MM-DD`, the end
//! exclusive, so it is after the start). The fields of the other form must be absent (or
//! null). Attendees are `{address, name?, contact_id?}` (address valid and not twice;
//! `contact_id` a live contact); `links` are `{kind, id}` of live records of the
//! organisation (not twice). Every error names its field (`attendees[1].contact_id`).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use threadline_domain::address::EmailAddress;
use uuid::Uuid;

use super::fields::opt_text;
use super::products::name_search;
use super::{
    load_in_order, load_rows, record_exists, replace_children, save_row, Col, Kind, Meta, MetaRow,
    Target, META_COLUMNS,
};
use super::{Editable, Record};
use crate::actor::Actor;
use crate::error::{CrmError, CrmResult};
use crate::validate::{self, MAX_NAME_CHARS};
use threadline_storage::db::{self, id_text, parse_uuid, BoxFuture, Conn, Sql};

/// Most attendees of one meeting.
pub const MAX_ATTENDEES: usize = 500;
/// Most linked records of one meeting.
pub const MAX_LINKS: usize = 100;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Meeting {
    pub id: Uuid,
    pub title: String,
    pub all_day: bool,
    pub start_at: Option<DateTime<Utc>>,
    pub end_at: Option<DateTime<Utc>>,
    pub time_zone: Option<String>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub location: Option<String>,
    pub description: Option<String>,
    pub attendees: Vec<Attendee>,
    pub links: Vec<Link>,
    #[serde(flatten)]
    pub meta: Meta,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Attendee {
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<Uuid>,
}

/// A linked record: `{kind, id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub kind: String,
    pub id: Uuid,
}

/// POST and PUT body; what PATCH merges into.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeetingInput {
    pub title: String,
    #[serde(default)]
    pub all_day: bool,
    #[serde(default)]
    pub start_at: Option<String>,
    #[serde(default)]
    pub end_at: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub start_date: Option<String>,
    #[serde(default)]
    pub end_date: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub attendees: Vec<Attendee>,
    #[serde(default)]
    pub links: Vec<Link>,
}

/// When, after the checks.
pub enum When {
    Timed {
        start_at: String,
        end_at: String,
        time_zone: String,
    },
    AllDay {
        start_date: String,
        end_date: String,
    },
}

pub struct ValidMeeting {
    title: String,
    when: When,
    location: Option<String>,
    description: Option<String>,
    attendees: Vec<Attendee>,
    links: Vec<(Kind, Uuid)>,
}

#[derive(sqlx::FromRow)]
struct Row {
    #[sqlx(flatten)]
    meta: MetaRow,
    title: String,
    all_day: i64,
    start_at: Option<String>,
    end_at: Option<String>,
    time_zone: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
    location: Option<String>,
    description: Option<String>,
    attendees: String,
}

fn parse_date(s: &str) -> CrmResult<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| CrmError::internal(format!("bad date {s:?} in the database: {e}")))
}

impl Record for Meeting {
    const KIND: Kind = Kind::Meeting;

    fn meta(&self) -> &Meta {
        &self.meta
    }

    fn id(&self) -> Uuid {
        self.id
    }

    fn load<'c>(
        conn: &'c mut Conn,
        org: Uuid,
        ids: &'c [Uuid],
    ) -> BoxFuture<'c, CrmResult<Vec<Self>>> {
        Box::pin(async move {
            let rows: Vec<Row> = load_rows(
                conn,
                org,
                ids,
                &format!(
                "SELECT {META_COLUMNS}, t.title, t.all_day, t.start_at, t.end_at, t.time_zone, \
                 t.start_date, t.end_date, t.location, t.description, t.attendees FROM meetings t"
            ),
            )
            .await?;
            let mut links: std::collections::HashMap<String, Vec<Link>> = Default::default();
            if !ids.is_empty() {
                let mut sql = Sql::new(
                    "SELECT meeting_id, record_kind, record_id FROM meeting_links WHERE org_id = ",
                );
                sql.push_bind(id_text(org))
                    .push(" AND meeting_id IN ")
                    .push_list(ids.iter().map(|id| id_text(*id)))
                    .push(" ORDER BY meeting_id, position");
                let found: Vec<(String, String, String)> =
                    sql.build_query_as().fetch_all(&mut *conn).await?;
                for (meeting, kind, id) in found {
                    links.entry(meeting).or_default().push(Link {
                        kind,
                        id: parse_uuid(&id)?,
                    });
                }
            }
            rows.into_iter()
                .map(|r| {
                    let attendees: Vec<Attendee> =
                        serde_json::from_str(&r.attendees).map_err(|e| {
                            CrmError::internal(format!("bad attendees in the database: {e}"))
                        })?;
                    Ok(Meeting {
                        id: r.meta.uuid()?,
                        title: r.title,
                        all_day: r.all_day != 0,
                        start_at: r.start_at.as_deref().map(db::parse_time).transpose()?,
                        end_at: r.end_at.as_deref().map(db::parse_time).transpose()?,
                        time_zone: r.time_zone,
                        start_date: r.start_date.as_deref().map(parse_date).transpose()?,
                        end_date: r.end_date.as_deref().map(parse_date).transpose()?,
                        location: r.location,
                        description: r.description,
                        attendees,
                        links: links.remove(&r.meta.id).unwrap_or_default(),
                        meta: r.meta.meta()?,
                    })
                })
                .collect()
        })
    }

    fn search(sql: &mut Sql<'_>, _org: Uuid, q: &str) -> CrmResult<()> {
        name_search(sql, q, &["t.title"]);
        Ok(())
    }
}

fn instant(field: &str, value: Option<&str>) -> CrmResult<DateTime<Utc>> {
    let Some(raw) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Err(CrmError::invalid(
            field,
            format!("a timed meeting needs {field}"),
        ));
    };
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            CrmError::invalid(
                field,
                format!("{raw:?} is not an RFC 3339 date and time (2026-03-01T09:30:00+01:00)"),
            )
        })
}

fn date(field: &str, value: Option<&str>) -> CrmResult<NaiveDate> {
    let Some(raw) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Err(CrmError::invalid(
            field,
            format!("an all-day meeting needs {field}"),
        ));
    };
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .filter(|_| raw.len() == 10)
        .ok_or_else(|| CrmError::invalid(field, format!("{raw:?} is not a date (YYYY-MM-DD)")))
}

/// The organisation's meetings that overlap [`from`, `to`) (timed) or the days
/// [`first_day`, `after_last_day`) (all-day), by start: the web app's planning. Meetings are
/// the organisation's (they have no owner), as the API lists them.
pub async fn in_range(
    conn: &mut Conn,
    actor: &Actor,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    (first_day, after_last_day): (NaiveDate, NaiveDate),
) -> CrmResult<Vec<Meeting>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM meetings WHERE org_id = $1 AND deleted_at IS NULL
           AND ((all_day = 0 AND start_at < $2 AND end_at > $3)
             OR (all_day = 1 AND start_date < $4 AND end_date > $5))",
    )
    .bind(id_text(actor.org_id))
    .bind(db::format_time(to))
    .bind(db::format_time(from))
    .bind(after_last_day.to_string())
    .bind(first_day.to_string())
    .fetch_all(&mut *conn)
    .await?;
    // By start: an all-day meeting from its first day's midnight (UTC).
    let mut meetings = load_in_order(conn, actor.org_id, &ids, |m: &Meeting| m.id).await?;
    meetings.sort_by_key(|m| {
        let day_start = m
            .start_date
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc());
        (m.start_at.or(day_start), m.id)
    });
    Ok(meetings)
}

/// An IANA time zone name known to the bundled tz database.
pub fn time_zone(field: &str, value: Option<&str>) -> CrmResult<String> {
    let Some(raw) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Err(CrmError::invalid(
            field,
            "a timed meeting needs its IANA time zone (Europe/Amsterdam)",
        ));
    };
    match jiff::tz::TimeZone::get(raw) {
        Ok(_) => Ok(raw.to_string()),
        Err(_) => Err(CrmError::invalid(
            field,
            format!("{raw:?} is not an IANA time zone name (Europe/Amsterdam, America/New_York)"),
        )),
    }
}

fn absent(form: &str, fields: &[(&str, &Option<String>)]) -> CrmResult<()> {
    for (field, value) in fields {
        if value.is_some() {
            return Err(CrmError::invalid(
                *field,
                format!("{field} is not part of {form} meeting (leave it out or null)"),
            ));
        }
    }
    Ok(())
}

fn validate_when(input: &MeetingInput) -> CrmResult<When> {
    if input.all_day {
        absent(
            "an all-day",
            &[
                ("start_at", &input.start_at),
                ("end_at", &input.end_at),
                ("time_zone", &input.time_zone),
            ],
        )?;
        let start = date("start_date", input.start_date.as_deref())?;
        let end = date("end_date", input.end_date.as_deref())?;
        if end <= start {
            return Err(CrmError::invalid(
                "end_date",
                "end_date is exclusive and must be after start_date (one day: the next day)",
            ));
        }
        Ok(When::AllDay {
            start_date: start.format("%Y-%m-%d").to_string(),
            end_date: end.format("%Y-%m-%d").to_string(),
        })
    } else {
        absent(
            "a timed",
            &[
                ("start_date", &input.start_date),
                ("end_date", &input.end_date),
            ],
        )?;
        let start = instant("start_at", input.start_at.as_deref())?;
        let end = instant("end_at", input.end_at.as_deref())?;
        let time_zone = time_zone("time_zone", input.time_zone.as_deref())?;
        if end < start {
            return Err(CrmError::invalid("end_at", "end_at is before start_at"));
        }
        Ok(When::Timed {
            start_at: db::format_time(start),
            end_at: db::format_time(end),
            time_zone,
        })
    }
}

/// Fills the `contact_id` of guests entered by address (the web app's form): a guest who
/// was on `previous` (the meeting as it was) keeps the contact they had; any other gets the
/// live contact of `org` with that address, when exactly one has it. A guest whose address
/// does not parse is left for [`validate_attendees`] to refuse.
pub async fn link_guests(
    conn: &mut Conn,
    org: Uuid,
    guests: &mut [Attendee],
    previous: &[Attendee],
) -> CrmResult<()> {
    let key = |address: &str| EmailAddress::parse(address).ok().map(|a| a.match_key());
    let kept: std::collections::HashMap<String, Uuid> = previous
        .iter()
        .filter_map(|a| Some((key(&a.address)?, a.contact_id?)))
        .collect();
    let mut wanted: Vec<String> = Vec::new();
    for g in guests.iter_mut().filter(|g| g.contact_id.is_none()) {
        match key(&g.address) {
            Some(k) if kept.contains_key(&k) => g.contact_id = kept.get(&k).copied(),
            Some(k) => wanted.push(k),
            None => {}
        }
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let mut sql = Sql::new(
        "SELECT e.match_key, e.contact_id FROM contact_emails e \
         JOIN contacts c ON c.id = e.contact_id AND c.deleted_at IS NULL \
         WHERE e.org_id = ",
    );
    sql.push_bind(id_text(org))
        .push(" AND e.match_key IN ")
        .push_list(wanted.iter().cloned());
    let rows: Vec<(String, String)> = sql.build_query_as().fetch_all(&mut *conn).await?;
    let mut found: std::collections::HashMap<String, Option<Uuid>> =
        std::collections::HashMap::new();
    for (k, contact) in rows {
        let contact = parse_uuid(&contact)?;
        found
            .entry(k)
            .and_modify(|c| {
                if *c != Some(contact) {
                    *c = None;
                }
            })
            .or_insert(Some(contact));
    }
    for g in guests.iter_mut().filter(|g| g.contact_id.is_none()) {
        if let Some(k) = key(&g.address) {
            g.contact_id = found.get(&k).copied().flatten();
        }
    }
    Ok(())
}

fn validate_attendees(input: &[Attendee]) -> CrmResult<Vec<Attendee>> {
    validate::max_items("attendees", input, MAX_ATTENDEES)?;
    let mut out: Vec<Attendee> = Vec::with_capacity(input.len());
    let mut keys: Vec<String> = Vec::with_capacity(input.len());
    for (i, a) in input.iter().enumerate() {
        let field = format!("attendees[{i}].address");
        let address = EmailAddress::parse(&a.address).map_err(|e| {
            CrmError::invalid(
                &field,
                format!("{:?} is not a valid email address: {e}", a.address),
            )
        })?;
        if let Some(j) = keys.iter().position(|k| *k == address.match_key()) {
            return Err(CrmError::invalid(
                field,
                format!("the same address as attendees[{j}]"),
            ));
        }
        keys.push(address.match_key());
        out.push(Attendee {
            address: address.to_string(),
            name: opt_text(
                &format!("attendees[{i}].name"),
                a.name.as_deref(),
                MAX_NAME_CHARS,
            )?,
            contact_id: a.contact_id,
        });
    }
    Ok(out)
}

/// The columns of a meeting's row that its fields set: one place for the API's saves and the
/// calendar sync's (`threadline-google-calendar`'s `store.rs`).
pub fn row_columns(
    title: &str,
    when: &When,
    location: Option<&str>,
    description: Option<&str>,
    attendees: &[Attendee],
) -> CrmResult<Vec<(&'static str, Col)>> {
    let (all_day, start_at, end_at, time_zone, start_date, end_date) = match when {
        When::Timed {
            start_at,
            end_at,
            time_zone,
        } => (
            false,
            Some(start_at.clone()),
            Some(end_at.clone()),
            Some(time_zone.clone()),
            None,
            None,
        ),
        When::AllDay {
            start_date,
            end_date,
        } => (
            true,
            None,
            None,
            None,
            Some(start_date.clone()),
            Some(end_date.clone()),
        ),
    };
    let attendees = serde_json::to_string(attendees)
        .map_err(|e| CrmError::internal(format!("cannot serialise attendees: {e}")))?;
    Ok(vec![
        ("title", title.to_string().into()),
        ("all_day", all_day.into()),
        ("start_at", start_at.into()),
        ("end_at", end_at.into()),
        ("time_zone", time_zone.into()),
        ("start_date", start_date.into()),
        ("end_date", end_date.into()),
        ("location", location.map(str::to_string).into()),
        ("description", description.map(str::to_string).into()),
        ("attendees", attendees.into()),
    ])
}

/// `links[i]`: `{kind, id}` with a known kind, none twice.
pub fn validate_links(input: &[Link]) -> CrmResult<Vec<(Kind, Uuid)>> {
    validate::max_items("links", input, MAX_LINKS)?;
    let mut out: Vec<(Kind, Uuid)> = Vec::with_capacity(input.len());
    for (i, link) in input.iter().enumerate() {
        let kind = Kind::parse(&link.kind).ok_or_else(|| {
            CrmError::invalid(
                format!("links[{i}].kind"),
                format!(
                    "{:?} is not a kind of record (company, contact, project, …)",
                    link.kind
                ),
            )
        })?;
        if out.contains(&(kind, link.id)) {
            return Err(CrmError::invalid(
                format!("links[{i}]"),
                "the same record is linked twice",
            ));
        }
        out.push((kind, link.id));
    }
    Ok(out)
}

impl Editable for Meeting {
    type Input = MeetingInput;
    type Valid = ValidMeeting;

    fn validate(input: MeetingInput) -> CrmResult<ValidMeeting> {
        Ok(ValidMeeting {
            title: validate::required_text("title", &input.title, MAX_NAME_CHARS)?,
            when: validate_when(&input)?,
            location: opt_text("location", input.location.as_deref(), 1000)?,
            description: validate::optional_multiline_text(
                "description",
                input.description.as_deref(),
                100_000,
            )?,
            attendees: validate_attendees(&input.attendees)?,
            links: validate_links(&input.links)?,
        })
    }

    fn save<'c>(
        conn: &'c mut Conn,
        auth: &'c Actor,
        id: Uuid,
        target: Target,
        valid: &'c ValidMeeting,
    ) -> BoxFuture<'c, CrmResult<()>> {
        Box::pin(async move {
            let org = auth.org_id;
            for (i, a) in valid.attendees.iter().enumerate() {
                if let Some(contact) = a.contact_id {
                    if !record_exists(conn, org, Kind::Contact, contact).await? {
                        return Err(CrmError::unknown_record(
                            format!("attendees[{i}].contact_id"),
                            format!("there is no contact with id {contact}"),
                        ));
                    }
                }
            }
            for (i, (kind, record)) in valid.links.iter().enumerate() {
                if (*kind == Kind::Meeting && *record == id)
                    || !record_exists(conn, org, *kind, *record).await?
                {
                    return Err(CrmError::unknown_record(
                        format!("links[{i}].id"),
                        format!("there is no {kind} with id {record}"),
                    ));
                }
            }
            save_row(
                conn,
                Kind::Meeting,
                org,
                id,
                target,
                &row_columns(
                    &valid.title,
                    &valid.when,
                    valid.location.as_deref(),
                    valid.description.as_deref(),
                    &valid.attendees,
                )?,
            )
            .await?;
            let rows = valid
                .links
                .iter()
                .enumerate()
                .map(|(i, (kind, record))| {
                    vec![
                        Col::from(i as i64),
                        Col::from(kind.as_str().to_string()),
                        Col::from(id_text(*record)),
                    ]
                })
                .collect();
            replace_children(
                conn,
                "meeting_links",
                "meeting_id",
                org,
                id,
                &["position", "record_kind", "record_id"],
                rows,
            )
            .await?;
            Ok(())
        })
    }
}
