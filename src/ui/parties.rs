//! The list of people on a message or in a compose, each with its CRM verdict, and the
//! user's choice of which matched contacts an email is logged to.

use std::collections::HashMap;

use threadline_domain::api::{AddressLookup, ContactSummary, MatchStatus, PrivacyReason};
use threadline_domain::privacy::RuleScope;
use uuid::Uuid;
use web_sys::Element;

use super::dom::{button, child, from_template, h, span, Part, H};
use crate::bridge::{t, t_with};
use crate::gmail::Person;

/// Which contacts the user wants the email logged to. Known contacts are picked unless
/// the user unticks them; contacts of an ambiguous address or a loose suggestion are not
/// picked unless the user ticks them (ambiguity is shown, never guessed).
#[derive(Debug, Default)]
pub struct Picks {
    overrides: HashMap<Uuid, bool>,
}

impl Picks {
    pub fn set(&mut self, id: Uuid, picked: bool) {
        self.overrides.insert(id, picked);
    }

    pub fn is_picked(&self, id: Uuid, default: bool) -> bool {
        self.overrides.get(&id).copied().unwrap_or(default)
    }

    /// The contacts picked among `people`, given their verdicts; no duplicates.
    pub fn picked<'a>(
        &self,
        people: &[Person],
        verdict: &dyn Fn(&str) -> Option<&'a AddressLookup>,
    ) -> Vec<ContactSummary> {
        let mut out: Vec<ContactSummary> = Vec::new();
        for p in people {
            let Some(v) = verdict(&p.address) else {
                continue;
            };
            let (default, candidates) = match v.status {
                MatchStatus::Known => (true, &v.contacts),
                MatchStatus::Ambiguous => (false, &v.contacts),
                MatchStatus::Unknown => (false, &v.suggestions),
                MatchStatus::Own
                | MatchStatus::NeverLog
                | MatchStatus::Colleague
                | MatchStatus::Invalid => continue,
            };
            for c in candidates {
                if self.is_picked(c.id, default) && !out.iter().any(|o| o.id == c.id) {
                    out.push(c.clone());
                }
            }
        }
        out
    }
}

/// Renders the people as chips (`li[data-tl-party]` with `data-address`, `data-status`).
pub fn render<'a>(
    people: &[Person],
    verdict: &dyn Fn(&str) -> Option<&'a AddressLookup>,
    picks: &Picks,
) -> Element {
    let list = from_template(Part::Parties, || h("ul").class("parties").build());
    for p in people {
        let _ = list.append_child(&chip(p, verdict(&p.address), picks));
    }
    list
}

fn status_name(status: Option<MatchStatus>) -> &'static str {
    match status {
        None => "pending",
        Some(MatchStatus::Known) => "known",
        Some(MatchStatus::Ambiguous) => "ambiguous",
        Some(MatchStatus::Unknown) => "unknown",
        Some(MatchStatus::Own) => "own",
        Some(MatchStatus::NeverLog) => "never_log",
        Some(MatchStatus::Colleague) => "colleague",
        Some(MatchStatus::Invalid) => "invalid",
    }
}

fn chip(p: &Person, verdict: Option<&AddressLookup>, picks: &Picks) -> Element {
    let li = H(from_template(Part::Party, || {
        h("li").class("party").attr("data-tl-party", "").build()
    }))
    .attr("data-address", &p.address)
    .attr("data-status", status_name(verdict.map(|v| v.status)))
    .attr("title", &p.address)
    .build();
    let shown_name = p.name.clone().unwrap_or_else(|| p.address.clone());
    match verdict {
        None => {
            let _ = li.append_child(&span("name", &shown_name));
        }
        Some(v) => match v.status {
            MatchStatus::Known => {
                if let Some(c) = v.contacts.first() {
                    let _ = li.append_child(&contact_pick(c, picks.is_picked(c.id, true)));
                }
            }
            MatchStatus::Ambiguous => {
                let _ = li.append_child(&span("address", &p.address));
                let _ = li.append_child(&span("notice", &t("statusAmbiguous")));
                let candidates = h("span").class("candidates").build();
                for c in &v.contacts {
                    let _ = candidates.append_child(&contact_pick(c, picks.is_picked(c.id, false)));
                }
                let _ = li.append_child(&candidates);
            }
            MatchStatus::Unknown => {
                let _ = li.append_child(&span("name", &shown_name));
                if p.name.is_some() {
                    let _ = li.append_child(&span("address", &p.address));
                }
                for c in &v.suggestions {
                    let _ = li.append_child(&contact_pick(c, picks.is_picked(c.id, false)));
                }
                let _ = li.append_child(
                    &button("add-contact", &t("actionAddContact"))
                        .class("link")
                        .attr("data-address", &p.address)
                        .build(),
                );
            }
            MatchStatus::Own => {
                let _ = li.append_child(&span("name", &shown_name));
                let _ = li.append_child(&span("address", &t("statusOwn")));
            }
            MatchStatus::NeverLog | MatchStatus::Colleague => {
                let key = if v.status == MatchStatus::NeverLog {
                    "statusNeverLog"
                } else {
                    "statusColleague"
                };
                let _ = li.append_child(&span("name", &shown_name));
                let _ = li.append_child(&span("notice", &t(key)));
                if let Some(reason) = &v.privacy {
                    let _ =
                        li.set_attribute("title", &format!("{}: {}", p.address, rule_text(reason)));
                }
            }
            MatchStatus::Invalid => {
                let _ = li.append_child(&span("address", &p.address));
                let reason = v.error.clone().unwrap_or_else(|| t("statusInvalid"));
                let _ = li.set_attribute("title", &reason);
            }
        },
    }
    li
}

/// The privacy rule that covers an address, for people: "On your never-log list (acme.com)".
pub fn rule_text(reason: &PrivacyReason) -> String {
    match reason {
        PrivacyReason::NeverLog {
            scope: RuleScope::Me,
            value,
            ..
        } => t_with("ruleNeverLogMine", &[value]),
        PrivacyReason::NeverLog { value, .. } => t_with("ruleNeverLogOrg", &[value]),
        PrivacyReason::Colleague { domain } => t_with("ruleColleague", &[domain]),
    }
}

/// Why an email is not tracked when `address` is never logged by `reason`.
pub fn never_log_sentence(address: &str, reason: Option<&PrivacyReason>) -> String {
    match reason {
        Some(PrivacyReason::NeverLog {
            scope: RuleScope::Me,
            value,
            ..
        }) => t_with("privacyNeverLogMine", &[address, value]),
        Some(PrivacyReason::NeverLog { value, .. }) => {
            t_with("privacyNeverLogOrg", &[address, value])
        }
        // The server always names the rule; a verdict without one still says who.
        _ => t_with("privacyNeverLogOrg", &[address, address]),
    }
}

/// A tick box for one contact, labelled with the name and company.
pub fn contact_pick(c: &ContactSummary, picked: bool) -> Element {
    let label = from_template(Part::Pick, || {
        h("label")
            .class("toggle")
            .child(h("input").attr("type", "checkbox").attr("data-tl", "pick"))
            .child(h("span").class("name"))
            .build()
    });
    let children = label.children();
    let (input, name) = (child(&children, 0), child(&children, 1));
    let _ = input.set_attribute("data-contact-id", &c.id.to_string());
    if picked {
        let _ = input.set_attribute("checked", "");
    }
    name.set_text_content(Some(&c.display_name()));
    if let Some(company) = &c.company {
        let _ = label.append_child(&span("company", &company.name));
    }
    label
}
