//! `/api/v1/companies`: see [`crate::records::companies`].

use axum::Router;

use crate::records::companies::Company;
use crate::records::http::routes;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    routes::<Company>()
}
