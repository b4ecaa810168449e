//! Throwaway databases for tests, on the engine the environment picks.
//!
//! With [`TEST_DATABASE_URL_VAR`] set to the URL of a PostgreSQL database in which its role
//! may create schemas (`postgres://threadline@127.0.0.1:5432/threadline_tests`), every
//! [`TestDatabase`] is a new schema `t_<uuid>` there, which its connections use as their
//! `search_path` (the schema holds the migrations' tables and `_sqlx_migrations`), dropped
//! when the test ends: tests are isolated and run in parallel. A schema rather than a whole
//! database because it is some twenty times cheaper to make and drop, and tests make many.
//! Unset, each is an SQLite file in a new temporary directory. So the whole test suite runs
//! on either engine; `tests/pg/throwaway-cluster.sh run <command>` starts a PostgreSQL
//! server for one run (`./build.sh test` does both).

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use sqlx::{Connection, Executor, PgConnection};
use tempfile::TempDir;
use uuid::Uuid;

use crate::db::{Db, Engine, Location};

/// The environment variable that puts the tests on PostgreSQL.
pub const TEST_DATABASE_URL_VAR: &str = "THREADLINE_TEST_DATABASE_URL";

/// The engine the tests run on.
pub fn engine() -> Engine {
    match server_url() {
        Some(_) => Engine::Postgres,
        None => Engine::Sqlite,
    }
}

fn server_url() -> Option<String> {
    let url = std::env::var(TEST_DATABASE_URL_VAR).ok()?;
    let url = url.trim();
    if url.is_empty() {
        return None;
    }
    assert!(
        url.starts_with("postgres://") || url.starts_with("postgresql://"),
        "{TEST_DATABASE_URL_VAR} must be a postgres:// URL (or unset, for SQLite)"
    );
    Some(url.to_string())
}

/// An empty database of its own for one test (and a temporary data directory, which holds
/// the database on SQLite); removed when dropped.
pub struct TestDatabase {
    location: Location,
    postgres: Option<Scratch>,
    dir: TempDir,
}

impl TestDatabase {
    /// A new empty database. Panics (it is for tests) when it cannot be made.
    pub fn create() -> TestDatabase {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let Some(server) = server_url() else {
            return TestDatabase {
                location: Location::choose(dir.path(), None).expect("an SQLite location"),
                postgres: None,
                dir,
            };
        };
        Self::on_postgres(Scratch::schema(&server), dir)
    }

    /// On PostgreSQL, a new database made with these `CREATE DATABASE` options (e.g. another
    /// locale), for tests of what the server refuses; `None` on SQLite.
    pub fn new_postgres_with(options: &str) -> Option<TestDatabase> {
        let server = server_url()?;
        let dir = tempfile::tempdir().expect("a temporary directory");
        Some(Self::on_postgres(Scratch::database(&server, options), dir))
    }

    fn on_postgres(scratch: Scratch, dir: TempDir) -> TestDatabase {
        TestDatabase {
            location: Location::Postgres(scratch.url.clone()),
            postgres: Some(scratch),
            dir,
        }
    }

    /// The database, opened and migrated.
    pub async fn open(&self) -> Db {
        Db::open(&self.location)
            .await
            .unwrap_or_else(|e| panic!("cannot open the test database {}: {e}", self.location))
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The data directory to give the server (it holds the database on SQLite).
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The `DATABASE_URL` to give the server: `None` on SQLite.
    pub fn database_url(&self) -> Option<&str> {
        self.postgres.as_ref().map(|p| p.url.as_str())
    }
}

/// A schema or a database made on the test server, dropped with this value.
struct Scratch {
    kind: Kind,
    name: String,
    /// The URL that reaches it.
    url: String,
}

#[derive(Clone, Copy)]
enum Kind {
    Schema,
    Database,
}

impl Scratch {
    fn schema(server: &str) -> Scratch {
        let name = new_name();
        admin(server, Admin::Execute(format!("CREATE SCHEMA {name}")))
            .unwrap_or_else(|e| panic!("cannot create the test schema {name}: {e}"));
        let mut url = labelled_url(server, &name);
        url.query_pairs_mut()
            .append_pair("options", &format!("-c search_path={name}"));
        Scratch {
            kind: Kind::Schema,
            name,
            url: url.to_string(),
        }
    }

