//! Benchmark of the document sync with Dropbox (`threadline_files_sync::run::FileSync` with
//! this crate's `DropboxClient`), against the local fake Dropbox over real loopback HTTP.
//!
//! The fake runs in a **child process** (this binary again, `--serve-fake`), so that the
//! figures of memory are the sync's own: the fake keeps every file's bytes in memory, which
//! in one process would hide whether a 50 MB transfer is streamed. The parent asks the child
//! over a pipe for its request log (per endpoint) and to write files as a user does in
//! Dropbox. The child also runs a relay in front of the fake that counts the bytes sent
//! through it (requests with their headers and bodies): the runs whose bytes are reported
//! (the quiet run, the rename) go through it, one more loopback hop; the first sync and the
//! large transfers go straight to the fake.
//!
//! The CRM is a database made by `threadline_storage::testing::TestDatabase` (SQLite in a
//! temporary directory; PostgreSQL with `THREADLINE_TEST_DATABASE_URL`) and a blob store in
//! its data directory; its organisation, user, Dropbox connection, companies, folders and
//! files are made through the model (`accounts`, `connections::upsert`, `Company::save`,
//! `BlobStore::store_stream`, `tree::create_file`), the sync turned on for the companies
//! module (`settings::ensure`, `add_target`). The token is fixed (`FixedToken`).
//!
//! 1. **First sync of N records × 10 files** (`--records`, default 1,000; 1–4 KiB of
//!    seeded random bytes each; 7 at the record's top, 3 in its `Contracts` folder): wall
//!    time, files per second, requests per endpoint, peak RSS.
//! 2. **The next scheduled run** (the first sync's own writes come back in the listing) and
//!    **a quiet run** (goal: exactly 1 request, `list_folder/continue`).
//! 3. **A 50 MiB file** (`--mib`, at most the documents' 50 MiB), for another organisation's
//!    user with a Dropbox of his own (few links: a run's own cost stays small beside the
//!    transfer), CRM → Dropbox (an upload
//!    session of 8 MiB chunks) and Dropbox → CRM, `--repeat` times: throughput as a ratio of
//!    a **raw loopback copy** of the same bytes to the same fake in the same run (one plain
//!    reqwest `files/upload` streaming the blob's file, for another account; one plain
//!    `files/download` of the same file written to a temporary file and fsynced, as the blob
//!    store keeps a content; no hashing);
//!    RSS growth during each against the file's size.
//! 4. **Renaming a record that holds 1,000 files** (`--big-record-files`; 10 folders): the
//!    requests of the run after the rename (goal ≤ 3) and the bytes it uploaded (goal 0).
//!
//! ```sh
//! cargo build --release -p threadline-dropbox --example files_sync_bench
//! ./target/release/examples/files_sync_bench                 # N = 1,000
//! ./target/release/examples/files_sync_bench --records 100   # quicker
//! ```
//!
//! Peak RSS: `/proc/self/clear_refs` (`5`) resets the peak to the current RSS before each
//! measured stretch, after `malloc_trim`; the peak is then read as `VmHWM`, the high-water
//! mark `getrusage`'s `ru_maxrss` reads too (Linux resets both, and `ru_maxrss` may also hold
//! the mark of when a thread last exited). The whole process's peak is therefore the largest
//! of the stretches' peaks and of the mark before each reset.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{stream, StreamExt};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use threadline_connections::{self as connections, Grant, Owner, Provider};
use threadline_crm::documents::blobs::{BlobStore, StoredBlob};
use threadline_crm::documents::tree::{self, NewContent};
use threadline_crm::records::companies::{Company, CompanyInput};
use threadline_crm::records::{Editable, Target};
use threadline_crm::{accounts, Actor, CrmError};
use threadline_dropbox::client::{DropboxClient, RetryPolicy};
use threadline_dropbox::integration::{NAME, SCOPES};
use threadline_fake_providers::dropbox::oauth::SYNC_SCOPES;
use threadline_fake_providers::dropbox::DropboxApp;
use threadline_fake_providers::FakeProviders;
use threadline_files_core::hash::DropboxHasher;
use threadline_files_core::link::RecordKind;
use threadline_files_sync::run::{FileSync, RunOptions};
use threadline_files_sync::settings;
use threadline_storage::db::Db;
use threadline_storage::secrets::{self, Keyring, SecretString};
use threadline_storage::testing::{self, TestDatabase};
use threadline_sync_engine::{Counts, FixedToken};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::io::ReaderStream;
use uuid::Uuid;

/// The user whose records are synced (scenarios 1, 2 and 4).
const ANN: &str = "ann@example.com";
/// Another organisation's user with a Dropbox of his own, for the large files: his runs do
/// not carry the cost of loading Ann's thousands of links and nodes (each of her runs does,
/// see the quiet run), which would hide what the transfer itself costs.
const BOB: &str = "bob@example.com";
/// Another account of the fake, where the raw uploads go (the sync never lists it).
const RAW: &str = "raw@example.com";
const APP_KEY: &str = "threadline-bench";
const APP_NAME: &str = "Threadline CRM";
const MIB: u64 = 1024 * 1024;
/// The documents' limit (`threadline_crm::documents::blobs::MAX_FILE_BYTES`).
const MAX_MIB: u64 = 50;
const LIST_CONTINUE: &str = "POST /2/files/list_folder/continue";

