//! Fuzzing the Gmail DOM extraction (issue 14), in a real browser: the thread and compose
//! markup of `support/gmail_markup.rs` and the captured compose window of
//! `fixtures/gmail/compose-dialog-2020.html`, mutated at random — elements removed, cloned,
//! moved, nested 40 deep; attributes set to hostile strings, to ids of the wrong shape, or
//! removed; text replaced — then read by everything that reads Gmail's page.
//!
//! Properties: no panic and no hang (a hang fails the runner's timeout); ids of the shape the
//! domain crate promises; people deduplicated, with non-empty addresses and the sender
//! first; the chips of hostile people built as inert text (no element or attribute made
//! from a string); the censored outline never carries text or a personal value.
//!
//! Cases per run: 200 by default, set at build time with THREADLINE_FUZZ_CASES (as the
//! domain's and the MIME intake's fuzzing), e.g. for a long run:
//! `WASM_BINDGEN_TEST_TIMEOUT=900 THREADLINE_FUZZ_CASES=5000 ./build.sh test-wasm-dom`
//! (139 s on 2 cores; the runner's own timeout is 20 s). The seed of a failing case is in the
//! panic message; THREADLINE_FUZZ_SEED replays from it.
#![cfg(target_arch = "wasm32")]

use threadline_extension::testing::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Document, Element};

wasm_bindgen_test_configure!(run_in_browser);

#[path = "support/gmail_markup.rs"]
mod gmail_markup;

const CAPTURED_COMPOSE: &str = include_str!("fixtures/gmail/compose-dialog-2020.html");

fn cases() -> u64 {
    option_env!("THREADLINE_FUZZ_CASES")
        .and_then(|s| s.parse().ok())
        .unwrap_or(200)
}

fn first_seed() -> u64 {
    option_env!("THREADLINE_FUZZ_SEED")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7468_7265_6164)
}

/// splitmix64: a small, well-known generator; the same seed gives the same case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// The most elements a case grows to (the captured compose window has about 700).
const MAX_NODES: usize = 3000;

/// Every generated personal value carries this marker, so the outline can be checked.
const MARK: &str = "SECRET";

/// Strings that have broken parsers and pages (a sample of the extension's hostile corpus).
const HOSTILE: &[&str] = &[
    "<img src=x onerror=alert(1)>",
    "\"><script>alert(1)</script>",
    "' onmouseover='alert(1)",
    "javascript:alert(1)",
    "{{constructor.constructor('alert(1)')()}}",
    "${alert(1)}",
    "\u{202e}gnp.exe",
    "a\u{200b}b\u{feff}c",
    "\u{0}\u{1}\u{1f}",
    "😀👩‍👩‍👧‍👦",
    "Zalgo z̷̢̛͚a̴l̸g̶o̵",
    "\r\n\r\nX-Injected: 1",
    "@@@",
    "<@>",
    "\"Lee, Ann\" <ann@acme.example>",
    "ann@acme.example, bob@globex.example",
    "  ",
    "",
    "xn--bcher-kva.example",
    "ann@bücher.example",
    "%00%3Cscript%3E",
    "&lt;b&gt;&amp;",
];

/// Ids of every shape: good legacy and sync ids, near misses and junk.
const IDS: &[&str] = &[
    "163d03bfda277ec1",
    "0000000000000001",
    "163d03bfda277ec1163d03bfda277ec1",
    "#msg-f:1602441164947422913",
    "msg-f:1602441164947422913",
    "#msg-f:99999999999999999999999",
    "#msg-a:r-1234",
    "#msg-a:r",
    "#msg-a:r<script>",
    "#thread-f:1602441164947422913",
    "undefined",
    "null",
    "-1",
    "g",
];

const ATTRIBUTES: &[&str] = &[
    "email",
    "name",
    "data-hovercard-id",
    "data-name",
    "data-message-id",
    "data-legacy-message-id",
    "data-legacy-thread-id",
    "title",
    "aria-label",
    "value",
    "class",
    "role",
];

