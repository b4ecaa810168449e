//! The content script's state and its reconciling scans: which messages and compose
//! windows are on the page, which have bars, which verdicts are cached, which sends are
//! in flight. Watchers (`watch.rs`) call [`App::scan_added`] / [`App::full_scan`]; bars call
//! the action methods, which go through the background.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;

use serde::de::IgnoredAny;
use threadline_domain::api::{
    AddressLookup, ContactSummary, MessageIds, NewContact, NewTask, TrackEmailRequest,
};
use threadline_domain::lookup_cache::{LookupCache, DEFAULT_TTL_MS};
use threadline_domain::send::{SendAction, SendEvent, SendTracker, STILL_OPEN_CHECK_MS};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Element, MutationObserverInit};

use crate::bridge::{self, t, t_with, BridgeError};
use crate::gmail::{compose, thread};
use crate::protocol::{
    ActionReply, ContactSearchReply, LookupReply, QueueDelivered, SourceStatus, Status,
    ToBackground, TrackReply, TrackedStateReply,
};
use crate::selectors::MESSAGE_ANY;
use crate::ui::compose_bar::ComposeBar;
use crate::ui::dom::document;
use crate::ui::message_bar::{MessageBar, TrackState};
use crate::ui::panel::Panel;

thread_local! {
    static APP: RefCell<Option<Rc<App>>> = const { RefCell::new(None) };
}

fn attribute_watch(attributes: &[&str]) -> MutationObserverInit {
    let init = MutationObserverInit::new();
    init.set_attributes(true);
    let filter: js_sys::Array = attributes.iter().map(|a| JsValue::from_str(a)).collect();
    init.set_attribute_filter(&filter);
    init
}

/// The running app. Panics if called before [`App::install`] (a programming error).
pub fn app() -> Rc<App> {
    APP.with(|a| a.borrow().clone())
        .expect("Threadline app installed")
}

pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// A sentence for a person. The background already words (and localises) its errors; the
/// code picks a fallback only when a message is missing.
pub fn error_text(e: &BridgeError) -> String {
    // The privacy refusals are the bar's own words, in the user's language.
    match e.server_code.as_deref() {
        Some("never_log") => return t("privacyRefusedNeverLog"),
        Some("only_colleagues") => return t("privacyRefusedColleagues"),
        _ => {}
    }
    if !e.message.trim().is_empty() {
        return e.message.clone();
    }
    match e.code.as_str() {
        "not_configured" => t("errorNotConfigured"),
        "unauthorized" => t("errorUnauthorized"),
        "offline" => t("errorOffline"),
        code => t_with("errorServer", &[code]),
    }
}

pub struct App {
    status: RefCell<Status>,
    cache: RefCell<LookupCache>,
    inflight: RefCell<HashSet<String>>,
    lookup_error: RefCell<Option<BridgeError>>,
    bars: RefCell<Vec<Rc<MessageBar>>>,
    composes: RefCell<Vec<Rc<ComposeBar>>>,
    /// The roots of `composes`, as a JS array the body observer's shim reads on every
    /// batch (it watches removals only while it is not empty).
    compose_roots_js: js_sys::Array,
    sends: RefCell<SendTracker>,
    next_bar_id: Cell<u32>,
    /// Each decorated message element → its bar's id: finding a message's bar is one call,
    /// not a query inside the message.
    bar_ids: js_sys::WeakMap,
    /// Message list items whose `class` is watched for expand/collapse.
    watched_items: js_sys::WeakSet,
    /// The observer of items and messages, with what it watches on each (made once, not per
    /// message): a message item's class, a message's ids.
    item_observer: RefCell<Option<(web_sys::MutationObserver, [MutationObserverInit; 2])>>,
    /// The contact panel of the opened thread (`ui/panel.rs`).
    panel: Rc<Panel>,
}

impl App {
    pub fn install() -> Rc<App> {
        let app = Rc::new(App {
            status: RefCell::new(Status::default()),
            cache: RefCell::new(LookupCache::new(DEFAULT_TTL_MS)),
            inflight: RefCell::new(HashSet::new()),
            lookup_error: RefCell::new(None),
            bars: RefCell::new(Vec::new()),
            composes: RefCell::new(Vec::new()),
            compose_roots_js: js_sys::Array::new(),
            sends: RefCell::new(SendTracker::new()),
            next_bar_id: Cell::new(1),
            bar_ids: js_sys::WeakMap::new(),
            watched_items: js_sys::WeakSet::new(),
            item_observer: RefCell::new(None),
            panel: Panel::new(),
        });
        APP.with(|a| *a.borrow_mut() = Some(app.clone()));
        app
    }

