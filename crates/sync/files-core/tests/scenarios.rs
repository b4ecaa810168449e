//! Whole runs through the planner against the in-memory world (`common`), with golden
//! listings of both sides (rclone bisync style), on Dropbox's and Drive's rules.

mod common;

use common::*;
use threadline_files_core::plan::{PlanError, Refusal};
use threadline_files_core::{
    Guards, LinkState, NodeKey, Plan, Provider, RemoteItem, RemoteKind, Step,
};

const BOTH: [Provider; 2] = [Provider::Dropbox, Provider::GoogleDrive];

fn count(plan: &Plan, f: impl Fn(&Step) -> bool) -> usize {
    plan.steps.iter().filter(|s| f(s)).count()
}

fn uploads(plan: &Plan) -> usize {
    count(plan, |s| matches!(s, Step::Upload { .. }))
}

/// A world with Acme (a company) holding `offer.pdf` and `Docs/spec.txt`, synced.
fn acme(provider: Provider) -> (World, uuid::Uuid, uuid::Uuid) {
    let mut w = World::new(provider);
    w.record(company(1), "Acme");
    let offer = w
        .crm
        .create(company(1), None, "offer.pdf", Some(b"offer v1".to_vec()))
        .unwrap();
    let docs = w.crm.create(company(1), None, "Docs", None).unwrap();
    w.crm
        .create(
            company(1),
            Some(docs),
            "spec.txt",
            Some(b"spec v1".to_vec()),
        )
        .unwrap();
    w.sync().unwrap();
    w.check().unwrap();
    (w, offer, docs)
}

fn quiet(w: &mut World) {
    let p = w.plan().unwrap();
    assert!(p.is_quiet(), "{:#?}", p.steps);
}

#[test]
fn first_sync_builds_the_tree_and_a_second_run_plans_nothing() {
    for provider in BOTH {
        let (mut w, ..) = acme(provider);
        w.record(company(2), "Acme");
        w.record(company(3), "Beta");
        w.sync().unwrap();
        assert_eq!(
            w.remote_listing(),
            "/Companies/\n/Companies/Acme (00000000)/\n/Companies/Acme/\n/Companies/Acme/Docs/\n\
             /Companies/Acme/Docs/spec.txt = spec v1\n/Companies/Acme/offer.pdf = offer v1\n\
             /Companies/Beta/",
            "{provider:?}"
        );
        w.check().unwrap();
        quiet(&mut w);
        if provider == Provider::GoogleDrive {
            let root = w
                .remote
                .items
                .values()
                .find(|i| i.name == "Threadline")
                .unwrap();
            assert_eq!(root.parent.as_deref(), Some("root"));
            assert_eq!(root.marker, Some(NodeKey::Root));
        }
    }
}

#[test]
fn edits_flow_both_ways_under_the_links_rev() {
    for provider in BOTH {
        let (mut w, offer, _) = acme(provider);
        let id = w.remote_of(offer).unwrap().id.clone();
        w.remote
            .update(&id, b"offer v2 (remote)".to_vec(), None)
            .unwrap();
        let p = w.sync().unwrap();
        assert_eq!(
            count(&p, |s| matches!(s, Step::Download { create: false, .. })),
            1
        );
        assert_eq!(
            w.crm.nodes[&offer].content.as_deref(),
            Some(&b"offer v2 (remote)"[..])
        );
        w.crm
            .replace(offer, b"offer v3 (crm)".to_vec(), None)
            .unwrap();
        let p = w.plan().unwrap();
        let rev = format!("r{}", w.remote.items[&id].rev);
        assert!(p.steps.iter().any(|s| matches!(s, Step::Upload { remote_id: Some(r), if_rev: Some(v), .. } if *r == id && *v == rev)), "{:#?}", p.steps);
        w.sync().unwrap();
        assert_eq!(w.remote.items[&id].content, b"offer v3 (crm)");
        w.check().unwrap();
        quiet(&mut w);
    }
}

