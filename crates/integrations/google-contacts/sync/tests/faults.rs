//! The export's run when Google or the user does what a run must survive: a person or our
//! group deleted in Google, an expired sync token, throttling and server errors, answers lost
//! after a write, a refused grant, a mass delete, a run cut short anywhere, two users of one
//! organisation. Against the fake People API and a throwaway database (SQLite, or
//! PostgreSQL under `tests/pg/throwaway-cluster.sh`).

mod common;

use std::time::Duration;

use threadline_connections::Status;
use threadline_contacts_core::LinkState;
use threadline_fake_providers::google::{GoogleFault, RateLimitReason};
use threadline_fake_providers::{Fault, FaultRule};
use threadline_google_contacts::{RunCounts, RunOptions};
use threadline_sync_engine::{JobError, SyncError};
use uuid::Uuid;

use common::world::{World, BATCH_CREATE, BATCH_DELETE, BATCH_UPDATE};

const LISTING: &str = "/v1/people/me/connections";
/// Its route.
const LISTED: &str = "/v1/people/{person}/connections";
const BATCH_GET: &str = "/v1/people:batchGet";
const GROUPS: &str = "/v1/contactGroups";
const GROUP: &str = "/v1/contactGroups/{group}";
const MEMBERS: &str = "/v1/contactGroups/{group}/members:modify";

/// The user deletes our group between runs (its contacts stay, out of it): the next run's
/// `members:modify` putting them back gets 404; the group is found gone, made again, and
/// every contact put in it, in that run; no person is made twice.
#[tokio::test]
async fn our_group_deleted_between_runs_is_made_again_with_every_contact_in_it() {
    let (w, ids) = World::exported("gil@example.com", 3).await;
    let before = w.export_row().await.group.unwrap();
    w.delete_group_in_google(&before).await;

    w.fake.log().clear();
    let counts = w.run().await;
    assert_eq!((counts.created, counts.errors), (0, 0), "{counts:?}");
    let after = w.export_row().await.group.unwrap();
    assert_ne!(after, before);
    assert_eq!(
        w.count("POST", MEMBERS),
        2,
        "the old group's 404, then the new one"
    );
    assert_eq!(w.count("GET", GROUP), 1, "the group read once: gone");
    assert_eq!(w.count("POST", GROUPS), 1, "made again once");
    assert_eq!(w.count("POST", BATCH_CREATE), 0);
    w.assert_exported(&ids).await;
    w.settles().await;
}

/// The user deletes our group while a run is under way: the run listed before the delete
/// (Google's propagation delay hides its effects from the sync-token listing), so its
/// create naming the group is refused; the group is found gone, made again, everything
/// listed in full and put in it, the new contact created once, in the same run.
#[tokio::test]
async fn our_group_deleted_during_a_run_is_made_again_and_the_create_sent_once() {
    let (w, mut ids) = World::exported("hal@example.com", 3).await;
    let before = w.export_row().await.group.unwrap();
    w.fake
        .google()
        .set_people_propagation_delay(Duration::from_secs(3600));
    w.delete_group_in_google(&before).await;
    ids.push(w.contact("New", "Comer", "new@client.example").await);

    w.fake.log().clear();
    let counts = w.run().await;
    assert_eq!((counts.created, counts.errors), (1, 0), "{counts:?}");
    assert_ne!(w.export_row().await.group.unwrap(), before);
    let creates: Vec<Option<u16>> = w
        .fake
        .log()
        .requests()
        .into_iter()
        .filter(|r| r.path == BATCH_CREATE)
        .map(|r| r.status)
        .collect();
    assert_eq!(creates, [Some(400), Some(200)], "refused, then sent again");
    assert_eq!(w.count("POST", GROUPS), 1, "made again once");
    w.assert_exported(&ids).await;
    w.fake.google().advance_clock(Duration::from_secs(2 * 3600));
    w.settles().await;
    w.assert_exported(&ids).await;
}

