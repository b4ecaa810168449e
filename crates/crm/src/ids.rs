//! Message ids as the server keeps them. An email is known by several ids (Gmail's legacy
//! hex id, its `msg-f:`/`msg-a:` sync ids, its RFC `Message-ID`); each is stored in the one
//! form [`threadline_domain::message::normalize_message_id`] gives, the form the extension
//! writes, so that one message's ids meet whatever form the page had.

pub use threadline_domain::message::{normalize_message_id, MAX_MESSAGE_ID_CHARS};

use crate::error::{CrmError, CrmResult};

/// Most ids one message may be sent with.
pub const MAX_IDS_PER_MESSAGE: usize = 20;

/// Normalises `ids` (each named `{field}[i]` in an error), dropping repeats, keeping order.
pub fn normalize_list<'a>(
    field: &str,
    ids: impl IntoIterator<Item = &'a str>,
) -> CrmResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for (i, raw) in ids.into_iter().enumerate() {
        let id =
            normalize_message_id(raw).map_err(|e| CrmError::invalid(format!("{field}[{i}]"), e))?;
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
