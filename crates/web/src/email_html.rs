//! A tracked email's HTML body made safe to show: sanitised on the server with ammonia (an
//! allow-list of elements and attributes, parsed as a browser would with html5ever), then
//! shown in a sandboxed frame whose own Content-Security-Policy blocks scripts and remote
//! content (`pages/emails.rs`). Two walls: what one misses, the other stops.
//!
//! What goes: scripts and every event handler (no element or attribute outside the
//! allow-list survives), `javascript:` and other URLs but http(s), mailto, tel and `cid:`,
//! relative URLs (they would point at this server), `<base>`, forms and their fields,
//! `<meta>` (a refresh), `<style>` sheets, `<iframe>`/`<object>`/`<embed>`, SVG and MathML.
//! `style` attributes keep only properties that cannot load anything ([`STYLE_PROPERTIES`]:
//! no `background`, no `list-style`, no `url()` anywhere). Remote images (`http:`/`https:`)
//! are removed unless the user chose to show them for this email ([`Sanitised::blocked_images`]
//! says how many were, for the "Show remote images" link). Links open in a new tab, without
//! the referrer.
//!
//! This is presentation of an email, not a CRM rule: it lives here, in the web app.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ammonia::{Builder, UrlRelative};

/// CSS properties a `style` attribute may keep: layout, text and colours — none that takes
/// a URL (so no remote image through CSS, whatever the choice of images).
pub const STYLE_PROPERTIES: &[&str] = &[
    "color",
    "background-color",
    "font",
    "font-family",
    "font-size",
    "font-style",
    "font-weight",
    "font-variant",
    "line-height",
    "letter-spacing",
    "word-spacing",
    "text-align",
    "text-decoration",
    "text-indent",
    "text-transform",
    "white-space",
    "vertical-align",
    "direction",
    "margin",
    "margin-top",
    "margin-right",
    "margin-bottom",
    "margin-left",
    "padding",
    "padding-top",
    "padding-right",
    "padding-bottom",
    "padding-left",
    "border",
    "border-top",
    "border-right",
    "border-bottom",
    "border-left",
    "border-color",
    "border-style",
    "border-width",
    "border-collapse",
    "border-spacing",
    "border-radius",
    "width",
    "min-width",
    "max-width",
    "height",
    "min-height",
    "max-height",
    "display",
    "table-layout",
    "float",
    "clear",
    "overflow",
];

/// URL schemes a link or an image may have (`cid:`: an image attached to the email).
const URL_SCHEMES: &[&str] = &["http", "https", "mailto", "tel", "cid"];

/// A sanitised body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sanitised {
    pub html: String,
    /// Remote images removed (0 when they were allowed).
    pub blocked_images: usize,
}

fn is_remote(url: &str) -> bool {
    let url = url.trim_start().to_ascii_lowercase();
    url.starts_with("http:") || url.starts_with("https:") || url.starts_with("//")
}

/// A `style` value with none of old browsers' ways to run code from CSS (`expression()`,
/// `behavior`, `-moz-binding`) and no CSS escape that could spell them: a value that has one
/// loses the whole attribute (before ammonia keeps only [`STYLE_PROPERTIES`]).
fn plain_style(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    !(lower.contains('\\')
        || ["expression", "behavior", "binding", "javascript"]
            .iter()
            .any(|w| lower.contains(w)))
}

