//! `contactGroups.*`: create (a name unique per user, else 409), list (members not
//! populated), get (`maxMembers` → `memberResourceNames`), update (PUT), delete
//! (`deleteContacts`) and `members:modify` (add + remove ≤ 1000; a contact keeps at least one
//! membership). The system groups `myContacts` and `starred` exist in every account and are
//! the only system groups that accept members.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::connections::read_sync_token;
use super::person::Mask;
use super::{
    check_names, end_page, timestamp, with_book, with_request, Book, Ctx, Query, RpcError,
    READ_SCOPES, WRITE_SCOPES,
};
use crate::util::random_token;
use crate::Shared;

const GROUP_FIELDS: &[&str] = &["clientData", "groupType", "memberCount", "metadata", "name"];
const DEFAULT_GROUP_FIELDS: &[&str] = &["groupType", "memberCount", "metadata", "name"];
const UPDATE_GROUP_FIELDS: &[&str] = &["clientData", "name"];
/// The fields of `ContactGroup` (discovery document); output-only ones are ignored in writes.
const CONTACT_GROUP_NAMES: &[&str] = &[
    "clientData",
    "etag",
    "formattedName",
    "groupType",
    "memberCount",
    "memberResourceNames",
    "metadata",
    "name",
    "resourceName",
];
const DEFAULT_PAGE_SIZE: usize = 30;
const MAX_MODIFY: usize = 1000;

/// A contact group as stored.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) client_data: Vec<Value>,
    pub(crate) system: bool,
    pub(crate) etag: String,
    pub(crate) update_time: DateTime<Utc>,
    pub(crate) stamp: u64,
    pub(crate) deleted: bool,
}

fn group_etag() -> String {
    let mut bytes = [0u8; 9];
    getrandom::fill(&mut bytes).expect("the OS random source");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl Group {
    pub(crate) fn system(id: &str, now: DateTime<Utc>, stamp: u64) -> Group {
        Group {
            id: id.to_string(),
            name: id.to_string(),
            client_data: Vec::new(),
            system: true,
            etag: group_etag(),
            update_time: now,
            stamp,
            deleted: false,
        }
    }

    /// User groups, `myContacts` and `starred` take new members; other system groups only
    /// lose them.
    pub(crate) fn accepts_members(&self) -> bool {
        !self.system || matches!(self.id.as_str(), "myContacts" | "starred")
    }

    fn touch(&mut self, now: DateTime<Utc>, stamp: u64) {
        self.etag = group_etag();
        self.update_time = now;
        self.stamp = stamp;
    }

    fn formatted_name(&self) -> String {
        match self.id.as_str() {
            "myContacts" if self.system => "My Contacts".to_string(),
            "starred" if self.system => "Starred".to_string(),
            _ => self.name.clone(),
        }
    }
}

/// The live members of group `id`, as resource names.
fn members(book: &Book, id: &str) -> Vec<String> {
    book.people
        .values()
        .filter(|p| !p.deleted && p.groups.iter().any(|g| g == id))
        .map(|p| p.resource_name())
        .collect()
}

/// The group as Google answers it: `resourceName`, `etag` and the fields in `mask`;
/// `memberResourceNames` up to `max_members` (GET only). Zero and false are left out, as
/// proto3 JSON does.
fn render(book: &Book, group: &Group, mask: &Mask, max_members: usize) -> Value {
    let mut out = Map::new();
    out.insert(
        "resourceName".into(),
        json!(format!("contactGroups/{}", group.id)),
    );
    out.insert("etag".into(), json!(group.etag));
    if group.deleted {
        out.insert(
            "metadata".into(),
            json!({"updateTime": timestamp(group.update_time), "deleted": true}),
        );
        return Value::Object(out);
    }
    if mask.contains("metadata") {
        out.insert(
            "metadata".into(),
            json!({"updateTime": timestamp(group.update_time)}),
        );
    }
    if mask.contains("groupType") {
        let kind = if group.system {
            "SYSTEM_CONTACT_GROUP"
        } else {
            "USER_CONTACT_GROUP"
        };
        out.insert("groupType".into(), json!(kind));
    }
    if mask.contains("name") {
        out.insert("name".into(), json!(group.name));
        out.insert("formattedName".into(), json!(group.formatted_name()));
    }
    if mask.contains("clientData") && !group.client_data.is_empty() {
        out.insert("clientData".into(), json!(group.client_data));
    }
    let members = members(book, &group.id);
    if mask.contains("memberCount") && !members.is_empty() {
        out.insert("memberCount".into(), json!(members.len()));
    }
    if max_members > 0 && !members.is_empty() {
        let shown: Vec<String> = members.into_iter().take(max_members).collect();
        out.insert("memberResourceNames".into(), json!(shown));
    }
    Value::Object(out)
}

/// A group field mask (`groupFields`, `readGroupFields`): the defaults when absent or empty.
fn group_mask(parameter: &str, value: Option<&str>) -> Result<Mask, RpcError> {
    let value = value.unwrap_or_default().trim();
    if value.is_empty() {
        return Ok(DEFAULT_GROUP_FIELDS.iter().map(|s| s.to_string()).collect());
    }
    mask_of(parameter, value, GROUP_FIELDS)
}

fn mask_of(parameter: &str, value: &str, valid: &[&str]) -> Result<Mask, RpcError> {
    let mut mask = Mask::new();
    for path in value.split(',').map(str::trim) {
        if !valid.contains(&path) {
            return Err(RpcError::invalid_argument(format!(
                "Invalid {parameter} mask path: \"{path}\". Valid paths are documented at https://developers.google.com/people/api/rest/v1/contactGroups."
            )));
        }
        mask.insert(path.to_string());
    }
    Ok(mask)
}

/// The live group behind `contactGroups/{id}`.
fn group_of<'a>(book: &'a Book, id: &str) -> Result<&'a Group, RpcError> {
    book.groups
        .get(id)
        .filter(|g| !g.deleted)
        .ok_or_else(RpcError::not_found)
}

