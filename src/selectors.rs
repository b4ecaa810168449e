//! Every Gmail selector Threadline uses, in one place, as versioned fallback chains
//! (primary first). The versions are the dates the sources in
//! `../shared/research/gmail-dom.md` saw each form; when Gmail ramps a new DOM, add a row
//! at the top of the chain and keep the old ones while both are live.
//!
//! When a chain that should match finds nothing, [`Chain::first_or_report`] logs the chain
//! and a censored copy of the element it searched (see `censor.rs`), once per chain and
//! page, so a Gmail change is visible in the console without leaking mail content.

use std::cell::RefCell;
use std::collections::HashSet;

use web_sys::Element;

pub struct Chain {
    pub name: &'static str,
    /// (version, selector), newest first.
    pub rows: &'static [(&'static str, &'static str)],
}

impl Chain {
    /// The first element matched by the newest selector that matches anything.
    pub fn first(&self, root: &Element) -> Option<Element> {
        self.rows
            .iter()
            .find_map(|(_, sel)| root.query_selector(sel).ok().flatten())
    }

    /// Like [`Chain::first`], logging a censored copy of `root` when nothing matches.
    pub fn first_or_report(&self, root: &Element) -> Option<Element> {
        let found = self.first(root);
        if found.is_none() {
            report_failure(self.name, root);
        }
        found
    }

    /// The nearest ancestor (or self) matched by any row.
    pub fn closest(&self, from: &Element) -> Option<Element> {
        self.rows
            .iter()
            .find_map(|(_, sel)| from.closest(sel).ok().flatten())
    }

    /// True when `el` matches any row.
    pub fn matches(&self, el: &Element) -> bool {
        self.rows
            .iter()
            .any(|(_, sel)| el.matches(sel).unwrap_or(false))
    }

