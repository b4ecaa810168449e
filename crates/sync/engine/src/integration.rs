//! The seam every integration plugs into. An integration (Google Calendar today; Google
//! Contacts, Google Drive and Dropbox next) declares, in its own crate under
//! `crates/integrations/`, what the engine needs of it — its provider and scopes, its
//! schedule, its job, what happens when an account is connected or disconnected — by
//! implementing [`Integration`]; its HTTP routes are its own crate's too. The server's
//! registry (`crates/server/src/registry.rs`) lists them, one line each; nothing else names
//! an integration.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use threadline_connections::{self as connections, Connection, Provider};
use threadline_crm::{Actor, CrmError};
use threadline_storage::db::{BoxFuture, Conn, Db};
use uuid::Uuid;

use crate::{schedule, SyncJob, DEFAULT_INTERVAL, DEFAULT_JITTER};

/// One kind of sync that runs on a user's connection to a provider.
pub trait Integration: Any + Send + Sync {
    /// Its name in `sync_schedules.integration`: stored, so it never changes.
    fn name(&self) -> &'static str;

    /// The provider whose connection it runs on.
    fn provider(&self) -> Provider;

    /// The OAuth scopes it needs on that connection: asked for when a user connects, or, if
    /// it is not [`Integration::asked_at_connect`], when the user turns it on (with
    /// incremental authorization, the scopes granted before are kept either way).
    fn scopes(&self) -> &'static [&'static str];

    /// True (the default) when every connect flow asks for its scopes: it runs as soon as
    /// the account is connected. False for one the user turns on by itself (the Contacts
    /// export): its scopes are asked for then, by incremental authorization, so that
    /// connecting for the calendar does not ask for the user's contacts.
    fn asked_at_connect(&self) -> bool {
        true
    }

    /// What those scopes give, for the person connecting: "your calendars".
    fn scopes_label(&self) -> &'static str;

    /// Its card in the web app's Integrations page: a title and one line of what it does,
    /// in each of the app's languages (a new integration declares them, or does not build).
    fn card(&self) -> Card;

    /// Time between runs of a schedule.
    fn interval(&self) -> Duration {
        DEFAULT_INTERVAL
    }

    /// A run starts up to this much earlier or later than [`Integration::interval`] says.
    fn jitter(&self) -> Duration {
        DEFAULT_JITTER
    }

    /// The job the runner runs when one of its schedules is due.
    fn job(&self) -> Arc<dyn SyncJob>;

    /// True when `scopes` (a connection's granted scopes) hold every scope it needs. Google
    /// lets the user untick scopes on the consent screen.
    fn granted(&self, scopes: &[String]) -> bool {
        self.scopes()
            .iter()
            .all(|want| scopes.iter().any(|s| s == want))
    }

    /// After an account of its provider was connected, or connected again (inside the
    /// write transaction that follows the callback). By default: when the grant covers its
    /// scopes, its schedule is made (or resumed) and due now, so that the user sees their
    /// data without waiting for the interval; answers whether it did.
    fn on_connected<'a>(
        &'a self,
        conn: &'a mut Conn,
        connection: &'a Connection,
    ) -> BoxFuture<'a, Result<bool, connections::Error>> {
        Box::pin(async move {
            if !self.granted(&connection.scopes) {
                return Ok(false);
            }
            schedule::ensure(
                conn,
                connection.id,
                self.name(),
                self.interval(),
                self.jitter(),
            )
            .await?;
            schedule::resume_connection(conn, connection.id).await?;
            Ok(true)
        })
    }

    /// True for one the user turns on and off per connection (the Contacts export): the
    /// web app offers [`Integration::switch`] on its card. False by default.
    fn switchable(&self) -> bool {
        false
    }

    /// Turns it on or off for `connection` (in the caller's write transaction), for one that
    /// is [`Integration::switchable`]; by default it cannot be (`Off` is answered for
    /// either). When it answers [`Switched::WaitingForScope`], the caller sends the user to
    /// the provider for its scopes (incremental authorization).
    fn switch<'a>(
        &'a self,
        _conn: &'a mut Conn,
        _connection: &'a Connection,
        _on: bool,
    ) -> BoxFuture<'a, Result<Switched, connections::Error>> {
        Box::pin(async { Ok(Switched::Off) })
    }

    /// The label of the link to its choices for a connection ("Choose calendars"), for one
    /// that has [`Integration::choices`]; `None` (the default) for one without.
    fn choices_label(&self) -> Option<Localised> {
        None
    }

    /// What the user chooses for `connection` (which calendars), with what is chosen now:
    /// the web app shows it as a form (a group of tick boxes or of radio buttons each).
    /// Only for one with a [`Integration::choices_label`].
    fn choices<'a>(&'a self, _connection: Uuid) -> BoxFuture<'a, Result<Choices, CrmError>> {
        Box::pin(async { Err(CrmError::new(NOT_FOUND.0, NOT_FOUND.1, "no choices")) })
    }

    /// Stores the user's choices for `connection`: each ([`ChoiceGroup::key`], value) the
    /// form sent (a group of radio buttons sends one value, `""` for its `none`).
    fn choose<'a>(
        &'a self,
        _connection: Uuid,
        _chosen: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<(), CrmError>> {
        Box::pin(async { Err(CrmError::new(NOT_FOUND.0, NOT_FOUND.1, "no choices")) })
    }

    /// The busy times it imported for `actor` that overlap [`from`, `to`): the grey blocks
    /// of the web app's planning (a calendar's events). None by default. Only `actor`'s own:
    /// another user's busy times are never shown.
    fn busy_times<'a>(
        &'a self,
        _conn: &'a mut Conn,
        _actor: &'a Actor,
        _from: DateTime<Utc>,
        _to: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Vec<BusyTime>, CrmError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// Makes `actor`'s busy time `id` (one of its [`Integration::busy_times`]) a CRM meeting,
    /// or only its `occurrence` ([`BusyTime::occurrence`], one occurrence of a series): the
    /// meeting's id; `None` when `id` is none of this integration's.
    fn convert_busy<'a>(
        &'a self,
        _db: &'a Db,
        _actor: &'a Actor,
        _id: Uuid,
        _occurrence: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<Uuid>, CrmError>> {
        Box::pin(async { Ok(None) })
    }

    /// After the account was disconnected (its tokens are gone, its schedules skip it). By
    /// default nothing more: what was synced stays on both sides.
    fn on_disconnected<'a>(
        &'a self,
        _conn: &'a mut Conn,
        _connection_id: uuid::Uuid,
    ) -> BoxFuture<'a, Result<(), connections::Error>> {
        Box::pin(async { Ok(()) })
    }
}

