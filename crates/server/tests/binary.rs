//! The real `threadline-server` binary: first start prints a token and the port, the API
//! answers over HTTP, SIGTERM shuts it down cleanly; and the admin commands. On the engine
//! the tests run on (`threadline_server::testing`): a data directory, plus `DATABASE_URL`
//! on PostgreSQL.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use threadline_server::testing::TestDatabase;

const BIN: &str = env!("CARGO_BIN_EXE_threadline-server");
const WAIT: Duration = Duration::from_secs(60);

/// The binary on `db`, with a clean environment (no THREADLINE_* nor DATABASE_URL from the
/// caller's shell).
fn command(db: &TestDatabase) -> Command {
    let mut cmd = Command::new(BIN);
    configure(&mut cmd, db);
    cmd
}

/// [`command`]'s environment, on another command (one that runs the binary).
fn configure(cmd: &mut Command, db: &TestDatabase) {
    for (name, _) in std::env::vars() {
        if name.starts_with("THREADLINE_") || name == "DATABASE_URL" {
            cmd.env_remove(name);
        }
    }
    cmd.env("THREADLINE_DATA_DIR", db.data_dir())
        .env("RUST_LOG", "warn");
    if let Some(url) = db.database_url() {
        cmd.env("DATABASE_URL", url);
    }
}

