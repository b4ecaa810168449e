//! The messages this content script exchanges with the background service worker
//! (extension/background.js). Field names are camelCase as in JavaScript; the server's
//! wire types from `threadline_domain::api` travel inside them unchanged.

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use threadline_domain::api::{
    AddressLookup, MessageIds, NewContact, NewTask, TimelineLink, TrackEmailRequest, UserRef,
};

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ToBackground<'a> {
    Status,
    Lookup {
        addresses: &'a [String],
    },
    TrackedState {
        messages: &'a [MessageIds],
    },
    #[serde(rename_all = "camelCase")]
    ContactCard {
        contact_id: &'a str,
    },
    Track {
        request: &'a TrackEmailRequest,
    },
    CreateTask {
        request: &'a NewTask,
    },
    CreateContact {
        request: &'a NewContact,
    },
    #[serde(rename_all = "camelCase")]
    ScheduleSendTracking {
        key: &'a str,
        deliver_after_ms: u32,
        request: &'a TrackEmailRequest,
    },
    CancelSendTracking {
        key: &'a str,
    },
    #[serde(rename_all = "camelCase")]
    ConfirmSendTracking {
        key: &'a str,
        alt_message_ids: &'a [String],
    },
    SearchContacts {
        q: &'a str,
    },
    Flush,
    ReportError {
        message: &'a str,
        detail: &'a str,
    },
}

/// What the core needs of the background's `status` (it sends more).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    #[serde(default)]
    pub user: Option<UserRef>,
    #[serde(default = "yes")]
    pub track_on_send_default: bool,
    #[serde(default = "ten")]
    pub send_undo_seconds: u32,
}

/// Until the background answers: the options page's defaults.
impl Default for Status {
    fn default() -> Self {
        Status {
            user: None,
            track_on_send_default: yes(),
            send_undo_seconds: ten(),
        }
    }
}

fn yes() -> bool {
    true
}
fn ten() -> u32 {
    10
}

/// `searchContacts`: the contacts list's items, read as summaries.
#[derive(Debug, Deserialize)]
pub struct ContactSearchReply {
    pub contacts: Vec<threadline_domain::api::ContactSummary>,
}

#[derive(Debug, Deserialize)]
pub struct LookupReply {
    pub results: Vec<AddressLookup>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingAction {
    pub kind: String,
    #[serde(default)]
    pub message_ids: Vec<String>,
}

/// A tracked email (`threadline_domain::api::TrackedEmail`) as the bar reads it: only the
/// fields it uses, so that the bundle holds no decoder of the others (dates, direction).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Tracked {
    pub message_ids: Vec<String>,
    pub links: Vec<TimelineLink>,
    #[serde(default)]
    pub owner: Option<UserRef>,
    #[serde(default)]
    pub redacted: bool,
    /// Its page in the web app, as the server sent it (checked before it is a link).
    #[serde(default)]
    pub web_url: Option<String>,
}

/// A message's state (`threadline_domain::api::MessageState`) as the bar reads it: its
/// tracked email, and how many tasks were made from it (the tasks themselves are not read).
#[derive(Debug, Deserialize)]
pub struct BarState {
    #[serde(default)]
    pub tracked_email: Option<Tracked>,
    #[serde(default)]
    pub tasks: Vec<IgnoredAny>,
}

/// The answer of `track` (`threadline_domain::api::TrackEmailResponse`), as the bar reads it.
#[derive(Debug, Deserialize)]
pub struct TrackReply {
    pub tracked_email: Tracked,
}

#[derive(Debug, Deserialize)]
pub struct TrackedStateReply {
    pub messages: Vec<BarState>,
    #[serde(default)]
    pub pending: Vec<PendingAction>,
}

/// The answer to an action: delivered now (with the server's response) or queued until
/// the server is reachable. Read by [`crate::bridge::request_action`].
#[derive(Debug)]
pub enum ActionReply<T> {
    Done { result: T },
    Queued,
}

/// A push from the background: what became of a tracked message's whole source
/// (`{type: "sourceStatus", messageIds, stored, text}`).
#[derive(Debug)]
pub struct SourceStatus {
    pub message_ids: Vec<String>,
    /// A sentence for people, localised by the background.
    pub text: String,
    /// True once the server has it; false while it is awaited.
    pub stored: bool,
}

impl SourceStatus {
    /// Read field by field: a serde derive for three fields costs more bundle than this.
    pub fn from_js(msg: &wasm_bindgen::JsValue) -> Option<SourceStatus> {
        let get = |k: &str| js_sys::Reflect::get(msg, &k.into()).ok();
        let ids: js_sys::Array = wasm_bindgen::JsCast::dyn_into(get("messageIds")?).ok()?;
        Some(SourceStatus {
            message_ids: ids.iter().filter_map(|v| v.as_string()).collect(),
            text: get("text")?.as_string()?,
            stored: get("stored")?.as_bool()?,
        })
    }
}

/// A push from the background: a queued action was delivered.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueDelivered {
    pub key: String,
    pub kind: String,
    #[serde(default)]
    pub message_ids: Vec<String>,
}
