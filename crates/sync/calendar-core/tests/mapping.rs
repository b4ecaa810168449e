//! The event mapping, the owned-field hash, ids, and the three-way merge.

mod common;

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use common::{date, date_time, google_event, timed};
use proptest::prelude::*;
use threadline_calendar_core::decide::{on_insert_conflict, InsertConflict};
use threadline_calendar_core::event::EventStatus;
use threadline_calendar_core::ids::{
    block_id, event_id_for, instance_id, instance_start, is_valid_event_id,
    meeting_id_from_event_id, meeting_id_of, CRM_ID_PROPERTY,
};
use threadline_calendar_core::owned::{merge, Field, MapError, Side};
use threadline_calendar_core::{Event, Owned, When};
use uuid::Uuid;

fn with_times(
    start: threadline_calendar_core::event::EventDateTime,
    end: threadline_calendar_core::event::EventDateTime,
) -> Event {
    Event {
        id: Some("abcde".into()),
        summary: Some("T".into()),
        start: Some(start),
        end: Some(end),
        ..Event::default()
    }
}

#[test]
fn the_same_instant_in_different_offsets_hashes_equal_and_a_zone_change_is_a_change() {
    let amsterdam = with_times(
        date_time("2026-03-02T09:30:00+01:00", Some("Europe/Amsterdam")),
        date_time("2026-03-02T10:30:00+01:00", Some("Europe/Amsterdam")),
    );
    let utc_written = with_times(
        date_time("2026-03-02T08:30:00Z", Some("Europe/Amsterdam")),
        date_time("2026-03-02T09:30:00.000Z", Some("Europe/Amsterdam")),
    );
    // No offset: local time in the named zone.
    let local = with_times(
        date_time("2026-03-02T09:30:00", Some("Europe/Amsterdam")),
        date_time("2026-03-02T10:30:00", Some("Europe/Amsterdam")),
    );
    let a = Owned::from_event(&amsterdam, None).unwrap();
    assert_eq!(
        a.hash(),
        Owned::from_event(&utc_written, None).unwrap().hash()
    );
    assert_eq!(a.hash(), Owned::from_event(&local, None).unwrap().hash());
    assert_eq!(
        a.when,
        When::Timed {
            start: Utc.with_ymd_and_hms(2026, 3, 2, 8, 30, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2026, 3, 2, 9, 30, 0).unwrap(),
            time_zone: "Europe/Amsterdam".into(),
        }
    );
    let mut london = amsterdam.clone();
    london.start.as_mut().unwrap().time_zone = Some("Europe/London".into());
    assert_ne!(a.hash(), Owned::from_event(&london, None).unwrap().hash());
    // No zone on the event: the calendar's.
    let bare = with_times(
        date_time("2026-03-02T09:30:00+01:00", None),
        date_time("2026-03-02T10:30:00+01:00", None),
    );
    assert_eq!(
        Owned::from_event(&bare, Some("Europe/Amsterdam")).unwrap(),
        a
    );
}

#[test]
fn attendee_order_and_case_and_empty_texts_do_not_change_the_hash() {
    let when = timed("x", 9).when;
    let a = Owned::new(
        " Title ",
        when.clone(),
        Some(""),
        None,
        ["B@x.org", "a@x.org"],
    );
    let b = Owned::new("Title", when, None, Some("  "), ["a@x.org", "b@X.org "]);
    assert_eq!(a.hash(), b.hash());
    let mut c = b.clone();
    c.attendees.insert("c@x.org".into());
    assert_ne!(b.hash(), c.hash());
    assert_eq!(b.changed_fields(&c), vec![Field::Attendees]);
}

