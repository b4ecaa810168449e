//! The record pages: companies, contacts, projects, meetings and products. One list page and
//! one record page, written once over the CRM model's [`Record`] and [`Editable`] and driven
//! by a small per-kind spec ([`RecordKind`]: its path, words, columns and form fields).
//!
//! - `GET /<kind>s?q=&sort=&cursor=&before=&company=`: the list (the model's
//!   [`list::list`]: search, sort by name / newest / oldest, keyset pages both ways).
//! - `GET /<kind>s/new`, `POST /<kind>s`: create.
//! - `GET /<kind>s/{id}`: its fields, linked records, timeline (the model's
//!   [`tracked_emails::timeline`]; a colleague's private email only says who tracked it),
//!   tasks, and the edit form.
//! - `POST /<kind>s/{id}`: save the form, made from the version it carries (the model's
//!   expected-version check, the API's If-Match). A stale save is not written: the page shows
//!   the values saved meanwhile beside the user's, and the form, now at the current version.
//! - `POST /<kind>s/{id}/delete`: the model's soft delete (`data-confirm` asks first).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use threadline_crm::records::companies::Company;
use threadline_crm::records::contacts::Contact;
use threadline_crm::records::contacts::Phone;
use threadline_crm::records::list::{self, ListParams, Sort};
use threadline_crm::records::meetings::{self, Attendee, Meeting};
use threadline_crm::records::products::{Price, Product};
use threadline_crm::records::projects::Project;
use threadline_crm::records::tasks::{self, Task};
use threadline_crm::records::tracked_emails;
use threadline_crm::records::{edit, soft_delete, Editable, Kind};
use threadline_crm::{Actor, CrmError, Reason};
use threadline_domain::api::Direction;
use threadline_http::AppState;
use threadline_storage::db::Conn;
use uuid::Uuid;

use crate::dates::Clock;
use crate::error::WebError;
use crate::i18n::{Lang, Words};
use crate::layout::{render, Layout, Section};
use crate::picker::{self, Found};
use crate::session::Viewer;

/// Rows of a list page.
const PAGE_SIZE: u32 = 25;
/// Linked contacts and projects shown on a company's page.
const LINKED: u32 = 20;
/// Timeline entries per page.
const TIMELINE: u32 = 20;
/// Tasks shown on a record's page.
const TASKS: i64 = 50;

/// The routes of one kind of record.
pub fn routes<T: RecordKind>() -> Router<AppState> {
    let path = format!("/{}", T::PATH);
    Router::new()
        .route(&path, get(list_page::<T>).post(create::<T>))
        .route(&format!("{path}/new"), get(new_form::<T>))
        .route(&format!("{path}/{{id}}"), get(show::<T>).post(update::<T>))
        .route(&format!("{path}/{{id}}/delete"), post(delete::<T>))
}

// ---------------------------------------------------------------------------------------
// The per-kind spec

/// How a form field is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// One line; empty clears it.
    Text,
    /// An instant as the model takes it (RFC 3339), entered as text; shown on the record's
    /// page in the viewer's zone. Empty clears it.
    Instant,
    /// One line the model requires (sent even when empty, for the model to say so).
    Required,
    /// Several lines; empty clears it.
    Multiline,
    /// A list, one item per line.
    Lines,
    /// A company of the organisation (`company_id`), chosen from a list, or typed by name
    /// where there are too many to list; none clears it.
    Company,
    /// A date (`YYYY-MM-DD`, the browser's date picker); empty clears it.
    Date,
    /// Yes or no (a checkbox).
    Check,
    /// A contact's phones, one a line: `number`, or `label: number`.
    Phones,
    /// A price as a person writes it (`12.50 EUR`: the model's [`Price::parse_text`]).
    Price,
    /// A meeting's guests, one a line: `Name <address>`, or the address; shown on the
    /// record's page among its linked records (a guest who is a contact links to them:
    /// [`meetings::link_guests`]).
    Guests,
}

/// A field of a kind's form: `key` is the model's input field.
pub struct Field {
    pub key: &'static str,
    pub label: &'static str,
    pub entry: Entry,
    pub hint: Option<&'static str>,
}

fn field(key: &'static str, label: &'static str, entry: Entry) -> Field {
    Field {
        key,
        label,
        entry,
        hint: None,
    }
}

/// A record that another one names.
pub struct Ref {
    pub kind: Kind,
    pub id: Uuid,
    /// Its name when the record already says it.
    pub name: Option<String>,
}

/// A kind's own words.
pub struct KindWords {
    /// "Companies".
    pub plural: &'static str,
    /// "Company".
    pub one: &'static str,
    /// "New company".
    pub new: &'static str,
    /// The empty list: what to do next.
    pub empty: &'static str,
}

/// What the pages need to know of a kind of record; the rules stay the model's.
pub trait RecordKind: Editable {
    /// The URL path: `companies`.
    const PATH: &'static str;
    const SECTION: Section;
    /// Emails are tracked onto it: its page has a timeline.
    const TIMELINE: bool = false;

