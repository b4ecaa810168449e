//! Integrations ("Marketplace"): one card per integration this server runs, from the
//! registry (`AppState::integrations()`): its title and line from [`Integration::card`], the
//! viewer's connection to its provider, the engine's state of that connection and of the
//! integration's schedule, the recent runs with their counts. A new integration appears
//! without a change here.
//!
//! Connect, disconnect, "sync now" and the review of a refused run call the same functions
//! as the API's routes (`threadline_http::routes::{oauth, connections, sync}`). A sync's
//! progress: `GET /integrations/{connection}/progress` (JSON, polled by `assets/app.js`);
//! without JavaScript, the page's Refresh link.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use serde::{Deserialize, Serialize};
use threadline_connections::oauth::pending::Asker;
use threadline_connections::{self as connections, Connection, Owner, Provider, Status};
use threadline_http::routes::{connections as api_connections, oauth, sync as api_sync};
use threadline_http::{ApiError, AppState};
use threadline_sync_engine::runs::{self, Run, RunStatus};
use threadline_sync_engine::schedule::{
    self, Paused, ReviewDecision, ScheduleView, SyncHealth, SyncState,
};
use threadline_sync_engine::Integration;
use uuid::Uuid;

use crate::error::WebError;
use crate::i18n::{Lang, Words};
use crate::layout::{render, Layout, Section};
use crate::session::CsrfForm;
use crate::session::Viewer;

/// How many runs of a connection are read for the history (then shared out by integration).
const RUNS_READ: u32 = 60;
/// How many runs each card shows.
const RUNS_SHOWN: usize = 5;

/// What a card says of its integration, first that applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardState {
    NotConnected,
    Disconnected,
    NeedsReauth,
    Review,
    Off,
    Syncing,
    Degraded,
    Ok,
}

impl CardState {
    /// The engine's state of the connection, refined by this integration's schedule (the
    /// engine's facts: its review pause, whether it is turned off, its run going).
    fn of(
        connection: Option<&Connection>,
        sync: Option<&SyncState>,
        schedule: Option<&ScheduleView>,
    ) -> CardState {
        let (Some(connection), Some(sync)) = (connection, sync) else {
            return CardState::NotConnected;
        };
        if connection.status == Status::Disconnected {
            return CardState::Disconnected;
        }
        if sync.state == SyncHealth::NeedsReauth {
            return CardState::NeedsReauth;
        }
        let Some(schedule) = schedule.filter(|s| !s.turned_off) else {
            return CardState::Off;
        };
        if schedule.paused == Some(Paused::Review) {
            return CardState::Review;
        }
        if schedule
            .current_run
            .as_ref()
            .is_some_and(|r| r.status.is_going())
        {
            return CardState::Syncing;
        }
        match sync.state {
            SyncHealth::Degraded => CardState::Degraded,
            _ => CardState::Ok,
        }
    }

    pub fn css(self) -> &'static str {
        match self {
            CardState::Ok => "state-ok",
            CardState::Syncing => "state-syncing",
            CardState::NotConnected | CardState::Disconnected | CardState::Off => "state-off",
            CardState::NeedsReauth | CardState::Review | CardState::Degraded => "state-problem",
        }
    }

    fn label(self, w: &Words) -> &'static str {
        match self {
            CardState::NotConnected => w.state_not_connected,
            CardState::Disconnected => w.state_disconnected,
            CardState::NeedsReauth => w.state_needs_reauth,
            CardState::Review => w.state_review,
            CardState::Off => w.state_off,
            CardState::Syncing => w.state_syncing,
            CardState::Degraded => w.state_degraded,
            CardState::Ok => w.state_ok,
        }
    }
}

/// A run as a row of a card.
pub struct RunRow {
    /// When it started (or is due): the stored RFC 3339 instant, written by the layout's clock.
    pub when_iso: String,
    pub status: &'static str,
    pub counts: String,
    pub error: Option<String>,
}

impl RunRow {
    fn of(run: &Run, w: &Words) -> RunRow {
        let when = run.started_at.as_deref().unwrap_or(&run.due_at);
        let c = &run.counts;
        let counts = format!(
            "{} {}, {} {}, {} {}, {} {}, {} {}",
            c.created,
            w.counts_created,
            c.updated,
            w.counts_updated,
            c.deleted,
            w.counts_deleted,
            c.unchanged,
            w.counts_unchanged,
            c.errors,
            w.counts_errors
        );
        RunRow {
            when_iso: when.to_string(),
            status: run_status(run.status, w),
            counts,
            error: run.error.clone(),
        }
    }
}

