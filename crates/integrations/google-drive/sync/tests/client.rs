//! The Drive client against the local fake Google, over real HTTP.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use threadline_fake_providers::google::{GoogleFault, OAuthClient, RateLimitReason};
use threadline_fake_providers::{FakeProviders, Fault, FaultRule, Times};
use threadline_files_core::hash::{sha256_hex, HashKind, RemoteHash};
use threadline_files_core::link::{NodeKey, RecordKind, RecordRef, RemoteItem, RemoteKind};
use threadline_files_core::plan::{Listing, RemoteRun};
use threadline_files_core::provider::Provider;
use threadline_files_sync::remote::{
    ByteStream, ListRequest, RemoteErrorKind, RemoteFiles, RemoteResult, Target, Upload,
};
use threadline_google_drive::{DriveClient, RetryPolicy};
use uuid::Uuid;

const ME: &str = "ann@example.com";
const ORG: &str = "org-acme";
const OTHER_ORG: &str = "org-globex";

struct World {
    fake: FakeProviders,
    token: String,
    drive: DriveClient,
    blobs: tempfile::TempDir,
}

fn quick() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_secs(1),
    }
}

/// The fake with Ann's account, a token of it with the `drive` scope, and a client.
async fn world() -> World {
    let fake = FakeProviders::start().await;
    let google = fake.google();
    google.add_user(ME);
    google.add_client(OAuthClient {
        client_id: "cid".into(),
        client_secret: "s".into(),
        redirect_uris: vec!["http://127.0.0.1:9/cb".into()],
    });
    let token = google.issue_tokens("cid", ME, &["drive"]).access_token;
    let drive = client(&fake, quick());
    World {
        fake,
        token,
        drive,
        blobs: tempfile::tempdir().unwrap(),
    }
}

fn client(fake: &FakeProviders, retry: RetryPolicy) -> DriveClient {
    let base = fake.base_url();
    DriveClient::new(
        &format!("{base}/drive/v3"),
        &format!("{base}/upload/drive/v3"),
        retry,
    )
    .unwrap()
}

fn target<'a>(parent_id: &'a str, name: &'a str, marker: NodeKey) -> Target<'a> {
    Target {
        parent_id,
        name,
        path: "",
        marker,
        org: ORG,
    }
}

fn node() -> NodeKey {
    NodeKey::Node(Uuid::new_v4())
}

/// Deterministic bytes that do not repeat in short periods.
fn bytes(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn blob(dir: &Path, name: &str, content: &[u8]) -> Upload {
    let file = dir.join(name);
    std::fs::write(&file, content).unwrap();
    Upload {
        file,
        size: content.len() as u64,
        sha256: sha256_hex(content),
        content_type: "application/octet-stream".into(),
    }
}

fn full(org: &str) -> ListRequest<'_> {
    ListRequest {
        cursor: None,
        org,
        root_id: None,
        folders: empty(),
    }
}

/// In full, from the link's root.
fn under(root: &str) -> ListRequest<'_> {
    ListRequest {
        root_id: Some(root),
        ..full(ORG)
    }
}

fn from<'a>(cursor: &'a str, root: &'a str) -> ListRequest<'a> {
    ListRequest {
        cursor: Some(cursor),
        org: ORG,
        root_id: Some(root),
        folders: empty(),
    }
}

fn empty() -> &'static BTreeMap<String, String> {
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    &EMPTY
}

fn by_id<'a>(run: &'a RemoteRun, id: &str) -> &'a RemoteItem {
    run.items
        .iter()
        .find(|i| i.id == id)
        .unwrap_or_else(|| panic!("{id} not listed in {:#?}", run.items))
}

fn rev(item: &RemoteItem) -> String {
    match &item.kind {
        RemoteKind::File { rev, .. } => rev.clone(),
        other => panic!("not a file: {other:?}"),
    }
}

async fn collect(mut stream: ByteStream) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

impl World {
    async fn folder(&self, parent: &str, name: &str, marker: NodeKey) -> String {
        self.drive
            .create_folder(&self.token, target(parent, name, marker))
            .await
            .unwrap()
            .id
    }

    async fn file(&self, parent: &str, name: &str, content: &[u8]) -> RemoteItem {
        let upload = blob(self.blobs.path(), &format!("{}", Uuid::new_v4()), content);
        self.drive
            .upload(&self.token, target(parent, name, node()), None, &upload)
            .await
            .unwrap()
    }

