//! A record's documents panel on a real database (SQLite, or PostgreSQL with
//! `THREADLINE_TEST_DATABASE_URL`): uploads of several files, the 50 MB limit (nothing
//! kept past it), downloads byte for byte with a safe header, new folders, rename, move,
//! the trash and restore, a name taken and a stale version said on the page, hostile names
//! shown escaped; another organisation's documents are not found; the CSRF token is
//! required.

mod support;

use axum::http::{header, StatusCode};
use serde_json::json;
use support::{cookie_of, csrf_of, new_user, Site};
use threadline_crm::documents::blobs::MAX_FILE_BYTES;
use threadline_crm::documents::tree::{self, Node, RecordKind, RecordRef};
use threadline_crm::records::companies::Company;
use threadline_crm::records::{edit, Editable};
use threadline_crm::Actor;
use uuid::Uuid;

const HOSTILE: &str = "<img src=x onerror=alert(1)>\"'&";
const HOSTILE_ESCAPED: &str = "&#60;img src=x onerror=alert(1)&#62;&#34;&#39;&#38;";
/// A file name the documents accept that still means harm as HTML: quotes and an entity.
const HOSTILE_FILE: &str = "x' onmouseover='alert(1)&amp;=%22 é.txt";
const HOSTILE_FILE_ESCAPED: &str = "x&#39; onmouseover=&#39;alert(1)&#38;amp;=%22 é.txt";

async fn company(site: &Site, actor: &Actor, name: &str) -> Company {
    let input = serde_json::from_value(json!({ "name": name })).unwrap();
    let valid = Company::validate(input).unwrap();
    site.db
        .write(|tx| Box::pin(edit::create::<Company>(tx, actor, &valid)))
        .await
        .unwrap()
}

async fn nodes(site: &Site, actor: &Actor, id: Uuid) -> Vec<Node> {
    let mut conn = site.db.pool().acquire().await.unwrap();
    let record = RecordRef {
        kind: RecordKind::Company,
        id,
    };
    tree::record_nodes(&mut conn, actor.org_id, record)
        .await
        .unwrap()
}

fn named<'a>(nodes: &'a [Node], name: &str) -> &'a Node {
    nodes
        .iter()
        .find(|n| n.name == name)
        .unwrap_or_else(|| panic!("no node named {name:?}"))
}

/// Files of the blob store, apart from uploads in progress.
fn stored_files(site: &Site) -> usize {
    fn walk(dir: &std::path::Path, skip: &std::path::Path) -> usize {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        entries
            .flatten()
            .map(|e| {
                let p = e.path();
                if p == skip {
                    0
                } else if p.is_dir() {
                    walk(&p, skip)
                } else {
                    1
                }
            })
            .sum()
    }
    let blobs = site.state.blobs().unwrap();
    walk(blobs.root(), &blobs.tmp_dir())
}

/// One file uploaded through the panel's form, at the top of the tree.
async fn upload(s: &Setup, name: &str, content: &[u8]) -> support::Answer {
    s.site
        .post_multipart(
            &format!("{}/files", s.base),
            Some(&s.cookie),
            &[
                ("csrf", None, s.csrf.as_bytes()),
                ("file", Some(name), content),
            ],
        )
        .await
}

/// A change of a node through its form: `action` at `version`, with the form's other fields.
async fn act(
    s: &Setup,
    node: Uuid,
    action: &str,
    version: i64,
    fields: &[(&str, &str)],
) -> support::Answer {
    let version = version.to_string();
    let mut form = vec![("csrf", s.csrf.as_str()), ("version", version.as_str())];
    form.extend_from_slice(fields);
    s.site
        .post(
            &format!("/documents/{node}/{action}"),
            Some(&s.cookie),
            &form,
        )
        .await
}

struct Setup {
    site: Site,
    actor: Actor,
    cookie: String,
    company: Company,
    base: String,
    csrf: String,
}

