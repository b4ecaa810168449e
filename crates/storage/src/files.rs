//! The data directory's files are the server's alone: the directory and every folder in it
//! are created with mode 0700, every file with 0600 (the database, its WAL and shared-memory
//! files, document content, temporary uploads, the secret key), whatever the process's
//! umask. An existing directory or database file that others may read is left as it is
//! (an administrator may share it on purpose, e.g. with a backup group) and warned about.
//!
//! The binary also sets its umask to 077 at start (`threadline-server`'s `main`), so that
//! a file this code does not create itself (one SQLite makes, a report a command writes)
//! is private too; the explicit modes here keep the library private without it.

use std::path::Path;

/// Mode of the folders the server creates.
pub const PRIVATE_DIR_MODE: u32 = 0o700;
/// Mode of the files the server creates.
pub const PRIVATE_FILE_MODE: u32 = 0o600;

/// Creates `dir` and its missing parents with mode 0700 (a folder that exists is left as
/// it is).
pub fn create_private_dir_all(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, PRIVATE_DIR_MODE);
    builder.create(dir)
}

/// Options that create a new file (it must not exist) with mode 0600, for writing.
pub fn create_new_private() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, PRIVATE_FILE_MODE);
    options
}

/// The permission bits of `path` when they give anything to the group or others (more than
/// `0700` for a folder, `0600` for a file); `None` when they do not, or when it cannot be
/// read (or off Unix).
pub fn open_to_others(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Logs a warning naming `path` and its mode when others may read it (`what`: "data
/// directory", "database file").
pub fn warn_if_open_to_others(path: &Path, what: &str) {
    if let Some(mode) = open_to_others(path) {
        let wanted = if path.is_dir() {
            PRIVATE_DIR_MODE
        } else {
            PRIVATE_FILE_MODE
        };
        tracing::warn!(
            path = %path.display(),
            mode = format!("{mode:o}"),
            "the {what} {} has mode {mode:o}: other users of this machine may read the \
             server's data; chmod {wanted:o} it unless that is meant",
            path.display()
        );
    }
}

/// The data directory at start: created (0700) when missing, else warned about when others
/// may read it.
pub fn prepare_data_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        warn_if_open_to_others(dir, "data directory");
        return Ok(());
    }
    create_private_dir_all(dir)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_folders_and_files_are_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        prepare_data_dir(&dir).unwrap();
        assert_eq!(mode(&root.path().join("a")), 0o700);
        assert_eq!(mode(&dir), 0o700);
        let file = dir.join("f");
        create_new_private().open(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(open_to_others(&dir), None);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o750)).unwrap();
        assert_eq!(open_to_others(&dir), Some(0o750));
        // An existing folder is left as it is.
        prepare_data_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o750);
    }
}
