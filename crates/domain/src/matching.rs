//! From candidates found by match key to a verdict per address.
//!
//! The server looks up candidates in its index (by [`EmailAddress::match_key`] and by the
//! key of [`EmailAddress::tag_stripped`]), then calls [`resolve`]; the extension only shows
//! the verdicts.

use std::collections::{HashMap, HashSet};

use crate::address::EmailAddress;
use crate::api::{AddressLookup, ContactSummary, MatchStatus, PrivacyReason};
use crate::company::is_free_mail_normalized;
use crate::privacy::{tracking_stance, Party, PrivacyRules, PrivacyVerdict, Stance};

/// One contact address found in the store: the contact and the match key of the address.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub match_key: String,
    pub contact: ContactSummary,
}

/// The keys a store must be searched for, for a batch of raw addresses: every valid
/// address's match key and the match key of its tag-stripped form. Deduplicated.
///
/// In first-seen order; invalid addresses contribute nothing.
pub fn lookup_keys(addresses: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut keys = Vec::new();
    for address in addresses.iter().filter_map(|a| EmailAddress::parse(a).ok()) {
        let stripped = address.tag_stripped().map(|s| s.match_key());
        for key in std::iter::once(address.match_key()).chain(stripped) {
            if seen.insert(key.clone()) {
                keys.push(key);
            }
        }
    }
    keys
}

/// The verdict for each raw address, in order: first the privacy rules' verdict
/// ([`PrivacyRules::verdict`]: `own`, then `never_log`, then `colleague`, each with no
/// contacts, suggestions or company, the last two with the rule in `privacy`); else `known` / `ambiguous` by the number of distinct contacts whose key equals
/// the address's match key; `unknown` otherwise (with tag-stripped `suggestions` and a
/// `suggested_company` from `company_for_domain`, which the caller backs with its store);
/// `invalid` with the reason for an unparsable address. Contacts are sorted by display
/// name for a stable order.
///
/// Details:
/// - The privacy verdicts hide contacts on purpose: a never-logged or colleague address is
///   not offered for tracking or as a contact, even when an old contact has it.
/// - Contacts are deduplicated by id. `suggestions` (for `known`, `ambiguous` and
///   `unknown`) are the contacts whose key equals the match key of the tag-stripped address,
///   minus those already in `contacts`.
/// - `company_for_domain` is called only for `unknown` addresses whose domain is not
///   free-mail and has a registrable part, with that registrable domain (`acme.co.uk` for
///   `ann@mail.acme.co.uk`); [`crate::company::company_suggestion`] builds its answer.
pub fn resolve(
    addresses: &[String],
    candidates: &[Candidate],
    rules: &PrivacyRules,
    company_for_domain: &dyn Fn(&str) -> Option<crate::api::CompanySuggestion>,
) -> Vec<AddressLookup> {
    let mut by_key: HashMap<&str, Vec<&ContactSummary>> = HashMap::new();
    for candidate in candidates {
        let contacts = by_key.entry(candidate.match_key.as_str()).or_default();
        if !contacts.iter().any(|c| c.id == candidate.contact.id) {
            contacts.push(&candidate.contact);
        }
    }
    let contacts_for = |key: &str| by_key.get(key).map_or(&[][..], Vec::as_slice);

    addresses
        .iter()
        .map(|raw| {
            let address = match EmailAddress::parse(raw) {
                Ok(address) => address,
                Err(error) => {
                    return lookup(raw, None, MatchStatus::Invalid, Some(error.to_string()))
                }
            };
            let normalized = Some(address.to_string());
            match rules.verdict(&address) {
                None => {}
                Some(PrivacyVerdict::Own) => {
                    return lookup(raw, normalized, MatchStatus::Own, None);
                }
                Some(PrivacyVerdict::NeverLog(rule)) => {
                    return AddressLookup {
                        privacy: Some(PrivacyReason::NeverLog {
                            scope: rule.scope,
                            entry_id: rule.id,
                            kind: rule.value.kind(),
                            value: rule.value.value().to_string(),
                        }),
                        ..lookup(raw, normalized, MatchStatus::NeverLog, None)
                    };
                }
                Some(PrivacyVerdict::Colleague(domain)) => {
                    return AddressLookup {
                        privacy: Some(PrivacyReason::Colleague {
                            domain: domain.to_string(),
                        }),
                        ..lookup(raw, normalized, MatchStatus::Colleague, None)
                    };
                }
            }
            let key = address.match_key();
            let contacts = contacts_for(&key);
            let suggestions: Vec<&ContactSummary> = match address.tag_stripped() {
                Some(stripped) => contacts_for(&stripped.match_key())
                    .iter()
                    .filter(|s| !contacts.iter().any(|c| c.id == s.id))
                    .copied()
                    .collect(),
                None => Vec::new(),
            };
            let status = match contacts.len() {
                0 => MatchStatus::Unknown,
                1 => MatchStatus::Known,
                _ => MatchStatus::Ambiguous,
            };
            let suggested_company =
                if status == MatchStatus::Unknown && !is_free_mail_normalized(address.domain()) {
                    psl::domain_str(address.domain()).and_then(company_for_domain)
                } else {
                    None
                };
            AddressLookup {
                contacts: sorted(contacts),
                suggestions: sorted(&suggestions),
                suggested_company,
                ..lookup(raw, normalized, status, None)
            }
        })
        .collect()
}