#[test]
fn all_day_events_are_civil_dates_with_an_exclusive_end() {
    let one_day = with_times(date("2026-03-05"), date("2026-03-06"));
    let owned = Owned::from_event(&one_day, Some("Pacific/Kiritimati")).unwrap();
    assert_eq!(
        owned.when,
        When::AllDay {
            start: chrono::NaiveDate::from_ymd_opt(2026, 3, 5).unwrap(),
            end: chrono::NaiveDate::from_ymd_opt(2026, 3, 6).unwrap(),
        }
    );
    assert_eq!(
        owned.when.to_event_times(),
        (date("2026-03-05"), date("2026-03-06"))
    );
    // An end on the start day is empty (the end is exclusive).
    assert_eq!(
        Owned::from_event(&with_times(date("2026-03-05"), date("2026-03-05")), None),
        Err(MapError::EndBeforeStart)
    );
}

#[test]
fn bad_times_are_errors_that_name_the_field() {
    let cases = [
        (with_times(date("2026-3-5"), date("2026-03-06")), "start.date \"2026-3-5\" is not a date (YYYY-MM-DD)"),
        (
            with_times(date("2026-03-05"), date_time("2026-03-06T10:00:00Z", None)),
            "start and end must both be dates or both be dateTimes",
        ),
        (
            with_times(date_time("2026-03-06T10:00:00", None), date_time("2026-03-06T11:00:00", None)),
            "start.dateTime \"2026-03-06T10:00:00\" has no offset and there is no time zone to read it in",
        ),
        (
            with_times(date_time("2026-03-06T10:00:00Z", Some("Mars/Olympus")), date_time("2026-03-06T11:00:00Z", None)),
            "start.timeZone \"Mars/Olympus\" is not an IANA time zone",
        ),
        (Event::default(), "start is missing"),
    ];
    for (event, message) in cases {
        assert_eq!(
            Owned::from_event(&event, None).unwrap_err().to_string(),
            message
        );
    }
}

#[test]
fn timed_meetings_are_written_in_their_zone_and_read_back_equal() {
    let fields = timed("Zone", 9);
    let (start, _) = fields.when.to_event_times();
    assert_eq!(
        start,
        date_time("2026-03-02T10:00:00+01:00", Some("Europe/Amsterdam"))
    );
    let body = fields.insert_body(Uuid::from_u128(1), &BTreeMap::new());
    assert_eq!(Owned::from_event(&body, None).unwrap(), fields);
}

