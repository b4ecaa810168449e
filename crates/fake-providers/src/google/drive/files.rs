//! files.list, files.get (metadata and `alt=media`), files.create and files.update
//! (metadata; content arrives through `upload`), files.delete, files.emptyTrash,
//! files.generateIds.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use sha2::Digest;

use super::fields::{Schema, Selection};
use super::query::{Env, Facts, Query};
use super::{
    answer, errors, is_workspace, json_object, new_id, with_drive, Content, Ctx, Drive, DriveFile,
    Op, Params, SHORTCUT,
};
use crate::google::GoogleError;
use crate::Shared;

/// A file as the request's `fields` selects it.
pub(crate) fn rendered(drive: &Drive, id: &str, selection: &Selection) -> Value {
    let file = &drive.files[id];
    selection.apply(file.render(drive.trashed(id)))
}

pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    answer(
        &shared,
        &headers,
        raw.as_deref(),
        Op::ReadMetadata,
        |d, c, p| list_files(d, c, p),
    )
}

fn list_files(drive: &Drive, ctx: &Ctx, params: &Params) -> Result<Value, GoogleError> {
    let selection = Selection::parse(params.get("fields"), Schema::FileList)?;
    let page_size = params.page_size()?;
    let query = params
        .get("q")
        .map(|q| Query::parse(q).ok_or_else(|| errors::invalid_value("q")))
        .transpose()?;
    let order = order_by(params.get("orderBy"))?;
    match params.get("corpora") {
        None | Some("user" | "allDrives" | "domain") => {}
        Some(_) => return Err(errors::invalid_value("corpora")),
    }
    let in_drive = params.in_drive_space()?;
    let env = Env {
        root: &drive.root,
        email: &ctx.access.email,
    };
    let mut found: Vec<&DriveFile> = drive
        .files
        .values()
        .filter(|f| in_drive && f.id != drive.root && ctx.access.sees(f, &drive.root))
        .filter(|f| {
            query
                .as_ref()
                .is_none_or(|q| q.matches(&facts(drive, f), &env))
        })
        .collect();
    found.sort_by(|a, b| {
        order
            .iter()
            .map(|(key, desc)| {
                let o = key.compare(a, b);
                if *desc {
                    o.reverse()
                } else {
                    o
                }
            })
            .find(|o| o.is_ne())
            .unwrap_or_else(|| a.seq.cmp(&b.seq))
    });
    // A page token is an offset into this query's results, bound to the query.
    let binding = hex8(&format!(
        "{}\u{0}{}\u{0}{}\u{0}{}",
        ctx.access.email,
        params.get("q").unwrap_or(""),
        params.get("orderBy").unwrap_or(""),
        params.get("spaces").unwrap_or("")
    ));
    let offset = match params.get("pageToken") {
        None | Some("") => 0,
        Some(token) => decode_page_token(token, &binding)
            .filter(|o| *o <= found.len())
            .ok_or_else(|| errors::invalid_value("pageToken"))?,
    };
    let end = (offset + page_size).min(found.len());
    let files: Vec<Value> = found[offset..end]
        .iter()
        .map(|f| f.render(drive.trashed(&f.id)))
        .collect();
    let mut out = json!({"kind": "drive#fileList", "incompleteSearch": false, "files": files});
    if end < found.len() {
        out["nextPageToken"] = json!(encode_page_token(end, &binding));
    }
    Ok(selection.apply(out))
}

fn facts<'a>(drive: &Drive, file: &'a DriveFile) -> Facts<'a> {
    Facts {
        name: &file.name,
        mime_type: &file.mime_type,
        parent: file.parent.as_deref(),
        trashed: drive.trashed(&file.id),
        starred: file.starred,
        app_properties: &file.app_properties,
        properties: &file.properties,
        created: file.created,
        modified: file.modified,
        shortcut_target: file.shortcut.as_ref().map(|(t, _)| t.as_str()),
    }
}