fn lookup(
    raw: &str,
    normalized: Option<String>,
    status: MatchStatus,
    error: Option<String>,
) -> AddressLookup {
    AddressLookup {
        address: raw.to_string(),
        normalized,
        status,
        contacts: Vec::new(),
        suggestions: Vec::new(),
        suggested_company: None,
        error,
        privacy: None,
    }
}

/// By display name (case-insensitively, then exactly), then primary address and id, so
/// the order never depends on the store's.
fn sorted(contacts: &[&ContactSummary]) -> Vec<ContactSummary> {
    let mut keyed: Vec<(String, String, &ContactSummary)> = contacts
        .iter()
        .map(|c| {
            let name = c.display_name();
            (name.to_lowercase(), name, *c)
        })
        .collect();
    keyed.sort_by(|a, b| {
        (&a.0, &a.1, &a.2.primary_email, a.2.id).cmp(&(&b.0, &b.1, &b.2.primary_email, b.2.id))
    });
    keyed.into_iter().map(|(_, _, c)| c.clone()).collect()
}

/// What a bar may offer for an email, from its parties' verdicts: the client's mirror of
/// [`crate::privacy::check_tracking`], which the server applies to every tracking request
/// anyway (so a verdict that is out of date costs a refusal, never a wrong write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackStance<'a> {
    /// Trackable (or not every verdict is in yet).
    Open,
    /// A counterpart is never logged: the email is not tracked, insisting or not. The first
    /// such party, in the order given, and the entry that covers it.
    NeverLogged {
        address: &'a str,
        reason: Option<&'a PrivacyReason>,
    },
    /// Every party is the user or a colleague: tracked only when the user insists.
    OnlyColleagues,
}