    /// New content for `id` under `rev`, as `offer.pdf` in `parent`.
    async fn replace(
        &self,
        parent: &str,
        marker: NodeKey,
        id: &str,
        rev: &str,
        upload: &Upload,
    ) -> RemoteResult<RemoteItem> {
        self.drive
            .upload(
                &self.token,
                target(parent, "offer.pdf", marker),
                Some((id, rev)),
                upload,
            )
            .await
    }

    async fn root(&self) -> String {
        self.folder("root", "Threadline", NodeKey::Root).await
    }

    /// Requests made by `f`, as the fake logged them (method, endpoint, query).
    fn requests_since(&self, start: usize) -> Vec<(String, String, String)> {
        self.fake.log().requests()[start..]
            .iter()
            .map(|r| {
                (
                    r.method.clone(),
                    r.endpoint.clone().unwrap_or_else(|| r.path.clone()),
                    r.query.clone().unwrap_or_default(),
                )
            })
            .collect()
    }
}

#[tokio::test]
async fn a_full_listing_reads_the_tree_markers_and_kinds_and_takes_the_cursor_first() {
    let w = world().await;
    let google = w.fake.google();
    assert_eq!(w.drive.provider(), Provider::GoogleDrive);

    // Nothing yet: an empty, complete listing with a cursor (the core makes the root).
    let none = w.drive.list(&w.token, full(ORG)).await.unwrap();
    assert_eq!(none.listing, Listing::Full { complete: true });
    assert!(none.items.is_empty() && none.cursor.is_some());

    let root = w.root().await;
    let companies = w
        .folder(&root, "Companies", NodeKey::Module(RecordKind::Company))
        .await;
    let record = NodeKey::Record(RecordRef {
        kind: RecordKind::Company,
        id: Uuid::new_v4(),
    });
    let acme = w.folder(&companies, "Acme", record).await;
    let offer = w.file(&acme, "offer.pdf", b"the offer").await;
    // The user's: a folder with a file in it, a Google Doc, a trashed file.
    let drafts = google.add_drive_folder(ME, Some(&acme), "Drafts");
    let draft = google.add_drive_file(ME, Some(&drafts), "v1.txt", "text/plain", "draft");
    let doc = google.add_google_doc(
        ME,
        Some(&acme),
        "Notes",
        "application/vnd.google-apps.document",
    );
    let trashed = google.add_drive_file(ME, Some(&acme), "old.txt", "text/plain", "old");
    google.trash_drive_file(ME, &trashed, true);
    // Another installation's folder in our tree, its root, and a file outside any tree.
    let foreign = w
        .drive
        .create_folder(
            &w.token,
            Target {
                org: OTHER_ORG,
                ..target(&root, "Theirs", NodeKey::Module(RecordKind::Contact))
            },
        )
        .await
        .unwrap()
        .id;
    let other_root = w
        .drive
        .create_folder(
            &w.token,
            Target {
                org: OTHER_ORG,
                ..target("root", "Threadline", NodeKey::Root)
            },
        )
        .await
        .unwrap()
        .id;
    let outside = google.add_drive_file(ME, None, "elsewhere.txt", "text/plain", "x");

    let start = w.fake.log().requests().len();
    let run = w.drive.list(&w.token, full(ORG)).await.unwrap();
    let requests = w.requests_since(start);
    assert_eq!(
        requests[0].1, "/drive/v3/changes/startPageToken",
        "the cursor is taken before the listing: {requests:?}"
    );
    assert!(requests[1..]
        .iter()
        .all(|(m, e, _)| m == "GET" && e == "/drive/v3/files"));
    assert!(requests.iter().all(|(_, _, q)| q.contains("fields=")));

    assert_eq!(run.listing, Listing::Full { complete: true });
    let mut ids: Vec<&str> = run.items.iter().map(|i| i.id.as_str()).collect();
    ids.sort_unstable();
    let mut expected = vec![
        root.as_str(),
        companies.as_str(),
        acme.as_str(),
        offer.id.as_str(),
        drafts.as_str(),
        draft.as_str(),
        doc.as_str(),
        foreign.as_str(),
    ];
    expected.sort_unstable();
    assert_eq!(ids, expected);
    assert!(!ids.contains(&trashed.as_str()) && !ids.contains(&outside.as_str()));
    assert!(!ids.contains(&other_root.as_str()));

    assert_eq!(by_id(&run, &root).marker, Some(NodeKey::Root));
    assert_eq!(by_id(&run, &root).kind, RemoteKind::Folder);
    assert_eq!(
        by_id(&run, &companies).marker,
        Some(NodeKey::Module(RecordKind::Company))
    );
    assert_eq!(by_id(&run, &acme).marker, Some(record));
    assert_eq!(
        by_id(&run, &acme).parent.as_deref(),
        Some(companies.as_str())
    );
    assert_eq!(by_id(&run, &offer.id), &offer);
    assert_eq!(by_id(&run, &foreign).marker, None, "another org's marker");
    assert_eq!(by_id(&run, &drafts).marker, None);
    assert_eq!(
        by_id(&run, &doc).kind,
        RemoteKind::NotAFile {
            mime_type: "application/vnd.google-apps.document".into()
        }
    );
    match &by_id(&run, &draft).kind {
        RemoteKind::File {
            hash,
            size,
            rev,
            modified,
        } => {
            assert_eq!(
                hash,
                &Some(RemoteHash::new(HashKind::Sha256, sha256_hex(b"draft")))
            );
            assert_eq!(*size, 5);
            assert!(!rev.is_empty() && modified.is_some());
        }
        other => panic!("{other:?}"),
    }

    // The other organisation finds its own root only.
    let theirs = w.drive.list(&w.token, full(OTHER_ORG)).await.unwrap();
    assert_eq!(theirs.items.len(), 1);
    assert_eq!(theirs.items[0].id, other_root);
    assert_eq!(theirs.items[0].marker, Some(NodeKey::Root));

    // The link's root id lists the same tree.
    let by_link = w.drive.list(&w.token, under(&root)).await.unwrap();
    assert_eq!(by_link.items.len(), run.items.len());

    // A change made right after the listing is in the next incremental listing.
    google.rename_drive_file(ME, &draft, "v2.txt");
    let cursor = run.cursor.clone().unwrap();
    let next = w.drive.list(&w.token, from(&cursor, &root)).await.unwrap();
    assert_eq!(next.listing, Listing::Incremental);
    assert_eq!(by_id(&next, &draft).name, "v2.txt");
    assert_ne!(next.cursor, run.cursor);
}

