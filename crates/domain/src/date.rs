//! Dates and times on the wire, as the server writes them with chrono: RFC 3339's
//! `full-date` (`YYYY-MM-DD`) and `date-time` (`2026-12-07T15:03:04.123456Z`). Read here in
//! the answers the WASM core decodes, rather than by chrono's general format parser, whose
//! strftime and RFC 2822 machinery was about 9 kB of the content script's gzip budget
//! (measured). Requests the server reads keep chrono's own parser.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer};

/// `YYYY-MM-DD` (a year of four or more digits, with an optional sign, as chrono writes
/// years outside 0–9999), or None when it is not exactly that or not a real date.
pub fn parse_ymd(s: &str) -> Option<NaiveDate> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => (1, s),
    };
    let mut parts = rest.split('-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || year.len() < 4
        || month.len() != 2
        || day.len() != 2
        || ![year, month, day]
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let year: i32 = year.parse().ok()?;
    NaiveDate::from_ymd_opt(sign * year, month.parse().ok()?, day.parse().ok()?)
}

/// RFC 3339 `date-time`: `full-date`, `T` (or `t`, or a space), `HH:MM:SS`, an optional
/// fraction of 1 to 9 digits, then `Z` (or `z`) or `±HH:MM`; a leap second (`:60`) as
/// chrono keeps it. None when it is not exactly that or not a real instant.
pub fn parse_rfc3339(s: &str) -> Option<DateTime<Utc>> {
    let t = s.find(['T', 't', ' '])?;
    let date = parse_ymd(&s[..t])?;
    let rest = &s[t + 1..];
    let digits = |p: &str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit());
    let (clock, rest) = (rest.get(..8)?, &rest[8.min(rest.len())..]);
    let (h, m, sec) = (clock.get(0..2)?, clock.get(3..5)?, clock.get(6..8)?);
    if !(digits(h) && digits(m) && digits(sec)) || &clock[2..3] != ":" || &clock[5..6] != ":" {
        return None;
    }
    let (fraction, zone) = match rest.strip_prefix('.') {
        Some(f) => {
            let n = f.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 || n > 9 {
                return None;
            }
            (&f[..n], &f[n..])
        }
        None => ("", rest),
    };
    let nanos: u32 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<9}").parse().ok()?
    };
    let offset_secs: i64 = match zone {
        "Z" | "z" => 0,
        _ => {
            let sign = match zone.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, om) = (zone.get(1..3)?, zone.get(4..6)?);
            if zone.len() != 6 || !digits(oh) || !digits(om) || &zone[3..4] != ":" {
                return None;
            }
            let (oh, om): (i64, i64) = (oh.parse().ok()?, om.parse().ok()?);
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    let (h, m, sec): (u32, u32, u32) = (h.parse().ok()?, m.parse().ok()?, sec.parse().ok()?);
    // A leap second is kept as chrono keeps it: the 59th second, past its billionth nano.
    let (sec, nanos) = if sec == 60 {
        (59, nanos + 1_000_000_000)
    } else {
        (sec, nanos)
    };
    let local = date.and_hms_nano_opt(h, m, sec, nanos)?;
    let utc = local.checked_sub_signed(chrono::TimeDelta::try_seconds(offset_secs)?)?;
    Some(DateTime::from_naive_utc_and_offset(utc, Utc))
}

/// `#[serde(deserialize_with)]` for a `date-time`.
pub fn rfc3339<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let s = String::deserialize(d)?;
    parse_rfc3339(&s)
        .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 date-time: {s:?}")))
}

