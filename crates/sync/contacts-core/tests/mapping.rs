//! The mapping CRM contact → owned Person fields, and the owned-field hash, as tables.

use threadline_contacts_core::owned::{
    email_type, phone_type, Owned, CONTACT_ID_KEY, ORGANISATION_KEY, UPDATE_PERSON_FIELDS,
};
use threadline_contacts_core::person::{Person, MY_CONTACTS};
use threadline_contacts_core::{CrmCompany, CrmContact};
use uuid::Uuid;

/// A named change to a contact.
type Edit = (&'static str, Box<dyn Fn(&mut CrmContact)>);

const ORG: Uuid = Uuid::from_u128(0x0a);
const ID: Uuid = Uuid::from_u128(0x1);

fn full() -> CrmContact {
    CrmContact {
        id: ID,
        first_name: " Ada ".into(),
        last_name: "Lovelace".into(),
        emails: vec![
            "Ada@Acme.com".into(),
            "ada@gmail.com".into(),
            "ada@eu.acme.com".into(),
        ],
        phones: vec![
            ("+44 20 1234".into(), Some("Mobiel".into())),
            ("+44 20 5678".into(), None),
            ("+44 20 9999".into(), Some("Reception desk".into())),
        ],
        job_title: Some("Analyst".into()),
        notes: Some("Met at the fair.\r\nLikes engines.  ".into()),
        company: Some(CrmCompany {
            name: "Acme".into(),
            address: Some("1 Engine Way, London".into()),
            website: Some("https://acme.com".into()),
            domains: vec!["acme.com".into()],
        }),
    }
}

#[test]
fn every_field_maps_to_its_person_field() {
    let owned = Owned::from_contact(&full(), ORG);
    let p = owned.create_body("contactGroups/abc");
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "names": [{"givenName": "Ada", "familyName": "Lovelace"}],
            "emailAddresses": [
                {"value": "ada@acme.com", "type": "work"},
                {"value": "ada@gmail.com", "type": "other"},
                {"value": "ada@eu.acme.com", "type": "work"}
            ],
            "phoneNumbers": [
                {"value": "+44 20 1234", "type": "mobile"},
                {"value": "+44 20 5678", "type": "other"},
                {"value": "+44 20 9999", "type": "Reception desk"}
            ],
            "organizations": [{"name": "Acme", "title": "Analyst", "type": "work", "current": true}],
            "addresses": [{"formattedValue": "1 Engine Way, London", "type": "work"}],
            "urls": [{"value": "https://acme.com", "type": "work"}],
            "biographies": [{"value": "Met at the fair.\nLikes engines.", "contentType": "TEXT_PLAIN"}],
            "clientData": [
                {"key": CONTACT_ID_KEY, "value": ID.to_string()},
                {"key": ORGANISATION_KEY, "value": ORG.to_string()}
            ],
            "memberships": [
                {"contactGroupMembership": {"contactGroupResourceName": "contactGroups/abc"}},
                {"contactGroupMembership": {"contactGroupResourceName": MY_CONTACTS}}
            ]
        })
    );
}

#[test]
fn an_update_body_names_the_person_and_its_etag_and_no_memberships() {
    let p = Owned::from_contact(&full(), ORG).update_body("people/c1", Some("e1"));
    assert_eq!(p.resource_name.as_deref(), Some("people/c1"));
    assert_eq!(p.etag.as_deref(), Some("e1"));
    assert!(p.memberships.is_empty());
    assert!(!UPDATE_PERSON_FIELDS.contains("memberships"));
    for field in [
        "names",
        "emailAddresses",
        "phoneNumbers",
        "organizations",
        "addresses",
        "urls",
        "biographies",
        "clientData",
    ] {
        assert!(
            UPDATE_PERSON_FIELDS.split(',').any(|f| f == field),
            "{field}"
        );
    }
}

#[test]
fn an_empty_contact_has_only_its_ids_and_clears_every_owned_field() {
    let contact = CrmContact {
        id: ID,
        ..CrmContact::default()
    };
    let owned = Owned::from_contact(&contact, ORG);
    assert!(owned.is_blank());
    let json = serde_json::to_value(owned.to_person()).unwrap();
    // Empty lists are left out of the body; the update mask still names them, which
    // clears them in Google ("cleared if left empty").
    assert_eq!(
        json.as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["clientData"]
    );
}

