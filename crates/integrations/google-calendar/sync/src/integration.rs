//! What the Google Calendar integration declares on the sync engine's seam.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use threadline_connections::Provider;
use threadline_crm::{Actor, CrmError};
use threadline_storage::db::{BoxFuture, Conn, Db};
use threadline_sync_engine::{
    BusyTime, Card, ChoiceGroup, ChoiceOption, Choices, Integration, Localised, SyncJob,
};
use uuid::Uuid;

use crate::client::{CalendarClient, RetryPolicy};
use crate::job::CalendarJob;
use crate::CalendarSync;
use crate::{busy, convert, selection, store};
use threadline_sync_engine::integration::BuildContext;

/// Its name in `sync_schedules.integration`.
pub const NAME: &str = "google_calendar";
/// The scope it needs: read and write the user's calendars and events.
pub const SCOPES: &[&str] = &["https://www.googleapis.com/auth/calendar"];

/// Google Calendar, both ways, every 30 minutes and on demand.
pub struct GoogleCalendar {
    sync: Arc<CalendarSync>,
}

impl GoogleCalendar {
    pub fn new(sync: CalendarSync) -> GoogleCalendar {
        GoogleCalendar {
            sync: Arc::new(sync),
        }
    }

    /// The integration on this server, when a Google client is configured (`None` without:
    /// there is no Google account to sync with).
    pub fn build(ctx: &BuildContext) -> Result<Option<Arc<dyn Integration>>, String> {
        let Ok(google) = ctx.oauth.google() else {
            return Ok(None);
        };
        let api = &google.endpoints().calendar_api_url;
        let client = CalendarClient::new(api.as_str(), RetryPolicy::default())
            .map_err(|e| format!("the Calendar API URL {api}: {e}"))?;
        let sync = CalendarSync::new(ctx.db.clone(), client, Arc::clone(&ctx.tokens));
        Ok(Some(Arc::new(GoogleCalendar::new(sync))))
    }

    /// The sync itself: what the routes call.
    pub fn sync(&self) -> &CalendarSync {
        &self.sync
    }

    /// The sync, shared.
    pub fn shared(&self) -> Arc<CalendarSync> {
        Arc::clone(&self.sync)
    }
}

const PRIMARY: Localised = Localised {
    en: "primary",
    nl: "hoofdagenda",
    de: "Hauptkalender",
};
const READ_ONLY: Localised = Localised {
    en: "read only",
    nl: "alleen lezen",
    de: "nur lesen",
};
const FREE_BUSY_ONLY: Localised = Localised {
    en: "free/busy only",
    nl: "alleen vrij/bezet",
    de: "nur frei/belegt",
};

