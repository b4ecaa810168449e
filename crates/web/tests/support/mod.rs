//! What the page tests share: a site on a real test database (SQLite, or PostgreSQL with
//! `THREADLINE_TEST_DATABASE_URL`), requests as a browser sends them, and signed-in users.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use threadline_crm::accounts::{self, links, sessions};
use threadline_crm::Actor;
use threadline_http::AppState;
use threadline_storage::testing::TestDatabase;
use threadline_web::WebConfig;
use tower::ServiceExt;
use uuid::Uuid;

pub struct Site {
    pub app: Router,
    pub db: threadline_storage::db::Db,
    /// The owner made on the first start (before the setup link).
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

impl Site {
    pub async fn new() -> Site {
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
        let app =
            threadline_web::router(WebConfig::default()).with_state(AppState::new(db.clone()));
        Site {
            app,
            db,
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