/// The [`TrackStance`] of an email whose parties (from, to, cc, in that order) have these
/// verdicts; `None` for a party whose verdict has not arrived. An invalid address counts as
/// an outsider, as on the server.
pub fn track_stance<'a>(verdicts: &[Option<&'a AddressLookup>]) -> TrackStance<'a> {
    let classes = verdicts.iter().map(|verdict| match verdict {
        None => Party::Pending,
        Some(v) => match v.status {
            MatchStatus::Own | MatchStatus::Colleague => Party::Inside,
            MatchStatus::NeverLog => Party::NeverLog(*v),
            MatchStatus::Known
            | MatchStatus::Ambiguous
            | MatchStatus::Unknown
            | MatchStatus::Invalid => Party::Outsider,
        },
    });
    match tracking_stance(classes) {
        Stance::Open => TrackStance::Open,
        Stance::OnlyColleagues => TrackStance::OnlyColleagues,
        Stance::NeverLogged(v) => TrackStance::NeverLogged {
            address: v.normalized.as_deref().unwrap_or(&v.address),
            reason: v.privacy.as_ref(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CompanyRef, CompanySuggestion};
    use crate::company::company_suggestion;
    use std::cell::RefCell;
    use uuid::Uuid;

    fn contact(n: u128, first: &str, last: &str, email: &str) -> ContactSummary {
        ContactSummary {
            id: Uuid::from_u128(n),
            first_name: first.into(),
            last_name: last.into(),
            primary_email: email.into(),
            company: None,
        }
    }

    /// The store: every address of every contact, indexed by match key, as the server does.
    fn store() -> Vec<Candidate> {
        let contacts = [
            (
                contact(1, "Ann", "Lee", "ann.lee@gmail.com"),
                vec!["ann.lee@gmail.com", "ann@acme.com"],
            ),
            (
                contact(2, "Bob", "Ray", "bob@initech.de"),
                vec!["bob@initech.de", "sales@initech.de"],
            ),
            (
                contact(3, "Alma", "Ray", "alma@initech.de"),
                vec!["alma@initech.de", "sales@initech.de"],
            ),
            (
                contact(4, "Cy", "Moe", "cy@acme.com"),
                vec!["cy@acme.com", "cy+crm@acme.com"],
            ),
            (contact(5, "", "", "zed@bücher.de"), vec!["zed@bücher.de"]),
            (contact(6, "Me", "Too", "me@acme.com"), vec!["me@acme.com"]),
        ];
        contacts
            .into_iter()
            .flat_map(|(contact, emails)| {
                emails.into_iter().map(move |e| Candidate {
                    match_key: EmailAddress::parse(e).unwrap().match_key(),
                    contact: contact.clone(),
                })
            })
            .collect()
    }

    fn own() -> PrivacyRules {
        PrivacyRules::new(
            &["me@acme.com", "Me.Myself@googlemail.com"],
            Vec::new(),
            Vec::new(),
        )
    }

    struct Row {
        input: &'static str,
        normalized: Option<&'static str>,
        status: MatchStatus,
        contacts: &'static [u128],
        suggestions: &'static [u128],
        company: Option<&'static str>,
    }

    fn ids(contacts: &[ContactSummary]) -> Vec<u128> {
        contacts.iter().map(|c| c.id.as_u128()).collect()
    }

    #[test]
    fn verdicts() {
        use MatchStatus::*;
        #[rustfmt::skip]
        let rows = [
            // Known, also through Gmail's dots, tags and googlemail.com, IDNA, Unicode dots.
            Row { input: "ann.lee@gmail.com", normalized: Some("ann.lee@gmail.com"), status: Known, contacts: &[1], suggestions: &[], company: None },
            Row { input: " AnnLee+crm@googlemail.com ", normalized: Some("annlee+crm@googlemail.com"), status: Known, contacts: &[1], suggestions: &[], company: None },
            Row { input: "a.n.n.l.e.e@GMAIL.com", normalized: Some("a.n.n.l.e.e@gmail.com"), status: Known, contacts: &[1], suggestions: &[], company: None },
            Row { input: "ann@acme.com", normalized: Some("ann@acme.com"), status: Known, contacts: &[1], suggestions: &[], company: None },
            Row { input: "ann@acme。com", normalized: Some("ann@acme.com"), status: Known, contacts: &[1], suggestions: &[], company: None },
            Row { input: "Zed@BÜCHER.de", normalized: Some("zed@xn--bcher-kva.de"), status: Known, contacts: &[5], suggestions: &[], company: None },
            // Elsewhere dots and tags matter: a tag only suggests.
            Row { input: "a.nn@acme.com", normalized: Some("a.nn@acme.com"), status: Unknown, contacts: &[], suggestions: &[], company: Some("acme.com") },
            Row { input: "ann+news@acme.com", normalized: Some("ann+news@acme.com"), status: Unknown, contacts: &[], suggestions: &[1], company: Some("acme.com") },
            Row { input: "cy+crm@acme.com", normalized: Some("cy+crm@acme.com"), status: Known, contacts: &[4], suggestions: &[], company: None },
            Row { input: "cy+other@acme.com", normalized: Some("cy+other@acme.com"), status: Unknown, contacts: &[], suggestions: &[4], company: Some("acme.com") },
            // Ambiguous: all contacts, by display name (Alma Ray before Bob Ray).
            Row { input: "sales@initech.de", normalized: Some("sales@initech.de"), status: Ambiguous, contacts: &[3, 2], suggestions: &[], company: None },
            Row { input: "sales+eu@initech.de", normalized: Some("sales+eu@initech.de"), status: Unknown, contacts: &[], suggestions: &[3, 2], company: Some("initech.de") },
            // Own, by the address or its Gmail key; never anything to add.
            Row { input: "me@acme.com", normalized: Some("me@acme.com"), status: Own, contacts: &[], suggestions: &[], company: None },
            Row { input: "ME@ACME.COM", normalized: Some("me@acme.com"), status: Own, contacts: &[], suggestions: &[], company: None },
            Row { input: "memyself+x@gmail.com", normalized: Some("memyself+x@gmail.com"), status: Own, contacts: &[], suggestions: &[], company: None },
            Row { input: "me+x@acme.com", normalized: Some("me+x@acme.com"), status: Unknown, contacts: &[], suggestions: &[6], company: Some("acme.com") },
            // Unknown: company from the registrable domain; none for free mail.
            Row { input: "dan@mail.globex.co.uk", normalized: Some("dan@mail.globex.co.uk"), status: Unknown, contacts: &[], suggestions: &[], company: Some("globex.co.uk") },
            Row { input: "dan@gmail.com", normalized: Some("dan@gmail.com"), status: Unknown, contacts: &[], suggestions: &[], company: None },
            Row { input: "dan@mail.yahoo.co.uk", normalized: Some("dan@mail.yahoo.co.uk"), status: Unknown, contacts: &[], suggestions: &[], company: None },
            Row { input: "dan@hotmail.fr", normalized: Some("dan@hotmail.fr"), status: Unknown, contacts: &[], suggestions: &[], company: None },
            // Invalid.
            Row { input: "", normalized: None, status: Invalid, contacts: &[], suggestions: &[], company: None },
            Row { input: "ann", normalized: None, status: Invalid, contacts: &[], suggestions: &[], company: None },
            Row { input: "ann@acme", normalized: None, status: Invalid, contacts: &[], suggestions: &[], company: None },
            Row { input: "ann\u{202E}@acme.com", normalized: None, status: Invalid, contacts: &[], suggestions: &[], company: None },
        ];
        let addresses: Vec<String> = rows.iter().map(|r| r.input.to_string()).collect();
        let asked = RefCell::new(Vec::new());
        let company_for_domain = |domain: &str| {
            asked.borrow_mut().push(domain.to_string());
            company_suggestion(domain, None)
        };
        let results = resolve(&addresses, &store(), &own(), &company_for_domain);
        assert_eq!(results.len(), rows.len());
        for (row, result) in rows.iter().zip(&results) {
            let input = row.input;
            assert_eq!(result.address, input);
            assert_eq!(result.normalized.as_deref(), row.normalized, "{input:?}");
            assert_eq!(result.status, row.status, "{input:?}");
            assert_eq!(ids(&result.contacts), row.contacts, "{input:?}");
            assert_eq!(ids(&result.suggestions), row.suggestions, "{input:?}");
            let company = result.suggested_company.as_ref().map(|c| c.domain.as_str());
            assert_eq!(company, row.company, "{input:?}");
            assert_eq!(result.error.is_some(), row.status == Invalid, "{input:?}");
        }
        // The store is asked only for unknown, non-free-mail addresses, by registrable domain.
        assert_eq!(
            *asked.borrow(),
            [
                "acme.com",
                "acme.com",
                "acme.com",
                "initech.de",
                "acme.com",
                "globex.co.uk"
            ]
        );
        // The reason for an invalid address is a sentence.
        assert_eq!(results[21].error.as_deref(), Some("the address has no '@'"));
    }

    #[test]
    fn existing_company_and_duplicates() {
        let acme = CompanyRef {
            id: Uuid::from_u128(9),
            name: "ACME Inc.".into(),
        };
        let ann = contact(1, "Ann", "Lee", "ann@acme.com");
        // The same contact found twice (two addresses with one key) is one contact.
        let candidates = vec![
            Candidate {
                match_key: "ann@acme.com".into(),
                contact: ann.clone(),
            },
            Candidate {
                match_key: "ann@acme.com".into(),
                contact: ann.clone(),
            },
        ];
        let addresses = vec![
            "ann@acme.com".to_string(),
            "new@acme.com".to_string(),
            "x@nowhere.example".to_string(),
        ];
        let company_for_domain = |domain: &str| -> Option<CompanySuggestion> {
            let existing = (domain == "acme.com").then(|| acme.clone());
            company_suggestion(domain, existing)
        };
        let results = resolve(
            &addresses,
            &candidates,
            &PrivacyRules::default(),
            &company_for_domain,
        );
        assert_eq!(results[0].status, MatchStatus::Known);
        assert_eq!(ids(&results[0].contacts), [1]);
        let suggestion = results[1].suggested_company.clone().unwrap();
        assert_eq!(
            suggestion,
            CompanySuggestion {
                domain: "acme.com".into(),
                existing: Some(acme.clone()),
                name: "ACME Inc.".into()
            }
        );
        let suggestion = results[2].suggested_company.clone().unwrap();
        assert_eq!(
            suggestion,
            CompanySuggestion {
                domain: "nowhere.example".into(),
                existing: None,
                name: "Nowhere".into()
            }
        );
    }

    #[test]
    fn privacy_verdicts() {
        use crate::privacy::{NeverLogKind, NeverLogRule, NeverLogValue, RuleScope};
        let rule = |n: u128, scope, raw: &str| NeverLogRule {
            id: Uuid::from_u128(n),
            scope,
            value: NeverLogValue::parse(raw).unwrap(),
        };
        let rules = PrivacyRules::new(
            &["me@acme.com"],
            vec![
                rule(7, RuleScope::Organisation, "initech.de"),
                rule(8, RuleScope::Me, "ann.lee@gmail.com"),
            ],
            vec!["acme.com".into()],
        );
        let addresses: Vec<String> = [
            "me@acme.com",
            "AnnLee+x@gmail.com",
            "bob@mail.initech.de",
            "cy@acme.com",
            "zed@bücher.de",
            "nope",
        ]
        .map(String::from)
        .to_vec();
        let results = resolve(&addresses, &store(), &rules, &|d| {
            company_suggestion(d, None)
        });
        let statuses: Vec<MatchStatus> = results.iter().map(|r| r.status).collect();
        use MatchStatus::*;
        assert_eq!(
            statuses,
            [Own, NeverLog, NeverLog, Colleague, Known, Invalid]
        );
        assert_eq!(
            results[1].privacy,
            Some(PrivacyReason::NeverLog {
                scope: RuleScope::Me,
                entry_id: Uuid::from_u128(8),
                kind: NeverLogKind::Address,
                value: "ann.lee@gmail.com".into(),
            })
        );
        assert_eq!(
            results[2].privacy,
            Some(PrivacyReason::NeverLog {
                scope: RuleScope::Organisation,
                entry_id: Uuid::from_u128(7),
                kind: NeverLogKind::Domain,
                value: "initech.de".into(),
            })
        );
        assert_eq!(
            results[3].privacy,
            Some(PrivacyReason::Colleague {
                domain: "acme.com".into()
            })
        );
        // Known contacts behind a privacy verdict are not offered.
        for r in &results[..4] {
            assert!(r.contacts.is_empty() && r.suggestions.is_empty(), "{r:?}");
            assert!(r.suggested_company.is_none(), "{r:?}");
        }
        assert_eq!(results[4].privacy, None);
        // The wire form: a status and a tagged reason; absent for ordinary addresses.
        let json = serde_json::to_value(&results[2]).unwrap();
        assert_eq!(json["status"], "never_log");
        assert_eq!(json["privacy"]["rule"], "never_log");
        assert_eq!(json["privacy"]["scope"], "organisation");
        assert_eq!(json["privacy"]["kind"], "domain");
        let json = serde_json::to_value(&results[3]).unwrap();
        assert_eq!(json["status"], "colleague");
        assert_eq!(
            json["privacy"],
            serde_json::json!({"rule": "colleague", "domain": "acme.com"})
        );
        assert!(serde_json::to_value(&results[4])
            .unwrap()
            .get("privacy")
            .is_none());
    }

    #[test]
    fn contact_order_is_stable() {
        let key = "team@acme.com";
        let people = [
            contact(4, "bea", "", "b2@acme.com"),
            contact(3, "", "", "zz@acme.com"),
            contact(2, "Bea", "", "b1@acme.com"),
            contact(1, "Al", "Zed", "al@acme.com"),
            contact(5, "Bea", "", "b1@acme.com"),
        ];
        let expected = [1, 2, 5, 4, 3];
        for rotation in 0..people.len() {
            let mut rotated = people.to_vec();
            rotated.rotate_left(rotation);
            let candidates: Vec<Candidate> = rotated
                .into_iter()
                .map(|contact| Candidate {
                    match_key: key.into(),
                    contact,
                })
                .collect();
            let results = resolve(
                &[key.to_string()],
                &candidates,
                &PrivacyRules::default(),
                &|_| None,
            );
            assert_eq!(results[0].status, MatchStatus::Ambiguous);
            assert_eq!(ids(&results[0].contacts), expected, "rotation {rotation}");
        }
    }

    #[test]
    fn keys_to_look_up() {
        let rows: &[(&[&str], &[&str])] = &[
            (&[], &[]),
            (&["ann@acme.com"], &["ann@acme.com"]),
            (
                &["Ann+News@Acme.com"],
                &["ann+news@acme.com", "ann@acme.com"],
            ),
            (
                &["ann+news@acme.com", "ann@acme.com", "ANN@acme.com"],
                &["ann+news@acme.com", "ann@acme.com"],
            ),
            (
                &["Ann.Lee+x@gmail.com", "annlee@googlemail.com"],
                &["annlee@gmail.com"],
            ),
            (
                &["Zed@BÜCHER.de", "zed@bücher。de"],
                &["zed@xn--bcher-kva.de"],
            ),
            (&["", "nope", "ann@acme", "b@acme.com"], &["b@acme.com"]),
        ];
        for &(addresses, expected) in rows {
            let addresses: Vec<String> = addresses.iter().map(|a| a.to_string()).collect();
            assert_eq!(lookup_keys(&addresses), expected, "{addresses:?}");
        }
    }

    /// The bar's stance agrees with the server's check on every combination of parties.
    #[test]
    fn track_stance_mirrors_the_servers_check() {
        use crate::privacy::{
            check_tracking, NeverLogRule, NeverLogValue, RuleScope, TrackRefusal,
        };
        let rules = PrivacyRules::new(
            &["me@acme.com"],
            vec![NeverLogRule {
                id: Uuid::from_u128(7),
                scope: RuleScope::Organisation,
                value: NeverLogValue::parse("initech.de").unwrap(),
            }],
            vec!["acme.com".into()],
        );
        let all = [
            "me@acme.com",
            "cy@acme.com",
            "bob@mail.initech.de",
            "zed@bücher.de",
            "nope",
        ];
        for mask in 0u32..(1 << all.len()) {
            let parties: Vec<String> = (0..all.len())
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| all[i].to_string())
                .collect();
            let results = resolve(&parties, &store(), &rules, &|_| None);
            let verdicts: Vec<Option<&AddressLookup>> = results.iter().map(Some).collect();
            let stance = track_stance(&verdicts);
            match check_tracking(&rules, &parties, false) {
                Ok(()) => assert_eq!(stance, TrackStance::Open, "{parties:?}"),
                Err(TrackRefusal::OnlyColleagues) => {
                    assert_eq!(stance, TrackStance::OnlyColleagues, "{parties:?}")
                }
                Err(TrackRefusal::NeverLog { address, .. }) => match stance {
                    TrackStance::NeverLogged { address: a, reason } => {
                        assert_eq!(a, address, "{parties:?}");
                        assert!(matches!(reason, Some(PrivacyReason::NeverLog { .. })));
                    }
                    other => panic!("{parties:?}: {other:?}"),
                },
            }
        }
        // A verdict still on its way: nothing is said yet.
        let results = resolve(&["cy@acme.com".to_string()], &store(), &rules, &|_| None);
        assert_eq!(track_stance(&[Some(&results[0]), None]), TrackStance::Open);
        assert_eq!(
            track_stance(&[Some(&results[0])]),
            TrackStance::OnlyColleagues
        );
    }
}
