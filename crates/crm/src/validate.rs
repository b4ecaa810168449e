//! Checks of request fields; each error names its field.

use crate::error::{CrmError, CrmResult};

/// Longest name (person, company, task title), in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// `value` trimmed, at most `max` characters (empty allowed).
pub fn text(field: &str, value: &str, max: usize) -> CrmResult<String> {
    let value = value.trim();
    let chars = value.chars().count();
    if chars > max {
        return Err(CrmError::invalid(
            field,
            format!("{field} is too long ({chars} characters; at most {max})"),
        ));
    }
    Ok(value.to_string())
}

/// `value` trimmed, 1 to `max` characters.
pub fn required_text(field: &str, value: &str, max: usize) -> CrmResult<String> {
    let value = text(field, value, max)?;
    if value.is_empty() {
        return Err(CrmError::invalid(
            field,
            format!("{field} must not be empty"),
        ));
    }
    Ok(value)
}

/// `value` trimmed, at most `max` characters; empty or absent is `None`.
pub fn optional_text(field: &str, value: Option<&str>, max: usize) -> CrmResult<Option<String>> {
    match value {
        None => Ok(None),
        Some(v) => text(field, v, max).map(|v| (!v.is_empty()).then_some(v)),
    }
}

/// At most `max` items in the list named `field`.
pub fn max_items<T>(field: &str, items: &[T], max: usize) -> CrmResult<()> {
    if items.len() > max {
        return Err(CrmError::invalid(
            field,
            format!(
                "{field} has {} items; at most {max} are allowed",
                items.len()
            ),
        ));
    }
    Ok(())
}
