//! The planner, through whole runs against the in-memory Google and CRM (`common`), and
//! as tables: creates, updates, unchanged, deletes, adoption, recreation, chunk sizes, the
//! guards; proptests for the invariants.

mod common;

use common::*;
use threadline_contacts_core::owned::{Owned, CONTACT_ID_KEY, ORGANISATION_KEY};
use threadline_contacts_core::person::{ClientData, Person};
use threadline_contacts_core::plan::{LinkWrite, Refusal, SkipReason};
use threadline_contacts_core::{
    plan, Guards, Link, LinkState, Listing, Outcome, PlanError, PlanInput,
};
use uuid::Uuid;

fn world_with(n: u128) -> (World, Vec<Uuid>) {
    let mut w = World::new();
    let ids = (1..=n)
        .map(|i| w.crm_put(contact(i, &format!("P{i}"))))
        .collect();
    w.sync().unwrap();
    (w, ids)
}

#[test]
fn first_run_creates_everyone_and_a_quiet_hourly_run_plans_nothing() {
    let (mut w, ids) = world_with(3);
    assert_eq!(w.plans[0].count(Outcome::Created), 3);
    w.assert_consistent();
    let mutations = w.google.mutations;
    // The next run lists our own creates: echoes, skipped.
    let p = w.sync().unwrap();
    assert!(p.is_empty(), "{p:#?}");
    assert_eq!(p.unchanged, ids.len());
    let p = w.sync().unwrap();
    assert!(p.is_empty() && !p.mutates());
    assert_eq!(w.google.mutations, mutations, "quiet runs write nothing");
}

#[test]
fn contacts_with_no_email_and_no_phone_are_exported_but_blank_ones_are_skipped() {
    let mut w = World::new();
    let bare = w.crm_put(threadline_contacts_core::CrmContact {
        id: Uuid::from_u128(7),
        first_name: "Only".into(),
        ..Default::default()
    });
    let blank = w.crm_put(threadline_contacts_core::CrmContact {
        id: Uuid::from_u128(8),
        ..Default::default()
    });
    let p = w.sync().unwrap();
    assert_eq!(p.creates[0].len(), 1);
    assert_eq!(p.creates[0][0].contact_id, bare);
    assert_eq!(p.skipped[0].contact_id, blank);
    assert_eq!(p.skipped[0].reason, SkipReason::Blank);
}

#[test]
fn a_crm_edit_updates_under_the_links_etag_and_only_that_contact() {
    let (mut w, ids) = world_with(3);
    w.sync().unwrap();
    let mut c = w.crm[&ids[1]].clone();
    c.job_title = Some("Boss".into());
    w.crm_put(c);
    let etag = w.links[&ids[1]].etag.clone();
    let p = w.sync().unwrap();
    assert_eq!(p.updates.len(), 1);
    let u = &p.updates[0][0];
    assert_eq!(
        (u.contact_id, u.outcome, u.crm_changed),
        (ids[1], Outcome::Updated, true)
    );
    assert_eq!(u.etag, etag);
    assert_eq!(u.body.etag, etag);
    w.assert_consistent();
    assert!(w.sync().unwrap().is_empty());
}

#[test]
fn a_crm_change_to_nothing_owned_writes_nothing() {
    let (mut w, ids) = world_with(1);
    w.sync().unwrap();
    // In the changes feed (some other field changed), same owned fields.
    w.crm_changed.insert(ids[0]);
    let p = w.sync().unwrap();
    assert!(p.is_empty());
    assert_eq!(p.unchanged, 1);
}

#[test]
fn a_google_edit_is_ignored_until_the_contact_changes_in_the_crm() {
    let (mut w, ids) = world_with(2);
    w.sync().unwrap();
    let a = w.name_of(ids[0]);
    let b = w.name_of(ids[1]);
    w.google
        .user_edit(&a, |p| p.names[0].given_name = Some("Changed".into()));
    w.google.user_edit(&b, |p| {
        p.biographies.clear();
        p.client_data.push(ClientData {
            key: "x".into(),
            value: "y".into(),
        });
        p.client_data.pop();
    });
    let mutations = w.google.mutations;
    let p = w.sync().unwrap();
    // a: the user's edit of an owned field stays; the history says so.
    assert!(p.updates.is_empty(), "{p:#?}");
    assert_eq!(p.count(Outcome::EditedInGoogle), 1);
    assert_eq!(w.google.mutations, mutations, "nothing written to Google");
    // Both: a new etag only refreshes the link.
    assert_eq!(p.link_writes.len(), 2);
    w.assert_consistent();
    assert!(w.sync().unwrap().is_empty());
    let given = |w: &common::World| w.google.people[&a].names[0].given_name.clone();
    assert_eq!(given(&w).as_deref(), Some("Changed"));

    // The contact changes in the CRM: its owned fields are written again.
    let mut c = w.crm[&ids[0]].clone();
    c.job_title = Some("Buyer".into());
    w.crm_put(c);
    let p = w.sync().unwrap();
    assert_eq!(p.updates.len(), 1);
    assert_eq!(p.updates[0][0].outcome, Outcome::Updated);
    assert_ne!(given(&w).as_deref(), Some("Changed"));
    w.assert_consistent();
}

