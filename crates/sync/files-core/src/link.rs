//! The two sides' items as the caller reads them, and the link row that ties them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::hash::RemoteHash;
use crate::provider::Provider;

/// The kinds of record with a document tree (the CRM's `documents::tree::RecordKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Company,
    Contact,
    Project,
    Meeting,
    Product,
}

impl RecordKind {
    pub const ALL: [RecordKind; 5] = [
        RecordKind::Company,
        RecordKind::Contact,
        RecordKind::Project,
        RecordKind::Meeting,
        RecordKind::Product,
    ];

    /// The module folder's name (`Companies/<record>/…`).
    pub fn folder_name(self) -> &'static str {
        match self {
            RecordKind::Company => "Companies",
            RecordKind::Contact => "Contacts",
            RecordKind::Project => "Projects",
            RecordKind::Meeting => "Meetings",
            RecordKind::Product => "Products",
        }
    }
}

/// A record: its kind and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RecordRef {
    pub kind: RecordKind,
    pub id: Uuid,
}

/// What a link ties on the CRM side: the synced tree's structural folders (the root, one
/// folder per module, one per record) or a document node (file or folder).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum NodeKey {
    Root,
    Module(RecordKind),
    Record(RecordRef),
    Node(Uuid),
}

impl NodeKey {
    /// The marker written on items we create where the provider has markers (Drive
    /// `appProperties` key [`MARKER_PROPERTY`]), e.g. `node:6f1c…`, `record:company:…`.
    pub fn marker(&self) -> String {
        match self {
            NodeKey::Root => "root".into(),
            NodeKey::Module(k) => format!("module:{}", kind_str(*k)),
            NodeKey::Record(r) => format!("record:{}:{}", kind_str(r.kind), r.id),
            NodeKey::Node(id) => format!("node:{id}"),
        }
    }

    /// Reads a marker back (`None` for anything else: another app's or a user's value).
    pub fn from_marker(s: &str) -> Option<NodeKey> {
        let mut parts = s.split(':');
        let key = match (parts.next()?, parts.next(), parts.next()) {
            ("root", None, None) => NodeKey::Root,
            ("module", Some(k), None) => NodeKey::Module(parse_kind(k)?),
            ("record", Some(k), Some(id)) => NodeKey::Record(RecordRef {
                kind: parse_kind(k)?,
                id: Uuid::parse_str(id).ok()?,
            }),
            ("node", Some(id), None) => NodeKey::Node(Uuid::parse_str(id).ok()?),
            _ => return None,
        };
        parts.next().is_none().then_some(key)
    }

    pub fn is_structural(&self) -> bool {
        !matches!(self, NodeKey::Node(_))
    }
}

/// The Drive `appProperties` key of our marker (with [`ORG_PROPERTY`]: the organisation, so
/// another installation's items are never adopted).
pub const MARKER_PROPERTY: &str = "threadlineNode";
pub const ORG_PROPERTY: &str = "threadlineOrg";

fn kind_str(k: RecordKind) -> &'static str {
    match k {
        RecordKind::Company => "company",
        RecordKind::Contact => "contact",
        RecordKind::Project => "project",
        RecordKind::Meeting => "meeting",
        RecordKind::Product => "product",
    }
}

fn parse_kind(s: &str) -> Option<RecordKind> {
    RecordKind::ALL.into_iter().find(|k| kind_str(*k) == s)
}

/// A record whose documents are synced, as the caller loaded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrmRecord {
    pub record: RecordRef,
    /// Its name now (a company's name, a contact's full name, …).
    pub name: String,
}

/// A file's content in the CRM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrmFile {
    pub sha256: String,
    pub size: u64,
    /// The provider's hash of this content when the caller computed it (the planner asks
    /// for it with [`crate::plan::PlanError::HashesNeeded`] when it must compare).
    #[serde(default)]
    pub provider_hashes: Vec<RemoteHash>,
}

/// A document node (the CRM's `document_nodes` row): live or in the trash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrmNode {
    pub id: Uuid,
    pub record: RecordRef,
    /// Its folder; `None` at the top of the record's tree.
    pub parent: Option<Uuid>,
    pub name: String,
    /// Grows on every change (rename, move, content, trash, restore).
    pub version: i64,
    pub trashed: bool,
    /// `None` for a folder.
    pub file: Option<CrmFile>,
}

/// What a remote item is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RemoteKind {
    Folder,
    File {
        /// Dropbox `rev`; Drive `headRevisionId` (or `version`).
        rev: String,
        hash: Option<RemoteHash>,
        size: u64,
        /// Dropbox `server_modified`, Drive `modifiedTime`: only for conflict-copy names.
        modified: Option<DateTime<Utc>>,
    },
    /// Not a file we can sync: a Google Workspace document (`application/vnd.google-apps.*`
    /// other than a folder), a shortcut. Skipped with a reason.
    NotAFile {
        mime_type: String,
    },
}

