//! Which characters a text field may hold: the one character rule of every text the server
//! stores (record names, titles, notes, descriptions, token names, document names, search
//! queries), written once here.
//!
//! Refused everywhere:
//!
//! - control characters (Unicode `Cc`: C0 `U+0000`–`U+001F`, DEL `U+007F`, C1
//!   `U+0080`–`U+009F`): NUL truncates strings in C and SQLite's `LIKE`; ESC and CSI start
//!   terminal escape sequences; the rest are invisible;
//! - the bidirectional embeddings, overrides and isolates (`U+202A`–`U+202E`,
//!   `U+2066`–`U+2069`): they reorder what is shown (`invoice<U+202E>fdp.exe` shows as
//!   `invoiceexe.pdf`; "Trojan Source"); the marks (LRM, RLM, ALM) that right-to-left text
//!   needs stay allowed;
//! - `U+FEFF`, the byte order mark (invisible inside text), and the line and paragraph
//!   separators `U+2028`, `U+2029` (a line break is `\n`).
//!
//! A multi-line text ([`Lines::Multi`]: notes, descriptions, addresses) may also hold line
//! feeds, tabs and a carriage return that starts a `\r\n` line break. Everything else
//! (letters of every script, emoji and their joiners, punctuation, spaces) is allowed.

/// Whether a text may span lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// One line: names, titles, labels, search queries.
    Single,
    /// Several lines: `\n`, `\t` and `\r\n` allowed.
    Multi,
}

/// The first character of `text` that a text field must not hold, if any.
pub fn refused_char(text: &str, lines: Lines) -> Option<char> {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let allowed = match c {
            '\n' | '\t' => lines == Lines::Multi,
            '\r' => lines == Lines::Multi && chars.peek() == Some(&'\n'),
            c => !is_refused(c),
        };
        if !allowed {
            return Some(c);
        }
    }
    None
}

/// Whether `c` is refused in every text (the line breaks aside).
pub fn is_refused(c: char) -> bool {
    c.is_control() || is_bidi_control(c) || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}')
}

/// The bidirectional embeddings, overrides and isolates (not the marks LRM, RLM, ALM).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `U+202E (RIGHT-TO-LEFT OVERRIDE)`: a character as an error message names it (its code
/// point, and its Unicode name or alias when it is one this module refuses, or ASCII).
pub fn describe(c: char) -> String {
    match char_name(c) {
        Some(name) => format!("U+{:04X} ({name})", u32::from(c)),
        None => format!("U+{:04X}", u32::from(c)),
    }
}

/// The names of the C0 controls, by code point (Unicode name aliases).
const C0: [&str; 32] = [
    "NULL",
    "START OF HEADING",
    "START OF TEXT",
    "END OF TEXT",
    "END OF TRANSMISSION",
    "ENQUIRY",
    "ACKNOWLEDGE",
    "BELL",
    "BACKSPACE",
    "CHARACTER TABULATION",
    "LINE FEED",
    "LINE TABULATION",
    "FORM FEED",
    "CARRIAGE RETURN",
    "SHIFT OUT",
    "SHIFT IN",
    "DATA LINK ESCAPE",
    "DEVICE CONTROL ONE",
    "DEVICE CONTROL TWO",
    "DEVICE CONTROL THREE",
    "DEVICE CONTROL FOUR",
    "NEGATIVE ACKNOWLEDGE",
    "SYNCHRONOUS IDLE",
    "END OF TRANSMISSION BLOCK",
    "CANCEL",
    "END OF MEDIUM",
    "SUBSTITUTE",
    "ESCAPE",
    "FILE SEPARATOR",
    "GROUP SEPARATOR",
    "RECORD SEPARATOR",
    "UNIT SEPARATOR",
];

