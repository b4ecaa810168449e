//! Secrets at rest: values the server must read back (the OAuth tokens of connections) are
//! stored encrypted with a key from the server's configuration, never in clear.
//!
//! - **Cipher**: XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`), an AEAD. Its 192-bit
//!   nonce is drawn at random for every write: random nonces that long never repeat in
//!   practice (AES-GCM's 96-bit ones would need counting beyond some 2^32 writes per key),
//!   and ChaCha20 is constant-time in software on any CPU, with or without AES instructions.
//! - **Stored form** (TEXT): `v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`. The key id
//!   says which key wrote it, so keys can be rotated: new writes use the current key, values
//!   written with an older key still decrypt as long as that key is listed.
//! - **Associated data**: the scheme, the key id, and the value's [`Slot`] (table, row id and
//!   field). A value copied to another row or field, or a byte changed, does not decrypt: the
//!   error says so, never garbage.
//! - **Keys** ([`Keyring`]): a key file, one key per line, `<key id>:<base64 of 32 bytes>`;
//!   `#` starts a comment. The **last** key is the current one (rotate by appending a line);
//!   the others only decrypt. Set with `serve --secret-key-file` / `THREADLINE_SECRET_KEY_FILE`
//!   / `secret_key_file`; unset, `<data dir>/secret.key`, generated (mode 0600) on first
//!   start. A configured file must exist: a mistyped path must not quietly make a new key
//!   that cannot read what the old one wrote.
//! - Keys and decrypted values never reach logs or `Debug` output: decrypted values are
//!   [`SecretString`]s (redacted `Debug`, zeroed on drop), a [`Keyring`] shows its key ids
//!   only, and errors about the key file name the file and line, never the line's text.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
pub use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

/// File name of the key file generated in the data directory when none is configured.
pub const DEFAULT_KEY_FILE: &str = "secret.key";
/// The scheme of the stored form (cipher, nonce size, associated data).
const SCHEME: &str = "v1";
const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;
const TAG_BYTES: usize = 16;
const MAX_KEY_ID_CHARS: usize = 32;

/// Where a sealed value belongs; bound into its ciphertext as associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot<'a> {
    pub table: &'a str,
    pub row_id: Uuid,
    pub field: &'a str,
}

impl fmt::Display for Slot<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{} of {}", self.table, self.field, self.row_id)
    }
}

/// Why a secret could not be stored or read, or the keys could not be loaded. No variant
/// holds a key or a secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "the stored {slot} was encrypted with the key {key_id:?}, which is not configured (the \
         key file has {known}); configure the key file it was written with (secret_key_file), \
         or connect the account again"
    )]
    UnknownKey {
        slot: String,
        key_id: String,
        known: String,
    },
    #[error(
        "the stored {slot} cannot be decrypted with the key {key_id:?}: that key is not the one \
         it was written with, or the stored value was altered or copied from another row or \
         field"
    )]
    Undecryptable { slot: String, key_id: String },
    #[error("the stored {slot} is not an encrypted value of this server: {reason}")]
    Malformed { slot: String, reason: String },
    /// The key file is missing, unreadable or not valid (the message names it).
    #[error("{0}")]
    Keys(String),
    #[error("the system random source failed: {0}")]
    Random(String),
}

struct KeyEntry {
    id: String,
    cipher: XChaCha20Poly1305,
}

/// The configured keys: the current one encrypts, every one decrypts what it wrote.
pub struct Keyring {
    /// In file order; the last is the current key.
    keys: Vec<KeyEntry>,
}

/// Key ids only.
impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current_key_id())
            .field("key_ids", &self.key_ids())
            .finish()
    }
}

/// Where the keys came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The configured file.
    Configured(PathBuf),
    /// The data directory's default file, which existed.
    Default(PathBuf),
    /// The data directory's default file, generated now.
    Generated(PathBuf),
}