    pub fn set_item_observer(&self, observer: web_sys::MutationObserver) {
        let inits = [
            attribute_watch(&["class"]),
            attribute_watch(&["data-legacy-message-id", "data-message-id"]),
        ];
        *self.item_observer.borrow_mut() = Some((observer, inits));
    }

    pub async fn load_status(self: &Rc<Self>) {
        match bridge::request::<_, Status>(&ToBackground::Status).await {
            Ok(status) => *self.status.borrow_mut() = status,
            Err(e) => web_sys::console::warn_1(
                &format!("Threadline: status unavailable: {}", e.message).into(),
            ),
        }
        // Compose bars made before the status arrived take the user's default now.
        for c in self.composes.borrow().iter() {
            c.render();
        }
    }

    // --- verdicts ----------------------------------------------------------------------

    /// Runs `f` with a function that answers an address's fresh verdict from the cache.
    pub fn with_verdicts<R>(
        &self,
        f: impl for<'c> FnOnce(&'c dyn Fn(&str) -> Option<&'c AddressLookup>) -> R,
    ) -> R {
        let cache = self.cache.borrow();
        let now = now_ms();
        let verdict = |address: &str| cache.get(address, now);
        f(&verdict)
    }

    pub fn lookup_error(&self) -> Option<BridgeError> {
        self.lookup_error.borrow().clone()
    }

