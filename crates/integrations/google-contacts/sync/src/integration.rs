//! What the Google Contacts export declares on the sync engine's seam. Not registered in
//! the server yet: registering it adds the Contacts scope to every connect flow, which comes
//! with the export's HTTP routes.

use std::sync::Arc;
use std::time::Duration;

use threadline_connections::Provider;
use threadline_sync_engine::integration::BuildContext;
use threadline_sync_engine::{Integration, SyncJob};

use crate::client::{PeopleClient, RetryPolicy};
use crate::job::{ContactsExport, ContactsJob, SCOPE};

/// Its name in `sync_schedules.integration`.
pub const NAME: &str = "google_contacts";
/// The scope it needs: read and write the user's contacts.
pub const SCOPES: &[&str] = &[SCOPE];

/// Google Contacts, one way (CRM → Google), hourly and on demand.
pub struct GoogleContacts {
    export: Arc<ContactsExport>,
}

impl GoogleContacts {
    pub fn new(export: ContactsExport) -> GoogleContacts {
        GoogleContacts {
            export: Arc::new(export),
        }
    }

    /// The integration on this server, when a Google client is configured (`None` without).
    pub fn build(ctx: &BuildContext) -> Result<Option<Arc<dyn Integration>>, String> {
        let Ok(google) = ctx.oauth.google() else {
            return Ok(None);
        };
        let api = &google.endpoints().people_api_url;
        let client = PeopleClient::new(api.as_str(), RetryPolicy::default())
            .map_err(|e| format!("the People API URL {api}: {e}"))?;
        let export = ContactsExport::new(ctx.db.clone(), client, Arc::clone(&ctx.tokens));
        Ok(Some(Arc::new(GoogleContacts::new(export))))
    }
}

impl Integration for GoogleContacts {
    fn name(&self) -> &'static str {
        NAME
    }

    fn provider(&self) -> Provider {
        Provider::Google
    }

    fn scopes(&self) -> &'static [&'static str] {
        SCOPES
    }

    fn scopes_label(&self) -> &'static str {
        "your contacts"
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(60 * 60)
    }

    fn jitter(&self) -> Duration {
        Duration::from_secs(5 * 60)
    }

    fn job(&self) -> Arc<dyn SyncJob> {
        Arc::new(ContactsJob(Arc::clone(&self.export)))
    }
}
