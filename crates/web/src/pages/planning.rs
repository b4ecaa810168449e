//! Planning: a day, a week (Monday to Sunday, the default) or a month (its whole weeks) of
//! the organisation's CRM meetings and the viewer's
//! busy times from their outside calendars (grey; "Busy" without a title when the event is
//! private), in the viewer's time zone ([`preferences::time_zone`]: an IANA name they choose
//! here, UTC until they do — the server cannot know the browser's zone). A list per day: one
//! column each on a wide screen, one under the other on a phone.
//!
//! The busy times come from the registry's integrations ([`Integration::busy_times`]) and
//! one converts into a meeting through the integration that owns it
//! ([`Integration::convert_busy`]); "Sync now" is the Integrations page's, for each of the
//! viewer's connections.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Deserialize;
use threadline_connections::{self as connections, Owner, Status};
use threadline_crm::accounts::preferences;
use threadline_crm::records::meetings::{self, Meeting};
use threadline_http::AppState;
use threadline_sync_engine::BusyTime;
use uuid::Uuid;

use crate::dates::Zone;
use crate::error::WebError;
use crate::i18n::{Lang, Words};
use crate::layout::{render, Layout, Section};
use crate::session::Viewer;

/// The Monday of `day`'s week.
pub fn monday_of(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

/// Something on a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub busy: bool,
    pub title: String,
    /// "09:00–10:00"; "All day" for an all-day one (also a day in the middle of a long one).
    pub time: String,
    /// Sorts the day: all-day first, then by start.
    pub sort: (u8, String),
    /// A meeting's page.
    pub href: Option<String>,
    /// A busy time that converts into a meeting.
    pub convert_id: Option<Uuid>,
    /// One occurrence of a repeating series: its name, sent with the conversion.
    pub occurrence: Option<String>,
    /// One occurrence of a repeating series (marked as such).
    pub repeats: bool,
}

/// A day of the week with what is on it.
pub struct Day {
    pub date: NaiveDate,
    /// In a month's view, a day of the weeks around it.
    pub outside: bool,
    pub heading: String,
    pub today: bool,
    pub items: Vec<Item>,
}

/// When something is: timed (instants) or all-day (first day, day after the last).
#[derive(Debug, Clone, Copy)]
pub enum When {
    Timed(DateTime<Utc>, DateTime<Utc>),
    AllDay(NaiveDate, NaiveDate),
}

impl When {
    fn of(
        start_at: Option<DateTime<Utc>>,
        end_at: Option<DateTime<Utc>>,
        start_date: Option<NaiveDate>,
        end_date: Option<NaiveDate>,
    ) -> Option<When> {
        match (start_at, end_at, start_date, end_date) {
            (Some(s), Some(e), _, _) => Some(When::Timed(s, e.max(s))),
            (_, _, Some(s), Some(e)) => Some(When::AllDay(s, e.max(s.succ_opt()?))),
            _ => None,
        }
    }
}

/// Places `what` on the days of the week starting `monday` in `zone`: every day it covers
/// (a timed one that ends at midnight does not cover the next day), with its time on that
/// day.
pub fn place(
    days: &mut [Day],
    zone: &Zone,
    when: When,
    make: impl Fn(String, (u8, String)) -> Item,
    all_day: &str,
) {
    for day in days.iter_mut() {
        let date = day.date;
        match when {
            When::AllDay(first, after) => {
                if first <= date && date < after {
                    day.items
                        .push(make(all_day.to_string(), (0, String::new())));
                }
            }
            When::Timed(start, end) => {
                let (day_start, day_end) =
                    (zone.midnight(date), zone.midnight(date + Duration::days(1)));
                let covers =
                    start < day_end && (end > day_start || (start == end && start >= day_start));
                if !covers {
                    continue;
                }
                let from = if start >= day_start {
                    zone.local(start).1
                } else {
                    "…".to_string()
                };
                let to = if end <= day_end {
                    zone.local(end).1
                } else {
                    "…".to_string()
                };
                let sort = (1, zone.local(start.max(day_start)).1);
                day.items.push(make(format!("{from}–{to}"), sort));
            }
        }
    }
}