/// `html` without anything that could run, leave the frame or load from elsewhere; remote
/// images only when `remote_images`.
pub fn sanitise(html: &str, remote_images: bool) -> Sanitised {
    let blocked = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&blocked);
    let html = Builder::default()
        .add_generic_attributes(["style", "dir", "align"])
        .filter_style_properties(STYLE_PROPERTIES.iter().copied().collect())
        .url_schemes(URL_SCHEMES.iter().copied().collect::<HashSet<_>>())
        .url_relative(UrlRelative::Deny)
        .set_tag_attribute_value("a", "target", "_blank")
        .link_rel(Some("noopener noreferrer nofollow"))
        .attribute_filter(move |element, attribute, value| {
            if element == "img" && attribute == "src" && !remote_images && is_remote(value) {
                counter.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            if attribute == "style" && !plain_style(value) {
                return None;
            }
            Some(value.into())
        })
        .clean(html)
        .to_string();
    Sanitised {
        html,
        blocked_images: blocked.load(Ordering::Relaxed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(html: &str) -> String {
        sanitise(html, false).html
    }

    fn assert_gone(html: &str, needles: &[&str]) {
        let out = clean(html);
        let lower = out.to_ascii_lowercase();
        for needle in needles {
            assert!(!lower.contains(needle), "{needle:?} survived in {out:?}");
        }
    }

    #[test]
    fn scripts_and_event_handlers_are_gone() {
        assert_gone(
            "<p>hi<script>alert(1)</script></p><img src=x onerror=alert(1)>\
             <div onclick=\"alert(1)\" onmouseover=alert(1)>x</div><body onload=alert(1)>",
            &[
                "<script",
                "alert",
                "onerror",
                "onclick",
                "onmouseover",
                "onload",
            ],
        );
        assert_eq!(clean("<p>hi<script>alert(1)</script></p>"), "<p>hi</p>");
    }

    #[test]
    fn javascript_and_data_urls_are_gone() {
        assert_gone(
            "<a href=\"javascript:alert(1)\">a</a><a href=\" JaVaScRiPt:alert(1)\">b</a>\
             <a href=\"java&#x09;script:alert(1)\">c</a><a href=\"vbscript:x\">d</a>\
             <a href=\"data:text/html,<script>alert(1)</script>\">e</a>",
            &["javascript", "vbscript", "data:", "script"],
        );
        let out = clean("<a href=\"https://example.com/x\">ok</a>");
        assert!(out.contains("href=\"https://example.com/x\""), "{out}");
        assert!(out.contains("target=\"_blank\""), "{out}");
        assert!(
            out.contains("rel=\"noopener noreferrer nofollow\""),
            "{out}"
        );
    }

    #[test]
    fn base_forms_meta_and_frames_are_gone() {
        assert_gone(
            "<base href=\"https://evil.example/\"><meta http-equiv=\"refresh\" \
             content=\"0;url=https://evil.example/\"><form action=\"https://evil.example/\">\
             <input name=password><button formaction=x>Go</button><textarea>t</textarea></form>\
             <iframe src=\"https://evil.example/\"></iframe><object data=x></object>\
             <embed src=x><link rel=stylesheet href=\"https://evil.example/a.css\">",
            &[
                "<base",
                "<meta",
                "refresh",
                "<form",
                "<input",
                "<button",
                "<textarea",
                "evil",
                "<iframe",
                "<object",
                "<embed",
                "<link",
            ],
        );
    }

    #[test]
    fn relative_urls_never_point_at_this_server() {
        assert_gone(
            "<a href=\"/sign-out-everywhere\">a</a><a href=\"//evil.example/x\">b</a>\
             <img src=\"/assets/x.png\">",
            &["sign-out", "evil", "href", "src"],
        );
    }

    #[test]
    fn remote_images_are_blocked_unless_asked_for() {
        let html = "<p>Logo: <img src=\"https://tracker.example/p.gif\" alt=\"Logo\">\
                    <img src=\"HTTP://tracker.example/q.gif\"><img src=\"cid:part1@x\"></p>";
        let blocked = sanitise(html, false);
        assert_eq!(blocked.blocked_images, 2);
        assert!(!blocked.html.contains("tracker"), "{}", blocked.html);
        assert!(blocked.html.contains("alt=\"Logo\""), "{}", blocked.html);
        assert!(
            blocked.html.contains("src=\"cid:part1@x\""),
            "{}",
            blocked.html
        );
        let shown = sanitise(html, true);
        assert_eq!(shown.blocked_images, 0);
        assert!(shown.html.contains("src=\"https://tracker.example/p.gif\""));
    }

    #[test]
    fn css_cannot_load_anything() {
        let out = clean(
            "<div style=\"color: red; background: url(https://tracker.example/a.gif); \
             background-image: url('https://tracker.example/b.gif'); \
             list-style: url(https://tracker.example/c.gif); \
             width: expression(alert(1)); behavior: url(x.htc)\">x</div>\
             <style>body { background: url(https://tracker.example/d.gif) }</style>\
             <table background=\"https://tracker.example/e.gif\"><tr><td>t</td></tr></table>",
        );
        assert!(!out.contains("tracker"), "{out}");
        assert!(
            !out.contains("expression") && !out.contains("behavior"),
            "{out}"
        );
        assert!(!out.contains("<style"), "{out}");
        assert!(!out.contains("color"), "the whole attribute goes: {out}");
        let out =
            clean("<p style=\"color: red; background: url(https://tracker.example/a)\">x</p>");
        assert_eq!(out, "<p style=\"color:red\">x</p>");
        let out = clean("<p style=\"color: red; width: e\\78 pression(alert(1))\">x</p>");
        assert_eq!(out, "<p>x</p>");
    }

    #[test]
    fn svg_and_mathml_tricks_are_gone() {
        assert_gone(
            "<svg><script>alert(1)</script><a xlink:href=\"javascript:alert(1)\"><text>x</text></a>\
             <animate attributeName=href values=\"javascript:alert(1)\"/>\
             <foreignObject><img src=x onerror=alert(1)></foreignObject></svg>\
             <math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>\
             <math href=\"javascript:alert(1)\">m</math>",
            &["<svg", "<math", "alert", "javascript", "onerror", "<animate", "<style"],
        );
    }

    #[test]
    fn text_stays_text() {
        let out = clean("<p>a &lt;b&gt; &amp; \u{202e}evil</p>");
        assert_eq!(out, "<p>a &lt;b&gt; &amp; \u{202e}evil</p>");
    }
}
