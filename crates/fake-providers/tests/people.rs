//! The fake People API v1 driven over real HTTP with reqwest, as Threadline's contacts export
//! would drive Google's.

use std::time::Duration;

use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use threadline_fake_providers::google::{GoogleFault, OAuthClient, RateLimitReason};
use threadline_fake_providers::{FakeProviders, Fault, FaultRule, Times};

const ME: &str = "ann@example.com";
const OTHER: &str = "bob@example.com";
const CLIENT_ID: &str = "cid.apps.googleusercontent.com";
const FIELDS: &str = "names,emailAddresses,phoneNumbers,addresses,organizations,urls,biographies,clientData,memberships,userDefined,photos,metadata";

struct Setup {
    fake: FakeProviders,
    http: Client,
    token: String,
}

async fn setup() -> Setup {
    let fake = FakeProviders::start().await;
    let google = fake.google();
    google.add_user(ME);
    google.add_user(OTHER);
    google.add_client(OAuthClient {
        client_id: CLIENT_ID.into(),
        client_secret: "s3cret".into(),
        redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
    });
    let token = google
        .issue_tokens(CLIENT_ID, ME, &["contacts"])
        .access_token;
    Setup {
        fake,
        http: Client::new(),
        token,
    }
}

impl Setup {
    async fn call_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.fake.base_url()))
            .bearer_auth(token)
            .query(query);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("an answer");
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_as(&self.token, method, path, query, body).await
    }

    async fn create(&self, person: Value) -> Value {
        let (status, body) = self
            .call(
                Method::POST,
                "/v1/people:createContact",
                &[("personFields", FIELDS)],
                Some(person),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn get(&self, resource_name: &str) -> (StatusCode, Value) {
        self.call(
            Method::GET,
            &format!("/v1/{resource_name}"),
            &[("personFields", FIELDS)],
            None,
        )
        .await
    }

    async fn update(&self, person: &Value, fields: &str) -> (StatusCode, Value) {
        let name = person["resourceName"].as_str().unwrap();
        self.call(
            Method::PATCH,
            &format!("/v1/{name}:updateContact"),
            &[("updatePersonFields", fields), ("personFields", FIELDS)],
            Some(person.clone()),
        )
        .await
    }

    async fn delete(&self, resource_name: &str) -> (StatusCode, Value) {
        let path = format!("/v1/{resource_name}:deleteContact");
        self.call(Method::DELETE, &path, &[], None).await
    }

    /// One page of `people/me/connections`.
    async fn connections(&self, query: &[(&str, &str)]) -> (StatusCode, Value) {
        self.connections_as(&self.token, query).await
    }

    async fn connections_as(&self, token: &str, query: &[(&str, &str)]) -> (StatusCode, Value) {
        self.call_as(token, Method::GET, "/v1/people/me/connections", query, None)
            .await
    }

    /// Pages connections until the end; returns the people, the sync token and the pages.
    async fn list_all(&self, extra: &[(&str, &str)]) -> (Vec<Value>, Option<String>, usize) {
        let mut people = Vec::new();
        let mut page_token: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut query = vec![("personFields", "names,metadata")];
            query.extend_from_slice(extra);
            if let Some(token) = &page_token {
                query.push(("pageToken", token));
            }
            let (status, page) = self
                .call(Method::GET, "/v1/people/me/connections", &query, None)
                .await;
            assert_eq!(status, StatusCode::OK, "{page}");
            pages += 1;
            people.extend(page["connections"].as_array().cloned().unwrap_or_default());
            match page["nextPageToken"].as_str() {
                Some(token) => {
                    assert!(page.get("nextSyncToken").is_none(), "only on the last page");
                    page_token = Some(token.to_string());
                }
                None => {
                    return (
                        people,
                        page["nextSyncToken"].as_str().map(str::to_string),
                        pages,
                    )
                }
            }
        }
    }
}

/// Asserts Google's google.rpc error shape: code, status, and the message if given.
fn assert_rpc(status: StatusCode, body: &Value, want: u16, rpc: &str, message: Option<&str>) {
    assert_eq!(status.as_u16(), want, "{body}");
    assert_eq!(body["error"]["code"], want, "{body}");
    assert_eq!(body["error"]["status"], rpc, "{body}");
    assert!(
        body["error"].get("errors").is_none(),
        "no v1 errors[]: {body}"
    );
    if let Some(message) = message {
        assert_eq!(body["error"]["message"], message, "{body}");
    }
}