    fn words(w: &'static Words) -> KindWords;
    /// The form's fields, which the page also shows.
    fn fields(w: &'static Words) -> Vec<Field>;
    /// The list's columns after the name.
    fn columns(w: &Words) -> Vec<&'static str>;
    fn cells(&self, clock: &Clock) -> Vec<String>;
    fn name(&self) -> String;
    /// The records it names (a contact's company, a meeting's links).
    fn refs(&self) -> Vec<Ref> {
        Vec::new()
    }
    /// Lines to show under "linked records" that are not records (a meeting's guests).
    fn others(&self) -> Vec<String> {
        Vec::new()
    }
}

fn or_dash(value: Option<&str>) -> String {
    value.unwrap_or("").to_string()
}

impl RecordKind for Company {
    const PATH: &'static str = "companies";
    const SECTION: Section = Section::Companies;
    const TIMELINE: bool = true;

    fn words(w: &'static Words) -> KindWords {
        KindWords {
            plural: w.nav_companies,
            one: w.company,
            new: w.new_company,
            empty: w.no_companies,
        }
    }
    fn fields(w: &'static Words) -> Vec<Field> {
        vec![
            field("name", w.field_name, Entry::Required),
            Field {
                hint: Some(w.one_per_line),
                ..field("domains", w.field_domains, Entry::Lines)
            },
            field("website", w.field_website, Entry::Text),
            field("phone", w.field_phone, Entry::Text),
            field("vat_number", w.field_vat_number, Entry::Text),
            field("address", w.field_address, Entry::Multiline),
        ]
    }
    fn columns(w: &Words) -> Vec<&'static str> {
        vec![w.field_domains, w.field_website]
    }
    fn cells(&self, _: &Clock) -> Vec<String> {
        vec![self.domains.join(", "), or_dash(self.website.as_deref())]
    }
    fn name(&self) -> String {
        self.name.clone()
    }
}

impl RecordKind for Contact {
    const PATH: &'static str = "contacts";
    const SECTION: Section = Section::Contacts;
    const TIMELINE: bool = true;

    fn words(w: &'static Words) -> KindWords {
        KindWords {
            plural: w.nav_contacts,
            one: w.contact,
            new: w.new_contact,
            empty: w.no_contacts,
        }
    }
    fn fields(w: &'static Words) -> Vec<Field> {
        vec![
            field("first_name", w.field_first_name, Entry::Text),
            field("last_name", w.field_last_name, Entry::Text),
            Field {
                hint: Some(w.one_per_line),
                ..field("emails", w.field_emails, Entry::Lines)
            },
            Field {
                hint: Some(w.phones_hint),
                ..field("phones", w.field_phones, Entry::Phones)
            },
            field("job_title", w.field_job_title, Entry::Text),
            field("company_id", w.company, Entry::Company),
            field("notes", w.field_notes, Entry::Multiline),
        ]
    }
    fn columns(w: &Words) -> Vec<&'static str> {
        vec![w.email, w.company]
    }
    fn cells(&self, _: &Clock) -> Vec<String> {
        vec![
            self.primary_email.clone(),
            or_dash(self.company.as_ref().map(|c| c.name.as_str())),
        ]
    }
    fn name(&self) -> String {
        let name = format!("{} {}", self.first_name, self.last_name);
        match name.trim() {
            "" => self.primary_email.clone(),
            name => name.to_string(),
        }
    }
    fn refs(&self) -> Vec<Ref> {
        self.company
            .iter()
            .map(|c| Ref {
                kind: Kind::Company,
                id: c.id,
                name: Some(c.name.clone()),
            })
            .collect()
    }
}

impl RecordKind for Project {
    const PATH: &'static str = "projects";
    const SECTION: Section = Section::Projects;

    fn words(w: &'static Words) -> KindWords {
        KindWords {
            plural: w.nav_projects,
            one: w.project,
            new: w.new_project,
            empty: w.no_projects,
        }
    }
    fn fields(w: &'static Words) -> Vec<Field> {
        vec![
            field("name", w.field_name, Entry::Required),
            field("company_id", w.company, Entry::Company),
            field("description", w.field_description, Entry::Multiline),
        ]
    }
    fn columns(w: &Words) -> Vec<&'static str> {
        vec![w.field_description]
    }
    fn cells(&self, _: &Clock) -> Vec<String> {
        vec![or_dash(self.description.as_deref())]
    }
    fn name(&self) -> String {
        self.name.clone()
    }
    fn refs(&self) -> Vec<Ref> {
        self.company_id
            .map(|id| Ref {
                kind: Kind::Company,
                id,
                name: None,
            })
            .into_iter()
            .collect()
    }
}

impl RecordKind for Meeting {
    const PATH: &'static str = "meetings";
    const SECTION: Section = Section::Meetings;

    fn words(w: &'static Words) -> KindWords {
        KindWords {
            plural: w.nav_meetings,
            one: w.meeting,
            new: w.new_meeting,
            empty: w.no_meetings,
        }
    }
    fn fields(w: &'static Words) -> Vec<Field> {
        vec![
            field("title", w.field_title, Entry::Required),
            Field {
                hint: Some(w.all_day_hint),
                ..field("all_day", w.all_day, Entry::Check)
            },
            Field {
                hint: Some(w.time_hint),
                ..field("start_at", w.field_start_at, Entry::Instant)
            },
            Field {
                hint: Some(w.time_hint),
                ..field("end_at", w.field_end_at, Entry::Instant)
            },
            Field {
                hint: Some(w.meeting_time_zone_hint),
                ..field("time_zone", w.field_time_zone, Entry::Text)
            },
            field("start_date", w.field_start_date, Entry::Date),
            Field {
                hint: Some(w.end_date_hint),
                ..field("end_date", w.field_end_date, Entry::Date)
            },
            field("location", w.field_location, Entry::Text),
            Field {
                hint: Some(w.guests_hint),
                ..field("attendees", w.field_guests, Entry::Guests)
            },
            field("description", w.field_description, Entry::Multiline),
        ]
    }
    fn columns(w: &Words) -> Vec<&'static str> {
        vec![w.field_start_at, w.field_location]
    }
    fn cells(&self, clock: &Clock) -> Vec<String> {
        let when = match (self.start_at, self.start_date) {
            (Some(at), _) => clock.at(&at),
            (None, Some(date)) => clock.day(&date),
            (None, None) => String::new(),
        };
        vec![when, or_dash(self.location.as_deref())]
    }
    fn name(&self) -> String {
        self.title.clone()
    }
    fn refs(&self) -> Vec<Ref> {
        let links = self.links.iter().filter_map(|l| {
            Some(Ref {
                kind: Kind::parse(&l.kind)?,
                id: l.id,
                name: None,
            })
        });
        let attendees = self.attendees.iter().filter_map(|a| {
            Some(Ref {
                kind: Kind::Contact,
                id: a.contact_id?,
                name: Some(a.name.clone().unwrap_or_else(|| a.address.clone())),
            })
        });
        links.chain(attendees).collect()
    }
    fn others(&self) -> Vec<String> {
        self.attendees
            .iter()
            .filter(|a| a.contact_id.is_none())
            .map(|a| match &a.name {
                Some(name) => format!("{name} <{}>", a.address),
                None => a.address.clone(),
            })
            .collect()
    }
}

