//! The web app's static files, built into the binary and served under names that carry a
//! hash of their content (`/assets/app.3f2a9c1e.css`), so that they can be cached for a year:
//! a new build changes the name. No file comes from anywhere else (no CDN).

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// One static file.
pub struct Asset {
    /// The name in the source (`app.css`).
    pub name: &'static str,
    /// The name it is served under, with the hash.
    pub hashed: String,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:literal) => {
        (
            $name,
            $type,
            include_bytes!(concat!("../assets/", $name)) as &[u8],
        )
    };
}

const FILES: &[(&str, &str, &[u8])] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
];

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(name, content_type, bytes)| {
            let digest = Sha256::digest(bytes);
            let short: String = digest[..5].iter().map(|b| format!("{b:02x}")).collect();
            let (stem, ext) = name
                .rsplit_once('.')
                .expect("asset names have an extension");
            Asset {
                name,
                hashed: format!("{stem}.{short}.{ext}"),
                content_type,
                bytes,
            }
        })
        .collect()
});

/// The URL of the asset `name` (`app.css`), for the templates.
pub fn url(name: &str) -> String {
    let asset = ASSETS
        .iter()
        .find(|a| a.name == name)
        .unwrap_or_else(|| panic!("no asset {name}"));
    format!("/assets/{}", asset.hashed)
}

/// `GET /assets/{file}`: a hashed name, cached for a year; an old or unknown name is a 404
/// (never the current file under an old name: a cache would keep it for a year).
pub async fn serve(Path(file): Path<String>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.hashed == file) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        asset.bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_content_hash() {
        let css = url("app.css");
        assert!(
            css.starts_with("/assets/app.") && css.ends_with(".css"),
            "{css}"
        );
        assert_eq!(css.len(), "/assets/app.".len() + 10 + ".css".len());
        let hashes: std::collections::HashSet<_> = ASSETS.iter().map(|a| &a.hashed).collect();
        assert_eq!(hashes.len(), ASSETS.len());
    }
}
