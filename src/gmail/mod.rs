//! Reading Gmail's page: opened messages and compose windows, through the chains in
//! `selectors.rs`. Nothing here renders anything.

pub mod compose;
pub mod original;
pub mod thread;

/// A person on a message or in a compose window, as the page shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub address: String,
    pub name: Option<String>,
    pub role: Role,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    From,
    To,
    Cc,
    Bcc,
}

/// Keeps the first occurrence of each address (compared case-insensitively).
pub fn dedupe(people: Vec<Person>) -> Vec<Person> {
    let mut seen = std::collections::HashSet::new();
    people
        .into_iter()
        .filter(|p| seen.insert(p.address.trim().to_lowercase()))
        .collect()
}

/// Text of an element, whitespace collapsed and capped (bodies can be huge).
pub fn text_of(el: &web_sys::Element, max_chars: usize) -> String {
    let raw = el.text_content().unwrap_or_default();
    let mut out = String::with_capacity(raw.len().min(max_chars));
    let mut last_space = true;
    for c in raw.chars() {
        if out.len() >= max_chars {
            break;
        }
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.push(c);
            last_space = false;
        }
    }
    out.trim_end().to_string()
}
