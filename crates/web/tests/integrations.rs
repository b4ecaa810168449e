//! The Integrations page over a real database (SQLite, or PostgreSQL with
//! `THREADLINE_TEST_DATABASE_URL`): cards from the registry (a test integration registered
//! here appears without the page naming it), each viewer's own connections only, connect
//! through the API's flow bound to the session, sync now with its progress, the review of a
//! refused run, disconnect; every string from a provider or a run escaped.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use threadline_connections::oauth::google::{GoogleConfig, GoogleEndpoints};
use threadline_connections::oauth::pending::{self, Opened};
use threadline_connections::oauth::OAuth;
use threadline_connections::{self as connections, Connection, Grant, Owner, Provider, Status};
use threadline_crm::accounts::{self, sessions, NewUser, OrgChoice};
use threadline_crm::CrmError;
use threadline_http::AppState;
use threadline_storage::db::{BoxFuture, Conn, Db};
use threadline_storage::secrets::{new_key_line, Keyring, SecretString};
use threadline_sync_engine::schedule::{self, Outcome};
use threadline_sync_engine::{
    Card, ChoiceGroup, ChoiceOption, Choices, Counts, Integration, JobContext, JobError, Localised,
    Switched, SyncJob,
};
use uuid::Uuid;

use support::{csrf_of, Site};

const HOSTILE: &str = "<img src=x onerror=alert(1)>\"'&\u{202e}evil";
const ESCAPED: &str = "&#60;img src=x onerror=alert(1)&#62;&#34;&#39;&#38;\u{202e}evil";

/// An integration only this test has: the page must show it from the registry.
struct Probe;

struct ProbeJob;

impl SyncJob for ProbeJob {
    fn integration(&self) -> &'static str {
        "probe_sync"
    }

    fn run<'a>(&'a self, _ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async { Ok(()) })
    }
}

impl Integration for Probe {
    fn name(&self) -> &'static str {
        "probe_sync"
    }

    fn provider(&self) -> Provider {
        Provider::Google
    }

    fn scopes(&self) -> &'static [&'static str] {
        &["https://example.com/probe"]
    }

    fn scopes_label(&self) -> &'static str {
        "your probes"
    }

    fn card(&self) -> Card {
        Card {
            title: Localised {
                en: "Probe Sync",
                nl: "Sonde-synchronisatie",
                de: "Sondensynchronisation",
            },
            summary: Localised {
                en: "Probes both ways.",
                nl: "Sondes beide kanten op.",
                de: "Sonden in beide Richtungen.",
            },
        }
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(3600)
    }

    fn job(&self) -> Arc<dyn SyncJob> {
        Arc::new(ProbeJob)
    }

    fn choices_label(&self) -> Option<Localised> {
        Some(Localised {
            en: "Choose probes",
            nl: "Sondes kiezen",
            de: "Sonden wählen",
        })
    }

    /// Three probes: a hostile name (teal, primary), "Team" (red), one that cannot be
    /// chosen; what is chosen, as [`Probe::choose`] kept it for the connection.
    fn choices<'a>(&'a self, connection: Uuid) -> BoxFuture<'a, Result<Choices, CrmError>> {
        Box::pin(async move {
            let chosen = CHOSEN
                .lock()
                .unwrap()
                .get(&connection)
                .cloned()
                .unwrap_or_default();
            let is = |key: &str, value: &str| chosen.iter().any(|(k, v)| k == key && v == value);
            let option =
                |value: &str, label: &str, colour: &str, enabled, key: &str| ChoiceOption {
                    value: value.to_string(),
                    label: label.to_string(),
                    notes: if value == "p1" {
                        vec![PRIMARY]
                    } else {
                        Vec::new()
                    },
                    colour: Some(colour.to_string()),
                    enabled,
                    chosen: is(key, value),
                };
            let group = |key: &'static str, many: bool| ChoiceGroup {
                key,
                legend: Localised {
                    en: "Which probes",
                    nl: "Welke sondes",
                    de: "Welche Sonden",
                },
                hint: Localised {
                    en: "Probe hint.",
                    nl: "Sondehint.",
                    de: "Sondenhinweis.",
                },
                many,
                none: (!many).then_some(Localised {
                    en: "No probe",
                    nl: "Geen sonde",
                    de: "Keine Sonde",
                }),
                options: vec![
                    option("p1", HOSTILE, "#9fe1e7", true, key),
                    option("p2", "Team", "#d50000", true, key),
                    option("p3", "Locked", "#616161", false, key),
                ],
            };
            Ok(Choices {
                groups: vec![group("watch", true), group("target", false)],
            })
        })
    }

    /// Keeps what was sent; refuses probe `p3` as the model refuses a calendar it cannot use.
    fn choose<'a>(
        &'a self,
        connection: Uuid,
        chosen: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<(), CrmError>> {
        Box::pin(async move {
            if chosen.iter().any(|(_, v)| v == "p3") {
                return Err(CrmError::invalid(
                    "watch",
                    format!("{HOSTILE} cannot be chosen"),
                ));
            }
            CHOSEN.lock().unwrap().insert(connection, chosen.to_vec());
            Ok(())
        })
    }
}

