//! The bar under an expanded incoming (or sent) message: who is on it and whether they are
//! in the CRM; Track, Convert to task, Add contact.

use std::cell::RefCell;
use std::rc::Rc;

use threadline_domain::api::{Direction, MatchStatus, Party, TrackEmailRequest};
use threadline_domain::card::safe_web_url;
use threadline_domain::message::{task_title_from_subject, MessageIdentity};
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlInputElement};

use super::bar::{BarCore, BarOwner, Privacy};
use super::dom::{button, clear, from_template, h, input_value, open_link, Part};
use super::{forms, parties};
use crate::app::app;
use crate::bridge::{t, t_with};
use crate::gmail::{thread, Person, Role};
use crate::protocol::{ActionReply, BarState, Tracked};

#[derive(Debug, Clone, PartialEq)]
pub enum TrackState {
    /// Not asked the server yet.
    Unknown,
    NotTracked,
    Tracked(Tracked),
    /// Queued in the background until the server is reachable.
    Pending,
}

pub struct MessageBar {
    pub id: u32,
    /// The `.adn` element the bar decorates.
    pub message: Element,
    core: BarCore,
    pub identity: RefCell<MessageIdentity>,
    /// The thread's subject and id, read from the page when first needed (an action, the
    /// panel's first bar): not while a thread of 100 bars is being decorated.
    thread: std::cell::OnceCell<(String, Option<String>)>,
    track: RefCell<TrackState>,
    /// Tasks made from the message.
    tasks: std::cell::Cell<usize>,
    busy: std::cell::Cell<bool>,
}

impl BarOwner for MessageBar {
    fn core(&self) -> &BarCore {
        &self.core
    }

    fn on_action(self: Rc<Self>, action: &str, _el: &Element) {
        match action {
            "track" => self.track(),
            "task" => {
                let title = task_title_from_subject(self.subject());
                self.core.open_panel(forms::task_form(&title));
            }
            "track-anyway" => self.core.open_panel(forms::insist_form()),
            "track-insisted" => self.track_insisted(),
            _ => {}
        }
    }

    fn on_submit(self: Rc<Self>, form: &str, el: &Element) {
        match form {
            "task-form" => self.submit_task(el),
            "insist-form" => self.search_contacts(el),
            _ => {}
        }
    }
}

impl MessageBar {
    pub fn new(id: u32, message: Element, identity: MessageIdentity) -> Rc<MessageBar> {
        let core = BarCore::new("message-bar", false);
        let _ = core
            .host
            .set_attribute("data-message-id", &identity.primary);
        let _ = core.host.set_attribute("data-tl-bar-id", &id.to_string());
        *core.people.borrow_mut() = thread::people(&message);
        let bar = Rc::new(MessageBar {
            id,
            message,
            core,
            identity: RefCell::new(identity),
            thread: std::cell::OnceCell::new(),
            track: RefCell::new(TrackState::Unknown),
            tasks: std::cell::Cell::new(0),
            busy: std::cell::Cell::new(false),
        });
        BarCore::listen(&bar);
        // Built whole before it enters the page: one insertion into the document, not one
        // per part.
        bar.render();
        thread::insert_bar(&bar.message, &bar.core.host);
        bar
    }

    pub fn host(&self) -> &Element {
        &self.core.host
    }

    /// The thread the message is in, when the page says.
    pub fn thread_id(&self) -> Option<&str> {
        self.thread().1.as_deref()
    }

    fn thread(&self) -> &(String, Option<String>) {
        self.thread.get_or_init(|| thread::thread_of(&self.message))
    }

    fn subject(&self) -> &str {
        &self.thread().0
    }

