//! A server with Google's client (and, with [`setup_dropbox`], Dropbox's app) configured,
//! the local fake providers, and a browser to go through the connect flow: shared by the
//! OAuth tests and the integrations' API tests.

use std::sync::Mutex;

use axum::http::{header, Method, StatusCode};
use serde_json::Value;
use threadline_fake_providers::dropbox::DropboxApp;
use threadline_fake_providers::google::OAuthClient;
use threadline_fake_providers::FakeProviders;
use threadline_server::connections::{self, Provider};
use threadline_server::oauth::dropbox::{DropboxConfig, DropboxEndpoints};
use threadline_server::oauth::google::{GoogleConfig, GoogleEndpoints};
use threadline_server::oauth::{OAuth, TokenSource};
use threadline_server::secrets::{new_key_line, Keyring, SecretString};
use threadline_server::AppState;
use uuid::Uuid;

use crate::common::{Answer, TestApp};

pub(crate) const GOOGLE_USER: &str = "ann.google@example.com";
pub(crate) const CLIENT_ID: &str = "threadline-test.apps.googleusercontent.com";
pub(crate) const CLIENT_SECRET: &str = "test-client-secret";
pub(crate) const REDIRECT: &str = "http://127.0.0.1:8787/oauth/google/callback";
pub(crate) const START: &str = "http://127.0.0.1:8787/oauth/google/start?flow=";

pub(crate) const DROPBOX_USER: &str = "dana.dropbox@example.com";
pub(crate) const APP_KEY: &str = "threadlinetestappkey";
pub(crate) const APP_SECRET: &str = "test-app-secret";
pub(crate) const DROPBOX_REDIRECT: &str = "http://127.0.0.1:8787/oauth/dropbox/callback";
pub(crate) const DROPBOX_START: &str = "http://127.0.0.1:8787/oauth/dropbox/start?flow=";

pub(crate) struct Setup {
    /// Whose connect flow the helpers go through.
    pub(crate) provider: Provider,
    pub(crate) app: TestApp,
    pub(crate) fake: FakeProviders,
    pub(crate) state: AppState,
    pub(crate) key_line: String,
    /// Ann's browser.
    pub(crate) browser: Browser,
    /// Requests to the fake Google (its consent screen, its token endpoint).
    pub(crate) http: reqwest::Client,
    /// The server's data directory (document contents).
    pub(crate) data: tempfile::TempDir,
}

/// A browser's cookies for the server: what the start link sets, sent with every request.
#[derive(Default)]
pub(crate) struct Browser {
    cookies: Mutex<Vec<(String, String)>>,
}

impl Browser {
    /// GET of a server URL (its path and query, to the in-process router), with the cookies;
    /// keeps those the answer sets (and drops those it clears).
    pub(crate) async fn get(&self, app: &TestApp, url: &str) -> Answer {
        let url: url::Url = url.parse().unwrap();
        let path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        };
        let cookies = self
            .cookies
            .lock()
            .unwrap()
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        let headers: Vec<(&str, &str)> = if cookies.is_empty() {
            vec![]
        } else {
            vec![("cookie", cookies.as_str())]
        };
        let answer = app.send_raw(Method::GET, &path, None, None, &headers).await;
        for set in answer.headers.get_all(header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            let (name, value) = set.split(';').next().unwrap().split_once('=').unwrap();
            let mut cookies = self.cookies.lock().unwrap();
            cookies.retain(|(n, _)| n != name);
            if !set.contains("Max-Age=0") {
                cookies.push((name.to_string(), value.to_string()));
            }
        }
        answer
    }

    pub(crate) fn cookie_count(&self) -> usize {
        self.cookies.lock().unwrap().len()
    }
}

pub(crate) fn google_config(fake: &FakeProviders) -> GoogleConfig {
    GoogleConfig {
        client_id: CLIENT_ID.into(),
        client_secret: SecretString::from(CLIENT_SECRET.to_string()),
        redirect_url: REDIRECT.parse().unwrap(),
        endpoints: GoogleEndpoints::all_at(&fake.base_url()).unwrap(),
    }
}

