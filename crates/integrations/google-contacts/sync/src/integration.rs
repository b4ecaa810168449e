//! What the Google Contacts export declares on the sync engine's seam, and turning it on
//! and off. Its scope is not asked for when an account is connected: the user turns the
//! export on, and the Contacts scope is asked for then (incremental authorization).

use std::sync::Arc;
use std::time::Duration;

use threadline_connections::{self as connections, Connection, Provider};
use threadline_storage::db::{BoxFuture, Conn};
use threadline_sync_engine::integration::BuildContext;
use threadline_sync_engine::{schedule, Card, Integration, Localised, SyncJob};

use crate::client::{PeopleClient, RetryPolicy};
use crate::job::{ContactsExport, ContactsJob, SCOPE};
use crate::store;

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

    /// Turns the export on or off for `connection`, in the caller's write transaction.
    ///
    /// On: the next run adopts what is already in Google (by `clientData`) and exports the
    /// rest. Its schedule is turned on, due at once, when the connection holds the Contacts
    /// scope; otherwise when a grant with it arrives ([`Integration::on_connected`]). Off:
    /// the schedule is turned off (its history stays); what was exported stays in Google,
    /// with its links, so that turning it on again adopts instead of duplicating.
    pub async fn set_enabled(
        &self,
        conn: &mut Conn,
        connection: &Connection,
        enabled: bool,
    ) -> Result<Switched, connections::Error> {
        store::set_enabled(conn, connection.id, enabled)
            .await
            .map_err(crm_to_connections)?;
        if !enabled {
            schedule::turn_off(conn, connection.id, NAME).await?;
            return Ok(Switched::Off);
        }
        if !self.granted(&connection.scopes) {
            return Ok(Switched::WaitingForScope);
        }
        schedule::turn_on(conn, connection.id, NAME, self.interval(), self.jitter()).await?;
        Ok(Switched::On)
    }
}

/// What [`GoogleContacts::set_enabled`] did: the engine's [`Switched`].
pub use threadline_sync_engine::Switched;

/// The export table's errors (only the database's, in fact) in the seam's terms.
fn crm_to_connections(e: threadline_crm::CrmError) -> connections::Error {
    match e {
        threadline_crm::CrmError::Database(e) => connections::Error::from(e),
        other => connections::Error::Internal(other.to_string()),
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

    fn card(&self) -> Card {
        Card {
            title: Localised {
                en: "Google Contacts",
                nl: "Google Contacten",
                de: "Google Kontakte",
            },
            summary: Localised {
                en: "The CRM's contacts exported to the group \"Threadline\" of your Google \
                     contacts (one way).",
                nl: "De contactpersonen van het CRM in de groep \"Threadline\" van je \
                     Google-contacten (één kant op).",
                de: "Die Kontakte des CRM in der Gruppe \"Threadline\" Ihrer Google-Kontakte \
                     (in eine Richtung).",
            },
        }
    }

    /// Asked for when the user turns the export on, not at every connect.
    fn asked_at_connect(&self) -> bool {
        false
    }

    fn switchable(&self) -> bool {
        true
    }

    fn switch<'a>(
        &'a self,
        conn: &'a mut Conn,
        connection: &'a Connection,
        on: bool,
    ) -> BoxFuture<'a, Result<Switched, connections::Error>> {
        Box::pin(self.set_enabled(conn, connection, on))
    }

    /// A grant with the Contacts scope turns the export's schedule on (due now) when the
    /// export is on: the user turned it on and was sent to Google for the scope, or
    /// connected again after a re-authorization. Nothing when the export is off.
    fn on_connected<'a>(
        &'a self,
        conn: &'a mut Conn,
        connection: &'a Connection,
    ) -> BoxFuture<'a, Result<bool, connections::Error>> {
        Box::pin(async move {
            if !self.granted(&connection.scopes) {
                return Ok(false);
            }
            let on = store::export(conn, connection.id)
                .await
                .map_err(crm_to_connections)?
                .is_some_and(|e| e.enabled);
            if !on {
                return Ok(false);
            }
            schedule::turn_on(conn, connection.id, NAME, self.interval(), self.jitter()).await?;
            schedule::resume_connection(conn, connection.id).await?;
            Ok(true)
        })
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
