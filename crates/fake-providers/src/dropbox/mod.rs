//! Dropbox API v2: OAuth 2.0 (`oauth`), `users/get_current_account` and the `files/*` RPC
//! routes (`files`), the content routes (`transfer`: upload, upload sessions, download), on
//! one in-memory Dropbox per account (`tree`) whose file bytes are stored once (`content`);
//! the error envelope and Dropbox's own faults (`error`); how arguments arrive (`args`).
//!
//! Every host is served at the fake's one base URL: `https://api.dropboxapi.com/2/…`,
//! `https://content.dropboxapi.com/2/…` and `https://www.dropbox.com/oauth2/authorize` become
//! `{base_url}/2/…` and `{base_url}/oauth2/authorize`.
//!
//! Apps are "App folder" apps: each sees `/Apps/<app name>` of the user's Dropbox as its root
//! (API paths are relative to it); the test controls below use the user's own paths
//! (`/Apps/Threadline CRM/Companies/x.pdf`), as the user sees them in Dropbox.

pub mod args;
pub mod content;
pub mod error;
mod files;
pub mod oauth;
mod transfer;
pub mod tree;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::Shared;
use content::Content;
pub use error::{DropboxError, DropboxFault};
pub use oauth::{DropboxApp, Tokens};
use tree::{Commit, Mode, Namespace, View};

/// Dropbox's part of the fake: its state and the test-facing controls.
#[derive(Default)]
pub struct DropboxFake {
    state: Mutex<DropboxState>,
}

#[derive(Default)]
pub(crate) struct DropboxState {
    /// Added to the wall clock: lets a test move time (token expiry) without sleeping.
    clock_offset: chrono::Duration,
    /// Accounts by email.
    pub(crate) accounts: BTreeMap<String, Account>,
    pub(crate) oauth: oauth::OAuthState,
    pub(crate) sessions: HashMap<String, transfer::Session>,
}

pub(crate) struct Account {
    pub(crate) email: String,
    /// `dbid:` and 35 characters (`users_common.AccountId`, 40 characters).
    pub(crate) account_id: String,
    /// The legacy numeric user id the token endpoint still answers.
    pub(crate) uid: String,
    pub(crate) namespace_id: String,
    pub(crate) ns: Namespace,
    /// Bumped to invalidate every cursor of the account (`reset`).
    pub(crate) cursor_epoch: u64,
}

impl Account {
    fn new(email: &str) -> Account {
        let digest = Sha256::digest(email.as_bytes());
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let id: String = digest
            .iter()
            .chain(digest.iter())
            .take(35)
            .map(|b| alphabet[(*b % 64) as usize] as char)
            .collect();
        let mut first = [0u8; 4];
        first.copy_from_slice(&digest[..4]);
        let number = u32::from_be_bytes(first) % 1_000_000_000;
        Account {
            email: email.to_string(),
            account_id: format!("dbid:{id}"),
            uid: number.to_string(),
            namespace_id: (number as u64 + 1_000_000_000).to_string(),
            ns: Namespace::default(),
            cursor_epoch: 0,
        }
    }

    /// The folder at this full path, made with its parents if missing.
    pub(crate) fn ensure_folder(&mut self, path: &str) {
        if !self.ns.is_folder(&tree::key(path)) {
            // A file in the way stays: the app then sees its folder missing.
            let _ = self.ns.create_folder(path, false);
        }
    }
}

impl DropboxState {
    pub(crate) fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    pub(crate) fn account_mut(&mut self, email: &str) -> &mut Account {
        self.accounts
            .get_mut(email)
            .unwrap_or_else(|| panic!("no Dropbox account {email}: add_account first"))
    }
}

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .merge(oauth::router())
        .merge(files::router())
        .merge(transfer::router())
}

/// The user's whole Dropbox, for the controls.
fn whole() -> View {
    View::whole()
}

