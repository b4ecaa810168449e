//! Watchers: how the app learns that Gmail changed the page.
//!
//! - one `MutationObserver` on the body (childList, subtree) whose callback looks only at
//!   added elements that can hold a message or a compose window, and at removals while a
//!   compose window is open — unrelated mutations cost a few attribute reads each;
//! - one observer on the class of each message list item (expand/collapse);
//! - `hashchange` (Gmail is a single-page app);
//! - a slow finder: a full scan every few seconds, the safety net behind the watchers;
//! - capture-phase click and keydown listeners that see Send, Discard and Close before
//!   Gmail does.

use std::rc::Rc;

use gloo::events::{EventListener, EventListenerOptions};
use gloo::timers::callback::Interval;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{
    Element, KeyboardEvent, MutationObserver, MutationObserverInit, MutationRecord, Node,
};

use crate::app::App;
use crate::bridge;
use crate::protocol::{QueueDelivered, ToBackground};
use crate::selectors::{
    DISCARD_OR_CLOSE, SEND_BUTTON, WATCH_ADDED, WATCH_COMPOSE, WATCH_RECIPIENTS,
};
use crate::ui::dom::document;

const SLOW_FINDER_MS: u32 = 5_000;
const FLUSH_MS: u32 = 30_000;

pub fn install(app: &Rc<App>) -> Result<(), JsValue> {
    let doc = document();
    let body = doc.body().ok_or_else(|| JsValue::from_str("no body"))?;

    // Body observer.
    let a = app.clone();
    let on_mutations = Closure::<dyn FnMut(js_sys::Array, MutationObserver)>::new(
        move |records: js_sys::Array, _: MutationObserver| on_body_mutations(&a, &records),
    );
    let observer = MutationObserver::new(on_mutations.as_ref().unchecked_ref())?;
    on_mutations.forget();
    let init = MutationObserverInit::new();
    init.set_child_list(true);
    init.set_subtree(true);
    observer.observe_with_options(&body, &init)?;

    // Message item class observer.
    let a = app.clone();
    let on_class = Closure::<dyn FnMut(js_sys::Array, MutationObserver)>::new(
        move |_: js_sys::Array, _: MutationObserver| a.full_scan(),
    );
    app.set_item_observer(MutationObserver::new(on_class.as_ref().unchecked_ref())?);
    on_class.forget();

    // Hash navigation.
    let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
    let a = app.clone();
    EventListener::new(&window, "hashchange", move |_| a.full_scan()).forget();

    // Slow finder and queue flush.
    let a = app.clone();
    Interval::new(SLOW_FINDER_MS, move || a.full_scan()).forget();
    Interval::new(FLUSH_MS, || bridge::notify(&ToBackground::Flush)).forget();

    // Send, discard, close: capture phase, so Gmail's own handlers cannot hide them.
    let capture = EventListenerOptions::run_in_capture_phase();
    let a = app.clone();
    EventListener::new_with_options(&doc, "click", capture, move |event| {
        if let Some(target) = event.target().and_then(|t| t.dyn_into::<Element>().ok()) {
            on_click(&a, &target);
        }
    })
    .forget();
    let a = app.clone();
    EventListener::new_with_options(&doc, "keydown", capture, move |event| {
        if let Some(key) = event.dyn_ref::<KeyboardEvent>() {
            on_keydown(&a, key);
        }
    })
    .forget();

    // Pushes from the background.
    let a = app.clone();
    bridge::on_background_message(move |msg| {
        let kind = js_sys::Reflect::get(&msg, &"type".into())
            .ok()
            .and_then(|v| v.as_string());
        if kind.as_deref() == Some("queueDelivered") {
            if let Ok(delivered) = bridge::decode::<QueueDelivered>(&msg) {
                a.on_queue_delivered(delivered);
            }
        } else if kind.as_deref() == Some("captureSource") {
            crate::capture::on_capture_request(&msg);
        } else if kind.as_deref() == Some("sourceStatus") {
            if let Some(status) = crate::protocol::SourceStatus::from_js(&msg) {
                a.on_source_status(status);
            }
        }
    });
    Ok(())
}

fn on_body_mutations(app: &Rc<App>, records: &js_sys::Array) {
    let mut roots: Vec<Element> = Vec::new();
    let mut composes_changed = false;
    let watching_composes = app.has_composes();
    let compose_roots = if watching_composes {
        app.compose_roots()
    } else {
        Vec::new()
    };
    for record in records.iter() {
        let record: MutationRecord = record.unchecked_into();
        let added = record.added_nodes();
        for i in 0..added.length() {
            let Some(el) = added.item(i).and_then(as_element) else {
                continue;
            };
            if is_ours(&el) {
                continue;
            }
            if el.matches(WATCH_ADDED).unwrap_or(false)
                || (el.child_element_count() > 0
                    && el.query_selector(WATCH_ADDED).ok().flatten().is_some())
            {
                composes_changed |= el.matches(WATCH_COMPOSE).unwrap_or(false)
                    || el.query_selector(WATCH_COMPOSE).ok().flatten().is_some();
                roots.push(el);
            }
        }
        if watching_composes {
            let removed = record.removed_nodes();
            for i in 0..removed.length() {
                let Some(el) = removed.item(i).and_then(as_element) else {
                    continue;
                };
                if el.matches(WATCH_RECIPIENTS).unwrap_or(false)
                    || compose_roots.iter().any(|r| el.contains(Some(r)))
                {
                    composes_changed = true;
                }
            }
        }
    }
    if !roots.is_empty() || composes_changed {
        app.scan_added(&roots, composes_changed);
    }
}

fn as_element(node: Node) -> Option<Element> {
    node.dyn_into::<Element>().ok()
}

/// Our own hosts: inserting them must not wake the watcher.
fn is_ours(el: &Element) -> bool {
    el.has_attribute("data-threadline")
}

fn compose_root_of(app: &Rc<App>, target: &Element) -> Option<Element> {
    app.compose_roots()
        .into_iter()
        .find(|r| r.contains(Some(target)))
}

fn on_click(app: &Rc<App>, target: &Element) {
    if !app.has_composes() {
        return;
    }
    let Some(root) = compose_root_of(app, target) else {
        return;
    };
    if SEND_BUTTON
        .closest(target)
        .is_some_and(|b| root.contains(Some(&b)))
    {
        app.on_send_pressed(&root);
    } else if target.closest(DISCARD_OR_CLOSE).ok().flatten().is_some() {
        app.on_discard_or_close(&root);
    }
}

fn on_keydown(app: &Rc<App>, event: &KeyboardEvent) {
    if !app.has_composes() {
        return;
    }
    let Some(target) = event.target().and_then(|t| t.dyn_into::<Element>().ok()) else {
        return;
    };
    let Some(root) = compose_root_of(app, &target) else {
        return;
    };
    let key = event.key();
    let send_shortcut = key == "Enter" && (event.ctrl_key() || event.meta_key());
    let on_send_button = (key == "Enter" || key == " ") && SEND_BUTTON.closest(&target).is_some();
    if send_shortcut || on_send_button {
        app.on_send_pressed(&root);
    }
}
