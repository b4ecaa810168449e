//! Watchers: how the app learns that Gmail changed the page.
//!
//! - one `MutationObserver`, owned by the loader's shim (`observeBody` in
//!   extension/content.js), on the containers where messages and compose windows live
//!   ([`WATCH_ROOTS`], in depth) and on the body's own children (a new container; with no
//!   container on the page, the whole body). It applies this module's selectors to each
//!   batch of records in JS (a call into WebAssembly costs a boundary crossing, a handle and
//!   a string copy per DOM call; Gmail mutates its page hundreds of times a second) and
//!   calls [`on_batch`] once per batch that adds an element that can hold a message or a
//!   compose window, or that removes a recipient chip or a compose window while one is
//!   open. Unrelated mutations make no records, or never enter WebAssembly;
//! - one observer on the class of each message list item (expand/collapse) and on the ids
//!   of each message, which rescans only the elements that changed;
//! - `hashchange` (Gmail is a single-page app);
//! - a slow finder: a full scan every few seconds, the safety net behind the watchers;
//! - capture-phase click and keydown listeners that see Send, Discard and Close before
//!   Gmail does.

use std::rc::Rc;

use gloo::events::{EventListener, EventListenerOptions};
use gloo::timers::callback::Interval;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Element, KeyboardEvent, MutationObserver, MutationRecord};

use crate::app::App;
use crate::bridge;
use crate::protocol::{QueueDelivered, ToBackground};
use crate::selectors::{
    DISCARD_OR_CLOSE, SEND_BUTTON, WATCH_ADDED, WATCH_COMPOSE, WATCH_RECIPIENTS, WATCH_ROOTS,
};
use crate::ui::dom::document;

const SLOW_FINDER_MS: u32 = 5_000;
const FLUSH_MS: u32 = 30_000;

/// Our own hosts carry this attribute: inserting them must not wake the watcher.
const OURS: &str = "data-threadline";

#[wasm_bindgen]
extern "C" {
    /// What the loader lends the core (extension/content.js).
    pub type Shim;

    /// Observes `body` (childList, subtree) and calls `on_batch(candidates, removals)` once
    /// per batch of records that has something for the core: `candidates` are the added
    /// elements (not ours) that match or contain `spec.added`; `removals` is true when,
    /// while `spec.composeRoots` is not empty, an element matching `spec.removed` or
    /// holding a compose root was removed.
    #[wasm_bindgen(method, js_name = observeBody)]
    fn observe_body(
        this: &Shim,
        body: &Element,
        spec: &JsValue,
        on_batch: &js_sys::Function,
    ) -> Roots;

    /// What `observeBody` answers: `refreshRoots()` points the observer at the containers
    /// ([`WATCH_ROOTS`]) on the page now.
    pub type Roots;

    #[wasm_bindgen(method, js_name = refreshRoots)]
    fn refresh_roots(this: &Roots);
}

pub fn install(app: &Rc<App>, shim: &Shim) -> Result<(), JsValue> {
    let doc = document();
    let body = doc.body().ok_or_else(|| JsValue::from_str("no body"))?;

    // Body observer, through the shim.
    let spec = js_sys::Object::new();
    for (key, value) in [
        ("added", JsValue::from_str(WATCH_ADDED)),
        ("removed", JsValue::from_str(WATCH_RECIPIENTS)),
        ("ours", JsValue::from_str(OURS)),
        ("composeRoots", app.compose_roots_js().clone().into()),
        ("roots", JsValue::from_str(WATCH_ROOTS)),
    ] {
        js_sys::Reflect::set(&spec, &JsValue::from_str(key), &value)?;
    }
    let a = app.clone();
    let on_mutations = Closure::<dyn FnMut(js_sys::Array, bool)>::new(
        move |candidates: js_sys::Array, removals: bool| on_batch(&a, &candidates, removals),
    );
    let roots = Rc::new(shim.observe_body(&body, &spec, on_mutations.as_ref().unchecked_ref()));
    on_mutations.forget();

    // Message item class observer.
    let a = app.clone();
    let on_class = Closure::<dyn FnMut(js_sys::Array, MutationObserver)>::new(
        move |records: js_sys::Array, _: MutationObserver| {
            // Unfolding and expanding a thread flips an item's class twice: once each.
            let seen = js_sys::Set::new(&JsValue::UNDEFINED);
            let mut targets: Vec<Element> = Vec::new();
            for record in records.iter() {
                let Some(target) = record.unchecked_into::<MutationRecord>().target() else {
                    continue;
                };
                if !seen.has(&target) {
                    seen.add(&target);
                    targets.push(target.unchecked_into());
                }
            }
            a.scan_changed(&targets);
        },
    );
    app.set_item_observer(MutationObserver::new(on_class.as_ref().unchecked_ref())?);
    on_class.forget();

    // Hash navigation.
    let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
    let a = app.clone();
    let r = roots.clone();
    EventListener::new(&window, "hashchange", move |_| {
        r.refresh_roots();
        a.full_scan()
    })
    .forget();

    // Slow finder (the observed containers too) and queue flush.
    let a = app.clone();
    Interval::new(SLOW_FINDER_MS, move || {
        roots.refresh_roots();
        a.full_scan()
    })
    .forget();
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

/// A batch of mutations with candidates (see [`Shim::observe_body`]).
fn on_batch(app: &Rc<App>, candidates: &js_sys::Array, removals: bool) {
    let roots: Vec<Element> = candidates.iter().map(JsCast::unchecked_into).collect();
    let composes_changed = removals
        || roots.iter().any(|el| {
            el.matches(WATCH_COMPOSE).unwrap_or(false)
                || el.query_selector(WATCH_COMPOSE).ok().flatten().is_some()
        });
    app.scan_added(&roots, composes_changed);
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