impl RecordKind for Product {
    const PATH: &'static str = "products";
    const SECTION: Section = Section::Products;

    fn words(w: &'static Words) -> KindWords {
        KindWords {
            plural: w.nav_products,
            one: w.product,
            new: w.new_product,
            empty: w.no_products,
        }
    }
    fn fields(w: &'static Words) -> Vec<Field> {
        vec![
            field("name", w.field_name, Entry::Required),
            field("code", w.field_code, Entry::Text),
            Field {
                hint: Some(w.price_hint),
                ..field("price", w.field_price, Entry::Price)
            },
            field("description", w.field_description, Entry::Multiline),
        ]
    }
    fn columns(w: &Words) -> Vec<&'static str> {
        vec![w.field_code]
    }
    fn cells(&self, _: &Clock) -> Vec<String> {
        vec![or_dash(self.code.as_deref())]
    }
    fn name(&self) -> String {
        self.name.clone()
    }
}

/// The path of a kind's pages, for the kinds that have them.
fn path_of(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::Company => Some(Company::PATH),
        Kind::Contact => Some(Contact::PATH),
        Kind::Project => Some(Project::PATH),
        Kind::Meeting => Some(Meeting::PATH),
        Kind::Product => Some(Product::PATH),
        Kind::Task | Kind::TrackedEmail => None,
    }
}

async fn name_in<T: RecordKind>(conn: &mut Conn, org: Uuid, id: Uuid) -> Option<String> {
    edit::get::<T>(conn, org, id).await.ok().map(|r| r.name())
}

/// The name of a live record, or nothing (deleted, or not a record with a page).
pub(crate) async fn name_of(conn: &mut Conn, org: Uuid, kind: Kind, id: Uuid) -> Option<String> {
    match kind {
        Kind::Company => name_in::<Company>(conn, org, id).await,
        Kind::Contact => name_in::<Contact>(conn, org, id).await,
        Kind::Project => name_in::<Project>(conn, org, id).await,
        Kind::Meeting => name_in::<Meeting>(conn, org, id).await,
        Kind::Product => name_in::<Product>(conn, org, id).await,
        Kind::Task | Kind::TrackedEmail => None,
    }
}

// ---------------------------------------------------------------------------------------
// The list

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    sort: Option<String>,
    cursor: Option<String>,
    before: Option<String>,
    company: Option<String>,
    done: Option<String>,
}

pub struct Row {
    href: String,
    name: String,
    cells: Vec<String>,
}

pub struct SortChoice {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "records/list.html")]
struct ListPage {
    l: Layout,
    w: &'static Words,
    path: &'static str,
    heading: &'static str,
    new_label: &'static str,
    name_header: &'static str,
    headers: Vec<&'static str>,
    rows: Vec<Row>,
    q: String,
    sorts: Vec<SortChoice>,
    company: Option<String>,
    empty: &'static str,
    notice: Option<&'static str>,
    prev_href: Option<String>,
    next_href: Option<String>,
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

fn notice(w: &'static Words, done: Option<&str>) -> Option<&'static str> {
    match done {
        Some("saved") => Some(w.saved),
        Some("created") => Some(w.record_created),
        Some("deleted") => Some(w.deleted),
        _ => None,
    }
}

fn sort_words(w: &Words, sort: Sort) -> &'static str {
    match sort {
        Sort::Name => w.sort_name,
        Sort::Newest => w.sort_newest,
        Sort::Created => w.sort_created,
    }
}

async fn list_page<T: RecordKind>(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(query): Query<ListQuery>,
) -> Result<Response, WebError> {
    let w = viewer.words();
    let lang = viewer.lang;
    let clock = viewer.clock();
    let sort = query
        .sort
        .as_deref()
        .and_then(Sort::parse)
        .unwrap_or(Sort::Name);
    let company = match query.company.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(raw) => Some(Uuid::parse_str(raw).map_err(|_| WebError::NotFound(lang))?),
    };
    let q = query.q.clone().unwrap_or_default();
    let params = ListParams {
        limit: Some(PAGE_SIZE),
        after: query.cursor.clone().filter(|c| !c.is_empty()),
        before: query.before.clone().filter(|c| !c.is_empty()),
        q: Some(q.clone()),
        include_deleted: false,
        sort,
        company,
    };
    let mut tx = app.db().begin_read().await.map_err(db_error(lang))?;
    let page = list::list::<T>(&mut tx, viewer.org_id, &params)
        .await
        .map_err(WebError::crm(lang))?;
    tx.commit().await.map_err(db_error(lang))?;
    let mut base = format!("/{}?sort={}", T::PATH, sort.as_str());
    if !q.trim().is_empty() {
        base.push_str(&format!("&q={}", enc(&q)));
    }
    if let Some(c) = company {
        base.push_str(&format!("&company={c}"));
    }
    let rows = page
        .items
        .iter()
        .map(|r| Row {
            href: format!("/{}/{}", T::PATH, r.id()),
            name: r.name(),
            cells: r.cells(&clock),
        })
        .collect();
    Ok(render(&ListPage {
        l: Layout::for_viewer(&viewer, T::words(w).plural, T::SECTION),
        w,
        path: T::PATH,
        heading: T::words(w).plural,
        new_label: T::words(w).new,
        name_header: match T::KIND {
            Kind::Meeting => w.field_title,
            _ => w.field_name,
        },
        headers: T::columns(w),
        rows,
        sorts: Sort::ALL
            .into_iter()
            .map(|s| SortChoice {
                value: s.as_str(),
                label: sort_words(w, s),
                selected: s == sort,
            })
            .collect(),
        empty: if q.trim().is_empty() {
            T::words(w).empty
        } else {
            w.no_matches
        },
        q,
        company: company.map(|c| c.to_string()),
        notice: notice(w, query.done.as_deref()),
        prev_href: page.prev_cursor.map(|c| format!("{base}&before={c}")),
        next_href: page.next_cursor.map(|c| format!("{base}&cursor={c}")),
    }))
}

