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

/// More companies than a list holds: the company is typed by name. One match is the
/// choice; several come back as a list to choose from; none is said at the field; an edit
/// shows the chosen company's name and keeps it.
#[tokio::test]
async fn with_more_companies_than_a_list_holds_the_company_is_typed_by_name() {
    use threadline_crm::records::companies::Company;
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    let ann = site.actor_of(&cookie).await;
    for i in 0..200 {
        support::create::<Company>(
            &site,
            &ann,
            serde_json::json!({"name": format!("Filler {i:03}")}),
        )
        .await;
    }
    let globex =
        support::create::<Company>(&site, &ann, serde_json::json!({"name": "Globex"})).await;
    let east =
        support::create::<Company>(&site, &ann, serde_json::json!({"name": "Initech East"})).await;
    let west =
        support::create::<Company>(&site, &ann, serde_json::json!({"name": "Initech West"})).await;

    let form = site.get("/contacts/new", Some(&cookie)).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(
        form.body
            .contains("id=\"f-company_id\" name=\"company_id\" type=\"text\""),
        "{}",
        form.body
    );
    assert!(
        !form.body.contains("Filler 000"),
        "the companies are not listed"
    );
    assert!(form.body.contains("too many companies to list"));
    let csrf = csrf_of(&form.body);

    // One match: the choice.
    let location = created(
        &site,
        &cookie,
        "/contacts",
        &[
            ("csrf", &csrf),
            ("first_name", "Gina"),
            ("emails", "gina@example.com"),
            ("company_id", "globe"),
        ],
    )
    .await;
    let gina: Contact = edit::get(
        &mut site.db.pool().acquire().await.unwrap(),
        ann.org_id,
        id_in(&location),
    )
    .await
    .unwrap();
    assert_eq!(gina.company.as_ref().map(|c| c.id), Some(globex.id));

    // The edit form shows the name, and saving it unchanged keeps the company.
    let page = site.get(&location, Some(&cookie)).await;
    assert!(
        page.body
            .contains("name=\"company_id\" type=\"text\" value=\"Globex\""),
        "{}",
        page.body
    );
    let saved = site
        .post(
            &format!("/contacts/{}", gina.id),
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("version", "1"),
                ("first_name", "Gina"),
                ("emails", "gina@example.com"),
                ("company_id", "Globex"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);

    // Several: a list of those, refused until one is chosen; nothing is created meanwhile.
    let several = site
        .post(
            "/contacts",
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("first_name", "Ivan"),
                ("emails", "ivan@example.com"),
                ("company_id", "initech"),
            ],
        )
        .await;
    assert_eq!(
        several.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        several.body
    );
    assert!(
        several.body.contains("Several companies match that name"),
        "{}",
        several.body
    );
    for c in [&east, &west] {
        assert!(
            several
                .body
                .contains(&format!("<option value=\"{}\">", c.id)),
            "{}",
            several.body
        );
    }
    assert!(
        several.body.contains("value=\"Ivan\""),
        "the other fields are kept"
    );
    let location = created(
        &site,
        &cookie,
        "/contacts",
        &[
            ("csrf", &csrf),
            ("first_name", "Ivan"),
            ("emails", "ivan@example.com"),
            ("company_id", &west.id.to_string()),
        ],
    )
    .await;
    let ivan: Contact = edit::get(
        &mut site.db.pool().acquire().await.unwrap(),
        ann.org_id,
        id_in(&location),
    )
    .await
    .unwrap();
    assert_eq!(ivan.company.as_ref().map(|c| c.id), Some(west.id));

    // None: said at the field, what was typed kept.
    let none = site
        .post(
            "/contacts",
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("first_name", "Nora"),
                ("emails", "nora@example.com"),
                ("company_id", HOSTILE),
            ],
        )
        .await;
    assert_eq!(
        none.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        none.body
    );
    assert!(
        none.body.contains("No company matches that name"),
        "{}",
        none.body
    );
    assert!(
        none.body.contains(&format!("value=\"{HOSTILE_ESCAPED}\"")),
        "{}",
        none.body
    );
}

/// A meeting's guests, one a line: a guest who is a contact is linked to them (and stays
/// linked when the line is edited), others are shown by name; a bad address is refused at
/// the field and nothing is saved.
#[tokio::test]
async fn a_meetings_guests_are_typed_one_a_line_and_contacts_are_linked() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    let ann = site.actor_of(&cookie).await;
    let carol: Contact = support::create(
        &site,
        &ann,
        serde_json::json!({"first_name": "Carol", "emails": ["Carol@Globex.com"]}),
    )
    .await;
    let form = site.get("/meetings/new", Some(&cookie)).await;
    let csrf = csrf_of(&form.body);
    let guests = format!("\"Carol C\" <carol@globex.com>\n{HOSTILE} <zed@else.example>\n");
    let at = created(
        &site,
        &cookie,
        "/meetings",
        &[
            ("csrf", &csrf),
            ("title", "Kick-off"),
            ("start_at", "2026-06-01T09:00:00Z"),
            ("end_at", "2026-06-01T10:00:00Z"),
            ("time_zone", "UTC"),
            ("attendees", &guests),
        ],
    )
    .await;
    let mut conn = site.db.pool().acquire().await.unwrap();
    let meeting: Meeting = edit::get(&mut conn, ann.org_id, id_in(&at)).await.unwrap();
    let found: Vec<(&str, Option<&str>, Option<uuid::Uuid>)> = meeting
        .attendees
        .iter()
        .map(|a| (a.address.as_str(), a.name.as_deref(), a.contact_id))
        .collect();
    assert_eq!(
        found,
        vec![
            ("carol@globex.com", Some("Carol C"), Some(carol.id)),
            ("zed@else.example", Some(HOSTILE), None),
        ]
    );
    let page = site.get(&at, Some(&cookie)).await;
    assert!(
        page.body
            .contains(&format!("href=\"/contacts/{}\"", carol.id)),
        "{}",
        page.body
    );
    assert!(page.body.contains(HOSTILE_ESCAPED), "{}", page.body);
    assert!(!page.body.contains("<img src=x"), "{}", page.body);

    // Renamed on its line: still Carol's.
    let saved = site
        .post(
            at.split('?').next().unwrap(),
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("version", "1"),
                ("title", "Kick-off"),
                ("start_at", "2026-06-01T09:00:00Z"),
                ("end_at", "2026-06-01T10:00:00Z"),
                ("time_zone", "UTC"),
                ("attendees", "Carol Chen <carol@globex.com>"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let meeting: Meeting = edit::get(&mut conn, ann.org_id, meeting.id).await.unwrap();
    assert_eq!(meeting.attendees.len(), 1);
    assert_eq!(meeting.attendees[0].name.as_deref(), Some("Carol Chen"));
    assert_eq!(meeting.attendees[0].contact_id, Some(carol.id));

    // Not an address: refused at the field, nothing saved.
    let refused = site
        .post(
            at.split('?').next().unwrap(),
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("version", "2"),
                ("title", "Kick-off"),
                ("start_at", "2026-06-01T09:00:00Z"),
                ("end_at", "2026-06-01T10:00:00Z"),
                ("time_zone", "UTC"),
                ("attendees", "Carol Chen <carol@globex.com>\nnot an address"),
            ],
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("id=\"f-attendees-error\""),
        "{}",
        refused.body
    );
    let meeting: Meeting = edit::get(&mut conn, ann.org_id, meeting.id).await.unwrap();
    assert_eq!(meeting.attendees.len(), 1);
}
