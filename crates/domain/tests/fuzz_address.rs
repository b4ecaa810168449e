//! Fuzzing (property tests with generators) of the domain crate's parsers of hostile input:
//! addresses and mailboxes, domains, match keys, the privacy rules' entries and verdicts,
//! message ids, task titles, file names, the text rule.
//!
//! Each property runs `THREADLINE_FUZZ_CASES` cases (default 1000: 1.5–3 s in debug on
//! 2 cores, the whole file). A long run, for instance before a release (about 2 min):
//!
//! ```sh
//! THREADLINE_FUZZ_CASES=1000000 cargo test --release -p threadline-domain --test fuzz_address
//! ```
//!
//! Inputs are bounded in size, so every case ends; the properties are "never panics", the
//! round trips and idempotence that the modules promise, and the privacy rules' consistency.
//! A failure found here becomes a plain `#[test]` at the end of this file.

use proptest::prelude::*;
use threadline_domain::address::{normalize_domain, parse_mailbox, EmailAddress};
use threadline_domain::api::MatchStatus;
use threadline_domain::file_name::{check_name, to_valid_name};
use threadline_domain::matching::{lookup_keys, resolve};
use threadline_domain::message::{
    legacy_hex_from_sync, message_identity, normalize_message_id, task_title_from_subject,
    MAX_MESSAGE_ID_CHARS, MAX_TASK_TITLE_CHARS,
};
use threadline_domain::privacy::{
    domain_covers, parse_internal_domain, NeverLogKind, NeverLogRule, NeverLogValue, PrivacyRules,
    PrivacyVerdict, RuleScope,
};
use threadline_domain::text::{self, Lines};

fn cases() -> u32 {
    std::env::var("THREADLINE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

// ---------------------------------------------------------------------------------------
// Generators

/// Any string of up to `max` characters, weighted towards unusual characters (proptest's
/// `char` strategy favours controls, surrogates' neighbours, bidi and the like).
fn any_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..max).prop_map(String::from_iter)
}

fn piece(options: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(options).prop_map(str::to_string)
}

const LOCAL_PIECES: &[&str] = &[
    "ann",
    "Ann",
    "LEE",
    ".",
    "..",
    "+",
    "news",
    "o'neil",
    "!#$%&'*/=?^_`{|}~-",
    "ä",
    "李",
    "ß",
    "İ",
    "Σ",
    "é",
    "\u{301}",
    "\u{202e}",
    "\u{200b}",
    " ",
    "@",
    "\"",
    "\\",
    "(c)",
    ",",
    "<",
    ">",
    "\t",
    "\u{0}",
    "\u{ff0e}",
    "x",
];
const QUOTED_PIECES: &[&str] = &[
    "ann", " ", "@", ",", "\\\"", "\\\\", "\\", "\"", "Lee", "李", "\u{202e}", "<", ">", "(c)",
    ".", "+tag",
];
const LABELS: &[&str] = &[
    "acme",
    "ACME",
    "Acme",
    "mail",
    "co",
    "uk",
    "com",
    "org",
    "nl",
    "gmail",
    "googlemail",
    "GMail",
    "bücher",
    "BÜCHER",
    "例え",
    "テスト",
    "xn--bcher-kva",
    "xn--",
    "xn--zz9",
    "xn--11b4c3d",
    "-x",
    "x-",
    "a-b",
    "123",
    "0",
    "ıstanbul",
    "ﬀ",
    "\u{200d}",
    "github",
    "io",
    "blogspot",
    "",
    " ",
    "%",
    "_",
];
const SEPARATORS: &[&str] = &[".", ".", ".", "\u{3002}", "\u{ff0e}", "\u{ff61}", "..", ""];

/// A local part: unquoted pieces, a quoted string, or a very long run.
fn local_part() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec(piece(LOCAL_PIECES), 1..8).prop_map(|p| p.concat()),
        2 => prop::collection::vec(piece(QUOTED_PIECES), 0..6)
            .prop_map(|p| format!("\"{}\"", p.concat())),
        1 => (1usize..300).prop_map(|n| "a".repeat(n)),
        1 => any_text(12),
    ]
}

/// A domain label: a known tricky one, an ASCII run that may be too long, or anything.
fn label() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => piece(LABELS),
        2 => "[a-zA-Z0-9-]{1,70}",
        1 => any_text(6),
    ]
}

fn domain() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((label(), piece(SEPARATORS)), 0..5),
        label(),
    )
        .prop_map(|(labels, last)| {
            let mut d = String::new();
            for (l, sep) in labels {
                d.push_str(&l);
                d.push_str(&sep);
            }
            d.push_str(&last);
            d
        })
}

