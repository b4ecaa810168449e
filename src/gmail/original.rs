//! Gmail's "Show original": what the page holds to ask for a message's raw RFC 822 source,
//! and how that source is cut into pieces for the background. Pure functions (unit-tested on
//! the host) plus one reader of the page ([`page_ik`]).
//!
//! Where the ids come from (../shared/research/gmail-dom.md §2.4, InboxSDK's
//! `getOriginalMessagePage` and its page-world `GLOBALS[9]` read):
//! - the account's `ik` is element 9 of the page's inline `var GLOBALS=[…]`; the content
//!   script cannot read page variables, so it reads that script's text;
//! - a message's legacy id is its `data-legacy-message-id` (the `msg-f:` decimal in hex);
//! - the account's path is `/mail/u/<n>/` (or a delegated `/mail/u/<n>/d/<id>/`).
//!
//! The URL is the "Download original" link of Gmail's "Show original" page
//! (`?view=att&th=<legacy id>&attid=0&disp=comp&safe=1&zw`): the message's bytes unchanged,
//! where the `view=om` page shows them as HTML-escaped text (which loses non-UTF-8 bytes).

use wasm_bindgen::JsCast;

/// The most a piece handed to the background holds: one piece is base64-encoded and posted
/// (serialised as JSON by Chromium) in one go, so its size bounds the page's longest task in a
/// capture. 256 KiB keeps that task at a few ms on a quiet machine, with room under the 50 ms
/// target on a loaded one (BENCHMARKS.md §5); a 28.7 MB message is 110 pieces.
pub const MAX_PIECE_BYTES: usize = 256 * 1024;

/// How much of an inline script is searched for GLOBALS (Gmail's is a few hundred kB).
const MAX_SCRIPT_SCAN: usize = 4 * 1024 * 1024;

