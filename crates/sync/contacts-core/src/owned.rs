//! The Person fields Threadline owns, the mapping CRM contact → those fields, and their
//! versioned content hash.
//!
//! **Owned** (in every update's `updatePersonFields`, [`UPDATE_PERSON_FIELDS`]): `names`,
//! `emailAddresses`, `phoneNumbers`, `organizations`, `addresses`, `urls`, `biographies`,
//! `clientData`. Google replaces exactly these on an update and keeps everything else
//! (photos, birthdays, `userDefined`, relations, …): what the user adds there survives
//! every export. An edit the user makes *to an owned field* in Google is overwritten by the
//! next export that sees it: the export is one-way, and the CRM is where contacts are kept.
//!
//! **Memberships are not in the mask.** An update naming `memberships` replaces them all,
//! which would drop the labels the user put the contact in (and `starred`). Our group and
//! `contactGroups/myContacts` are set in the create body, and ensured afterwards with
//! `members:modify` adds only ([`crate::plan::GroupAdd`]), which touch no other label.
//!
//! **Mapping** ([`Owned::from_contact`]):
//! - `names`: one `{givenName, familyName}` (a singleton on contacts); none when both empty.
//! - `emailAddresses`: in the CRM's order, the primary first (Google shows the first as the
//!   primary); `type: "work"` when the domain is one of the company's domains or a
//!   subdomain of one, else `"other"`. Not `"home"`: the CRM does not know an address is
//!   private, and a free-mail address is often a one-person business's work address.
//! - `phoneNumbers`: the label mapped by [`phone_type`]: known words (several languages)
//!   to Google's `mobile`, `work`, `home`, `main`, `workFax`, `homeFax`, `pager`; any other
//!   label kept as a custom type (Google shows it as written); no label → `"other"`.
//! - `organizations`: one `{name: company, title: job title, type: "work", current: true}`
//!   when either exists.
//! - `addresses`: the company's address as one `{formattedValue, type: "work"}`. The CRM
//!   keeps no private address; the company's is where the contact is met or written to
//!   at work, and "work" says so instead of passing it off as a home.
//! - `urls`: the company's website, `type: "work"`.
//! - `biographies`: the notes, `contentType: "TEXT_PLAIN"` (a singleton).
//! - `clientData`: [`CONTACT_ID_KEY`] → the contact id and [`ORGANISATION_KEY`] → the
//!   organisation id. The pair is what finds our persons again without the link table
//!   (adoption), and the organisation makes a person exported by another Threadline
//!   organisation (or installation) into the same Google account somebody else's: never
//!   adopted, never deleted. `clientData` is owned whole (Contacts' UI neither shows nor
//!   edits it).
//!
//! **Normalised** before hashing and writing, so both sides say the same thing the same
//! way: texts trimmed, empty texts dropped, addresses lowercased and de-duplicated (first
//! kept), notes with `\r\n` as `\n` and no trailing whitespace.
//!
//! **Limits.** Singletons (`names`, `biographies`) carry at most one value by construction.
//! Google documents no length limits for these fields; the CRM's own validation bounds the
//! texts and the number of addresses and phones (20 each, below the 100 a listing returns).
//!
//! **The hash** ([`Owned::hash`]) is SHA-256 over the JSON of [`Owned`] (a struct of
//! strings and vectors in a fixed order: canonical), tagged and prefixed with
//! [`HASH_VERSION`]. Changing the mapping bumps the version, so every exported person's
//! stored hash differs and the next run re-exports them all.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::contact::CrmContact;
use crate::person::{
    Address, Biography, ClientData, Membership, Name, Organization, Person, TypedValue, MY_CONTACTS,
};

/// `clientData` key of the CRM contact id.
pub const CONTACT_ID_KEY: &str = "threadline.contact_id";
/// `clientData` key of the organisation the contact belongs to.
pub const ORGANISATION_KEY: &str = "threadline.organisation";
/// The version of the mapping; part of every hash.
pub const HASH_VERSION: &str = "v1";
/// `updatePersonFields` / `updateMask` of every update: the owned fields, nothing else.
pub const UPDATE_PERSON_FIELDS: &str =
    "names,emailAddresses,phoneNumbers,organizations,addresses,urls,biographies,clientData";
/// `personFields` / `readMask` for reading persons back and listing: the owned fields plus
/// what identity and membership checks need.
pub const READ_PERSON_FIELDS: &str = "metadata,names,emailAddresses,phoneNumbers,organizations,addresses,urls,biographies,clientData,memberships";

/// A value with its Google type (`{value, type}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Typed {
    pub value: String,
    pub kind: String,
}

/// The owned fields of a person, normalised (build with [`Owned::from_contact`] or read
/// with [`Owned::from_person`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owned {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub emails: Vec<Typed>,
    pub phones: Vec<Typed>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub address: Option<String>,
    pub website: Option<String>,
    pub notes: Option<String>,
    pub contact_id: Uuid,
    pub organisation_id: Uuid,
}

