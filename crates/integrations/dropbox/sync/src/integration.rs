//! The Dropbox document sync on the engine's seam: a `FilesIntegration` (shared with Google
//! Drive, `threadline-files-sync`) with this crate's client, on each user's Dropbox
//! connection, hourly and on demand. Its scopes are asked for when Dropbox is connected
//! (that is what connecting Dropbox is for).

use std::sync::Arc;
use std::time::Duration;

use threadline_connections::Provider;
use threadline_files_sync::integration::{Declaration, FilesIntegration};
use threadline_files_sync::run::FileSync;
use threadline_sync_engine::integration::BuildContext;
use threadline_sync_engine::{Card, Integration, Localised};

use crate::client::{DropboxClient, RetryPolicy};

/// Its name in `sync_schedules.integration`.
pub const NAME: &str = "dropbox";

/// The scopes it needs on an "App folder" app: read and write the app folder's files and
/// their metadata (the App Console's permissions tab must have them ticked).
pub const SCOPES: &[&str] = &[
    "files.metadata.read",
    "files.metadata.write",
    "files.content.read",
    "files.content.write",
];

/// What the Dropbox document sync declares.
pub const DECLARATION: Declaration = Declaration {
    name: NAME,
    provider: Provider::Dropbox,
    scopes: SCOPES,
    scopes_label: "the files of the app folder Apps/Threadline CRM",
    card: Card {
        title: Localised {
            en: "Dropbox",
            nl: "Dropbox",
            de: "Dropbox",
        },
        summary: Localised {
            en: "A record's documents kept in step with its folder under Apps/Threadline CRM in \
                 your Dropbox, both ways.",
            nl: "De documenten van een record gelijk gehouden met zijn map onder \
                 Apps/Threadline CRM in je Dropbox, beide kanten op.",
            de: "Die Dokumente eines Datensatzes mit seinem Ordner unter Apps/Threadline CRM in \
                 Ihrer Dropbox abgeglichen, in beide Richtungen.",
        },
    },
    asked_at_connect: true,
    interval: Duration::from_secs(60 * 60),
    jitter: Duration::from_secs(5 * 60),
};

/// The integration on this server, when a Dropbox app and a data directory are configured.
pub fn build(ctx: &BuildContext) -> Result<Option<Arc<dyn Integration>>, String> {
    let (Ok(dropbox), Some(blobs)) = (ctx.oauth.dropbox(), ctx.blobs.clone()) else {
        return Ok(None);
    };
    let endpoints = dropbox.endpoints();
    let client = DropboxClient::new(
        endpoints.api_url.as_str(),
        endpoints.content_url.as_str(),
        RetryPolicy::default(),
    )?;
    let sync = FileSync::new(
        ctx.db.clone(),
        blobs,
        Arc::new(client),
        Arc::clone(&ctx.tokens),
        &[],
    );
    Ok(Some(Arc::new(FilesIntegration::new(DECLARATION, sync))))
}
