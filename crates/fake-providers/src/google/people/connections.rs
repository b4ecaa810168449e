//! `GET /v1/people/me/connections`: the account's contacts, paged, with sync tokens.
//!
//! A full listing serves the live contacts in log order (`LAST_MODIFIED_ASCENDING`); an
//! incremental one (`syncToken`) serves every contact written after the token's position,
//! deleted ones as `{resourceName, etag, metadata: {sources, deleted: true}}`, but not the
//! writes still inside the propagation delay. A page token carries the log position served
//! up to, the sync position the listing will end on, and a fingerprint of the query (which
//! must not change while paging). The final sync token is the position when the listing
//! began, held back before any write still hidden, so a write is served again rather than
//! lost.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::Json;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::person::{parse_mask, READ_FIELDS};
use super::{check_sources, end_page, with_book, Book, Ctx, Query, RpcError, READ_SCOPES};
use crate::Shared;

const DEFAULT_PAGE_SIZE: usize = 100;
/// "Sync tokens expire 7 days after the full sync."
const SYNC_TOKEN_LIFETIME_DAYS: i64 = 7;
const SORT_ORDERS: &[&str] = &[
    "LAST_MODIFIED_ASCENDING",
    "LAST_MODIFIED_DESCENDING",
    "FIRST_NAME_ASCENDING",
    "LAST_NAME_ASCENDING",
];

