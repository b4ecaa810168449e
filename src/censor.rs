//! A censored outline of a DOM subtree for logs: tag names and an allow-list of structural
//! attributes, with no text and no addresses. Enough to see which Gmail structure broke a
//! selector, nothing of anyone's mail (after InboxSDK's censorHTMLtree).

use wasm_bindgen::JsCast;
use web_sys::Element;

const KEPT_ATTRIBUTES: &[&str] = &[
    "class",
    "role",
    "g_editable",
    "gh",
    "type",
    "contenteditable",
];
/// Attributes whose presence matters but whose value is personal.
const MASKED_ATTRIBUTES: &[&str] = &[
    "email",
    "data-hovercard-id",
    "data-message-id",
    "data-legacy-message-id",
    "data-legacy-thread-id",
];
/// The `name` values that are structure (Gmail's form fields); any other `name` — Gmail
/// puts the person's name on a sender's `span` — is masked.
const STRUCTURAL_NAMES: &[&str] = &[
    "to",
    "cc",
    "bcc",
    "from",
    "subject",
    "subjectbox",
    "composeid",
    "draft",
    "rt",
    "body",
    "q",
];
const MAX_NODES: usize = 300;
const MAX_DEPTH: usize = 12;

pub fn censored_outline(root: &Element) -> String {
    let mut out = String::new();
    let mut budget = MAX_NODES;
    walk(root, 0, &mut out, &mut budget);
    out
}

fn walk(el: &Element, depth: usize, out: &mut String, budget: &mut usize) {
    if *budget == 0 {
        return;
    }
    *budget -= 1;
    let tag = el.tag_name().to_ascii_lowercase();
    out.push_str(&"  ".repeat(depth));
    out.push('<');
    out.push_str(&tag);
    for name in KEPT_ATTRIBUTES {
        if let Some(v) = el.get_attribute(name) {
            let v: String = v.chars().filter(|c| !c.is_control()).take(120).collect();
            out.push_str(&format!(" {name}=\"{}\"", v.replace('"', "'")));
        }
    }
    if let Some(v) = el.get_attribute("name") {
        if STRUCTURAL_NAMES.contains(&v.as_str()) {
            out.push_str(&format!(" name=\"{v}\""));
        } else {
            out.push_str(" name=\"…\"");
        }
    }
    for name in MASKED_ATTRIBUTES {
        if el.has_attribute(name) {
            out.push_str(&format!(" {name}=\"…\""));
        }
    }
    out.push_str(">\n");
    if depth >= MAX_DEPTH {
        return;
    }
    let children = el.children();
    for i in 0..children.length() {
        if let Some(child) = children.item(i).and_then(|c| c.dyn_into::<Element>().ok()) {
            walk(&child, depth + 1, out, budget);
        }
    }
}