/// An address as people and pages write them: pieces, whitespace around, sometimes a
/// trailing dot or a comment.
fn address_text() -> impl Strategy<Value = String> {
    (
        local_part(),
        domain(),
        piece(&["", "", " ", "\t", "\n"]),
        piece(&["", "", "", ".", " (work)", "@", "@acme.com"]),
    )
        .prop_map(|(local, domain, ws, tail)| format!("{ws}{local}@{domain}{tail}{ws}"))
}

const NAME_PIECES: &[&str] = &[
    "Ann",
    "Lee",
    " ",
    "  ",
    "\"Lee, Ann\"",
    "'Ann'",
    "\"",
    "\\\"",
    "\\",
    "<",
    ">",
    "(c)",
    "\u{202e}",
    "\u{200b}",
    "\t",
    "\n",
    "李",
    ",",
    "'",
    "=?utf-8?q?Ann?=",
];

fn mailbox_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            prop::collection::vec(piece(NAME_PIECES), 0..6),
            address_text(),
            piece(&[" <", "<", " < "]),
            piece(&[">", ">", "> ", ""]),
        )
            .prop_map(|(name, addr, open, close)| format!("{}{open}{addr}{close}", name.concat())),
        address_text(),
        any_text(40),
    ]
}

const ID_PIECES: &[&str] = &[
    "#",
    "<",
    ">",
    " ",
    "msg-f:",
    "msg-a:r",
    "thread-f:",
    "undefined",
    "1602441164947422913",
    "18446744073709551615",
    "18446744073709551616",
    "0",
    "00",
    "163d03bfda277ec1",
    "ABCDEF",
    "-",
    "@",
    "mail.example.com",
    "\u{0}",
    "\u{202e}",
    "é",
    "r123",
];

fn id_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::collection::vec(piece(ID_PIECES), 0..6).prop_map(|p| p.concat()),
        1 => any_text(30),
        1 => (500usize..530).prop_map(|n| format!("<{}@x>", "a".repeat(n))),
    ]
}

// ---------------------------------------------------------------------------------------
// Checks shared by the properties

/// What every parsed address must satisfy.
fn check_address(a: &EmailAddress) -> Result<(), TestCaseError> {
    let shown = a.to_string();
    prop_assert!(shown.chars().count() <= 254, "too long: {shown}");
    prop_assert!(
        a.domain()
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'),
        "domain not lowercase ASCII: {shown}"
    );
    // Normalising a normalised address changes nothing.
    let again = EmailAddress::parse(&shown);
    prop_assert_eq!(again.as_ref(), Ok(a), "reparse of {}", shown);
    prop_assert_eq!(normalize_domain(a.domain()), Ok(a.domain().to_string()));
    // The domain in capitals is the same address.
    let upper = format!("{}@{}", a.local(), a.domain().to_ascii_uppercase());
    prop_assert_eq!(EmailAddress::parse(&upper), Ok(a.clone()));
    // The match key is stable: an address itself, with the same key.
    let key = a.match_key();
    let keyed = EmailAddress::parse(&key);
    prop_assert!(
        keyed.is_ok(),
        "the match key {key} of {shown} does not parse"
    );
    prop_assert_eq!(keyed.unwrap().match_key(), key.clone());
    prop_assert_eq!(again.unwrap().match_key(), key);
    if let Some(stripped) = a.tag_stripped() {
        prop_assert_eq!(stripped.domain(), a.domain());
        prop_assert!(!stripped.local().contains('+'));
        prop_assert_eq!(
            EmailAddress::parse(&stripped.to_string()),
            Ok(stripped.clone())
        );
        prop_assert_eq!(stripped.tag_stripped(), None);
    }
    Ok(())
}