#[test]
fn a_touch_or_the_same_edit_on_both_sides_is_no_conflict() {
    for provider in BOTH {
        let (mut w, offer, _) = acme(provider);
        let id = w.remote_of(offer).unwrap().id.clone();
        w.remote.update(&id, b"same".to_vec(), None).unwrap();
        w.crm.replace(offer, b"same".to_vec(), None).unwrap();
        let p = w.sync().unwrap();
        assert!(p.conflicts.is_empty());
        assert_eq!(
            uploads(&p) + count(&p, |s| matches!(s, Step::Download { .. })),
            0
        );
        quiet(&mut w);
    }
}

#[test]
fn both_sides_changed_keeps_both_with_one_conflict_name() {
    for provider in BOTH {
        let (mut w, offer, _) = acme(provider);
        let id = w.remote_of(offer).unwrap().id.clone();
        w.remote.update(&id, b"remote edit".to_vec(), None).unwrap();
        w.crm.replace(offer, b"crm edit".to_vec(), None).unwrap();
        let p = w.sync().unwrap();
        assert_eq!(p.conflicts.len(), 1);
        let label = provider.label();
        let copy = format!("offer (conflict from {label} 2027-01-15 08-1");
        assert!(
            p.conflicts[0].copy_name.starts_with(&copy),
            "{:?}",
            p.conflicts
        );
        let name = &p.conflicts[0].copy_name;
        // The remote file (its id) became the copy; the CRM's version got a new file.
        assert_eq!(w.remote.items[&id].name, *name);
        assert_eq!(w.remote.items[&id].content, b"remote edit");
        assert_eq!(
            w.crm_listing(),
            format!("Acme#1/Docs/\nAcme#1/Docs/spec.txt = spec v1\nAcme#1/{name} = remote edit\nAcme#1/offer.pdf = crm edit")
        );
        assert_eq!(
            w.remote_listing(),
            format!("/Companies/\n/Companies/Acme/\n/Companies/Acme/Docs/\n/Companies/Acme/Docs/spec.txt = spec v1\n/Companies/Acme/{name} = remote edit\n/Companies/Acme/offer.pdf = crm edit")
        );
        w.check().unwrap();
        quiet(&mut w);
    }
}

#[test]
fn deleted_in_the_crm_is_deleted_remotely_and_restoring_puts_it_back() {
    for provider in BOTH {
        let (mut w, offer, docs) = acme(provider);
        let id = w.remote_of(offer).unwrap().id.clone();
        let rev = format!("r{}", w.remote.items[&id].rev);
        w.crm.trash(offer).unwrap();
        w.crm.trash(docs).unwrap();
        let p = w.sync().unwrap();
        // One delete per top item (the folder takes its file), the file's under its rev.
        assert_eq!(
            count(&p, |s| matches!(s, Step::DeleteRemote { .. })),
            2,
            "{:#?}",
            p.steps
        );
        assert!(p.steps.iter().any(|s| matches!(s, Step::DeleteRemote { remote_id, if_rev: Some(r), .. } if *remote_id == id && *r == rev)));
        assert_eq!(w.remote_listing(), "/Companies/\n/Companies/Acme/");
        assert!(!w.links.contains_key(&NodeKey::Node(offer)));
        w.crm.restore(offer).unwrap();
        w.sync().unwrap();
        assert_eq!(
            w.remote_listing(),
            "/Companies/\n/Companies/Acme/\n/Companies/Acme/offer.pdf = offer v1"
        );
        w.check().unwrap();
        quiet(&mut w);
    }
}

#[test]
fn an_edit_beats_a_crm_delete() {
    for provider in BOTH {
        let (mut w, offer, _) = acme(provider);
        let id = w.remote_of(offer).unwrap().id.clone();
        w.crm.trash(offer).unwrap();
        w.remote
            .update(&id, b"edited remotely".to_vec(), None)
            .unwrap();
        let p = w.sync().unwrap();
        assert_eq!(count(&p, |s| matches!(s, Step::DeleteRemote { .. })), 0);
        assert!(
            w.crm_listing()
                .contains("Acme#1/offer.pdf = edited remotely"),
            "{}",
            w.crm_listing()
        );
        assert!(
            w.crm.nodes[&offer].trashed,
            "the trashed node stays in the trash"
        );
        w.check().unwrap();
        quiet(&mut w);
    }
}

