//! Documents: each record's tree of folders and files (see `crate::documents`).
//!
//! | route | answer |
//! | --- | --- |
//! | `GET /{records}/{id}/documents` | `{record, items}`: the whole tree, folders with `children` |
//! | `GET /{records}/{id}/documents?parent_id=F` | `{record, items}`: folder F's children |
//! | `POST /{records}/{id}/documents/folders` `{name, parent_id?}` | 201 node |
//! | `PUT /{records}/{id}/documents/files?name=N&parent_id=F` raw body | 201 node |
//! | `GET /documents/{node}` | node |
//! | `GET /documents/{node}/content` | the file, streamed |
//! | `PUT /documents/{node}/content` raw body, If-Match | node (new content version) |
//! | `PATCH /documents/{node}` `{name?, parent_id?}`, If-Match | node (rename / move) |
//! | `DELETE /documents/{node}`, If-Match | node, in the trash (with what it holds) |
//! | `GET /documents/trash` | `{items}`: what deletes took, newest first |
//! | `GET /documents/storage` | the organisation's storage use: current, old versions, trash |
//! | `POST /documents/{node}/restore`, If-Match | node, back where it was |
//!
//! `{records}` is `companies`, `contacts`, `projects`, `meetings` or `products`. Nodes answer
//! with `ETag: "<version>"`; a file's content with `ETag: "<sha256>"`.

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, put};
use axum::Extension;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::openapi::path::HttpMethod;
use utoipa::openapi::{ObjectBuilder, Type};
use utoipa::PartialSchema;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::documents::blobs::{file_too_large, MAX_FILE_BYTES};
use crate::documents::tree::{
    self, content_etag, IfMatch, NewContent, Node, RecordKind, RecordRef,
};
use crate::documents::upload;
use crate::documents::usage::{self, StorageUsage};
use crate::error::{ApiError, ApiResult};
use crate::extract::path_id;
use crate::extract::Json;
use crate::openapi::{optional_uuid_param_schema, ApiRouter, Op};
use crate::state::AppState;

