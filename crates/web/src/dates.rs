//! Dates and times as the viewer reads them: in their IANA time zone (`users.time_zone`,
//! chosen in Settings → Profile or on the Planning; UTC until they choose one — the server
//! cannot know the browser's zone), with the month names and order of their language. Every
//! page formats through one [`Clock`] (the layout's `l.at(…)`, `l.day(…)`, `l.iso(…)`), and
//! shows an instant in `<time datetime="…">` with the UTC instant as the machine-readable value.

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};

use crate::i18n::{Lang, Words};

/// The viewer's zone, read with the tz database the CRM checks zone names with.
#[derive(Clone)]
pub struct Zone(jiff::tz::TimeZone);

impl Zone {
    /// `name`'s zone; UTC for a name the tz database does not know (it was checked when
    /// stored, so only a database without it gets here).
    pub fn named(name: &str) -> Zone {
        Zone(jiff::tz::TimeZone::get(name).unwrap_or(jiff::tz::TimeZone::UTC))
    }

    /// The local date and time of `t`.
    pub fn local(&self, t: DateTime<Utc>) -> (NaiveDate, String) {
        let Ok(ts) = jiff::Timestamp::from_second(t.timestamp()) else {
            return (t.date_naive(), t.format("%H:%M").to_string());
        };
        let civil = ts.to_zoned(self.0.clone()).datetime();
        let date = NaiveDate::from_ymd_opt(
            i32::from(civil.year()),
            civil.month() as u32,
            civil.day() as u32,
        )
        .unwrap_or_else(|| t.date_naive());
        (date, format!("{:02}:{:02}", civil.hour(), civil.minute()))
    }

    /// The instant `day` starts at, here.
    pub fn midnight(&self, day: NaiveDate) -> DateTime<Utc> {
        let civil = jiff::civil::date(day.year() as i16, day.month() as i8, day.day() as i8);
        civil
            .to_zoned(self.0.clone())
            .ok()
            .and_then(|z| DateTime::from_timestamp(z.timestamp().as_second(), 0))
            .unwrap_or_else(|| day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
    }
}

/// The viewer's zone and language: how a date or an instant is written on their pages.
#[derive(Clone)]
pub struct Clock {
    zone: Zone,
    w: &'static Words,
}

impl Clock {
    /// In the zone named `zone` (UTC without one).
    pub fn new(zone: Option<&str>, w: &'static Words) -> Clock {
        Clock {
            zone: Zone::named(zone.unwrap_or("UTC")),
            w,
        }
    }

    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    /// The viewer's date now.
    pub fn today(&self) -> NaiveDate {
        self.zone.local(Utc::now()).0
    }

    /// A date in the viewer's language: "7 December 2026", "7 december 2026", "7. Dezember 2026".
    pub fn day(&self, d: &NaiveDate) -> String {
        let month = self.w.months[d.month0() as usize];
        match self.w.lang {
            Lang::En | Lang::Nl => format!("{} {month} {}", d.day(), d.year()),
            Lang::De => format!("{}. {month} {}", d.day(), d.year()),
        }
    }

    /// An instant as the viewer's local date and time: "7 December 2026, 21:33"
    /// ("7 december 2026 21:33", "7. Dezember 2026, 21:33").
    pub fn at(&self, at: &DateTime<Utc>) -> String {
        let (date, time) = self.zone.local(*at);
        let day = self.day(&date);
        match self.w.lang {
            Lang::En | Lang::De => format!("{day}, {time}"),
            Lang::Nl => format!("{day} {time}"),
        }
    }

    /// An RFC 3339 instant as [`Clock::at`] writes it; the text itself if it is not one.
    pub fn at_text(&self, at: &str) -> String {
        match DateTime::parse_from_rfc3339(at) {
            Ok(t) => self.at(&t.with_timezone(&Utc)),
            Err(_) => at.to_string(),
        }
    }

    /// The UTC instant for `<time datetime>`.
    pub fn iso(at: &DateTime<Utc>) -> String {
        at.to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn an_instant_is_written_in_the_zone_and_language() {
        let t = at("2026-12-07T21:33:00Z");
        assert_eq!(
            Clock::new(None, Lang::En.words()).at(&t),
            "7 December 2026, 21:33"
        );
        let tokyo = Clock::new(Some("Asia/Tokyo"), Lang::Nl.words());
        assert_eq!(tokyo.at(&t), "8 december 2026 06:33");
        let berlin = Clock::new(Some("Europe/Berlin"), Lang::De.words());
        assert_eq!(berlin.at(&t), "7. Dezember 2026, 22:33");
    }

    #[test]
    fn the_offset_follows_a_clock_change() {
        let ams = Clock::new(Some("Europe/Amsterdam"), Lang::En.words());
        // 29 March 2026: 02:00 CET becomes 03:00 CEST.
        assert_eq!(ams.at(&at("2026-03-29T00:59:00Z")), "29 March 2026, 01:59");
        assert_eq!(ams.at(&at("2026-03-29T01:00:00Z")), "29 March 2026, 03:00");
    }

    #[test]
    fn an_unknown_zone_is_utc_and_a_bad_text_is_kept() {
        let c = Clock::new(Some("Nowhere/Else"), Lang::En.words());
        assert_eq!(c.at_text("2026-01-02T03:04:05Z"), "2 January 2026, 03:04");
        assert_eq!(c.at_text("soon"), "soon");
        assert_eq!(
            Clock::iso(&at("2026-01-02T03:04:05+01:00")),
            "2026-01-02T02:04:05Z"
        );
    }
}