fn run_status(status: RunStatus, w: &Words) -> &'static str {
    match status {
        RunStatus::Queued => w.run_queued,
        RunStatus::Running => w.run_running,
        RunStatus::Ok => w.run_ok,
        RunStatus::Failed => w.run_failed,
        RunStatus::RefusedForReview => w.run_refused,
        RunStatus::Interrupted => w.run_interrupted,
    }
}

/// One integration's card.
pub struct CardView {
    pub name: &'static str,
    pub title: &'static str,
    pub summary: &'static str,
    pub provider: &'static str,
    pub provider_label: &'static str,
    pub state: CardState,
    pub state_label: &'static str,
    pub reason: Option<String>,
    pub connection_id: Option<Uuid>,
    pub account: Option<String>,
    pub next_run: Option<String>,
    pub runs: Vec<RunRow>,
    pub can_connect: bool,
    pub can_sync: bool,
    pub can_disconnect: bool,
    /// The user turns it on and off per connection: the button to offer (`Some(true)`:
    /// Turn on).
    pub switch_to: Option<bool>,
    /// The link to its choices for the connection ([`Integration::choices_label`]).
    pub choices: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "integrations/index.html")]
struct IntegrationsPage {
    l: Layout,
    w: &'static Words,
    cards: Vec<CardView>,
    notice: Option<&'static str>,
    problem: Option<String>,
}

/// On the way to a provider's consent screen: a link to this server's one-time start link.
/// Not a redirect of the form's POST: the page's CSP (`form-action 'self'`) forbids a form
/// to end at another origin, and the start link sends the browser on to the provider.
/// `app.js` follows it at once; without JavaScript it is one click.
#[derive(Template)]
#[template(path = "integrations/continue.html")]
struct ContinuePage {
    l: Layout,
    w: &'static Words,
    provider: &'static str,
    start_url: String,
}

pub(crate) fn to_provider(viewer: &Viewer, provider: Provider, start_url: String) -> Response {
    let w = viewer.words();
    render(&ContinuePage {
        l: Layout::for_viewer(viewer, w.integrations_title, Section::Integrations),
        w,
        provider: provider.label(),
        start_url,
    })
}

/// `?done=` after an action: what the page says about it.
#[derive(Debug, Default, Deserialize)]
pub struct Shown {
    done: Option<String>,
}

/// A lower layer's failure (the database's) as the server's fault.
fn internal<E: std::fmt::Display>(lang: Lang) -> impl Fn(E) -> WebError {
    move |e| WebError::Internal(lang, e.to_string())
}

/// An API-layer error (the shared functions' answer) as a page.
pub fn from_api(e: ApiError, lang: Lang) -> WebError {
    match e {
        ApiError::Request {
            status, message, ..
        } => match status.as_u16() {
            404 => WebError::NotFound(lang),
            403 => WebError::Forbidden(lang),
            _ => WebError::Refused(lang, status, message),
        },
        other => WebError::Internal(lang, other.to_string()),
    }
}

/// The viewer's connections by provider (the one not disconnected first: connecting again
/// reuses the row, so there is one per provider).
pub(crate) async fn viewer_connections(
    app: &AppState,
    viewer: &Viewer,
) -> Result<HashMap<Provider, Connection>, WebError> {
    let lang = viewer.lang;
    let mut conn = app.db().pool().acquire().await.map_err(internal(lang))?;
    let list = connections::list_for(&mut conn, Owner::from(&**viewer))
        .await
        .map_err(internal(lang))?;
    let mut by_provider: HashMap<Provider, Connection> = HashMap::new();
    for c in list {
        let keep = by_provider.get(&c.provider).is_none_or(|old| {
            old.status == Status::Disconnected && c.status != Status::Disconnected
        });
        if keep {
            by_provider.insert(c.provider, c);
        }
    }
    Ok(by_provider)
}