#[test]
fn a_contact_without_email_or_phone_is_not_blank() {
    let contact = CrmContact {
        id: ID,
        first_name: "Solo".into(),
        ..CrmContact::default()
    };
    assert!(!Owned::from_contact(&contact, ORG).is_blank());
}

#[test]
fn job_title_without_company_is_an_organization_too() {
    let contact = CrmContact {
        id: ID,
        first_name: "A".into(),
        job_title: Some("CEO".into()),
        ..CrmContact::default()
    };
    let p = Owned::from_contact(&contact, ORG).to_person();
    assert_eq!(p.organizations.len(), 1);
    assert_eq!(p.organizations[0].name, None);
    assert_eq!(p.organizations[0].title.as_deref(), Some("CEO"));
    assert!(p.addresses.is_empty() && p.urls.is_empty());
}

#[test]
fn phone_labels_map_to_google_types() {
    let table: &[(Option<&str>, &str)] = &[
        (None, "other"),
        (Some(""), "other"),
        (Some("  "), "other"),
        (Some("mobile"), "mobile"),
        (Some("Cell"), "mobile"),
        (Some("GSM"), "mobile"),
        (Some("Handy"), "mobile"),
        (Some("work"), "work"),
        (Some("Office"), "work"),
        (Some("Kantoor"), "work"),
        (Some("home"), "home"),
        (Some("Privé"), "home"),
        (Some("main"), "main"),
        (Some("Fax"), "workFax"),
        (Some("home fax"), "homeFax"),
        (Some("pager"), "pager"),
        (Some("Other"), "other"),
        (Some(" Assistant "), "Assistant"),
    ];
    for (label, want) in table {
        assert_eq!(phone_type(*label), *want, "{label:?}");
    }
}

#[test]
fn email_types_follow_the_company_domains() {
    let domains = vec!["acme.com".to_string(), "@acme.nl".to_string()];
    let table = [
        ("a@acme.com", "work"),
        ("a@sales.acme.com", "work"),
        ("a@acme.nl", "work"),
        ("a@notacme.com", "other"),
        ("a@gmail.com", "other"),
        ("no-at-sign", "other"),
    ];
    for (address, want) in table {
        assert_eq!(email_type(address, &domains), want, "{address}");
    }
    assert_eq!(email_type("a@acme.com", &[]), "other");
}

#[test]
fn emails_keep_the_primary_first_and_drop_duplicates_and_blanks() {
    let contact = CrmContact {
        id: ID,
        emails: vec![
            "B@x.com".into(),
            " ".into(),
            "a@x.com".into(),
            "b@x.com".into(),
        ],
        ..CrmContact::default()
    };
    let owned = Owned::from_contact(&contact, ORG);
    let values: Vec<&str> = owned.emails.iter().map(|e| e.value.as_str()).collect();
    assert_eq!(values, ["b@x.com", "a@x.com"]);
}

#[test]
fn the_person_as_written_reads_back_as_the_same_owned_fields() {
    let owned = Owned::from_contact(&full(), ORG);
    let mut person = owned.create_body("contactGroups/g");
    person.resource_name = Some("people/c1".into());
    person.etag = Some("etag".into());
    assert_eq!(Owned::from_person(&person), Some(owned));
}

#[test]
fn google_output_fields_are_not_read() {
    let owned = Owned::from_contact(&full(), ORG);
    let mut json = serde_json::to_value(owned.create_body("contactGroups/g")).unwrap();
    // What Google adds on reading: per-value metadata, formattedType, displayName, photos.
    json["emailAddresses"][0]["formattedType"] = "Work".into();
    json["emailAddresses"][0]["metadata"] = serde_json::json!({"primary": true});
    json["names"][0]["displayName"] = "Ada Lovelace".into();
    json["photos"] = serde_json::json!([{"url": "https://x"}]);
    json["userDefined"] = serde_json::json!([{"key": "k", "value": "v"}]);
    json["metadata"] =
        serde_json::json!({"sources": [{"type": "CONTACT", "id": "c1", "etag": "e"}]});
    let person: Person = serde_json::from_value(json).unwrap();
    assert_eq!(Owned::from_person(&person).unwrap().hash(), owned.hash());
}