fn db_error<E: std::fmt::Display>(lang: Lang) -> impl FnOnce(E) -> WebError {
    move |e| WebError::Internal(lang, e.to_string())
}

// ---------------------------------------------------------------------------------------
// Forms

pub struct FormField {
    key: &'static str,
    label: &'static str,
    hint: Option<&'static str>,
    entry: Entry,
    value: String,
    error: Option<String>,
    /// The choices of a [`Entry::Company`] field: (id, name).
    options: Vec<(String, String)>,
}

impl FormField {
    /// A company chosen from a list (an organisation with at most [`COMPANY_CHOICES`]
    /// companies, or the matches of a name typed); else the company is typed by name.
    fn choice(&self) -> bool {
        self.entry == Entry::Company && !self.options.is_empty()
    }
    fn company(&self) -> bool {
        self.entry == Entry::Company
    }
    /// Shown on the record's page among its linked records, not as a field.
    fn linked(&self) -> bool {
        matches!(self.entry, Entry::Company | Entry::Guests)
    }
    fn long(&self) -> bool {
        matches!(
            self.entry,
            Entry::Multiline | Entry::Lines | Entry::Phones | Entry::Guests
        )
    }
    fn check(&self) -> bool {
        self.entry == Entry::Check
    }
    fn date(&self) -> bool {
        self.entry == Entry::Date
    }
    fn required(&self) -> bool {
        self.entry == Entry::Required
    }
    /// The ids of its hint and its error, for `aria-describedby`.
    fn described_by(&self) -> String {
        let mut ids = Vec::new();
        if self.hint.is_some() {
            ids.push(format!("f-{}-hint", self.key));
        }
        if self.error.is_some() {
            ids.push(format!("f-{}-error", self.key));
        }
        ids.join(" ")
    }
}

pub struct RecordForm {
    action: String,
    version: Option<i64>,
    fields: Vec<FormField>,
    /// A refusal that is not about one of the fields.
    problem: Option<String>,
    /// Some field was refused.
    refused: bool,
    submit: &'static str,
}

/// A value of the record's JSON as a form shows it.
fn as_text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| as_text(Some(v)))
            .collect::<Vec<_>>()
            .join("\n"),
        Some(other) => other.to_string(),
    }
}

