//! `/api/v1/products`: see [`crate::records::products`].

use axum::Router;

use crate::records::http::routes;
use crate::records::products::Product;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    routes::<Product>()
}