const CLASSES: &[&str] = &[
    "adn ads", "h7", "kv", "ky", "kQ", "gD", "g2", "hb", "gE iv gt", "a3s aiL", "ii gt", "hi",
    "vR", "vN", "anm", "GS", "aSs", "M9", "ip adB", "nH", "",
];
const ROLES: &[&str] = &[
    "listitem", "list", "option", "listbox", "dialog", "main", "",
];

fn personal(rng: &mut Rng) -> String {
    let hostile = rng.pick(HOSTILE);
    match rng.below(4) {
        0 => format!("{MARK}{}@acme.example", rng.next() % 1000),
        1 => format!("{MARK} {hostile}"),
        2 => format!("{hostile}{MARK}"),
        _ => format!("{MARK}.{}", "x".repeat(rng.below(3000))),
    }
}

fn descendants(root: &Element) -> Vec<Element> {
    let list = root.query_selector_all("*").expect("querySelectorAll");
    (0..list.length())
        .filter_map(|i| list.item(i))
        .filter_map(|n| n.dyn_into::<Element>().ok())
        .collect()
}

fn doc() -> Document {
    web_sys::window().unwrap().document().unwrap()
}

/// A form control whose `name` is structural (Gmail's `to`, `subjectbox`, …).
fn is_form_control(el: &Element) -> bool {
    matches!(
        el.tag_name().to_ascii_lowercase().as_str(),
        "input" | "textarea" | "select" | "button" | "form"
    )
}

/// One random change to the subtree under `root`.
fn mutate(rng: &mut Rng, root: &Element) {
    let all = descendants(root);
    if all.is_empty() {
        return;
    }
    let el = &all[rng.below(all.len())];
    // Clones and wraps grow the tree; past this size they stop (repeated clones of clones
    // grow it exponentially, which tests the machine, not the code).
    let may_grow = all.len() < MAX_NODES;
    match rng.below(10) {
        0 => el.remove(),
        1 | 3 if !may_grow => el.remove(),
        1 => {
            // A clone, somewhere else.
            let copy = el.clone_node_with_deep(true).expect("clone");
            let to = &all[rng.below(all.len())];
            let _ = to.append_child(&copy);
        }
        2 => {
            // Moved under another element (never under itself).
            let to = &all[rng.below(all.len())];
            if !el.contains(Some(to)) {
                let _ = to.append_child(el);
            }
        }
        3 => {
            // Wrapped 1 to 40 deep.
            let mut inner = el.clone_node_with_deep(true).expect("clone");
            for _ in 0..=rng.below(40) {
                let wrap = doc().create_element("div").unwrap();
                wrap.set_class_name(rng.pick(CLASSES));
                wrap.append_child(&inner).unwrap();
                inner = wrap.into();
            }
            let _ = el.replace_with_with_node_1(&inner);
        }
        4 => {
            let _ = el.remove_attribute(rng.pick(ATTRIBUTES));
        }
        5 => el.set_text_content(Some(&personal(rng))),
        6 => {
            let _ = el.set_attribute("class", rng.pick(CLASSES));
        }
        7 => {
            let _ = el.set_attribute("role", rng.pick(ROLES));
        }
        8 => {
            let name = rng.pick(&[
                "data-message-id",
                "data-legacy-message-id",
                "data-legacy-thread-id",
            ]);
            let _ = el.set_attribute(name, rng.pick(IDS));
        }
        _ => {
            // A personal attribute with a hostile, marked value (a form control's `name` is
            // structural, not personal: left alone).
            let name = rng.pick(&[
                "email",
                "name",
                "data-hovercard-id",
                "data-name",
                "title",
                "aria-label",
                "value",
            ]);
            if !(name == "name" && is_form_control(el)) {
                let _ = el.set_attribute(name, &personal(rng));
            }
        }
    }
}