/// A request's `contactGroup`, checked: known names, `clientData` as `[{key, value}]`.
fn contact_group(request: &Map<String, Value>) -> Result<Map<String, Value>, RpcError> {
    let group = match request.get("contactGroup") {
        Some(Value::Object(group)) => group.clone(),
        None | Some(Value::Null) => {
            return Err(RpcError::invalid_argument("contactGroup is required."))
        }
        Some(other) => {
            return Err(RpcError::bad_payload(
                "contact_group",
                format!("Invalid value at 'contact_group' (type.googleapis.com/google.people.v1.ContactGroup), {other}"),
            ))
        }
    };
    check_names(&group, CONTACT_GROUP_NAMES, "contact_group")?;
    if let Some(name) = group.get("name").filter(|n| !n.is_string() && !n.is_null()) {
        return Err(RpcError::bad_payload(
            "contact_group.name",
            format!("Invalid value at 'contact_group.name' (TYPE_STRING), {name}"),
        ));
    }
    for (i, item) in group
        .get("clientData")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = format!("contact_group.client_data[{i}]");
        let empty = Map::new();
        check_names(item.as_object().unwrap_or(&empty), &["key", "value"], &at)?;
    }
    Ok(group)
}

/// The name a write gives a group: not empty, and no other live group of the user has it.
fn checked_name(
    book: &Book,
    group: &Map<String, Value>,
    except: Option<&str>,
) -> Result<String, RpcError> {
    let name = group
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_string();
    if name.is_empty() {
        return Err(RpcError::invalid_argument(
            "Contact group name must not be empty.",
        ));
    }
    let taken = book.groups.values().any(|g| {
        !g.deleted
            && Some(g.id.as_str()) != except
            && (g.name == name || g.formatted_name() == name)
    });
    if taken {
        return Err(RpcError::new(
            StatusCode::CONFLICT,
            "ALREADY_EXISTS",
            "Contact group name already exists.",
        ));
    }
    Ok(name)
}

