//! Where people reach this server ([`PublicUrl`]): the origin of the absolute links to the
//! web app's pages that the API's answers carry (`web_url` of a contact's card and of a
//! tracked email), and of the links the server prints.
//!
//! It is configured (`serve --public-url`), defaulting to the address the server listens on,
//! and never taken from a request: a forged `Host` (or a proxy's internal name) would put a
//! link to another host into the answers the extension opens, and behind a proxy that
//! terminates TLS the server cannot know the scheme people use.

use std::net::SocketAddr;
use std::sync::Arc;

use uuid::Uuid;

/// The web app's page of a contact: `/contacts/{id}` (`threadline-web`'s record pages).
pub const CONTACT_PAGES: &str = "/contacts";
/// The web app's page of a tracked email: `/emails/{id}` (`threadline-web`'s email page).
pub const EMAIL_PAGES: &str = "/emails";

/// An origin, `http(s)://host[:port]`, without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(Arc<str>);

impl PublicUrl {
    /// `text` as an origin: `http` or `https`, a host, nothing else (no user, query or
    /// fragment; no path but `/`, since the web app's pages are at the root). The host is
    /// kept as the URL standard writes it (lower case, IDNA), the default port dropped.
    pub fn parse(text: &str) -> Result<PublicUrl, String> {
        let url = url::Url::parse(text.trim()).map_err(|e| format!("{text:?}: {e}"))?;
        let refuse = |why: &str| Err(format!("{text:?}: {why}"));
        if !matches!(url.scheme(), "http" | "https") {
            return refuse("the scheme must be http or https");
        }
        if url.host().is_none() {
            return refuse("a host is needed");
        }
        if !url.username().is_empty() || url.password().is_some() {
            return refuse("no user or password");
        }
        if url.query().is_some() || url.fragment().is_some() {
            return refuse("no query or fragment");
        }
        if url.path() != "/" {
            return refuse("no path: the web app is served at the root");
        }
        Ok(PublicUrl(url.origin().ascii_serialization().into()))
    }

    /// `http://<addr>`, the address the server listens on; `None` for an unspecified
    /// address (`0.0.0.0`, `[::]`), which names no host a browser could reach.
    pub fn listening_on(addr: SocketAddr) -> Option<PublicUrl> {
        if addr.ip().is_unspecified() {
            return None;
        }
        Some(PublicUrl(format!("http://{addr}").into()))
    }

    /// The origin, as `scheme://host[:port]`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// People reach the server over HTTPS (directly or through a proxy that terminates TLS):
    /// the web app's cookies are then `Secure` and `__Host-`.
    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }

    /// This origin followed by `path` (which starts with `/`).
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }

    /// The web app's page of contact `id`.
    pub fn contact_page(&self, id: Uuid) -> String {
        self.join(&format!("{CONTACT_PAGES}/{id}"))
    }

    /// The web app's page of tracked email `id`.
    pub fn email_page(&self, id: Uuid) -> String {
        self.join(&format!("{EMAIL_PAGES}/{id}"))
    }
}

impl std::fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origin_is_kept_as_the_url_standard_writes_it() {
        for (given, kept) in [
            ("https://crm.example.com", "https://crm.example.com"),
            ("https://CRM.Example.com/", "https://crm.example.com"),
            ("https://crm.example.com:443", "https://crm.example.com"),
            ("http://10.0.0.5:8787", "http://10.0.0.5:8787"),
            (" http://[::1]:8787/ ", "http://[::1]:8787"),
            ("https://bücher.example", "https://xn--bcher-kva.example"),
        ] {
            assert_eq!(PublicUrl::parse(given).unwrap().as_str(), kept, "{given}");
        }
    }

    #[test]
    fn anything_but_an_origin_is_refused() {
        for bad in [
            "",
            "crm.example.com",
            "ftp://crm.example.com",
            "javascript:alert(1)",
            "https://user:pw@crm.example.com",
            "https://crm.example.com/threadline",
            "https://crm.example.com/?a=1",
            "https://crm.example.com/#x",
            "file:///etc/passwd",
        ] {
            assert!(PublicUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pages_are_under_the_origin() {
        let id = Uuid::nil();
        let url = PublicUrl::parse("https://crm.example.com/").unwrap();
        assert_eq!(
            url.contact_page(id),
            format!("https://crm.example.com/contacts/{id}")
        );
        assert_eq!(
            url.email_page(id),
            format!("https://crm.example.com/emails/{id}")
        );
    }

    #[test]
    fn the_listen_address_is_the_default_unless_it_names_no_host() {
        let at = |s: &str| PublicUrl::listening_on(s.parse().unwrap()).map(|u| u.to_string());
        assert_eq!(
            at("127.0.0.1:8787").as_deref(),
            Some("http://127.0.0.1:8787")
        );
        assert_eq!(at("[::1]:9000").as_deref(), Some("http://[::1]:9000"));
        assert_eq!(at("0.0.0.0:8787"), None);
        assert_eq!(at("[::]:8787"), None);
    }
}