/// `"v1:"` + SHA-256 (hex) of the normalised owned fields. Stored in the link as "what
/// Google was last given"; equal hashes mean nothing to write, whatever the etags say.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContentHash(pub String);

impl ContentHash {
    /// Whether the hash was made by this version of the mapping.
    pub fn is_current(&self) -> bool {
        self.0
            .strip_prefix(HASH_VERSION)
            .is_some_and(|rest| rest.starts_with(':'))
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn line(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn text(s: Option<&str>) -> Option<String> {
    s.map(|s| s.replace("\r\n", "\n").trim().to_string())
        .filter(|s| !s.is_empty())
}

fn domain_of(address: &str) -> Option<&str> {
    address.rsplit_once('@').map(|(_, d)| d)
}

/// Whether `domain` is `company` or a subdomain of it (`eu.acme.com` is in `acme.com`).
fn in_domain(domain: &str, company: &str) -> bool {
    let company = company.trim().trim_start_matches('@').to_lowercase();
    !company.is_empty()
        && (domain == company
            || domain
                .strip_suffix(&company)
                .is_some_and(|rest| rest.ends_with('.')))
}

/// Google's type for an email: `work` in one of the company's domains, else `other`.
pub fn email_type(address: &str, company_domains: &[String]) -> &'static str {
    match domain_of(address) {
        Some(d) if company_domains.iter().any(|c| in_domain(d, c)) => "work",
        _ => "other",
    }
}

/// Google's type for a phone label. Known words (English, Dutch, German, French) map to
/// Google's standard types; any other label is kept as written (a custom type); none is
/// `other`.
pub fn phone_type(label: Option<&str>) -> String {
    let Some(label) = line(label) else {
        return "other".to_string();
    };
    let key = label.to_lowercase();
    let standard = match key.as_str() {
        "mobile" | "cell" | "cellphone" | "mobile phone" | "gsm" | "mobiel" | "handy" | "mobil"
        | "portable" => "mobile",
        "work" | "office" | "business" | "direct" | "werk" | "kantoor" | "büro" | "buro"
        | "geschäftlich" | "bureau" | "travail" => "work",
        "home" | "private" | "personal" | "thuis" | "privé" | "prive" | "privat" | "zuhause"
        | "domicile" => "home",
        "main" | "algemeen" | "zentrale" | "standard" => "main",
        "fax" | "work fax" | "workfax" => "workFax",
        "home fax" | "homefax" => "homeFax",
        "pager" => "pager",
        "other" | "overig" | "andere" | "sonstige" | "autre" => "other",
        _ => return label,
    };
    standard.to_string()
}

impl Owned {
    /// The owned fields a CRM contact of `organisation_id` maps to.
    pub fn from_contact(contact: &CrmContact, organisation_id: Uuid) -> Owned {
        let company = contact.company.as_ref();
        let domains: &[String] = company.map(|c| c.domains.as_slice()).unwrap_or_default();
        let mut emails: Vec<Typed> = Vec::new();
        for address in &contact.emails {
            let value = address.trim().to_lowercase();
            if value.is_empty() || emails.iter().any(|e| e.value == value) {
                continue;
            }
            emails.push(Typed {
                kind: email_type(&value, domains).to_string(),
                value,
            });
        }
        let phones = contact
            .phones
            .iter()
            .filter_map(|(number, label)| {
                Some(Typed {
                    value: line(Some(number))?,
                    kind: phone_type(label.as_deref()),
                })
            })
            .collect();
        Owned {
            given_name: line(Some(&contact.first_name)),
            family_name: line(Some(&contact.last_name)),
            emails,
            phones,
            company: company.and_then(|c| line(Some(&c.name))),
            job_title: line(contact.job_title.as_deref()),
            address: company.and_then(|c| text(c.address.as_deref())),
            website: company.and_then(|c| line(c.website.as_deref())),
            notes: text(contact.notes.as_deref()),
            contact_id: contact.id,
            organisation_id,
        }
    }

    /// Reads the owned fields back from a person, as Google lists it. `None` when the person
    /// carries no Threadline ids (not ours). Values Google adds (`formattedType`, per-value
    /// metadata, parsed address parts) are not read; what is read is normalised as
    /// [`Owned::from_contact`] normalises, so a person exactly as we wrote it reads back as
    /// the same `Owned` (and the same hash).
    pub fn from_person(person: &Person) -> Option<Owned> {
        let (contact_id, organisation_id) = ids_of(person)?;
        let name = person.names.first();
        let typed = |values: &[TypedValue], lower: bool| -> Vec<Typed> {
            let mut out: Vec<Typed> = Vec::new();
            for v in values {
                let Some(mut value) = line(Some(&v.value)) else {
                    continue;
                };
                if lower {
                    value = value.to_lowercase();
                    if out.iter().any(|t| t.value == value) {
                        continue;
                    }
                }
                out.push(Typed {
                    value,
                    kind: v.kind.clone().unwrap_or_else(|| "other".to_string()),
                });
            }
            out
        };
        let org = person.organizations.first();
        Some(Owned {
            given_name: line(name.and_then(|n| n.given_name.as_deref())),
            family_name: line(name.and_then(|n| n.family_name.as_deref())),
            emails: typed(&person.email_addresses, true),
            phones: typed(&person.phone_numbers, false),
            company: line(org.and_then(|o| o.name.as_deref())),
            job_title: line(org.and_then(|o| o.title.as_deref())),
            address: text(
                person
                    .addresses
                    .first()
                    .and_then(|a| a.formatted_value.as_deref()),
            ),
            website: line(person.urls.first().map(|u| u.value.as_str())),
            notes: text(person.biographies.first().map(|b| b.value.as_str())),
            contact_id,
            organisation_id,
        })
    }

    pub fn hash(&self) -> ContentHash {
        let mut hash = Sha256::new();
        hash.update(b"threadline-contact-owned\n");
        // Serialising plain structs, vectors and strings cannot fail.
        hash.update(serde_json::to_vec(self).expect("owned fields serialise"));
        let hex: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        ContentHash(format!("{HASH_VERSION}:{hex}"))
    }

    /// Whether nothing a person in Contacts would show is set (no name, address or phone).
    pub fn is_blank(&self) -> bool {
        self.given_name.is_none()
            && self.family_name.is_none()
            && self.emails.is_empty()
            && self.phones.is_empty()
    }

    /// The person body carrying the owned fields: what an update sends (with
    /// `resourceName` and `etag` added, see [`Owned::update_body`]). Every owned field is
    /// present, empty when the CRM has nothing, so the update clears what is no longer there.
    pub fn to_person(&self) -> Person {
        let typed = |values: &[Typed]| {
            values
                .iter()
                .map(|t| TypedValue {
                    value: t.value.clone(),
                    kind: Some(t.kind.clone()),
                })
                .collect()
        };
        let names = if self.given_name.is_some() || self.family_name.is_some() {
            vec![Name {
                given_name: self.given_name.clone(),
                family_name: self.family_name.clone(),
            }]
        } else {
            Vec::new()
        };
        let organizations = if self.company.is_some() || self.job_title.is_some() {
            vec![Organization {
                name: self.company.clone(),
                title: self.job_title.clone(),
                kind: Some("work".to_string()),
                current: Some(true),
            }]
        } else {
            Vec::new()
        };
        Person {
            names,
            email_addresses: typed(&self.emails),
            phone_numbers: typed(&self.phones),
            organizations,
            addresses: self
                .address
                .iter()
                .map(|a| Address {
                    formatted_value: Some(a.clone()),
                    kind: Some("work".to_string()),
                })
                .collect(),
            urls: self
                .website
                .iter()
                .map(|w| TypedValue {
                    value: w.clone(),
                    kind: Some("work".to_string()),
                })
                .collect(),
            biographies: self
                .notes
                .iter()
                .map(|n| Biography {
                    value: n.clone(),
                    content_type: Some("TEXT_PLAIN".to_string()),
                })
                .collect(),
            client_data: vec![
                ClientData {
                    key: CONTACT_ID_KEY.to_string(),
                    value: self.contact_id.to_string(),
                },
                ClientData {
                    key: ORGANISATION_KEY.to_string(),
                    value: self.organisation_id.to_string(),
                },
            ],
            ..Person::default()
        }
    }

    /// The `contactPerson` of a `batchCreateContacts` entry: the owned fields and the
    /// memberships (our group, then `myContacts`).
    pub fn create_body(&self, group: &str) -> Person {
        Person {
            memberships: vec![Membership::of(group), Membership::of(MY_CONTACTS)],
            ..self.to_person()
        }
    }

    /// A `batchUpdateContacts` entry: the owned fields under `resourceName`, with the etag
    /// the update is conditional on (a stale one is refused with 400 `FAILED_PRECONDITION`).
    pub fn update_body(&self, resource_name: &str, etag: Option<&str>) -> Person {
        Person {
            resource_name: Some(resource_name.to_string()),
            etag: etag.map(str::to_string),
            ..self.to_person()
        }
    }
}

/// The (contact id, organisation id) a person carries in `clientData`, when both parse.
pub fn ids_of(person: &Person) -> Option<(Uuid, Uuid)> {
    let contact = person.client_data(CONTACT_ID_KEY)?.trim().parse().ok()?;
    let organisation = person.client_data(ORGANISATION_KEY)?.trim().parse().ok()?;
    Some((contact, organisation))
}

/// The contact id a person carries, when it is one of `organisation_id`'s.
pub fn contact_id_of(person: &Person, organisation_id: Uuid) -> Option<Uuid> {
    ids_of(person)
        .filter(|(_, org)| *org == organisation_id)
        .map(|(id, _)| id)
}
