//! Capturing a message's raw source for the background: the background asks
//! (`captureSource { requestId, legacyId }`), this fetches Gmail's "Download original" from
//! the page's own origin with the user's session, and streams the bytes to the background over
//! a runtime Port, piece by piece, letting the page run between pieces: a 27 MB message never
//! blocks Gmail's main thread for long (the pieces' size is `gmail::original::MAX_PIECE_BYTES`).
//! The bytes never enter WebAssembly memory: each piece stays a JS `Uint8Array` and is
//! base64-encoded by the browser (`Uint8Array.prototype.toBase64`), since runtime messages
//! are JSON in Chromium.
//!
//! Port `threadline-source`, content script → background, in order:
//! `{type:"begin", requestId}`, `{type:"chunk", requestId, seq, data}` (base64),
//! `{type:"end", requestId, chunks, bytes}`, or instead of chunks/end
//! `{type:"fail", requestId, code, detail}` with `code` one of `signed_out`, `http`,
//! `network`, `bad_id`, `unsupported`.

use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::bridge::js_error_text;
use crate::gmail::original::{self, PiecePlan, Step, MAX_PIECE_BYTES};

#[wasm_bindgen]
extern "C" {
    type Port;

    #[wasm_bindgen(js_namespace = ["chrome", "runtime"], js_name = connect, catch)]
    fn runtime_connect(info: &JsValue) -> Result<Port, JsValue>;

    #[wasm_bindgen(method, js_name = postMessage, catch)]
    fn post_message(this: &Port, message: &JsValue) -> Result<(), JsValue>;

    #[wasm_bindgen(method)]
    fn disconnect(this: &Port);

    /// The content script's `fetch`. Chromium makes its requests as the page (same origin:
    /// they carry the page's cookies); Firefox as the extension, with the host permission
    /// for Gmail: so the URL is absolute and credentials are `include` (measured in Firefox
    /// ESR 153: with `same-origin` no cookie was sent and Gmail asked to sign in). Bound here with a plain init object rather than through `web_sys`'s request
    /// types: fewer imports, a smaller bundle.
    #[wasm_bindgen(js_name = fetch)]
    fn fetch_with(url: &str, init: &JsValue) -> js_sys::Promise;

    /// A `Uint8Array`, for its `toBase64` (Chromium 140+, Firefox 133+) called with `catch`.
    #[wasm_bindgen(extends = Uint8Array, js_name = Uint8Array)]
    type Bytes;

    #[wasm_bindgen(method, js_name = toBase64, catch)]
    fn to_base64(this: &Bytes) -> Result<js_sys::JsString, JsValue>;
}

const PORT_NAME: &str = "threadline-source";

struct Failure {
    code: &'static str,
    detail: String,
}

fn fail(code: &'static str, detail: impl Into<String>) -> Failure {
    Failure {
        code,
        detail: detail.into(),
    }
}

fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let obj = Object::new();
    for (k, v) in fields {
        let _ = Reflect::set(&obj, &(*k).into(), v);
    }
    obj.into()
}

fn message(kind: &str, request_id: &str, fields: &[(&str, JsValue)]) -> JsValue {
    let obj = object(fields);
    let _ = Reflect::set(&obj, &"type".into(), &kind.into());
    let _ = Reflect::set(&obj, &"requestId".into(), &request_id.into());
    obj
}

/// Handles the background's `captureSource` push.
pub fn on_capture_request(msg: &JsValue) {
    let get = |k: &str| {
        Reflect::get(msg, &k.into())
            .ok()
            .and_then(|v| v.as_string())
    };
    let (Some(request_id), Some(legacy_id)) = (get("requestId"), get("legacyId")) else {
        return;
    };
    wasm_bindgen_futures::spawn_local(async move {
        capture(request_id, legacy_id).await;
    });
}

async fn capture(request_id: String, legacy_id: String) {
    let Ok(port) = runtime_connect(&object(&[("name", PORT_NAME.into())])) else {
        return; // The extension was reloaded under the page: nobody to hand the bytes to.
    };
    let _ = port.post_message(&message("begin", &request_id, &[]));
    if let Err(f) = stream(&port, &request_id, &legacy_id).await {
        let _ = port.post_message(&message(
            "fail",
            &request_id,
            &[("code", f.code.into()), ("detail", f.detail.into())],
        ));
    }
    port.disconnect();
}