/// The user deletes a person; a run without a change of the contact in the CRM leaves it
/// deleted (the listing's tombstone is noted, nothing is written); once the contact changes
/// in the CRM it is created again, counted as recreated.
#[tokio::test]
async fn a_person_deleted_in_google_comes_back_only_when_the_contact_changes() {
    let (w, ids) = World::exported("ann@example.com", 2).await;
    let (gone, kept) = (ids[0], ids[1]);
    let name = w.link_name(gone).await;
    w.delete_in_google(&name).await;

    let counts = w.quiet_run().await;
    assert_eq!((counts.created, counts.recreated), (0, 0), "{counts:?}");
    assert!(w.people_of(gone).is_empty(), "left deleted");
    let link = w.links().await.into_iter().find(|l| l.contact_id == gone);
    assert_eq!(link.map(|l| l.state), Some(LinkState::DeletedInGoogle));
    w.quiet_run().await;

    w.rename(gone, 1, "Back").await;
    w.fake.log().clear();
    let counts = w.run().await;
    assert_eq!(
        (counts.recreated, counts.created, counts.updated),
        (1, 0, 0),
        "{counts:?}"
    );
    assert_eq!(w.count("POST", BATCH_CREATE), 1);
    assert_eq!(w.people_of(gone)[0]["names"][0]["familyName"], "Back");
    w.assert_exported(&[gone, kept]).await;
    w.settles().await;
}

/// The listing does not show the delete yet (Google's propagation delay), so the CRM's
/// change is sent as an update: its 404, confirmed by a re-read, makes the contact created
/// again in the same run, counted as recreated; the tombstone seen later changes nothing.
#[tokio::test]
async fn an_update_of_a_person_deleted_in_google_recreates_it() {
    let (w, ids) = World::exported("bea@example.com", 2).await;
    let (gone, kept) = (ids[0], ids[1]);
    let google = w.fake.google();
    google.set_people_propagation_delay(Duration::from_secs(3600));
    w.delete_in_google(&w.link_name(gone).await).await;

    // No CRM change: nothing to send.
    w.quiet_run().await;

    w.rename(gone, 1, "Again").await;
    w.fake.log().clear();
    let counts = w.run().await;
    assert_eq!(
        (
            counts.recreated,
            counts.updated,
            counts.created,
            counts.errors
        ),
        (1, 0, 0, 0),
        "{counts:?}"
    );
    assert_eq!(w.count("POST", BATCH_UPDATE), 1, "the update got its 404");
    assert_eq!(w.count("GET", BATCH_GET), 1, "read again once");
    assert_eq!(w.count("POST", BATCH_CREATE), 1, "created again");
    assert_eq!(w.people_of(gone)[0]["names"][0]["familyName"], "Again");
    w.assert_exported(&[gone, kept]).await;

    // The delete's tombstone reaches the listings: the new person is kept.
    google.advance_clock(Duration::from_secs(2 * 3600));
    w.settles().await;
    w.assert_exported(&[gone, kept]).await;
}

/// Contacts deleted in the CRM, one of whose persons the user already deleted in Google
/// (the listing does not show it yet): the delete batch naming it is refused (404) and
/// deletes nothing, so the others are deleted again; none is left in Google, no link kept.
#[tokio::test]
async fn a_delete_batch_naming_a_person_deleted_in_google_deletes_the_others() {
    let (w, ids) = World::exported("ivy@example.com", 4).await;
    w.fake
        .google()
        .set_people_propagation_delay(Duration::from_secs(3600));
    w.delete_in_google(&w.link_name(ids[0]).await).await;
    for id in &ids[..3] {
        w.delete(*id, 1).await;
    }
    w.fake.log().clear();
    let counts = w.run().await;
    assert_eq!(counts.deleted, 3, "{counts:?}");
    assert_eq!(w.count("POST", BATCH_DELETE), 2, "refused, then the others");
    assert_eq!(w.count("GET", BATCH_GET), 1, "read between");
    assert!(w.people_of(ids[1]).is_empty(), "deleted");
    assert!(w.people_of(ids[2]).is_empty(), "deleted");
    w.assert_exported(&ids[3..]).await;
    w.fake.google().advance_clock(Duration::from_secs(2 * 3600));
    w.settles().await;
    w.assert_exported(&ids[3..]).await;
}

/// How a sync token expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    /// Google's answer to a listing with it, as a fault (the token itself still good).
    Answer,
    /// Every token of the account expired.
    Expired,
    /// Seven days gone by.
    Clock,
}

