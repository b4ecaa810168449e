//! File and folder names: what a document tree accepts (the CRM's documents, and the
//! file-sync core, which maps the names of Drive and Dropbox onto it).
//!
//! A name must be usable as one path component on every system the trees are synced to
//! (Google Drive, Dropbox, and the Windows, macOS and Linux machines their clients run on),
//! so the rules are the strictest of them. [`check_name`] says why a name is refused, for a
//! person to read.
//!
//! On top of the character rule of every text (`threadline_domain::text`: no control
//! character, bidi override or isolate, byte order mark, line separator; one line), a name
//! may not hold:
//!
//! - `/` and `\`: path separators everywhere (Dropbox refuses them always);
//! - `< > : " | ? *`: reserved by Windows, and on Dropbox's list of characters that break
//!   the sync to Windows (help.dropbox.com "Naming Dropbox files and folders");
//! - `U+FFFD`, the replacement character: it stands for bytes that were not text, so two
//!   different broken names would read the same.
//!
//! The rule refuses; it never maps a character to another, so a name is stored and synced
//! as given and two names never collide through a mapping.

use crate::text::{char_message, describe, is_refused, Lines};

/// Longest name, in bytes of UTF-8 (ext4, APFS and Dropbox's limit).
pub const MAX_NAME_BYTES: usize = 255;

/// Device names Windows reserves, with or without an extension (`con.txt` too).
const RESERVED: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Why a name is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    Empty,
    DotOrDotDot,
    Separator(char),
    /// A character no text may hold (`threadline_domain::text`).
    Char(char),
    /// A character Windows reserves (`< > : " | ? *`), which Dropbox cannot sync there.
    NotPortable(char),
    /// `U+FFFD`: bytes that were not text, replaced.
    Replacement,
    TrailingDotOrSpace,
    TooLong(usize),
    Reserved(String),
}

impl std::fmt::Display for NameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NameError::Empty => f.write_str("the name is empty: a file or folder needs one"),
            NameError::DotOrDotDot => {
                f.write_str("\".\" and \"..\" are not names: they mean this folder and its parent")
            }
            NameError::Separator(c) => write!(
                f,
                "the name contains {c:?}, a path separator: give one name, not a path"
            ),
            NameError::Char(c) => f.write_str(&char_message("the name", *c, Lines::Single)),
            NameError::NotPortable(c) => write!(
                f,
                "the name contains {}, which is not allowed: Windows reserves < > : \" | ? * \
                 in file names, so Dropbox and Windows could not sync it",
                describe(*c)
            ),
            NameError::Replacement => write!(
                f,
                "the name contains {}, which is not allowed: it stands for bytes that were not \
                 UTF-8 text, so different names would read the same",
                describe('\u{fffd}')
            ),
            NameError::TrailingDotOrSpace => f.write_str(
                "the name ends with a dot or a space, which Windows drops (so two files would \
                 collide)",
            ),
            NameError::TooLong(n) => write!(
                f,
                "the name is {n} bytes long in UTF-8; at most {MAX_NAME_BYTES}"
            ),
            NameError::Reserved(base) => write!(
                f,
                "{base} is a device name reserved by Windows (with any extension); choose \
                 another name"
            ),
        }
    }
}

impl std::error::Error for NameError {}

/// Checks a file or folder name as given (nothing is trimmed: a leading space is part of the
/// name, a trailing one is refused).
pub fn check_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name == "." || name == ".." {
        return Err(NameError::DotOrDotDot);
    }
    for c in name.chars() {
        if c == '/' || c == '\\' {
            return Err(NameError::Separator(c));
        }
        // Controls (NUL, newlines, tabs, escape sequences), bidi overrides, the BOM.
        if is_refused(c) {
            return Err(NameError::Char(c));
        }
        if matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*') {
            return Err(NameError::NotPortable(c));
        }
        if c == '\u{fffd}' {
            return Err(NameError::Replacement);
        }
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(NameError::TooLong(name.len()));
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Err(NameError::TrailingDotOrSpace);
    }
    // Windows takes `CON.txt` and `CON .txt` for the device too: compare the part before the
    // first dot, trailing spaces dropped.
    let base = name.split('.').next().unwrap_or("").trim_end_matches(' ');
    if let Some(reserved) = RESERVED.iter().find(|r| r.eq_ignore_ascii_case(base)) {
        return Err(NameError::Reserved((*reserved).to_string()));
    }
    Ok(())
}

