//! An in-memory world for whole runs: the CRM's document trees (unique names by lower case,
//! versions, a trash, every content ever stored), a provider (Dropbox or Drive rules: ids,
//! revs, hashes, unique or duplicate names, NFC, a change log with cursors), the link table,
//! and an executor that applies plans step by step — with a crash or a lost answer at any
//! step.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{TimeZone, Utc};
use md5::{Digest, Md5};
use threadline_files_core::hash::sha256_hex;
use threadline_files_core::names::remote_key;
use threadline_files_core::plan::Place;
use threadline_files_core::{
    dropbox_content_hash, plan, Capabilities, CrmFile, CrmNode, CrmRecord, Guards, HashKind, Link,
    LinkState, Listing, NodeKey, Plan, PlanError, PlanInput, Provider, RecordKind, RecordRef,
    RemoteHash, RemoteItem, RemoteKind, RemoteRun, Step,
};
use unicode_normalization::UnicodeNormalization;
use uuid::Uuid;

pub fn company(n: u128) -> RecordRef {
    RecordRef {
        kind: RecordKind::Company,
        id: Uuid::from_u128(0xC0_0000 + n),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MNode {
    pub id: Uuid,
    pub record: RecordRef,
    pub parent: Option<Uuid>,
    pub name: String,
    pub version: i64,
    pub trashed: bool,
    pub trash_top: Option<Uuid>,
    pub content: Option<Vec<u8>>,
}

/// The CRM's document trees, with its rules.
#[derive(Debug, Clone, Default)]
pub struct Crm {
    pub nodes: BTreeMap<Uuid, MNode>,
    pub records: BTreeMap<RecordRef, String>,
    /// Every content ever stored in any node (versions are kept; the trash is restorable).
    pub history: BTreeSet<Vec<u8>>,
    next: u128,
}

impl Crm {
    fn taken(&self, record: RecordRef, parent: Option<Uuid>, name: &str, except: Uuid) -> bool {
        self.nodes.values().any(|n| {
            !n.trashed
                && n.id != except
                && n.record == record
                && n.parent == parent
                && n.name.to_lowercase() == name.to_lowercase()
        })
    }

    fn check_parent(&self, record: RecordRef, parent: Option<Uuid>) -> Result<(), String> {
        match parent {
            None => Ok(()),
            Some(p) => match self.nodes.get(&p) {
                Some(n) if !n.trashed && n.content.is_none() && n.record == record => Ok(()),
                _ => Err(format!("crm: no live folder {p}")),
            },
        }
    }

    pub fn create_with_id(
        &mut self,
        id: Uuid,
        record: RecordRef,
        parent: Option<Uuid>,
        name: &str,
        content: Option<Vec<u8>>,
    ) -> Result<(), String> {
        if let Some(n) = self.nodes.get(&id) {
            // A repeated transaction: the row exists.
            return if n.trashed {
                Err(format!("crm: {id} exists in the trash"))
            } else {
                Ok(())
            };
        }
        if threadline_files_core::names::crm_refuses(name).is_some() {
            return Err(format!("crm: name {name:?} refused"));
        }
        self.check_parent(record, parent)?;
        if self.taken(record, parent, name, id) {
            return Err(format!("crm: name {name:?} taken"));
        }
        if let Some(c) = &content {
            self.history.insert(c.clone());
        }
        self.nodes.insert(
            id,
            MNode {
                id,
                record,
                parent,
                name: name.into(),
                version: 1,
                trashed: false,
                trash_top: None,
                content,
            },
        );
        Ok(())
    }

    pub fn create(
        &mut self,
        record: RecordRef,
        parent: Option<Uuid>,
        name: &str,
        content: Option<Vec<u8>>,
    ) -> Result<Uuid, String> {
        self.next += 1;
        let id = Uuid::from_u128(0xAA00_0000 + self.next);
        self.create_with_id(id, record, parent, name, content)?;
        Ok(id)
    }

    fn live(&self, id: Uuid, if_version: Option<i64>) -> Result<&MNode, String> {
        let n = self
            .nodes
            .get(&id)
            .filter(|n| !n.trashed)
            .ok_or(format!("crm: no live node {id}"))?;
        if if_version.is_some_and(|v| v != n.version) {
            return Err(format!("crm: stale version of {id}"));
        }
        Ok(n)
    }

    pub fn replace(
        &mut self,
        id: Uuid,
        content: Vec<u8>,
        if_version: Option<i64>,
    ) -> Result<(), String> {
        self.live(id, if_version)?;
        self.history.insert(content.clone());
        let n = self.nodes.get_mut(&id).unwrap();
        n.content = Some(content);
        n.version += 1;
        Ok(())
    }

    pub fn rename_move(
        &mut self,
        id: Uuid,
        parent: Option<Uuid>,
        name: &str,
        if_version: Option<i64>,
    ) -> Result<(), String> {
        let record = self.live(id, if_version)?.record;
        if threadline_files_core::names::crm_refuses(name).is_some() {
            return Err(format!("crm: name {name:?} refused"));
        }
        self.check_parent(record, parent)?;
        // Not into itself.
        let mut at = parent;
        while let Some(p) = at {
            if p == id {
                return Err("crm: a folder into itself".into());
            }
            at = self.nodes[&p].parent;
        }
        if self.taken(record, parent, name, id) {
            return Err(format!("crm: name {name:?} taken"));
        }
        let n = self.nodes.get_mut(&id).unwrap();
        n.parent = parent;
        n.name = name.into();
        n.version += 1;
        Ok(())
    }

    fn subtree(&self, id: Uuid) -> Vec<Uuid> {
        let mut out = vec![id];
        let mut i = 0;
        while i < out.len() {
            let p = out[i];
            out.extend(
                self.nodes
                    .values()
                    .filter(|n| n.parent == Some(p))
                    .map(|n| n.id),
            );
            i += 1;
        }
        out
    }

    pub fn trash(&mut self, id: Uuid) -> Result<(), String> {
        self.live(id, None)?;
        for n in self.subtree(id) {
            let node = self.nodes.get_mut(&n).unwrap();
            if !node.trashed {
                node.trashed = true;
                node.trash_top = Some(id);
                node.version += 1;
            }
        }
        Ok(())
    }

    pub fn restore(&mut self, id: Uuid) -> Result<(), String> {
        let n = self.nodes.get(&id).ok_or("crm: no node")?.clone();
        if n.trash_top != Some(id) {
            return Err("crm: not a trash entry".into());
        }
        self.check_parent(n.record, n.parent)?;
        if self.taken(n.record, n.parent, &n.name, id) {
            return Err("crm: name taken".into());
        }
        for m in self.nodes.values_mut().filter(|m| m.trash_top == Some(id)) {
            m.trashed = false;
            m.trash_top = None;
            m.version += 1;
        }
        Ok(())
    }

    pub fn live_ids(&self) -> Vec<Uuid> {
        self.nodes
            .values()
            .filter(|n| !n.trashed)
            .map(|n| n.id)
            .collect()
    }

    pub fn find(&self, record: RecordRef, path: &[&str]) -> Option<&MNode> {
        let mut parent = None;
        let mut found = None;
        for part in path {
            found = self.nodes.values().find(|n| {
                !n.trashed && n.record == record && n.parent == parent && n.name == *part
            });
            parent = Some(found?.id);
        }
        found
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RItem {
    pub id: String,
    pub parent: Option<String>,
    pub name: String,
    pub folder: bool,
    pub content: Vec<u8>,
    pub rev: u64,
    pub marker: Option<NodeKey>,
    pub deleted: bool,
}

#[derive(Debug, Clone)]
enum Change {
    Present(String),
    DeletedId(String),
    DeletedPath(String),
}

/// A provider with Dropbox's or Drive's rules.
#[derive(Debug, Clone)]
pub struct Remote {
    pub provider: Provider,
    pub caps: Capabilities,
    pub items: BTreeMap<String, RItem>,
    log: Vec<Change>,
    next: u64,
    /// The provider's own root (Dropbox: the app folder `""`; Drive: My Drive `root`).
    pub top: String,
    /// Writes made (creates, uploads, moves, deletes).
    pub writes: usize,
}

impl Remote {
    pub fn new(provider: Provider) -> Remote {
        let top = match provider {
            Provider::Dropbox => String::new(),
            Provider::GoogleDrive => "root".to_string(),
        };
        let mut items = BTreeMap::new();
        items.insert(
            top.clone(),
            RItem {
                id: top.clone(),
                parent: None,
                name: String::new(),
                folder: true,
                content: vec![],
                rev: 0,
                marker: None,
                deleted: false,
            },
        );
        Remote {
            provider,
            caps: provider.capabilities(),
            items,
            log: vec![],
            next: 0,
            top,
            writes: 0,
        }
    }

    pub fn hash(&self, content: &[u8]) -> RemoteHash {
        match self.caps.hash {
            HashKind::DropboxContentHash => {
                RemoteHash::new(HashKind::DropboxContentHash, dropbox_content_hash(content))
            }
            HashKind::Md5 => RemoteHash::new(
                HashKind::Md5,
                Md5::digest(content)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>(),
            ),
            HashKind::Sha256 => RemoteHash::new(HashKind::Sha256, sha256_hex(content)),
        }
    }

    fn norm(&self, name: &str) -> String {
        if self.caps.nfc_names {
            name.nfc().collect()
        } else {
            name.to_string()
        }
    }

    fn live(&self, id: &str) -> Option<&RItem> {
        self.items.get(id).filter(|i| !i.deleted)
    }

    pub fn children(&self, parent: &str) -> Vec<&RItem> {
        self.items
            .values()
            .filter(|i| !i.deleted && i.parent.as_deref() == Some(parent))
            .collect()
    }

    fn clash(&self, parent: &str, name: &str, except: &str) -> Option<&RItem> {
        if !self.caps.unique_names {
            return None;
        }
        let key = remote_key(&self.caps, name);
        self.children(parent)
            .into_iter()
            .find(|i| i.id != except && remote_key(&self.caps, &i.name) == key)
    }

    pub fn path(&self, id: &str) -> String {
        let mut parts = vec![];
        let mut at = self.items.get(id);
        while let Some(i) = at {
            if i.id == self.top || i.parent.is_none() {
                break;
            }
            parts.push(i.name.clone());
            at = i.parent.as_deref().and_then(|p| self.items.get(p));
        }
        if self.provider == Provider::GoogleDrive && !parts.is_empty() {
            parts.pop(); // the Threadline folder: paths are from our root
        }
        parts.reverse();
        parts.iter().map(|p| format!("/{p}")).collect()
    }

    pub fn subtree(&self, id: &str) -> Vec<String> {
        let mut out = vec![id.to_string()];
        let mut i = 0;
        while i < out.len() {
            let p = out[i].clone();
            out.extend(self.children(&p).iter().map(|c| c.id.clone()));
            i += 1;
        }
        out
    }

    fn touched(&mut self, id: &str) {
        self.log.push(Change::Present(id.to_string()));
    }

    fn new_id(&mut self) -> String {
        self.next += 1;
        match self.provider {
            Provider::Dropbox => format!("id:{:04}", self.next),
            Provider::GoogleDrive => format!("g{:04}", self.next),
        }
    }

    fn new_rev(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    pub fn create(
        &mut self,
        parent: &str,
        name: &str,
        content: Option<Vec<u8>>,
        marker: Option<NodeKey>,
    ) -> Result<String, String> {
        let name = self.norm(name);
        if !self.live(parent).is_some_and(|p| p.folder) {
            return Err(format!("remote: no folder {parent:?}"));
        }
        if let Some(c) = self.clash(parent, &name, "") {
            // Dropbox create_folder_v2: 409 path/conflict/folder → it exists (adopt).
            if content.is_none() && c.folder {
                return Ok(c.id.clone());
            }
            return Err(format!("remote: path/conflict at {name:?}"));
        }
        let id = self.new_id();
        let rev = self.new_rev();
        self.items.insert(
            id.clone(),
            RItem {
                id: id.clone(),
                parent: Some(parent.into()),
                name,
                folder: content.is_none(),
                content: content.unwrap_or_default(),
                rev,
                marker: if self.caps.markers { marker } else { None },
                deleted: false,
            },
        );
        self.writes += 1;
        self.touched(&id);
        Ok(id)
    }

    pub fn update(
        &mut self,
        id: &str,
        content: Vec<u8>,
        if_rev: Option<&str>,
    ) -> Result<(), String> {
        let item = self.live(id).ok_or(format!("remote: no item {id}"))?;
        if if_rev.is_some_and(|r| r != format!("r{}", item.rev)) {
            return Err(format!("remote: stale rev for {id}"));
        }
        if item.content == content {
            return Ok(()); // Dropbox: identical content, no write
        }
        let rev = self.new_rev();
        let item = self.items.get_mut(id).unwrap();
        item.content = content;
        item.rev = rev;
        self.writes += 1;
        self.touched(id);
        Ok(())
    }

    /// A move/rename by id. `api`: Dropbox's `move_v2` refuses a case-only rename.
    pub fn move_item(
        &mut self,
        id: &str,
        parent: &str,
        name: &str,
        api: bool,
    ) -> Result<(), String> {
        let name = self.norm(name);
        let item = self
            .live(id)
            .ok_or(format!("remote: no item {id}"))?
            .clone();
        if !self.live(parent).is_some_and(|p| p.folder) {
            return Err(format!("remote: no folder {parent:?}"));
        }
        if self.subtree(id).iter().any(|x| x == parent) {
            return Err("remote: into itself".into());
        }
        if item.parent.as_deref() == Some(parent) && item.name == name {
            return Ok(());
        }
        let case_only = item.parent.as_deref() == Some(parent)
            && remote_key(&self.caps, &item.name) == remote_key(&self.caps, &name);
        if case_only && api && self.caps.case_insensitive {
            return Err("remote: case-only rename not supported".into());
        }
        if self.clash(parent, &name, id).is_some() {
            return Err(format!("remote: path/conflict at {name:?}"));
        }
        let old_path = self.path(id).to_lowercase();
        let it = self.items.get_mut(id).unwrap();
        it.parent = Some(parent.into());
        it.name = name;
        self.writes += 1;
        if self.provider == Provider::Dropbox {
            // list_folder/continue: no change for a case-only rename; a move is a delete of
            // the old path and every item under the new one.
            if !case_only {
                self.log.push(Change::DeletedPath(old_path));
                for x in self.subtree(id) {
                    self.touched(&x);
                }
            }
        } else {
            self.touched(id);
        }
        Ok(())
    }

    pub fn delete(&mut self, id: &str) {
        if self.live(id).is_none() {
            return; // not found: success
        }
        let path = self.path(id).to_lowercase();
        for x in self.subtree(id) {
            self.items.get_mut(&x).unwrap().deleted = true;
            if self.provider == Provider::GoogleDrive {
                self.log.push(Change::DeletedId(x));
            }
        }
        if self.provider == Provider::Dropbox {
            self.log.push(Change::DeletedPath(path));
        }
        self.writes += 1;
    }

    fn item(&self, i: &RItem) -> RemoteItem {
        RemoteItem {
            id: i.id.clone(),
            parent: i.parent.clone(),
            name: i.name.clone(),
            marker: i.marker,
            kind: if i.folder {
                RemoteKind::Folder
            } else {
                RemoteKind::File {
                    rev: format!("r{}", i.rev),
                    hash: Some(self.hash(&i.content)),
                    size: i.content.len() as u64,
                    modified: Some(
                        Utc.timestamp_opt(1_800_000_000 + 60 * i.rev as i64, 0)
                            .unwrap(),
                    ),
                }
            },
        }
    }

    pub fn cursor(&self) -> usize {
        self.log.len()
    }

    pub fn list(&self, since: Option<usize>) -> RemoteRun {
        let mut run = RemoteRun {
            listing: Listing::Full { complete: true },
            items: vec![],
            deleted_ids: vec![],
            deleted_paths: vec![],
            cursor: Some(self.cursor().to_string()),
        };
        match since {
            None => {
                run.items = self
                    .items
                    .values()
                    .filter(|i| !i.deleted && i.id != self.top)
                    .map(|i| self.item(i))
                    .collect();
            }
            Some(c) => {
                run.listing = Listing::Incremental;
                let mut seen = BTreeSet::new();
                for change in &self.log[c..] {
                    match change {
                        Change::Present(id) | Change::DeletedId(id) => {
                            if !seen.insert(id.clone()) {
                                continue;
                            }
                            match self.live(id) {
                                Some(i) => run.items.push(self.item(i)),
                                // Dropbox lists deletes by path only (DeletedMetadata).
                                None if self.provider == Provider::Dropbox => {}
                                None => run.deleted_ids.push(id.clone()),
                            }
                        }
                        Change::DeletedPath(p) => run.deleted_paths.push(p.clone()),
                    }
                }
                // A present item is listed with its state now, after any delete of its path.
                let present: BTreeSet<String> = run.items.iter().map(|i| i.id.clone()).collect();
                run.deleted_ids.retain(|d| !present.contains(d));
            }
        }
        run
    }

    /// Live files under our tree (the Threadline root's subtree).
    pub fn files_under(&self, root: &str) -> Vec<&RItem> {
        self.subtree(root)
            .iter()
            .filter_map(|id| self.live(id))
            .filter(|i| !i.folder)
            .collect()
    }
}

/// A fault while applying a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// The process dies before step `k`.
    Crash(usize),
    /// Step `k`'s remote write happens, its answer is lost (no link written), and the run
    /// stops.
    Lost(usize),
}

pub struct World {
    pub crm: Crm,
    pub remote: Remote,
    pub links: BTreeMap<NodeKey, Link>,
    pub cursor: Option<usize>,
    pub guards: Guards,
    pub account: String,
    /// Remote contents seen at the start of completed runs: each must reach the CRM.
    pub seen: BTreeSet<Vec<u8>>,
    /// Whether the CRM side gives provider hashes (else the planner asks).
    pub give_hashes: bool,
    pub plans: Vec<Plan>,
}

impl World {
    pub fn new(provider: Provider) -> World {
        World {
            crm: Crm::default(),
            remote: Remote::new(provider),
            links: BTreeMap::new(),
            cursor: None,
            guards: Guards::default(),
            account: "acct".into(),
            seen: BTreeSet::new(),
            give_hashes: true,
            plans: vec![],
        }
    }

    pub fn record(&mut self, r: RecordRef, name: &str) {
        self.crm.records.insert(r, name.into());
    }

    pub fn input(&self) -> PlanInput {
        PlanInput {
            provider: self.remote.provider,
            account: self.account.clone(),
            records: self
                .crm
                .records
                .iter()
                .map(|(r, name)| CrmRecord {
                    record: *r,
                    name: name.clone(),
                })
                .collect(),
            nodes: self
                .crm
                .nodes
                .values()
                .filter(|n| self.crm.records.contains_key(&n.record))
                .map(|n| CrmNode {
                    id: n.id,
                    record: n.record,
                    parent: n.parent,
                    name: n.name.clone(),
                    version: n.version,
                    trashed: n.trashed,
                    file: n.content.as_ref().map(|c| CrmFile {
                        sha256: sha256_hex(c),
                        size: c.len() as u64,
                        provider_hashes: if self.give_hashes {
                            vec![self.remote.hash(c)]
                        } else {
                            vec![]
                        },
                    }),
                })
                .collect(),
            remote: self.remote.list(self.cursor),
            links: self.links.values().cloned().collect(),
            guards: self.guards,
        }
    }

    pub fn plan(&self) -> Result<Plan, PlanError> {
        plan(&self.input())
    }

    /// Our root's remote id, if linked.
    pub fn root_id(&self) -> Option<String> {
        self.links.get(&NodeKey::Root).map(|l| l.remote_id.clone())
    }

    fn note_seen(&mut self) {
        if let Some(root) = self.root_id() {
            let contents: Vec<Vec<u8>> = self
                .remote
                .files_under(&root)
                .into_iter()
                .map(|i| i.content.clone())
                .collect();
            self.seen.extend(contents);
        }
    }

    /// One run: plan and apply it all.
    pub fn sync(&mut self) -> Result<Plan, String> {
        self.run(Fault::None)
    }

    pub fn run(&mut self, fault: Fault) -> Result<Plan, String> {
        let plan = self.plan().map_err(|e| e.to_string())?;
        if fault == Fault::None {
            self.note_seen();
        }
        self.apply(&plan, fault)?;
        self.plans.push(plan.clone());
        Ok(plan)
    }

    fn parent_id(&self, at: &Place, key: NodeKey) -> Result<String, String> {
        if key == NodeKey::Root {
            return Ok(self.remote.top.clone());
        }
        if let Some(id) = &at.parent_id {
            return Ok(id.clone());
        }
        self.links
            .get(&at.parent)
            .map(|l| l.remote_id.clone())
            .ok_or(format!("executor: no remote id for parent {:?}", at.parent))
    }

    pub fn put_link(&mut self, mut link: Link) {
        // What the plan could not know and an earlier step's answer told: kept.
        if let Some(old) = self.links.get(&link.key) {
            if link.sha256.is_none() {
                link.sha256 = old.sha256.clone();
            }
            if link.remote_rev.is_none() && old.remote_id == link.remote_id {
                link.remote_rev = old.remote_rev.clone();
            }
        }
        // A parent created in this run: its id is in its link.
        if link.remote_parent.is_none() && link.key != NodeKey::Root {
            link.remote_parent = link
                .crm_parent
                .and_then(|p| self.links.get(&p))
                .map(|l| l.remote_id.clone());
        }
        // One synced link per remote item (the table's unique index covers synced links).
        if link.state == LinkState::Synced {
            let (id, key) = (link.remote_id.clone(), link.key);
            self.links
                .retain(|k, l| *k == key || l.remote_id != id || l.state != LinkState::Synced);
        }
        self.links.insert(link.key, link);
    }

    fn rev_of(&self, id: &str) -> Option<String> {
        self.remote.items.get(id).map(|i| format!("r{}", i.rev))
    }

    /// Applies a plan's steps in order; a failed step stops the run (an error).
    pub fn apply(&mut self, plan: &Plan, fault: Fault) -> Result<(), String> {
        for (k, step) in plan.steps.iter().enumerate() {
            if fault == Fault::Crash(k) {
                return Ok(());
            }
            let lost = fault == Fault::Lost(k);
            self.step(step, lost)?;
            if lost {
                return Ok(());
            }
        }
        Ok(())
    }

    fn step(&mut self, step: &Step, lost: bool) -> Result<(), String> {
        let marker = |key: NodeKey| Some(key);
        match step.clone() {
            Step::CreateRemoteFolder { key, at, mut link } => {
                let parent = self.parent_id(&at, key)?;
                let id = self.remote.create(&parent, &at.name, None, marker(key))?;
                if lost {
                    return Ok(());
                }
                link.remote_id = id;
                link.remote_parent = Some(parent);
                self.put_link(link);
            }
            Step::Upload {
                key,
                node_id,
                remote_id,
                if_rev,
                at,
                mut link,
                ..
            } => {
                let content = self.crm.nodes[&node_id]
                    .content
                    .clone()
                    .ok_or("not a file")?;
                let id = match remote_id {
                    None => {
                        let parent = self.parent_id(&at, key)?;
                        link.remote_parent = Some(parent.clone());
                        self.remote
                            .create(&parent, &at.name, Some(content.clone()), marker(key))?
                    }
                    Some(id) => {
                        self.remote
                            .update(&id, content.clone(), if_rev.as_deref())?;
                        id
                    }
                };
                if lost {
                    return Ok(());
                }
                link.remote_rev = self.rev_of(&id);
                link.remote_hash = Some(self.remote.hash(&content));
                // The answer's metadata: its name as stored (a case-only rename made in the
                // app is not listed by Dropbox, but an upload's answer tells it).
                link.remote_name = self.remote.items[&id].name.clone();
                let dir = link
                    .path
                    .rsplit_once('/')
                    .map_or("", |(d, _)| d)
                    .to_string();
                link.path = format!("{dir}/{}", link.remote_name);
                link.remote_id = id;
                self.put_link(link);
            }
            Step::MoveRemote {
                key,
                remote_id,
                at,
                case_only,
                link,
            } => {
                let parent = self.parent_id(&at, key)?;
                if case_only {
                    let temp = format!("{}.threadline-case", at.name);
                    self.remote.move_item(&remote_id, &parent, &temp, true)?;
                }
                self.remote.move_item(&remote_id, &parent, &at.name, true)?;
                if self.remote.caps.markers {
                    self.remote.items.get_mut(&remote_id).unwrap().marker = Some(key);
                }
                if lost {
                    return Ok(());
                }
                if let Some(mut link) = link {
                    link.remote_parent = Some(parent);
                    link.remote_rev = link.remote_rev.and(self.rev_of(&remote_id));
                    self.put_link(link);
                }
            }
            Step::DeleteRemote {
                remote_id,
                drop_links,
                ..
            } => {
                self.remote.delete(&remote_id);
                if lost {
                    return Ok(());
                }
                for k in drop_links {
                    self.links.remove(&k);
                }
            }
            _ if lost => {} // a CRM transaction commits with its link, or not at all
            Step::CreateCrmFolder {
                node_id,
                record,
                parent,
                name,
                mut link,
            } => {
                self.crm
                    .create_with_id(node_id, record, parent, &name, None)?;
                link.crm_version = self.crm.nodes[&node_id].version;
                self.put_link(link);
            }
            Step::Download {
                node_id,
                record,
                parent,
                name,
                remote_id,
                rev,
                create,
                if_version,
                mut link,
            } => {
                let item = self.remote.live(&remote_id).ok_or("download: gone")?;
                if format!("r{}", item.rev) != rev {
                    return Err("download: the file changed since the listing".into());
                }
                let content = item.content.clone();
                if create {
                    self.crm.create_with_id(
                        node_id,
                        record,
                        parent,
                        &name,
                        Some(content.clone()),
                    )?;
                } else {
                    self.crm.replace(node_id, content.clone(), if_version)?;
                }
                link.sha256 = Some(sha256_hex(&content));
                link.crm_version = self.crm.nodes[&node_id].version;
                self.put_link(link);
            }
            Step::MoveCrm {
                node_id,
                parent,
                name,
                if_version,
                link,
            } => {
                self.crm
                    .rename_move(node_id, parent, &name, Some(if_version))?;
                if let Some(mut link) = link {
                    link.crm_version = self.crm.nodes[&node_id].version;
                    self.put_link(link);
                }
            }
            Step::PutLink { link } => self.put_link(link),
            Step::DeleteLink { key } => {
                self.links.remove(&key);
            }
            Step::SaveCursor { cursor } => {
                self.cursor = Some(cursor.parse().map_err(|_| "bad cursor")?);
            }
        }
        Ok(())
    }

    /// The remote item of a CRM node, by its link.
    pub fn remote_of(&self, id: Uuid) -> Option<&RItem> {
        let l = self.links.get(&NodeKey::Node(id))?;
        (l.state == LinkState::Synced)
            .then(|| self.remote.live(&l.remote_id))
            .flatten()
    }

    /// Both sides agree: every live CRM node is linked to a live remote item in the linked
    /// parent with the same content, or tombstoned; every remote item under our root is
    /// linked; names are unique per remote folder; every remote content seen is in the CRM.
    pub fn check(&self) -> Result<(), String> {
        let root = self.root_id().ok_or("no root link")?;
        let mut linked_remote = BTreeSet::new();
        for l in self.links.values().filter(|l| l.state == LinkState::Synced) {
            if !linked_remote.insert(l.remote_id.clone()) {
                return Err(format!("two links to {}", l.remote_id));
            }
        }
        for n in self.crm.nodes.values().filter(|n| !n.trashed) {
            if !self.crm.records.contains_key(&n.record) {
                continue;
            }
            let key = NodeKey::Node(n.id);
            let link = self
                .links
                .get(&key)
                .ok_or(format!("{} {:?} unlinked", n.id, n.name))?;
            if link.state == LinkState::GoneRemotely {
                continue;
            }
            let item = self
                .remote
                .live(&link.remote_id)
                .ok_or(format!("{:?}: linked remote item gone", n.name))?;
            let parent_key = n
                .parent
                .map(NodeKey::Node)
                .unwrap_or(NodeKey::Record(n.record));
            let parent_remote = self.links.get(&parent_key).map(|l| l.remote_id.clone());
            if item.parent != parent_remote {
                return Err(format!("{:?}: remote parent differs", n.name));
            }
            if n.content.as_ref() != (!item.folder).then_some(&item.content) {
                return Err(format!("{:?}: contents differ", n.name));
            }
        }
        for id in self.remote.subtree(&root) {
            let Some(item) = self.remote.live(&id) else {
                continue;
            };
            if !linked_remote.contains(&id) {
                return Err(format!("remote {:?} ({id}) not linked", item.name));
            }
            let mut names = BTreeSet::new();
            for c in self.remote.children(&id) {
                if !names.insert(remote_key(&self.remote.caps, &c.name)) {
                    return Err(format!("two items named {:?} in one folder", c.name));
                }
            }
        }
        for content in &self.seen {
            if !self.crm.history.contains(content) {
                return Err(format!(
                    "version {:?} never reached the CRM",
                    String::from_utf8_lossy(content)
                ));
            }
        }
        Ok(())
    }

    /// Remote id of an item by path from our root (`["Companies", "Acme", "a.txt"]`).
    pub fn remote_at(&self, path: &[&str]) -> Option<&RItem> {
        let mut at = self.root_id()?;
        for part in path {
            at = self
                .remote
                .children(&at)
                .into_iter()
                .find(|c| c.name == *part)?
                .id
                .clone();
        }
        self.remote.live(&at)
    }
}

/// One line per step, for debugging a failing history.
pub fn brief(step: &Step) -> String {
    match step {
        Step::CreateRemoteFolder { key, at, .. } => format!("mkdir-remote {key:?} {}", at.path),
        Step::Upload {
            key, remote_id, at, ..
        } => format!("upload {key:?} {remote_id:?} {}", at.path),
        Step::MoveRemote {
            key,
            remote_id,
            at,
            link,
            ..
        } => {
            format!(
                "move-remote {key:?} {remote_id} → {} (link {})",
                at.path,
                link.is_some()
            )
        }
        Step::DeleteRemote {
            key,
            remote_id,
            drop_links,
            ..
        } => {
            format!("delete-remote {key:?} {remote_id} drops {drop_links:?}")
        }
        Step::CreateCrmFolder {
            node_id,
            name,
            parent,
            ..
        } => format!("mkdir-crm {node_id} {parent:?}/{name}"),
        Step::Download {
            node_id,
            name,
            parent,
            remote_id,
            create,
            ..
        } => {
            format!("download {remote_id} → {node_id} {parent:?}/{name} create={create}")
        }
        Step::MoveCrm {
            node_id,
            parent,
            name,
            ..
        } => format!("move-crm {node_id} → {parent:?}/{name}"),
        Step::PutLink { link } => format!(
            "link {:?} {:?} ↔ {} {:?} {:?}",
            link.key, link.state, link.remote_id, link.crm_name, link.remote_name
        ),
        Step::DeleteLink { key } => format!("unlink {key:?}"),
        Step::SaveCursor { cursor } => format!("cursor {cursor}"),
    }
}

impl World {
    /// The remote tree under our root, one line per item (`/Companies/Acme/a.txt = v1`),
    /// sorted: a golden listing.
    pub fn remote_listing(&self) -> String {
        let Some(root) = self.root_id() else {
            return String::new();
        };
        let mut lines: Vec<String> = self
            .remote
            .subtree(&root)
            .iter()
            .filter(|id| **id != root)
            .filter_map(|id| self.remote.live(id))
            .map(|i| {
                let path = self.remote.path(&i.id);
                if i.folder {
                    format!("{path}/")
                } else {
                    format!("{path} = {}", String::from_utf8_lossy(&i.content))
                }
            })
            .collect();
        lines.sort();
        lines.join("\n")
    }

    /// The CRM's live trees, one line per node (`Acme/a.txt = v1`), sorted.
    pub fn crm_listing(&self) -> String {
        let mut lines: Vec<String> = self
            .crm
            .nodes
            .values()
            .filter(|n| !n.trashed)
            .map(|n| {
                let mut path = vec![n.name.clone()];
                let mut at = n.parent;
                while let Some(p) = at {
                    path.push(self.crm.nodes[&p].name.clone());
                    at = self.crm.nodes[&p].parent;
                }
                path.push(format!(
                    "{}#{}",
                    self.crm.records[&n.record],
                    n.record.id.as_u128() & 0xff
                ));
                path.reverse();
                match &n.content {
                    Some(c) => format!("{} = {}", path.join("/"), String::from_utf8_lossy(c)),
                    None => format!("{}/", path.join("/")),
                }
            })
            .collect();
        lines.sort();
        lines.join("\n")
    }

    pub fn remote_subtree(&self, id: &str) -> Vec<String> {
        self.remote.subtree(id)
    }
}