#[test]
fn a_crm_delete_deletes_the_person_and_its_link() {
    let (mut w, ids) = world_with(4);
    w.sync().unwrap();
    let name = w.name_of(ids[0]);
    w.crm_delete(ids[0]);
    let p = w.sync().unwrap();
    assert_eq!(p.deletes[0].len(), 1);
    assert_eq!(p.deletes[0][0].resource_name, name);
    assert_eq!(p.deletes[0][0].outcome, Outcome::Deleted);
    assert!(!w.links.contains_key(&ids[0]));
    w.assert_consistent();
}

#[test]
fn a_google_delete_is_remembered_and_recreated_only_when_the_contact_changes() {
    let (mut w, ids) = world_with(2);
    w.sync().unwrap();
    let name = w.name_of(ids[0]);
    w.google.user_delete(&name);
    let p = w.sync().unwrap();
    assert!(!p.mutates());
    assert_eq!(p.noted, vec![(ids[0], Outcome::DeletedInGoogle)]);
    assert_eq!(w.links[&ids[0]].state, LinkState::DeletedInGoogle);
    // A change elsewhere in the CRM does not bring it back…
    w.crm_changed.insert(ids[0]);
    assert!(w.sync().unwrap().is_empty());
    // …a change of an owned field does.
    let mut c = w.crm[&ids[0]].clone();
    c.last_name = "New".into();
    w.crm_put(c);
    let p = w.sync().unwrap();
    assert_eq!(p.creates[0][0].outcome, Outcome::Recreated);
    w.assert_consistent();
    assert!(w.sync().unwrap().is_empty());
}

#[test]
fn a_404_on_update_recreates_only_a_changed_contact() {
    let (mut w, ids) = world_with(1);
    w.sync().unwrap();
    // The user deletes it and the listing has not shown it yet.
    let name = w.name_of(ids[0]);
    w.google.people.remove(&name);
    let mut c = w.crm[&ids[0]].clone();
    c.notes = Some("n".into());
    w.crm_put(c);
    w.sync().unwrap();
    assert_eq!(w.google.ours(ids[0]).len(), 1);
    assert_eq!(w.links[&ids[0]].state, LinkState::Exported);
    w.assert_consistent();
}

#[test]
fn a_stale_etag_is_re_read_and_retried_keeping_googles_other_fields() {
    let (mut w, ids) = world_with(1);
    w.sync().unwrap();
    let name = w.name_of(ids[0]);
    // Google changed the person after our last read, unseen by the listing yet.
    w.google.people.get_mut(&name).unwrap().etag = Some("other".into());
    let mut c = w.crm[&ids[0]].clone();
    c.first_name = "Newer".into();
    w.crm_put(c);
    w.sync().unwrap();
    w.assert_consistent();
}

fn ours_person(id: Uuid, name: &str, first: &str) -> Person {
    let mut p = Owned::from_contact(&contact(id.as_u128(), first), ORG).create_body(GROUP);
    p.resource_name = Some(name.into());
    p.etag = Some(format!("etag-{name}"));
    p
}

#[test]
fn an_unlinked_person_of_ours_is_adopted_not_duplicated() {
    let mut w = World::new();
    let same = w.crm_put(contact(1, "Same"));
    let differs = w.crm_put(contact(2, "Crm"));
    // The links were lost (export turned off and on again): the persons exist.
    for (id, first) in [(same, "Same"), (differs, "Old")] {
        let p = ours_person(id, "", first);
        w.google.create(&Person {
            resource_name: None,
            etag: None,
            ..p
        });
    }
    let p = w.sync().unwrap();
    assert!(p.creates.is_empty(), "{p:#?}");
    assert_eq!(p.updates.iter().flatten().count(), 1);
    assert_eq!(p.updates[0][0].outcome, Outcome::Adopted);
    assert_eq!(p.noted, vec![(same, Outcome::Adopted)]);
    w.assert_consistent();
    assert!(w.sync().unwrap().is_empty());
}