fn check_people(people: &[Person], seed: u64, what: &str) {
    let mut seen = std::collections::HashSet::new();
    for (i, p) in people.iter().enumerate() {
        assert!(
            !p.address.trim().is_empty(),
            "seed {seed}: {what}: an empty address"
        );
        assert!(
            seen.insert(p.address.trim().to_lowercase()),
            "seed {seed}: {what}: {} twice",
            p.address
        );
        if p.role == Role::From {
            assert_eq!(i, 0, "seed {seed}: {what}: the sender is not first");
        }
    }
    // The chips: every string stays text; no element or attribute comes from one.
    let chips = render_parties(people);
    for el in descendants(&chips) {
        let tag = el.tag_name().to_ascii_lowercase();
        assert!(
            matches!(tag.as_str(), "li" | "span" | "label" | "input" | "button"),
            "seed {seed}: {what}: a <{tag}> in the chips"
        );
        let names = el.get_attribute_names();
        for i in 0..names.length() {
            let name = names.get(i).as_string().unwrap_or_default();
            assert!(
                !name.starts_with("on"),
                "seed {seed}: {what}: an {name} attribute in the chips"
            );
        }
    }
}

fn check_outline(root: &Element, seed: u64) {
    let outline = censored_outline(root);
    assert!(
        !outline.contains(MARK),
        "seed {seed}: the censored outline carries a personal value:\n{}",
        outline
            .lines()
            .filter(|l| l.contains(MARK))
            .take(3)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Reads `root` as the content script does, checking every property.
fn read_all(root: &Element, seed: u64) {
    for el in descendants(root) {
        if !el.matches(".adn").unwrap_or(false) {
            continue;
        }
        if let Some(id) = message_identity(&el) {
            assert!(!id.primary.is_empty(), "seed {seed}: an empty primary id");
            assert!(id.all.contains(&id.primary), "seed {seed}: {id:?}");
            let legacy_ok =
                id.primary.len() <= 16 && id.primary.bytes().all(|b| b.is_ascii_hexdigit());
            let sync_ok = id.primary.starts_with("msg-f:") || id.primary.starts_with("msg-a:r");
            assert!(
                legacy_ok || sync_ok,
                "seed {seed}: primary id {:?}",
                id.primary
            );
            assert!(!id.primary.contains('<'), "seed {seed}: {id:?}");
        }
        let _ = is_expanded(&el);
        check_people(&message_people(&el), seed, "a message");
    }
    for (compose, _kind) in find_composes(&doc()) {
        check_people(&compose_recipients(&compose), seed, "a compose");
    }
    check_outline(root, seed);
}

fn mount(html: &str) -> Element {
    let host = doc().create_element("div").unwrap();
    // Trusted test markup: the captured pages and the test's own templates.
    host.set_inner_html(html);
    doc().body().unwrap().append_child(&host).unwrap();
    host
}

/// Lets the page's event loop run (the test runner talks to the page between cases: a
/// long synchronous loop would look hung to it).
async fn yield_to_the_page() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback(&resolve)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

async fn fuzz(template: &str, salt: u64, cases: u64) {
    install_browser_idna();
    let start = first_seed();
    for case in 0..cases {
        if case % 10 == 9 {
            yield_to_the_page().await;
        }
        let seed = start ^ salt ^ case.wrapping_mul(0x100_0000_01b3);
        let mut rng = Rng(seed);
        let root = mount(template);
        for _ in 0..=rng.below(30) {
            mutate(&mut rng, &root);
        }
        read_all(&root, seed);
        root.remove();
    }
}

#[wasm_bindgen_test]
async fn mutated_threads_read_safely() {
    fuzz(gmail_markup::EXPANDED, 1, cases()).await;
}

#[wasm_bindgen_test]
async fn mutated_compose_windows_read_safely() {
    fuzz(gmail_markup::COMPOSES, 2, cases()).await;
}

#[wasm_bindgen_test]
async fn the_mutated_captured_compose_window_reads_safely() {
    // A quarter of the cases: the captured page is 50 kB of markup.
    fuzz(CAPTURED_COMPOSE, 3, cases().div_ceil(4)).await;
}
