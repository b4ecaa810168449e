//! Compose windows of all four kinds: pop-up, full-screen, inline reply/forward, and the
//! standalone pop-out. All carry a form with a hidden `composeid` input, which is how they
//! are found; the kind comes from where the window sits.

use threadline_domain::address::parse_mailbox;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlInputElement};

use super::{dedupe, text_of, Person, Role};
use crate::selectors::{
    COMPOSE_BODY, COMPOSE_DRAFT, COMPOSE_FORM, COMPOSE_ID_INPUT, COMPOSE_KIND_FULLSCREEN,
    COMPOSE_KIND_INLINE, COMPOSE_KIND_POPUP, COMPOSE_ROOT, COMPOSE_SUBJECT, COMPOSE_THREAD,
    RECIPIENT_CHIPS_NEW, RECIPIENT_FIELD, RECIPIENT_INPUTS_OLD, STANDALONE_BODY_CLASSES,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComposeKind {
    Popup,
    Fullscreen,
    Inline,
    Standalone,
}

impl ComposeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ComposeKind::Popup => "popup",
            ComposeKind::Fullscreen => "fullscreen",
            ComposeKind::Inline => "inline",
            ComposeKind::Standalone => "standalone",
        }
    }
}

/// The compose roots on the page, each with its kind.
pub fn find_all(doc: &web_sys::Document) -> Vec<(Element, ComposeKind)> {
    let mut out: Vec<(Element, ComposeKind)> = Vec::new();
    let Ok(inputs) = doc.query_selector_all(COMPOSE_ID_INPUT) else {
        return out;
    };
    for i in 0..inputs.length() {
        let Some(input) = inputs.item(i).and_then(|n| n.dyn_into::<Element>().ok()) else {
            continue;
        };
        let root = root_of(&input).or_else(|| {
            crate::selectors::report_failure(
                COMPOSE_ROOT.name,
                &input
                    .closest(COMPOSE_FORM)
                    .ok()
                    .flatten()
                    .unwrap_or(input.clone()),
            );
            input
                .closest(COMPOSE_FORM)
                .ok()
                .flatten()
                .and_then(|f| f.parent_element())
        });
        if let Some(root) = root {
            if !out.iter().any(|(r, _)| r == &root) {
                let kind = kind_of(&root);
                out.push((root, kind));
            }
        }
    }
    out
}

/// The compose window around a form's `composeid` input. Not simply the first row of
/// [`COMPOSE_ROOT`] that matches: a pop-up, full-screen or standalone window wraps its form
/// in a `.M9` too (as the real 2020 capture does), which would make every window look like an
/// inline reply. The window is the outermost ancestor a row matches; the last row (`.ip`, the
/// reply area of an old inline reply) counts only when no other row does.
fn root_of(input: &Element) -> Option<Element> {
    let ((_, fallback), rows) = COMPOSE_ROOT.rows.split_last()?;
    let mut root: Option<Element> = None;
    for (_, selector) in rows {
        if let Some(found) = input.closest(selector).ok().flatten() {
            if root
                .as_ref()
                .is_none_or(|inner| found.contains(Some(inner)))
            {
                root = Some(found);
            }
        }
    }
    root.or_else(|| input.closest(fallback).ok().flatten())
}

fn kind_of(root: &Element) -> ComposeKind {
    if COMPOSE_KIND_INLINE.closest(root).is_some() {
        ComposeKind::Inline
    } else if COMPOSE_KIND_FULLSCREEN.closest(root).is_some() {
        ComposeKind::Fullscreen
    } else if COMPOSE_KIND_POPUP.closest(root).is_some() {
        ComposeKind::Popup
    } else if root
        .owner_document()
        .and_then(|d| d.body())
        .is_some_and(|b| {
            let classes = b.class_list();
            STANDALONE_BODY_CLASSES.iter().all(|c| classes.contains(c))
        })
    {
        ComposeKind::Standalone
    } else {
        ComposeKind::Popup
    }
}

fn hidden_value(root: &Element, selector: &str) -> Option<String> {
    let v = root
        .query_selector(selector)
        .ok()
        .flatten()?
        .dyn_into::<HtmlInputElement>()
        .ok()?
        .value();
    let v = v.trim().trim_start_matches('#').to_string();
    (!v.is_empty() && v != "undefined").then_some(v)
}

/// The draft's message id (`msg-a:r…`), which the sent message keeps.
pub fn draft_id(root: &Element) -> Option<String> {
    hidden_value(root, COMPOSE_DRAFT)
}

pub fn compose_id(root: &Element) -> Option<String> {
    hidden_value(root, COMPOSE_ID_INPUT)
}

/// The thread a reply belongs to (`thread-a:r…` or `thread-f:…`).
pub fn thread_id(root: &Element) -> Option<String> {
    hidden_value(root, COMPOSE_THREAD)
}

pub fn subject(root: &Element) -> String {
    root.query_selector(COMPOSE_SUBJECT)
        .ok()
        .flatten()
        .and_then(|e| e.dyn_into::<HtmlInputElement>().ok())
        .map(|i| i.value())
        .unwrap_or_default()
}

pub fn body_text(root: &Element) -> Option<String> {
    COMPOSE_BODY.first(root).map(|b| text_of(&b, 100_000))
}

/// Recipients from both chip UIs: new chips ([`RECIPIENT_CHIPS_NEW`], field from the nearest
/// [`RECIPIENT_FIELD`]) and old hidden inputs ("Name <email>").
pub fn recipients(root: &Element) -> Vec<Person> {
    let mut people = Vec::new();
    if let Ok(chips) = root.query_selector_all(RECIPIENT_CHIPS_NEW) {
        for i in 0..chips.length() {
            let Some(chip) = chips.item(i).and_then(|n| n.dyn_into::<Element>().ok()) else {
                continue;
            };
            let Some(address) = chip
                .get_attribute("data-hovercard-id")
                .filter(|a| a.contains('@'))
            else {
                continue;
            };
            let name = chip
                .get_attribute("data-name")
                .filter(|n| !n.trim().is_empty());
            let field = chip
                .parent_element()
                .and_then(|p| p.closest(RECIPIENT_FIELD).ok().flatten())
                .and_then(|f| f.get_attribute("name"));
            people.push(Person {
                address,
                name,
                role: role_of(field.as_deref()),
            });
        }
    }
    if let Ok(inputs) = root.query_selector_all(RECIPIENT_INPUTS_OLD) {
        for i in 0..inputs.length() {
            let Some(input) = inputs
                .item(i)
                .and_then(|n| n.dyn_into::<HtmlInputElement>().ok())
            else {
                continue;
            };
            let value = input.value();
            if value.trim().is_empty() {
                continue;
            }
            let field = input.get_attribute("name");
            match parse_mailbox(&value) {
                Ok(mb) => people.push(Person {
                    address: mb.address.to_string(),
                    name: mb.name,
                    role: role_of(field.as_deref()),
                }),
                // Keep what the user typed so the bar can say it is not an address.
                Err(_) => people.push(Person {
                    address: value,
                    name: None,
                    role: role_of(field.as_deref()),
                }),
            }
        }
    }
    dedupe(people)
}

fn role_of(field: Option<&str>) -> Role {
    match field {
        Some("cc") => Role::Cc,
        Some("bcc") => Role::Bcc,
        _ => Role::To,
    }
}
