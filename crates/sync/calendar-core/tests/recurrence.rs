//! A series' occurrences in a window: golden lists, checked by hand against RFC 5545 and
//! Google's calendar (daily COUNT, weekly BYDAY with UNTIL, monthly BYMONTHDAY=31, EXDATE,
//! RDATE, a moved and a cancelled instance, converted occurrences, DST in Europe/Amsterdam).

use chrono::{DateTime, NaiveDate, Utc};
use threadline_calendar_core::link::OriginalStart;
use threadline_calendar_core::recurrence::{
    occurrences, Exception, Occurrence, RecurrenceError, Series, Span,
};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn timed(start: &str, end: &str) -> Span {
    Span::Timed {
        start: at(start),
        end: at(end),
    }
}

fn lines(l: &[&str]) -> Vec<String> {
    l.iter().map(|s| s.to_string()).collect()
}

/// The starts of what is shown, RFC 3339 in UTC (or the dates).
fn starts(found: &[Occurrence]) -> Vec<String> {
    found
        .iter()
        .map(|o| match o.span {
            Span::Timed { start, .. } => start.format("%Y-%m-%dT%H:%MZ").to_string(),
            Span::AllDay { first, .. } => first.to_string(),
        })
        .collect()
}

fn expand(
    first: Span,
    zone: Option<&str>,
    rule: &[&str],
    exceptions: &[Exception],
    hidden: &[OriginalStart],
    window: (&str, &str),
) -> Vec<Occurrence> {
    let recurrence = lines(rule);
    let series = Series {
        first,
        time_zone: zone,
        recurrence: &recurrence,
    };
    occurrences(&series, exceptions, hidden, at(window.0), at(window.1)).unwrap()
}

const JANUARY: (&str, &str) = ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z");

#[test]
fn daily_with_a_count() {
    let first = timed("2026-01-05T09:00:00Z", "2026-01-05T10:00:00Z");
    let found = expand(
        first,
        Some("UTC"),
        &["RRULE:FREQ=DAILY;COUNT=3"],
        &[],
        &[],
        JANUARY,
    );
    assert_eq!(
        starts(&found),
        [
            "2026-01-05T09:00Z",
            "2026-01-06T09:00Z",
            "2026-01-07T09:00Z"
        ]
    );
    // Each keeps the series' length, and is named by where the series puts it.
    assert_eq!(
        found[1],
        Occurrence {
            original: OriginalStart::Instant(at("2026-01-06T09:00:00Z")),
            span: timed("2026-01-06T09:00:00Z", "2026-01-06T10:00:00Z"),
            exception: None,
        }
    );
}

#[test]
fn weekly_on_two_days_until_a_date() {
    // Monday 5 January, 14:00 in Amsterdam (13:00 UTC, winter), Mondays and Wednesdays
    // until the end of Wednesday 21 January.
    let first = timed("2026-01-05T13:00:00Z", "2026-01-05T13:30:00Z");
    let rule = ["RRULE:FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20260121T225959Z"];
    let found = expand(first, Some("Europe/Amsterdam"), &rule, &[], &[], JANUARY);
    assert_eq!(
        starts(&found),
        [
            "2026-01-05T13:00Z",
            "2026-01-07T13:00Z",
            "2026-01-12T13:00Z",
            "2026-01-14T13:00Z",
            "2026-01-19T13:00Z",
            "2026-01-21T13:00Z",
        ]
    );
}

#[test]
fn monthly_on_the_31st_skips_the_short_months() {
    let first = Span::AllDay {
        first: day("2026-01-31"),
        after: day("2026-02-01"),
    };
    let window = ("2026-01-01T00:00:00Z", "2026-08-01T00:00:00Z");
    let rule = ["RRULE:FREQ=MONTHLY;BYMONTHDAY=31"];
    let found = expand(first, None, &rule, &[], &[], window);
    assert_eq!(
        starts(&found),
        ["2026-01-31", "2026-03-31", "2026-05-31", "2026-07-31"]
    );
    assert_eq!(found[0].original, OriginalStart::Date(day("2026-01-31")));
    assert_eq!(
        found[3].span,
        Span::AllDay {
            first: day("2026-07-31"),
            after: day("2026-08-01")
        }
    );
}

#[test]
fn an_exdate_removes_one_and_an_rdate_adds_one() {
    let first = timed("2026-01-05T08:00:00Z", "2026-01-05T09:00:00Z");
    let rule = [
        "RRULE:FREQ=WEEKLY;COUNT=4",
        "EXDATE;TZID=Europe/Amsterdam:20260112T090000",
        "RDATE;TZID=Europe/Amsterdam:20260114T090000",
    ];
    let found = expand(first, Some("Europe/Amsterdam"), &rule, &[], &[], JANUARY);
    assert_eq!(
        starts(&found),
        [
            "2026-01-05T08:00Z",
            "2026-01-14T08:00Z",
            "2026-01-19T08:00Z",
            "2026-01-26T08:00Z",
        ]
    );
    // All-day: EXDATE as a date.
    let first = Span::AllDay {
        first: day("2026-01-01"),
        after: day("2026-01-02"),
    };
    let rule = [
        "RRULE:FREQ=DAILY;UNTIL=20260105",
        "EXDATE;VALUE=DATE:20260103",
    ];
    let found = expand(first, None, &rule, &[], &[], JANUARY);
    assert_eq!(
        starts(&found),
        ["2026-01-01", "2026-01-02", "2026-01-04", "2026-01-05"]
    );
}

