//! The contact panel: the card of a contact matched on the opened thread, beside the thread
//! in Gmail's side column ([`PANEL_SIDE`]) where there is one, else a collapsible section
//! under the thread's first bar. What it shows and which contact are
//! `threadline_domain::card`'s; this adapter places one Shadow DOM host, asks the background
//! for cards, and builds them with DOM calls only.
//!
//! No flash: the card on screen stays until the next one is ready, then is replaced in one
//! synchronous step (no empty or loading state in between), also across threads — the host
//! moves into the new thread with its card. Cards are cached by the background.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use gloo::events::EventListener;
use threadline_domain::api::{
    AddressLookup, CardDocument, CardEmail, CardPhone, CardTask, CompanyRef, ContactCard,
    ContactSummary, Direction, UserRef,
};
use threadline_domain::card::{self, CardView};
use uuid::Uuid;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CssStyleSheet, Element, ShadowRoot, ShadowRootInit, ShadowRootMode};

use super::dom::{button, clear, document, h, open_link};
use super::message_bar::MessageBar;
use crate::app::{app, error_text};
use crate::bridge::{self, t, t_with, BridgeError};
use crate::protocol::ToBackground;
use crate::selectors::{BAR_BEFORE, PANEL_SIDE, THREAD_ROOT};

const STYLE: &str = include_str!(concat!(env!("OUT_DIR"), "/panel.css"));
const BODY_ID: &str = "tl-card-body";
/// The message bars' hosts (`MessageBar`), in page order.
const BAR_HOSTS: &str = "[data-threadline=message-bar]";

pub struct Panel {
    host: Element,
    /// `data-state`: `ready` or `error`; `data-contact-id`: the contact shown.
    root: Element,
    toggle: Element,
    switcher: Element,
    status: Element,
    body: Element,
    /// The user's open/closed choice; until then open beside the thread, closed under a bar.
    expanded: Cell<Option<bool>>,
    /// The contact whose card is on screen, and the one asked for.
    shown: Cell<Option<Uuid>>,
    wanted: Cell<Option<Uuid>>,
    thread: RefCell<Option<String>>,
    candidates: RefCell<Vec<ContactSummary>>,
    listeners: RefCell<Vec<EventListener>>,
}

