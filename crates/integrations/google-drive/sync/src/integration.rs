//! The Google Drive document sync on the engine's seam: a `FilesIntegration` (shared with
//! Dropbox, `threadline-files-sync`) with this crate's client, on each user's Google
//! connection (the one the calendar uses), every 30 minutes and on demand.
//!
//! Its scope is the full `drive`: the sync must see files users add to the record folders in
//! Drive, which `drive.file` (files the app created or the user opened with it) cannot. It
//! is not asked for when Google is connected for the calendar: the user turns the document
//! sync on, and the scope is asked for then (incremental authorization), as the Contacts
//! export does.

use std::sync::Arc;
use std::time::Duration;

use threadline_connections::Provider;
use threadline_files_sync::integration::{Declaration, FilesIntegration};
use threadline_files_sync::run::FileSync;
use threadline_sync_engine::integration::BuildContext;
use threadline_sync_engine::{Card, Integration, Localised};

use crate::client::{DriveClient, RetryPolicy};

/// Its name in `sync_schedules.integration`.
pub const NAME: &str = "google_drive";

/// The full Drive scope (a restricted scope: Google's verification comes with it).
pub const SCOPE: &str = "https://www.googleapis.com/auth/drive";
pub const SCOPES: &[&str] = &[SCOPE];

/// What the Google Drive document sync declares.
pub const DECLARATION: Declaration = Declaration {
    name: NAME,
    provider: Provider::Google,
    scopes: SCOPES,
    scopes_label: "your Google Drive files",
    card: Card {
        title: Localised {
            en: "Google Drive",
            nl: "Google Drive",
            de: "Google Drive",
        },
        summary: Localised {
            en: "A record's documents kept in step with a folder of your Google Drive, both ways.",
            nl: "De documenten van een record gelijk gehouden met een map in je Google Drive, \
                 beide kanten op.",
            de: "Die Dokumente eines Datensatzes mit einem Ordner Ihres Google Drive abgeglichen, \
                 in beide Richtungen.",
        },
    },
    asked_at_connect: false,
    interval: Duration::from_secs(30 * 60),
    jitter: Duration::from_secs(3 * 60),
};

/// The integration on this server, when a Google client and a data directory are configured.
pub fn build(ctx: &BuildContext) -> Result<Option<Arc<dyn Integration>>, String> {
    let (Ok(google), Some(blobs)) = (ctx.oauth.google(), ctx.blobs.clone()) else {
        return Ok(None);
    };
    let endpoints = google.endpoints();
    let client = DriveClient::new(
        endpoints.drive_api_url.as_str(),
        endpoints.drive_upload_url.as_str(),
        RetryPolicy::default(),
    )?;
    let sync = FileSync::new(
        ctx.db.clone(),
        blobs,
        Arc::new(client),
        Arc::clone(&ctx.tokens),
        SCOPES,
    );
    Ok(Some(Arc::new(FilesIntegration::new(DECLARATION, sync))))
}