    fn database(server: &str, options: &str) -> Scratch {
        let name = new_name();
        admin(
            server,
            Admin::Execute(format!("CREATE DATABASE {name} {options}")),
        )
        .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));
        let mut url = url::Url::parse(server).expect("a valid URL");
        url.set_path(&name);
        Scratch {
            kind: Kind::Database,
            name,
            url: url.to_string(),
        }
    }
}

fn new_name() -> String {
    format!("t_{}", Uuid::now_v7().simple())
}

/// The server's URL with `application_name` = `name`: how the admin connection finds the
/// test's connections, to end them before dropping what they use.
fn labelled_url(server: &str, name: &str) -> url::Url {
    let mut url = url::Url::parse(server).expect("a valid URL");
    url.query_pairs_mut().append_pair("application_name", name);
    url
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let server = server_url().expect("the server of a PostgreSQL test database");
        let request = Admin::Drop(self.kind, self.name.clone());
        if let Err(e) = admin(&server, request) {
            eprintln!("warning: could not drop the test {}: {e}", self.name);
        }
    }
}

/// What the admin connection does.
enum Admin {
    Execute(String),
    /// Ends the connections of a test, then drops its schema or database.
    Drop(Kind, String),
}

type AdminRequest = (Admin, std::sync::mpsc::Sender<Result<(), String>>);

/// Has `request` done on the test server by one connection that the whole test process
/// shares: it lives on a thread of its own, since each test's runtime ends with the test (and
/// `Drop` cannot await). Waits until it is done.
fn admin(server: &str, request: Admin) -> Result<(), String> {
    static ADMIN: OnceLock<tokio::sync::mpsc::UnboundedSender<AdminRequest>> = OnceLock::new();
    let requests = ADMIN.get_or_init(|| {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        let server = server.to_string();
        std::thread::Builder::new()
            .name("test-db-admin".into())
            .spawn(move || serve_admin_requests(&server, receiver))
            .expect("a thread for the test database admin connection");
        sender
    });
    let stopped = || "the admin connection's thread has stopped".to_string();
    let (reply, answer) = std::sync::mpsc::channel();
    requests.send((request, reply)).map_err(|_| stopped())?;
    answer.recv().map_err(|_| stopped())?
}

fn serve_admin_requests(
    server: &str,
    mut requests: tokio::sync::mpsc::UnboundedReceiver<AdminRequest>,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the test database admin connection");
    runtime.block_on(async {
        let mut conn: Option<PgConnection> = None;
        while let Some((request, reply)) = requests.recv().await {
            if conn.is_none() {
                match PgConnection::connect(server).await {
                    Ok(c) => conn = Some(c),
                    Err(e) => {
                        let _ = reply.send(Err(format!(
                            "cannot connect to {} ({TEST_DATABASE_URL_VAR}): {e}",
                            crate::db::redact_url(server)
                        )));
                        continue;
                    }
                }
            }
            let result = run(conn.as_mut().expect("connected above"), request).await;
            if result.is_err() {
                // Connect again for the next request, in case this connection is broken.
                conn = None;
            }
            let _ = reply.send(result.map_err(|e| e.to_string()));
        }
    });
}

async fn run(conn: &mut PgConnection, request: Admin) -> Result<(), sqlx::Error> {
    match request {
        Admin::Execute(sql) => {
            conn.execute(sql.as_str()).await?;
        }
        Admin::Drop(kind, name) => {
            // The test is over, but its connections may still be open, and one may even hold
            // a transaction whose rollback is queued on the test's runtime, which waits for
            // this drop: end them (as DROP DATABASE … WITH (FORCE) would), and wait a moment
            // for them to go.
            let of_the_test = "FROM pg_stat_activity WHERE application_name = $1";
            sqlx::query(&format!("SELECT pg_terminate_backend(pid) {of_the_test}"))
                .bind(&name)
                .execute(&mut *conn)
                .await?;
            for _ in 0..200 {
                let open: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) {of_the_test}"))
                    .bind(&name)
                    .fetch_one(&mut *conn)
                    .await?;
                if open == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let sql = match kind {
                Kind::Schema => format!("DROP SCHEMA {name} CASCADE"),
                Kind::Database => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            };
            conn.execute(sql.as_str()).await?;
        }
    }
    Ok(())
}
