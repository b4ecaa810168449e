//! Email addresses: parsing, normalisation and match keys.
//!
//! CONTRACT (see the matching rules):
//! - trim; lowercase; domain to ASCII by IDNA (UTS 46); Unicode full stops (U+3002, U+FF0E,
//!   U+FF61) become '.';
//! - on gmail.com / googlemail.com only, dots and a `+tag` in the local part are ignored
//!   (googlemail.com is the same mailbox as gmail.com);
//! - elsewhere an address matches exactly; a `+tag`-stripped variant is only a suggestion.
//!
//! Validation is deliberately practical rather than a full RFC 5322 grammar:
//! - the local part is either unquoted (RFC 5322 `atext`, '.', and any non-ASCII character
//!   for internationalised addresses) or one whole quoted string (`"ann@home"@acme.com`,
//!   with `\`-escapes; spaces are allowed inside the quotes only). Dots are not checked for
//!   position: real mailboxes such as `taro..yamada.@docomo.ne.jp` exist and must be matched;
//! - control characters, whitespace and invisible or text-reordering characters (zero-width
//!   spaces, bidi overrides such as U+202E, …) are rejected everywhere;
//! - the domain needs at least one dot, labels of 1–63 letters, digits or hyphens (after
//!   IDNA) that neither start nor end with a hyphen, at most 253 characters, and a top-level
//!   label that is not all digits (so no IP addresses or `[…]` literals);
//! - the normalised address is at most 254 characters.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AddressError {
    #[error("the address is empty")]
    Empty,
    #[error("the address has no '@'")]
    MissingAt,
    #[error("the part before '@' is empty")]
    EmptyLocalPart,
    #[error("the part before '@' has a character that is not allowed: {0:?}")]
    InvalidLocalPart(char),
    #[error("the domain is not valid: {0}")]
    InvalidDomain(String),
    #[error("the address is too long ({0} characters; at most 254)")]
    TooLong(usize),
    #[error("the address has more than one '@' (outside quotes)")]
    MultipleAt,
}

/// Longest normalised address (RFC 5321's 256-octet path minus the angle brackets).
pub const MAX_ADDRESS_CHARS: usize = 254;
/// Longest ASCII domain.
const MAX_DOMAIN_CHARS: usize = 253;
/// Longest domain label.
const MAX_LABEL_CHARS: usize = 63;
/// Inputs longer than this are rejected before any further work: no string of at most
/// [`MAX_ADDRESS_CHARS`] characters (≤ 4 bytes each) is this long, so this only cuts off
/// hostile or garbage input early.
const MAX_INPUT_BYTES: usize = 4 * MAX_ADDRESS_CHARS + 8;

/// A syntactically valid, normalised address: `local@domain`, lowercase, ASCII domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress {
    local: String,
    domain: String,
}

impl EmailAddress {
    /// Parses and normalises a bare address (`" Ann.Lee@Exämple.com "`).
    pub fn parse(input: &str) -> Result<EmailAddress, AddressError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(AddressError::Empty);
        }
        if input.len() > MAX_INPUT_BYTES {
            return Err(AddressError::TooLong(input.chars().count()));
        }
        let (raw_local, raw_domain) = split_at_sign(input)?;
        let local = normalize_local(raw_local)?;
        let domain = normalize_untrimmed_domain(raw_domain)?;
        let length = local.chars().count() + 1 + domain.len();
        if length > MAX_ADDRESS_CHARS {
            return Err(AddressError::TooLong(length));
        }
        Ok(EmailAddress { local, domain })
    }
    pub fn local(&self) -> &str {
        &self.local
    }
    pub fn domain(&self) -> &str {
        &self.domain
    }
    /// The key two addresses are matched on: the normalised address, except on gmail.com
    /// and googlemail.com, where dots and `+tag` are dropped and the domain is gmail.com.
    pub fn match_key(&self) -> String {
        if is_gmail_domain(&self.domain) && !self.is_quoted() {
            let mailbox = untagged(&self.local);
            let mut key = String::with_capacity(mailbox.len() + GMAIL.len() + 1);
            key.extend(mailbox.chars().filter(|&c| c != '.'));
            // Gmail has no mailbox made only of dots and tags; should such an address turn
            // up, it keeps its exact form instead of colliding with every other one.
            if !key.is_empty() {
                key.push('@');
                key.push_str(GMAIL);
                return key;
            }
        }
        self.to_string()
    }
    /// On a domain where tags are not known to be ignored, the address without its `+tag`
    /// (`ann+news@acme.com` → `ann@acme.com`): a suggestion, never an automatic link.
    pub fn tag_stripped(&self) -> Option<EmailAddress> {
        if is_gmail_domain(&self.domain) || self.is_quoted() {
            return None;
        }
        let mailbox = untagged(&self.local);
        if mailbox.is_empty() || mailbox.len() == self.local.len() {
            return None;
        }
        Some(EmailAddress {
            local: mailbox.to_string(),
            domain: self.domain.clone(),
        })
    }
    fn is_quoted(&self) -> bool {
        self.local.starts_with('"')
    }
}