/// `#[serde(deserialize_with)]` for an optional `full-date` (absent or null: None).
pub fn opt_ymd<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) => parse_ymd(&s)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("not a date (YYYY-MM-DD): {s:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_chrono_writes_and_nothing_else() {
        for date in [
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(),
            NaiveDate::from_ymd_opt(1, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(12345, 6, 7).unwrap(),
            NaiveDate::from_ymd_opt(-44, 3, 15).unwrap(),
            NaiveDate::MAX,
            NaiveDate::MIN,
        ] {
            assert_eq!(parse_ymd(&date.to_string()), Some(date), "{date}");
        }
        for bad in [
            "",
            "2026",
            "2026-12",
            "2026-12-1",
            "2026-1-01",
            "26-12-01",
            "2026-13-01",
            "2023-02-29",
            "2026-12-01 ",
            " 2026-12-01",
            "2026-12-01T00:00:00Z",
            "2026/12/01",
            "2026-12-01-01",
            "+-2026-12-01",
            "２０２６-12-01",
            "2026-12-0x",
            "-",
        ] {
            assert_eq!(parse_ymd(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn agrees_with_chrono_on_full_dates() {
        // Every day of a leap year and a common one, and the edges of each month.
        let mut day = NaiveDate::from_ymd_opt(2023, 1, 1).unwrap();
        while day < NaiveDate::from_ymd_opt(2025, 1, 1).unwrap() {
            let text = day.format("%Y-%m-%d").to_string();
            assert_eq!(parse_ymd(&text), text.parse::<NaiveDate>().ok(), "{text}");
            day = day.succ_opt().unwrap();
        }
    }

    #[test]
    fn reads_date_times_as_chrono_does() {
        use chrono::{SecondsFormat, TimeZone};
        let instants = [
            Utc.with_ymd_and_hms(2026, 12, 7, 15, 3, 4).unwrap(),
            Utc.timestamp_opt(1_765_119_784, 123_456_789).unwrap(),
            Utc.timestamp_opt(0, 1).unwrap(),
            Utc.with_ymd_and_hms(2024, 2, 29, 23, 59, 59).unwrap(),
        ];
        for instant in instants {
            for format in [
                SecondsFormat::Secs,
                SecondsFormat::Millis,
                SecondsFormat::Micros,
                SecondsFormat::Nanos,
                SecondsFormat::AutoSi,
            ] {
                for z in [true, false] {
                    let text = instant.to_rfc3339_opts(format, z);
                    // To the format's precision (Secs drops the fraction).
                    let read = parse_rfc3339(&text).expect(&text);
                    assert_eq!(read.timestamp(), instant.timestamp(), "{text}");
                    // What chrono's serde writes, and chrono's own reading agree too.
                    assert_eq!(parse_rfc3339(&text), text.parse::<DateTime<Utc>>().ok());
                }
            }
            let json = serde_json::to_string(&instant).unwrap();
            assert_eq!(parse_rfc3339(json.trim_matches('"')), Some(instant));
        }
        for (text, same_as) in [
            ("2026-12-07T16:03:04+01:00", "2026-12-07T15:03:04Z"),
            ("2026-12-07t10:03:04.5-05:00", "2026-12-07T15:03:04.5Z"),
            ("2026-12-07 15:03:04z", "2026-12-07T15:03:04Z"),
            ("2016-12-31T23:59:60Z", "2016-12-31T23:59:60Z"),
        ] {
            assert_eq!(
                parse_rfc3339(text),
                same_as.parse::<DateTime<Utc>>().ok(),
                "{text}"
            );
            assert!(parse_rfc3339(text).is_some(), "{text}");
        }
        for bad in [
            "",
            "2026-12-07",
            "2026-12-07T15:03Z",
            "2026-12-07T15:03:04",
            "2026-12-07T25:00:00Z",
            "2026-12-07T15:03:04.Z",
            "2026-12-07T15:03:04.1234567890Z",
            "2026-12-07T15:03:04+1:00",
            "2026-12-07T15:03:04+01:00:00",
            "2026-12-07T15:03:04 Z",
            "2026-12-07X15:03:04Z",
            "2026-12-07T15:03:04+24:00",
            "2026-12-07T1a:03:04Z",
            "2026-02-30T00:00:00Z",
            "2026-12-07T15:03:04.12ZZ",
            "2026-12-07T15:03:04é",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn deserializes_optional_dates() {
        #[derive(Deserialize)]
        struct T {
            #[serde(default, deserialize_with = "opt_ymd")]
            due: Option<NaiveDate>,
        }
        let read = |json: &str| serde_json::from_str::<T>(json).map(|t| t.due);
        assert_eq!(read("{}").unwrap(), None);
        assert_eq!(read(r#"{"due":null}"#).unwrap(), None);
        assert_eq!(
            read(r#"{"due":"2026-12-01"}"#).unwrap(),
            NaiveDate::from_ymd_opt(2026, 12, 1)
        );
        assert!(read(r#"{"due":"tomorrow"}"#).is_err());
    }
}