impl Panel {
    pub fn new() -> Rc<Panel> {
        let host = h("div")
            .class("threadline-host")
            .attr("data-threadline", "contact-panel")
            .build();
        let shadow = host
            .attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))
            .expect("attachShadow on a div");
        style(&shadow);
        let toggle = button("panel-toggle", "")
            .class("toggle")
            .attr("aria-expanded", "false")
            .attr("aria-controls", BODY_ID)
            .attr("title", &t("panelToggle"))
            .build();
        let switcher = h("div")
            .class("switch")
            .attr("role", "group")
            .attr("aria-label", &t("panelSwitch"))
            .attr("hidden", "")
            .build();
        let status = h("p").class("status").attr("role", "status").build();
        let body = h("div")
            .class("body")
            .attr("id", BODY_ID)
            .attr("hidden", "")
            .build();
        let head = h("div")
            .class("head")
            .child(h("span").class("brand").text(&t("barTitle")))
            .child(&toggle)
            .child(&switcher);
        let root = h("section")
            .class("card")
            .attr("data-tl", "contact-panel")
            .attr("aria-label", &t("barTitle"))
            .child(head)
            .child(&status)
            .child(&body)
            .build();
        let _ = shadow.append_child(&root);
        let panel = Rc::new(Panel {
            host,
            root,
            toggle,
            switcher,
            status,
            body,
            expanded: Cell::new(None),
            shown: Cell::new(None),
            wanted: Cell::new(None),
            thread: RefCell::new(None),
            candidates: RefCell::new(Vec::new()),
            listeners: RefCell::new(Vec::new()),
        });
        panel.listen(&shadow);
        panel
    }

    fn listen(self: &Rc<Self>, shadow: &ShadowRoot) {
        let target: &web_sys::EventTarget = shadow.as_ref();
        let weak: Weak<Panel> = Rc::downgrade(self);
        let click = EventListener::new(target, "click", move |event| {
            let Some(panel) = weak.upgrade() else { return };
            let Some((el, action)) = super::action_target(event) else {
                return;
            };
            match action.as_str() {
                "panel-toggle" => {
                    let open = !panel.is_expanded();
                    panel.expanded.set(Some(open));
                    panel.show_expanded(open);
                }
                "panel-pick" => {
                    let id = el
                        .get_attribute("data-contact-id")
                        .and_then(|s| Uuid::parse_str(&s).ok());
                    if let Some(id) = id {
                        panel.request(id);
                    }
                }
                _ => {}
            }
        });
        let listeners = vec![click];
        // Keys pressed in the panel are not Gmail's shortcuts.
        super::keep_keys_inside(target);
        *self.listeners.borrow_mut() = listeners;
    }

    fn is_expanded(&self) -> bool {
        self.expanded
            .get()
            .unwrap_or_else(|| self.host.get_attribute("data-place").as_deref() == Some("side"))
    }

    fn show_expanded(&self, open: bool) {
        let _ = self
            .toggle
            .set_attribute("aria-expanded", if open { "true" } else { "false" });
        let _ = self.body.toggle_attribute_with_force("hidden", !open);
    }

    /// Follows the page: the thread's matched contacts (from the live bars, in page order,
    /// and the verdicts cached now), which one to show, and where the panel goes.
    pub fn sync(self: &Rc<Self>, bars: &[Rc<MessageBar>]) {
        // Page order: the bars' hosts as the document holds them (`bars` are in id order).
        let mut live: Vec<&Rc<MessageBar>> = Vec::with_capacity(bars.len());
        if let Ok(hosts) = document().query_selector_all(BAR_HOSTS) {
            for i in 0..hosts.length() {
                let id = hosts
                    .item(i)
                    .and_then(|n| n.dyn_into::<Element>().ok())
                    .and_then(|host| host.get_attribute("data-tl-bar-id"))
                    .and_then(|id| id.parse::<u32>().ok());
                let bar = id
                    .and_then(|id| bars.binary_search_by_key(&id, |b| b.id).ok())
                    .map(|at| &bars[at]);
                if let Some(bar) = bar.filter(|b| b.message.is_connected()) {
                    live.push(bar);
                }
            }
        }
        let Some(first) = live.first() else {
            return; // no thread open: the host left with the thread's page, or waits
        };
        let (candidates, complete) = app().with_verdicts(|verdict| {
            let mut found: Vec<&AddressLookup> = Vec::new();
            let mut complete = true;
            for bar in &live {
                for p in bar.people().iter() {
                    match verdict(&p.address) {
                        Some(v) => found.push(v),
                        None => complete = false,
                    }
                }
            }
            (card::candidates(found), complete)
        });
        let thread = first.thread_id().map(str::to_string);
        let same_thread = *self.thread.borrow() == thread;
        *self.thread.borrow_mut() = thread;
        if candidates.is_empty() {
            if complete {
                self.hide();
            } else if self.shown.get().is_some() {
                self.place(first.host()); // the previous card stays until the verdicts are in
            }
            return;
        }
        let current = if same_thread {
            self.wanted.get().or(self.shown.get())
        } else {
            None
        };
        let target = card::choose(&candidates, current);
        let changed = *self.candidates.borrow() != candidates;
        *self.candidates.borrow_mut() = candidates;
        if self.shown.get().is_some() {
            self.place(first.host());
            if changed {
                self.render_switcher();
            }
        }
        if let Some(id) = target {
            if self.wanted.get() != Some(id) && self.shown.get() != Some(id) {
                self.request(id);
            }
        }
    }

    /// Asks for the card shown again (an action may have changed it); it replaces the one on
    /// screen when it comes.
    pub fn refresh(self: &Rc<Self>) {
        if let Some(id) = self.wanted.get().or(self.shown.get()) {
            self.request(id);
        }
    }

    fn request(self: &Rc<Self>, id: Uuid) {
        self.wanted.set(Some(id));
        let panel = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let key = id.to_string();
            let reply = bridge::request_value(&ToBackground::ContactCard { contact_id: &key })
                .await
                .and_then(|data| {
                    decode_card(&data).ok_or_else(|| BridgeError {
                        code: "server_error".into(),
                        message: String::new(),
                        field: None,
                        server_code: None,
                    })
                });
            if panel.wanted.get() != Some(id) {
                return; // another contact was asked for since
            }
            match reply {
                Ok(card) => panel.render(&card),
                Err(e) => {
                    panel.wanted.set(panel.shown.get());
                    if panel.shown.get().is_some() {
                        panel.status.set_text_content(Some(&error_text(&e)));
                        let _ = panel.root.set_attribute("data-state", "error");
                    }
                    web_sys::console::warn_1(
                        &format!("Threadline: contact card unavailable: {}", e.message).into(),
                    );
                }
            }
        });
    }

    /// Puts `card` on screen in one step, and the panel in the thread.
    fn render(self: &Rc<Self>, card: &ContactCard) {
        let view = card::view(card);
        let id = card.contact.id;
        clear(&self.toggle);
        let _ = self
            .toggle
            .append_child(&h("span").class("name").text(&view.name).build());
        if let Some(sub) = &view.subtitle {
            let _ = self
                .toggle
                .append_child(&h("span").class("sub").text(sub).build());
        }
        clear(&self.body);
        for section in body_sections(&view) {
            let _ = self.body.append_child(&section);
        }
        self.status.set_text_content(None);
        let _ = self.root.set_attribute("data-state", "ready");
        let _ = self.root.set_attribute("data-contact-id", &id.to_string());
        let first_show = self.shown.get().is_none();
        self.shown.set(Some(id));
        self.wanted.set(Some(id));
        self.render_switcher();
        if first_show || !self.host.is_connected() {
            self.sync(&app().live_bars());
        }
    }

    /// One button per matched contact when there are several (`aria-pressed` on the shown one).
    fn render_switcher(&self) {
        // A keyboard user who switched keeps the focus on the contact they picked.
        let had_focus = self
            .host
            .shadow_root()
            .and_then(|root| root.active_element())
            .is_some_and(|el| self.switcher.contains(Some(&el)));
        clear(&self.switcher);
        let candidates = self.candidates.borrow();
        let _ = self
            .switcher
            .toggle_attribute_with_force("hidden", candidates.len() < 2);
        if candidates.len() < 2 {
            return;
        }
        let shown = self.shown.get();
        for c in candidates.iter() {
            let pressed = Some(c.id) == shown;
            let b = button("panel-pick", &card::shorten(&c.display_name(), 40))
                .attr("data-contact-id", &c.id.to_string())
                .attr("aria-pressed", if pressed { "true" } else { "false" })
                .attr("title", &c.primary_email);
            let b = b.build();
            let _ = self.switcher.append_child(&b);
            if pressed && had_focus {
                super::dom::focus(&b);
            }
        }
    }

    /// In Gmail's side column of the thread when it has one, else right under the first bar
    /// (and under the spacer that follows it).
    fn place(&self, first_bar: &Element) {
        let side = THREAD_ROOT
            .closest(first_bar)
            .and_then(|root| PANEL_SIDE.first(&root));
        let (place, placed) = match &side {
            Some(side) => (
                "side",
                self.host.parent_element().as_ref() == Some(side)
                    || side.append_child(&self.host).is_ok(),
            ),
            None => {
                // After the bar, and after Gmail's spacer when it follows the bar.
                let anchor = first_bar
                    .next_element_sibling()
                    .filter(|e| BAR_BEFORE.matches(e) && e != &self.host)
                    .unwrap_or_else(|| first_bar.clone());
                let placed = self
                    .host
                    .previous_element_sibling()
                    .is_some_and(|e| e == anchor);
                (
                    "section",
                    placed || anchor.after_with_node_1(&self.host).is_ok(),
                )
            }
        };
        if placed && self.host.get_attribute("data-place").as_deref() != Some(place) {
            let _ = self.host.set_attribute("data-place", place);
        }
        self.show_expanded(self.is_expanded());
    }

    /// No contact on this thread: the panel goes, and so does its card (the next thread's
    /// card is shown once it is ready).
    fn hide(&self) {
        self.host.remove();
        self.shown.set(None);
        self.wanted.set(None);
        self.candidates.borrow_mut().clear();
        let _ = self.root.remove_attribute("data-contact-id");
    }
}

