//! Opened messages: their identity, state, people and content.

use threadline_domain::message::{message_identity, MessageIdentity};
use web_sys::Element;

use super::{dedupe, text_of, Person, Role};
use crate::selectors::{
    Chain, BAR_AFTER, BAR_BEFORE, MESSAGE_BODY, MESSAGE_ITEM, NOT_EXPANDED, RECIPIENTS_ALL, SENDER,
    THREAD_ID, THREAD_ROOT, THREAD_SUBJECT,
};

/// The identity a message element carries now (it changes when Gmail resolves a just-sent
/// message's `msg-a:r…` id to its legacy id).
pub fn identity(message: &Element) -> Option<MessageIdentity> {
    let legacy = message.get_attribute("data-legacy-message-id");
    let sync = message.get_attribute("data-message-id");
    message_identity(legacy.as_deref(), sync.as_deref())
}

/// True when the message's list item is expanded (not collapsed, not in the fold).
pub fn is_expanded(message: &Element) -> bool {
    item_expanded(MESSAGE_ITEM.closest(message).as_ref())
}

/// [`is_expanded`] given the message's list item (`MESSAGE_ITEM`), found already.
pub fn item_expanded(item: Option<&Element>) -> bool {
    item.is_none_or(|item| !item.matches(NOT_EXPANDED).unwrap_or(false))
}

/// Sender first, then the recipients shown on the expanded message.
pub fn people(message: &Element) -> Vec<Person> {
    let mut people = Vec::new();
    if let Some(sender) = SENDER.first_or_report(message) {
        if let Some(p) = person(&sender, Role::From) {
            people.push(p);
        }
    }
    if let Ok(list) = message.query_selector_all(RECIPIENTS_ALL) {
        for i in 0..list.length() {
            if let Some(el) = list
                .item(i)
                .and_then(|n| wasm_bindgen::JsCast::dyn_into::<Element>(n).ok())
            {
                if let Some(p) = person(&el, Role::To) {
                    people.push(p);
                }
            }
        }
    }
    dedupe(people)
}

fn person(el: &Element, role: Role) -> Option<Person> {
    let address = el.get_attribute("email").filter(|a| !a.trim().is_empty())?;
    let name = el.get_attribute("name").filter(|n| !n.trim().is_empty());
    Some(Person {
        address,
        name,
        role,
    })
}

/// The opened thread around a message: (subject, thread id).
pub fn thread_of(message: &Element) -> (String, Option<String>) {
    let root = THREAD_ROOT
        .closest(message)
        .or_else(|| crate::ui::dom::document().document_element());
    let Some(root) = root else {
        return (String::new(), None);
    };
    let subject_el = THREAD_SUBJECT.first(&root).or_else(|| {
        crate::ui::dom::document()
            .document_element()
            .and_then(|d| THREAD_SUBJECT.first(&d))
    });
    let subject = subject_el.map(|s| text_of(&s, 1000)).unwrap_or_default();
    let thread_id = subject_el_thread_id(&root);
    (subject, thread_id)
}

fn subject_el_thread_id(root: &Element) -> Option<String> {
    let el = THREAD_ID.first(root)?;
    let id = el
        .get_attribute("data-legacy-thread-id")
        .or_else(|| el.get_attribute("data-thread-perm-id"))?;
    let id = id.trim().trim_start_matches('#').to_string();
    (!id.is_empty() && id != "undefined").then_some(id)
}

/// The message's text as the page shows it, capped.
pub fn body_text(message: &Element) -> Option<String> {
    MESSAGE_BODY.first(message).map(|b| text_of(&b, 100_000))
}

/// Puts the bar host under the message body: before `.hi`, else after `div.ii.gt`, else at
/// the end of the message.
pub fn insert_bar(message: &Element, host: &Element) {
    let placed = place(message, &BAR_BEFORE, host, true) || place(message, &BAR_AFTER, host, false);
    if !placed {
        crate::selectors::report_failure(BAR_AFTER.name, message);
        let _ = message.append_child(host);
    }
}

fn place(message: &Element, chain: &Chain, host: &Element, before: bool) -> bool {
    let Some(anchor) = chain.first(message) else {
        return false;
    };
    let Some(parent) = anchor.parent_node() else {
        return false;
    };
    let reference = if before {
        Some(anchor.into())
    } else {
        anchor.next_sibling()
    };
    parent.insert_before(host, reference.as_ref()).is_ok()
}
