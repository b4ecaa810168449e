//! The only door to the extension APIs: messages to the background service worker, which
//! alone talks to the server and holds the token; i18n strings; and messages the
//! background pushes to this tab.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::protocol::ActionReply;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = ["chrome", "runtime"], js_name = sendMessage, catch)]
    fn send_message_raw(message: &JsValue) -> Result<js_sys::Promise, JsValue>;

    #[wasm_bindgen(js_namespace = ["chrome", "i18n"], js_name = getMessage, catch)]
    fn get_message_raw(key: &str, substitutions: &JsValue) -> Result<String, JsValue>;

    #[wasm_bindgen(js_namespace = ["chrome", "runtime", "onMessage"], js_name = addListener, catch)]
    fn add_on_message_listener(listener: &Closure<dyn FnMut(JsValue)>) -> Result<(), JsValue>;
}

/// A failure as the background reports it (`{ok:false, error:{code, message, field}}`), or
/// a transport failure (the extension was reloaded under the page, for example).
#[derive(Debug, Clone, Deserialize)]
pub struct BridgeError {
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub field: Option<String>,
    /// The server's own code of a refusal (`never_log`, `only_colleagues`, …).
    #[serde(default, rename = "serverCode")]
    pub server_code: Option<String>,
}

impl BridgeError {
    /// The server refused to track the email under the privacy rules.
    pub fn is_privacy_refusal(&self) -> bool {
        matches!(
            self.server_code.as_deref(),
            Some("never_log" | "only_colleagues")
        )
    }

    fn transport(detail: String) -> Self {
        BridgeError {
            code: "extension_unavailable".into(),
            message: format!(
                "Threadline's background service is unavailable ({detail}). Reload the page."
            ),
            field: None,
            server_code: None,
        }
    }
}

/// A message as a plain JS object, through JSON text (as [`decode`] reads answers): smaller
/// in the bundle than serde-wasm-bindgen's serializer.
fn to_js<T: Serialize>(message: &T) -> Result<JsValue, String> {
    let text = serde_json::to_string(message).map_err(|e| e.to_string())?;
    js_sys::JSON::parse(&text).map_err(|e| js_error_text(&e))
}

/// Sends `message` to the background and decodes its `data`.
pub async fn request<Req: Serialize, Resp: DeserializeOwned>(
    message: &Req,
) -> Result<Resp, BridgeError> {
    let data = request_value(message).await?;
    decode(&data).map_err(BridgeError::transport)
}

/// Sends `message` to the background; its `data` as the background sent it (`{ok: true,
/// data}`), or its error (`{ok: false, error}`).
pub async fn request_value<Req: Serialize>(message: &Req) -> Result<JsValue, BridgeError> {
    let value = to_js(message).map_err(BridgeError::transport)?;
    let promise =
        send_message_raw(&value).map_err(|e| BridgeError::transport(js_error_text(&e)))?;
    let reply = JsFuture::from(promise)
        .await
        .map_err(|e| BridgeError::transport(js_error_text(&e)))?;
    if reply.is_undefined() || reply.is_null() {
        return Err(BridgeError::transport("no answer".into()));
    }
    let field = |key: &str| js_sys::Reflect::get(&reply, &JsValue::from_str(key));
    let data = field("data").unwrap_or(JsValue::UNDEFINED);
    match field("ok").ok().and_then(|ok| ok.as_bool()) {
        Some(true) if !data.is_undefined() && !data.is_null() => Ok(data),
        Some(false) => Err(field("error")
            .ok()
            .and_then(|e| decode::<BridgeError>(&e).ok())
            .unwrap_or_else(|| BridgeError::transport("malformed answer".into()))),
        _ => Err(BridgeError::transport("malformed answer".into())),
    }
}

/// Sends an action (`track`, `createTask`, `createContact`) and reads its answer,
/// `{status: "done", result}` or `{status: "queued", key}`, through the JS object: only the
/// result's own decoder is in the bundle, none of a wrapper per result type (measured:
/// 2 kB of code for each of the three).
pub async fn request_action<Req: Serialize, T: DeserializeOwned>(
    message: &Req,
) -> Result<ActionReply<T>, BridgeError> {
    let data = request_value(message).await?;
    let field = |key: &str| {
        js_sys::Reflect::get(&data, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
    };
    match field("status").as_string().as_deref() {
        Some("done") => decode(&field("result"))
            .map(|result| ActionReply::Done { result })
            .map_err(BridgeError::transport),
        Some("queued") if field("key").is_string() => Ok(ActionReply::Queued),
        status => Err(BridgeError::transport(format!(
            "unexpected action status {status:?}"
        ))),
    }
}

/// Fire-and-forget message (flush, error reports).
pub fn notify<Req: Serialize>(message: &Req) {
    if let Ok(value) = to_js(message) {
        if let Ok(promise) = send_message_raw(&value) {
            // Await and drop a rejection: nothing to do about it, and it must not surface
            // as an unhandled rejection on the page.
            wasm_bindgen_futures::spawn_local(async move {
                let _ = JsFuture::from(promise).await;
            });
        }
    }
}

thread_local! {
    /// The strings `t` has fetched: a thread of 100 bars asks for the same few hundreds of
    /// times.
    static STRINGS: RefCell<HashMap<String, String>> = RefCell::new(HashMap::new());
}

/// A localised UI string; falls back to the key so a missing translation is visible but
/// harmless.
pub fn t(key: &str) -> String {
    if let Some(s) = STRINGS.with(|m| m.borrow().get(key).cloned()) {
        return s;
    }
    let s = t_with(key, &[]);
    STRINGS.with(|m| m.borrow_mut().insert(key.to_string(), s.clone()));
    s
}

pub fn t_with(key: &str, substitutions: &[&str]) -> String {
    let subs = js_sys::Array::new();
    for s in substitutions {
        subs.push(&JsValue::from_str(s));
    }
    match get_message_raw(key, &subs) {
        Ok(s) if !s.is_empty() => s,
        _ => key.to_string(),
    }
}

/// The language the extension's strings are shown in (`en`, `nl`, `de`: the locale file's
/// own `panelDateLocale`), so that dates read in the same language as the words around
/// them. Not `@@ui_locale`, which can name another locale than the messages' (measured:
/// Chromium with `LANGUAGE=de` shows German messages and says `en_US`).
pub fn ui_language() -> String {
    t("panelDateLocale")
}

/// Calls `handler` with every message the background pushes to this tab.
pub fn on_background_message(mut handler: impl FnMut(JsValue) + 'static) {
    let closure = Closure::<dyn FnMut(JsValue)>::new(move |msg: JsValue| handler(msg));
    if add_on_message_listener(&closure).is_ok() {
        closure.forget();
    }
}

/// Decodes a message from the background. Through JSON text rather than
/// serde-wasm-bindgen's deserializer: that one costs ~60 kB of the bundle (measured with
/// twiggy), against a few kB for serde_json, and the messages are small.
pub fn decode<T: DeserializeOwned>(value: &JsValue) -> Result<T, String> {
    let text = js_sys::JSON::stringify(value).map_err(|e| js_error_text(&e))?;
    let text = String::from(text);
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

pub fn js_error_text(value: &JsValue) -> String {
    if let Some(e) = value.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    value.as_string().unwrap_or_else(|| "unknown error".into())
}