/// The cards, in the registry's order.
async fn cards(app: &AppState, viewer: &Viewer) -> Result<Vec<CardView>, WebError> {
    let lang = viewer.lang;
    let w = viewer.words();
    let by_provider = viewer_connections(app, viewer).await?;
    let mut states: HashMap<Uuid, (SyncState, Vec<Run>)> = HashMap::new();
    for connection in by_provider.values() {
        let mut tx = app.db().begin_read().await.map_err(internal(lang))?;
        let state = schedule::state(&mut tx, connection)
            .await
            .map_err(internal(lang))?;
        let runs = runs::list(&mut tx, connection.id, None, RUNS_READ)
            .await
            .map_err(internal(lang))?;
        tx.rollback().await.map_err(internal(lang))?;
        states.insert(connection.id, (state, runs));
    }
    let configured = |p: Provider| app.oauth().connector(p).is_ok();
    Ok(app
        .integrations()
        .iter()
        .map(|integration| {
            card(
                integration.as_ref(),
                &by_provider,
                &states,
                configured(integration.provider()),
                w,
            )
        })
        .collect())
}

fn card(
    integration: &dyn Integration,
    by_provider: &HashMap<Provider, Connection>,
    states: &HashMap<Uuid, (SyncState, Vec<Run>)>,
    configured: bool,
    w: &'static Words,
) -> CardView {
    let name = integration.name();
    let provider = integration.provider();
    let connection = by_provider.get(&provider);
    let found = connection.and_then(|c| states.get(&c.id));
    let sync = found.map(|(s, _)| s);
    let schedule = sync.and_then(|s| s.schedules.iter().find(|s| s.integration == name));
    let state = CardState::of(connection, sync, schedule);
    let reason = match state {
        CardState::Review => schedule.and_then(|s| s.paused_reason.clone()),
        CardState::NeedsReauth | CardState::Degraded | CardState::Disconnected => {
            sync.and_then(|s| s.reason.clone())
        }
        _ => None,
    };
    let runs = found
        .map(|(_, runs)| {
            runs.iter()
                .filter(|r| r.integration == name)
                .take(RUNS_SHOWN)
                .map(|r| RunRow::of(r, w))
                .collect()
        })
        .unwrap_or_default();
    let lang = w.lang.tag();
    let card = integration.card();
    let live = !matches!(state, CardState::NotConnected | CardState::Disconnected);
    CardView {
        name,
        title: card.title.get(lang),
        summary: card.summary.get(lang),
        provider: provider.as_str(),
        provider_label: provider.label(),
        state,
        state_label: state.label(w),
        reason,
        connection_id: connection.filter(|_| live).map(|c| c.id),
        account: connection.filter(|_| live).map(|c| {
            c.account_email
                .clone()
                .unwrap_or_else(|| c.account_id.clone())
        }),
        next_run: schedule
            .and_then(|s| s.next_run_at.as_deref())
            .filter(|_| live)
            .map(str::to_string),
        runs,
        can_connect: configured
            && matches!(
                state,
                CardState::NotConnected | CardState::Disconnected | CardState::NeedsReauth
            ),
        can_sync: matches!(
            state,
            CardState::Ok | CardState::Degraded | CardState::Syncing
        ),
        can_disconnect: live,
        switch_to: (integration.switchable() && live && state != CardState::NeedsReauth)
            .then_some(state == CardState::Off),
        choices: integration
            .choices_label()
            .filter(|_| live && state != CardState::NeedsReauth)
            .map(|l| l.get(lang)),
    }
}

pub async fn page(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(shown): Query<Shown>,
) -> Result<Response, WebError> {
    let w = viewer.words();
    let (notice, problem) = match shown.done.as_deref() {
        Some("sync") => (Some(w.sync_started), None),
        Some("disconnected") => (Some(w.disconnected_notice), None),
        Some("review") => (Some(w.review_done), None),
        Some("off") => (Some(w.turned_off_notice), None),
        Some("chosen") => (Some(w.choices_saved), None),
        Some("nothing") => (None, Some(w.nothing_to_sync.to_string())),
        _ => (None, None),
    };
    Ok(render(&IntegrationsPage {
        l: Layout::for_viewer(&viewer, w.integrations_title, Section::Integrations),
        w,
        cards: cards(&app, &viewer).await?,
        notice,
        problem,
    }))
}