fn run(cmd: &mut Command) -> Output {
    let output = cmd.output().expect("run threadline-server");
    assert!(
        output.status.success(),
        "{:?} failed: {}\n{}",
        cmd,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A running server and the stdout lines it printed up to `listening on`.
struct Server {
    child: Child,
    lines: Vec<String>,
    base: String,
    _rest: Receiver<String>,
    /// What it wrote on stderr so far (also passed on to the test's stderr).
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(db: &TestDatabase, owner: &str) -> Server {
        let mut cmd = command(db);
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .env("THREADLINE_OWNER_EMAIL", owner);
        Server::spawn(cmd)
    }

    /// Runs `cmd` (a `serve`) and reads its stdout up to `listening on`.
    fn spawn(cmd: Command) -> Server {
        Server::spawn_with_stderr(cmd, Stdio::piped())
    }

    /// [`Server::spawn`] with the server's stderr (its log) going to `stderr`; when piped,
    /// it is kept (see [`Server::stderr_line`]) and passed on to the test's stderr.
    fn spawn_with_stderr(mut cmd: Command, stderr: Stdio) -> Server {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn threadline-server");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        if let Some(errors) = child.stderr.take() {
            let kept = Arc::clone(&stderr);
            std::thread::spawn(move || {
                for line in BufReader::new(errors).lines().map_while(Result::ok) {
                    eprintln!("{line}");
                    kept.lock().unwrap().push(line);
                }
            });
        }
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + WAIT;
        let mut lines = Vec::new();
        let base = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no `listening on` line; stdout so far: {lines:#?}"));
            if let Some(url) = line.strip_prefix("listening on ") {
                break url.to_string();
            }
            lines.push(line);
        };
        Server {
            child,
            lines,
            base,
            _rest: rx,
            stderr,
        }
    }

    /// The first stderr line (within a minute) that contains every one of `parts`.
    fn stderr_line(&self, parts: &[&str]) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let found = self
                .stderr
                .lock()
                .unwrap()
                .iter()
                .find(|l| parts.iter().all(|p| l.contains(p)))
                .cloned();
            if let Some(line) = found {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no stderr line with {parts:?}: {:#?}",
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn token(&self) -> Option<String> {
        self.lines
            .iter()
            .find_map(|l| l.strip_prefix("THREADLINE_TOKEN="))
            .map(str::to_string)
    }

    /// SIGTERM, then the exit status within a minute.
    fn terminate(self) -> std::process::ExitStatus {
        self.terminate_within(WAIT)
    }

    /// SIGTERM, then the exit status within `wait`.
    fn terminate_within(mut self, wait: Duration) -> std::process::ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
        let deadline = Instant::now() + wait;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn serve_prints_a_token_and_the_port_and_answers_over_http() {
    let db = TestDatabase::create();
    let server = Server::start(&db, "Boss@Example.org");
    let token = server
        .token()
        .expect("a THREADLINE_TOKEN= line on first start");
    assert!(token.starts_with("tl_") && token.len() == 67, "{token}");
    assert!(
        server.lines.iter().any(|l| l.trim() == token),
        "the framed block shows the token on its own line: {:#?}",
        server.lines
    );
    assert!(
        server.base.starts_with("http://127.0.0.1:"),
        "{}",
        server.base
    );
    let port: u16 = server.base.rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(port, 0, "the real port is printed");

    let client = reqwest::Client::new();
    let me = client
        .get(format!("{}/api/v1/me", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let me: serde_json::Value = me.json().await.unwrap();
    assert_eq!(me["user"]["email"], "boss@example.org");
    assert_eq!(me["user"]["name"], "Owner");
    assert_eq!(me["own_addresses"], serde_json::json!(["boss@example.org"]));

    let anonymous = client
        .get(format!("{}/api/v1/me", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let body: serde_json::Value = anonymous.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");

    let health = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");

    let server_lines = server.lines.clone();
    let status = server.terminate();
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");

    // A second start finds the user: no new token, a hint instead; the old token still works.
    let again = Server::start(&db, "someone@else.org");
    assert_eq!(again.token(), None, "{:#?}", again.lines);
    assert!(
        again.lines.iter().any(|l| l.contains("token create")),
        "says how to create another token: {:#?}",
        again.lines
    );
    let password = db
        .database_url()
        .and_then(|u| url::Url::parse(u).ok()?.password().map(str::to_string));
    if let Some(password) = password {
        assert!(
            !again
                .lines
                .iter()
                .chain(&server_lines)
                .any(|l| l.contains(&password)),
            "the database password is never printed: {:#?}",
            again.lines
        );
    }
    let me = client
        .get(format!("{}/api/v1/me", again.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    assert!(again.terminate().success());
}

#[tokio::test]
async fn a_database_url_must_be_postgres() {
    let db = TestDatabase::create();
    let refused = command(&db)
        .args([
            "migrate",
            "--database-url",
            "mysql://admin:hunter2@db.example/crm",
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("not a postgres:// URL"), "{stderr}");
    assert!(
        !stderr.contains("hunter2"),
        "the password is never printed: {stderr}"
    );
}

fn token_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("THREADLINE_TOKEN="))
        .expect("a THREADLINE_TOKEN= line")
        .to_string()
}

#[tokio::test]
async fn admin_commands_manage_users_and_tokens() {
    let db = TestDatabase::create();
    let migrated = run(command(&db).arg("migrate"));
    assert_eq!(
        String::from_utf8_lossy(&migrated.stdout).trim(),
        format!("the database {} is up to date", db.location())
    );
    let created = run(command(&db).args([
        "user",
        "create",
        "--email",
        "Zoe@OurCo.com",
        "--name",
        "Zoe",
        "--alias",
        "zoe@home.net",
    ]));
    let zoe_token = token_of(&created);
    let extra = run(command(&db).args([
        "token",
        "create",
        "--email",
        "zoe@ourco.com",
        "--name",
        "laptop",
    ]));
    let laptop_token = token_of(&extra);
    assert_ne!(zoe_token, laptop_token);

    let listed = run(command(&db).args(["token", "list", "--email", "zoe@ourco.com"]));
    let listed = String::from_utf8_lossy(&listed.stdout).to_string();
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(!listed.contains(&zoe_token), "tokens are never listed");
    let laptop_id = listed
        .lines()
        .find(|l| l.contains("\"laptop\""))
        .and_then(|l| l.split_whitespace().next())
        .expect("the laptop token's id")
        .to_string();
    run(command(&db).args(["token", "revoke", "--id", &laptop_id]));
    // Revoking again fails with a message.
    let twice = command(&db)
        .args(["token", "revoke", "--id", &laptop_id])
        .output()
        .unwrap();
    assert!(!twice.status.success());
    assert!(String::from_utf8_lossy(&twice.stderr).contains("no active token"));

    // The server started on that data dir knows Zoe's tokens.
    let server = Server::start(&db, "owner@example.com");
    assert_eq!(server.token(), None, "users exist: no owner is created");
    let client = reqwest::Client::new();
    let me = |token: String| {
        client
            .get(format!("{}/api/v1/me", server.base))
            .bearer_auth(token)
            .send()
    };
    let ok = me(zoe_token).await.unwrap();
    assert_eq!(ok.status(), 200);
    let ok: serde_json::Value = ok.json().await.unwrap();
    assert_eq!(
        ok["own_addresses"],
        serde_json::json!(["zoe@ourco.com", "zoe@home.net"])
    );
    assert_eq!(me(laptop_token).await.unwrap().status(), 401);
}

#[test]
fn help_documents_every_option_and_its_variable() {
    let db = TestDatabase::create();
    let help = run(command(&db).args(["serve", "--help"]));
    let help = String::from_utf8_lossy(&help.stdout);
    for expected in [
        "--listen",
        "THREADLINE_LISTEN",
        "--data-dir",
        "THREADLINE_DATA_DIR",
        "--owner-email",
        "THREADLINE_OWNER_EMAIL",
        "127.0.0.1:8787",
        "./.data",
        "--database-url",
        "DATABASE_URL",
        "--config",
        "THREADLINE_CONFIG",
        "owner@example.com",
        "--secret-key-file",
        "THREADLINE_SECRET_KEY_FILE",
        "--google-client-id",
        "THREADLINE_GOOGLE_CLIENT_ID",
        "THREADLINE_GOOGLE_CLIENT_SECRET",
        "--google-client-secret-file",
        "--google-redirect-url",
        "--google-token-url",
        "--google-calendar-api-url",
        "--google-drive-api-url",
        "--dropbox-app-key",
        "THREADLINE_DROPBOX_APP_KEY",
        "THREADLINE_DROPBOX_APP_SECRET",
        "--dropbox-app-secret-file",
        "THREADLINE_DROPBOX_APP_SECRET_FILE",
        "--dropbox-redirect-url",
        "--dropbox-auth-url",
        "--dropbox-token-url",
        "--dropbox-api-url",
        "--dropbox-content-url",
        "--sync-concurrency",
        "THREADLINE_SYNC_CONCURRENCY",
        "--sync-poll-seconds",
        "THREADLINE_SYNC_POLL_SECONDS",
        "--header-read-timeout-seconds",
        "THREADLINE_HEADER_READ_TIMEOUT_SECONDS",
        "--idle-timeout-seconds",
        "--body-timeout-seconds",
        "--max-connections",
        "THREADLINE_MAX_CONNECTIONS",
        "--shutdown-timeout-seconds",
        "--rate-limit-per-second",
        "THREADLINE_RATE_LIMIT_PER_SECOND",
        "--rate-limit-burst",
        "--trash-retention-days",
        "THREADLINE_TRASH_RETENTION_DAYS",
        "--versions-kept",
        "THREADLINE_VERSIONS_KEPT",
        "--version-retention-days",
        "THREADLINE_VERSION_RETENTION_DAYS",
        "Precedence: flag, then environment, then file, then default",
    ] {
        assert!(
            help.contains(expected),
            "`serve --help` lacks {expected}:\n{help}"
        );
    }
    let top = run(command(&db).arg("--help"));
    let top = String::from_utf8_lossy(&top.stdout);
    for expected in ["serve", "migrate", "user", "token", "--config", "TOML"] {
        assert!(top.contains(expected), "`--help` lacks {expected}:\n{top}");
    }
}

/// The binary with no THREADLINE_* nor DATABASE_URL at all: SQLite, settings from the file.
fn bare_command() -> Command {
    let mut cmd = Command::new(BIN);
    for (name, _) in std::env::vars() {
        if name.starts_with("THREADLINE_") || name == "DATABASE_URL" {
            cmd.env_remove(name);
        }
    }
    cmd.env("RUST_LOG", "warn");
    cmd
}

fn migrated_location(cmd: &mut Command) -> String {
    let out = run(cmd.arg("migrate"));
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .strip_prefix("the database ")
        .and_then(|l| l.strip_suffix(" is up to date"))
        .expect("a `the database … is up to date` line")
        .to_string()
}

#[tokio::test]
async fn a_config_file_sets_options_that_env_and_flags_override() {
    let dir = tempfile::tempdir().unwrap();
    let [from_file, from_env, from_flag] =
        ["file-data", "env-data", "flag-data"].map(|d| dir.path().join(d));
    let config = dir.path().join("threadline.toml");
    std::fs::write(
        &config,
        format!(
            "# a comment\ndata_dir = {:?}\nlisten = \"127.0.0.1:0\"\nowner_email = \"From-File@Example.org\"\n",
            from_file.to_str().unwrap()
        ),
    )
    .unwrap();
    let db_file = |d: &std::path::Path| d.join("threadline.db").display().to_string();

    // File, then environment, then flag.
    let mut cmd = bare_command();
    cmd.arg("--config").arg(&config);
    assert_eq!(migrated_location(&mut cmd), db_file(&from_file));
    let mut cmd = bare_command();
    cmd.env("THREADLINE_CONFIG", &config)
        .env("THREADLINE_DATA_DIR", &from_env);
    assert_eq!(migrated_location(&mut cmd), db_file(&from_env));
    let mut cmd = bare_command();
    cmd.env("THREADLINE_CONFIG", &config)
        .env("THREADLINE_DATA_DIR", &from_env)
        .arg("--data-dir")
        .arg(&from_flag);
    assert_eq!(migrated_location(&mut cmd), db_file(&from_flag));

    // `serve` takes listen and owner_email from the file too.
    let mut cmd = bare_command();
    cmd.arg("serve").arg("--config").arg(&config);
    let server = Server::spawn(cmd);
    let token = server.token().expect("first start on the file's data dir");
    let me: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/api/v1/me", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["email"], "from-file@example.org");
    assert!(server.terminate().success());
}

#[test]
fn an_unknown_key_in_the_config_file_is_an_error_naming_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\nlisten_address = \"0.0.0.0:80\"\n",
    )
    .unwrap();
    let out = bare_command()
        .arg("--config")
        .arg(&config)
        .args(["--data-dir", dir.path().to_str().unwrap(), "migrate"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("listen_address"), "{stderr}");
    assert!(stderr.contains(config.to_str().unwrap()), "{stderr}");

    let missing = bare_command()
        .args(["--config", "/nonexistent/threadline.toml", "migrate"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("/nonexistent/threadline.toml"), "{stderr}");
}

/// `serve`'s secret key file: flag, then environment, then file; unset, the data
/// directory's `secret.key`, made (mode 0600) on first start. A configured file must exist.
#[tokio::test]
async fn the_secret_key_file_comes_from_flag_env_file_else_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let [from_file, from_env, from_flag] =
        ["file.key", "env.key", "flag.key"].map(|f| dir.path().join(f));
    let write_config = |key_file: Option<&std::path::Path>| {
        let config = dir.path().join("threadline.toml");
        let mut text = format!(
            "data_dir = {:?}\nlisten = \"127.0.0.1:0\"\n",
            data.to_str().unwrap()
        );
        if let Some(key_file) = key_file {
            text.push_str(&format!(
                "secret_key_file = {:?}\n",
                key_file.to_str().unwrap()
            ));
        }
        std::fs::write(&config, text).unwrap();
        config
    };
    // None of the configured files exists: `serve` stops, naming the one it took.
    let refused = |cmd: &mut Command, expected: &std::path::Path| {
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("secret key file {}", expected.display())),
            "{stderr}"
        );
    };
    let config = write_config(Some(&from_file));
    refused(
        bare_command().args(["serve", "--config"]).arg(&config),
        &from_file,
    );
    let mut cmd = bare_command();
    cmd.env("THREADLINE_SECRET_KEY_FILE", &from_env)
        .args(["serve", "--config"])
        .arg(&config);
    refused(&mut cmd, &from_env);
    cmd.arg("--secret-key-file").arg(&from_flag);
    refused(&mut cmd, &from_flag);
    let default_key = data.join("secret.key");
    assert!(
        !default_key.exists(),
        "no key is made up for a configured file"
    );

    // Unset: generated in the data directory, readable by the owner only, and kept.
    let config = write_config(None);
    let mut cmd = bare_command();
    cmd.args(["serve", "--config"]).arg(&config);
    let server = Server::spawn(cmd);
    assert!(server.token().is_some());
    served_then_stopped(server).await;
    let generated = std::fs::read_to_string(&default_key).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&default_key)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let mut cmd = bare_command();
    cmd.args(["serve", "--config"]).arg(&config);
    served_then_stopped(Server::spawn(cmd)).await;
    assert_eq!(std::fs::read_to_string(&default_key).unwrap(), generated);

    // A configured file that exists is used as it is.
    std::fs::copy(&default_key, &from_flag).unwrap();
    let mut cmd = bare_command();
    cmd.args(["serve", "--config"])
        .arg(&config)
        .arg("--secret-key-file")
        .arg(&from_flag);
    served_then_stopped(Server::spawn(cmd)).await;
}

/// Asserts that `server` answers (so that it is past setting up its signal handlers), then
/// stops it with SIGTERM.
async fn served_then_stopped(server: Server) {
    let health = reqwest::get(format!("{}/healthz", server.base))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(server.terminate().success());
}

/// `threadline.toml` in `db`'s data directory: a `[google]` table with client `cid` and
/// every Google URL at the local Google `fake` (the secret comes from the environment).
fn local_google_config(
    db: &TestDatabase,
    fake: &threadline_fake_providers::FakeProviders,
) -> std::path::PathBuf {
    let config = db.data_dir().join("threadline.toml");
    let urls = [
        "auth_url",
        "token_url",
        "revoke_url",
        "userinfo_url",
        "calendar_api_url",
        "people_api_url",
        "drive_api_url",
        "drive_upload_url",
    ]
    .into_iter()
    .zip([
        "/o/oauth2/v2/auth",
        "/token",
        "/revoke",
        "/v1/userinfo",
        "/calendar/v3",
        "/v1",
        "/drive/v3",
        "/upload/drive/v3",
    ])
    .map(|(key, path)| format!("{key} = \"{}{path}\"\n", fake.base_url()))
    .collect::<String>();
    std::fs::write(
        &config,
        format!("listen = \"127.0.0.1:0\"\n[google]\nclient_id = \"cid\"\n{urls}"),
    )
    .unwrap();
    config
}

/// A browser for the connect flow: it follows no redirect by itself.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The browser through a connect flow: `link` (a `start_url` of `server`) sets the flow's
/// cookie and sends it to the local Google's consent screen (which approves at once), which
/// sends it back to the server's callback with the cookie. Answers the callback page's text
/// (200 asserted). The fake's client must know the server's callback.
async fn through_google(
    browser: &reqwest::Client,
    server: &Server,
    fake: &threadline_fake_providers::FakeProviders,
    link: &str,
) -> String {
    assert!(
        link.starts_with(&format!("{}/oauth/google/start?flow=", server.base)),
        "{link}"
    );
    let opened = browser.get(link).send().await.unwrap();
    assert_eq!(opened.status(), reqwest::StatusCode::SEE_OTHER);
    let cookie = opened.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let consent = opened.headers()["location"].to_str().unwrap();
    assert!(consent.starts_with(&fake.base_url()), "{consent}");
    let back = browser.get(consent).send().await.unwrap();
    assert_eq!(back.status(), reqwest::StatusCode::FOUND);
    let callback = back.headers()["location"].to_str().unwrap().to_string();
    let redirect = format!("{}/oauth/google/callback", server.base);
    assert!(callback.starts_with(&redirect), "{callback}");
    let page = browser
        .get(&callback)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), reqwest::StatusCode::OK);
    page.text().await.unwrap()
}

/// `serve` with a `[google]` table pointing at a local fake Google, the secret from the
/// environment: the whole connect flow over real HTTP, the browser played by reqwest; the
/// default redirect URL is the callback at the port the server got.
#[tokio::test]
async fn google_is_configured_by_file_and_environment_and_connects_over_http() {
    use threadline_fake_providers::google::OAuthClient;
    use threadline_fake_providers::FakeProviders;

    let fake = FakeProviders::start().await;
    fake.google().add_user("ann.google@example.com");
    // Something on Ann's Google calendar before she connects: it must become a grey busy
    // block in the CRM without her doing anything else (first run: the primary calendar is
    // imported by default, and the schedule is due at once).
    let primary = fake
        .google()
        .primary_calendar("ann.google@example.com", "Europe/Brussels");
    fake.google()
        .insert_event(
            &primary,
            serde_json::json!({
                "summary": "Dentist",
                "start": { "dateTime": "2026-12-01T09:00:00+01:00", "timeZone": "Europe/Brussels" },
                "end": { "dateTime": "2026-12-01T10:00:00+01:00", "timeZone": "Europe/Brussels" }
            }),
        )
        .unwrap();
    let db = TestDatabase::create();
    let config = local_google_config(&db, &fake);

    // Half a client stops the server with a clear error.
    let half = command(&db)
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .output()
        .unwrap();
    assert!(!half.status.success());
    let stderr = String::from_utf8_lossy(&half.stderr);
    assert!(stderr.contains("no client secret"), "{stderr}");

    let mut cmd = command(&db);
    cmd.arg("--config")
        .arg(&config)
        .arg("serve")
        .env("THREADLINE_GOOGLE_CLIENT_SECRET", "the-secret");
    let server = Server::spawn(cmd);
    let token = server.token().expect("first start");
    let redirect = format!("{}/oauth/google/callback", server.base);
    fake.google().add_client(OAuthClient {
        client_id: "cid".into(),
        client_secret: "the-secret".into(),
        redirect_uris: vec![redirect.clone()],
    });
    let browser = browser();
    let api = |request: reqwest::RequestBuilder| async {
        let answer = request.bearer_auth(&token).send().await.unwrap();
        answer.json::<serde_json::Value>().await.unwrap()
    };
    let started = api(browser.post(format!("{}/api/v1/connections/google", server.base))).await;
    let link = started["start_url"].as_str().expect("a URL");
    let text = through_google(&browser, &server, &fake, link).await;
    assert!(
        text.contains("connected to ann.google@example.com"),
        "{text}"
    );

    let connections = api(browser.get(format!("{}/api/v1/connections", server.base))).await;
    assert_eq!(connections["items"][0]["status"], "ok");

    // The background sync: scheduled by the connect, run by the server's runner.
    let id = connections["items"][0]["id"].as_str().unwrap().to_string();
    let runs_url = format!("{}/api/v1/connections/{id}/runs", server.base);
    let mut last = serde_json::Value::Null;
    for _ in 0..100 {
        last = api(browser.get(&runs_url)).await;
        if last["items"][0]["status"] == "ok" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(last["items"][0]["status"], "ok", "{last}");
    assert_eq!(last["items"][0]["counts"]["created"], 1, "{last}");
    let blocks = api(browser.get(format!(
        "{}/api/v1/busy-blocks?from=2026-11-30T00:00:00Z&to=2026-12-03T00:00:00Z",
        server.base
    )))
    .await;
    assert_eq!(
        blocks["items"].as_array().map(Vec::len),
        Some(1),
        "{blocks}"
    );
    assert_eq!(blocks["items"][0]["title"], "Dentist", "{blocks}");
    assert!(server.terminate().success());
}

/// Two server processes on one database, each with a sync runner of 2 runs at once (the
/// hidden test job: a 1 s wait), six schedules due again one second after each run: more
/// work than one process can hold (6 × 1 s of work every 2 s), so both processes run
/// schedules whatever their start order and the machine's load; and no two runs of one
/// schedule overlap in time (as `sync_runs` records them).
///
/// (With a 50 ms job and 4 runs at once, the first process could hold every schedule by
/// itself, and whether the second ever ran one was a race: it failed under load.)
/// One user's Google Contacts export on two server processes sharing the database (the
/// real job, the local Google): "sync now" sent to both at once makes one run, which one
/// process runs; the export's runs never overlap; every CRM contact is in Google once,
/// whichever process ran each run.
#[tokio::test]
async fn two_server_processes_export_one_users_contacts_once() {
    use threadline_fake_providers::google::OAuthClient;
    use threadline_fake_providers::FakeProviders;

    let fake = FakeProviders::start().await;
    let account = "ann.google@example.com";
    fake.google().add_user(account);
    let db = TestDatabase::create();
    let config = local_google_config(&db, &fake);
    // Each process runs what it is woken for: a long poll keeps it from picking up, on its
    // own, what the other was asked.
    let spawn = || {
        let mut cmd = command(&db);
        cmd.arg("--config")
            .arg(&config)
            .arg("serve")
            .env("THREADLINE_GOOGLE_CLIENT_SECRET", "the-secret")
            .env("THREADLINE_SYNC_POLL_SECONDS", "60");
        Server::spawn(cmd)
    };
    let a = spawn();
    let token = a.token().expect("first start");
    fake.google().add_client(OAuthClient {
        client_id: "cid".into(),
        client_secret: "the-secret".into(),
        redirect_uris: vec![format!("{}/oauth/google/callback", a.base)],
    });
    let http = browser();
    let call = |method: reqwest::Method, url: String, body: Option<serde_json::Value>| {
        let request = http.request(method, url).bearer_auth(&token);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        async move {
            let answer = request.send().await.unwrap();
            let status = answer.status();
            (status, answer.json::<serde_json::Value>().await.unwrap())
        }
    };
    let mut made = 0;
    let mut add_contacts = |n: usize, server: &Server| {
        let base = server.base.clone();
        let bodies: Vec<serde_json::Value> = (made..made + n)
            .map(|i| {
                serde_json::json!({
                    "first_name": "Person",
                    "last_name": format!("No{i}"),
                    "emails": [format!("p{i}@customer.example")]
                })
            })
            .collect();
        made += n;
        let call = &call;
        async move {
            for body in bodies {
                let (status, answer) = call(
                    reqwest::Method::POST,
                    format!("{base}/api/v1/contacts"),
                    Some(body),
                )
                .await;
                assert_eq!(status, reqwest::StatusCode::CREATED, "{answer}");
            }
        }
    };
    add_contacts(120, &a).await;

    // Connect, then turn the export on: Google is asked for the Contacts scope then.
    let (_, started) = call(
        reqwest::Method::POST,
        format!("{}/api/v1/connections/google", a.base),
        None,
    )
    .await;
    through_google(&http, &a, &fake, started["start_url"].as_str().unwrap()).await;
    let (_, list) = call(
        reqwest::Method::GET,
        format!("{}/api/v1/connections", a.base),
        None,
    )
    .await;
    let id = list["items"][0]["id"].as_str().unwrap().to_string();
    let (status, on) = call(
        reqwest::Method::PUT,
        format!("{}/api/v1/connections/{id}/contacts-export", a.base),
        Some(serde_json::json!({"enabled": true})),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{on}");
    let link = on["authorization"]["start_url"]
        .as_str()
        .expect("a start link");
    through_google(&http, &a, &fake, link).await;

    // Contacts run `run` (the newest when `None`), once ended.
    let ended = |server: &Server, run: Option<serde_json::Value>| {
        let url = format!("{}/api/v1/connections/{id}/runs?limit=100", server.base);
        let call = &call;
        async move {
            for _ in 0..300 {
                let (_, runs) = call(reqwest::Method::GET, url.clone(), None).await;
                let found = runs["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| {
                        r["integration"] == "google_contacts"
                            && run.as_ref().is_none_or(|id| r["id"] == *id)
                    })
                    .cloned();
                if let Some(run) =
                    found.filter(|r| !matches!(r["status"].as_str(), Some("queued" | "running")))
                {
                    return run;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("no Contacts run ended within 30 s");
        }
    };
    let first = ended(&a, None).await;
    assert_eq!(first["status"], "ok", "{first}");
    assert_eq!(first["counts"]["created"], 120, "{first}");

    let b = spawn();
    let sync = |server: &Server| {
        call(
            reqwest::Method::POST,
            format!("{}/api/v1/connections/{id}/sync", server.base),
            None,
        )
    };
    let contacts_run = |answer: &serde_json::Value| {
        answer["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["integration"] == "google_contacts")
            .map(|r| r["id"].clone())
            .expect("a Contacts run")
    };
    for round in 0..6 {
        add_contacts(3, if round % 2 == 0 { &a } else { &b }).await;
        // Both asked at once: the second joins the run the first queued, unless that run
        // had already ended (a second is never started while one is queued or going).
        let ((s1, one), (s2, two)) = tokio::join!(sync(&a), sync(&b));
        assert_eq!(s1, reqwest::StatusCode::ACCEPTED, "{one}");
        assert_eq!(s2, reqwest::StatusCode::ACCEPTED, "{two}");
        let (one, two) = (contacts_run(&one), contacts_run(&two));
        let first = ended(&a, Some(one.clone())).await;
        assert_eq!(first["status"], "ok", "{first}");
        let mut created = first["counts"]["created"].as_i64().unwrap();
        if two != one {
            let second = ended(&a, Some(two)).await;
            assert_eq!(second["status"], "ok", "{second}");
            let (earlier, later) = if first["due_at"].as_str() < second["due_at"].as_str() {
                (&first, &second)
            } else {
                (&second, &first)
            };
            assert!(
                earlier["finished_at"].as_str() <= later["due_at"].as_str(),
                "a second run was queued while one was going: {earlier} {later}"
            );
            created += second["counts"]["created"].as_i64().unwrap();
        }
        assert_eq!(created, 3, "round {round}");
    }
    // With a stopped, b alone runs what it is asked (a ran the first export: both
    // processes run the export, whatever the rounds above gave to whom).
    assert!(a.terminate().success());
    add_contacts(3, &b).await;
    let (_, asked) = sync(&b).await;
    let run = ended(&b, Some(contacts_run(&asked))).await;
    assert_eq!(run["status"], "ok", "{run}");
    assert_eq!(run["counts"]["created"], 3, "{run}");

    // Every contact once in Google.
    let mut exported: Vec<String> =
        fake.google()
            .people_contacts(account)
            .iter()
            .filter_map(|p| {
                p["clientData"].as_array()?.iter().find_map(|d| {
                    (d["key"] == "threadline.contact_id").then(|| d["value"].to_string())
                })
            })
            .collect();
    let total = exported.len();
    exported.sort();
    exported.dedup();
    assert_eq!(
        (total, exported.len()),
        (141, 141),
        "one person per contact"
    );
    // The export's runs, as stored: never two at once.
    let pool = db.open().await;
    let runs: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT runner, started_at, finished_at FROM sync_runs
         WHERE integration = 'google_contacts' ORDER BY started_at",
    )
    .fetch_all(pool.pool())
    .await
    .unwrap();
    assert!(runs.len() >= 8, "{runs:#?}");
    for pair in runs.windows(2) {
        assert!(pair[0].2 <= pair[1].1, "overlapping runs: {pair:#?}");
    }
    let runners: std::collections::HashSet<&str> = runs.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(runners.len(), 2, "both processes ran the export: {runs:#?}");
    assert!(b.terminate().success());
}

#[tokio::test]
async fn two_server_processes_never_run_one_schedule_at_once() {
    let db = TestDatabase::create();
    let owner = "owner@example.com";
    let first = {
        let mut cmd = command(&db);
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .env("THREADLINE_OWNER_EMAIL", owner);
        Server::spawn(cmd)
    };
    // The first start made the schema and the owner; six connections with a schedule each.
    let pool = db.open().await;
    let org: String = sqlx::query_scalar("SELECT org_id FROM users WHERE email = $1")
        .bind(owner)
        .fetch_one(pool.pool())
        .await
        .unwrap();
    let now = threadline_server::db::now();
    for n in 0..6 {
        let (user, connection) = (
            uuid::Uuid::now_v7().to_string(),
            uuid::Uuid::now_v7().to_string(),
        );
        for sql in [
            "INSERT INTO users (id, org_id, name, email, created_at) VALUES ($1, $2, 'U', $3, $4)",
            "INSERT INTO connections (id, org_id, user_id, provider, account_id, scopes, status,
                 version, created_at, updated_at, connected_at)
             VALUES ($5, $2, $1, 'google', $3, 'openid', 'ok', 1, $4, $4, $4)",
            "INSERT INTO sync_schedules (id, connection_id, integration, interval_seconds,
                 jitter_seconds, next_run_at, failures, created_at, updated_at)
             VALUES ($6, $5, 'google_calendar', 1, 0, $4, 0, $4, $4)",
        ] {
            sqlx::query(sql)
                .bind(&user)
                .bind(&org)
                .bind(format!("user{n}@example.com"))
                .bind(&now)
                .bind(&connection)
                .bind(uuid::Uuid::now_v7().to_string())
                .execute(pool.pool())
                .await
                .unwrap();
        }
    }
    // The first process started without the test job; both run it from now on.
    served_then_stopped(first).await;
    let spawn = || {
        let mut cmd = command(&db);
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .env("THREADLINE_SYNC_TEST_JOB_MS", "1000")
            .env("THREADLINE_SYNC_CONCURRENCY", "2")
            .env("THREADLINE_SYNC_POLL_SECONDS", "1");
        Server::spawn(cmd)
    };
    let (a, b) = (spawn(), spawn());
    // Until both have finished runs and there are 18 in all (about 6 s), at most a minute.
    let finished = || async {
        let runs: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT schedule_id, runner, started_at, finished_at FROM sync_runs
             WHERE status = 'ok' ORDER BY schedule_id, started_at",
        )
        .fetch_all(pool.pool())
        .await
        .unwrap();
        runs
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let runs = finished().await;
        let runners: std::collections::HashSet<&str> = runs.iter().map(|r| r.1.as_str()).collect();
        if (runners.len() == 2 && runs.len() >= 18) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(a.terminate().success());
    assert!(b.terminate().success());

    let runs = finished().await;
    let runners: std::collections::HashSet<&str> = runs.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(
        runners.len(),
        2,
        "both processes ran schedules: {runners:?}"
    );
    for pair in runs.windows(2) {
        let (earlier, later) = (&pair[0], &pair[1]);
        if earlier.0 == later.0 {
            assert!(
                later.2 >= earlier.3,
                "two runs of schedule {} overlap: {earlier:?} and {later:?}",
                earlier.0
            );
        }
    }
    let schedules: std::collections::HashSet<&str> = runs.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(schedules.len(), 6);
    assert!(runs.len() >= 18, "{} runs in a minute", runs.len());
    pool.close().await;
}

#[test]
fn import_contacts_prints_a_summary_and_fails_only_on_an_unreadable_file() {
    let db = TestDatabase::create();
    run(command(&db).args([
        "user",
        "create",
        "--email",
        "ann@ourco.com",
        "--name",
        "Ann",
    ]));
    let google = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/import/google-contacts.csv"
    );
    let dir = tempfile::tempdir().unwrap();
    let rejects = dir.path().join("rejects.csv");
    let import = |extra: &[&str]| {
        let mut cmd = command(&db);
        cmd.args(["import", "contacts", "--csv", google, "--rejects"])
            .arg(&rejects)
            .args(extra);
        // Rows were rejected, and still the exit code is 0.
        String::from_utf8_lossy(&run(&mut cmd).stdout).to_string()
    };

    let dry = import(&["--dry-run"]);
    assert!(dry.contains("dry run: nothing was written"), "{dry}");
    assert!(
        dry.contains("imported: 6 contacts would be created"),
        "{dry}"
    );

    let out = import(&[]);
    for expected in [
        "as ann@ourco.com",
        "columns used: \"First Name\" → first name,",
        "\"E-mail 2 - Value\" → email 2",
        "columns ignored (not a contact field): \"Middle Name\", \"Phonetic First Name\",",
        "rows read: 12\n",
        "imported: 6 contacts created\n",
        "companies created: 3\n",
        "skipped: 2 rows\n",
        "  2 repeat the address of an earlier row (the first one is kept): row 8 (as row 2), row 12 (as row 2)\n",
        "rejected: 3 rows\n",
        "  1 × invalid \"E-mail 1 - Value\"\n      row 6: \"eve@\" is not a valid email address",
        "  1 × no email address\n      row 7: ",
        "blank rows ignored: 1\n",
        "rejected rows written to ",
    ] {
        assert!(out.contains(expected), "the summary lacks {expected:?}:\n{out}");
    }
    let written = std::fs::read_to_string(&rejects).unwrap();
    assert_eq!(
        written
            .lines()
            .next()
            .unwrap()
            .split(',')
            .take(3)
            .collect::<Vec<_>>(),
        ["row", "reason", "First Name"]
    );

    let again = import(&[]);
    assert!(again.contains("imported: 0 contacts created\n"), "{again}");
    assert!(again.contains("  6 already in the CRM"), "{again}");

    // A file without an email column: nothing can be imported, exit code 1.
    let names_only = dir.path().join("names.csv");
    std::fs::write(&names_only, "First Name,Last Name\nAnn,Lee\n").unwrap();
    let refused = command(&db)
        .args(["import", "contacts", "--csv"])
        .arg(&names_only)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("no email column"), "{stderr}");
    let missing = command(&db)
        .args(["import", "contacts", "--csv", "/nonexistent/contacts.csv"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("cannot read /nonexistent/contacts.csv")
    );
}

// The limits (README, "Limits"), with real slow sockets on loopback against the binary,
// its timeouts shortened to a second or so. Each socket read is bounded.

/// The server's `host:port`.
fn address(server: &Server) -> String {
    server.base.trim_start_matches("http://").to_string()
}

/// A `serve` on `db` with these limit variables, its log in `log` (when given).
fn start_with_limits(db: &TestDatabase, limits: &[(&str, &str)], log: Option<&Path>) -> Server {
    let mut cmd = command(db);
    cmd.args(["serve", "--listen", "127.0.0.1:0"]);
    for (name, value) in limits {
        cmd.env(name, value);
    }
    match log {
        Some(log) => {
            cmd.env("RUST_LOG", "info");
            Server::spawn_with_stderr(cmd, std::fs::File::create(log).unwrap().into())
        }
        None => Server::spawn(cmd),
    }
}

/// Reads `stream` until the server closes it (EOF or reset) or `limit` passes; returns
/// what was read and when the server closed it (None: still open at `limit`).
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, Option<Duration>) {
    let started = Instant::now();
    let mut read = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let left = limit.saturating_sub(started.elapsed());
        if left.is_zero() {
            return (read, None);
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut chunk) {
            Ok(0) => return (read, Some(started.elapsed())),
            Ok(n) => read.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (read, None)
            }
            Err(_) => return (read, Some(started.elapsed())),
        }
    }
}