#[test]
fn a_person_of_ours_whose_contact_is_gone_is_deleted_and_a_duplicate_too() {
    let mut w = World::new();
    let kept = w.crm_put(contact(1, "Kept"));
    let gone = Uuid::from_u128(9);
    for (id, first) in [(kept, "Kept"), (kept, "Kept"), (gone, "Gone")] {
        w.google.create(&ours_person(id, "", first));
    }
    let p = w.sync().unwrap();
    let mut outcomes: Vec<Outcome> = p.deletes.iter().flatten().map(|d| d.outcome).collect();
    outcomes.sort();
    assert_eq!(
        outcomes,
        vec![Outcome::OrphanDeleted, Outcome::DuplicateDeleted]
    );
    w.assert_consistent();
}

#[test]
fn another_organisations_persons_and_the_users_own_are_never_touched() {
    let mut w = World::new();
    w.crm_put(contact(1, "Mine"));
    let mut foreign = ours_person(Uuid::from_u128(5), "", "Foreign");
    for d in &mut foreign.client_data {
        if d.key == ORGANISATION_KEY {
            d.value = Uuid::from_u128(0xff).to_string();
        }
    }
    let foreign = w.google.create(&foreign).resource_name.unwrap();
    let own = w.google.user_create("Friend");
    let p = w.sync().unwrap();
    assert!(p.deletes.is_empty() && p.updates.is_empty());
    assert!(w.google.people.contains_key(&foreign) && w.google.people.contains_key(&own));
}

#[test]
fn a_new_resource_name_moves_the_link() {
    let (mut w, ids) = world_with(1);
    w.sync().unwrap();
    let old = w.name_of(ids[0]);
    let mut p = w.google.people.remove(&old).unwrap();
    p.resource_name = Some("people/linked".into());
    p.etag = Some("e-linked".into());
    p.metadata
        .get_or_insert_with(Default::default)
        .previous_resource_names = vec![old];
    w.google.people.insert("people/linked".into(), p);
    w.google.changed.insert("people/linked".into());
    let plan = w.sync().unwrap();
    assert!(!plan.mutates(), "{plan:#?}");
    assert_eq!(plan.noted, vec![(ids[0], Outcome::Relinked)]);
    assert_eq!(w.name_of(ids[0]), "people/linked");
    assert!(w.sync().unwrap().is_empty());
}

#[test]
fn a_person_taken_out_of_our_group_is_added_back_with_members_modify() {
    let (mut w, ids) = world_with(1);
    w.sync().unwrap();
    let name = w.name_of(ids[0]);
    w.google
        .user_edit(&name, |p| p.memberships.retain(|m| !p_in(m, GROUP)));
    let p = w.sync().unwrap();
    assert_eq!(p.group_adds.len(), 1);
    assert_eq!(p.group_adds[0].group, GROUP);
    assert_eq!(p.group_adds[0].resource_names, vec![name]);
    assert!(p.updates.is_empty());
    w.assert_consistent();
}

fn p_in(m: &threadline_contacts_core::person::Membership, g: &str) -> bool {
    m.contact_group_membership
        .as_ref()
        .is_some_and(|c| c.contact_group_resource_name == g)
}

#[test]
fn a_lost_create_answer_waits_for_a_complete_listing_then_adopts() {
    let mut w = World::new();
    let id = w.crm_put(contact(1, "Lost"));
    w.runs = 1; // not a first run: incremental, changes only
    let mut input = w.input(false);
    let plan1 = w.plan_input(&mut input).unwrap();
    let create = &plan1.creates[0][0];
    // The executor stored the pending link, the create went through, the answer was lost.
    w.links.insert(id, create.pending_link());
    w.google.create(&create.body);
    w.google.changed.clear(); // not yet visible to sync-token listings (propagation delay)
    w.crm_changed.clear();
    let p = w.sync().unwrap();
    assert!(p.creates.is_empty());
    assert!(p.needs_full_listing);
    assert_eq!(p.skipped[0].reason, SkipReason::AwaitingFullListing);
    // A complete listing finds it: adopted.
    let mut input = w.input(true);
    let p = w.plan_input(&mut input).unwrap();
    assert!(p.creates.is_empty() && !p.mutates(), "{p:#?}");
    assert_eq!(p.noted, vec![(id, Outcome::Adopted)]);
    w.apply(&p);
    w.assert_consistent();
}

