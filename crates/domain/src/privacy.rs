//! Privacy rules: who is never logged, who is a colleague, who is the user. Pure: the server
//! loads the rules, this module decides.
//!
//! - **Never-log entries** ([`NeverLogValue`]) are an address (`ann@acme.com`) or a whole
//!   domain (`acme.com`, also written `@acme.com`), the user's own (`me`) or the
//!   organisation's. An address entry matches the address by its match key (so on
//!   gmail.com dots and `+tag` do not matter, as everywhere) **and** the `+tag` variants of
//!   it elsewhere (`ann+news@acme.com` is not logged when `ann@acme.com` asked not to be: a
//!   never-log rule errs on the side of not logging). A domain entry matches the domain and
//!   every subdomain of it (`acme.com` covers `mail.acme.com`, not `notacme.com`). A public
//!   suffix alone (`co.uk`, `github.io`) is refused as an entry: it would silence a whole
//!   country or hosting service, which is never what was meant.
//! - **Internal domains** are the organisation's own: an address on one of them, or on a
//!   subdomain of one, is a colleague's. Configured by the organisation's owner; by default
//!   ([`default_internal_domains`]) the registrable domains of its users' addresses, minus
//!   free-mail ones (a user at gmail.com does not make every gmail.com address a colleague).
//!   A free-mail domain or a public suffix cannot be configured as internal.
//! - **Own addresses** are the user's login address, aliases and the addresses of their
//!   connected Google accounts; matched by match key.
//!
//! [`PrivacyRules::verdict`] gives the first that applies, in this order: own, never-log
//! (the user's entries before the organisation's, an address entry before a domain entry),
//! colleague. Own comes first: an organisation's rule never hides the user from themself.
//!
//! [`check_tracking`] is what tracking an email obeys: refused when any **counterpart**
//! (a party that is not one of the user's own addresses) is never-logged; refused when
//! every party is the user or a colleague, unless the user insists.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::address::{normalize_domain, EmailAddress};
use crate::company::is_free_mail_normalized;

/// Longest never-log value or internal domain accepted as input, in bytes (the longest
/// address is 254 characters; this only cuts hostile input short before any work).
pub const MAX_VALUE_INPUT_BYTES: usize = 1024;
/// Most internal domains an organisation may configure.
pub const MAX_INTERNAL_DOMAINS: usize = 100;

/// Whose a never-log entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RuleScope {
    /// The user's own list: applies to their lookups and tracking only.
    Me,
    /// The organisation's list, managed by its owner: applies to everyone in it.
    Organisation,
}

impl RuleScope {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleScope::Me => "me",
            RuleScope::Organisation => "organisation",
        }
    }
    pub fn parse(s: &str) -> Option<RuleScope> {
        match s {
            "me" => Some(RuleScope::Me),
            "organisation" => Some(RuleScope::Organisation),
            _ => None,
        }
    }
}

/// What a never-log entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NeverLogKind {
    Address,
    Domain,
}

impl NeverLogKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NeverLogKind::Address => "address",
            NeverLogKind::Domain => "domain",
        }
    }
    pub fn parse(s: &str) -> Option<NeverLogKind> {
        match s {
            "address" => Some(NeverLogKind::Address),
            "domain" => Some(NeverLogKind::Domain),
            _ => None,
        }
    }
}

/// Why a never-log value or an internal domain is refused: a sentence for a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PrivacyError(pub String);

/// A never-log entry's value, normalised: an address (normalised as addresses are) or an
/// ASCII domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NeverLogValue {
    kind: NeverLogKind,
    /// The normalised address or domain: what is shown and stored.
    value: String,
    /// Address: its match key; domain: the domain.
    key: String,
}