/// A value of the record's JSON as the form of an `entry` shows it.
fn text_of(entry: Entry, value: Option<&Value>) -> String {
    match (entry, value) {
        (Entry::Check, Some(Value::Bool(true))) => "on".into(),
        (Entry::Check, _) => String::new(),
        (Entry::Price, Some(price @ Value::Object(_))) => {
            serde_json::from_value::<Price>(price.clone())
                .map(|p| p.to_text())
                .unwrap_or_default()
        }
        (Entry::Guests, Some(Value::Array(guests))) => guests
            .iter()
            .filter_map(|g| serde_json::from_value::<Attendee>(g.clone()).ok())
            .map(
                |g| match g.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
                    Some(name) => format!("{name} <{}>", g.address),
                    None => g.address,
                },
            )
            .collect::<Vec<_>>()
            .join("\n"),
        (Entry::Phones, Some(Value::Array(phones))) => phones
            .iter()
            .filter_map(|p| serde_json::from_value::<Phone>(p.clone()).ok())
            .map(|p| match p.label {
                Some(label) => format!("{label}: {}", p.number),
                None => p.number,
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => as_text(value),
    }
}

fn form_fields(fields: Vec<Field>, value: impl Fn(&Field) -> String) -> Vec<FormField> {
    fields
        .into_iter()
        .map(|f| FormField {
            value: value(&f),
            key: f.key,
            label: f.label,
            hint: f.hint,
            entry: f.entry,
            error: None,
            options: Vec::new(),
        })
        .collect()
}

/// The record's values, as its form and page show them.
fn values_of<T: RecordKind>(w: &'static Words, record: &T) -> Vec<FormField> {
    let json = serde_json::to_value(record).unwrap_or(Value::Null);
    form_fields(T::fields(w), |f| text_of(f.entry, json.get(f.key)))
}

/// What the user typed.
fn values_typed<T: RecordKind>(
    w: &'static Words,
    form: &HashMap<String, String>,
) -> Vec<FormField> {
    form_fields(T::fields(w), |f| {
        form.get(f.key).cloned().unwrap_or_default()
    })
}

/// A guest's line: `Name <address>` (the name may be quoted), or the address alone.
fn guest(line: &str) -> Value {
    if let Some((name, rest)) = line.rsplit_once('<') {
        if let Some(address) = rest.strip_suffix('>') {
            let name = name.trim().trim_matches('"').trim();
            return if name.is_empty() {
                json!({ "address": address.trim() })
            } else {
                json!({ "address": address.trim(), "name": name })
            };
        }
    }
    json!({ "address": line })
}

/// The guests of `changes` (a meeting's form) linked to contacts: those on `previous` keep
/// theirs, others get the one contact with their address ([`meetings::link_guests`]).
async fn link_guests(
    app: &AppState,
    viewer: &Viewer,
    changes: &mut Map<String, Value>,
    previous: Option<&Value>,
) -> Result<(), WebError> {
    let Some(value) = changes.get("attendees") else {
        return Ok(());
    };
    let Ok(mut guests) = serde_json::from_value::<Vec<Attendee>>(value.clone()) else {
        return Ok(());
    };
    let previous: Vec<Attendee> = previous
        .and_then(|p| serde_json::from_value(p.clone()).ok())
        .unwrap_or_default();
    let lang = viewer.lang;
    let mut conn = super::conn(app, lang).await?;
    meetings::link_guests(&mut conn, viewer.org_id, &mut guests, &previous)
        .await
        .map_err(WebError::crm(lang))?;
    changes.insert(
        "attendees".into(),
        serde_json::to_value(guests).map_err(|e| WebError::Internal(lang, e.to_string()))?,
    );
    Ok(())
}

/// The form's fields as the model's input fields (a JSON merge patch: `null` clears); a price
/// the model cannot read is refused at its field.
fn changes_of(fields: &[FormField]) -> Result<Map<String, Value>, CrmError> {
    fields
        .iter()
        .map(|f| {
            let value = match f.entry {
                Entry::Check => Value::Bool(!f.value.is_empty()),
                Entry::Price | Entry::Date if f.value.trim().is_empty() => Value::Null,
                Entry::Price => serde_json::to_value(Price::parse_text(&f.value)?)
                    .map_err(|e| CrmError::internal(e.to_string()))?,
                Entry::Date => Value::String(f.value.trim().to_string()),
                Entry::Guests => Value::Array(
                    f.value
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(guest)
                        .collect(),
                ),
                Entry::Phones => Value::Array(
                    f.value
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(|l| match l.split_once(':') {
                            Some((label, number)) => {
                                json!({"label": label.trim(), "number": number.trim()})
                            }
                            None => json!({ "number": l }),
                        })
                        .collect(),
                ),
                Entry::Required => Value::String(f.value.clone()),
                Entry::Text | Entry::Instant | Entry::Multiline | Entry::Company
                    if f.value.trim().is_empty() =>
                {
                    Value::Null
                }
                Entry::Text | Entry::Instant | Entry::Multiline | Entry::Company => {
                    Value::String(f.value.clone())
                }
                Entry::Lines => Value::Array(
                    f.value
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(|l| Value::String(l.to_string()))
                        .collect(),
                ),
            };
            Ok((f.key.to_string(), value))
        })
        .collect()
}

/// A refusal the user can act on, put at its field (or above the form); other errors are
/// pages.
fn refuse(form: &mut RecordForm, error: CrmError, lang: Lang) -> Result<(), WebError> {
    let message = crate::error::refusal(&error, lang.words()).unwrap_or_default();
    match error {
        CrmError::Request {
            reason: Reason::BadInput | Reason::Unacceptable | Reason::Conflict,
            field,
            ..
        } => {
            form.refused = true;
            let key = field
                .as_deref()
                .and_then(|f| f.split(['[', '.']).next())
                .unwrap_or("");
            match form.fields.iter_mut().find(|f| f.key == key) {
                Some(f) => f.error = Some(message),
                None => form.problem = Some(message),
            }
            Ok(())
        }
        other => Err(WebError::from_crm(other, lang)),
    }
}

fn parse_input<T: Editable>(value: Value) -> Result<T::Input, CrmError> {
    serde_json::from_value(value)
        .map_err(|e| CrmError::new(Reason::BadInput, "invalid_body", e.to_string()))
}

/// Most companies a form offers as a list; an organisation with more types the company's
/// name ([`crate::picker`]).
const COMPANY_CHOICES: u32 = 200;

/// Fills the company fields of the form: the organisation's companies by name as a list
/// when there are at most [`COMPANY_CHOICES`], else a text field with the chosen company's
/// name. A field that already has choices (the matches of a name typed) keeps them.
async fn with_choices(
    app: &AppState,
    viewer: &Viewer,
    form: &mut RecordForm,
) -> Result<(), WebError> {
    if !form
        .fields
        .iter()
        .any(|f| f.company() && f.options.is_empty())
    {
        return Ok(());
    }
    let lang = viewer.lang;
    let w = lang.words();
    let mut tx = app.db().begin_read().await.map_err(db_error(lang))?;
    let params = ListParams {
        limit: Some(COMPANY_CHOICES),
        sort: Sort::Name,
        ..ListParams::default()
    };
    let page = list::list::<Company>(&mut tx, viewer.org_id, &params)
        .await
        .map_err(WebError::crm(lang))?;
    let listed = page.next_cursor.is_none();
    let companies = page.items;
    let mut options: Vec<(String, String)> = vec![(String::new(), w.empty_value.to_string())];
    options.extend(companies.into_iter().map(|c| (c.id.to_string(), c.name)));
    for f in form
        .fields
        .iter_mut()
        .filter(|f| f.company() && f.options.is_empty())
    {
        let chosen = Uuid::parse_str(f.value.trim()).ok();
        if listed {
            f.options = options.clone();
            if let Some(id) =
                chosen.filter(|id| !f.options.iter().any(|(o, _)| *o == id.to_string()))
            {
                let name = name_of(&mut tx, viewer.org_id, Kind::Company, id).await;
                f.options.push((id.to_string(), name.unwrap_or_default()));
            }
        } else {
            f.hint = Some(w.company_type_hint);
            if let Some(id) = chosen {
                f.value = name_of(&mut tx, viewer.org_id, Kind::Company, id)
                    .await
                    .unwrap_or_default();
            }
        }
    }
    tx.commit().await.map_err(db_error(lang))?;
    Ok(())
}

/// The company fields of a posted form whose value is a name typed (not a choice's id) get
/// the id of the company it names ([`picker::find`]); true when some name named none, or
/// several (then the field offers those to choose from): the form goes back, refused.
async fn resolve_companies(
    app: &AppState,
    viewer: &Viewer,
    fields: &mut [FormField],
) -> Result<bool, WebError> {
    let lang = viewer.lang;
    let w = lang.words();
    let mut refused = false;
    for f in fields.iter_mut().filter(|f| f.company()) {
        let typed = f.value.trim().to_string();
        if typed.is_empty() || Uuid::parse_str(&typed).is_ok() {
            continue;
        }
        let found = {
            let mut conn = super::conn(app, lang).await?;
            picker::find(&mut conn, viewer.org_id, &typed, &[Kind::Company])
                .await
                .map_err(WebError::crm(lang))?
        };
        match found {
            Found::One(c) => f.value = c.id.to_string(),
            Found::Several { candidates, .. } => {
                refused = true;
                f.error = Some(w.company_choose.to_string());
                f.value = String::new();
                f.options = vec![(String::new(), w.empty_value.to_string())];
                f.options
                    .extend(candidates.into_iter().map(|c| (c.id.to_string(), c.name)));
            }
            Found::None => {
                refused = true;
                f.error = Some(w.company_none.to_string());
            }
        }
    }
    Ok(refused)
}

// ---------------------------------------------------------------------------------------
// Create

#[derive(Template)]
#[template(path = "records/new.html")]
struct NewPage {
    l: Layout,
    w: &'static Words,
    path: &'static str,
    heading: &'static str,
    form: RecordForm,
}

async fn new_page<T: RecordKind>(
    app: &AppState,
    viewer: &Viewer,
    mut form: RecordForm,
) -> Result<NewPage, WebError> {
    let w = viewer.words();
    with_choices(app, viewer, &mut form).await?;
    Ok(NewPage {
        l: Layout::for_viewer(viewer, T::words(w).new, T::SECTION),
        w,
        path: T::PATH,
        heading: T::words(w).new,
        form,
    })
}

fn create_form<T: RecordKind>(w: &'static Words, fields: Vec<FormField>) -> RecordForm {
    RecordForm {
        action: format!("/{}", T::PATH),
        version: None,
        fields,
        problem: None,
        refused: false,
        submit: w.create,
    }
}

async fn new_form<T: RecordKind>(
    State(app): State<AppState>,
    viewer: Viewer,
) -> Result<Response, WebError> {
    let w = viewer.words();
    let fields = form_fields(T::fields(w), |_| String::new());
    let page = new_page::<T>(&app, &viewer, create_form::<T>(w, fields)).await?;
    Ok(render(&page))
}

async fn create<T: RecordKind>(
    State(app): State<AppState>,
    viewer: Viewer,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, WebError> {
    viewer.check_csrf(form.get("csrf").map(String::as_str).unwrap_or(""))?;
    let w = viewer.words();
    let lang = viewer.lang;
    let mut page_form = create_form::<T>(w, values_typed::<T>(w, &form));
    if resolve_companies(&app, &viewer, &mut page_form.fields).await? {
        page_form.refused = true;
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render(&new_page::<T>(&app, &viewer, page_form).await?),
        )
            .into_response());
    }
    let mut changes = changes_of(&page_form.fields);
    if let Ok(changes) = &mut changes {
        link_guests(&app, &viewer, changes, None).await?;
    }
    let valid = changes.and_then(|mut input| {
        input.retain(|_, v| !v.is_null());
        parse_input::<T>(Value::Object(input)).and_then(T::validate)
    });
    let created = match valid {
        Ok(valid) => {
            let actor: &Actor = &viewer;
            app.db()
                .write(|tx| Box::pin(edit::create::<T>(tx, actor, &valid)))
                .await
        }
        Err(e) => Err(e),
    };
    match created {
        Ok(record) => {
            Ok(Redirect::to(&format!("/{}/{}?done=created", T::PATH, record.id())).into_response())
        }
        Err(e) => {
            refuse(&mut page_form, e, lang)?;
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                render(&new_page::<T>(&app, &viewer, page_form).await?),
            )
                .into_response())
        }
    }
}