const PRIMARY: Localised = Localised {
    en: "primary",
    nl: "hoofd",
    de: "Haupt",
};

/// What [`Probe::choose`] kept, by connection.
static CHOSEN: std::sync::LazyLock<std::sync::Mutex<Chosen>> =
    std::sync::LazyLock::new(Default::default);

type Chosen = std::collections::HashMap<Uuid, Vec<(String, String)>>;

/// An integration the user turns on and off per connection (as the Contacts export).
struct Toggle;

const TOGGLE_SCOPE: &str = "https://example.com/toggle";

impl Integration for Toggle {
    fn name(&self) -> &'static str {
        "toggle_sync"
    }

    fn provider(&self) -> Provider {
        Provider::Google
    }

    fn scopes(&self) -> &'static [&'static str] {
        &[TOGGLE_SCOPE]
    }

    fn asked_at_connect(&self) -> bool {
        false
    }

    fn scopes_label(&self) -> &'static str {
        "your toggles"
    }

    fn card(&self) -> Card {
        let title = Localised {
            en: "Toggle Export",
            nl: "Schakelexport",
            de: "Schaltexport",
        };
        Card {
            title,
            summary: title,
        }
    }

    fn job(&self) -> Arc<dyn SyncJob> {
        Arc::new(ProbeJob)
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
        Box::pin(async move {
            if !on {
                schedule::turn_off(conn, connection.id, self.name()).await?;
                return Ok(Switched::Off);
            }
            if !self.granted(&connection.scopes) {
                return Ok(Switched::WaitingForScope);
            }
            let (interval, jitter) = (self.interval(), self.jitter());
            schedule::turn_on(conn, connection.id, self.name(), interval, jitter).await?;
            Ok(Switched::On)
        })
    }
}

struct World {
    site: Site,
    keys: Keyring,
}

fn google() -> GoogleConfig {
    GoogleConfig {
        client_id: "client.apps.googleusercontent.com".into(),
        client_secret: SecretString::from("secret".to_string()),
        redirect_url: "http://127.0.0.1:8787/oauth/google/callback"
            .parse()
            .unwrap(),
        endpoints: GoogleEndpoints::all_at("http://127.0.0.1:9").unwrap(),
    }
}

async fn world() -> World {
    let key_line = new_key_line().unwrap();
    let keys = Keyring::parse(&key_line, "test keys").unwrap();
    let site = Site::with_state(move |db| {
        AppState::new(db)
            .with_keyring(Keyring::parse(&key_line, "test keys").unwrap())
            .with_oauth(OAuth::with_google(google()).unwrap())
            .with_integration(Probe)
            .with_integration(Toggle)
    })
    .await;
    World { site, keys }
}

/// A user (of the first organisation, or of a new one) signed in: (user, cookie).
async fn signed_in(db: &Db, email: &str, org: OrgChoice) -> (NewUser, String) {
    let user = accounts::add_user(db, org, email, "Someone", &[])
        .await
        .unwrap();
    let session = sessions::create_session(db, user.id, "test", chrono::Utc::now())
        .await
        .unwrap();
    (user, format!("threadline={}", session.cookie_value))
}

