//! Gmail message and thread identities as the page shows them.
//!
//! A message element carries `data-legacy-message-id` (16 hex digits) and/or
//! `data-message-id` (`#msg-f:<decimal>` for server messages, `#msg-a:r<digits>` for a
//! message just created in this browser). The decimal of `msg-f:` equals the legacy hex
//! value, so both forms reduce to one key; `msg-a:r…` ids are kept as they are and resolved
//! later, when the page adds the legacy id.
//!
//! Attribute values are trimmed; an empty value or the literal `undefined` (what a page
//! script writes for a missing value) counts as absent. Legacy hex ids are lowercased and
//! written without leading zeros, the form [`legacy_hex_from_sync`] produces.

/// All the ids one message is known by, best first (legacy hex first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageIdentity {
    /// The id to track under: legacy hex if known, else the sync id without '#'.
    pub primary: String,
    /// Every id of the message, including `primary`.
    pub all: Vec<String>,
    /// True when the only id is a client-side `msg-a:r…` id.
    pub is_local: bool,
}

/// Builds the identity from the two attributes; None when neither is usable.
///
/// A legacy id must be 1–16 hex digits; a sync id must be `msg-f:<decimal u64>` or
/// `msg-a:r<letters, digits, '-'>` (at most 64 characters after `r`); anything else is
/// ignored. Should the legacy id and a `msg-f:` id disagree (a stale page), the legacy id
/// is trusted and the hex derived from the `msg-f:` id is left out; the sync id is kept.
pub fn message_identity(legacy: Option<&str>, sync: Option<&str>) -> Option<MessageIdentity> {
    let legacy = legacy.and_then(present).and_then(canonical_legacy_hex);
    let sync = sync.and_then(present).and_then(SyncId::parse);

    let mut all = Vec::with_capacity(3);
    all.extend(legacy.clone());
    match &sync {
        Some(SyncId::Server { id, hex }) => {
            if legacy.is_none() {
                all.push(hex.clone());
            }
            all.push(id.clone());
        }
        Some(SyncId::Local(id)) => all.push(id.clone()),
        None => {}
    }
    let is_local = legacy.is_none() && matches!(sync, Some(SyncId::Local(_)));
    Some(MessageIdentity {
        primary: all.first()?.clone(),
        all,
        is_local,
    })
}

/// `msg-f:1602441164947422913` or `thread-f:…` (with or without '#') → `163d03bfda277ec1`.
pub fn legacy_hex_from_sync(sync: &str) -> Option<String> {
    let id = present(sync)?;
    let decimal = id
        .strip_prefix("msg-f:")
        .or_else(|| id.strip_prefix("thread-f:"))?;
    parse_decimal_u64(decimal).map(|n| format!("{n:x}"))
}

/// Longest message id the server keeps, in characters.
pub const MAX_MESSAGE_ID_CHARS: usize = 512;

/// The one stored form of any id of a message, shared by the extension and the server so
/// that both sides meet: surrounding whitespace, a leading `#` and the angle brackets of an
/// RFC `Message-ID` are dropped (as long as any is left: `<#x>` and `<<x>>` are `x`); a
/// `msg-f:` id becomes its legacy hex form; a legacy hex id (1–16 hex digits) is lowercased
/// without leading zeros, as [`message_identity`] writes it. Other ids (`msg-a:r…`, RFC
/// Message-IDs, which are case-sensitive) are kept as they are. Idempotent: the stored form
/// normalises to itself. The error says why `raw` is not an id.
pub fn normalize_message_id(raw: &str) -> Result<String, String> {
    // Until nothing changes, so that the stored form is its own normal form (`##x`,
    // `<<x>>` or `<#x>` would otherwise come out as `#x` or `<x>`, which normalise to `x`).
    let mut s = raw.trim();
    loop {
        let stripped = s.strip_prefix('#').unwrap_or(s);
        let stripped = match stripped.strip_prefix('<').and_then(|s| s.strip_suffix('>')) {
            Some(inner) => inner.trim(),
            None => stripped,
        };
        if stripped.len() == s.len() {
            break;
        }
        s = stripped;
    }
    if s.is_empty() {
        return Err("the message id is empty".to_string());
    }
    let chars = s.chars().count();
    if chars > MAX_MESSAGE_ID_CHARS {
        return Err(format!(
            "the message id is too long ({chars} characters; at most {MAX_MESSAGE_ID_CHARS})"
        ));
    }
    if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("the message id contains whitespace or a control character".to_string());
    }
    if s.starts_with("msg-f:") {
        if let Some(hex) = legacy_hex_from_sync(s) {
            return Ok(hex);
        }
    }
    Ok(canonical_legacy_hex(s).unwrap_or_else(|| s.to_string()))
}

