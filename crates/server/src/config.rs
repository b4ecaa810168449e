//! The configuration file (`--config PATH`, `THREADLINE_CONFIG`): TOML, with the same
//! settings as the command line's options. Each setting is taken from, in order: the
//! command-line flag, its environment variable, the file, the default.
//! `threadline.example.toml` (next to the crate's `Cargo.toml`) lists every key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::ServerError;

/// Default of `--data-dir`.
pub const DEFAULT_DATA_DIR: &str = "./.data";
/// Default of `serve --listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";
/// Default of `serve --owner-email`.
pub const DEFAULT_OWNER_EMAIL: &str = "owner@example.com";

/// What a configuration file may say; any other key is an error.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `--data-dir`: relative paths are relative to the working directory, as on the command
    /// line.
    pub data_dir: Option<PathBuf>,
    /// `--database-url`.
    pub database_url: Option<String>,
    /// `serve --listen`.
    pub listen: Option<SocketAddr>,
    /// `serve --public-url`.
    pub public_url: Option<String>,
    /// `serve --owner-email`.
    pub owner_email: Option<String>,
    /// `serve --secret-key-file`.
    pub secret_key_file: Option<PathBuf>,
    /// `[google]`: the Google OAuth client (`serve --google-…`).
    pub google: Option<GoogleSettings>,
    /// `[dropbox]`: the Dropbox app (`serve --dropbox-…`).
    pub dropbox: Option<DropboxSettings>,
    /// `serve --sync-concurrency`.
    pub sync_concurrency: Option<u16>,
    /// `serve --sync-poll-seconds`.
    pub sync_poll_seconds: Option<u32>,
    /// `serve --header-read-timeout-seconds`.
    pub header_read_timeout_seconds: Option<u32>,
    /// `serve --idle-timeout-seconds`.
    pub idle_timeout_seconds: Option<u32>,
    /// `serve --body-timeout-seconds`.
    pub body_timeout_seconds: Option<u32>,
    /// `serve --max-connections`.
    pub max_connections: Option<u32>,
    /// `serve --shutdown-timeout-seconds`.
    pub shutdown_timeout_seconds: Option<u32>,
    /// `serve --rate-limit-per-second`.
    pub rate_limit_per_second: Option<u32>,
    /// `serve --rate-limit-burst`.
    pub rate_limit_burst: Option<u32>,
    /// `serve --trash-retention-days`.
    pub trash_retention_days: Option<u32>,
    /// `serve --versions-kept`.
    pub versions_kept: Option<u32>,
    /// `serve --version-retention-days`.
    pub version_retention_days: Option<u32>,
}

pub use threadline_connections::oauth::dropbox::DropboxSettings;
pub use threadline_connections::oauth::google::GoogleSettings;

impl FileConfig {
    /// Reads and checks the file at `path`; errors name the file (and the key at fault).
    pub fn load(path: &Path) -> Result<FileConfig, ServerError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ServerError::Invalid(format!(
                "cannot read the configuration file {}: {e}",
                path.display()
            ))
        })?;
        Self::parse(&text).map_err(|e| {
            ServerError::Invalid(format!(
                "the configuration file {} is not valid: {}",
                path.display(),
                e.trim_end()
            ))
        })
    }

    /// Parses a file's text (the error is `toml`'s: line, column and the key at fault).
    pub fn parse(text: &str) -> Result<FileConfig, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_of_the_example_file_is_known() {
        let example = include_str!("../threadline.example.toml");
        // The example has every key and table commented out: uncomment them all.
        let uncommented: String = example
            .lines()
            .map(|l| {
                l.strip_prefix("# ")
                    .filter(|l| l.contains(" = ") || (l.starts_with('[') && l.ends_with(']')))
                    .unwrap_or(l)
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let config = FileConfig::parse(&uncommented).expect("the example parses");
        assert!(config.data_dir.is_some());
        assert!(config.database_url.is_some());
        assert!(config.listen.is_some());
        assert!(config.owner_email.is_some());
        assert!(config.secret_key_file.is_some());
        assert!(config.sync_concurrency.is_some());
        assert!(config.sync_poll_seconds.is_some());
        assert!(config.header_read_timeout_seconds.is_some());
        assert!(config.idle_timeout_seconds.is_some());
        assert!(config.body_timeout_seconds.is_some());
        assert!(config.max_connections.is_some());
        assert!(config.shutdown_timeout_seconds.is_some());
        assert!(config.rate_limit_per_second.is_some());
        assert!(config.rate_limit_burst.is_some());
        assert!(config.trash_retention_days.is_some());
        assert!(config.versions_kept.is_some());
        assert!(config.version_retention_days.is_some());
        let google = config.google.expect("the [google] table");
        assert!(google.client_id.is_some());
        assert!(google.client_secret_file.is_some());
        assert!(google.redirect_url.is_some());
        assert!(google.auth_url.is_some());
        assert!(google.token_url.is_some());
        assert!(google.revoke_url.is_some());
        assert!(google.userinfo_url.is_some());
        assert!(google.calendar_api_url.is_some());
        assert!(google.people_api_url.is_some());
        assert!(google.drive_api_url.is_some());
        assert!(google.drive_upload_url.is_some());
        let dropbox = config.dropbox.expect("the [dropbox] table");
        assert!(dropbox.app_key.is_some());
        assert!(dropbox.app_secret_file.is_some());
        assert!(dropbox.redirect_url.is_some());
        assert!(dropbox.auth_url.is_some());
        assert!(dropbox.token_url.is_some());
        assert!(dropbox.api_url.is_some());
        assert!(dropbox.content_url.is_some());
    }

    #[test]
    fn an_unknown_dropbox_key_is_named() {
        let error = FileConfig::parse("[dropbox]\napp_secret = \"x\"\n").unwrap_err();
        assert!(error.contains("app_secret"), "{error}");
    }

    #[test]
    fn an_unknown_google_key_is_named() {
        let error = FileConfig::parse("[google]\nclient_secret = \"x\"\n").unwrap_err();
        assert!(error.contains("client_secret"), "{error}");
    }

    #[test]
    fn an_unknown_key_is_named() {
        let error =
            FileConfig::parse("listen = \"127.0.0.1:1\"\nlisten_addr = \"x\"\n").unwrap_err();
        assert!(error.contains("listen_addr"), "{error}");
    }
}