impl DropboxFake {
    pub(crate) fn lock(&self) -> MutexGuard<'_, DropboxState> {
        self.state.lock().unwrap()
    }

    /// A Dropbox account; returns its `account_id`. The authorization page approves as the
    /// first account added unless [`DropboxFake::sign_in`] says another.
    pub fn add_account(&self, email: &str) -> String {
        let mut state = self.lock();
        state
            .accounts
            .entry(email.to_string())
            .or_insert_with(|| Account::new(email))
            .account_id
            .clone()
    }

    /// The app's folder in each user's Dropbox, `/Apps/<name>`.
    pub fn app_folder(&self, app_key: &str) -> String {
        self.lock().oauth.apps[app_key].folder()
    }

    /// Writes a file as the user does in Dropbox (the desktop app, the web): created with its
    /// missing folders, or replaced (same id, a new rev). `path` is the user's own
    /// (`/Apps/<app>/…`). Returns its metadata (user paths, tagged).
    pub fn put_file(&self, email: &str, path: &str, data: impl Into<Vec<u8>>) -> Value {
        let mut state = self.lock();
        let now = state.now();
        let data = data.into();
        let hash = content::content_hash(&data);
        let account = state.account_mut(email);
        let commit = Commit {
            path: path.to_string(),
            mode: Mode::Overwrite,
            autorename: false,
            client_modified: None,
            strict_conflict: false,
        };
        let entry = account
            .ns
            .commit(&commit, Content::from(data), hash, now)
            .unwrap_or_else(|c| panic!("put_file {path}: conflict {c:?}"));
        whole().metadata(&entry, true)
    }

    /// Makes a folder (and its parents) as the user does; returns its metadata.
    pub fn create_folder(&self, email: &str, path: &str) -> Value {
        let mut state = self.lock();
        let account = state.account_mut(email);
        let entry = account
            .ns
            .create_folder(path, false)
            .unwrap_or_else(|c| panic!("create_folder {path}: conflict {c:?}"));
        whole().metadata(&entry, true)
    }

    /// Deletes a file or a folder with its content, as the user does; false if nothing was
    /// there.
    pub fn delete(&self, email: &str, path: &str) -> bool {
        let mut state = self.lock();
        state
            .account_mut(email)
            .ns
            .remove(&tree::key(path))
            .is_some()
    }

    /// Moves or renames a file or folder as the user does (ids kept). A change of casing only
    /// changes the display paths, and list_folder/continue does not report it (as Dropbox
    /// documents). Panics when nothing is at `from` or something is at `to`.
    pub fn move_path(&self, email: &str, from: &str, to: &str) -> Value {
        let mut state = self.lock();
        let ns = &mut state.account_mut(email).ns;
        let (from_key, to_key) = (tree::key(from), tree::key(to));
        assert!(ns.get(&from_key).is_some(), "move_path: nothing at {from}");
        if from_key == to_key {
            ns.recase(&from_key, to);
        } else {
            assert!(ns.get(&to_key).is_none(), "move_path: {to} is taken");
            ns.relocate(&from_key, to)
                .unwrap_or_else(|c| panic!("move_path {from} → {to}: {c:?}"));
        }
        whole().metadata(ns.get(&to_key).expect("just moved"), true)
    }

    /// A file's bytes (`None`: no file there).
    pub fn file_content(&self, email: &str, path: &str) -> Option<Vec<u8>> {
        let mut state = self.lock();
        let entry = state.account_mut(email).ns.get(&tree::key(path))?.clone();
        entry.file().map(|f| f.content.to_vec())
    }

    /// The metadata of what is at `path` (user paths, tagged), `None` if nothing.
    pub fn metadata(&self, email: &str, path: &str) -> Option<Value> {
        let mut state = self.lock();
        let ns = &state.account_mut(email).ns;
        ns.get(&tree::key(path)).map(|e| whole().metadata(e, true))
    }

    /// Every file and folder of the account, by display path (user paths), sorted.
    pub fn paths(&self, email: &str) -> Vec<String> {
        let mut state = self.lock();
        let mut paths: Vec<String> = state
            .account_mut(email)
            .ns
            .entries()
            .map(|e| e.display.clone())
            .collect();
        paths.sort();
        paths
    }

    /// Every cursor of the account is invalid from now on: list_folder/continue answers 409
    /// `reset`.
    pub fn expire_cursors(&self, email: &str) {
        self.lock().account_mut(email).cursor_epoch += 1;
    }

    /// Upload sessions not yet finished.
    pub fn open_upload_sessions(&self) -> usize {
        self.lock().sessions.len()
    }

    /// Moves the fake's clock forward (access tokens expire by it).
    pub fn advance_clock(&self, by: Duration) {
        self.lock().clock_offset += chrono::Duration::from_std(by).expect("a sane duration");
    }
}
