//! One account's Dropbox: its files and folders by lowercased path, their ids, and the change
//! stamps that cursors are positions in.
//!
//! Paths here are full paths from the user's root (`/Apps/Threadline CRM/Companies/x.pdf`); an
//! app-folder app sees them through a [`View`] that strips its folder. Keys are the path's
//! NFC form lowercased (Dropbox is case-insensitive, and issue 13's research has it
//! normalising Unicode); each entry keeps its display casing.
//!
//! Every change stamps what it touched with the next position of the account's log (`head`):
//! a listing serves entries by `(stamp, path_lower)`, so a cursor is "everything up to this
//! key". A deletion leaves a tombstone at the deleted path (one for a folder and its content:
//! the documented apply rules remove a deleted folder's children with it); a move is a
//! tombstone at the old path and the moved entries, restamped, at the new one.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use unicode_normalization::UnicodeNormalization;

use super::content::Content;
use crate::util::random_token;

/// The lookup key of a path: NFC, lowercased.
pub fn key(path: &str) -> String {
    path.nfc().collect::<String>().to_lowercase()
}

/// The parent of a full key or display path (`""` for the root's children).
fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(parent, _)| parent)
}

fn name(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, name)| name)
}

/// Dropbox's timestamp format (`common.DropboxTimestamp`, `%Y-%m-%dT%H:%M:%SZ`): no fraction.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[derive(Clone)]
pub struct Entry {
    /// `id:` and 22 characters; kept across moves and renames, never reused.
    pub id: String,
    /// The full path with its casing.
    pub display: String,
    /// The log position of its latest change.
    pub stamp: u64,
    pub kind: Kind,
}

#[derive(Clone)]
pub enum Kind {
    Folder,
    File(FileData),
}

#[derive(Clone)]
pub struct FileData {
    pub rev: String,
    pub content: Content,
    pub content_hash: String,
    pub client_modified: DateTime<Utc>,
    pub server_modified: DateTime<Utc>,
}

impl Entry {
    pub fn file(&self) -> Option<&FileData> {
        match &self.kind {
            Kind::File(f) => Some(f),
            Kind::Folder => None,
        }
    }

    pub fn is_folder(&self) -> bool {
        matches!(self.kind, Kind::Folder)
    }
}

#[derive(Clone)]
pub struct Tombstone {
    pub display: String,
    pub stamp: u64,
}

/// What an app sees: the whole Dropbox (an empty prefix), or its app folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    /// `/Apps/Threadline CRM`, or `""`.
    pub prefix: String,
}

impl View {
    pub fn whole() -> View {
        View {
            prefix: String::new(),
        }
    }

    fn depth(&self) -> usize {
        self.prefix.matches('/').count()
    }

    /// The full display path of a path the app gave (`""` is the app's root).
    pub fn full(&self, relative: &str) -> String {
        format!("{}{relative}", self.prefix)
    }

    /// A full path as the app sees it (`None` when it is outside the app's folder).
    pub fn relative(&self, full: &str) -> Option<String> {
        if self.prefix.is_empty() {
            return Some(full.to_string());
        }
        let prefix = key(&self.prefix);
        let lower = key(full);
        if lower != prefix && !lower.starts_with(&format!("{prefix}/")) {
            return None;
        }
        let rest: Vec<&str> = full.split('/').skip(self.depth() + 1).collect();
        Some(if rest.is_empty() {
            String::new()
        } else {
            format!("/{}", rest.join("/"))
        })
    }

    /// A metadata object as Dropbox sends it; `tagged`: with `.tag`, where the route's type is
    /// the `Metadata` union (list entries, get_metadata, move_v2, delete_v2), not where it is
    /// `FileMetadata` / `FolderMetadata` (upload, download, create_folder_v2).
    pub fn metadata(&self, entry: &Entry, tagged: bool) -> Value {
        let display = self.relative(&entry.display).unwrap_or_default();
        let mut m = Map::new();
        if tagged {
            let tag = if entry.is_folder() { "folder" } else { "file" };
            m.insert(".tag".into(), json!(tag));
        }
        m.insert("name".into(), json!(name(&display)));
        m.insert("path_lower".into(), json!(key(&display)));
        m.insert("path_display".into(), json!(display));
        m.insert("id".into(), json!(entry.id));
        if let Kind::File(f) = &entry.kind {
            m.insert(
                "client_modified".into(),
                json!(timestamp(f.client_modified)),
            );
            m.insert(
                "server_modified".into(),
                json!(timestamp(f.server_modified)),
            );
            m.insert("rev".into(), json!(f.rev));
            m.insert("size".into(), json!(f.content.len()));
            m.insert("is_downloadable".into(), json!(true));
            m.insert("content_hash".into(), json!(f.content_hash));
        }
        Value::Object(m)
    }