fn hex8(text: &str) -> String {
    sha2::Sha256::digest(text.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn encode_page_token(offset: usize, binding: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("~!!~{offset}:{binding}"))
}

fn decode_page_token(token: &str, binding: &str) -> Option<usize> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (offset, bound) = text.strip_prefix("~!!~")?.split_once(':')?;
    (bound == binding).then(|| offset.parse().ok()).flatten()
}

#[derive(Clone, Copy)]
enum SortKey {
    Created,
    Folder,
    Modified,
    Name,
    Size,
    Starred,
}

impl SortKey {
    fn compare(self, a: &DriveFile, b: &DriveFile) -> std::cmp::Ordering {
        let size = |f: &DriveFile| f.content.as_ref().map_or(0, |c| c.bytes.len());
        match self {
            SortKey::Created => a.created.cmp(&b.created),
            // Folders first.
            SortKey::Folder => b.is_folder().cmp(&a.is_folder()),
            SortKey::Modified => a.modified.cmp(&b.modified),
            SortKey::Name => a.name.cmp(&b.name),
            SortKey::Size => size(a).cmp(&size(b)),
            SortKey::Starred => b.starred.cmp(&a.starred),
        }
    }
}

/// `orderBy`: keys from the discovery document, each optionally ` desc`. The time keys the
/// fake does not keep (`viewedByMeTime`…) sort as `modifiedTime`.
fn order_by(raw: Option<&str>) -> Result<Vec<(SortKey, bool)>, GoogleError> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(|part| {
            let mut words = part.split_whitespace();
            let key = match words.next() {
                Some("createdTime") => SortKey::Created,
                Some("folder") => SortKey::Folder,
                Some(
                    "modifiedTime" | "modifiedByMeTime" | "recency" | "sharedWithMeTime"
                    | "viewedByMeTime",
                ) => SortKey::Modified,
                Some("name" | "name_natural") => SortKey::Name,
                Some("quotaBytesUsed") => SortKey::Size,
                Some("starred") => SortKey::Starred,
                _ => return Err(errors::invalid_value("orderBy")),
            };
            let desc = match (words.next(), words.next()) {
                (None, _) => false,
                (Some(d), None) if d.eq_ignore_ascii_case("desc") => true,
                _ => return Err(errors::invalid_value("orderBy")),
            };
            Ok((key, desc))
        })
        .collect()
}

pub(crate) async fn get_file(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = Params::parse(raw.as_deref());
    match params.get("alt") {
        None | Some("json") => {}
        Some("media") => return download(&shared, &headers, &id, &params),
        Some(_) => return errors::invalid_value("alt").into_response(),
    }
    answer(
        &shared,
        &headers,
        raw.as_deref(),
        Op::ReadMetadata,
        |drive, ctx, params| {
            let selection = Selection::parse(params.get("fields"), Schema::File)?;
            let id = drive.visible(&id, &ctx.access)?.id.clone();
            Ok(rendered(drive, &id, &selection))
        },
    )
}

