//! Checks of the fields several record types share; each error names its field.

use crate::error::{CrmError, CrmResult};
use crate::validate;

/// Trimmed text of at most `max` characters; empty or absent is `None`.
pub fn opt_text(field: &str, value: Option<&str>, max: usize) -> CrmResult<Option<String>> {
    validate::optional_text(field, value, max)
}

/// A phone number: digits with `+ - ( ) . /` and spaces, an optional extension
/// (`x123`, `ext. 123`); 3 to 20 digits; kept as written (trimmed).
pub fn phone(field: &str, value: Option<&str>) -> CrmResult<Option<String>> {
    let Some(v) = opt_text(field, value, 50)? else {
        return Ok(None);
    };
    let main = v
        .to_ascii_lowercase()
        .split(['x', 'e'])
        .next()
        .unwrap_or("")
        .to_string();
    let digits = main.chars().filter(char::is_ascii_digit).count();
    let allowed = main
        .chars()
        .all(|c| c.is_ascii_digit() || " +-()./".contains(c));
    if !allowed || !(3..=20).contains(&digits) {
        return Err(CrmError::invalid(
            field,
            format!("{v:?} is not a phone number (digits, spaces and + - ( ) . / only)"),
        ));
    }
    Ok(Some(v))
}

/// An http(s) URL; a bare host (`acme.com`) gets `https://`.
pub fn website(field: &str, value: Option<&str>) -> CrmResult<Option<String>> {
    let Some(v) = opt_text(field, value, 2000)? else {
        return Ok(None);
    };
    let with_scheme = if v.contains("://") {
        v.clone()
    } else {
        format!("https://{v}")
    };
    match url::Url::parse(&with_scheme) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some_and(|h| h.contains('.')) =>
        {
            Ok(Some(u.to_string()))
        }
        _ => Err(CrmError::invalid(
            field,
            format!("{v:?} is not a web address (https://…)"),
        )),
    }
}

/// A VAT number: spaces, dots and dashes dropped, uppercased; a two-letter country prefix
/// and 2 to 13 letters or digits (`NL123456789B01`).
pub fn vat_number(field: &str, value: Option<&str>) -> CrmResult<Option<String>> {
    let Some(v) = opt_text(field, value, 40)? else {
        return Ok(None);
    };
    let compact: String = v
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-'))
        .collect::<String>()
        .to_ascii_uppercase();
    let ok = compact.len() >= 4
        && compact.len() <= 15
        && compact[..2].bytes().all(|b| b.is_ascii_uppercase())
        && compact[2..].bytes().all(|b| b.is_ascii_alphanumeric());
    if !ok {
        return Err(CrmError::invalid(
            field,
            format!("{v:?} is not a VAT number (country code and number, e.g. NL123456789B01)"),
        ));
    }
    Ok(Some(compact))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        assert_eq!(
            phone("p", Some(" +31 (20) 555-0100 x12 "))
                .unwrap()
                .as_deref(),
            Some("+31 (20) 555-0100 x12")
        );
        assert!(phone("p", Some("call me")).is_err());
        assert_eq!(
            website("w", Some("acme.com")).unwrap().as_deref(),
            Some("https://acme.com/")
        );
        assert!(website("w", Some("ftp://acme.com")).is_err());
        assert_eq!(
            vat_number("v", Some("nl 1234.567.89 b01"))
                .unwrap()
                .as_deref(),
            Some("NL123456789B01")
        );
        assert!(vat_number("v", Some("123")).is_err());
    }
}