    /// A `DeletedMetadata` (always in a `Metadata` union: tagged).
    pub fn deleted(&self, tombstone: &Tombstone) -> Value {
        let display = self.relative(&tombstone.display).unwrap_or_default();
        json!({
            ".tag": "deleted",
            "name": name(&display),
            "path_lower": key(&display),
            "path_display": display,
        })
    }
}

/// Why a write could not be made: a `WriteConflictError` member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    File,
    Folder,
    FileAncestor,
}

impl Conflict {
    pub fn tag(self) -> &'static str {
        match self {
            Conflict::File => "file",
            Conflict::Folder => "folder",
            Conflict::FileAncestor => "file_ancestor",
        }
    }

    fn of(entry: &Entry) -> Conflict {
        if entry.is_folder() {
            Conflict::Folder
        } else {
            Conflict::File
        }
    }
}

/// `WriteMode` (`add` by default).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Add,
    Overwrite,
    Update(String),
}

/// `CommitInfo`, the path made full.
pub struct Commit {
    pub path: String,
    pub mode: Mode,
    pub autorename: bool,
    pub client_modified: Option<DateTime<Utc>>,
    pub strict_conflict: bool,
}

/// How an autorename picks a free name.
#[derive(Clone, Copy)]
pub enum Rename {
    /// `document (1).txt` (`add`, `overwrite`, folders, moves).
    Numbered,
    /// `document (conflicted copy).txt` (`update`).
    Conflicted,
}

#[derive(Default)]
pub struct Namespace {
    entries: BTreeMap<String, Entry>,
    by_id: HashMap<String, String>,
    tombstones: BTreeMap<String, Tombstone>,
    /// Every file revision ever written, by rev, as it was written (a `rev:` path reads it:
    /// Dropbox keeps a file's revisions, also after a move or a delete).
    revisions: HashMap<String, Entry>,
    /// The latest log position.
    pub head: u64,
    revs: u64,
}

/// Where a listing stands: every entry whose key `(stamp, path_lower)` is at most this was
/// served. `path: None` is "all of `stamp`".
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct After {
    pub stamp: u64,
    pub path: Option<String>,
}

impl After {
    fn passed(&self, stamp: u64, path: &str) -> bool {
        stamp < self.stamp
            || (stamp == self.stamp && self.path.as_deref().is_none_or(|p| path <= p))
    }
}

/// What a listing covers.
pub struct Listing<'a> {
    /// The listed folder's full key (`""`: the user's root).
    pub root: &'a str,
    /// Whether the listed folder itself is an entry (a recursive listing of a folder that is
    /// not the app's root).
    pub with_root: bool,
    pub recursive: bool,
    pub include_deleted: bool,
    /// The log position when the listing started: later deletions are listed even without
    /// `include_deleted`.
    pub base: u64,
}

