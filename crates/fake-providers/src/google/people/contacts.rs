//! `people.*`: createContact, get, updateContact, deleteContact and the batch methods
//! (batchCreateContacts ≤ 200, batchUpdateContacts ≤ 200, batchDeleteContacts ≤ 500,
//! batchGet ≤ 200).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Map, Value};

use super::person::{
    check_etag, check_person, check_singletons, parse_mask, requested_groups, Mask, StoredPerson,
    ALL_FIELDS_MASK, READ_FIELDS, UPDATE_FIELDS,
};
use super::{
    check_names, check_sources, json_body, with_book, with_request, Book, Ctx, Query, RpcError,
    READ_SCOPES, WRITE_SCOPES,
};
use crate::Shared;

const MAX_BATCH_WRITE: usize = 200;
const MAX_BATCH_DELETE: usize = 500;
const MAX_BATCH_GET: usize = 200;

/// `people/{id}:method` → `id`, when the method is the one expected (else 404, as Google
/// answers an unknown custom method).
fn split_method<'a>(segment: &'a str, method: Option<&str>) -> Result<&'a str, RpcError> {
    match (segment.split_once(':'), method) {
        (None, None) => Ok(segment),
        (Some((id, m)), Some(want)) if m == want => Ok(id),
        _ => Err(RpcError::not_found()),
    }
}

/// The groups a contact may be put in by a write: live user groups, `myContacts`,
/// `starred`.
pub(super) fn check_groups(book: &Book, groups: &[String]) -> Result<(), RpcError> {
    for id in groups {
        match book.groups.get(id).filter(|g| !g.deleted) {
            Some(group) if group.accepts_members() => {}
            Some(_) => {
                return Err(RpcError::invalid_argument(format!(
                    "Cannot add contacts to system contact group: contactGroups/{id}"
                )))
            }
            None => {
                return Err(RpcError::invalid_argument(format!(
                    "Invalid contact group resource name: contactGroups/{id}"
                )))
            }
        }
    }
    Ok(())
}

/// Checks one person to create (`at`: its path in the request) and returns its groups
/// (`myContacts` when it names none).
fn checked_new(
    book: &Book,
    person: &Map<String, Value>,
    at: &str,
) -> Result<Vec<String>, RpcError> {
    check_person(person, at)?;
    check_singletons(person, person.keys().map(String::as_str))?;
    let mut groups = requested_groups(person)?;
    check_groups(book, &groups)?;
    if groups.is_empty() {
        groups.push("myContacts".to_string());
    }
    Ok(groups)
}

fn insert_new(
    book: &mut Book,
    ctx: &Ctx,
    person: &Map<String, Value>,
    groups: Vec<String>,
) -> String {
    let stamp = book.next_stamp();
    let stored = StoredPerson::new(person, groups, ctx.now, ctx.visible_at, stamp);
    let id = stored.id.clone();
    book.people.insert(id.clone(), stored);
    id
}

/// Checks an update of contact `id` by `person` replacing the fields in `mask`.
fn check_update(
    book: &mut Book,
    id: &str,
    person: &Map<String, Value>,
    mask: &Mask,
    at: &str,
) -> Result<Option<Vec<String>>, RpcError> {
    check_person(person, at)?;
    let groups = if mask.contains("memberships") {
        let groups = requested_groups(person)?;
        if groups.is_empty() {
            return Err(RpcError::invalid_argument(
                "Request must specify at least one contact group membership when updating memberships.",
            ));
        }
        Some(groups)
    } else {
        None
    };
    let stored = book.person_mut(id)?;
    check_etag(stored, person)?;
    check_singletons(person, mask.iter().map(String::as_str))?;
    if let Some(groups) = &groups {
        // Memberships kept from before may stay even in groups no longer writable.
        let added: Vec<String> = groups
            .iter()
            .filter(|g| !stored.groups.contains(g))
            .cloned()
            .collect();
        check_groups(book, &added)?;
    }
    Ok(groups)
}

