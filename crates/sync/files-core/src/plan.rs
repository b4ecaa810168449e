//! The planner: one run's reading of both sides plus the link table → an ordered plan, or a
//! refusal by a guard.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::decide::{decide_content, decide_fate, moved, Content, ContentSides, CrmState, Fate};
use crate::decide::{Moved, RemoteState};
use crate::hash::RemoteHash;
use crate::link::{
    derived_node_id, CrmNode, CrmRecord, Link, LinkState, NodeKey, RecordRef, RemoteItem,
    RemoteKind,
};
use crate::names::{
    conflict_name, crm_key, numbered, record_folder_name, remote_key, to_crm_name, to_remote_name,
};
use crate::provider::{Capabilities, Provider, RootKind};

/// Largest file synced, either way: 50 MB (the CRM's `MAX_FILE_BYTES`, 50 MiB).
pub const MAX_FILE_BYTES: u64 = 50 * 1024 * 1024;

/// How the remote tree was read in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Listing {
    /// From a cursor (Dropbox `list_folder/continue`, Drive `changes.list`): what is not
    /// listed did not change; deletes are listed.
    Incremental,
    /// The whole tree (first sync, Dropbox `reset`, a rejected Drive page token).
    /// `complete`: every page was read, so a linked item not listed is gone. An incomplete
    /// listing infers nothing from absence.
    Full { complete: bool },
}

/// The remote side as read in this run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteRun {
    pub listing: Listing,
    /// Present items (Drive: not trashed; Dropbox: `FileMetadata` / `FolderMetadata`).
    pub items: Vec<RemoteItem>,
    /// Ids listed as gone (Drive `removed`, or `trashed`).
    pub deleted_ids: Vec<String>,
    /// Paths listed as gone (Dropbox `DeletedMetadata.path_lower`, no id): the link at that
    /// path and everything under it, unless listed present elsewhere (a move).
    pub deleted_paths: Vec<String>,
    /// The cursor to store once the plan is applied (the last page's).
    pub cursor: Option<String>,
}

/// The guards. Defaults and why:
///
/// - **More than 10 files deleted remotely, or more than a quarter of the linked files once
///   at least 3 are** → refused. Deleting in a user's Dropbox or Drive is the one thing this
///   sync does that a user may not see coming (a folder removed in the CRM takes its files
///   with it); rclone bisync's 50 % lets a wipe of half of a small tree through, Nextcloud
///   asks above 100 files. Ten is a folder's worth: above it a person confirms.
/// - **The same for files that vanished remotely** (they are never deleted in the CRM, but
///   their links are dropped, so the files would not come back): a listing that lost access
///   looks exactly like that.
/// - **The root or a record's folder missing, or a record folder emptied** (one that held at
///   least 3 linked files now holds none): a wrong account, lost access or a user's
///   accident, not an ordinary edit.
///
/// The caller writes nothing and marks the connection for review; "apply anyway" sets the
/// `allow_*` switches for one run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Guards {
    pub max_deletes: usize,
    pub max_delete_ratio: f64,
    pub min_deletes: usize,
    pub min_emptied: usize,
    pub allow_mass_delete: bool,
    pub allow_missing: bool,
}

impl Default for Guards {
    fn default() -> Guards {
        Guards {
            max_deletes: 10,
            max_delete_ratio: 0.25,
            min_deletes: 3,
            min_emptied: 3,
            allow_mass_delete: false,
            allow_missing: false,
        }
    }
}

impl Guards {
    /// Everything allowed: "apply anyway".
    pub fn allow_all() -> Guards {
        Guards {
            allow_mass_delete: true,
            allow_missing: true,
            ..Guards::default()
        }
    }
}

/// Everything one planning pass reads.
#[derive(Debug, Clone)]
pub struct PlanInput {
    pub provider: Provider,
    /// The connected account (Drive user, Dropbox account id): part of derived node ids.
    pub account: String,
    /// The records whose documents are synced on this connection. Links of other records
    /// are left alone (the record was deleted, or its sync turned off).
    pub records: Vec<CrmRecord>,
    /// Every node of those records' trees, live and trashed. A linked node that is not here
    /// was purged from the trash.
    pub nodes: Vec<CrmNode>,
    pub remote: RemoteRun,
    pub links: Vec<Link>,
    pub guards: Guards,
}

/// Where a step puts an item: the parent's key, the parent's remote id when known at
/// planning (use it; else the parent was created by an earlier step of this run and its id
/// is in the parent's link), the name, and the path from the root (`/Companies/Acme/offer.pdf`, what
/// Dropbox's path-based routes take).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    pub parent: NodeKey,
    pub parent_id: Option<String>,
    pub name: String,
    pub path: String,
}

/// One step. Every step that changes something carries the link as it must be stored
/// right after it; the executor fills in what only the answer knows: a remote write's
/// `remote_id`, `remote_parent` (`None` when the parent was created in this run: then
/// the remote id in the link of `crm_parent`, where both sides agree), `remote_rev` and
/// `remote_name` (and `path`'s last segment) as the answer's metadata gives them (Dropbox does not list a case-only
/// rename made in its app, but answers it), a download's `sha256`, and `crm_version` as
/// the CRM write answered it. A later step's link leaves what only an answer knew empty
/// (`sha256`, `remote_rev` of the same item: `None`): keep the stored values then. See [`Plan`] for the order and the rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// Create a remote folder. Drive: `files.create` with `appProperties` =
    /// {[`crate::link::MARKER_PROPERTY`]: `key.marker()`, org}; Dropbox: `create_folder_v2`
    /// (409 `path/conflict/folder` means it exists: adopt it). Then store `link`.
    CreateRemoteFolder {
        key: NodeKey,
        at: Place,
        link: Link,
    },
    /// Upload a CRM file's current content (`sha256`). `remote_id: None`: a new file (Drive
    /// with the marker; Dropbox `mode: add`, `autorename: false`); else new content for it
    /// under `if_rev` (Dropbox `mode: update(rev)`; Drive: check `headRevisionId` first). A
    /// stale rev or a name taken: stop, the next run plans again. Then store `link`.
    Upload {
        key: NodeKey,
        node_id: Uuid,
        sha256: String,
        remote_id: Option<String>,
        if_rev: Option<String>,
        at: Place,
        link: Link,
    },
    /// Move and/or rename a remote item by id (Dropbox `move_v2` from its id; Drive
    /// `addParents`/`removeParents` + `name`, and the marker set to `key`'s: a conflict's
    /// remote file becomes the copy's). `case_only`: Dropbox refuses a case-only
    /// rename, so move to a temporary name first. `link: None` for a temporary move.
    MoveRemote {
        key: NodeKey,
        remote_id: String,
        at: Place,
        case_only: bool,
        link: Option<Link>,
    },
    /// Delete a remote item: Dropbox `delete_v2` (with `parent_rev` = `if_rev` for a
    /// file), Drive trash. Not found is success. Then delete the links of `drop_links`
    /// (the item's and those of everything under it).
    DeleteRemote {
        key: NodeKey,
        remote_id: String,
        path: String,
        if_rev: Option<String>,
        drop_links: Vec<NodeKey>,
    },
    /// Create a CRM folder with this id (a repeated transaction finds it), and store `link`
    /// in the same transaction.
    CreateCrmFolder {
        node_id: Uuid,
        record: RecordRef,
        parent: Option<Uuid>,
        name: String,
        link: Link,
    },
    /// Download remote `remote_id` at `rev` into the CRM: a new file with this id
    /// (`create`), or a new version of it (If-Match `if_version`). Verify the content
    /// against the listed hash; store `link` in the same transaction.
    Download {
        node_id: Uuid,
        record: RecordRef,
        parent: Option<Uuid>,
        name: String,
        remote_id: String,
        rev: String,
        create: bool,
        if_version: Option<i64>,
        link: Link,
    },
    /// Rename and/or move a CRM node (If-Match `if_version`), and store `link` (if any) in
    /// the same transaction.
    MoveCrm {
        node_id: Uuid,
        parent: Option<Uuid>,
        name: String,
        if_version: i64,
        link: Option<Link>,
    },
    /// Link-only writes: an agreement found, a tombstone, a path that changed.
    PutLink {
        link: Link,
    },
    DeleteLink {
        key: NodeKey,
    },
    /// Store the cursor: last, once everything before it was applied.
    SaveCursor {
        cursor: String,
    },
}

/// An item left alone, with the reason shown on the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skip {
    pub remote_id: Option<String>,
    pub node_id: Option<Uuid>,
    pub name: String,
    /// What kind of reason: what a run's counts add up by.
    pub kind: SkipKind,
    /// The reason for a person, naming what is particular to this item.
    pub reason: String,
}

/// The kinds of reason an item is skipped for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipKind {
    /// A Google Workspace item or a shortcut: export it as a PDF to have it in the CRM.
    NotAFile,
    /// Over 50 MB.
    TooLarge,
    /// A name one side cannot take and that cannot be mapped reversibly.
    Name,
    /// Outside a record's folder (in the root or a module folder).
    OutsideRecords,
    /// A second copy of a folder Threadline made (left for the user to merge).
    SecondCopy,
    /// Its folder is not synced.
    FolderNotSynced,
}

impl SkipKind {
    pub const ALL: [SkipKind; 6] = [
        SkipKind::NotAFile,
        SkipKind::TooLarge,
        SkipKind::Name,
        SkipKind::OutsideRecords,
        SkipKind::SecondCopy,
        SkipKind::FolderNotSynced,
    ];

    /// As runs show it (`skipped: not_a_file`).
    pub fn as_str(self) -> &'static str {
        match self {
            SkipKind::NotAFile => "not_a_file",
            SkipKind::TooLarge => "too_large",
            SkipKind::Name => "name",
            SkipKind::OutsideRecords => "outside_records",
            SkipKind::SecondCopy => "second_copy",
            SkipKind::FolderNotSynced => "folder_not_synced",
        }
    }
}

/// A conflict: both sides changed a file; the remote version became `copy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictCopy {
    pub node_id: Uuid,
    pub copy: Uuid,
    pub copy_name: String,
}

/// Counts for the run's record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub uploaded: usize,
    pub downloaded: usize,
    pub moved: usize,
    pub deleted: usize,
    pub folders_created: usize,
    pub conflicts: usize,
    pub skipped: usize,
}

