//! Google: OAuth 2.0 (`oauth`), Calendar v3 (`calendar`), People v1 (`people`) and Drive v3
//! (`drive`), sharing the users, tokens, bearer check, and the error envelope and Google's
//! own faults (`error`).

pub mod calendar;
pub mod drive;
pub mod error;
pub mod oauth;
pub mod oidc;
pub mod people;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use chrono::{DateTime, Utc};

use crate::Shared;
pub use calendar::AccessRole;
pub use error::{GoogleError, GoogleFault, RateLimitReason, RpcError};
pub use oauth::{OAuthClient, Tokens};

/// Google's part of the fake: its state and the test-facing controls.
#[derive(Default)]
pub struct GoogleFake {
    state: Mutex<GoogleState>,
}

#[derive(Default)]
pub(crate) struct GoogleState {
    pub(crate) base_url: String,
    /// Added to the wall clock: lets a test move time (token expiry) without sleeping.
    pub(crate) clock_offset: chrono::Duration,
    /// Google accounts, by email.
    pub(crate) users: BTreeSet<String>,
    pub(crate) oauth: oauth::OAuthState,
    pub(crate) calendar: calendar::CalendarState,
    pub(crate) people: people::PeopleState,
    pub(crate) drive: drive::DriveState,
}

impl GoogleState {
    pub(crate) fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }
}

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .merge(oauth::router())
        .merge(calendar::router())
        .merge(people::router())
        .merge(drive::router())
}

impl GoogleFake {
    pub(crate) fn lock(&self) -> MutexGuard<'_, GoogleState> {
        self.state.lock().unwrap()
    }

    pub(crate) fn set_base_url(&self, base_url: String) {
        self.lock().base_url = base_url;
    }

    /// A Google account. The authorization endpoint signs in as the account named by
    /// `login_hint`, else as the first account added.
    pub fn add_user(&self, email: &str) {
        self.lock().users.insert(email.to_string());
    }

    /// Moves the fake's clock forward (access tokens expire by it).
    pub fn advance_clock(&self, by: Duration) {
        self.lock().clock_offset += chrono::Duration::from_std(by).expect("a sane duration");
    }

    /// The fake's idea of now (the wall clock plus [`GoogleFake::advance_clock`]).
    pub fn now(&self) -> DateTime<Utc> {
        self.lock().now()
    }
}
