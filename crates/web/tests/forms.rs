//! The record forms with every field the model has, on a real database (SQLite, or
//! PostgreSQL with `THREADLINE_TEST_DATABASE_URL`): a contact's phones with their labels, a
//! product's price in its currency, an all-day meeting; the model's checks, hostile values
//! shown escaped.

mod support;

use axum::http::StatusCode;
use support::{csrf_of, set_up, Site};
use threadline_crm::records::contacts::Contact;
use threadline_crm::records::edit;
use threadline_crm::records::meetings::Meeting;
use threadline_crm::records::products::{Price, Product};

/// (A right-to-left override in a label is the model's to refuse, and it does.)
const HOSTILE: &str = "<img src=x onerror=alert(1)>\"'&";
const HOSTILE_ESCAPED: &str = "&#60;img src=x onerror=alert(1)&#62;&#34;&#39;&#38;";

/// Posts a new record's form: where it went (its page).
async fn created(site: &Site, cookie: &str, path: &str, form: &[(&str, &str)]) -> String {
    let answer = site.post(path, Some(cookie), form).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    answer.location.unwrap()
}

fn id_in(location: &str) -> uuid::Uuid {
    let id = location
        .split('/')
        .nth(2)
        .unwrap()
        .split('?')
        .next()
        .unwrap();
    id.parse().unwrap()
}

#[tokio::test]
async fn phones_price_and_all_day_meetings_are_saved_through_the_forms() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    let actor = site.actor_of(&cookie).await;
    let csrf = csrf_of(&site.get("/contacts/new", Some(&cookie)).await.body);
    let mut conn = site.db.pool().acquire().await.unwrap();

    let phones = format!("Mobile: +31 6 1234 5678\n+31 20 123 4567\n{HOSTILE}: 112");
    let at = created(
        &site,
        &cookie,
        "/contacts",
        &[
            ("csrf", &csrf),
            ("first_name", "Pat"),
            ("emails", "pat@example.com"),
            ("phones", &phones),
        ],
    )
    .await;
    let contact: Contact = edit::get(&mut conn, actor.org_id, id_in(&at))
        .await
        .unwrap();
    let saved: Vec<(Option<&str>, &str)> = contact
        .phones
        .iter()
        .map(|p| (p.label.as_deref(), p.number.as_str()))
        .collect();
    assert_eq!(
        saved,
        [
            (Some("Mobile"), "+31 6 1234 5678"),
            (None, "+31 20 123 4567"),
            (Some(HOSTILE), "112")
        ]
    );
    let page = site.get(&at, Some(&cookie)).await;
    assert!(
        page.body.contains("Mobile: +31 6 1234 5678"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(&format!("{HOSTILE_ESCAPED}: 112")),
        "{}",
        page.body
    );
    assert!(!page.body.contains(HOSTILE));

    let form = [
        ("csrf", csrf.as_str()),
        ("name", "Widget"),
        ("price", "12,50 eur"),
    ];
    let at = created(&site, &cookie, "/products", &form).await;
    let product: Product = edit::get(&mut conn, actor.org_id, id_in(&at))
        .await
        .unwrap();
    let euros = Price {
        amount_minor: 1250,
        currency: "EUR".into(),
    };
    assert_eq!(product.price, Some(euros));
    let page = site.get(&at, Some(&cookie)).await;
    assert!(page.body.contains(r#"value="12.50 EUR""#), "{}", page.body);
    // Not a price: refused at its field, nothing saved.
    let form = [
        ("csrf", csrf.as_str()),
        ("name", "Gadget"),
        ("price", "twelve"),
    ];
    let refused = site.post("/products", Some(&cookie), &form).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains(r#"id="f-price-error""#),
        "{}",
        refused.body
    );

    let form = [
        ("csrf", csrf.as_str()),
        ("title", "Offsite"),
        ("all_day", "on"),
        ("start_date", "2026-06-01"),
        ("end_date", "2026-06-03"),
    ];
    let at = created(&site, &cookie, "/meetings", &form).await;
    let meeting: Meeting = edit::get(&mut conn, actor.org_id, id_in(&at))
        .await
        .unwrap();
    assert!(meeting.all_day);
    assert_eq!(meeting.start_date.unwrap().to_string(), "2026-06-01");
    assert_eq!(meeting.end_date.unwrap().to_string(), "2026-06-03");
    let page = site.get(&at, Some(&cookie)).await;
    assert!(page.body.contains("1 June 2026"), "{}", page.body);
    assert!(
        page.body.contains(r#"type="checkbox" checked"#),
        "{}",
        page.body
    );
    // The model's rule: the end comes after the start.
    let form = [
        ("csrf", csrf.as_str()),
        ("title", "Backwards"),
        ("all_day", "on"),
        ("start_date", "2026-06-03"),
        ("end_date", "2026-06-01"),
    ];
    let refused = site.post("/meetings", Some(&cookie), &form).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains(r#"id="f-end_date-error""#),
        "{}",
        refused.body
    );
}