/// The benchmark's options.
#[derive(clap::Parser)]
struct Args {
    /// Records of the first sync.
    #[arg(long, default_value_t = 1000)]
    records: usize,
    /// Files per record (the last three in a `Contracts` folder).
    #[arg(long, default_value_t = 10)]
    files: usize,
    /// Files of the record that is renamed (in 10 folders).
    #[arg(long, default_value_t = 1000)]
    big_record_files: usize,
    /// Size of the large file, MiB (at most 50).
    #[arg(long, default_value_t = MAX_MIB)]
    mib: u64,
    /// Large-file transfers of each kind (sync and raw, each way).
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Seed of the generated names and contents.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Internal: serve the fake Dropbox, driven over stdin/stdout.
    #[arg(long, hide = true)]
    serve_fake: bool,
}

fn main() {
    let args = <Args as clap::Parser>::parse();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    if args.serve_fake {
        runtime.block_on(serve_fake());
    } else {
        assert!(
            (1..=MAX_MIB).contains(&args.mib),
            "--mib: 1 to {MAX_MIB} (the documents' limit)"
        );
        runtime.block_on(bench(args));
    }
}

// ---------------------------------------------------------------------------------------
// The child: the fake Dropbox, and a line protocol on stdin/stdout.

/// Seeded bytes (the same seed, the same bytes in both processes).
fn seeded_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut data = vec![0u8; len];
    ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut data);
    data
}

/// The large content of `seed`, as a stream of 1 MiB chunks (never held whole).
fn seeded_stream(
    seed: u64,
    mib: u64,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    stream::iter((0..mib).map(move |_| {
        let mut chunk = vec![0u8; MIB as usize];
        rng.fill_bytes(&mut chunk);
        Ok(Bytes::from(chunk))
    }))
}

async fn serve_fake() {
    let fake = Arc::new(FakeProviders::start().await);
    let dropbox = fake.dropbox();
    let mut accounts = serde_json::Map::new();
    dropbox.add_app(DropboxApp {
        app_key: APP_KEY.into(),
        app_secret: "secret".into(),
        name: APP_NAME.into(),
        redirect_uris: vec!["http://127.0.0.1:9/cb".into()],
        scopes: SYNC_SCOPES.map(String::from).to_vec(),
    });
    // Long enough for the slowest run on a busy machine.
    dropbox.set_access_token_lifetime(Duration::from_secs(7 * 86_400));
    for email in [ANN, BOB, RAW] {
        let account_id = dropbox.add_account(email);
        let token = dropbox.issue_tokens(APP_KEY, email).access_token;
        accounts.insert(
            email.into(),
            json!({ "account_id": account_id, "token": token }),
        );
    }
    let counted = Arc::new(AtomicU64::new(0));
    let relay = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("the relay's port");
    let relay_base = format!("http://{}", relay.local_addr().expect("its address"));
    tokio::spawn(serve_relay(relay, fake.addr(), Arc::clone(&counted)));
    let hello = json!({
        "base": fake.base_url(),
        "counted_base": relay_base,
        "accounts": accounts,
        "app_folder": dropbox.app_folder(APP_KEY),
    });
    println!("{hello}");
    let served = Arc::clone(&fake);
    tokio::task::spawn_blocking(move || {
        let stdin = std::io::stdin();
        let mut out = std::io::stdout().lock();
        for line in stdin.lock().lines() {
            let Ok(line) = line else { break };
            let answer = match line.as_str() {
                "sent" => json!(counted.load(Ordering::Relaxed)),
                _ => command(&served, &line),
            };
            if writeln!(out, "{answer}").and_then(|_| out.flush()).is_err() {
                break;
            }
        }
    })
    .await
    .expect("the command loop");
}

/// A relay in front of the fake that counts the bytes sent to it (requests with their
/// bodies): what a run sent to "Dropbox". One more loopback hop: only the runs whose bytes
/// are reported go through it.
async fn serve_relay(listener: TcpListener, fake: SocketAddr, counted: Arc<AtomicU64>) {
    while let Ok((client, _)) = listener.accept().await {
        let counted = Arc::clone(&counted);
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(fake).await else {
                return;
            };
            let _ = (client.set_nodelay(true), server.set_nodelay(true));
            let (from_client, to_client) = client.into_split();
            let (from_server, to_server) = server.into_split();
            tokio::join!(
                relay(from_client, to_server, Some(counted)),
                relay(from_server, to_client, None)
            );
        });
    }
}