#[derive(Template)]
#[template(path = "planning/week.html")]
struct WeekPage {
    l: Layout,
    w: &'static Words,
    title: String,
    days: Vec<Day>,
    repeating: Vec<Item>,
    previous: NaiveDate,
    next: NaiveDate,
    week: NaiveDate,
    view: View,
    zone: String,
    /// The viewer's live connections: (id, provider's name), each with its Sync now.
    connections: Vec<(Uuid, &'static str)>,
    notice: Option<&'static str>,
    problem: Option<&'static str>,
}

#[derive(Debug, Default, Deserialize)]
pub struct WeekQuery {
    /// Any day of the period to show (`YYYY-MM-DD`); today without.
    week: Option<String>,
    view: Option<String>,
    done: Option<String>,
}

/// How much the planning shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Day,
    Week,
    Month,
}

impl View {
    pub const ALL: [View; 3] = [View::Day, View::Week, View::Month];

    fn parse(raw: Option<&str>) -> View {
        match raw {
            Some("day") => View::Day,
            Some("month") => View::Month,
            _ => View::Week,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            View::Day => "day",
            View::Week => "week",
            View::Month => "month",
        }
    }

    pub fn label(self, w: &Words) -> &'static str {
        match self {
            View::Day => w.view_day,
            View::Week => w.view_week,
            View::Month => w.view_month,
        }
    }

    /// The days shown around `day` (first, day after the last), the period's first day, and
    /// a day of the previous and of the next period.
    pub fn span(self, day: NaiveDate) -> (NaiveDate, NaiveDate, NaiveDate, NaiveDate, NaiveDate) {
        match self {
            View::Day => (
                day,
                day + Duration::days(1),
                day,
                day - Duration::days(1),
                day + Duration::days(1),
            ),
            View::Week => {
                let monday = monday_of(day);
                let after = monday + Duration::days(7);
                (monday, after, monday, monday - Duration::days(7), after)
            }
            View::Month => {
                let first = day.with_day(1).unwrap_or(day);
                let next = first
                    .checked_add_months(chrono::Months::new(1))
                    .unwrap_or(first + Duration::days(31));
                let previous = first
                    .checked_sub_months(chrono::Months::new(1))
                    .unwrap_or(first - Duration::days(28));
                let last = next - Duration::days(1);
                (
                    monday_of(first),
                    monday_of(last) + Duration::days(7),
                    first,
                    previous,
                    next,
                )
            }
        }
    }
}

fn internal<E: std::fmt::Display>(lang: Lang) -> impl Fn(E) -> WebError {
    move |e| WebError::Internal(lang, e.to_string())
}

/// A day's heading: "Monday 7 December".
fn heading(w: &Words, day: NaiveDate) -> String {
    let weekday = w.weekdays[day.weekday().num_days_from_monday() as usize];
    let month = w.months[day.month0() as usize];
    format!("{weekday} {} {month}", day.day())
}