fn encode(text: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn decode(token: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    String::from_utf8(bytes).ok()
}

fn account_tag(account: &str) -> String {
    let digest = Sha256::digest(account.as_bytes());
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// A sync token: the account, the token epoch, the log position and when it was issued.
pub(super) fn sync_token(account: &str, epoch: u64, position: u64, now: DateTime<Utc>) -> String {
    encode(&format!(
        "s|{}|{epoch}|{position}|{}",
        account_tag(account),
        now.timestamp()
    ))
}

/// The log position of a sync token of this account, or why it is refused: expired (a bumped
/// epoch, older than 7 days) or not one of the fake's (400 INVALID_ARGUMENT).
pub(super) fn read_sync_token(book: &Book, ctx: &Ctx, token: &str) -> Result<u64, RpcError> {
    let invalid = || RpcError::invalid_argument("Request contains an invalid argument.");
    let text = decode(token).ok_or_else(invalid)?;
    let parts: Vec<&str> = text.split('|').collect();
    let ["s", tag, epoch, position, issued] = parts[..] else {
        return Err(invalid());
    };
    if tag != account_tag(&ctx.account) {
        return Err(invalid());
    }
    let (Ok(epoch), Ok(position), Ok(issued)) = (
        epoch.parse::<u64>(),
        position.parse::<u64>(),
        issued.parse::<i64>(),
    ) else {
        return Err(invalid());
    };
    let age = ctx.now.timestamp() - issued;
    if epoch != book.token_epoch || age > SYNC_TOKEN_LIFETIME_DAYS * 86_400 {
        return Err(RpcError::expired_sync_token());
    }
    Ok(position)
}

/// The position a sync token may be given at now: the log head, held back before the
/// earliest write still hidden by the propagation delay.
pub(super) fn safe_position(book: &Book, now: DateTime<Utc>) -> u64 {
    book.people
        .values()
        .filter(|p| p.visible_at > now)
        .map(|p| p.stamp - 1)
        .min()
        .unwrap_or(book.head)
        .min(book.head)
}

/// A page token: served up to `after`, the listing ends on sync position `sync_at`, for the
/// query with this fingerprint.
fn page_token(fingerprint: &str, after: u64, sync_at: u64) -> String {
    encode(&format!("p|{fingerprint}|{after}|{sync_at}"))
}

fn read_page_token(token: &str, fingerprint: &str) -> Result<(u64, u64), RpcError> {
    let invalid = || {
        RpcError::invalid_argument(
            "Page token is invalid or does not match the request's other parameters.",
        )
    };
    let text = decode(token).ok_or_else(invalid)?;
    let parts: Vec<&str> = text.split('|').collect();
    let ["p", print, after, sync_at] = parts[..] else {
        return Err(invalid());
    };
    if print != fingerprint {
        return Err(invalid());
    }
    match (after.parse(), sync_at.parse()) {
        (Ok(after), Ok(sync_at)) => Ok((after, sync_at)),
        _ => Err(invalid()),
    }
}

/// The query's parameters that must stay the same while paging.
fn fingerprint(query: &Query) -> String {
    let mut text = String::new();
    for name in [
        "personFields",
        "requestMask.includeField",
        "requestSyncToken",
        "syncToken",
        "sortOrder",
    ] {
        text.push_str(query.get(name).unwrap_or_default());
        text.push('\u{1f}');
    }
    text.push_str(&query.all("sources").join(","));
    let digest = Sha256::digest(text.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// `GET /v1/people/me/connections?personFields=&pageSize=&pageToken=&requestSyncToken=
/// &syncToken=&sortOrder=&sources=` → `{connections, nextPageToken?, nextSyncToken?,
/// totalItems?}`.
pub(super) async fn list(
    State(shared): State<Arc<Shared>>,
    Path(owner): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, RpcError> {
    with_book(&shared, &headers, READ_SCOPES, |book, ctx| {
        let query = Query::parse(
            query.as_deref(),
            &[
                "pageSize",
                "pageToken",
                "personFields",
                "requestMask.includeField",
                "requestSyncToken",
                "sortOrder",
                "sources",
                "syncToken",
            ],
        )?;
        if owner != "me" {
            return Err(RpcError::invalid_argument(
                "Only people/me is valid as the resource name of connections.",
            ));
        }
        check_sources(query.all("sources"))?;
        let mask = parse_mask(
            "personFields",
            query
                .get("personFields")
                .or_else(|| query.get("requestMask.includeField")),
            READ_FIELDS,
            "people.connections/list",
            true,
        )?;
        if let Some(order) = query.get("sortOrder") {
            if !SORT_ORDERS.contains(&order) {
                return Err(RpcError::bad_payload(
                    "sort_order",
                    format!("Invalid value at 'sort_order' (type.googleapis.com/google.people.v1.ListConnectionsRequest.SortOrder), \"{order}\""),
                ));
            }
        }
        let page_size = query.page_size(DEFAULT_PAGE_SIZE)?;
        let request_sync_token = query.flag("requestSyncToken")?;
        let since = query
            .get("syncToken")
            .map(|token| read_sync_token(book, ctx, token))
            .transpose()?;
        let print = fingerprint(&query);
        let (after, sync_at) = match query.get("pageToken") {
            Some(token) => read_page_token(token, &print)?,
            None => (since.unwrap_or(0), safe_position(book, ctx.now)),
        };
        let incremental = since.is_some();
        let mut changed: Vec<_> = book
            .people
            .values()
            .filter(|p| p.stamp > after)
            .filter(|p| {
                if incremental {
                    p.visible_at <= ctx.now
                } else {
                    !p.deleted
                }
            })
            .collect();
        changed.sort_by_key(|p| p.stamp);
        let total = if incremental {
            changed.len()
        } else {
            book.people.values().filter(|p| !p.deleted).count()
        };
        let more = changed.len() > page_size;
        changed.truncate(page_size);
        let mut out = Map::new();
        let connections: Vec<Value> = changed
            .iter()
            .map(|p| Value::Object(p.render(&mask, incremental)))
            .collect();
        if !connections.is_empty() {
            out.insert("connections".into(), Value::Array(connections));
        }
        if more {
            let last = changed.last().expect("a full page").stamp;
            out.insert(
                "nextPageToken".into(),
                json!(page_token(&print, last, sync_at)),
            );
        }
        let sync_due = !more && (request_sync_token || incremental);
        end_page(&mut out, book, ctx, sync_due.then_some(sync_at), total);
        Ok(Json(Value::Object(out)))
    })
}