pub enum Item<'a> {
    Live(&'a Entry),
    Deleted(&'a Tombstone),
}

impl Namespace {
    fn bump(&mut self) -> u64 {
        self.head += 1;
        self.head
    }

    fn new_rev(&mut self) -> String {
        self.revs += 1;
        // `Rev`: at least 9 lowercase hex digits, unique in the account.
        format!("{:x}{:09x}", 0x5e, self.revs)
    }

    pub fn get(&self, lower: &str) -> Option<&Entry> {
        self.entries.get(lower)
    }

    pub fn tombstone(&self, lower: &str) -> Option<&Tombstone> {
        self.tombstones.get(lower)
    }

    pub fn by_id(&self, id: &str) -> Option<&Entry> {
        self.by_id.get(id).and_then(|lower| self.entries.get(lower))
    }

    /// A file revision by its rev: the file itself while it is at that rev, else the
    /// revision as it was written.
    pub fn by_rev(&self, rev: &str) -> Option<&Entry> {
        let written = self.revisions.get(rev)?;
        match self.by_id(&written.id) {
            Some(now) if now.file().is_some_and(|f| f.rev == rev) => Some(now),
            _ => Some(written),
        }
    }

    /// Whether a folder exists at this full path (the root always does).
    pub fn is_folder(&self, lower: &str) -> bool {
        lower.is_empty() || self.get(lower).is_some_and(Entry::is_folder)
    }

    fn insert(&mut self, entry: Entry) {
        let lower = key(&entry.display);
        self.tombstones.remove(&lower);
        self.by_id.insert(entry.id.clone(), lower.clone());
        self.entries.insert(lower, entry);
    }

    /// Creates the missing folders above `path`; a file in the way is a `file_ancestor`
    /// conflict.
    fn ensure_parents(&mut self, path: &str) -> Result<(), Conflict> {
        let mut missing = Vec::new();
        let mut at = parent(path);
        while !at.is_empty() {
            match self.get(&key(at)) {
                Some(e) if e.is_folder() => break,
                Some(_) => return Err(Conflict::FileAncestor),
                None => missing.push(at.to_string()),
            }
            at = parent(at);
        }
        for folder in missing.into_iter().rev() {
            self.new_folder(&folder);
        }
        Ok(())
    }

    /// `path` with its parent's casing as stored (so that every entry's display path starts
    /// with its parent's) and its own name as given.
    fn canonical(&self, path: &str) -> String {
        match self.get(&key(parent(path))) {
            Some(folder) => format!("{}/{}", folder.display, name(path)),
            None => path.to_string(),
        }
    }

    fn new_folder(&mut self, path: &str) -> Entry {
        let stamp = self.bump();
        let entry = Entry {
            id: new_id(),
            display: self.canonical(path),
            stamp,
            kind: Kind::Folder,
        };
        self.insert(entry.clone());
        entry
    }

    /// A free path beside `path` for an autorename.
    pub fn free_name(&self, path: &str, style: Rename) -> String {
        let (dir, file) = (parent(path), name(path));
        let (stem, ext) = match file.rfind('.') {
            Some(dot) if dot > 0 => file.split_at(dot),
            _ => (file, ""),
        };
        (1..)
            .map(|n| match (style, n) {
                (Rename::Numbered, n) => format!("{dir}/{stem} ({n}){ext}"),
                (Rename::Conflicted, 1) => format!("{dir}/{stem} (conflicted copy){ext}"),
                (Rename::Conflicted, n) => format!("{dir}/{stem} (conflicted copy {n}){ext}"),
            })
            .find(|candidate| self.get(&key(candidate)).is_none())
            .expect("some name is free")
    }

    /// A folder at `path` (creating the missing parents).
    pub fn create_folder(&mut self, path: &str, autorename: bool) -> Result<Entry, Conflict> {
        let mut path = path.to_string();
        if let Some(existing) = self.get(&key(&path)) {
            if !autorename {
                return Err(Conflict::of(existing));
            }
            path = self.free_name(&path, Rename::Numbered);
        }
        self.ensure_parents(&path)?;
        Ok(self.new_folder(&path))
    }

    /// Writes a file by `WriteMode`'s rules (`files.stone`, `WriteMode` and `CommitInfo`):
    /// nothing there: written (but `update` with `strict_conflict` conflicts); a folder there:
    /// a conflict; a file with identical content: nothing written, no conflict (unless
    /// `strict_conflict`, for `add` and a stale `update`); a different file: `add` conflicts,
    /// `overwrite` replaces, `update` replaces if the rev is the current one and conflicts
    /// otherwise. A conflict with `autorename` writes a new file beside it instead.
    pub fn commit(
        &mut self,
        commit: &Commit,
        content: Content,
        content_hash: String,
        now: DateTime<Utc>,
    ) -> Result<Entry, Conflict> {
        let lower = key(&commit.path);
        let conflict = match self.get(&lower) {
            None => match &commit.mode {
                Mode::Update(_) if commit.strict_conflict => Some(Conflict::File),
                _ => None,
            },
            Some(existing) => match (&existing.kind, &commit.mode) {
                (Kind::Folder, _) => Some(Conflict::Folder),
                (Kind::File(f), mode) => {
                    let identical = f.content_hash == content_hash;
                    let current = matches!(mode, Mode::Update(rev) if *rev == f.rev);
                    if identical && (!commit.strict_conflict || current || *mode == Mode::Overwrite)
                    {
                        return Ok(existing.clone());
                    }
                    match mode {
                        Mode::Overwrite => None,
                        Mode::Update(_) if current => None,
                        _ => Some(Conflict::File),
                    }
                }
            },
        };
        let mut path = commit.path.clone();
        if let Some(conflict) = conflict {
            if !commit.autorename {
                return Err(conflict);
            }
            let style = match commit.mode {
                Mode::Update(_) => Rename::Conflicted,
                _ => Rename::Numbered,
            };
            path = self.free_name(&path, style);
        }
        self.ensure_parents(&path)?;
        let (id, display) = match self.get(&key(&path)) {
            Some(existing) => (existing.id.clone(), existing.display.clone()),
            None => (new_id(), self.canonical(&path)),
        };
        let stamp = self.bump();
        let rev = self.new_rev();
        let entry = Entry {
            id,
            display,
            stamp,
            kind: Kind::File(FileData {
                rev,
                content,
                content_hash,
                client_modified: commit.client_modified.unwrap_or(now),
                server_modified: now,
            }),
        };
        self.insert(entry.clone());
        self.revisions.insert(rev_of(&entry), entry.clone());
        Ok(entry)
    }

    /// Removes what is at `lower` and everything under it; leaves a tombstone there.
    pub fn remove(&mut self, lower: &str) -> Option<Entry> {
        let removed = self.take_subtree(lower);
        let top = removed.iter().find(|e| key(&e.display) == lower)?.clone();
        let stamp = self.bump();
        self.tombstones.insert(
            lower.to_string(),
            Tombstone {
                display: top.display.clone(),
                stamp,
            },
        );
        Some(top)
    }

    fn take_subtree(&mut self, lower: &str) -> Vec<Entry> {
        let below = format!("{lower}/");
        let keys: Vec<String> = self
            .entries
            .range(lower.to_string()..)
            .map(|(k, _)| k)
            .take_while(|k| k.as_str() == lower || k.starts_with(lower))
            .filter(|k| k.as_str() == lower || k.starts_with(&below))
            .cloned()
            .collect();
        keys.into_iter()
            .filter_map(|k| {
                let entry = self.entries.remove(&k)?;
                self.by_id.remove(&entry.id);
                Some(entry)
            })
            .collect()
    }

    /// Moves what is at `from` (a full key) and its content to the full path `to`, whose
    /// parents are created; the ids and revs stay, the stamps are new.
    pub fn relocate(&mut self, from: &str, to: &str) -> Result<Entry, Conflict> {
        self.ensure_parents(to)?;
        let to = &self.canonical(to);
        let moved = self.take_subtree(from);
        let old_top = moved
            .iter()
            .find(|e| key(&e.display) == from)
            .expect("the caller checked")
            .display
            .clone();
        let stamp = self.bump();
        self.tombstones.insert(
            from.to_string(),
            Tombstone {
                display: old_top.clone(),
                stamp,
            },
        );
        let mut top = None;
        for mut entry in moved {
            entry.display = format!("{to}{}", &entry.display[old_top.len()..]);
            entry.stamp = stamp;
            if entry.display == *to {
                top = Some(entry.clone());
            }
            self.insert(entry);
        }
        Ok(top.expect("the moved entry itself"))
    }

    /// A change of casing only, as the user makes it in Dropbox: the display paths change,
    /// not the keys nor the stamps ("Changes to only the casing of paths won't be returned by
    /// list_folder/continue", `Metadata.path_display`).
    pub fn recase(&mut self, lower: &str, to: &str) -> bool {
        let Some(old) = self.get(lower).map(|e| e.display.clone()) else {
            return false;
        };
        let below = format!("{lower}/");
        for (k, entry) in self.entries.iter_mut() {
            if k == lower || k.starts_with(&below) {
                entry.display = format!("{to}{}", &entry.display[old.len()..]);
            }
        }
        true
    }

    /// One page of a listing after `after`, in key order; `more` when entries were left.
    pub fn page<'a>(
        &'a self,
        listing: &Listing,
        after: &After,
        limit: usize,
    ) -> (Vec<Item<'a>>, bool) {
        let root = listing.root;
        let covers = |lower: &str| {
            if lower == root {
                return listing.with_root;
            }
            if listing.recursive {
                root.is_empty() || lower.starts_with(&format!("{root}/"))
            } else {
                parent(lower) == root
            }
        };
        let mut items: Vec<(u64, &str, Item)> = self
            .entries
            .iter()
            .filter(|(k, e)| covers(k) && !after.passed(e.stamp, k))
            .map(|(k, e)| (e.stamp, k.as_str(), Item::Live(e)))
            .collect();
        items.extend(
            self.tombstones
                .iter()
                .filter(|(k, t)| {
                    (listing.include_deleted || t.stamp > listing.base)
                        && covers(k)
                        && !after.passed(t.stamp, k)
                })
                .map(|(k, t)| (t.stamp, k.as_str(), Item::Deleted(t))),
        );
        items.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let more = items.len() > limit;
        items.truncate(limit);
        (items.into_iter().map(|(_, _, item)| item).collect(), more)
    }

    /// The key of an item, for the cursor after it.
    pub fn after(item: &Item) -> After {
        let (stamp, display) = match item {
            Item::Live(e) => (e.stamp, &e.display),
            Item::Deleted(t) => (t.stamp, &t.display),
        };
        After {
            stamp,
            path: Some(key(display)),
        }
    }

    /// Every entry (for the test controls).
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }
}