fn error_info_reason(body: &Value) -> Option<&str> {
    body["error"]["details"]
        .as_array()?
        .iter()
        .find(|d| d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo")?["reason"]
        .as_str()
}

fn ann(n: usize) -> Value {
    json!({
        "names": [{"givenName": format!("Ann{n}"), "familyName": "Smith"}],
        "emailAddresses": [{"value": format!("ann{n}@acme.test"), "type": "work"}],
        "clientData": [{"key": "threadline.id", "value": format!("crm-{n}")}],
    })
}

const STALE: &str = "Request person.etag is different than the current person.etag. Clear local cache and get the latest person.";

#[tokio::test]
async fn a_contact_is_created_read_updated_with_the_etag_check_and_deleted() {
    let s = setup().await;
    let created = s
        .create(json!({
            "names": [{"givenName": "Ann", "familyName": "Smith"}],
            "emailAddresses": [{"value": "ann@acme.test", "type": "work"}],
            "phoneNumbers": [{"value": "+32 2 123 45 67", "type": "mobile"}],
            "addresses": [{"streetAddress": "Rue 1", "city": "Brussels", "type": "work", "formattedValue": "Rue 1, Brussels"}],
            "organizations": [{"name": "Acme", "title": "CTO", "type": "work", "current": true}],
            "urls": [{"value": "https://acme.test", "type": "work"}],
            "biographies": [{"value": "Met at FOSDEM", "contentType": "TEXT_PLAIN"}],
            "clientData": [{"key": "threadline.id", "value": "crm-1"}],
            "userDefined": [{"key": "tier", "value": "gold"}],
        }))
        .await;
    let name = created["resourceName"].as_str().unwrap().to_string();
    let id = name.strip_prefix("people/c").expect("people/c<digits>");
    assert!(
        !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()),
        "{name}"
    );
    assert_eq!(created["names"][0]["displayName"], "Ann Smith");
    assert_eq!(created["names"][0]["metadata"]["primary"], true);
    assert_eq!(created["names"][0]["metadata"]["source"]["type"], "CONTACT");
    assert_eq!(created["emailAddresses"][0]["formattedType"], "Work");
    assert_eq!(created["organizations"][0]["current"], true);
    let source = &created["metadata"]["sources"][0];
    assert_eq!(source["type"], "CONTACT");
    assert!(
        source["etag"].is_string() && source["updateTime"].is_string() && source["id"].is_string()
    );
    assert_eq!(
        created["memberships"][0]["contactGroupMembership"],
        json!({"contactGroupId": "myContacts", "contactGroupResourceName": "contactGroups/myContacts"}),
        "a new contact is in My Contacts"
    );

    // personFields is required on get.
    let (status, body) = s.call(Method::GET, &format!("/v1/{name}"), &[], None).await;
    assert_rpc(status, &body, 400, "INVALID_ARGUMENT", None);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("personFields mask is required"));
    let (status, body) = s
        .call(
            Method::GET,
            &format!("/v1/{name}"),
            &[("personFields", "nope")],
            None,
        )
        .await;
    assert_rpc(status, &body, 400, "INVALID_ARGUMENT", None);
    // Only the masked fields come back.
    let (status, only_names) = s
        .call(
            Method::GET,
            &format!("/v1/{name}"),
            &[("personFields", "names")],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(only_names.get("emailAddresses").is_none() && only_names.get("metadata").is_none());
    assert_eq!(only_names["etag"], created["etag"]);

    // A photo set in Google Contacts is kept by updates (photos are output-only).
    s.fake
        .google()
        .set_contact_photo(ME, &name, "https://lh3.example/photo.jpg");
    let (_, current) = s.get(&name).await;
    assert_ne!(
        current["etag"], created["etag"],
        "a new etag on every write"
    );

    // The stale etag is refused; nothing changes.
    let mut edit = created.clone();
    edit["emailAddresses"] = json!([{"value": "ann@new.test", "type": "home"}]);
    let (status, body) = s.update(&edit, "emailAddresses").await;
    assert_rpc(status, &body, 400, "FAILED_PRECONDITION", Some(STALE));
    // Without any etag: 400.
    let mut no_etag = edit.clone();
    no_etag.as_object_mut().unwrap().remove("etag");
    no_etag.as_object_mut().unwrap().remove("metadata");
    let (status, body) = s.update(&no_etag, "emailAddresses").await;
    assert_rpc(status, &body, 400, "INVALID_ARGUMENT", None);

    // With the current etag, only the named fields are replaced.
    let mut edit = current.clone();
    edit["emailAddresses"] = json!([{"value": "ann@new.test", "type": "home"}]);
    edit["names"] = json!([{"givenName": "Ignored"}]);
    edit.as_object_mut().unwrap().remove("phoneNumbers");
    let (status, updated) = s.update(&edit, "emailAddresses,phoneNumbers").await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["emailAddresses"][0]["value"], "ann@new.test");
    assert!(
        updated.get("phoneNumbers").is_none(),
        "a masked field left out is cleared"
    );
    assert_eq!(
        updated["names"][0]["givenName"], "Ann",
        "not in the mask: kept"
    );
    assert_eq!(updated["photos"][0]["url"], "https://lh3.example/photo.jpg");
    assert_eq!(updated["organizations"][0]["name"], "Acme");
    assert_ne!(updated["etag"], current["etag"]);
    // The source etag is accepted as well (the document's `metadata.sources.etag`).
    let mut by_source = updated.clone();
    by_source.as_object_mut().unwrap().remove("etag");
    by_source["urls"] = json!([]);
    let (status, body) = s.update(&by_source, "urls").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("urls").is_none());

    // updatePersonFields is required and limited to the contact's fields.
    let (status, body) = s.update(&body, "").await;
    assert_rpc(status, &body, 400, "INVALID_ARGUMENT", None);
    let (_, latest) = s.get(&name).await;
    let (status, body) = s.update(&latest, "photos").await;
    assert_rpc(status, &body, 400, "INVALID_ARGUMENT", None);
    // Memberships may not be emptied.
    let mut no_groups = latest.clone();
    no_groups["memberships"] = json!([]);
    let (status, body) = s.update(&no_groups, "memberships").await;
    assert_rpc(status, &body, 400, "INVALID_ARGUMENT", None);

    // Delete: {} then 404.
    let (status, body) = s.delete(&name).await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));
    let (status, body) = s.get(&name).await;
    assert_rpc(status, &body, 404, "NOT_FOUND", None);
    let (status, body) = s.delete(&name).await;
    assert_rpc(status, &body, 404, "NOT_FOUND", None);
}