impl NeverLogValue {
    /// `ann@acme.com` → an address; `acme.com`, `@acme.com`, `acme.com.` → a domain.
    pub fn parse(raw: &str) -> Result<NeverLogValue, PrivacyError> {
        let raw = bounded(raw)?;
        if let Some(domain) = raw.strip_prefix('@') {
            return Ok(NeverLogValue::domain(parse_domain(domain)?));
        }
        if raw.contains('@') {
            let address = EmailAddress::parse(raw)
                .map_err(|e| PrivacyError(format!("{raw:?} is not a valid email address: {e}")))?;
            return Ok(NeverLogValue {
                kind: NeverLogKind::Address,
                key: address.match_key(),
                value: address.to_string(),
            });
        }
        Ok(NeverLogValue::domain(parse_domain(raw)?))
    }

    /// A value as stored (kind and normalised value); None when it no longer parses as
    /// that kind.
    pub fn stored(kind: NeverLogKind, value: &str) -> Option<NeverLogValue> {
        let parsed = match kind {
            NeverLogKind::Address => NeverLogValue::parse(value).ok()?,
            NeverLogKind::Domain => NeverLogValue::domain(parse_domain(value).ok()?),
        };
        (parsed.kind == kind).then_some(parsed)
    }

    fn domain(domain: String) -> NeverLogValue {
        NeverLogValue {
            kind: NeverLogKind::Domain,
            key: domain.clone(),
            value: domain,
        }
    }

    pub fn kind(&self) -> NeverLogKind {
        self.kind
    }
    /// The normalised address or domain.
    pub fn value(&self) -> &str {
        &self.value
    }
    /// What two entries are the same by: an address's match key, a domain.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether this entry covers `address` (see the module's rules).
    pub fn matches(&self, address: &EmailAddress) -> bool {
        match self.kind {
            NeverLogKind::Domain => domain_covers(&self.key, address.domain()),
            NeverLogKind::Address => {
                address.match_key() == self.key
                    || address
                        .tag_stripped()
                        .is_some_and(|stripped| stripped.match_key() == self.key)
            }
        }
    }
}

fn bounded(raw: &str) -> Result<&str, PrivacyError> {
    if raw.len() > MAX_VALUE_INPUT_BYTES {
        return Err(PrivacyError(format!(
            "the value is too long ({} bytes; an address or a domain is far shorter)",
            raw.len()
        )));
    }
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(PrivacyError(
            "give an address (ann@acme.com) or a domain (acme.com)".into(),
        ));
    }
    Ok(raw)
}

/// A domain typed by a person: normalised (IDNA, lowercase, one trailing dot dropped), and
/// more than a public suffix.
fn parse_domain(raw: &str) -> Result<String, PrivacyError> {
    let raw = raw.strip_suffix('.').unwrap_or(raw);
    let domain = normalize_domain(raw).map_err(|e| PrivacyError(format!("{raw:?}: {e}")))?;
    if psl::domain_str(&domain).is_none() {
        return Err(PrivacyError(format!(
            "{domain} is a public suffix, shared by unrelated organisations: name a domain under it"
        )));
    }
    Ok(domain)
}

/// An internal domain as configured by an organisation's owner: a domain (as
/// [`NeverLogValue::parse`] reads one, `@acme.com` too), not free-mail.
pub fn parse_internal_domain(raw: &str) -> Result<String, PrivacyError> {
    let raw = bounded(raw)?;
    let raw = raw.strip_prefix('@').unwrap_or(raw);
    if raw.contains('@') {
        return Err(PrivacyError(format!(
            "{raw:?} is an address: give the domain only (acme.com)"
        )));
    }
    let domain = parse_domain(raw)?;
    if is_free_mail_normalized(&domain) {
        return Err(PrivacyError(format!(
            "{domain} is a public mail provider: its users are not colleagues"
        )));
    }
    Ok(domain)
}

/// The internal domains of an organisation that configured none: the registrable domains
/// of its users' addresses, free-mail ones left out; sorted, without duplicates. Addresses
/// that do not parse are skipped.
pub fn default_internal_domains<S: AsRef<str>>(user_addresses: &[S]) -> Vec<String> {
    let mut domains: Vec<String> = user_addresses
        .iter()
        .filter_map(|a| EmailAddress::parse(a.as_ref()).ok())
        .filter(|a| !is_free_mail_normalized(a.domain()))
        .filter_map(|a| psl::domain_str(a.domain()).map(str::to_string))
        .collect();
    domains.sort();
    domains.dedup();
    domains
}