/// The plan, in execution order:
///
/// 1. **CRM folders, moves and new files** (imports, conflict copies), scheduled so that a
///    parent exists before its children and a name is free before it is taken (moves
///    before the creates that need their names; a cycle of renames goes through a
///    temporary name). First, so that an item whose link a later step takes over (a
///    conflict's remote file, an item moved to another record) is already linked to its
///    new node when that happens.
/// 2. **Remote folders, moves and new files**, in the same order.
/// 3. **New contents** both ways (uploads under `if_rev`, downloads under `if_version`).
/// 4. **Remote deletes**, last: nothing is deleted before what replaces it exists.
/// 5. **Link-only writes**, then the **cursor**.
///
/// Every step is safe to repeat and recognisable after a crash or a lost answer, because
/// the next run re-reads both sides: a remote create is found again by its marker (Drive
/// `appProperties`) or its place and content (Dropbox: same folder, same name key, same
/// content hash → adopted; different content → kept as a conflict copy, nothing lost); a
/// move found done is only a link write; an upload found done is an agreement (same hash
/// both sides); a delete of a missing item is success; CRM writes commit with their link.
/// On any failure the executor stops (later steps may rely on it); the cursor is saved
/// only after the last step, so the next run reads the same changes again.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub skipped: Vec<Skip>,
    pub conflicts: Vec<ConflictCopy>,
    pub stats: Stats,
}

impl Plan {
    /// Nothing to do (a cursor to store aside).
    pub fn is_quiet(&self) -> bool {
        self.steps
            .iter()
            .all(|s| matches!(s, Step::SaveCursor { .. }))
    }
}

/// Why a plan was refused. The caller writes nothing, marks the connection for review,
/// and shows these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Refusal {
    #[error("the run would delete {deletes} of {linked} linked files remotely")]
    MassDelete { deletes: usize, linked: usize },
    #[error("{gone} of {linked} linked files vanished remotely")]
    MassVanish { gone: usize, linked: usize },
    #[error("the Threadline folder is missing remotely")]
    RootMissing,
    #[error("the folder of {record:?} is missing remotely")]
    RecordFolderMissing { record: RecordRef },
    #[error("the folder of {record:?} lost all its {files} linked files")]
    RecordFolderEmptied { record: RecordRef, files: usize },
    #[error("a complete listing is empty while {links} items are linked")]
    EmptyListing { links: usize },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("refused: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Refused(Vec<Refusal>),
    /// These CRM files must be compared with remote contents: compute the provider's hash
    /// of their contents ([`crate::hash`]), pass it in `CrmFile::provider_hashes`, and plan
    /// again.
    #[error("provider hashes needed for {0:?}")]
    HashesNeeded(Vec<Uuid>),
}

/// Plans one run. Pure: the same input gives the same plan.
pub fn plan(input: &PlanInput) -> Result<Plan, PlanError> {
    let mut p = Planner::new(input);
    p.build_view();
    p.pair_links();
    p.split_cross_record();
    p.pair_markers();
    p.adopt_by_name();
    p.split_cross_record();
    p.decide_fates();
    p.import_unpaired();
    p.build_entries()?;
    p.emit();
    let refusals = p.guard();
    if !refusals.is_empty() {
        return Err(PlanError::Refused(refusals));
    }
    let mut plan = p.out;
    plan.stats = stats(&plan);
    Ok(plan)
}

fn stats(plan: &Plan) -> Stats {
    let mut s = Stats {
        conflicts: plan.conflicts.len(),
        skipped: plan.skipped.len(),
        ..Stats::default()
    };
    for step in &plan.steps {
        match step {
            Step::CreateRemoteFolder { .. } | Step::CreateCrmFolder { .. } => {
                s.folders_created += 1
            }
            Step::Upload { .. } => s.uploaded += 1,
            Step::Download { .. } => s.downloaded += 1,
            Step::MoveRemote { link: Some(_), .. } | Step::MoveCrm { .. } => s.moved += 1,
            Step::DeleteRemote { .. } => s.deleted += 1,
            _ => {}
        }
    }
    s
}

/// The salt of a derived node id.
fn import_salt(item: &RemoteItem) -> String {
    match &item.kind {
        RemoteKind::File { rev, .. } => format!("import:{rev}"),
        _ => "import".into(),
    }
}

/// One item of the target tree.
#[derive(Debug, Clone)]
struct Entry {
    key: NodeKey,
    folder: bool,
    record: Option<RecordRef>,
    /// The live CRM node (for `Node` keys) — `None` when it is to be created.
    node: Option<CrmNode>,
    /// The remote item paired with it — `None` when it is to be created.
    remote: Option<RemoteItem>,
    /// The stored link, when the pair came from it (a base for decisions).
    link: Option<Link>,
    parent: Option<NodeKey>,
    crm_name: String,
    remote_name: String,
    /// The CRM content to upload / the remote content to download.
    content: Content,
}

struct Planner<'a> {
    input: &'a PlanInput,
    caps: Capabilities,
    nodes: BTreeMap<Uuid, &'a CrmNode>,
    records: BTreeMap<RecordRef, &'a CrmRecord>,
    links: BTreeMap<NodeKey, &'a Link>,
    view: BTreeMap<String, RemoteItem>,
    listed: BTreeSet<String>,
    children: BTreeMap<String, Vec<String>>,
    root_id: Option<String>,
    pairs: BTreeMap<NodeKey, String>,
    by_remote: BTreeMap<String, NodeKey>,
    fates: BTreeMap<NodeKey, Fate>,
    /// Remote items that come (back) into the CRM as new nodes: the salt of their id.
    imports: BTreeMap<String, String>,
    /// Remote items never imported (second copies of ours).
    ignored: BTreeSet<String>,
    /// Second copies of our files (same marker, same content): deleted.
    twins: Vec<(NodeKey, String)>,
    /// Links whose remote item vanished this run (files counted by the guard).
    vanished: BTreeSet<NodeKey>,
    entries: BTreeMap<NodeKey, Entry>,
    record_names: BTreeMap<RecordRef, String>,
    hashes_needed: BTreeSet<Uuid>,
    /// Steps before all others (a conflict's link removal).
    pre_steps: Vec<Step>,
    out: Plan,
}

impl<'a> Planner<'a> {
    fn new(input: &'a PlanInput) -> Planner<'a> {
        Planner {
            input,
            caps: input.provider.capabilities(),
            nodes: input.nodes.iter().map(|n| (n.id, n)).collect(),
            records: input.records.iter().map(|r| (r.record, r)).collect(),
            links: input.links.iter().map(|l| (l.key, l)).collect(),
            view: BTreeMap::new(),
            listed: BTreeSet::new(),
            children: BTreeMap::new(),
            root_id: None,
            pairs: BTreeMap::new(),
            by_remote: BTreeMap::new(),
            fates: BTreeMap::new(),
            imports: BTreeMap::new(),
            ignored: BTreeSet::new(),
            twins: Vec::new(),
            vanished: BTreeSet::new(),
            entries: BTreeMap::new(),
            record_names: BTreeMap::new(),
            hashes_needed: BTreeSet::new(),
            pre_steps: Vec::new(),
            out: Plan::default(),
        }
    }

    /// Whether a key belongs to this run (its record is synced; structural folders of the
    /// synced kinds).
    fn in_scope(&self, key: &NodeKey, record: Option<RecordRef>) -> bool {
        match key {
            NodeKey::Root => true,
            NodeKey::Module(kind) => self.records.keys().any(|r| r.kind == *kind),
            NodeKey::Record(r) => self.records.contains_key(r),
            NodeKey::Node(id) => {
                let record = self.nodes.get(id).map(|n| n.record).or(record);
                record.is_some_and(|r| self.records.contains_key(&r))
            }
        }
    }

    fn link_in_scope(&self, link: &Link) -> bool {
        self.in_scope(&link.key, link.record)
    }

    fn live_node(&self, key: &NodeKey) -> Option<&'a CrmNode> {
        match key {
            NodeKey::Node(id) => self.nodes.get(id).copied().filter(|n| !n.trashed),
            _ => None,
        }
    }

    /// Whether the CRM side of a key exists (structural folders of synced records do).
    fn crm_live(&self, key: &NodeKey) -> bool {
        match key {
            NodeKey::Node(_) => self.live_node(key).is_some(),
            _ => self.in_scope(key, None),
        }
    }

    fn crm_parent(&self, node: &CrmNode) -> NodeKey {
        node.parent
            .map(NodeKey::Node)
            .unwrap_or(NodeKey::Record(node.record))
    }

    // ---- 1. The remote tree as it is now ----

    fn build_view(&mut self) {
        let run = &self.input.remote;
        let links: Vec<&Link> = self
            .input
            .links
            .iter()
            .filter(|l| l.state == LinkState::Synced)
            .collect();
        if run.listing != (Listing::Full { complete: true }) {
            for link in &links {
                self.view.insert(link.remote_id.clone(), snapshot(link));
            }
        }
        for item in &run.items {
            self.listed.insert(item.id.clone());
            self.view.insert(item.id.clone(), item.clone());
        }
        for id in &run.deleted_ids {
            if !self.listed.contains(id) {
                self.view.remove(id);
            }
        }
        for path in &run.deleted_paths {
            let gone = remote_key(&self.caps, path.trim_end_matches('/'));
            for link in &links {
                let at = remote_key(&self.caps, &link.path);
                let under = at == gone || at.starts_with(&format!("{gone}/"));
                if under && !self.listed.contains(&link.remote_id) {
                    self.view.remove(&link.remote_id);
                }
            }
        }
        self.root_id = match self.caps.root {
            RootKind::AppFolder => {
                self.view.insert(
                    String::new(),
                    RemoteItem {
                        id: String::new(),
                        parent: None,
                        name: String::new(),
                        marker: Some(NodeKey::Root),
                        kind: RemoteKind::Folder,
                    },
                );
                Some(String::new())
            }
            RootKind::Folder { .. } => {
                let linked = self
                    .links
                    .get(&NodeKey::Root)
                    .map(|l| l.remote_id.clone())
                    .filter(|id| self.view.contains_key(id));
                linked.or_else(|| {
                    self.view
                        .values()
                        .find(|i| i.marker == Some(NodeKey::Root) && i.kind == RemoteKind::Folder)
                        .map(|i| i.id.clone())
                })
            }
        };
        // Only what hangs under the root is ours: an item moved out of the tree is gone.
        let mut reachable = BTreeSet::new();
        let mut by_parent: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for item in self.view.values() {
            if let Some(parent) = &item.parent {
                if Some(&item.id) != self.root_id.as_ref() {
                    by_parent
                        .entry(parent.clone())
                        .or_default()
                        .push(item.id.clone());
                }
            }
        }
        let mut queue: VecDeque<String> = self.root_id.iter().cloned().collect();
        while let Some(id) = queue.pop_front() {
            if !reachable.insert(id.clone()) {
                continue;
            }
            if matches!(
                self.view.get(&id).map(|i| &i.kind),
                Some(RemoteKind::Folder)
            ) {
                queue.extend(by_parent.get(&id).into_iter().flatten().cloned());
            }
        }
        self.view.retain(|id, _| reachable.contains(id));
        for item in self.view.values() {
            if let Some(parent) = &item.parent {
                if Some(&item.id) != self.root_id.as_ref() {
                    self.children
                        .entry(parent.clone())
                        .or_default()
                        .push(item.id.clone());
                }
            }
        }
    }

