//! Probes, no token needed:
//! - `GET /healthz` (liveness): 200 `ok` when the server can reach its database.
//! - `GET /readyz` (readiness): 200 `ok` when the database answers a trivial query through
//!   the pool within [`READY_TIMEOUT`] and every migration is applied; otherwise 503 with an
//!   `ErrorBody` (`code: not_ready`) whose message names what is not ready.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

use crate::error::ApiError;
use crate::state::AppState;

/// How long the readiness check waits for the database (a connection and two queries).
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match sqlx::query("SELECT 1").execute(state.db().pool()).await {
        Ok(_) => (StatusCode::OK, "ok"),
        Err(e) => {
            tracing::error!(error = %e, "health check: the database is unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    let not_ready = |message: String| {
        tracing::warn!(%message, "readiness check failed");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", message)
    };
    let db = state.db();
    let check = async {
        sqlx::query("SELECT 1")
            .execute(db.pool())
            .await
            .map_err(|e| format!("database: it does not answer ({e})"))?;
        let pending = db
            .pending_migrations()
            .await
            .map_err(|e| format!("migrations: cannot read which are applied ({e})"))?;
        if pending.is_empty() {
            Ok(())
        } else {
            let versions: Vec<String> = pending.iter().map(i64::to_string).collect();
            Err(format!(
                "migrations: {} not applied (run `threadline-server migrate`)",
                versions.join(", ")
            ))
        }
    };
    match tokio::time::timeout(READY_TIMEOUT, check).await {
        Ok(Ok(())) => Ok("ok"),
        Ok(Err(message)) => Err(not_ready(message)),
        Err(_) => Err(not_ready(format!(
            "database: no answer within {} s",
            READY_TIMEOUT.as_secs()
        ))),
    }
}