/// The privacy rules' consistency around one valid address.
fn check_privacy(a: &EmailAddress, sub: &str) -> Result<(), TestCaseError> {
    let domain = a.domain();
    // A domain entry covers the domain and every subdomain form of it.
    if let Ok(entry) = NeverLogValue::parse(domain) {
        prop_assert_eq!(entry.kind(), NeverLogKind::Domain);
        prop_assert_eq!(entry.value(), domain);
        prop_assert!(entry.matches(a), "{} does not cover {}", domain, a);
        for written in [
            format!("@{domain}"),
            format!("{domain}."),
            format!(" {} ", domain.to_ascii_uppercase()),
        ] {
            prop_assert_eq!(
                NeverLogValue::parse(&written),
                Ok(entry.clone()),
                "{}",
                written
            );
        }
        prop_assert_eq!(
            NeverLogValue::stored(NeverLogKind::Domain, entry.value()),
            Some(entry.clone())
        );
        for sep in [".", "\u{3002}"] {
            let deeper = format!("{}@{sub}{sep}{domain}", a.local());
            if let Ok(deeper) = EmailAddress::parse(&deeper) {
                prop_assert!(
                    entry.matches(&deeper),
                    "{} does not cover {}",
                    domain,
                    deeper
                );
                let rules = PrivacyRules::new::<&str>(&[], vec![rule(entry.clone())], Vec::new());
                prop_assert!(matches!(
                    rules.verdict(&deeper),
                    Some(PrivacyVerdict::NeverLog(_))
                ));
            }
        }
        // Not a subdomain: a longer name that only ends the same way.
        if let Ok(lookalike) = EmailAddress::parse(&format!("{}@x{domain}", a.local())) {
            prop_assert!(
                !entry.matches(&lookalike),
                "{} covers {}",
                domain,
                lookalike
            );
        }
        // As an internal domain (unless free-mail): a colleague, unless the user's own.
        if let Ok(internal) = parse_internal_domain(domain) {
            let rules = PrivacyRules::new::<&str>(&[], Vec::new(), vec![internal.clone()]);
            prop_assert_eq!(rules.verdict(a), Some(PrivacyVerdict::Colleague(&internal)));
            let own = PrivacyRules::new(&[a.to_string()], Vec::new(), vec![internal]);
            prop_assert_eq!(own.verdict(a), Some(PrivacyVerdict::Own));
        }
    }
    // An address entry covers the address, its spellings, and its +tag forms.
    let entry = NeverLogValue::parse(&a.to_string());
    prop_assert!(entry.is_ok(), "{} is not a valid entry: {:?}", a, entry);
    let entry = entry.unwrap();
    prop_assert_eq!(entry.kind(), NeverLogKind::Address);
    prop_assert!(entry.matches(a));
    prop_assert_eq!(
        NeverLogValue::stored(NeverLogKind::Address, entry.value()),
        Some(entry.clone())
    );
    if !a.local().contains('+') && !a.local().starts_with('"') {
        let tagged = format!("{}+{sub}@{domain}", a.local());
        if let Ok(tagged) = EmailAddress::parse(&tagged) {
            prop_assert!(entry.matches(&tagged), "{} does not cover {}", a, tagged);
        }
    }
    Ok(())
}

fn rule(value: NeverLogValue) -> NeverLogRule {
    NeverLogRule {
        id: uuid::Uuid::nil(),
        scope: RuleScope::Organisation,
        value,
    }
}