    fn kids(&self, remote_id: &str) -> Vec<String> {
        self.children.get(remote_id).cloned().unwrap_or_default()
    }

    // ---- 2. Pairs: links, markers, names ----

    fn pair(&mut self, key: NodeKey, remote_id: String) {
        self.pairs.insert(key, remote_id.clone());
        self.by_remote.insert(remote_id, key);
    }

    fn unpair(&mut self, key: &NodeKey) {
        if let Some(id) = self.pairs.remove(key) {
            if self.by_remote.get(&id) == Some(key) {
                self.by_remote.remove(&id);
            }
        }
    }

    fn pair_links(&mut self) {
        // Synced links first: a tombstone's item counts only if no synced link has it.
        let mut links: Vec<&Link> = self.input.links.iter().collect();
        links.sort_by_key(|l| (l.state != LinkState::Synced, l.key));
        for link in links {
            if self.link_in_scope(link)
                && self.view.contains_key(&link.remote_id)
                && !self.by_remote.contains_key(&link.remote_id)
            {
                self.pair(link.key, link.remote_id.clone());
            }
        }
        if let Some(root) = self.root_id.clone() {
            if !self.pairs.contains_key(&NodeKey::Root) && !self.by_remote.contains_key(&root) {
                self.pair(NodeKey::Root, root);
            }
        }
    }

    /// Items carrying our marker (Drive) and no link: a create whose answer was lost.
    fn pair_markers(&mut self) {
        if !self.caps.markers {
            return;
        }
        // The item where the node is first (a twin the user moved elsewhere is theirs),
        // then by id. An item in another record's folder is not this node's: the CRM
        // cannot move a document between records (it is imported there instead).
        let mut marked: Vec<(NodeKey, bool, String)> = Vec::new();
        for item in self.view.values() {
            let Some(key) = item.marker else { continue };
            let parent_key = match key {
                NodeKey::Node(_) => self.live_node(&key).map(|n| self.crm_parent(n)),
                NodeKey::Record(r) => Some(NodeKey::Module(r.kind)),
                NodeKey::Module(_) => Some(NodeKey::Root),
                NodeKey::Root => None,
            };
            if let Some(node) = self.live_node(&key) {
                if self
                    .record_of_remote(item)
                    .is_some_and(|r| r != node.record)
                {
                    continue;
                }
            }
            let in_place = parent_key.and_then(|p| self.pairs.get(&p)) == item.parent.as_ref();
            marked.push((key, !in_place, item.id.clone()));
        }
        marked.sort();
        for (key, _, id) in marked {
            if self.by_remote.contains_key(&id) {
                continue;
            }
            let wanted = match key {
                // A marked item whose node is in the trash, without a link (its answer was
                // lost): whether it changed since is unknown, so it is imported, not deleted.
                NodeKey::Node(_) => self.live_node(&key).is_some() && self.in_scope(&key, None),
                _ => self.in_scope(&key, None),
            };
            if !wanted {
                continue;
            }
            if let Some(other) = self.pairs.get(&key) {
                // A second item with our marker. The same content as the one we have (a
                // folder, or a file created twice by concurrent runs): a twin, left alone.
                // Different content (the old file of a conflict, say): not ours to drop —
                // it is taken as an unmarked item (imported, or adopted by its name).
                let (a, b) = (&self.view[&id].kind, &self.view[other].kind);
                let beside = self.view[&id].parent == self.view[other].parent;
                let twin = beside
                    && match (a, b) {
                        (RemoteKind::Folder, RemoteKind::Folder) => true,
                        (
                            RemoteKind::File { hash: Some(x), .. },
                            RemoteKind::File { hash: Some(y), .. },
                        ) => x == y,
                        _ => false,
                    };
                if !twin {
                    continue;
                }
                let name = self.view[&id].name.clone();
                if matches!(a, RemoteKind::File { .. }) {
                    // Our own file twice with the same content: the extra one goes (to
                    // Drive's trash).
                    self.twins.push((key, id.clone()));
                } else {
                    self.out.skipped.push(Skip {
                        remote_id: Some(id.clone()),
                        node_id: None,
                        name,
                        kind: SkipKind::SecondCopy,
                        reason: "a second copy of a folder Threadline made (a create \
                                 repeated concurrently): left alone, merge it by hand"
                            .into(),
                    });
                }
                // Never imported as a document either.
                self.ignored.insert(id);
                continue;
            }
            self.pair(key, id);
        }
    }

    /// The name a CRM key wants remotely, to find an unpaired remote item by.
    fn wanted_remote_name(&mut self, key: &NodeKey) -> Option<String> {
        match key {
            NodeKey::Root => match self.caps.root {
                RootKind::Folder { name, .. } => Some(name.into()),
                RootKind::AppFolder => None,
            },
            NodeKey::Module(kind) => Some(kind.folder_name().into()),
            NodeKey::Record(r) => Some(self.record_folder(*r)),
            NodeKey::Node(_) => {
                let node = self.live_node(key)?;
                to_remote_name(&self.caps, &node.name).ok()
            }
        }
    }

    /// CRM children of a folder key (live nodes, or the structural children).
    fn crm_children(&self, key: &NodeKey) -> Vec<NodeKey> {
        match key {
            NodeKey::Root => {
                let mut kinds: Vec<_> = self.records.keys().map(|r| r.kind).collect();
                kinds.dedup();
                kinds.into_iter().map(NodeKey::Module).collect()
            }
            NodeKey::Module(kind) => self
                .records
                .keys()
                .filter(|r| r.kind == *kind)
                .map(|r| NodeKey::Record(*r))
                .collect(),
            NodeKey::Record(r) => self
                .input
                .nodes
                .iter()
                .filter(|n| !n.trashed && n.record == *r && n.parent.is_none())
                .map(|n| NodeKey::Node(n.id))
                .collect(),
            NodeKey::Node(id) => self
                .input
                .nodes
                .iter()
                .filter(|n| !n.trashed && n.parent == Some(*id))
                .map(|n| NodeKey::Node(n.id))
                .collect(),
        }
    }

    fn is_folder_key(&self, key: &NodeKey) -> bool {
        match key {
            NodeKey::Node(id) => self.nodes.get(id).is_some_and(|n| n.file.is_none()),
            _ => true,
        }
    }

    /// Whether a remote file is unchanged since its link (its content).
    fn remote_unchanged(&self, key: &NodeKey, item: &RemoteItem) -> bool {
        let Some(link) = self.links.get(key) else {
            return false;
        };
        match &item.kind {
            RemoteKind::File { rev, hash, .. } => match (hash, &link.remote_hash) {
                (Some(h), Some(l)) => h == l,
                _ => link.remote_rev.as_deref() == Some(rev.as_str()),
            },
            _ => false,
        }
    }

    /// Top-down: unpaired CRM children of a paired folder adopt unpaired remote children of
    /// its remote folder with the same kind and name key (a first sync with matching trees;
    /// a create whose answer was lost, on a provider without markers). A live CRM file may
    /// also take over a remote file whose CRM node was deleted, unchanged (deleted and
    /// uploaded again under the same name): an update instead of a delete and a create.
    fn adopt_by_name(&mut self) {
        let mut queue: VecDeque<NodeKey> = VecDeque::from([NodeKey::Root]);
        let mut seen = BTreeSet::new();
        while let Some(folder) = queue.pop_front() {
            if !seen.insert(folder) {
                continue;
            }
            let Some(remote_folder) = self.pairs.get(&folder).cloned() else {
                continue;
            };
            for child in self.crm_children(&folder) {
                if !self.pairs.contains_key(&child) {
                    self.adopt_one(&child, &remote_folder);
                }
                if self.is_folder_key(&child) {
                    queue.push_back(child);
                }
            }
        }
    }

    fn adopt_one(&mut self, child: &NodeKey, remote_folder: &str) {
        if self
            .links
            .get(child)
            .is_some_and(|l| l.state == LinkState::GoneRemotely)
        {
            return; // tombstoned: not pushed back, not adopted either
        }
        let Some(name) = self.wanted_remote_name(child) else {
            return;
        };
        let want = remote_key(&self.caps, &name);
        let folder = self.is_folder_key(child);
        let candidates = self.kids(remote_folder);
        for id in candidates {
            let item = &self.view[&id];
            if remote_key(&self.caps, &item.name) != want
                || matches!(item.kind, RemoteKind::NotAFile { .. })
                || (item.kind == RemoteKind::Folder) != folder
            {
                continue;
            }
            match self.by_remote.get(&id).copied() {
                None => {}
                Some(other)
                    if !folder && !self.crm_live(&other) && self.remote_unchanged(&other, item) =>
                {
                    self.unpair(&other);
                }
                Some(_) => continue,
            }
            self.pair(*child, id);
            return;
        }
    }

    /// A remote move into another record's folder: the CRM cannot move a document between
    /// records, so the item (and what is in it) leaves its node — tombstoned there, never
    /// deleted — and comes into the other record as a new document.
    fn split_cross_record(&mut self) {
        let moved: Vec<(NodeKey, String)> = self
            .pairs
            .iter()
            .filter(|(k, id)| {
                let Some(node) = self.live_node(k) else {
                    return false;
                };
                let item = &self.view[*id];
                self.remote_moved_only(k, item)
                    && self
                        .record_of_remote(item)
                        .is_some_and(|r| r != node.record)
            })
            .map(|(k, id)| (*k, id.clone()))
            .collect();
        for (key, id) in moved {
            self.unpair(&key);
            let mut stack = self.kids(&id);
            while let Some(c) = stack.pop() {
                if let Some(k) = self.by_remote.get(&c).copied() {
                    self.unpair(&k);
                }
                stack.extend(self.kids(&c));
            }
        }
    }

    // ---- 3. Fates of linked items ----