/// The names of the C1 controls, from U+0080 (Unicode name aliases).
const C1: [&str; 32] = [
    "PADDING CHARACTER",
    "HIGH OCTET PRESET",
    "BREAK PERMITTED HERE",
    "NO BREAK HERE",
    "INDEX",
    "NEXT LINE",
    "START OF SELECTED AREA",
    "END OF SELECTED AREA",
    "CHARACTER TABULATION SET",
    "CHARACTER TABULATION WITH JUSTIFICATION",
    "LINE TABULATION SET",
    "PARTIAL LINE FORWARD",
    "PARTIAL LINE BACKWARD",
    "REVERSE LINE FEED",
    "SINGLE SHIFT TWO",
    "SINGLE SHIFT THREE",
    "DEVICE CONTROL STRING",
    "PRIVATE USE ONE",
    "PRIVATE USE TWO",
    "SET TRANSMIT STATE",
    "CANCEL CHARACTER",
    "MESSAGE WAITING",
    "START OF GUARDED AREA",
    "END OF GUARDED AREA",
    "START OF STRING",
    "SINGLE GRAPHIC CHARACTER INTRODUCER",
    "SINGLE CHARACTER INTRODUCER",
    "CONTROL SEQUENCE INTRODUCER",
    "STRING TERMINATOR",
    "OPERATING SYSTEM COMMAND",
    "PRIVACY MESSAGE",
    "APPLICATION PROGRAM COMMAND",
];

fn char_name(c: char) -> Option<&'static str> {
    let n = u32::from(c) as usize;
    Some(match c {
        '\0'..='\u{1f}' => C0[n],
        '\u{80}'..='\u{9f}' => C1[n - 0x80],
        '\u{7f}' => "DELETE",
        ' ' => "SPACE",
        '"' => "QUOTATION MARK",
        '*' => "ASTERISK",
        '.' => "FULL STOP",
        '/' => "SOLIDUS",
        ':' => "COLON",
        '<' => "LESS-THAN SIGN",
        '>' => "GREATER-THAN SIGN",
        '?' => "QUESTION MARK",
        '\\' => "REVERSE SOLIDUS",
        '|' => "VERTICAL LINE",
        '\u{202a}' => "LEFT-TO-RIGHT EMBEDDING",
        '\u{202b}' => "RIGHT-TO-LEFT EMBEDDING",
        '\u{202c}' => "POP DIRECTIONAL FORMATTING",
        '\u{202d}' => "LEFT-TO-RIGHT OVERRIDE",
        '\u{202e}' => "RIGHT-TO-LEFT OVERRIDE",
        '\u{2066}' => "LEFT-TO-RIGHT ISOLATE",
        '\u{2067}' => "RIGHT-TO-LEFT ISOLATE",
        '\u{2068}' => "FIRST STRONG ISOLATE",
        '\u{2069}' => "POP DIRECTIONAL ISOLATE",
        '\u{2028}' => "LINE SEPARATOR",
        '\u{2029}' => "PARAGRAPH SEPARATOR",
        '\u{feff}' => "BYTE ORDER MARK",
        '\u{fffd}' => "REPLACEMENT CHARACTER",
        _ => return None,
    })
}

