//! A run killed with SIGKILL (no unwinding, no destructors, no commit: a power cut, the OOM
//! killer) at the export's crash points, in a process of its own (this test binary, the
//! ignored `kill_child`): after a create batch is made in Google and before its links are
//! stored, after an update batch is written and before its links, and after every write
//! before the position is stored. The next run converges: every contact once in Google,
//! with our fields, and the run after it writes nothing.

mod common;

use std::sync::Arc;

use threadline_fake_providers::google::oauth::Tokens;
use threadline_google_contacts::client::{PeopleClient, RetryPolicy};
use threadline_google_contacts::{ContactsExport, RunOptions};
use threadline_storage::db::{Db, Location};
use threadline_storage::secrets::SecretString;
use threadline_sync_engine::FixedToken;
use uuid::Uuid;

use common::world::World;

const CHILD_DB: &str = "THREADLINE_TEST_CHILD_DB";
const CHILD_API: &str = "THREADLINE_TEST_CHILD_API";
const CHILD_CONNECTION: &str = "THREADLINE_TEST_CHILD_CONNECTION";
const CHILD_TOKEN: &str = "THREADLINE_TEST_CHILD_TOKEN";

/// The run to kill, in a process of its own (ignored: started by the test below only).
#[tokio::test]
#[ignore = "the child process of a_run_killed_at_any_crash_point_converges"]
async fn kill_child() {
    let (Ok(db), Ok(api), Ok(connection), Ok(token)) = (
        std::env::var(CHILD_DB),
        std::env::var(CHILD_API),
        std::env::var(CHILD_CONNECTION),
        std::env::var(CHILD_TOKEN),
    ) else {
        return;
    };
    let location = match db.strip_prefix("sqlite:") {
        Some(path) => Location::Sqlite(path.into()),
        None => Location::Postgres(db.clone()),
    };
    let db = Db::open(&location).await.unwrap();
    let client = PeopleClient::new(&api, RetryPolicy::none()).unwrap();
    let export = ContactsExport::new(db, client, Arc::new(FixedToken(SecretString::from(token))));
    let connection: Uuid = connection.parse().unwrap();
    let outcome = export.run(connection, RunOptions::default()).await;
    panic!("the run was to be killed, and ended: {outcome:?}");
}

/// One run of `w`'s export in a child process killed at `point`; how it ended.
async fn run_killed_at(w: &World, point: &str) -> std::process::ExitStatus {
    let db = match w.location() {
        Location::Sqlite(path) => format!("sqlite:{}", path.display()),
        Location::Postgres(url) => url.clone(),
    };
    let Tokens { access_token, .. } =
        w.fake
            .google()
            .issue_tokens(common::CLIENT_ID, &w.email, &["contacts"]);
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", "kill_child", "--ignored", "--nocapture"])
        .env("THREADLINE_TEST_KILL_AT", point)
        .env(CHILD_DB, db)
        .env(CHILD_API, format!("{}/v1", w.fake.base_url()))
        .env(CHILD_CONNECTION, w.connection.to_string())
        .env(CHILD_TOKEN, access_token);
    // Waited for off this thread: the fake Google serves the child from this runtime.
    tokio::task::spawn_blocking(move || command.status().unwrap())
        .await
        .unwrap()
}

/// Every one of `ids` is exactly one person in Google, and the run after the next writes
/// nothing.
async fn converged(w: &World, ids: &[Uuid], point: &str) {
    w.settles().await;
    for id in ids {
        assert_eq!(w.people_of(*id).len(), 1, "{point}: contact {id}");
    }
    let ours = w.fake.google().people_contacts(&w.email).len();
    assert_eq!(ours, ids.len(), "{point}: no other person made");
}

#[tokio::test]
async fn a_run_killed_at_any_crash_point_converges() {
    use std::os::unix::process::ExitStatusExt;

    // The first export, killed after its first create batch (of 200) is made in Google.
    let point = "contacts-after-create";
    let w = World::new("ann@example.com").await;
    let ids = w.contacts(450, "p").await;
    let status = run_killed_at(&w, point).await;
    assert_eq!(status.signal(), Some(9), "{point}: not killed: {status:?}");
    assert_eq!(
        w.fake.google().people_contacts(&w.email).len(),
        200,
        "{point}: the first batch was made before the kill"
    );
    converged(&w, &ids, point).await;

    // A later run, killed after an update batch is written in Google.
    let point = "contacts-after-update";
    for (i, id) in ids.iter().take(10).enumerate() {
        w.rename(*id, 1, &format!("Changed{i}")).await;
    }
    let status = run_killed_at(&w, point).await;
    assert_eq!(status.signal(), Some(9), "{point}: not killed: {status:?}");
    converged(&w, &ids, point).await;
    for (i, id) in ids.iter().take(10).enumerate() {
        let person = &w.people_of(*id)[0];
        assert_eq!(
            person["names"][0]["familyName"],
            format!("Changed{i}"),
            "{point}: {person}"
        );
    }

    // A first export killed after every write, before its position is stored.
    let point = "contacts-before-position";
    let w = World::new("ben@example.com").await;
    let ids = w.contacts(250, "q").await;
    let status = run_killed_at(&w, point).await;
    assert_eq!(status.signal(), Some(9), "{point}: not killed: {status:?}");
    assert_eq!(w.fake.google().people_contacts(&w.email).len(), 250);
    converged(&w, &ids, point).await;
}
