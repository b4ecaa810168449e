//! `/api/v1/meetings`: see [`crate::records::meetings`].

use axum::Router;

use crate::records::http::routes;
use crate::records::meetings::Meeting;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    routes::<Meeting>()
}