#[test]
fn deleted_remotely_is_never_deleted_in_the_crm_nor_pushed_back_until_it_changes() {
    for provider in BOTH {
        let (mut w, offer, docs) = acme(provider);
        let id = w.remote_of(offer).unwrap().id.clone();
        let docs_id = w.remote_of(docs).unwrap().id.clone();
        w.remote.delete(&id);
        w.remote.delete(&docs_id);
        let p = w.sync().unwrap();
        assert_eq!(uploads(&p), 0);
        assert_eq!(w.crm.live_ids().len(), 3, "nothing deleted in the CRM");
        assert_eq!(
            w.links[&NodeKey::Node(offer)].state,
            LinkState::GoneRemotely
        );
        assert_eq!(w.remote_listing(), "/Companies/\n/Companies/Acme/");
        w.check().unwrap();
        quiet(&mut w);
        // A cursor reset (a full re-list) does not bring them back either.
        w.cursor = None;
        quiet(&mut w);
        // A change in the CRM does.
        w.crm.replace(offer, b"offer v2".to_vec(), None).unwrap();
        let p = w.sync().unwrap();
        assert_eq!(uploads(&p), 1);
        assert_eq!(
            w.remote_listing(),
            "/Companies/\n/Companies/Acme/\n/Companies/Acme/offer.pdf = offer v2"
        );
        // A new file in the deleted folder brings the folder back, not its old files.
        let spec = w.crm.find(company(1), &["Docs", "spec.txt"]).unwrap().id;
        let _ = spec;
        w.crm
            .create(company(1), Some(docs), "new.txt", Some(b"new".to_vec()))
            .unwrap();
        w.sync().unwrap();
        assert!(w
            .remote_listing()
            .contains("/Companies/Acme/Docs/new.txt = new"));
        assert!(!w.remote_listing().contains("spec.txt"));
        w.check().unwrap();
        quiet(&mut w);
    }
}

#[test]
fn renames_and_moves_on_either_side_are_moves_not_uploads() {
    for provider in BOTH {
        let (mut w, offer, docs) = acme(provider);
        let id = w.remote_of(offer).unwrap().id.clone();
        w.crm
            .rename_move(offer, Some(docs), "offer 2026.pdf", None)
            .unwrap();
        let p = w.sync().unwrap();
        assert_eq!(uploads(&p), 0);
        assert_eq!(count(&p, |s| matches!(s, Step::MoveRemote { .. })), 1);
        assert_eq!(w.remote.items[&id].name, "offer 2026.pdf");
        // Remote: renamed and moved back to the top.
        let acme_id = w.links[&NodeKey::Record(company(1))].remote_id.clone();
        w.remote
            .move_item(&id, &acme_id, "final.pdf", false)
            .unwrap();
        let p = w.sync().unwrap();
        assert_eq!(
            uploads(&p) + count(&p, |s| matches!(s, Step::Download { .. })),
            0
        );
        assert_eq!(count(&p, |s| matches!(s, Step::MoveCrm { .. })), 1);
        assert_eq!(w.crm.nodes[&offer].name, "final.pdf");
        assert_eq!(w.crm.nodes[&offer].parent, None);
        w.check().unwrap();
        quiet(&mut w);
    }
}

#[test]
fn a_renamed_record_moves_its_folder_in_one_request() {
    for provider in BOTH {
        let mut w = World::new(provider);
        w.record(company(1), "Acme");
        for i in 0..50 {
            w.crm
                .create(
                    company(1),
                    None,
                    &format!("f{i}.txt"),
                    Some(format!("{i}").into_bytes()),
                )
                .unwrap();
        }
        w.sync().unwrap();
        let writes = w.remote.writes;
        w.record(company(1), "Acme Holding");
        let p = w.sync().unwrap();
        assert_eq!(
            w.remote.writes - writes,
            1,
            "one move, no upload: {:#?}",
            p.steps
        );
        assert!(w
            .remote_listing()
            .contains("/Companies/Acme Holding/f49.txt = 49"));
        w.check().unwrap();
        quiet(&mut w);
    }
}