    /// Whether a remote item must be kept when its CRM folder was deleted: something the
    /// CRM does not have (new, changed, or moved in from elsewhere).
    fn keeps(&self, id: &str) -> bool {
        let Some(item) = self.view.get(id) else {
            return false;
        };
        let Some(key) = self.by_remote.get(id) else {
            return true;
        };
        if self.crm_live(key) {
            return self.remote_moved_only(key, item);
        }
        match item.kind {
            RemoteKind::Folder => self.kids(id).iter().any(|c| self.keeps(c)),
            _ => !self.remote_unchanged(key, item),
        }
    }

    fn remote_moved(&self, link: &Link, item: &RemoteItem) -> bool {
        item.parent != link.remote_parent
            || remote_key(&self.caps, &item.name) != remote_key(&self.caps, &link.remote_name)
    }

    fn crm_loc(&self, key: &NodeKey) -> Option<(Option<NodeKey>, String)> {
        match key {
            NodeKey::Node(_) => {
                let node = self.live_node(key)?;
                Some((Some(self.crm_parent(node)), node.name.clone()))
            }
            NodeKey::Record(r) => Some((
                Some(NodeKey::Module(r.kind)),
                self.records.get(r)?.name.clone(),
            )),
            NodeKey::Module(_) => Some((Some(NodeKey::Root), String::new())),
            NodeKey::Root => Some((None, String::new())),
        }
    }

    fn crm_moved(&self, key: &NodeKey, link: &Link) -> bool {
        match key {
            NodeKey::Node(_) => self
                .crm_loc(key)
                .is_some_and(|(p, n)| p != link.crm_parent || n != link.crm_name),
            NodeKey::Record(r) => self.records.get(r).is_some_and(|r| r.name != link.crm_name),
            _ => false,
        }
    }

    fn remote_moved_only(&self, key: &NodeKey, item: &RemoteItem) -> bool {
        let Some(link) = self.links.get(key).filter(|l| l.remote_id == item.id) else {
            return false;
        };
        self.remote_moved(link, item) && !self.crm_moved(key, link)
    }

    fn crm_changed(&self, key: &NodeKey, link: &Link) -> bool {
        let Some(node) = self.live_node(key) else {
            return false;
        };
        node.version > link.crm_version
            || node.file.as_ref().map(|f| f.sha256.as_str()) != link.sha256.as_deref()
            || self.crm_moved(key, link)
    }

    fn decide_fates(&mut self) {
        let links: Vec<&Link> = self
            .input
            .links
            .iter()
            .filter(|l| self.link_in_scope(l) && matches!(l.key, NodeKey::Node(_)))
            .collect();
        for link in links {
            let key = link.key;
            let paired = self.pairs.get(&key) == Some(&link.remote_id);
            let crm = if self.crm_live(&key) {
                CrmState::Live {
                    changed: self.crm_changed(&key, link),
                }
            } else {
                CrmState::Gone
            };
            let remote = if paired {
                RemoteState::Present {
                    changed: self.keeps(&link.remote_id),
                }
            } else if self.pairs.contains_key(&key) {
                // Paired otherwise (a marker, a name): its own link's item is gone.
                RemoteState::Present { changed: false }
            } else {
                RemoteState::Gone
            };
            let fate = decide_fate(link.state, crm, remote);
            if link.state == LinkState::Synced
                && remote == RemoteState::Gone
                && link.sha256.is_some()
                && matches!(crm, CrmState::Live { .. })
            {
                self.vanished.insert(key);
            }
            if fate == Fate::Reimport {
                let id = link.remote_id.clone();
                let NodeKey::Node(old) = key else { continue };
                self.unpair(&key);
                self.imports.insert(id, format!("revive:{old}"));
            }
            self.fates.insert(key, fate);
        }
    }

    // ---- 4. Imports ----

    /// The CRM key of a remote folder, as the target parent of what is in it.
    fn key_of(&self, remote_id: &str) -> Option<NodeKey> {
        self.by_remote.get(remote_id).copied()
    }

    fn import_unpaired(&mut self) {
        let Some(root) = self.root_id.clone() else {
            return;
        };
        let mut queue = VecDeque::from([root]);
        while let Some(folder) = queue.pop_front() {
            let parent_key = self.key_of(&folder);
            for id in self.kids(&folder) {
                let item = self.view[&id].clone();
                if !self.by_remote.contains_key(&id) && !self.ignored.contains(&id) {
                    self.import_one(&item, parent_key);
                }
                if item.kind == RemoteKind::Folder {
                    queue.push_back(id);
                }
            }
        }
    }

    /// The derived id of a node to create from `remote_id`; when a node with that id exists
    /// already (made from this item before, then trashed, or moved to another record),
    /// another one, still derived. `salt` is updated to the one used.
    fn fresh_id(&self, remote_id: &str, salt: &mut String) -> Uuid {
        loop {
            let id = derived_node_id(self.input.provider, &self.input.account, remote_id, salt);
            if !self.nodes.contains_key(&id) {
                return id;
            }
            salt.push_str("/again");
        }
    }

    fn import_one(&mut self, item: &RemoteItem, parent: Option<NodeKey>) {
        let skip = |kind: SkipKind, reason: String| Skip {
            remote_id: Some(item.id.clone()),
            node_id: None,
            name: item.name.clone(),
            kind,
            reason,
        };
        let in_record = matches!(parent, Some(NodeKey::Record(_) | NodeKey::Node(_)))
            && parent.is_some_and(|p| self.crm_live(&p) || self.pairs.contains_key(&p));
        if !in_record {
            if parent.is_some_and(|p| matches!(p, NodeKey::Root | NodeKey::Module(_))) {
                self.out.skipped.push(skip(
                    SkipKind::OutsideRecords,
                    "not in a record's folder: Threadline syncs the documents of records only"
                        .into(),
                ));
            }
            return;
        }
        match &item.kind {
            RemoteKind::NotAFile { mime_type } => {
                self.out.skipped.push(skip(
                    SkipKind::NotAFile,
                    format!(
                        "{mime_type} is a Google Workspace item or a shortcut, not a file: export \
                     it as a PDF (or another file type) to have it in the CRM"
                    ),
                ));
                return;
            }
            RemoteKind::File { size, .. } if *size > MAX_FILE_BYTES => {
                self.out.skipped.push(skip(
                    SkipKind::TooLarge,
                    format!("{size} bytes: larger than 50 MB, the most a document may be"),
                ));
                return;
            }
            _ => {}
        }
        if let Err(reason) = to_crm_name(&item.name) {
            self.out.skipped.push(skip(SkipKind::Name, reason));
            return;
        }
        let mut salt = self
            .imports
            .get(&item.id)
            .cloned()
            .unwrap_or_else(|| import_salt(item));
        let key = NodeKey::Node(self.fresh_id(&item.id, &mut salt));
        self.imports.insert(item.id.clone(), salt);
        self.pair(key, item.id.clone());
    }

    // ---- 5. The target tree ----

    /// A record's folder name: the linked one while the record keeps its name; else from
    /// its name, with its short id when another record folder of the kind has that name.
    fn record_folder(&mut self, r: RecordRef) -> String {
        if let Some(name) = self.record_names.get(&r) {
            return name.clone();
        }
        let record_name = self.records.get(&r).map(|x| x.name.clone());
        let kept = self
            .links
            .get(&NodeKey::Record(r))
            .filter(|l| Some(&l.crm_name) == record_name.as_ref())
            .map(|l| l.remote_name.clone());
        let name = match kept {
            Some(name) => name,
            None => {
                // Names of the kind's other folders: kept ones first (links), then computed.
                let mut taken: BTreeSet<String> = BTreeSet::new();
                for other in self.records.keys().filter(|o| o.kind == r.kind && **o != r) {
                    let other_name = self.records[other].name.clone();
                    let name = match self.record_names.get(other) {
                        Some(n) => Some(n.clone()),
                        None => self
                            .links
                            .get(&NodeKey::Record(*other))
                            .filter(|l| l.crm_name == other_name || *other < r)
                            .map(|l| l.remote_name.clone()),
                    };
                    if let Some(n) = name {
                        taken.insert(remote_key(&self.caps, &n));
                    }
                }
                let caps = self.caps;
                let name = record_name.unwrap_or_default();
                record_folder_name(&name, r.id, |n| taken.contains(&remote_key(&caps, n)))
            }
        };
        self.record_names.insert(r, name.clone());
        name
    }

    fn build_entries(&mut self) -> Result<(), PlanError> {
        // Record folder names first, deterministically (by record).
        let records: Vec<RecordRef> = self.records.keys().copied().collect();
        for r in &records {
            self.record_folder(*r);
        }
        // Structural entries.
        self.structural(NodeKey::Root, None);
        let mut kinds: Vec<_> = records.iter().map(|r| r.kind).collect();
        kinds.dedup();
        for kind in kinds {
            self.structural(NodeKey::Module(kind), Some(NodeKey::Root));
        }
        for r in records {
            self.structural(NodeKey::Record(r), Some(NodeKey::Module(r.kind)));
        }
        // Paired nodes (kept, adopted, imported).
        let pairs: Vec<(NodeKey, String)> = self
            .pairs
            .iter()
            .filter(|(k, _)| matches!(k, NodeKey::Node(_)))
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        for (key, id) in pairs {
            let item = self.view[&id].clone();
            if self.crm_live(&key) {
                self.paired_entry(key, item);
            } else if self.imports.contains_key(&id)
                && !self.nodes.contains_key(&match key {
                    NodeKey::Node(n) => n,
                    _ => continue,
                })
            {
                self.import_entry(key, item);
            }
        }
        // Live CRM nodes without a remote item: new, or pushed back after a change.
        let mut wanted: Vec<NodeKey> = Vec::new();
        for node in self.input.nodes.iter().filter(|n| !n.trashed) {
            let key = NodeKey::Node(node.id);
            if self.entries.contains_key(&key) || !self.records.contains_key(&node.record) {
                continue;
            }
            if matches!(self.fates.get(&key), Some(Fate::Tombstone | Fate::Dormant)) {
                continue;
            }
            wanted.push(key);
        }
        for key in wanted {
            self.crm_only_entry(key);
        }
        // A tombstoned folder comes back when something in it must be uploaded.
        let parents: Vec<NodeKey> = self.entries.values().filter_map(|e| e.parent).collect();
        for parent in parents {
            self.revive_chain(parent);
        }
        // Entries whose parent is not in the tree (a skipped folder) are skipped too.
        loop {
            let orphans: Vec<NodeKey> = self
                .entries
                .values()
                .filter(|e| e.parent.is_some_and(|p| !self.entries.contains_key(&p)))
                .map(|e| e.key)
                .collect();
            if orphans.is_empty() {
                break;
            }
            for key in orphans {
                let e = self.entries.remove(&key).expect("listed");
                self.out.skipped.push(Skip {
                    remote_id: e.remote.as_ref().map(|r| r.id.clone()),
                    node_id: e.node.as_ref().map(|n| n.id),
                    name: e.crm_name,
                    kind: SkipKind::FolderNotSynced,
                    reason: "its folder is not synced".into(),
                });
            }
        }
        self.break_cycles();
        if !self.hashes_needed.is_empty() {
            return Err(PlanError::HashesNeeded(
                self.hashes_needed.iter().copied().collect(),
            ));
        }
        Ok(())
    }