// ---------------------------------------------------------------------------------------
// A record's page

pub struct Shown {
    label: &'static str,
    value: String,
}

pub struct LinkedItem {
    href: Option<String>,
    name: String,
}

pub struct LinkedGroup {
    title: &'static str,
    items: Vec<LinkedItem>,
    more_href: Option<String>,
}

pub struct TimelineRow {
    /// The email's page; none for a colleague's private email.
    href: Option<String>,
    /// What the row says: the subject, or who tracked it privately.
    text: String,
    private: bool,
    direction: &'static str,
    date: String,
    datetime: String,
}

pub struct TaskRow {
    href: String,
    title: String,
    /// (`YYYY-MM-DD`, as the viewer reads it).
    due: Option<(String, String)>,
    done: bool,
}

/// A stale save: the values saved meanwhile beside the user's.
pub struct Stale {
    rows: Vec<(&'static str, String, String)>,
}

#[derive(Template)]
#[template(path = "records/show.html")]
struct RecordPage {
    l: Layout,
    w: &'static Words,
    path: &'static str,
    kind_name: &'static str,
    id: Uuid,
    name: String,
    version: i64,
    shown: Vec<Shown>,
    linked: Vec<LinkedGroup>,
    has_timeline: bool,
    timeline: Vec<TimelineRow>,
    older_href: Option<String>,
    tasks: Vec<TaskRow>,
    notice: Option<&'static str>,
    stale: Option<Stale>,
    form: RecordForm,
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    timeline: Option<String>,
    done: Option<String>,
}

fn record_id(raw: &str, lang: Lang) -> Result<Uuid, WebError> {
    Uuid::parse_str(raw).map_err(|_| WebError::NotFound(lang))
}

fn edit_form<T: RecordKind>(
    w: &'static Words,
    id: Uuid,
    version: i64,
    fields: Vec<FormField>,
) -> RecordForm {
    RecordForm {
        action: format!("/{}/{id}", T::PATH),
        version: Some(version),
        fields,
        problem: None,
        refused: false,
        submit: w.save,
    }
}

/// The page of `record`, its form holding `form`.
async fn record_page<T: RecordKind>(
    app: &AppState,
    viewer: &Viewer,
    record: T,
    timeline_cursor: Option<&str>,
    form: RecordForm,
) -> Result<RecordPage, WebError> {
    let w = viewer.words();
    let lang = viewer.lang;
    let clock = viewer.clock();
    let org = viewer.org_id;
    let id = record.id();
    let mut tx = app.db().begin_read().await.map_err(db_error(lang))?;
    let mut linked = Vec::new();
    if T::KIND == Kind::Company {
        linked.push(members::<Contact>(&mut tx, viewer, id, w.nav_contacts).await?);
        linked.push(members::<Project>(&mut tx, viewer, id, w.nav_projects).await?);
    }
    let mut items = Vec::new();
    for r in record.refs() {
        let name = match r.name {
            Some(name) => Some(name),
            None => name_of(&mut tx, org, r.kind, r.id).await,
        };
        if let (Some(name), Some(path)) = (name, path_of(r.kind)) {
            items.push(LinkedItem {
                href: Some(format!("/{path}/{}", r.id)),
                name,
            });
        }
    }
    items.extend(
        record
            .others()
            .into_iter()
            .map(|name| LinkedItem { href: None, name }),
    );
    if !items.is_empty() || T::KIND != Kind::Company {
        linked.push(LinkedGroup {
            title: w.linked_records,
            items,
            more_href: None,
        });
    }
    let (timeline, older_href) = if T::TIMELINE {
        let page = tracked_emails::timeline(
            &mut tx,
            viewer,
            Some((T::KIND, id)),
            timeline_cursor,
            false,
            TIMELINE,
        )
        .await
        .map_err(WebError::crm(lang))?;
        let rows = page
            .entries
            .into_iter()
            .map(|e| {
                let readable = e.readable_by(viewer);
                let date = e.sent_at.unwrap_or(e.meta.created_at);
                TimelineRow {
                    href: readable.then(|| format!("/emails/{}", e.id)),
                    text: if !readable {
                        (w.tracked_privately_by)(&e.owner.name)
                    } else if e.subject.trim().is_empty() {
                        w.no_subject.to_string()
                    } else {
                        e.subject
                    },
                    private: !readable,
                    direction: match e.direction {
                        Direction::Outgoing => w.outgoing,
                        Direction::Incoming => w.incoming,
                    },
                    date: clock.at(&date),
                    datetime: Clock::iso(&date),
                }
            })
            .collect();
        let older = page
            .next_cursor
            .map(|c| format!("/{}/{id}?timeline={c}#timeline-h", T::PATH));
        (rows, older)
    } else {
        (Vec::new(), None)
    };
    let tasks = tasks::linked_to(&mut tx, viewer, T::KIND, id, TASKS)
        .await
        .map_err(WebError::crm(lang))?;
    tx.commit().await.map_err(db_error(lang))?;
    let mut form = form;
    with_choices(app, viewer, &mut form).await?;
    Ok(RecordPage {
        l: Layout::for_viewer(viewer, &record.name(), T::SECTION),
        w,
        path: T::PATH,
        kind_name: T::words(w).one,
        id,
        name: record.name(),
        version: record.meta().version,
        // A company is shown among the linked records, by name.
        shown: values_of(w, &record)
            .into_iter()
            .filter(|f| !f.linked())
            .map(|f| Shown {
                label: f.label,
                value: match f.entry {
                    Entry::Instant if !f.value.is_empty() => clock.at_text(&f.value),
                    Entry::Date => chrono::NaiveDate::parse_from_str(&f.value, "%Y-%m-%d")
                        .map(|d| clock.day(&d))
                        .unwrap_or(f.value),
                    Entry::Check if f.value.is_empty() => w.no.to_string(),
                    Entry::Check => w.yes.to_string(),
                    _ => f.value,
                },
            })
            .collect(),
        linked,
        has_timeline: T::TIMELINE,
        timeline,
        older_href,
        tasks: tasks.into_iter().map(|t| task_row(t, &clock)).collect(),
        notice: None,
        stale: None,
        form,
    })
}

fn task_row(t: Task, clock: &Clock) -> TaskRow {
    TaskRow {
        href: format!("/tasks/{}", t.id),
        title: t.title,
        due: t.due_date.map(|d| (d.to_string(), clock.day(&d))),
        done: t.done,
    }
}

/// A company's contacts or projects: the first [`LINKED`] by name, and the rest in the list.
async fn members<T: RecordKind>(
    conn: &mut Conn,
    viewer: &Viewer,
    company: Uuid,
    title: &'static str,
) -> Result<LinkedGroup, WebError> {
    let params = ListParams {
        limit: Some(LINKED),
        sort: Sort::Name,
        company: Some(company),
        ..ListParams::default()
    };
    let page = list::list::<T>(conn, viewer.org_id, &params)
        .await
        .map_err(WebError::crm(viewer.lang))?;
    Ok(LinkedGroup {
        title,
        items: page
            .items
            .iter()
            .map(|r| LinkedItem {
                href: Some(format!("/{}/{}", T::PATH, r.id())),
                name: r.name(),
            })
            .collect(),
        more_href: page
            .next_cursor
            .map(|_| format!("/{}?company={company}", T::PATH)),
    })
}

async fn load<T: RecordKind>(app: &AppState, viewer: &Viewer, id: Uuid) -> Result<T, WebError> {
    let lang = viewer.lang;
    let mut tx = app.db().begin_read().await.map_err(db_error(lang))?;
    let record = edit::get::<T>(&mut tx, viewer.org_id, id)
        .await
        .map_err(WebError::crm(lang))?;
    tx.commit().await.map_err(db_error(lang))?;
    Ok(record)
}

async fn show<T: RecordKind>(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Result<Response, WebError> {
    let w = viewer.words();
    let id = record_id(&raw, viewer.lang)?;
    let record: T = load(&app, &viewer, id).await?;
    let form = edit_form::<T>(w, id, record.meta().version, values_of(w, &record));
    let mut page = record_page(&app, &viewer, record, query.timeline.as_deref(), form).await?;
    page.notice = notice(w, query.done.as_deref());
    Ok(render(&page))
}

async fn update<T: RecordKind>(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, WebError> {
    viewer.check_csrf(form.get("csrf").map(String::as_str).unwrap_or(""))?;
    let w = viewer.words();
    let lang = viewer.lang;
    let id = record_id(&raw, lang)?;
    let version: i64 = form
        .get("version")
        .and_then(|v| v.parse().ok())
        .ok_or(WebError::NotFound(lang))?;
    let current: T = load(&app, &viewer, id).await?;
    let mut typed = values_typed::<T>(w, &form);
    if current.meta().version != version {
        return stale_page(&app, &viewer, current, typed).await;
    }
    if resolve_companies(&app, &viewer, &mut typed).await? {
        let mut edit = edit_form::<T>(w, id, version, typed);
        edit.refused = true;
        let page = record_page(&app, &viewer, current, None, edit).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response());
    }
    let mut changes = changes_of(&typed);
    if let Ok(changes) = &mut changes {
        let previous = serde_json::to_value(&current).ok();
        let previous = previous.as_ref().and_then(|p| p.get("attendees"));
        link_guests(&app, &viewer, changes, previous).await?;
    }
    let valid = changes
        .and_then(|changes| edit::merged(&current, &Value::Object(changes)))
        .and_then(parse_input::<T>)
        .and_then(T::validate);
    let saved = match valid {
        Ok(valid) => {
            let actor: &Actor = &viewer;
            app.db()
                .write(|tx| Box::pin(edit::update::<T>(tx, actor, id, version, &valid)))
                .await
        }
        Err(e) => Err(e),
    };
    match saved {
        Ok(_) => Ok(Redirect::to(&format!("/{}/{id}?done=saved", T::PATH)).into_response()),
        Err(e) if e.reason() == Some(Reason::StaleVersion) => {
            let current: T = load(&app, &viewer, id).await?;
            stale_page(&app, &viewer, current, typed).await
        }
        Err(e) => {
            let mut edit = edit_form::<T>(w, id, version, typed);
            refuse(&mut edit, e, lang)?;
            let page = record_page(&app, &viewer, current, None, edit).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
    }
}

/// The record as saved meanwhile, beside what the user typed; the form keeps the user's
/// values, now at the current version (saving it again is a choice made knowingly).
async fn stale_page<T: RecordKind>(
    app: &AppState,
    viewer: &Viewer,
    current: T,
    typed: Vec<FormField>,
) -> Result<Response, WebError> {
    let w = viewer.words();
    let theirs = values_of(w, &current);
    let rows = theirs
        .iter()
        .zip(&typed)
        .map(|(t, y)| (t.label, t.value.clone(), y.value.clone()))
        .collect();
    let mut edit = edit_form::<T>(w, current.id(), current.meta().version, typed);
    edit.submit = w.save_mine;
    let mut page = record_page(app, viewer, current, None, edit).await?;
    page.stale = Some(Stale { rows });
    Ok((StatusCode::CONFLICT, render(&page)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct DeleteForm {
    csrf: String,
    version: i64,
}

async fn delete<T: RecordKind>(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
    Form(form): Form<DeleteForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let lang = viewer.lang;
    let id = record_id(&raw, lang)?;
    let org = viewer.org_id;
    app.db()
        .write(|tx| Box::pin(soft_delete(tx, T::KIND, org, id, form.version)))
        .await
        .map_err(WebError::crm(lang))?;
    Ok(Redirect::to(&format!("/{}?done=deleted", T::PATH)).into_response())
}
