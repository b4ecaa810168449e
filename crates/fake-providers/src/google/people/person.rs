//! The `Person` resource: its schema (checked field by field against the discovery
//! document: an unknown name is refused as Google's JSON front end refuses it), how a contact
//! is stored (the contact source's fields, its groups, etags, log stamp), field masks, and
//! how it is rendered.

use std::collections::BTreeSet;

use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::{snake, timestamp, RpcError};

/// The kind of a field in a request body.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Bool,
    Int,
    StrArray,
    Obj(&'static Schema),
    Array(&'static Schema),
    /// An array of messages the fake does not look inside (fields Threadline does not use).
    OpaqueArray,
}

/// A message type: its proto name (for error texts) and its JSON fields.
struct Schema {
    proto: &'static str,
    fields: &'static [(&'static str, Kind)],
}

use Kind::{Array, Bool, Int, Obj, OpaqueArray, Str, StrArray};

static SOURCE: Schema = Schema {
    proto: "Source",
    fields: &[
        ("etag", Str),
        ("id", Str),
        ("profileMetadata", Obj(&OPAQUE)),
        ("type", Str),
        ("updateTime", Str),
    ],
};
static OPAQUE: Schema = Schema {
    proto: "ProfileMetadata",
    fields: &[("objectType", Str), ("userTypes", StrArray)],
};
static FIELD_METADATA: Schema = Schema {
    proto: "FieldMetadata",
    fields: &[
        ("primary", Bool),
        ("source", Obj(&SOURCE)),
        ("sourcePrimary", Bool),
        ("verified", Bool),
    ],
};
static DATE: Schema = Schema {
    proto: "google.type.Date",
    fields: &[("day", Int), ("month", Int), ("year", Int)],
};
const META: (&str, Kind) = ("metadata", Obj(&FIELD_METADATA));
static NAME: Schema = Schema {
    proto: "Name",
    fields: &[
        META,
        ("displayName", Str),
        ("displayNameLastFirst", Str),
        ("familyName", Str),
        ("givenName", Str),
        ("honorificPrefix", Str),
        ("honorificSuffix", Str),
        ("middleName", Str),
        ("phoneticFamilyName", Str),
        ("phoneticFullName", Str),
        ("phoneticGivenName", Str),
        ("phoneticHonorificPrefix", Str),
        ("phoneticHonorificSuffix", Str),
        ("phoneticMiddleName", Str),
        ("unstructuredName", Str),
    ],
};
static EMAIL: Schema = Schema {
    proto: "EmailAddress",
    fields: &[
        META,
        ("displayName", Str),
        ("formattedType", Str),
        ("type", Str),
        ("value", Str),
    ],
};
static PHONE: Schema = Schema {
    proto: "PhoneNumber",
    fields: &[
        META,
        ("canonicalForm", Str),
        ("formattedType", Str),
        ("type", Str),
        ("value", Str),
    ],
};
static ADDRESS: Schema = Schema {
    proto: "Address",
    fields: &[
        META,
        ("city", Str),
        ("country", Str),
        ("countryCode", Str),
        ("extendedAddress", Str),
        ("formattedType", Str),
        ("formattedValue", Str),
        ("poBox", Str),
        ("postalCode", Str),
        ("region", Str),
        ("streetAddress", Str),
        ("type", Str),
    ],
};
static ORGANIZATION: Schema = Schema {
    proto: "Organization",
    fields: &[
        META,
        ("costCenter", Str),
        ("current", Bool),
        ("department", Str),
        ("domain", Str),
        ("endDate", Obj(&DATE)),
        ("formattedType", Str),
        ("fullTimeEquivalentMillipercent", Int),
        ("jobDescription", Str),
        ("location", Str),
        ("name", Str),
        ("phoneticName", Str),
        ("startDate", Obj(&DATE)),
        ("symbol", Str),
        ("title", Str),
        ("type", Str),
    ],
};
static URL: Schema = Schema {
    proto: "Url",
    fields: &[META, ("formattedType", Str), ("type", Str), ("value", Str)],
};
static BIOGRAPHY: Schema = Schema {
    proto: "Biography",
    fields: &[META, ("contentType", Str), ("value", Str)],
};
static BIRTHDAY: Schema = Schema {
    proto: "Birthday",
    fields: &[META, ("date", Obj(&DATE)), ("text", Str)],
};
static KEY_VALUE: Schema = Schema {
    proto: "ClientData",
    fields: &[META, ("key", Str), ("value", Str)],
};
static EXTERNAL_ID: Schema = Schema {
    proto: "ExternalId",
    fields: &[META, ("formattedType", Str), ("type", Str), ("value", Str)],
};
static GROUP_MEMBERSHIP: Schema = Schema {
    proto: "ContactGroupMembership",
    fields: &[("contactGroupId", Str), ("contactGroupResourceName", Str)],
};
static DOMAIN_MEMBERSHIP: Schema = Schema {
    proto: "DomainMembership",
    fields: &[("inViewerDomain", Bool)],
};
static MEMBERSHIP: Schema = Schema {
    proto: "Membership",
    fields: &[
        META,
        ("contactGroupMembership", Obj(&GROUP_MEMBERSHIP)),
        ("domainMembership", Obj(&DOMAIN_MEMBERSHIP)),
    ],
};
static PHOTO: Schema = Schema {
    proto: "Photo",
    fields: &[META, ("default", Bool), ("url", Str)],
};
static PERSON_METADATA: Schema = Schema {
    proto: "PersonMetadata",
    fields: &[
        ("deleted", Bool),
        ("linkedPeopleResourceNames", StrArray),
        ("objectType", Str),
        ("previousResourceNames", StrArray),
        ("sources", Array(&SOURCE)),
    ],
};
static PERSON: Schema = Schema {
    proto: "Person",
    fields: &[
        ("addresses", Array(&ADDRESS)),
        ("ageRange", Str),
        ("ageRanges", OpaqueArray),
        ("biographies", Array(&BIOGRAPHY)),
        ("birthdays", Array(&BIRTHDAY)),
        ("braggingRights", OpaqueArray),
        ("calendarUrls", OpaqueArray),
        ("clientData", Array(&KEY_VALUE)),
        ("coverPhotos", OpaqueArray),
        ("emailAddresses", Array(&EMAIL)),
        ("etag", Str),
        ("events", OpaqueArray),
        ("externalIds", Array(&EXTERNAL_ID)),
        ("fileAses", OpaqueArray),
        ("genders", OpaqueArray),
        ("imClients", OpaqueArray),
        ("interests", OpaqueArray),
        ("locales", OpaqueArray),
        ("locations", OpaqueArray),
        ("memberships", Array(&MEMBERSHIP)),
        ("metadata", Obj(&PERSON_METADATA)),
        ("miscKeywords", OpaqueArray),
        ("names", Array(&NAME)),
        ("nicknames", OpaqueArray),
        ("occupations", OpaqueArray),
        ("organizations", Array(&ORGANIZATION)),
        ("phoneNumbers", Array(&PHONE)),
        ("photos", Array(&PHOTO)),
        ("relations", OpaqueArray),
        ("relationshipInterests", OpaqueArray),
        ("relationshipStatuses", OpaqueArray),
        ("residences", OpaqueArray),
        ("resourceName", Str),
        ("sipAddresses", OpaqueArray),
        ("skills", OpaqueArray),
        ("taglines", OpaqueArray),
        ("urls", Array(&URL)),
        ("userDefined", Array(&KEY_VALUE)),
    ],
};

