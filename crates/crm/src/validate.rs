//! Checks of request fields; each error names its field.

use threadline_domain::text::refused_char;
pub use threadline_domain::text::{char_message, Lines};

use crate::error::{CrmError, CrmResult};

/// Longest name (person, company, task title), in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// Refuses a `value` of `field` that holds a character no text may hold (the one rule of
/// every text field: `threadline_domain::text`): 422 naming the character, e.g. `title
/// contains U+202E (RIGHT-TO-LEFT OVERRIDE), which is not allowed`.
pub fn chars(field: &str, value: &str, lines: Lines) -> CrmResult<()> {
    match refused_char(value, lines) {
        None => Ok(()),
        Some(c) => Err(CrmError::invalid(field, char_message(field, c, lines))),
    }
}

/// `value` trimmed, one line of at most `max` characters (empty allowed).
pub fn text(field: &str, value: &str, max: usize) -> CrmResult<String> {
    text_of(field, value, max, Lines::Single)
}

/// `value` trimmed, at most `max` characters that may span lines (`\n`, `\t`, `\r\n`).
pub fn multiline_text(field: &str, value: &str, max: usize) -> CrmResult<String> {
    text_of(field, value, max, Lines::Multi)
}

fn text_of(field: &str, value: &str, max: usize, lines: Lines) -> CrmResult<String> {
    let value = value.trim();
    chars(field, value, lines)?;
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

/// `value` trimmed, one line of at most `max` characters; empty or absent is `None`.
pub fn optional_text(field: &str, value: Option<&str>, max: usize) -> CrmResult<Option<String>> {
    match value {
        None => Ok(None),
        Some(v) => text(field, v, max).map(|v| (!v.is_empty()).then_some(v)),
    }
}

/// `value` trimmed, at most `max` characters over any number of lines; empty or absent is
/// `None`.
pub fn optional_multiline_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> CrmResult<Option<String>> {
    match value {
        None => Ok(None),
        Some(v) => multiline_text(field, v, max).map(|v| (!v.is_empty()).then_some(v)),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_field_refuses_controls_and_overrides() {
        let err = text("name", "Acme\u{202e}cod.exe", 200).unwrap_err();
        assert_eq!(err.code(), Some("invalid_field"));
        assert!(
            err.to_string()
                .starts_with("name contains U+202E (RIGHT-TO-LEFT OVERRIDE), which is not allowed"),
            "{err}"
        );
        assert!(required_text("title", "a\0b", 200).is_err());
        assert!(optional_text("job_title", Some("x\u{1b}[2J"), 200).is_err());
        assert!(text("first_name", "Ann\nBob", 200)
            .unwrap_err()
            .to_string()
            .contains("first_name is one line"));
        // Surrounding whitespace is trimmed before the check: a pasted trailing newline is fine.
        assert_eq!(text("name", " Acme\n", 200).unwrap(), "Acme");
    }

    #[test]
    fn multi_line_text_keeps_its_line_breaks() {
        assert_eq!(
            optional_multiline_text("notes", Some("one\r\ntwo\n\tthree"), 100)
                .unwrap()
                .as_deref(),
            Some("one\r\ntwo\n\tthree")
        );
        assert!(multiline_text("notes", "a\rb", 100).is_err());
        assert!(multiline_text("notes", "a\u{7}b", 100).is_err());
        assert!(multiline_text("notes", "a\u{2067}b", 100).is_err());
    }
}