impl Keyring {
    /// Parses a key file's text; `source` (the file) is named in errors, with the line.
    pub fn parse(text: &str, source: &str) -> Result<Keyring, SecretError> {
        let mut keys: Vec<(usize, KeyEntry)> = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason: &str| {
                SecretError::Keys(format!(
                    "the secret key file {source}, line {number}: {reason}"
                ))
            };
            let (id, encoded) = line
                .split_once(':')
                .ok_or_else(|| bad("expected `<key id>:<base64 of 32 random bytes>`"))?;
            let id = id.trim();
            if !valid_key_id(id) {
                return Err(bad(&format!(
                    "the key id must be 1 to {MAX_KEY_ID_CHARS} ASCII letters, digits, `-` or `_`"
                )));
            }
            let bytes = secrecy::SecretSlice::from(
                STANDARD
                    .decode(encoded.trim())
                    .map_err(|_| bad("the key is not base64"))?,
            );
            if bytes.expose_secret().len() != KEY_BYTES {
                return Err(bad(&format!(
                    "the key is {} bytes; it must be {KEY_BYTES}",
                    bytes.expose_secret().len()
                )));
            }
            if let Some((first, _)) = keys.iter().find(|(_, k)| k.id == id) {
                return Err(bad(&format!(
                    "the key id {id:?} is also on line {first}; ids must differ"
                )));
            }
            let cipher = XChaCha20Poly1305::new(Key::from_slice(bytes.expose_secret()));
            keys.push((
                number,
                KeyEntry {
                    id: id.to_string(),
                    cipher,
                },
            ));
        }
        if keys.is_empty() {
            return Err(SecretError::Keys(format!(
                "the secret key file {source} has no key; a key line is \
                 `<key id>:<base64 of 32 random bytes>`"
            )));
        }
        Ok(Keyring {
            keys: keys.into_iter().map(|(_, k)| k).collect(),
        })
    }

    /// Reads the key file at `path`.
    pub fn load(path: &Path) -> Result<Keyring, SecretError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            SecretError::Keys(format!(
                "cannot read the secret key file {}: {e} (set with --secret-key-file, \
                 THREADLINE_SECRET_KEY_FILE or secret_key_file; unset, the server makes one in \
                 its data directory)",
                path.display()
            ))
        })?;
        warn_if_readable_by_others(path);
        Keyring::parse(&text, &path.display().to_string())
    }

    /// The configured key file when there is one (it must exist), else
    /// `<data_dir>/secret.key`, generated with mode 0600 when missing.
    pub fn load_or_create(
        configured: Option<&Path>,
        data_dir: &Path,
    ) -> Result<(Keyring, KeySource), SecretError> {
        if let Some(path) = configured {
            return Ok((
                Keyring::load(path)?,
                KeySource::Configured(path.to_path_buf()),
            ));
        }
        let path = data_dir.join(DEFAULT_KEY_FILE);
        let cannot = |e: std::io::Error| {
            SecretError::Keys(format!(
                "cannot create the secret key file {}: {e}",
                path.display()
            ))
        };
        crate::files::create_private_dir_all(data_dir).map_err(cannot)?;
        match crate::files::create_new_private().open(&path) {
            Ok(mut file) => {
                let text = format!(
                    "# Threadline's secret keys: they encrypt the tokens of connected accounts.\n\
                     # Keep this file with the database's backups, readable by the server only.\n\
                     # Rotate: append a new line (the last key encrypts, every key decrypts).\n\
                     {}\n",
                    new_key_line()?
                );
                file.write_all(text.as_bytes()).map_err(cannot)?;
                file.sync_all().map_err(cannot)?;
                Ok((Keyring::load(&path)?, KeySource::Generated(path)))
            }
            // There already (or made meanwhile by another process): use it.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Ok((Keyring::load(&path)?, KeySource::Default(path)))
            }
            Err(e) => Err(cannot(e)),
        }
    }

    /// The id of the key new values are encrypted with.
    pub fn current_key_id(&self) -> &str {
        &self.current().id
    }

    /// Every key id, in file order.
    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    fn current(&self) -> &KeyEntry {
        self.keys.last().expect("a keyring has at least one key")
    }

    /// Encrypts `secret` for `slot` with the current key, under a new random nonce.
    pub fn seal(&self, secret: &SecretString, slot: Slot<'_>) -> Result<String, SecretError> {
        let key = self.current();
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|e| SecretError::Random(e.to_string()))?;
        let aad = associated_data(&key.id, slot);
        let sealed = key
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: secret.expose_secret().as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            // Only for inputs beyond 256 GiB.
            .map_err(|_| SecretError::Malformed {
                slot: slot.to_string(),
                reason: "too long to encrypt".into(),
            })?;
        let mut out = Vec::with_capacity(NONCE_BYTES + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(format!(
            "{SCHEME}:{}:{}",
            key.id,
            URL_SAFE_NO_PAD.encode(out)
        ))
    }

    /// Decrypts a value [`Keyring::seal`] wrote for `slot`.
    pub fn open(&self, stored: &str, slot: Slot<'_>) -> Result<SecretString, SecretError> {
        let malformed = |reason: &str| SecretError::Malformed {
            slot: slot.to_string(),
            reason: reason.to_string(),
        };
        let mut parts = stored.splitn(3, ':');
        let (Some(scheme), Some(key_id), Some(encoded)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("expected `v1:<key id>:<data>`"));
        };
        if scheme != SCHEME {
            return Err(malformed(&format!(
                "unknown scheme {scheme:?} (this server writes {SCHEME:?})"
            )));
        }
        let key =
            self.keys
                .iter()
                .find(|k| k.id == key_id)
                .ok_or_else(|| SecretError::UnknownKey {
                    slot: slot.to_string(),
                    key_id: key_id.to_string(),
                    known: format!("{:?}", self.key_ids()),
                })?;
        let data = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| malformed("the data is not base64url"))?;
        if data.len() < NONCE_BYTES + TAG_BYTES {
            return Err(malformed("the data is too short"));
        }
        let (nonce, sealed) = data.split_at(NONCE_BYTES);
        let aad = associated_data(key_id, slot);
        let plain = key
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Undecryptable {
                slot: slot.to_string(),
                key_id: key_id.to_string(),
            })?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| malformed("the decrypted value is not UTF-8"))
    }
}