/// Checks a request's `Person` against the schema. `at` is the proto path of the person in
/// the request (`""` when the body is the person, `contacts[3].contact_person` in a batch).
pub(super) fn check_person(person: &Map<String, Value>, at: &str) -> Result<(), RpcError> {
    check_object(person, &PERSON, at)
}

fn check_object(object: &Map<String, Value>, schema: &Schema, at: &str) -> Result<(), RpcError> {
    for (name, value) in object {
        let Some((_, kind)) = schema.fields.iter().find(|(n, _)| n == name) else {
            let place = if at.is_empty() {
                String::new()
            } else {
                format!(" at '{at}'")
            };
            return Err(RpcError::bad_payload(
                at,
                format!("Invalid JSON payload received. Unknown name \"{name}\"{place}: Cannot find field."),
            ));
        };
        let path = if at.is_empty() {
            snake(name)
        } else {
            format!("{at}.{}", snake(name))
        };
        check_value(value, *kind, &path)?;
    }
    Ok(())
}

fn check_value(value: &Value, kind: Kind, path: &str) -> Result<(), RpcError> {
    let invalid = |type_name: &str| {
        RpcError::bad_payload(
            path,
            format!("Invalid value at '{path}' ({type_name}), {value}"),
        )
    };
    let message_type = |schema: &Schema| {
        if schema.proto.contains('.') {
            format!("type.googleapis.com/{}", schema.proto)
        } else {
            format!("type.googleapis.com/google.people.v1.{}", schema.proto)
        }
    };
    match (kind, value) {
        // JSON null is the field's default, as in proto3 JSON.
        (_, Value::Null) => Ok(()),
        (Str, Value::String(_)) | (Bool, Value::Bool(_)) => Ok(()),
        (Str, _) => Err(invalid("TYPE_STRING")),
        (Bool, _) => Err(invalid("TYPE_BOOL")),
        (Int, Value::Number(n)) if n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()) => Ok(()),
        (Int, Value::String(s)) if s.parse::<i32>().is_ok() => Ok(()),
        (Int, _) => Err(invalid("TYPE_INT32")),
        (StrArray, Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                check_value(item, Str, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (StrArray, _) => Err(invalid("TYPE_STRING")),
        (Obj(schema), Value::Object(map)) => check_object(map, schema, path),
        (Obj(schema), _) => Err(invalid(&message_type(schema))),
        (Array(schema), Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let at = format!("{path}[{i}]");
                match item {
                    Value::Object(map) => check_object(map, schema, &at)?,
                    other => {
                        return Err(RpcError::bad_payload(
                            &at,
                            format!(
                                "Invalid value at '{at}' ({}), {other}",
                                message_type(schema)
                            ),
                        ))
                    }
                }
            }
            Ok(())
        }
        (OpaqueArray, Value::Array(items)) if items.iter().all(Value::is_object) => Ok(()),
        (Array(schema), _) => Err(invalid(&message_type(schema))),
        (OpaqueArray, _) => Err(invalid("TYPE_MESSAGE")),
    }
}