pub async fn week(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(query): Query<WeekQuery>,
) -> Result<Response, WebError> {
    let lang = viewer.lang;
    let w = viewer.words();
    let mut conn = app.db().pool().acquire().await.map_err(internal(lang))?;
    let zone_name = preferences::time_zone(&mut conn, viewer.user_id)
        .await
        .map_err(WebError::crm(lang))?;
    let zone = Zone::named(&zone_name);
    let today = zone.local(Utc::now()).0;
    let asked = query
        .week
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .unwrap_or(today);
    let view = View::parse(query.view.as_deref());
    let (monday, after, start, previous, next) = view.span(asked);
    let (from, to) = (zone.midnight(monday), zone.midnight(after));

    let mut days: Vec<Day> = (0..(after - monday).num_days())
        .map(|i| {
            let date = monday + Duration::days(i);
            Day {
                date,
                outside: view == View::Month && date.month() != start.month(),
                heading: heading(w, date),
                today: date == today,
                items: Vec::new(),
            }
        })
        .collect();
    let found = meetings::in_range(&mut conn, &viewer, (from, to), (monday, after))
        .await
        .map_err(WebError::crm(lang))?;
    for meeting in &found {
        place_meeting(&mut days, &zone, meeting, w);
    }
    let mut repeating = Vec::new();
    for integration in app.integrations().iter() {
        let busy = integration
            .busy_times(&mut conn, &viewer, from, to)
            .await
            .map_err(WebError::crm(lang))?;
        for b in busy {
            if b.repeats && b.start_at.is_none() && b.start_date.is_none() {
                repeating.push(busy_item(&b, w, String::new(), (0, String::new())));
            } else {
                place_busy(&mut days, &zone, &b, w);
            }
        }
    }
    for day in &mut days {
        day.items.sort_by(|a, b| a.sort.cmp(&b.sort));
    }
    let connections = connections::list_for(&mut conn, Owner::from(&*viewer))
        .await
        .map_err(internal(lang))?
        .into_iter()
        .filter(|c| c.status != Status::Disconnected)
        .filter(|c| app.integrations().of(c.provider).next().is_some())
        .map(|c| (c.id, c.provider.label()))
        .collect();
    let (notice, problem) = match query.done.as_deref() {
        Some("converted") => (Some(w.converted_notice), None),
        Some("sync") => (Some(w.sync_started), None),
        Some("time-zone") => (None, Some(w.time_zone_refused)),
        Some("nothing") => (None, Some(w.nothing_to_sync)),
        _ => (None, None),
    };
    Ok(render(&WeekPage {
        l: Layout::for_viewer(&viewer, w.planning_title, Section::Planning),
        w,
        title: match view {
            View::Day => heading(w, start),
            View::Week => format!("{} {}", w.week_of, heading(w, start)),
            View::Month => format!("{} {}", w.months[start.month0() as usize], start.year()),
        },
        days,
        repeating,
        previous,
        next,
        week: start,
        view,
        zone: zone_name,
        connections,
        notice,
        problem,
    }))
}

fn place_meeting(days: &mut [Day], zone: &Zone, m: &Meeting, w: &Words) {
    let Some(when) = When::of(m.start_at, m.end_at, m.start_date, m.end_date) else {
        return;
    };
    let make = |time: String, sort: (u8, String)| Item {
        busy: false,
        title: m.title.clone(),
        time,
        sort,
        href: Some(format!("/meetings/{}", m.id)),
        convert_id: None,
        occurrence: None,
        repeats: false,
    };
    place(days, zone, when, make, w.all_day);
}

fn busy_item(b: &BusyTime, w: &Words, time: String, sort: (u8, String)) -> Item {
    Item {
        busy: true,
        title: b.title.clone().unwrap_or_else(|| w.busy.to_string()),
        time,
        sort,
        href: None,
        convert_id: b.convertible.then_some(b.id),
        occurrence: b.occurrence.clone().filter(|_| b.convertible),
        repeats: b.repeats,
    }
}

fn place_busy(days: &mut [Day], zone: &Zone, b: &BusyTime, w: &Words) {
    let Some(when) = When::of(b.start_at, b.end_at, b.start_date, b.end_date) else {
        return;
    };
    place(
        days,
        zone,
        when,
        |time, sort| busy_item(b, w, time, sort),
        w.all_day,
    );
}

#[derive(Debug, Deserialize)]
pub struct ConvertForm {
    csrf: String,
    /// The week to come back to.
    week: Option<String>,
    /// One occurrence of a series: its name (`BusyTime::occurrence`).
    occurrence: Option<String>,
}

/// Converts the viewer's busy time `id` (or one occurrence of it) into a meeting, through the
/// integration that owns it.
pub async fn convert(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
    Form(form): Form<ConvertForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let lang = viewer.lang;
    for integration in app.integrations().iter() {
        let made = integration
            .convert_busy(app.db(), &viewer, id, form.occurrence.as_deref())
            .await
            .map_err(WebError::crm(lang))?;
        if made.is_some() {
            let week = back_to(form.week.as_deref());
            return Ok(
                Redirect::to(&format!("/planning?week={week}&done=converted")).into_response(),
            );
        }
    }
    Err(WebError::NotFound(lang))
}

/// A week to come back to, as a date (anything else: this week).
fn back_to(week: Option<&str>) -> String {
    week.and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .map(|d| d.to_string())
        .unwrap_or_default()
}

#[derive(Debug, Deserialize)]
pub struct ZoneForm {
    csrf: String,
    time_zone: String,
    week: Option<String>,
}

