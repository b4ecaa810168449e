//! The busy blocks of a window as the planning shows them: each series expanded into its
//! occurrences with its exceptions applied (`threadline_calendar_core::recurrence`).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use threadline_calendar_core::link::OriginalStart;
use threadline_calendar_core::recurrence::{self, Exception, Series, Span};
use threadline_sync_engine::BusyTime;

use crate::store::BusyBlock;

fn span_of(b: &BusyBlock) -> Option<Span> {
    match (b.start_at, b.end_at, b.start_date, b.end_date) {
        (Some(start), Some(end), _, _) => Some(Span::Timed { start, end }),
        (_, _, Some(first), Some(after)) => Some(Span::AllDay { first, after }),
        _ => None,
    }
}

/// An original start as the blocks store it: `YYYY-MM-DD`, or RFC 3339.
pub fn original_start(text: &str) -> Option<OriginalStart> {
    if text.len() == 10 {
        return NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .map(OriginalStart::Date);
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| OriginalStart::Instant(at.with_timezone(&Utc)))
}

/// An occurrence's name for converting it: as `original_start` is stored and the API's
/// `occurrence` takes it.
fn occurrence_name(start: &OriginalStart) -> String {
    match start {
        OriginalStart::Date(d) => d.format("%Y-%m-%d").to_string(),
        OriginalStart::Instant(at) => at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }
}

fn busy_time(b: &BusyBlock, span: Span) -> BusyTime {
    let (start_at, end_at, start_date, end_date) = match span {
        Span::Timed { start, end } => (Some(start), Some(end), None, None),
        Span::AllDay { first, after } => (None, None, Some(first), Some(after)),
    };
    BusyTime {
        id: b.id,
        title: b.title.clone().filter(|_| !b.private),
        start_at,
        end_at,
        start_date,
        end_date,
        repeats: false,
        occurrence: None,
        convertible: true,
    }
}

fn overlaps(span: &Span, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
    match *span {
        Span::Timed { start, end } => start < to && end > from,
        Span::AllDay { first, after } => {
            first < to.date_naive() + chrono::Duration::days(1) && after > from.date_naive()
        }
    }
}

/// A series by (calendar, event id, connection).
type SeriesKey<'a> = (&'a str, &'a str, uuid::Uuid);

/// `blocks` (a window's, with every series and exception) as the busy times of [`from`,
/// `to`).
pub fn expand(blocks: &[BusyBlock], from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<BusyTime> {
    let is_series = |b: &BusyBlock| !b.recurrence.is_empty();
    let series: HashMap<SeriesKey, &BusyBlock> = blocks
        .iter()
        .filter(|b| is_series(b))
        .map(|b| {
            (
                (b.calendar_id.as_str(), b.event_id.as_str(), b.connection_id),
                b,
            )
        })
        .collect();
    let mut exceptions: HashMap<SeriesKey, Vec<(&BusyBlock, Exception)>> = HashMap::new();
    let mut out = Vec::new();
    for b in blocks.iter().filter(|b| !is_series(b)) {
        let of_series = b.series_id.as_deref().and_then(|s| {
            let key = (b.calendar_id.as_str(), s, b.connection_id);
            series.contains_key(&key).then_some(key)
        });
        let original = b.original_start.as_deref().and_then(original_start);
        match (of_series, original) {
            (Some(key), Some(original)) => {
                let now = if b.cancelled { None } else { span_of(b) };
                exceptions
                    .entry(key)
                    .or_default()
                    .push((b, Exception { original, now }));
            }
            // A lone block, or an exception whose series is not here.
            _ if b.cancelled => {}
            _ => {
                if let Some(span) = span_of(b).filter(|s| overlaps(s, from, to)) {
                    out.push(busy_time(b, span));
                }
            }
        }
    }
    for (key, s) in &series {
        let Some(first) = span_of(s) else { continue };
        let own = exceptions.remove(key).unwrap_or_default();
        let list: Vec<Exception> = own.iter().map(|(_, e)| e.clone()).collect();
        let hidden: Vec<OriginalStart> = s
            .converted_occurrences
            .iter()
            .filter_map(|t| original_start(t))
            .collect();
        let found = recurrence::occurrences(
            &Series {
                first,
                time_zone: s.time_zone.as_deref(),
                recurrence: &s.recurrence,
            },
            &list,
            &hidden,
            from,
            to,
        );
        match found {
            // An exception is its own block, converted as one; any other occurrence is
            // converted through the series, by its name.
            Ok(found) => out.extend(found.into_iter().map(|o| match o.exception {
                Some(i) => BusyTime {
                    repeats: true,
                    ..busy_time(own[i].0, o.span)
                },
                None => BusyTime {
                    repeats: true,
                    occurrence: Some(occurrence_name(&o.original)),
                    ..busy_time(s, o.span)
                },
            })),
            Err(e) => {
                tracing::warn!(series = %s.id, error = %e, "a series could not be expanded");
                out.push(BusyTime {
                    repeats: true,
                    convertible: false,
                    start_at: None,
                    end_at: None,
                    start_date: None,
                    end_date: None,
                    ..busy_time(s, first)
                });
            }
        }
    }
    out.sort_by_key(|b| {
        (
            b.start_at.or_else(|| {
                b.start_date
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|d| d.and_utc())
            }),
            b.id,
        )
    });
    out
}
