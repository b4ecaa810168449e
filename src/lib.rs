//! Threadline's content-script core, compiled to WebAssembly and injected into Gmail.
//!
//! This crate adapts Gmail's DOM and the extension APIs to `threadline-domain`, which holds
//! the logic; see ARCHITECTURE.md. The JS loader (`extension/content.js`) calls [`start`].
//!
//! - `selectors`: every Gmail selector, as versioned fallback chains.
//! - `gmail`: reading messages and compose windows.
//! - `ui`: the bars, built with DOM calls in Shadow DOM.
//! - `app`: the state and the reconciling scans; `watch`: observers and listeners.
//! - `bridge` / `protocol`: messages to the background service worker.
//! - `capture`: a message's raw source, fetched from Gmail and streamed to the background.

mod app;
mod bridge;
mod capture;
mod censor;
mod gmail;
mod protocol;
mod selectors;
mod ui;
mod watch;

use wasm_bindgen::prelude::*;

/// Starts Threadline on the page, with the loader's batching shim (see `watch::Shim`).
/// Errors are returned to the loader, which reports them without touching the page.
#[wasm_bindgen]
pub fn start(shim: watch::Shim) -> Result<(), JsValue> {
    threadline_domain::address::set_domain_to_ascii(browser_domain_to_ascii);
    let app = app::App::install();
    watch::install(&app, &shim)?;
    app.full_scan();
    let a = app.clone();
    wasm_bindgen_futures::spawn_local(async move {
        a.load_status().await;
        a.full_scan();
    });
    Ok(())
}

/// UTS 46 ToASCII by the browser's own URL parser (the WHATWG URL Standard's "domain to
/// ASCII"), so the bundle carries no Unicode tables.
fn browser_domain_to_ascii(domain: &str) -> Option<String> {
    if domain.contains(['/', '?', '#', '@', ':', '\\', '[', ']']) {
        return None;
    }
    let url = web_sys::Url::new(&format!("http://{domain}/")).ok()?;
    let host = url.hostname();
    (!host.is_empty() && host.is_ascii()).then_some(host)
}

/// The core's version, for the loader's diagnostics.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

// The DOM adapter's pieces are exercised by the wasm-bindgen tests in tests/dom_adapter.rs.
#[doc(hidden)]
pub mod testing {
    pub use crate::censor::censored_outline;
    pub use crate::gmail::compose::{
        find_all as find_composes, recipients as compose_recipients, ComposeKind,
    };
    pub use crate::gmail::original::page_ik;
    pub use crate::gmail::thread::{
        identity as message_identity, is_expanded, people as message_people,
    };
    pub use crate::gmail::{Person, Role};
    pub use crate::selectors::all as all_gmail_selectors;

    /// Lends the browser's UTS 46 to the domain crate, as `start` does.
    pub fn install_browser_idna() {
        threadline_domain::address::set_domain_to_ascii(super::browser_domain_to_ascii);
    }

    /// The people chips with no verdicts yet (what a bar shows before the lookup answers).
    pub fn render_parties(people: &[Person]) -> web_sys::Element {
        crate::ui::parties::render(people, &|_| None, &crate::ui::parties::Picks::default())
    }
}