/// `alt=media`: the content as stored (the same bytes, not a copy), with the file's MIME
/// type; a `Range: bytes=a-b` asks for part of it (206).
fn download(shared: &Shared, headers: &HeaderMap, id: &str, params: &Params) -> Response {
    let found = with_drive(shared, headers, Op::ReadContent, |drive, ctx| {
        params.flag("acknowledgeAbuse", false)?;
        let file = drive.visible(id, &ctx.access)?;
        let content = file.content.as_ref().ok_or_else(errors::not_downloadable)?;
        Ok((content.bytes.clone(), file.mime_type.clone()))
    });
    let (bytes, mime_type) = match found {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    let len = bytes.len();
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| byte_range(v, len));
    let mut response = match range {
        Some((start, end)) => {
            let mut r = Response::new(Body::from(bytes.slice(start..=end)));
            *r.status_mut() = StatusCode::PARTIAL_CONTENT;
            r.headers_mut().insert(
                header::CONTENT_RANGE,
                format!("bytes {start}-{end}/{len}").parse().expect("ASCII"),
            );
            r
        }
        None => Response::new(Body::from(bytes)),
    };
    if let Ok(value) = mime_type.parse() {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` within `len` bytes, as inclusive bounds.
fn byte_range(value: &str, len: usize) -> Option<(usize, usize)> {
    let (start, end) = value.strip_prefix("bytes=")?.split_once('-')?;
    let last = len.checked_sub(1)?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", n) => (len.saturating_sub(n.parse().ok()?), last),
        (s, "") => (s.parse().ok()?, last),
        (s, e) => (s.parse().ok()?, e.parse::<usize>().ok()?.min(last)),
    };
    (start <= end).then_some((start, end))
}

/// The members of a written File, read and checked before anything is changed.
#[derive(Default)]
pub(crate) struct Patch {
    name: Option<String>,
    mime_type: Option<String>,
    description: Option<Option<String>>,
    starred: Option<bool>,
    trashed: Option<bool>,
    app_properties: Vec<(String, Option<String>)>,
    properties: Vec<(String, Option<String>)>,
    created: Option<DateTime<Utc>>,
    modified: Option<DateTime<Utc>>,
    /// Create only.
    parents: Option<Vec<String>>,
    id: Option<String>,
    shortcut_target: Option<String>,
}

/// Output-only members of File (the discovery document's "Output only."): a body carrying
/// one is 403 fieldNotWritable.
const OUTPUT_ONLY: &[&str] = &[
    "capabilities",
    "driveId",
    "explicitlyTrashed",
    "exportLinks",
    "fileExtension",
    "fullFileExtension",
    "hasAugmentedPermissions",
    "hasThumbnail",
    "headRevisionId",
    "iconLink",
    "imageMediaMetadata",
    "isAppAuthorized",
    "lastModifyingUser",
    "md5Checksum",
    "modifiedByMe",
    "ownedByMe",
    "owners",
    "permissionIds",
    "permissions",
    "quotaBytesUsed",
    "resourceKey",
    "sha1Checksum",
    "sha256Checksum",
    "shared",
    "sharingUser",
    "size",
    "spaces",
    "teamDriveId",
    "thumbnailLink",
    "thumbnailVersion",
    "trashingUser",
    "version",
    "videoMediaMetadata",
    "viewedByMe",
    "webContentLink",
    "webViewLink",
];

/// `appProperties` / `properties`: "≤ 124 bytes key+value UTF-8" and 30 per app (research,
/// properties guide).
const MAX_PROPERTY_BYTES: usize = 124;
const MAX_PROPERTIES: usize = 30;

impl Patch {
    pub(crate) fn parse(body: &Map<String, Value>, creating: bool) -> Result<Patch, GoogleError> {
        let not_writable = || {
            errors::field_not_writable(
                "The resource body includes fields which are not directly writable.",
            )
        };
        let mut patch = Patch::default();
        for (name, value) in body {
            let text = || match value {
                Value::String(s) => Ok(s.clone()),
                _ => Err(errors::bad_request(format!(
                    "Invalid value for '{name}': a string is expected."
                ))),
            };
            let flag = || {
                value.as_bool().ok_or_else(|| {
                    errors::bad_request(format!(
                        "Invalid value for '{name}': a boolean is expected."
                    ))
                })
            };
            let time = || {
                DateTime::parse_from_rfc3339(&text()?)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| errors::bad_request(format!("Invalid value for '{name}'.")))
            };
            match name.as_str() {
                "kind" => {}
                "name" => patch.name = Some(text()?),
                "mimeType" => patch.mime_type = Some(text()?),
                "description" => {
                    patch.description = Some(if value.is_null() { None } else { Some(text()?) })
                }
                "starred" => patch.starred = Some(flag()?),
                "trashed" => patch.trashed = Some(flag()?),
                "createdTime" if creating => patch.created = Some(time()?),
                "modifiedTime" => patch.modified = Some(time()?),
                "appProperties" => patch.app_properties = property_map(name, value)?,
                "properties" => patch.properties = property_map(name, value)?,
                "parents" if creating => {
                    let parents = value
                        .as_array()
                        .and_then(|a| a.iter().map(|p| p.as_str().map(str::to_string)).collect())
                        .ok_or_else(|| errors::bad_request("Invalid value for 'parents'."))?;
                    patch.parents = Some(parents);
                }
                "parents" => {
                    return Err(errors::field_not_writable(
                        "The parents field is not directly writable in update requests. Use the addParents and removeParents parameters instead.",
                    ))
                }
                "id" if creating => patch.id = Some(text()?),
                "shortcutDetails" if creating => {
                    patch.shortcut_target = value
                        .get("targetId")
                        .and_then(Value::as_str)
                        .map(str::to_string);
                }
                "id" | "createdTime" | "shortcutDetails" => return Err(not_writable()),
                other if OUTPUT_ONLY.contains(&other) => return Err(not_writable()),
                // Unknown names and the writable members the fake does not keep.
                _ => {}
            }
        }
        Ok(patch)
    }
}

fn property_map(name: &str, value: &Value) -> Result<Vec<(String, Option<String>)>, GoogleError> {
    let Some(map) = value.as_object() else {
        return Err(errors::bad_request(format!("Invalid value for '{name}'.")));
    };
    map.iter()
        .map(|(k, v)| match v {
            Value::Null => Ok((k.clone(), None)),
            Value::String(s) if k.len() + s.len() <= MAX_PROPERTY_BYTES => {
                Ok((k.clone(), Some(s.clone())))
            }
            Value::String(_) => Err(errors::bad_request(format!(
                "The size of the property '{k}' exceeds the limit of {MAX_PROPERTY_BYTES} bytes (key and value together)."
            ))),
            _ => Err(errors::bad_request(format!(
                "Invalid value for '{name}.{k}': a string is expected."
            ))),
        })
        .collect()
}

fn merge_properties(
    map: &mut BTreeMap<String, String>,
    changes: &[(String, Option<String>)],
) -> Result<(), GoogleError> {
    let mut next = map.clone();
    for (k, v) in changes {
        match v {
            Some(v) => next.insert(k.clone(), v.clone()),
            None => next.remove(k),
        };
    }
    if next.len() > MAX_PROPERTIES {
        return Err(errors::bad_request(format!(
            "A file can hold at most {MAX_PROPERTIES} properties per app."
        )));
    }
    *map = next;
    Ok(())
}

/// A visible folder `id` (`root` the root) a file may go into, or 404 / 400.
fn folder<'a>(drive: &'a Drive, ctx: &Ctx, id: &str) -> Result<&'a DriveFile, GoogleError> {
    let parent = drive.visible(id, &ctx.access)?;
    if !parent.is_folder() {
        return Err(errors::bad_request(format!(
            "The parent {id} is not a folder."
        )));
    }
    Ok(parent)
}

/// New content for a file: the bytes and the media's MIME type.
pub(crate) struct Media {
    pub(crate) bytes: Bytes,
    pub(crate) mime_type: Option<String>,
}

/// files.create: checks everything, then stores the file (with `media` as its content).
/// Returns the new id.
pub(crate) fn create_file(
    drive: &mut Drive,
    ctx: &Ctx,
    body: &Map<String, Value>,
    media: Option<Media>,
) -> Result<String, GoogleError> {
    let patch = Patch::parse(body, true)?;
    let parents = patch.parents.clone().unwrap_or_default();
    if parents.len() > 1 {
        return Err(errors::cannot_add_parent());
    }
    let parent = match parents.first() {
        Some(p) => folder(drive, ctx, p)?.id.clone(),
        None => drive.root.clone(),
    };
    let mime_type = patch
        .mime_type
        .clone()
        .or_else(|| media.as_ref().and_then(|m| m.mime_type.clone()))
        .unwrap_or_else(|| "application/octet-stream".to_string());
    if is_workspace(&mime_type) && media.is_some() {
        return Err(errors::bad_request(
            "Importing content into a Google Workspace type is not supported by the fake.",
        ));
    }
    let shortcut = if mime_type == SHORTCUT {
        let target_id = patch
            .shortcut_target
            .as_deref()
            .ok_or_else(|| errors::bad_request("A shortcut needs shortcutDetails.targetId."))?;
        let target = drive.visible(target_id, &ctx.access)?;
        Some((target.id.clone(), target.mime_type.clone()))
    } else {
        None
    };
    let id = match &patch.id {
        None => new_id(),
        Some(id) if drive.files.contains_key(id) || drive.removed.contains_key(id) => {
            return Err(GoogleError::new(
                StatusCode::CONFLICT,
                "global",
                "duplicate",
                "A file already exists with the provided ID.",
            ))
        }
        Some(id) if drive.generated.contains(id) => id.clone(),
        Some(_) => {
            return Err(errors::bad_request(
                "The provided file ID is not usable: ask files.generateIds for one.",
            ))
        }
    };
    let name = patch.name.clone().unwrap_or_else(|| "Untitled".to_string());
    let mut file = drive.blank(id.clone(), &name, &mime_type, Some(parent), ctx.now, true);
    merge_properties(&mut file.app_properties, &patch.app_properties)?;
    merge_properties(&mut file.properties, &patch.properties)?;
    file.shortcut = shortcut;
    file.starred = patch.starred.unwrap_or(false);
    file.explicitly_trashed = patch.trashed.unwrap_or(false);
    file.description = patch.description.clone().flatten();
    file.created = patch.created.unwrap_or(ctx.now);
    file.modified = patch.modified.unwrap_or(file.created);
    if !is_workspace(&mime_type) {
        file.content = Some(Content::new(media.map(|m| m.bytes).unwrap_or_default()));
        file.head_revision = Some(new_id());
    }
    drive.generated.remove(&id);
    drive.files.insert(id.clone(), file);
    Ok(id)
}

/// files.update: checks everything (the body, `addParents`/`removeParents`, the content),
/// then applies it as one change.
pub(crate) fn update_file(
    drive: &mut Drive,
    ctx: &Ctx,
    id: &str,
    params: &Params,
    body: &Map<String, Value>,
    media: Option<Media>,
) -> Result<String, GoogleError> {
    let file = drive.visible(id, &ctx.access)?;
    let id = file.id.clone();
    if id == drive.root {
        return Err(errors::field_not_writable(
            "The root folder cannot be changed.",
        ));
    }
    let patch = Patch::parse(body, false)?;
    let list = |name| -> Vec<String> {
        params
            .get(name)
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut parents: Vec<String> = file.parent.iter().cloned().collect();
    for removed in list("removeParents") {
        let removed = if removed == "root" {
            drive.root.clone()
        } else {
            removed
        };
        parents.retain(|p| *p != removed);
    }
    for added in list("addParents") {
        let added = folder(drive, ctx, &added)?.id.clone();
        if added == id || drive.descendants(&id).contains(&added) {
            return Err(errors::bad_request(
                "A folder cannot be moved into itself or its own subfolders.",
            ));
        }
        if !parents.contains(&added) {
            parents.push(added);
        }
    }
    let parent = match parents.as_slice() {
        [one] => one.clone(),
        [] => return Err(errors::bad_request("A file must keep a parent.")),
        _ => return Err(errors::cannot_add_parent()),
    };
    let mime_type = patch
        .mime_type
        .clone()
        .or_else(|| media.as_ref().and_then(|m| m.mime_type.clone()))
        .unwrap_or_else(|| file.mime_type.clone());
    if is_workspace(&mime_type) != is_workspace(&file.mime_type)
        || (is_workspace(&mime_type) && mime_type != file.mime_type)
    {
        return Err(errors::bad_request(
            "The MIME type cannot be changed between Google Workspace and binary types.",
        ));
    }
    if media.is_some() && is_workspace(&file.mime_type) {
        return Err(errors::bad_request(
            "Only files with binary content can take uploaded content.",
        ));
    }
    let mut app_properties = file.app_properties.clone();
    merge_properties(&mut app_properties, &patch.app_properties)?;
    let mut properties = file.properties.clone();
    merge_properties(&mut properties, &patch.properties)?;
    let now = ctx.now;
    drive.change(&id, now, |file| {
        file.parent = Some(parent);
        file.mime_type = mime_type;
        file.app_properties = app_properties;
        file.properties = properties;
        if let Some(name) = patch.name {
            file.name = name;
        }
        if let Some(description) = patch.description {
            file.description = description;
        }
        if let Some(starred) = patch.starred {
            file.starred = starred;
        }
        if let Some(trashed) = patch.trashed {
            file.explicitly_trashed = trashed;
        }
        if let Some(media) = media {
            file.content = Some(Content::new(media.bytes));
            file.head_revision = Some(new_id());
            file.modified = now;
        }
        if let Some(modified) = patch.modified {
            file.modified = modified;
        }
    });
    Ok(id)
}

pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    write(&shared, &headers, raw.as_deref(), None, &body, None)
}

pub(crate) async fn update(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    write(&shared, &headers, raw.as_deref(), Some(&id), &body, None)
}

/// files.create (`id` `None`) or files.update, with the JSON metadata `metadata` and, from
/// an upload, new content.
pub(crate) fn write(
    shared: &Shared,
    headers: &HeaderMap,
    raw: Option<&str>,
    id: Option<&str>,
    metadata: &[u8],
    media: Option<Media>,
) -> Response {
    answer(shared, headers, raw, Op::Write, |drive, ctx, params| {
        let selection = Selection::parse(params.get("fields"), Schema::File)?;
        let metadata = json_object(metadata)?;
        let id = match id {
            None => create_file(drive, ctx, &metadata, media)?,
            Some(id) => update_file(drive, ctx, id, params, &metadata, media)?,
        };
        Ok(rendered(drive, &id, &selection))
    })
}

/// files.delete: for good, everything below a folder too; 204 with no body.
pub(crate) async fn delete(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = with_drive(&shared, &headers, Op::Write, |drive, ctx| {
        let id = drive.visible(&id, &ctx.access)?.id.clone();
        if id == drive.root {
            return Err(errors::field_not_writable(
                "The root folder cannot be deleted.",
            ));
        }
        drive.delete(&id, ctx.now);
        Ok(())
    });
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

/// files.emptyTrash: deletes every trashed file for good (`drive` scope only); 204.
pub(crate) async fn empty_trash(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let result = with_drive(&shared, &headers, Op::EmptyTrash, |drive, ctx| {
        let trashed: Vec<String> = drive
            .files
            .values()
            .filter(|f| f.explicitly_trashed)
            .map(|f| f.id.clone())
            .collect();
        for id in trashed {
            if drive.files.contains_key(&id) {
                drive.delete(&id, ctx.now);
            }
        }
        Ok(())
    });
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

/// files.generateIds: ids a create may use (`count` 1..1000, default 10).
pub(crate) async fn generate_ids(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    answer(
        &shared,
        &headers,
        raw.as_deref(),
        Op::Write,
        |drive, _, params| {
            let selection = Selection::parse(params.get("fields"), Schema::GeneratedIds)?;
            let count = match params.get("count").map(str::parse::<i64>) {
                None => 10,
                Some(Ok(n @ 1..=1000)) => n,
                Some(_) => return Err(errors::invalid_value("count")),
            };
            let space = params.get("space").unwrap_or("drive");
            if space != "drive" {
                return Err(errors::invalid_value("space"));
            }
            let ids: Vec<String> = (0..count).map(|_| new_id()).collect();
            drive.generated.extend(ids.iter().cloned());
            let out = json!({"kind": "drive#generatedIds", "space": space, "ids": ids});
            Ok(selection.apply(out))
        },
    )
}