pub fn router() -> ApiRouter {
    let tag = "documents";
    let node = |op: Op| {
        op.path_id("node", "The folder's or file's id.")
            .not_found("document")
    };
    let binary = || {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .content_media_type("application/octet-stream")
    };
    let trash = Op::new(tag, "list_document_trash", "The documents' trash")
        .description("What deletes took (each with what it held), newest first.")
        .json::<Trash>("200", "The trash.");
    let storage = Op::new(tag, "get_document_storage", "The documents' storage use")
        .description(
            "The organisation's documents: current files and folders, old versions of files, \
             and the trash, with their bytes (contents as uploaded, counted per file version). \
             The trash and old versions are removed after the server's retention (see its \
             README, \"Storage\").",
        )
        .json::<StorageUsage>("200", "The storage use.");
    let get_op = node(Op::new(tag, "get_document", "Get a folder or file"))
        .json_with_etag::<Node>("200", "The node.");
    let change = node(Op::new(tag, "update_document", "Rename or move a folder or file"))
        .if_match()
        .json_body::<NodeChange>("`name` renames; `parent_id` moves (`null`: to the top of the record's tree).")
        .json_with_etag::<Node>("200", "The node as stored.")
        .error("409", "The name is taken in the target folder (`name_conflict`), or the move would put a folder inside itself.");
    let delete_op = node(Op::new(
        tag,
        "delete_document",
        "Move a folder or file to the trash",
    ))
    .if_match()
    .json_with_etag::<Node>("200", "The node, in the trash with what it holds.");
    let restore = node(Op::new(tag, "restore_document", "Restore a folder or file from the trash"))
        .if_match()
        .json_with_etag::<Node>("200", "The node, back where it was.")
        .error("409", "Not in the trash (`not_in_trash`), its parent is (`parent_in_trash`), or its name is taken there now (`name_conflict`).");
    let download_op = node(Op::new(tag, "download_document", "Download a file"))
        .header(
            "If-None-Match",
            false,
            "The content's ETag: 304 when unchanged.",
        )
        .content(
            "200",
            "The file, streamed (ETag: its SHA-256).",
            "application/octet-stream",
            binary(),
        )
        .empty("304", "Not modified.", true)
        .error("409", "The node is a folder (`not_a_file`).");
    let replace_op = node(Op::new(
        tag,
        "replace_document_content",
        "Upload a new version of a file",
    ))
    .description(&format!(
        "Streamed; at most {MAX_FILE_BYTES} bytes. `Content-Type` is kept for downloads."
    ))
    .if_match()
    .body(
        "application/octet-stream",
        "The file's new content.",
        binary(),
    )
    .json_with_etag::<Node>("200", "The file's node, at its new version.")
    .error(
        "413",
        "The file is over the size limit (`file_too_large`); nothing was kept.",
    );
    let mut router = ApiRouter::new()
        .routes(trash.route("/documents/trash", HttpMethod::Get, get(list_trash)))
        .routes(storage.route("/documents/storage", HttpMethod::Get, get(storage_use)))
        .routes(get_op.route("/documents/{node}", HttpMethod::Get, get(get_node)))
        .routes(change.route("/documents/{node}", HttpMethod::Patch, patch(update_node)))
        .routes(delete_op.route("/documents/{node}", HttpMethod::Delete, delete(delete_node)))
        .routes(download_op.route("/documents/{node}/content", HttpMethod::Get, get(download)))
        .routes(replace_op.route(
            "/documents/{node}/content",
            HttpMethod::Put,
            // Counted against MAX_FILE_BYTES while it streams, not against the 1 MiB limit of
            // JSON bodies.
            put(replace).layer::<_, std::convert::Infallible>(DefaultBodyLimit::disable()),
        ))
        .routes(restore.route(
            "/documents/{node}/restore",
            HttpMethod::Post,
            post(restore_node),
        ));
    for kind in RecordKind::ALL {
        let plural = kind.plural();
        let noun = kind.as_str();
        let base = format!("/{plural}/{{id}}/documents");
        let record = |op: Op| {
            op.path_id("id", &format!("The {noun}'s id."))
                .not_found(&format!("{noun}, or parent folder"))
                .error(
                    "422",
                    "A query parameter is not acceptable (`invalid_field`; `field` names it).",
                )
        };
        let list = record(Op::new(
            plural,
            &format!("list_{noun}_documents"),
            &format!("A {noun}'s documents"),
        ))
        .description(
            "The whole tree (folders with `children`), or with `parent_id` one folder's children.",
        )
        .query(
            "parent_id",
            "A folder of the tree: list only its children.",
            optional_uuid_param_schema(),
        )
        .json::<Listing>("200", "The documents.");
        let folder = record(Op::new(
            plural,
            &format!("create_{noun}_folder"),
            &format!("Create a folder in a {noun}'s documents"),
        ))
        .json_body::<NewFolder>("The folder's name, and its parent folder (the top without one).")
        .json_with_etag::<Node>("201", "The folder.")
        .links_to_record("201", "node", &node_links())
        .error("409", "The name is taken in that folder (`name_conflict`).");
        let upload_op = record(Op::new(
            plural,
            &format!("upload_{noun}_file"),
            &format!("Upload a file to a {noun}'s documents"),
        ))
        .description(&format!(
            "Streamed; at most {MAX_FILE_BYTES} bytes. `Content-Type` is kept for downloads."
        ))
        .query("name", "The file's name (required).", String::schema())
        .query(
            "parent_id",
            "The folder to put it in (the top without one).",
            optional_uuid_param_schema(),
        )
        .body("application/octet-stream", "The file's content.", binary())
        .json_with_etag::<Node>("201", "The file's node.")
        .links_to_record("201", "node", &node_links())
        .error("409", "The name is taken in that folder (`name_conflict`).")
        .error(
            "413",
            "The file is over the size limit (`file_too_large`); nothing was kept.",
        );
        router = router
            .routes(list.route(
                &base,
                HttpMethod::Get,
                get(list_tree).layer(Extension(kind)),
            ))
            .routes(folder.route(
                &format!("{base}/folders"),
                HttpMethod::Post,
                post(create_folder).layer(Extension(kind)),
            ))
            .routes(
                upload_op.route(
                    &format!("{base}/files"),
                    HttpMethod::Put,
                    put(upload)
                        .layer::<_, std::convert::Infallible>(DefaultBodyLimit::disable())
                        .layer(Extension(kind)),
                ),
            );
    }
    router
}

/// The operations a new node's id and ETag lead to.
fn node_links() -> Vec<(String, bool)> {
    [
        ("get_document", false),
        ("update_document", true),
        ("delete_document", true),
        ("download_document", false),
        ("replace_document_content", true),
    ]
    .into_iter()
    .map(|(id, with_if_match)| (id.to_string(), with_if_match))
    .collect()
}

/// A node answered with its `ETag`.
fn node_response(status: StatusCode, node: Node) -> Response {
    let etag = HeaderValue::from_str(&node.etag).expect("digits and quotes");
    let mut response = (status, Json(node)).into_response();
    response.headers_mut().insert(header::ETAG, etag);
    response
}