/// The paths `personFields` / `readMask` accept (discovery document, `people.get`).
pub(super) const READ_FIELDS: &[&str] = &[
    "addresses",
    "ageRanges",
    "biographies",
    "birthdays",
    "calendarUrls",
    "clientData",
    "coverPhotos",
    "emailAddresses",
    "events",
    "externalIds",
    "genders",
    "imClients",
    "interests",
    "locales",
    "locations",
    "memberships",
    "metadata",
    "miscKeywords",
    "names",
    "nicknames",
    "occupations",
    "organizations",
    "phoneNumbers",
    "photos",
    "relations",
    "sipAddresses",
    "skills",
    "urls",
    "userDefined",
];

/// The paths `updatePersonFields` / `updateMask` accept: the contact source's own fields.
pub(super) const UPDATE_FIELDS: &[&str] = &[
    "addresses",
    "biographies",
    "birthdays",
    "calendarUrls",
    "clientData",
    "emailAddresses",
    "events",
    "externalIds",
    "genders",
    "imClients",
    "interests",
    "locales",
    "locations",
    "memberships",
    "miscKeywords",
    "names",
    "nicknames",
    "occupations",
    "organizations",
    "phoneNumbers",
    "relations",
    "sipAddresses",
    "urls",
    "userDefined",
];

/// Fields that are singletons for contact sources: more than one value is a 400.
const SINGLETONS: &[&str] = &["biographies", "birthdays", "genders", "names"];

/// A parsed field mask.
pub(crate) type Mask = BTreeSet<String>;

pub(crate) static ALL_FIELDS_MASK: std::sync::LazyLock<Mask> =
    std::sync::LazyLock::new(|| READ_FIELDS.iter().map(|s| s.to_string()).collect());