async fn stream(port: &Port, request_id: &str, legacy_id: &str) -> Result<(), Failure> {
    let window = web_sys::window().ok_or_else(|| fail("unsupported", "no window"))?;
    let document = window
        .document()
        .ok_or_else(|| fail("unsupported", "no document"))?;
    let pathname = window.location().pathname().unwrap_or_default();
    let ik = original::page_ik(&document);
    let path = original::original_source_path(
        &original::account_base(&pathname),
        ik.as_deref(),
        legacy_id,
    )
    .ok_or_else(|| fail("bad_id", "not a Gmail message id"))?;

    // A signed-out session is redirected to the sign-in page: seen as such, not followed.
    let path = format!("{}{path}", window.location().origin().unwrap_or_default());
    let init = object(&[
        ("credentials", "include".into()),
        ("redirect", "manual".into()),
        ("cache", "no-store".into()),
    ]);
    let response = JsFuture::from(fetch_with(&path, &init))
        .await
        .map_err(|e| fail("network", js_error_text(&e)))?;
    let field = |k: &str| Reflect::get(&response, &k.into()).unwrap_or(JsValue::UNDEFINED);
    if field("type").as_string().as_deref() == Some("opaqueredirect") {
        return Err(fail("signed_out", "Gmail asked to sign in"));
    }
    if !field("ok").is_truthy() {
        let status = field("status").as_f64().unwrap_or(0.0);
        return Err(fail("http", format!("HTTP {status}")));
    }
    // Not `dyn_into`: in Firefox the stream and its chunks belong to the content script's
    // own compartment, where an `instanceof` against the page's constructors is false
    // (measured in Firefox ESR 153: every capture failed here).
    let body = field("body");
    if !body.is_object() {
        return Err(fail("http", "an empty answer"));
    }
    let reader: web_sys::ReadableStreamDefaultReader = body
        .unchecked_into::<web_sys::ReadableStream>()
        .get_reader()
        .unchecked_into();

    let mut plan = PiecePlan::new(MAX_PIECE_BYTES);
    let piece = Uint8Array::new_with_length(MAX_PIECE_BYTES as u32);
    let mut filled: u32 = 0;
    let mut seq: u32 = 0;
    let mut total: f64 = 0.0;
    loop {
        let result = JsFuture::from(reader.read())
            .await
            .map_err(|e| fail("network", js_error_text(&e)))?;
        let done = Reflect::get(&result, &"done".into())
            .map(|v| v.is_truthy())
            .unwrap_or(true);
        let (chunk, steps) = if done {
            (
                Uint8Array::new_with_length(0),
                plan.on_end().into_iter().collect(),
            )
        } else {
            let value = Reflect::get(&result, &"value".into()).unwrap_or(JsValue::UNDEFINED);
            if !value.is_object() {
                return Err(fail("network", "a read without bytes"));
            }
            let chunk: Uint8Array = value.unchecked_into();
            total += f64::from(chunk.length());
            let steps = plan.on_read(chunk.length() as usize);
            (chunk, steps)
        };
        for step in steps {
            match step {
                Step::Append { start, end } => {
                    piece.set(&chunk.subarray(start as u32, end as u32), filled);
                    filled += (end - start) as u32;
                }
                Step::Flush => {
                    let data = piece
                        .subarray(0, filled)
                        .unchecked_into::<Bytes>()
                        .to_base64()
                        .map_err(|e| fail("unsupported", js_error_text(&e)))?;
                    port.post_message(&message(
                        "chunk",
                        request_id,
                        &[("seq", seq.into()), ("data", data.into())],
                    ))
                    .map_err(|e| fail("network", js_error_text(&e)))?;
                    seq += 1;
                    filled = 0;
                    yield_to_page().await;
                }
            }
        }
        if done {
            break;
        }
    }
    port.post_message(&message(
        "end",
        request_id,
        &[("chunks", seq.into()), ("bytes", total.into())],
    ))
    .map_err(|e| fail("network", js_error_text(&e)))?;
    Ok(())
}

/// Lets the page's other tasks run (a macrotask boundary: reads that resolve at once are
/// microtasks, which would otherwise chain into one long task).
async fn yield_to_page() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback(&resolve);
        }
    });
    let _ = JsFuture::from(promise).await;
}