#[derive(Debug, Deserialize)]
pub struct SyncForm {
    csrf: String,
    /// `planning`: back to the planning (its two-arrows button) instead of this page.
    back: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ReviewForm {
    csrf: String,
    decision: ReviewDecision,
}

/// Connect (or reconnect) `provider`: the API's flow, bound to this session; the browser is
/// sent to its one-time start link, which sends it on to the provider's consent screen.
pub async fn connect(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(provider): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let lang = viewer.lang;
    let provider = Provider::parse(&provider).map_err(|_| WebError::NotFound(lang))?;
    if app.integrations().of(provider).next().is_none() {
        return Err(WebError::NotFound(lang));
    }
    // Google's account chooser preselects the Threadline address (usually the Gmail one).
    let hint = (provider == Provider::Google).then_some(viewer.session.email.as_str());
    let asker = Asker::Session(viewer.session.id);
    let started = oauth::start_flow_for(&app, Owner::from(&*viewer), asker, provider, hint, &[])
        .await
        .map_err(|e| from_api(e, lang))?;
    Ok(to_provider(&viewer, provider, started.start_url))
}

/// The viewer's connection `id` (404 when it is not theirs).
pub(crate) async fn own(app: &AppState, viewer: &Viewer, id: Uuid) -> Result<Connection, WebError> {
    let lang = viewer.lang;
    let mut conn = app.db().pool().acquire().await.map_err(internal(lang))?;
    connections::get_for(&mut conn, Owner::from(&**viewer), id)
        .await
        .map_err(|e| match e {
            connections::Error::NotFound(_) => WebError::NotFound(lang),
            other => WebError::Internal(lang, other.to_string()),
        })
}

pub async fn disconnect(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    api_connections::disconnect_for(&app, Owner::from(&*viewer), id)
        .await
        .map_err(|e| from_api(e, viewer.lang))?;
    Ok(Redirect::to("/integrations?done=disconnected").into_response())
}

pub async fn sync_now(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
    Form(form): Form<SyncForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let connection = own(&app, &viewer, id).await?;
    let planning = form.back.as_deref() == Some("planning");
    match api_sync::sync_now_of(&app, connection.id).await {
        Ok(_) if planning => Ok(Redirect::to("/planning?done=sync").into_response()),
        Ok(_) => Ok(Redirect::to("/integrations?done=sync").into_response()),
        Err(ApiError::Request { status, .. }) if status.as_u16() == 409 => {
            let page = if planning {
                "/planning"
            } else {
                "/integrations"
            };
            Ok(Redirect::to(&format!("{page}?done=nothing")).into_response())
        }
        Err(e) => Err(from_api(e, viewer.lang)),
    }
}

pub async fn review(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
    Form(form): Form<ReviewForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let connection = own(&app, &viewer, id).await?;
    api_sync::review_of(&app, connection.id, form.decision)
        .await
        .map_err(|e| from_api(e, viewer.lang))?;
    Ok(Redirect::to("/integrations?done=review").into_response())
}

#[derive(Debug, Deserialize)]
pub struct SwitchForm {
    csrf: String,
    /// `on` or `off`.
    to: String,
}

/// Turns integration `name` on or off for connection `id`, as the API does
/// (`routes::sync::switch_of`): on without its scopes, the browser goes to the provider to
/// grant them.
pub async fn switch(
    State(app): State<AppState>,
    viewer: Viewer,
    Path((id, name)): Path<(Uuid, String)>,
    Form(form): Form<SwitchForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let lang = viewer.lang;
    let connection = own(&app, &viewer, id).await?;
    let Some(integration) = app
        .integrations()
        .iter()
        .find(|i| i.name() == name && i.switchable() && i.provider() == connection.provider)
    else {
        return Err(WebError::NotFound(lang));
    };
    let on = match form.to.as_str() {
        "on" => true,
        "off" => false,
        _ => return Err(WebError::NotFound(lang)),
    };
    let asker = (Owner::from(&*viewer), Asker::Session(viewer.session.id));
    let hint = connection.account_email.as_deref();
    let (_, authorization) =
        api_sync::switch_of(&app, asker, &connection, integration.as_ref(), on, hint)
            .await
            .map_err(|e| from_api(e, lang))?;
    let to = match authorization {
        Some(started) => return Ok(to_provider(&viewer, connection.provider, started.start_url)),
        None if on => format!("/integrations?done=sync#c-{id}-{name}"),
        None => "/integrations?done=off".to_string(),
    };
    Ok(Redirect::to(&to).into_response())
}

/// The progress of a connection's sync, for `assets/app.js`: whether a run is going, and a
/// line per integration run (in the viewer's words; the script sets it as text).
#[derive(Debug, Serialize)]
pub struct Progress {
    pub syncing: bool,
    pub lines: Vec<String>,
}

pub async fn progress(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let lang = viewer.lang;
    let w = viewer.words();
    let connection = own(&app, &viewer, id).await?;
    let mut tx = app.db().begin_read().await.map_err(internal(lang))?;
    let state = schedule::state(&mut tx, &connection)
        .await
        .map_err(internal(lang))?;
    tx.rollback().await.map_err(internal(lang))?;
    let mut syncing = false;
    let mut lines = Vec::new();
    for s in &state.schedules {
        let run = s.current_run.as_ref().or(s.last_run.as_ref());
        if let Some(run) = run {
            syncing |= run.status.is_going();
            let title = app
                .integrations()
                .iter()
                .find(|i| i.name() == s.integration)
                .map(|i| i.card().title.get(lang.tag()))
                .unwrap_or(s.integration.as_str());
            let row = RunRow::of(run, w);
            lines.push(format!("{title}: {} — {}", row.status, row.counts));
        }
    }
    Ok(Json(Progress { syncing, lines }).into_response())
}

/// The colour classes (`swatch-…` in app.css) and the index of their names in
/// [`Words::colours`]: a provider's colour is shown as a swatch and named in words.
pub const COLOURS: [&str; 10] = [
    "red", "orange", "yellow", "green", "teal", "blue", "purple", "pink", "brown", "grey",
];

/// The nearest of [`COLOURS`] to `#rrggbb` (by hue; grey when nearly unsaturated), as its
/// index; `None` for anything else.
pub fn colour_of(hex: &str) -> Option<usize> {
    let hex = hex.strip_prefix('#')?;
    if hex.len() != 6 || !hex.is_ascii() {
        return None;
    }
    let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok().map(f64::from);
    let (r, g, b) = (
        channel(0)? / 255.0,
        channel(2)? / 255.0,
        channel(4)? / 255.0,
    );
    let (max, min) = (r.max(g).max(b), r.min(g).min(b));
    let light = (max + min) / 2.0;
    let chroma = max - min;
    let saturation = if chroma == 0.0 {
        0.0
    } else {
        chroma / (1.0 - (2.0 * light - 1.0).abs())
    };
    if saturation < 0.15 || chroma < 0.08 {
        return Some(9);
    }
    let hue = if max == r {
        60.0 * ((g - b) / chroma).rem_euclid(6.0)
    } else if max == g {
        60.0 * ((b - r) / chroma + 2.0)
    } else {
        60.0 * ((r - g) / chroma + 4.0)
    };
    Some(match hue {
        h if (10.0..40.0).contains(&h) && light < 0.4 => 8,
        h if !(10.0..345.0).contains(&h) => 0,
        h if h < 40.0 => 1,
        h if h < 70.0 => 2,
        h if h < 160.0 => 3,
        h if h < 195.0 => 4,
        h if h < 255.0 => 5,
        h if h < 290.0 => 6,
        _ => 7,
    })
}

/// One tick box or radio button of the choices page.
pub struct OptionView {
    pub value: String,
    pub label: String,
    pub notes: String,
    /// (swatch class, colour name).
    pub colour: Option<(&'static str, &'static str)>,
    pub enabled: bool,
    pub chosen: bool,
}

pub struct GroupView {
    pub key: &'static str,
    pub legend: &'static str,
    pub hint: &'static str,
    pub many: bool,
    pub none: Option<&'static str>,
    pub none_chosen: bool,
    pub options: Vec<OptionView>,
}

#[derive(Template)]
#[template(path = "integrations/choices.html")]
struct ChoicesPage {
    l: Layout,
    w: &'static Words,
    heading: String,
    account: String,
    action: String,
    back: String,
    groups: Vec<GroupView>,
    /// Nothing to choose from (or the list could not be read).
    empty: bool,
    problem: Option<String>,
}

/// The viewer's connection `id` and its integration `name` that has choices (404 otherwise).
async fn with_choices(
    app: &AppState,
    viewer: &Viewer,
    id: Uuid,
    name: &str,
) -> Result<(Connection, std::sync::Arc<dyn Integration>), WebError> {
    let connection = own(app, viewer, id).await?;
    let integration = app
        .integrations()
        .iter()
        .find(|i| {
            i.name() == name && i.provider() == connection.provider && i.choices_label().is_some()
        })
        .cloned()
        .ok_or(WebError::NotFound(viewer.lang))?;
    if connection.status == Status::Disconnected {
        return Err(WebError::NotFound(viewer.lang));
    }
    Ok((connection, integration))
}

fn groups_of(choices: threadline_sync_engine::Choices, w: &'static Words) -> Vec<GroupView> {
    let tag = w.lang.tag();
    choices
        .groups
        .into_iter()
        .map(|g| GroupView {
            key: g.key,
            legend: g.legend.get(tag),
            hint: g.hint.get(tag),
            many: g.many,
            none: g.none.map(|n| n.get(tag)),
            none_chosen: !g.options.iter().any(|o| o.chosen),
            options: g
                .options
                .into_iter()
                .map(|o| OptionView {
                    notes: o
                        .notes
                        .iter()
                        .map(|n| n.get(tag))
                        .collect::<Vec<_>>()
                        .join(", "),
                    colour: o
                        .colour
                        .as_deref()
                        .and_then(colour_of)
                        .map(|i| (COLOURS[i], w.colours[i])),
                    value: o.value,
                    label: o.label,
                    enabled: o.enabled,
                    chosen: o.chosen,
                })
                .collect(),
        })
        .collect()
}

async fn choices_page(
    app: &AppState,
    viewer: &Viewer,
    id: Uuid,
    name: &str,
    problem: Option<String>,
) -> Result<Response, WebError> {
    let w = viewer.words();
    let (connection, integration) = with_choices(app, viewer, id, name).await?;
    let label = integration
        .choices_label()
        .map(|l| l.get(w.lang.tag()))
        .unwrap_or_default();
    let (groups, problem) = match integration.choices(connection.id).await {
        Ok(choices) => (groups_of(choices, w), problem),
        Err(e)
            if matches!(
                &e,
                threadline_crm::CrmError::Request {
                    reason: threadline_crm::Reason::Unavailable,
                    ..
                }
            ) =>
        {
            (Vec::new(), Some(w.choices_unavailable.to_string()))
        }
        Err(e) => return Err(WebError::crm(viewer.lang)(e)),
    };
    let title = integration.card().title.get(w.lang.tag());
    Ok(render(&ChoicesPage {
        l: Layout::for_viewer(viewer, label, Section::Integrations),
        w,
        heading: format!("{title}: {label}"),
        account: connection
            .account_email
            .clone()
            .unwrap_or_else(|| connection.account_id.clone()),
        action: format!("/integrations/{id}/choices/{name}"),
        back: format!("/integrations#c-{id}-{name}"),
        empty: groups.iter().all(|g| g.options.is_empty()),
        groups,
        problem,
    }))
}

/// The choices of integration `name` for connection `id` ([`Integration::choices`]): a form
/// with a group of tick boxes or radio buttons each.
pub async fn choices(
    State(app): State<AppState>,
    viewer: Viewer,
    Path((id, name)): Path<(Uuid, String)>,
) -> Result<Response, WebError> {
    choices_page(&app, &viewer, id, &name, None).await
}

/// Saves them ([`Integration::choose`]); a refused choice shows the form again with why.
pub async fn choose(
    State(app): State<AppState>,
    viewer: Viewer,
    Path((id, name)): Path<(Uuid, String)>,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    let mut csrf = String::new();
    let mut chosen = Vec::new();
    for (key, value) in form_urlencoded::parse(&body) {
        if key == "csrf" {
            csrf = value.into_owned();
        } else {
            chosen.push((key.into_owned(), value.into_owned()));
        }
    }
    viewer.check_csrf(&csrf)?;
    let (connection, integration) = with_choices(&app, &viewer, id, &name).await?;
    match integration.choose(connection.id, &chosen).await {
        Ok(()) => {
            Ok(Redirect::to(&format!("/integrations?done=chosen#c-{id}-{name}")).into_response())
        }
        Err(threadline_crm::CrmError::Request {
            reason: threadline_crm::Reason::Unacceptable | threadline_crm::Reason::Unavailable,
            message,
            ..
        }) => {
            let mut page = choices_page(&app, &viewer, id, &name, Some(message)).await?;
            *page.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            Ok(page)
        }
        Err(e) => Err(WebError::crm(viewer.lang)(e)),
    }
}
