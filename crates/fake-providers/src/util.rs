//! Small helpers shared by the services.

/// A random token: `prefix` and 32 lowercase hex digits (128 bits from the OS).
pub(crate) fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source");
    let mut out = String::with_capacity(prefix.len() + 32);
    out.push_str(prefix);
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// A query string's pairs, in order; repeated names are kept (Google's
/// `privateExtendedProperty` is repeatable, which serde's query decoding cannot express).
pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
