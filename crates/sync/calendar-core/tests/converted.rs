//! Converted meetings the user organises are two-way: the decision table of a converted link
//! by (CRM side, remote side, writable), how the flag is kept up to date, and whole runs
//! through the in-memory world (`common`), random histories included.

mod common;

use std::collections::BTreeMap;

use common::*;
use threadline_calendar_core::decide::{decide_block, decide_meeting, BlockRemote, RemoteEvent};
use threadline_calendar_core::link::writable;
use threadline_calendar_core::owned::Field;
use threadline_calendar_core::{Action, Block, CrmSide, Event, Link, LinkKind, Owned, RemoteSide};
use uuid::Uuid;

const MEETING: Uuid = Uuid::from_u128(0xC0);
const EVENT: &str = "inv001";
const LINK_ETAG: &str = "\"e1\"";

/// A converted link whose snapshot is `base`, written as `writable`.
fn link(base: &Owned, writable: bool) -> Link {
    Link {
        kind: LinkKind::Converted,
        crm_id: MEETING,
        calendar_id: TEAM.into(),
        remote_id: EVENT.into(),
        remote_etag: Some(LINK_ETAG.into()),
        hash: base.hash(),
        snapshot: Some(base.clone()),
        series_id: None,
        writable,
    }
}

/// The event as listed now: `fields`, a new etag (or `etag`), organised here or not.
fn listed(fields: &Owned, here: bool, etag: &str) -> RemoteSide {
    let mut event = organised(google_event(EVENT, fields), here);
    event.etag = Some(etag.into());
    RemoteSide::Changed(Box::new(RemoteEvent {
        calendar_id: TEAM.into(),
        event,
        owned: fields.clone(),
    }))
}

fn decide(crm: CrmSide, remote: RemoteSide, link: &Link) -> Vec<Action> {
    decide_meeting(
        MEETING,
        &crm,
        &remote,
        Some(link),
        Some(EXPORT),
        &BTreeMap::new(),
    )
}

fn base() -> Owned {
    timed("Review", 14)
}

fn with_title(title: &str) -> Owned {
    Owned {
        title: title.into(),
        ..base()
    }
}

fn with_location(location: &str) -> Owned {
    Owned {
        location: Some(location.into()),
        ..base()
    }
}

