//! `GET /api/v1/changes?since=<cursor>&limit=`: the records of the caller's organisation
//! changed since `since` (from the start without it), oldest change first, one entry per
//! record (its latest change): `{changes: [{kind, id, version, deleted}], next_cursor,
//! has_more}`. `next_cursor` is always given: poll with it to get what changes next.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::HttpMethod;
use utoipa::PartialSchema;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::openapi::{ApiRouter, Op};
use crate::records::{changes, decode_cursor, encode_cursor};
use crate::routes::records::{query, MAX_LIMIT};
use crate::state::AppState;

/// Default page of the feed.
pub const DEFAULT_CHANGES: u32 = 500;
/// Largest page of the feed.
pub const MAX_CHANGES: u32 = 5 * MAX_LIMIT;

pub fn router() -> ApiRouter {
    let op = Op::new("changes", "changes", "Records changed since a cursor")
        .description(
            "Oldest change first, one entry per record (its latest change). `next_cursor` is \
             always given: poll with it to get what changes next.",
        )
        .query(
            "since",
            "The `next_cursor` of an earlier answer (from the start without it).",
            String::schema(),
        )
        .query(
            "limit",
            &format!("Most entries, 1 to {MAX_CHANGES} (default {DEFAULT_CHANGES})."),
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::Type::Integer)
                .minimum(Some(1))
                .maximum(Some(MAX_CHANGES)),
        )
        .json::<ChangesPage>("200", "The changes.")
        .bad_query();
    ApiRouter::new().routes(op.route("/changes", HttpMethod::Get, get(changes)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangesQuery {
    since: Option<String>,
    limit: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Change {
    /// A record kind (`company`, `contact`, `project`, `meeting`, `product`, `task`,
    /// `tracked_email`), or `document`: a folder or file of a record's document tree
    /// (`deleted`: it is in the trash; `GET /documents/{id}` has the rest).
    #[schema(example = "contact")]
    kind: String,
    id: Uuid,
    version: i64,
    deleted: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ChangesPage {
    changes: Vec<Change>,
    next_cursor: String,
    has_more: bool,
}

async fn changes(
    auth: AuthUser,
    State(state): State<AppState>,
    params: Result<Query<ChangesQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<ChangesPage>> {
    let params = query(params)?;
    let since: i64 = match &params.since {
        None => 0,
        Some(c) => decode_cursor("since", "seq", c)?
            .parse()
            .map_err(|_| bad("since", "since is not a cursor this server gave out"))?,
    };
    let limit = match params.limit {
        None => DEFAULT_CHANGES,
        Some(n) if (1..=MAX_CHANGES).contains(&n) => n,
        Some(_) => return Err(bad("limit", &format!("limit must be 1 to {MAX_CHANGES}"))),
    };
    let mut rows = changes::since(
        &mut *state.db().pool().acquire().await?,
        auth.org_id,
        since,
        &[],
        limit + 1,
    )
    .await?;
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let last = rows.last().map_or(since, |c| c.seq);
    let out = rows
        .into_iter()
        .map(|c| Change {
            kind: c.kind,
            id: c.id,
            version: c.version,
            deleted: c.deleted,
        })
        .collect();
    Ok(Json(ChangesPage {
        changes: out,
        next_cursor: encode_cursor("seq", &last.to_string()),
        has_more,
    }))
}

fn bad(field: &str, message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message).with_field(field)
}