/// True when `domain` is `parent` or a subdomain of it (both normalised ASCII).
pub fn domain_covers(parent: &str, domain: &str) -> bool {
    domain == parent
        || (domain.len() > parent.len()
            && domain.ends_with(parent)
            && domain.as_bytes()[domain.len() - parent.len() - 1] == b'.')
}

/// One never-log entry as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeverLogRule {
    pub id: Uuid,
    pub scope: RuleScope,
    pub value: NeverLogValue,
}

/// Why an address is not an ordinary counterpart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrivacyVerdict<'a> {
    /// One of the user's own addresses.
    Own,
    /// On the never-log list, by this entry.
    NeverLog(&'a NeverLogRule),
    /// On one of the organisation's internal domains (this one).
    Colleague(&'a str),
}

/// A user's privacy rules: own addresses, never-log entries (theirs and the
/// organisation's), the organisation's internal domains.
#[derive(Debug, Clone, Default)]
pub struct PrivacyRules {
    own: HashSet<String>,
    never_log: Vec<NeverLogRule>,
    internal: Vec<String>,
}

impl PrivacyRules {
    /// `own` are addresses or match keys (unparsable ones are kept as they are, and compared
    /// as keys); `internal` are normalised domains.
    pub fn new<S: AsRef<str>>(
        own: &[S],
        mut never_log: Vec<NeverLogRule>,
        internal: Vec<String>,
    ) -> PrivacyRules {
        let own = own
            .iter()
            .flat_map(|a| {
                let a = a.as_ref();
                let key = EmailAddress::parse(a).ok().map(|a| a.match_key());
                std::iter::once(a.to_string()).chain(key)
            })
            .collect();
        // The user's before the organisation's; addresses before domains; then by value, so
        // that the entry named is always the same one.
        never_log.sort_by(|a, b| {
            (a.scope, a.value.kind(), a.value.value(), a.id).cmp(&(
                b.scope,
                b.value.kind(),
                b.value.value(),
                b.id,
            ))
        });
        PrivacyRules {
            own,
            never_log,
            internal,
        }
    }

    pub fn is_own(&self, address: &EmailAddress) -> bool {
        self.own.contains(&address.match_key())
    }

    /// The first never-log entry that covers `address`.
    pub fn never_log(&self, address: &EmailAddress) -> Option<&NeverLogRule> {
        self.never_log.iter().find(|r| r.value.matches(address))
    }

    /// The internal domain `address` is on, if any.
    pub fn internal_domain(&self, address: &EmailAddress) -> Option<&str> {
        self.internal
            .iter()
            .find(|d| domain_covers(d, address.domain()))
            .map(String::as_str)
    }

    /// Own, else never-log, else colleague; None for an ordinary address.
    pub fn verdict(&self, address: &EmailAddress) -> Option<PrivacyVerdict<'_>> {
        if self.is_own(address) {
            return Some(PrivacyVerdict::Own);
        }
        if let Some(rule) = self.never_log(address) {
            return Some(PrivacyVerdict::NeverLog(rule));
        }
        self.internal_domain(address).map(PrivacyVerdict::Colleague)
    }
}

/// Why an email may not be tracked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackRefusal<'a> {
    /// This party (normalised) is never logged, by this entry.
    NeverLog {
        address: String,
        rule: &'a NeverLogRule,
    },
    /// Every party is the user or a colleague, and the user did not insist.
    OnlyColleagues,
}

/// What one party of an email is, for the tracking rule: the one rule that both
/// [`check_tracking`] (the server, on the rules) and `matching::track_stance` (the bar, on
/// the server's verdicts) apply through [`tracking_stance`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Party<T> {
    /// One of the user's own addresses, or a colleague's.
    Inside,
    /// Never logged, by this entry.
    NeverLog(T),
    /// Anyone else, or not a valid address.
    Outsider,
    /// Not known yet (the bar, while a verdict has not arrived).
    Pending,
}

