//! The WASM core's build script: the stylesheets the core embeds (`extension/styles/`),
//! without comments and the whitespace CSS does not need. Every byte of the core counts
//! against the content script's bundle budget (150 kB gzip); the sources keep their comments.

use std::path::Path;

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    for name in ["bar.css", "panel.css"] {
        let source = format!("extension/styles/{name}");
        println!("cargo:rerun-if-changed={source}");
        let css = std::fs::read_to_string(&source).expect("the stylesheet");
        std::fs::write(Path::new(&out).join(name), minify(&css)).expect("writing OUT_DIR");
    }
}

/// Drops comments, and whitespace except one space where it separates two words or a
/// selector's parts (`.a .b`, `.a :hover`); strings are copied as they are.
fn minify(css: &str) -> String {
    // No space is needed next to these (after `:` only: before it, a space is a combinator).
    const GLUE: &str = "{};,>";
    let mut out = String::with_capacity(css.len());
    let mut pending_space = false;
    let mut chars = css.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '/' && chars.peek() == Some(&'*') {
            chars.next();
            let mut previous = ' ';
            for d in chars.by_ref() {
                if previous == '*' && d == '/' {
                    break;
                }
                previous = d;
            }
            pending_space = true;
            continue;
        }
        if c.is_whitespace() {
            pending_space = true;
            continue;
        }
        if pending_space {
            pending_space = false;
            let after = out.chars().last();
            if after.is_some_and(|a| !GLUE.contains(a) && a != ':') && !GLUE.contains(c) {
                out.push(' ');
            }
        }
        out.push(c);
        if c == '"' || c == '\'' {
            while let Some(d) = chars.next() {
                out.push(d);
                if d == '\\' {
                    out.extend(chars.next());
                } else if d == c {
                    break;
                }
            }
        }
    }
    out
}