/// Parses a field mask parameter (`personFields`, `readMask`, `updatePersonFields`…):
/// comma-separated paths, each one of `valid` (an optional `person.` prefix is allowed, as
/// Google's masks are rooted at the person). `None` or empty: 400 when `required`.
pub(super) fn parse_mask(
    parameter: &str,
    value: Option<&str>,
    valid: &[&str],
    method_doc: &str,
    required: bool,
) -> Result<Mask, RpcError> {
    let value = value.unwrap_or_default().trim();
    if value.is_empty() {
        if required {
            return Err(RpcError::invalid_argument(format!(
                "{parameter} mask is required. Please specify one or more valid paths. Valid paths are documented at https://developers.google.com/people/api/rest/v1/{method_doc}."
            )));
        }
        return Ok(Mask::new());
    }
    let mut mask = Mask::new();
    for path in value.split(',').map(str::trim) {
        let field = path.strip_prefix("person.").unwrap_or(path);
        if !valid.contains(&field) {
            return Err(RpcError::invalid_argument(format!(
                "Invalid {parameter} mask path: \"{path}\". Valid paths are documented at https://developers.google.com/people/api/rest/v1/{method_doc}."
            )));
        }
        mask.insert(field.to_string());
    }
    Ok(mask)
}

/// A contact as stored.
#[derive(Debug, Clone)]
pub(crate) struct StoredPerson {
    /// `c` and decimal digits (the resource name is `people/{id}`).
    pub(crate) id: String,
    /// The contact source's id (hex), stable across resource name changes.
    pub(crate) source_id: String,
    /// The contact source's fields (of [`UPDATE_FIELDS`] but `memberships`), and `photos`,
    /// as stored: output-only parts removed.
    pub(crate) fields: Map<String, Value>,
    /// The groups the contact is in, by group id, in the order added.
    pub(crate) groups: Vec<String>,
    pub(crate) etag: String,
    pub(crate) source_etag: String,
    pub(crate) update_time: DateTime<Utc>,
    /// The log position of its latest write.
    pub(crate) stamp: u64,
    /// Incremental listings see the latest write from then on.
    pub(crate) visible_at: DateTime<Utc>,
    pub(crate) deleted: bool,
    pub(crate) previous_resource_names: Vec<String>,
}

pub(crate) fn new_person_id() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the OS random source");
    // Google's contact ids are `c` and up to 19 decimal digits.
    format!("c{}", u64::from_be_bytes(bytes) >> 1)
}

fn new_etag(prefix: &str) -> String {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).expect("the OS random source");
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

impl StoredPerson {
    /// A new contact from a checked request person: its contact fields, in `groups`.
    pub(super) fn new(
        body: &Map<String, Value>,
        groups: Vec<String>,
        now: DateTime<Utc>,
        visible_at: DateTime<Utc>,
        stamp: u64,
    ) -> StoredPerson {
        let id = new_person_id();
        let source_id = format!("{:x}", id[1..].parse::<u64>().unwrap_or_default());
        let mut person = StoredPerson {
            id,
            source_id,
            fields: Map::new(),
            groups,
            etag: String::new(),
            source_etag: String::new(),
            update_time: now,
            stamp,
            visible_at,
            deleted: false,
            previous_resource_names: Vec::new(),
        };
        for field in UPDATE_FIELDS.iter().filter(|f| **f != "memberships") {
            if let Some(value) = body.get(*field) {
                person.set_field(field, value);
            }
        }
        person.touch(now, visible_at, stamp);
        person
    }

    pub(crate) fn resource_name(&self) -> String {
        format!("people/{}", self.id)
    }

    /// Replaces one contact field (absent, null or empty: cleared), without output-only parts.
    pub(super) fn set_field(&mut self, field: &str, value: &Value) {
        let items: Vec<Value> = value
            .as_array()
            .map(|items| items.iter().map(|item| stored_item(field, item)).collect())
            .unwrap_or_default();
        if items.is_empty() {
            self.fields.remove(field);
        } else {
            self.fields.insert(field.to_string(), Value::Array(items));
        }
    }

    /// A write: a new etag, update time and log position.
    pub(crate) fn touch(&mut self, now: DateTime<Utc>, visible_at: DateTime<Utc>, stamp: u64) {
        self.etag = new_etag("%");
        self.source_etag = new_etag("#");
        self.update_time = now;
        self.stamp = stamp;
        self.visible_at = visible_at;
    }