/// What the tracking rule says of an email whose parties are these, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stance<T> {
    /// Trackable, or not decidable yet (a party is still [`Party::Pending`]).
    Open,
    /// The first never-logged party, in order: not tracked, insisting or not.
    NeverLogged(T),
    /// At least one party, each of them inside: tracked only when the user insists.
    OnlyColleagues,
}

/// The tracking rule over the parties' classes: the first never-logged party refuses it,
/// unless a pending party comes first (then nothing is decided yet); at least one party, all
/// inside, is "only colleagues".
#[inline]
pub fn tracking_stance<T>(parties: impl IntoIterator<Item = Party<T>>) -> Stance<T> {
    let mut any = false;
    let mut only_colleagues = true;
    for party in parties {
        any = true;
        match party {
            Party::Inside => {}
            Party::NeverLog(why) => return Stance::NeverLogged(why),
            Party::Outsider => only_colleagues = false,
            Party::Pending => return Stance::Open,
        }
    }
    if any && only_colleagues {
        Stance::OnlyColleagues
    } else {
        Stance::Open
    }
}

/// Whether an email with these parties (from, to, cc: raw addresses) may be tracked:
/// - refused when a counterpart — a party that is not one of the user's own addresses — is
///   never-logged (the first such party, in the order given);
/// - refused when there is at least one party and every party is the user or a colleague,
///   unless `insist`; a party that is not a valid address counts as an outsider.
pub fn check_tracking<'r, S: AsRef<str>>(
    rules: &'r PrivacyRules,
    parties: &[S],
    insist: bool,
) -> Result<(), TrackRefusal<'r>> {
    let classes = parties.iter().map(|raw| {
        let Ok(address) = EmailAddress::parse(raw.as_ref()) else {
            return Party::Outsider;
        };
        match rules.verdict(&address) {
            Some(PrivacyVerdict::Own) | Some(PrivacyVerdict::Colleague(_)) => Party::Inside,
            Some(PrivacyVerdict::NeverLog(rule)) => Party::NeverLog((address, rule)),
            None => Party::Outsider,
        }
    });
    match tracking_stance(classes) {
        Stance::NeverLogged((address, rule)) => Err(TrackRefusal::NeverLog {
            address: address.to_string(),
            rule,
        }),
        Stance::OnlyColleagues if !insist => Err(TrackRefusal::OnlyColleagues),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An input, and what it parses to (kind, value, key), or None when refused.
    type ValueRow = (
        &'static str,
        Option<(NeverLogKind, &'static str, &'static str)>,
    );

    fn value(raw: &str) -> Result<(NeverLogKind, String, String), String> {
        NeverLogValue::parse(raw)
            .map(|v| (v.kind(), v.value().to_string(), v.key().to_string()))
            .map_err(|e| e.0)
    }

    #[test]
    fn values_are_parsed_and_normalised() {
        use NeverLogKind::*;
        #[rustfmt::skip]
        let rows: &[ValueRow] = &[
            ("ann@acme.com", Some((Address, "ann@acme.com", "ann@acme.com"))),
            ("  Ann@ACME.com ", Some((Address, "ann@acme.com", "ann@acme.com"))),
            ("Ann.Lee+x@GoogleMail.com", Some((Address, "ann.lee+x@googlemail.com", "annlee@gmail.com"))),
            ("zed@BÜCHER.de", Some((Address, "zed@xn--bcher-kva.de", "zed@xn--bcher-kva.de"))),
            ("acme.com", Some((Domain, "acme.com", "acme.com"))),
            ("@Acme.COM", Some((Domain, "acme.com", "acme.com"))),
            ("acme.com.", Some((Domain, "acme.com", "acme.com"))),
            ("mail.acme.co.uk", Some((Domain, "mail.acme.co.uk", "mail.acme.co.uk"))),
            ("bücher。de", Some((Domain, "xn--bcher-kva.de", "xn--bcher-kva.de"))),
            // Refused: empty, not an address, no dot, public suffixes, odd characters.
            ("", None),
            ("   ", None),
            ("@", None),
            ("ann@", None),
            ("ann@acme", None),
            ("com", None),
            ("co.uk", None),
            ("@github.io", None),
            ("acme..com", None),
            ("acme.com/x", None),
            ("acme.com OR 1=1", None),
            ("'; DROP TABLE x; --.com", None),
            ("ann\u{202E}@acme.com", None),
            ("acme\u{200B}.com", None),
            ("a@b@acme.com", None),
            ("1.2.3.4", None),
        ];
        for &(raw, expected) in rows {
            let got = value(raw);
            match expected {
                Some((kind, v, key)) => {
                    assert_eq!(got, Ok((kind, v.to_string(), key.to_string())), "{raw:?}")
                }
                None => assert!(got.is_err(), "{raw:?} gave {got:?}"),
            }
        }
        let long = format!("{}@acme.com", "a".repeat(2000));
        assert!(value(&long).unwrap_err().contains("too long"));
        assert!(value("co.uk").unwrap_err().contains("public suffix"));
    }

    fn rule(n: u128, scope: RuleScope, raw: &str) -> NeverLogRule {
        NeverLogRule {
            id: Uuid::from_u128(n),
            scope,
            value: NeverLogValue::parse(raw).unwrap(),
        }
    }

    #[test]
    fn entries_match_addresses_and_subdomains() {
        #[rustfmt::skip]
        let rows: &[(&str, &str, bool)] = &[
            ("ann@acme.com", "ann@acme.com", true),
            ("ann@acme.com", "ANN@Acme.Com", true),
            ("ann@acme.com", "ann+news@acme.com", true),
            ("ann@acme.com", "a.nn@acme.com", false),
            ("ann@acme.com", "ann@mail.acme.com", false),
            ("ann+news@acme.com", "ann@acme.com", false),
            ("ann.lee@gmail.com", "annlee+x@googlemail.com", true),
            ("ann.lee@gmail.com", "ann@gmail.com", false),
            ("acme.com", "bob@acme.com", true),
            ("acme.com", "bob@mail.acme.com", true),
            ("acme.com", "bob@a.b.acme.com", true),
            ("acme.com", "bob@notacme.com", false),
            ("acme.com", "bob@acme.com.evil.org", false),
            ("acme.com", "bob@acme.co", false),
            ("mail.acme.com", "bob@acme.com", false),
            ("mail.acme.com", "bob@eu.mail.acme.com", true),
            ("bücher.de", "zed@BÜCHER.de", true),
        ];
        for &(entry, address, expected) in rows {
            let entry = NeverLogValue::parse(entry).unwrap();
            let address = EmailAddress::parse(address).unwrap();
            assert_eq!(entry.matches(&address), expected, "{entry:?} vs {address}");
        }
    }

    #[test]
    fn internal_domains() {
        assert_eq!(parse_internal_domain(" @OurCo.com ").unwrap(), "ourco.com");
        for refused in [
            "gmail.com",
            "outlook.com",
            "yahoo.co.uk",
            "co.uk",
            "ann@ourco.com",
            "",
            "x",
        ] {
            assert!(parse_internal_domain(refused).is_err(), "{refused:?}");
        }
        assert_eq!(
            default_internal_domains(&[
                "ann@ourco.com",
                "Ann.Work@OurCo.IO",
                "bob@eu.ourco.com",
                "cy@gmail.com",
                "dee@hotmail.fr",
                "not an address",
            ]),
            ["ourco.com", "ourco.io"]
        );
        assert!(default_internal_domains::<&str>(&[]).is_empty());
    }

    fn rules() -> PrivacyRules {
        PrivacyRules::new(
            &["ann@ourco.com", "Ann.Private@gmail.com"],
            vec![
                rule(1, RuleScope::Organisation, "lawyers.example"),
                rule(2, RuleScope::Organisation, "doc@clinic.example"),
                rule(3, RuleScope::Me, "clinic.example"),
                rule(4, RuleScope::Me, "ann@ourco.com"),
                rule(5, RuleScope::Organisation, "ourco.com"),
            ],
            vec!["ourco.com".into(), "ourco.io".into()],
        )
    }

    #[test]
    fn verdicts_in_order() {
        let rules = rules();
        let verdict = |raw: &str| {
            let address = EmailAddress::parse(raw).unwrap();
            match rules.verdict(&address) {
                None => "none".to_string(),
                Some(PrivacyVerdict::Own) => "own".to_string(),
                Some(PrivacyVerdict::NeverLog(r)) => format!("never_log {}", r.id.as_u128()),
                Some(PrivacyVerdict::Colleague(d)) => format!("colleague {d}"),
            }
        };
        // Own first, even against a never-log entry naming it.
        assert_eq!(verdict("ann@ourco.com"), "own");
        assert_eq!(verdict("annprivate+x@gmail.com"), "own");
        // The user's entries before the organisation's.
        assert_eq!(verdict("doc@clinic.example"), "never_log 3");
        assert_eq!(verdict("x@lawyers.example"), "never_log 1");
        // Never-log before colleague.
        assert_eq!(verdict("bob@ourco.com"), "never_log 5");
        assert_eq!(verdict("bob@eu.ourco.io"), "colleague ourco.io");
        assert_eq!(verdict("bob@acme.com"), "none");
    }

    #[test]
    fn tracking_decisions() {
        let rules = rules();
        let no_rules = PrivacyRules::new(&["ann@ourco.com"], Vec::new(), vec!["ourco.com".into()]);
        let check = |rules: &PrivacyRules, parties: &[&str], insist: bool| match check_tracking(
            rules, parties, insist,
        ) {
            Ok(()) => "ok".to_string(),
            Err(TrackRefusal::OnlyColleagues) => "colleagues".to_string(),
            Err(TrackRefusal::NeverLog { address, rule }) => {
                format!("never_log {address} {}", rule.id.as_u128())
            }
        };
        #[rustfmt::skip]
        let rows: &[(&PrivacyRules, &[&str], bool, &str)] = &[
            (&no_rules, &["bob@acme.com", "ann@ourco.com"], false, "ok"),
            (&no_rules, &[], false, "ok"),
            // Only the user and colleagues: refused unless insisted.
            (&no_rules, &["cole@ourco.com", "ann@ourco.com"], false, "colleagues"),
            (&no_rules, &["cole@eu.ourco.com", "ann@ourco.com"], true, "ok"),
            (&no_rules, &["ann@ourco.com"], false, "colleagues"),
            (&no_rules, &["cole@ourco.com", "bob@acme.com"], false, "ok"),
            // An unparsable party is an outsider.
            (&no_rules, &["cole@ourco.com", "not an address"], false, "ok"),
            // A never-logged counterpart refuses, insisting or not, wherever it is.
            (&rules, &["bob@acme.com", "ann@ourco.com", "Doc@Clinic.Example"], false, "never_log doc@clinic.example 3"),
            (&rules, &["x@lawyers.example"], true, "never_log x@lawyers.example 1"),
            // The user's own address, never-logged by an entry, is not a counterpart.
            (&rules, &["ann@ourco.com", "bob@acme.com"], false, "ok"),
        ];
        for &(rules, parties, insist, expected) in rows {
            assert_eq!(
                check(rules, parties, insist),
                expected,
                "{parties:?} {insist}"
            );
        }
    }

    #[test]
    fn domain_cover_edges() {
        assert!(domain_covers("acme.com", "acme.com"));
        assert!(domain_covers("acme.com", "x.acme.com"));
        assert!(!domain_covers("acme.com", "xacme.com"));
        assert!(!domain_covers("x.acme.com", "acme.com"));
        assert!(!domain_covers("acme.com", ""));
    }
}