/// The single `UpdateRemote` of `actions`: (if_match, patch, stored link).
fn update_remote(actions: &[Action]) -> (Option<String>, Event, Link) {
    let updates: Vec<_> = actions
        .iter()
        .filter_map(|a| match a {
            Action::UpdateRemote {
                calendar_id,
                event_id,
                if_match,
                patch,
                link,
                ..
            } => {
                assert_eq!((calendar_id.as_str(), event_id.as_str()), (TEAM, EVENT));
                Some((if_match.clone(), patch.clone(), link.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(updates.len(), 1, "one UpdateRemote in {actions:#?}");
    updates.into_iter().next().unwrap()
}

fn writes_remote(actions: &[Action]) -> bool {
    actions.iter().any(|a| {
        matches!(
            a,
            Action::UpdateRemote { .. } | Action::CreateRemote { .. } | Action::DeleteRemote { .. }
        )
    })
}

fn put_link(actions: &[Action]) -> Link {
    actions
        .iter()
        .find_map(|a| match a {
            Action::PutLink { link } => Some(link.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("a PutLink in {actions:#?}"))
}

// ---------------------------------------------------------------------------------------
// The table: writable links

#[test]
fn writable_crm_edit_with_google_unchanged_patches_the_changed_field_under_if_match() {
    let actions = decide(
        CrmSide::Changed(with_title("Review v2")),
        RemoteSide::Unchanged,
        &link(&base(), true),
    );
    assert_eq!(actions.len(), 1, "{actions:#?}");
    let (if_match, patch, stored) = update_remote(&actions);
    assert_eq!(if_match.as_deref(), Some(LINK_ETAG), "the link's etag");
    assert_eq!(
        patch,
        Event {
            summary: Some("Review v2".into()),
            ..Event::default()
        },
        "only the changed field"
    );
    assert_eq!(
        stored.hash,
        with_title("Review v2").hash(),
        "the agreed state"
    );
    assert!(stored.writable && stored.kind == LinkKind::Converted);
}

#[test]
fn writable_crm_edit_with_a_new_etag_of_the_same_content_patches_under_that_etag() {
    let actions = decide(
        CrmSide::Changed(with_title("Review v2")),
        listed(&base(), true, "\"e2\""),
        &link(&base(), true),
    );
    let (if_match, patch, stored) = update_remote(&actions);
    assert_eq!(if_match.as_deref(), Some("\"e2\""));
    assert_eq!(patch.summary.as_deref(), Some("Review v2"));
    assert!(stored.writable);
}

#[test]
fn writable_both_edited_different_fields_merge_and_each_side_gets_the_other() {
    let crm = with_title("Review v2");
    let google = with_location("Room 9");
    let actions = decide(
        CrmSide::Changed(crm),
        listed(&google, true, "\"e2\""),
        &link(&base(), true),
    );
    let merged = Owned {
        title: "Review v2".into(),
        location: Some("Room 9".into()),
        ..base()
    };
    let (if_match, patch, stored) = update_remote(&actions);
    assert_eq!(if_match.as_deref(), Some("\"e2\""));
    assert_eq!(patch.summary.as_deref(), Some("Review v2"));
    assert_eq!(patch.location, None, "Google has its own location already");
    assert_eq!(stored.hash, merged.hash());
    assert!(actions.contains(&Action::UpdateMeeting {
        meeting_id: MEETING,
        fields: merged,
        names: BTreeMap::new(),
        conflicts: Vec::new(),
    }));
}

#[test]
fn writable_both_edited_the_same_field_takes_googles_value_and_reports_it() {
    let actions = decide(
        CrmSide::Changed(with_title("CRM title")),
        listed(&with_title("Google title"), true, "\"e2\""),
        &link(&base(), true),
    );
    // Google's value is already Google's: nothing to write there; the meeting takes it.
    assert!(!writes_remote(&actions), "{actions:#?}");
    assert_eq!(
        put_link(&actions).hash,
        with_title("Google title").hash(),
        "the agreed state is Google's"
    );
    assert!(actions.contains(&Action::UpdateMeeting {
        meeting_id: MEETING,
        fields: with_title("Google title"),
        names: BTreeMap::new(),
        conflicts: vec![Field::Title],
    }));

    // A same-field conflict beside a CRM-only field: Google wins the one, the CRM's other
    // field is still written to Google.
    let crm = Owned {
        description: Some("agenda".into()),
        ..with_title("CRM title")
    };
    let actions = decide(
        CrmSide::Changed(crm),
        listed(&with_title("Google title"), true, "\"e2\""),
        &link(&base(), true),
    );
    let (_, patch, _) = update_remote(&actions);
    assert_eq!(patch.summary, None, "the title stays Google's");
    assert_eq!(patch.description.as_deref(), Some("agenda"));
}

#[test]
fn writable_google_edit_with_the_crm_quiet_updates_the_meeting_as_before() {
    let actions = decide(
        CrmSide::Unchanged,
        listed(&with_location("Room 9"), true, "\"e2\""),
        &link(&base(), true),
    );
    assert!(!writes_remote(&actions));
    assert!(actions.contains(&Action::UpdateMeeting {
        meeting_id: MEETING,
        fields: with_location("Room 9"),
        names: BTreeMap::new(),
        conflicts: Vec::new(),
    }));
    let stored = put_link(&actions);
    assert_eq!(stored.remote_etag.as_deref(), Some("\"e2\""));
    assert!(stored.writable);
}

#[test]
fn writable_crm_delete_never_deletes_the_event_it_becomes_a_block_again() {
    for remote in [
        RemoteSide::Unchanged,
        listed(&base(), true, "\"e2\""),
        listed(&with_title("moved"), true, "\"e3\""),
    ] {
        let actions = decide(CrmSide::Deleted, remote, &link(&base(), true));
        assert_eq!(
            actions,
            vec![
                Action::DeleteLink {
                    calendar_id: TEAM.into(),
                    remote_id: EVENT.into()
                },
                Action::Refetch {
                    calendar_id: TEAM.into(),
                    event_id: EVENT.into()
                },
            ]
        );
    }
}

#[test]
fn writable_crm_edit_of_an_event_google_deleted_is_exported_instead() {
    let actions = decide(
        CrmSide::Changed(with_title("Review v2")),
        RemoteSide::Deleted,
        &link(&base(), true),
    );
    assert!(actions.contains(&Action::DeleteLink {
        calendar_id: TEAM.into(),
        remote_id: EVENT.into()
    }));
    assert!(
        actions.iter().any(
            |a| matches!(a, Action::CreateRemote { calendar_id, .. } if calendar_id == EXPORT)
        ),
        "{actions:#?}"
    );
    assert!(!actions
        .iter()
        .any(|a| matches!(a, Action::UpdateRemote { .. })));
}

// ---------------------------------------------------------------------------------------
// The table: links that are not writable behave as before

#[test]
fn not_writable_crm_edits_are_never_written() {
    for remote in [
        RemoteSide::Unchanged,
        listed(&base(), false, "\"e2\""),
        listed(&with_location("Room 9"), false, "\"e2\""),
    ] {
        let actions = decide(
            CrmSide::Changed(with_title("Review v2")),
            remote,
            &link(&base(), false),
        );
        assert!(!writes_remote(&actions), "{actions:#?}");
    }
    // Both changed, same field: Google's value, and the snapshot stays Google's state.
    let actions = decide(
        CrmSide::Changed(with_title("CRM title")),
        listed(&with_title("Google title"), false, "\"e2\""),
        &link(&base(), false),
    );
    assert!(!writes_remote(&actions));
    let stored = put_link(&actions);
    assert_eq!(stored.hash, with_title("Google title").hash());
    assert!(!stored.writable);
}

// ---------------------------------------------------------------------------------------
// Keeping the flag up to date

#[test]
fn the_organiser_seen_with_a_new_etag_sets_the_flag_both_ways() {
    // The user now organises it (ownership moved to them): the CRM's edit goes out, and
    // the link remembers.
    let actions = decide(
        CrmSide::Changed(with_title("Review v2")),
        listed(&base(), true, "\"e2\""),
        &link(&base(), false),
    );
    let (_, _, stored) = update_remote(&actions);
    assert!(stored.writable);

    // Someone else organises it now: no write, and the link forgets.
    let actions = decide(
        CrmSide::Changed(with_title("Review v2")),
        listed(&with_location("Room 9"), false, "\"e2\""),
        &link(&base(), true),
    );
    assert!(!writes_remote(&actions), "{actions:#?}");
    assert!(!put_link(&actions).writable);

    // With the CRM quiet too, the flag is still kept.
    let actions = decide(
        CrmSide::Unchanged,
        listed(&base(), false, "\"e2\""),
        &link(&base(), true),
    );
    assert!(!put_link(&actions).writable);
}

#[test]
fn an_echo_keeps_the_links_flag_so_a_refused_write_is_not_retried() {
    // The executor cleared the flag after Google refused the write (403); a full listing
    // shows the event again under the etag the link has: nothing changed, nothing tried.
    let actions = decide(
        CrmSide::Changed(with_title("Review v2")),
        listed(&base(), true, LINK_ETAG),
        &link(&base(), false),
    );
    assert_eq!(actions, Vec::new());
}

#[test]
fn writable_means_organised_here_and_not_a_series() {
    let event = google_event(EVENT, &base());
    assert!(
        !writable(&event),
        "no organizer: Google's default self is false"
    );
    assert!(writable(&organised(event.clone(), true)));
    assert!(!writable(&organised(event.clone(), false)));
    let mut series = organised(event, true);
    series.recurrence = Some(vec!["RRULE:FREQ=WEEKLY".into()]);
    assert!(
        !writable(&series),
        "a meeting's one time must not move a series"
    );
}

#[test]
fn organizer_is_read_from_googles_json_and_never_sent() {
    let event: Event = serde_json::from_value(serde_json::json!({
        "id": EVENT,
        "organizer": {"email": "ann@ourco.com", "displayName": "Ann", "self": true},
        "guestsCanModify": true,
    }))
    .unwrap();
    let organizer = event.organizer.as_ref().unwrap();
    assert_eq!(organizer.email.as_deref(), Some("ann@ourco.com"));
    assert_eq!(organizer.display_name.as_deref(), Some("Ann"));
    assert!(event.is_organised_here());
    // A PATCH body is built from owned fields only: no organizer in it.
    let patch = with_title("x").patch_from(&base(), Some(&event), &BTreeMap::new());
    assert!(patch.organizer.is_none());
}

#[test]
fn a_block_link_keeps_the_flag_and_converting_carries_it() {
    let event = organised(google_event(EVENT, &base()), true);
    let block = Block::from_event(TEAM, &event, None).unwrap();
    let block_id = Uuid::from_u128(0xB0);
    for here in [true, false] {
        let actions = decide_block(
            block_id,
            &BlockRemote::Listed {
                block: Box::new(block.clone()),
                etag: Some("\"e1\"".into()),
                writable: here,
            },
            None,
        );
        let stored = put_link(&actions);
        assert_eq!(stored.writable, here);
        let (converted, _) = stored.converted(MEETING).unwrap();
        assert_eq!(converted.writable, here);
        assert_eq!(converted.kind, LinkKind::Converted);
    }
    // The organiser changed and nothing we own did (same hash): the link still follows.
    let old = Link {
        writable: true,
        ..put_link(&decide_block(
            block_id,
            &BlockRemote::Listed {
                block: Box::new(block.clone()),
                etag: Some("\"e1\"".into()),
                writable: true,
            },
            None,
        ))
    };
    let actions = decide_block(
        block_id,
        &BlockRemote::Listed {
            block: Box::new(block),
            etag: Some("\"e2\"".into()),
            writable: false,
        },
        Some(&old),
    );
    assert_eq!(actions.len(), 1, "no block write: {actions:#?}");
    assert!(!put_link(&actions).writable);
}

// ---------------------------------------------------------------------------------------
// Whole runs

/// A world with one event in TEAM (organised here or not), synced, and its block
/// converted into meeting `MEETING`.
fn converted_world(here: bool) -> World {
    let mut w = World::new();
    w.selected.insert(TEAM.into());
    w.google
        .insert(TEAM, &organised(google_event(EVENT, &base()), here))
        .unwrap();
    w.sync().unwrap();
    let link = w.links[&(TEAM.to_string(), EVENT.to_string())].clone();
    assert_eq!(link.writable, here);
    let (converted, fields) = link.converted(MEETING).unwrap();
    w.blocks.remove(&link.crm_id);
    w.links.insert((TEAM.into(), EVENT.into()), converted);
    w.crm_put(MEETING, fields);
    w.sync().unwrap();
    w
}

#[test]
fn a_converted_meeting_the_user_organises_is_two_way_and_quiet_after() {
    let mut w = converted_world(true);
    let mut f = w.meetings[&MEETING].fields.clone();
    f.title = "Review v2".into();
    f.attendees.insert("bob@example.com".into());
    w.crm_put(MEETING, f.clone());
    w.sync().unwrap();
    let event = w.google.get(TEAM, EVENT).unwrap();
    assert_eq!(Owned::from_event(&event, None).unwrap(), f);
    assert!(
        w.google.live_for(EXPORT, MEETING).is_empty(),
        "written in place, not exported"
    );
    assert!(
        event.is_organised_here(),
        "a PATCH does not touch the organiser"
    );

    // Our own write comes back as an echo: nothing more is written on either side.
    let writes = w.google.next_etag;
    let meetings = w.meetings.clone();
    w.sync().unwrap();
    assert_eq!(w.google.next_etag, writes);
    assert_eq!(w.meetings, meetings);

    // Google's edit still reaches the meeting.
    w.google
        .edit(TEAM, EVENT, |e| e.location = Some("Room 9".into()));
    w.sync().unwrap();
    assert_eq!(
        w.meetings[&MEETING].fields.location.as_deref(),
        Some("Room 9")
    );
    assert_eq!(w.meetings[&MEETING].fields.title, "Review v2");
}

#[test]
fn a_converted_invitation_keeps_crm_edits_in_the_crm() {
    let mut w = converted_world(false);
    let writes = w.google.next_etag;
    let mut f = w.meetings[&MEETING].fields.clone();
    f.title = "My notes on the review".into();
    w.crm_put(MEETING, f);
    w.sync().unwrap();
    assert_eq!(w.google.next_etag, writes, "nothing written to Google");
    assert_eq!(
        w.google.get(TEAM, EVENT).unwrap().summary.unwrap(),
        "Review"
    );
    assert_eq!(w.meetings[&MEETING].fields.title, "My notes on the review");
}

#[test]
fn when_the_user_becomes_the_organiser_the_crm_version_goes_out() {
    let mut w = converted_world(false);
    let mut f = w.meetings[&MEETING].fields.clone();
    f.description = Some("agenda".into());
    w.crm_put(MEETING, f);
    w.sync().unwrap();
    assert_eq!(w.google.get(TEAM, EVENT).unwrap().description, None);

    // Ownership moves to the user in Google (a new etag, nothing we own changed).
    w.google.edit(TEAM, EVENT, |e| {
        *e = organised(e.clone(), true);
    });
    w.sync().unwrap();
    assert_eq!(
        w.google.get(TEAM, EVENT).unwrap().description.as_deref(),
        Some("agenda")
    );
    assert!(w.links[&(TEAM.to_string(), EVENT.to_string())].writable);
}

#[derive(Debug, Clone)]
enum Op {
    CrmEdit(u8),
    GoogleEdit(u8),
    /// Google and the CRM both change the title (a same-field conflict).
    BothTitle(u8),
    Sync,
    /// Plan, apply only this many steps, lose the rest.
    Crash(usize),
}

fn arb_op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        (0..3u8).prop_map(Op::CrmEdit),
        (0..3u8).prop_map(Op::GoogleEdit),
        (0..3u8).prop_map(Op::BothTitle),
        Just(Op::Sync),
        (0..6usize).prop_map(Op::Crash),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
    /// Any interleaving of CRM and Google edits of a converted meeting the user organises,
    /// syncs and crashes ends, after a final sync, with the meeting and the event saying
    /// the same, and a quiet rerun.
    #[test]
    fn writable_converted_histories_converge(ops in proptest::collection::vec(arb_op(), 1..14)) {
        let mut w = converted_world(true);
        for op in ops {
            match op {
                Op::CrmEdit(v) => {
                    let mut f = w.meetings[&MEETING].fields.clone();
                    f.description = Some(format!("crm {v}"));
                    w.crm_put(MEETING, f);
                }
                Op::GoogleEdit(v) => {
                    w.google.edit(TEAM, EVENT, |e| e.location = Some(format!("room {v}")));
                }
                Op::BothTitle(v) => {
                    let mut f = w.meetings[&MEETING].fields.clone();
                    f.title = format!("crm {v}");
                    w.crm_put(MEETING, f);
                    w.google.edit(TEAM, EVENT, |e| e.summary = Some(format!("google {v}")));
                }
                Op::Sync => { w.sync().unwrap(); }
                Op::Crash(k) => {
                    let plan = w.plan().unwrap();
                    w.apply(&plan, k);
                    w.follow_ups.clear();
                }
            }
        }
        w.sync().unwrap();
        let event = w.google.get(TEAM, EVENT).unwrap();
        let google = Owned::from_event(&event, Some("Europe/Amsterdam")).unwrap();
        proptest::prop_assert_eq!(&google, &w.meetings[&MEETING].fields);
        proptest::prop_assert!(w.google.live_for(EXPORT, MEETING).is_empty());
        let writes = w.google.next_etag;
        let meetings = w.meetings.clone();
        w.sync().unwrap();
        proptest::prop_assert_eq!(w.google.next_etag, writes);
        proptest::prop_assert_eq!(&w.meetings, &meetings);
    }
}