    fn source(&self) -> Value {
        json!({"type": "CONTACT", "id": self.source_id})
    }

    /// The person as Google answers it: `resourceName`, `etag` and the fields in `mask`.
    /// `sync`: an incremental listing, which carries `previousResourceNames` and deletions.
    pub(crate) fn render(&self, mask: &Mask, sync: bool) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("resourceName".into(), json!(self.resource_name()));
        out.insert("etag".into(), json!(self.etag));
        let mut metadata = Map::new();
        if mask.contains("metadata") || self.deleted {
            metadata.insert(
                "sources".into(),
                json!([{
                    "type": "CONTACT",
                    "id": self.source_id,
                    "etag": self.source_etag,
                    "updateTime": timestamp(self.update_time),
                }]),
            );
            metadata.insert("objectType".into(), json!("PERSON"));
        }
        if sync && !self.previous_resource_names.is_empty() {
            metadata.insert(
                "previousResourceNames".into(),
                json!(self.previous_resource_names),
            );
        }
        if self.deleted {
            metadata.insert("deleted".into(), json!(true));
        }
        if !metadata.is_empty() {
            out.insert("metadata".into(), Value::Object(metadata));
        }
        if self.deleted {
            return out;
        }
        for field in mask.iter().filter(|f| *f != "metadata") {
            let items: Vec<Value> = if field == "memberships" {
                self.groups
                    .iter()
                    .map(|group| {
                        json!({"contactGroupMembership": {
                            "contactGroupId": group,
                            "contactGroupResourceName": format!("contactGroups/{group}"),
                        }})
                    })
                    .collect()
            } else {
                match self.fields.get(field.as_str()) {
                    Some(Value::Array(items)) => items.clone(),
                    _ => continue,
                }
            };
            let rendered: Vec<Value> = items
                .into_iter()
                .enumerate()
                .map(|(i, item)| self.rendered_item(field, item, i == 0))
                .collect();
            if !rendered.is_empty() {
                out.insert(field.clone(), Value::Array(rendered));
            }
        }
        out
    }

    /// One value of a field with its `metadata` and the output-only values Google computes.
    fn rendered_item(&self, field: &str, item: Value, first: bool) -> Value {
        let Value::Object(mut item) = item else {
            return item;
        };
        let mut metadata = Map::new();
        if first {
            metadata.insert("primary".into(), json!(true));
            if field != "memberships" {
                metadata.insert("sourcePrimary".into(), json!(true));
            }
        }
        metadata.insert("source".into(), self.source());
        item.insert("metadata".into(), Value::Object(metadata));
        if let Some(kind) = item.get("type").and_then(Value::as_str) {
            if let Some(formatted) = formatted_type(field, kind) {
                item.insert("formattedType".into(), json!(formatted));
            }
        }
        if field == "names" {
            let part = |k: &str| {
                item.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            let given = [
                part("honorificPrefix"),
                part("givenName"),
                part("middleName"),
            ];
            let first_last: Vec<String> = given
                .iter()
                .chain([part("familyName"), part("honorificSuffix")].iter())
                .filter(|s| !s.is_empty())
                .cloned()
                .collect();
            let display = if first_last.is_empty() {
                part("unstructuredName")
            } else {
                first_last.join(" ")
            };
            let given_part: Vec<&String> = given.iter().filter(|s| !s.is_empty()).collect();
            let given_joined = given_part
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            let last_first = match (part("familyName").as_str(), given_joined.as_str()) {
                ("", g) => g.to_string(),
                (f, "") => f.to_string(),
                (f, g) => format!("{f}, {g}"),
            };
            if !display.is_empty() {
                item.insert("displayName".into(), json!(display));
                item.insert(
                    "displayNameLastFirst".into(),
                    json!(if last_first.is_empty() {
                        display.clone()
                    } else {
                        last_first
                    }),
                );
                item.entry("unstructuredName").or_insert(json!(display));
            }
        }
        Value::Object(item)
    }
}

/// A value as stored: the output-only parts a client may send back are dropped.
fn stored_item(field: &str, item: &Value) -> Value {
    let Value::Object(item) = item else {
        return item.clone();
    };
    let mut item = item.clone();
    item.remove("metadata");
    if field != "photos" {
        item.remove("formattedType");
    }
    if field == "names" {
        item.remove("displayName");
        item.remove("displayNameLastFirst");
    }
    if field == "phoneNumbers" {
        item.remove("canonicalForm");
    }
    item.retain(|_, v| !v.is_null());
    Value::Object(item)
}