impl std::fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

impl std::str::FromStr for EmailAddress {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EmailAddress::parse(s)
    }
}

/// A display name with an address, as in `"Lee, Ann" <ann@acme.com>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub name: Option<String>,
    pub address: EmailAddress,
}

/// Parses `Name <addr>`, `"Quoted, Name" <addr>`, `<addr>` or a bare address (the value of
/// Gmail's old-UI recipient hidden inputs).
///
/// The name is unquoted and unescaped, its whitespace collapsed, and control and
/// text-reordering characters (which could spoof how it is shown) removed; it is None when
/// nothing is left.
pub fn parse_mailbox(input: &str) -> Result<Mailbox, AddressError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(AddressError::Empty);
    }
    // The first '<' outside quotes opens the address, so that a list of mailboxes or a
    // stray '<' in the name is an error, not a wrong guess. When an unbalanced quote in the
    // name hides it, the last '<' does.
    let angle = input.strip_suffix('>').and_then(|inner| {
        let open = unquoted_indices(inner, '<')
            .next()
            .or_else(|| inner.rfind('<'))?;
        Some((&inner[..open], &inner[open + 1..]))
    });
    match angle {
        Some((name, address)) => Ok(Mailbox {
            address: EmailAddress::parse(address)?,
            name: display_name(name),
        }),
        None => Ok(Mailbox {
            name: None,
            address: EmailAddress::parse(input)?,
        }),
    }
}

// ---------------------------------------------------------------------------------------
// Domains

const GMAIL: &str = "gmail.com";
const GOOGLEMAIL: &str = "googlemail.com";

fn is_gmail_domain(domain: &str) -> bool {
    domain == GMAIL || domain == GOOGLEMAIL
}

/// Unicode full stops that mean '.' in a domain (IDNA maps them too; doing it first lets the
/// structural checks and the ASCII fast path see them as dots).
fn is_unicode_full_stop(c: char) -> bool {
    matches!(c, '\u{3002}' | '\u{FF0E}' | '\u{FF61}')
}

/// Characters that are invisible or reorder text: soft hyphen, zero-width characters, bidi
/// marks, embeddings, overrides and isolates, the BOM, interlinear annotations, tag
/// characters. Never part of a legitimate address; common in spoofing.
pub(crate) fn is_invisible_or_bidi(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// Never allowed in an address outside quotes (and, except the plain space, not inside).
fn is_forbidden(c: char) -> bool {
    c.is_control() || c.is_whitespace() || is_invisible_or_bidi(c)
}

fn invalid_domain(reason: impl Into<String>) -> AddressError {
    AddressError::InvalidDomain(reason.into())
}

/// Normalises a domain as addresses are matched on: Unicode full stops to '.', IDNA (UTS 46)
/// to lowercase ASCII, then checked (at least one dot; labels of 1–63 letters, digits and
/// hyphens, not starting or ending with a hyphen; at most 253 characters; a top-level label
/// that is not all digits). `BÜCHER.example` → `xn--bcher-kva.example`.
///
/// Useful on its own for a domain typed without an address (a company's domain).
pub fn normalize_domain(input: &str) -> Result<String, AddressError> {
    normalize_untrimmed_domain(input.trim())
}

/// [`normalize_domain`] for the part after '@', where surrounding whitespace is an error.
fn normalize_untrimmed_domain(input: &str) -> Result<String, AddressError> {
    if input.is_empty() {
        return Err(invalid_domain("it is empty"));
    }
    if input.len() > MAX_INPUT_BYTES {
        return Err(invalid_domain(format!(
            "it is longer than {MAX_DOMAIN_CHARS} characters"
        )));
    }
    let mapped: std::borrow::Cow<'_, str> = if input.is_ascii() {
        input.into()
    } else {
        input
            .chars()
            .map(|c| if is_unicode_full_stop(c) { '.' } else { c })
            .collect::<String>()
            .into()
    };
    for c in mapped.chars() {
        let allowed = if c.is_ascii() {
            c.is_ascii_alphanumeric() || c == '-' || c == '.'
        } else {
            !is_forbidden(c)
        };
        if !allowed {
            return Err(invalid_domain(format!(
                "it contains {c:?}, which is not allowed"
            )));
        }
    }
    check_labels(&mapped)?;
    // UTS 46 on an ASCII name without Punycode labels only lowercases it: skip the tables.
    let ascii = if mapped.is_ascii() && !mapped.split('.').any(is_punycode_label) {
        mapped.to_ascii_lowercase()
    } else {
        domain_to_ascii(&mapped)
            .ok_or_else(|| invalid_domain("it is not a valid international domain name"))?
    };
    check_ascii_domain(&ascii)?;
    Ok(ascii)
}