    /// One batched lookup for every address on the page without a fresh verdict.
    pub fn request_lookups(self: &Rc<Self>) {
        let now = now_ms();
        let misses: Vec<String> = {
            let bars = self.bars.borrow();
            let composes = self.composes.borrow();
            let mut all: Vec<String> = Vec::new();
            for b in bars.iter() {
                all.extend(b.people().iter().map(|p| p.address.clone()));
            }
            for c in composes.iter() {
                all.extend(c.people().iter().map(|p| p.address.clone()));
            }
            let inflight = self.inflight.borrow();
            self.cache
                .borrow()
                .misses(all.iter().map(String::as_str), now)
                .into_iter()
                .filter(|a| !inflight.contains(&threadline_domain::lookup_cache::cache_key(a)))
                .collect()
        };
        if misses.is_empty() {
            return;
        }
        {
            let mut inflight = self.inflight.borrow_mut();
            for a in &misses {
                inflight.insert(threadline_domain::lookup_cache::cache_key(a));
            }
        }
        let app = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let reply =
                bridge::request::<_, LookupReply>(&ToBackground::Lookup { addresses: &misses })
                    .await;
            {
                let mut inflight = app.inflight.borrow_mut();
                for a in &misses {
                    inflight.remove(&threadline_domain::lookup_cache::cache_key(a));
                }
            }
            match reply {
                Ok(reply) => {
                    *app.lookup_error.borrow_mut() = None;
                    let now = now_ms();
                    let mut cache = app.cache.borrow_mut();
                    for r in reply.results {
                        cache.insert(r, now);
                    }
                }
                Err(e) => *app.lookup_error.borrow_mut() = Some(e),
            }
            app.render_all();
        });
    }

    fn render_all(&self) {
        for b in self.bars.borrow().iter() {
            b.render();
        }
        for c in self.composes.borrow().iter() {
            c.render();
        }
        self.panel.sync(&self.bars.borrow());
    }

    /// The message bars (the panel keeps those still on the page).
    pub fn live_bars(&self) -> Vec<Rc<MessageBar>> {
        self.bars.borrow().clone()
    }

    /// After a contact is added every verdict may change (another address may now be
    /// ambiguous): drop them all and ask again.
    pub fn invalidate_verdicts(self: &Rc<Self>) {
        self.cache.borrow_mut().invalidate_all();
        self.request_lookups();
    }

    // --- scans -------------------------------------------------------------------------

    /// Reconciles the whole page: bars for every expanded message and compose window, none
    /// for what is gone. The safety net behind the watchers.
    pub fn full_scan(self: &Rc<Self>) {
        if let Some(root) = document().document_element() {
            let fresh = self.scan_messages_in(&root);
            self.request_states(fresh);
        }
        self.prune_bars();
        self.cache.borrow_mut().prune(now_ms());
        self.scan_composes();
        self.request_lookups();
        self.panel.sync(&self.bars.borrow());
    }

    /// Forgets the bars whose host or message left the page.
    fn prune_bars(&self) {
        self.bars
            .borrow_mut()
            .retain(|b| b.host().is_connected() && b.message.is_connected());
    }

    /// Message list items changed class (expanded, collapsed) or messages changed ids:
    /// `targets` are those elements. Rescans them only, not the page.
    pub fn scan_changed(self: &Rc<Self>, targets: &[Element]) {
        self.prune_bars();
        self.scan_added(targets, false);
    }

    /// Handles the elements a mutation added (and whether compose windows may have
    /// changed): cheaper than a full scan, run on every relevant mutation.
    pub fn scan_added(self: &Rc<Self>, roots: &[Element], composes_changed: bool) {
        // One tracked-state request for every bar the mutation batch made (a thread
        // expanded at once is one request, not one per message).
        let mut fresh = Vec::new();
        for root in roots {
            fresh.extend(self.scan_messages_in(root));
        }
        self.request_states(fresh);
        if composes_changed {
            self.scan_composes();
        }
        self.request_lookups();
        self.panel.sync(&self.bars.borrow());
    }

    /// Makes bars for the expanded messages in `root`; returns the bars that are new or
    /// whose message ids changed (their tracked state is to be asked).
    fn scan_messages_in(self: &Rc<Self>, root: &Element) -> Vec<Rc<MessageBar>> {
        let mut found: Vec<Element> = Vec::new();
        if root.matches(MESSAGE_ANY).unwrap_or(false) {
            found.push(root.clone());
        }
        if let Ok(list) = root.query_selector_all(MESSAGE_ANY) {
            for i in 0..list.length() {
                if let Some(el) = list.item(i).and_then(|n| n.dyn_into::<Element>().ok()) {
                    found.push(el);
                }
            }
        }
        let mut fresh: Vec<Rc<MessageBar>> = Vec::new();
        for message in found {
            // A bar's message had its item watched when the bar was made.
            if let Some(bar) = self.bar_of(&message) {
                if thread::is_expanded(&message) && bar.refresh_identity() {
                    self.on_message_seen(&bar);
                    fresh.push(bar);
                }
                continue;
            }
            let item = crate::selectors::MESSAGE_ITEM.closest(&message);
            self.watch_item(&message, item.as_ref());
            if !thread::item_expanded(item.as_ref()) {
                continue;
            }
            let Some(identity) = thread::identity(&message) else {
                crate::selectors::report_failure("message id", &message);
                continue;
            };
            let id = self.next_bar_id.get();
            self.next_bar_id.set(id + 1);
            self.bar_ids.set(&message, &JsValue::from(id));
            let bar = MessageBar::new(id, message, identity);
            self.bars.borrow_mut().push(bar.clone());
            self.on_message_seen(&bar);
            fresh.push(bar);
        }
        fresh
    }

    /// The live bar decorating `message`, if its host is still inside it.
    fn bar_of(&self, message: &Element) -> Option<Rc<MessageBar>> {
        let id = self.bar_ids.get(message).as_f64()?;
        let bar = self
            .bars
            .borrow()
            .iter()
            .find(|b| f64::from(b.id) == id)
            .cloned()?;
        message.contains(Some(bar.host())).then_some(bar)
    }

    /// Watches the class of a message's list item (`item`, found by the caller), which
    /// flips between collapsed and expanded without inserting anything once a message has
    /// been opened.
    /// Also watches the message's id attributes, which Gmail fills in when it resolves a
    /// just-sent message's `msg-a:r…` id.
    fn watch_item(&self, message: &Element, item: Option<&Element>) {
        let observer = self.item_observer.borrow();
        let Some((observer, inits)) = observer.as_ref() else {
            return;
        };
        let watch = |el: &Element, init: &MutationObserverInit| {
            if self.watched_items.has(el) {
                return;
            }
            if observer.observe_with_options(el, init).is_ok() {
                self.watched_items.add(el);
            }
        };
        if let Some(item) = item {
            watch(item, &inits[0]);
        }
        watch(message, &inits[1]);
    }

    fn scan_composes(self: &Rc<Self>) {
        let found = compose::find_all(&document());
        // Gone windows: the send tracker learns it through its still-open check.
        self.composes
            .borrow_mut()
            .retain(|c| c.root.is_connected() && c.host().is_connected());
        let mut changed = false;
        for (root, kind) in found {
            let existing = self
                .composes
                .borrow()
                .iter()
                .find(|c| c.root == root)
                .cloned();
            match existing {
                Some(bar) => {
                    bar.set_kind(kind);
                    if bar.refresh_recipients() {
                        bar.render();
                        changed = true;
                    }
                }
                None => {
                    let bar = ComposeBar::new(root, kind);
                    if let Some(draft) = bar.draft_id.borrow().clone() {
                        self.handle_send_event(SendEvent::ComposeSeen { draft_id: draft });
                    }
                    self.composes.borrow_mut().push(bar);
                    changed = true;
                }
            }
        }
        let roots = &self.compose_roots_js;
        roots.set_length(0);
        for c in self.composes.borrow().iter() {
            roots.push(&c.root);
        }
        if changed {
            self.request_lookups();
        }
    }

    /// True when some compose window is being watched (the watcher then looks at removals).
    pub fn has_composes(&self) -> bool {
        !self.composes.borrow().is_empty()
    }

    /// The same roots, shared with the body observer's shim (see `watch::Shim`).
    pub fn compose_roots_js(&self) -> &js_sys::Array {
        &self.compose_roots_js
    }

    pub fn compose_roots(&self) -> Vec<Element> {
        self.composes
            .borrow()
            .iter()
            .map(|c| c.root.clone())
            .collect()
    }

    // --- tracked state ----------------------------------------------------------------

    fn request_states(self: &Rc<Self>, bars: Vec<Rc<MessageBar>>) {
        if bars.is_empty() {
            return;
        }
        let messages: Vec<MessageIds> = bars
            .iter()
            .map(|b| MessageIds {
                ids: b.identity.borrow().all.clone(),
            })
            .collect();
        let app = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            match bridge::request::<_, TrackedStateReply>(&ToBackground::TrackedState {
                messages: &messages,
            })
            .await
            {
                Ok(reply) => {
                    for (bar, state) in bars.iter().zip(reply.messages) {
                        bar.apply_state(state);
                        bar.clone().add_alias_if_needed();
                    }
                    for pending in reply.pending.iter().filter(|p| p.kind == "track") {
                        for bar in &bars {
                            let ids = &bar.identity.borrow().all;
                            if pending.message_ids.iter().any(|m| ids.contains(m))
                                && !matches!(bar.track_state(), TrackState::Tracked(_))
                            {
                                bar.set_pending();
                            }
                        }
                    }
                }
                Err(e) => {
                    web_sys::console::warn_1(
                        &format!("Threadline: tracked state unavailable: {}", e.message).into(),
                    );
                }
            }
            let _ = &app;
        });
    }

    /// The background delivered a queued action: refresh what it concerns.
    pub fn on_queue_delivered(self: &Rc<Self>, delivered: QueueDelivered) {
        if delivered.kind == "contact" {
            self.invalidate_verdicts();
        }
        self.panel.refresh();
        let bars: Vec<Rc<MessageBar>> = self
            .bars
            .borrow()
            .iter()
            .filter(|b| {
                let ids = &b.identity.borrow().all;
                delivered.message_ids.iter().any(|m| ids.contains(m))
                    || b.track_state() == TrackState::Pending
            })
            .cloned()
            .collect();
        if !bars.is_empty() {
            self.request_states(bars);
        }
        let _ = delivered.key;
    }

    /// The background's word on a tracked message's whole source: shown on its bars.
    pub fn on_source_status(&self, status: SourceStatus) {
        let kind = if status.stored { "info" } else { "pending" };
        for bar in self.bars.borrow().iter() {
            let ids = &bar.identity.borrow().all;
            if status.message_ids.iter().any(|m| ids.contains(m)) {
                bar.show_note(&status.text, kind);
            }
        }
    }

    // --- actions ----------------------------------------------------------------------

    pub async fn track(
        &self,
        request: &TrackEmailRequest,
    ) -> Result<ActionReply<TrackReply>, BridgeError> {
        let reply = bridge::request_action(&ToBackground::Track { request }).await;
        self.refresh_panel_after(&reply);
        reply
    }

    /// A delivered action may change the card on screen (the background dropped its cards).
    fn refresh_panel_after<T>(&self, reply: &Result<ActionReply<T>, BridgeError>) {
        if matches!(reply, Ok(ActionReply::Done { .. })) {
            self.panel.refresh();
        }
    }

    /// Contacts whose name or address matches `q` (at most a handful).
    pub async fn search_contacts(&self, q: &str) -> Result<Vec<ContactSummary>, BridgeError> {
        let reply: ContactSearchReply =
            bridge::request(&ToBackground::SearchContacts { q }).await?;
        Ok(reply.contacts)
    }

    /// The new task is not read (a bar counts its tasks): no decoder of tasks in the bundle.
    pub async fn create_task(
        &self,
        request: &NewTask,
    ) -> Result<ActionReply<IgnoredAny>, BridgeError> {
        let reply = bridge::request_action(&ToBackground::CreateTask { request }).await;
        self.refresh_panel_after(&reply);
        reply
    }

    pub async fn create_contact(
        self: &Rc<Self>,
        request: &NewContact,
    ) -> Result<ActionReply<IgnoredAny>, BridgeError> {
        let reply = bridge::request_action(&ToBackground::CreateContact { request }).await;
        if matches!(reply, Ok(ActionReply::Done { .. })) {
            self.invalidate_verdicts();
        }
        self.refresh_panel_after(&reply);
        reply
    }

    // --- sending ----------------------------------------------------------------------

    /// The option "track on send" (false until the background has answered `status`).
    pub fn track_on_send_default(&self) -> bool {
        self.status.borrow().track_on_send_default
    }

    /// Send was pressed (click or Ctrl/Cmd+Enter) inside `root`.
    pub fn on_send_pressed(self: &Rc<Self>, root: &Element) {
        let Some(bar) = self
            .composes
            .borrow()
            .iter()
            .find(|c| &c.root == root)
            .cloned()
        else {
            return;
        };
        let own = self.status.borrow().user.as_ref().map(|u| u.email.clone());
        let Some((draft_id, request)) = bar.send_request(own.as_deref()) else {
            // Nothing to track (toggle off, no contact picked): a send of this draft still in
            // flight (Undo, then Send again) is withdrawn.
            let draft = bar.draft_id.borrow().clone();
            if let Some(draft_id) = draft {
                self.handle_send_event(SendEvent::SendPressedUntracked { draft_id });
            }
            return;
        };
        // Pressed again while a send is in flight: the same key replaces the waiting request.
        let undo_ms = self.status.borrow().send_undo_seconds.saturating_mul(1000);
        // Delivered after the undo window (plus slack) unless the message shows up sooner.
        let deliver_after_ms = undo_ms + 2_000;
        bridge::notify(&ToBackground::ScheduleSendTracking {
            key: &draft_id,
            deliver_after_ms,
            request: &request,
        });
        self.handle_send_event(SendEvent::SendPressed {
            draft_id,
            now_ms: now_ms(),
        });
    }

    /// Discard or close was clicked inside `root`.
    pub fn on_discard_or_close(self: &Rc<Self>, root: &Element) {
        let draft = self
            .composes
            .borrow()
            .iter()
            .find(|c| &c.root == root)
            .and_then(|c| c.draft_id.borrow().clone());
        if let Some(draft_id) = draft {
            self.handle_send_event(SendEvent::DiscardOrClose { draft_id });
        }
    }

    fn on_message_seen(self: &Rc<Self>, bar: &Rc<MessageBar>) {
        let ids = bar.identity.borrow().all.clone();
        self.handle_send_event(SendEvent::MessageSeen { ids });
    }

    fn handle_send_event(self: &Rc<Self>, event: SendEvent) {
        let alt_ids = match &event {
            SendEvent::MessageSeen { ids } => ids.clone(),
            _ => Vec::new(),
        };
        let actions = self.sends.borrow_mut().handle(event);
        for action in actions {
            match action {
                // The request was queued with the background before the event was fed in.
                SendAction::Schedule { .. } => {}
                SendAction::CheckOpenLater { draft_id } => {
                    let app = self.clone();
                    gloo::timers::callback::Timeout::new(STILL_OPEN_CHECK_MS as u32, move || {
                        let still_open = app
                            .composes
                            .borrow()
                            .iter()
                            .any(|c| c.still_open(&draft_id))
                            || compose::find_all(&document()).iter().any(|(r, _)| {
                                compose::draft_id(r).as_deref() == Some(draft_id.as_str())
                            });
                        app.handle_send_event(SendEvent::OpenCheck {
                            draft_id,
                            still_open,
                        });
                    })
                    .forget();
                }
                SendAction::Cancel { draft_id } => {
                    let key = draft_id.clone();
                    wasm_bindgen_futures::spawn_local(async move {
                        let _ = bridge::request::<_, serde::de::IgnoredAny>(
                            &ToBackground::CancelSendTracking { key: &key },
                        )
                        .await;
                    });
                }
                SendAction::Confirm { draft_id } => {
                    bridge::notify(&ToBackground::ConfirmSendTracking {
                        key: &draft_id,
                        alt_message_ids: &alt_ids,
                    });
                }
            }
        }
    }
}