const NOT_FOUND: (threadline_crm::Reason, &str) = (threadline_crm::Reason::NotFound, "not_found");

/// What the user chooses for a connection of an integration ([`Integration::choices`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choices {
    pub groups: Vec<ChoiceGroup>,
}

/// One question: tick boxes (`many`) or radio buttons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoiceGroup {
    /// The form field's name.
    pub key: &'static str,
    pub legend: Localised,
    pub hint: Localised,
    pub many: bool,
    /// Radio buttons: the label of choosing none of them (sent as `""`), if allowed.
    pub none: Option<Localised>,
    pub options: Vec<ChoiceOption>,
}

/// One tick box or radio button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoiceOption {
    pub value: String,
    /// As the provider names it (hostile text).
    pub label: String,
    /// Facts shown beside it ("primary", "read only").
    pub notes: Vec<Localised>,
    /// Its colour at the provider, `#rrggbb`.
    pub colour: Option<String>,
    /// False: shown, but it cannot be chosen (a read-only calendar to export to).
    pub enabled: bool,
    pub chosen: bool,
}

/// What [`Integration::switch`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switched {
    /// On, and due at once.
    On,
    /// On, but the connection lacks its scopes: it runs once a grant has them.
    WaitingForScope,
    Off,
}

/// A busy time of a user's outside calendar, as the planning shows it: its time, and a title
/// only when the user may see one (a private event has none: "Busy").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusyTime {
    pub id: Uuid,
    pub title: Option<String>,
    /// Timed: its start and end.
    pub start_at: Option<DateTime<Utc>>,
    pub end_at: Option<DateTime<Utc>>,
    /// All-day: the first day and the day after the last.
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    /// One occurrence of a repeating series; or, with no time, a series that could not be
    /// expanded (shown apart).
    pub repeats: bool,
    /// For an occurrence of a series: its name for [`Integration::convert_busy`] (where the
    /// series puts it).
    pub occurrence: Option<String>,
    /// [`Integration::convert_busy`] can make it a meeting.
    pub convertible: bool,
}

