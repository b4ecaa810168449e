//! Companies suggested from an address's domain; free-mail domains never suggest one.
//!
//! All functions accept a domain in any case and in Unicode or ASCII form (it is normalised
//! as addresses are, see [`crate::address::normalize_domain`]); a domain that is not valid
//! is not free-mail and has no registrable part.

use std::borrow::Cow;

use crate::address::normalize_domain;
use crate::api::{CompanyRef, CompanySuggestion};

/// Consumer mailbox providers, matched on the registrable domain (so `mail.yahoo.co.uk`
/// and `vip.qq.com` count). Sorted, for binary search.
const FREE_MAIL_DOMAINS: &[&str] = &[
    "126.com",
    "139.com",
    "163.com",
    "abv.bg",
    "aim.com",
    "alice.it",
    "aliyun.com",
    "arcor.de",
    "att.net",
    "bellsouth.net",
    "bigpond.com",
    "bk.ru",
    "bluewin.ch",
    "blueyonder.co.uk",
    "btinternet.com",
    "casema.nl",
    "centrum.cz",
    "charter.net",
    "chello.nl",
    "comcast.net",
    "cox.net",
    "daum.net",
    "duck.com",
    "earthlink.net",
    "email.cz",
    "fastmail.com",
    "fastmail.fm",
    "foxmail.com",
    "free.fr",
    "freenet.de",
    "gmail.com",
    "googlemail.com",
    "hanmail.net",
    "hetnet.nl",
    "hey.com",
    "home.nl",
    "icloud.com",
    "inbox.ru",
    "interia.pl",
    "juno.com",
    "kpnmail.nl",
    "laposte.net",
    "libero.it",
    "list.ru",
    "mac.com",
    "mail.com",
    "mail.ru",
    "mailbox.org",
    "me.com",
    "msn.com",
    "naver.com",
    "netzero.net",
    "ntlworld.com",
    "o2.pl",
    "onet.pl",
    "optonline.net",
    "optusnet.com.au",
    "orange.fr",
    "planet.nl",
    "pm.me",
    "posteo.de",
    "proton.me",
    "protonmail.ch",
    "protonmail.com",
    "qq.com",
    "rambler.ru",
    "rediffmail.com",
    "rocketmail.com",
    "rogers.com",
    "sbcglobal.net",
    "seznam.cz",
    "sfr.fr",
    "shaw.ca",
    "sina.com",
    "sky.com",
    "skynet.be",
    "sohu.com",
    "sympatico.ca",
    "t-online.de",
    "talktalk.net",
    "telenet.be",
    "tiscali.co.uk",
    "tiscali.it",
    "tuta.com",
    "tuta.io",
    "tutanota.com",
    "tutanota.de",
    "ukr.net",
    "upcmail.nl",
    "verizon.net",
    "virgilio.it",
    "virginmedia.com",
    "wanadoo.fr",
    "web.de",
    "windowslive.com",
    "wp.pl",
    "xs4all.nl",
    "ya.ru",
    "yeah.net",
    "ymail.com",
    "ziggo.nl",
    "zoho.com",
    "zohomail.com",
];

/// Providers with one brand under many public suffixes (`yahoo.co.uk`, `hotmail.fr`,
/// `gmx.net`, …): matched on the registrable label when the suffix is an ICANN one. Sorted.
const FREE_MAIL_BRANDS: &[&str] = &[
    "aol", "gmx", "hotmail", "live", "outlook", "yahoo", "yandex",
];

/// True for consumer mailbox providers (gmail.com, outlook.com, yahoo.*, …), whose domain
/// says nothing about a company.
pub fn is_free_mail_domain(domain: &str) -> bool {
    normalized(domain).is_some_and(|domain| is_free_mail_normalized(&domain))
}

/// A company name and registrable domain derived from an (ASCII, lowercase) domain:
/// `mail.acme-corp.co.uk` → (`Acme Corp`, `acme-corp.co.uk`). None for free-mail domains and
/// for domains without a registrable part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivedCompany {
    pub name: String,
    pub domain: String,
}

pub fn derive_company(domain: &str) -> Option<DerivedCompany> {
    let domain = normalized(domain)?;
    if is_free_mail_normalized(&domain) {
        return None;
    }
    let registrable = psl::domain_str(&domain)?;
    let label = registrable.split('.').next()?;
    Some(DerivedCompany {
        name: company_name(label)?,
        domain: registrable.to_string(),
    })
}

