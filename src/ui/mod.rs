//! The bars' UI, built with DOM calls inside a Shadow DOM host so that Gmail's styles and
//! ours never meet.

pub mod bar;
pub mod compose_bar;
pub mod dom;
pub mod forms;
pub mod message_bar;
pub mod parties;

use wasm_bindgen::JsCast;
use web_sys::{Element, ShadowRoot, ShadowRootInit, ShadowRootMode};

use dom::h;

/// The bar's stylesheet, kept in extension/styles/ beside the other styles.
const STYLE: &str = include_str!("../../extension/styles/bar.css");

/// Creates a host element (`data-threadline=<kind>`) with an open shadow root holding the
/// stylesheet and an empty `.bar` container; returns (host, shadow, container).
pub fn shadow_host(kind: &str) -> (Element, ShadowRoot, Element) {
    let host = h("div")
        .class("threadline-host")
        .attr("data-threadline", kind)
        .build();
    let shadow = host
        .attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))
        .expect("attachShadow on a div");
    let style = h("style").text(STYLE).build();
    let _ = shadow.append_child(&style);
    let container = h("div")
        .class("bar")
        .attr("data-tl", "bar")
        .attr("data-state", "loading")
        .build();
    let _ = shadow.append_child(&container);
    (host, shadow, container)
}

/// The element carrying a `data-tl` action at or above an event's target, inside a shadow
/// root.
pub fn action_target(event: &web_sys::Event) -> Option<(Element, String)> {
    let target = event.composed_path().get(0).dyn_into::<Element>().ok()?;
    let el = target.closest("[data-tl]").ok().flatten()?;
    let action = el.get_attribute("data-tl")?;
    Some((el, action))
}