/// Reads one answer to a `GET /healthz` (its body is `ok`).
fn read_health_answer(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\nok") {
        let n = stream.read(&mut byte).expect("the answer");
        assert_eq!(
            n,
            1,
            "closed mid-answer: {:?}",
            String::from_utf8_lossy(&answer)
        );
        answer.push(byte[0]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";

/// A connection on which a `POST /contacts` sent its head and 10 of its 100 bytes of body,
/// and no more.
fn stalled_post(addr: &str, token: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST /api/v1/contacts HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"emails\": "
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream
}

/// Silent and slow clients are closed at the header deadline (1 s), an idle kept-alive
/// connection at the idle deadline (3 s: it outlives the header deadline), a stalled body
/// is answered 408 at the body deadline (1 s). All at once, on one server.
#[test]
fn slow_silent_idle_and_stalled_clients_are_closed_at_their_deadlines() {
    let db = TestDatabase::create();
    let server = start_with_limits(
        &db,
        &[
            ("THREADLINE_HEADER_READ_TIMEOUT_SECONDS", "1"),
            ("THREADLINE_IDLE_TIMEOUT_SECONDS", "3"),
            ("THREADLINE_BODY_TIMEOUT_SECONDS", "1"),
        ],
        None,
    );
    let token = server.token().unwrap();
    let addr = address(&server);
    let bound = Duration::from_secs(8);

    let silent = {
        let addr = addr.clone();
        std::thread::spawn(move || {
            let mut stream = TcpStream::connect(&addr).unwrap();
            read_until_closed(&mut stream, bound)
        })
    };
    let slow_head = {
        let addr = addr.clone();
        std::thread::spawn(move || {
            let mut stream = TcpStream::connect(&addr).unwrap();
            stream.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
            let mut writer = stream.try_clone().unwrap();
            // A header line every 200 ms, for longer than the bound unless cut off.
            std::thread::spawn(move || {
                for n in 0..50 {
                    std::thread::sleep(Duration::from_millis(200));
                    if writer
                        .write_all(format!("X-Slow-{n}: 1\r\n").as_bytes())
                        .is_err()
                    {
                        break;
                    }
                }
            });
            read_until_closed(&mut stream, bound)
        })
    };
    let stalled_body = {
        let addr = addr.clone();
        std::thread::spawn(move || {
            let mut stream = stalled_post(&addr, &token);
            read_until_closed(&mut stream, bound)
        })
    };
    let idle = {
        let addr = addr.clone();
        std::thread::spawn(move || {
            let mut stream = TcpStream::connect(&addr).unwrap();
            stream.write_all(HEALTH).unwrap();
            read_health_answer(&mut stream);
            // Past the header deadline, the kept-alive connection still serves.
            std::thread::sleep(Duration::from_millis(1500));
            stream.write_all(HEALTH).unwrap();
            read_health_answer(&mut stream);
            read_until_closed(&mut stream, bound)
        })
    };

    let close_to = |what: &str, closed: Option<Duration>, deadline: f64| {
        let closed = closed.unwrap_or_else(|| panic!("{what}: still open after {bound:?}"));
        let secs = closed.as_secs_f64();
        assert!(
            secs > deadline - 0.3 && secs < deadline + 1.5,
            "{what}: closed after {secs:.2} s, the deadline is {deadline} s"
        );
    };
    let (read, closed) = silent.join().unwrap();
    assert!(read.is_empty(), "{:?}", String::from_utf8_lossy(&read));
    close_to("a silent connection", closed, 1.0);
    let (read, closed) = slow_head.join().unwrap();
    assert!(read.is_empty(), "{:?}", String::from_utf8_lossy(&read));
    close_to("a slow request head", closed, 1.0);
    let (_, closed) = idle.join().unwrap();
    close_to("an idle kept-alive connection", closed, 3.0);

    let (read, closed) = stalled_body.join().unwrap();
    close_to("a stalled body", closed, 1.0);
    let answer = String::from_utf8_lossy(&read).to_string();
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    let lower = answer.to_ascii_lowercase();
    assert!(lower.contains("connection: close"), "{answer}");
    assert!(lower.contains("content-type: application/json"), "{answer}");
    let body: serde_json::Value =
        serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap_or_default()).unwrap();
    assert_eq!(body["error"]["code"], "request_timeout", "{answer}");
    assert!(server.terminate().success());
}

/// Past the connection cap, new connections are closed at once (with a 503 when the
/// socket takes it), the log says so once (not once per connection), and a slot freed
/// serves again.
#[test]
fn connections_over_the_cap_are_closed_at_once_and_logged_once() {
    let db = TestDatabase::create();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let server = start_with_limits(&db, &[("THREADLINE_MAX_CONNECTIONS", "3")], Some(&log));
    let addr = address(&server);
    let mut held: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    // The held ones are accepted (they hold the slots): one answers.
    held[0].write_all(HEALTH).unwrap();
    read_health_answer(&mut held[0]);

    for n in 0..5 {
        let mut over = TcpStream::connect(&addr).unwrap();
        let (read, closed) = read_until_closed(&mut over, Duration::from_secs(3));
        let closed = closed.unwrap_or_else(|| panic!("connection {n} over the cap is held open"));
        assert!(closed < Duration::from_secs(1), "closed after {closed:?}");
        let read = String::from_utf8_lossy(&read);
        assert!(
            read.is_empty() || read.starts_with("HTTP/1.1 503 "),
            "{read}"
        );
    }

    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut stream = TcpStream::connect(&addr).unwrap();
        stream.write_all(HEALTH).unwrap();
        let (read, _) = read_until_closed(&mut stream, Duration::from_millis(500));
        if String::from_utf8_lossy(&read).starts_with("HTTP/1.1 200 ") {
            break;
        }
        assert!(Instant::now() < deadline, "no slot was freed");
    }
    drop(held);
    assert!(server.terminate().success());
    let log = std::fs::read_to_string(&log).unwrap();
    let lines = log
        .lines()
        .filter(|l| l.contains("connection limit reached"))
        .count();
    assert_eq!(
        lines, 1,
        "one line per 10 s, not one per connection:\n{log}"
    );
}