#[test]
fn a_moved_instance_is_shown_where_it_is_now_and_a_cancelled_one_not_at_all() {
    let first = timed("2026-01-05T09:00:00Z", "2026-01-05T10:00:00Z");
    let rule = ["RRULE:FREQ=DAILY;COUNT=4"];
    let exceptions = [
        // The 6th moved to the afternoon of the 9th (after the series' last day).
        Exception {
            original: OriginalStart::Instant(at("2026-01-06T09:00:00Z")),
            now: Some(timed("2026-01-09T15:00:00Z", "2026-01-09T16:30:00Z")),
        },
        // The 7th cancelled.
        Exception {
            original: OriginalStart::Instant(at("2026-01-07T09:00:00Z")),
            now: None,
        },
    ];
    let found = expand(first, None, &rule, &exceptions, &[], JANUARY);
    assert_eq!(
        starts(&found),
        [
            "2026-01-05T09:00Z",
            "2026-01-08T09:00Z",
            "2026-01-09T15:00Z"
        ]
    );
    assert_eq!(found[2].exception, Some(0));
    assert_eq!(
        found[2].original,
        OriginalStart::Instant(at("2026-01-06T09:00:00Z"))
    );
    // A window of the 9th only: the moved one, though the series put it on the 6th.
    let found = expand(
        first,
        None,
        &rule,
        &exceptions,
        &[],
        ("2026-01-09T00:00:00Z", "2026-01-10T00:00:00Z"),
    );
    assert_eq!(starts(&found), ["2026-01-09T15:00Z"]);
    // A window of the 6th: nothing (it is not there any more).
    let found = expand(
        first,
        None,
        &rule,
        &exceptions,
        &[],
        ("2026-01-06T00:00:00Z", "2026-01-07T00:00:00Z"),
    );
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn occurrences_that_are_meetings_now_are_left_to_the_meeting() {
    let first = timed("2026-01-05T09:00:00Z", "2026-01-05T10:00:00Z");
    let rule = ["RRULE:FREQ=DAILY;COUNT=3"];
    let moved = Exception {
        original: OriginalStart::Instant(at("2026-01-07T09:00:00Z")),
        now: Some(timed("2026-01-07T12:00:00Z", "2026-01-07T13:00:00Z")),
    };
    let hidden = [
        OriginalStart::Instant(at("2026-01-06T09:00:00Z")),
        OriginalStart::Instant(at("2026-01-07T09:00:00Z")),
    ];
    let found = expand(first, None, &rule, &[moved], &hidden, JANUARY);
    assert_eq!(starts(&found), ["2026-01-05T09:00Z"]);
}

#[test]
fn a_weekly_local_time_keeps_its_hour_across_both_dst_changes_in_amsterdam() {
    // Fridays 09:00–10:00 in Amsterdam from 20 March 2026: CET (UTC+1) until Sunday 29
    // March, CEST (UTC+2) until Sunday 25 October, CET again.
    let first = timed("2026-03-20T08:00:00Z", "2026-03-20T09:00:00Z");
    let rule = ["RRULE:FREQ=WEEKLY;BYDAY=FR"];
    let spring = ("2026-03-16T00:00:00Z", "2026-04-06T00:00:00Z");
    let found = expand(first, Some("Europe/Amsterdam"), &rule, &[], &[], spring);
    assert_eq!(
        starts(&found),
        [
            "2026-03-20T08:00Z",
            "2026-03-27T08:00Z",
            "2026-04-03T07:00Z"
        ]
    );
    let autumn = ("2026-10-19T00:00:00Z", "2026-11-02T00:00:00Z");
    let found = expand(first, Some("Europe/Amsterdam"), &rule, &[], &[], autumn);
    assert_eq!(starts(&found), ["2026-10-23T07:00Z", "2026-10-30T08:00Z"]);
    // Each keeps its hour's length.
    assert_eq!(
        found[1].span,
        timed("2026-10-30T08:00:00Z", "2026-10-30T09:00:00Z")
    );
    // The same rule read in UTC would stay at 08:00 UTC: the zone matters.
    let found = expand(first, Some("UTC"), &rule, &[], &[], spring);
    assert_eq!(starts(&found)[2], "2026-04-03T08:00Z");
}

#[test]
fn an_occurrence_running_into_the_window_is_in_it() {
    // 22:00–02:00 nightly: the one of the 5th runs into the 6th.
    let first = timed("2026-01-05T22:00:00Z", "2026-01-06T02:00:00Z");
    let rule = ["RRULE:FREQ=DAILY;COUNT=2"];
    let window = ("2026-01-06T00:00:00Z", "2026-01-06T12:00:00Z");
    let found = expand(first, None, &rule, &[], &[], window);
    assert_eq!(starts(&found), ["2026-01-05T22:00Z"]);
}

#[test]
fn an_unreadable_series_is_an_error_not_a_panic() {
    let first = timed("2026-01-05T09:00:00Z", "2026-01-05T10:00:00Z");
    let (from, to) = (at(JANUARY.0), at(JANUARY.1));
    let read = |zone: Option<&str>, rule: &str| {
        let recurrence = lines(&[rule]);
        let series = Series {
            first,
            time_zone: zone,
            recurrence: &recurrence,
        };
        occurrences(&series, &[], &[], from, to)
    };
    assert!(matches!(
        read(Some("Mars/Olympus_Mons"), "RRULE:FREQ=DAILY"),
        Err(RecurrenceError::Zone(_))
    ));
    assert!(matches!(
        read(None, "RRULE:FREQ=SOMETIMES"),
        Err(RecurrenceError::Rule(_))
    ));
    // A rule every minute is cut at the limit, not expanded without end.
    let found = read(None, "RRULE:FREQ=MINUTELY").unwrap();
    assert_eq!(
        found.len(),
        usize::from(threadline_calendar_core::recurrence::MAX_OCCURRENCES)
    );
}