/// A remote item as listed (present: not trashed, not deleted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteItem {
    /// Dropbox `id:…`, Drive file id.
    pub id: String,
    /// Its folder's id (Dropbox: the adapter resolves the parent path to the folder's id).
    pub parent: Option<String>,
    /// The name as listed (Dropbox `name`, which may carry stale casing; Drive `name`).
    pub name: String,
    /// Our marker, read from Drive `appProperties` (of our organisation); `None` on Dropbox.
    pub marker: Option<NodeKey>,
    pub kind: RemoteKind,
}

/// Where a link stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// Both sides had this at the last sync.
    Synced,
    /// The remote item was deleted (or moved out of the tree) while the CRM node was kept:
    /// the CRM never deletes for that. The link remembers the CRM version, so the node is
    /// not pushed back until it changes in the CRM ("the link is dropped").
    GoneRemotely,
}

/// The link table row (`file_links`, migration 0017; stored by `threadline-files-sync`). Key: (connection,
/// `key`); `remote_id` is unique among a connection's synced links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub key: NodeKey,
    /// The record whose tree holds it (`None` for the root and module folders).
    pub record: Option<RecordRef>,
    pub state: LinkState,
    /// The node's `version` at the last sync (0 for structural folders).
    pub crm_version: i64,
    /// Our SHA-256 of the content both sides had (files).
    pub sha256: Option<String>,
    /// The CRM location at the last sync: the parent (`Record` at the top of a record's
    /// tree) and the name (a record folder: the record's name).
    pub crm_parent: Option<NodeKey>,
    pub crm_name: String,
    pub remote_id: String,
    /// The remote location at the last sync.
    pub remote_parent: Option<String>,
    pub remote_name: String,
    /// Dropbox `rev`, Drive `headRevisionId`: the condition of the next write.
    pub remote_rev: Option<String>,
    /// The provider's hash of the content both sides had.
    pub remote_hash: Option<RemoteHash>,
    /// The path from the root at the last sync (`/Companies/Acme/offer.pdf`): how a Dropbox
    /// `DeletedMetadata` (a path, no id) finds its links.
    pub path: String,
}

/// The id of a CRM node the core asks the executor to create for a remote item (an import,
/// a conflict copy): derived, so a plan is a function of its input and a repeated
/// transaction creates the same row. `salt` tells apart what one remote item can give
/// (its folder, a version, a conflict copy of a version, a revival).
pub fn derived_node_id(provider: Provider, account: &str, remote_id: &str, salt: &str) -> Uuid {
    let mut h = Sha256::new();
    for part in [
        "threadline-files-node-v1",
        match provider {
            Provider::GoogleDrive => "google_drive",
            Provider::Dropbox => "dropbox",
        },
        account,
        remote_id,
        salt,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::new_v8(bytes)
}

/// Where one CRM file or folder stands with a connection's sync, as its page says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeSyncState {
    /// Both sides have it as the CRM has it now.
    Synced,
    /// New or changed in the CRM since the last sync: the next run carries it.
    Waiting,
    /// Deleted (or moved out of the synced folder) at the provider: kept in the CRM, and not
    /// pushed back until it changes here.
    GoneRemotely,
}

/// The sync state of a node at `version`, from its link row (`None`: not linked yet).
pub fn node_sync_state(link: Option<&Link>, version: i64) -> NodeSyncState {
    match link {
        Some(l) if l.crm_version < version => NodeSyncState::Waiting,
        Some(l) if l.state == LinkState::GoneRemotely => NodeSyncState::GoneRemotely,
        Some(_) => NodeSyncState::Synced,
        _ => NodeSyncState::Waiting,
    }
}

#[cfg(test)]
mod node_state_tests {
    use super::*;

    fn link(state: LinkState, crm_version: i64) -> Link {
        Link {
            key: NodeKey::Node(Uuid::nil()),
            record: None,
            state,
            crm_version,
            sha256: None,
            crm_parent: None,
            crm_name: "a.txt".into(),
            remote_id: "r".into(),
            remote_parent: None,
            remote_name: "a.txt".into(),
            remote_rev: None,
            remote_hash: None,
            path: "/a.txt".into(),
        }
    }

    #[test]
    fn a_node_is_synced_at_its_linked_version_and_waits_after_a_change() {
        assert_eq!(node_sync_state(None, 1), NodeSyncState::Waiting);
        let synced = link(LinkState::Synced, 3);
        assert_eq!(node_sync_state(Some(&synced), 3), NodeSyncState::Synced);
        assert_eq!(node_sync_state(Some(&synced), 4), NodeSyncState::Waiting);
        let gone = link(LinkState::GoneRemotely, 3);
        assert_eq!(node_sync_state(Some(&gone), 3), NodeSyncState::GoneRemotely);
        // Changed in the CRM since: pushed again by the next run.
        assert_eq!(node_sync_state(Some(&gone), 5), NodeSyncState::Waiting);
    }
}
