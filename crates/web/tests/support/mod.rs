//! What the page tests share: a site over a throwaway database (SQLite, or PostgreSQL with
//! `THREADLINE_TEST_DATABASE_URL`), requests through the router with `oneshot`, the owner
//! set up through the setup link, colleagues and other organisations signed in.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use threadline_crm::accounts::{self, links, sessions, OrgChoice};
use threadline_crm::Actor;
use threadline_http::AppState;
use threadline_storage::testing::TestDatabase;
use threadline_web::WebConfig;
use tower::ServiceExt;
use uuid::Uuid;

pub struct Site {
    pub app: Router,
    pub db: threadline_storage::db::Db,
    pub state: AppState,
    /// The owner made by the first start (no password until [`set_up`]).
    pub owner: Actor,
    _test_db: TestDatabase,
}

pub struct Answer {
    pub status: StatusCode,
    pub location: Option<String>,
    pub cookie: Option<String>,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(&name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_else(|| panic!("no {name} header"))
    }
}

impl Site {
    /// A site whose state stores documents in the test's data directory.
    pub async fn new() -> Site {
        Site::build(AppState::with_data_dir).await
    }

    /// A site with the state `state` makes of its database (integrations of a test's own).
    pub async fn with_state(state: impl FnOnce(threadline_storage::db::Db) -> AppState) -> Site {
        Site::build(|db, _| state(db)).await
    }