fn client_data(group: &Map<String, Value>) -> Vec<Value> {
    group
        .get("clientData")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// `POST /v1/contactGroups` with `{contactGroup: {name, clientData}, readGroupFields}`.
pub(super) async fn create(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, RpcError> {
    with_request(
        &shared,
        &headers,
        query.as_deref(),
        &body,
        &["contactGroup", "readGroupFields"],
        |book, ctx, request| {
            let mask = group_mask(
                "readGroupFields",
                request.get("readGroupFields").and_then(Value::as_str),
            )?;
            let group = contact_group(&request)?;
            let name = checked_name(book, &group, None)?;
            let id = random_token("")[..16].to_string();
            let stamp = book.next_stamp();
            let stored = Group {
                id: id.clone(),
                name,
                client_data: client_data(&group),
                system: false,
                etag: group_etag(),
                update_time: ctx.now,
                stamp,
                deleted: false,
            };
            book.groups.insert(id.clone(), stored);
            Ok(Json(render(book, &book.groups[&id], &mask, 0)))
        },
    )
}

/// The groups in log order, for listing.
fn listed(book: &Book, since: Option<u64>) -> Vec<&Group> {
    let mut groups: Vec<&Group> = book
        .groups
        .values()
        .filter(|g| match since {
            Some(position) => g.stamp > position,
            None => !g.deleted,
        })
        .collect();
    groups.sort_by_key(|g| g.stamp);
    groups
}

/// `GET /v1/contactGroups?groupFields=&pageSize=&pageToken=&syncToken=` →
/// `{contactGroups, totalItems, nextPageToken?, nextSyncToken?}`.
pub(super) async fn list(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, RpcError> {
    with_book(&shared, &headers, READ_SCOPES, |book, ctx| {
        let query = Query::parse(
            query.as_deref(),
            &["groupFields", "pageSize", "pageToken", "syncToken"],
        )?;
        let mask = group_mask("groupFields", query.get("groupFields"))?;
        let page_size = query.page_size(DEFAULT_PAGE_SIZE)?;
        let since = query
            .get("syncToken")
            .map(|token| read_sync_token(book, ctx, token))
            .transpose()?;
        let (offset, sync_at) = match query.get("pageToken") {
            Some(token) => read_group_page(token, query.get("syncToken"))?,
            None => (0, book.head),
        };
        let groups = listed(book, since);
        let total = groups.len();
        let page: Vec<Value> = groups
            .iter()
            .skip(offset)
            .take(page_size)
            .map(|g| render(book, g, &mask, 0))
            .collect();
        let mut out = Map::new();
        if !page.is_empty() {
            out.insert("contactGroups".into(), Value::Array(page));
        }
        let more = offset + page_size < total;
        if more {
            let token = group_page(offset + page_size, sync_at, query.get("syncToken"));
            out.insert("nextPageToken".into(), json!(token));
        }
        end_page(&mut out, book, ctx, (!more).then_some(sync_at), total);
        Ok(Json(Value::Object(out)))
    })
}

fn group_page(offset: usize, sync_at: u64, sync_token: Option<&str>) -> String {
    let text = format!("g|{offset}|{sync_at}|{}", sync_token.unwrap_or_default());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn read_group_page(token: &str, sync_token: Option<&str>) -> Result<(usize, u64), RpcError> {
    let invalid = || RpcError::invalid_argument("Page token is invalid.");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let mut parts = text.splitn(4, '|');
    let (Some("g"), Some(offset), Some(sync_at), Some(token_sent)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    if token_sent != sync_token.unwrap_or_default() {
        return Err(invalid());
    }
    match (offset.parse(), sync_at.parse()) {
        (Ok(offset), Ok(sync_at)) => Ok((offset, sync_at)),
        _ => Err(invalid()),
    }
}

/// `GET /v1/contactGroups:batchGet?resourceNames=…&groupFields=&maxMembers=` →
/// `{responses: [{contactGroup?, requestedResourceName, status}]}` (≤ 200 names).
pub(super) async fn batch_get(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, RpcError> {
    const MAX_BATCH_GET: usize = 200;
    with_book(&shared, &headers, READ_SCOPES, |book, _| {
        let query = Query::parse(
            query.as_deref(),
            &["groupFields", "maxMembers", "resourceNames"],
        )?;
        let mask = group_mask("groupFields", query.get("groupFields"))?;
        let max_members = max_members(&query)?;
        let names = query.all("resourceNames");
        if names.is_empty() || names.len() > MAX_BATCH_GET {
            return Err(RpcError::invalid_argument(format!(
                "Request must name between 1 and {MAX_BATCH_GET} contact groups, not {}.",
                names.len()
            )));
        }
        let responses: Vec<Value> = names
            .into_iter()
            .map(|name| {
                let group = name
                    .strip_prefix("contactGroups/")
                    .and_then(|id| group_of(book, id).ok());
                match group {
                    Some(group) => json!({
                        "contactGroup": render(book, group, &mask, max_members),
                        "requestedResourceName": name,
                        "status": {},
                    }),
                    None => json!({
                        "requestedResourceName": name,
                        "status": {"code": 5, "message": "Requested entity was not found."},
                    }),
                }
            })
            .collect();
        Ok(Json(json!({ "responses": responses })))
    })
}

fn max_members(query: &Query) -> Result<usize, RpcError> {
    usize::try_from(query.int("maxMembers")?)
        .map_err(|_| RpcError::invalid_argument("maxMembers must not be negative."))
}

/// `GET /v1/contactGroups/{id}?groupFields=&maxMembers=`.
pub(super) async fn get_group(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, RpcError> {
    with_book(&shared, &headers, READ_SCOPES, |book, _| {
        let query = Query::parse(query.as_deref(), &["groupFields", "maxMembers"])?;
        let mask = group_mask("groupFields", query.get("groupFields"))?;
        let max_members = max_members(&query)?;
        let group = group_of(book, &id)?;
        Ok(Json(render(book, group, &mask, max_members)))
    })
}

/// `PUT /v1/contactGroups/{id}` with `{contactGroup, updateGroupFields, readGroupFields}`.
pub(super) async fn update(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, RpcError> {
    with_request(
        &shared,
        &headers,
        query.as_deref(),
        &body,
        &["contactGroup", "readGroupFields", "updateGroupFields"],
        |book, ctx, request| {
            let mask = group_mask(
                "readGroupFields",
                request.get("readGroupFields").and_then(Value::as_str),
            )?;
            // "Defaults to `name` if not set or set to empty."
            let fields = match request.get("updateGroupFields").and_then(Value::as_str) {
                None | Some("") => Mask::from(["name".to_string()]),
                Some(value) => mask_of("updateGroupFields", value, UPDATE_GROUP_FIELDS)?,
            };
            let group = contact_group(&request)?;
            let current = group_of(book, &id)?;
            if current.system {
                return Err(RpcError::failed_precondition(
                    "Cannot update a system contact group.",
                ));
            }
            if let Some(etag) = group.get("etag").and_then(Value::as_str) {
                if etag != current.etag {
                    return Err(RpcError::failed_precondition(
                    "Request contact group etag is different than the current contact group etag. Clear local cache and get the latest contact group.",
                ));
                }
            }
            let name = if fields.contains("name") {
                Some(checked_name(book, &group, Some(&id))?)
            } else {
                None
            };
            let stamp = book.next_stamp();
            let stored = book.groups.get_mut(&id).expect("checked");
            if let Some(name) = name {
                stored.name = name;
            }
            if fields.contains("clientData") {
                stored.client_data = client_data(&group);
            }
            stored.touch(ctx.now, stamp);
            Ok(Json(render(book, &book.groups[&id], &mask, 0)))
        },
    )
}

/// `DELETE /v1/contactGroups/{id}?deleteContacts=` → `{}`. Without `deleteContacts` the
/// members stay, out of the group (in `myContacts` if it was their only group: not
/// documented).
pub(super) async fn delete(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, RpcError> {
    with_book(&shared, &headers, WRITE_SCOPES, |book, ctx| {
        let query = Query::parse(query.as_deref(), &["deleteContacts"])?;
        let delete_contacts = query.flag("deleteContacts")?;
        if group_of(book, &id)?.system {
            return Err(RpcError::failed_precondition(
                "Cannot delete a system contact group.",
            ));
        }
        let member_ids: Vec<String> = book
            .people
            .values()
            .filter(|p| !p.deleted && p.groups.contains(&id))
            .map(|p| p.id.clone())
            .collect();
        for person_id in member_ids {
            let stamp = book.next_stamp();
            let person = book.people.get_mut(&person_id).expect("listed");
            if delete_contacts {
                person.deleted = true;
                person.fields.clear();
                person.groups.clear();
            } else {
                person.groups.retain(|g| *g != id);
                if person.groups.is_empty() {
                    person.groups.push("myContacts".to_string());
                }
            }
            person.touch(ctx.now, ctx.visible_at, stamp);
        }
        let stamp = book.next_stamp();
        let group = book.groups.get_mut(&id).expect("checked");
        group.deleted = true;
        group.touch(ctx.now, stamp);
        Ok(Json(json!({})))
    })
}

/// A request's list of resource names (`resourceNamesToAdd`…).
fn names_of(request: &Map<String, Value>, field: &str) -> Result<Vec<String>, RpcError> {
    match request.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    RpcError::bad_payload(
                        field,
                        format!("Invalid value at '{field}' (TYPE_STRING), {v}"),
                    )
                })
            })
            .collect(),
        Some(other) => Err(RpcError::bad_payload(
            field,
            format!("Invalid value at '{field}' (TYPE_STRING), {other}"),
        )),
    }
}

/// `POST /v1/contactGroups/{id}/members:modify` with `{resourceNamesToAdd,
/// resourceNamesToRemove}` → `{notFoundResourceNames?,
/// canNotRemoveLastContactGroupResourceNames?}`.
pub(super) async fn modify_members(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, RpcError> {
    with_request(
        &shared,
        &headers,
        query.as_deref(),
        &body,
        &["resourceNamesToAdd", "resourceNamesToRemove"],
        |book, ctx, request| {
            let add = names_of(&request, "resourceNamesToAdd")?;
            let remove = names_of(&request, "resourceNamesToRemove")?;
            if add.len() + remove.len() > MAX_MODIFY {
                return Err(RpcError::invalid_argument(format!(
                "Too many resource names: {}. The total of resourceNamesToAdd and resourceNamesToRemove must be at most {MAX_MODIFY}.",
                add.len() + remove.len()
            )));
            }
            let group = group_of(book, &id)?;
            if !add.is_empty() && !group.accepts_members() {
                return Err(RpcError::failed_precondition(format!(
                    "Cannot add contacts to system contact group: contactGroups/{id}"
                )));
            }
            let mut not_found = Vec::new();
            let mut last_group = Vec::new();
            let live = |book: &Book, name: &str| {
                name.strip_prefix("people/")
                    .filter(|pid| book.people.get(*pid).is_some_and(|p| !p.deleted))
                    .map(str::to_string)
            };
            for name in &add {
                let Some(pid) = live(book, name) else {
                    not_found.push(name.clone());
                    continue;
                };
                if !book.people[&pid].groups.contains(&id) {
                    change(book, ctx, &pid, |groups| groups.push(id.clone()));
                }
            }
            for name in &remove {
                let Some(pid) = live(book, name) else {
                    not_found.push(name.clone());
                    continue;
                };
                let groups = &book.people[&pid].groups;
                if !groups.contains(&id) {
                    continue;
                }
                if groups.len() == 1 {
                    last_group.push(name.clone());
                    continue;
                }
                change(book, ctx, &pid, |groups| groups.retain(|g| *g != id));
            }
            let mut out = Map::new();
            if !not_found.is_empty() {
                out.insert("notFoundResourceNames".into(), json!(not_found));
            }
            if !last_group.is_empty() {
                out.insert(
                    "canNotRemoveLastContactGroupResourceNames".into(),
                    json!(last_group),
                );
            }
            Ok(Json(Value::Object(out)))
        },
    )
}

/// A change of a contact's groups: a write of the contact (new etag, log position).
fn change(book: &mut Book, ctx: &Ctx, person_id: &str, edit: impl FnOnce(&mut Vec<String>)) {
    let stamp = book.next_stamp();
    let person = book.people.get_mut(person_id).expect("a live contact");
    edit(&mut person.groups);
    person.touch(ctx.now, ctx.visible_at, stamp);
}