/// The `ik` of `var GLOBALS=[…]` in one script's text: its element 9, a short quoted token.
pub fn ik_from_globals(script: &str) -> Option<String> {
    let script = &script[..floor_char_boundary(script, MAX_SCRIPT_SCAN)];
    let mut from = 0;
    while let Some(at) = script[from..].find("GLOBALS") {
        let start = from + at + "GLOBALS".len();
        from = start;
        let rest = script[start..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start();
        if !rest.starts_with('[') {
            continue;
        }
        let element = top_level_element(rest, 9)?;
        return quoted_token(element.trim());
    }
    None
}

/// The `index`-th top-level element of the array literal starting at `text` ('['), as raw
/// text, or None when the array is shorter or malformed.
fn top_level_element(text: &str, index: usize) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut current = 0usize;
    let mut start = 1usize;
    let mut i = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b'"' | b'\'' => {
                let quote = bytes[i];
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'[' | b'{' | b'(' => depth += 1,
            b']' | b'}' | b')' => {
                if depth == 1 {
                    return (current == index).then(|| &text[start..i]);
                }
                depth = depth.checked_sub(1)?;
            }
            b',' if depth == 1 => {
                if current == index {
                    return Some(&text[start..i]);
                }
                current += 1;
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// `"5f2a9c1e07"` → `5f2a9c1e07`: a quoted token of letters, digits, '-' and '_'.
fn quoted_token(raw: &str) -> Option<String> {
    let inner = raw
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .or_else(|| raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')))?;
    let ok = !inner.is_empty()
        && inner.len() <= 64
        && inner
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| inner.to_string())
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The account's path from the page's `location.pathname`: `/mail/u/<n>/`, a delegated
/// mailbox's `/mail/u/<n>/d/<id>/`, or `/mail/u/0/` when the path names no account.
pub fn account_base(pathname: &str) -> String {
    // "/mail/u/<n>/" then, for a delegated mailbox, "d/<id>/".
    let Some(rest) = pathname.strip_prefix("/mail/u/") else {
        return "/mail/u/0/".into();
    };
    let mut parts = rest.split('/');
    let n = parts.next().unwrap_or_default();
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return "/mail/u/0/".into();
    }
    if let (Some("d"), Some(id), Some(_)) = (parts.next(), parts.next(), parts.next()) {
        if is_path_token(id) {
            return format!("/mail/u/{n}/d/{id}/");
        }
    }
    format!("/mail/u/{n}/")
}

fn is_path_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// The path and query of a message's raw source ("Download original"), or None when the
/// legacy id is not 1–16 hex digits. `ik` is sent when the page has one (an `ik` that is not
/// a plain token is left out rather than trusted).
pub fn original_source_path(base: &str, ik: Option<&str>, legacy_id: &str) -> Option<String> {
    let id = legacy_id.trim();
    if id.is_empty() || id.len() > 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let id = id.to_ascii_lowercase();
    let ik = ik
        .and_then(|ik| quoted_token(&format!("\"{ik}\"")))
        .map(|ik| format!("ik={ik}&"))
        .unwrap_or_default();
    Some(format!(
        "{base}?{ik}view=att&th={id}&attid=0&disp=comp&safe=1&zw"
    ))
}

/// What to do with the bytes of one read of the response body, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Add `read[start..end]` to the piece being filled.
    Append { start: usize, end: usize },
    /// Hand the piece over (it is full), then let the page run before the next one.
    Flush,
}

/// Cuts a stream of reads into pieces of at most `max` bytes, in order, without copying more
/// than once: small reads are gathered, big ones split.
#[derive(Debug)]
pub struct PiecePlan {
    max: usize,
    filled: usize,
}

impl PiecePlan {
    pub fn new(max: usize) -> Self {
        PiecePlan {
            max: max.max(1),
            filled: 0,
        }
    }

    /// The steps for a read of `len` bytes.
    pub fn on_read(&mut self, len: usize) -> Vec<Step> {
        let mut steps = Vec::new();
        let mut start = 0;
        while start < len {
            let take = (self.max - self.filled).min(len - start);
            steps.push(Step::Append {
                start,
                end: start + take,
            });
            self.filled += take;
            start += take;
            if self.filled == self.max {
                steps.push(Step::Flush);
                self.filled = 0;
            }
        }
        steps
    }

    /// At the end of the body: a last Flush if a piece is partly filled.
    pub fn on_end(&mut self) -> Option<Step> {
        (std::mem::take(&mut self.filled) > 0).then_some(Step::Flush)
    }
}

/// The page's `ik`, from the inline script that defines GLOBALS; None when there is none
/// (Gmail's "Download original" link works without it).
pub fn page_ik(document: &web_sys::Document) -> Option<String> {
    let scripts = document
        .query_selector_all(crate::selectors::INLINE_SCRIPTS)
        .ok()?;
    (0..scripts.length())
        .filter_map(|i| scripts.item(i))
        .filter_map(|n| n.dyn_into::<web_sys::Element>().ok())
        .filter_map(|s| s.text_content())
        .filter(|text| text.contains("GLOBALS"))
        .find_map(|text| ik_from_globals(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ik_is_element_nine_of_globals() {
        let script = r#"var GLOBALS=[null,null,0,"","gmail_fe_sim.en.0",null,null,null,null,"5f2a9c1e07","owner@example.com"];GLOBALS[17]=[["p",[]]];"#;
        assert_eq!(ik_from_globals(script).as_deref(), Some("5f2a9c1e07"));
    }

    #[test]
    fn nested_arrays_strings_with_commas_and_spaces_do_not_shift_the_index() {
        let script = "window.x = 1;\nvar GLOBALS = [ [1,[2,3]], \"a,b]\", 'c\\'d,', {\"k\":[1,2]}, null, 5, 6, 7, 8, 'abc_DEF-1' , 10];";
        assert_eq!(ik_from_globals(script).as_deref(), Some("abc_DEF-1"));
    }

    #[test]
    fn no_ik_when_globals_is_missing_short_or_holds_something_else() {
        assert_eq!(ik_from_globals("var OTHER=[1,2,3];"), None);
        assert_eq!(ik_from_globals("var GLOBALS=[1,2,3];"), None);
        assert_eq!(ik_from_globals("GLOBALS[9]"), None);
        assert_eq!(
            ik_from_globals("var GLOBALS=[0,1,2,3,4,5,6,7,8,12345,10];"),
            None,
            "a number is not an ik"
        );
        assert_eq!(
            ik_from_globals(r#"var GLOBALS=[0,1,2,3,4,5,6,7,8,"a&view=x",10];"#),
            None,
            "a value that would change the URL is refused"
        );
        assert_eq!(
            ik_from_globals("var GLOBALS=[0,1,2,3,4,5,6,7,8,\"unterminated"),
            None
        );
    }

    #[test]
    fn a_later_assignment_is_found_after_a_mention() {
        let script = r#"if(window.GLOBALS){} var GLOBALS=[0,1,2,3,4,5,6,7,8,"ikvalue",10];"#;
        assert_eq!(ik_from_globals(script).as_deref(), Some("ikvalue"));
    }

    #[test]
    fn account_base_keeps_the_account_and_a_delegated_mailbox() {
        assert_eq!(account_base("/mail/u/0/"), "/mail/u/0/");
        assert_eq!(account_base("/mail/u/3/"), "/mail/u/3/");
        assert_eq!(account_base("/mail/u/1"), "/mail/u/1/");
        assert_eq!(account_base("/mail/"), "/mail/u/0/");
        assert_eq!(account_base("/"), "/mail/u/0/");
        assert_eq!(account_base("/mail/u/x/"), "/mail/u/0/");
        assert_eq!(
            account_base("/mail/u/2/d/AEoRXRabc-1/"),
            "/mail/u/2/d/AEoRXRabc-1/"
        );
        assert_eq!(account_base("/mail/u/2/d/bad id/"), "/mail/u/2/");
    }

    #[test]
    fn original_source_path_is_gmails_download_original_link() {
        assert_eq!(
            original_source_path("/mail/u/0/", Some("5f2a9c1e07"), "163D03BFDA277EC1").as_deref(),
            Some(
                "/mail/u/0/?ik=5f2a9c1e07&view=att&th=163d03bfda277ec1&attid=0&disp=comp&safe=1&zw"
            )
        );
        assert_eq!(
            original_source_path("/mail/u/1/", None, "1a").as_deref(),
            Some("/mail/u/1/?view=att&th=1a&attid=0&disp=comp&safe=1&zw")
        );
        assert_eq!(
            original_source_path("/mail/u/1/", Some("a&b"), "1a").as_deref(),
            Some("/mail/u/1/?view=att&th=1a&attid=0&disp=comp&safe=1&zw")
        );
        for bad in ["", "msg-a:r-1", "163d03bfda277ec1ff", "12 34", "zz"] {
            assert_eq!(original_source_path("/mail/u/0/", None, bad), None, "{bad}");
        }
    }

    /// Replays `reads` through a plan; returns the pieces as (offset, len) of the stream.
    fn pieces(max: usize, reads: &[usize]) -> Vec<Vec<u8>> {
        let mut plan = PiecePlan::new(max);
        let mut stream = 0u8;
        let mut piece = Vec::new();
        let mut out = Vec::new();
        for &len in reads {
            let read: Vec<u8> = (0..len)
                .map(|_| {
                    stream = stream.wrapping_add(1);
                    stream
                })
                .collect();
            for step in plan.on_read(len) {
                match step {
                    Step::Append { start, end } => piece.extend_from_slice(&read[start..end]),
                    Step::Flush => out.push(std::mem::take(&mut piece)),
                }
            }
        }
        if let Some(Step::Flush) = plan.on_end() {
            out.push(std::mem::take(&mut piece));
        }
        assert!(piece.is_empty(), "nothing left behind");
        out
    }

    #[test]
    fn pieces_are_the_stream_in_order_and_never_bigger_than_max() {
        for reads in [
            vec![],
            vec![0],
            vec![1],
            vec![10],
            vec![3, 3, 3, 3],
            vec![25, 1, 0, 7],
            vec![100],
            vec![9, 11, 10, 10],
        ] {
            let total: usize = reads.iter().sum();
            let got = pieces(10, &reads);
            let flat: Vec<u8> = got.concat();
            let expected: Vec<u8> = (1..=total).map(|i| i as u8).collect();
            assert_eq!(flat, expected, "{reads:?}");
            assert!(
                got.iter().all(|p| !p.is_empty() && p.len() <= 10),
                "{reads:?}"
            );
            // Every piece but the last is full: the fewest messages.
            assert!(got.iter().rev().skip(1).all(|p| p.len() == 10), "{reads:?}");
        }
    }
}