#[tokio::test]
async fn the_start_token_is_taken_before_the_listing_so_a_change_during_it_is_not_lost() {
    let w = world().await;
    let google = w.fake.google();
    let root = w.root().await;
    let a = w.folder(&root, "A", node()).await;
    // The tree's listing is held a moment; a user's rename lands meanwhile.
    w.fake.faults().inject(
        FaultRule::new(Fault::Delay(Duration::from_millis(300)))
            .on("GET", "/drive/v3/files")
            .times(Times::Once),
    );
    let listing = w.drive.list(&w.token, full(ORG));
    let rename = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        google.rename_drive_file(ME, &a, "B");
    };
    let (run, ()) = tokio::join!(listing, rename);
    let run = run.unwrap();
    let cursor = run.cursor.clone().unwrap();
    let next = w.drive.list(&w.token, from(&cursor, &root)).await.unwrap();
    assert_eq!(by_id(&next, &a).name, "B");
}

#[tokio::test]
async fn incremental_listings_carry_renames_moves_trash_and_deletes() {
    let w = world().await;
    let google = w.fake.google();
    let root = w.root().await;
    let a = w.folder(&root, "A", node()).await;
    let b = w.folder(&root, "B", node()).await;
    let f = w.file(&a, "f.txt", b"f").await.id;
    let g = w.file(&a, "g.txt", b"g").await.id;
    let h = w.file(&a, "h.txt", b"h").await.id;
    let k = w.file(&b, "k.txt", b"k").await.id;
    let cursor = w
        .drive
        .list(&w.token, full(ORG))
        .await
        .unwrap()
        .cursor
        .unwrap();

    google.rename_drive_file(ME, &f, "f2.txt");
    google.move_drive_file(ME, &g, Some(&b));
    google.trash_drive_file(ME, &h, true);
    google.delete_drive_file(ME, &k);
    google.rename_drive_file(ME, &f, "f3.txt");

    let run = w.drive.list(&w.token, from(&cursor, &root)).await.unwrap();
    assert_eq!(run.listing, Listing::Incremental);
    assert_eq!(by_id(&run, &f).name, "f3.txt");
    assert_eq!(run.items.iter().filter(|i| i.id == f).count(), 1);
    assert_eq!(by_id(&run, &g).parent.as_deref(), Some(b.as_str()));
    let mut deleted = run.deleted_ids.clone();
    deleted.sort();
    let mut expected = vec![h.clone(), k.clone()];
    expected.sort();
    assert_eq!(deleted, expected);
    assert!(run.items.iter().all(|i| i.id != h && i.id != k));

    // Nothing since: an empty page, the same position.
    let again = w
        .drive
        .list(&w.token, from(run.cursor.as_deref().unwrap(), &root))
        .await
        .unwrap();
    assert_eq!(again.listing, Listing::Incremental);
    assert!(again.items.is_empty() && again.deleted_ids.is_empty());
    assert_eq!(again.cursor, run.cursor);
}