#[test]
fn a_person_without_our_ids_is_not_ours() {
    let mut person = Owned::from_contact(&full(), ORG).to_person();
    assert!(Owned::from_person(&person).is_some());
    person.client_data.retain(|d| d.key != ORGANISATION_KEY);
    assert_eq!(Owned::from_person(&person), None);
}

#[test]
fn the_hash_is_stable_versioned_and_pinned() {
    let a = Owned::from_contact(&full(), ORG).hash();
    let b = Owned::from_contact(&full(), ORG).hash();
    assert_eq!(a, b);
    assert!(a.is_current());
    assert!(a.0.starts_with("v1:") && a.0.len() == 3 + 64);
    // Pinned: a change here means every exported person is written again. Bump
    // HASH_VERSION on purpose when the mapping changes, then update this value.
    assert_eq!(a.0, PINNED, "the owned-field hash changed");
}

const PINNED: &str = "v1:8eb23681b2e79be0917637a8944208915e7c1205160afafb494d4f94de261d04";

#[test]
fn the_hash_changes_with_every_owned_field() {
    let base = full();
    let h = Owned::from_contact(&base, ORG).hash();
    let edits: Vec<Edit> = vec![
        ("first name", Box::new(|c| c.first_name = "Augusta".into())),
        ("last name", Box::new(|c| c.last_name = "King".into())),
        ("email", Box::new(|c| c.emails.push("new@x.com".into()))),
        ("email order", Box::new(|c| c.emails.swap(0, 1))),
        ("phone", Box::new(|c| c.phones[0].0 = "+1".into())),
        (
            "phone label",
            Box::new(|c| c.phones[0].1 = Some("home".into())),
        ),
        ("job title", Box::new(|c| c.job_title = None)),
        ("notes", Box::new(|c| c.notes = Some("other".into()))),
        (
            "company name",
            Box::new(|c| c.company.as_mut().unwrap().name = "Acme Ltd".into()),
        ),
        (
            "company address",
            Box::new(|c| c.company.as_mut().unwrap().address = None),
        ),
        (
            "company website",
            Box::new(|c| c.company.as_mut().unwrap().website = Some("https://acme.org".into())),
        ),
        (
            "company domains (email types)",
            Box::new(|c| c.company.as_mut().unwrap().domains.clear()),
        ),
        ("no company", Box::new(|c| c.company = None)),
        ("id", Box::new(|c| c.id = Uuid::from_u128(2))),
    ];
    for (what, edit) in edits {
        let mut c = base.clone();
        edit(&mut c);
        assert_ne!(Owned::from_contact(&c, ORG).hash(), h, "{what}");
    }
    assert_ne!(
        Owned::from_contact(&base, Uuid::from_u128(0xb)).hash(),
        h,
        "organisation"
    );
}

#[test]
fn the_hash_ignores_what_is_not_owned_or_only_formatting() {
    let base = full();
    let h = Owned::from_contact(&base, ORG).hash();
    let same: Vec<Edit> = vec![
        ("whitespace", Box::new(|c| c.first_name = "  Ada".into())),
        (
            "email case",
            Box::new(|c| c.emails[0] = "ADA@ACME.COM".into()),
        ),
        (
            "duplicate email",
            Box::new(|c| c.emails.push("ada@acme.com".into())),
        ),
        (
            "notes line ends",
            Box::new(|c| c.notes = Some("Met at the fair.\nLikes engines.".into())),
        ),
        (
            "label synonym",
            Box::new(|c| c.phones[0].1 = Some("cell".into())),
        ),
        (
            "domain case",
            Box::new(|c| c.company.as_mut().unwrap().domains = vec!["ACME.com".into()]),
        ),
    ];
    for (what, edit) in same {
        let mut c = base.clone();
        edit(&mut c);
        assert_eq!(Owned::from_contact(&c, ORG).hash(), h, "{what}");
    }
    // Person side: etag, memberships, metadata are not owned.
    let owned = Owned::from_contact(&base, ORG);
    let mut p = owned.create_body("contactGroups/g");
    p.etag = Some("x".into());
    p.memberships.clear();
    assert_eq!(Owned::from_person(&p).unwrap().hash(), h);
}
