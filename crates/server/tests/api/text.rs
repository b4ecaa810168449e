//! Names and text: the one character rule of every record text field
//! (`threadline_domain::text`, applied by `threadline_crm::validate`), and search queries.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::TestApp;
use crate::records::{create, send_v};

/// The record types (their tables have the same names).
const COLLECTIONS: [&str; 6] = [
    "companies",
    "contacts",
    "projects",
    "products",
    "tasks",
    "meetings",
];

/// A valid body of each record type, to put one bad field into.
fn sample(collection: &str) -> Value {
    match collection {
        "companies" => json!({"name": "Acme"}),
        "contacts" => json!({"first_name": "Bob", "emails": ["bob@acme.example"]}),
        "projects" => json!({"name": "P"}),
        "products" => json!({"name": "W"}),
        "tasks" => json!({"title": "T"}),
        "meetings" => {
            json!({"title": "M", "all_day": true, "start_date": "2026-01-01", "end_date": "2026-01-02"})
        }
        other => panic!("no sample for {other}"),
    }
}

/// Every text field of every record type: (collection, JSON pointer, the error's field,
/// whether it is multi-line).
const FIELDS: &[(&str, &str, &str, bool)] = &[
    ("companies", "/name", "name", false),
    ("companies", "/address", "address", true),
    ("contacts", "/first_name", "first_name", false),
    ("contacts", "/last_name", "last_name", false),
    ("contacts", "/job_title", "job_title", false),
    ("contacts", "/notes", "notes", true),
    ("contacts", "/company/name", "company.name", false),
    ("contacts", "/phones/0/label", "phones[0].label", false),
    ("projects", "/name", "name", false),
    ("projects", "/description", "description", true),
    ("products", "/name", "name", false),
    ("products", "/code", "code", false),
    ("products", "/description", "description", true),
    ("tasks", "/title", "title", false),
    ("tasks", "/description", "description", true),
    ("meetings", "/title", "title", false),
    ("meetings", "/location", "location", false),
    ("meetings", "/description", "description", true),
    ("meetings", "/attendees/0/name", "attendees[0].name", false),
];

/// `body` with `value` at `pointer` (creating the object or one-item array on the way).
fn with_field(mut body: Value, pointer: &str, value: &str) -> Value {
    match pointer {
        "/company/name" => body["company"] = json!({"kind": "new", "name": value}),
        "/phones/0/label" => {
            body["phones"] = json!([{"number": "+31 20 555 0100", "label": value}])
        }
        "/attendees/0/name" => {
            body["attendees"] = json!([{"address": "eve@acme.example", "name": value}])
        }
        _ => body[&pointer[1..]] = json!(value),
    }
    body
}

#[tokio::test]
async fn record_text_fields_refuse_controls_and_bidi_overrides() {
    let app = TestApp::new().await;
    let bad = [
        ('\0', "U+0000 (NULL)"),
        ('\u{1b}', "U+001B (ESCAPE)"),
        ('\u{7f}', "U+007F (DELETE)"),
        ('\u{9b}', "U+009B (CONTROL SEQUENCE INTRODUCER)"),
        ('\u{202e}', "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ('\u{2066}', "U+2066 (LEFT-TO-RIGHT ISOLATE)"),
        ('\u{feff}', "U+FEFF (BYTE ORDER MARK)"),
    ];
    for (collection, pointer, field, multi_line) in FIELDS {
        let mut values: Vec<(String, &str)> = bad
            .iter()
            .map(|(c, named)| (format!("A{c}[31mB"), *named))
            .collect();
        if !multi_line {
            values.push(("two\nlines".into(), "U+000A (LINE FEED)"));
            values.push(("a\tb".into(), "U+0009 (CHARACTER TABULATION)"));
        } else {
            values.push(("lone\rreturn".into(), "U+000D (CARRIAGE RETURN)"));
        }
        for (value, named) in values {
            let body = with_field(sample(collection), pointer, &value);
            let answer = app.post(&format!("/api/v1/{collection}"), body).await;
            answer.assert_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                Some(field),
            );
            let expected = format!("{field} contains {named}, which is not allowed");
            assert!(
                answer.message().starts_with(&expected),
                "{collection} {field} {value:?}: {}",
                answer.message()
            );
        }
    }
    for table in COLLECTIONS {
        assert_eq!(
            app.count(table).await,
            0,
            "{table}: nothing refused is stored"
        );
    }
}