    /// All rows joined into one selector list (the tests check the constants made of it).
    #[cfg(test)]
    pub fn joined(&self) -> String {
        self.rows
            .iter()
            .map(|(_, s)| *s)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

thread_local! {
    static REPORTED: RefCell<HashSet<&'static str>> = RefCell::new(HashSet::new());
}

pub fn report_failure(chain: &'static str, root: &Element) {
    let first_time = REPORTED.with(|r| r.borrow_mut().insert(chain));
    if first_time {
        let html = crate::censor::censored_outline(root);
        let message = format!("no selector of chain '{chain}' matched");
        web_sys::console::warn_2(
            &format!("Threadline: {message}; censored DOM:").into(),
            &html.as_str().into(),
        );
        // The background keeps a log of these, so a Gmail change shows without a console.
        crate::bridge::notify(&crate::protocol::ToBackground::ReportError {
            message: &message,
            detail: &html,
        });
    }
}

// --- Opened thread ------------------------------------------------------------------------

/// The opened thread's container (also in the preview pane).
pub const THREAD_ROOT: Chain = Chain {
    name: "thread root",
    rows: &[
        ("2023_11_16", ".a98.iY"),
        ("2018", "table.Bs > tr"),
        ("2018_if", "div.if"),
        ("preview_pane", "td.Bu"),
        ("any", "[role=main]"),
    ],
};

pub const THREAD_SUBJECT: Chain = Chain {
    name: "thread subject",
    rows: &[("2018", "h2.hP"), ("2016", ".ha h2")],
};

pub const THREAD_ID: Chain = Chain {
    name: "thread id",
    rows: &[
        ("2025_11_25", "[data-legacy-thread-id]"),
        ("perm", "[data-thread-perm-id]"),
    ],
};

/// An expanded message's core element, the one carrying the message ids.
pub const MESSAGE: Chain = Chain {
    name: "message",
    rows: &[
        ("2016", "div.adn[data-legacy-message-id]"),
        ("2019", "div.adn[data-message-id]"),
    ],
};

/// Every row of [`MESSAGE`] in one selector list (one `querySelectorAll` or `matches` call
/// for all of them).
pub const MESSAGE_ANY: &str = "div.adn[data-legacy-message-id], div.adn[data-message-id]";

/// A message's core element, with or without its ids yet: the class that [`MESSAGE`]'s rows
/// narrow down (the watcher's cue that a message may have appeared).
pub const MESSAGE_CORE: &str = ".adn";

/// The list item around a message; its class tells the state.
pub const MESSAGE_ITEM: Chain = Chain {
    name: "message item",
    rows: &[
        ("2016", "[role=listitem]"),
        ("2014", ".h7, .kv, .ky, .kQ, .kx"),
    ],
};

/// A message list item that is not expanded (collapsed `kv`/`ky`, or hidden in the
/// "N older messages" fold `kQ`/`kx`), as one selector list (one `matches` call).
pub const NOT_EXPANDED: &str = ".kv, .ky, .kQ, .kx";

pub const SENDER: Chain = Chain {
    name: "sender",
    rows: &[
        ("2016", "span.gD[email]"),
        ("2014", "td.gF span[email]"),
        ("any", "h3 [email]"),
    ],
};

/// Recipients as the expanded message's summary line shows them.
pub const RECIPIENTS_ALL: &str = "span.hb [email], span.g2[email]";

pub const MESSAGE_BODY: Chain = Chain {
    name: "message body",
    rows: &[
        ("2016", "div.a3s.aiL"),
        ("2016_alt", "div.a3s.aXjCH"),
        ("any", "div.ii.gt"),
        ("old", ".adP"),
    ],
};

/// Where the message bar goes: before the spacer `.hi`, else after the body `div.ii.gt`.
pub const BAR_BEFORE: Chain = Chain {
    name: "bar anchor (.hi)",
    rows: &[("2016", "div.hi")],
};
pub const BAR_AFTER: Chain = Chain {
    name: "bar anchor (body)",
    rows: &[("2016", "div.ii.gt")],
};

/// Gmail's column beside an opened thread (ads, the old people widget), where there is
/// one: the contact panel goes there, else under the thread's first bar. Searched from the
/// thread's root ([`THREAD_ROOT`]).
pub const PANEL_SIDE: Chain = Chain {
    name: "thread side column",
    rows: &[
        ("2024", "div.Bu.y3[role=complementary]"),
        ("2018", "td.Bu.y3"),
    ],
};

// --- Compose -----------------------------------------------------------------------------

/// Every compose form carries this hidden input, in all four kinds of compose window.
pub const COMPOSE_ID_INPUT: &str = "input[name=composeid]";

/// The compose form around [`COMPOSE_ID_INPUT`]; its parent stands in for the window's root
/// when no row of [`COMPOSE_ROOT`] matches.
pub const COMPOSE_FORM: &str = "form";

/// From a compose form up to the compose window's root.
pub const COMPOSE_ROOT: Chain = Chain {
    name: "compose root",
    rows: &[
        ("2025_09_17_inline", ".M9"),
        ("2018_dialog", "[role=dialog]"),
        ("standalone", "body.xE.xp [role=main]"),
        ("inline_old", ".ip"),
    ],
};

/// Where each kind of compose window lives (checked with `closest` from the root).
pub const COMPOSE_KIND_POPUP: Chain = Chain {
    name: "popup compose",
    rows: &[("2018", "div.dw .no")],
};
pub const COMPOSE_KIND_FULLSCREEN: Chain = Chain {
    name: "fullscreen compose",
    rows: &[("2018", ".aSs .aSt")],
};
pub const COMPOSE_KIND_INLINE: Chain = Chain {
    name: "inline compose",
    rows: &[("2025", ".M9"), ("2018", ".ip.adB, .ip")],
};
/// Classes of the body of a standalone (popped-out) compose window, all present: the kind
/// when none of the chains above matches (as in [`COMPOSE_ROOT`]'s `body.xE.xp` row).
pub const STANDALONE_BODY_CLASSES: &[&str] = &["xE", "xp"];

pub const COMPOSE_DRAFT: &str = "input[name=draft]";
pub const COMPOSE_THREAD: &str = "input[name=rt]";
pub const COMPOSE_SUBJECT: &str = "input[name=subjectbox]";
pub const COMPOSE_BODY: Chain = Chain {
    name: "compose body",
    rows: &[
        ("2018", ".Am.Al.editable[g_editable=true]"),
        ("any", "[g_editable=true]"),
        ("role", "div[contenteditable=true][role=textbox]"),
    ],
};

/// Recipient chips, new (2021+ "peoplekit") UI: the field is the nearest
/// [`RECIPIENT_FIELD`] ancestor.
pub const RECIPIENT_CHIPS_NEW: &str = "[role=option][data-hovercard-id]";
/// From a new-UI chip's parent up to its field, whose `name` says to, cc or bcc.
pub const RECIPIENT_FIELD: &str = "[name]";
/// A recipient chip of the old UI, around one of [`RECIPIENT_INPUTS_OLD`]'s hidden inputs.
pub const RECIPIENT_CHIP_OLD: &str = ".vR";
/// Recipient chips, old UI: hidden inputs whose value is "Name <email>".
pub const RECIPIENT_INPUTS_OLD: &str =
    ".GS input[type=hidden][name=to], .GS input[type=hidden][name=cc], .GS input[type=hidden][name=bcc], .vR > input[type=hidden]";

pub const SEND_BUTTON: Chain = Chain {
    name: "send button",
    rows: &[
        (
            "2018",
            ".IZ .Up div > div[role=button]:not(.Uo):not([aria-haspopup=true])",
        ),
        ("2016", "div.T-I.aoO.T-I-atl[role=button]"),
        ("any", "div.T-I.T-I-atl:not([aria-haspopup=true])"),
    ],
};

/// Discard and close controls: a compose that goes away through these was not sent.
pub const DISCARD_OR_CLOSE: &str = ".og, .oh, .Ha, .Hm .Ha, [data-threadline-discard]";

/// Slots for the compose bar, best first: the status area below the toolbar.
pub const COMPOSE_BAR_SLOT: Chain = Chain {
    name: "compose status area",
    rows: &[
        ("2018", ".aDg .aDj > .aDh"),
        ("inline", ".iN .aDj .aDh"),
        ("toolbar", "table.IZ"),
    ],
};

// --- Page data ---------------------------------------------------------------------------

/// Gmail's inline scripts: one defines `var GLOBALS=[…]`, whose [9] is the account's `ik`
/// (InboxSDK reads it there from the page world; the content script reads the script's text).
pub const INLINE_SCRIPTS: &str = "script:not([src])";

// --- Watcher -----------------------------------------------------------------------------
//
// The body observer (`watch.rs`) tests each added or removed element against one selector
// list, so these are single strings: selectors above, joined. The test
// `watcher_lists_are_the_selectors_joined` keeps them in step.

/// Recipient chips of either UI ([`RECIPIENT_CHIPS_NEW`], [`RECIPIENT_CHIP_OLD`]): removing
/// one changes a compose window's recipients.
pub const WATCH_RECIPIENTS: &str = "[role=option][data-hovercard-id], .vR";

/// Added elements that change the compose windows: a compose form ([`COMPOSE_ID_INPUT`]) or
/// a recipient chip ([`WATCH_RECIPIENTS`]).
pub const WATCH_COMPOSE: &str = "input[name=composeid], [role=option][data-hovercard-id], .vR";

/// Added elements worth a look: messages ([`MESSAGE_CORE`]) and what [`WATCH_COMPOSE`]
/// matches.
/// The containers where messages and compose windows live, observed in depth instead of the
/// whole body (InboxSDK's main content container `div.aeF`; the compose dock `div.dw`; the
/// full-screen compose `div.aSs`; the standalone compose window's `[role=main]`). Unrelated
/// parts of the page (navigation, header, chat, activity) then make no mutation records.
pub const WATCH_ROOTS: &str = "div.aeF, div.dw, div.aSs, [role=main]";

pub const WATCH_ADDED: &str = ".adn, input[name=composeid], [role=option][data-hovercard-id], .vR";

/// Every chain in this file.
const CHAINS: &[&Chain] = &[
    &THREAD_ROOT,
    &THREAD_SUBJECT,
    &THREAD_ID,
    &MESSAGE,
    &MESSAGE_ITEM,
    &SENDER,
    &MESSAGE_BODY,
    &BAR_BEFORE,
    &BAR_AFTER,
    &PANEL_SIDE,
    &COMPOSE_ROOT,
    &COMPOSE_KIND_POPUP,
    &COMPOSE_KIND_FULLSCREEN,
    &COMPOSE_KIND_INLINE,
    &COMPOSE_BODY,
    &SEND_BUTTON,
    &COMPOSE_BAR_SLOT,
];

/// Every selector in this file, each with the name of its chain or constant (for the test
/// that each one parses in a browser).
pub fn all() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&'static str, &'static str)> = CHAINS
        .iter()
        .flat_map(|c| c.rows.iter().map(move |(_, s)| (c.name, *s)))
        .collect();
    out.extend([
        ("RECIPIENTS_ALL", RECIPIENTS_ALL),
        ("COMPOSE_ID_INPUT", COMPOSE_ID_INPUT),
        ("COMPOSE_FORM", COMPOSE_FORM),
        ("COMPOSE_DRAFT", COMPOSE_DRAFT),
        ("COMPOSE_THREAD", COMPOSE_THREAD),
        ("COMPOSE_SUBJECT", COMPOSE_SUBJECT),
        ("RECIPIENT_CHIPS_NEW", RECIPIENT_CHIPS_NEW),
        ("RECIPIENT_FIELD", RECIPIENT_FIELD),
        ("RECIPIENT_CHIP_OLD", RECIPIENT_CHIP_OLD),
        ("RECIPIENT_INPUTS_OLD", RECIPIENT_INPUTS_OLD),
        ("DISCARD_OR_CLOSE", DISCARD_OR_CLOSE),
        ("MESSAGE_CORE", MESSAGE_CORE),
        ("MESSAGE_ANY", MESSAGE_ANY),
        ("NOT_EXPANDED", NOT_EXPANDED),
        ("WATCH_RECIPIENTS", WATCH_RECIPIENTS),
        ("WATCH_COMPOSE", WATCH_COMPOSE),
        ("WATCH_ADDED", WATCH_ADDED),
        ("WATCH_ROOTS", WATCH_ROOTS),
        ("INLINE_SCRIPTS", INLINE_SCRIPTS),
    ]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watcher_lists_are_the_selectors_joined() {
        assert_eq!(
            WATCH_RECIPIENTS,
            [RECIPIENT_CHIPS_NEW, RECIPIENT_CHIP_OLD].join(", ")
        );
        assert_eq!(
            WATCH_COMPOSE,
            [COMPOSE_ID_INPUT, WATCH_RECIPIENTS].join(", ")
        );
        assert_eq!(WATCH_ADDED, [MESSAGE_CORE, WATCH_COMPOSE].join(", "));
    }

    #[test]
    fn one_call_list_is_the_rows_joined() {
        assert_eq!(MESSAGE_ANY, MESSAGE.joined());
    }

    #[test]
    fn a_message_core_is_what_the_message_rows_narrow_down() {
        for (_, row) in MESSAGE.rows {
            assert!(
                row.strip_prefix("div")
                    .unwrap_or(row)
                    .starts_with(MESSAGE_CORE),
                "{row}"
            );
        }
    }

    #[test]
    fn old_recipient_inputs_sit_in_old_chips() {
        assert!(RECIPIENT_INPUTS_OLD.contains(&format!("{RECIPIENT_CHIP_OLD} > input")));
    }

    #[test]
    fn standalone_body_classes_are_the_compose_root_row() {
        let body = format!("body.{} ", STANDALONE_BODY_CLASSES.join("."));
        assert!(COMPOSE_ROOT
            .rows
            .iter()
            .any(|(version, row)| *version == "standalone" && row.starts_with(&body)));
    }

    /// `all()` lists every chain and every selector constant of this file, so the browser
    /// test that each one parses misses none.
    #[test]
    fn all_lists_every_selector_of_this_file() {
        let source = include_str!("selectors.rs");
        let declared = |kind: &str| -> Vec<&str> {
            source
                .lines()
                .filter_map(|l| l.strip_prefix("pub const "))
                .filter_map(|l| l.split_once(": "))
                .filter(|(_, rest)| rest.starts_with(kind))
                .map(|(name, _)| name)
                .collect()
        };
        let listed = all();
        for name in declared("&str =") {
            assert!(
                listed.iter().any(|(n, _)| *n == name),
                "{name} is not in all()"
            );
        }
        assert_eq!(
            declared("Chain =").len(),
            CHAINS.len(),
            "every chain is in CHAINS"
        );
    }
}