#[tokio::test]
async fn a_refused_page_token_is_answered_by_a_full_listing() {
    let w = world().await;
    let root = w.root().await;
    let a = w.folder(&root, "A", node()).await;
    let cursor = w
        .drive
        .list(&w.token, full(ORG))
        .await
        .unwrap()
        .cursor
        .unwrap();
    w.fake.google().reset_drive_changes(ME);
    let run = w.drive.list(&w.token, from(&cursor, &root)).await.unwrap();
    assert_eq!(run.listing, Listing::Full { complete: true });
    by_id(&run, &root);
    by_id(&run, &a);
    let fresh = run.cursor.clone().unwrap();
    assert_ne!(fresh, cursor);
    let next = w.drive.list(&w.token, from(&fresh, &root)).await.unwrap();
    assert_eq!(next.listing, Listing::Incremental);

    // Not a token of this Drive at all: the same.
    let run = w
        .drive
        .list(&w.token, from("not-a-token", &root))
        .await
        .unwrap();
    assert_eq!(run.listing, Listing::Full { complete: true });
}

#[tokio::test]
async fn small_and_large_uploads_come_back_identical() {
    let w = world().await;
    let root = w.root().await;
    let small = bytes(100_000, 1);
    let large = bytes(20_000_000, 2);

    let start = w.fake.log().requests().len();
    let up = blob(w.blobs.path(), "small", &small);
    let marker = node();
    let item = w
        .drive
        .upload(&w.token, target(&root, "small.bin", marker), None, &up)
        .await
        .unwrap();
    let requests = w.requests_since(start);
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].0, "POST");
    assert!(requests[0].2.contains("uploadType=multipart"));
    assert_eq!(item.parent.as_deref(), Some(root.as_str()));
    assert_eq!(item.name, "small.bin");
    assert_eq!(item.marker, Some(marker));
    match &item.kind {
        RemoteKind::File { hash, size, .. } => {
            assert_eq!(hash, &Some(RemoteHash::new(HashKind::Sha256, &up.sha256)));
            assert_eq!(*size, small.len() as u64);
        }
        other => panic!("{other:?}"),
    }

    let start = w.fake.log().requests().len();
    let up = blob(w.blobs.path(), "large", &large);
    let big = w
        .drive
        .upload(&w.token, target(&root, "large.bin", node()), None, &up)
        .await
        .unwrap();
    let requests = w.requests_since(start);
    let opened: Vec<_> = requests
        .iter()
        .filter(|(m, _, q)| m == "POST" && q.contains("uploadType=resumable"))
        .collect();
    let chunks: Vec<_> = requests
        .iter()
        .filter(|(m, _, q)| m == "PUT" && q.contains("upload_id="))
        .collect();
    assert_eq!(opened.len(), 1, "{requests:?}");
    assert_eq!(chunks.len(), 3, "20 MB in 8 MiB chunks: {requests:?}");
    assert_eq!(requests.len(), 4);
    assert_eq!(w.fake.google().drive_upload_sessions(), 0);
    match &big.kind {
        RemoteKind::File { hash, size, .. } => {
            assert_eq!(hash, &Some(RemoteHash::new(HashKind::Sha256, &up.sha256)));
            assert_eq!(*size, 20_000_000);
        }
        other => panic!("{other:?}"),
    }

    let down = w
        .drive
        .download(&w.token, &item.id, &rev(&item))
        .await
        .unwrap();
    assert_eq!(collect(down).await, small);
    let down = w
        .drive
        .download(&w.token, &big.id, &rev(&big))
        .await
        .unwrap();
    let got = collect(down).await;
    assert_eq!(got.len(), large.len());
    assert!(got == large);

    // An empty file goes up too.
    let empty = w.file(&root, "empty.txt", b"").await;
    let down = w
        .drive
        .download(&w.token, &empty.id, &rev(&empty))
        .await
        .unwrap();
    assert!(collect(down).await.is_empty());
}

