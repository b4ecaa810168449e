//! The DOM adapter in a real browser (wasm-bindgen-test, headless Chromium): reading Gmail's
//! structure through the selector chains, and rendering hostile strings as inert text.
#![cfg(target_arch = "wasm32")]

use threadline_extension::testing::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Document, Element};

wasm_bindgen_test_configure!(run_in_browser);

#[path = "support/gmail_markup.rs"]
mod gmail_markup;
use gmail_markup::{COMPOSES, EXPANDED};

fn doc() -> Document {
    web_sys::window().unwrap().document().unwrap()
}

/// Builds a fixture subtree from trusted test markup and attaches it to the body.
fn mount(html: &str) -> Element {
    let host = doc().create_element("div").unwrap();
    host.set_inner_html(html);
    doc().body().unwrap().append_child(&host).unwrap();
    host
}

fn first(root: &Element, sel: &str) -> Element {
    root.query_selector(sel)
        .unwrap()
        .unwrap_or_else(|| panic!("fixture has {sel}"))
}

#[wasm_bindgen_test]
fn reads_an_expanded_message() {
    let root = mount(EXPANDED);
    let message = first(&root, ".h7 .adn");
    let id = message_identity(&message).expect("ids");
    assert_eq!(id.primary, "163d03bfda277ec1");
    assert!(id.all.contains(&"msg-f:1602441164947422913".to_string()));
    assert!(is_expanded(&message));
    let people = message_people(&message);
    // The sender first; the repeated address (other case) appears once.
    let addresses: Vec<&str> = people.iter().map(|p| p.address.as_str()).collect();
    assert_eq!(
        addresses,
        [
            "Ann.Lee@Acme.example",
            "owner@example.com",
            "bob@globex.example"
        ]
    );
    assert_eq!(people[0].role, Role::From);
    assert_eq!(people[0].name.as_deref(), Some("Ann Lee"));
    assert_eq!(people[2].role, Role::To);
    root.remove();
}

#[wasm_bindgen_test]
fn a_collapsed_message_is_not_expanded() {
    let root = mount(EXPANDED);
    let collapsed = first(&root, ".kv .adn");
    assert!(!is_expanded(&collapsed));
    root.remove();
}

/// The account's `ik` is read from the text of Gmail's inline GLOBALS script (the content
/// script cannot read the page's variables), not from any other script.
#[wasm_bindgen_test]
fn reads_the_ik_from_the_inline_globals_script() {
    let head = doc().body().unwrap();
    let decoy = doc().create_element("script").unwrap();
    decoy.set_text_content(Some("var OTHER=[0,1,2,3,4,5,6,7,8,\"nope\",10];"));
    head.append_child(&decoy).unwrap();
    let before = page_ik(&doc());
    let globals = doc().create_element("script").unwrap();
    globals.set_attribute("type", "text/plain").unwrap(); // inert here; Gmail's runs
    globals.set_text_content(Some(
        r#"var GLOBALS=[null,null,0,"","gmail_fe.en.0",null,null,null,null,"5f2a9c1e07","owner@example.com"];"#,
    ));
    head.append_child(&globals).unwrap();
    let found = page_ik(&doc());
    globals.remove();
    decoy.remove();
    assert_eq!(before, None);
    assert_eq!(found.as_deref(), Some("5f2a9c1e07"));
}

#[wasm_bindgen_test]
fn finds_compose_windows_and_their_recipients() {
    let root = mount(COMPOSES);
    let composes = find_composes(&doc());
    let kinds: Vec<ComposeKind> = composes.iter().map(|(_, k)| *k).collect();
    assert_eq!(
        kinds,
        [
            ComposeKind::Popup,
            ComposeKind::Fullscreen,
            ComposeKind::Inline
        ]
    );

    let new_ui = compose_recipients(&composes[0].0);
    let got: Vec<(&str, Role)> = new_ui
        .iter()
        .map(|p| (p.address.as_str(), p.role))
        .collect();
    assert_eq!(
        got,
        [
            ("ann@acme.example", Role::To),
            ("bob@globex.example", Role::To),
            ("cc@acme.example", Role::Cc)
        ]
    );
    assert_eq!(new_ui[2].name, None);

    let old_ui = compose_recipients(&composes[1].0);
    assert_eq!(old_ui.len(), 1);
    assert_eq!(old_ui[0].address, "ann@acme.example");
    assert_eq!(old_ui[0].name.as_deref(), Some("Lee, Ann"));
    root.remove();
}

#[wasm_bindgen_test]
fn censored_outline_keeps_structure_not_content() {
    let root = mount(EXPANDED);
    let outline = censored_outline(&root);
    assert!(outline.contains("class=\"adn ads\""), "{outline}");
    assert!(outline.contains("email=\"…\""));
    for secret in [
        "Ann.Lee@Acme.example",
        // The sender's `name` attribute (found by the DOM fuzzing: it was kept).
        "Ann Lee",
        "Hello",
        "163d03bfda277ec1",
        "Nov 21",
    ] {
        assert!(
            !outline.contains(secret),
            "outline leaks {secret}: {outline}"
        );
    }
    root.remove();
}

#[wasm_bindgen_test]
fn hostile_names_render_as_text() {
    let hostile = [
        "<img src=x onerror=\"document.title='PWNED'\">",
        "\"><svg onload=alert(1)>",
        "javascript:alert(1)",
        "\u{202E}moc.live@evil",
        &"A".repeat(10_000),
    ];
    let people: Vec<Person> = hostile
        .iter()
        .enumerate()
        .map(|(i, name)| Person {
            address: format!("p{i}@acme.example"),
            name: Some(name.to_string()),
            role: Role::To,
        })
        .collect();
    let list = render_parties(&people);
    doc().body().unwrap().append_child(&list).unwrap();
    // No element other than the ones the renderer makes, and every name intact as text.
    let imgs = list
        .query_selector_all("img, svg, script, a")
        .unwrap()
        .length();
    assert_eq!(imgs, 0);
    let names = list.query_selector_all(".name").unwrap();
    assert_eq!(names.length() as usize, hostile.len());
    for (i, name) in hostile.iter().enumerate() {
        let el: Element = names.item(i as u32).unwrap().dyn_into().unwrap();
        assert_eq!(el.text_content().unwrap(), *name);
    }
    assert_ne!(doc().title(), "PWNED");
    list.remove();
}

#[wasm_bindgen_test]
fn international_domains_use_the_browsers_uts46() {
    install_browser_idna();
    use threadline_domain::address::EmailAddress;
    let cases = [
        (
            "juergen@bücher.example",
            Some("juergen@xn--bcher-kva.example"),
        ),
        ("Ann@BÜCHER.example", Some("ann@xn--bcher-kva.example")),
        ("ann@acme。example", Some("ann@acme.example")),
        ("ann@bü/cher.example", None),
        (
            "ann@xn--bcher-kva.example",
            Some("ann@xn--bcher-kva.example"),
        ),
    ];
    for (input, expected) in cases {
        let got = EmailAddress::parse(input).ok().map(|a| a.to_string());
        assert_eq!(got.as_deref(), expected, "{input}");
    }
}

#[wasm_bindgen_test]
fn every_gmail_selector_parses() {
    // An invalid selector makes querySelector throw; a chain would then skip its row
    // silently and the watcher would see nothing.
    for (name, selector) in all_gmail_selectors() {
        assert!(
            doc().query_selector(selector).is_ok(),
            "{name}: {selector:?} does not parse"
        );
    }
}