/// SIGTERM stops the server within the shutdown deadline even while a request's body
/// stalls (its body deadline far later): the request is cut off, the exit code is 0.
#[test]
fn sigterm_stops_the_server_within_the_shutdown_deadline_despite_a_stalled_client() {
    let db = TestDatabase::create();
    let server = start_with_limits(
        &db,
        &[
            ("THREADLINE_SHUTDOWN_TIMEOUT_SECONDS", "1"),
            ("THREADLINE_BODY_TIMEOUT_SECONDS", "600"),
            ("THREADLINE_HEADER_READ_TIMEOUT_SECONDS", "600"),
        ],
        None,
    );
    let token = server.token().unwrap();
    let stalled = stalled_post(&address(&server), &token);
    let silent = TcpStream::connect(address(&server)).unwrap();
    // The request is in the handler, waiting for its body.
    std::thread::sleep(Duration::from_millis(500));
    let asked = Instant::now();
    let status = server.terminate_within(Duration::from_secs(10));
    let took = asked.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(4), "stopped after {took:?}");
    drop((stalled, silent));
}

/// `serve` on `db` with the data directory `data_dir`, run by a shell that sets the umask
/// to 022 first (the usual default, which makes files 0644).
#[cfg(unix)]
fn serve_with_umask_022(db: &TestDatabase, data_dir: &std::path::Path) -> Server {
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        "umask 022 && exec \"$0\" \"$@\"",
        BIN,
        "serve",
        "--listen",
        "127.0.0.1:0",
    ]);
    configure(&mut cmd, db);
    cmd.env("THREADLINE_DATA_DIR", data_dir)
        .env("RUST_LOG", "info,sqlx=warn");
    Server::spawn(cmd)
}

