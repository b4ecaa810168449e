//! State shared by every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::db::Db;

/// How often at most a token's `last_used_at` is written.
pub const TOKEN_TOUCH_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    /// When each token's `last_used_at` was last written by this process.
    token_touches: Mutex<HashMap<Uuid, Instant>>,
}

impl AppState {
    pub fn new(db: Db) -> Self {
        AppState {
            inner: Arc::new(Inner {
                db,
                token_touches: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// True when `token_id`'s `last_used_at` should be written now (at most once per
    /// [`TOKEN_TOUCH_INTERVAL`]); records the write as done.
    pub fn should_touch_token(&self, token_id: Uuid) -> bool {
        let now = Instant::now();
        let mut touches = self
            .inner
            .token_touches
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match touches.get(&token_id) {
            Some(last) if now.duration_since(*last) < TOKEN_TOUCH_INTERVAL => false,
            _ => {
                touches.insert(token_id, now);
                true
            }
        }
    }
}