fn apply_update(
    book: &mut Book,
    ctx: &Ctx,
    id: &str,
    person: &Map<String, Value>,
    mask: &Mask,
    groups: Option<Vec<String>>,
) {
    let stamp = book.next_stamp();
    let stored = book.person_mut(id).expect("checked");
    for field in mask.iter().filter(|f| *f != "memberships") {
        stored.set_field(field, person.get(field.as_str()).unwrap_or(&Value::Null));
    }
    if let Some(groups) = groups {
        stored.groups = groups;
    }
    stored.touch(ctx.now, ctx.visible_at, stamp);
}

fn delete_person(book: &mut Book, ctx: &Ctx, id: &str) {
    let stamp = book.next_stamp();
    let stored = book.people.get_mut(id).expect("checked");
    stored.deleted = true;
    stored.groups.clear();
    stored.fields.clear();
    stored.touch(ctx.now, ctx.visible_at, stamp);
}

/// A `PersonResponse` of a batch method.
fn person_response(requested: &str, person: Option<Map<String, Value>>) -> Value {
    match person {
        Some(person) => json!({
            "httpStatusCode": 200,
            "person": person,
            "requestedResourceName": requested,
            "status": {},
        }),
        None => json!({
            "httpStatusCode": 404,
            "requestedResourceName": requested,
            "status": {"code": 5, "message": "Requested entity was not found."},
        }),
    }
}

fn render(book: &Book, id: &str, mask: &Mask) -> Map<String, Value> {
    book.people[id].render(mask, false)
}