// ---------------------------------------------------------------------------------------
// Properties

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn any_string_as_an_address(s in any_text(300)) {
        if let Ok(a) = EmailAddress::parse(&s) {
            check_address(&a)?;
        }
        if let Ok(d) = normalize_domain(&s) {
            prop_assert_eq!(normalize_domain(&d), Ok(d.clone()));
        }
        let _ = parse_mailbox(&s);
        let _ = NeverLogValue::parse(&s);
        let _ = parse_internal_domain(&s);
    }

    #[test]
    fn written_addresses(s in address_text(), sub in label()) {
        if let Ok(a) = EmailAddress::parse(&s) {
            check_address(&a)?;
            check_privacy(&a, &sub)?;
            // An entry typed as the address's domain was written (IDNA, capitals, Unicode
            // full stops) is the entry of its normalised domain.
            let written = s.trim().rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
            if let Ok(entry) = NeverLogValue::parse(written) {
                prop_assert_eq!(Ok(entry), NeverLogValue::parse(a.domain()), "{:?}", written);
            }
        }
    }

    #[test]
    fn very_long_inputs(n in 0usize..3000, filler in piece(&["a", "ä", "李", ".", "a.", "\""])) {
        let long = filler.repeat(n);
        for s in [format!("{long}@acme.com"), format!("ann@{long}.com"), format!("ann@acme.{long}"), long.clone()] {
            if let Ok(a) = EmailAddress::parse(&s) {
                check_address(&a)?;
            }
            let _ = parse_mailbox(&format!("\"{long}\" <{s}>"));
            let _ = NeverLogValue::parse(&s);
        }
    }

    #[test]
    fn mailboxes(s in mailbox_text()) {
        if let Ok(m) = parse_mailbox(&s) {
            check_address(&m.address)?;
            if let Some(name) = &m.name {
                prop_assert!(!name.is_empty());
                prop_assert_eq!(name.trim(), name.as_str());
                prop_assert!(
                    !name.chars().any(|c| c.is_control() || text::is_bidi_control(c)),
                    "name keeps a control or bidi character: {:?}", name
                );
            }
        }
    }

    #[test]
    fn domain_entries_and_coverage(parent in domain(), child in domain()) {
        // Total on any strings, and the same answer as the definition.
        let covers = domain_covers(&parent, &child);
        let expected = child == parent || child.ends_with(&format!(".{parent}"));
        prop_assert_eq!(covers, expected, "{:?} {:?}", parent, child);
        if let Ok(entry) = NeverLogValue::parse(&parent) {
            prop_assert_eq!(NeverLogValue::parse(entry.value()), Ok(entry.clone()));
        }
    }

    #[test]
    fn lookups_and_verdicts(raw in prop::collection::vec(prop_oneof![address_text(), any_text(20)], 0..12)) {
        let keys = lookup_keys(&raw);
        let mut unique = keys.clone();
        unique.sort();
        unique.dedup();
        prop_assert_eq!(unique.len(), keys.len(), "duplicate keys");
        let never: Vec<NeverLogRule> = raw
            .iter()
            .take(2)
            .filter_map(|r| NeverLogValue::parse(r).ok())
            .map(rule)
            .collect();
        let rules = PrivacyRules::new(&raw[raw.len().min(3)..], never, vec!["acme.com".to_string()]);
        let verdicts = resolve(&raw, &[], &rules, &|_| None);
        prop_assert_eq!(verdicts.len(), raw.len());
        for (r, v) in raw.iter().zip(&verdicts) {
            let parsed = EmailAddress::parse(r);
            prop_assert_eq!(v.status == MatchStatus::Invalid, parsed.is_err());
            prop_assert_eq!(v.normalized.clone(), parsed.ok().map(|a| a.to_string()));
        }
    }

    #[test]
    fn message_ids(s in id_text()) {
        if let Ok(id) = normalize_message_id(&s) {
            prop_assert!(!id.is_empty());
            prop_assert!(id.chars().count() <= MAX_MESSAGE_ID_CHARS);
            prop_assert!(!id.chars().any(|c| c.is_whitespace() || c.is_control()));
            // One stored form: normalising it again changes nothing.
            prop_assert_eq!(normalize_message_id(&id), Ok(id.clone()), "from {:?}", s);
        }
        let _ = legacy_hex_from_sync(&s);
    }

    #[test]
    fn gmail_identities(legacy in prop::option::of(id_text()), sync in prop::option::of(id_text()), n in any::<u64>()) {
        if let Some(identity) = message_identity(legacy.as_deref(), sync.as_deref()) {
            prop_assert_eq!(identity.all.first(), Some(&identity.primary));
            for id in &identity.all {
                prop_assert_eq!(normalize_message_id(id).is_ok(), true, "{:?}", id);
            }
        }
        let hex = format!("{n:x}");
        prop_assert_eq!(legacy_hex_from_sync(&format!("#msg-f:{n}")), Some(hex.clone()));
        prop_assert_eq!(normalize_message_id(&format!(" #msg-f:{n} ")), Ok(hex.clone()));
        prop_assert_eq!(normalize_message_id(&format!("{n:016X}")), Ok(hex));
    }

    #[test]
    fn wire_dates(s in prop_oneof![
        any_text(40),
        prop::collection::vec(piece(&["2026", "-", "12", "07", "T", "t", " ", ":", "15", "60", "03", ".", "123456789", "1234567890", "Z", "z", "+", "01:00", "24:00", "é", "李", "+0", "0"]), 0..16).prop_map(|p| p.concat()),
    ], secs in -62_000_000_000i64..250_000_000_000, nanos in 0u32..1_000_000_000) {
        // Any text: no panic; what parses is what chrono reads too.
        if let Some(t) = threadline_domain::date::parse_rfc3339(&s) {
            prop_assert_eq!(s.parse::<chrono::DateTime<chrono::Utc>>().ok(), Some(t), "{:?}", s);
        }
        if let Some(d) = threadline_domain::date::parse_ymd(&s) {
            prop_assert_eq!(s.parse::<chrono::NaiveDate>().ok(), Some(d), "{:?}", s);
        }
        // Every instant chrono writes is read back exactly.
        let instant = chrono::DateTime::from_timestamp(secs, nanos).unwrap();
        let text = serde_json::to_string(&instant).unwrap();
        prop_assert_eq!(threadline_domain::date::parse_rfc3339(text.trim_matches('"')), Some(instant));
        prop_assert_eq!(threadline_domain::date::parse_ymd(&instant.date_naive().to_string()), Some(instant.date_naive()));
    }

    #[test]
    fn task_titles(s in prop_oneof![any_text(300), prop::collection::vec(piece(&["Re:", "RE :", "Fwd:", "Re[2]:", "AW:", " ", "\t", "\u{0}", "Offer", "…", "李"]), 0..80).prop_map(|p| p.concat())]) {
        let title = task_title_from_subject(&s);
        prop_assert!(!title.is_empty());
        prop_assert!(title.chars().count() <= MAX_TASK_TITLE_CHARS);
        prop_assert!(!title.chars().any(char::is_control));
        prop_assert_eq!(task_title_from_subject(&title), title.clone(), "from {:?}", s);
    }

    #[test]
    fn attachment_names_become_valid(raw in prop_oneof![any_text(400), (0usize..400, piece(&["a", "é", "李", ".", " ", "/", "CON", ".pdf", "\u{202e}"])).prop_map(|(n, p)| p.repeat(n))], fallback in any_text(20)) {
        let name = to_valid_name(&raw, &fallback);
        prop_assert_eq!(check_name(&name), Ok(()), "{:?} from {:?}", name, raw);
        prop_assert_eq!(to_valid_name(&name, "x"), name.clone(), "not idempotent");
    }

    #[test]
    fn long_names_keep_their_start(
        start in piece(&["CON", "con.", "Nul .", "COM1.", "LPT9", "AUX.x", "report", "李"]),
        filler in piece(&["a", "é", "李", " ", ".", "x.y"]),
        n in prop_oneof![0usize..300, 240usize..260],
        ext in piece(&["", ".pdf", ".tar.gz", ".", " "]),
    ) {
        // A name made of valid characters only is never thrown away for the fallback,
        // however long it is and whatever its first part.
        let raw = format!("{start}{}{ext}", filler.repeat(n));
        let name = to_valid_name(&raw, "fallback.bin");
        prop_assert_eq!(check_name(&name), Ok(()));
        prop_assert_ne!(name.as_str(), "fallback.bin", "{:?} was lost", raw);
    }

    #[test]
    fn the_text_rule(s in any_text(200)) {
        let single = text::refused_char(&s, Lines::Single);
        prop_assert_eq!(single.is_some(), s.chars().any(text::is_refused) || s.chars().any(|c| matches!(c, '\n' | '\r' | '\t')));
        if let Some(c) = single.or(text::refused_char(&s, Lines::Multi)) {
            prop_assert!(!text::describe(c).is_empty());
            prop_assert!(!text::char_message("name", c, Lines::Single).is_empty());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Regressions: inputs the properties above failed on, fixed.

/// `normalize_message_id` stripped one `#` and one pair of brackets only, so its output
/// was not always its own normal form: `##` gave `#` (which is refused as empty), `<<a>>`
/// gave `<a>` (which gives `a`), `<#a@x>` gave `#a@x`. A stored id that normalises to
/// something else no longer meets the same id sent again.
#[test]
fn message_id_normal_form_is_a_fixed_point() {
    for (raw, expected) in [
        ("##", Err(())),
        ("# <>", Err(())),
        ("<<a@x>>", Ok("a@x")),
        ("<#a@x>", Ok("a@x")),
        ("#<#msg-f:1602441164947422913>", Ok("163d03bfda277ec1")),
        ("< <a@x> >", Ok("a@x")),
    ] {
        let got = normalize_message_id(raw);
        assert_eq!(got.as_deref().map_err(|_| ()), expected, "{raw:?}");
        if let Ok(id) = got {
            assert_eq!(normalize_message_id(&id), Ok(id.clone()), "{raw:?}");
        }
    }
}

/// `to_valid_name` put the `_` in front of a device name after cutting the name to the
/// limit, so a long name starting with one (`CON.aaa…`, 255 bytes or more) came out one
/// byte too long, failed the check, and was replaced by the fallback whole.
#[test]
fn long_device_names_are_cut_not_lost() {
    for raw in [
        format!("CON.{}", "a".repeat(251)),
        format!("con.{}", "a".repeat(400)),
        format!("COM1 .{}.pdf", "李".repeat(100)),
    ] {
        let name = to_valid_name(&raw, "fallback.bin");
        assert_eq!(check_name(&name), Ok(()), "{raw:?}");
        assert!(name.starts_with('_'), "{raw:?} gave {name:?}");
        assert!(name.len() <= 255);
    }
}
