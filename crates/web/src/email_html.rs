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
//! says how many were, for the "Show remote images" link). Images attached to the email
//! (PNG, JPEG, GIF, WebP) take the place of their `cid:` URLs as `data:` URLs. Links open in
//! a new tab, without the referrer.
//!
//! This is presentation of an email, not a CRM rule: it lives here, in the web app.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ammonia::{Builder, UrlRelative};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use threadline_domain::message::normalize_message_id;

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

/// Image types an attached image may be shown inline as (never SVG: a picture, not a document).
pub const INLINE_IMAGE_TYPES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

/// The images attached to an email, by Content-ID (as the model stores it, normalised like
/// a message id): the `cid:` URLs of its body that name one become its `data:` URL (the
/// frame's policy lets `data:` images in, nothing from a server).
pub type Inline = HashMap<String, String>;

/// True when an attachment of this type may be shown inline.
pub fn inline_image(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    INLINE_IMAGE_TYPES.contains(&essence.as_str())
}

/// The `data:` URL of an image of one of [`INLINE_IMAGE_TYPES`] (else `None`).
pub fn data_url(content_type: &str, bytes: &[u8]) -> Option<String> {
    if !inline_image(content_type) {
        return None;
    }
    let essence = content_type.split(';').next()?.trim().to_ascii_lowercase();
    Some(format!("data:{essence};base64,{}", STANDARD.encode(bytes)))
}

/// The `data:` URL that `cid:` URL `value` names in `inline`, if any.
fn inline_for<'a>(inline: &'a Inline, value: &str) -> Option<&'a String> {
    let cid = value.trim();
    let cid = cid
        .get(..4)
        .filter(|s| s.eq_ignore_ascii_case("cid:"))
        .map(|_| &cid[4..])?;
    let decoded = percent_encoding::percent_decode_str(cid)
        .decode_utf8()
        .ok()?;
    inline.get(&normalize_message_id(&decoded).ok()?)
}

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
/// images only when `remote_images`; the attached images `inline` in place of their `cid:`.
pub fn sanitise(html: &str, remote_images: bool, inline: &Inline) -> Sanitised {
    let blocked = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&blocked);
    let inline = inline.clone();
    let html = Builder::default()
        .add_generic_attributes(["style", "dir", "align"])
        .filter_style_properties(STYLE_PROPERTIES.iter().copied().collect())
        .url_schemes(URL_SCHEMES.iter().copied().collect::<HashSet<_>>())
        .url_relative(UrlRelative::Deny)
        .set_tag_attribute_value("a", "target", "_blank")
        .link_rel(Some("noopener noreferrer nofollow"))
        .attribute_filter(move |element, attribute, value| {
            if element == "img" && attribute == "src" {
                if !remote_images && is_remote(value) {
                    counter.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
                // After ammonia's scheme check: this `data:` URL is ours.
                if let Some(data) = inline_for(&inline, value) {
                    return Some(data.clone().into());
                }
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
        sanitise(html, false, &Inline::new()).html
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
        let blocked = sanitise(html, false, &Inline::new());
        assert_eq!(blocked.blocked_images, 2);
        assert!(!blocked.html.contains("tracker"), "{}", blocked.html);
        assert!(blocked.html.contains("alt=\"Logo\""), "{}", blocked.html);
        assert!(
            blocked.html.contains("src=\"cid:part1@x\""),
            "{}",
            blocked.html
        );
        let shown = sanitise(html, true, &Inline::new());
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
    fn attached_images_replace_their_cid_urls() {
        let logo = data_url("image/PNG; name=logo.png", b"png bytes").unwrap();
        assert_eq!(logo, "data:image/png;base64,cG5nIGJ5dGVz");
        assert_eq!(data_url("image/svg+xml", b"<svg onload=alert(1)>"), None);
        assert_eq!(data_url("text/html", b"<script>"), None);
        let inline = Inline::from([("logo.1@example.com".to_string(), logo.clone())]);
        let out = sanitise(
            "<img src=\"cid:logo.1@example.com\" alt=\"Logo\"><img src=\"CID:%3Clogo.1@example.com%3E\">\
             <img src=\"cid:unknown@example.com\"><a href=\"cid:logo.1@example.com\">l</a>",
            false,
            &inline,
        )
        .html;
        assert_eq!(out.matches(&format!("src=\"{logo}\"")).count(), 2, "{out}");
        assert!(out.contains("src=\"cid:unknown@example.com\""), "{out}");
        assert!(
            out.contains("href=\"cid:logo.1@example.com\""),
            "only images: {out}"
        );
        // A data: URL the email brings itself is still refused.
        let out = clean("<img src=\"data:image/png;base64,AAAA\">");
        assert_eq!(out, "<img>");
    }

    #[test]
    fn text_stays_text() {
        let out = clean("<p>a &lt;b&gt; &amp; \u{202e}evil</p>");
        assert_eq!(out, "<p>a &lt;b&gt; &amp; \u{202e}evil</p>");
    }
}