#[test]
fn decide_after_a_lost_create() {
    use threadline_contacts_core::decide::{after_lost_create, AfterLostCreate};
    let mut w = World::new();
    w.crm_put(contact(1, "A"));
    let mut input = w.input(true);
    let p = w.plan_input(&mut input).unwrap();
    let c = &p.creates[0][0];
    assert_eq!(
        after_lost_create(c, &[], true, ORG),
        AfterLostCreate::CreateAgain
    );
    assert_eq!(
        after_lost_create(c, &[], false, ORG),
        AfterLostCreate::Unknown
    );
    let found = ours_person(c.contact_id, "people/x", "A");
    assert!(
        matches!(after_lost_create(c, std::slice::from_ref(&found), false, ORG), AfterLostCreate::Adopt(l) if l.resource_name.as_deref() == Some("people/x"))
    );
    let edited = ours_person(c.contact_id, "people/x", "Edited");
    assert!(
        matches!(after_lost_create(c, &[edited], false, ORG), AfterLostCreate::AdoptAndUpdate(u) if u.etag.as_deref() == Some("etag-people/x"))
    );
}

#[test]
fn failures_are_classified_by_status_and_reason() {
    use threadline_contacts_core::decide::{classify, Failure};
    let table = [
        (400, Some("FAILED_PRECONDITION"), Failure::StaleEtag),
        (400, Some("failedPrecondition"), Failure::StaleEtag),
        (
            400,
            Some("INVALID_ARGUMENT"),
            Failure::Rejected("400 INVALID_ARGUMENT".into()),
        ),
        (401, None, Failure::Unauthorized),
        (403, Some("RATE_LIMIT_EXCEEDED"), Failure::RateLimited),
        (
            403,
            Some("PERMISSION_DENIED"),
            Failure::Rejected("403 PERMISSION_DENIED".into()),
        ),
        (404, None, Failure::NotFound),
        (429, None, Failure::RateLimited),
        (503, None, Failure::Transient),
        (0, None, Failure::Transient),
    ];
    for (status, reason, want) in table {
        assert_eq!(classify(status, reason), want, "{status} {reason:?}");
    }
}

#[test]
fn stale_etag_retries_are_bounded() {
    use threadline_contacts_core::decide::{
        on_update_failure, Failure, UpdateRecovery, MAX_STALE_RETRIES,
    };
    let (mut w, ids) = world_with(1);
    let mut c = w.crm[&ids[0]].clone();
    c.first_name = "X".into();
    w.crm_put(c);
    let mut input = w.input(false);
    let p = w.plan_input(&mut input).unwrap();
    let u = &p.updates[0][0];
    assert_eq!(
        on_update_failure(u, &Failure::StaleEtag, 0, GROUP),
        UpdateRecovery::Reread
    );
    assert!(matches!(
        on_update_failure(u, &Failure::StaleEtag, MAX_STALE_RETRIES, GROUP),
        UpdateRecovery::GiveUp(_)
    ));
    assert!(matches!(
        on_update_failure(u, &Failure::NotFound, 0, GROUP),
        UpdateRecovery::Recreate(_)
    ));
    let unchanged = threadline_contacts_core::plan::Update {
        crm_changed: false,
        ..u.clone()
    };
    assert!(
        matches!(on_update_failure(&unchanged, &Failure::NotFound, 0, GROUP), UpdateRecovery::MarkDeleted(l) if l.state == LinkState::DeletedInGoogle)
    );
    assert_eq!(
        on_update_failure(u, &Failure::RateLimited, 0, GROUP),
        UpdateRecovery::Backoff
    );
}

// ---- chunk sizes -------------------------------------------------------------------

fn linked_input(n: u128) -> (PlanInput, Vec<Uuid>) {
    let ids: Vec<Uuid> = (1..=n).map(Uuid::from_u128).collect();
    let links = ids
        .iter()
        .map(|id| {
            Link::exported(
                *id,
                format!("people/{id}"),
                Some("e".into()),
                Owned::from_contact(&contact(id.as_u128(), "A"), ORG).hash(),
            )
        })
        .collect();
    (
        PlanInput {
            organisation_id: ORG,
            group: GROUP.into(),
            links,
            guards: Guards {
                allow_mass_delete: true,
                ..Guards::default()
            },
            ..PlanInput::default()
        },
        ids,
    )
}

