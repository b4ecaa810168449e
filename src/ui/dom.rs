//! A small builder over `createElement` / `textContent` / `setAttribute`.
//!
//! This is the only way Threadline's UI is built: every string from an email is hostile,
//! so nothing is ever parsed as HTML (no innerHTML, no insertAdjacentHTML).

use std::cell::OnceCell;

use wasm_bindgen::JsCast;
use web_sys::{Document, Element, HtmlElement, HtmlInputElement, Node};

thread_local! {
    /// The page's document, fetched once (each `window().document()` is two calls out of
    /// WebAssembly and two type checks).
    static DOCUMENT: Document = web_sys::window()
        .and_then(|w| w.document())
        .expect("a document");
}

pub fn document() -> Document {
    DOCUMENT.with(Document::clone)
}

/// The parts of the UI copied from templates.
#[derive(Clone, Copy)]
pub enum Part {
    Host,
    Bar,
    Parties,
    Party,
    Pick,
    Track,
    Task,
}

thread_local! {
    /// The templates of the parts, each built on first use.
    static TEMPLATES: [OnceCell<Element>; 7] = const { [const { OnceCell::new() }; 7] };
}

fn copy(part: Part, build: &dyn Fn() -> Element) -> Element {
    TEMPLATES
        .with(|all| {
            all[part as usize]
                .get_or_init(build)
                .clone_node_with_deep(true)
        })
        .expect("cloneNode")
        .unchecked_into()
}

/// A deep copy of the subtree `build` makes, built once per part and cloned after that:
/// one DOM call for a part that takes one call per element, attribute and text to build
/// (a thread of 100 bars makes thousands of calls fewer). Only for constant parts: what
/// comes from an email is set on the copy.
pub fn from_template(part: Part, build: fn() -> Element) -> Element {
    copy(part, &build)
}

/// A `span` of class `class` holding `text`.
pub fn span(class: &str, text: &str) -> Element {
    h("span").class(class).text(text).build()
}

/// The element child of `el` at `index` (of a copy from [`from_template`]).
pub fn child(children: &web_sys::HtmlCollection, index: u32) -> Element {
    children.item(index).expect("a template's child")
}

pub struct H(pub Element);

pub fn h(tag: &str) -> H {
    H(document().create_element(tag).expect("createElement"))
}

impl H {
    pub fn class(self, class: &str) -> Self {
        self.0.set_class_name(class);
        self
    }
    /// Sets the text; the string is never interpreted as markup.
    pub fn text(self, text: &str) -> Self {
        self.0.set_text_content(Some(text));
        self
    }
    pub fn attr(self, name: &str, value: &str) -> Self {
        let _ = self.0.set_attribute(name, value);
        self
    }
    pub fn attr_if(self, cond: bool, name: &str, value: &str) -> Self {
        if cond {
            self.attr(name, value)
        } else {
            self
        }
    }
    pub fn child(self, child: impl AsRef<Node>) -> Self {
        let _ = self.0.append_child(child.as_ref());
        self
    }
    pub fn build(self) -> Element {
        self.0
    }
}

impl AsRef<Node> for H {
    fn as_ref(&self) -> &Node {
        self.0.as_ref()
    }
}

/// A button that carries its action in `data-tl`, dispatched by the bar's one listener.
pub fn button(action: &str, label: &str) -> H {
    h("button")
        .attr("type", "button")
        .attr("data-tl", action)
        .text(label)
}

/// "Open in Threadline": a link to `url` (an `http(s)` page of the web app, checked by the
/// caller) in a new tab that gets no handle on this page nor its address.
pub fn open_link(url: &str, action: &str) -> Element {
    h("a")
        .attr("href", url)
        .attr("target", "_blank")
        .attr("rel", "noopener noreferrer")
        .attr("data-tl", action)
        .text(&crate::bridge::t("openInThreadline"))
        .build()
}

/// Removes every child in one call (setting the text content to nothing).
pub fn clear(el: &Element) {
    el.set_text_content(None);
}

pub fn input_value(root: &Element, selector: &str) -> String {
    root.query_selector(selector)
        .ok()
        .flatten()
        .and_then(|e| e.dyn_into::<HtmlInputElement>().ok())
        .map(|i| i.value())
        .unwrap_or_default()
}

pub fn focus(el: &Element) {
    if let Some(h) = el.dyn_ref::<HtmlElement>() {
        let _ = h.focus();
    }
}

/// A labelled text input for the bar's forms.
pub fn field(label: &str, name: &str, value: &str, kind: &str) -> Element {
    let input = h("input")
        .attr("type", kind)
        .attr("name", name)
        .attr("data-tl-field", name)
        .build();
    if let Some(i) = input.dyn_ref::<HtmlInputElement>() {
        i.set_value(value);
    }
    h("label")
        .class("field")
        .child(h("span").text(label))
        .child(input)
        .build()
}