fn style(shadow: &ShadowRoot) {
    let sheet = CssStyleSheet::new()
        .ok()
        .filter(|sheet| sheet.replace_sync(STYLE).is_ok());
    let adopted = sheet.is_some_and(|sheet| {
        shadow.set_adopted_style_sheets(&js_sys::Array::of1(&sheet));
        shadow.adopted_style_sheets().length() == 1
    });
    if !adopted {
        let _ = shadow.append_child(&h("style").text(STYLE).build());
    }
}

/// The card's details: phones, last emails, open tasks, documents, and "Open in Threadline"
/// when the web app has a page for the contact (the server sends none yet: the hook waits).
fn body_sections(view: &CardView) -> Vec<Element> {
    let lang = bridge::ui_language();
    let mut out = Vec::new();
    if !view.phones.is_empty() {
        out.push(heading(&t("panelPhones")));
        out.push(list(view.phones.iter().map(|p| vec![text("span", "", p)])));
    }
    out.push(heading(&t("panelEmails")));
    if view.emails.is_empty() {
        out.push(text("p", "muted", &t("panelNoEmails")));
    } else {
        out.push(list(view.emails.iter().map(|e| {
            let date = format_date(&lang, e.date.timestamp_millis() as f64, false);
            let dir = t(if e.outgoing {
                "panelSent"
            } else {
                "panelReceived"
            });
            let what = match (&e.subject, &e.tracked_by) {
                (Some(subject), _) => text("span", "subject", subject),
                (None, by) => text(
                    "span",
                    "subject muted",
                    &t_with("trackedPrivatelyBy", &[by.as_deref().unwrap_or_default()]),
                ),
            };
            vec![text("span", "date", &date), text("span", "dir", &dir), what]
        })));
        if view.more_emails {
            out.push(text("p", "muted", &t("panelMoreEmails")));
        }
    }
    out.push(heading(&t("panelTasks")));
    if view.tasks.is_empty() {
        out.push(text("p", "muted", &t("panelNoTasks")));
    } else {
        out.push(list(view.tasks.iter().map(|task| {
            let mut row = vec![text("span", "title", &task.title)];
            if let Some(due) = task.due_date {
                let ms = js_sys::Date::utc(
                    f64::from(chrono::Datelike::year(&due)),
                    f64::from(chrono::Datelike::month0(&due)),
                );
                let ms = ms + f64::from(chrono::Datelike::day0(&due)) * 86_400_000.0;
                let when = format_date(&lang, ms, true);
                row.push(text("span", "due", &t_with("panelDue", &[&when])));
            }
            row
        })));
        if view.more_tasks > 0 {
            out.push(text(
                "p",
                "muted",
                &t_with("panelMoreTasks", &[&view.more_tasks.to_string()]),
            ));
        }
    }
    out.push(heading(&t_with(
        "panelDocuments",
        &[&view.document_count.to_string()],
    )));
    if view.documents.is_empty() {
        out.push(text("p", "muted", &t("panelNoDocuments")));
    } else {
        out.push(list(
            view.documents.iter().map(|d| vec![text("span", "doc", d)]),
        ));
    }
    if let Some(url) = &view.web_url {
        out.push(open_link(url, "panel-open"));
    }
    out
}