/// A Google connection of `user` with the probe's schedule: its id.
async fn connect(world: &World, user: &NewUser, account: &str) -> Uuid {
    connect_with(world, user, account, &["https://example.com/probe"]).await
}

async fn connect_with(world: &World, user: &NewUser, account: &str, scopes: &[&str]) -> Uuid {
    let owner = Owner {
        org_id: user.org_id,
        user_id: user.id,
    };
    let grant = Grant {
        provider: Provider::Google,
        account_id: format!("g-{account}"),
        account_email: Some(account.to_string()),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        access_token: SecretString::from("ya29.access".to_string()),
        refresh_token: Some(SecretString::from("1//refresh".to_string())),
        access_token_expires_at: None,
    };
    let (keys, grant) = (&world.keys, &grant);
    world
        .site
        .db
        .write(|tx| {
            Box::pin(async move {
                let connection = connections::upsert(tx, keys, owner, grant)
                    .await?
                    .connection;
                schedule::ensure(
                    tx,
                    connection.id,
                    "probe_sync",
                    Duration::from_secs(3600),
                    Duration::ZERO,
                )
                .await?;
                Ok::<_, connections::Error>(connection.id)
            })
        })
        .await
        .unwrap()
}

/// Runs the connection's due probe run to its end with `outcome`, as a runner would.
async fn run_due(db: &Db, outcome: Outcome, counts: Counts) {
    let outcome = &outcome;
    let counts = &counts;
    db.write(|tx| {
        Box::pin(async move {
            let claimed =
                schedule::claim_due(tx, "test", &["probe_sync"], 10, Duration::from_secs(300))
                    .await?;
            assert_eq!(claimed.len(), 1, "one probe run is due");
            schedule::finish(tx, &claimed[0], "test", outcome, counts).await?;
            Ok::<_, connections::Error>(())
        })
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn each_viewer_sees_the_registry_cards_and_only_their_own_connections() {
    let w = world().await;
    let (ann, ann_cookie) = signed_in(&w.site.db, "ann@example.com", OrgChoice::Default).await;
    let (bob, bob_cookie) = signed_in(&w.site.db, "bob@example.com", OrgChoice::Default).await;
    let (eve, eve_cookie) = signed_in(
        &w.site.db,
        "eve@other.example",
        OrgChoice::New("Other".into()),
    )
    .await;
    let ann_connection = connect(&w, &ann, "ann-google@example.com").await;
    let eve_connection = connect(&w, &eve, "eve-google@other.example").await;
    let _ = bob;

    // Ann: the probe's card, from the registry, connected as her account, with Sync now.
    let page = w.site.get("/integrations", Some(&ann_cookie)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Probe Sync") && page.body.contains("Probes both ways."));
    assert!(page.body.contains(r#"aria-current="page">Integrations"#));
    assert!(page.body.contains("ann-google@example.com"));
    assert!(page
        .body
        .contains(&format!("/integrations/{ann_connection}/sync")));
    assert!(!page.body.contains("eve-google@other.example"));
    assert!(page.body.contains("No runs yet."));

    // Bob, a colleague: not connected; Connect, and nothing of Ann's.
    let page = w.site.get("/integrations", Some(&bob_cookie)).await;
    assert!(page.body.contains("Not connected"));
    assert!(page
        .body
        .contains(r#"action="/integrations/connect/google""#));
    assert!(!page.body.contains("ann-google@example.com"));
    assert!(!page.body.contains(&ann_connection.to_string()));

    // Another organisation's user sees their own only.
    let page = w.site.get("/integrations", Some(&eve_cookie)).await;
    assert!(page.body.contains("eve-google@other.example"));
    assert!(!page.body.contains("ann-google@example.com"));

    // Nobody acts on another's connection: 404, as a missing one; the connection stays.
    let csrf = csrf_of(&w.site.get("/integrations", Some(&eve_cookie)).await.body);
    for action in ["sync", "disconnect"] {
        let refused = act(&w, ann_connection, action, &eve_cookie, &csrf).await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "{action}");
    }
    let progress = w
        .site
        .get(
            &format!("/integrations/{ann_connection}/progress"),
            Some(&bob_cookie),
        )
        .await;
    assert_eq!(progress.status, StatusCode::NOT_FOUND);
    let page = w.site.get("/integrations", Some(&ann_cookie)).await;
    assert!(page.body.contains("Working"));
    let _ = eve_connection;

    // The page in Dutch: the card's own words.
    sessions::set_language(&w.site.db, ann.id, Some("nl"))
        .await
        .unwrap();
    let page = w.site.get("/integrations", Some(&ann_cookie)).await;
    assert!(page.body.contains("Sonde-synchronisatie"));
    assert!(page.body.contains("Nu synchroniseren"));
}

#[tokio::test]
async fn sync_now_shows_progress_then_the_run_with_its_counts_and_a_review() {
    let w = world().await;
    let (ann, cookie) = signed_in(&w.site.db, "ann@example.com", OrgChoice::Default).await;
    let id = connect(&w, &ann, HOSTILE).await;
    let csrf = csrf_of(&w.site.get("/integrations", Some(&cookie)).await.body);

    // Without the session's CSRF token: refused, nothing queued.
    let refused = act(&w, id, "sync", &cookie, "forged").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let sync = act(&w, id, "sync", &cookie, &csrf).await;
    assert_eq!(sync.status, StatusCode::SEE_OTHER);
    assert_eq!(sync.location.as_deref(), Some("/integrations?done=sync"));
    let page = w.site.get("/integrations?done=sync", Some(&cookie)).await;
    assert!(page.body.contains("The sync has started"));
    assert!(page.body.contains("Syncing…"));
    assert!(page.body.contains("Waiting to start"));
    assert!(page.body.contains(r#"class="refresh""#));
    // The account's hostile address is text.
    assert!(page.body.contains(ESCAPED), "{}", page.body);
    assert!(!page.body.contains("<img src=x"));

    let progress = w
        .site
        .get(&format!("/integrations/{id}/progress"), Some(&cookie))
        .await;
    assert_eq!(progress.status, StatusCode::OK);
    let answer: serde_json::Value = serde_json::from_str(&progress.body).unwrap();
    assert_eq!(answer["syncing"], true);
    assert!(answer["lines"][0]
        .as_str()
        .unwrap()
        .starts_with("Probe Sync: Waiting to start"));

    // The runner refuses the run for a review, with a hostile reason.
    let counts = Counts {
        created: 3,
        updated: 2,
        unchanged: 40,
        ..Counts::default()
    };
    run_due(
        &w.site.db,
        Outcome::RefusedForReview(format!("would delete 30 of 45 events {HOSTILE}")),
        counts,
    )
    .await;
    let answer: serde_json::Value = serde_json::from_str(
        &w.site
            .get(&format!("/integrations/{id}/progress"), Some(&cookie))
            .await
            .body,
    )
    .unwrap();
    assert_eq!(answer["syncing"], false);
    let page = w.site.get("/integrations", Some(&cookie)).await;
    assert!(page.body.contains("Waiting for your review"));
    assert!(page.body.contains("Stopped for review"));
    assert!(page
        .body
        .contains("3 created, 2 updated, 0 deleted, 40 unchanged, 0 errors"));
    assert!(page
        .body
        .contains(&format!("would delete 30 of 45 events {ESCAPED}")));
    assert!(
        page.body.contains(r#"value="check_again""#)
            && page.body.contains(r#"value="apply_anyway""#)
    );
    assert!(
        !page.body.contains(&format!("/integrations/{id}/sync")),
        "no Sync now while it waits"
    );

    // Sync now while it waits: nothing to run, said so.
    let nothing = act(&w, id, "sync", &cookie, &csrf).await;
    assert_eq!(
        nothing.location.as_deref(),
        Some("/integrations?done=nothing")
    );

    // The review resumes it with a queued run.
    let review = w
        .site
        .post(
            &format!("/integrations/{id}/review"),
            Some(&cookie),
            &[("csrf", &csrf), ("decision", "check_again")],
        )
        .await;
    assert_eq!(review.status, StatusCode::SEE_OTHER);
    let page = w.site.get("/integrations?done=review", Some(&cookie)).await;
    assert!(page.body.contains("Your choice is saved"));
    assert!(page.body.contains("Syncing…"));
    run_due(&w.site.db, Outcome::Ok, Counts::default()).await;
    let page = w.site.get("/integrations", Some(&cookie)).await;
    assert!(page.body.contains("Working"));
    assert!(page.body.contains("Next run"));
}

/// Posts the form of action `action` (`sync`, `disconnect`) of connection `id`.
async fn act(w: &World, id: Uuid, action: &str, cookie: &str, csrf: &str) -> support::Answer {
    let path = format!("/integrations/{id}/{action}");
    w.site.post(&path, Some(cookie), &[("csrf", csrf)]).await
}

/// The start link a Connect (or a Turn on without the scope) answers: a page whose link the
/// browser follows (a form may not end at another origin), not a redirect.
fn start_link(answer: &support::Answer) -> String {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let at = answer.body.find("data-continue").expect("a link onwards");
    let before = &answer.body[..at];
    let href = &before[before.rfind("href=\"").unwrap() + 6..];
    href[..href.find('"').unwrap()].to_string()
}

/// Opens a start link as the browser would (`GET /oauth/google/start`, the API's route).
async fn open_link(w: &World, secret: String) -> Opened {
    let (keys, secret) = (&w.keys, &SecretString::from(secret));
    w.site
        .db
        .write(|tx| {
            Box::pin(async move { pending::open(tx, keys, secret, Provider::Google).await })
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn connecting_starts_the_api_flow_bound_to_the_session_and_disconnecting_keeps_the_data() {
    let w = world().await;
    let (ann, cookie) = signed_in(&w.site.db, "ann@example.com", OrgChoice::Default).await;
    let csrf = csrf_of(&w.site.get("/integrations", Some(&cookie)).await.body);

    // A provider no integration runs on: 404.
    let dropbox = w
        .site
        .post(
            "/integrations/connect/dropbox",
            Some(&cookie),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(dropbox.status, StatusCode::NOT_FOUND);

    // Connect: to this server's one-time start link of the same flow as the API's.
    let started = w
        .site
        .post(
            "/integrations/connect/google",
            Some(&cookie),
            &[("csrf", &csrf)],
        )
        .await;
    let location = start_link(&started);
    assert!(
        location.starts_with("http://127.0.0.1:8787/oauth/google/start?flow="),
        "{location}"
    );
    let secret = location.split("flow=").nth(1).unwrap().to_string();

    // A second flow, then signing out: the session's flow no longer opens.
    let again = w
        .site
        .post(
            "/integrations/connect/google",
            Some(&cookie),
            &[("csrf", &csrf)],
        )
        .await;
    let second = start_link(&again)
        .split("flow=")
        .nth(1)
        .unwrap()
        .to_string();
    assert!(matches!(
        open_link(&w, secret).await,
        Opened::Started { .. }
    ));
    let out = w
        .site
        .post("/sign-out", Some(&cookie), &[("csrf", &csrf)])
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(matches!(open_link(&w, second).await, Opened::TokenRevoked));

    // Disconnect (signed in again): the connection is disconnected, the page says what stays.
    let session = sessions::create_session(&w.site.db, ann.id, "test", chrono::Utc::now())
        .await
        .unwrap();
    let cookie = format!("threadline={}", session.cookie_value);
    let id = connect(&w, &ann, "ann-google@example.com").await;
    let page = w.site.get("/integrations", Some(&cookie)).await;
    assert!(page.body.contains("What was synced stays on both sides"));
    let csrf = csrf_of(&page.body);
    let done = act(&w, id, "disconnect", &cookie, &csrf).await;
    assert_eq!(
        done.location.as_deref(),
        Some("/integrations?done=disconnected")
    );
    let page = w
        .site
        .get("/integrations?done=disconnected", Some(&cookie))
        .await;
    assert!(page.body.contains("What was synced stays in Threadline"));
    assert!(page.body.contains("Disconnected"));
    assert!(page
        .body
        .contains(r#"action="/integrations/connect/google""#));
    let mut conn = w.site.db.pool().acquire().await.unwrap();
    let owner = Owner {
        org_id: ann.org_id,
        user_id: ann.id,
    };
    let stored = connections::get_for(&mut conn, owner, id).await.unwrap();
    assert_eq!(stored.status, Status::Disconnected);
}

#[tokio::test]
async fn an_integration_turned_on_per_connection_asks_for_its_scope_then_runs_and_turns_off() {
    let w = world().await;
    let (ann, cookie) = signed_in(&w.site.db, "ann@example.com", OrgChoice::Default).await;
    let id = connect(&w, &ann, "ann-google@example.com").await;
    let page = w.site.get("/integrations", Some(&cookie)).await;
    let action = format!("/integrations/{id}/switch/toggle_sync");
    assert!(page.body.contains("Toggle Export"));
    assert!(page.body.contains(&action) && page.body.contains(r#"value="on""#));
    let csrf = csrf_of(&page.body);

    // Without its scope: to the provider, through a flow bound to this session.
    let on = [("csrf", csrf.as_str()), ("to", "on")];
    let asked = w.site.post(&action, Some(&cookie), &on).await;
    let location = start_link(&asked);
    assert!(location.contains("/oauth/google/start?flow="), "{location}");
    let secret = location.split("flow=").nth(1).unwrap().to_string();
    let Opened::Started {
        authorization_url, ..
    } = open_link(&w, secret).await
    else {
        panic!("the flow does not open");
    };
    use threadline_storage::secrets::ExposeSecret;
    assert!(authorization_url
        .expose_secret()
        .contains("example.com%2Ftoggle"));

    // Granted (connected again with it): on, due at once; then off, and it says what stays.
    let both = ["https://example.com/probe", TOGGLE_SCOPE];
    connect_with(&w, &ann, "ann-google@example.com", &both).await;
    let done = w.site.post(&action, Some(&cookie), &on).await;
    assert_eq!(
        done.location.as_deref(),
        Some(format!("/integrations?done=sync#c-{id}-toggle_sync").as_str())
    );
    let page = w.site.get("/integrations", Some(&cookie)).await;
    assert!(page.body.contains(r#"value="off""#));
    let off = [("csrf", csrf.as_str()), ("to", "off")];
    let done = w.site.post(&action, Some(&cookie), &off).await;
    assert_eq!(done.location.as_deref(), Some("/integrations?done=off"));
    let page = w.site.get("/integrations?done=off", Some(&cookie)).await;
    assert!(page
        .body
        .contains("Turned off. What it synced so far stays"));
    assert!(page.body.contains(r#"value="on""#));

    // One that is not switchable: 404.
    let probe = format!("/integrations/{id}/switch/probe_sync");
    let refused = w.site.post(&probe, Some(&cookie), &on).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_choices_of_a_connection_are_a_form_of_tick_boxes_and_radio_buttons() {
    let w = world().await;
    let (ann, cookie) = signed_in(&w.site.db, "ann@example.com", OrgChoice::Default).await;
    let (_, eve_cookie) = signed_in(
        &w.site.db,
        "eve@other.example",
        OrgChoice::New("Other".into()),
    )
    .await;
    let id = connect(&w, &ann, "ann-google@example.com").await;
    let path = format!("/integrations/{id}/choices/probe_sync");

    // The card links to them (the registry's label); the Toggle card, without, does not.
    let page = w.site.get("/integrations", Some(&cookie)).await;
    assert!(
        page.body.contains(&format!(r#"href="{path}""#)) && page.body.contains("Choose probes")
    );
    assert!(!page.body.contains("/choices/toggle"));

    // The form: a group of tick boxes, one of radio buttons with "none" chosen; the hostile
    // name escaped; each colour named in words; the locked one shown but not choosable.
    let page = w.site.get(&path, Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains(ESCAPED) && !page.body.contains(HOSTILE));
    assert!(page
        .body
        .contains(r#"type="checkbox" name="watch" value="p1""#));
    assert!(page
        .body
        .contains(r#"type="radio" name="target" value="p2""#));
    assert!(page.body.contains(r#"name="target" value="" checked"#));
    assert!(page.body.contains("colour: teal; primary") && page.body.contains("colour: red"));
    assert!(page.body.contains(r#"class="swatch swatch-teal""#));
    assert!(page.body.contains(r#"value="p3" disabled"#));
    assert!(page.body.contains("<legend>Which probes</legend>"));

    // Saved: every ticked box and the radio's value; the page shows them chosen.
    let csrf = csrf_of(&page.body);
    let form = [
        ("csrf", csrf.as_str()),
        ("watch", "p1"),
        ("watch", "p2"),
        ("target", "p2"),
    ];
    let saved = w.site.post(&path, Some(&cookie), &form).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(
        saved.location.as_deref(),
        Some(format!("/integrations?done=chosen#c-{id}-probe_sync").as_str())
    );
    let kept = CHOSEN.lock().unwrap().get(&id).cloned().unwrap();
    let pairs = |v: &[(&str, &str)]| {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        kept,
        pairs(&[("watch", "p1"), ("watch", "p2"), ("target", "p2")])
    );
    let page = w.site.get(&path, Some(&cookie)).await;
    assert!(page.body.contains(r#"name="watch" value="p2" checked"#));
    assert!(page.body.contains(r#"name="target" value="p2" checked"#));
    assert!(!page.body.contains(r#"name="target" value="" checked"#));
    let done = w.site.get("/integrations?done=chosen", Some(&cookie)).await;
    assert!(done.body.contains("Saved. The next sync uses your choice."));

    // A refused choice: the form again, saying why (escaped); nothing changed.
    let form = [("csrf", csrf.as_str()), ("watch", "p3")];
    let refused = w.site.post(&path, Some(&cookie), &form).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused
        .body
        .contains(&format!("{ESCAPED} cannot be chosen")));
    assert_eq!(CHOSEN.lock().unwrap().get(&id).unwrap().len(), 3);

    // Without the session's CSRF token, or as someone else: refused, nothing changed.
    let form = [("csrf", "forged"), ("watch", "p1")];
    let forged = w.site.post(&path, Some(&cookie), &form).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let eve_csrf = csrf_of(&w.site.get("/integrations", Some(&eve_cookie)).await.body);
    let form = [("csrf", eve_csrf.as_str()), ("watch", "p1")];
    let other = w.site.post(&path, Some(&eve_cookie), &form).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(
        w.site.get(&path, Some(&eve_cookie)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(CHOSEN.lock().unwrap().get(&id).unwrap().len(), 3);

    // An integration without choices has no such page.
    let none = w
        .site
        .get(&format!("/integrations/{id}/choices/toggle"), Some(&cookie))
        .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);

    // In German, the card's own words and the colours' names.
    sessions::set_language(&w.site.db, ann.id, Some("de"))
        .await
        .unwrap();
    let page = w.site.get(&path, Some(&cookie)).await;
    assert!(page.body.contains("Farbe: Türkis; Haupt") && page.body.contains("Welche Sonden"));
}

#[test]
fn a_colour_is_named_by_its_nearest_hue() {
    use threadline_web::pages::integrations::{colour_of, COLOURS};
    let name = |hex| colour_of(hex).map(|i| COLOURS[i]);
    // Google's calendar palette, a few of them.
    assert_eq!(name("#d50000"), Some("red"));
    assert_eq!(name("#f4511e"), Some("orange"));
    assert_eq!(name("#f6bf26"), Some("yellow"));
    assert_eq!(name("#0b8043"), Some("green"));
    assert_eq!(name("#9fe1e7"), Some("teal"));
    assert_eq!(name("#4285f4"), Some("blue"));
    assert_eq!(name("#8e24aa"), Some("purple"));
    assert_eq!(name("#e67c73"), Some("red"));
    assert_eq!(name("#ad1457"), Some("pink"));
    assert_eq!(name("#795548"), Some("brown"));
    assert_eq!(name("#616161"), Some("grey"));
    assert_eq!(name("#FFFFFF"), Some("grey"));
    assert_eq!(name("9fe1e7"), None);
    assert_eq!(name("#9fe1e"), None);
    assert_eq!(name("#zzzzzz"), None);
    assert_eq!(name("#ééé"), None);
}