#[tokio::test]
async fn new_content_is_written_under_the_head_revision_only() {
    let w = world().await;
    let google = w.fake.google();
    let root = w.root().await;
    let item = w.file(&root, "offer.pdf", b"v1").await;
    let first = rev(&item);
    google.edit_drive_file(ME, &item.id, "the user's v2");

    let ours = blob(w.blobs.path(), "v3", b"our v3");
    let marker = item.marker.unwrap();
    let stale = w
        .replace(&root, marker, &item.id, &first, &ours)
        .await
        .unwrap_err();
    assert_eq!(stale.kind, RemoteErrorKind::Conflict, "{stale}");
    let kept = google.drive_file(ME, &item.id).unwrap();
    assert_eq!(kept.content.unwrap().as_ref(), b"the user's v2");
    let err = w
        .drive
        .download(&w.token, &item.id, &first)
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind, RemoteErrorKind::Conflict);

    let head = kept.metadata["headRevisionId"]
        .as_str()
        .unwrap()
        .to_string();
    let replaced = w
        .replace(&root, marker, &item.id, &head, &ours)
        .await
        .unwrap();
    assert_eq!(replaced.id, item.id);
    assert_ne!(rev(&replaced), head);
    let down = w
        .drive
        .download(&w.token, &item.id, &rev(&replaced))
        .await
        .unwrap();
    assert_eq!(collect(down).await, b"our v3");

    // New content above 5 MiB goes through a resumable update.
    let large = bytes(6 * 1024 * 1024 + 7, 3);
    let up = blob(w.blobs.path(), "v4", &large);
    let start = w.fake.log().requests().len();
    let again = w
        .replace(&root, marker, &item.id, &rev(&replaced), &up)
        .await
        .unwrap();
    let requests = w.requests_since(start);
    assert!(requests.iter().any(|(m, e, q)| m == "PATCH"
        && e == "/upload/drive/v3/files/{fileId}"
        && q.contains("uploadType=resumable")));
    let down = w
        .drive
        .download(&w.token, &item.id, &rev(&again))
        .await
        .unwrap();
    assert!(collect(down).await == large);

    // Gone: not found.
    google.delete_drive_file(ME, &item.id);
    let gone = w
        .replace(&root, marker, &item.id, &rev(&again), &ours)
        .await
        .unwrap_err();
    assert_eq!(gone.kind, RemoteErrorKind::NotFound);
}

#[tokio::test]
async fn a_file_over_the_limit_is_refused_before_anything_is_sent() {
    let w = world().await;
    let up = Upload {
        file: w.blobs.path().join("never-read"),
        size: 50 * 1024 * 1024 + 1,
        sha256: String::new(),
        content_type: "application/pdf".into(),
    };
    let start = w.fake.log().requests().len();
    let err = w
        .drive
        .upload(&w.token, target("root", "big.pdf", node()), None, &up)
        .await
        .unwrap_err();
    assert_eq!(err.kind, RemoteErrorKind::TooLarge);
    assert!(w.requests_since(start).is_empty());
}