fn heading(label: &str) -> Element {
    h("h3").text(label).build()
}

/// An element holding `value` as text (never markup), with its whole text as tooltip.
fn text(tag: &str, class: &str, value: &str) -> Element {
    h(tag).class(class).attr("title", value).text(value).build()
}

fn list(rows: impl Iterator<Item = Vec<Element>>) -> Element {
    let ul = h("ul").build();
    for cells in rows {
        let li = h("li").build();
        for cell in cells {
            let _ = li.append_child(&cell);
        }
        let _ = ul.append_child(&li);
    }
    ul
}

/// A date in the extension's language (`utc`: a calendar date, not a moment).
fn format_date(lang: &str, ms: f64, utc: bool) -> String {
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"dateStyle".into(), &"medium".into());
    if utc {
        let _ = js_sys::Reflect::set(&options, &"timeZone".into(), &"UTC".into());
    }
    let date = js_sys::Date::new(&JsValue::from_f64(ms));
    let shown = date.to_locale_date_string(lang, &options);
    String::from(shown)
}

// --- Decoding ----------------------------------------------------------------------------
//
// The card is read field by field from the background's answer rather than through serde:
// serde_json's code for these structs cost ~11 kB of the bundle (gzip, measured), these
// few readers about one. Dates and ids go through the same parsers serde uses.