    async fn build(
        state: impl FnOnce(threadline_storage::db::Db, &std::path::Path) -> AppState,
    ) -> Site {
        let test_db = TestDatabase::create();
        let db = test_db.open().await;
        let accounts::Bootstrap::Created(owner) =
            accounts::bootstrap(&db, "owner@example.com").await.unwrap()
        else {
            panic!("a new database has no users")
        };
        let owner = Actor {
            user_id: owner.id,
            org_id: owner.org_id,
            name: String::new(),
            email: owner.email,
        };
        let state = state(db.clone(), test_db.data_dir());
        // The whole server's router: the pages beside the API, as the binary serves them.
        let app = threadline_http::app::router_with(
            state.clone(),
            &[],
            threadline_web::pages(WebConfig::default()),
        );
        Site {
            app,
            db,
            state,
            owner,
            _test_db: test_db,
        }
    }

    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let location = headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_string());
        let cookie = headers
            .get(header::SET_COOKIE)
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        Answer {
            status,
            location,
            cookie,
            headers,
            body: String::from_utf8_lossy(&bytes).into(),
        }
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Answer {
        let mut request = Request::get(path);
        if let Some(c) = cookie {
            request = request.header(header::COOKIE, c);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// A form posted from this site (as a browser says it: `Sec-Fetch-Site: same-origin`).
    pub async fn post(&self, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Answer {
        self.post_from(path, cookie, form, "same-origin").await
    }

    pub async fn post_from(
        &self,
        path: &str,
        cookie: Option<&str>,
        form: &[(&str, &str)],
        site: &str,
    ) -> Answer {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("sec-fetch-site", site);
        if let Some(c) = cookie {
            request = request.header(header::COOKIE, c);
        }
        self.send(request.body(Body::from(body)).unwrap()).await
    }

    /// A user of organisation `org` (a new one when `None`), signed in: (who, their cookie).
    pub async fn user(&self, org: Option<uuid::Uuid>, email: &str, name: &str) -> (Actor, String) {
        let choice = match org {
            Some(id) => OrgChoice::Existing(id),
            None => OrgChoice::New(format!("{name}'s organisation")),
        };
        let user = accounts::add_user(&self.db, choice, email, name, &[])
            .await
            .unwrap();
        let session = sessions::create_session(&self.db, user.id, "test", chrono::Utc::now())
            .await
            .unwrap();
        let actor = Actor {
            user_id: user.id,
            org_id: user.org_id,
            name: name.to_string(),
            email: user.email,
        };
        (actor, format!("threadline={}", session.cookie_value))
    }

    /// Who is signed in with `cookie` (`threadline=…`), as the model knows them.
    pub async fn actor_of(&self, cookie: &str) -> Actor {
        let value = cookie.split_once('=').unwrap().1;
        sessions::session(&self.db, value, chrono::Utc::now())
            .await
            .unwrap()
            .expect("a live session")
            .actor
    }
}

impl Site {
    /// A `multipart/form-data` form posted from this site: (name, file name, content) in
    /// order, as a browser sends the fields of a form.
    pub async fn post_multipart(
        &self,
        path: &str,
        cookie: Option<&str>,
        fields: &[(&str, Option<&str>, &[u8])],
    ) -> Answer {
        const BOUNDARY: &str = "----threadline-test-boundary-7c1e";
        let mut body = Vec::new();
        for (name, file_name, content) in fields {
            body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
            match file_name {
                Some(f) => body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                         Content-Type: text/csv\r\n\r\n"
                    )
                    .as_bytes(),
                ),
                None => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        let mut request = Request::post(path)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .header("sec-fetch-site", "same-origin");
        if let Some(c) = cookie {
            request = request.header(header::COOKIE, c);
        }
        self.send(request.body(Body::from(body)).unwrap()).await
    }
}

/// The session's CSRF token, as the page's forms carry it.
pub fn csrf_of(page: &str) -> String {
    let at = page
        .find(r#"name="csrf" value=""#)
        .expect("a form with the CSRF token");
    let rest = &page[at + r#"name="csrf" value=""#.len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

pub const PASSWORD: &str = "correct horse battery";

/// The owner set up through the setup link: their session cookie.
pub async fn set_up(site: &Site, name: &str) -> String {
    let token = links::create_setup_link(&site.db, chrono::Utc::now())
        .await
        .unwrap()
        .expect("the owner has no password yet");
    let form = site.get(&format!("/setup/{token}"), None).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(form.body.contains(r#"name="password""#));
    let done = site
        .post(
            &format!("/setup/{token}"),
            None,
            &[
                ("email", "ann@example.com"),
                ("name", name),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/"));
    // The link works once.
    let again = site.get(&format!("/setup/{token}"), None).await;
    assert_eq!(again.status, StatusCode::GONE);
    done.cookie.expect("a session cookie")
}

/// A session of user `user_id`, as its cookie (signed in without a password: for tests of
/// what a signed-in user sees).
pub async fn cookie_of(site: &Site, user_id: Uuid) -> String {
    let session = sessions::create_session(&site.db, user_id, "test", chrono::Utc::now())
        .await
        .unwrap();
    format!("threadline={}", session.cookie_value)
}

/// A new user of organisation `org`, named `name`, as an actor.
pub async fn new_user(site: &Site, org: Uuid, email: &str, name: &str) -> Actor {
    let mut conn = site.db.pool().acquire().await.unwrap();
    let (user_id, email) = accounts::create_user(&mut conn, org, email, name, &[])
        .await
        .unwrap();
    Actor {
        user_id,
        org_id: org,
        name: name.to_string(),
        email,
    }
}

/// A record of kind `T` made by `actor` from `input` (the model's create, as the API's).
pub async fn create<T: threadline_crm::records::Editable>(
    site: &Site,
    actor: &Actor,
    input: serde_json::Value,
) -> T {
    let input: T::Input = serde_json::from_value(input).unwrap();
    let valid = T::validate(input).unwrap();
    site.db
        .write(|tx| {
            Box::pin(threadline_crm::records::edit::create::<T>(
                tx, actor, &valid,
            ))
        })
        .await
        .unwrap()
}

/// Saves the profile of `cookie`'s user: their name, language and time zone.
pub async fn profile(site: &Site, cookie: &str, name: &str, language: &str, zone: &str) -> Answer {
    let settings = site.get("/settings", Some(cookie)).await;
    let csrf = csrf_of(&settings.body);
    site.post(
        "/settings/profile",
        Some(cookie),
        &[
            ("csrf", &csrf),
            ("name", name),
            ("language", language),
            ("time_zone", zone),
        ],
    )
    .await
}

/// A connection of `actor` made from `grant` (as the OAuth callback stores it).
pub async fn connection_of(
    site: &Site,
    keys: &threadline_storage::secrets::Keyring,
    actor: &Actor,
    grant: &threadline_connections::Grant,
) -> threadline_connections::Connection {
    let owner = threadline_connections::Owner {
        org_id: actor.org_id,
        user_id: actor.user_id,
    };
    site.db
        .write(|tx| {
            Box::pin(async move { threadline_connections::upsert(tx, keys, owner, grant).await })
        })
        .await
        .unwrap()
        .connection
}
