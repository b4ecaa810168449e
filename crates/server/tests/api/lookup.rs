use axum::http::StatusCode;
use serde_json::json;
use threadline_domain::api::{LookupResponse, MatchStatus, MAX_LOOKUP_ADDRESSES};

use crate::common::{ids_of, new_company, TestApp};

/// The result for the address sent as `raw`.
fn result<'a>(
    response: &'a LookupResponse,
    raw: &str,
) -> &'a threadline_domain::api::AddressLookup {
    response
        .results
        .iter()
        .find(|r| r.address == raw)
        .unwrap_or_else(|| panic!("no result for {raw}"))
}

async fn lookup(app: &TestApp, addresses: &[&str]) -> LookupResponse {
    let answer = app
        .post("/api/v1/lookup", json!({ "addresses": addresses }))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    serde_json::from_value(answer.body).expect("a LookupResponse")
}

#[tokio::test]
async fn verdicts_for_a_thread() {
    let app = TestApp::new().await;
    let bob = app
        .contact(
            "Bob",
            "Baker",
            &["Bob@Acme.com"],
            Some(new_company("Acme Inc", Some("acme.com"))),
        )
        .await;
    let s1 = app.contact("Sam", "One", &["shared@acme.com"], None).await;
    let s2 = app
        .contact("Sue", "Two", &["x@elsewhere.org", "shared@acme.com"], None)
        .await;
    let carol = app
        .contact("Carol", "Smith", &["carol.smith@gmail.com"], None)
        .await;

    let addresses = [
        "bob@acme.com",
        " BOB@ACME.COM ",
        "shared@acme.com",
        "nobody@mail.newco.co.uk",
        "ann@ourco.com",
        "ANN.WORK@ourco.io",
        "not an address",
        "carolsmith+lists@googlemail.com",
        "dave@gmail.com",
        "bob+news@acme.com",
        "eve@sales.acme.com",
    ];
    let response = lookup(&app, &addresses).await;
    assert_eq!(response.results.len(), addresses.len());
    // In request order.
    let order: Vec<&str> = response
        .results
        .iter()
        .map(|r| r.address.as_str())
        .collect();
    assert_eq!(order, addresses);

    let known = result(&response, "bob@acme.com");
    assert_eq!(known.status, MatchStatus::Known);
    assert_eq!(known.normalized.as_deref(), Some("bob@acme.com"));
    assert_eq!(known.contacts.len(), 1);
    assert_eq!(
        known.contacts[0].id.to_string(),
        bob["id"].as_str().unwrap()
    );
    assert_eq!(known.contacts[0].primary_email, "bob@acme.com");
    assert_eq!(
        known.contacts[0].company.as_ref().map(|c| c.name.as_str()),
        Some("Acme Inc")
    );
    assert!(known.suggested_company.is_none());

    let shouted = result(&response, " BOB@ACME.COM ");
    assert_eq!(shouted.status, MatchStatus::Known);
    assert_eq!(shouted.normalized.as_deref(), Some("bob@acme.com"));

    let ambiguous = result(&response, "shared@acme.com");
    assert_eq!(ambiguous.status, MatchStatus::Ambiguous);
    let mut ids: Vec<String> = ambiguous
        .contacts
        .iter()
        .map(|c| c.id.to_string())
        .collect();
    ids.sort();
    let mut expected = vec![
        s1["id"].as_str().unwrap().to_string(),
        s2["id"].as_str().unwrap().to_string(),
    ];
    expected.sort();
    assert_eq!(ids, expected);
    // Sue's primary address is her first one, not the matched one.
    let sue = ambiguous
        .contacts
        .iter()
        .find(|c| c.first_name == "Sue")
        .unwrap();
    assert_eq!(sue.primary_email, "x@elsewhere.org");

    let unknown = result(&response, "nobody@mail.newco.co.uk");
    assert_eq!(unknown.status, MatchStatus::Unknown);
    assert!(unknown.contacts.is_empty());
    let suggestion = unknown
        .suggested_company
        .as_ref()
        .expect("a company suggestion");
    assert_eq!(suggestion.domain, "newco.co.uk");
    assert_eq!(suggestion.name, "Newco");
    assert!(suggestion.existing.is_none());

    assert_eq!(result(&response, "ann@ourco.com").status, MatchStatus::Own);
    let alias = result(&response, "ANN.WORK@ourco.io");
    assert_eq!(alias.status, MatchStatus::Own);
    assert!(alias.suggested_company.is_none());

    let invalid = result(&response, "not an address");
    assert_eq!(invalid.status, MatchStatus::Invalid);
    assert!(invalid.normalized.is_none());
    assert!(invalid.error.as_deref().is_some_and(|e| !e.is_empty()));

    // Gmail ignores dots and +tags, and googlemail.com is gmail.com.
    let gmail = result(&response, "carolsmith+lists@googlemail.com");
    assert_eq!(gmail.status, MatchStatus::Known, "{gmail:?}");
    assert_eq!(
        gmail.contacts[0].id.to_string(),
        carol["id"].as_str().unwrap()
    );

    // Free mail never suggests a company.
    let free = result(&response, "dave@gmail.com");
    assert_eq!(free.status, MatchStatus::Unknown);
    assert!(free.suggested_company.is_none());

    // Elsewhere a +tag is only a suggestion, never a match.
    let tagged = result(&response, "bob+news@acme.com");
    assert_eq!(tagged.status, MatchStatus::Unknown);
    assert_eq!(tagged.suggestions.len(), 1);
    assert_eq!(
        tagged.suggestions[0].id.to_string(),
        bob["id"].as_str().unwrap()
    );

    // An existing company with the registrable domain is suggested by name and id.
    let colleague = result(&response, "eve@sales.acme.com");
    assert_eq!(colleague.status, MatchStatus::Unknown);
    let suggestion = colleague.suggested_company.as_ref().expect("suggestion");
    assert_eq!(suggestion.domain, "acme.com");
    assert_eq!(suggestion.name, "Acme Inc");
    assert_eq!(
        suggestion.existing.as_ref().map(|c| c.id.to_string()),
        bob["company"]["id"].as_str().map(str::to_string)
    );
}

#[tokio::test]
async fn empty_and_oversized_batches() {
    let app = TestApp::new().await;
    assert!(lookup(&app, &[]).await.results.is_empty());

    let many: Vec<String> = (0..=MAX_LOOKUP_ADDRESSES)
        .map(|i| format!("p{i}@acme.com"))
        .collect();
    let answer = app
        .post("/api/v1/lookup", json!({ "addresses": many }))
        .await;
    answer.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("addresses"),
    );

    // Exactly the maximum is fine, and all come back.
    let answer = app
        .post("/api/v1/lookup", json!({ "addresses": &many[1..] }))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.body["results"].as_array().map(Vec::len),
        Some(MAX_LOOKUP_ADDRESSES)
    );
}

#[tokio::test]
async fn a_contact_created_with_a_gmail_variant_is_found_by_any_variant() {
    let app = TestApp::new().await;
    let contact = app
        .contact("Dot", "Ted", &["D.O.T+work@GoogleMail.com"], None)
        .await;
    assert_eq!(contact["emails"], json!(["d.o.t+work@googlemail.com"]));
    let response = lookup(&app, &["dot@gmail.com", "d.ot@googlemail.com"]).await;
    for r in &response.results {
        assert_eq!(r.status, MatchStatus::Known, "{r:?}");
        assert_eq!(
            ids_of(&serde_json::to_value(&r.contacts).unwrap()),
            vec![contact["id"].as_str().unwrap()]
        );
    }
}
