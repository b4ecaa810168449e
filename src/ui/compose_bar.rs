//! The compact bar at the bottom of a compose window: the recipients' verdicts as chips
//! come and go, Add contact for an unknown one, and the Track-on-send toggle with the
//! choice of contacts the mail is logged to.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use threadline_domain::api::{Direction, Party, TrackEmailRequest};
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlInputElement};

use super::bar::{BarCore, BarOwner, Privacy};
use super::dom::{clear, h};
use crate::bridge::t;
use crate::gmail::compose::{self, ComposeKind};
use crate::gmail::{Person, Role};
use crate::selectors::COMPOSE_BAR_SLOT;

pub struct ComposeBar {
    pub root: Element,
    /// Changes when Gmail moves the window (the full-screen button moves the same element
    /// between the pop-up dock and the full-screen container).
    kind: Cell<ComposeKind>,
    core: BarCore,
    pub draft_id: RefCell<Option<String>>,
    /// The user's choice in this bar; None follows the option.
    track_on_send: Cell<Option<bool>>,
}

impl BarOwner for ComposeBar {
    fn core(&self) -> &BarCore {
        &self.core
    }

    fn on_action(self: Rc<Self>, action: &str, el: &Element) {
        if action == "track-on-send" {
            let on = el
                .dyn_ref::<HtmlInputElement>()
                .map(|i| i.checked())
                .unwrap_or(false);
            self.track_on_send.set(Some(on));
        }
    }

    fn on_submit(self: Rc<Self>, _form: &str, _el: &Element) {}
}

impl ComposeBar {
    pub fn new(root: Element, kind: ComposeKind) -> Rc<ComposeBar> {
        let core = BarCore::new("compose-bar", true);
        let _ = core.host.set_attribute("data-compose-kind", kind.as_str());
        if let Some(id) = compose::compose_id(&root) {
            let _ = core.host.set_attribute("data-compose-id", &id);
        }
        let bar = Rc::new(ComposeBar {
            draft_id: RefCell::new(compose::draft_id(&root)),
            root,
            kind: Cell::new(kind),
            core,
            track_on_send: Cell::new(None),
        });
        BarCore::listen(&bar);
        bar.place();
        bar.refresh_recipients();
        bar.render();
        bar
    }

    fn place(&self) {
        let host = &self.core.host;
        match COMPOSE_BAR_SLOT.first_or_report(&self.root) {
            Some(slot) => {
                if let Some(parent) = slot.parent_node() {
                    let _ = parent.insert_before(host, slot.next_sibling().as_ref());
                }
            }
            None => {
                let form = self.root.query_selector("form").ok().flatten();
                let _ = form.as_ref().unwrap_or(&self.root).append_child(host);
            }
        }
    }

    pub fn host(&self) -> &Element {
        &self.core.host
    }

    /// Records where the window is now; true when that changed.
    pub fn set_kind(&self, kind: ComposeKind) -> bool {
        if self.kind.replace(kind) == kind {
            return false;
        }
        let _ = self
            .core
            .host
            .set_attribute("data-compose-kind", kind.as_str());
        true
    }

    pub fn people(&self) -> std::cell::Ref<'_, Vec<Person>> {
        self.core.people.borrow()
    }

    /// Re-reads the recipients and the draft id; true when the recipients changed.
    pub fn refresh_recipients(&self) -> bool {
        self.refresh_draft_id();
        let fresh = compose::recipients(&self.root);
        let changed = *self.core.people.borrow() != fresh;
        if changed {
            *self.core.people.borrow_mut() = fresh;
        }
        changed
    }

    /// Re-reads the draft id. Gmail writes it into the form when it first saves the draft:
    /// an attribute change, which no scan is woken by.
    fn refresh_draft_id(&self) -> Option<String> {
        let id = compose::draft_id(&self.root);
        *self.draft_id.borrow_mut() = id.clone();
        id
    }

    pub fn render(&self) {
        self.core.render_parties();
        let actions = &self.core.actions;
        clear(actions);
        // A never-logged recipient: nothing is tracked on send, and the bar says why.
        let privacy = self.core.privacy();
        let blocked = matches!(privacy, Privacy::NeverLogged(_));
        let toggle = h("input")
            .attr("type", "checkbox")
            .attr("data-tl", "track-on-send")
            .attr_if(self.track_on_send() && !blocked, "checked", "")
            .attr_if(blocked, "disabled", "")
            .build();
        let label = h("label")
            .class("toggle")
            .child(toggle)
            .child(h("span").text(&t("trackOnSend")));
        let _ = actions.append_child(&label.build());
        if let Some(note) = privacy.note() {
            let _ = actions.append_child(&note);
        }
    }

    /// Track on send for this mail: the user's choice in this bar, else the option (which
    /// can arrive from the background after the bar was made: load_status renders again).
    pub fn track_on_send(&self) -> bool {
        self.track_on_send
            .get()
            .unwrap_or_else(|| crate::app::app().track_on_send_default())
    }

    /// The tracking request for this compose as it is now, or None when nothing is to be
    /// tracked (toggle off, no draft id, no picked contact).
    pub fn send_request(&self, own_address: Option<&str>) -> Option<(String, TrackEmailRequest)> {
        let draft_id = self.refresh_draft_id()?;
        if !self.track_on_send() || matches!(self.core.privacy(), Privacy::NeverLogged(_)) {
            return None;
        }
        let picked = self.core.picked();
        if picked.is_empty() {
            return None;
        }
        let people = self.core.people.borrow();
        let party = |p: &Person| Party {
            address: p.address.clone(),
            name: p.name.clone(),
        };
        let request = TrackEmailRequest {
            gmail_message_id: draft_id.clone(),
            alt_message_ids: Vec::new(),
            gmail_thread_id: compose::thread_id(&self.root),
            rfc_message_id: None,
            direction: Direction::Outgoing,
            from: own_address.map(|a| Party {
                address: a.to_string(),
                name: None,
            }),
            to: people
                .iter()
                .filter(|p| p.role == Role::To)
                .map(party)
                .collect(),
            cc: people
                .iter()
                .filter(|p| matches!(p.role, Role::Cc | Role::Bcc))
                .map(party)
                .collect(),
            subject: compose::subject(&self.root),
            sent_at: None,
            body_text: compose::body_text(&self.root),
            contact_ids: picked.iter().map(|c| c.id).collect(),
            html_body: None,
            visibility: None,
            insist: false,
        };
        Some((draft_id, request))
    }

    /// True while the compose window is on the page with the same draft.
    pub fn still_open(&self, draft_id: &str) -> bool {
        self.root.is_connected() && compose::draft_id(&self.root).as_deref() == Some(draft_id)
    }
}