/// Ends a read transaction, whatever its queries answered: a transaction only dropped is
/// rolled back when its connection is next used, and until then (on PostgreSQL) it holds
/// its locks.
async fn end_read(tx: crate::db::Tx) -> ApiResult<()> {
    tx.rollback().await?;
    Ok(())
}

fn if_match(headers: &HeaderMap) -> ApiResult<IfMatch> {
    let value = match headers.get(header::IF_MATCH) {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_header",
                "If-Match is not ASCII text",
            )
            .with_field("If-Match")
        })?),
    };
    Ok(IfMatch::parse(value)?)
}

/// The query's parameters, by name, each percent-decoded (`+` is a space). A value whose
/// bytes are not UTF-8 is refused (422 naming the parameter), never replaced by U+FFFD
/// (different bad names would then be one); so is a parameter given twice (which one was
/// meant?).
fn query_params(raw: Option<&str>) -> ApiResult<std::collections::HashMap<String, String>> {
    let decode = |s: &str| -> Vec<u8> {
        percent_encoding::percent_decode_str(&s.replace('+', " ")).collect()
    };
    let mut params = std::collections::HashMap::new();
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = String::from_utf8_lossy(&decode(key)).into_owned();
        let value = String::from_utf8(decode(value)).map_err(|_| {
            ApiError::invalid(
                &key,
                format!(
                    "{key} is not UTF-8 text: percent-encode the UTF-8 bytes of its characters \
                     (é is %C3%A9)"
                ),
            )
        })?;
        if params.contains_key(&key) {
            return Err(ApiError::invalid(
                &key,
                format!("{key} is given more than once; give it once"),
            ));
        }
        params.insert(key, value);
    }
    Ok(params)
}

