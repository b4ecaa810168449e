//! The parts of the People API v1 `Person` resource that Threadline writes and reads.
//!
//! Field names are Google's (camelCase). Every field is optional or defaults to empty: a
//! deleted person in a sync-token listing carries little more than `resourceName` and
//! `metadata.deleted`, and a write names only the fields it sends.
//!
//! **Unknown fields are dropped on reading, on purpose.** Threadline never sends a whole
//! Person back: an update names only the owned fields in `updatePersonFields`
//! ([`crate::owned::UPDATE_PERSON_FIELDS`]), and Google replaces exactly those and keeps
//! every other field (photos, birthdays, `userDefined`, a field the user added) as it is.
//! A read-modify-write of the whole resource is never done, so there is nothing a dropped
//! unknown field could erase. Within an owned field the list is ours entirely: an email the
//! user added in Google is replaced on the next update, which is what "owned" means.
//! The per-value `metadata` (`primary`, `source`), `formattedType`, `canonicalForm`,
//! `displayName` and the parsed address parts are Google's output and are not read either,
//! so they can never make a person look changed.

use serde::{Deserialize, Serialize};

/// `contactGroups/myContacts`: a contact must be in it to show in Contacts' list.
pub const MY_CONTACTS: &str = "contactGroups/myContacts";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    /// `people/{id}`. Can change when Google links the contact to a profile; the old name is
    /// then in `metadata.previousResourceNames`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<PersonMetadata>,
    /// Singleton on contacts: more than one value is a 400.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<Name>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub email_addresses: Vec<TypedValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phone_numbers: Vec<TypedValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organizations: Vec<Organization>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<Address>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<TypedValue>,
    /// Singleton on contacts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub biographies: Vec<Biography>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_data: Vec<ClientData>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub memberships: Vec<Membership>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonMetadata {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Source>,
    /// Set on a person a sync-token listing reports as deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous_resource_names: Vec<String>,
}

/// `metadata.sources[]`: `{type: CONTACT|PROFILE|…, id, etag}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Name {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
}

/// `emailAddresses[]`, `phoneNumbers[]`, `urls[]`: `{value, type}`. `type` is one of
/// Google's names (`home`, `work`, `mobile`, `other`, …) or any custom label.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypedValue {
    #[serde(default)]
    pub value: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted_value: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Biography {
    #[serde(default)]
    pub value: String,
    /// `TEXT_PLAIN` or `TEXT_HTML`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientData {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Membership {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_group_membership: Option<ContactGroupMembership>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactGroupMembership {
    #[serde(default)]
    pub contact_group_resource_name: String,
}

impl Membership {
    pub fn of(group: &str) -> Membership {
        Membership {
            contact_group_membership: Some(ContactGroupMembership {
                contact_group_resource_name: group.to_string(),
            }),
        }
    }
}

impl Person {
    /// `metadata.deleted`: a sync-token listing's tombstone.
    pub fn is_deleted(&self) -> bool {
        self.metadata.as_ref().and_then(|m| m.deleted) == Some(true)
    }

    /// The value of `clientData[key]` (the first, if a client wrote the key twice).
    pub fn client_data(&self, key: &str) -> Option<&str> {
        self.client_data
            .iter()
            .find(|d| d.key == key)
            .map(|d| d.value.as_str())
    }

    /// Whether the person is in contact group `group` (a resourceName).
    pub fn in_group(&self, group: &str) -> bool {
        self.memberships.iter().any(|m| {
            m.contact_group_membership
                .as_ref()
                .is_some_and(|g| g.contact_group_resource_name == group)
        })
    }

    /// The names this person had before (`metadata.previousResourceNames`).
    pub fn previous_resource_names(&self) -> &[String] {
        self.metadata
            .as_ref()
            .map(|m| m.previous_resource_names.as_slice())
            .unwrap_or_default()
    }

    /// Whether `name` is this person's resourceName, now or before.
    pub fn answers_to(&self, name: &str) -> bool {
        self.resource_name.as_deref() == Some(name)
            || self.previous_resource_names().iter().any(|p| p == name)
    }
}