/// Why `c` is refused in `field`, for a person to read.
pub fn char_message(field: &str, c: char, lines: Lines) -> String {
    let why = match c {
        '\n' | '\t' | '\r' if lines == Lines::Single => format!("{field} is one line"),
        '\r' => "a line break is \\n or \\r\\n".to_string(),
        _ => "control characters, bidirectional overrides and invisible marks are refused"
            .to_string(),
    };
    format!(
        "{field} contains {}, which is not allowed ({why})",
        describe(c)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table() {
        use Lines::*;
        let cases: &[(&str, Lines, Option<char>)] = &[
            ("Acme B.V.", Single, None),
            ("Zoë Ødegård-李", Single, None),
            ("שלום \u{200f}(עברית)", Single, None), // RLM: right-to-left text needs it
            ("👨\u{200d}👩\u{200d}👧 family", Single, None), // ZWJ sequences
            ("", Single, None),
            ("nul\0", Single, Some('\0')),
            ("esc\u{1b}[31mred", Single, Some('\u{1b}')),
            ("csi\u{9b}31m", Single, Some('\u{9b}')),
            ("del\u{7f}", Single, Some('\u{7f}')),
            ("bell\u{7}", Multi, Some('\u{7}')),
            ("invoice\u{202e}fdp.exe", Single, Some('\u{202e}')),
            ("isolate\u{2066}x\u{2069}", Multi, Some('\u{2066}')),
            ("\u{feff}bom", Single, Some('\u{feff}')),
            ("line\u{2028}sep", Multi, Some('\u{2028}')),
            ("two\nlines", Single, Some('\n')),
            ("tab\there", Single, Some('\t')),
            ("crlf\r\nline", Single, Some('\r')),
            ("two\nlines\tand\r\nthree", Multi, None),
            ("lone\rreturn", Multi, Some('\r')),
            ("ends with\r", Multi, Some('\r')),
            ("vt\u{b}", Multi, Some('\u{b}')),
            ("nel\u{85}", Multi, Some('\u{85}')),
        ];
        for (text, lines, expected) in cases {
            assert_eq!(refused_char(text, *lines), *expected, "{text:?} {lines:?}");
        }
    }

    #[test]
    fn describes_by_code_point_and_name() {
        assert_eq!(describe('\u{202e}'), "U+202E (RIGHT-TO-LEFT OVERRIDE)");
        assert_eq!(describe('\0'), "U+0000 (NULL)");
        assert_eq!(describe('\u{1b}'), "U+001B (ESCAPE)");
        assert_eq!(describe('\u{9b}'), "U+009B (CONTROL SEQUENCE INTRODUCER)");
        assert_eq!(describe('\u{feff}'), "U+FEFF (BYTE ORDER MARK)");
        assert_eq!(describe('|'), "U+007C (VERTICAL LINE)");
        assert_eq!(describe('é'), "U+00E9");
        // Every refused character has a name.
        for c in (0..=0x3000u32)
            .filter_map(char::from_u32)
            .chain(['\u{feff}'])
        {
            if is_refused(c) {
                assert!(describe(c).contains('('), "{c:?}");
            }
        }
    }

    /// Printable text, defined apart from the rule: no character of Unicode's "Other"
    /// categories (controls, format characters, surrogates, private use, unassigned) nor a
    /// line or paragraph separator.
    const PRINTABLE: &str = "[\\PC&&[^\\p{Zl}\\p{Zp}]]{0,48}";

    /// A character always refused: C0, DEL, C1 (line breaks aside), or a bidi control.
    fn refused() -> impl Strategy<Value = char> {
        prop_oneof![
            (0u32..0x20).prop_filter_map("not a line break", |n| {
                char::from_u32(n).filter(|c| !matches!(c, '\n' | '\t' | '\r'))
            }),
            (0x7fu32..=0x9f).prop_map(|n| char::from_u32(n).unwrap()),
            prop::sample::select(vec![
                '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}',
                '\u{2068}', '\u{2069}',
            ]),
        ]
    }

    proptest! {
        #[test]
        fn printable_text_is_accepted(text in PRINTABLE) {
            prop_assert_eq!(refused_char(&text, Lines::Single), None);
            prop_assert_eq!(refused_char(&text, Lines::Multi), None);
        }

        #[test]
        fn a_control_or_bidi_override_is_refused(
            before in PRINTABLE,
            bad in refused(),
            after in PRINTABLE,
        ) {
            let text = format!("{before}{bad}{after}");
            prop_assert_eq!(refused_char(&text, Lines::Single), Some(bad));
            prop_assert_eq!(refused_char(&text, Lines::Multi), Some(bad));
        }

        #[test]
        fn line_breaks_only_in_multi_line_text(
            before in PRINTABLE,
            bad in prop::sample::select(vec!["\n", "\t", "\r\n"]),
            after in PRINTABLE,
        ) {
            let text = format!("{before}{bad}{after}");
            prop_assert_eq!(refused_char(&text, Lines::Multi), None);
            prop_assert!(refused_char(&text, Lines::Single).is_some());
        }
    }
}