    pub fn people(&self) -> std::cell::Ref<'_, Vec<Person>> {
        self.core.people.borrow()
    }

    /// Re-reads the message's ids; true when they changed (a sent message got its id).
    pub fn refresh_identity(&self) -> bool {
        // Keep the ids the message had: a sent reply is known to the server by its
        // `msg-a:r…` id until the bar adds the legacy id Gmail shows later.
        let merged = thread::identity(&self.message).map(|mut fresh| {
            for id in &self.identity.borrow().all {
                if !fresh.all.contains(id) {
                    fresh.all.push(id.clone());
                }
            }
            fresh
        });
        match merged {
            Some(fresh) if fresh != *self.identity.borrow() => {
                let _ = self
                    .core
                    .host
                    .set_attribute("data-message-id", &fresh.primary);
                *self.identity.borrow_mut() = fresh;
                true
            }
            _ => false,
        }
    }

    pub fn render(&self) {
        self.core.render_parties();
        self.render_actions();
    }

    fn render_actions(&self) {
        let actions = &self.core.actions;
        clear(actions);
        let track = self.track.borrow();
        // The privacy rules, unless the email is tracked already (then it says by whom).
        let privacy = match &*track {
            TrackState::Tracked(_) => Privacy::Open,
            _ => self.core.privacy(),
        };
        let usual = matches!(*track, TrackState::Unknown | TrackState::NotTracked)
            && !self.busy.get()
            && privacy == Privacy::Open;
        let track_button = if usual {
            // Most bars: a copy of the plain Track button.
            from_template(Part::Track, || {
                button("track", &t("actionTrack"))
                    .attr("data-tracked", "false")
                    .build()
            })
        } else {
            self.track_button(&track, &privacy)
        };
        let _ = actions.append_child(&track_button);
        // Its page in the web app, when the server gave one.
        if let TrackState::Tracked(email) = &*track {
            if let Some(url) = safe_web_url(email.web_url.as_deref()) {
                let _ = actions.append_child(&open_link(&url, "open"));
            }
        }
        if let Some(note) = privacy.note() {
            let _ = actions.append_child(&note);
        }
        let task_button = from_template(Part::Task, || {
            button("task", &t("actionConvertToTask"))
                .attr("data-tasks", "0")
                .build()
        });
        let tasks = self.tasks.get();
        if tasks > 0 {
            let _ = task_button.set_attribute("data-tasks", &tasks.to_string());
        }
        let _ = actions.append_child(&task_button);
    }

    /// The Track button for a tracked, pending, busy or privacy-ruled email.
    fn track_button(&self, track: &TrackState, privacy: &Privacy) -> Element {
        let (label, state) = match track {
            TrackState::Tracked(_) => (t("actionTracked"), "true"),
            TrackState::Pending => (t("actionTrackPendingShort"), "pending"),
            TrackState::Unknown | TrackState::NotTracked => (t("actionTrack"), "false"),
        };
        let disabled = self.busy.get() || *track == TrackState::Pending;
        let track_button = button("track", &label)
            .attr("data-tracked", state)
            .attr_if(disabled, "disabled", "");
        let track_button = match track {
            TrackState::Tracked(email) => track_button.attr("title", &tracked_to(email)),
            TrackState::Pending => track_button.attr("title", &t("actionTrackPending")),
            _ => track_button,
        };
        match privacy {
            Privacy::Open => track_button,
            Privacy::NeverLogged(sentence) => track_button
                .attr("disabled", "")
                .attr("title", sentence)
                .attr("data-privacy", privacy.code()),
            Privacy::OnlyColleagues => button("track-anyway", &t("actionTrackAnyway"))
                .attr("data-tracked", state)
                .attr("data-privacy", privacy.code())
                .attr_if(disabled, "disabled", ""),
        }
        .build()
    }

    /// Applies the server's state for this message (tracked or not, tasks made from it).
    pub fn apply_state(&self, state: BarState) {
        let track = match state.tracked_email {
            Some(email) => TrackState::Tracked(email),
            None => TrackState::NotTracked,
        };
        // "Not tracked, no tasks" looks exactly like a new bar: no re-render for it.
        let unchanged = matches!(
            (&*self.track.borrow(), &track),
            (
                TrackState::Unknown | TrackState::NotTracked,
                TrackState::NotTracked
            )
        ) && self.tasks.get() == 0
            && state.tasks.is_empty();
        *self.track.borrow_mut() = track;
        self.tasks.set(state.tasks.len());
        if !unchanged {
            self.render_actions();
        }
    }

    /// A note from the background about this message (its whole source stored, or still
    /// awaited and why).
    pub fn show_note(&self, text: &str, kind: &str) {
        self.core.set_status(text, kind);
    }

    pub fn set_pending(&self) {
        *self.track.borrow_mut() = TrackState::Pending;
        self.render_actions();
    }

    pub fn track_state(&self) -> TrackState {
        self.track.borrow().clone()
    }

    pub fn tracked_email(&self) -> Option<Tracked> {
        match &*self.track.borrow() {
            TrackState::Tracked(e) => Some(e.clone()),
            _ => None,
        }
    }

    fn build_track_request(&self, contact_ids: Vec<uuid::Uuid>) -> TrackEmailRequest {
        let identity = self.identity.borrow();
        let people = self.core.people.borrow();
        let from = people.iter().find(|p| p.role == Role::From);
        let outgoing = from
            .and_then(|p| self.core.verdict(&p.address))
            .is_some_and(|v| v.status == MatchStatus::Own);
        let party = |p: &Person| Party {
            address: p.address.clone(),
            name: p.name.clone(),
        };
        TrackEmailRequest {
            gmail_message_id: identity.primary.clone(),
            alt_message_ids: identity
                .all
                .iter()
                .filter(|i| **i != identity.primary)
                .cloned()
                .collect(),
            gmail_thread_id: self.thread_id().map(str::to_string),
            rfc_message_id: None,
            direction: if outgoing {
                Direction::Outgoing
            } else {
                Direction::Incoming
            },
            from: from.map(party),
            to: people
                .iter()
                .filter(|p| p.role != Role::From)
                .map(party)
                .collect(),
            cc: Vec::new(),
            subject: self.subject().to_string(),
            sent_at: None,
            body_text: thread::body_text(&self.message),
            contact_ids,
            html_body: None,
            visibility: None,
            insist: false,
        }
    }

    fn track(self: Rc<Self>) {
        if self.busy.get() {
            return;
        }
        let picked = self.core.picked();
        if picked.is_empty() {
            self.core.set_status(&t("errorNoContactPicked"), "error");
            return;
        }
        let request = self.build_track_request(picked.iter().map(|c| c.id).collect());
        self.send_track(request);
    }

    /// "Track anyway…": an email only between colleagues, logged on the contacts the user
    /// ticked in the search.
    fn track_insisted(self: Rc<Self>) {
        if self.busy.get() {
            return;
        }
        let ids: Vec<uuid::Uuid> = self
            .core
            .panel
            .query_selector_all("input[data-tl=pick]")
            .map(|list| {
                (0..list.length())
                    .filter_map(|i| list.get(i))
                    .filter_map(|n| n.dyn_into::<HtmlInputElement>().ok())
                    .filter(|i| i.checked())
                    .filter_map(|i| i.get_attribute("data-contact-id"))
                    .filter_map(|id| uuid::Uuid::parse_str(&id).ok())
                    .collect()
            })
            .unwrap_or_default();
        if ids.is_empty() {
            self.core.set_status(&t("errorNoContactPicked"), "error");
            return;
        }
        let mut request = self.build_track_request(ids);
        request.insist = true;
        self.core.close_panel();
        self.send_track(request);
    }

    fn search_contacts(self: Rc<Self>, form: &Element) {
        let q = input_value(form, "[data-tl-field=q]").trim().to_string();
        if q.is_empty() {
            return;
        }
        let Ok(Some(results)) = form.query_selector("[data-tl-results]") else {
            return;
        };
        let bar = self.clone();
        let form = form.clone();
        wasm_bindgen_futures::spawn_local(async move {
            match app().search_contacts(&q).await {
                Ok(found) => {
                    clear(&results);
                    if found.is_empty() {
                        let _ = results
                            .append_child(&h("p").class("empty").text(&t("insistNoMatch")).build());
                    }
                    for c in &found {
                        let _ = results.append_child(&parties::contact_pick(c, false));
                    }
                    if let Ok(Some(track)) = form.query_selector("[data-tl=track-insisted]") {
                        let _ = if found.is_empty() {
                            track.set_attribute("disabled", "")
                        } else {
                            track.remove_attribute("disabled")
                        };
                    }
                }
                Err(e) => bar.core.set_error(&e),
            }
        });
    }

    fn send_track(self: Rc<Self>, request: TrackEmailRequest) {
        self.busy.set(true);
        self.render_actions();
        let bar = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let reply = app().track(&request).await;
            bar.busy.set(false);
            match reply {
                Ok(ActionReply::Done { result }) => {
                    bar.core
                        .set_status(&tracked_to(&result.tracked_email), "info");
                    *bar.track.borrow_mut() = TrackState::Tracked(result.tracked_email);
                }
                Ok(ActionReply::Queued) => {
                    *bar.track.borrow_mut() = TrackState::Pending;
                    bar.core.set_status(&t("actionTrackPending"), "pending");
                }
                Err(e) => {
                    bar.core.set_error(&e);
                    // The rules changed since the verdicts came: ask again, and the bar
                    // says who is the reason.
                    if e.is_privacy_refusal() {
                        app().invalidate_verdicts();
                    }
                }
            }
            bar.render_actions();
        });
    }

    /// Adds an id the page learnt later (a sent message's legacy id) to the tracked email.
    pub fn add_alias_if_needed(self: Rc<Self>) {
        let Some(email) = self.tracked_email() else {
            return;
        };
        let identity = self.identity.borrow().clone();
        if identity.is_local || email.message_ids.contains(&identity.primary) {
            return;
        }
        let contact_ids: Vec<uuid::Uuid> = email
            .links
            .iter()
            .filter(|l| l.record_kind == threadline_domain::api::RecordKind::Contact)
            .map(|l| l.record_id)
            .collect();
        if contact_ids.is_empty() {
            return;
        }
        let request = self.build_track_request(contact_ids);
        let bar = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Ok(ActionReply::Done { result }) = app().track(&request).await {
                *bar.track.borrow_mut() = TrackState::Tracked(result.tracked_email);
                bar.render_actions();
            }
        });
    }

    fn submit_task(self: Rc<Self>, form: &Element) {
        let (title, due) = match forms::read_task_form(form) {
            Ok(v) => v,
            Err(message) => {
                self.core.set_status(&message, "error");
                return;
            }
        };
        let identity = self.identity.borrow().clone();
        let contact = self.core.picked().first().map(|c| c.id);
        let request = forms::new_task(
            title,
            due,
            Some(identity.primary),
            self.thread_id().map(str::to_string),
            contact,
        );
        self.core.set_status(&t("saving"), "info");
        let bar = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            match app().create_task(&request).await {
                Ok(ActionReply::Done { .. }) => {
                    bar.core.close_panel();
                    bar.core.set_status(&t("taskCreated"), "info");
                    bar.tasks.set(bar.tasks.get() + 1);
                    bar.render_actions();
                }
                Ok(ActionReply::Queued) => {
                    bar.core.close_panel();
                    bar.core.set_status(&t("taskQueued"), "pending");
                }
                Err(e) => bar.core.set_error(&e),
            }
        });
    }
}

fn tracked_to(email: &Tracked) -> String {
    if email.redacted {
        // A colleague's private email: that it is tracked, and by whom; not where.
        let owner = email
            .owner
            .as_ref()
            .map(|o| o.name.as_str())
            .unwrap_or_default();
        return t_with("trackedPrivatelyBy", &[owner]);
    }
    let names: Vec<&str> = email.links.iter().map(|l| l.record_name.as_str()).collect();
    t_with("trackedTo", &[&names.join(", ")])
}