#[tokio::test]
async fn moves_change_parents_name_and_marker() {
    let w = world().await;
    let google = w.fake.google();
    let root = w.root().await;
    let a = w.folder(&root, "A", node()).await;
    let b = w.folder(&root, "B", node()).await;
    let item = w.file(&a, "offer.pdf", b"x").await;
    let marker = node();

    let moved = w
        .drive
        .move_item(
            &w.token,
            &item.id,
            Some(&a),
            target(&b, "offer (2).pdf", marker),
        )
        .await
        .unwrap();
    assert_eq!(moved.parent.as_deref(), Some(b.as_str()));
    assert_eq!(moved.name, "offer (2).pdf");
    assert_eq!(moved.marker, Some(marker));
    assert_eq!(
        rev(&moved),
        rev(&item),
        "a move keeps the content's revision"
    );
    let stored = google.drive_file(ME, &item.id).unwrap().metadata;
    assert_eq!(stored["parents"], serde_json::json!([b]));
    assert_eq!(stored["appProperties"]["threadlineNode"], marker.marker());
    assert_eq!(stored["appProperties"]["threadlineOrg"], ORG);

    // Without the parent known: read first; a rename in place.
    let renamed = w
        .drive
        .move_item(&w.token, &item.id, None, target(&b, "final.pdf", marker))
        .await
        .unwrap();
    assert_eq!(renamed.parent.as_deref(), Some(b.as_str()));
    assert_eq!(renamed.name, "final.pdf");
    // And a folder moved with what it holds, from an unknown parent.
    let back = w
        .drive
        .move_item(&w.token, &b, None, target(&a, "B", node()))
        .await
        .unwrap();
    assert_eq!(back.parent.as_deref(), Some(a.as_str()));

    let missing = w
        .drive
        .move_item(&w.token, "1nosuchfile", Some(&a), target(&b, "x", node()))
        .await
        .unwrap_err();
    assert_eq!(missing.kind, RemoteErrorKind::NotFound);
}