pub async fn set_time_zone(
    State(app): State<AppState>,
    viewer: Viewer,
    Form(form): Form<ZoneForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let week = back_to(form.week.as_deref());
    match preferences::set_time_zone(app.db(), viewer.user_id, Some(&form.time_zone)).await {
        Ok(()) => Ok(Redirect::to(&format!("/planning?week={week}")).into_response()),
        Err(e) if e.code() == Some("invalid_field") => {
            Ok(Redirect::to(&format!("/planning?week={week}&done=time-zone")).into_response())
        }
        Err(e) => Err(WebError::from_crm(e, viewer.lang)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn week(monday: NaiveDate) -> Vec<Day> {
        (0..7)
            .map(|i| Day {
                date: monday + Duration::days(i),
                outside: false,
                heading: String::new(),
                today: false,
                items: Vec::new(),
            })
            .collect()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn item(time: String, sort: (u8, String)) -> Item {
        Item {
            busy: false,
            title: "x".into(),
            time,
            sort,
            href: None,
            convert_id: None,
            occurrence: None,
            repeats: false,
        }
    }

    fn placed(days: &[Day]) -> Vec<(NaiveDate, String)> {
        days.iter()
            .flat_map(|d| d.items.iter().map(move |i| (d.date, i.time.clone())))
            .collect()
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_late_utc_evening_is_the_next_morning_in_tokyo_and_the_same_evening_in_new_york() {
        let monday = monday_of(date("2026-12-09"));
        assert_eq!(monday, date("2026-12-07"));
        let when = When::Timed(at("2026-12-08T23:30:00Z"), at("2026-12-09T00:30:00Z"));
        let tokyo = Zone::named("Asia/Tokyo");
        let mut days = week(monday);
        place(&mut days, &tokyo, when, item, "All day");
        assert_eq!(
            placed(&days),
            vec![(date("2026-12-09"), "08:30–09:30".into())]
        );
        let new_york = Zone::named("America/New_York");
        let mut days = week(monday);
        place(&mut days, &new_york, when, item, "All day");
        assert_eq!(
            placed(&days),
            vec![(date("2026-12-08"), "18:30–19:30".into())]
        );
        // In UTC it crosses midnight: on both days, cut at midnight.
        let mut days = week(monday);
        place(&mut days, &Zone::named("UTC"), when, item, "All day");
        assert_eq!(
            placed(&days),
            vec![
                (date("2026-12-08"), "23:30–…".into()),
                (date("2026-12-09"), "…–00:30".into())
            ]
        );
    }

    #[test]
    fn all_day_spans_cover_their_days_and_the_end_is_exclusive() {
        let mut days = week(date("2026-12-07"));
        let when = When::AllDay(date("2026-12-06"), date("2026-12-09"));
        place(&mut days, &Zone::named("UTC"), when, item, "All day");
        assert_eq!(
            placed(&days),
            vec![
                (date("2026-12-07"), "All day".into()),
                (date("2026-12-08"), "All day".into())
            ]
        );
        // Ending at midnight: not on the next day.
        let mut days = week(date("2026-12-07"));
        let when = When::Timed(at("2026-12-07T22:00:00Z"), at("2026-12-08T00:00:00Z"));
        place(&mut days, &Zone::named("UTC"), when, item, "All day");
        assert_eq!(
            placed(&days),
            vec![(date("2026-12-07"), "22:00–00:00".into())]
        );
    }

    #[test]
    fn a_month_shows_its_whole_weeks_and_moves_by_months() {
        let (first, after, start, previous, next) = View::Month.span(date("2026-12-17"));
        assert_eq!((first, after), (date("2026-11-30"), date("2027-01-04")));
        assert_eq!(
            (start, previous, next),
            (date("2026-12-01"), date("2026-11-01"), date("2027-01-01"))
        );
        let (first, after, _, previous, next) = View::Day.span(date("2026-12-17"));
        assert_eq!((first, after), (date("2026-12-17"), date("2026-12-18")));
        assert_eq!((previous, next), (date("2026-12-16"), date("2026-12-18")));
    }

    #[test]
    fn midnight_follows_the_zone_across_a_clock_change() {
        let zone = Zone::named("Europe/Amsterdam");
        assert_eq!(
            zone.midnight(date("2026-03-29")),
            at("2026-03-28T23:00:00Z")
        );
        assert_eq!(
            zone.midnight(date("2026-03-30")),
            at("2026-03-29T22:00:00Z")
        );
    }
}
