//! Names across the two sides: the CRM's rules (`threadline_domain::file_name`, the one
//! rule the CRM's documents apply), the reversible mapping of
//! characters one side refuses, the keys two names of one folder must not share on each
//! side, record folder names, and the conflict-copy and numbered names.

use chrono::{DateTime, Utc};
use unicode_normalization::UnicodeNormalization;
use uuid::Uuid;

use crate::provider::Capabilities;

/// Longest name, in bytes of UTF-8 (the CRM's, ext4's, APFS's and Dropbox's limit).
pub use threadline_domain::file_name::MAX_NAME_BYTES;

/// Characters the CRM refuses in a name and the full-width forms they are mapped to on the
/// way in (the mapping rclone's encoder and OneDrive use): reversible, and the result looks
/// like the original. Drive accepts all of them; the way out maps them back where the
/// provider accepts the original.
const FULL_WIDTH: [(char, char); 9] = [
    ('/', '／'),
    ('\\', '＼'),
    ('<', '＜'),
    ('>', '＞'),
    (':', '：'),
    ('"', '＂'),
    ('|', '｜'),
    ('?', '？'),
    ('*', '＊'),
];

/// Why the CRM would refuse `name` (its documents' rule), or `None` if it accepts it.
pub fn crm_refuses(name: &str) -> Option<String> {
    threadline_domain::file_name::check_name(name)
        .err()
        .map(|e| e.to_string())
}

/// The key two live names of one CRM folder must not share.
pub use threadline_domain::file_name::name_key as crm_key;

/// The key two names of one remote folder must not share, and that says whether a remote
/// name changed: NFC and lower case on Dropbox (its `path_lower`), the name itself on Drive.
pub fn remote_key(caps: &Capabilities, name: &str) -> String {
    let mut key: String = if caps.nfc_names {
        name.nfc().collect()
    } else {
        name.to_string()
    };
    if caps.case_insensitive {
        key = key.to_lowercase();
    }
    key
}

/// A remote name as the CRM stores it: characters the CRM refuses are mapped to their
/// full-width forms. `Err` (a reason for a person) when the name cannot be mapped
/// reversibly: controls, a trailing dot or space, a device name, too long.
pub fn to_crm_name(remote: &str) -> Result<String, String> {
    let mapped: String = remote
        .chars()
        .map(|c| {
            FULL_WIDTH
                .iter()
                .find(|(a, _)| *a == c)
                .map_or(c, |(_, w)| *w)
        })
        .collect();
    match crm_refuses(&mapped) {
        None => Ok(mapped),
        Some(why) => Err(format!(
            "the name {remote:?} has {why}, which the CRM does not accept"
        )),
    }
}

/// A CRM name as the provider will store it: full-width forms mapped back where the
/// provider accepts the original character, NFC where it normalises (so that the name it
/// lists back is the one the link remembers). `Err` when the provider refuses the name.
pub fn to_remote_name(caps: &Capabilities, crm: &str) -> Result<String, String> {
    let mapped: String = crm
        .chars()
        .map(|c| match FULL_WIDTH.iter().find(|(_, w)| *w == c) {
            Some((a, _)) if !caps.refused_chars.contains(a) => *a,
            _ => c,
        })
        .collect();
    let mapped: String = if caps.nfc_names {
        mapped.nfc().collect()
    } else {
        mapped
    };
    if caps
        .refused_names
        .iter()
        .any(|r| r.eq_ignore_ascii_case(&mapped))
    {
        return Err(format!("{} does not store files named {crm:?}", caps.label));
    }
    if let Some(c) = mapped.chars().find(|c| caps.refused_chars.contains(c)) {
        return Err(format!(
            "{} refuses the character {} in names",
            caps.label,
            threadline_domain::text::describe(c)
        ));
    }
    Ok(mapped)
}

/// `name` split at its extension's dot (`"a.tar.gz"` → `("a.tar", ".gz")`); a leading dot
/// is not an extension (`".env"`).
fn split_ext(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) if i > 0 => name.split_at(i),
        _ => (name, ""),
    }
}

/// `stem` + `tag` + `ext`, the stem cut (on a character boundary) so the whole fits in
/// [`MAX_NAME_BYTES`].
fn with_tag(name: &str, tag: &str) -> String {
    let (stem, ext) = split_ext(name);
    let room = MAX_NAME_BYTES.saturating_sub(tag.len() + ext.len());
    let mut cut = stem.len().min(room);
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{tag}{ext}", stem[..cut].trim_end_matches([' ', '.']))
}

/// The one conflict-copy name format: `report (conflict from Dropbox 2026-12-07 09-30).pdf`,
/// stamped with the remote version's modification time (UTC, to the minute; `-` for `:`,
/// which names may not hold), so that the same remote version always gets the same name —
/// a rerun after a crash finds the copy it made instead of making another.
pub fn conflict_name(
    name: &str,
    label: &str,
    modified: Option<DateTime<Utc>>,
    rev: &str,
) -> String {
    let stamp = match modified {
        Some(at) => at.format("%Y-%m-%d %H-%M").to_string(),
        // No time listed: the revision names the version instead.
        None => format!("rev {}", rev.chars().take(12).collect::<String>()),
    };
    with_tag(name, &format!(" (conflict from {label} {stamp})"))
}

/// `report (2).pdf`: the name given to the `n`th item wanting a name already taken.
pub fn numbered(name: &str, n: usize) -> String {
    with_tag(name, &format!(" ({n})"))
}

/// A record folder's name from the record's name: mapped as a remote name would be, a
/// trailing dot or space dropped, `Unnamed` if nothing is left or the result is still
/// refused. `taken` says whether a name's key is already another record folder's: then the
/// record's short id is added, `Acme (3f2a9c1b)` — distinct, stable (it does not depend on
/// which records exist later), and the user can tell the two apart.
pub fn record_folder_name(name: &str, id: Uuid, taken: impl Fn(&str) -> bool) -> String {
    let trimmed = name.trim().trim_end_matches(['.', ' ']);
    let base = match to_crm_name(trimmed) {
        Ok(n) if !n.is_empty() => n,
        _ => {
            let cleaned: String = trimmed
                .chars()
                .filter(|c| !threadline_domain::text::is_refused(*c))
                .collect();
            match to_crm_name(cleaned.trim_end_matches(['.', ' '])) {
                Ok(n) => n,
                Err(_) => "Unnamed".to_string(),
            }
        }
    };
    let base = with_tag(&base, "");
    if !taken(&base) {
        return base;
    }
    let short = &id.simple().to_string()[..8];
    // No extension split: a record name's dot is not an extension.
    let tag = format!(" ({short})");
    let mut cut = base.len().min(MAX_NAME_BYTES - tag.len());
    while !base.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{tag}", &base[..cut])
}