async fn relay(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, counted: Option<Arc<AtomicU64>>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(counted) = &counted {
            counted.fetch_add(n as u64, Ordering::Relaxed);
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// One command of the parent: `clear`, `log`, `mem`, and of an account `entries <email>`,
/// `meta <email> <path>`, `put <email> <size> <seed> <path>` (user paths, `/Apps/…`); and
/// `sent` (the relay's count). Answers one line of JSON.
fn command(fake: &FakeProviders, line: &str) -> Value {
    let dropbox = fake.dropbox();
    let mut words = line.splitn(3, ' ');
    let verb = words.next().unwrap_or_default();
    let email = words.next().unwrap_or_default();
    let rest = words.next().unwrap_or_default();
    match verb {
        "clear" => {
            fake.log().clear();
            json!("ok")
        }
        "log" => json!(fake.log().per_endpoint()),
        "mem" => json!({ "rss": status_kib("VmRSS"), "hwm": status_kib("VmHWM") }),
        "entries" => {
            let app = dropbox.app_folder(APP_KEY);
            let prefix = format!("{app}/");
            let under = dropbox
                .paths(email)
                .iter()
                .filter(|p| p.starts_with(&prefix))
                .count();
            json!(under)
        }
        "meta" => dropbox.metadata(email, rest).unwrap_or(Value::Null),
        "put" => {
            let mut parts = rest.splitn(3, ' ');
            let size: usize = parts
                .next()
                .and_then(|s| s.parse().ok())
                .expect("put: a size");
            let seed: u64 = parts
                .next()
                .and_then(|s| s.parse().ok())
                .expect("put: a seed");
            let path = parts.next().expect("put: a path");
            dropbox.put_file(email, path, seeded_bytes(seed, size))
        }
        other => json!({ "error": format!("unknown command {other:?}") }),
    }
}

/// The fake in its child process, as the parent drives it.
struct FakeProcess {
    child: Child,
    pipe: Mutex<(ChildStdin, BufReader<ChildStdout>)>,
    base: String,
    /// The counting relay's URL.
    counted_base: String,
    /// Each account's id and access token.
    accounts: BTreeMap<String, Account>,
    app_folder: String,
}

#[derive(serde::Deserialize)]
struct Account {
    account_id: String,
    token: String,
}

impl FakeProcess {
    fn spawn() -> FakeProcess {
        let mut child = Command::new(std::env::current_exe().expect("this program"))
            .arg("--serve-fake")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the fake's process");
        let stdin = child.stdin.take().expect("its stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("its stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the fake's first line");
        let hello: Value = serde_json::from_str(&line).expect("the fake's hello");
        let text = |k: &str| hello[k].as_str().expect("a hello field").to_string();
        FakeProcess {
            base: text("base"),
            counted_base: text("counted_base"),
            accounts: serde_json::from_value(hello["accounts"].clone()).expect("the accounts"),
            app_folder: text("app_folder"),
            pipe: Mutex::new((stdin, stdout)),
            child,
        }
    }

    fn ask(&self, line: &str) -> Value {
        let mut pipe = self.pipe.lock().unwrap();
        let (stdin, stdout) = &mut *pipe;
        writeln!(stdin, "{line}")
            .and_then(|_| stdin.flush())
            .expect("the fake's stdin");
        let mut answer = String::new();
        stdout.read_line(&mut answer).expect("the fake's answer");
        serde_json::from_str(&answer).expect("a JSON answer")
    }

    fn clear_log(&self) {
        self.ask("clear");
    }

    fn requests(&self) -> BTreeMap<String, usize> {
        serde_json::from_value(self.ask("log")).expect("the request log")
    }

    /// Bytes sent through the counting relay so far.
    fn received(&self) -> u64 {
        self.ask("sent").as_u64().unwrap_or(0)
    }

    fn memory(&self) -> (u64, u64) {
        let m = self.ask("mem");
        (
            m["rss"].as_u64().unwrap_or(0),
            m["hwm"].as_u64().unwrap_or(0),
        )
    }

    fn account(&self, email: &str) -> &Account {
        &self.accounts[email]
    }
}

impl Drop for FakeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------
// Memory and time.

/// A `/proc/self/status` field in KiB (`VmRSS`, `VmHWM`).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The largest `VmHWM` seen before a reset, KiB.
static PROCESS_PEAK: AtomicU64 = AtomicU64::new(0);

/// The process's peak RSS so far, KiB, across the resets.
fn process_peak_kib() -> u64 {
    PROCESS_PEAK
        .fetch_max(status_kib("VmHWM"), Ordering::Relaxed)
        .max(status_kib("VmHWM"))
}

/// `getrusage(RUSAGE_SELF).ru_maxrss`, KiB on Linux.
fn maxrss_kib() -> u64 {
    // SAFETY: an all-zero rusage is valid, and getrusage only writes into it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to an rusage of this process's own.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0;
    }
    u64::try_from(usage.ru_maxrss).unwrap_or(0)
}

/// Hands the allocator's free memory back, then sets the peak (`VmHWM`) to the current
/// RSS. False when the peak cannot be reset.
fn fresh_peak() -> bool {
    PROCESS_PEAK.fetch_max(status_kib("VmHWM"), Ordering::Relaxed);
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only releases free memory of the allocator's own.
    unsafe {
        libc::malloc_trim(0);
    }
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// What a measured stretch cost.
#[derive(Default)]
struct Measured {
    took: Duration,
    /// `"METHOD /2/files/…"` → requests (none for a raw copy: not asked).
    requests: BTreeMap<String, usize>,
    /// Bytes sent to the fake meanwhile, requests with their bodies (runs through the
    /// counting relay only).
    sent: Option<u64>,
    /// RSS at the start and the peak during it, KiB (peak 0: could not be reset).
    rss_start: u64,
    rss_peak: u64,
    counts: Counts,
}

impl Measured {
    fn total(&self) -> usize {
        self.requests.values().sum()
    }

    fn growth_kib(&self) -> u64 {
        self.rss_peak.saturating_sub(self.rss_start)
    }

    fn uploads(&self) -> usize {
        self.requests
            .iter()
            .filter(|(e, _)| e.contains("/files/upload"))
            .map(|(_, n)| n)
            .sum()
    }

    fn sent_cell(&self) -> String {
        match self.sent {
            Some(bytes) => format!("{bytes} B"),
            None => "—".into(),
        }
    }

    fn detail(&self, name: &str) -> i64 {
        self.counts.details.get(name).copied().unwrap_or(0)
    }

    /// `3 (1 list_folder/continue, 2 move_v2)`.
    fn requests_cell(&self) -> String {
        let parts: Vec<String> = self
            .requests
            .iter()
            .map(|(e, n)| format!("{n} `{}`", e.trim_start_matches("POST /2/files/")))
            .collect();
        format!("**{}** ({})", self.total(), parts.join(", "))
    }

    fn report(&self, what: &str) {
        let c = &self.counts;
        println!(
            "{what}: {:.3} s; {} requests, {} sent to Dropbox; created {}, updated {}, \
             deleted {}, unchanged {}, skipped {}, conflicts {}, errors {}, {:?}; RSS {:.0} MiB \
             at the start, peak {:.0} MiB (+{:.1})",
            self.took.as_secs_f64(),
            self.total(),
            self.sent_cell(),
            c.created,
            c.updated,
            c.deleted,
            c.unchanged,
            c.skipped,
            c.conflicts,
            c.errors,
            c.details,
            mib(self.rss_start),
            mib(self.rss_peak),
            mib(self.growth_kib()),
        );
        for (endpoint, n) in &self.requests {
            println!("    {n:>6}  {endpoint}");
        }
    }
}

/// Starts a measured stretch: the peak reset, the fake's log cleared, its byte count read.
struct Meter {
    started: Instant,
    rss_start: u64,
    reset: bool,
    received: u64,
}

impl Meter {
    fn start(fake: &FakeProcess) -> Meter {
        fake.clear_log();
        let received = fake.received();
        let reset = fresh_peak();
        Meter {
            rss_start: status_kib("VmRSS"),
            reset,
            received,
            started: Instant::now(),
        }
    }

    /// `counted`: the stretch went through the counting relay.
    fn stop(self, fake: &FakeProcess, counted: bool) -> Measured {
        let took = self.started.elapsed();
        let rss_peak = if self.reset { status_kib("VmHWM") } else { 0 };
        Measured {
            took,
            rss_start: self.rss_start,
            rss_peak,
            requests: fake.requests(),
            sent: counted.then(|| fake.received().saturating_sub(self.received)),
            counts: Counts::default(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The CRM side and the sync.

/// A record to make: its folders, and its files (folder index, name, stored content).
struct SeedRecord {
    name: String,
    folders: Vec<String>,
    files: Vec<(Option<usize>, String, NewContent)>,
}

/// One user's CRM and Dropbox, and the sync between them.
struct Bench {
    fake: Arc<FakeProcess>,
    email: &'static str,
    db: Db,
    blobs: BlobStore,
    actor: Actor,
    connection: Uuid,
    /// The sync, straight to the fake.
    sync: FileSync,
    /// The same through the counting relay.
    counted: FileSync,
}

impl Bench {
    /// `email`'s organisation (`org`), user and Dropbox connection, the sync on for every
    /// company.
    async fn new(
        db: Db,
        blobs: BlobStore,
        fake: Arc<FakeProcess>,
        email: &'static str,
        org: &str,
    ) -> Bench {
        let account = fake.account(email);
        let mut conn = db.pool().acquire().await.expect("a connection");
        let org = accounts::create_organisation(&mut conn, org)
            .await
            .expect("an organisation");
        let (user, _) = accounts::create_user(&mut conn, org, email, "User", &[])
            .await
            .expect("a user");
        let actor = threadline_crm::actor::of_user(&mut conn, user)
            .await
            .expect("the actor")
            .expect("the user");
        drop(conn);
        let keys = Keyring::parse(&secrets::new_key_line().expect("a key"), "bench keys")
            .expect("a keyring");
        let grant = Grant {
            provider: Provider::Dropbox,
            account_id: account.account_id.clone(),
            account_email: Some(email.into()),
            scopes: SCOPES.iter().map(|s| s.to_string()).collect(),
            access_token: SecretString::from(account.token.clone()),
            refresh_token: None,
            access_token_expires_at: None,
        };
        let owner = Owner::from(&actor);
        let (keys, grant) = (&keys, &grant);
        let connection = db
            .write(|tx| Box::pin(async move { connections::upsert(tx, keys, owner, grant).await }))
            .await
            .expect("the Dropbox connection")
            .connection
            .id;
        let mut conn = db.pool().acquire().await.expect("a connection");
        settings::ensure(&mut conn, connection, NAME)
            .await
            .expect("the sync's settings");
        settings::add_target(
            &mut conn,
            connection,
            settings::Target::Module(RecordKind::Company),
        )
        .await
        .expect("the companies module synced");
        drop(conn);
        let file_sync = |base: &str| {
            let policy = RetryPolicy {
                max_attempts: 4,
                base_delay: Duration::from_millis(20),
                max_delay: Duration::from_secs(2),
            };
            let client = DropboxClient::new(base, base, policy).expect("the client");
            FileSync::new(
                db.clone(),
                blobs.clone(),
                Arc::new(client),
                Arc::new(FixedToken(SecretString::from(account.token.clone()))),
                &[],
            )
        };
        let sync = file_sync(&fake.base);
        let counted = file_sync(&fake.counted_base);
        Bench {
            email,
            counted,
            fake,
            db,
            blobs,
            actor,
            connection,
            sync,
        }
    }

    /// Files and folders in the app folder.
    fn entries(&self) -> u64 {
        let answer = self.fake.ask(&format!("entries {}", self.email));
        answer.as_u64().expect("a count")
    }

    /// The metadata at `path` under the app folder (`/Companies/…`), `Null` if nothing.
    fn meta(&self, path: &str) -> Value {
        let app = &self.fake.app_folder;
        self.fake.ask(&format!("meta {} {app}{path}", self.email))
    }

    /// Writes seeded bytes at `path` under the app folder, as the user does in Dropbox.
    fn put(&self, path: &str, size: u64, seed: u64) -> Value {
        let app = &self.fake.app_folder;
        let email = self.email;
        self.fake
            .ask(&format!("put {email} {size} {seed} {app}{path}"))
    }

    /// One run of the sync, measured.
    async fn run(&self) -> Measured {
        self.run_through(false).await
    }

    /// One run through the counting relay: the bytes it sent are measured too.
    async fn run_counted(&self) -> Measured {
        self.run_through(true).await
    }

    async fn run_through(&self, via_relay: bool) -> Measured {
        let sync = if via_relay { &self.counted } else { &self.sync };
        let meter = Meter::start(&self.fake);
        let tally = sync
            .run(self.connection, RunOptions::default())
            .await
            .expect("a sync run");
        let mut measured = meter.stop(&self.fake, via_relay);
        measured.counts = tally.counts();
        measured
    }

    /// Runs until a run makes at most one request (its own echoes listed), at most 4 times.
    async fn settle(&self) {
        for _ in 0..4 {
            if self.run().await.total() <= 1 {
                return;
            }
        }
        panic!("the sync does not come to rest");
    }

    async fn store(&self, data: Vec<u8>) -> StoredBlob {
        let one = stream::iter([Ok::<_, std::io::Error>(Bytes::from(data))]);
        self.blobs
            .store_stream(one)
            .await
            .expect("a stored content")
    }

    /// The company with its folders and files, in one transaction; its id.
    async fn save_record(&self, record: &SeedRecord) -> Uuid {
        let id = Uuid::now_v7();
        let valid = Company::validate(company_input(&record.name)).expect("a valid company");
        let (actor, valid) = (&self.actor, &valid);
        self.db
            .write(|tx| {
                Box::pin(async move {
                    Company::save(tx, actor, id, Target::New, valid).await?;
                    let at = tree::RecordRef {
                        kind: tree::RecordKind::Company,
                        id,
                    };
                    let mut folders = Vec::new();
                    for name in &record.folders {
                        folders.push(tree::create_folder(tx, actor, at, None, name).await?.id);
                    }
                    for (folder, name, content) in &record.files {
                        let parent = folder.map(|i| folders[i]);
                        tree::create_file(tx, actor, at, parent, name, content).await?;
                    }
                    Ok::<_, CrmError>(())
                })
            })
            .await
            .expect("a record saved");
        id
    }

    async fn rename(&self, id: Uuid, version: i64, name: &str) {
        let valid = Company::validate(company_input(name)).expect("a valid company");
        let (actor, valid) = (&self.actor, &valid);
        let target = Target::Existing {
            expected_version: version,
        };
        self.db
            .write(|tx| Box::pin(async move { Company::save(tx, actor, id, target, valid).await }))
            .await
            .expect("the record renamed");
    }

    /// The Dropbox content hash of the CRM file `name` of record `id`.
    async fn crm_file_hash(&self, id: Uuid, name: &str) -> Option<String> {
        let mut conn = self.db.pool().acquire().await.expect("a connection");
        let at = tree::RecordRef {
            kind: tree::RecordKind::Company,
            id,
        };
        let nodes = tree::record_nodes(&mut conn, self.actor.org_id, at)
            .await
            .expect("the record's documents");
        let sha256 = nodes.into_iter().find(|n| n.name == name)?.sha256?;
        Some(dropbox_hash_of(&self.blobs.path_of(&sha256).expect("a blob path")).await)
    }
}

fn company_input(name: &str) -> CompanyInput {
    CompanyInput {
        name: name.to_string(),
        domains: Vec::new(),
        address: None,
        phone: None,
        website: None,
        vat_number: None,
    }
}

async fn dropbox_hash_of(path: &Path) -> String {
    let file = tokio::fs::File::open(path).await.expect("the blob");
    let mut chunks = ReaderStream::with_capacity(file, MIB as usize);
    let mut hasher = DropboxHasher::new();
    while let Some(chunk) = chunks.next().await {
        hasher.update(&chunk.expect("reading the blob"));
    }
    hasher.finish()
}

const FIRMS: &[&str] = &[
    "Peeters",
    "Janssens",
    "Maes",
    "Dubois",
    "Lambert",
    "Müller",
    "García",
    "Nowak",
    "Øster",
    "Van Damme",
    "Öztürk",
    "Nguyen",
    "Silva",
    "Haddad",
    "Rossi",
    "Smith",
];
const FORMS: &[&str] = &["Group", "& Co", "Logistics", "Consulting", "Bouw", "Tech"];
const STEMS: &[&str] = &[
    "offer",
    "invoice",
    "minutes",
    "quote",
    "contract",
    "photo",
    "plan",
    "report",
    "Bestelbon",
    "café menu",
];
const EXTENSIONS: &[&str] = &["pdf", "docx", "txt", "png", "xlsx", "jpg"];

fn pick<'a>(rng: &mut ChaCha8Rng, items: &[&'a str]) -> &'a str {
    items[rng.gen_range(0..items.len())]
}

/// A small file's name (unique in its record by `k`) and 1–4 KiB of random bytes.
fn small_file(rng: &mut ChaCha8Rng, k: usize) -> (String, Vec<u8>) {
    let name = format!("{} {k:03}.{}", pick(rng, STEMS), pick(rng, EXTENSIONS));
    let mut data = vec![0u8; rng.gen_range(1024..=4096)];
    rng.fill_bytes(&mut data);
    (name, data)
}

/// A record of `files` small files: those past `top` spread over `folders` folders.
async fn seed_record(
    bench: &Bench,
    rng: &mut ChaCha8Rng,
    name: String,
    files: usize,
    top: usize,
    folders: Vec<String>,
) -> (SeedRecord, u64) {
    let made: Vec<(String, Vec<u8>)> = (0..files).map(|k| small_file(rng, k)).collect();
    let bytes = made.iter().map(|(_, d)| d.len() as u64).sum();
    let blobs: Vec<StoredBlob> = stream::iter(made.iter().map(|(_, d)| bench.store(d.clone())))
        .buffered(16)
        .collect()
        .await;
    let files = made
        .into_iter()
        .zip(blobs)
        .enumerate()
        .map(|(k, ((file, _), blob))| {
            let folder = (k >= top && !folders.is_empty()).then(|| (k - top) % folders.len());
            let content_type = "application/octet-stream".to_string();
            (folder, file, NewContent { blob, content_type })
        })
        .collect();
    (
        SeedRecord {
            name,
            folders,
            files,
        },
        bytes,
    )
}

// ---------------------------------------------------------------------------------------
// Raw loopback copies: the baseline of the 50 MiB transfers.

/// One `files/upload` of `file` (streamed from disk as the client streams it) for the other
/// account: the same server work, without the sync.
async fn raw_upload(http: &reqwest::Client, fake: &FakeProcess, file: &Path, to: &str) {
    let arg = json!({ "path": to, "mode": "overwrite" }).to_string();
    let body = reqwest::Body::wrap_stream(ReaderStream::new(
        tokio::fs::File::open(file).await.expect("the blob"),
    ));
    let answer = http
        .post(format!("{}/2/files/upload", fake.base))
        .bearer_auth(&fake.account(RAW).token)
        .header("Dropbox-API-Arg", arg)
        .header("Content-Type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .expect("a raw upload");
    assert!(
        answer.status().is_success(),
        "raw upload: {}",
        answer.status()
    );
}

/// One `files/download` of `email`'s `path`, written to `to` as it arrives and made durable
/// (fsync) as the blob store makes every content it keeps; no hash.
async fn raw_download(
    http: &reqwest::Client,
    fake: &FakeProcess,
    email: &str,
    path: &str,
    to: &Path,
) -> u64 {
    let answer = http
        .post(format!("{}/2/files/download", fake.base))
        .bearer_auth(&fake.account(email).token)
        .header("Dropbox-API-Arg", json!({ "path": path }).to_string())
        .send()
        .await
        .expect("a raw download");
    assert!(
        answer.status().is_success(),
        "raw download: {}",
        answer.status()
    );
    let mut out = tokio::fs::File::create(to).await.expect("the copy");
    let mut body = answer.bytes_stream();
    let mut size = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.expect("the download's bytes");
        size += chunk.len() as u64;
        out.write_all(&chunk).await.expect("written");
    }
    out.sync_all().await.expect("made durable");
    drop(out);
    let _ = tokio::fs::remove_file(to).await;
    size
}

/// A sync run and a raw copy, in the order given (alternated between repetitions, so that
/// neither always has the warmer caches); both printed.
async fn sync_and_raw<F, Fu>(
    bench: &Bench,
    raw_first: bool,
    raw: F,
    what: &str,
) -> (Measured, Measured)
where
    F: FnOnce() -> Fu,
    Fu: std::future::Future<Output = Measured>,
{
    let (synced, raw) = if raw_first {
        let raw = raw().await;
        (bench.run().await, raw)
    } else {
        let synced = bench.run().await;
        (synced, raw().await)
    };
    synced.report(&format!("{what}: the sync"));
    raw.report(&format!("{what}: raw"));
    (synced, raw)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn range(values: &[f64]) -> String {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{lo:.0}–{hi:.0}")
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The large-file transfers of one direction: the sync's runs and the raw copies.
#[derive(Default)]
struct Transfers {
    sync: Vec<Measured>,
    raw: Vec<Measured>,
}

impl Transfers {
    /// MiB/s of each.
    fn rates(list: &[Measured], mib: u64) -> Vec<f64> {
        list.iter()
            .map(|m| mib as f64 / m.took.as_secs_f64())
            .collect()
    }

    fn row(&self, what: &str, mib: u64) -> String {
        let mut sync = Self::rates(&self.sync, mib);
        let mut raw = Self::rates(&self.raw, mib);
        let ratios: Vec<f64> = sync.iter().zip(&raw).map(|(s, r)| s / r).collect();
        let growth: Vec<f64> = self.sync.iter().map(|m| mib_f(m.growth_kib())).collect();
        let raw_growth: Vec<f64> = self.raw.iter().map(|m| mib_f(m.growth_kib())).collect();
        let requests = self
            .sync
            .last()
            .map(Measured::requests_cell)
            .unwrap_or_default();
        format!(
            "| {what} | {:.0} MiB/s ({}) | {:.0} MiB/s ({}) | **{:.2}** ({:.2}–{:.2}) | +{:.1} MiB (max +{:.1}); raw +{:.1} | {requests} |",
            median(&mut sync),
            range(&sync),
            median(&mut raw),
            range(&raw),
            median(&mut ratios.clone()),
            ratios.iter().copied().fold(f64::INFINITY, f64::min),
            ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            median(&mut growth.clone()),
            growth.iter().copied().fold(0.0, f64::max),
            raw_growth.iter().copied().fold(0.0, f64::max),
        )
    }
}

fn mib_f(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

// ---------------------------------------------------------------------------------------
// The benchmark.

async fn bench(args: Args) {
    println!(
        "files_sync_bench: {} records × {} files, a record of {} files, {} MiB × {}, seed {}; \
         {} cores, load average {} at the start; database: {:?}",
        args.records,
        args.files,
        args.big_record_files,
        args.mib,
        args.repeat,
        args.seed,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load(),
        testing::engine(),
    );
    let database = TestDatabase::create();
    let db = database.open().await;
    let fake = Arc::new(FakeProcess::spawn());
    let blobs = BlobStore::in_data_dir(database.data_dir());
    let bench = Bench::new(db.clone(), blobs.clone(), Arc::clone(&fake), ANN, "Bench").await;
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let app = bench.fake.app_folder.clone();
    println!(
        "the fake Dropbox: {} (another process), app folder {app}",
        bench.fake.base
    );

    // The CRM: N companies with their files, through the model.
    let seeding = Instant::now();
    let top = args.files.saturating_sub(3);
    let mut bytes = 0;
    for i in 0..args.records {
        let name = format!("{} {} {i:04}", pick(&mut rng, FIRMS), pick(&mut rng, FORMS));
        let folders = if args.files > top {
            vec!["Contracts".to_string()]
        } else {
            vec![]
        };
        let (record, size) = seed_record(&bench, &mut rng, name, args.files, top, folders).await;
        bytes += size;
        bench.save_record(&record).await;
    }
    let files = args.records * args.files;
    println!(
        "seeded {} companies, {files} files ({:.1} MiB) in {:.1} s",
        args.records,
        mib(bytes / 1024),
        seeding.elapsed().as_secs_f64()
    );

    // 2. The first sync.
    println!("load average before the first sync: {}", load());
    let peak_before = status_kib("VmHWM");
    let first = bench.run().await;
    first.report("first sync");
    let folders = if args.files > top { 2 } else { 1 };
    let expected_entries = 1 + args.records * folders + files;
    assert_eq!(
        bench.entries(),
        expected_entries as u64,
        "every folder and file in Dropbox"
    );
    assert_eq!(first.detail("uploaded"), files as i64, "{:?}", first.counts);
    assert_eq!(first.counts.errors, 0);
    println!(
        "checked: {expected_entries} entries in the app folder; {:.0} files/s; the process's \
         peak before it (seeding): {:.0} MiB",
        files as f64 / first.took.as_secs_f64(),
        mib(peak_before)
    );

    // 1. The next scheduled run (the first sync's writes come back in the listing), then a
    // run with nothing new.
    let echoes = bench.run_counted().await;
    echoes.report("next run (the first sync's echoes)");
    let quiet = bench.run_counted().await;
    quiet.report("quiet run");
    let quiet_ok = quiet.total() == 1 && quiet.requests.contains_key(LIST_CONTINUE);
    println!(
        "goal: a quiet run makes exactly 1 request (list_folder/continue): {}",
        if quiet_ok { "met" } else { "MISSED" }
    );
    assert_eq!(quiet.counts.errors + echoes.counts.errors, 0);

    // 4. A record of 1,000 files, synced, then renamed.
    let big_name = "Big Co".to_string();
    let big_folders: Vec<String> = (1..=10).map(|k| format!("Folder {k:02}")).collect();
    let (big, _) = seed_record(
        &bench,
        &mut rng,
        big_name,
        args.big_record_files,
        0,
        big_folders,
    )
    .await;
    let big_id = bench.save_record(&big).await;
    let big_first = bench.run_counted().await;
    big_first.report("first sync of the record of 1,000 files");
    bench.settle().await;
    bench.rename(big_id, 1, "Big Co Holding").await;
    let renamed = bench.run_counted().await;
    renamed.report("the run after the rename");
    let sample = &big.files[big.files.len() - 1];
    let sample_path = format!(
        "/Companies/Big Co Holding/{}/{}",
        big.folders[sample.0.expect("in a folder")],
        sample.1
    );
    assert!(
        !bench.meta(&sample_path).is_null(),
        "{sample_path} moved in Dropbox"
    );
    assert!(
        bench.meta("/Companies/Big Co").is_null(),
        "the old folder is gone"
    );
    let after_rename = bench.run_counted().await;
    after_rename.report("the next run (the move's echoes)");
    println!(
        "goal: the run after the rename makes ≤ 3 requests: {} ({}); uploads nothing: {} \
         ({} upload requests, {} bytes sent in all, requests with their headers)",
        if renamed.total() <= 3 {
            "met"
        } else {
            "MISSED"
        },
        renamed.total(),
        if renamed.uploads() == 0 {
            "met"
        } else {
            "MISSED"
        },
        renamed.uploads(),
        renamed.sent.unwrap_or(0),
    );

    // 3. The large file, each way, against raw copies of the same bytes.
    let size = args.mib * MIB;
    let http = reqwest::Client::new();
    let scratch = database.data_dir().join("raw-download.bin");
    let rss_before = status_kib("VmRSS");
    let fake_before = fake.memory();
    // Bob's organisation: a few records, so that a run's own cost stays small beside the
    // transfer's (Ann's runs each load 13,000 links and nodes: see the quiet run).
    let large = Bench::new(db.clone(), blobs, Arc::clone(&fake), BOB, "Large files").await;
    let large_quiet = large.run().await;
    large_quiet.report("Bob's first (empty) run");
    let mut up = Transfers::default();
    let mut down = Transfers::default();
    for i in 0..args.repeat {
        let seed = args.seed * 1000 + i as u64;
        // CRM → Dropbox: a new record holding one large file.
        large.settle().await;
        let blob = large
            .blobs
            .store_stream(seeded_stream(seed, args.mib))
            .await
            .expect("the large content");
        let name = format!("large-{i}.bin");
        let record = SeedRecord {
            name: format!("Large file {i}"),
            folders: vec![],
            files: vec![(
                None,
                name.clone(),
                NewContent {
                    blob: blob.clone(),
                    content_type: "application/octet-stream".into(),
                },
            )],
        };
        let record_id = large.save_record(&record).await;
        let blob_path = large.blobs.path_of(&blob.sha256).expect("a blob path");
        let raw_up = || async {
            let meter = Meter::start(&large.fake);
            raw_upload(&http, &large.fake, &blob_path, &format!("/raw-{i}.bin")).await;
            meter.stop(&large.fake, false)
        };
        let raw_first = i % 2 == 0;
        let (synced, raw) = sync_and_raw(&large, raw_first, raw_up, &format!("upload {i}")).await;
        up.raw.push(raw);
        let remote = large.meta(&format!("/Companies/Large file {i}/{name}"));
        assert_eq!(
            remote["content_hash"].as_str(),
            Some(dropbox_hash_of(&blob_path).await.as_str()),
            "the upload arrived whole"
        );
        assert_eq!(synced.detail("uploaded"), 1);
        up.sync.push(synced);

        // Dropbox → CRM: a large file written in Dropbox into that record's folder.
        large.settle().await;
        let path = format!("/Companies/Large file {i}/from-dropbox-{i}.bin");
        let put = large.put(&path, size, seed + 500);
        let raw_down = || async {
            let meter = Meter::start(&large.fake);
            let got = raw_download(&http, &large.fake, BOB, &path, &scratch).await;
            assert_eq!(got, size);
            meter.stop(&large.fake, false)
        };
        let (synced, raw) =
            sync_and_raw(&large, raw_first, raw_down, &format!("download {i}")).await;
        down.raw.push(raw);
        assert_eq!(synced.detail("downloaded"), 1, "{:?}", synced.counts);
        assert_eq!(
            large
                .crm_file_hash(record_id, &format!("from-dropbox-{i}.bin"))
                .await
                .as_deref(),
            put["content_hash"].as_str(),
            "the download arrived whole"
        );
        down.sync.push(synced);
    }
    let rss_after = status_kib("VmRSS");
    let fake_after = fake.memory();
    println!(
        "around the {} MiB transfers: RSS {:.0} → {:.0} MiB; the fake's process: RSS {:.0} → \
         {:.0} MiB (it keeps every file in memory)",
        args.mib,
        mib(rss_before),
        mib(rss_after),
        mib(fake_before.0),
        mib(fake_after.0),
    );

    // The tables.
    println!();
    println!("| run | wall time | requests | bytes sent to Dropbox | peak RSS (start) | result |");
    println!("|---|---:|---|---:|---|---|");
    let row = |what: &str, m: &Measured, result: String| {
        println!(
            "| {what} | {:.3} s | {} | {} | {:.0} MiB ({:.0}) | {result} |",
            m.took.as_secs_f64(),
            m.requests_cell(),
            m.sent_cell(),
            mib(m.rss_peak),
            mib(m.rss_start),
        );
    };
    row(
        &format!(
            "first sync: {} records × {} files",
            args.records, args.files
        ),
        &first,
        format!(
            "{files} files uploaded, **{:.0} files/s**",
            files as f64 / first.took.as_secs_f64()
        ),
    );
    row(
        "next run (the first sync's echoes)",
        &echoes,
        "nothing written".into(),
    );
    row(
        "quiet run",
        &quiet,
        format!(
            "goal exactly 1 request: {}",
            if quiet_ok { "met" } else { "**missed**" }
        ),
    );
    row(
        &format!("first sync of a record of {} files", args.big_record_files),
        &big_first,
        format!("{} uploaded", big_first.detail("uploaded")),
    );
    row(
        "the run after renaming that record",
        &renamed,
        format!(
            "moved {}, uploaded {}; goals ≤ 3 requests: {}, 0 bytes uploaded: {}",
            renamed.detail("moved"),
            renamed.detail("uploaded"),
            if renamed.total() <= 3 {
                "met"
            } else {
                "**missed**"
            },
            if renamed.uploads() == 0 {
                "met"
            } else {
                "**missed**"
            },
        ),
    );
    row(
        "the next run (the move's echoes)",
        &after_rename,
        "nothing written".into(),
    );
    println!();
    println!(
        "| {} MiB file, {} each | the sync (min–max) | raw loopback copy (min–max) | sync ÷ raw \
         (min–max) | RSS growth during the sync's run (raw copy) | requests of the last sync run |",
        args.mib, args.repeat
    );
    println!("|---|---:|---:|---:|---|---|");
    println!(
        "{}",
        up.row("CRM → Dropbox (upload; a session above 8 MiB)", args.mib)
    );
    println!("{}", down.row("Dropbox → CRM (download)", args.mib));
    println!();
    println!(
        "raw copies: one `files/upload` of the blob's file, streamed, to another account of \
         the same fake; one `files/download` of the same file written to a file and fsynced, as \
         the blob store keeps a content (no hash). Load average at the end: {}; the process's peak RSS: {:.0} MiB (getrusage \
         maxrss now: {:.0} MiB, reset with the stretches')",
        load(),
        mib(process_peak_kib()),
        mib(maxrss_kib())
    );
    drop(bench);
    db.close().await;
}
