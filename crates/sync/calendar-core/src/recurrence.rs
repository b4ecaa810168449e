//! A series' occurrences in a window, for showing it: its `recurrence` lines (RFC 5545
//! `RRULE`, `EXDATE`, `RDATE`, as Google gives them: content lines without `DTSTART`)
//! expanded from the series' first start **in the series' time zone** (a weekly 09:00 in
//! Europe/Amsterdam stays 09:00 there across a DST change: its UTC instant moves), then
//! Google's exceptions applied: a cancelled occurrence goes, a moved or edited one is shown
//! where it is now (even when the series had put it outside the window), and occurrences
//! that are CRM meetings now (`hidden`) go, the meeting showing them.
//!
//! The expansion is the `rrule` crate's (RFC 5545, maintained, time zones through
//! `chrono-tz`): it handles `COUNT`/`UNTIL`, `BYDAY`/`BYMONTHDAY` (a month without a 31st
//! has no occurrence, as RFC 5545 says and Google does), `EXDATE`/`RDATE` with `TZID` or
//! `VALUE=DATE`, and all-day series (`DTSTART;VALUE=DATE`).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rrule::RRuleSet;

use crate::link::OriginalStart;

/// At most this many occurrences of one series are expanded for one window (a rule every
/// minute over a year would otherwise be half a million).
pub const MAX_OCCURRENCES: u16 = 1000;

/// When something is: timed (instants) or all-day (the first day, the day after the last).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    Timed {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
    AllDay {
        first: NaiveDate,
        after: NaiveDate,
    },
}

impl Span {
    /// True when it overlaps [`from`, `to`) (an all-day span: the days those instants fall
    /// on in UTC, one more each side, so that any zone's days are covered).
    fn overlaps(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        match *self {
            Span::Timed { start, end } => {
                start < to && (end > from || (start == end && start >= from))
            }
            Span::AllDay { first, after } => {
                first <= to.date_naive() + Duration::days(1)
                    && after >= from.date_naive() - Duration::days(1)
            }
        }
    }
}

/// A series as stored: its first occurrence, the zone its start is in, its lines.
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    pub first: Span,
    /// An IANA zone (the event's `start.timeZone`, else its calendar's); UTC without one.
    pub time_zone: Option<&'a str>,
    pub recurrence: &'a [String],
}

/// An instance Google changed: moved or edited (`now`), or cancelled (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    pub original: OriginalStart,
    pub now: Option<Span>,
}

/// One occurrence to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    /// Where the series puts it: its name (Google's instance id is made from it).
    pub original: OriginalStart,
    pub span: Span,
    /// The index of its exception in the caller's list, when it is one (shown as changed).
    pub exception: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecurrenceError {
    #[error("unknown time zone {0:?}")]
    Zone(String),
    #[error("the series' recurrence cannot be read: {0}")]
    Rule(String),
}

/// The rule set: `DTSTART` from the first start (a date for an all-day series, the local
/// time with its `TZID` for a timed one), then the series' lines.
fn rule_set(series: &Series) -> Result<RRuleSet, RecurrenceError> {
    let zone: chrono_tz::Tz = match series.time_zone {
        Some(name) => name
            .parse()
            .map_err(|_| RecurrenceError::Zone(name.to_string()))?,
        None => chrono_tz::UTC,
    };
    let mut text = match series.first {
        Span::AllDay { first, .. } => format!("DTSTART;VALUE=DATE:{}", first.format("%Y%m%d")),
        Span::Timed { start, .. } => format!(
            "DTSTART;TZID={}:{}",
            zone.name(),
            start.with_timezone(&zone).format("%Y%m%dT%H%M%S")
        ),
    };
    for line in series.recurrence {
        let line = line.trim();
        // Only the lines that make occurrences: a line of another kind is not ours to read.
        if ["RRULE", "EXDATE", "RDATE", "EXRULE"]
            .iter()
            .any(|name| line.starts_with(name))
        {
            text.push('\n');
            text.push_str(line);
        }
    }
    text.parse::<RRuleSet>()
        .map_err(|e| RecurrenceError::Rule(e.to_string()))
}

/// The occurrences of `series` that overlap [`from`, `to`), in order of where they are now:
/// the series' own (without those that have an exception or are `hidden`), and the moved
/// exceptions that are now in the window. At most [`MAX_OCCURRENCES`] of the series' own.
pub fn occurrences(
    series: &Series,
    exceptions: &[Exception],
    hidden: &[OriginalStart],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Occurrence>, RecurrenceError> {
    let set = rule_set(series)?;
    let (length, all_day) = match series.first {
        Span::Timed { start, end } => ((end - start).max(Duration::zero()), false),
        Span::AllDay { first, after } => ((after - first).max(Duration::days(1)), true),
    };
    // An occurrence that starts before `from` may still run into it; a day's margin for
    // all-day ones (their dates are read in UTC here).
    let margin = length + Duration::days(if all_day { 2 } else { 0 }) + Duration::seconds(1);
    let utc = rrule::Tz::UTC;
    let set = set
        .after((from - margin).with_timezone(&utc))
        .before((to + Duration::days(if all_day { 2 } else { 0 })).with_timezone(&utc));
    let changed = |original: &OriginalStart| {
        exceptions.iter().any(|e| &e.original == original) || hidden.contains(original)
    };
    let mut out: Vec<Occurrence> = set
        .all(MAX_OCCURRENCES)
        .dates
        .into_iter()
        .map(|at| {
            if all_day {
                let first = at.date_naive();
                let after = first + length;
                (OriginalStart::Date(first), Span::AllDay { first, after })
            } else {
                let start = at.with_timezone(&Utc);
                (
                    OriginalStart::Instant(start),
                    Span::Timed {
                        start,
                        end: start + length,
                    },
                )
            }
        })
        .filter(|(original, span)| span.overlaps(from, to) && !changed(original))
        .map(|(original, span)| Occurrence {
            original,
            span,
            exception: None,
        })
        .collect();
    for (i, exception) in exceptions.iter().enumerate() {
        let Some(span) = exception.now else { continue };
        if span.overlaps(from, to) && !hidden.contains(&exception.original) {
            out.push(Occurrence {
                original: exception.original.clone(),
                span,
                exception: Some(i),
            });
        }
    }
    out.sort_by_key(|o| match o.span {
        Span::Timed { start, .. } => (start, o.original.clone()),
        Span::AllDay { first, .. } => (
            first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(),
            o.original.clone(),
        ),
    });
    Ok(out)
}