fn rev_of(entry: &Entry) -> String {
    entry.file().map(|f| f.rev.clone()).unwrap_or_default()
}

/// A new file or folder id: `id:` and 22 characters of Dropbox's alphabet.
fn new_id() -> String {
    let token = random_token("");
    // 32 hex digits → 22 characters, as Dropbox's ids have (`id:a4ayc_80_OEAAAAAAAAAXw`).
    format!("id:{}", &token[..22])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(ns: &mut Namespace, path: &str, data: &[u8], mode: Mode) -> Result<Entry, Conflict> {
        ns.commit(
            &Commit {
                path: path.into(),
                mode,
                autorename: false,
                client_modified: None,
                strict_conflict: false,
            },
            Content::from(data.to_vec()),
            super::super::content::content_hash(data),
            Utc::now(),
        )
    }

    #[test]
    fn keys_ignore_case_and_unicode_form() {
        assert_eq!(key("/Photos/CAFÉ.jpg"), "/photos/café.jpg");
        assert_eq!(key("/cafe\u{301}"), key("/CAF\u{c9}"));
    }

    #[test]
    fn an_app_sees_paths_below_its_folder() {
        let view = View {
            prefix: "/Apps/Threadline CRM".into(),
        };
        assert_eq!(view.full("/a.txt"), "/Apps/Threadline CRM/a.txt");
        assert_eq!(
            view.relative("/apps/threadline crm/B/c.txt").as_deref(),
            Some("/B/c.txt")
        );
        assert_eq!(view.relative("/Apps/Threadline CRM").as_deref(), Some(""));
        assert_eq!(view.relative("/Apps/Other/x"), None);
    }

    #[test]
    fn moves_keep_ids_and_leave_a_tombstone() {
        let mut ns = Namespace::default();
        let file = write(&mut ns, "/A/b.txt", b"x", Mode::Add).unwrap();
        let folder = ns.get("/a").unwrap().clone();
        ns.relocate("/a", "/C/D").unwrap();
        assert_eq!(ns.by_id(&file.id).unwrap().display, "/C/D/b.txt");
        assert_eq!(ns.by_id(&folder.id).unwrap().display, "/C/D");
        assert!(ns.get("/a/b.txt").is_none());
        assert!(ns.tombstone("/a").is_some());
        assert_eq!(
            ns.by_id(&file.id).unwrap().file().unwrap().rev,
            file.file().unwrap().rev
        );
    }

    #[test]
    fn free_names() {
        let mut ns = Namespace::default();
        write(&mut ns, "/d/a.txt", b"1", Mode::Add).unwrap();
        write(&mut ns, "/d/a (1).txt", b"2", Mode::Add).unwrap();
        assert_eq!(ns.free_name("/d/a.txt", Rename::Numbered), "/d/a (2).txt");
        assert_eq!(
            ns.free_name("/d/a.txt", Rename::Conflicted),
            "/d/a (conflicted copy).txt"
        );
        assert_eq!(ns.free_name("/d/.env", Rename::Numbered), "/d/.env (1)");
    }
}