#[tokio::test]
async fn requests_google_would_refuse_are_refused() {
    let s = &setup().await;
    let create = |person: Value| async move {
        s.call(
            Method::POST,
            "/v1/people:createContact",
            &[("personFields", "names")],
            Some(person),
        )
        .await
    };
    // An unknown name, at the top and nested.
    let (status, body) = create(json!({"names": [{"givenName": "A"}], "nickname": "x"})).await;
    assert_rpc(
        status,
        &body,
        400,
        "INVALID_ARGUMENT",
        Some("Invalid JSON payload received. Unknown name \"nickname\": Cannot find field."),
    );
    assert_eq!(
        body["error"]["details"][0]["@type"],
        "type.googleapis.com/google.rpc.BadRequest"
    );
    let (status, body) =
        create(json!({"emailAddresses": [{"value": "a@b.c", "label": "x"}]})).await;
    assert_rpc(
        status,
        &body,
        400,
        "INVALID_ARGUMENT",
        Some("Invalid JSON payload received. Unknown name \"label\" at 'email_addresses[0]': Cannot find field."),
    );
    // A wrong type.
    let (status, body) = create(json!({"names": {"givenName": "A"}})).await;
    assert_rpc(status, &body, 400, "INVALID_ARGUMENT", None);
    // Singletons: two biographies, two names.
    let (status, body) = create(json!({"biographies": [{"value": "a"}, {"value": "b"}]})).await;
    assert_rpc(status, &body, 400, "INVALID_ARGUMENT", None);
    let (status, body) = create(json!({"names": [{"givenName": "a"}, {"givenName": "b"}]})).await;
    assert_rpc(status, &body, 400, "INVALID_ARGUMENT", None);
    // An unknown query parameter.
    let (status, body) = s
        .call(
            Method::POST,
            "/v1/people:createContact",
            &[("personFields", "names"), ("bogus", "1")],
            Some(json!({})),
        )
        .await;
    assert_rpc(status, &body, 400, "INVALID_ARGUMENT", None);
    // A group that does not exist.
    let (status, body) = create(json!({"memberships": [{"contactGroupMembership": {"contactGroupResourceName": "contactGroups/nope"}}]})).await;
    assert_rpc(status, &body, 400, "INVALID_ARGUMENT", None);
    assert!(
        s.fake.google().people_contacts(ME).is_empty(),
        "nothing was created"
    );
}