/// An expired sync token: the run lists in full, writes nothing when nothing changed,
/// duplicates nothing and stores a new token, which the next run uses.
async fn an_expired_sync_token(way: Expiry) {
    let (w, ids) = World::exported("cid@example.com", 3).await;
    w.settles().await;
    let before = w.export_row().await.sync_token.expect("a sync token");
    match way {
        Expiry::Answer => {
            w.fake.faults().inject(
                FaultRule::new(Fault::Google(GoogleFault::ExpiredSyncToken)).on("GET", LISTING),
            );
        }
        Expiry::Expired => w.fake.google().expire_people_sync_tokens(&w.email),
        Expiry::Clock => w
            .fake
            .google()
            .advance_clock(Duration::from_secs(8 * 86_400)),
    }
    let counts = w.quiet_run().await;
    let unchanged = RunCounts {
        unchanged: 3,
        ..RunCounts::default()
    };
    assert_eq!(counts, unchanged);
    let listings: Vec<String> = w
        .fake
        .log()
        .requests()
        .into_iter()
        .filter(|r| r.path == LISTING)
        .map(|r| r.query.unwrap_or_default())
        .collect();
    assert_eq!(listings.len(), 2, "{listings:?}");
    assert!(listings[0].contains("syncToken="));
    assert!(!listings[1].contains("syncToken="), "then in full");
    let after = w.export_row().await.sync_token.expect("a new sync token");
    if way != Expiry::Answer {
        // (Google's answer leaves the token good: the new one may be the same.)
        assert_ne!(after, before);
    }
    w.assert_exported(&ids).await;

    // The next run lists with the new token.
    w.quiet_run().await;
    let requests = w.fake.log().requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert!(requests[0].query.as_deref().unwrap().contains("syncToken="));
}

#[tokio::test]
async fn an_expired_sync_token_answer_lists_in_full_and_writes_nothing() {
    an_expired_sync_token(Expiry::Answer).await;
}

#[tokio::test]
async fn expired_sync_tokens_of_the_account_list_in_full_and_write_nothing() {
    an_expired_sync_token(Expiry::Expired).await;
}

#[tokio::test]
async fn a_sync_token_a_week_old_lists_in_full_and_writes_nothing() {
    an_expired_sync_token(Expiry::Clock).await;
}

/// When a fault strikes: on the first export (every CRM contact, a full listing), or on a
/// later run (the changes feed, the sync-token listing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    First,
    Later,
}

/// 450 new contacts to export (batches of 200, 200 and 50) and `fault` on the second
/// batch: the run ends in error after two batches, the first one's contacts linked to
/// their persons. `hidden`: the run's writes stay out of sync-token listings for an hour.
/// The world, every contact, the run's error.
async fn second_create_batch_fails(
    stage: Stage,
    fault: Fault,
    hidden: bool,
) -> (World, Vec<Uuid>, SyncError) {
    let w = World::new("kim@example.com").await;
    let mut ids = Vec::new();
    if stage == Stage::Later {
        ids = w.contacts(2, "Early").await;
        w.settles().await;
    }
    let bulk = w.contacts(450, "Bulk").await;
    ids.extend(&bulk);
    if hidden {
        let delay = Duration::from_secs(3600);
        w.fake.google().set_people_propagation_delay(delay);
    }
    w.fake
        .faults()
        .inject(FaultRule::new(fault).on("POST", BATCH_CREATE).after(1));
    w.fake.log().clear();
    let error = w.try_run().await.unwrap_err();
    assert_eq!(w.count("POST", BATCH_CREATE), 2, "the third batch not sent");
    let persons = w.persons();
    let linked: Vec<Uuid> = w
        .links()
        .await
        .into_iter()
        .filter(|l| l.state == LinkState::Exported)
        .map(|l| {
            let person = &persons[&l.contact_id];
            assert_eq!(person.len(), 1);
            assert_eq!(
                l.resource_name.as_deref(),
                person[0]["resourceName"].as_str()
            );
            l.contact_id
        })
        .collect();
    let first_batch = &bulk[..200];
    assert!(
        first_batch.iter().all(|id| linked.contains(id)),
        "what was written before is linked"
    );
    assert_eq!(linked.len(), ids.len() - 250, "and nothing else");
    (w, ids, error)
}