#[test]
fn case_and_unicode_renames_do_not_ping_pong() {
    let (mut w, offer, _) = acme(Provider::Dropbox);
    let id = w.remote_of(offer).unwrap().id.clone();
    // A case-only rename in the CRM: Dropbox's move_v2 refuses it, so it goes in two steps.
    w.crm.rename_move(offer, None, "Offer.pdf", None).unwrap();
    let p = w.sync().unwrap();
    assert!(p.steps.iter().any(|s| matches!(
        s,
        Step::MoveRemote {
            case_only: true,
            ..
        }
    )));
    assert_eq!(w.remote.items[&id].name, "Offer.pdf");
    quiet(&mut w);
    // An NFD name in the CRM: Dropbox stores NFC; the link remembers NFC, no rename back.
    w.crm
        .rename_move(offer, None, "cafe\u{301}.pdf", None)
        .unwrap();
    w.sync().unwrap();
    assert_eq!(w.remote.items[&id].name, "café.pdf");
    assert_eq!(w.crm.nodes[&offer].name, "cafe\u{301}.pdf");
    quiet(&mut w);
    // A case-only rename in Dropbox's app is not listed; nothing changes, nothing breaks.
    let parent = w.remote.items[&id].parent.clone().unwrap();
    w.remote.move_item(&id, &parent, "CAFÉ.pdf", false).unwrap();
    quiet(&mut w);
    w.check().unwrap();
}

#[test]
fn names_collide_by_case_on_dropbox_and_get_numbers_not_overwrites() {
    let (mut w, _, _) = acme(Provider::Dropbox);
    let acme_id = w.links[&NodeKey::Record(company(1))].remote_id.clone();
    // Two CRM names differing only in Unicode normalisation are two names in the CRM and
    // one on Dropbox.
    w.crm
        .create(company(1), None, "café.txt", Some(b"nfc".to_vec()))
        .unwrap();
    w.crm
        .create(company(1), None, "cafe\u{301}.txt", Some(b"nfd".to_vec()))
        .unwrap();
    w.remote
        .create(&acme_id, "OFFER.PDF", Some(b"remote twin".to_vec()), None)
        .unwrap_err();
    w.sync().unwrap();
    assert!(w.remote_listing().contains("/Companies/Acme/café.txt = "));
    assert!(w
        .remote_listing()
        .contains("/Companies/Acme/café (2).txt = "));
    w.check().unwrap();
    quiet(&mut w);
}

#[test]
fn drive_duplicates_and_refused_characters_are_mapped_for_the_crm() {
    let (mut w, _, _) = acme(Provider::GoogleDrive);
    let acme_id = w.links[&NodeKey::Record(company(1))].remote_id.clone();
    w.remote
        .create(&acme_id, "notes.txt", Some(b"one".to_vec()), None)
        .unwrap();
    w.remote
        .create(&acme_id, "notes.txt", Some(b"two".to_vec()), None)
        .unwrap();
    w.remote
        .create(&acme_id, "Q1: plan?.txt", Some(b"q1".to_vec()), None)
        .unwrap();
    w.remote
        .create(&acme_id, "bad\u{1}.txt", Some(b"ctl".to_vec()), None)
        .unwrap();
    let p = w.sync().unwrap();
    let crm = w.crm_listing();
    assert!(crm.contains("Acme#1/notes.txt = one"), "{crm}");
    assert!(crm.contains("Acme#1/notes (2).txt = two"), "{crm}");
    assert!(crm.contains("Acme#1/Q1： plan？.txt = q1"), "{crm}");
    assert!(p
        .skipped
        .iter()
        .any(|s| s.name == "bad\u{1}.txt" && s.reason.contains("does not accept")));
    // Drive keeps its names: nothing is renamed back and forth.
    assert!(w
        .remote_listing()
        .contains("/Companies/Acme/Q1: plan?.txt = q1"));
    quiet(&mut w);
}