    /// A folder moved into a second one on one side while the second was moved into the
    /// first on the other makes a cycle no order can apply: the CRM's places win there
    /// (the entries of the cycle that would move in the CRM stay where the CRM has them).
    fn break_cycles(&mut self) {
        let keys: Vec<NodeKey> = self.entries.keys().copied().collect();
        for start in keys {
            let mut seen = vec![start];
            let mut at = self.entries.get(&start).and_then(|e| e.parent);
            while let Some(p) = at {
                if let Some(i) = seen.iter().position(|k| *k == p) {
                    for &k in &seen[i..] {
                        let Some(node) = self.live_node(&k) else {
                            continue;
                        };
                        let home = self.crm_parent(node);
                        let e = self.entries.get_mut(&k).expect("entry");
                        if e.parent != Some(home) {
                            e.parent = Some(home);
                            e.crm_name = node.name.clone();
                        }
                    }
                    break;
                }
                seen.push(p);
                at = self.entries.get(&p).and_then(|e| e.parent);
            }
        }
    }

    fn revive_chain(&mut self, mut key: NodeKey) {
        while !self.entries.contains_key(&key) {
            let Some(node) = self.live_node(&key) else {
                return;
            };
            self.fates.insert(key, Fate::Reupload);
            let parent = self.crm_parent(node);
            self.crm_only_entry(key);
            key = parent;
        }
    }

    fn structural(&mut self, key: NodeKey, parent: Option<NodeKey>) {
        let remote = self.pairs.get(&key).map(|id| self.view[id].clone());
        let link = self.links.get(&key).map(|l| (*l).clone());
        let fixed = match key {
            NodeKey::Root => match self.caps.root {
                RootKind::Folder { name, .. } => name.to_string(),
                RootKind::AppFolder => String::new(),
            },
            NodeKey::Module(kind) => kind.folder_name().to_string(),
            NodeKey::Record(r) => self.record_folder(r),
            NodeKey::Node(_) => unreachable!("structural keys only"),
        };
        let renamed = match key {
            NodeKey::Record(r) => link
                .as_ref()
                .is_none_or(|l| self.records.get(&r).is_some_and(|x| x.name != l.crm_name)),
            _ => false,
        };
        // A user's rename of one of our folders is kept; a record's rename is ours.
        let remote_name = match &remote {
            Some(item) if !renamed => item.name.clone(),
            _ => fixed,
        };
        let crm_name = match key {
            NodeKey::Record(r) => self.records[&r].name.clone(),
            _ => String::new(),
        };
        let record = match key {
            NodeKey::Record(r) => Some(r),
            _ => None,
        };
        self.entries.insert(
            key,
            Entry {
                key,
                folder: true,
                record,
                node: None,
                remote,
                link,
                parent,
                crm_name,
                remote_name,
                content: Content::InSync,
            },
        );
    }

    fn skip_node(&mut self, node: &CrmNode, kind: SkipKind, reason: String) {
        self.out.skipped.push(Skip {
            remote_id: None,
            node_id: Some(node.id),
            name: node.name.clone(),
            kind,
            reason,
        });
    }

    fn paired_entry(&mut self, key: NodeKey, item: RemoteItem) {
        let node = self.live_node(&key).expect("live").clone();
        let link = self
            .links
            .get(&key)
            .filter(|l| l.remote_id == item.id)
            .map(|l| (*l).clone());
        let crm_parent = self.crm_parent(&node);
        let (parent, crm_name, remote_name) = match &link {
            Some(l) => {
                let crm_moved = self.crm_moved(&key, l);
                let remote_moved = self.remote_moved(l, &item);
                let remote_parent = item.parent.as_deref().and_then(|p| self.key_of(p));
                match (moved(crm_moved, remote_moved), remote_parent) {
                    (Moved::Remote, Some(p @ (NodeKey::Record(_) | NodeKey::Node(_))))
                        if self.crm_live(&p) || self.imports.contains_key(&self.pairs[&p]) =>
                    {
                        let name = if remote_key(&self.caps, &item.name)
                            != remote_key(&self.caps, &l.remote_name)
                        {
                            to_crm_name(&item.name).unwrap_or_else(|_| node.name.clone())
                        } else {
                            node.name.clone()
                        };
                        (p, name, item.name.clone())
                    }
                    (Moved::Neither | Moved::Remote, _) => {
                        (crm_parent, node.name.clone(), item.name.clone())
                    }
                    (Moved::Crm | Moved::Both, _) => {
                        let name = if node.name != l.crm_name {
                            match to_remote_name(&self.caps, &node.name) {
                                Ok(n) => n,
                                Err(why) => {
                                    self.skip_node(
                                        &node,
                                        SkipKind::Name,
                                        format!("not renamed remotely: {why}"),
                                    );
                                    item.name.clone()
                                }
                            }
                        } else {
                            item.name.clone()
                        };
                        (crm_parent, node.name.clone(), name)
                    }
                }
            }
            None => {
                let wanted = to_remote_name(&self.caps, &node.name).unwrap_or(item.name.clone());
                let name = if remote_key(&self.caps, &wanted) == remote_key(&self.caps, &item.name)
                {
                    item.name.clone()
                } else {
                    wanted
                };
                (crm_parent, node.name.clone(), name)
            }
        };
        let mut content = Content::InSync;
        if let (
            Some(file),
            RemoteKind::File {
                rev, hash, size, ..
            },
        ) = (&node.file, &item.kind)
        {
            let base = link.as_ref().and_then(|l| {
                Some((
                    l.sha256.as_deref()?,
                    l.remote_hash.as_ref(),
                    l.remote_rev.as_deref(),
                ))
            });
            match decide_content(&ContentSides {
                crm_sha256: &file.sha256,
                crm_hashes: &file.provider_hashes,
                remote_rev: rev,
                remote_hash: hash.as_ref(),
                base,
            }) {
                Ok(Content::Download | Content::Conflict) if *size > MAX_FILE_BYTES => {
                    self.skip_node(
                        &node,
                        SkipKind::TooLarge,
                        format!(
                            "the remote version is {size} bytes: larger than 50 MB, the most \
                             a document may be"
                        ),
                    );
                }
                Ok(c) => content = c,
                Err(_) => {
                    self.hashes_needed.insert(node.id);
                }
            }
        } else if node.file.is_some() != matches!(item.kind, RemoteKind::File { .. }) {
            // A file became a folder or the reverse: not the same item any more.
            self.unpair(&key);
            self.crm_only_entry(key);
            self.import_one(
                &item,
                self.key_of(item.parent.as_deref().unwrap_or_default()),
            );
            if let Some(k) = self.by_remote.get(&item.id).copied() {
                self.import_entry(k, item);
            }
            return;
        }
        if content == Content::Conflict {
            self.conflict(key, node, item, parent, crm_name, link);
            return;
        }
        self.entries.insert(
            key,
            Entry {
                key,
                folder: node.file.is_none(),
                record: Some(node.record),
                node: Some(node),
                remote: Some(item),
                link,
                parent: Some(parent),
                crm_name,
                remote_name,
                content,
            },
        );
    }

    /// Both sides changed a file differently: the CRM's version keeps the node and the
    /// name and is uploaded as a new remote file; the remote file (its id, its content)
    /// becomes a new CRM node, the conflict copy, beside it, and is renamed to its name.
    fn conflict(
        &mut self,
        key: NodeKey,
        node: CrmNode,
        item: RemoteItem,
        parent: NodeKey,
        crm_name: String,
        link: Option<Link>,
    ) {
        let RemoteKind::File { rev, modified, .. } = &item.kind else {
            return;
        };
        let copy_name = conflict_name(&crm_name, self.caps.label, *modified, rev);
        let copy = self.fresh_id(&item.id, &mut format!("conflict:{rev}"));
        self.out.conflicts.push(ConflictCopy {
            node_id: node.id,
            copy,
            copy_name: copy_name.clone(),
        });
        let copy_key = NodeKey::Node(copy);
        self.unpair(&key);
        self.pair(copy_key, item.id.clone());
        let remote_copy_name =
            to_remote_name(&self.caps, &copy_name).unwrap_or_else(|_| copy_name.clone());
        self.entries.insert(
            copy_key,
            Entry {
                key: copy_key,
                folder: false,
                record: Some(node.record),
                node: None,
                remote: Some(item),
                link: None,
                parent: Some(parent),
                crm_name: copy_name,
                remote_name: remote_copy_name,
                content: Content::Download,
            },
        );
        // The original's link goes first: whatever step a crash interrupts, the next run
        // finds the two unlinked (or the copy made) and decides the same conflict again —
        // same copy id, same name — instead of taking the renamed file for a rename.
        if link.is_some() {
            self.pre_steps.push(Step::DeleteLink { key });
        }
        self.crm_only_entry(key);
        if let Some(e) = self.entries.get_mut(&key) {
            e.link = None;
        }
    }

    fn import_entry(&mut self, key: NodeKey, item: RemoteItem) {
        let Some(parent) = item.parent.as_deref().and_then(|p| self.key_of(p)) else {
            return;
        };
        let Ok(crm_name) = to_crm_name(&item.name) else {
            return;
        };
        let record = match parent {
            NodeKey::Record(r) => Some(r),
            NodeKey::Node(p) => self
                .nodes
                .get(&p)
                .map(|n| n.record)
                .or_else(|| self.entries.get(&parent).and_then(|e| e.record)),
            _ => None,
        };
        let record = record.or_else(|| self.record_of_remote(&item));
        self.entries.insert(
            key,
            Entry {
                key,
                folder: item.kind == RemoteKind::Folder,
                record,
                node: None,
                remote_name: item.name.clone(),
                remote: Some(item),
                link: None,
                parent: Some(parent),
                crm_name,
                content: Content::Download,
            },
        );
    }

