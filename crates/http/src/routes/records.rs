//! The HTTP side every record type shares: list (keyset pagination, search, tombstones),
//! get (ETag, If-None-Match), create, replace (PUT), merge-patch (PATCH) and soft delete,
//! written once over the [`Record`] and [`Editable`] traits.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::Conn;
use crate::error::{ApiError, ApiResult};
use crate::extract::{parse_json, Json};
use crate::state::AppState;
use axum::http::HeaderValue;
use threadline_crm::records::list::{self, ListParams};
pub use threadline_crm::records::list::{DEFAULT_LIMIT, MAX_LIMIT};
use threadline_crm::records::{edit, not_found, soft_delete, why_not_written_now, Kind};
pub use threadline_crm::records::{Editable, Record};

/// `?limit=&cursor=&q=&include_deleted=` of a list.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    pub q: Option<String>,
    #[serde(default)]
    pub include_deleted: bool,
    /// Only for tracked emails: the record whose timeline to list (`contact:<id>`).
    pub record: Option<String>,
}

/// `?include_deleted=` of a get.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetQuery {
    #[serde(default)]
    pub include_deleted: bool,
}

/// A page of a list.
#[derive(Debug, Serialize)]
pub struct Page {
    pub items: Vec<Value>,
    /// Give it back as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The query string, or 400 `invalid_query` naming the parameter.
pub fn query<T: DeserializeOwned + Default>(
    q: Result<Query<T>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<T> {
    q.map(|Query(v)| v).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("the query string is not acceptable: {}", e.body_text()),
        )
    })
}

/// A path id, or 404 (no record has a malformed id).
pub fn path_id(kind: Kind, raw: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("there is no {kind} with id {raw:?}"),
        )
    })
}

/// Answer with the record, its ETag and `status`.
pub fn answer<T: Record>(auth: &AuthUser, status: StatusCode, record: T) -> Response {
    let tag = etag(record.meta().version);
    let mut response = (status, Json(record.shown_to(auth))).into_response();
    response.headers_mut().insert(header::ETAG, tag);
    response
}

/// One record (deleted ones only when asked), or 404.
pub async fn load_one<T: Record>(
    conn: &mut Conn,
    org: Uuid,
    id: Uuid,
    include_deleted: bool,
) -> ApiResult<T> {
    let record = T::load(conn, org, &[id]).await?.pop();
    match record {
        Some(r) if include_deleted || r.meta().deleted_at.is_none() => Ok(r),
        Some(_) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "the {} {id} was deleted (ask with ?include_deleted=true for its tombstone)",
                T::KIND
            ),
        )),
        None => Err(not_found(T::KIND, id).into()),
    }
}

/// `GET /<records>/{id}`.
pub async fn get<T: Record>(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    params: Result<Query<GetQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let params = query(params)?;
    let id = path_id(T::KIND, &raw)?;
    let mut conn = state.db().pool().acquire().await?;
    let record: T = load_one(&mut conn, auth.org_id, id, params.include_deleted).await?;
    if not_modified(&headers, record.meta().version) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response
            .headers_mut()
            .insert(header::ETAG, etag(record.meta().version));
        return Ok(response);
    }
    Ok(answer(&auth, StatusCode::OK, record))
}

