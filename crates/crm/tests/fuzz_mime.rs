//! Fuzzing (property tests with generators) of the MIME intake: `email_source::parse`, the
//! pure function that reads a tracked email's raw RFC 822 source.
//!
//! Inputs: arbitrary bytes, header-like text, and the real samples of the Gmail simulator
//! (`crates/server/tests/fixtures/mime/*.eml`) mutated by byte flips, truncation, header
//! duplication, boundary damage, huge lines, inserted and deleted runs, line-ending changes
//! and nesting in many multipart levels.
//!
//! Each property runs `THREADLINE_FUZZ_CASES` cases (default 1000: 1–2 s in debug on
//! 2 cores, the whole file). A long run (about 1.5 min, after a first release build):
//!
//! ```sh
//! THREADLINE_FUZZ_CASES=1000000 cargo test --release -p threadline-crm --test fuzz_mime
//! ```
//!
//! Properties: `parse` never panics and returns (inputs are bounded; each case also has a
//! generous time budget, a sanity check against a hang, not a speed test); it is
//! deterministic; what it returns is valid — every attachment name is a valid CRM file name,
//! sizes match the contents, an attachment is kept exactly when it is within the limit,
//! texts hold no refused characters, ids are in their one normalised form. A failure found
//! here becomes a plain `#[test]` at the end of this file.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use threadline_crm::email_source::{parse, Parsed, SourceStatus};
use threadline_domain::file_name::check_name;
use threadline_domain::message::normalize_message_id;
use threadline_domain::text::is_refused;