    /// The record whose folder holds a remote item (walking up its parents).
    fn record_of_remote(&self, item: &RemoteItem) -> Option<RecordRef> {
        let mut at = item.parent.clone();
        while let Some(id) = at {
            // By the remote tree itself: a folder moved to another record's folder took
            // what is in it there, whatever record its CRM node is in.
            if let Some(NodeKey::Record(r)) = self.key_of(&id) {
                return Some(r);
            }
            at = self.view.get(&id).and_then(|i| i.parent.clone());
        }
        None
    }

    fn crm_only_entry(&mut self, key: NodeKey) {
        let Some(node) = self.live_node(&key).cloned() else {
            return;
        };
        let remote_name = match to_remote_name(&self.caps, &node.name) {
            Ok(n) => n,
            Err(why) => {
                self.skip_node(&node, SkipKind::Name, why);
                return;
            }
        };
        let link = self.links.get(&key).map(|l| (*l).clone());
        self.entries.insert(
            key,
            Entry {
                key,
                folder: node.file.is_none(),
                record: Some(node.record),
                parent: Some(self.crm_parent(&node)),
                crm_name: node.name.clone(),
                node: Some(node),
                remote: None,
                link,
                remote_name,
                content: Content::Upload,
            },
        );
    }

    // ---- 6. Names, order, steps ----

    fn emit(&mut self) {
        // Top-down order of the target tree.
        let mut kids: BTreeMap<Option<NodeKey>, Vec<NodeKey>> = BTreeMap::new();
        for e in self.entries.values() {
            kids.entry(e.parent).or_default().push(e.key);
        }
        let mut order: Vec<NodeKey> = Vec::new();
        let mut queue: VecDeque<NodeKey> = kids.get(&None).cloned().unwrap_or_default().into();
        while let Some(key) = queue.pop_front() {
            order.push(key);
            queue.extend(kids.get(&Some(key)).into_iter().flatten().copied());
        }
        for folder in &order {
            let children = kids.get(&Some(*folder)).cloned().unwrap_or_default();
            self.resolve_names(*folder, &children);
        }
        // Paths.
        let mut paths: BTreeMap<NodeKey, String> = BTreeMap::new();
        for key in &order {
            let e = &self.entries[key];
            let path = match e.parent {
                None => String::new(),
                Some(p) => format!("{}/{}", paths[&p], e.remote_name),
            };
            paths.insert(*key, path);
        }
        let mut remote_ops = Vec::new();
        let mut crm_ops = Vec::new();
        let mut content_ops = Vec::new();
        let mut link_ops = Vec::new();
        for key in &order {
            let e = self.entries[key].clone();
            let path = paths[key].clone();
            self.entry_steps(
                &e,
                &path,
                [
                    &mut remote_ops,
                    &mut crm_ops,
                    &mut content_ops,
                    &mut link_ops,
                ],
            );
        }
        let mut steps = std::mem::take(&mut self.pre_steps);
        let (crm_steps, aside) = self.schedule_crm(crm_ops);
        // A node moved aside first has one more version by the time its later steps run.
        let mut later = crm_steps;
        later.extend(self.schedule_remote(remote_ops));
        later.extend(content_ops);
        for id in aside {
            let mut seen_temp = false;
            for step in later.iter_mut() {
                match step {
                    Step::MoveCrm {
                        node_id,
                        link: None,
                        ..
                    } if *node_id == id && !seen_temp => {
                        seen_temp = true;
                    }
                    _ if seen_temp => bump_version(step, id),
                    _ => {}
                }
            }
            for step in link_ops.iter_mut() {
                bump_version(step, id);
            }
        }
        steps.extend(later);
        let deletes = self.deletes();
        let leftovers = self.leftover_links(&deletes);
        steps.extend(deletes);
        steps.extend(link_ops);
        steps.extend(leftovers);
        if let Some(cursor) = &self.input.remote.cursor {
            steps.push(Step::SaveCursor {
                cursor: cursor.clone(),
            });
        }
        self.out.steps = steps;
    }

    /// Names two entries of one folder would share, made distinct, per side: whoever is
    /// already there keeps the name; the others (moved or new) are numbered `name (2).ext`.
    fn resolve_names(&mut self, folder: NodeKey, children: &[NodeKey]) {
        // CRM side: live nodes not in the tree keep their names too.
        let mut taken: BTreeSet<String> = self
            .crm_children(&folder)
            .into_iter()
            .filter(|k| !self.entries.contains_key(k))
            .filter_map(|k| self.live_node(&k).map(|n| crm_key(&n.name)))
            .collect();
        let mut sorted: Vec<NodeKey> = children
            .iter()
            .copied()
            .filter(|k| matches!(k, NodeKey::Node(_)))
            .collect();
        let in_place_crm = |e: &Entry| {
            e.node.as_ref().is_some_and(|n| {
                n.name == e.crm_name
                    && Some(
                        n.parent
                            .map(NodeKey::Node)
                            .unwrap_or(NodeKey::Record(n.record)),
                    ) == e.parent
            })
        };
        sorted.sort_by_key(|k| (!in_place_crm(&self.entries[k]), *k));
        for k in &sorted {
            let e = self.entries.get_mut(k).expect("entry");
            if in_place_crm(e) {
                taken.insert(crm_key(&e.crm_name));
                continue;
            }
            let mut name = e.crm_name.clone();
            let mut n = 2;
            while taken.contains(&crm_key(&name)) {
                name = numbered(&e.crm_name, n);
                n += 1;
            }
            taken.insert(crm_key(&name));
            e.crm_name = name;
        }
        // Remote side: items already there keep their names (Drive's duplicates included);
        // what moves or is created there gets a free one (Drive: by exact name).
        let remote_folder = self.entries[&folder].remote.as_ref().map(|r| r.id.clone());
        let caps = self.caps;
        let mut taken: BTreeSet<String> = remote_folder
            .iter()
            .flat_map(|f| self.kids(f))
            .filter(|id| {
                self.by_remote
                    .get(id)
                    .is_none_or(|k| !self.entries.contains_key(k))
            })
            .map(|id| remote_key(&caps, &self.view[&id].name))
            .collect();
        let mut sorted: Vec<NodeKey> = children.to_vec();
        let in_place_remote = |e: &Entry| {
            e.remote.as_ref().is_some_and(|r| {
                r.name == e.remote_name && r.parent.is_some() && r.parent == remote_folder
            })
        };
        sorted.sort_by_key(|k| (!in_place_remote(&self.entries[k]), *k));
        for k in &sorted {
            let e = self.entries.get_mut(k).expect("entry");
            if in_place_remote(e) {
                taken.insert(remote_key(&caps, &e.remote_name));
                continue;
            }
            let mut name = e.remote_name.clone();
            let mut n = 2;
            while taken.contains(&remote_key(&caps, &name)) {
                name = numbered(&e.remote_name, n);
                n += 1;
            }
            taken.insert(remote_key(&caps, &name));
            e.remote_name = name;
        }
    }

    /// The path of a remote item where it is now, from the root (`/Companies/Acme/a.pdf`).
    fn current_path(&self, id: &str) -> String {
        let mut parts = Vec::new();
        let mut at = self.view.get(id);
        while let Some(item) = at {
            if Some(&item.id) == self.root_id.as_ref() {
                break;
            }
            parts.push(item.name.clone());
            at = item.parent.as_ref().and_then(|p| self.view.get(p));
        }
        parts.reverse();
        parts.iter().map(|p| format!("/{p}")).collect()
    }

    fn parent_remote_id(&self, parent: Option<NodeKey>) -> Option<String> {
        let p = parent?;
        self.entries
            .get(&p)
            .and_then(|e| e.remote.as_ref().map(|r| r.id.clone()))
    }

    fn parent_node_id(parent: Option<NodeKey>) -> Option<Uuid> {
        match parent {
            Some(NodeKey::Node(id)) => Some(id),
            _ => None,
        }
    }

    /// The link as it stands before this run's steps for an entry: the stored one, or a
    /// new one (written only by a step that makes both sides agree).
    fn start_link(&self, e: &Entry, path: &str) -> Link {
        if let Some(l) = &e.link {
            return Link {
                state: LinkState::Synced,
                ..l.clone()
            };
        }
        Link {
            key: e.key,
            record: e.record,
            state: LinkState::Synced,
            crm_version: e.node.as_ref().map_or(0, |n| n.version),
            sha256: None,
            crm_parent: e.parent,
            crm_name: e.crm_name.clone(),
            remote_id: e.remote.as_ref().map(|r| r.id.clone()).unwrap_or_default(),
            remote_parent: self.parent_remote_id(e.parent),
            remote_name: e.remote_name.clone(),
            remote_rev: None,
            remote_hash: None,
            path: path.to_string(),
        }
    }