#[test]
fn a_deleted_event_with_only_an_id_parses() {
    let e: Event = serde_json::from_str(r#"{"id":"abc123","status":"cancelled"}"#).unwrap();
    assert!(e.is_cancelled());
    let e: Event =
        serde_json::from_str(r#"{"id":"x","status":"someNewStatus","kind":"calendar#event"}"#)
            .unwrap();
    assert_eq!(e.status, Some(EventStatus::Other));
    assert!(!e.is_cancelled());
}

#[test]
fn patches_carry_only_changed_fields_and_keep_attendee_entries() {
    let before = timed("Plan", 9);
    let mut after = before.clone();
    after.location = None;
    after.title = "Plan 2".into();
    after.attendees.insert("new@example.com".into());
    let mut current = google_event("threadlinex", &before);
    current.attendees.as_mut().unwrap()[0].response_status = Some("accepted".into());
    let names = BTreeMap::from([("new@example.com".to_string(), "New Person".to_string())]);
    let mut with_location = before.clone();
    with_location.location = Some("Room".into());
    let patch = after.patch_from(&with_location, Some(&current), &names);
    assert_eq!(patch.summary.as_deref(), Some("Plan 2"));
    assert_eq!(
        patch.location.as_deref(),
        Some(""),
        "a cleared location is sent empty"
    );
    assert!(patch.start.is_none() && patch.description.is_none());
    let people = patch.attendees.unwrap();
    assert_eq!(people[0].response_status.as_deref(), Some("accepted"));
    assert_eq!(people[1].display_name.as_deref(), Some("New Person"));
}

#[test]
fn three_way_merge_table() {
    let base = timed("Base", 9);
    let with = |f: &dyn Fn(&mut Owned)| {
        let mut o = base.clone();
        f(&mut o);
        o
    };
    let crm_title = with(&|o| o.title = "CRM".into());
    let remote_title = with(&|o| o.title = "Google".into());
    let remote_loc = with(&|o| o.location = Some("Room".into()));
    // (crm, remote, winner) → (title, location, conflicts)
    type Case<'a> = (
        &'a Owned,
        &'a Owned,
        Side,
        &'a str,
        Option<&'a str>,
        Vec<Field>,
    );
    let cases: Vec<Case> = vec![
        (&base, &base, Side::Crm, "Base", None, vec![]),
        (&crm_title, &base, Side::Remote, "CRM", None, vec![]),
        (&base, &remote_title, Side::Crm, "Google", None, vec![]),
        (
            &crm_title,
            &remote_loc,
            Side::Crm,
            "CRM",
            Some("Room"),
            vec![],
        ),
        (
            &crm_title,
            &remote_title,
            Side::Crm,
            "CRM",
            None,
            vec![Field::Title],
        ),
        (
            &crm_title,
            &remote_title,
            Side::Remote,
            "Google",
            None,
            vec![Field::Title],
        ),
        (&crm_title, &crm_title, Side::Remote, "CRM", None, vec![]),
    ];
    for (crm, remote, winner, title, location, conflicts) in cases {
        let m = merge(&base, crm, remote, winner);
        assert_eq!(m.result.title, title);
        assert_eq!(m.result.location.as_deref(), location);
        assert_eq!(m.conflicts, conflicts);
    }
}

#[test]
fn ids_round_trip_and_follow_googles_rules() {
    let id = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
    let event_id = event_id_for(id);
    assert_eq!(event_id, "threadline0123456789abcdef0123456789abcdef");
    assert!(is_valid_event_id(&event_id));
    assert_eq!(meeting_id_from_event_id(&event_id), Some(id));
    for other in [
        "threadline0123",
        "abc_20260301T090000Z",
        "threadline0123456789ABCDEF0123456789abcdef",
        "x",
    ] {
        assert_eq!(meeting_id_from_event_id(other), None, "{other}");
    }
    // The property is what counts; it wins over the id.
    let mut e = Event {
        id: Some(event_id.clone()),
        ..Event::default()
    };
    assert_eq!(meeting_id_of(&e), Some(id));
    let other = Uuid::from_u128(5);
    e.extended_properties = Some(threadline_calendar_core::event::ExtendedProperties {
        private: Some(BTreeMap::from([(
            CRM_ID_PROPERTY.to_string(),
            other.to_string(),
        )])),
        shared: None,
    });
    assert_eq!(meeting_id_of(&e), Some(other));
    assert_ne!(block_id(id, "a", "bc"), block_id(id, "ab", "c"));
    assert_eq!(block_id(id, "a", "bc"), block_id(id, "a", "bc"));
}

/// Google's instance ids: `<series>_<start>`, the start in UTC to the second (timed) or the
/// date (all-day); read back only in exactly that form, and only for that series.
#[test]
fn instance_ids_name_the_original_start_and_read_back() {
    use threadline_calendar_core::link::OriginalStart;
    let timed = OriginalStart::Instant(Utc.with_ymd_and_hms(2026, 3, 16, 8, 0, 0).unwrap());
    assert_eq!(instance_id("abc123", &timed), "abc123_20260316T080000Z");
    let day = OriginalStart::Date(chrono::NaiveDate::from_ymd_opt(2026, 3, 10).unwrap());
    assert_eq!(instance_id("abc123", &day), "abc123_20260310");
    for start in [&timed, &day] {
        let id = instance_id("abc123", start);
        assert_eq!(instance_start("abc123", &id).as_ref(), Some(start), "{id}");
        assert_eq!(instance_start("abc12", &id), None, "another series: {id}");
    }
    for other in [
        "abc123",
        "abc123_",
        "abc123_2026031",
        "abc123_20260316T0800Z",
        "abc123_20260316T080000",
        "abc123_20261316",
        "abc123_+2026031",
        "abc123x20260310",
        "xyz_20260310",
    ] {
        assert_eq!(instance_start("abc123", other), None, "{other}");
    }
}

#[test]
fn an_insert_conflict_adopts_revives_or_refuses() {
    let id = Uuid::from_u128(9);
    let body = timed("X", 9).insert_body(id, &BTreeMap::new());
    let live = Event {
        etag: Some("\"1\"".into()),
        ..body.clone()
    };
    assert_eq!(on_insert_conflict(id, &live, &body), InsertConflict::Adopt);
    let deleted = Event {
        id: body.id.clone(),
        status: Some(EventStatus::Cancelled),
        etag: Some("\"2\"".into()),
        ..Event::default()
    };
    let InsertConflict::Revive { patch, if_match } = on_insert_conflict(id, &deleted, &body) else {
        panic!()
    };
    assert_eq!(patch.status, Some(EventStatus::Confirmed));
    assert_eq!(patch.summary.as_deref(), Some("X"));
    assert_eq!(if_match.as_deref(), Some("\"2\""));
    assert_eq!(
        on_insert_conflict(Uuid::from_u128(10), &live, &body),
        InsertConflict::Foreign
    );
    // A colleague's invitation copy (same id, organised elsewhere, no property): adopted
    // while live (the plan links it as a converted meeting), left alone once cancelled.
    let bob = Some(threadline_calendar_core::event::EventOrganizer {
        email: Some("bob@x.org".into()),
        display_name: None,
        is_self: None,
    });
    let invitation = Event {
        organizer: bob.clone(),
        extended_properties: None,
        ..live.clone()
    };
    assert!(invitation.is_invitation() && !live.is_invitation());
    assert_eq!(
        on_insert_conflict(id, &invitation, &body),
        InsertConflict::Adopt
    );
    let cancelled = Event {
        organizer: bob,
        ..deleted.clone()
    };
    assert_eq!(
        on_insert_conflict(id, &cancelled, &body),
        InsertConflict::Invitation
    );
}

fn arb_owned() -> impl Strategy<Value = Owned> {
    (
        prop::sample::select(vec!["A", "B", " A "]),
        0u32..3,
        prop::option::of(prop::sample::select(vec!["Room", "Cafe"])),
        prop::collection::btree_set(
            prop::sample::select(vec!["a@x.org", "B@x.org", "c@x.org"]),
            0..3,
        ),
    )
        .prop_map(|(title, hour, location, people)| {
            let mut o = timed(title, 8 + hour);
            o = Owned::new(&o.title, o.when, location, None, people);
            o
        })
}

proptest! {
    #[test]
    fn event_ids_round_trip(bits in any::<u128>()) {
        let id = Uuid::from_u128(bits);
        let event_id = event_id_for(id);
        prop_assert!(is_valid_event_id(&event_id));
        prop_assert_eq!(meeting_id_from_event_id(&event_id), Some(id));
    }

    #[test]
    fn mapping_round_trips_through_an_event(o in arb_owned()) {
        let body = o.insert_body(Uuid::from_u128(1), &BTreeMap::new());
        let back = Owned::from_event(&body, None).unwrap();
        prop_assert_eq!(back.hash(), o.hash());
        prop_assert_eq!(back, o);
    }

    /// Merging is idempotent: merging the result again with either side gives the result,
    /// which is why a rerun after a crash between the two writes of a merge converges.
    #[test]
    fn merge_is_idempotent(base in arb_owned(), crm in arb_owned(), remote in arb_owned(), crm_wins in any::<bool>()) {
        let winner = if crm_wins { Side::Crm } else { Side::Remote };
        let m = merge(&base, &crm, &remote, winner).result;
        prop_assert_eq!(&merge(&base, &crm, &m, winner).result, &m);
        prop_assert_eq!(&merge(&base, &m, &remote, winner).result, &m);
        // No change on one side: the other side's state.
        prop_assert_eq!(merge(&base, &base, &remote, winner).result, remote.clone());
        prop_assert_eq!(merge(&base, &crm, &base, winner).result, crm.clone());
    }
}
