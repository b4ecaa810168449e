//! `/api/v1/projects`: see [`crate::records::projects`].

use axum::Router;

use crate::records::http::routes;
use crate::records::projects::Project;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    routes::<Project>()
}