fn cases() -> u32 {
    std::env::var("THREADLINE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

const SAMPLES: &[&[u8]] = &[
    include_bytes!("../../server/tests/fixtures/mime/alternative.eml"),
    include_bytes!("../../server/tests/fixtures/mime/attachments.eml"),
    include_bytes!("../../server/tests/fixtures/mime/inline-image.eml"),
    include_bytes!("../../server/tests/fixtures/mime/latin1.eml"),
    include_bytes!("../../server/tests/fixtures/mime/shift-jis.eml"),
    include_bytes!("../../server/tests/fixtures/mime/malformed.eml"),
];

/// Most time one parse may take before it counts as a hang (debug build, busy machine).
const BUDGET: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------
// Checks

fn parse_checked(raw: &[u8], max_attachment: u64) -> Result<Parsed, TestCaseError> {
    let started = Instant::now();
    let parsed = parse(raw, max_attachment);
    prop_assert!(
        started.elapsed() < BUDGET,
        "parse took {:?} on {} bytes",
        started.elapsed(),
        raw.len()
    );
    check(&parsed, raw, max_attachment)?;
    // Deterministic.
    prop_assert_eq!(
        format!("{:?}", parse(raw, max_attachment)),
        format!("{parsed:?}")
    );
    Ok(parsed)
}

fn clean(field: &str, s: &str) -> Result<(), TestCaseError> {
    prop_assert!(!s.is_empty(), "{} is empty", field);
    prop_assert_eq!(s.trim(), s, "{} is not trimmed", field);
    prop_assert!(
        !s.chars().any(is_refused),
        "{} holds a refused character: {:?}",
        field,
        s
    );
    Ok(())
}

fn normalised_id(field: &str, id: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        normalize_message_id(id),
        Ok(id.to_string()),
        "{} is not in its normalised form",
        field
    );
    Ok(())
}

fn check(p: &Parsed, raw: &[u8], max_attachment: u64) -> Result<(), TestCaseError> {
    if p.status == SourceStatus::Unparsed {
        prop_assert!(p.reason.is_some());
        prop_assert!(p.text_body.is_none() && p.html_body.is_none());
        prop_assert!(p.attachments.is_empty());
        prop_assert_eq!(&p.headers, &Default::default());
        return Ok(());
    }
    prop_assert!(p.reason.is_none());
    let h = &p.headers;
    if let Some(id) = &h.message_id {
        normalised_id("message_id", id)?;
    }
    for list in [&h.in_reply_to, &h.references] {
        prop_assert!(list.len() <= 100);
        for (i, id) in list.iter().enumerate() {
            normalised_id("a referenced id", id)?;
            prop_assert!(!list[..i].contains(id), "duplicate id {}", id);
        }
    }
    for party in [&h.from, &h.sender, &h.reply_to, &h.to, &h.cc, &h.bcc]
        .into_iter()
        .flatten()
    {
        clean("an address", &party.address)?;
        prop_assert!(party.address.chars().count() <= 320);
        if let Some(name) = &party.name {
            clean("a name", name)?;
            prop_assert!(name.chars().count() <= 320);
        }
    }
    if let Some(subject) = &h.subject {
        clean("the subject", subject)?;
    }
    prop_assert!(p.attachments.len() <= 500);
    let mut total: u64 = 0;
    for a in &p.attachments {
        prop_assert_eq!(check_name(&a.name), Ok(()), "attachment name {:?}", a.name);
        let (mime, params) = a
            .content_type
            .split_once(';')
            .unwrap_or((&a.content_type, ""));
        let token = |s: &str| {
            !s.is_empty()
                && s.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$&-^_.+".contains(&b)
                })
        };
        prop_assert!(
            mime.split_once('/')
                .is_some_and(|(m, s)| token(m) && token(s)),
            "content type {:?}",
            a.content_type
        );
        prop_assert!(params.is_empty() || params == " charset=utf-8");
        match &a.content {
            Some(content) => {
                prop_assert_eq!(content.len() as u64, a.size);
                prop_assert!(a.size <= max_attachment);
            }
            None => prop_assert!(a.size > max_attachment),
        }
        if let Some(cid) = &a.content_id {
            normalised_id("a content id", cid)?;
        }
        total += a.size;
    }
    // Sizes add up: decoding only shrinks (base64, quoted-printable) or, for text turned
    // into UTF-8, grows each byte to at most 3.
    let bound = 3 * raw.len() as u64 + 64;
    prop_assert!(
        total <= bound,
        "attachments of {} bytes from {} raw",
        total,
        raw.len()
    );
    for body in [&p.text_body, &p.html_body].into_iter().flatten() {
        prop_assert!(
            body.len() as u64 <= bound,
            "a body of {} bytes from {} raw",
            body.len(),
            raw.len()
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Mutations of real samples

#[derive(Debug, Clone)]
enum Mutation {
    /// XOR a byte.
    Flip(usize, u8),
    Truncate(usize),
    /// Repeat one header line (`index` among the header lines).
    DuplicateHeader(usize),
    /// Damage the boundaries: 0 drops the closing `--`, 1 changes one letter of every
    /// delimiter, 2 removes the boundary parameter's quotes, 3 empties the boundary.
    DamageBoundary(u8),
    /// A line of `len` bytes at `at`.
    HugeLine(usize, usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    /// `\n` → `\r\n` (0), `\r\n` → `\n` (1), `\n` → `\r` (2).
    LineEndings(u8),
    /// The whole message as the only part of `depth` nested multiparts.
    Nest(usize),
}

const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\n\n",
    b"--",
    b"=?",
    b"?=",
    b"=?utf-8?b?",
    b"=?iso-8859-1?q?=E9?=",
    b"=?x-unknown?q?a?=",
    b"=",
    b"=\n",
    b";",
    b":",
    b"\"",
    b"\\",
    b"<",
    b">",
    b"@",
    b",",
    b"boundary=",
    b"charset=",
    b"filename*=UTF-8''%E2%82%AC.pdf",
    b"filename*0*=",
    b"name=\"",
    b"Content-Type: multipart/mixed; boundary=x\n",
    b"Content-Type: message/rfc822\n",
    b"Content-Transfer-Encoding: base64\n",
    b"Content-Transfer-Encoding: quoted-printable\n",
    b"Content-Disposition: attachment; filename=\"../CON.txt\"\n",
    b"\xff\xfe",
    b"\xe2\x80\xae",
    b"\0",
    b"\t",
    b" ",
    b"\xc3",
    b"From: ",
    b"Message-ID: <>\n",
    b"References: <a> <a> <",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), 1u8..).prop_map(|(i, b)| Mutation::Flip(i, b)),
        2 => any::<usize>().prop_map(Mutation::Truncate),
        2 => any::<usize>().prop_map(Mutation::DuplicateHeader),
        2 => (0u8..4).prop_map(Mutation::DamageBoundary),
        1 => (any::<usize>(), 0usize..120_000, any::<u8>()).prop_map(|(i, n, b)| Mutation::HugeLine(i, n, b)),
        3 => (any::<usize>(), prop_oneof![
                prop::sample::select(TOKENS).prop_map(<[u8]>::to_vec),
                prop::collection::vec(any::<u8>(), 0..16),
            ]).prop_map(|(i, bytes)| Mutation::Insert(i, bytes)),
        2 => (any::<usize>(), 0usize..200).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => (0u8..3).prop_map(Mutation::LineEndings),
        1 => (1usize..80).prop_map(Mutation::Nest),
    ]
}

fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    if from.is_empty() {
        return haystack.to_vec();
    }
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

/// The boundary parameter's value, if the message names one.
fn boundary(raw: &[u8]) -> Option<Vec<u8>> {
    let at = raw
        .windows(9)
        .position(|w| w.eq_ignore_ascii_case(b"boundary="))?
        + 9;
    let rest = &raw[at..];
    let rest = rest.strip_prefix(b"\"").unwrap_or(rest);
    let end = rest
        .iter()
        .position(|&b| matches!(b, b'"' | b';' | b'\r' | b'\n'))
        .unwrap_or(rest.len());
    Some(rest[..end].to_vec())
}

fn apply(raw: &mut Vec<u8>, m: &Mutation) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
    match *m {
        Mutation::Flip(i, b) if !raw.is_empty() => {
            let i = i % raw.len();
            raw[i] ^= b;
        }
        Mutation::Flip(..) => {}
        Mutation::Truncate(i) => raw.truncate(at(i, raw.len())),
        Mutation::DuplicateHeader(i) => {
            let head_end = raw
                .windows(2)
                .position(|w| w == b"\n\n")
                .unwrap_or(raw.len());
            let lines: Vec<(usize, usize)> = raw[..head_end]
                .split(|&b| b == b'\n')
                .scan(0, |start, line| {
                    let s = *start;
                    *start += line.len() + 1;
                    Some((s, line.len()))
                })
                .filter(|&(_, len)| len > 0)
                .collect();
            if let Some(&(s, len)) = lines.get(i % lines.len().max(1)) {
                let mut line = raw[s..s + len].to_vec();
                line.push(b'\n');
                raw.splice(s..s, line);
            }
        }
        Mutation::DamageBoundary(kind) => {
            if let Some(b) = boundary(raw) {
                let delimiter = [b"--".as_slice(), &b].concat();
                *raw = match kind {
                    0 => replace(raw, &[delimiter.as_slice(), b"--"].concat(), &delimiter),
                    1 => {
                        let mut damaged = delimiter.clone();
                        let last = damaged.len() - 1;
                        damaged[last] ^= 0x20;
                        replace(raw, &delimiter, &damaged)
                    }
                    2 => replace(raw, &[b"\"".as_slice(), &b, b"\""].concat(), &b),
                    _ => replace(
                        raw,
                        &[b"boundary=\"".as_slice(), &b].concat(),
                        b"boundary=\"",
                    ),
                };
            }
        }
        Mutation::HugeLine(i, n, b) => {
            let i = at(i, raw.len());
            let mut line = vec![if b.is_ascii_graphic() { b } else { b'A' }; n];
            line.push(b'\n');
            raw.splice(i..i, line);
        }
        Mutation::Insert(i, ref bytes) => {
            let i = at(i, raw.len());
            raw.splice(i..i, bytes.iter().copied());
        }
        Mutation::Delete(i, n) => {
            let i = at(i, raw.len());
            let end = (i + n).min(raw.len());
            raw.drain(i..end);
        }
        Mutation::LineEndings(kind) => {
            *raw = match kind {
                0 => replace(raw, b"\n", b"\r\n"),
                1 => replace(raw, b"\r\n", b"\n"),
                _ => replace(raw, b"\n", b"\r"),
            }
        }
        Mutation::Nest(depth) => *raw = nested(raw, depth),
    }
}