impl Integration for GoogleCalendar {
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
        "your calendars"
    }

    fn card(&self) -> Card {
        Card {
            title: Localised {
                en: "Google Calendar",
                nl: "Google Agenda",
                de: "Google Kalender",
            },
            summary: Localised {
                en: "Your Google events as grey busy blocks in the planning; CRM meetings in \
                     your calendar.",
                nl: "Je Google-afspraken als grijze bezet-blokken in de planning; CRM-afspraken \
                     in je agenda.",
                de: "Ihre Google-Termine als graue Belegt-Blöcke in der Planung; CRM-Termine in \
                     Ihrem Kalender.",
            },
        }
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(30 * 60)
    }

    fn job(&self) -> Arc<dyn SyncJob> {
        Arc::new(CalendarJob(Arc::clone(&self.sync)))
    }

    fn choices_label(&self) -> Option<Localised> {
        Some(Localised {
            en: "Choose calendars",
            nl: "Agenda's kiezen",
            de: "Kalender wählen",
        })
    }

    /// The account's calendars (primary first): which are imported as busy blocks (tick
    /// boxes; free/busy-only ones cannot be), and the one CRM meetings go to (radio buttons;
    /// only writable ones, or none).
    fn choices<'a>(&'a self, connection: Uuid) -> BoxFuture<'a, Result<Choices, CrmError>> {
        Box::pin(async move {
            let calendars = selection::calendars(&self.sync, connection)
                .await
                .map_err(selection::CalendarError::into_crm)?;
            let option = |c: &selection::Calendar, enabled: bool, chosen: bool| {
                let mut notes = Vec::new();
                if c.primary() {
                    notes.push(PRIMARY);
                }
                if !c.can_import {
                    notes.push(FREE_BUSY_ONLY);
                } else if !c.can_export {
                    notes.push(READ_ONLY);
                }
                ChoiceOption {
                    value: c.entry.id.clone(),
                    label: c
                        .entry
                        .summary
                        .clone()
                        .unwrap_or_else(|| c.entry.id.clone()),
                    notes,
                    colour: c.entry.background_color.clone(),
                    enabled,
                    chosen,
                }
            };
            Ok(Choices {
                groups: vec![
                    ChoiceGroup {
                        key: "import",
                        legend: Localised {
                            en: "Shown as busy blocks",
                            nl: "Getoond als bezet-blokken",
                            de: "Als Belegt-Blöcke gezeigt",
                        },
                        hint: Localised {
                            en: "Their events appear grey in the planning. Unticking one removes its blocks; meetings made from them stay.",
                            nl: "Hun afspraken verschijnen grijs in de planning. Een agenda uitvinken verwijdert de blokken; afspraken die ervan gemaakt zijn blijven.",
                            de: "Ihre Termine erscheinen grau in der Planung. Abwählen entfernt die Blöcke; daraus gemachte Termine bleiben.",
                        },
                        many: true,
                        none: None,
                        options: calendars
                            .iter()
                            .map(|c| option(c, c.can_import, c.imported))
                            .collect(),
                    },
                    ChoiceGroup {
                        key: "export",
                        legend: Localised {
                            en: "CRM meetings go to",
                            nl: "CRM-afspraken gaan naar",
                            de: "CRM-Termine gehen nach",
                        },
                        hint: Localised {
                            en: "Only a calendar you can change can receive meetings.",
                            nl: "Alleen een agenda die je kunt wijzigen kan afspraken ontvangen.",
                            de: "Nur ein Kalender, den Sie ändern können, kann Termine erhalten.",
                        },
                        many: false,
                        none: Some(Localised {
                            en: "Nowhere (export off)",
                            nl: "Nergens (export uit)",
                            de: "Nirgendwohin (Export aus)",
                        }),
                        options: calendars
                            .iter()
                            .map(|c| option(c, c.can_export, c.export))
                            .collect(),
                    },
                ],
            })
        })
    }

    fn choose<'a>(
        &'a self,
        connection: Uuid,
        chosen: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<(), CrmError>> {
        Box::pin(async move {
            let import: Vec<String> = chosen
                .iter()
                .filter(|(k, _)| k == "import")
                .map(|(_, v)| v.clone())
                .collect();
            let export = chosen
                .iter()
                .find(|(k, v)| k == "export" && !v.is_empty())
                .map(|(_, v)| v.as_str());
            selection::choose(&self.sync, connection, &import, export)
                .await
                .map_err(selection::CalendarError::into_crm)?;
            Ok(())
        })
    }

    /// The user's busy blocks (`store::blocks_in_range`) in the window, each series expanded
    /// into its occurrences there (`threadline_calendar_core::recurrence`, in the series'
    /// zone): a cancelled occurrence left out, a moved one shown where it is now (its own
    /// block), one that is a CRM meeting now left to the meeting. A series that cannot be
    /// expanded is one busy time that repeats, without a time.
    fn busy_times<'a>(
        &'a self,
        conn: &'a mut Conn,
        actor: &'a Actor,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Vec<BusyTime>, CrmError>> {
        Box::pin(async move {
            let blocks =
                store::blocks_in_range(conn, actor.org_id, actor.user_id, from, to).await?;
            Ok(busy::expand(&blocks, from, to))
        })
    }

    fn convert_busy<'a>(
        &'a self,
        db: &'a Db,
        actor: &'a Actor,
        id: Uuid,
        occurrence: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<Uuid>, CrmError>> {
        Box::pin(async move {
            let mut conn = db.pool().acquire().await?;
            if store::block(&mut conn, actor.org_id, actor.user_id, id)
                .await?
                .is_none()
            {
                return Ok(None);
            }
            drop(conn);
            convert::busy(&self.sync, actor.org_id, actor.user_id, id, occurrence)
                .await
                .map(Some)
                .map_err(selection::CalendarError::into_crm)
        })
    }
}