/// Google's English `formattedType` of a predefined type (a custom type has none).
fn formatted_type(field: &str, kind: &str) -> Option<&'static str> {
    let predefined: &[(&str, &str)] = match field {
        "emailAddresses" => &[("home", "Home"), ("work", "Work"), ("other", "Other")],
        "phoneNumbers" => &[
            ("home", "Home"),
            ("work", "Work"),
            ("mobile", "Mobile"),
            ("homeFax", "Home Fax"),
            ("workFax", "Work Fax"),
            ("otherFax", "Other Fax"),
            ("pager", "Pager"),
            ("workMobile", "Work Mobile"),
            ("workPager", "Work Pager"),
            ("main", "Main"),
            ("googleVoice", "Google Voice"),
            ("other", "Other"),
        ],
        "addresses" => &[("home", "Home"), ("work", "Work"), ("other", "Other")],
        "organizations" => &[("work", "Work"), ("school", "School")],
        "urls" => &[
            ("home", "Home Page"),
            ("work", "Work"),
            ("blog", "Blog"),
            ("profile", "Profile"),
            ("homePage", "Home Page"),
            ("ftp", "FTP"),
            ("reservations", "Reservations"),
            ("appInstallPage", "App Install Page"),
            ("other", "Other"),
        ],
        _ => &[],
    };
    predefined.iter().find(|(k, _)| *k == kind).map(|(_, f)| *f)
}

/// The singleton rule: more than one value of `names`, `biographies`, `birthdays` or
/// `genders` is a 400 (only the fields in `fields` are looked at).
pub(super) fn check_singletons<'a>(
    person: &Map<String, Value>,
    fields: impl IntoIterator<Item = &'a str>,
) -> Result<(), RpcError> {
    for field in fields {
        if !SINGLETONS.contains(&field) {
            continue;
        }
        if person
            .get(field)
            .and_then(Value::as_array)
            .is_some_and(|items| items.len() > 1)
        {
            return Err(RpcError::invalid_argument(format!(
                "Request specifies more than one value for singleton field: person.{field}"
            )));
        }
    }
    Ok(())
}

/// The group ids a request person's `memberships` name (`contactGroupResourceName`; the
/// output-only `contactGroupId` is not used for writes, as documented).
pub(super) fn requested_groups(person: &Map<String, Value>) -> Result<Vec<String>, RpcError> {
    let mut groups = Vec::new();
    for membership in person
        .get("memberships")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = membership
            .pointer("/contactGroupMembership/contactGroupResourceName")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                RpcError::invalid_argument(
                    "Membership must have a contact group membership with a contactGroupResourceName.",
                )
            })?;
        let id = name.strip_prefix("contactGroups/").ok_or_else(|| {
            RpcError::invalid_argument(format!("Invalid contact group resource name: {name}"))
        })?;
        if !groups.iter().any(|g| g == id) {
            groups.push(id.to_string());
        }
    }
    Ok(groups)
}

/// The etag check of an update: the person's `etag`, or its contact source's
/// `metadata.sources[].etag`, must be the current one.
pub(super) fn check_etag(
    stored: &StoredPerson,
    person: &Map<String, Value>,
) -> Result<(), RpcError> {
    let person_etag = person.get("etag").and_then(Value::as_str);
    let source_etag = person
        .get("metadata")
        .and_then(|m| m.get("sources"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|s| s.get("type").and_then(Value::as_str) == Some("CONTACT"))
        .and_then(|s| s.get("etag"))
        .and_then(Value::as_str);
    match (person_etag, source_etag) {
        (None, None) => Err(RpcError::invalid_argument(
            "Request must set person.etag or person.metadata.sources.etag for the source that is being updated.",
        )),
        (Some(etag), _) if etag != stored.etag => Err(RpcError::stale_etag()),
        (_, Some(etag)) if etag != stored.source_etag => Err(RpcError::stale_etag()),
        _ => Ok(()),
    }
}
