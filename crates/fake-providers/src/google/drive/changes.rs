//! changes.getStartPageToken, changes.list and about.get.
//!
//! A page token is a position in the account's change log: the changes at or after it are
//! each file's latest state (one entry per file, as Drive collapses them), in log order.
//! A file that changes while a client pages moves to a later position, so it is served
//! again later (at least once, never lost). `newStartPageToken` comes on the last page
//! only, `nextPageToken` on every other one; a permanently deleted file is
//! `{removed: true, fileId}` without `file` (left out with `includeRemoved=false`); a trashed
//! one is the file with `trashed: true`.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Value};

use super::fields::{Schema, Selection};
use super::{answer, errors, timestamp, Ctx, Drive, Op, Params, QUOTA_LIMIT};
use crate::google::GoogleError;
use crate::Shared;

pub(crate) async fn start_page_token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    answer(
        &shared,
        &headers,
        raw.as_deref(),
        Op::ReadMetadata,
        |drive, _, params| {
            let selection = Selection::parse(params.get("fields"), Schema::StartPageToken)?;
            Ok(selection.apply(json!({
                "kind": "drive#startPageToken",
                "startPageToken": (drive.head + 1).to_string(),
            })))
        },
    )
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
        |d, c, p| list_changes(d, c, p),
    )
}

/// One entry of the log: a live file or a tombstone, at its position.
enum Entry<'a> {
    File(&'a super::DriveFile),
    Removed(&'a str, &'a super::Removed),
}

fn list_changes(drive: &Drive, ctx: &Ctx, params: &Params) -> Result<Value, GoogleError> {
    let selection = Selection::parse(params.get("fields"), Schema::ChangeList)?;
    let token = params
        .get("pageToken")
        .ok_or_else(|| errors::required_parameter("pageToken"))?;
    let from: u64 = token
        .parse()
        .ok()
        .filter(|t| (drive.oldest_token..=drive.head + 1).contains(t))
        .ok_or_else(|| errors::invalid_value("pageToken"))?;
    let page_size = params.page_size()?;
    let include_removed = params.flag("includeRemoved", true)?;
    params.flag("restrictToMyDrive", false)?;
    params.flag("includeItemsFromAllDrives", false)?;
    params.flag("supportsAllDrives", false)?;
    params.flag("includeCorpusRemovals", false)?;
    let in_drive = params.in_drive_space()?;
    let mut entries: Vec<(u64, Entry)> = Vec::new();
    if in_drive {
        entries.extend(
            drive
                .files
                .values()
                .filter(|f| f.stamp >= from && f.id != drive.root)
                .filter(|f| ctx.access.sees(f, &drive.root))
                .map(|f| (f.stamp, Entry::File(f))),
        );
        if include_removed {
            entries.extend(
                drive
                    .removed
                    .iter()
                    .filter(|(_, r)| r.stamp >= from && (ctx.access.all_files || r.by_app))
                    .map(|(id, r)| (r.stamp, Entry::Removed(id, r))),
            );
        }
    }
    entries.sort_by_key(|(stamp, _)| *stamp);
    let changes: Vec<Value> = entries
        .iter()
        .take(page_size)
        .map(|(_, entry)| match entry {
            Entry::File(f) => json!({
                "kind": "drive#change",
                "changeType": "file",
                "time": timestamp(f.changed),
                "removed": false,
                "fileId": f.id,
                "file": f.render(drive.trashed(&f.id)),
            }),
            Entry::Removed(id, r) => json!({
                "kind": "drive#change",
                "changeType": "file",
                "time": timestamp(r.time),
                "removed": true,
                "fileId": id,
            }),
        })
        .collect();
    let mut out = json!({"kind": "drive#changeList", "changes": changes});
    match entries.get(page_size) {
        Some((next, _)) => out["nextPageToken"] = json!(next.to_string()),
        None => out["newStartPageToken"] = json!((drive.head + 1).to_string()),
    }
    Ok(selection.apply(out))
}

/// about.get: `fields` is required (discovery document).
pub(crate) async fn about(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    answer(
        &shared,
        &headers,
        raw.as_deref(),
        Op::ReadMetadata,
        |drive, ctx, params| {
            let fields = params
                .get("fields")
                .ok_or_else(|| errors::required_parameter("fields"))?;
            let selection = Selection::parse(Some(fields), Schema::About)?;
            let (usage, trash) = drive.usage();
            let out = json!({
                "kind": "drive#about",
                "user": {
                    "kind": "drive#user",
                    "displayName": ctx.access.email.split('@').next().unwrap_or_default(),
                    "emailAddress": ctx.access.email,
                    "me": true,
                    "permissionId": crate::google::oauth::account_id(&ctx.access.email),
                },
                "storageQuota": {
                    "limit": QUOTA_LIMIT.to_string(),
                    "usage": usage.to_string(),
                    "usageInDrive": usage.to_string(),
                    "usageInDriveTrash": trash.to_string(),
                },
                "maxUploadSize": "5497558138880",
                "appInstalled": false,
                "canCreateDrives": false,
            });
            Ok(selection.apply(out))
        },
    )
}