    fn entry_steps(&mut self, e: &Entry, path: &str, ops: [&mut Vec<Step>; 4]) {
        let [remote_ops, crm_ops, content_ops, link_ops] = ops;
        let mut link = self.start_link(e, path);
        let had_link = e.link.is_some();
        let stored = e.link.clone();
        // The link as the last step carrying it wrote it.
        let mut written: Option<Link> = None;
        // The root's parent is the provider's (Drive: My Drive, `root`).
        let parent_id = match (e.key, self.caps.root) {
            (NodeKey::Root, RootKind::Folder { parent, .. }) => Some(parent.to_string()),
            (NodeKey::Root, RootKind::AppFolder) => Some(String::new()),
            _ => self.parent_remote_id(e.parent),
        };
        let at = Place {
            parent: e.parent.unwrap_or(NodeKey::Root),
            parent_id: parent_id.clone(),
            name: e.remote_name.clone(),
            path: path.to_string(),
        };
        let crm_file = e.node.as_ref().and_then(|n| n.file.clone());
        let mut crm_version = e.node.as_ref().map_or(1, |n| n.version);
        let provider_hash = crm_file.as_ref().and_then(|f| {
            f.provider_hashes
                .iter()
                .find(|h| h.kind == self.caps.hash)
                .cloned()
        });
        // A CRM node that stays where it is: what the remote writes make agree with it.
        if let Some(node) = &e.node {
            if Some(self.crm_parent(node)) == e.parent && node.name == e.crm_name {
                link.crm_parent = e.parent;
                link.crm_name = node.name.clone();
                link.crm_version = node.version;
            }
        }
        // An import first: the CRM node exists, linked to the item where it is now, before
        // any remote write that could take the item's link away (a crash in between then
        // loses track of nothing).
        let crm_parent_id = Self::parent_node_id(e.parent);
        let mut imported = false;
        if let (None, NodeKey::Node(id), Some(item)) = (&e.node, e.key, &e.remote) {
            let record = e.record.expect("a node has a record");
            imported = true;
            link.crm_parent = e.parent;
            link.crm_name = e.crm_name.clone();
            link.crm_version = 1;
            link.remote_id = item.id.clone();
            link.remote_parent = item.parent.clone();
            link.remote_name = item.name.clone();
            link.path = self.current_path(&item.id);
            written = Some(link.clone());
            match &item.kind {
                RemoteKind::File { rev, hash, .. } => {
                    link.remote_rev = Some(rev.clone());
                    link.remote_hash = hash.clone();
                    // Our hash of what is downloaded: the executor fills it in.
                    link.sha256 = None;
                    written = Some(link.clone());
                    crm_ops.push(Step::Download {
                        node_id: id,
                        record,
                        parent: crm_parent_id,
                        name: e.crm_name.clone(),
                        remote_id: item.id.clone(),
                        rev: rev.clone(),
                        create: true,
                        if_version: None,
                        link: link.clone(),
                    });
                }
                _ => crm_ops.push(Step::CreateCrmFolder {
                    node_id: id,
                    record,
                    parent: crm_parent_id,
                    name: e.crm_name.clone(),
                    link: link.clone(),
                }),
            }
        }
        // CRM side: move.
        match (&e.node, e.key) {
            (None, NodeKey::Node(_)) => {} // imported above
            (Some(node), _) => {
                let now_parent = self.crm_parent(node);
                if Some(now_parent) != e.parent || node.name != e.crm_name {
                    crm_version += 1;
                    link.crm_parent = e.parent;
                    link.crm_name = e.crm_name.clone();
                    link.crm_version = crm_version;
                    crm_ops.push(Step::MoveCrm {
                        node_id: node.id,
                        parent: crm_parent_id,
                        name: e.crm_name.clone(),
                        if_version: node.version,
                        link: (had_link && e.remote.is_some()).then(|| {
                            written = Some(link.clone());
                            link.clone()
                        }),
                    });
                } else if e.remote.is_some() {
                    link.crm_parent = Some(now_parent);
                    link.crm_name = node.name.clone();
                }
            }
            _ => {
                // Structural: the CRM side is the record's name.
                link.crm_parent = e.parent;
                link.crm_name = e.crm_name.clone();
            }
        }
        // Remote side: create or move.
        match &e.remote {
            None => {
                link.remote_parent = parent_id.clone();
                link.remote_name = e.remote_name.clone();
                link.path = path.to_string();
                link.crm_parent = e.parent;
                link.crm_name = e.crm_name.clone();
                link.crm_version = crm_version;
                if e.folder {
                    remote_ops.push(Step::CreateRemoteFolder {
                        key: e.key,
                        at: at.clone(),
                        link: {
                            written = Some(link.clone());
                            link.clone()
                        },
                    });
                } else {
                    let file = crm_file.clone().expect("a file");
                    link.sha256 = Some(file.sha256.clone());
                    link.remote_hash = provider_hash.clone();
                    link.remote_rev = None;
                    remote_ops.push(Step::Upload {
                        key: e.key,
                        node_id: e.node.as_ref().expect("node").id,
                        sha256: file.sha256,
                        remote_id: None,
                        if_rev: None,
                        at: at.clone(),
                        link: {
                            written = Some(link.clone());
                            link.clone()
                        },
                    });
                }
            }
            Some(item) => {
                if item.parent != parent_id && e.parent.is_some() || item.name != e.remote_name {
                    let case_only = self.caps.case_insensitive
                        && item.parent == parent_id
                        && remote_key(&self.caps, &item.name)
                            == remote_key(&self.caps, &e.remote_name);
                    link.remote_parent = parent_id.clone();
                    link.remote_name = e.remote_name.clone();
                    link.path = path.to_string();
                    remote_ops.push(Step::MoveRemote {
                        key: e.key,
                        remote_id: item.id.clone(),
                        at: at.clone(),
                        case_only,
                        link: (had_link || imported).then(|| {
                            written = Some(link.clone());
                            link.clone()
                        }),
                    });
                } else {
                    link.remote_parent = item.parent.clone();
                    // Where case does not count (Dropbox), a listing's casing may be stale
                    // (case-only renames are not listed): the link changes only with the key.
                    let caps = self.caps;
                    let same = |a: &str, b: &str| remote_key(&caps, a) == remote_key(&caps, b);
                    if !(caps.case_insensitive && same(&link.remote_name, &item.name)) {
                        link.remote_name = item.name.clone();
                    }
                    if !(caps.case_insensitive && same(&link.path, path)) {
                        link.path = path.to_string();
                    }
                }
            }
        }
        let Some(item) = &e.remote else { return };
        // Content.
        if let (Some(node), Some(file), RemoteKind::File { rev, hash, .. }) =
            (&e.node, &crm_file, &item.kind)
        {
            match e.content {
                Content::Upload => {
                    link.sha256 = Some(file.sha256.clone());
                    link.remote_hash = provider_hash.clone();
                    link.crm_version = crm_version;
                    content_ops.push(Step::Upload {
                        key: e.key,
                        node_id: node.id,
                        sha256: file.sha256.clone(),
                        remote_id: Some(item.id.clone()),
                        if_rev: Some(rev.clone()),
                        at: at.clone(),
                        link: link.clone(),
                    });
                    return;
                }
                Content::Download => {
                    link.remote_rev = Some(rev.clone());
                    link.remote_hash = hash.clone();
                    link.sha256 = None;
                    link.crm_version = crm_version + 1;
                    content_ops.push(Step::Download {
                        node_id: node.id,
                        record: node.record,
                        parent: crm_parent_id,
                        name: e.crm_name.clone(),
                        remote_id: item.id.clone(),
                        rev: rev.clone(),
                        create: false,
                        if_version: Some(crm_version),
                        link: link.clone(),
                    });
                    return;
                }
                _ => {
                    link.sha256 = Some(file.sha256.clone());
                    link.remote_rev = Some(rev.clone());
                    link.remote_hash = hash.clone();
                    link.crm_version = crm_version;
                }
            }
        } else if e.node.is_some() {
            link.crm_version = crm_version;
        }
        link.remote_id = item.id.clone();
        if written.or(stored).as_ref() != Some(&link) {
            link_ops.push(Step::PutLink { link });
        }
    }

    /// Remote deletes (the topmost deleted item of a subtree), with the links they drop.
    fn deletes(&mut self) -> Vec<Step> {
        let mut out = Vec::new();
        let keys: Vec<NodeKey> = self
            .fates
            .iter()
            .filter(|(_, f)| **f == Fate::DeleteRemote)
            .map(|(k, _)| *k)
            .collect();
        let deleted: BTreeSet<String> = keys
            .iter()
            .filter_map(|k| self.pairs.get(k).cloned())
            .collect();
        for key in keys {
            let Some(id) = self.pairs.get(&key).cloned() else {
                continue;
            };
            let item = &self.view[&id];
            if item.parent.as_ref().is_some_and(|p| deleted.contains(p)) {
                continue; // goes with its folder
            }
            let mut drop_links = vec![key];
            let mut stack = self.kids(&id);
            while let Some(c) = stack.pop() {
                if let Some(k) = self.by_remote.get(&c) {
                    if self.links.contains_key(k) && !self.entries.contains_key(k) {
                        drop_links.push(*k);
                    }
                }
                stack.extend(self.kids(&c));
            }
            let path = self
                .links
                .get(&key)
                .map(|l| l.path.clone())
                .unwrap_or_default();
            let if_rev = match &item.kind {
                RemoteKind::File { rev, .. } => Some(rev.clone()),
                _ => None,
            };
            out.push(Step::DeleteRemote {
                key,
                remote_id: id,
                path,
                if_rev,
                drop_links,
            });
        }
        for (key, id) in &self.twins {
            let if_rev = match &self.view[id].kind {
                RemoteKind::File { rev, .. } => Some(rev.clone()),
                _ => None,
            };
            out.push(Step::DeleteRemote {
                key: *key,
                remote_id: id.clone(),
                path: String::new(),
                if_rev,
                drop_links: vec![],
            });
        }
        out
    }

    /// Links no step rewrites: tombstones, and links whose both sides are gone or that
    /// moved to another key.
    fn leftover_links(&self, deletes: &[Step]) -> Vec<Step> {
        let mut out = Vec::new();
        let dropped_by_delete: BTreeSet<NodeKey> = deletes
            .iter()
            .flat_map(|s| match s {
                Step::DeleteRemote { drop_links, .. } => drop_links.clone(),
                _ => vec![],
            })
            .collect();
        for link in self.input.links.iter().filter(|l| self.link_in_scope(l)) {
            if self.entries.contains_key(&link.key) || dropped_by_delete.contains(&link.key) {
                continue;
            }
            match self.fates.get(&link.key) {
                Some(Fate::Tombstone) => out.push(Step::PutLink {
                    link: Link {
                        state: LinkState::GoneRemotely,
                        ..link.clone()
                    },
                }),
                Some(Fate::Dormant | Fate::DeleteRemote) => {}
                _ => out.push(Step::DeleteLink { key: link.key }),
            }
        }
        out
    }
    /// Orders the remote creates and moves: a parent before its children, a name freed
    /// before it is taken (also on Drive, which would accept a duplicate); a cycle of
    /// renames goes through a temporary name.
    fn schedule_remote(&mut self, ops: Vec<Step>) -> Vec<Step> {
        let caps = self.caps;
        let slot = move |parent: &str, name: &str| format!("{parent}/{}", remote_key(&caps, name));
        let occupied = self
            .view
            .values()
            .filter_map(|i| Some((slot(i.parent.as_ref()?, &i.name), i.id.clone())))
            .collect();
        let mut exists: BTreeSet<String> = self
            .view
            .values()
            .filter(|i| i.kind == RemoteKind::Folder)
            .map(|i| i.id.clone())
            .collect();
        // The root folder is made in the provider's own root (Drive: My Drive).
        let root_parent = match caps.root {
            RootKind::Folder { parent, .. } => parent.to_string(),
            RootKind::AppFolder => String::new(),
        };
        exists.insert(root_parent.clone());
        let entries = &self.entries;
        let ref_of = |key: &NodeKey| {
            entries
                .get(key)
                .and_then(|e| e.remote.as_ref().map(|r| r.id.clone()))
                .unwrap_or_else(|| format!("new:{}", key.marker()))
        };
        let need = |step: &Step| match step {
            Step::MoveRemote { at, remote_id, .. } => Need {
                slot: slot(&ref_of(&at.parent), &at.name),
                parent: ref_of(&at.parent),
                mover: Some(remote_id.clone()),
                creates: None,
            },
            Step::CreateRemoteFolder { key, at, .. } | Step::Upload { key, at, .. } => {
                let parent = if *key == NodeKey::Root {
                    root_parent.clone()
                } else {
                    ref_of(&at.parent)
                };
                Need {
                    slot: slot(&parent, &at.name),
                    parent,
                    mover: Some(format!("new:{}", key.marker())),
                    creates: matches!(step, Step::CreateRemoteFolder { .. })
                        .then(|| format!("new:{}", key.marker())),
                }
            }
            _ => unreachable!("remote ops only"),
        };
        let view = &self.view;
        let mut temps = 0;
        let aside = |step: &mut Step, occupied: &mut BTreeMap<String, String>| {
            let Step::MoveRemote {
                key, remote_id, at, ..
            } = step.clone()
            else {
                return None;
            };
            let current = &view[&remote_id];
            temps += 1;
            let temp = numbered(&current.name, 1000 + temps);
            occupied.retain(|_, o| *o != remote_id);
            occupied.insert(
                slot(current.parent.as_deref().unwrap_or_default(), &temp),
                remote_id.clone(),
            );
            Some(Step::MoveRemote {
                key,
                remote_id,
                at: Place {
                    parent: at.parent,
                    parent_id: current.parent.clone(),
                    path: format!("{}/{temp}", at.path.rsplit_once('/').map_or("", |p| p.0)),
                    name: temp,
                },
                case_only: false,
                link: None,
            })
        };
        schedule(ops, occupied, exists, need, aside)
    }

