//! What a list's `q=` means: a name (case-insensitive substring), an email address
//! (matched by its normalised match key, like the lookup) or a domain (a company's domains;
//! the domain of a contact's addresses, subdomains included).

use threadline_domain::address::EmailAddress;

use crate::error::{CrmError, CrmResult, Reason};
use crate::records::companies::normalize_company_domain;
use crate::validate::{char_message, Lines};

/// A search, read once for all the conditions of a query.
pub struct Terms {
    /// `%q%` for `lower(col) LIKE lower($) ESCAPE '\'`.
    pub like: String,
    /// The match key, when `q` is an email address.
    pub match_key: Option<String>,
    /// The registrable domain of `q` (a domain, or an address's domain).
    pub domain: Option<String>,
}

impl Terms {
    pub fn parse(q: &str) -> Terms {
        let q = q.trim();
        let like = format!("%{}%", escape_like(q));
        if q.contains('@') && !q.starts_with('@') {
            if let Ok(address) = EmailAddress::parse(q) {
                return Terms {
                    like,
                    domain: normalize_company_domain(address.domain()).ok(),
                    match_key: Some(address.match_key()),
                };
            }
        }
        let domain = (q.contains('.') && !q.contains(char::is_whitespace))
            .then(|| normalize_company_domain(q).ok())
            .flatten();
        Terms {
            like,
            match_key: None,
            domain,
        }
    }
}

/// Refuses a search `q` holding a character no stored text may hold (NUL, another control
/// character, a bidi override: `threadline_domain::text`): 400 `invalid_query`, field `q`.
/// Such a query could match nothing stored since the rule, and SQLite's `LIKE` stops at a
/// NUL, so `q=%00` would match every row.
pub fn check_query(q: &str) -> CrmResult<()> {
    match threadline_domain::text::refused_char(q, Lines::Single) {
        None => Ok(()),
        Some(c) => Err(CrmError::new(
            Reason::BadInput,
            "invalid_query",
            char_message("q", c, Lines::Single),
        )
        .with_field("q")),
    }
}

/// `s` with `\`, `%` and `_` escaped for `LIKE … ESCAPE '\'`.
pub fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_a_name_an_address_or_a_domain() {
        let t = Terms::parse("Ann_1%");
        assert_eq!(t.like, "%Ann\\_1\\%%");
        assert!(t.match_key.is_none() && t.domain.is_none());
        let t = Terms::parse("Bob@Mail.ACME.com");
        assert_eq!(t.domain.as_deref(), Some("acme.com"));
        assert!(t.match_key.is_some());
        let t = Terms::parse("@acme.co.uk");
        assert_eq!(t.domain.as_deref(), Some("acme.co.uk"));
        assert!(Terms::parse("Acme Inc.").domain.is_none());
    }

    #[test]
    fn a_query_with_a_control_character_is_refused() {
        for q in ["\0", "a\0", "x\u{1b}[0m", "\u{202e}", "a\tb"] {
            let err = check_query(q).unwrap_err();
            assert_eq!(err.code(), Some("invalid_query"), "{q:?}");
            assert_eq!(err.reason(), Some(Reason::BadInput));
        }
        check_query("Ann_1% O'Brien — Zoë").unwrap();
    }
}