/// UTS 46 ToASCII of a domain with non-ASCII or Punycode labels.
#[cfg(feature = "unicode-idna")]
fn domain_to_ascii(domain: &str) -> Option<String> {
    idna::domain_to_ascii(domain).ok()
}

/// With the Unicode tables built in, a lent implementation is not needed and is ignored.
#[cfg(feature = "unicode-idna")]
pub fn set_domain_to_ascii(_f: fn(&str) -> Option<String>) {}

#[cfg(not(feature = "unicode-idna"))]
static DOMAIN_TO_ASCII: std::sync::OnceLock<fn(&str) -> Option<String>> =
    std::sync::OnceLock::new();

/// Without the `unicode-idna` feature, the embedder provides UTS 46 ToASCII (the WASM core
/// uses the browser's URL parser). Until it does, international domains are rejected.
#[cfg(not(feature = "unicode-idna"))]
pub fn set_domain_to_ascii(f: fn(&str) -> Option<String>) {
    let _ = DOMAIN_TO_ASCII.set(f);
}

#[cfg(not(feature = "unicode-idna"))]
fn domain_to_ascii(domain: &str) -> Option<String> {
    DOMAIN_TO_ASCII.get().and_then(|f| f(domain))
}

fn is_punycode_label(label: &str) -> bool {
    label.len() >= 4 && label[..4].eq_ignore_ascii_case("xn--")
}

/// Structure that must hold before and after IDNA: labels separated by single dots, none
/// empty, none starting or ending with a hyphen, and at least two of them.
fn check_labels(domain: &str) -> Result<(), AddressError> {
    if domain.starts_with('.') {
        return Err(invalid_domain("it starts with a dot"));
    }
    if domain.ends_with('.') {
        return Err(invalid_domain("it ends with a dot"));
    }
    if domain.contains("..") {
        return Err(invalid_domain("it has two dots in a row"));
    }
    if !domain.contains('.') {
        return Err(invalid_domain(
            "it needs at least one dot (as in example.com)",
        ));
    }
    if let Some(label) = domain
        .split('.')
        .find(|label| label.starts_with('-') || label.ends_with('-'))
    {
        return Err(invalid_domain(format!(
            "the part {label:?} starts or ends with a hyphen"
        )));
    }
    Ok(())
}

fn check_ascii_domain(domain: &str) -> Result<(), AddressError> {
    check_labels(domain)?;
    if let Some(c) = domain
        .chars()
        .find(|&c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'))
    {
        return Err(invalid_domain(format!(
            "it contains {c:?}, which is not allowed"
        )));
    }
    if let Some(label) = domain.split('.').find(|l| l.len() > MAX_LABEL_CHARS) {
        return Err(invalid_domain(format!(
            "the part {label:?} is longer than {MAX_LABEL_CHARS} characters"
        )));
    }
    if domain.len() > MAX_DOMAIN_CHARS {
        return Err(invalid_domain(format!(
            "it is longer than {MAX_DOMAIN_CHARS} characters"
        )));
    }
    let tld = domain.rsplit('.').next().unwrap_or_default();
    if tld.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid_domain(
            "it ends in a number (IP addresses are not supported)",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Local parts

/// RFC 5322 `atext` plus '.', and any non-ASCII character that is not forbidden (RFC 6532).
fn is_unquoted_local_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c)
    } else {
        !is_forbidden(c)
    }
}

/// Allowed (after unescaping) inside a quoted local part: printable ASCII but '<' and '>'
/// (which only ever show up there as markup or a broken `Name <addr>`), the space, and
/// non-ASCII characters that are not forbidden.
fn is_quoted_local_char(c: char) -> bool {
    c == ' ' || !(is_forbidden(c) || c == '<' || c == '>')
}

/// The local part without its `+tag` (the whole local part when there is none).
fn untagged(local: &str) -> &str {
    local.split_once('+').map_or(local, |(mailbox, _)| mailbox)
}