/// The key two names of one folder must not share: names that differ only in letter case
/// collide (Dropbox, Windows and macOS treat them as one file).
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// A name from elsewhere (an email attachment's file name) made into one [`check_name`]
/// accepts, so that it can be stored as given by a person would be: refused characters
/// (controls, bidi overrides, the BOM) are dropped, separators, the characters Windows
/// reserves and `U+FFFD` become `_`, trailing dots and spaces go, a device name gets a `_`
/// in front, and a name too long is cut (on a character boundary) keeping its extension.
/// An empty result, `.` or `..` becomes `fallback` (itself made valid the same way, and
/// `file` if even that is empty).
pub fn to_valid_name(raw: &str, fallback: &str) -> String {
    fn clean(raw: &str) -> String {
        let mapped: String = raw
            .chars()
            .filter(|c| !is_refused(*c))
            .map(|c| match c {
                '/' | '\\' | '<' | '>' | ':' | '"' | '|' | '?' | '*' | '\u{fffd}' => '_',
                c => c,
            })
            .collect();
        let reserved = |name: &str| {
            let base = name.split('.').next().unwrap_or("").trim_end_matches(' ');
            RESERVED.iter().any(|r| r.eq_ignore_ascii_case(base))
        };
        let mut name = mapped.trim_end_matches(['.', ' ']).to_string();
        // A device name gets a `_` in front: leave room for it, or the cut name would be
        // one byte too long and the whole name lost to the fallback.
        let max = MAX_NAME_BYTES - usize::from(reserved(&name));
        if name.len() > max {
            // Keep a short extension (`.pdf`) and cut the stem.
            let ext = match name.rfind('.') {
                Some(i) if i > 0 && name.len() - i <= 16 => name[i..].to_string(),
                _ => String::new(),
            };
            let mut end = max - ext.len();
            while !name.is_char_boundary(end) {
                end -= 1;
            }
            let stem = name[..end].trim_end_matches(['.', ' ']).to_string();
            name = format!("{stem}{ext}");
        }
        if reserved(&name) {
            name.insert(0, '_');
        }
        name
    }
    let name = clean(raw);
    if check_name(&name).is_ok() {
        return name;
    }
    let fallback = clean(fallback);
    if check_name(&fallback).is_ok() {
        fallback
    } else {
        "file".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_elsewhere_are_made_valid() {
        let cases: Vec<(&str, &str)> = vec![
            ("report.pdf", "report.pdf"),
            ("Offerte ☕ 2025.pdf", "Offerte ☕ 2025.pdf"),
            ("../../etc/passwd", ".._.._etc_passwd"),
            ("C:\\temp\\x.exe", "C__temp_x.exe"),
            ("invoice\u{202e}fdp.exe", "invoicefdp.exe"),
            ("line\r\nbreak.txt", "linebreak.txt"),
            ("why?.txt", "why_.txt"),
            ("trailing. . ", "trailing"),
            ("CON.txt", "_CON.txt"),
            ("nul", "_nul"),
            ("", "attachment"),
            ("..", "attachment"),
            ("...", "attachment"),
            ("\u{feff}", "attachment"),
            ("broken\u{fffd}.txt", "broken_.txt"),
        ];
        for (raw, want) in cases {
            assert_eq!(to_valid_name(raw, "attachment"), want, "{raw:?}");
        }
        let long = format!("{}.pdf", "é".repeat(200));
        let valid = to_valid_name(&long, "attachment");
        assert!(
            valid.ends_with(".pdf") && valid.len() <= MAX_NAME_BYTES,
            "{valid}"
        );
        assert_eq!(check_name(&valid), Ok(()));
        assert_eq!(to_valid_name("", ""), "file");
    }

    #[test]
    fn name_table() {
        use NameError::*;
        let long_ok = "a".repeat(255);
        let long_bad = "a".repeat(256);
        // 85 three-byte characters are 255 bytes; one more is too many.
        let wide_ok = "€".repeat(85);
        let wide_bad = "€".repeat(86);
        let cases: Vec<(&str, Result<(), NameError>)> = vec![
            ("report.pdf", Ok(())),
            ("Offerte 2025 (v2).docx", Ok(())),
            (".gitignore", Ok(())),
            ("...and more", Ok(())),
            (" leading space", Ok(())),
            ("naïve café ☕.txt", Ok(())),
            ("CONSOLE.txt", Ok(())),
            ("COM10", Ok(())),
            ("LPT0.txt", Ok(())),
            ("a.con", Ok(())),
            (&long_ok, Ok(())),
            (&wide_ok, Ok(())),
            ("", Err(Empty)),
            (".", Err(DotOrDotDot)),
            ("..", Err(DotOrDotDot)),
            ("../etc/passwd", Err(Separator('/'))),
            ("a/b", Err(Separator('/'))),
            ("/", Err(Separator('/'))),
            ("..\\windows", Err(Separator('\\'))),
            ("C:\\x", Err(NotPortable(':'))),
            ("x\\C:", Err(Separator('\\'))),
            ("nul\0byte", Err(Char('\0'))),
            ("line\nbreak", Err(Char('\n'))),
            ("tab\there", Err(Char('\t'))),
            ("crlf\r\n", Err(Char('\r'))),
            ("esc\u{1b}[31m", Err(Char('\u{1b}'))),
            ("del\u{7f}", Err(Char('\u{7f}'))),
            ("c1\u{85}", Err(Char('\u{85}'))),
            ("invoice\u{202e}fdp.exe", Err(Char('\u{202e}'))),
            ("\u{2067}isolate", Err(Char('\u{2067}'))),
            ("\u{feff}bom.txt", Err(Char('\u{feff}'))),
            ("a<b", Err(NotPortable('<'))),
            ("a>b", Err(NotPortable('>'))),
            ("C:drive", Err(NotPortable(':'))),
            ("say \"hi\"", Err(NotPortable('"'))),
            ("a|b", Err(NotPortable('|'))),
            ("why?", Err(NotPortable('?'))),
            ("*.txt", Err(NotPortable('*'))),
            ("broken\u{fffd}.txt", Err(Replacement)),
            ("שלום \u{200f}.txt", Ok(())),
            ("👨\u{200d}👩\u{200d}👧.png", Ok(())),
            ("50% [draft] #2 & co, ok!.txt", Ok(())),
            ("trailing.", Err(TrailingDotOrSpace)),
            ("trailing ", Err(TrailingDotOrSpace)),
            ("...", Err(TrailingDotOrSpace)),
            (&long_bad, Err(TooLong(256))),
            (&wide_bad, Err(TooLong(258))),
            ("CON", Err(Reserved("CON".into()))),
            ("con", Err(Reserved("CON".into()))),
            ("Prn.txt", Err(Reserved("PRN".into()))),
            ("aux.tar.gz", Err(Reserved("AUX".into()))),
            ("NUL", Err(Reserved("NUL".into()))),
            ("com1", Err(Reserved("COM1".into()))),
            ("COM9.log", Err(Reserved("COM9".into()))),
            ("lpt1", Err(Reserved("LPT1".into()))),
            ("LPT9.x", Err(Reserved("LPT9".into()))),
            ("CON .txt", Err(Reserved("CON".into()))),
        ];
        for (name, expected) in cases {
            assert_eq!(check_name(name), expected, "{name:?}");
        }
    }

    #[test]
    fn every_refusal_says_why() {
        for name in [
            "",
            "..",
            "a/b",
            "a\\b",
            "a\0",
            "a.",
            &"x".repeat(300),
            "aux",
        ] {
            let message = check_name(name).unwrap_err().to_string();
            assert!(message.len() > 20, "{name:?}: {message}");
        }
        assert!(check_name("a/b").unwrap_err().to_string().contains("path"));
        assert_eq!(
            check_name("a\u{202e}b").unwrap_err().to_string(),
            "the name contains U+202E (RIGHT-TO-LEFT OVERRIDE), which is not allowed (control \
             characters, bidirectional overrides and invisible marks are refused)"
        );
        assert!(check_name("a:b")
            .unwrap_err()
            .to_string()
            .starts_with("the name contains U+003A (COLON), which is not allowed"));
        assert!(check_name("LPT3.txt")
            .unwrap_err()
            .to_string()
            .contains("LPT3"));
    }

    #[test]
    fn keys_ignore_case() {
        assert_eq!(name_key("Report.PDF"), name_key("report.pdf"));
        assert_eq!(name_key("ÉTÉ"), name_key("été"));
        assert_ne!(name_key("a"), name_key("b"));
    }
}
