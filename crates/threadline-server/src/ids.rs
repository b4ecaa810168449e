//! Message ids as the server keeps them.
//!
//! An email is known by several ids: Gmail's legacy hex id (`163d03bfda277ec1`), its sync
//! id (`msg-f:1602441164947422913`, the same number in decimal; `msg-a:r123…` for a message
//! just sent from this browser) and its RFC `Message-ID`. Each id is normalised so that one
//! message's ids meet whatever form the page had: surrounding whitespace, a leading `#` and
//! the angle brackets of an RFC Message-ID are dropped, a `msg-f:` id becomes its legacy hex
//! form and a legacy hex id is lowercased. Other ids are kept as they are (RFC Message-IDs
//! are case-sensitive).

use threadline_domain::message::legacy_hex_from_sync;

use crate::error::{ApiError, ApiResult};

/// Longest message id, in characters.
pub const MAX_MESSAGE_ID_CHARS: usize = 512;
/// Most ids one message may be sent with.
pub const MAX_IDS_PER_MESSAGE: usize = 20;

/// The stored form of a message id, or why it is not one.
pub fn normalize_message_id(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    let s = s.strip_prefix('#').unwrap_or(s);
    let s = match s.strip_prefix('<').and_then(|s| s.strip_suffix('>')) {
        Some(inner) => inner.trim(),
        None => s,
    };
    if s.is_empty() {
        return Err("the message id is empty".to_string());
    }
    let chars = s.chars().count();
    if chars > MAX_MESSAGE_ID_CHARS {
        return Err(format!(
            "the message id is too long ({chars} characters; at most {MAX_MESSAGE_ID_CHARS})"
        ));
    }
    if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("the message id contains whitespace or a control character".to_string());
    }
    if s.starts_with("msg-f:") {
        if let Some(hex) = legacy_hex_from_sync(s) {
            return Ok(hex);
        }
    }
    if s.len() <= 16 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(s.to_ascii_lowercase());
    }
    Ok(s.to_string())
}

/// Normalises `ids` (each named `{field}[i]` in an error), dropping repeats, keeping order.
pub fn normalize_list<'a>(
    field: &str,
    ids: impl IntoIterator<Item = &'a str>,
) -> ApiResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for (i, raw) in ids.into_iter().enumerate() {
        let id =
            normalize_message_id(raw).map_err(|e| ApiError::invalid(format!("{field}[{i}]"), e))?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

/// True for an id that only this browser knows (a message just sent): `msg-a:r…`.
pub fn is_local_id(id: &str) -> bool {
    id.starts_with("msg-a:")
}