pub(crate) fn dropbox_config(fake: &FakeProviders) -> DropboxConfig {
    DropboxConfig {
        app_key: APP_KEY.into(),
        app_secret: SecretString::from(APP_SECRET.to_string()),
        redirect_url: DROPBOX_REDIRECT.parse().unwrap(),
        endpoints: DropboxEndpoints::all_at(&fake.base_url()).unwrap(),
    }
}

/// A server state on `app`'s database with its own OAuth (as another server process has).
/// The server's state as `serve` makes it: keys, Google's client, and the registry's
/// integrations.
pub(crate) fn server_state(
    app: &TestApp,
    fake: &FakeProviders,
    key_line: &str,
    data: &std::path::Path,
) -> AppState {
    state_with(
        app,
        key_line,
        OAuth::with_google(google_config(fake)).unwrap(),
        data,
    )
}

/// As [`server_state`], with Dropbox's app too.
pub(crate) fn server_state_with_dropbox(
    app: &TestApp,
    fake: &FakeProviders,
    key_line: &str,
    data: &std::path::Path,
) -> AppState {
    let oauth = OAuth::with(Some(google_config(fake)), Some(dropbox_config(fake))).unwrap();
    state_with(app, key_line, oauth, data)
}

fn state_with(app: &TestApp, key_line: &str, oauth: OAuth, data: &std::path::Path) -> AppState {
    let state = AppState::with_data_dir(app.db.clone(), data)
        .with_keyring(Keyring::parse(key_line, "test keys").unwrap())
        .with_oauth(oauth);
    threadline_server::with_registered_integrations(state).unwrap()
}

pub(crate) async fn setup() -> Setup {
    setup_for(Provider::Google).await
}

/// Google and Dropbox configured (the fake's Dropbox has the app "Threadline CRM" and
/// [`DROPBOX_USER`], signed in); the helpers go through Dropbox's flow.
pub(crate) async fn setup_dropbox() -> Setup {
    setup_for(Provider::Dropbox).await
}

async fn setup_for(provider: Provider) -> Setup {
    let fake = FakeProviders::start().await;
    fake.google().add_user(GOOGLE_USER);
    fake.google().add_client(OAuthClient {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_uris: vec![REDIRECT.into()],
    });
    let mut app = TestApp::new().await;
    let key_line = new_key_line().unwrap();
    let data = tempfile::tempdir().unwrap();
    let state = match provider {
        Provider::Google => server_state(&app, &fake, &key_line, data.path()),
        Provider::Dropbox => {
            let dropbox = fake.dropbox();
            dropbox.add_account(DROPBOX_USER);
            dropbox.add_app(DropboxApp {
                app_key: APP_KEY.into(),
                app_secret: APP_SECRET.into(),
                name: "Threadline CRM".into(),
                redirect_uris: vec![DROPBOX_REDIRECT.into()],
                scopes: [
                    "account_info.read",
                    "files.metadata.read",
                    "files.metadata.write",
                    "files.content.read",
                    "files.content.write",
                ]
                .map(String::from)
                .to_vec(),
            });
            server_state_with_dropbox(&app, &fake, &key_line, data.path())
        }
    };
    app.router = threadline_server::router(state.clone());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Setup {
        provider,
        app,
        fake,
        state,
        key_line,
        browser: Browser::default(),
        http,
        data,
    }
}

