//! The link row: one per (connection, CRM contact), stored by the integration.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::owned::ContentHash;

/// Where a link stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// A create was sent and its answer is not known yet. The executor writes this row
    /// *before* `batchCreateContacts` (see [`crate::plan::Create::pending_link`]) and
    /// replaces it with an exported one from the answer. Finding it on a later run means
    /// the answer was lost: the person may exist, so it is only created again once a
    /// complete listing shows it does not (else it is adopted by its `clientData`).
    Pending,
    /// The person exists in Google and was last given `hash`.
    Exported,
    /// The user deleted the person in Google (a listing's `metadata.deleted`, a 404, or
    /// absence from a complete listing). Nothing is written until the contact next changes
    /// in the CRM; then it is created again (outcome `Recreated`).
    DeletedInGoogle,
}

/// The link table row. Key: (connection, `contact_id`); `resource_name` is unique among a
/// connection's exported links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub contact_id: Uuid,
    /// `people/{id}`; `None` only while [`LinkState::Pending`].
    pub resource_name: Option<String>,
    /// The person's etag as our last write (or read) answered it: the condition of the next
    /// update, and how our own writes are recognised in a listing (echoes are skipped).
    pub etag: Option<String>,
    /// The owned-field hash Google was last given (or, deleted in Google, the last one the
    /// CRM had when we noticed).
    pub hash: ContentHash,
    pub state: LinkState,
}

impl Link {
    /// An exported person, as a create's or an update's answer names it.
    pub fn exported(
        contact_id: Uuid,
        resource_name: impl Into<String>,
        etag: Option<String>,
        hash: ContentHash,
    ) -> Link {
        Link {
            contact_id,
            resource_name: Some(resource_name.into()),
            etag,
            hash,
            state: LinkState::Exported,
        }
    }

    pub fn is_exported(&self) -> bool {
        self.state == LinkState::Exported
    }

    /// The same link, the person gone from Google.
    pub fn deleted_in_google(&self) -> Link {
        Link {
            state: LinkState::DeletedInGoogle,
            ..self.clone()
        }
    }
}
