//! What the message bar and the compose bar share: a shadow host, the people with their
//! verdicts and the user's picks, a status line, a panel for the add-contact form, and one
//! delegated listener per event type.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use gloo::events::{EventListener, EventListenerOptions, EventListenerPhase};
use threadline_domain::api::{AddressLookup, ContactSummary};
use threadline_domain::matching::{track_stance, TrackStance};
use uuid::Uuid;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlInputElement, ShadowRoot};

use super::dom::{clear, focus, h};
use super::{forms, parties, shadow_host};
use crate::app::{app, error_text};
use crate::bridge::{t, BridgeError};
use crate::gmail::Person;
use crate::protocol::ActionReply;

/// The privacy rules' say on a bar's email.
#[derive(Debug, Clone, PartialEq)]
pub enum Privacy {
    Open,
    /// Never tracked: the sentence says who and by which rule.
    NeverLogged(String),
    /// Only the user and colleagues: tracked only when the user insists.
    OnlyColleagues,
}

impl Privacy {
    /// The notice a bar shows, if any.
    pub fn notice(&self) -> Option<String> {
        match self {
            Privacy::Open => None,
            Privacy::NeverLogged(sentence) => Some(sentence.clone()),
            Privacy::OnlyColleagues => Some(t("privacyOnlyColleagues")),
        }
    }

    /// The notice as an element of the bar's actions (`span[data-tl-privacy]`).
    pub fn note(&self) -> Option<Element> {
        self.notice().map(|notice| {
            h("span")
                .class("privacy")
                .attr("data-tl-privacy", self.code())
                .attr("role", "note")
                .text(&notice)
                .build()
        })
    }

    pub fn code(&self) -> &'static str {
        match self {
            Privacy::Open => "open",
            Privacy::NeverLogged(_) => "never_log",
            Privacy::OnlyColleagues => "only_colleagues",
        }
    }
}

/// Something that owns a [`BarCore`] and reacts to its actions.
pub trait BarOwner: 'static {
    fn core(&self) -> &BarCore;
    /// A `data-tl` action that the core did not handle.
    fn on_action(self: Rc<Self>, action: &str, el: &Element);
    /// A form inside the bar was submitted (`data-tl` of the form).
    fn on_submit(self: Rc<Self>, form: &str, el: &Element);
}

pub struct BarCore {
    pub host: Element,
    pub shadow: ShadowRoot,
    pub container: Element,
    pub parties_slot: Element,
    pub actions: Element,
    pub status: Element,
    pub panel: Element,
    pub people: RefCell<Vec<Person>>,
    pub picks: RefCell<parties::Picks>,
    /// The address whose add-contact form is open.
    pub adding: RefCell<Option<String>>,
    listeners: RefCell<Vec<EventListener>>,
}

impl BarCore {
    pub fn new(kind: &str, compact: bool) -> BarCore {
        let super::Shell {
            host,
            shadow,
            container,
            parts: [parties_slot, actions, status, panel],
        } = shadow_host(kind);
        if compact {
            container.set_class_name("bar compact");
        }
        BarCore {
            host,
            shadow,
            container,
            parties_slot,
            actions,
            status,
            panel,
            people: RefCell::new(Vec::new()),
            picks: RefCell::new(parties::Picks::default()),
            adding: RefCell::new(None),
            listeners: RefCell::new(Vec::new()),
        }
    }

    /// Routes clicks, submits and picks inside the shadow root to `owner`; keeps key
    /// presses typed into the bar's inputs away from Gmail's keyboard shortcuts.
    pub fn listen<O: BarOwner>(owner: &Rc<O>) {
        let core = owner.core();
        let target: &web_sys::EventTarget = core.shadow.as_ref();
        let weak: Weak<O> = Rc::downgrade(owner);
        let click = EventListener::new(target, "click", move |event| {
            let Some(owner) = weak.upgrade() else { return };
            let Some((el, action)) = super::action_target(event) else {
                return;
            };
            match action.as_str() {
                // Submit buttons are handled by the form's submit event.
                "submit-contact" | "submit-task" | "submit-insist-search" => {}
                "pick" => owner.core().on_pick(&el),
                "add-contact" => {
                    BarCore::open_add_contact(&owner, el.get_attribute("data-address"))
                }
                "cancel" => owner.core().close_panel(),
                _ => owner.on_action(&action, &el),
            }
        });
        let weak: Weak<O> = Rc::downgrade(owner);
        let options = EventListenerOptions {
            phase: EventListenerPhase::Bubble,
            passive: false,
        };
        let submit = EventListener::new_with_options(target, "submit", options, move |event| {
            event.prevent_default();
            let Some(owner) = weak.upgrade() else { return };
            let Some(form) = event.target().and_then(|t| t.dyn_into::<Element>().ok()) else {
                return;
            };
            let kind = form.get_attribute("data-tl").unwrap_or_default();
            if kind == "contact-form" {
                BarCore::submit_contact(&owner, &form);
            } else {
                owner.on_submit(&kind, &form);
            }
        });
        super::keep_keys_inside(target);
        *core.listeners.borrow_mut() = vec![click, submit];
    }