/// Longest task title, in characters, including the closing "…" of a cut title.
pub const MAX_TASK_TITLE_CHARS: usize = 200;

/// Reply and forward prefixes, compared case-insensitively.
const SUBJECT_PREFIXES: &[&str] = &["re", "fwd", "fw", "aw", "wg", "sv", "antw", "doorst"];

/// Task title from a subject: strips reply/forward prefixes (Re:, Fwd:, Fw:, AW:, WG:, SV:,
/// Antw:, Doorst:), collapses whitespace, caps at 200 characters; "(no subject)" when empty.
///
/// Prefixes are stripped however often they repeat (`Re: Fwd: RE:`), also with a counter
/// (`Re[2]:`, `Re(3):`) or a space before the colon (`Re :`). Control characters count as
/// whitespace. A longer title is cut to 199 characters plus "…" (200 in all).
pub fn task_title_from_subject(subject: &str) -> String {
    let cleaned: String = subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut rest = cleaned.trim();
    while let Some(after) = strip_subject_prefix(rest) {
        rest = after.trim_start();
    }
    let title = rest.split_whitespace().collect::<Vec<_>>().join(" ");
    if title.is_empty() {
        return "(no subject)".to_string();
    }
    match title.char_indices().nth(MAX_TASK_TITLE_CHARS) {
        None => title,
        Some(_) => {
            let cut = title
                .char_indices()
                .nth(MAX_TASK_TITLE_CHARS - 1)
                .map_or(title.len(), |(i, _)| i);
            format!("{}…", title[..cut].trim_end())
        }
    }
}

// ---------------------------------------------------------------------------------------

/// The value without surrounding whitespace and a leading '#'; None when it is empty or
/// `undefined`.
fn present(value: &str) -> Option<&str> {
    let value = value.trim();
    let value = value.strip_prefix('#').unwrap_or(value);
    (!value.is_empty() && value != "undefined").then_some(value)
}

/// 1–16 hex digits → lowercase, without leading zeros.
fn canonical_legacy_hex(hex: &str) -> Option<String> {
    if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok().map(|n| format!("{n:x}"))
}

/// Digits only (no sign), fitting a u64.
fn parse_decimal_u64(decimal: &str) -> Option<u64> {
    if decimal.is_empty() || !decimal.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    decimal.parse().ok()
}

enum SyncId {
    /// `msg-f:<decimal>` (canonical decimal) and its legacy hex.
    Server { id: String, hex: String },
    /// `msg-a:r…`, as it is.
    Local(String),
}

impl SyncId {
    fn parse(id: &str) -> Option<SyncId> {
        if let Some(decimal) = id.strip_prefix("msg-f:") {
            let n = parse_decimal_u64(decimal)?;
            return Some(SyncId::Server {
                id: format!("msg-f:{n}"),
                hex: format!("{n:x}"),
            });
        }
        let rest = id.strip_prefix("msg-a:r")?;
        let valid = !rest.is_empty()
            && rest.len() <= 64
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        valid.then(|| SyncId::Local(id.to_string()))
    }
}