/// A company and a file in its documents, over HTTP; the file's node.
async fn upload_a_document(server: &Server, token: &str, content: &[u8]) -> serde_json::Value {
    let client = reqwest::Client::new();
    let company: serde_json::Value = client
        .post(format!("{}/api/v1/companies", server.base))
        .bearer_auth(token)
        .json(&serde_json::json!({ "name": "Acme" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = company["id"].as_str().expect("a company");
    let node = client
        .put(format!(
            "{}/api/v1/companies/{id}/documents/files?name=notes.txt",
            server.base
        ))
        .bearer_auth(token)
        .body(content.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(node.status(), 201);
    node.json().await.unwrap()
}

/// Every folder and file under `dir` (itself included) with its permission bits.
#[cfg(unix)]
fn modes_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, bool, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(dir).unwrap();
    let mut found = vec![(
        dir.to_path_buf(),
        meta.is_dir(),
        meta.permissions().mode() & 0o777,
    )];
    if meta.is_dir() {
        for entry in std::fs::read_dir(dir).unwrap() {
            found.extend(modes_under(&entry.unwrap().path()));
        }
    }
    found
}

/// Issue 10, finding 7: with umask 022 the data directory was 0755 and the database, its
/// WAL and shared-memory files and the documents' content 0644. Now folders are 0700 and
/// files 0600.
#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_and_its_files_are_private_under_umask_022() {
    let db = TestDatabase::create();
    let data_dir = db.data_dir().join("fresh");
    let server = serve_with_umask_022(&db, &data_dir);
    let token = server.token().expect("a token on first start");
    let node = upload_a_document(&server, &token, b"for our eyes only").await;
    let sha = node["sha256"].as_str().unwrap().to_string();

    // While it runs (SQLite's WAL and shared-memory files exist only then).
    let found = modes_under(&data_dir);
    let names: Vec<String> = found
        .iter()
        .map(|(p, _, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut expected = vec!["secret.key", "blobs", "tmp", sha.as_str()];
    if db.database_url().is_none() {
        expected.extend(["threadline.db", "threadline.db-wal", "threadline.db-shm"]);
    }
    for name in expected {
        assert!(names.iter().any(|n| n == name), "no {name} in {found:#?}");
    }
    for (path, is_dir, mode) in &found {
        let wanted = if *is_dir { 0o700 } else { 0o600 };
        assert_eq!(
            *mode,
            wanted,
            "{} is {mode:o}, not {wanted:o}",
            path.display()
        );
    }
    assert!(server.terminate().success());
}

/// An existing data directory that others may read is left as it is, and said so at start:
/// a warning naming the directory and its mode.
#[cfg(unix)]
#[tokio::test]
async fn a_data_directory_others_may_read_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let db = TestDatabase::create();
    let data_dir = db.data_dir().join("shared");
    std::fs::create_dir(&data_dir).unwrap();
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = serve_with_umask_022(&db, &data_dir);
    let line = server.stderr_line(&["WARN", "data directory", "755"]);
    assert!(line.contains(data_dir.to_str().unwrap()), "{line}");
    let mode = std::fs::metadata(&data_dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755, "left as it was");
    assert!(server.terminate().success());
}

/// Issue 10, finding 8: at start the server collects document storage (then hourly) and
/// logs what it removed: `blobs/tmp/*.part` files a crash left, but only those not written
/// for an hour (an upload of another server process sharing the directory may be running),
/// and content nothing references that is as old (a lost upload race left it).
#[cfg(unix)]
#[tokio::test]
async fn at_start_the_server_collects_what_crashes_and_lost_races_left() {
    use sha2::{Digest, Sha256};
    let two_hours_ago = std::time::SystemTime::now() - Duration::from_secs(2 * 60 * 60);
    let write = |path: &std::path::Path, content: &[u8], old: bool| {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
        if old {
            std::fs::File::options()
                .write(true)
                .open(path)
                .unwrap()
                .set_modified(two_hours_ago)
                .unwrap();
        }
        path.to_path_buf()
    };
    let db = TestDatabase::create();
    let data_dir = db.data_dir().join("data");
    let blobs = data_dir.join("blobs");
    let content = |bytes: &[u8]| {
        let sha: String = Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        blobs.join(&sha[0..2]).join(&sha[2..4]).join(&sha)
    };
    let crashed = write(&blobs.join("tmp/crashed.part"), b"0123456789", true);
    let uploading = write(&blobs.join("tmp/uploading.part"), b"01234", false);
    let lost_long_ago = write(&content(b"lost"), b"lost", true);
    let lost_just_now = write(&content(b"just now"), b"just now", false);

    let server = serve_with_umask_022(&db, &data_dir);
    let line = server.stderr_line(&["document storage collected"]);
    assert!(
        line.contains("1 unreferenced content(s) (4 bytes)")
            && line.contains("1 abandoned upload(s) (10 bytes)"),
        "{line}"
    );
    assert!(!crashed.exists());
    assert!(uploading.exists(), "written within the hour: maybe running");
    assert!(!lost_long_ago.exists());
    assert!(lost_just_now.exists(), "within the grace period");
    assert!(server.terminate().success());
}

#[test]
fn retention_settings_are_checked() {
    let db = TestDatabase::create();
    let refused = command(&db)
        .args(["serve", "--listen", "127.0.0.1:0", "--versions-kept", "0"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--versions-kept"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let config = db.data_dir().join("threadline.toml");
    std::fs::write(&config, "trash_retention_days = 0\n").unwrap();
    let refused = command(&db)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("trash_retention_days = 0") && stderr.contains("1 to 36500"),
        "{stderr}"
    );
}

/// The value of the `csrf` field in `html`, a page of the web app.
fn csrf_field(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..].split('"').next().unwrap().to_string()
}

/// The `Set-Cookie` header of the session cookie (`threadline`, or `__Host-threadline`
/// under HTTPS) a web answer sets.
fn session_set_cookie(answer: &reqwest::Response) -> String {
    answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("threadline=") || v.starts_with("__Host-threadline="))
        .expect("a session cookie")
        .to_string()
}

/// The session cookie (`name=value`) a web answer sets.
fn session_cookie_of(answer: &reqwest::Response) -> String {
    session_set_cookie(answer)
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// The owner's setup through the link's `path` on `base`, as a browser on that site posts
/// it (`same-origin`); the answer (a 303 asserted) sets the session cookie.
async fn set_up_owner(base: &str, path: &str, email: &str) -> reqwest::Response {
    let set_up = browser()
        .post(format!("{base}{path}"))
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("email", email),
            ("name", "Olga Owner"),
            ("password", "a long enough secret 1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(set_up.status(), reqwest::StatusCode::SEE_OTHER);
    set_up
}

/// Two server processes on one database share the web app's sessions and its sign-in
/// throttle: a session started on one is signed in on the other, a sign-out on one ends it
/// on both (the stolen cookie is useless everywhere), and failed sign-ins on both count
/// together.
#[tokio::test]
async fn two_server_processes_share_web_sessions_and_the_sign_in_throttle() {
    let db = TestDatabase::create();
    let owner = "owner@example.com";
    let first = Server::start(&db, owner);
    let second = Server::start(&db, owner);
    // Each start prints a new link until the owner has a password: the latest one counts,
    // whichever process printed it.
    let setup = second
        .lines
        .iter()
        .find_map(|l| l.strip_prefix("THREADLINE_SETUP_URL="))
        .expect("a setup link while the owner has no password")
        .to_string();
    assert!(
        setup.starts_with(&format!("{}/setup/", second.base)),
        "{setup}"
    );
    let browser = browser();
    let post = |server: &Server, path: &str| {
        browser
            .post(format!("{}{path}", server.base))
            .header("origin", server.base.clone())
    };

    // The owner sets a password through the first process…
    let path = setup.strip_prefix(&second.base).unwrap();
    let cookie = session_cookie_of(&set_up_owner(&first.base, path, owner).await);

    // …and is signed in on the second.
    let home = |server: &Server, cookie: String| {
        browser
            .get(format!("{}/", server.base))
            .header("cookie", cookie)
            .send()
    };
    let on_second = home(&second, cookie.clone()).await.unwrap();
    assert_eq!(on_second.status(), 200);
    let page = on_second.text().await.unwrap();
    assert!(page.contains("Olga Owner"), "{page}");

    // Signing out on the second ends the session on the first too.
    let signed_out = post(&second, "/sign-out")
        .header("cookie", cookie.clone())
        .form(&[("csrf", csrf_field(&page))])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), reqwest::StatusCode::SEE_OTHER);
    for server in [&first, &second] {
        let after = home(server, cookie.clone()).await.unwrap();
        assert_eq!(
            after.status(),
            reqwest::StatusCode::SEE_OTHER,
            "{}",
            server.base
        );
        let to = after.headers()["location"].to_str().unwrap();
        assert!(to.starts_with("/sign-in"), "{to}");
    }

    // Wrong passwords on both processes add up: after five, the right one is refused too.
    for n in 0..5 {
        let server = if n % 2 == 0 { &first } else { &second };
        let wrong = post(server, "/sign-in")
            .form(&[("email", owner), ("password", "not the password")])
            .send()
            .await
            .unwrap();
        assert_eq!(
            wrong.status(),
            reqwest::StatusCode::UNAUTHORIZED,
            "attempt {n}"
        );
    }
    let throttled = post(&second, "/sign-in")
        .form(&[("email", owner), ("password", "a long enough secret 1")])
        .send()
        .await
        .unwrap();
    assert_eq!(throttled.status(), reqwest::StatusCode::UNAUTHORIZED);
    assert!(
        throttled
            .headers()
            .get_all("set-cookie")
            .iter()
            .all(|v| !v.to_str().unwrap_or("").starts_with("threadline=")),
        "no session while throttled"
    );
    let text = throttled.text().await.unwrap();
    assert!(text.contains("minute"), "says when to try again: {text}");

    assert!(first.terminate().success());
    assert!(second.terminate().success());
}

/// Behind HTTPS (a public URL with `https`, as behind a proxy that terminates TLS), the
/// session cookie is `Secure` and `__Host-`; the printed setup link is under the public URL.
#[tokio::test]
async fn an_https_public_url_makes_the_session_cookie_secure() {
    let db = TestDatabase::create();
    let mut cmd = command(&db);
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .env("THREADLINE_OWNER_EMAIL", "owner@example.com")
        .env("THREADLINE_PUBLIC_URL", "https://crm.example.test");
    let server = Server::spawn(cmd);
    let setup = server
        .lines
        .iter()
        .find_map(|l| l.strip_prefix("THREADLINE_SETUP_URL="))
        .expect("a setup link")
        .to_string();
    let path = setup
        .strip_prefix("https://crm.example.test")
        .unwrap_or_else(|| panic!("the link is under the public URL: {setup}"));
    let cookie = session_set_cookie(&set_up_owner(&server.base, path, "owner@example.com").await);
    assert!(cookie.starts_with("__Host-threadline="), "{cookie}");
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("; HttpOnly"), "{cookie}");
    assert!(cookie.contains("; Path=/"), "{cookie}");
    assert!(!cookie.contains("Domain="), "{cookie}");
    assert!(server.terminate().success());
}