#[tokio::test]
async fn deletes_trash_and_twice_is_fine() {
    let w = world().await;
    let google = w.fake.google();
    let root = w.root().await;
    let item = w.file(&root, "offer.pdf", b"x").await;
    w.drive
        .delete(&w.token, &item.id, "/offer.pdf", None)
        .await
        .unwrap();
    let stored = google
        .drive_file(ME, &item.id)
        .expect("trashed, not deleted");
    assert_eq!(stored.metadata["trashed"], true);
    w.drive
        .delete(&w.token, &item.id, "/offer.pdf", None)
        .await
        .unwrap();
    w.drive
        .delete(&w.token, &item.id, "/offer.pdf", Some(&rev(&item)))
        .await
        .unwrap();
    w.drive
        .delete(&w.token, "1nosuchfile", "/x", None)
        .await
        .unwrap();

    // Under a revision that is no longer the head: refused, kept.
    let other = w.file(&root, "plan.pdf", b"v1").await;
    google.edit_drive_file(ME, &other.id, "v2");
    let err = w
        .drive
        .delete(&w.token, &other.id, "/plan.pdf", Some(&rev(&other)))
        .await
        .unwrap_err();
    assert_eq!(err.kind, RemoteErrorKind::Conflict);
    assert_eq!(
        google.drive_file(ME, &other.id).unwrap().metadata["trashed"],
        false
    );
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_then_given_back_as_retryable() {
    let w = world().await;
    let root = w.root().await;
    let limited = || {
        FaultRule::new(Fault::Google(GoogleFault::RateLimited403(
            RateLimitReason::UserRateLimitExceeded,
        )))
        .on("GET", "/drive/v3/files/*")
    };
    let rule = w.fake.faults().inject(limited().times(Times::Once));
    let start = w.fake.log().requests().len();
    let run = w.drive.list(&w.token, under(&root)).await.unwrap();
    assert_eq!(w.fake.faults().fired(rule), 1);
    by_id(&run, &root);
    let gets = w
        .requests_since(start)
        .into_iter()
        .filter(|(_, e, _)| e == "/drive/v3/files/{fileId}")
        .count();
    assert_eq!(gets, 2, "the 403 and the retry");

    // Throttled past the retries: Retryable, with the pause asked for.
    w.fake.faults().inject(
        FaultRule::new(Fault::TooManyRequests {
            retry_after: Some(0),
        })
        .on("GET", "/drive/v3/changes/startPageToken")
        .times(Times::Always),
    );
    let err = w.drive.list(&w.token, full(ORG)).await.unwrap_err();
    assert_eq!(
        err.kind,
        RemoteErrorKind::Retryable {
            retry_after: Some(Duration::ZERO)
        }
    );
    w.fake.faults().clear();
    // A 403 rate limit with no retry left.
    let once = client(&w.fake, RetryPolicy::none());
    w.fake.faults().inject(limited().times(Times::Once));
    let err = once
        .download(&w.token, &root, "r")
        .await
        .err()
        .expect("throttled");
    assert_eq!(err.kind, RemoteErrorKind::Retryable { retry_after: None });
    assert!(
        err.message.contains("userRateLimitExceeded"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn refused_tokens_and_missing_scopes_say_what_to_do() {
    let w = world().await;
    let err = w
        .drive
        .list("ya29.not-a-token", full(ORG))
        .await
        .unwrap_err();
    assert_eq!(err.kind, RemoteErrorKind::TokenRejected);
    assert!(!err.message.contains("ya29"), "{}", err.message);

    w.fake
        .faults()
        .inject(FaultRule::new(Fault::Unauthorized).on("*", "/drive/v3/**"));
    let err = w.drive.list(&w.token, full(ORG)).await.unwrap_err();
    assert_eq!(err.kind, RemoteErrorKind::TokenRejected);
    assert!(!err.message.contains(&w.token));

    let google = w.fake.google();
    let calendar_only = google.issue_tokens("cid", ME, &["calendar"]).access_token;
    let err = w
        .drive
        .create_folder(&calendar_only, target("root", "Threadline", NodeKey::Root))
        .await
        .unwrap_err();
    assert_eq!(err.kind, RemoteErrorKind::NeedsReauth, "{err}");
}

#[tokio::test]
async fn a_chunk_that_failed_or_lost_its_answer_is_sent_again() {
    let w = world().await;
    let root = w.root().await;
    let large = bytes(17 * 1024 * 1024 + 3, 4);
    let up = blob(w.blobs.path(), "large", &large);
    let faults = w.fake.faults();
    // The second chunk: a 503; then its retry is stored but its answer lost.
    let failed = faults.inject(
        FaultRule::new(Fault::Unavailable)
            .on("PUT", "/upload/drive/v3/files")
            .after(1),
    );
    let lost = faults.inject(
        FaultRule::new(Fault::DropResponseAfterCommit)
            .on("PUT", "/upload/drive/v3/files")
            .after(1),
    );
    let start = w.fake.log().requests().len();
    let item = w
        .drive
        .upload(&w.token, target(&root, "large.bin", node()), None, &up)
        .await
        .unwrap();
    assert_eq!((faults.fired(failed), faults.fired(lost)), (1, 1));
    let puts = w
        .requests_since(start)
        .iter()
        .filter(|(m, _, _)| m == "PUT")
        .count();
    assert_eq!(puts, 5, "3 chunks, one sent twice more");
    let files: Vec<_> = w
        .fake
        .google()
        .drive_files(ME)
        .into_iter()
        .filter(|f| f["name"] == "large.bin")
        .collect();
    assert_eq!(files.len(), 1, "one file made");
    let down = w
        .drive
        .download(&w.token, &item.id, &rev(&item))
        .await
        .unwrap();
    assert!(collect(down).await == large);
}

#[tokio::test]
async fn a_create_is_not_sent_twice_after_a_server_error() {
    let w = world().await;
    let rule = w
        .fake
        .faults()
        .inject(FaultRule::new(Fault::BackendError).on("POST", "/drive/v3/files"));
    let start = w.fake.log().requests().len();
    let err = w
        .drive
        .create_folder(&w.token, target("root", "Threadline", NodeKey::Root))
        .await
        .unwrap_err();
    assert_eq!(err.kind, RemoteErrorKind::Retryable { retry_after: None });
    assert_eq!(w.fake.faults().fired(rule), 1);
    assert_eq!(w.requests_since(start).len(), 1, "not repeated");
    // A throttle is: nothing was made.
    w.fake.faults().inject(
        FaultRule::new(Fault::TooManyRequests { retry_after: None }).on("POST", "/drive/v3/files"),
    );
    let root = w
        .drive
        .create_folder(&w.token, target("root", "Threadline", NodeKey::Root))
        .await
        .unwrap();
    assert_eq!(root.marker, Some(NodeKey::Root));
    assert_eq!(root.parent, Some(w.fake.google().drive_root(ME)));
}
