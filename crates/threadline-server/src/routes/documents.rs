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
//! | `POST /documents/{node}/restore`, If-Match | node, back where it was |
//!
//! `{records}` is `companies`, `contacts`, `projects`, `meetings` or `products`. Nodes answer
//! with `ETag: "<version>"`; a file's content with `ETag: "<sha256>"`.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Router};
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::documents::blobs::{file_too_large, MAX_FILE_BYTES};
use crate::documents::tree::{
    self, content_etag, IfMatch, NewContent, Node, RecordKind, RecordRef,
};
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::state::AppState;
use crate::validate::path_id;

pub fn router() -> Router<AppState> {
    let mut router = Router::new()
        .route("/documents/trash", get(list_trash))
        .route(
            "/documents/{node}",
            get(get_node).patch(update_node).delete(delete_node),
        )
        .route(
            "/documents/{node}/content",
            get(download)
                .put(replace)
                .layer::<_, std::convert::Infallible>(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/documents/{node}/restore", post(restore_node));
    for kind in RecordKind::ALL {
        let base = format!("/{}/{{id}}/documents", kind.plural());
        router =
            router
                .route(&base, get(list_tree).layer(Extension(kind)))
                .route(
                    &format!("{base}/folders"),
                    post(create_folder).layer(Extension(kind)),
                )
                .route(
                    &format!("{base}/files"),
                    // The upload is counted against MAX_FILE_BYTES while it streams, not against
                    // the 1 MiB limit of JSON bodies.
                    put(upload)
                        .layer::<_, std::convert::Infallible>(
                            axum::extract::DefaultBodyLimit::disable(),
                        )
                        .layer(Extension(kind)),
                );
    }
    router
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
    IfMatch::parse(value)
}

/// The query's parameters, by name (the last of a repeated one).
fn query_params(raw: Option<&str>) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
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

#[derive(Serialize)]
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
    let params = query_params(query.as_deref());
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

#[derive(Deserialize)]
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
    Ok(node_response(StatusCode::CREATED, node))
}

/// The declared length, when it is already over the limit: refused before reading.
fn refuse_declared_oversize(headers: &HeaderMap) -> ApiResult<()> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(n) if n > MAX_FILE_BYTES => Err(file_too_large()),
        _ => Ok(()),
    }
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
    let params = query_params(query.as_deref());
    let parent = optional_uuid_param(&params, "parent_id")?;
    let Some(name) = params.get("name") else {
        return Err(ApiError::invalid(
            "name",
            "the file's name is missing: PUT …/documents/files?name=<file name>",
        ));
    };
    tree::valid_name("name", name)?;
    refuse_declared_oversize(&headers)?;
    let blobs = state.blobs()?;
    // Refuse what will be refused before taking the upload (the write checks again).
    let mut tx = state.db().begin_read().await?;
    let refused = async {
        tree::require_record(&mut tx, auth.org_id, record).await?;
        tree::check_parent(&mut tx, auth.org_id, record, parent, "parent_id").await?;
        tree::check_name_free(&mut tx, auth.org_id, record, parent, name, None).await
    }
    .await;
    end_read(tx).await?;
    refused?;
    let content = NewContent {
        blob: blobs.store_body(body).await?,
        content_type: upload_content_type(&headers),
    };
    let node = state
        .db()
        .write(|tx| Box::pin(tree::create_file(tx, &auth, record, parent, name, &content)))
        .await?;
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
        blob: blobs.store_body(body).await?,
        content_type: upload_content_type(&headers),
    };
    let node = state
        .db()
        .write(|tx| Box::pin(tree::replace_content(tx, &auth, id, &if_match, &content)))
        .await?;
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
    let node = {
        let mut conn = state.db().pool().acquire().await?;
        tree::live_node(&mut conn, auth.org_id, id).await?
    };
    let (Some(sha256), Some(size)) = (node.sha256.as_deref(), node.size) else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_a_file",
            format!("{id} is a folder: only a file has content"),
        ));
    };
    let etag = HeaderValue::from_str(&content_etag(sha256)).expect("hex and quotes");
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
    let stream = state.blobs()?.open(sha256).await?;
    let content_type = node
        .content_type
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&content_disposition(&node.name))
        .expect("ASCII without control characters");
    let mut response = Response::new(Body::from_stream(stream));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, content_type);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    h.insert(header::ETAG, etag);
    h.insert(header::CONTENT_DISPOSITION, disposition);
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    Ok(response)
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

#[derive(Deserialize)]
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
    Ok(node_response(StatusCode::OK, node))
}

#[derive(Serialize)]
struct Trash {
    items: Vec<Node>,
}

async fn list_trash(auth: AuthUser, State(state): State<AppState>) -> ApiResult<Json<Trash>> {
    let mut conn = state.db().pool().acquire().await?;
    let items = tree::trash(&mut conn, auth.org_id).await?;
    Ok(Json(Trash { items }))
}

#[cfg(test)]
mod tests {
    use super::*;

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