/// A throttle or a server error on the middle batch of an export: the run ends to be
/// tried later (with Google's `Retry-After` when it gave one), and the next run creates
/// what was not made, none twice. A throttled batch was refused whole: its contacts are
/// created whatever the next run lists. After a server error the batch may have been made:
/// a later run's sync-token listing cannot tell, so that run lists in full before
/// creating them.
async fn a_refused_middle_batch(stage: Stage, fault: Fault, retry_after: Option<u64>) {
    let (w, ids, error) = second_create_batch_fails(stage, fault.clone(), false).await;
    let wanted = retry_after.map(Duration::from_secs);
    match JobError::from(error) {
        JobError::Retryable { retry_after, .. } => assert_eq!(retry_after, wanted, "{fault:?}"),
        other => panic!("{fault:?}: {other:?}"),
    }
    let throttled = matches!(fault, Fault::TooManyRequests { .. } | Fault::Google(_));
    w.fake.log().clear();
    let counts = w.run().await;
    assert_eq!((counts.created, counts.adopted), (250, 0), "{counts:?}");
    assert_eq!(w.count("POST", BATCH_CREATE), 2);
    let in_full = stage == Stage::Later && !throttled;
    assert_eq!(listings(&w), listed_in(stage, in_full));
    w.assert_exported(&ids).await;
    w.settles().await;
}

/// Whether each listing of the run had a sync token.
fn listings(w: &World) -> Vec<bool> {
    w.fake
        .log()
        .requests()
        .into_iter()
        .filter(|r| r.path == LISTING)
        .map(|r| r.query.unwrap_or_default().contains("syncToken="))
        .collect()
}

/// The listings (with a sync token or not) of the run after a failed one: in full after a
/// first export; else with the sync token, then in full when `lost` creates must be told.
fn listed_in(stage: Stage, lost: bool) -> Vec<bool> {
    match (stage, lost) {
        (Stage::First, _) => vec![false],
        (Stage::Later, false) => vec![true],
        (Stage::Later, true) => vec![true, false],
    }
}

#[tokio::test]
async fn a_429_with_retry_after_on_the_middle_batch_ends_the_run_to_be_retried() {
    let fault = Fault::TooManyRequests {
        retry_after: Some(7),
    };
    a_refused_middle_batch(Stage::First, fault, Some(7)).await;
}

#[tokio::test]
async fn a_429_without_retry_after_on_the_middle_batch_ends_the_run_to_be_retried() {
    let fault = Fault::TooManyRequests { retry_after: None };
    a_refused_middle_batch(Stage::Later, fault, None).await;
}

#[tokio::test]
async fn a_403_rate_limit_exceeded_on_the_middle_batch_ends_the_run_to_be_retried() {
    let fault = Fault::Google(GoogleFault::RateLimited403(
        RateLimitReason::RateLimitExceeded,
    ));
    a_refused_middle_batch(Stage::First, fault, None).await;
}

#[tokio::test]
async fn a_403_user_rate_limit_exceeded_on_the_middle_batch_ends_the_run_to_be_retried() {
    let fault = Fault::Google(GoogleFault::RateLimited403(
        RateLimitReason::UserRateLimitExceeded,
    ));
    a_refused_middle_batch(Stage::Later, fault, None).await;
}

#[tokio::test]
async fn a_500_on_the_middle_batch_ends_the_run_to_be_retried() {
    a_refused_middle_batch(Stage::First, Fault::BackendError, None).await;
}

#[tokio::test]
async fn a_503_on_the_middle_batch_ends_the_run_to_be_retried() {
    a_refused_middle_batch(Stage::Later, Fault::Unavailable, None).await;
}

/// The middle batch is made in Google but its answer is lost: the run ends to be tried
/// later, and the next run adopts the batch's persons by their `clientData` (never sends
/// them again) and creates the last batch. `hidden`: a later run's sync-token listing does
/// not show them yet (Google's propagation delay), so their pending links make the run
/// list in full, which shows them.
async fn a_lost_middle_batch_answer(stage: Stage, fault: Fault, hidden: bool) {
    let (w, ids, error) = second_create_batch_fails(stage, fault.clone(), hidden).await;
    assert!(matches!(error, SyncError::Retryable { .. }), "{error:?}");
    w.fake.log().clear();
    let counts = w.run().await;
    assert_eq!((counts.adopted, counts.created), (200, 50), "{counts:?}");
    assert_eq!(w.count("POST", BATCH_CREATE), 1, "the last batch only");
    assert_eq!(listings(&w), listed_in(stage, hidden));
    w.assert_exported(&ids).await;
    w.settles().await;
}

