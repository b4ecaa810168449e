//! How a call's arguments arrive, and how a result leaves in a header.
//!
//! - RPC routes: a JSON body with `Content-Type: application/json` (or `application/json;
//!   charset=utf-8`, or `text/plain; charset=dropbox-cors-hack`); a route whose argument is
//!   `Void` takes no body at all or `null`.
//! - Content routes (upload, upload sessions, download): the argument is JSON in the
//!   `Dropbox-API-Arg` header (or the `arg` URL parameter), which must be "HTTP header safe":
//!   the character 0x7F and every non-ASCII character written as `\uXXXX` (Dropbox's "JSON
//!   encoding" reference). A header with a raw non-ASCII byte is refused as Dropbox refuses it,
//!   400 `HTTP header "Dropbox-API-Arg": could not decode input as JSON` (the text reported by
//!   dropbox/dropbox-sdk-js#86 and transloadit/uppy#1370). Uploads carry
//!   `Content-Type: application/octet-stream`.
//! - Downloads answer their result in the `Dropbox-API-Result` header, escaped the same way.
//!
//! A malformed call is a 400 in plain text, `Error in call to API function "<route>": …`.
//! Unknown fields are ignored (forward compatibility, as the SDKs' own decoders do); a
//! missing required field or a wrong type is refused.

use axum::http::{header, HeaderMap};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::tree::Mode;
use super::DropboxError;

const RPC_TYPES: &[&str] = &[
    "application/json",
    "application/json; charset=utf-8",
    "text/plain; charset=dropbox-cors-hack",
];

const UPLOAD_TYPES: &[&str] = &[
    "application/octet-stream",
    "text/plain; charset=dropbox-cors-hack",
];

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("?"))
}

fn bad_content_type(function: &str, given: &str, expected: &[&str]) -> DropboxError {
    let expected: Vec<String> = expected.iter().map(|t| format!("{t:?}")).collect();
    DropboxError::bad_input(
        function,
        &format!(
            "Bad HTTP \"Content-Type\" header: {given:?}.  Expecting one of {}.",
            expected.join(", ")
        ),
    )
}

fn decode<T: DeserializeOwned>(
    function: &str,
    source: &str,
    json: &[u8],
) -> Result<T, DropboxError> {
    let value: Value = serde_json::from_slice(json).map_err(|_| {
        DropboxError::bad_input(
            function,
            &format!("{source}: could not decode input as JSON"),
        )
    })?;
    serde_json::from_value(value)
        .map_err(|e| DropboxError::bad_input(function, &format!("{source}: {e}")))
}

/// An RPC route's argument from its body.
pub(crate) fn rpc_arg<T: DeserializeOwned>(
    function: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, DropboxError> {
    match content_type(headers) {
        // A `Void` argument: no body, no type.
        None if body.is_empty() => return decode(function, "request body", b"null"),
        Some(t) if RPC_TYPES.iter().any(|ok| t.eq_ignore_ascii_case(ok)) => {}
        given => {
            return Err(bad_content_type(
                function,
                given.unwrap_or_default(),
                RPC_TYPES,
            ))
        }
    }
    decode(function, "request body", body)
}

/// A content route's argument, from `Dropbox-API-Arg` (or the `arg` URL parameter).
pub(crate) fn header_arg<T: DeserializeOwned>(
    function: &str,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<T, DropboxError> {
    const SOURCE: &str = "HTTP header \"Dropbox-API-Arg\"";
    if let Some(value) = headers.get("dropbox-api-arg") {
        let bytes = value.as_bytes();
        if bytes.iter().any(|&b| b >= 0x7f) {
            return Err(DropboxError::bad_input(
                function,
                &format!("{SOURCE}: could not decode input as JSON"),
            ));
        }
        return decode(function, SOURCE, bytes);
    }
    let arg = crate::util::query_pairs(query)
        .into_iter()
        .find(|(k, _)| k == "arg")
        .map(|(_, v)| v);
    match arg {
        Some(arg) => decode(function, "URL parameter \"arg\"", arg.as_bytes()),
        None => Err(DropboxError::bad_input(
            function,
            "Must provide HTTP header \"Dropbox-API-Arg\" or URL parameter \"arg\".",
        )),
    }
}

/// An upload's body must be declared as bytes.
pub(crate) fn check_upload_type(function: &str, headers: &HeaderMap) -> Result<(), DropboxError> {
    match content_type(headers) {
        Some(t) if UPLOAD_TYPES.iter().any(|ok| t.eq_ignore_ascii_case(ok)) => Ok(()),
        given => Err(bad_content_type(
            function,
            given.unwrap_or_default(),
            UPLOAD_TYPES,
        )),
    }
}

/// JSON made "HTTP header safe": 0x7F and every non-ASCII character as `\uXXXX` (UTF-16
/// surrogate pairs beyond the BMP).
pub fn header_safe_json(value: &Value) -> String {
    let json = value.to_string();
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if (c as u32) < 0x7f {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// `WriteMode` as an argument: a void member may be a bare string (`"add"`) or an object
/// (`{".tag": "add"}`); `update` carries the rev (`{".tag": "update", "update": "…"}`).
impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Mode, D::Error> {
        use serde::de::Error;
        let value = Value::deserialize(d)?;
        let tag = match &value {
            Value::String(tag) => tag.as_str(),
            Value::Object(o) => o
                .get(".tag")
                .and_then(Value::as_str)
                .ok_or_else(|| D::Error::custom("mode: missing \".tag\""))?,
            _ => return Err(D::Error::custom("mode: expected a union")),
        };
        match tag {
            "add" => Ok(Mode::Add),
            "overwrite" => Ok(Mode::Overwrite),
            "update" => {
                let rev = value
                    .get("update")
                    .and_then(Value::as_str)
                    .ok_or_else(|| D::Error::custom("mode: update: missing the rev"))?;
                let valid = rev.len() >= 9 && rev.bytes().all(|b| b.is_ascii_hexdigit());
                if !valid {
                    return Err(D::Error::custom(format!(
                        "mode: update: '{rev}' did not match pattern '[0-9a-f]+' of at least 9 characters"
                    )));
                }
                Ok(Mode::Update(rev.to_string()))
            }
            other => Err(D::Error::custom(format!("mode: unknown tag '{other}'"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn header_safe_json_escapes_everything_from_0x7f() {
        assert_eq!(
            header_safe_json(&json!({"path": "/Café/\u{7f}/😀"})),
            r#"{"path":"/Caf\u00e9/\u007f/\ud83d\ude00"}"#
        );
        assert_eq!(header_safe_json(&json!({"a": "b"})), r#"{"a":"b"}"#);
    }

    #[test]
    fn write_modes_as_strings_or_unions() {
        let mode = |v: Value| serde_json::from_value::<Mode>(v).map_err(|e| e.to_string());
        assert_eq!(mode(json!("add")), Ok(Mode::Add));
        assert_eq!(mode(json!({".tag": "overwrite"})), Ok(Mode::Overwrite));
        assert_eq!(
            mode(json!({".tag": "update", "update": "a1c10ce0dd78"})),
            Ok(Mode::Update("a1c10ce0dd78".into()))
        );
        assert!(mode(json!("update")).is_err());
        assert!(mode(json!({".tag": "update", "update": "xyz"})).is_err());
        assert!(mode(json!("replace")).is_err());
    }
}
