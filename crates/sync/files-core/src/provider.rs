//! What the core needs to know of a provider: a small, provider-neutral description.

use serde::{Deserialize, Serialize};

use crate::hash::HashKind;

/// The providers the core is shared by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    GoogleDrive,
    Dropbox,
}

/// Where the synced tree starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootKind {
    /// Dropbox "App folder" access: the app folder (`Apps/Threadline CRM`) is the root. It
    /// always exists; its id is `""` (the API's path of the app folder).
    AppFolder,
    /// A folder `name` the core creates (and finds again by its marker) in `parent`
    /// (Drive: `Threadline` in `root`, My Drive).
    Folder {
        name: &'static str,
        parent: &'static str,
    },
}

/// A provider's rules that change decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// The provider's name in conflict copies and reasons.
    pub label: &'static str,
    /// The content hash it lists for a file (Drive lists `md5Checksum` on every binary file,
    /// `sha256Checksum` on most: the adapter passes the SHA-256 when it has one, which the
    /// core compares with ours directly).
    pub hash: HashKind,
    /// Paths are case-insensitive (Dropbox: `path_lower`; a case-only rename is not listed
    /// by `list_folder/continue`, and `move_v2` refuses it).
    pub case_insensitive: bool,
    /// Names are stored NFC-normalised (Dropbox, even in `path_display`).
    pub nfc_names: bool,
    /// Two items of one folder never share a name (Dropbox: yes; Drive: no, duplicates are
    /// allowed, so a create is not idempotent by name).
    pub unique_names: bool,
    /// Items carry our marker (Drive `appProperties`), so a lost create is found by it.
    /// Without markers (Dropbox) a lost create is found by its place: parent, name, hash.
    pub markers: bool,
    /// A delete moves to the provider's trash (Drive) rather than deleting (Dropbox: the
    /// file stays in its deleted-files history for 30 days or more).
    pub trash: bool,
    pub root: RootKind,
    /// Characters the provider refuses in a name (besides controls).
    pub refused_chars: &'static [char],
    /// Names the provider refuses to store (compared case-insensitively).
    pub refused_names: &'static [&'static str],
}

impl Provider {
    pub fn capabilities(self) -> Capabilities {
        match self {
            Provider::GoogleDrive => Capabilities {
                label: "Google Drive",
                hash: HashKind::Md5,
                case_insensitive: false,
                nfc_names: false,
                unique_names: false,
                markers: true,
                trash: true,
                root: RootKind::Folder {
                    name: "Threadline",
                    parent: "root",
                },
                refused_chars: &[],
                refused_names: &[],
            },
            Provider::Dropbox => Capabilities {
                label: "Dropbox",
                hash: HashKind::DropboxContentHash,
                case_insensitive: true,
                nfc_names: true,
                unique_names: true,
                markers: false,
                trash: false,
                root: RootKind::AppFolder,
                // rclone's Dropbox encoding; the rest of Windows' set is accepted.
                refused_chars: &['/', '\\', '\u{7f}'],
                // `disallowed_name`, and files Dropbox never syncs (rclone bisync docs).
                refused_names: &[
                    "desktop.ini",
                    "thumbs.db",
                    ".ds_store",
                    "icon\r",
                    ".dropbox",
                    ".dropbox.attr",
                ],
            },
        }
    }

    pub fn label(self) -> &'static str {
        self.capabilities().label
    }
}