#[test]
fn workspace_documents_shortcuts_and_big_files_are_skipped_with_reasons() {
    let (w, _, _) = acme(Provider::GoogleDrive);
    let mut input = w.input();
    let acme_id = w.links[&NodeKey::Record(company(1))].remote_id.clone();
    let item = |id: &str, name: &str, kind: RemoteKind| RemoteItem {
        id: id.into(),
        parent: Some(acme_id.clone()),
        name: name.into(),
        marker: None,
        kind,
    };
    input.remote.items.push(item(
        "doc",
        "Plan",
        RemoteKind::NotAFile {
            mime_type: "application/vnd.google-apps.document".into(),
        },
    ));
    input.remote.items.push(item(
        "sc",
        "Link",
        RemoteKind::NotAFile {
            mime_type: "application/vnd.google-apps.shortcut".into(),
        },
    ));
    input.remote.items.push(item(
        "big",
        "video.mp4",
        RemoteKind::File {
            rev: "1".into(),
            hash: None,
            size: 60_000_000,
            modified: None,
        },
    ));
    let p = threadline_files_core::plan(&input).unwrap();
    assert_eq!(p.skipped.len(), 3, "{:?}", p.skipped);
    assert!(p
        .skipped
        .iter()
        .any(|s| s.name == "Plan" && s.reason.contains("export it as a PDF")));
    assert!(p
        .skipped
        .iter()
        .any(|s| s.name == "video.mp4" && s.reason.contains("50 MB")));
    assert_eq!(count(&p, |s| matches!(s, Step::Download { .. })), 0);
}

#[test]
fn a_lost_create_answer_is_adopted_not_duplicated() {
    for provider in BOTH {
        let (mut w, _, docs) = acme(provider);
        w.crm
            .create(company(1), Some(docs), "new.txt", Some(b"new".to_vec()))
            .unwrap();
        let p = w.plan().unwrap();
        let k = p
            .steps
            .iter()
            .position(|s| matches!(s, Step::Upload { .. }))
            .unwrap();
        w.apply(&p, Fault::Lost(k)).unwrap();
        let p = w.sync().unwrap();
        assert_eq!(uploads(&p), 0, "adopted ({provider:?}): {:#?}", p.steps);
        w.check().unwrap();
        assert_eq!(w.remote_listing().matches("new.txt").count(), 1);
        quiet(&mut w);
    }
}

#[test]
fn a_crash_after_any_step_converges() {
    for provider in BOTH {
        let (base, offer, _) = acme(provider);
        let mut probe = base_clone(&base, provider);
        let id = base.remote_of(offer).unwrap().id.clone();
        let change = |w: &mut World| {
            w.remote.update(&id, b"remote".to_vec(), None).unwrap();
            w.crm.replace(offer, b"crm".to_vec(), None).unwrap();
            w.record(company(1), "Acme 2");
            w.crm
                .create(company(1), None, "more.txt", Some(b"more".to_vec()))
                .unwrap();
        };
        change(&mut probe);
        let steps = probe.plan().unwrap().steps.len();
        for k in 0..=steps {
            for fault in [Fault::Crash(k), Fault::Lost(k)] {
                let mut w = base_clone(&base, provider);
                change(&mut w);
                let p = w.plan().unwrap();
                w.apply(&p, fault).unwrap();
                w.sync().unwrap();
                w.check()
                    .unwrap_or_else(|e| panic!("{provider:?} {fault:?}: {e}"));
                let again = w.plan().unwrap();
                assert!(
                    again.is_quiet(),
                    "{provider:?} {fault:?}: {:#?}",
                    again.steps
                );
                assert!(w.crm.history.contains(b"remote".as_slice()));
            }
        }
    }
}

/// A copy of a world (the world is not Clone: rebuild it from its parts).
fn base_clone(w: &World, provider: Provider) -> World {
    let mut c = World::new(provider);
    c.crm = w.crm.clone();
    c.remote = w.remote.clone();
    c.links = w.links.clone();
    c.cursor = w.cursor;
    c.guards = w.guards;
    c
}

#[test]
fn a_cursor_reset_relists_without_duplicates_or_deletes() {
    for provider in BOTH {
        let (mut w, ..) = acme(provider);
        w.cursor = None;
        let p = w.sync().unwrap();
        assert!(
            p.steps
                .iter()
                .all(|s| matches!(s, Step::SaveCursor { .. } | Step::PutLink { .. })),
            "{:#?}",
            p.steps
        );
        w.check().unwrap();
        quiet(&mut w);
    }
}

#[test]
fn dropbox_deletes_come_as_paths_and_find_their_links() {
    let (mut w, offer, docs) = acme(Provider::Dropbox);
    let docs_id = w.remote_of(docs).unwrap().id.clone();
    w.remote.delete(&docs_id);
    let input = w.input();
    assert_eq!(
        input.remote.deleted_paths,
        vec!["/companies/acme/docs".to_string()]
    );
    assert!(input.remote.deleted_ids.is_empty());
    let p = w.sync().unwrap();
    let spec = w.crm.find(company(1), &["Docs", "spec.txt"]).unwrap().id;
    assert!(p.steps.iter().any(|s| matches!(s, Step::PutLink { link } if link.key == NodeKey::Node(spec) && link.state == LinkState::GoneRemotely)));
    assert_eq!(w.links[&NodeKey::Node(offer)].state, LinkState::Synced);
}

