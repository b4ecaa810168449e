//! The bars' and the contact panel's UI, built with DOM calls inside a Shadow DOM host so that Gmail's styles and
//! ours never meet.

pub mod bar;
pub mod compose_bar;
pub mod dom;
pub mod forms;
pub mod message_bar;
pub mod panel;
pub mod parties;

use wasm_bindgen::JsCast;
use web_sys::{CssStyleSheet, Element, ShadowRoot, ShadowRootInit, ShadowRootMode};

use dom::h;

/// The bar's stylesheet, kept in extension/styles/ beside the other styles (minified by
/// `build.rs`).
const STYLE: &str = include_str!(concat!(env!("OUT_DIR"), "/bar.css"));

thread_local! {
    /// One parsed stylesheet shared by every bar (constructable stylesheets), so that a
    /// thread of 100 messages parses and copies the CSS once, not 100 times. None where the
    /// browser cannot adopt a sheet made in the content script's world: `<style>` then.
    static SHEET: Option<CssStyleSheet> = CssStyleSheet::new()
        .ok()
        .filter(|sheet| sheet.replace_sync(STYLE).is_ok());
}

thread_local! {
    /// Whether adopting the sheet worked, learnt on the first bar (reading the adopted
    /// sheets back costs more than adopting them, so only the first bar checks).
    static ADOPTS: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
}

fn style_shadow(shadow: &ShadowRoot) {
    let adopted = SHEET.with(|sheet| {
        let Some(sheet) = sheet else { return false };
        if ADOPTS.get() == Some(false) {
            return false;
        }
        shadow.set_adopted_style_sheets(&js_sys::Array::of1(sheet));
        if ADOPTS.get().is_none() {
            ADOPTS.set(Some(shadow.adopted_style_sheets().length() == 1));
        }
        ADOPTS.get() == Some(true)
    });
    if !adopted {
        let _ = shadow.append_child(&h("style").text(STYLE).build());
    }
}

/// A bar's parts: the host, its shadow root, the `.bar` container and, inside it, the
/// people's slot, the actions, the status line and the form panel.
pub struct Shell {
    pub host: Element,
    pub shadow: ShadowRoot,
    pub container: Element,
    pub parts: [Element; 4],
}

/// Creates a host element (`data-threadline=<kind>`) with an open shadow root holding the
/// stylesheet and the bar's empty parts, copied from one template (see [`Shell`]).
pub fn shadow_host(kind: &str) -> Shell {
    let host = dom::from_template(dom::Part::Host, || {
        h("div").class("threadline-host").build()
    });
    let _ = host.set_attribute("data-threadline", kind);
    let shadow = host
        .attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))
        .expect("attachShadow on a div");
    style_shadow(&shadow);
    let container = dom::from_template(dom::Part::Bar, || {
        h("div")
            .class("bar")
            .attr("data-tl", "bar")
            .attr("data-state", "loading")
            .child(h("span").class("brand").text(&crate::bridge::t("barTitle")))
            .child(h("div").class("parties-slot"))
            .child(h("div").class("actions"))
            .child(
                h("div")
                    .class("status")
                    .attr("data-tl", "status")
                    .attr("role", "status")
                    .attr("aria-live", "polite"),
            )
            .child(h("div").class("panel").attr("data-tl", "panel"))
            .build()
    });
    let _ = shadow.append_child(&container);
    let children = container.children();
    let parts = [
        dom::child(&children, 1),
        dom::child(&children, 2),
        dom::child(&children, 3),
        dom::child(&children, 4),
    ];
    Shell {
        host,
        shadow,
        container,
        parts,
    }
}

/// The element carrying a `data-tl` action at or above an event's target, inside a shadow
/// root.
pub fn action_target(event: &web_sys::Event) -> Option<(Element, String)> {
    let target = event.composed_path().get(0).dyn_into::<Element>().ok()?;
    let el = target.closest("[data-tl]").ok().flatten()?;
    let action = el.get_attribute("data-tl")?;
    Some((el, action))
}

thread_local! {
    /// Stops a key event from reaching Gmail's keyboard shortcuts.
    static KEY_STOP: wasm_bindgen::closure::Closure<dyn Fn(web_sys::Event)> =
        wasm_bindgen::closure::Closure::new(|event: web_sys::Event| event.stop_propagation());
}

/// Keeps key presses inside a shadow root (typing in a bar, operating the panel) away from
/// Gmail's keyboard shortcuts, with one function shared by every bar and the panel (a
/// thread of 100 bars would otherwise make 300 closures), living as long as the page.
pub fn keep_keys_inside(target: &web_sys::EventTarget) {
    KEY_STOP.with(|stop| {
        for kind in ["keydown", "keyup", "keypress"] {
            let _ = target.add_event_listener_with_callback(
                kind,
                wasm_bindgen::JsCast::unchecked_ref(stop.as_ref()),
            );
        }
    });
}
