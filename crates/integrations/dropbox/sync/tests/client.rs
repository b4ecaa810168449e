//! The Dropbox client against the local fake Dropbox over real HTTP.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use serde_json::Value;
use threadline_dropbox::client::{DropboxClient, RetryPolicy};
use threadline_fake_providers::dropbox::oauth::SYNC_SCOPES;
use threadline_fake_providers::dropbox::{DropboxApp, DropboxFault};
use threadline_fake_providers::{FakeProviders, Fault, FaultRule, Times};
use threadline_files_core::hash::{dropbox_content_hash, HashKind, RemoteHash};
use threadline_files_core::link::{NodeKey, RemoteItem, RemoteKind};
use threadline_files_core::plan::{Listing, RemoteRun};
use threadline_files_core::provider::Provider;
use threadline_files_sync::remote::{
    path_key, ListRequest, RemoteErrorKind, RemoteFiles, Target, Upload,
};

const ME: &str = "ann@example.com";
const APP_KEY: &str = "threadline-app-key";
/// The app folder as the user sees it.
const APP: &str = "/Apps/Threadline CRM";

struct Setup {
    fake: FakeProviders,
    token: String,
    client: DropboxClient,
}

fn quick() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_secs(2),
    }
}

async fn setup() -> Setup {
    let fake = FakeProviders::start().await;
    let dropbox = fake.dropbox();
    dropbox.add_account(ME);
    dropbox.add_app(DropboxApp {
        app_key: APP_KEY.into(),
        app_secret: "secret".into(),
        name: "Threadline CRM".into(),
        redirect_uris: vec!["http://127.0.0.1:9/cb".into()],
        scopes: SYNC_SCOPES.map(String::from).to_vec(),
    });
    let token = dropbox.issue_tokens(APP_KEY, ME).access_token;
    let base = fake.base_url();
    let client = DropboxClient::new(&base, &base, quick()).unwrap();
    Setup {
        fake,
        token,
        client,
    }
}

fn target<'a>(parent_id: &'a str, path: &'a str) -> Target<'a> {
    Target {
        parent_id,
        name: path.rsplit('/').next().unwrap(),
        path,
        marker: NodeKey::Root,
        org: "org-1",
    }
}

/// A file on disk with these bytes, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(data: &[u8]) -> TempFile {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "threadline-dropbox-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::write(&path, data).unwrap();
        TempFile(path)
    }

    fn upload(&self) -> Upload {
        Upload {
            file: self.0.clone(),
            size: std::fs::metadata(&self.0).unwrap().len(),
            sha256: String::new(),
            content_type: "application/octet-stream".into(),
        }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `len` bytes that differ from block to block.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 4099) as u8).collect()
}

impl Setup {
    async fn list(&self, cursor: Option<&str>, folders: &BTreeMap<String, String>) -> RemoteRun {
        self.client
            .list(
                &self.token,
                ListRequest {
                    cursor,
                    org: "org-1",
                    root_id: None,
                    folders,
                },
            )
            .await
            .unwrap()
    }

    /// The fake's metadata of an app path.
    fn meta(&self, path: &str) -> Option<Value> {
        self.fake.dropbox().metadata(ME, &format!("{APP}{path}"))
    }

    fn id(&self, path: &str) -> String {
        self.meta(path).unwrap()["id"].as_str().unwrap().to_string()
    }

    fn put(&self, path: &str, data: &[u8]) -> Value {
        self.fake
            .dropbox()
            .put_file(ME, &format!("{APP}{path}"), data.to_vec())
    }

    async fn upload(
        &self,
        parent_id: &str,
        path: &str,
        replace: Option<(&str, &str)>,
        data: &[u8],
    ) -> Result<RemoteItem, threadline_files_sync::remote::RemoteError> {
        let file = TempFile::new(data);
        self.client
            .upload(
                &self.token,
                target(parent_id, path),
                replace,
                &file.upload(),
            )
            .await
    }

    async fn download(&self, id: &str, rev: &str) -> Vec<u8> {
        let stream = self.client.download(&self.token, id, rev).await.unwrap();
        stream
            .try_fold(Vec::new(), |mut all, chunk| async move {
                all.extend_from_slice(&chunk);
                Ok(all)
            })
            .await
            .unwrap()
    }
}