/// A new key file line: a random key id and 32 random bytes, `<key id>:<base64>`.
pub fn new_key_line() -> Result<String, SecretError> {
    let mut id = [0u8; 4];
    getrandom::fill(&mut id).map_err(|e| SecretError::Random(e.to_string()))?;
    let mut key = secrecy::SecretBox::new(Box::new([0u8; KEY_BYTES]));
    getrandom::fill(secrecy::ExposeSecretMut::expose_secret_mut(&mut key))
        .map_err(|e| SecretError::Random(e.to_string()))?;
    Ok(format!(
        "k{:08x}:{}",
        u32::from_be_bytes(id),
        STANDARD.encode(key.expose_secret())
    ))
}

fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_KEY_ID_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What a value is bound to besides its key: moving it anywhere else breaks its tag.
fn associated_data(key_id: &str, slot: Slot<'_>) -> String {
    format!(
        "threadline:{SCHEME}:{key_id}:{}:{}:{}",
        slot.table,
        slot.row_id.hyphenated(),
        slot.field
    )
}

fn warn_if_readable_by_others(path: &Path) {
    if let Some(mode) = crate::files::open_to_others(path) {
        tracing::warn!(
            file = %path.display(),
            mode = format!("{mode:o}"),
            "the secret key file can be read by other users: chmod 600 it"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring(lines: &[&str]) -> Keyring {
        Keyring::parse(&lines.join("\n"), "test.key").unwrap()
    }

    fn slot(field: &str) -> Slot<'_> {
        Slot {
            table: "connections",
            row_id: Uuid::from_u128(7),
            field,
        }
    }

    fn secret(text: &str) -> SecretString {
        SecretString::from(text.to_string())
    }

    #[test]
    fn a_sealed_value_opens_and_shows_no_plaintext() {
        let keys = keyring(&[&new_key_line().unwrap()]);
        let sealed = keys
            .seal(&secret("ya29.token"), slot("access_token"))
            .unwrap();
        assert!(sealed.starts_with(&format!("v1:{}:", keys.current_key_id())));
        assert!(!sealed.contains("ya29"), "{sealed}");
        let opened = keys.open(&sealed, slot("access_token")).unwrap();
        assert_eq!(opened.expose_secret(), "ya29.token");
        // A new nonce each time: the same value seals differently.
        let again = keys
            .seal(&secret("ya29.token"), slot("access_token"))
            .unwrap();
        assert_ne!(sealed, again);
    }

    #[test]
    fn a_changed_byte_or_another_slot_is_an_error_never_garbage() {
        let keys = keyring(&[&new_key_line().unwrap()]);
        let sealed = keys
            .seal(&secret("refresh-1"), slot("refresh_token"))
            .unwrap();
        let (head, data) = sealed.rsplit_once(':').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(data).unwrap();
        for position in [0, NONCE_BYTES + 1, bytes.len() - 1] {
            bytes[position] ^= 0x01;
            let tampered = format!("{head}:{}", URL_SAFE_NO_PAD.encode(&bytes));
            let err = keys.open(&tampered, slot("refresh_token")).unwrap_err();
            assert!(matches!(err, SecretError::Undecryptable { .. }), "{err}");
            bytes[position] ^= 0x01;
        }
        // Another field or row of the same table.
        let err = keys.open(&sealed, slot("access_token")).unwrap_err();
        assert!(
            err.to_string().contains("copied from another row or field"),
            "{err}"
        );
        let other_row = Slot {
            row_id: Uuid::from_u128(8),
            ..slot("refresh_token")
        };
        assert!(matches!(
            keys.open(&sealed, other_row),
            Err(SecretError::Undecryptable { .. })
        ));
        for bad in ["", "v1:x", "v2:k:abc", "v1:unknown", "plain token"] {
            assert!(keys.open(bad, slot("refresh_token")).is_err(), "{bad}");
        }
    }

    #[test]
    fn rotation_writes_with_the_last_key_and_reads_with_every_key() {
        let old_line = new_key_line().unwrap();
        let new_line = new_key_line().unwrap();
        let old = keyring(&[&old_line]);
        let written_before = old.seal(&secret("a"), slot("access_token")).unwrap();

        let rotated = keyring(&["# rotated", &old_line, "", &new_line]);
        assert_eq!(rotated.key_ids().len(), 2);
        assert_eq!(
            rotated.current_key_id(),
            new_line.split(':').next().unwrap()
        );
        let written_after = rotated.seal(&secret("b"), slot("access_token")).unwrap();
        assert!(written_after.starts_with(&format!("v1:{}:", rotated.current_key_id())));
        assert_eq!(
            rotated
                .open(&written_before, slot("access_token"))
                .unwrap()
                .expose_secret(),
            "a"
        );

        // The old key dropped: a clear error naming the key id that is missing.
        let only_new = keyring(&[&new_line]);
        let err = only_new
            .open(&written_before, slot("access_token"))
            .unwrap_err();
        assert!(matches!(err, SecretError::UnknownKey { .. }));
        assert!(err.to_string().contains(old.current_key_id()), "{err}");
    }

    #[test]
    fn a_different_key_under_the_same_id_is_a_clear_error() {
        let line = new_key_line().unwrap();
        let id = line.split(':').next().unwrap();
        let other = new_key_line().unwrap();
        let impostor = format!("{id}:{}", other.split_once(':').unwrap().1);
        let sealed = keyring(&[&line])
            .seal(&secret("x"), slot("access_token"))
            .unwrap();
        let err = keyring(&[&impostor])
            .open(&sealed, slot("access_token"))
            .unwrap_err();
        assert!(
            err.to_string().contains("not the one it was written with"),
            "{err}"
        );
    }

    #[test]
    fn key_file_errors_name_file_and_line_but_never_the_key() {
        let good = new_key_line().unwrap();
        let key_text = good.split_once(':').unwrap().1;
        let cases = [
            (format!("# c\n{good}\nnot a key line"), "line 3"),
            (format!("bad id!:{key_text}"), "key id"),
            ("k:c2hvcnQ=".to_string(), "it must be 32"),
            ("k:***".to_string(), "not base64"),
            (format!("{good}\n{good}"), "also on line 1"),
            ("# only comments\n".to_string(), "has no key"),
        ];
        for (text, expected) in cases {
            let err = Keyring::parse(&text, "/etc/tl/secret.key").unwrap_err();
            let message = err.to_string();
            assert!(message.contains(expected), "{message}");
            assert!(message.contains("/etc/tl/secret.key"), "{message}");
            assert!(!message.contains(key_text), "{message}");
        }
    }

    #[test]
    fn debug_output_shows_no_key_and_no_secret() {
        let line = new_key_line().unwrap();
        let keys = keyring(&[&line]);
        let shown = format!("{keys:?}");
        assert!(shown.contains(keys.current_key_id()), "{shown}");
        assert!(!shown.contains(line.split_once(':').unwrap().1), "{shown}");
        let opened = keys
            .open(
                &keys
                    .seal(&secret("ya29.secret"), slot("access_token"))
                    .unwrap(),
                slot("access_token"),
            )
            .unwrap();
        assert!(!format!("{opened:?}").contains("ya29"));
    }

    #[test]
    fn the_default_file_is_generated_private_once_and_a_configured_one_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let (first, source) = Keyring::load_or_create(None, dir.path()).unwrap();
        let path = dir.path().join(DEFAULT_KEY_FILE);
        assert_eq!(source, KeySource::Generated(path.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let (second, source) = Keyring::load_or_create(None, dir.path()).unwrap();
        assert_eq!(source, KeySource::Default(path.clone()));
        assert_eq!(first.key_ids(), second.key_ids());
        let sealed = first.seal(&secret("t"), slot("access_token")).unwrap();
        assert!(second.open(&sealed, slot("access_token")).is_ok());

        let missing = dir.path().join("typo.key");
        let err = Keyring::load_or_create(Some(&missing), dir.path()).unwrap_err();
        assert!(err.to_string().contains("typo.key"), "{err}");
        assert!(!missing.exists(), "a configured file is never made up");
        let (_, source) = Keyring::load_or_create(Some(&path), dir.path()).unwrap();
        assert_eq!(source, KeySource::Configured(path));
    }
}