fn optional_uuid_param(
    params: &std::collections::HashMap<String, String>,
    name: &str,
) -> ApiResult<Option<Uuid>> {
    match params.get(name).map(|s| s.trim()) {
        None | Some("") => Ok(None),
        Some(raw) => Uuid::parse_str(raw)
            .map(Some)
            .map_err(|_| ApiError::invalid(name, format!("{name} must be a UUID, not {raw:?}"))),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct Listing {
    record: RecordRef,
    items: Vec<Node>,
}

async fn list_tree(
    auth: AuthUser,
    State(state): State<AppState>,
    Extension(kind): Extension<RecordKind>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Listing>> {
    let record = RecordRef {
        kind,
        id: path_id(&id, kind.as_str())?,
    };
    let params = query_params(query.as_deref())?;
    let parent = optional_uuid_param(&params, "parent_id")?;
    let mut tx = state.db().begin_read().await?;
    let items = async {
        tree::require_record(&mut tx, auth.org_id, record).await?;
        match parent {
            None => Ok(tree::nest(
                tree::record_nodes(&mut tx, auth.org_id, record).await?,
            )),
            Some(folder) => {
                tree::check_parent(&mut tx, auth.org_id, record, Some(folder), "parent_id").await?;
                tree::children(&mut tx, auth.org_id, folder).await
            }
        }
    }
    .await;
    end_read(tx).await?;
    Ok(Json(Listing {
        record,
        items: items?,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewFolder {
    name: String,
    #[serde(default)]
    parent_id: Option<Uuid>,
}

async fn create_folder(
    auth: AuthUser,
    State(state): State<AppState>,
    Extension(kind): Extension<RecordKind>,
    Path(id): Path<String>,
    Json(req): Json<NewFolder>,
) -> ApiResult<Response> {
    let record = RecordRef {
        kind,
        id: path_id(&id, kind.as_str())?,
    };
    tree::valid_name("name", &req.name)?;
    let node = state
        .db()
        .write(|tx| {
            Box::pin(tree::create_folder(
                tx,
                &auth,
                record,
                req.parent_id,
                &req.name,
            ))
        })
        .await?;
    wake_syncs(&state, auth.org_id, &node).await;
    Ok(node_response(StatusCode::CREATED, node))
}

/// The declared length, when it is already over the limit: refused before reading.
fn refuse_declared_oversize(headers: &HeaderMap) -> ApiResult<()> {
    match declared_length(headers) {
        Some(n) if n > MAX_FILE_BYTES => Err(file_too_large().into()),
        _ => Ok(()),
    }
}

/// The body's length as its `Content-Length` declares it, if it does.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// The upload's `Content-Type` (kept to answer downloads with), or
/// `application/octet-stream`.
fn upload_content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 255 && HeaderValue::from_str(v).is_ok())
        .unwrap_or("application/octet-stream")
        .to_string()
}

async fn upload(
    auth: AuthUser,
    State(state): State<AppState>,
    Extension(kind): Extension<RecordKind>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let record = RecordRef {
        kind,
        id: path_id(&id, kind.as_str())?,
    };
    let params = query_params(query.as_deref())?;
    let parent = optional_uuid_param(&params, "parent_id")?;
    let Some(name) = params.get("name") else {
        return Err(ApiError::invalid(
            "name",
            "the file's name is missing: PUT …/documents/files?name=<file name>",
        ));
    };
    tree::valid_name("name", name)?;
    refuse_declared_oversize(&headers)?;
    let node = upload::upload_file(
        state.db(),
        state.blobs()?,
        &auth,
        record,
        parent,
        name,
        upload_content_type(&headers),
        body.into_data_stream(),
    )
    .await?;
    wake_syncs(&state, auth.org_id, &node).await;
    Ok(node_response(StatusCode::CREATED, node))
}

async fn replace(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(node): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let id = path_id(&node, "document")?;
    let if_match = if_match(&headers)?;
    refuse_declared_oversize(&headers)?;
    let blobs = state.blobs()?;
    {
        let mut conn = state.db().pool().acquire().await?;
        let current = tree::live_node(&mut conn, auth.org_id, id).await?;
        let sha = current.sha256.as_deref().unwrap_or_default();
        if_match.check(&[current.etag.clone(), content_etag(sha)])?;
    }
    let content = NewContent {
        blob: blobs.store_stream(body.into_data_stream()).await?,
        content_type: upload_content_type(&headers),
    };
    let node = state
        .db()
        .write(|tx| Box::pin(tree::replace_content(tx, &auth, id, &if_match, &content)))
        .await?;
    wake_syncs(&state, auth.org_id, &node).await;
    Ok(node_response(StatusCode::OK, node))
}

async fn get_node(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(node): Path<String>,
) -> ApiResult<Response> {
    let id = path_id(&node, "document")?;
    let mut conn = state.db().pool().acquire().await?;
    let node = tree::live_node(&mut conn, auth.org_id, id).await?;
    Ok(node_response(StatusCode::OK, node))
}

async fn download(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(node): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = path_id(&node, "document")?;
    let (node, sha256, size) = {
        let mut conn = state.db().pool().acquire().await?;
        upload::file_node(&mut conn, auth.org_id, id).await?
    };
    let etag = HeaderValue::from_str(&content_etag(&sha256)).expect("hex and quotes");
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == etag.to_str().unwrap_or(""))
        });
    if not_modified {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response.headers_mut().insert(header::ETAG, etag);
        return Ok(response);
    }
    let stream = state.blobs()?.open(&sha256).await?;
    let mut response = download_response(
        Body::from_stream(stream),
        node.content_type.as_deref(),
        size,
        &node.name,
    );
    response.headers_mut().insert(header::ETAG, etag);
    Ok(response)
}

/// A stored content as a download: its type (`application/octet-stream` when it has none
/// or not a valid one), length, `Content-Disposition: attachment` with `name`
/// ([`content_disposition`]), never sniffed, not kept by shared caches.
pub fn download_response(
    body: Body,
    content_type: Option<&str>,
    size: u64,
    name: &str,
) -> Response {
    let content_type = content_type
        .and_then(|v| HeaderValue::from_str(v).ok())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&content_disposition(name))
        .expect("ASCII without control characters");
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, content_type);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    h.insert(header::CONTENT_DISPOSITION, disposition);
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    response
}

/// `attachment; filename="<ASCII stand-in>"; filename*=UTF-8''<percent-encoded>` (RFC 6266
/// and RFC 5987: old clients take the first, every current one the second).
pub fn content_disposition(name: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    // RFC 5987 attr-char: ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" / "." / "^" / "_"
    // / "`" / "|" / "~"; everything else is percent-encoded.
    const NOT_ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    let fallback: String = name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' && c != '%' => c,
            _ => '_',
        })
        .collect();
    format!(
        "attachment; filename=\"{fallback}\"; filename*=UTF-8''{}",
        utf8_percent_encode(name, NOT_ATTR_CHAR)
    )
}

/// `Some(None)` for an explicit `null`, `None` when the field is absent.
fn explicit_null<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NodeChange {
    #[serde(default)]
    name: Option<String>,
    /// Absent: stays in its folder; `null`: to the top of the record's tree.
    #[serde(default, deserialize_with = "explicit_null")]
    parent_id: Option<Option<Uuid>>,
}