async fn setup(name: &str) -> Setup {
    let site = Site::new().await;
    let actor = new_user(&site, site.owner.org_id, "ann@example.com", "Ann Lee").await;
    let cookie = cookie_of(&site, actor.user_id).await;
    let company = company(&site, &actor, name).await;
    let base = format!("/companies/{}/documents", company.id);
    let page = site.get(&base, Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = csrf_of(&page.body);
    Setup {
        site,
        actor,
        cookie,
        company,
        base,
        csrf,
    }
}

#[tokio::test]
async fn several_files_are_uploaded_listed_and_downloaded_byte_for_byte() {
    let s = setup("Acme").await;
    let empty = s.site.get(&s.base, Some(&s.cookie)).await;
    assert!(
        empty.body.contains("No documents yet: upload files"),
        "{}",
        empty.body
    );
    assert!(empty.body.contains("Up to 50 MB per file"));
    // No file sync connected: the way to Integrations.
    assert!(empty.body.contains("connect one in Integrations."));
    assert!(empty
        .body
        .contains(r#"<a href="/integrations">Open Integrations</a>"#));
    // The record's page links here.
    let record = s
        .site
        .get(&format!("/companies/{}", s.company.id), Some(&s.cookie))
        .await;
    assert!(record.body.contains(&format!(r#"href="{}""#, s.base)));

    let answer = s
        .site
        .post_multipart(
            &format!("{}/files", s.base),
            Some(&s.cookie),
            &[
                ("csrf", None, s.csrf.as_bytes()),
                ("folder", None, b""),
                ("file", Some("offer.txt"), b"the offer, version 1\n"),
                ("file", Some("notes é.txt"), "notes: ü ñ 日本\n".as_bytes()),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let location = answer.location.unwrap();
    assert_eq!(location, format!("{}?done=uploaded&n=2", s.base));
    let page = s.site.get(&location, Some(&s.cookie)).await;
    assert!(page.body.contains("2 files uploaded."), "{}", page.body);
    assert!(page.body.contains("offer.txt") && page.body.contains("notes é.txt"));
    // Size, type and who.
    assert!(page.body.contains("21 B"), "{}", page.body);
    assert!(page.body.contains("text/csv"));
    assert!(page.body.contains("Ann Lee"));

    let nodes = nodes(&s.site, &s.actor, s.company.id).await;
    assert_eq!(nodes.len(), 2, "both files");
    let notes = named(&nodes, "notes é.txt");
    let download = s
        .site
        .get(
            &format!("/documents/{}/download", notes.id),
            Some(&s.cookie),
        )
        .await;
    assert_eq!(download.status, StatusCode::OK);
    assert_eq!(download.body, "notes: ü ñ 日本\n");
    assert_eq!(
        download.header(header::CONTENT_DISPOSITION),
        "attachment; filename=\"notes _.txt\"; filename*=UTF-8''notes%20%C3%A9.txt"
    );
    assert_eq!(download.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    // Sent as stored, with its length, even to a browser that takes gzip.
    let long = "compressible ".repeat(100);
    assert_eq!(
        upload(&s, "long.txt", long.as_bytes()).await.status,
        StatusCode::SEE_OTHER
    );
    let long_id = named(&nodes_of(&s).await, "long.txt").id;
    let request = axum::http::Request::get(format!("/documents/{long_id}/download"))
        .header(header::COOKIE, &s.cookie)
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(axum::body::Body::empty())
        .unwrap();
    let plain = s.site.send(request).await;
    assert!(plain.headers.get(header::CONTENT_ENCODING).is_none());
    assert_eq!(plain.header(header::CONTENT_LENGTH), "1300");
    assert_eq!(plain.body, long);
    // A folder has no content.
    let folder = s
        .site
        .post(
            &format!("{}/folders", s.base),
            Some(&s.cookie),
            &[("csrf", &s.csrf), ("folder", ""), ("name", "Contracts")],
        )
        .await;
    assert_eq!(folder.status, StatusCode::SEE_OTHER, "{}", folder.body);
    let contracts = named(&nodes_of(&s).await, "Contracts").id;
    let not_a_file = s
        .site
        .get(&format!("/documents/{contracts}/download"), Some(&s.cookie))
        .await;
    assert_eq!(not_a_file.status, StatusCode::CONFLICT);
}

async fn nodes_of(s: &Setup) -> Vec<Node> {
    nodes(&s.site, &s.actor, s.company.id).await
}

#[tokio::test]
async fn a_file_over_50_mb_is_refused_and_nothing_of_it_is_kept() {
    let s = setup("Acme").await;
    let big = vec![b'x'; MAX_FILE_BYTES as usize + 1];
    let answer = s
        .site
        .post_multipart(
            &format!("{}/files", s.base),
            Some(&s.cookie),
            &[
                ("csrf", None, s.csrf.as_bytes()),
                ("file", Some("small.txt"), b"small"),
                ("file", Some("huge.bin"), &big),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "status");
    assert!(
        answer
            .body
            .contains("huge.bin was not uploaded: it is larger than 50 MB"),
        "{}",
        answer.body
    );
    // What came before it is kept and said so.
    assert!(answer.body.contains("1 file uploaded."), "{}", answer.body);
    let nodes = nodes_of(&s).await;
    assert_eq!(
        nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
        ["small.txt"]
    );
    assert_eq!(stored_files(&s.site), 1, "only the small file's content");
    // Nothing is left among the uploads in progress either.
    let tmp = s.site.state.blobs().unwrap().tmp_dir();
    let left = std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0);
}

#[tokio::test]
async fn rename_move_trash_and_restore_with_conflicts_and_stale_versions_said() {
    let s = setup("Acme").await;
    for name in ["a.txt", "b.txt"] {
        let answer = upload(&s, name, b"x").await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    }
    for name in ["Contracts", "Old"] {
        s.site
            .post(
                &format!("{}/folders", s.base),
                Some(&s.cookie),
                &[("csrf", &s.csrf), ("name", name)],
            )
            .await;
    }
    let all = nodes_of(&s).await;
    let a = named(&all, "a.txt").clone();
    let contracts = named(&all, "Contracts").id;
    let old = named(&all, "Old").id;

    // A name taken (in another letter case) is said on the page; nothing changes.
    let taken = act(&s, a.id, "rename", a.version, &[("name", "B.TXT")]).await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert!(
        taken
            .body
            .contains("This folder already has something with that name"),
        "{}",
        taken.body
    );
    // A refused name too (the model's reason).
    let refused = act(&s, a.id, "rename", a.version, &[("name", "a<b>.txt")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("name is refused"), "{}", refused.body);
    assert!(!refused.body.contains("a<b>"));

    let renamed = act(&s, a.id, "rename", a.version, &[("name", HOSTILE_FILE)]).await;
    assert_eq!(renamed.status, StatusCode::SEE_OTHER, "{}", renamed.body);
    assert_eq!(
        renamed.location.unwrap(),
        format!("{}?done=renamed", s.base)
    );
    // The same version again is stale: said, and nothing written.
    let stale = act(&s, a.id, "rename", a.version, &[("name", "c.txt")]).await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert!(stale
        .body
        .contains("Someone changed this document meanwhile"));
    let a = named(&nodes_of(&s).await, HOSTILE_FILE).clone();

    // Moved into a folder: the folder lists it, with breadcrumbs.
    let moved = act(
        &s,
        a.id,
        "move",
        a.version,
        &[("to", &contracts.to_string())],
    )
    .await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER, "{}", moved.body);
    let location = moved.location.unwrap();
    assert_eq!(
        location,
        format!("{}?folder={contracts}&done=moved", s.base)
    );
    let inside = s.site.get(&location, Some(&s.cookie)).await;
    assert!(
        inside.body.contains(HOSTILE_FILE_ESCAPED),
        "{}",
        inside.body
    );
    assert!(!inside.body.contains(HOSTILE_FILE));
    assert!(inside
        .body
        .contains(r#"<span aria-current="page">Contracts</span>"#));
    // A folder moved into itself is refused with the model's reason.
    let old_node = named(&nodes_of(&s).await, "Contracts").clone();
    let into_itself = act(
        &s,
        old_node.id,
        "move",
        old_node.version,
        &[("to", &old_node.id.to_string())],
    )
    .await;
    assert_eq!(into_itself.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        into_itself.body.contains("into itself"),
        "{}",
        into_itself.body
    );
    // Nested folders: Old into Contracts, shown as a nested tree.
    let old_node = named(&nodes_of(&s).await, "Old").clone();
    let nested = act(
        &s,
        old,
        "move",
        old_node.version,
        &[("to", &contracts.to_string())],
    )
    .await;
    assert_eq!(nested.status, StatusCode::SEE_OTHER, "{}", nested.body);
    let top = s.site.get(&s.base, Some(&s.cookie)).await;
    let compact: String = top.body.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        compact.contains(&format!(
            r#"<li><a href="{}?folder={contracts}">Contracts</a><ul> <li><a href="{}?folder={old}">Old</a></li> </ul></li>"#,
            s.base, s.base
        )),
        "{compact}"
    );

    // Contracts to the trash takes what it holds; the trash restores it where it was.
    let contracts_node = named(&nodes_of(&s).await, "Contracts").clone();
    let trashed = act(&s, contracts, "delete", contracts_node.version, &[]).await;
    assert_eq!(trashed.status, StatusCode::SEE_OTHER, "{}", trashed.body);
    assert_eq!(
        nodes_of(&s)
            .await
            .iter()
            .map(|n| n.name.as_str())
            .collect::<Vec<_>>(),
        ["b.txt"]
    );
    let trash = s
        .site
        .get(&format!("{}/trash", s.base), Some(&s.cookie))
        .await;
    assert_eq!(trash.status, StatusCode::OK);
    assert!(trash.body.contains("Contracts"), "{}", trash.body);
    let mut conn = s.site.db.pool().acquire().await.unwrap();
    let in_trash = tree::node(&mut conn, s.actor.org_id, contracts)
        .await
        .unwrap()
        .unwrap();
    drop(conn);
    let restored = act(&s, contracts, "restore", in_trash.version, &[]).await;
    assert_eq!(restored.status, StatusCode::SEE_OTHER, "{}", restored.body);
    assert_eq!(
        restored.location.unwrap(),
        format!("{}?done=restored", s.base)
    );
    assert_eq!(nodes_of(&s).await.len(), 4);
    let empty_trash = s
        .site
        .get(&format!("{}/trash", s.base), Some(&s.cookie))
        .await;
    assert!(empty_trash.body.contains("The trash is empty."));
}

#[tokio::test]
async fn hostile_names_are_shown_escaped_and_downloaded_with_a_safe_header() {
    let s = setup(HOSTILE).await;
    let answer = upload(&s, HOSTILE_FILE, b"<script>alert(1)</script>").await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let page = s.site.get(&s.base, Some(&s.cookie)).await;
    assert!(page.body.contains(HOSTILE_ESCAPED), "{}", page.body);
    assert!(page.body.contains(HOSTILE_FILE_ESCAPED));
    assert!(!page.body.contains("<img src=x"));
    assert!(!page.body.contains(HOSTILE_FILE));
    let node = named(&nodes_of(&s).await, HOSTILE_FILE).clone();
    let download = s
        .site
        .get(&format!("/documents/{}/download", node.id), Some(&s.cookie))
        .await;
    assert_eq!(download.status, StatusCode::OK);
    assert_eq!(download.body, "<script>alert(1)</script>");
    let disposition = download.header(header::CONTENT_DISPOSITION);
    assert!(disposition.starts_with("attachment; "), "{disposition}");
    assert_eq!(
        disposition,
        "attachment; filename=\"x' onmouseover='alert(1)&amp;=_22 _.txt\"; \
         filename*=UTF-8''x%27%20onmouseover%3D%27alert%281%29&amp%3B%3D%2522%20%C3%A9.txt"
    );
    assert_eq!(download.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    // An uploaded HTML file is never HTML to the browser here: an attachment, not sniffed.
    let html = s
        .site
        .post_multipart(
            &format!("{}/files", s.base),
            Some(&s.cookie),
            &[
                ("csrf", None, s.csrf.as_bytes()),
                (
                    "file",
                    Some("page.html"),
                    b"<html><script>alert(1)</script>",
                ),
            ],
        )
        .await;
    assert_eq!(html.status, StatusCode::SEE_OTHER);
    let page_html = named(&nodes_of(&s).await, "page.html").id;
    let got = s
        .site
        .get(&format!("/documents/{page_html}/download"), Some(&s.cookie))
        .await;
    assert!(got
        .header(header::CONTENT_DISPOSITION)
        .starts_with("attachment;"));
    assert_eq!(got.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    // A right-to-left override (a name that reads as another extension) is refused, and
    // said so; nothing is kept.
    let before = nodes_of(&s).await.len();
    let rtl = upload(&s, "invoice\u{202E}fdp.exe", b"MZ").await;
    assert_eq!(rtl.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", rtl.body);
    assert!(rtl.body.contains("was not uploaded"), "{}", rtl.body);
    assert!(rtl.body.contains("RIGHT-TO-LEFT OVERRIDE"), "{}", rtl.body);
    assert_eq!(nodes_of(&s).await.len(), before);
}

#[tokio::test]
async fn another_organisations_documents_are_not_found_and_colleagues_share_them() {
    let s = setup("Acme").await;
    let answer = upload(&s, "offer.txt", b"offer").await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let file = named(&nodes_of(&s).await, "offer.txt").clone();

    // The owner of the same organisation sees the member's upload.
    let owner = cookie_of(&s.site, s.site.owner.user_id).await;
    let seen = s.site.get(&s.base, Some(&owner)).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert!(seen.body.contains("offer.txt"));
    let got = s
        .site
        .get(&format!("/documents/{}/download", file.id), Some(&owner))
        .await;
    assert_eq!(got.body, "offer");

    // Another organisation: the record, its file and its changes are not found.
    let (_, other) = s.site.user(None, "eve@else.example", "Eve").await;
    let other_csrf = csrf_of(&s.site.get("/companies/new", Some(&other)).await.body);
    for path in [
        s.base.clone(),
        format!("{}/trash", s.base),
        format!("/documents/{}/download", file.id),
    ] {
        let answer = s.site.get(&path, Some(&other)).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
    }
    let rename = s
        .site
        .post(
            &format!("/documents/{}/rename", file.id),
            Some(&other),
            &[
                ("csrf", &other_csrf),
                ("version", &file.version.to_string()),
                ("name", "mine.txt"),
            ],
        )
        .await;
    assert_eq!(rename.status, StatusCode::NOT_FOUND);
    let upload = s
        .site
        .post_multipart(
            &format!("{}/files", s.base),
            Some(&other),
            &[
                ("csrf", None, other_csrf.as_bytes()),
                ("file", Some("planted.txt"), b"x"),
            ],
        )
        .await;
    assert_eq!(upload.status, StatusCode::NOT_FOUND);
    assert_eq!(nodes_of(&s).await.len(), 1);
    assert_eq!(
        named(&nodes_of(&s).await, "offer.txt").version,
        file.version
    );
    // Not signed in: to the sign-in page.
    let anonymous = s.site.get(&s.base, None).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn changes_without_the_csrf_token_are_refused_and_nothing_is_stored() {
    let s = setup("Acme").await;
    // The files before the token: refused before any is stored.
    let early = s
        .site
        .post_multipart(
            &format!("{}/files", s.base),
            Some(&s.cookie),
            &[
                ("file", Some("offer.txt"), b"offer"),
                ("csrf", None, s.csrf.as_bytes()),
            ],
        )
        .await;
    assert_eq!(early.status, StatusCode::FORBIDDEN);
    let wrong = s
        .site
        .post_multipart(
            &format!("{}/files", s.base),
            Some(&s.cookie),
            &[
                ("csrf", None, b"not-the-token"),
                ("file", Some("offer.txt"), b"offer"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let folder = s
        .site
        .post(
            &format!("{}/folders", s.base),
            Some(&s.cookie),
            &[("name", "Contracts")],
        )
        .await;
    assert!(folder.status.is_client_error(), "{}", folder.status);
    assert!(nodes_of(&s).await.is_empty());
    assert_eq!(stored_files(&s.site), 0);
    // With the token, but from another site: refused too.
    let cross = s
        .site
        .post_from(
            &format!("{}/folders", s.base),
            Some(&s.cookie),
            &[("csrf", &s.csrf), ("name", "Contracts")],
            "cross-site",
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    assert!(nodes_of(&s).await.is_empty());
}

/// The file sync on the panel, with a Dropbox whose files API is never reached (no run is
/// started by these tests: the switch and the states are the database's).
mod file_sync {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use threadline_connections::{Grant, Provider};
    use threadline_crm::documents::blobs::BlobStore;
    use threadline_files_core::link::{Link, LinkState, NodeKey};
    use threadline_files_core::plan::RemoteRun;
    use threadline_files_sync::integration::{Declaration, FilesIntegration};
    use threadline_files_sync::remote::{
        ByteStream, ListRequest, RemoteError, RemoteErrorKind, RemoteFiles, RemoteResult, Target,
        Upload,
    };
    use threadline_files_sync::run::FileSync;
    use threadline_files_sync::{settings, store};
    use threadline_http::AppState;
    use threadline_storage::db::BoxFuture;
    use threadline_storage::secrets::{new_key_line, Keyring, SecretString};
    use threadline_sync_engine::{Card, FixedToken, Localised};

    struct Unreached;

    fn unreached<T: Send + 'static>() -> BoxFuture<'static, RemoteResult<T>> {
        Box::pin(async {
            Err(RemoteError::new(
                RemoteErrorKind::Retryable { retry_after: None },
                "not reached in these tests",
            ))
        })
    }

    impl RemoteFiles for Unreached {
        fn provider(&self) -> threadline_files_core::provider::Provider {
            threadline_files_core::provider::Provider::Dropbox
        }
        fn list<'a>(
            &'a self,
            _: &'a str,
            _: ListRequest<'a>,
        ) -> BoxFuture<'a, RemoteResult<RemoteRun>> {
            unreached()
        }
        fn download<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
            _: &'a str,
        ) -> BoxFuture<'a, RemoteResult<ByteStream>> {
            unreached()
        }
        fn create_folder<'a>(
            &'a self,
            _: &'a str,
            _: Target<'a>,
        ) -> BoxFuture<'a, RemoteResult<threadline_files_core::RemoteItem>> {
            unreached()
        }
        fn upload<'a>(
            &'a self,
            _: &'a str,
            _: Target<'a>,
            _: Option<(&'a str, &'a str)>,
            _: &'a Upload,
        ) -> BoxFuture<'a, RemoteResult<threadline_files_core::RemoteItem>> {
            unreached()
        }
        fn move_item<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
            _: Option<&'a str>,
            _: Target<'a>,
        ) -> BoxFuture<'a, RemoteResult<threadline_files_core::RemoteItem>> {
            unreached()
        }
        fn delete<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
            _: &'a str,
            _: Option<&'a str>,
        ) -> BoxFuture<'a, RemoteResult<()>> {
            unreached()
        }
    }

    const DECLARATION: Declaration = Declaration {
        name: "dropbox",
        provider: Provider::Dropbox,
        scopes: &["files.content.write"],
        scopes_label: "the app folder",
        card: Card {
            title: Localised {
                en: "Dropbox",
                nl: "Dropbox",
                de: "Dropbox",
            },
            summary: Localised {
                en: "Files.",
                nl: "Bestanden.",
                de: "Dateien.",
            },
        },
        asked_at_connect: true,
        interval: Duration::from_secs(3600),
        jitter: Duration::ZERO,
    };

    #[tokio::test]
    async fn the_record_is_synced_with_dropbox_and_each_file_says_where_it_stands() {
        let data_dir = std::env::temp_dir().join(format!(
            "threadline-docs-{}",
            threadline_storage::db::new_id()
        ));
        std::fs::create_dir_all(&data_dir).unwrap();
        // Removed however the test ends.
        struct Removed(std::path::PathBuf);
        impl Drop for Removed {
            fn drop(&mut self) {
                std::fs::remove_dir_all(&self.0).ok();
            }
        }
        let _removed = Removed(data_dir.clone());
        let key_line = new_key_line().unwrap();
        let keys = Keyring::parse(&key_line, "test keys").unwrap();
        let dir = data_dir.clone();
        let site = Site::with_state(move |db| {
            let sync = FileSync::new(
                db.clone(),
                BlobStore::in_data_dir(&dir),
                Arc::new(Unreached),
                Arc::new(FixedToken(SecretString::from("token".to_string()))),
                &[],
            );
            AppState::with_data_dir(db, &dir)
                .with_keyring(Keyring::parse(&key_line, "test keys").unwrap())
                .with_integration(FilesIntegration::new(DECLARATION, sync))
        })
        .await;
        let actor = new_user(&site, site.owner.org_id, "ann@example.com", "Ann Lee").await;
        let cookie = cookie_of(&site, actor.user_id).await;
        let acme = company(&site, &actor, "Acme").await;
        let base = format!("/companies/{}/documents", acme.id);
        let csrf = csrf_of(&site.get(&base, Some(&cookie)).await.body);
        let uploaded = site
            .post_multipart(
                &format!("{base}/files"),
                Some(&cookie),
                &[
                    ("csrf", None, csrf.as_bytes()),
                    ("file", Some("offer.txt"), b"offer"),
                ],
            )
            .await;
        assert_eq!(uploaded.status, StatusCode::SEE_OTHER);

        // Ann's Dropbox connection.
        let grant = Grant {
            provider: Provider::Dropbox,
            account_id: "dbid:ann".into(),
            account_email: Some("ann@dropbox.example".into()),
            scopes: vec!["files.content.write".into()],
            access_token: SecretString::from("sl.access".to_string()),
            refresh_token: Some(SecretString::from("refresh".to_string())),
            access_token_expires_at: None,
        };
        let connection = support::connection_of(&site, &keys, &actor, &grant).await;

        let off = site.get(&base, Some(&cookie)).await;
        assert!(
            off.body
                .contains("Not synced with Dropbox (ann@dropbox.example)."),
            "{}",
            off.body
        );
        assert!(off.body.contains("Sync with Dropbox"));
        let switch = format!("{base}/sync/{}", connection.id);
        let on = site
            .post(
                &switch,
                Some(&cookie),
                &[("csrf", &csrf), ("enabled", "on")],
            )
            .await;
        assert_eq!(on.status, StatusCode::SEE_OTHER, "{}", on.body);
        assert_eq!(
            on.location.as_deref(),
            Some(format!("{base}?done=sync-on").as_str())
        );
        let mut conn = site.db.pool().acquire().await.unwrap();
        let targets = settings::get(&mut conn, connection.id)
            .await
            .unwrap()
            .unwrap()
            .targets;
        assert_eq!(targets.len(), 1);
        drop(conn);

        // Not synced yet: waiting; linked at its version: synced.
        let page = site.get(&base, Some(&cookie)).await;
        assert!(
            page.body
                .contains("Synced with Dropbox (ann@dropbox.example)."),
            "{}",
            page.body
        );
        assert!(
            page.body.contains("Dropbox: waiting for the next sync"),
            "{}",
            page.body
        );
        let file = named(&nodes(&site, &actor, acme.id).await, "offer.txt").clone();
        let link = Link {
            key: NodeKey::Node(file.id),
            record: None,
            state: LinkState::Synced,
            crm_version: file.version,
            sha256: file.sha256.clone(),
            crm_parent: None,
            crm_name: file.name.clone(),
            remote_id: "id:offer".into(),
            remote_parent: None,
            remote_name: file.name.clone(),
            remote_rev: Some("1".into()),
            remote_hash: None,
            path: "/Companies/Acme/offer.txt".into(),
        };
        let mut conn = site.db.pool().acquire().await.unwrap();
        store::put_link(&mut conn, connection.id, &link)
            .await
            .unwrap();
        drop(conn);
        let page = site.get(&base, Some(&cookie)).await;
        assert!(page.body.contains("Dropbox: synced"), "{}", page.body);

        // Sync now: the scheduler's run, as on Integrations.
        let now = site
            .post(&format!("{switch}/now"), Some(&cookie), &[("csrf", &csrf)])
            .await;
        assert_eq!(now.status, StatusCode::SEE_OTHER, "{}", now.body);
        assert!(now.location.unwrap().contains("done=sync-"));

        // Someone else's connection is not theirs to switch.
        let (_, eve) = site
            .user(Some(actor.org_id), "eve@example.com", "Eve")
            .await;
        let eve_csrf = csrf_of(&site.get(&base, Some(&eve)).await.body);
        let refused = site
            .post(
                &switch,
                Some(&eve),
                &[("csrf", &eve_csrf), ("enabled", "off")],
            )
            .await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND);

        // Off again: the files stay.
        let off = site
            .post(
                &switch,
                Some(&cookie),
                &[("csrf", &csrf), ("enabled", "off")],
            )
            .await;
        assert_eq!(off.status, StatusCode::SEE_OTHER);
        let page = site.get(&base, Some(&cookie)).await;
        assert!(
            page.body.contains("Not synced with Dropbox"),
            "{}",
            page.body
        );
        assert!(!page.body.contains("Dropbox: synced"));
        assert_eq!(nodes(&site, &actor, acme.id).await.len(), 1);
    }
}