#[tokio::test]
async fn tokens_accounts_and_scopes() {
    let s = setup().await;
    let (status, body) = s.connections_as("nope", &[("personFields", "names")]).await;
    assert_rpc(status, &body, 401, "UNAUTHENTICATED", None);
    s.create(ann(1)).await;
    // Bob has his own book.
    let bob = s
        .fake
        .google()
        .issue_tokens(CLIENT_ID, OTHER, &["contacts"])
        .access_token;
    let (status, body) = s.connections_as(&bob, &[("personFields", "names")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("connections").is_none(), "{body}");
    assert_eq!(s.fake.google().people_contacts(ME).len(), 1);
    // A read-only token cannot write.
    let reader = s
        .fake
        .google()
        .issue_tokens(CLIENT_ID, ME, &["contacts.readonly"])
        .access_token;
    let (status, body) = s
        .call_as(
            &reader,
            Method::POST,
            "/v1/people:createContact",
            &[],
            Some(ann(2)),
        )
        .await;
    assert_rpc(status, &body, 403, "PERMISSION_DENIED", None);
    let (status, _) = s
        .connections_as(&reader, &[("personFields", "names")])
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn batches_and_their_limits() {
    let s = &setup().await;
    let contacts =
        |n: usize| -> Vec<Value> { (0..n).map(|i| json!({"contactPerson": ann(i)})).collect() };
    let batch_create = |body: Value| async move {
        s.call(
            Method::POST,
            "/v1/people:batchCreateContacts",
            &[],
            Some(body),
        )
        .await
    };
    let (status, body) =
        batch_create(json!({"contacts": contacts(201), "readMask": "names"})).await;
    assert_rpc(status, &body, 400, "INVALID_ARGUMENT", None);
    let (status, body) = batch_create(json!({"contacts": contacts(2)})).await;
    assert_rpc(status, &body, 400, "INVALID_ARGUMENT", None);
    assert!(s.fake.google().people_contacts(ME).is_empty());

    let (status, body) =
        batch_create(json!({"contacts": contacts(200), "readMask": "names,clientData"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let created = body["createdPeople"].as_array().unwrap();
    assert_eq!(created.len(), 200);
    assert_eq!(created[0]["httpStatusCode"], 200);
    assert_eq!(created[0]["status"], json!({}));
    assert_eq!(
        created[0]["requestedResourceName"],
        created[0]["person"]["resourceName"]
    );
    assert_eq!(created[7]["person"]["clientData"][0]["value"], "crm-7");
    let people: Vec<Value> = created.iter().map(|r| r["person"].clone()).collect();

    // batchUpdate: map of resourceName → person, updateMask required, every etag checked.
    let update = |contacts: Value, mask: Option<&str>| {
        let mut body = json!({"contacts": contacts, "readMask": "names,organizations"});
        if let Some(mask) = mask {
            body["updateMask"] = json!(mask);
        }
        async move {
            s.call(
                Method::POST,
                "/v1/people:batchUpdateContacts",
                &[],
                Some(body),
            )
            .await
        }
    };
    let with_org = |p: &Value| {
        let mut p = p.clone();
        p["organizations"] = json!([{"name": "Acme", "type": "work"}]);
        p
    };
    let mut map = serde_json::Map::new();
    for p in &people[..3] {
        map.insert(p["resourceName"].as_str().unwrap().into(), with_org(p));
    }
    let (status, body) = update(Value::Object(map.clone()), None).await;
    assert_rpc(status, &body, 400, "INVALID_ARGUMENT", None);
    let mut stale = map.clone();
    let second = people[1]["resourceName"].as_str().unwrap();
    stale[second]["etag"] = json!("%stale");
    let (status, body) = update(Value::Object(stale), Some("organizations")).await;
    assert_rpc(status, &body, 400, "FAILED_PRECONDITION", Some(STALE));
    let (_, first) = s.get(people[0]["resourceName"].as_str().unwrap()).await;
    assert!(
        first.get("organizations").is_none(),
        "one stale etag refuses the whole batch"
    );
    let mut too_many = serde_json::Map::new();
    for p in &people {
        too_many.insert(p["resourceName"].as_str().unwrap().into(), with_org(p));
    }
    too_many.insert("people/c1".into(), json!({"etag": "x"}));
    let (status, body) = update(Value::Object(too_many), Some("organizations")).await;
    assert_rpc(status, &body, 400, "INVALID_ARGUMENT", None);
    let (status, body) = update(Value::Object(map), Some("organizations")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let result = &body["updateResult"][second];
    assert_eq!(result["person"]["organizations"][0]["name"], "Acme");
    assert_eq!(result["requestedResourceName"], second);

    // batchGet: ≤ 200 names, a 404 status per unknown one.
    let mut query: Vec<(&str, &str)> = vec![("personFields", "names")];
    query.push(("resourceNames", second));
    query.push(("resourceNames", "people/c404"));
    let (status, body) = s
        .call(Method::GET, "/v1/people:batchGet", &query, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["responses"][0]["person"]["resourceName"], second);
    assert_eq!(body["responses"][1]["httpStatusCode"], 404);
    assert_eq!(body["responses"][1]["status"]["code"], 5);
    let names: Vec<String> = (0..201).map(|i| format!("people/c{i}")).collect();
    let mut query: Vec<(&str, &str)> = vec![("personFields", "names")];
    query.extend(names.iter().map(|n| ("resourceNames", n.as_str())));
    let (status, body) = s
        .call(Method::GET, "/v1/people:batchGet", &query, None)
        .await;
    assert_rpc(status, &body, 400, "INVALID_ARGUMENT", None);

    // batchDelete: ≤ 500.
    let names: Vec<String> = (0..501).map(|i| format!("people/c{i}")).collect();
    let (status, body) = s
        .call(
            Method::POST,
            "/v1/people:batchDeleteContacts",
            &[],
            Some(json!({"resourceNames": names})),
        )
        .await;
    assert_rpc(status, &body, 400, "INVALID_ARGUMENT", None);
    let names: Vec<&str> = people[..150]
        .iter()
        .map(|p| p["resourceName"].as_str().unwrap())
        .collect();
    let (status, body) = s
        .call(
            Method::POST,
            "/v1/people:batchDeleteContacts",
            &[],
            Some(json!({"resourceNames": names})),
        )
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));
    assert_eq!(s.fake.google().people_contacts(ME).len(), 50);
}

#[tokio::test]
async fn connections_page_and_sync_with_deletions() {
    let s = setup().await;
    let mut people = Vec::new();
    for i in 0..5 {
        people.push(s.create(ann(i)).await);
    }
    // Required and limited parameters.
    let (status, body) = s.connections(&[]).await;
    assert_rpc(status, &body, 400, "INVALID_ARGUMENT", None);
    for size in ["1001", "-1"] {
        let (status, body) = s
            .connections(&[("personFields", "names"), ("pageSize", size)])
            .await;
        assert_rpc(status, &body, 400, "INVALID_ARGUMENT", None);
    }
    let (status, body) = s
        .connections(&[("personFields", "names"), ("sortOrder", "BY_MOOD")])
        .await;
    assert_rpc(status, &body, 400, "INVALID_ARGUMENT", None);

    // Without requestSyncToken: no sync token.
    let (all, token, _) = s.list_all(&[]).await;
    assert_eq!((all.len(), token), (5, None));
    let (all, token, pages) = s
        .list_all(&[("pageSize", "2"), ("requestSyncToken", "true")])
        .await;
    assert_eq!((all.len(), pages), (5, 3));
    let token = token.expect("a sync token on the last page");
    // The default page size is 100.
    let (status, page) = s.connections(&[("personFields", "names")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["totalItems"], 5);

    // A page token belongs to its query.
    let (_, first) = s
        .connections(&[("personFields", "names"), ("pageSize", "2")])
        .await;
    let page_token = first["nextPageToken"].as_str().unwrap();
    let (status, body) = s
        .connections(&[
            ("personFields", "emailAddresses"),
            ("pageToken", page_token),
        ])
        .await;
    assert_rpc(status, &body, 400, "INVALID_ARGUMENT", None);

    // No change: an empty incremental page with a new token.
    let (changed, again, _) = s.list_all(&[("syncToken", &token)]).await;
    assert!(changed.is_empty());
    let token = again.expect("a token");

    // An update and a deletion are served incrementally; the deletion as metadata.deleted.
    let (_, current) = s.get(people[1]["resourceName"].as_str().unwrap()).await;
    let mut edit = current.clone();
    edit["names"] = json!([{"givenName": "Anna"}]);
    let (status, _) = s.update(&edit, "names").await;
    assert_eq!(status, StatusCode::OK);
    let gone = people[3]["resourceName"].as_str().unwrap();
    s.delete(gone).await;
    let (changed, next, _) = s
        .list_all(&[("syncToken", &token), ("pageSize", "1")])
        .await;
    assert_eq!(changed.len(), 2, "{changed:?}");
    assert_eq!(changed[0]["names"][0]["givenName"], "Anna");
    assert_eq!(changed[1]["resourceName"], gone);
    assert_eq!(changed[1]["metadata"]["deleted"], true);
    let next = next.unwrap();
    // A full listing does not show the deleted contact.
    let (all, _, _) = s.list_all(&[]).await;
    assert_eq!(all.len(), 4);

    // Expired: every token of the account; and any token after 7 days.
    s.fake.google().expire_people_sync_tokens(ME);
    let (status, body) = s
        .connections(&[("personFields", "names"), ("syncToken", &next)])
        .await;
    assert_rpc(status, &body, 400, "FAILED_PRECONDITION", None);
    assert_eq!(error_info_reason(&body), Some("EXPIRED_SYNC_TOKEN"));
    let (_, fresh, _) = s.list_all(&[("requestSyncToken", "true")]).await;
    let fresh = fresh.unwrap();
    s.fake
        .google()
        .advance_clock(Duration::from_secs(7 * 86_400 + 60));
    s.fake.google().issue_tokens(CLIENT_ID, ME, &["contacts"]);
    let token = s
        .fake
        .google()
        .issue_tokens(CLIENT_ID, ME, &["contacts"])
        .access_token;
    let (status, body) = s
        .connections_as(&token, &[("personFields", "names"), ("syncToken", &fresh)])
        .await;
    assert_eq!(
        error_info_reason(&body),
        Some("EXPIRED_SYNC_TOKEN"),
        "{status} {body}"
    );
    // Garbage is not an expired token.
    let (status, body) = s
        .connections_as(
            &token,
            &[("personFields", "names"), ("syncToken", "garbage")],
        )
        .await;
    assert_rpc(status, &body, 400, "INVALID_ARGUMENT", None);
}

#[tokio::test]
async fn contact_groups_and_their_members() {
    let s = &setup().await;
    let group_call = |method: Method,
                      path: String,
                      query: Vec<(&'static str, String)>,
                      body: Option<Value>| async move {
        let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        s.call(method, &path, &query, body).await
    };
    let (status, group) = group_call(
        Method::POST,
        "/v1/contactGroups".into(),
        vec![],
        Some(json!({"contactGroup": {"name": "Threadline", "clientData": [{"key": "app", "value": "threadline"}]}, "readGroupFields": "name,clientData,groupType,metadata"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{group}");
    assert_eq!(group["groupType"], "USER_CONTACT_GROUP");
    assert_eq!(group["clientData"][0]["value"], "threadline");
    let group_name = group["resourceName"].as_str().unwrap().to_string();
    assert!(group_name.starts_with("contactGroups/"));
    // The name is unique per user: 409 ALREADY_EXISTS.
    let (status, body) = group_call(
        Method::POST,
        "/v1/contactGroups".into(),
        vec![],
        Some(json!({"contactGroup": {"name": "Threadline"}})),
    )
    .await;
    assert_rpc(status, &body, 409, "ALREADY_EXISTS", None);
    let (status, body) = group_call(
        Method::POST,
        "/v1/contactGroups".into(),
        vec![],
        Some(json!({"contactGroup": {"name": "X", "color": "red"}})),
    )
    .await;
    assert_rpc(status, &body, 400, "INVALID_ARGUMENT", None);

    // List: system groups too; members not populated; paging.
    let (status, list) = group_call(
        Method::GET,
        "/v1/contactGroups".into(),
        vec![("pageSize", "2".into())],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["totalItems"], 3);
    assert_eq!(
        list["contactGroups"][0]["resourceName"],
        "contactGroups/myContacts"
    );
    assert_eq!(
        list["contactGroups"][0]["groupType"],
        "SYSTEM_CONTACT_GROUP"
    );
    assert_eq!(
        list["contactGroups"][1]["resourceName"],
        "contactGroups/starred"
    );
    let page_token = list["nextPageToken"].as_str().unwrap().to_string();
    let (_, rest) = group_call(
        Method::GET,
        "/v1/contactGroups".into(),
        vec![("pageSize", "2".into()), ("pageToken", page_token)],
        None,
    )
    .await;
    assert_eq!(rest["contactGroups"][0]["name"], "Threadline");
    assert!(rest["nextSyncToken"].is_string());

    // Members: add, not found, the last membership kept.
    let a = s.create(ann(1)).await;
    let b = s.create(json!({"names": [{"givenName": "Bo"}], "memberships": [{"contactGroupMembership": {"contactGroupResourceName": group_name}}]})).await;
    let a_name = a["resourceName"].as_str().unwrap().to_string();
    let b_name = b["resourceName"].as_str().unwrap().to_string();
    assert_eq!(
        b["memberships"].as_array().unwrap().len(),
        1,
        "only the group named"
    );
    let modify = format!("/v1/{group_name}/members:modify");
    let (status, body) = group_call(
        Method::POST,
        modify.clone(),
        vec![],
        Some(json!({"resourceNamesToAdd": [a_name, "people/c999"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"notFoundResourceNames": ["people/c999"]}));
    let (_, after) = s.get(&a_name).await;
    assert_ne!(after["etag"], a["etag"], "a membership change is a write");
    assert_eq!(after["memberships"].as_array().unwrap().len(), 2);
    let (status, body) = group_call(
        Method::POST,
        modify.clone(),
        vec![],
        Some(json!({"resourceNamesToRemove": [a_name, b_name]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"canNotRemoveLastContactGroupResourceNames": [b_name]})
    );
    let too_many: Vec<String> = (0..1001).map(|i| format!("people/c{i}")).collect();
    let (status, body) = group_call(
        Method::POST,
        modify.clone(),
        vec![],
        Some(json!({"resourceNamesToAdd": too_many})),
    )
    .await;
    assert_rpc(status, &body, 400, "INVALID_ARGUMENT", None);

    // get with maxMembers.
    let (status, got) = group_call(
        Method::GET,
        format!("/v1/{group_name}"),
        vec![("maxMembers", "10".into())],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["memberCount"], 1);
    assert_eq!(got["memberResourceNames"], json!([b_name]));
    let (_, without) = group_call(Method::GET, format!("/v1/{group_name}"), vec![], None).await;
    assert!(without.get("memberResourceNames").is_none());
    let (_, mine) = group_call(
        Method::GET,
        "/v1/contactGroups/myContacts".into(),
        vec![],
        None,
    )
    .await;
    assert_eq!(
        (mine["memberCount"].clone(), mine["formattedName"].clone()),
        (json!(1), json!("My Contacts"))
    );

    // update (PUT) with updateGroupFields; a duplicate name is 409.
    s.call(
        Method::POST,
        "/v1/contactGroups",
        &[],
        Some(json!({"contactGroup": {"name": "Other"}})),
    )
    .await;
    let (status, body) = group_call(
        Method::PUT,
        format!("/v1/{group_name}"),
        vec![],
        Some(json!({"contactGroup": {"name": "Other"}})),
    )
    .await;
    assert_rpc(status, &body, 409, "ALREADY_EXISTS", None);
    let (status, renamed) = group_call(Method::PUT, format!("/v1/{group_name}"), vec![], Some(json!({"contactGroup": {"name": "Threadline CRM", "etag": got["etag"]}, "updateGroupFields": "name"}))).await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["name"], "Threadline CRM");
    let (status, body) = group_call(
        Method::PUT,
        "/v1/contactGroups/myContacts".into(),
        vec![],
        Some(json!({"contactGroup": {"name": "Mine"}})),
    )
    .await;
    assert_rpc(status, &body, 400, "FAILED_PRECONDITION", None);

    // batchGet: a status per name.
    let (status, got) = group_call(
        Method::GET,
        "/v1/contactGroups:batchGet".into(),
        vec![
            ("resourceNames", group_name.clone()),
            ("resourceNames", "contactGroups/nope".into()),
            ("groupFields", "name".into()),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(
        got["responses"][0]["contactGroup"]["name"],
        "Threadline CRM"
    );
    assert_eq!(got["responses"][1]["status"]["code"], 5);
    let (_, before_delete) =
        group_call(Method::GET, "/v1/contactGroups".into(), vec![], None).await;
    let groups_token = before_delete["nextSyncToken"].as_str().unwrap().to_string();

    // delete with deleteContacts removes its members.
    let (status, body) = group_call(
        Method::DELETE,
        format!("/v1/{group_name}"),
        vec![("deleteContacts", "true".into())],
        None,
    )
    .await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));
    let (status, _) = s.get(&b_name).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s.get(&a_name).await;
    assert_eq!(status, StatusCode::OK, "a was in My Contacts too");
    let (status, body) = group_call(Method::GET, format!("/v1/{group_name}"), vec![], None).await;
    assert_rpc(status, &body, 404, "NOT_FOUND", None);

    // An incremental group listing shows the deletion.
    let (status, changed) = group_call(
        Method::GET,
        "/v1/contactGroups".into(),
        vec![("syncToken", groups_token)],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let deleted = &changed["contactGroups"].as_array().unwrap()[0];
    assert_eq!(deleted["resourceName"], group_name.as_str());
    assert_eq!(deleted["metadata"]["deleted"], true);
}

#[tokio::test]
async fn rate_limits_and_server_errors_in_the_rpc_shape() {
    let s = setup().await;
    let faults = s.fake.faults();
    let list = || async { s.connections(&[("personFields", "names")]).await };
    let id = faults.inject(
        FaultRule::new(Fault::TooManyRequests { retry_after: None })
            .on("GET", "/v1/people/me/connections")
            .times(Times::N(2)),
    );
    for _ in 0..2 {
        let (status, body) = list().await;
        assert_rpc(status, &body, 429, "RESOURCE_EXHAUSTED", None);
        assert_eq!(error_info_reason(&body), Some("RATE_LIMIT_EXCEEDED"));
        assert_eq!(body["error"]["details"][0]["domain"], "googleapis.com");
    }
    assert_eq!(list().await.0, StatusCode::OK);
    assert_eq!(faults.fired(id), 2);

    faults.inject(
        FaultRule::new(Fault::Google(GoogleFault::RateLimited403(
            RateLimitReason::RateLimitExceeded,
        )))
        .on("GET", "/v1/people/me/connections"),
    );
    let (status, body) = list().await;
    assert_rpc(status, &body, 403, "PERMISSION_DENIED", None);
    assert_eq!(error_info_reason(&body), Some("RATE_LIMIT_EXCEEDED"));
    faults.inject(FaultRule::new(Fault::BackendError).on("*", "/v1/**"));
    let (status, body) = list().await;
    assert_rpc(status, &body, 500, "INTERNAL", None);
    faults.inject(FaultRule::new(Fault::Unavailable).on("*", "/v1/**"));
    let (status, body) = list().await;
    assert_rpc(status, &body, 503, "UNAVAILABLE", None);
    faults.inject(FaultRule::new(Fault::Unauthorized).on("*", "/v1/**"));
    let (status, body) = list().await;
    assert_rpc(status, &body, 401, "UNAUTHENTICATED", None);
    // Calendar keeps its v1 envelope.
    faults.inject(FaultRule::new(Fault::BackendError).on("*", "/calendar/v3/**"));
    let calendar_token = s
        .fake
        .google()
        .issue_tokens(CLIENT_ID, ME, &["calendar"])
        .access_token;
    let (status, body) = s
        .call_as(
            &calendar_token,
            Method::GET,
            "/calendar/v3/users/me/calendarList",
            &[],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["error"]["errors"][0]["reason"], "backendError");
}

#[tokio::test]
async fn a_committed_batch_whose_answer_is_lost() {
    let s = setup().await;
    let faults = s.fake.faults();
    let body = json!({"contacts": [{"contactPerson": ann(1)}, {"contactPerson": ann(2)}], "readMask": "names"});
    // The connection is closed after the batch was applied.
    faults.inject(
        FaultRule::new(Fault::DropResponseAfterCommit).on("POST", "/v1/people:batchCreateContacts"),
    );
    let sent = s
        .http
        .post(format!(
            "{}/v1/people:batchCreateContacts",
            s.fake.base_url()
        ))
        .bearer_auth(&s.token)
        .json(&body)
        .send()
        .await;
    assert!(sent.is_err(), "no answer");
    assert_eq!(
        s.fake.google().people_contacts(ME).len(),
        2,
        "but committed"
    );
    // A 500 after the batch was applied.
    faults.inject(
        FaultRule::new(Fault::Google(GoogleFault::BackendErrorAfterCommit))
            .on("POST", "/v1/people:batchCreateContacts"),
    );
    let (status, answer) = s
        .call(
            Method::POST,
            "/v1/people:batchCreateContacts",
            &[],
            Some(body),
        )
        .await;
    assert_rpc(status, &answer, 500, "INTERNAL", None);
    assert_eq!(
        s.fake.google().people_contacts(ME).len(),
        4,
        "committed too"
    );
    // The request log tells the mutations.
    assert_eq!(
        s.fake.log().count("POST", "/v1/people:batchCreateContacts"),
        2
    );
    let logged = s.fake.log().requests();
    assert!(
        logged
            .iter()
            .any(|r| r.status.is_none() && r.fault.is_some()),
        "the dropped one"
    );
}

#[tokio::test]
async fn a_stale_etag_right_after_a_get_then_the_retry_succeeds() {
    let s = setup().await;
    let created = s.create(ann(1)).await;
    let name = created["resourceName"].as_str().unwrap();
    let id = s
        .fake
        .faults()
        .inject(FaultRule::new(Fault::Google(GoogleFault::StaleEtag)).on("PATCH", "/v1/people/*"));
    let (_, fresh) = s.get(name).await;
    let mut edit = fresh.clone();
    edit["urls"] = json!([{"value": "https://a.test"}]);
    let (status, body) = s.update(&edit, "urls").await;
    assert_rpc(status, &body, 400, "FAILED_PRECONDITION", Some(STALE));
    assert_eq!(s.fake.faults().fired(id), 1);
    let (_, unchanged) = s.get(name).await;
    assert_eq!(unchanged["etag"], fresh["etag"], "nothing written");
    let (status, body) = s.update(&edit, "urls").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(s.fake.log().count("PATCH", "/v1/people/{person}"), 2);
}

#[tokio::test]
async fn expired_sync_token_fault_resource_name_change_and_propagation_delay() {
    let s = setup().await;
    let created = s.create(ann(1)).await;
    let (_, token, _) = s.list_all(&[("requestSyncToken", "true")]).await;
    let token = token.unwrap();

    // The injected expiry.
    s.fake.faults().inject(
        FaultRule::new(Fault::Google(GoogleFault::ExpiredSyncToken))
            .on("GET", "/v1/people/me/connections"),
    );
    let (status, body) = s
        .connections(&[("personFields", "names"), ("syncToken", &token)])
        .await;
    assert_rpc(status, &body, 400, "FAILED_PRECONDITION", None);
    assert_eq!(error_info_reason(&body), Some("EXPIRED_SYNC_TOKEN"));

    // A resource name change: the old name is gone, the new one lists it as previous.
    let old = created["resourceName"].as_str().unwrap();
    let new = s.fake.google().change_contact_resource_name(ME, old);
    assert_ne!(new, old);
    assert_eq!(s.get(old).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.get(&new).await.0, StatusCode::OK);
    let (changed, token, _) = s.list_all(&[("syncToken", &token)]).await;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["resourceName"], new);
    assert_eq!(
        changed[0]["metadata"]["previousResourceNames"],
        json!([old])
    );
    let token = token.unwrap();

    // Propagation delay: a write is hidden from sync for a while, then served.
    s.fake
        .google()
        .set_people_propagation_delay(Duration::from_secs(120));
    let late = s.create(ann(2)).await;
    let (changed, held, _) = s.list_all(&[("syncToken", &token)]).await;
    assert!(changed.is_empty(), "{changed:?}");
    let (all, _, _) = s.list_all(&[]).await;
    assert_eq!(all.len(), 2, "a full listing sees it");
    s.fake.google().advance_clock(Duration::from_secs(121));
    let (changed, _, _) = s.list_all(&[("syncToken", &held.unwrap())]).await;
    assert_eq!(changed.len(), 1, "not lost: the token held back before it");
    assert_eq!(changed[0]["resourceName"], late["resourceName"]);
}
