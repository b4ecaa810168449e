//! Per-item decisions, as tables: from (CRM side, remote side, link) to what happens.
//! Never from clocks. The planner ([`mod@crate::plan`]) classifies every item and calls these;
//! they are public so that the tables can be read and tested on their own.

use serde::{Deserialize, Serialize};

use crate::hash::{same_content, RemoteHash};
use crate::link::LinkState;

/// A file's content on both sides, and what the link says both had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentSides<'a> {
    pub crm_sha256: &'a str,
    /// The provider-kind hashes of the CRM content the caller computed (may be empty).
    pub crm_hashes: &'a [RemoteHash],
    pub remote_rev: &'a str,
    pub remote_hash: Option<&'a RemoteHash>,
    /// The link's (sha256, remote hash, rev); `None` when the two were paired without a
    /// link (a first sync, an adoption): then they agree only if their contents do.
    pub base: Option<(&'a str, Option<&'a RemoteHash>, Option<&'a str>)>,
}

/// What to do with a file's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Content {
    /// Nothing changed.
    InSync,
    /// The contents agree but the link is behind (a new rev with the same hash, both sides
    /// changed to the same content, an adoption of identical files): write the link only.
    RefreshLink,
    /// Changed in the CRM only: upload (an update under the link's rev).
    Upload,
    /// Changed remotely only: a new version of the CRM file.
    Download,
    /// Changed on both sides, differently (or adopted with different contents): keep both.
    Conflict,
}

/// The CRM content lacks the provider-kind hash needed to compare: the caller computes it
/// (from the blob) and plans again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeedHash;

/// The content table (Maestral's and rclone bisync's rules, by hashes, never by times):
///
/// | CRM vs link | remote vs link | contents equal | → |
/// |---|---|---|---|
/// | same | same | – | `InSync` (`RefreshLink` if only the rev moved) |
/// | changed | same | – | `Upload` |
/// | same | changed | – | `Download` |
/// | changed | changed | yes | `RefreshLink` |
/// | changed | changed | no | `Conflict` |
/// | no link | no link | yes / no | `RefreshLink` / `Conflict` |
///
/// The remote side "changed" when its hash differs from the link's (a rev change with the
/// same hash is no change: Dropbox gives a new rev to a touch); without hashes, when its
/// rev differs.
pub fn decide_content(s: &ContentSides<'_>) -> Result<Content, NeedHash> {
    let same = || -> Result<bool, NeedHash> {
        match s.remote_hash {
            // No hash to compare with: treat as different, so nothing can be lost.
            None => Ok(false),
            Some(h) => same_content(s.crm_sha256, s.crm_hashes, h).ok_or(NeedHash),
        }
    };
    let Some((sha, hash, rev)) = s.base else {
        return Ok(if same()? {
            Content::RefreshLink
        } else {
            Content::Conflict
        });
    };
    let crm_changed = !sha.eq_ignore_ascii_case(s.crm_sha256);
    let remote_changed = match (s.remote_hash, hash) {
        (Some(now), Some(then)) => now != then,
        _ => rev != Some(s.remote_rev),
    };
    let rev_moved = rev != Some(s.remote_rev) || hash != s.remote_hash;
    Ok(match (crm_changed, remote_changed) {
        (false, false) if rev_moved => Content::RefreshLink,
        (false, false) => Content::InSync,
        (true, false) => Content::Upload,
        (false, true) => Content::Download,
        (true, true) if same()? => Content::RefreshLink,
        (true, true) => Content::Conflict,
    })
}

/// The CRM side of a linked item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrmState {
    /// Live; `changed`: its version is above the link's (any change: content, name, place).
    Live { changed: bool },
    /// In the CRM's trash (restorable), or purged from it.
    Gone,
}

/// The remote side of a linked item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteState {
    /// Present in the tree; `changed`: a file's content differs from the link's, or a
    /// folder holds something that must be kept (see the planner).
    Present { changed: bool },
    /// Deleted, trashed, or moved out of the synced tree.
    Gone,
}

/// What becomes of a linked item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fate {
    /// Both sides have it: sync content and place.
    Keep,
    /// Deleted in the CRM, unchanged remotely: delete it remotely (Dropbox delete with
    /// `parent_rev`, Drive trash). The link goes.
    DeleteRemote,
    /// Deleted in the CRM but changed remotely: the edit wins. The remote version comes
    /// back into the CRM as a new node (the trashed one stays in the trash).
    Reimport,
    /// Deleted remotely, unchanged in the CRM: **never deleted in the CRM**. The link is
    /// kept as [`LinkState::GoneRemotely`], so the node is not pushed back until it changes.
    Tombstone,
    /// Deleted remotely but changed in the CRM since (or changed after it was tombstoned):
    /// uploaded again as a new remote item.
    Reupload,
    /// Stays as it is: tombstoned, unchanged.
    Dormant,
    /// Gone on both sides: the link goes.
    DropLink,
}

/// The existence table: the delete asymmetry and "an edit beats a delete" on both sides.
///
/// | link | CRM | remote | → |
/// |---|---|---|---|
/// | any | live | present | `Keep` |
/// | synced | live, unchanged | gone | `Tombstone` |
/// | synced | live, changed | gone | `Reupload` |
/// | any | gone | present, unchanged | `DeleteRemote` |
/// | any | gone | present, changed | `Reimport` |
/// | any | gone | gone | `DropLink` |
/// | gone remotely | live, unchanged | gone | `Dormant` |
/// | gone remotely | live, changed | gone | `Reupload` |
///
/// A tombstoned link whose item is present again (restored from Drive's trash) is kept.
pub fn decide_fate(link: LinkState, crm: CrmState, remote: RemoteState) -> Fate {
    match (link, crm, remote) {
        (_, CrmState::Live { .. }, RemoteState::Present { .. }) => Fate::Keep,
        (_, CrmState::Live { changed: true }, RemoteState::Gone) => Fate::Reupload,
        (LinkState::Synced, CrmState::Live { changed: false }, RemoteState::Gone) => {
            Fate::Tombstone
        }
        (LinkState::GoneRemotely, CrmState::Live { changed: false }, RemoteState::Gone) => {
            Fate::Dormant
        }
        (_, CrmState::Gone, RemoteState::Present { changed: false }) => Fate::DeleteRemote,
        (_, CrmState::Gone, RemoteState::Present { changed: true }) => Fate::Reimport,
        (_, CrmState::Gone, RemoteState::Gone) => Fate::DropLink,
    }
}

/// Which side moved or renamed an item since the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moved {
    Neither,
    Crm,
    Remote,
    Both,
}

/// Where a kept item goes: the CRM's place when the CRM moved it (also when both did: the
/// CRM is where documents are managed, and the remote's move is undone by one move, never a
/// re-upload), the remote's when only the remote did.
pub fn moved(crm_moved: bool, remote_moved: bool) -> Moved {
    match (crm_moved, remote_moved) {
        (false, false) => Moved::Neither,
        (true, false) => Moved::Crm,
        (false, true) => Moved::Remote,
        (true, true) => Moved::Both,
    }
}