fn sizes<T>(chunks: &[Vec<T>]) -> Vec<usize> {
    chunks.iter().map(Vec::len).collect()
}

#[test]
fn creates_and_updates_are_chunked_at_200() {
    for (n, want) in [(200u128, vec![200]), (201, vec![200, 1])] {
        let input = PlanInput {
            organisation_id: ORG,
            group: GROUP.into(),
            contacts: (1..=n).map(|i| contact(i, "A")).collect(),
            ..PlanInput::default()
        };
        assert_eq!(sizes(&plan(&input).unwrap().creates), want, "creates {n}");
        let (mut input, _) = linked_input(n);
        input.contacts = (1..=n).map(|i| contact(i, "B")).collect();
        assert_eq!(sizes(&plan(&input).unwrap().updates), want, "updates {n}");
    }
}

#[test]
fn deletes_are_chunked_at_500() {
    for (n, want) in [(500u128, vec![500]), (501, vec![500, 1])] {
        let (mut input, ids) = linked_input(n);
        input.deleted = ids;
        assert_eq!(sizes(&plan(&input).unwrap().deletes), want, "{n}");
    }
}

#[test]
fn group_adds_are_chunked_at_1000() {
    for (n, want) in [(1000u128, vec![1000]), (1001, vec![1000, 1])] {
        let (mut input, ids) = linked_input(n);
        input.listing = Listing::Incremental;
        // Listed as our own echo, but outside our group (myContacts kept).
        input.people = ids
            .iter()
            .map(|id| {
                let mut p = ours_person(*id, &format!("people/{id}"), "A");
                p.etag = Some("e".into());
                p.memberships.remove(0);
                p
            })
            .collect();
        let p = plan(&input).unwrap();
        assert!(p.updates.is_empty());
        let got: Vec<usize> = p
            .group_adds
            .iter()
            .map(|g| g.resource_names.len())
            .collect();
        assert_eq!(got, want, "{n}");
        assert!(p.group_adds.iter().all(|g| g.group == GROUP));
    }
}

// ---- guards -------------------------------------------------------------------------

#[test]
fn the_mass_delete_guard_stops_for_review_and_apply_anyway_passes() {
    let table: &[(u128, usize, bool)] = &[
        // (exported, deleted, refused)
        (10, 5, false), // half: not more than half
        (10, 6, true),
        (6, 4, false), // fewer than 5 deletes
        (8, 5, true),
        (100, 50, false),
        (100, 51, true),
    ];
    for &(n, k, refused) in table {
        let (mut input, ids) = linked_input(n);
        input.guards = Guards::default();
        input.deleted = ids[..k].to_vec();
        match plan(&input) {
            Err(PlanError::Refused(r)) => {
                assert!(refused, "{n}/{k}");
                assert_eq!(
                    r,
                    vec![Refusal::MassDelete {
                        deletes: k,
                        exported: n as usize
                    }]
                );
            }
            Ok(p) => {
                assert!(!refused, "{n}/{k}");
                assert_eq!(p.deletes.iter().flatten().count(), k);
            }
            Err(e) => panic!("{e}"),
        }
        input.guards.allow_mass_delete = true;
        assert!(plan(&input).is_ok());
    }
}

#[test]
fn empty_sides_are_refused() {
    let (mut input, _) = linked_input(3);
    input.guards = Guards::default();
    input.crm_complete = true;
    assert!(
        matches!(plan(&input), Err(PlanError::Refused(r)) if r.contains(&Refusal::EmptyCrm { exported: 3 }))
    );
    let (mut input, _) = linked_input(3);
    input.guards = Guards::default();
    input.listing = Listing::Full { complete: true };
    assert!(
        matches!(plan(&input), Err(PlanError::Refused(r)) if r == vec![Refusal::EmptyGoogle { exported: 3 }])
    );
    input.guards.allow_empty = true;
    let p = plan(&input).unwrap();
    assert_eq!(p.count(Outcome::DeletedInGoogle), 3);
    assert!(!p.mutates());
}

#[test]
fn an_incomplete_full_listing_infers_no_delete() {
    let (mut input, _) = linked_input(3);
    input.listing = Listing::Full { complete: false };
    assert!(plan(&input).unwrap().is_empty());
}