fn by_id<'r>(run: &'r RemoteRun, id: &str) -> &'r RemoteItem {
    run.items
        .iter()
        .find(|i| i.id == id)
        .unwrap_or_else(|| panic!("{id} not listed in {:?}", run.items))
}

fn rev_of(item: &RemoteItem) -> &str {
    match &item.kind {
        RemoteKind::File { rev, .. } => rev,
        other => panic!("not a file: {other:?}"),
    }
}

fn folders_of(run: &RemoteRun, paths: &[(&str, &str)]) -> BTreeMap<String, String> {
    paths
        .iter()
        .map(|(path, id)| {
            assert!(run.items.iter().any(|i| i.id == *id));
            (path_key(path), id.to_string())
        })
        .collect()
}

#[tokio::test]
async fn a_full_listing_has_ids_parents_and_content_hashes() {
    let s = setup().await;
    assert_eq!(s.client.provider(), Provider::Dropbox);
    let offer = pattern(5 * 1024 * 1024 + 17);
    s.put("/Companies/Acme/offer.pdf", &offer);
    s.put("/Companies/Acme/Notes/deep.txt", b"deep");
    s.put("/top.txt", b"top");
    s.fake
        .dropbox()
        .create_folder(ME, &format!("{APP}/Contacts"));
    // Outside the app folder: never listed.
    s.fake
        .dropbox()
        .put_file(ME, "/private.txt", b"no".to_vec());

    let run = s.list(None, &BTreeMap::new()).await;
    assert_eq!(run.listing, Listing::Full { complete: true });
    assert!(run.cursor.is_some());
    assert!(run.deleted_paths.is_empty() && run.deleted_ids.is_empty());
    assert_eq!(run.items.len(), 7, "{:?}", run.items);

    let (companies, acme, notes) = (
        s.id("/Companies"),
        s.id("/Companies/Acme"),
        s.id("/Companies/Acme/Notes"),
    );
    let parent = |path: &str| by_id(&run, &s.id(path)).parent.clone();
    assert_eq!(parent("/Companies"), Some(String::new()));
    assert_eq!(parent("/Contacts"), Some(String::new()));
    assert_eq!(parent("/top.txt"), Some(String::new()));
    assert_eq!(parent("/Companies/Acme"), Some(companies));
    assert_eq!(parent("/Companies/Acme/offer.pdf"), Some(acme.clone()));
    assert_eq!(parent("/Companies/Acme/Notes"), Some(acme));
    assert_eq!(parent("/Companies/Acme/Notes/deep.txt"), Some(notes));

    let meta = s.meta("/Companies/Acme/offer.pdf").unwrap();
    let item = by_id(&run, meta["id"].as_str().unwrap());
    assert!(item.id.starts_with("id:"));
    assert_eq!(item.name, "offer.pdf");
    assert_eq!(item.marker, None);
    match &item.kind {
        RemoteKind::File {
            rev,
            hash,
            size,
            modified,
        } => {
            assert_eq!(rev, meta["rev"].as_str().unwrap());
            assert_eq!(
                hash.as_ref(),
                Some(&RemoteHash::new(
                    HashKind::DropboxContentHash,
                    dropbox_content_hash(&offer)
                ))
            );
            assert_eq!(*size, offer.len() as u64);
            assert!(modified.is_some());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(by_id(&run, &s.id("/Contacts")).kind, RemoteKind::Folder);
}

#[tokio::test]
async fn a_listing_reads_every_page() {
    let s = setup().await;
    // Dropbox's pages hold up to 2000 entries.
    for n in 0..2100 {
        s.put(&format!("/Companies/Many/f{n:04}.txt"), b"x");
    }
    let run = s.list(None, &BTreeMap::new()).await;
    assert_eq!(run.listing, Listing::Full { complete: true });
    assert_eq!(run.items.len(), 2102);
    let many = s.id("/Companies/Many");
    assert_eq!(
        run.items
            .iter()
            .filter(|i| i.parent.as_deref() == Some(many.as_str()))
            .count(),
        2100
    );
    let log = s.fake.log();
    assert_eq!(log.count("POST", "/2/files/list_folder"), 1);
    assert_eq!(log.count("POST", "/2/files/list_folder/continue"), 1);
}

#[tokio::test]
async fn an_incremental_listing_lists_changes_a_rename_and_deletes() {
    let s = setup().await;
    s.put("/Companies/Acme/offer.pdf", b"offer");
    s.put("/Companies/Acme/Notes/deep.txt", b"deep");
    s.put("/Companies/Acme/stays.txt", b"stays");
    let first = s.list(None, &BTreeMap::new()).await;
    let (companies, acme) = (s.id("/Companies"), s.id("/Companies/Acme"));
    let offer_id = s.id("/Companies/Acme/offer.pdf");
    let known = folders_of(
        &first,
        &[("/Companies", &companies), ("/Companies/Acme", &acme)],
    );

    // Nothing changed: nothing listed, a cursor all the same.
    let same = s.list(first.cursor.as_deref(), &known).await;
    assert_eq!(same.listing, Listing::Incremental);
    assert!(same.items.is_empty() && same.deleted_paths.is_empty());
    assert!(same.cursor.is_some());

    let dropbox = s.fake.dropbox();
    dropbox.move_path(
        ME,
        &format!("{APP}/Companies/Acme/offer.pdf"),
        &format!("{APP}/Companies/Acme/Quote.pdf"),
    );
    assert!(dropbox.delete(ME, &format!("{APP}/Companies/Acme/Notes")));
    s.put("/Companies/Beta/new.txt", b"new");

    let run = s.list(same.cursor.as_deref(), &known).await;
    assert_eq!(run.listing, Listing::Incremental);
    assert_ne!(run.cursor, same.cursor);
    // The rename: the same id, its new name, its parent from the links' folders.
    let renamed = by_id(&run, &offer_id);
    assert_eq!(renamed.name, "Quote.pdf");
    assert_eq!(renamed.parent.as_deref(), Some(acme.as_str()));
    // The new folder resolves from this listing, its folder's parent from the links.
    let beta = s.id("/Companies/Beta");
    assert_eq!(
        by_id(&run, &beta).parent.as_deref(),
        Some(companies.as_str())
    );
    assert_eq!(
        by_id(&run, &s.id("/Companies/Beta/new.txt"))
            .parent
            .as_deref(),
        Some(beta.as_str())
    );
    let mut deleted = run.deleted_paths.clone();
    deleted.sort();
    assert_eq!(
        deleted,
        ["/companies/acme/notes", "/companies/acme/offer.pdf"]
    );
    // What did not change is not listed.
    assert!(!run
        .items
        .iter()
        .any(|i| i.id == s.id("/Companies/Acme/stays.txt")));
    assert_eq!(run.items.len(), 3, "{:?}", run.items);

    // Without the links' folders, an unlisted parent is unknown: outside the tree.
    let unknown = s.list(same.cursor.as_deref(), &BTreeMap::new()).await;
    assert_eq!(by_id(&unknown, &offer_id).parent, None);
}

#[tokio::test]
async fn a_reset_cursor_is_answered_by_a_full_listing() {
    let s = setup().await;
    s.put("/Companies/Acme/a.txt", b"a");
    let first = s.list(None, &BTreeMap::new()).await;
    s.put("/Companies/Acme/b.txt", b"b");
    s.fake.dropbox().expire_cursors(ME);

    let run = s.list(first.cursor.as_deref(), &BTreeMap::new()).await;
    assert_eq!(run.listing, Listing::Full { complete: true });
    assert_eq!(run.items.len(), 4, "{:?}", run.items);
    assert!(run.cursor.is_some() && run.cursor != first.cursor);
    // The new cursor works.
    let next = s.list(run.cursor.as_deref(), &BTreeMap::new()).await;
    assert_eq!(next.listing, Listing::Incremental);
    assert!(next.items.is_empty());
    assert_eq!(
        s.fake.log().count("POST", "/2/files/list_folder/continue"),
        2
    );
}

#[tokio::test]
async fn a_non_ascii_name_round_trips() {
    let s = setup().await;
    let folder = s
        .client
        .create_folder(&s.token, target("", "/Companies"))
        .await
        .unwrap();
    let name = "Müller & Söhne ✓.pdf";
    let path = format!("/Companies/{name}");
    let data = b"Gr\xc3\xbc\xc3\x9fe".to_vec();
    let item = s.upload(&folder.id, &path, None, &data).await.unwrap();
    assert_eq!(item.name, name);
    assert_eq!(item.parent.as_deref(), Some(folder.id.as_str()));
    assert_eq!(
        s.fake
            .dropbox()
            .file_content(ME, &format!("{APP}{path}"))
            .unwrap(),
        data
    );
    let run = s.list(None, &BTreeMap::new()).await;
    let listed = by_id(&run, &item.id);
    assert_eq!(listed.name, name);
    assert_eq!(listed.parent.as_deref(), Some(folder.id.as_str()));
    assert_eq!(s.download(&item.id, rev_of(&item)).await, data);

    // Renamed to another non-ASCII name (an RPC body, raw UTF-8 there).
    let to = "/Companies/Ærø — 日本 😀.pdf";
    let moved = s
        .client
        .move_item(&s.token, &item.id, Some(&folder.id), target(&folder.id, to))
        .await
        .unwrap();
    assert_eq!(moved.name, "Ærø — 日本 😀.pdf");
    assert_eq!(
        s.fake
            .dropbox()
            .file_content(ME, &format!("{APP}{to}"))
            .unwrap(),
        data
    );
}

#[tokio::test]
async fn create_folder_twice_answers_the_same_folder() {
    let s = setup().await;
    let first = s
        .client
        .create_folder(&s.token, target("", "/Companies"))
        .await
        .unwrap();
    assert!(first.id.starts_with("id:"));
    assert_eq!(first.parent.as_deref(), Some(""));
    assert_eq!(first.kind, RemoteKind::Folder);
    let again = s
        .client
        .create_folder(&s.token, target("", "/companies"))
        .await
        .unwrap();
    assert_eq!(again.id, first.id);
    assert_eq!(again.name, "Companies");
    let nested = s
        .client
        .create_folder(&s.token, target(&first.id, "/Companies/Acme"))
        .await
        .unwrap();
    assert_eq!(nested.parent.as_deref(), Some(first.id.as_str()));
    assert_eq!(s.id("/Companies/Acme"), nested.id);

    // A file in the way is a conflict, not a folder.
    s.put("/taken", b"file");
    let err = s
        .client
        .create_folder(&s.token, target("", "/taken"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, RemoteErrorKind::Conflict, "{err}");
}

#[tokio::test]
async fn uploads_add_then_update_under_the_rev() {
    let s = setup().await;
    let item = s.upload("", "/doc.txt", None, b"v1").await.unwrap();
    assert_eq!(item.parent.as_deref(), Some(""));
    assert_eq!(item.name, "doc.txt");
    let rev1 = rev_of(&item).to_string();
    match &item.kind {
        RemoteKind::File { hash, size, .. } => {
            assert_eq!(hash.as_ref().unwrap().hex, dropbox_content_hash(b"v1"));
            assert_eq!(*size, 2);
        }
        other => panic!("{other:?}"),
    }

    // add onto a different file: a conflict, nothing written.
    let err = s.upload("", "/doc.txt", None, b"other").await.unwrap_err();
    assert_eq!(err.kind, RemoteErrorKind::Conflict, "{err}");
    // update under the right rev: a new rev, the same id.
    let updated = s
        .upload("", "/doc.txt", Some((&item.id, &rev1)), b"v2")
        .await
        .unwrap();
    assert_eq!(updated.id, item.id);
    let rev2 = rev_of(&updated).to_string();
    assert_ne!(rev2, rev1);
    // update under the stale rev: a conflict.
    let err = s
        .upload("", "/doc.txt", Some((&item.id, &rev1)), b"v3")
        .await
        .unwrap_err();
    assert_eq!(err.kind, RemoteErrorKind::Conflict, "{err}");
    assert!(err.message.contains("conflict"), "{}", err.message);
    assert_eq!(
        s.fake.dropbox().file_content(ME, &format!("{APP}/doc.txt")),
        Some(b"v2".to_vec())
    );
    // Each revision downloads as it was.
    assert_eq!(s.download(&item.id, &rev1).await, b"v1");
    assert_eq!(s.download(&item.id, &rev2).await, b"v2");

    // Over 50 MB: refused before anything is sent.
    let before = s.fake.log().total();
    let big = TempFile::new(b"");
    std::fs::File::options()
        .write(true)
        .open(&big.0)
        .unwrap()
        .set_len(50 * 1024 * 1024 + 1)
        .unwrap();
    let err = s
        .client
        .upload(&s.token, target("", "/big.bin"), None, &big.upload())
        .await
        .unwrap_err();
    assert_eq!(err.kind, RemoteErrorKind::TooLarge);
    assert_eq!(s.fake.log().total(), before);
}

#[tokio::test]
async fn a_large_file_goes_through_an_upload_session_and_back() {
    let s = setup().await;
    let data = pattern(20_000_000);
    let item = s.upload("", "/big.bin", None, &data).await.unwrap();
    let log = s.fake.log();
    assert_eq!(log.count("POST", "/2/files/upload"), 0);
    assert_eq!(log.count("POST", "/2/files/upload_session/start"), 1);
    // 8 MiB + 8 MiB + the rest: one append between start and finish.
    assert_eq!(log.count("POST", "/2/files/upload_session/append_v2"), 1);
    assert_eq!(log.count("POST", "/2/files/upload_session/finish"), 1);
    assert_eq!(s.fake.dropbox().open_upload_sessions(), 0);
    match &item.kind {
        RemoteKind::File { hash, size, .. } => {
            assert_eq!(*size, data.len() as u64);
            assert_eq!(hash.as_ref().unwrap().hex, dropbox_content_hash(&data));
        }
        other => panic!("{other:?}"),
    }
    let back = s.download(&item.id, rev_of(&item)).await;
    assert!(back == data, "the download differs from the upload");

    // An update under the rev goes the same way.
    let mut changed = data.clone();
    changed[12_345_678] ^= 0xff;
    let updated = s
        .upload("", "/big.bin", Some((&item.id, rev_of(&item))), &changed)
        .await
        .unwrap();
    assert_eq!(updated.id, item.id);
    assert_ne!(rev_of(&updated), rev_of(&item));
    assert!(s.download(&item.id, rev_of(&updated)).await == changed);
}

#[tokio::test]
async fn an_append_whose_answer_was_lost_is_not_sent_twice() {
    let s = setup().await;
    s.fake.faults().inject(
        FaultRule::new(Fault::DropResponseAfterCommit)
            .on("POST", "/2/files/upload_session/append_v2"),
    );
    let data = pattern(20_000_000);
    let item = s.upload("", "/lost.bin", None, &data).await.unwrap();
    assert_eq!(
        s.fake
            .log()
            .count("POST", "/2/files/upload_session/append_v2"),
        2
    );
    assert!(s.download(&item.id, rev_of(&item)).await == data);
}

#[tokio::test]
async fn move_v2_renames_and_maps_its_errors() {
    let s = setup().await;
    let companies = s
        .client
        .create_folder(&s.token, target("", "/Companies"))
        .await
        .unwrap();
    let item = s
        .upload(&companies.id, "/Companies/offer.pdf", None, b"offer")
        .await
        .unwrap();
    let moved = s
        .client
        .move_item(
            &s.token,
            &item.id,
            Some(&companies.id),
            target(&companies.id, "/Companies/quote.pdf"),
        )
        .await
        .unwrap();
    assert_eq!(moved.id, item.id);
    assert_eq!(moved.name, "quote.pdf");
    assert_eq!(moved.parent.as_deref(), Some(companies.id.as_str()));
    assert_eq!(rev_of(&moved), rev_of(&item));
    assert!(s.meta("/Companies/offer.pdf").is_none());
    assert_eq!(s.id("/Companies/quote.pdf"), item.id);

    // Into the root.
    let top = s
        .client
        .move_item(
            &s.token,
            &item.id,
            Some(&companies.id),
            target("", "/quote.pdf"),
        )
        .await
        .unwrap();
    assert_eq!(top.parent.as_deref(), Some(""));

    s.put("/taken.pdf", b"taken");
    let err = s
        .client
        .move_item(&s.token, &item.id, None, target("", "/taken.pdf"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, RemoteErrorKind::Conflict, "{err}");
    let err = s
        .client
        .move_item(
            &s.token,
            "id:nothingHere1234567890",
            None,
            target("", "/x.pdf"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, RemoteErrorKind::NotFound, "{err}");
}

#[tokio::test]
async fn deletes_are_idempotent_and_conditional() {
    let s = setup().await;
    let item = s.upload("", "/gone.txt", None, b"v1").await.unwrap();
    let rev1 = rev_of(&item).to_string();
    let updated = s
        .upload("", "/gone.txt", Some((&item.id, &rev1)), b"v2")
        .await
        .unwrap();
    // Under a stale rev: a conflict, nothing deleted.
    let err = s
        .client
        .delete(&s.token, &item.id, "/gone.txt", Some(&rev1))
        .await
        .unwrap_err();
    assert_eq!(err.kind, RemoteErrorKind::Conflict, "{err}");
    assert!(s.meta("/gone.txt").is_some());

    s.client
        .delete(&s.token, &item.id, "/gone.txt", Some(rev_of(&updated)))
        .await
        .unwrap();
    assert!(s.meta("/gone.txt").is_none());
    s.client
        .delete(&s.token, &item.id, "/gone.txt", Some(rev_of(&updated)))
        .await
        .unwrap();

    // A folder, with what it holds.
    let folder = s
        .client
        .create_folder(&s.token, target("", "/Old"))
        .await
        .unwrap();
    s.put("/Old/inner.txt", b"in");
    s.client
        .delete(&s.token, &folder.id, "/Old", None)
        .await
        .unwrap();
    assert!(s.meta("/Old/inner.txt").is_none());
}

#[tokio::test]
async fn throttling_is_waited_out_as_dropbox_asks() {
    let s = setup().await;
    s.put("/a.txt", b"a");
    let faults = s.fake.faults();
    let rule = faults.inject(
        FaultRule::new(Fault::TooManyRequests {
            retry_after: Some(1),
        })
        .on("POST", "/2/files/list_folder"),
    );
    let started = Instant::now();
    let run = s.list(None, &BTreeMap::new()).await;
    assert_eq!(run.items.len(), 1);
    assert_eq!(faults.fired(rule), 1);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 waited"
    );
    assert_eq!(s.fake.log().count("POST", "/2/files/list_folder"), 2);

    // Lock contention on a write, and a 503: retried too.
    faults.inject(
        FaultRule::new(Fault::Dropbox(DropboxFault::TooManyWriteOperations {
            retry_after: 0,
        }))
        .on("POST", "/2/files/upload"),
    );
    faults.inject(FaultRule::new(Fault::Unavailable).on("POST", "/2/files/upload"));
    let item = s.upload("", "/b.txt", None, b"b").await.unwrap();
    assert_eq!(s.fake.log().count("POST", "/2/files/upload"), 3);
    assert_eq!(s.id("/b.txt"), item.id);

    // Still throttled after the policy's tries: Retryable, with Dropbox's pause.
    faults.inject(
        FaultRule::new(Fault::Dropbox(DropboxFault::TooManyRequestsPlainText {
            retry_after: 0,
        }))
        .on("POST", "/2/files/create_folder_v2")
        .times(Times::Always),
    );
    let err = s
        .client
        .create_folder(&s.token, target("", "/Never"))
        .await
        .unwrap_err();
    assert_eq!(
        err.kind,
        RemoteErrorKind::Retryable {
            retry_after: Some(Duration::ZERO)
        }
    );
    assert_eq!(s.fake.log().count("POST", "/2/files/create_folder_v2"), 3);
}

#[tokio::test]
async fn refused_tokens_are_told_apart_and_never_shown() {
    let s = setup().await;
    let faults = s.fake.faults();
    faults.inject(FaultRule::new(Fault::Unauthorized).on("POST", "/2/files/list_folder"));
    let err = s
        .client
        .list(
            &s.token,
            ListRequest {
                cursor: None,
                org: "org-1",
                root_id: None,
                folders: &BTreeMap::new(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, RemoteErrorKind::TokenRejected);
    assert!(
        err.message.contains("expired_access_token"),
        "{}",
        err.message
    );
    assert!(!err.message.contains(&s.token));
    // Not retried: the run replaces the token.
    assert_eq!(s.fake.log().count("POST", "/2/files/list_folder"), 1);

    let bogus = "sl.not-a-token-at-all";
    let err = s
        .client
        .download(bogus, "id:whatever", "015000000001")
        .await
        .err()
        .expect("refused");
    assert_eq!(err.kind, RemoteErrorKind::TokenRejected, "{err}");
    assert!(!err.message.contains(bogus));

    faults.inject(
        FaultRule::new(Fault::Dropbox(DropboxFault::InvalidAccessToken))
            .on("POST", "/2/files/upload"),
    );
    let err = s.upload("", "/x.txt", None, b"x").await.unwrap_err();
    assert_eq!(err.kind, RemoteErrorKind::TokenRejected);
    assert!(!err.message.contains(&s.token));
}