/// Splits at the one '@' outside quotes.
fn split_at_sign(input: &str) -> Result<(&str, &str), AddressError> {
    let mut ats = unquoted_indices(input, '@');
    let at = ats.next().ok_or(AddressError::MissingAt)?;
    if ats.next().is_some() {
        return Err(AddressError::MultipleAt);
    }
    Ok((&input[..at], &input[at + 1..]))
}

/// Byte indices of `target` outside double-quoted strings (with `\` escapes inside them).
fn unquoted_indices(s: &str, target: char) -> impl Iterator<Item = usize> + '_ {
    let mut in_quotes = false;
    let mut escaped = false;
    s.char_indices().filter_map(move |(i, c)| {
        if escaped {
            escaped = false;
        } else if in_quotes && c == '\\' {
            escaped = true;
        } else if c == '"' {
            in_quotes = !in_quotes;
        } else if c == target && !in_quotes {
            return Some(i);
        }
        None
    })
}

fn lowercase(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        s.to_lowercase()
    }
}

fn normalize_local(raw: &str) -> Result<String, AddressError> {
    if raw.is_empty() {
        return Err(AddressError::EmptyLocalPart);
    }
    if raw.starts_with('"') {
        return normalize_quoted_local(raw);
    }
    match raw.chars().find(|&c| !is_unquoted_local_char(c)) {
        Some(c) => Err(AddressError::InvalidLocalPart(c)),
        None => Ok(lowercase(raw)),
    }
}

/// `"Ann Lee"` stays quoted (lowercased, only `"` and `\` escaped); a quoted string that
/// needs no quotes (`"ann"`) is unquoted, so both spellings of one mailbox match.
fn normalize_quoted_local(raw: &str) -> Result<String, AddressError> {
    let body = raw[1..]
        .strip_suffix('"')
        .ok_or(AddressError::InvalidLocalPart('"'))?;
    let mut content = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        let c = match c {
            '\\' => chars.next().ok_or(AddressError::InvalidLocalPart('\\'))?,
            '"' => return Err(AddressError::InvalidLocalPart('"')),
            c => c,
        };
        if !is_quoted_local_char(c) {
            return Err(AddressError::InvalidLocalPart(c));
        }
        content.push(c);
    }
    if content.is_empty() {
        return Err(AddressError::EmptyLocalPart);
    }
    let content = lowercase(&content);
    if content.chars().all(is_unquoted_local_char) {
        return Ok(content);
    }
    let mut quoted = String::with_capacity(content.len() + 2);
    quoted.push('"');
    for c in content.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    Ok(quoted)
}

// ---------------------------------------------------------------------------------------
// Mailboxes