#[test]
fn a_linked_person_without_our_ids_is_not_deleted() {
    let (mut input, ids) = linked_input(1);
    input.listing = Listing::Incremental;
    let mut p = ours_person(ids[0], &format!("people/{}", ids[0]), "A");
    p.client_data.retain(|d| d.key != CONTACT_ID_KEY);
    input.people = vec![p];
    input.deleted = ids.clone();
    let plan = plan(&input).unwrap();
    assert!(plan.deletes.is_empty());
    assert_eq!(plan.skipped[0].reason, SkipReason::NotOurs);
    assert_eq!(plan.link_writes, vec![LinkWrite::Remove(ids[0])]);
}

// ---- properties ---------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    CrmEdit(usize, u8),
    CrmDelete(usize),
    CrmAdd,
    GoogleEdit(usize, u8),
    GoogleDelete(usize),
    GoogleUngroup(usize),
    UserContact,
    Sync,
}

fn arb_op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        (0..4usize, any::<u8>()).prop_map(|(i, v)| Op::CrmEdit(i, v)),
        (0..4usize).prop_map(Op::CrmDelete),
        Just(Op::CrmAdd),
        (0..4usize, any::<u8>()).prop_map(|(i, v)| Op::GoogleEdit(i, v)),
        (0..4usize).prop_map(Op::GoogleDelete),
        (0..4usize).prop_map(Op::GoogleUngroup),
        Just(Op::UserContact),
        Just(Op::Sync),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// Any history of edits and deletes on both sides: no plan ever deletes a person
    /// without our clientData; after applying, planning again makes no mutation, and the
    /// run after that plans nothing at all; both sides agree.
    #[test]
    fn random_histories_converge(ops in proptest::collection::vec(arb_op(), 1..16)) {
        let mut w = World::new();
        w.guards.allow_mass_delete = true;
        let mut ids: Vec<Uuid> = (1..=4).map(|i| w.crm_put(contact(i, &format!("P{i}")))).collect();
        let mut users = BTreeSet::new();
        w.sync().unwrap();
        for op in ops {
            let live = |w: &World, i: usize| w.crm.contains_key(&ids[i]);
            let person = |w: &World, i: usize| w.links.get(&ids[i]).filter(|l| l.state == LinkState::Exported).and_then(|l| l.resource_name.clone());
            match op {
                Op::CrmEdit(i, v) if live(&w, i) => {
                    let mut c = w.crm[&ids[i]].clone();
                    c.phones = vec![(format!("+{v}"), Some("mobile".into()))];
                    w.crm_put(c);
                }
                Op::CrmDelete(i) if live(&w, i) => w.crm_delete(ids[i]),
                Op::CrmAdd => {
                    let n = ids.len() as u128 + 1;
                    ids.push(w.crm_put(contact(n, &format!("P{n}"))));
                }
                Op::GoogleEdit(i, v) => if let Some(n) = person(&w, i) {
                    w.google.user_edit(&n, |p| p.names[0].given_name = Some(format!("g{v}")));
                },
                Op::GoogleDelete(i) => if let Some(n) = person(&w, i) { w.google.user_delete(&n) },
                Op::GoogleUngroup(i) => if let Some(n) = person(&w, i) {
                    w.google.user_edit(&n, |p| p.memberships.retain(|m| !p_in(m, GROUP)));
                },
                Op::UserContact => { users.insert(w.google.user_create("Friend")); }
                Op::Sync => {
                    let before: Vec<(String, bool)> = w.google.people.iter().map(|(n, p)| (n.clone(), threadline_contacts_core::owned::contact_id_of(p, ORG).is_some())).collect();
                    let plan = w.sync().unwrap();
                    for d in plan.deletes.iter().flatten() {
                        let ours = before.iter().find(|(n, _)| *n == d.resource_name).map(|(_, o)| *o);
                        proptest::prop_assert_ne!(ours, Some(false), "deleted a person without our clientData");
                    }
                }
                _ => {}
            }
        }
        w.sync().unwrap();
        let again = w.sync().unwrap();
        proptest::prop_assert!(!again.mutates(), "{:#?}", again);
        let last = w.sync().unwrap();
        proptest::prop_assert!(last.is_empty(), "{:#?}", last);
        for n in &users {
            proptest::prop_assert!(w.google.people.contains_key(n), "a user's own contact was touched");
        }
        w.assert_consistent();
    }
}

use std::collections::BTreeSet;