#[test]
fn the_planner_asks_for_provider_hashes_it_must_compare() {
    let (mut w, offer, _) = acme(Provider::Dropbox);
    let id = w.remote_of(offer).unwrap().id.clone();
    w.remote.update(&id, b"x".to_vec(), None).unwrap();
    w.crm.replace(offer, b"x".to_vec(), None).unwrap();
    w.give_hashes = false;
    assert_eq!(w.plan().unwrap_err(), PlanError::HashesNeeded(vec![offer]));
    w.give_hashes = true;
    assert!(w.plan().unwrap().conflicts.is_empty());
}

// ---- Guards ----

fn many(provider: Provider, n: usize) -> World {
    let mut w = World::new(provider);
    w.record(company(1), "Acme");
    for i in 0..n {
        w.crm
            .create(
                company(1),
                None,
                &format!("f{i:02}.txt"),
                Some(format!("{i}").into_bytes()),
            )
            .unwrap();
    }
    w.sync().unwrap();
    w
}

#[test]
fn deleting_more_than_ten_files_waits_for_review() {
    for provider in BOTH {
        let mut w = many(provider, 40);
        let ids: Vec<_> = w.crm.live_ids();
        for id in &ids[..10] {
            w.crm.trash(*id).unwrap();
        }
        // 10 of 40: allowed (not above 10, and exactly a quarter).
        w.sync().unwrap();
        for id in &ids[10..21] {
            w.crm.trash(*id).unwrap();
        }
        let writes = w.remote.writes;
        assert_eq!(
            w.sync().unwrap_err(),
            PlanError::Refused(vec![Refusal::MassDelete {
                deletes: 11,
                linked: 30
            }])
            .to_string()
        );
        assert_eq!(w.remote.writes, writes, "nothing written");
        w.guards = Guards::allow_all();
        w.sync().unwrap();
        assert_eq!(w.remote_listing().matches(".txt").count(), 19);
    }
}

#[test]
fn a_small_tree_is_guarded_by_the_ratio() {
    let mut w = many(Provider::Dropbox, 8);
    let ids: Vec<_> = w.crm.live_ids();
    for id in &ids[..2] {
        w.crm.trash(*id).unwrap();
    }
    w.sync().unwrap(); // 2 of 8: under the minimum of 3
    for id in &ids[2..5] {
        w.crm.trash(*id).unwrap();
    }
    // 3 of 6 is more than a quarter.
    assert!(
        matches!(w.plan(), Err(PlanError::Refused(r)) if r == vec![Refusal::MassDelete { deletes: 3, linked: 6 }])
    );
}

#[test]
fn files_vanishing_remotely_wait_for_review() {
    let mut w = many(Provider::GoogleDrive, 20);
    let files: Vec<String> = w
        .crm
        .live_ids()
        .iter()
        .map(|id| w.remote_of(*id).unwrap().id.clone())
        .collect();
    for id in &files[..12] {
        w.remote.delete(id);
    }
    let refusal = w.plan().unwrap_err();
    assert_eq!(
        refusal,
        PlanError::Refused(vec![Refusal::MassVanish {
            gone: 12,
            linked: 20
        }])
    );
}