#[tokio::test]
async fn multi_line_fields_keep_line_breaks_and_tabs_and_every_script_is_welcome() {
    let app = TestApp::new().await;
    let multi = "first line\r\nsecond\n\tindented";
    // Right-to-left text with its marks, emoji joined by ZWJ, accents, CJK.
    let name = "Zoë 李 שלום\u{200f} 👩\u{200d}💻";
    for (collection, pointer, _, multi_line) in FIELDS {
        let value = if *multi_line { multi } else { name };
        let body = with_field(sample(collection), pointer, value);
        let created = create(&app, collection, body).await;
        let id = created["id"].as_str().unwrap();
        let stored = app.get(&format!("/api/v1/{collection}/{id}")).await.body;
        let got = stored.pointer(pointer).cloned().unwrap_or(Value::Null);
        assert_eq!(got, json!(value), "{collection} {pointer}: {stored}");
    }
}

#[tokio::test]
async fn updates_apply_the_rule_and_old_data_is_kept_until_then() {
    let app = TestApp::new().await;
    let acme = create(&app, "companies", json!({"name": "Acme"})).await;
    let path = format!("/api/v1/companies/{}", acme["id"].as_str().unwrap());
    // A write at version 1, refused at `name`.
    let refused = |method: Method, body: Value| {
        let (app, path) = (&app, &path);
        async move {
            send_v(app, method, path, Some(body), Some(1))
                .await
                .assert_error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_field",
                    Some("name"),
                );
        }
    };
    for method in [Method::PATCH, Method::PUT] {
        refused(method, json!({"name": "Acme\u{202e}cod.exe"})).await;
    }
    // A name stored before the rule is answered as stored; the next write must fix it.
    sqlx::query("UPDATE companies SET name = $1 WHERE id = $2")
        .bind("Old\u{202e}name")
        .bind(acme["id"].as_str().unwrap())
        .execute(app.pool())
        .await
        .unwrap();
    assert_eq!(app.get(&path).await.body["name"], "Old\u{202e}name");
    refused(Method::PATCH, json!({"address": "Main St 1"})).await;
    let fixed = send_v(
        &app,
        Method::PATCH,
        &path,
        Some(json!({"name": "Old name", "address": "Main St 1"})),
        Some(1),
    )
    .await;
    assert_eq!(fixed.status, StatusCode::OK, "{}", fixed.body);
    assert_eq!(fixed.body["name"], "Old name");
}

#[tokio::test]
async fn a_search_with_a_control_character_is_400() {
    let app = TestApp::new().await;
    for collection in COLLECTIONS {
        create(&app, collection, sample(collection)).await;
        for q in [
            "%00",
            "a%00",
            "%1B%5B2J",
            "%C2%9B",
            "%E2%80%AE",
            "a%09b",
            "a%0Ab",
        ] {
            let answer = app.get(&format!("/api/v1/{collection}?q={q}")).await;
            answer.assert_error(StatusCode::BAD_REQUEST, "invalid_query", Some("q"));
            assert!(
                answer.message().starts_with("q contains U+"),
                "{collection} {q}: {}",
                answer.message()
            );
        }
    }
    // Surrounding whitespace is trimmed, as before: a pasted line still searches.
    let found = app.get("/api/v1/companies?q=Acme%0A").await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    assert_eq!(found.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn search_wildcards_are_literal() {
    let app = TestApp::new().await;
    let names = [
        "50% off",
        "50 percent",
        "a_b",
        "axb",
        "back\\slash",
        "backXslash",
    ];
    for collection in COLLECTIONS {
        for (i, name) in names.into_iter().enumerate() {
            let body = match collection {
                "contacts" => json!({"first_name": name, "emails": [format!("p{i}@acme.example")]}),
                "tasks" | "meetings" => with_field(sample(collection), "/title", name),
                _ => with_field(sample(collection), "/name", name),
            };
            create(&app, collection, body).await;
        }
        let key = match collection {
            "tasks" | "meetings" => "title",
            "contacts" => "first_name",
            _ => "name",
        };
        for (q, expected) in [
            ("50%25", "50% off"),
            ("a_b", "a_b"),
            ("k%5Cs", "back\\slash"),
        ] {
            let items =
                crate::records::all_pages(&app, &format!("/api/v1/{collection}?q={q}"), 50).await;
            let found: Vec<&str> = items.iter().map(|i| i[key].as_str().unwrap()).collect();
            assert_eq!(found, [expected], "{collection} q={q}");
        }
    }
}