#[tokio::test]
async fn a_middle_batch_dropped_after_commit_is_adopted_on_the_first_export() {
    a_lost_middle_batch_answer(Stage::First, Fault::DropResponseAfterCommit, false).await;
}

#[tokio::test]
async fn a_middle_batch_dropped_after_commit_is_adopted_on_a_later_run() {
    a_lost_middle_batch_answer(Stage::Later, Fault::DropResponseAfterCommit, false).await;
}

#[tokio::test]
async fn a_middle_batch_answered_500_after_commit_is_adopted_on_the_first_export() {
    let fault = Fault::Google(GoogleFault::BackendErrorAfterCommit);
    a_lost_middle_batch_answer(Stage::First, fault, false).await;
}

#[tokio::test]
async fn a_middle_batch_answered_500_after_commit_and_not_listed_yet_is_adopted_later() {
    let fault = Fault::Google(GoogleFault::BackendErrorAfterCommit);
    a_lost_middle_batch_answer(Stage::Later, fault, true).await;
}

/// The run ended because the grant is refused: the engine's needs-reauthorization (the
/// schedules pause), the connection says so, and the reason is Google's.
async fn assert_needs_reauth(w: &World, error: SyncError) {
    match JobError::from(error) {
        JobError::NeedsReauth(why) => assert!(why.contains("invalid_grant"), "{why}"),
        other => panic!("{other:?}"),
    }
    let connection = w.connection_row(w.connection).await;
    assert_eq!(connection.status, Status::NeedsReauth);
    assert!(connection.status_reason.unwrap().contains("invalid_grant"));
}

/// The user takes Threadline's access away in Google between runs, with contacts deleted in
/// the CRM meanwhile: the run's first call is refused, the token source's refresh gets
/// `invalid_grant`, the run ends needing reauthorization and nothing is deleted in Google;
/// the next run asks Google nothing; connected again, the deletes are made.
#[tokio::test]
async fn access_revoked_between_runs_needs_reauthorization_and_deletes_nothing() {
    let (w, ids) = World::exported("lea@example.com", 6).await;
    w.delete(ids[0], 1).await;
    w.delete(ids[1], 1).await;
    w.revoke(&w.account).await;

    w.fake.log().clear();
    let error = w.try_run().await.unwrap_err();
    assert_needs_reauth(&w, error).await;
    assert_eq!(w.mutations(), 0, "{:#?}", w.fake.log().requests());
    assert!(
        ids.iter().all(|id| w.people_of(*id).len() == 1),
        "none deleted"
    );
    assert_eq!(w.links().await.len(), 6);
    w.fake.log().clear();
    let again = w.try_run().await.unwrap_err();
    assert!(matches!(again, SyncError::NeedsReauth(_)), "{again:?}");
    assert_eq!(w.fake.log().total(), 0, "nothing asked of Google");

    w.reconnect(&w.account).await;
    let counts = w.run().await;
    assert_eq!(counts.deleted, 2, "{counts:?}");
    w.assert_exported(&ids[2..]).await;
}

/// The grant is refused in the middle of a run (the access token expires before the
/// deletes, and its refresh gets `invalid_grant`): the creates before stay linked, the
/// run ends needing reauthorization before deleting anything; connected again, the next
/// run deletes and creates nothing twice.
#[tokio::test]
async fn a_grant_refused_mid_run_stops_before_the_deletes() {
    let (w, mut ids) = World::exported("max@example.com", 6).await;
    let new = w.contact("New", "Person", "new@client.example").await;
    w.delete(ids[0], 1).await;
    w.delete(ids[1], 1).await;
    w.fake
        .google()
        .invalidate_refresh_token(&w.account.refresh_token);
    w.fake
        .faults()
        .inject(FaultRule::new(Fault::Unauthorized).on("POST", BATCH_DELETE));

    w.fake.log().clear();
    let error = w.try_run().await.unwrap_err();
    assert_needs_reauth(&w, error).await;
    assert_eq!(w.count("POST", BATCH_CREATE), 1);
    assert_eq!(w.count("POST", BATCH_DELETE), 1, "refused: 401");
    assert!(
        ids.iter().all(|id| w.people_of(*id).len() == 1),
        "none deleted"
    );
    assert_eq!(w.people_of(new).len(), 1);

    w.reconnect(&w.account).await;
    w.fake.log().clear();
    let counts = w.run().await;
    assert_eq!((counts.deleted, counts.created), (2, 0), "{counts:?}");
    ids.drain(..2);
    ids.push(new);
    w.assert_exported(&ids).await;
    w.settles().await;
}

