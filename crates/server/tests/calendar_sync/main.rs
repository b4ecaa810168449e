//! Google Calendar two-way sync against the local fake Google over real HTTP, on SQLite (or
//! PostgreSQL with THREADLINE_TEST_DATABASE_URL): the server's executor of
//! `threadline-calendar-core`'s plans, its tables and its routes.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use threadline_fake_providers::google::{GoogleFault, OAuthClient, RateLimitReason};
use threadline_fake_providers::{FakeProviders, Fault, FaultId, FaultRule, Times};
use threadline_google_calendar::client::{CalendarClient, RetryPolicy};
use threadline_google_calendar::{CalendarSync, GoogleCalendar, RunOptions};
use threadline_server::admin::{self, OrgChoice};
use threadline_server::connections::{self, Grant, Owner, Provider};
use threadline_server::oauth::google::{GoogleConfig, GoogleEndpoints};
use threadline_server::oauth::{OAuth, TokenSource};
use threadline_server::secrets::{new_key_line, Keyring, SecretString};
use threadline_server::sync::Integration;
use threadline_server::sync::{
    schedule, RunCounts, Runner, RunnerConfig, RunnerHandle, StoredTokens, SyncError,
};
use threadline_server::testing::TestDatabase;
use threadline_server::AppState;
use tower::ServiceExt;
use uuid::Uuid;
const ANN: &str = "ann@ourco.com";
const EVENTS: &str = "/calendar/v3/calendars/{calendarId}/events";
const EVENT: &str = "/calendar/v3/calendars/{calendarId}/events/{eventId}";

mod harness;

mod attendees;
mod converted;
mod failures;
mod planning;
mod recovery;
mod series;
mod two_way;

use harness::*;