fn field(value: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(value, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn text_of(value: &JsValue, key: &str) -> Option<String> {
    field(value, key).as_string()
}

fn id_of(value: &JsValue) -> Option<Uuid> {
    Uuid::parse_str(&text_of(value, "id")?).ok()
}

fn count_of(value: &JsValue, key: &str) -> u32 {
    field(value, key)
        .as_f64()
        .map_or(0, |n| n.clamp(0.0, f64::from(u32::MAX)) as u32)
}

/// The items of the array `key` that `read` understands.
fn items<T>(value: &JsValue, key: &str, read: impl Fn(&JsValue) -> Option<T>) -> Vec<T> {
    let list = field(value, key);
    if !js_sys::Array::is_array(&list) {
        return Vec::new();
    }
    js_sys::Array::from(&list)
        .iter()
        .filter_map(|v| read(&v))
        .collect()
}

fn decode_card(data: &JsValue) -> Option<ContactCard> {
    let c = field(data, "contact");
    let company = field(&c, "company");
    let contact = ContactSummary {
        id: id_of(&c)?,
        first_name: text_of(&c, "first_name").unwrap_or_default(),
        last_name: text_of(&c, "last_name").unwrap_or_default(),
        primary_email: text_of(&c, "primary_email").unwrap_or_default(),
        company: id_of(&company).map(|id| CompanyRef {
            id,
            name: text_of(&company, "name").unwrap_or_default(),
        }),
    };
    Some(ContactCard {
        contact,
        job_title: text_of(data, "job_title"),
        phones: items(data, "phones", |p| {
            Some(CardPhone {
                number: text_of(p, "number")?,
                label: text_of(p, "label"),
            })
        }),
        emails: items(data, "emails", |e| {
            let owner = field(e, "owner");
            Some(CardEmail {
                id: id_of(e)?,
                direction: if text_of(e, "direction").as_deref() == Some("outgoing") {
                    Direction::Outgoing
                } else {
                    Direction::Incoming
                },
                date: threadline_domain::date::parse_rfc3339(&text_of(e, "date")?)?,
                subject: text_of(e, "subject").unwrap_or_default(),
                owner: UserRef {
                    id: id_of(&owner).unwrap_or_default(),
                    name: text_of(&owner, "name").unwrap_or_default(),
                    email: text_of(&owner, "email").unwrap_or_default(),
                },
                redacted: field(e, "redacted").as_bool() == Some(true),
            })
        }),
        more_emails: field(data, "more_emails").as_bool() == Some(true),
        open_tasks: items(data, "open_tasks", |t| {
            Some(CardTask {
                id: id_of(t)?,
                title: text_of(t, "title")?,
                due_date: text_of(t, "due_date")
                    .and_then(|d| threadline_domain::date::parse_ymd(&d)),
            })
        }),
        open_task_count: count_of(data, "open_task_count"),
        document_count: count_of(data, "document_count"),
        documents: items(data, "documents", |d| {
            Some(CardDocument {
                id: id_of(d)?,
                name: text_of(d, "name")?,
            })
        }),
        web_url: text_of(data, "web_url"),
    })
}