async fn update_node(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(node): Path<String>,
    headers: HeaderMap,
    Json(req): Json<NodeChange>,
) -> ApiResult<Response> {
    let id = path_id(&node, "document")?;
    let if_match = if_match(&headers)?;
    if let Some(name) = &req.name {
        tree::valid_name("name", name)?;
    }
    let node = state
        .db()
        .write(|tx| {
            Box::pin(tree::update(
                tx,
                &auth,
                id,
                &if_match,
                req.name.as_deref(),
                req.parent_id,
            ))
        })
        .await?;
    wake_syncs(&state, auth.org_id, &node).await;
    Ok(node_response(StatusCode::OK, node))
}

async fn delete_node(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(node): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    trash_or_restore(TrashOp::Trash, &auth, &state, &node, &headers).await
}

async fn restore_node(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(node): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    trash_or_restore(TrashOp::Restore, &auth, &state, &node, &headers).await
}

#[derive(Clone, Copy)]
enum TrashOp {
    Trash,
    Restore,
}

async fn trash_or_restore(
    op: TrashOp,
    auth: &AuthUser,
    state: &AppState,
    node: &str,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let id = path_id(node, "document")?;
    let if_match = if_match(headers)?;
    let node = state
        .db()
        .write(|tx| match op {
            TrashOp::Trash => Box::pin(tree::move_to_trash(tx, auth, id, &if_match)),
            TrashOp::Restore => Box::pin(tree::restore(tx, auth, id, &if_match)),
        })
        .await?;
    wake_syncs(state, auth.org_id, &node).await;
    Ok(node_response(StatusCode::OK, node))
}

#[derive(Serialize, utoipa::ToSchema)]
struct Trash {
    items: Vec<Node>,
}

async fn list_trash(auth: AuthUser, State(state): State<AppState>) -> ApiResult<Json<Trash>> {
    let mut conn = state.db().pool().acquire().await?;
    let items = tree::trash(&mut conn, auth.org_id).await?;
    Ok(Json(Trash { items }))
}

async fn storage_use(
    auth: AuthUser,
    State(state): State<AppState>,
) -> ApiResult<Json<StorageUsage>> {
    let mut tx = state.db().begin_read().await?;
    let found = usage::usage(&mut tx, auth.org_id).await;
    end_read(tx).await?;
    Ok(Json(found?))
}

/// A document of a record changed: the document syncs that cover the record run within
/// seconds (`threadline_files_sync::settings::wake`). Best effort: the change is made, and
/// the sync's next scheduled run carries it if this fails.
pub async fn wake_syncs(state: &AppState, org: uuid::Uuid, node: &Node) {
    use threadline_files_sync::settings;
    let (kind, id) = (node.record.kind.as_str(), node.record.id);
    let woken = async {
        let mut conn = state.db().pool().acquire().await?;
        let syncs = settings::covering(&mut conn, org, kind, id, None).await?;
        drop(conn);
        if !syncs.is_empty() {
            let syncs = &syncs;
            state
                .db()
                .write(|tx| Box::pin(settings::wake(tx, syncs)))
                .await?;
            state.sync_wake().notify_one();
        }
        Ok::<_, threadline_files_sync::StoreError>(())
    }
    .await;
    if let Err(e) = woken {
        tracing::warn!(error = %e, node = %node.id, "could not wake the document syncs");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_utf8_and_given_once() {
        let params = query_params(Some("name=caf%C3%A9+menu.txt&parent_id=")).unwrap();
        assert_eq!(params["name"], "café menu.txt");
        assert_eq!(params["parent_id"], "");
        assert!(query_params(None).unwrap().is_empty());
        for (raw, field) in [
            ("name=%FF.txt", "name"),
            ("name=%C3.txt", "name"),
            ("name=a.txt&name=b.txt", "name"),
            ("parent_id=&parent_id=", "parent_id"),
        ] {
            let Err(ApiError::Request {
                status,
                code,
                field: Some(at),
                ..
            }) = query_params(Some(raw))
            else {
                panic!("{raw}: not refused with a field");
            };
            assert_eq!(
                (status, code, at.as_str()),
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", field),
                "{raw}"
            );
        }
    }

    #[test]
    fn content_disposition_has_both_forms() {
        assert_eq!(
            content_disposition("report.pdf"),
            "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        );
        assert_eq!(
            content_disposition("Offerte \"v2\" €.pdf"),
            "attachment; filename=\"Offerte _v2_ _.pdf\"; \
             filename*=UTF-8''Offerte%20%22v2%22%20%E2%82%AC.pdf"
        );
        assert_eq!(
            content_disposition("50%;x=y.txt"),
            "attachment; filename=\"50_;x=y.txt\"; filename*=UTF-8''50%25%3Bx%3Dy.txt"
        );
    }
}