/// More than half of the exported contacts (at least 5) deleted in the CRM: the run is
/// refused for review (the engine pauses the schedule) and writes nothing to Google, again
/// on the next run; the run a review's "apply anyway" makes deletes them.
#[tokio::test]
async fn a_mass_delete_is_refused_for_review_until_applied_anyway() {
    let (w, ids) = World::exported("ned@example.com", 8).await;
    let late = w.contact("Late", "Comer", "late@client.example").await;
    for id in &ids[..5] {
        w.delete(*id, 1).await;
    }
    for _ in 0..2 {
        w.fake.log().clear();
        let error = w.try_run().await.unwrap_err();
        match JobError::from(error) {
            JobError::RefusedForReview(why) => assert!(why.contains("delete 5 of 8"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(w.mutations(), 0, "{:#?}", w.fake.log().requests());
        assert!(
            ids.iter().all(|id| w.people_of(*id).len() == 1),
            "none deleted"
        );
        assert!(w.people_of(late).is_empty(), "nothing written");
    }

    let anyway = RunOptions::default().apply_anyway();
    let counts = w.run_with(w.connection, anyway).await.unwrap();
    assert_eq!((counts.deleted, counts.created), (5, 1), "{counts:?}");
    assert_eq!(w.count("POST", BATCH_DELETE), 1);
    let mut kept = ids[5..].to_vec();
    kept.push(late);
    w.assert_exported(&kept).await;
    w.settles().await;
}

/// Two users of one organisation export into their own Google accounts: each account gets
/// every contact once, in a group of its own stamped with its connection; a CRM change and
/// a delete reach both.
#[tokio::test]
async fn two_users_of_one_organisation_each_get_every_contact_once() {
    let w = World::new("ona@example.com").await;
    let pat = w.add_user("pat@example.com").await;
    let mut ids = w.contacts(5, "Both").await;
    for account in [&w.account, &pat] {
        let counts = w.run_with(account.connection, RunOptions::default()).await;
        assert_eq!(counts.unwrap().created, 5);
    }
    w.assert_exported(&ids).await;
    w.assert_exported_to(&pat, &ids).await;
    let groups = [w.export_row().await, w.export_row_of(pat.connection).await];
    assert_ne!(groups[0].group, groups[1].group);

    w.rename(ids[0], 1, "Changed").await;
    w.delete(ids[1], 1).await;
    for account in [&w.account, &pat] {
        let counts = w.run_with(account.connection, RunOptions::default()).await;
        let counts = counts.unwrap();
        assert_eq!((counts.updated, counts.deleted), (1, 1), "{counts:?}");
        let changed = &w.persons_in(&account.email)[&ids[0]][0];
        assert_eq!(changed["names"][0]["familyName"], "Changed");
    }
    ids.remove(1);
    w.assert_exported(&ids).await;
    w.assert_exported_to(&pat, &ids).await;
}

/// What a run that is cut short is to export, and what the runs after must show.
struct Scene {
    w: World,
    /// Every contact to be exported once, in the group, linked.
    live: Vec<Uuid>,
    /// Contacts whose last name changed in the CRM, with that name.
    renamed: Vec<(Uuid, &'static str)>,
}

/// The requests of a run to the People API, in order (method and route).
fn people_requests(w: &World) -> Vec<String> {
    w.fake
        .log()
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/v1/"))
        .map(|r| format!("{} {}", r.method, r.endpoint.unwrap_or(r.path)))
        .collect()
}

/// Runs the export and drops the run, as a SIGKILL drops an in-process run (its database
/// transaction rolls back), once the k-th request to the People API is held by `cut`:
/// held unserved ([`Fault::Hang`]) or held after its write committed
/// ([`Fault::HangAfterCommit`]). The requests served before it.
async fn run_cut_at(w: &World, k: usize, cut: &Fault) -> Vec<String> {
    let rule = FaultRule::new(cut.clone()).on("*", "/v1/**").after(k - 1);
    w.fake.faults().inject(rule);
    w.fake.log().clear();
    tokio::select! {
        run = w.try_run() => panic!("the run ended before its request {k}: {run:?}"),
        () = w.fake.faults().until_held(1) => {}
    }
    w.fake.faults().clear();
    // The held request is not logged: it has no answer.
    people_requests(w)
}

/// A run of a fresh scene, then for each of its requests and both ways of holding one: a
/// fresh scene whose run is cut short there, then one run to completion, after which every
/// contact is exported exactly once (in the group, linked), the CRM's changes are in
/// Google, and the next runs are quiet. The requests of the run, cut at one by one.
async fn cut_at_every_request(prepare: impl AsyncFn() -> Scene) -> Vec<String> {
    let whole = {
        let Scene { w, .. } = prepare().await;
        w.fake.log().clear();
        w.run().await;
        people_requests(&w)
    };
    for cut in [Fault::Hang, Fault::HangAfterCommit] {
        for k in 1..=whole.len() {
            let Scene { w, live, renamed } = prepare().await;
            let before = run_cut_at(&w, k, &cut).await;
            assert_eq!(before, whole[..k - 1], "{cut:?} at {k}");
            w.run().await;
            w.assert_exported(&live).await;
            for (id, name) in &renamed {
                assert_eq!(w.people_of(*id)[0]["names"][0]["familyName"], *name);
            }
            w.settles().await;
        }
    }
    whole
}

/// A first export of 450 contacts cut short anywhere: at the group's list or create (made,
/// its answer lost), at the listing, at each of the three create batches, unsent or made
/// with its answer lost (so also between batches); the next run makes what is missing and
/// adopts what was made, never twice.
#[tokio::test]
async fn a_first_export_cut_short_at_any_request_is_completed_by_the_next_run() {
    let whole = cut_at_every_request(async || {
        let w = World::new("quin@example.com").await;
        let live = w.contacts(450, "Cut").await;
        Scene {
            w,
            live,
            renamed: Vec::new(),
        }
    })
    .await;
    let create = format!("POST {BATCH_CREATE}");
    let expected = [
        format!("GET {GROUPS}"),
        format!("POST {GROUPS}"),
        format!("GET {LISTED}"),
        create.clone(),
        create.clone(),
        create,
    ];
    assert_eq!(whole, expected);
}

/// A later run cut short anywhere: at the listing, at either create batch, the update, the
/// delete or the `members:modify` that puts back a contact the user took out of the group,
/// unsent or made with its answer lost; the next run completes it, nothing made twice,
/// nothing left out.
#[tokio::test]
async fn a_later_run_cut_short_at_any_request_is_completed_by_the_next_run() {
    let whole = cut_at_every_request(async || {
        let (w, mut live) = World::exported("rex@example.com", 6).await;
        let group = w.export_row().await.group.unwrap();
        let out = w.link_name(live[5]).await;
        let body = format!("{{\"resourceNamesToRemove\": [\"{out}\"]}}");
        w.as_the_user_with(
            reqwest::Method::POST,
            &format!("{group}/members:modify"),
            &body,
        )
        .await;
        w.rename(live[0], 1, "First").await;
        w.rename(live[1], 1, "Second").await;
        w.delete(live[2], 1).await;
        w.delete(live[3], 1).await;
        live.drain(2..4);
        live.extend(w.contacts(250, "Later").await);
        Scene {
            renamed: vec![(live[0], "First"), (live[1], "Second")],
            w,
            live,
        }
    })
    .await;
    let create = format!("POST {BATCH_CREATE}");
    let expected = [
        format!("GET {LISTED}"),
        create.clone(),
        create,
        format!("POST {BATCH_UPDATE}"),
        format!("POST {BATCH_DELETE}"),
        format!("POST {MEMBERS}"),
    ];
    assert_eq!(whole, expected);
}