/// The registrable domain (public suffix + one label) of an ASCII domain.
///
/// Follows the public-suffix algorithm, including its private section (`acme.github.io`)
/// and its default rule for top-level domains it does not list (`acme.internal`).
pub fn registrable_domain(domain: &str) -> Option<String> {
    let domain = normalized(domain)?;
    psl::domain_str(&domain).map(str::to_string)
}

/// The suggestion for a new contact at `domain`: the existing company's name when there is
/// one, else the derived name. None where [`derive_company`] is None (free-mail, no
/// registrable part). A helper for the `company_for_domain` callback of
/// [`crate::matching::resolve`].
pub fn company_suggestion(domain: &str, existing: Option<CompanyRef>) -> Option<CompanySuggestion> {
    let derived = derive_company(domain)?;
    Some(CompanySuggestion {
        domain: derived.domain,
        name: existing.as_ref().map_or(derived.name, |c| c.name.clone()),
        existing,
    })
}

/// The domain in normalised ASCII form; one trailing dot (a fully qualified name) is
/// accepted.
fn normalized(domain: &str) -> Option<String> {
    let domain = domain.trim();
    normalize_domain(domain.strip_suffix('.').unwrap_or(domain)).ok()
}

/// [`is_free_mail_domain`] for a domain already normalised by
/// [`crate::address::normalize_domain`].
pub(crate) fn is_free_mail_normalized(domain: &str) -> bool {
    if FREE_MAIL_DOMAINS.binary_search(&domain).is_ok() {
        return true;
    }
    let Some(registrable) = psl::domain(domain.as_bytes()) else {
        return false;
    };
    let Ok(name) = std::str::from_utf8(registrable.as_bytes()) else {
        return false;
    };
    if FREE_MAIL_DOMAINS.binary_search(&name).is_ok() {
        return true;
    }
    let label = name.split('.').next().unwrap_or_default();
    registrable.suffix().typ() == Some(psl::Type::Icann)
        && FREE_MAIL_BRANDS.binary_search(&label).is_ok()
}

#[cfg(feature = "unicode-idna")]
fn punycode_to_unicode(label: &str) -> Cow<'_, str> {
    if label.starts_with("xn--") {
        match idna::domain_to_unicode(label) {
            (unicode, Ok(())) => Cow::Owned(unicode),
            (_, Err(_)) => Cow::Borrowed(label),
        }
    } else {
        Cow::Borrowed(label)
    }
}

/// Without the Unicode tables a Punycode label is named as it is.
#[cfg(not(feature = "unicode-idna"))]
fn punycode_to_unicode(label: &str) -> Cow<'_, str> {
    Cow::Borrowed(label)
}