/// `inner` as the only part of `depth` nested `multipart/mixed` levels.
fn nested(inner: &[u8], depth: usize) -> Vec<u8> {
    let mut out = b"Message-ID: <nest@x.example>\nFrom: a@x.example\nSubject: nested\n".to_vec();
    for d in 0..depth {
        out.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=\"b{d}\"\n\n--b{d}\n").as_bytes(),
        );
    }
    out.extend_from_slice(inner);
    for d in (0..depth).rev() {
        out.extend_from_slice(format!("\n--b{d}--\n").as_bytes());
    }
    out
}

// ---------------------------------------------------------------------------------------
// Properties

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn arbitrary_bytes(raw in prop::collection::vec(any::<u8>(), 0..2048), max in 0u64..4096) {
        parse_checked(&raw, max)?;
    }

    #[test]
    fn header_like_text(
        lines in prop::collection::vec(
            (
                prop::sample::select(&["From", "To", "Cc", "Subject", "Message-ID", "References", "In-Reply-To", "Date", "Content-Type", "Content-Disposition", "Content-ID", "X-Y", ""][..]),
                prop::collection::vec(prop_oneof![
                    prop::sample::select(TOKENS).prop_map(<[u8]>::to_vec),
                    "[ -~]{0,20}".prop_map(String::into_bytes),
                    prop::collection::vec(any::<u8>(), 0..6),
                ], 0..6),
            ),
            0..12,
        ),
        body in prop::collection::vec(any::<u8>(), 0..256),
        max in 0u64..512,
    ) {
        let mut raw = Vec::new();
        for (name, value) in lines {
            raw.extend_from_slice(name.as_bytes());
            raw.extend_from_slice(b": ");
            raw.extend(value.concat());
            raw.push(b'\n');
        }
        raw.push(b'\n');
        raw.extend(body);
        parse_checked(&raw, max)?;
    }

    #[test]
    fn mutated_samples(
        sample in 0..SAMPLES.len(),
        mutations in prop::collection::vec(mutation(), 1..6),
        max in prop_oneof![Just(u64::MAX), 0u64..400],
    ) {
        let mut raw = SAMPLES[sample].to_vec();
        for m in &mutations {
            apply(&mut raw, m);
        }
        parse_checked(&raw, max)?;
    }
}

// ---------------------------------------------------------------------------------------
// Plain tests: the samples as they are, and the extremes the generators reach only rarely.

#[test]
fn samples_pass_the_checks() {
    for raw in SAMPLES {
        parse_checked(raw, u64::MAX).unwrap();
        parse_checked(raw, 0).unwrap();
    }
}

#[test]
fn deep_nesting_returns() {
    for depth in [200, 1000, 5000] {
        parse_checked(&nested(SAMPLES[1], depth), u64::MAX).unwrap();
    }
}

#[test]
fn many_tiny_parts_return() {
    let mut raw = b"From: a@x.example\nContent-Type: multipart/mixed; boundary=b\n\n".to_vec();
    for i in 0..3000 {
        raw.extend_from_slice(
            format!("--b\nContent-Disposition: attachment; filename=\"f{i}.txt\"\n\nx\n")
                .as_bytes(),
        );
    }
    raw.extend_from_slice(b"--b--\n");
    let parsed = parse_checked(&raw, u64::MAX).unwrap();
    assert_eq!(parsed.attachments.len(), 500);
}
