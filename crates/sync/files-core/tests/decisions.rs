//! The decision tables, the content hash and the name mapping, as tables.

use chrono::{TimeZone, Utc};
use threadline_files_core::decide::{
    decide_content, decide_fate, Content, ContentSides, CrmState, Fate, RemoteState,
};
use threadline_files_core::hash::{
    dropbox_content_hash, same_content, DropboxHasher, DROPBOX_BLOCK,
};
use threadline_files_core::link::{derived_node_id, NodeKey, RecordKind, RecordRef};
use threadline_files_core::names::{
    conflict_name, crm_refuses, numbered, record_folder_name, remote_key, to_crm_name,
    to_remote_name,
};
use threadline_files_core::{HashKind, LinkState, Provider, RemoteHash};
use uuid::Uuid;

#[test]
fn dropbox_content_hash_vectors() {
    // The empty file: SHA-256 of nothing (Dropbox's reference; sync-apis.md §1.4).
    assert_eq!(
        dropbox_content_hash(b""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    // Independent implementation's vectors (wfraser/dropbox-content-hash's tests): less
    // than a block, exactly one, one and a byte, exactly two 4 MiB blocks of byte 30.
    assert_eq!(
        dropbox_content_hash(b"hello"),
        "9595c9df90075148eb06860365df33584b75bff782a510c6cd4883a419833d50"
    );
    let cases = [
        (
            DROPBOX_BLOCK,
            "1114501b241325c24970e0cd0b6416d80284085151e2980747ccecc4e0c156e6",
        ),
        (
            DROPBOX_BLOCK + 1,
            "5b1d15f99119b9138a887c27d1b246cf6c584621fc75c42edd27c3d962835d4f",
        ),
        (
            2 * DROPBOX_BLOCK,
            "aa562efb265c604214e4626717330e15be16f2daaabfe5d7d2c22f3e88cbc268",
        ),
    ];
    for (len, want) in cases {
        let bytes = vec![30u8; len];
        assert_eq!(dropbox_content_hash(&bytes), want, "{len} bytes");
        // Fed in odd pieces (a stream), the same.
        let mut h = DropboxHasher::new();
        for piece in bytes.chunks(1_000_003) {
            h.update(piece);
        }
        assert_eq!(h.finish(), want, "{len} bytes in pieces");
    }
}

#[test]
fn same_content_compares_by_the_providers_kind() {
    let sha = "ab".repeat(32);
    let md5 = RemoteHash::new(HashKind::Md5, "0cc175b9c0f1b6a831c399e269772661");
    assert_eq!(
        same_content(
            &sha,
            &[],
            &RemoteHash::new(HashKind::Sha256, sha.to_uppercase())
        ),
        Some(true)
    );
    assert_eq!(
        same_content(&sha, &[], &md5),
        None,
        "no md5 of ours: unknown"
    );
    assert_eq!(
        same_content(&sha, std::slice::from_ref(&md5), &md5),
        Some(true)
    );
    let other = RemoteHash::new(HashKind::Md5, "ff");
    assert_eq!(same_content(&sha, &[md5], &other), Some(false));
}

fn h(s: &str) -> RemoteHash {
    RemoteHash::new(HashKind::DropboxContentHash, s)
}

#[test]
fn content_table() {
    use Content::*;
    let (a, b, c) = (h("aa"), h("bb"), h("cc"));
    let ours = |x: &RemoteHash| vec![x.clone()];
    // (crm sha, crm's provider hash, remote rev, remote hash, base) → decision
    type Case<'a> = (
        &'a str,
        Vec<RemoteHash>,
        &'a str,
        Option<&'a RemoteHash>,
        Option<(&'a str, Option<&'a RemoteHash>, Option<&'a str>)>,
        Result<Content, ()>,
    );
    let cases: Vec<Case> = vec![
        (
            "s1",
            ours(&a),
            "r1",
            Some(&a),
            Some(("s1", Some(&a), Some("r1"))),
            Ok(InSync),
        ),
        // A new rev, the same hash (a touch): the link only.
        (
            "s1",
            ours(&a),
            "r2",
            Some(&a),
            Some(("s1", Some(&a), Some("r1"))),
            Ok(RefreshLink),
        ),
        (
            "s2",
            ours(&b),
            "r1",
            Some(&a),
            Some(("s1", Some(&a), Some("r1"))),
            Ok(Upload),
        ),
        (
            "s1",
            ours(&a),
            "r2",
            Some(&b),
            Some(("s1", Some(&a), Some("r1"))),
            Ok(Download),
        ),
        // Both changed to the same content: no conflict.
        (
            "s2",
            ours(&b),
            "r2",
            Some(&b),
            Some(("s1", Some(&a), Some("r1"))),
            Ok(RefreshLink),
        ),
        (
            "s2",
            ours(&b),
            "r2",
            Some(&c),
            Some(("s1", Some(&a), Some("r1"))),
            Ok(Conflict),
        ),
        // Both changed, our provider hash unknown: ask for it.
        (
            "s2",
            vec![],
            "r2",
            Some(&b),
            Some(("s1", Some(&a), Some("r1"))),
            Err(()),
        ),
        // No hash listed remotely: the rev decides change; content can't be compared.
        (
            "s1",
            vec![],
            "r2",
            None,
            Some(("s1", None, Some("r1"))),
            Ok(Download),
        ),
        (
            "s2",
            vec![],
            "r2",
            None,
            Some(("s1", None, Some("r1"))),
            Ok(Conflict),
        ),
        (
            "s2",
            vec![],
            "r1",
            None,
            Some(("s1", None, Some("r1"))),
            Ok(Upload),
        ),
        // Adoption without a link: equal → link; different → keep both.
        ("s1", ours(&a), "r9", Some(&a), None, Ok(RefreshLink)),
        ("s1", ours(&a), "r9", Some(&b), None, Ok(Conflict)),
    ];
    for (i, (sha, hashes, rev, hash, base, want)) in cases.into_iter().enumerate() {
        let got = decide_content(&ContentSides {
            crm_sha256: sha,
            crm_hashes: &hashes,
            remote_rev: rev,
            remote_hash: hash,
            base,
        })
        .map_err(|_| ());
        assert_eq!(got, want, "case {i}");
    }
}

#[test]
fn fate_table() {
    use CrmState::{Gone as CGone, Live};
    use Fate::*;
    use LinkState::*;
    use RemoteState::{Gone as RGone, Present};
    let cases = [
        (
            Synced,
            Live { changed: false },
            Present { changed: false },
            Keep,
        ),
        (
            Synced,
            Live { changed: true },
            Present { changed: true },
            Keep,
        ),
        // Deleted remotely: never deleted in the CRM; pushed back only after a CRM change.
        (Synced, Live { changed: false }, RGone, Tombstone),
        (Synced, Live { changed: true }, RGone, Reupload),
        (GoneRemotely, Live { changed: false }, RGone, Dormant),
        (GoneRemotely, Live { changed: true }, RGone, Reupload),
        // Back from Drive's trash.
        (
            GoneRemotely,
            Live { changed: false },
            Present { changed: false },
            Keep,
        ),
        // Deleted in the CRM: deleted remotely, unless edited there (the edit wins).
        (Synced, CGone, Present { changed: false }, DeleteRemote),
        (Synced, CGone, Present { changed: true }, Reimport),
        (Synced, CGone, RGone, DropLink),
        (GoneRemotely, CGone, RGone, DropLink),
    ];
    for (link, crm, remote, want) in cases {
        assert_eq!(
            decide_fate(link, crm, remote),
            want,
            "{link:?} {crm:?} {remote:?}"
        );
    }
}

#[test]
fn names_map_reversibly_or_are_refused_with_a_reason() {
    let drive = Provider::GoogleDrive.capabilities();
    let dropbox = Provider::Dropbox.capabilities();
    // Drive accepts what the CRM refuses: mapped to full-width forms, and back.
    for (remote, crm) in [
        ("Q1: plan?.pdf", "Q1： plan？.pdf"),
        ("a/b", "a／b"),
        ("<draft> \"x\" | *.txt", "＜draft＞ ＂x＂ ｜ ＊.txt"),
        ("plain.txt", "plain.txt"),
    ] {
        assert_eq!(to_crm_name(remote).as_deref(), Ok(crm), "{remote}");
        assert_eq!(crm_refuses(crm), None);
        assert_eq!(to_remote_name(&drive, crm).as_deref(), Ok(remote), "{crm}");
    }
    // Dropbox refuses `/` and `\`: they stay full-width there.
    assert_eq!(to_remote_name(&dropbox, "a／b：c").as_deref(), Ok("a／b:c"));
    // Not mappable: refused with a reason.
    for bad in [
        "line\nbreak",
        "trailing.",
        "CON.txt",
        "..",
        "",
        &"x".repeat(256),
    ] {
        let why = to_crm_name(bad).unwrap_err();
        assert!(why.contains("CRM does not accept"), "{bad:?}: {why}");
    }
    assert!(to_remote_name(&dropbox, "desktop.ini").is_err());
    assert!(to_remote_name(&dropbox, "Thumbs.db").is_err());
    assert!(to_remote_name(&drive, "desktop.ini").is_ok());
    // Dropbox stores NFC and compares without case.
    let nfd = "cafe\u{301}.txt";
    assert_eq!(to_remote_name(&dropbox, nfd).as_deref(), Ok("café.txt"));
    assert_eq!(remote_key(&dropbox, nfd), remote_key(&dropbox, "CAFÉ.TXT"));
    assert_ne!(remote_key(&drive, nfd), remote_key(&drive, "café.txt"));
    assert_ne!(remote_key(&drive, "A.txt"), remote_key(&drive, "a.txt"));
}

#[test]
fn conflict_and_numbered_names_have_one_format() {
    let at = Utc.with_ymd_and_hms(2026, 12, 7, 9, 30, 59).unwrap();
    assert_eq!(
        conflict_name("offer.pdf", "Dropbox", Some(at), "r1"),
        "offer (conflict from Dropbox 2026-12-07 09-30).pdf"
    );
    assert_eq!(
        conflict_name(".env", "Google Drive", Some(at), "r1"),
        ".env (conflict from Google Drive 2026-12-07 09-30)"
    );
    assert_eq!(
        conflict_name("notes", "Dropbox", None, "0123456789abcdef"),
        "notes (conflict from Dropbox rev 0123456789ab)"
    );
    let long = format!("{}.pdf", "é".repeat(126));
    let c = conflict_name(&long, "Dropbox", Some(at), "r");
    assert!(
        c.len() <= 255 && c.ends_with(").pdf") && crm_refuses(&c).is_none(),
        "{c}"
    );
    assert_eq!(numbered("a.tar.gz", 2), "a.tar (2).gz");
    assert_eq!(numbered("README", 3), "README (3)");
}

#[test]
fn record_folders_are_distinct_and_stable() {
    let id = Uuid::parse_str("3f2a9c1b-0000-4000-8000-000000000000").unwrap();
    assert_eq!(record_folder_name("Acme", id, |_| false), "Acme");
    assert_eq!(
        record_folder_name("Acme", id, |n| n == "Acme"),
        "Acme (3f2a9c1b)"
    );
    assert_eq!(record_folder_name("Acme Inc.", id, |_| false), "Acme Inc");
    assert_eq!(
        record_folder_name("A/S Nord: ok?", id, |_| false),
        "A／S Nord： ok？"
    );
    assert_eq!(record_folder_name("  ", id, |_| false), "Unnamed");
    assert_eq!(record_folder_name("\u{7}", id, |_| false), "Unnamed");
}

#[test]
fn markers_round_trip_and_derived_ids_are_stable() {
    let r = RecordRef {
        kind: RecordKind::Company,
        id: Uuid::from_u128(7),
    };
    for key in [
        NodeKey::Root,
        NodeKey::Module(RecordKind::Product),
        NodeKey::Record(r),
        NodeKey::Node(Uuid::from_u128(9)),
    ] {
        assert_eq!(NodeKey::from_marker(&key.marker()), Some(key));
    }
    for bad in [
        "",
        "node",
        "node:x",
        "record:company",
        "module:planet",
        "root:1",
        "node:00000000-0000-0000-0000-000000000009:x",
    ] {
        assert_eq!(NodeKey::from_marker(bad), None, "{bad}");
    }
    let a = derived_node_id(Provider::Dropbox, "acc", "id:1", "import");
    assert_eq!(
        a,
        derived_node_id(Provider::Dropbox, "acc", "id:1", "import")
    );
    assert_ne!(
        a,
        derived_node_id(Provider::GoogleDrive, "acc", "id:1", "import")
    );
    assert_ne!(
        a,
        derived_node_id(Provider::Dropbox, "acc", "id:1", "conflict:r")
    );
    assert_ne!(
        a,
        derived_node_id(Provider::Dropbox, "ac", "cid:1", "import")
    );
}