    fn on_pick(&self, el: &Element) {
        let Some(id) = el
            .get_attribute("data-contact-id")
            .and_then(|s| Uuid::parse_str(&s).ok())
        else {
            return;
        };
        let checked = el
            .dyn_ref::<HtmlInputElement>()
            .map(|i| i.checked())
            .unwrap_or(false);
        self.picks.borrow_mut().set(id, checked);
    }

    /// Re-renders the people from the app's verdict cache; returns true when every person
    /// has a verdict.
    pub fn render_parties(&self) -> bool {
        let app = app();
        let people = self.people.borrow();
        let (list, complete) = app.with_verdicts(|verdict| {
            let list = parties::render(&people, verdict, &self.picks.borrow());
            let complete = people.iter().all(|p| verdict(&p.address).is_some());
            (list, complete)
        });
        clear(&self.parties_slot);
        let _ = self.parties_slot.append_child(&list);
        let state = if complete {
            "ready"
        } else if app.lookup_error().is_some() {
            "error"
        } else {
            "loading"
        };
        let _ = self.container.set_attribute("data-state", state);
        let lookup_error_shown =
            self.status.get_attribute("data-source").as_deref() == Some("lookup");
        if state == "error" {
            if let Some(e) = app.lookup_error() {
                self.show_error(&e, "lookup");
            }
        } else if lookup_error_shown {
            self.set_status("", "info");
        }
        complete
    }

    pub fn picked(&self) -> Vec<ContactSummary> {
        let people = self.people.borrow();
        app().with_verdicts(|verdict| self.picks.borrow().picked(&people, verdict))
    }

    /// What the privacy rules say of this email, from the people's verdicts (the same rule
    /// the server applies: `matching::track_stance`).
    pub fn privacy(&self) -> Privacy {
        let people = self.people.borrow();
        app().with_verdicts(|verdict| {
            let verdicts: Vec<Option<&AddressLookup>> =
                people.iter().map(|p| verdict(&p.address)).collect();
            match track_stance(&verdicts) {
                TrackStance::Open => Privacy::Open,
                TrackStance::NeverLogged { address, reason } => {
                    Privacy::NeverLogged(parties::never_log_sentence(address, reason))
                }
                TrackStance::OnlyColleagues => Privacy::OnlyColleagues,
            }
        })
    }

    pub fn verdict(&self, address: &str) -> Option<AddressLookup> {
        app().with_verdicts(|verdict| verdict(address).cloned())
    }

    pub fn set_status(&self, text: &str, kind: &str) {
        self.status.set_text_content(Some(text));
        let _ = self.status.set_attribute("data-kind", kind);
        let _ = self.status.remove_attribute("data-source");
        let _ = self.status.remove_attribute("data-code");
    }

    /// Shows an action's failure (a clear sentence, never a silent failure).
    pub fn set_error(&self, e: &BridgeError) {
        self.show_error(e, "action");
    }

    fn show_error(&self, e: &BridgeError, source: &str) {
        self.status.set_text_content(Some(&error_text(e)));
        let _ = self.status.set_attribute("data-kind", "error");
        let _ = self.status.set_attribute("data-code", &e.code);
        let _ = self.status.set_attribute("data-source", source);
        // The server names the field at fault (e.g. `emails[0]`); tests and styles read it.
        match &e.field {
            Some(field) => {
                let _ = self.status.set_attribute("data-field", field);
            }
            None => {
                let _ = self.status.remove_attribute("data-field");
            }
        }
    }

    pub fn open_panel(&self, content: Element) {
        clear(&self.panel);
        let _ = self.panel.append_child(&content);
        if let Ok(Some(first)) = content.query_selector("input") {
            focus(&first);
        }
    }

    pub fn close_panel(&self) {
        clear(&self.panel);
        *self.adding.borrow_mut() = None;
    }

    fn open_add_contact<O: BarOwner>(owner: &Rc<O>, address: Option<String>) {
        let core = owner.core();
        let Some(address) = address else { return };
        let person = core
            .people
            .borrow()
            .iter()
            .find(|p| p.address == address)
            .cloned();
        let Some(person) = person else { return };
        let verdict = core.verdict(&address);
        core.open_panel(forms::contact_form(&person, verdict.as_ref()));
        *core.adding.borrow_mut() = Some(address);
    }

    fn submit_contact<O: BarOwner>(owner: &Rc<O>, form: &Element) {
        let core = owner.core();
        let address = core.adding.borrow().clone();
        let verdict = address.as_deref().and_then(|a| core.verdict(a));
        let request = match forms::read_contact_form(form, verdict.as_ref()) {
            Ok(r) => r,
            Err(message) => {
                core.set_status(&message, "error");
                return;
            }
        };
        core.set_status(&t("saving"), "info");
        let owner = owner.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let reply = app().create_contact(&request).await;
            let core = owner.core();
            match reply {
                Ok(ActionReply::Done { .. }) => {
                    core.close_panel();
                    core.set_status(&t("contactAdded"), "info");
                }
                Ok(ActionReply::Queued) => {
                    core.close_panel();
                    core.set_status(&t("contactQueued"), "pending");
                }
                Err(e) => core.set_error(&e),
            }
        });
    }
}