/// A text in each of the web app's languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Localised {
    pub en: &'static str,
    pub nl: &'static str,
    pub de: &'static str,
}

impl Localised {
    /// The text in language `tag` (`en`, `nl`, `de`); English for any other.
    pub fn get(&self, tag: &str) -> &'static str {
        match tag {
            "nl" => self.nl,
            "de" => self.de,
            _ => self.en,
        }
    }
}

/// What the web app's Integrations page shows of an integration ([`Integration::card`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Card {
    /// Its name for people: "Google Calendar".
    pub title: Localised,
    /// One line of what it does.
    pub summary: Localised,
}

/// How an integration is built from the configuration: `None` when its provider is not
/// configured; the error says what is wrong with the configuration.
pub type Build = fn(&BuildContext) -> Result<Option<Arc<dyn Integration>>, String>;

/// What an integration is built from when the server starts.
pub struct BuildContext {
    pub db: threadline_storage::Db,
    /// Valid access tokens of connections (the OAuth token source).
    pub tokens: Arc<dyn crate::AccessTokens>,
    /// The providers' OAuth clients and endpoints as configured.
    pub oauth: Arc<threadline_connections::oauth::OAuth>,
    /// Where document contents are stored (`None` without a data directory: the document
    /// syncs do not run then).
    pub blobs: Option<threadline_crm::documents::blobs::BlobStore>,
}

/// The integrations this server runs, in the registry's order. Cheap to clone (the HTTP
/// state, which holds it, is cloned for every request).
#[derive(Clone)]
pub struct Integrations {
    list: Arc<[Arc<dyn Integration>]>,
}

impl Default for Integrations {
    fn default() -> Self {
        Integrations::new(Vec::new())
    }
}

impl Integrations {
    pub fn new(list: Vec<Arc<dyn Integration>>) -> Integrations {
        Integrations { list: list.into() }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Integration>> {
        self.list.iter()
    }

    /// Those that run on `provider`'s connections.
    pub fn of(&self, provider: Provider) -> impl Iterator<Item = &Arc<dyn Integration>> {
        self.list.iter().filter(move |i| i.provider() == provider)
    }

    /// The integration of type `T`, if this server runs it: how an integration's routes
    /// find their own state.
    pub fn get<T: Integration>(&self) -> Option<&T> {
        self.list
            .iter()
            .find_map(|i| (i.as_ref() as &dyn Any).downcast_ref::<T>())
    }

    /// The scopes a connect flow for `provider` asks for: those of its integrations
    /// [`Integration::asked_at_connect`], each once, in order.
    pub fn connect_scopes(&self, provider: Provider) -> Vec<&'static str> {
        let mut scopes: Vec<&'static str> = Vec::new();
        for scope in self
            .of(provider)
            .filter(|i| i.asked_at_connect())
            .flat_map(|i| i.scopes().iter().copied())
        {
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        scopes
    }
}