/// `GET /<records>?limit=&cursor=&q=&include_deleted=`: by id (creation order), keyset
/// (the CRM model's [`list::list`]).
pub async fn list<T: Record>(
    auth: AuthUser,
    State(state): State<AppState>,
    params: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Page>> {
    let params = query(params)?;
    if params.record.is_some() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "record= is only for tracked emails",
        )
        .with_field("record"));
    }
    let mut tx = state.db().begin_read().await?;
    let page = list::list::<T>(
        &mut tx,
        auth.org_id,
        &ListParams {
            limit: params.limit,
            after: params.cursor,
            q: params.q,
            include_deleted: params.include_deleted,
            ..ListParams::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Json(Page {
        items: page.items.into_iter().map(|r| r.shown_to(&auth)).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// `POST /<records>`: 201 with the record, its ETag and Location.
pub async fn create<T: Editable>(
    auth: AuthUser,
    State(state): State<AppState>,
    Json(input): Json<T::Input>,
) -> ApiResult<Response> {
    let valid = T::validate(input)?;
    let record = create_valid::<T>(&state, &auth, &valid).await?;
    let location = format!("/api/v1/{}/{}", collection(T::KIND), record.id());
    let mut response = answer(&auth, StatusCode::CREATED, record);
    if let Ok(value) = location.parse() {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// Creates a record from a checked input, in one write transaction.
pub async fn create_valid<T: Editable>(
    state: &AppState,
    auth: &AuthUser,
    valid: &T::Valid,
) -> ApiResult<T> {
    Ok(threadline_crm::records::create::<T>(state.db(), auth, valid).await?)
}

/// The path segment of a kind's collection: its table's name, `-` for `_`.
pub fn collection(kind: Kind) -> String {
    kind.table().replace('_', "-")
}

/// `PUT /<records>/{id}` with `If-Match`: the whole record replaced.
pub async fn replace<T: Editable>(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    Json(input): Json<T::Input>,
) -> ApiResult<Response> {
    let id = path_id(T::KIND, &raw)?;
    let expected_version = if_match(&headers)?;
    let valid = T::validate(input)?;
    update_valid::<T>(&state, &auth, id, expected_version, &valid).await
}

async fn update_valid<T: Editable>(
    state: &AppState,
    auth: &AuthUser,
    id: Uuid,
    expected_version: i64,
    valid: &T::Valid,
) -> ApiResult<Response> {
    let record: T =
        threadline_crm::records::update::<T>(state.db(), auth, id, expected_version, valid).await?;
    Ok(answer(auth, StatusCode::OK, record))
}

/// `PATCH /<records>/{id}` with `If-Match`: a JSON merge patch (RFC 7396) of the record's
/// input fields; `null` clears a field.
pub async fn patch<T: Editable>(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    Json(changes): Json<Value>,
) -> ApiResult<Response> {
    let id = path_id(T::KIND, &raw)?;
    let expected_version = if_match(&headers)?;
    if !changes.is_object() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "a PATCH body is a JSON object of the fields to change (null clears one)",
        ));
    }
    let mut conn = state.db().pool().acquire().await?;
    let current: T = load_one(&mut conn, auth.org_id, id, false).await?;
    drop(conn);
    // The stale check here is only early: the write checks the version again.
    if current.meta().version != expected_version {
        return Err(
            why_not_written_now(T::KIND, id, current.meta().version, expected_version).into(),
        );
    }
    let merged = edit::merged(&current, &changes)?;
    let bytes = serde_json::to_vec(&merged)
        .map_err(|e| ApiError::internal(format!("cannot serialise a record: {e}")))?;
    let input: T::Input = parse_json(&bytes)?;
    let valid = T::validate(input)?;
    update_valid::<T>(&state, &auth, id, expected_version, &valid).await
}

/// `DELETE /<records>/{id}` with `If-Match`: soft delete; 204 with the tombstone's ETag.
pub async fn delete<T: Record>(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = path_id(T::KIND, &raw)?;
    let expected_version = if_match(&headers)?;
    let org = auth.org_id;
    let version = state
        .db()
        .write(|tx| Box::pin(soft_delete(tx, T::KIND, org, id, expected_version)))
        .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::ETAG, etag(version));
    Ok(response)
}

// ---------------------------------------------------------------------------------------
// ETags

/// The strong ETag of a version: `"<version>"`.
pub fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("digits and quotes")
}

/// The version an `If-Match` header asks for. Required on every change of an existing
/// record: without it 428 `precondition_required`; `*` is refused too (a blind overwrite is
/// what the header is there to prevent).
pub fn if_match(headers: &HeaderMap) -> ApiResult<i64> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Err(ApiError::new(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition_required",
            "send If-Match with the ETag of the version you are changing (from its GET)",
        )
        .with_field("If-Match"));
    };
    value.to_str().ok().and_then(parse_etag).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_header",
            "If-Match must be one strong ETag as answered by the server, e.g. \"3\"",
        )
        .with_field("If-Match")
    })
}

fn parse_etag(s: &str) -> Option<i64> {
    let digits = s.trim().strip_prefix('"')?.strip_suffix('"')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// True when `If-None-Match` lists `version`'s ETag (or is `*`): answer 304.
pub fn not_modified(headers: &HeaderMap, version: i64) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || parse_etag(t) == Some(version))
}