/// `Re: x` → `x`; `RE[2] : x` → `x`; None when `subject` does not start with a prefix.
fn strip_subject_prefix(subject: &str) -> Option<&str> {
    SUBJECT_PREFIXES.iter().find_map(|prefix| {
        let head = subject.get(..prefix.len())?;
        if !head.eq_ignore_ascii_case(prefix) {
            return None;
        }
        let mut rest = &subject[prefix.len()..];
        if let Some(counter) = rest.strip_prefix(['[', '(']) {
            let digits = counter.bytes().take_while(u8::is_ascii_digit).count();
            let close = counter[digits..].strip_prefix([']', ')'])?;
            if digits == 0 {
                return None;
            }
            rest = close;
        }
        rest.trim_start_matches(' ').strip_prefix(':')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities() {
        // (legacy, sync) → (primary, all, is_local); None when nothing is usable.
        type Expected = Option<(&'static str, &'static [&'static str], bool)>;
        #[rustfmt::skip]
        let rows: &[(Option<&str>, Option<&str>, Expected)] = &[
            // Both, agreeing: one legacy key plus the sync id.
            (Some("163d03bfda277ec1"), Some("#msg-f:1602441164947422913"), Some(("163d03bfda277ec1", &["163d03bfda277ec1", "msg-f:1602441164947422913"], false))),
            // Legacy hex is lowercased; leading zeros dropped.
            (Some(" 163D03BFDA277EC1 "), None, Some(("163d03bfda277ec1", &["163d03bfda277ec1"], false))),
            (Some("00ab"), None, Some(("ab", &["ab"], false))),
            (Some("f"), None, Some(("f", &["f"], false))),
            // msg-f alone: converted to legacy hex, which comes first.
            (None, Some("#msg-f:1602441164947422913"), Some(("163d03bfda277ec1", &["163d03bfda277ec1", "msg-f:1602441164947422913"], false))),
            (None, Some("msg-f:1602441164947422913"), Some(("163d03bfda277ec1", &["163d03bfda277ec1", "msg-f:1602441164947422913"], false))),
            (None, Some("#msg-f:0042"), Some(("2a", &["2a", "msg-f:42"], false))),
            // A just-sent message: local until the page adds the legacy id.
            (None, Some("#msg-a:r-7673660351152959857"), Some(("msg-a:r-7673660351152959857", &["msg-a:r-7673660351152959857"], true))),
            (None, Some("msg-a:r123"), Some(("msg-a:r123", &["msg-a:r123"], true))),
            (Some("undefined"), Some("#msg-a:r123"), Some(("msg-a:r123", &["msg-a:r123"], true))),
            (Some("163d03bfda277ec1"), Some("#msg-a:r123"), Some(("163d03bfda277ec1", &["163d03bfda277ec1", "msg-a:r123"], false))),
            // Disagreeing ids (a stale page): the legacy id wins, the sync id is kept.
            (Some("abc"), Some("#msg-f:1602441164947422913"), Some(("abc", &["abc", "msg-f:1602441164947422913"], false))),
            // Absent and unusable values.
            (None, None, None),
            (Some(""), Some(""), None),
            (Some("undefined"), Some("undefined"), None),
            (Some("  "), Some("#"), None),
            (Some("#undefined"), Some("#undefined"), None),
            (Some("163d03bfda277ec1a"), None, None),
            (Some("xyz"), None, None),
            (Some("+ab"), None, None),
            (Some("-1"), None, None),
            (None, Some("#msg-f:"), None),
            (None, Some("#msg-f:12a"), None),
            (None, Some("#msg-f:+12"), None),
            (None, Some("#msg-f:18446744073709551616"), None),
            (None, Some("#thread-f:1602441164947422913"), None),
            (None, Some("#msg-a:"), None),
            (None, Some("#msg-a:r"), None),
            (None, Some("#msg-a:r<script>"), None),
            (None, Some("#msg-a:r\u{202E}1"), None),
            (Some("\0"), Some("msg-x:1"), None),
            // An unusable sync id does not spoil a good legacy id.
            (Some("abc"), Some("#msg-f:nope"), Some(("abc", &["abc"], false))),
        ];
        for &(legacy, sync, expected) in rows {
            let identity = message_identity(legacy, sync);
            let expected = expected.map(|(primary, all, is_local)| MessageIdentity {
                primary: primary.to_string(),
                all: all.iter().map(|s| s.to_string()).collect(),
                is_local,
            });
            assert_eq!(identity, expected, "{legacy:?} / {sync:?}");
        }
        let long = "9".repeat(10_000);
        assert_eq!(
            message_identity(Some(&long), Some(&format!("#msg-a:r{long}"))),
            None
        );
    }

    #[test]
    fn the_stored_form_is_the_extensions_form() {
        // Every id the extension sends for a message is stored as one of that message's ids
        // (a `msg-f:` id as its legacy hex; the others as they are).
        for (legacy, sync) in [
            (Some("00163D03BFDA277E"), None),
            (Some("0000ab"), Some("#msg-f:171")),
            (None, Some("#msg-f:0042")),
            (Some("163d03bfda277ec1"), Some("#msg-a:r123")),
        ] {
            let identity = message_identity(legacy, sync).unwrap();
            for id in &identity.all {
                let stored = normalize_message_id(id).unwrap();
                assert!(identity.all.contains(&stored), "{id} → {stored}");
                if !id.starts_with("msg-f:") {
                    assert_eq!(&stored, id);
                }
            }
        }
        let rows = [
            ("00163d03bfda277e", "163d03bfda277e"),
            ("#00AB", "ab"),
            ("0", "0"),
            ("0000", "0"),
            ("#msg-f:1602441164947422913", "163d03bfda277ec1"),
            ("msg-f:0042", "2a"),
            ("<CAF=abc@mail.acme.com>", "CAF=abc@mail.acme.com"),
            (" < x@Y > ", "x@Y"),
            ("msg-a:r-9", "msg-a:r-9"),
            // Longer than 16 hex digits: not a legacy id, kept as it is.
            ("00163d03bfda277ec1", "00163d03bfda277ec1"),
        ];
        for (raw, stored) in rows {
            assert_eq!(normalize_message_id(raw).as_deref(), Ok(stored), "{raw:?}");
        }
        for bad in [
            "",
            "#",
            "<>",
            "a b",
            "a\u{0}b",
            &"x".repeat(MAX_MESSAGE_ID_CHARS + 1),
        ] {
            assert!(normalize_message_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn legacy_hex() {
        let rows = [
            ("msg-f:1602441164947422913", Some("163d03bfda277ec1")),
            ("#msg-f:1602441164947422913", Some("163d03bfda277ec1")),
            ("thread-f:1602441164947422913", Some("163d03bfda277ec1")),
            ("#thread-f:1602441164947422913", Some("163d03bfda277ec1")),
            (" #thread-f:1602441164947422913 ", Some("163d03bfda277ec1")),
            ("msg-f:1", Some("1")),
            ("msg-f:0", Some("0")),
            ("msg-f:255", Some("ff")),
            ("msg-f:18446744073709551615", Some("ffffffffffffffff")),
            ("msg-f:18446744073709551616", None),
            ("msg-f:", None),
            ("msg-f:-1", None),
            ("msg-f:+1", None),
            ("msg-f:1 2", None),
            ("msg-a:r123", None),
            ("thread-a:r123", None),
            ("1602441164947422913", None),
            ("undefined", None),
            ("", None),
        ];
        for (sync, expected) in rows {
            assert_eq!(legacy_hex_from_sync(sync).as_deref(), expected, "{sync:?}");
        }
    }

    #[test]
    fn task_titles() {
        let rows = [
            ("Quarterly numbers", "Quarterly numbers"),
            ("Re: Quarterly numbers", "Quarterly numbers"),
            ("RE: Fwd: re:  FW: Quarterly numbers", "Quarterly numbers"),
            ("Re: Fwd: RE: Quarterly numbers", "Quarterly numbers"),
            ("Re:Re:Quarterly numbers", "Quarterly numbers"),
            ("AW: WG: Angebot", "Angebot"),
            ("SV: Antw: Doorst: Offerte", "Offerte"),
            ("ANTW: doorst: offerte", "offerte"),
            ("Re[2]: Re(3): Quarterly numbers", "Quarterly numbers"),
            ("Re : Quarterly numbers", "Quarterly numbers"),
            ("  Quarterly \t\n numbers  ", "Quarterly numbers"),
            ("Re:\u{0}Quarterly\r\nnumbers", "Quarterly numbers"),
            // Not prefixes.
            ("Regarding: the numbers", "Regarding: the numbers"),
            ("Re numbers", "Re numbers"),
            ("Fwdx: numbers", "Fwdx: numbers"),
            ("Re[]: numbers", "Re[]: numbers"),
            ("Numbers, re: Q3", "Numbers, re: Q3"),
            ("Sv", "Sv"),
            // Empty.
            ("", "(no subject)"),
            ("   ", "(no subject)"),
            ("Re:", "(no subject)"),
            ("Re: Fwd:  ", "(no subject)"),
            ("Übersicht", "Übersicht"),
        ];
        for (subject, expected) in rows {
            assert_eq!(task_title_from_subject(subject), expected, "{subject:?}");
        }
    }

    #[test]
    fn task_title_cap() {
        let exactly = "a".repeat(MAX_TASK_TITLE_CHARS);
        assert_eq!(task_title_from_subject(&exactly), exactly);
        // Longer: 199 characters and "…".
        let over = "a".repeat(MAX_TASK_TITLE_CHARS + 1);
        assert_eq!(
            task_title_from_subject(&over),
            format!("{}…", "a".repeat(199))
        );
        // Cut on a character boundary, with multi-byte characters.
        let wide = "ü🎉".repeat(500);
        let title = task_title_from_subject(&format!("Re: {wide}"));
        assert_eq!(title.chars().count(), MAX_TASK_TITLE_CHARS);
        assert!(title.ends_with('…'));
        assert!(wide.starts_with(title.trim_end_matches('…')));
        // No space before the "…".
        let words = "word ".repeat(100);
        let title = task_title_from_subject(&words);
        assert_eq!(title, format!("{}…", ["word"; 40].join(" ")));
        // …also when the cut falls right after a space.
        let title = task_title_from_subject(&format!("abc {words}"));
        assert_eq!(title, format!("abc {}…", ["word"; 39].join(" ")));
        // A 10 kB subject.
        let huge = "x".repeat(10_000);
        assert_eq!(
            task_title_from_subject(&huge).chars().count(),
            MAX_TASK_TITLE_CHARS
        );
    }
}