/// `POST /v1/people:createContact?personFields=&sources=` with a Person.
pub(super) async fn create(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, RpcError> {
    with_book(&shared, &headers, WRITE_SCOPES, |book, ctx| {
        let query = Query::parse(query.as_deref(), &["personFields", "sources"])?;
        check_sources(query.all("sources"))?;
        // "Required … Defaults to all fields if not set" (both, in the document).
        let mut mask = parse_mask(
            "personFields",
            query.get("personFields"),
            READ_FIELDS,
            "people/createContact",
            false,
        )?;
        if mask.is_empty() {
            mask = ALL_FIELDS_MASK.clone();
        }
        let person = json_body(&body)?;
        let groups = checked_new(book, &person, "")?;
        let id = insert_new(book, ctx, &person, groups);
        Ok(Json(Value::Object(render(book, &id, &mask))))
    })
}

/// The `personFields` of a read (or the older `requestMask.includeField`), required.
fn read_mask(query: &Query, method_doc: &str) -> Result<Mask, RpcError> {
    let value = query
        .get("personFields")
        .or_else(|| query.get("requestMask.includeField"));
    parse_mask("personFields", value, READ_FIELDS, method_doc, true)
}

/// `GET /v1/people/{id}?personFields=` (required).
pub(super) async fn get_person(
    State(shared): State<Arc<Shared>>,
    Path(segment): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, RpcError> {
    with_book(&shared, &headers, READ_SCOPES, |book, _| {
        let id = split_method(&segment, None)?;
        let query = Query::parse(
            query.as_deref(),
            &["personFields", "requestMask.includeField", "sources"],
        )?;
        check_sources(query.all("sources"))?;
        let mask = read_mask(&query, "people/get")?;
        book.person_mut(id)?;
        Ok(Json(Value::Object(render(book, id, &mask))))
    })
}

/// `PATCH /v1/people/{id}:updateContact?updatePersonFields=&personFields=` with a Person.
pub(super) async fn update(
    State(shared): State<Arc<Shared>>,
    Path(segment): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, RpcError> {
    with_book(&shared, &headers, WRITE_SCOPES, |book, ctx| {
        let id = split_method(&segment, Some("updateContact"))?;
        let query = Query::parse(
            query.as_deref(),
            &["updatePersonFields", "personFields", "sources"],
        )?;
        check_sources(query.all("sources"))?;
        let update_mask = parse_mask(
            "updatePersonFields",
            query.get("updatePersonFields"),
            UPDATE_FIELDS,
            "people/updateContact",
            true,
        )?;
        let mut mask = parse_mask(
            "personFields",
            query.get("personFields"),
            READ_FIELDS,
            "people/updateContact",
            false,
        )?;
        if mask.is_empty() {
            mask = ALL_FIELDS_MASK.clone();
        }
        let person = json_body(&body)?;
        let groups = check_update(book, id, &person, &update_mask, "person")?;
        apply_update(book, ctx, id, &person, &update_mask, groups);
        Ok(Json(Value::Object(render(book, id, &mask))))
    })
}

/// `DELETE /v1/people/{id}:deleteContact` → `{}`.
pub(super) async fn delete(
    State(shared): State<Arc<Shared>>,
    Path(segment): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, RpcError> {
    with_book(&shared, &headers, WRITE_SCOPES, |book, ctx| {
        let id = split_method(&segment, Some("deleteContact"))?;
        Query::parse(query.as_deref(), &[])?;
        book.person_mut(id)?;
        delete_person(book, ctx, id);
        Ok(Json(json!({})))
    })
}

/// A batch's list, checked: an array, not empty, at most `max`.
fn batch_items<'a>(
    request: &'a Map<String, Value>,
    field: &str,
    max: usize,
) -> Result<Vec<&'a Value>, RpcError> {
    let items: Vec<&Value> = match request.get(field) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(Value::Object(map)) => map.values().collect(),
        Some(other) => {
            return Err(RpcError::bad_payload(
                field,
                format!("Invalid value at '{}' , {other}", super::snake(field)),
            ))
        }
    };
    if items.is_empty() {
        return Err(RpcError::invalid_argument(format!(
            "Request must contain at least one item in {field}."
        )));
    }
    if items.len() > max {
        return Err(RpcError::invalid_argument(format!(
            "Too many items in {field}: {}. At most {max} are allowed in a single request.",
            items.len()
        )));
    }
    Ok(items)
}

/// A batch's `readMask` (required; the document also says an empty one skips the read-back,
/// which proto3 cannot tell from a missing one: the fake requires it).
fn batch_read_mask(request: &Map<String, Value>, method_doc: &str) -> Result<Mask, RpcError> {
    parse_mask(
        "readMask",
        request.get("readMask").and_then(Value::as_str),
        READ_FIELDS,
        method_doc,
        true,
    )
}

fn body_sources(request: &Map<String, Value>) -> Result<(), RpcError> {
    check_sources(
        request
            .get("sources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|v| v.as_str().unwrap_or_default()),
    )
}

/// `POST /v1/people:batchCreateContacts` with `{contacts: [{contactPerson}], readMask,
/// sources}` → `{createdPeople: [PersonResponse]}`. All or nothing.
pub(super) async fn batch_create(
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
        &["contacts", "readMask", "sources"],
        |book, ctx, request| {
            body_sources(&request)?;
            let contacts = batch_items(&request, "contacts", MAX_BATCH_WRITE)?;
            let mask = batch_read_mask(&request, "people/batchCreateContacts")?;
            let mut checked = Vec::with_capacity(contacts.len());
            for (i, contact) in contacts.into_iter().enumerate() {
                let at = format!("contacts[{i}]");
                let contact = contact.as_object().ok_or_else(|| {
                RpcError::bad_payload(&at, format!("Invalid value at '{at}' (type.googleapis.com/google.people.v1.ContactToCreate), {contact}"))
            })?;
                check_names(contact, &["contactPerson"], &at)?;
                let person = contact
                    .get("contactPerson")
                    .and_then(Value::as_object)
                    .ok_or_else(|| {
                        RpcError::invalid_argument(format!("{at}.contact_person is required."))
                    })?;
                let groups = checked_new(book, person, &format!("{at}.contact_person"))?;
                checked.push((person, groups));
            }
            let created: Vec<Value> = checked
                .into_iter()
                .map(|(person, groups)| {
                    let id = insert_new(book, ctx, person, groups);
                    let name = format!("people/{id}");
                    person_response(&name, Some(render(book, &id, &mask)))
                })
                .collect();
            Ok(Json(json!({ "createdPeople": created })))
        },
    )
}

/// `POST /v1/people:batchUpdateContacts` with `{contacts: {resourceName: Person},
/// updateMask, readMask, sources}` → `{updateResult: {resourceName: PersonResponse}}`.
/// Every person's etag is checked; one failure refuses the whole batch.
pub(super) async fn batch_update(
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
        &["contacts", "readMask", "sources", "updateMask"],
        |book, ctx, request| {
            body_sources(&request)?;
            if request.get("contacts").is_some_and(Value::is_array) {
                return Err(RpcError::bad_payload(
                "contacts",
                "Invalid JSON payload received. Expected an object (a map of resource names to persons) at 'contacts'.",
            ));
            }
            batch_items(&request, "contacts", MAX_BATCH_WRITE)?;
            let update_mask = parse_mask(
                "updateMask",
                request.get("updateMask").and_then(Value::as_str),
                UPDATE_FIELDS,
                "people/batchUpdateContacts",
                true,
            )?;
            let mask = batch_read_mask(&request, "people/batchUpdateContacts")?;
            let contacts = request["contacts"].as_object().expect("checked");
            let mut checked = Vec::with_capacity(contacts.len());
            for (name, person) in contacts {
                let at = format!("contacts[{name}]");
                let person = person.as_object().ok_or_else(|| {
                    RpcError::bad_payload(&at, format!("Invalid value at '{at}', {person}"))
                })?;
                let id = name
                    .strip_prefix("people/")
                    .filter(|id| !id.is_empty() && !id.contains('/'))
                    .ok_or_else(|| {
                        RpcError::invalid_argument(format!("Invalid resource name: {name}"))
                    })?;
                let groups = check_update(book, id, person, &update_mask, &at)?;
                checked.push((name, id, person, groups));
            }
            let mut result = Map::new();
            for (name, id, person, groups) in checked {
                apply_update(book, ctx, id, person, &update_mask, groups);
                result.insert(
                    name.clone(),
                    person_response(name, Some(render(book, id, &mask))),
                );
            }
            Ok(Json(json!({ "updateResult": result })))
        },
    )
}