    /// The same for the CRM's creates and moves (names are unique per folder, by lower case).
    fn schedule_crm(&mut self, ops: Vec<Step>) -> (Vec<Step>, Vec<Uuid>) {
        let slot = |record: RecordRef, parent: Option<Uuid>, name: &str| {
            format!("{record:?}/{parent:?}/{}", crm_key(name))
        };
        let live = || self.input.nodes.iter().filter(|n| !n.trashed);
        let occupied = live()
            .map(|n| (slot(n.record, n.parent, &n.name), n.id.to_string()))
            .collect();
        let mut exists: BTreeSet<String> = live()
            .filter(|n| n.file.is_none())
            .map(|n| n.id.to_string())
            .collect();
        exists.insert(String::new()); // the top of a record's tree
        let nodes = &self.nodes;
        let need = |step: &Step| {
            let (record, parent, name, id, folder) = match step {
                Step::MoveCrm {
                    node_id,
                    parent,
                    name,
                    ..
                } => (nodes[node_id].record, *parent, name, *node_id, false),
                Step::CreateCrmFolder {
                    node_id,
                    record,
                    parent,
                    name,
                    ..
                } => (*record, *parent, name, *node_id, true),
                Step::Download {
                    node_id,
                    record,
                    parent,
                    name,
                    ..
                } => (*record, *parent, name, *node_id, false),
                _ => unreachable!("crm ops only"),
            };
            Need {
                slot: slot(record, parent, name),
                parent: parent.map(|p| p.to_string()).unwrap_or_default(),
                mover: Some(id.to_string()),
                creates: folder.then(|| id.to_string()),
            }
        };
        let mut temps = 0;
        let mut moved_aside = Vec::new();
        let aside = |step: &mut Step, occupied: &mut BTreeMap<String, String>| {
            let Step::MoveCrm {
                node_id,
                if_version,
                ..
            } = step
            else {
                return None;
            };
            let node = nodes[node_id];
            temps += 1;
            let temp = numbered(&node.name, 1000 + temps);
            let id = node_id.to_string();
            occupied.retain(|_, o| *o != id);
            occupied.insert(slot(node.record, node.parent, &temp), id);
            let temp_step = Step::MoveCrm {
                node_id: *node_id,
                parent: node.parent,
                name: temp,
                if_version: *if_version,
                link: None,
            };
            // The real move now expects one more version.
            *if_version += 1;
            moved_aside.push(*node_id);
            Some(temp_step)
        };
        let steps = schedule(ops, occupied, exists, need, aside);
        (steps, moved_aside)
    }

    // ---- 7. Guards ----

    fn guard(&self) -> Vec<Refusal> {
        let g = self.input.guards;
        let mut refusals = Vec::new();
        let linked_files = self
            .input
            .links
            .iter()
            .filter(|l| self.link_in_scope(l) && l.sha256.is_some() && l.state == LinkState::Synced)
            .count();
        if !g.allow_mass_delete {
            let deletes: usize = self
                .out
                .steps
                .iter()
                .map(|s| match s {
                    Step::DeleteRemote { drop_links, .. } => drop_links
                        .iter()
                        .filter(|k| self.links.get(k).is_some_and(|l| l.sha256.is_some()))
                        .count(),
                    _ => 0,
                })
                .sum();
            let vanished = self.vanished.len();
            let too_many = |n: usize| {
                n > g.max_deletes
                    || (n >= g.min_deletes && n as f64 > g.max_delete_ratio * linked_files as f64)
            };
            if too_many(deletes) {
                refusals.push(Refusal::MassDelete {
                    deletes,
                    linked: linked_files,
                });
            }
            if too_many(vanished) {
                refusals.push(Refusal::MassVanish {
                    gone: vanished,
                    linked: linked_files,
                });
            }
        }
        if !g.allow_missing {
            let synced = |k: &NodeKey| {
                self.links
                    .get(k)
                    .is_some_and(|l| l.state == LinkState::Synced)
            };
            if synced(&NodeKey::Root)
                && self.links.get(&NodeKey::Root).map(|l| &l.remote_id)
                    != self.pairs.get(&NodeKey::Root)
            {
                refusals.push(Refusal::RootMissing);
            }
            for r in self.records.keys() {
                let key = NodeKey::Record(*r);
                let Some(link) = self
                    .links
                    .get(&key)
                    .filter(|l| l.state == LinkState::Synced)
                else {
                    continue;
                };
                if self.pairs.get(&key) != Some(&link.remote_id) {
                    refusals.push(Refusal::RecordFolderMissing { record: *r });
                    continue;
                }
                let files: Vec<&NodeKey> = self
                    .input
                    .links
                    .iter()
                    .filter(|l| {
                        l.record == Some(*r) && l.sha256.is_some() && l.state == LinkState::Synced
                    })
                    .map(|l| &l.key)
                    .collect();
                if files.len() >= g.min_emptied && files.iter().all(|k| self.vanished.contains(k)) {
                    refusals.push(Refusal::RecordFolderEmptied {
                        record: *r,
                        files: files.len(),
                    });
                }
            }
            let links = self
                .input
                .links
                .iter()
                .filter(|l| self.link_in_scope(l) && !l.key.is_structural())
                .count();
            if self.input.remote.listing == (Listing::Full { complete: true })
                && self.input.remote.items.is_empty()
                && links > 0
            {
                refusals.push(Refusal::EmptyListing { links });
            }
        }
        refusals
    }
}

/// One more CRM version in a step of node `id` (its link, a download's condition).
fn bump_version(step: &mut Step, id: Uuid) {
    let key = NodeKey::Node(id);
    match step {
        Step::Download {
            node_id,
            if_version,
            link,
            ..
        } if *node_id == id => {
            *if_version = if_version.map(|v| v + 1);
            link.crm_version += 1;
        }
        Step::MoveCrm {
            link: Some(link), ..
        }
        | Step::MoveRemote {
            link: Some(link), ..
        }
        | Step::CreateRemoteFolder { link, .. }
        | Step::Upload { link, .. }
        | Step::PutLink { link }
            if link.key == key =>
        {
            link.crm_version += 1;
        }
        _ => {}
    }
}

/// What a create or a move needs and does, for [`schedule`]: its parent must exist, its
/// slot (parent and name key) be free or its own; it then holds the slot (`mover`) and, for
/// a folder, exists as a parent (`creates`).
struct Need {
    parent: String,
    slot: String,
    mover: Option<String>,
    creates: Option<String>,
}

/// Orders creates and moves of one side: repeatedly the first step that can go; when none
/// can (a cycle of renames, `a`↔`b`), `aside` moves one mover to a temporary name (at most
/// 64 times; then the rest goes as it is and the executor's error stops the run).
fn schedule(
    mut pending: Vec<Step>,
    mut occupied: BTreeMap<String, String>,
    mut exists: BTreeSet<String>,
    need: impl Fn(&Step) -> Need,
    mut aside: impl FnMut(&mut Step, &mut BTreeMap<String, String>) -> Option<Step>,
) -> Vec<Step> {
    let mut out = Vec::new();
    let mut temps = 0;
    while !pending.is_empty() {
        let ready = pending.iter().position(|step| {
            let n = need(step);
            exists.contains(&n.parent)
                && occupied
                    .get(&n.slot)
                    .is_none_or(|o| Some(o) == n.mover.as_ref())
        });
        if let Some(i) = ready {
            let step = pending.remove(i);
            let n = need(&step);
            if let Some(m) = &n.mover {
                occupied.retain(|_, o| o != m);
                occupied.insert(n.slot, m.clone());
            }
            if let Some(c) = n.creates {
                exists.insert(c);
            }
            out.push(step);
            continue;
        }
        temps += 1;
        let moved_aside = (temps <= 64)
            .then(|| pending.iter_mut().find_map(|s| aside(s, &mut occupied)))
            .flatten();
        match moved_aside {
            Some(step) => out.push(step),
            None => {
                out.append(&mut pending);
                break;
            }
        }
    }
    out
}

/// A linked item as it was at the last sync (what an incremental listing that does not
/// name it says of it).
fn snapshot(link: &Link) -> RemoteItem {
    RemoteItem {
        id: link.remote_id.clone(),
        parent: link.remote_parent.clone(),
        name: link.remote_name.clone(),
        marker: None,
        kind: match &link.sha256 {
            Some(_) => RemoteKind::File {
                rev: link.remote_rev.clone().unwrap_or_default(),
                hash: link.remote_hash.clone(),
                size: 0,
                modified: None,
            },
            None => RemoteKind::Folder,
        },
    }
}

/// The provider-kind hash a link would keep for a CRM content, if the caller gave it.
pub fn provider_hash_of(hashes: &[RemoteHash], kind: crate::hash::HashKind) -> Option<RemoteHash> {
    hashes.iter().find(|h| h.kind == kind).cloned()
}