/// `"Lee, Ann"` → `Lee, Ann`; `  Ann   "the boss"  Lee ` → `Ann the boss Lee`;
/// `'Ann Lee'` (as some clients write it) → `Ann Lee`.
fn display_name(raw: &str) -> Option<String> {
    let mut unquoted = String::with_capacity(raw.len());
    let mut in_quotes = false;
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => in_quotes = !in_quotes,
            '\\' if in_quotes => {
                if let Some(next) = chars.next() {
                    unquoted.push(next);
                }
            }
            c => unquoted.push(c),
        }
    }
    let cleaned: String = unquoted
        .chars()
        .filter(|&c| !is_invisible_or_bidi(c))
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let name = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    let name = match name.strip_prefix('\'').and_then(|n| n.strip_suffix('\'')) {
        Some(inner) => inner.trim().to_string(),
        None => name,
    };
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(input: &str) -> Result<String, AddressError> {
        EmailAddress::parse(input).map(|a| a.to_string())
    }

    fn domain_error(input: &str) -> bool {
        matches!(
            EmailAddress::parse(input),
            Err(AddressError::InvalidDomain(_))
        )
    }

    #[test]
    fn parse_normalises() {
        let rows = [
            ("ann@acme.com", "ann@acme.com"),
            ("  Ann.Lee@ACME.com \n", "ann.lee@acme.com"),
            ("\tann@acme.com\t", "ann@acme.com"),
            // IDNA (UTS 46) to ASCII.
            ("Ann@BÜCHER.example", "ann@xn--bcher-kva.example"),
            ("ann@bücher.de", "ann@xn--bcher-kva.de"),
            ("ann@xn--bcher-kva.de", "ann@xn--bcher-kva.de"),
            ("ann@XN--BCHER-KVA.DE", "ann@xn--bcher-kva.de"),
            (
                "ann@münchen.bücher.de",
                "ann@xn--mnchen-3ya.xn--bcher-kva.de",
            ),
            ("ann@例え.jp", "ann@xn--r8jz45g.jp"),
            ("ann@straße.de", "ann@xn--strae-oqa.de"),
            // Unicode full stops.
            ("ann@acme。com", "ann@acme.com"),
            ("ann@acme．com", "ann@acme.com"),
            ("ann@acme｡com", "ann@acme.com"),
            ("ann@mail。bücher．de", "ann@mail.xn--bcher-kva.de"),
            // Gmail keeps its dots and tags in the normalised form (only the key drops them).
            ("Ann.Lee+News@Gmail.com", "ann.lee+news@gmail.com"),
            ("ann@googlemail.com", "ann@googlemail.com"),
            // Internationalised local parts are kept (lowercased).
            ("Ünal@acme.com", "ünal@acme.com"),
            ("用户@例子.cn", "用户@xn--fsqu00a.cn"),
            // All of RFC 5322 atext.
            (
                "a!#$%&'*+-/=?^_`{|}~z@acme.com",
                "a!#$%&'*+-/=?^_`{|}~z@acme.com",
            ),
            // Dots anywhere in the local part (real carrier mailboxes look like this).
            ("taro..yamada.@docomo.ne.jp", "taro..yamada.@docomo.ne.jp"),
            (".ann@acme.com", ".ann@acme.com"),
            // Quoted local parts.
            ("\"ann\"@acme.com", "ann@acme.com"),
            ("\"Ann.Lee\"@acme.com", "ann.lee@acme.com"),
            ("\"Ann Lee\"@acme.com", "\"ann lee\"@acme.com"),
            ("\"ann@home\"@acme.com", "\"ann@home\"@acme.com"),
            ("\"a\\\"b\"@acme.com", "\"a\\\"b\"@acme.com"),
            ("\"a\\\\b\"@acme.com", "\"a\\\\b\"@acme.com"),
            ("\"a\\bc\"@acme.com", "abc@acme.com"),
            // Domains.
            ("ann@a.co", "ann@a.co"),
            ("ann@1-2-3.example.org", "ann@1-2-3.example.org"),
            ("ann@123.com", "ann@123.com"),
            ("ann@x--y.com", "ann@x--y.com"),
        ];
        for (input, expected) in rows {
            assert_eq!(
                normalized(input).as_deref(),
                Ok(expected),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn parse_rejects() {
        use AddressError::*;
        let rows: Vec<(&str, AddressError)> = vec![
            ("", Empty),
            ("   \t\n", Empty),
            ("ann", MissingAt),
            ("ann.acme.com", MissingAt),
            ("ann@bob@acme.com", MultipleAt),
            ("@@acme.com", MultipleAt),
            ("@acme.com", EmptyLocalPart),
            ("\"\"@acme.com", EmptyLocalPart),
            ("ann lee@acme.com", InvalidLocalPart(' ')),
            ("ann\tlee@acme.com", InvalidLocalPart('\t')),
            ("ann\0@acme.com", InvalidLocalPart('\0')),
            ("ann\u{202E}moc@acme.com", InvalidLocalPart('\u{202E}')),
            ("a\u{200B}nn@acme.com", InvalidLocalPart('\u{200B}')),
            ("ann\u{00A0}lee@acme.com", InvalidLocalPart('\u{00A0}')),
            ("<script>alert(1)</script>@acme.com", InvalidLocalPart('<')),
            ("ann,lee@acme.com", InvalidLocalPart(',')),
            ("ann\\lee@acme.com", InvalidLocalPart('\\')),
            ("an\"n\"@acme.com", InvalidLocalPart('"')),
            ("\"ann@acme.com", MissingAt),
            ("\"ann\"x@acme.com", InvalidLocalPart('"')),
            ("\"ann\0\"@acme.com", InvalidLocalPart('\0')),
            ("\"ann\u{202E}\"@acme.com", InvalidLocalPart('\u{202E}')),
            ("\"ann\tlee\"@acme.com", InvalidLocalPart('\t')),
        ];
        for (input, expected) in rows {
            assert_eq!(EmailAddress::parse(input), Err(expected), "input {input:?}");
        }
    }

    #[test]
    fn parse_rejects_invalid_domains() {
        let rows = [
            "ann@",
            "ann@ ",
            "ann@localhost",
            "ann@acme",
            "ann@.acme.com",
            "ann@acme.com.",
            "ann@acme..com",
            "ann@acme。。com",
            "ann@-acme.com",
            "ann@acme-.com",
            "ann@acme.-com",
            "ann@acme_corp.com",
            "ann@acme com",
            "ann@ acme.com",
            "ann@acme.com\0",
            "ann@acme\u{202E}.com",
            "ann@ac\u{200B}me.com",
            "ann@[192.168.0.1]",
            "ann@192.168.0.1",
            "ann@acme.123",
            "ann@<script>.com",
            "ann@acme.com>",
            "ann@acme.com/path",
            "ann@\"acme.com\"",
            // 64-character label.
            "ann@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
            // Invalid Punycode, and an IDNA-disallowed character.
            "ann@xn--zz.com",
            "ann@xn--.com",
            "ann@a\u{2488}com",
            "ann@\u{FFFD}.com",
        ];
        for input in rows {
            assert!(
                domain_error(input),
                "input {input:?}: {:?}",
                EmailAddress::parse(input)
            );
        }
        // A 63-character label is fine.
        let label = "a".repeat(63);
        assert!(EmailAddress::parse(&format!("ann@{label}.com")).is_ok());
        // The reason is given.
        assert_eq!(
            EmailAddress::parse("ann@localhost")
                .unwrap_err()
                .to_string(),
            "the domain is not valid: it needs at least one dot (as in example.com)"
        );
        assert_eq!(
            EmailAddress::parse("ann@acme_corp.com")
                .unwrap_err()
                .to_string(),
            "the domain is not valid: it contains '_', which is not allowed"
        );
    }

    #[test]
    fn length_limits() {
        let domain = format!(
            "{}.{}.{}.com",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63)
        );
        // 254 characters in all: accepted.
        let local = "x".repeat(254 - 1 - domain.len());
        let fits = format!("{local}@{domain}");
        assert_eq!(fits.len(), 254);
        assert_eq!(normalized(&fits).as_deref(), Ok(fits.as_str()));
        // 255: rejected.
        let over = format!("x{fits}");
        assert_eq!(EmailAddress::parse(&over), Err(AddressError::TooLong(255)));
        // A quoted local part that unquotes to fit is measured after normalising.
        let quoted = format!("\"{local}\"@{domain}");
        assert_eq!(normalized(&quoted).as_deref(), Ok(fits.as_str()));
        // Punycode counts in its ASCII length.
        let idn = format!("{}@{}.ü.com", "x".repeat(236), "a".repeat(10));
        assert_eq!(idn.chars().count(), 253);
        assert_eq!(EmailAddress::parse(&idn), Err(AddressError::TooLong(259)));
        // A domain over 253 characters is an invalid domain.
        let long_domain = format!(
            "{}.{}.{}.{}.com",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(63)
        );
        assert!(matches!(
            normalize_domain(&long_domain),
            Err(AddressError::InvalidDomain(_))
        ));
    }

    #[test]
    fn hostile_input_is_a_clean_error() {
        let ten_k = "a".repeat(10_000);
        let rows: Vec<(String, AddressError)> = vec![
            (ten_k.clone(), AddressError::TooLong(10_000)),
            (format!("{ten_k}@acme.com"), AddressError::TooLong(10_009)),
            (format!("ann@{ten_k}.com"), AddressError::TooLong(10_008)),
            ("@".repeat(10_000), AddressError::TooLong(10_000)),
            ("ü".repeat(10_000), AddressError::TooLong(10_000)),
            ("\"".repeat(10_000), AddressError::TooLong(10_000)),
            (
                "\u{202E}moc.emca@nna".into(),
                AddressError::InvalidLocalPart('\u{202E}'),
            ),
            ("\0".into(), AddressError::MissingAt),
            ("\0@\0".into(), AddressError::InvalidLocalPart('\0')),
            (
                "ann@\0".into(),
                AddressError::InvalidDomain("it contains '\\0', which is not allowed".into()),
            ),
            (
                "\"<script>alert(1)</script>\"@acme.com".into(),
                AddressError::InvalidLocalPart('<'),
            ),
        ];
        for (input, expected) in &rows {
            let short: String = input.chars().take(40).collect();
            assert_eq!(
                &EmailAddress::parse(input).unwrap_err(),
                expected,
                "input {short:?}"
            );
        }
        // Whatever the input, no panic (and no quadratic blow-up): a quick sweep of nasty
        // ingredients in many combinations.
        let parts = [
            "@", "\"", "\\", ".", "。", "ü", "xn--", "-", "+", "\0", "\u{202E}", " ", "<", ">", "a",
        ];
        for a in parts {
            for b in parts {
                for c in parts {
                    let input = format!("{a}{b}{c}@{c}{b}{a}.com");
                    let _ = EmailAddress::parse(&input);
                    let _ = parse_mailbox(&input);
                    let _ = parse_mailbox(&format!("{a}{b} <{c}@acme.com>"));
                }
            }
        }
    }

    #[test]
    fn match_keys() {
        let rows = [
            // Gmail: dots and tags ignored, googlemail.com is gmail.com.
            ("ann.lee@gmail.com", "annlee@gmail.com"),
            ("AnnLee@Gmail.com", "annlee@gmail.com"),
            ("a.n.n.l.e.e@gmail.com", "annlee@gmail.com"),
            ("ann.lee+crm@gmail.com", "annlee@gmail.com"),
            ("ann.lee+crm+x@gmail.com", "annlee@gmail.com"),
            ("annlee@googlemail.com", "annlee@gmail.com"),
            ("Ann.Lee+News@GoogleMail.com", "annlee@gmail.com"),
            ("ann.lee@gmail。com", "annlee@gmail.com"),
            // Only the exact domains: subdomains and look-alikes match exactly.
            ("ann.lee@mail.gmail.com", "ann.lee@mail.gmail.com"),
            ("ann.lee@gmail.co.uk", "ann.lee@gmail.co.uk"),
            ("ann.lee@gmail.com.evil.io", "ann.lee@gmail.com.evil.io"),
            // Other domains: exact (tags and dots are significant).
            ("ann.lee@acme.com", "ann.lee@acme.com"),
            ("ann.lee+crm@acme.com", "ann.lee+crm@acme.com"),
            ("Ann@BÜCHER.example", "ann@xn--bcher-kva.example"),
            ("ann@acme。com", "ann@acme.com"),
            // No Gmail mailbox is only dots and tags: such an address keeps its exact key.
            ("+crm@gmail.com", "+crm@gmail.com"),
            ("...@gmail.com", "...@gmail.com"),
            // Quoted local parts are never folded.
            ("\"ann lee\"@gmail.com", "\"ann lee\"@gmail.com"),
        ];
        for (input, expected) in rows {
            let address = EmailAddress::parse(input).unwrap();
            assert_eq!(address.match_key(), expected, "input {input:?}");
        }
    }

    #[test]
    fn same_mailbox_same_key() {
        let groups: &[&[&str]] = &[
            &[
                "ann.lee@gmail.com",
                "annlee@gmail.com",
                "ANN.LEE+x@googlemail.com",
                " a.nnlee+@gmail.com ",
            ],
            &[
                "ann@bücher.de",
                "ANN@BÜCHER.DE",
                "ann@xn--bcher-kva.de",
                "ann@bücher。de",
            ],
            &["ann@acme.com", "\"ann\"@ACME.com", "Ann@acme．com"],
        ];
        for group in groups {
            let keys: Vec<String> = group
                .iter()
                .map(|a| EmailAddress::parse(a).unwrap().match_key())
                .collect();
            assert!(keys.iter().all(|k| *k == keys[0]), "{group:?} → {keys:?}");
        }
        // …and different mailboxes differ.
        let distinct = [
            "ann+x@acme.com",
            "ann@acme.com",
            "ann.x@acme.com",
            "annx@acme.com",
            "ann@acme.co",
        ];
        let keys: std::collections::HashSet<String> = distinct
            .iter()
            .map(|a| EmailAddress::parse(a).unwrap().match_key())
            .collect();
        assert_eq!(keys.len(), distinct.len());
    }

    #[test]
    fn tag_stripped_variants() {
        let rows = [
            ("ann+news@acme.com", Some("ann@acme.com")),
            ("Ann.Lee+News+2@Acme.com", Some("ann.lee@acme.com")),
            ("ann+@acme.com", Some("ann@acme.com")),
            ("ann@acme.com", None),
            ("+news@acme.com", None),
            // Gmail ignores tags already: nothing looser to suggest.
            ("ann+news@gmail.com", None),
            ("ann+news@googlemail.com", None),
            ("\"ann+news x\"@acme.com", None),
            ("\"ann+news\"@acme.com", Some("ann@acme.com")),
        ];
        for (input, expected) in rows {
            let address = EmailAddress::parse(input).unwrap();
            let stripped = address.tag_stripped().map(|a| a.to_string());
            assert_eq!(stripped.as_deref(), expected, "input {input:?}");
        }
    }

    #[test]
    fn mailboxes() {
        let rows: &[(&str, Option<&str>, &str)] = &[
            ("Ann Lee <ann@acme.com>", Some("Ann Lee"), "ann@acme.com"),
            (
                "  Ann    Lee   <  Ann@Acme.com  >  ",
                Some("Ann Lee"),
                "ann@acme.com",
            ),
            (
                "\"Lee, Ann\" <ann@acme.com>",
                Some("Lee, Ann"),
                "ann@acme.com",
            ),
            (
                "\"Ann \\\"The Boss\\\" Lee\" <ann@acme.com>",
                Some("Ann \"The Boss\" Lee"),
                "ann@acme.com",
            ),
            (
                "\"Ann <Boss>\" <ann@acme.com>",
                Some("Ann <Boss>"),
                "ann@acme.com",
            ),
            (
                "\"ann@acme.com\" <ann@acme.com>",
                Some("ann@acme.com"),
                "ann@acme.com",
            ),
            (
                "Ann \"the boss\" Lee <ann@acme.com>",
                Some("Ann the boss Lee"),
                "ann@acme.com",
            ),
            ("<ann@acme.com>", None, "ann@acme.com"),
            ("\"\" <ann@acme.com>", None, "ann@acme.com"),
            ("   <ann@acme.com>", None, "ann@acme.com"),
            ("ann@acme.com", None, "ann@acme.com"),
            ("  Ann@Acme.com  ", None, "ann@acme.com"),
            (
                "Jürgen Müller <jürgen@müller.de>",
                Some("Jürgen Müller"),
                "jürgen@xn--mller-kva.de",
            ),
            (
                "Ann <\"ann lee\"@acme.com>",
                Some("Ann"),
                "\"ann lee\"@acme.com",
            ),
            ("Ann <ann@acme。com>", Some("Ann"), "ann@acme.com"),
            ("'Ann Lee' <ann@acme.com>", Some("Ann Lee"), "ann@acme.com"),
            ("'' <ann@acme.com>", None, "ann@acme.com"),
            ("O'Neil <ann@acme.com>", Some("O'Neil"), "ann@acme.com"),
            // An unbalanced quote in the name does not hide the address.
            (
                "\"Lee, Ann <ann@acme.com>",
                Some("Lee, Ann"),
                "ann@acme.com",
            ),
            // Reordering and control characters are removed from the name.
            (
                "Ann\u{202E}eeL <ann@acme.com>",
                Some("AnneeL"),
                "ann@acme.com",
            ),
            (
                "Ann\0Lee\r\n <ann@acme.com>",
                Some("Ann Lee"),
                "ann@acme.com",
            ),
            ("\u{202E} <ann@acme.com>", None, "ann@acme.com"),
        ];
        for &(input, name, address) in rows {
            let mailbox = parse_mailbox(input).unwrap_or_else(|e| panic!("input {input:?}: {e}"));
            assert_eq!(mailbox.name.as_deref(), name, "input {input:?}");
            assert_eq!(mailbox.address.to_string(), address, "input {input:?}");
        }
    }

    #[test]
    fn mailbox_errors() {
        use AddressError::*;
        let rows: Vec<(&str, AddressError)> = vec![
            ("", Empty),
            ("  ", Empty),
            ("Ann Lee", MissingAt),
            ("Ann Lee <>", Empty),
            ("Ann Lee <ann>", MissingAt),
            ("Ann Lee ann@acme.com", InvalidLocalPart(' ')),
            ("Ann <ann@acme.com", InvalidLocalPart(' ')),
            ("Ann <ann@bob@acme.com>", MultipleAt),
            ("<script>alert(1)</script>", MissingAt),
            ("<<script>@acme.com>", InvalidLocalPart('<')),
            ("Ann <ann@acme.com> <bob@acme.com>", MultipleAt),
            ("Ann <ann@acme.com>, Bob <bob@acme.com>", MultipleAt),
            ("Ann <Boss> <ann@acme.com>", InvalidLocalPart('>')),
        ];
        for (input, expected) in rows {
            assert_eq!(parse_mailbox(input), Err(expected), "input {input:?}");
        }
        let long = format!("Ann <{}@acme.com>", "a".repeat(10_000));
        assert_eq!(parse_mailbox(&long), Err(TooLong(10_009)));
    }

    #[test]
    fn domains_on_their_own() {
        let rows = [
            ("Acme.COM", Ok("acme.com")),
            (" bücher.de ", Ok("xn--bcher-kva.de")),
            ("acme。co。uk", Ok("acme.co.uk")),
            ("", Err(())),
            ("acme", Err(())),
            ("acme.com.", Err(())),
            ("acme..com", Err(())),
        ];
        for (input, expected) in rows {
            assert_eq!(
                normalize_domain(input).as_deref().map_err(|_| ()),
                expected,
                "input {input:?}"
            );
        }
    }
}