/// `POST /v1/people:batchDeleteContacts` with `{resourceNames: […]}` → `{}`.
pub(super) async fn batch_delete(
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
        &["resourceNames"],
        |book, ctx, request| {
            let names = batch_items(&request, "resourceNames", MAX_BATCH_DELETE)?;
            let mut ids = Vec::with_capacity(names.len());
            for name in names {
                let id = name
                    .as_str()
                    .and_then(|n| n.strip_prefix("people/"))
                    .ok_or_else(|| {
                        RpcError::invalid_argument(format!("Invalid resource name: {name}"))
                    })?;
                book.person_mut(id)?;
                ids.push(id.to_string());
            }
            for id in ids {
                if !book.people[&id].deleted {
                    delete_person(book, ctx, &id);
                }
            }
            Ok(Json(json!({})))
        },
    )
}

/// `GET /v1/people:batchGet?resourceNames=…&personFields=` → `{responses:
/// [PersonResponse]}`, a 404 status per unknown name.
pub(super) async fn batch_get(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, RpcError> {
    with_book(&shared, &headers, READ_SCOPES, |book, _| {
        let query = Query::parse(
            query.as_deref(),
            &[
                "resourceNames",
                "personFields",
                "requestMask.includeField",
                "sources",
            ],
        )?;
        check_sources(query.all("sources"))?;
        let names = query.all("resourceNames");
        if names.is_empty() {
            return Err(RpcError::invalid_argument(
                "Request must contain at least one resource name.",
            ));
        }
        if names.len() > MAX_BATCH_GET {
            return Err(RpcError::invalid_argument(format!(
                "Too many resource names: {}. At most {MAX_BATCH_GET} are allowed in a single request.",
                names.len()
            )));
        }
        let mask = read_mask(&query, "people/getBatchGet")?;
        let responses: Vec<Value> = names
            .into_iter()
            .map(|name| {
                let person = name
                    .strip_prefix("people/")
                    .and_then(|id| book.people.get(id))
                    .filter(|p| !p.deleted)
                    .map(|p| p.render(&mask, false));
                person_response(name, person)
            })
            .collect();
        Ok(Json(json!({ "responses": responses })))
    })
}