/// `acme-corp` → `Acme Corp`; a Punycode label is named in its Unicode form
/// (`xn--mller-kva` → `Müller`).
fn company_name(label: &str) -> Option<String> {
    let unicode = punycode_to_unicode(label);
    let words: Vec<String> = unicode
        .split(|c: char| c == '-' || c == '_' || c.is_whitespace())
        .filter(|word| !word.is_empty())
        .map(capitalized)
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    let first = chars.next().map(char::to_uppercase);
    first.into_iter().flatten().chain(chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn free_mail_lists_are_sorted_and_unique() {
        for list in [FREE_MAIL_DOMAINS, FREE_MAIL_BRANDS] {
            assert!(
                list.windows(2).all(|w| w[0] < w[1]),
                "unsorted near {:?}",
                list.windows(2).find(|w| w[0] >= w[1])
            );
        }
        // Every listed domain is registrable, so matching on the registrable domain works.
        for domain in FREE_MAIL_DOMAINS {
            assert_eq!(
                registrable_domain(domain).as_deref(),
                Some(*domain),
                "{domain}"
            );
        }
    }

    #[test]
    fn free_mail() {
        let rows = [
            ("gmail.com", true),
            ("GMail.com", true),
            ("googlemail.com", true),
            ("outlook.com", true),
            ("outlook.de", true),
            ("hotmail.com", true),
            ("hotmail.co.uk", true),
            ("hotmail.fr", true),
            ("live.nl", true),
            ("msn.com", true),
            ("yahoo.com", true),
            ("yahoo.co.uk", true),
            ("mail.yahoo.co.uk", true),
            ("yahoo.com.br", true),
            ("ymail.com", true),
            ("aol.com", true),
            ("icloud.com", true),
            ("me.com", true),
            ("mac.com", true),
            ("proton.me", true),
            ("protonmail.com", true),
            ("pm.me", true),
            ("gmx.de", true),
            ("gmx.net", true),
            ("web.de", true),
            ("mail.ru", true),
            ("yandex.ru", true),
            ("yandex.com", true),
            ("qq.com", true),
            ("vip.qq.com", true),
            ("163.com", true),
            ("t-online.de", true),
            ("orange.fr", true),
            ("ziggo.nl", true),
            ("kpnmail.nl", true),
            ("xs4all.nl", true),
            ("comcast.net", true),
            ("att.net", true),
            ("fastmail.com", true),
            ("hey.com", true),
            ("gmail.com.", true),
            // Companies.
            ("acme.com", false),
            ("acme-corp.co.uk", false),
            ("mail.acme.com", false),
            ("google.com", false),
            ("microsoft.com", false),
            ("gmail-partners.com", false),
            ("notgmail.com", false),
            ("gmail.com.evil.io", false),
            ("yahoo-inc.example", false),
            // A brand under a private suffix is someone's site, not the provider.
            ("yahoo.github.io", false),
            // Not domains at all.
            ("", false),
            ("gmail", false),
            ("acme..com", false),
        ];
        for (domain, expected) in rows {
            assert_eq!(is_free_mail_domain(domain), expected, "{domain:?}");
        }
    }

    #[test]
    fn registrable_domains() {
        let rows = [
            ("acme.com", Some("acme.com")),
            ("mail.acme.com", Some("acme.com")),
            ("a.b.c.acme.co.uk", Some("acme.co.uk")),
            ("acme.co.uk", Some("acme.co.uk")),
            ("ACME.com", Some("acme.com")),
            ("acme.com.", Some("acme.com")),
            ("bücher.de", Some("xn--bcher-kva.de")),
            ("shop.xn--bcher-kva.de", Some("xn--bcher-kva.de")),
            ("acme.github.io", Some("acme.github.io")),
            ("acme.internal", Some("acme.internal")),
            ("co.uk", None),
            ("com", None),
            ("github.io", None),
            ("", None),
            ("localhost", None),
            ("acme..com", None),
        ];
        for (domain, expected) in rows {
            assert_eq!(
                registrable_domain(domain).as_deref(),
                expected,
                "{domain:?}"
            );
        }
    }

    #[test]
    fn derived_companies() {
        let rows = [
            ("acme.com", Some(("Acme", "acme.com"))),
            (
                "mail.acme-corp.co.uk",
                Some(("Acme Corp", "acme-corp.co.uk")),
            ),
            ("acme-corp.co.uk", Some(("Acme Corp", "acme-corp.co.uk"))),
            (
                "big--bad-wolf.com",
                Some(("Big Bad Wolf", "big--bad-wolf.com")),
            ),
            ("eu.mail.initech.de", Some(("Initech", "initech.de"))),
            ("xn--mller-kva.de", Some(("Müller", "xn--mller-kva.de"))),
            ("müller.de", Some(("Müller", "xn--mller-kva.de"))),
            (
                "xn--mller-bcker-r8a91a.de",
                Some(("Müller Bäcker", "xn--mller-bcker-r8a91a.de")),
            ),
            ("3m.com", Some(("3m", "3m.com"))),
            ("acme.github.io", Some(("Acme", "acme.github.io"))),
            // Free mail and no registrable part: none.
            ("gmail.com", None),
            ("mail.yahoo.co.uk", None),
            ("hotmail.fr", None),
            ("co.uk", None),
            ("github.io", None),
            ("", None),
            ("not a domain", None),
        ];
        for (domain, expected) in rows {
            let derived = derive_company(domain);
            let expected = expected.map(|(name, domain)| DerivedCompany {
                name: name.into(),
                domain: domain.into(),
            });
            assert_eq!(derived, expected, "{domain:?}");
        }
    }

    #[test]
    fn suggestions() {
        let existing = CompanyRef {
            id: Uuid::from_u128(7),
            name: "ACME Inc.".into(),
        };
        let rows = [
            ("mail.acme.com", None, Some(("acme.com", None, "Acme"))),
            (
                "mail.acme.com",
                Some(existing.clone()),
                Some(("acme.com", Some(existing.clone()), "ACME Inc.")),
            ),
            ("gmail.com", Some(existing.clone()), None),
            ("co.uk", None, None),
        ];
        for (domain, found, expected) in rows {
            let expected = expected.map(|(domain, existing, name)| CompanySuggestion {
                domain: domain.into(),
                existing,
                name: name.into(),
            });
            assert_eq!(company_suggestion(domain, found), expected, "{domain:?}");
        }
    }
}