impl Setup {
    /// Where the provider sends the browser back.
    pub(crate) fn redirect(&self) -> &'static str {
        match self.provider {
            Provider::Google => REDIRECT,
            Provider::Dropbox => DROPBOX_REDIRECT,
        }
    }

    /// The start link's prefix.
    pub(crate) fn start_prefix(&self) -> &'static str {
        match self.provider {
            Provider::Google => START,
            Provider::Dropbox => DROPBOX_START,
        }
    }

    /// `POST /api/v1/connections/{provider}` with `token`: the start link.
    pub(crate) async fn start_link(&self, token: &str) -> String {
        let path = format!("/api/v1/connections/{}", self.provider.as_str());
        let answer = self.app.post_as(token, &path, Value::Null).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert!(
            answer.body["expires_at"].as_str().is_some(),
            "{}",
            answer.body
        );
        let link = answer.body["start_url"].as_str().unwrap().to_string();
        assert!(link.starts_with(self.start_prefix()), "{link}");
        link
    }

    /// `browser` opens the start link: Google's consent screen (the authorization URL).
    pub(crate) async fn open(&self, browser: &Browser, link: &str) -> url::Url {
        let answer = browser.get(&self.app, link).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        answer.headers["location"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// Ann's flow, opened in her browser: the authorization URL.
    pub(crate) async fn start(&self) -> url::Url {
        let link = self.start_link(&self.app.token).await;
        self.open(&self.browser, &link).await
    }

    /// The browser at the provider's consent screen: where it is sent back (the callback's
    /// query).
    pub(crate) async fn consent(&self, authorization_url: &url::Url) -> String {
        let response = self
            .http
            .get(authorization_url.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::FOUND);
        let location: url::Url = response.headers()["location"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(location.as_str().starts_with(self.redirect()), "{location}");
        location.query().unwrap_or_default().to_string()
    }

    /// Ann's browser back at the server's callback.
    pub(crate) async fn callback(&self, query: &str) -> Answer {
        self.callback_in(&self.browser, query).await
    }

    /// `browser` at the server's callback.
    pub(crate) async fn callback_in(&self, browser: &Browser, query: &str) -> Answer {
        browser
            .get(&self.app, &format!("{}?{query}", self.redirect()))
            .await
    }

    /// The whole flow; returns the connection's id.
    pub(crate) async fn connect(&self) -> Uuid {
        let query = self.consent(&self.start().await).await;
        let page = self.callback(&query).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let list = self.app.get("/api/v1/connections").await;
        list.body["items"][0]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    pub(crate) fn keys(&self) -> Keyring {
        Keyring::parse(&self.key_line, "test keys").unwrap()
    }

    pub(crate) fn tokens(&self) -> TokenSource {
        self.state.token_source().unwrap()
    }

    pub(crate) async fn stored(&self, id: Uuid) -> connections::Tokens {
        let mut conn = self.app.pool().acquire().await.unwrap();
        connections::tokens(&mut conn, &self.keys(), id)
            .await
            .unwrap()
    }

    pub(crate) async fn connection(&self, id: Uuid) -> connections::Connection {
        let mut conn = self.app.pool().acquire().await.unwrap();
        connections::get(&mut conn, id).await.unwrap()
    }

    /// Makes the stored access token due for a refresh (it expires in a minute).
    pub(crate) async fn make_due(&self, id: Uuid) {
        let soon = chrono::Utc::now() + chrono::Duration::seconds(60);
        sqlx::query("UPDATE connections SET access_token_expires_at = $1 WHERE id = $2")
            .bind(threadline_server::db::format_time(soon))
            .bind(id.to_string())
            .execute(self.app.pool())
            .await
            .unwrap();
    }

    /// "Sync now" for the connection.
    pub(crate) async fn sync_now(&self, connection: Uuid) -> Answer {
        self.sync_now_as(&self.app.token, connection).await
    }

    /// "Sync now" for `token`'s user's connection.
    pub(crate) async fn sync_now_as(&self, token: &str, connection: Uuid) -> Answer {
        self.app
            .post_as(
                token,
                &format!("/api/v1/connections/{connection}/sync"),
                serde_json::json!({}),
            )
            .await
    }

    /// `DELETE /api/v1/connections/{id}`, which must succeed.
    pub(crate) async fn disconnect(&self, id: Uuid) {
        let answer = self
            .app
            .send_raw(
                Method::DELETE,
                &format!("/api/v1/connections/{id}"),
                Some(&self.app.token.clone()),
                None,
                &[],
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(answer.body["status"], "disconnected");
    }

    /// Token requests the fake has served (code exchanges and refreshes).
    pub(crate) fn token_calls(&self) -> usize {
        let path = match self.provider {
            Provider::Google => "/token",
            Provider::Dropbox => "/oauth2/token",
        };
        self.fake.log().count("POST", path)
    }
}
