//! The messages this content script exchanges with the background service worker
//! (extension/background.js). Field names are camelCase as in JavaScript; the server's
//! wire types from `threadline_domain::api` travel inside them unchanged.

use serde::{Deserialize, Serialize};
use threadline_domain::api::{
    AddressLookup, MessageIds, MessageState, NewContact, NewTask, TrackEmailRequest, UserRef,
};

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ToBackground<'a> {
    Status,
    Lookup { addresses: &'a [String] },
    TrackedState { messages: &'a [MessageIds] },
    Track { request: &'a TrackEmailRequest },
    CreateTask { request: &'a NewTask },
    CreateContact { request: &'a NewContact },
    #[serde(rename_all = "camelCase")]
    ScheduleSendTracking { key: &'a str, deliver_after_ms: u32, request: &'a TrackEmailRequest },
    CancelSendTracking { key: &'a str },
    #[serde(rename_all = "camelCase")]
    ConfirmSendTracking { key: &'a str, alt_message_ids: &'a [String] },
    Flush,
    ReportError { message: &'a str, detail: &'a str },
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    #[serde(default)]
    pub configured: bool,
    #[serde(default)]
    pub user: Option<UserRef>,
    #[serde(default)]
    pub own_addresses: Vec<String>,
    #[serde(default = "yes")]
    pub track_on_send_default: bool,
    #[serde(default = "ten")]
    pub send_undo_seconds: u32,
    #[serde(default)]
    pub error: Option<crate::bridge::BridgeError>,
}

fn yes() -> bool {
    true
}
fn ten() -> u32 {
    10
}

#[derive(Debug, Deserialize)]
pub struct LookupReply {
    pub results: Vec<AddressLookup>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingAction {
    pub key: String,
    pub kind: String,
    #[serde(default)]
    pub message_ids: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct TrackedStateReply {
    pub messages: Vec<MessageState>,
    #[serde(default)]
    pub pending: Vec<PendingAction>,
}

/// The answer to an action: delivered now (with the server's response) or queued until
/// the server is reachable.
#[derive(Debug)]
pub enum ActionReply<T> {
    Done { result: T },
    Queued { key: String },
}

/// The wire form of [`ActionReply`]: a plain struct, because serde's internally tagged
/// enums buffer their input generically, which costs bundle size for every `T`.
#[derive(Deserialize)]
struct ActionReplyWire<T> {
    status: String,
    #[serde(default = "Option::default")]
    result: Option<T>,
    #[serde(default)]
    key: Option<String>,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ActionReply<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let wire = ActionReplyWire::<T>::deserialize(d)?;
        match (wire.status.as_str(), wire.result, wire.key) {
            ("done", Some(result), _) => Ok(ActionReply::Done { result }),
            ("queued", _, Some(key)) => Ok(ActionReply::Queued { key }),
            (status, _, _) => Err(D::Error::custom(format!("unexpected action status {status:?}"))),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct CancelReply {
    #[serde(default)]
    pub cancelled: bool,
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