#[test]
fn a_missing_or_emptied_record_folder_or_root_waits_for_review() {
    // A record folder deleted remotely.
    let mut w = many(Provider::Dropbox, 2);
    let folder = w.links[&NodeKey::Record(company(1))].remote_id.clone();
    w.remote.delete(&folder);
    let PlanError::Refused(r) = w.plan().unwrap_err() else {
        panic!()
    };
    assert!(
        r.contains(&Refusal::RecordFolderMissing { record: company(1) }),
        "{r:?}"
    );
    // Apply anyway: the folder is made again; the files, deleted there, are not pushed back.
    w.guards = Guards::allow_all();
    w.sync().unwrap();
    assert_eq!(w.remote_listing(), "/Companies/\n/Companies/Acme/");
    assert_eq!(w.crm.live_ids().len(), 2, "nothing deleted in the CRM");

    // A record folder emptied of its files.
    let mut w = many(Provider::Dropbox, 3);
    for id in w.crm.live_ids() {
        let rid = w.remote_of(id).unwrap().id.clone();
        w.remote.delete(&rid);
    }
    let PlanError::Refused(r) = w.plan().unwrap_err() else {
        panic!()
    };
    assert!(
        r.contains(&Refusal::RecordFolderEmptied {
            record: company(1),
            files: 3
        }),
        "{r:?}"
    );

    // Drive's Threadline folder gone (trashed, or access lost).
    let mut w = many(Provider::GoogleDrive, 1);
    let root = w.root_id().unwrap();
    w.remote.delete(&root);
    let PlanError::Refused(r) = w.plan().unwrap_err() else {
        panic!()
    };
    assert!(r.contains(&Refusal::RootMissing), "{r:?}");

    // A complete listing that is empty while links exist.
    let mut w = many(Provider::Dropbox, 1);
    w.cursor = None;
    let mut input = w.input();
    input.remote.items.clear();
    let PlanError::Refused(r) = threadline_files_core::plan(&input).unwrap_err() else {
        panic!()
    };
    assert!(r.contains(&Refusal::EmptyListing { links: 1 }), "{r:?}");
}

#[test]
fn the_plan_is_ordered_parents_first_names_freed_first_deletes_last() {
    for provider in BOTH {
        let (mut w, offer, docs) = acme(provider);
        let spec = w.crm.find(company(1), &["Docs", "spec.txt"]).unwrap().id;
        let other = w
            .crm
            .create(company(1), None, "other.pdf", Some(b"other".to_vec()))
            .unwrap();
        w.sync().unwrap();
        // A swap of two names (a cycle), a new folder with a file in it, a delete.
        w.crm.rename_move(offer, None, "tmp.pdf", None).unwrap();
        w.crm.rename_move(other, None, "offer.pdf", None).unwrap();
        w.crm.rename_move(offer, None, "other.pdf", None).unwrap();
        let sub = w.crm.create(company(1), Some(docs), "Sub", None).unwrap();
        w.crm
            .create(company(1), Some(sub), "deep.txt", Some(b"deep".to_vec()))
            .unwrap();
        w.crm.trash(spec).unwrap();
        let p = w.plan().unwrap();
        let kinds: Vec<&str> = p
            .steps
            .iter()
            .map(|s| match s {
                Step::CreateRemoteFolder { .. } => "mkdir",
                Step::Upload { .. } => "upload",
                Step::MoveRemote { link: None, .. } => "aside",
                Step::MoveRemote { .. } => "move",
                Step::DeleteRemote { .. } => "delete",
                Step::SaveCursor { .. } => "cursor",
                Step::PutLink { .. } | Step::DeleteLink { .. } => "link",
                _ => "crm",
            })
            .collect();
        let last = |k: &str| kinds.iter().rposition(|x| *x == k);
        let first = |k: &str| kinds.iter().position(|x| *x == k);
        assert_eq!(kinds.last(), Some(&"cursor"), "{kinds:?}");
        assert!(
            last("mkdir") < first("upload"),
            "the folder before its file: {kinds:?}"
        );
        assert!(
            last("upload") < first("delete") && last("move") < first("delete"),
            "{kinds:?}"
        );
        if provider == Provider::Dropbox {
            // Unique names: the swap goes through a temporary name.
            assert_eq!(
                kinds.iter().filter(|k| **k == "aside").count(),
                1,
                "{kinds:?}"
            );
        }
        w.apply(&p, Fault::None).unwrap();
        w.sync().unwrap();
        assert!(w
            .remote_listing()
            .contains("/Companies/Acme/other.pdf = offer v1"));
        assert!(w
            .remote_listing()
            .contains("/Companies/Acme/offer.pdf = other"));
        assert!(w
            .remote_listing()
            .contains("/Companies/Acme/Docs/Sub/deep.txt = deep"));
        assert!(!w.remote_listing().contains("spec.txt"));
        w.check().unwrap();
        quiet(&mut w);
    }
}
