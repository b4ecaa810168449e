//! The pages, one module per part of the app; each adds its routes here.

pub mod auth;
pub mod home;
pub mod records;

use axum::routing::{get, post};
use axum::Router;
use threadline_crm::records::{
    companies::Company, contacts::Contact, meetings::Meeting, products::Product, projects::Project,
};
use threadline_http::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home::home))
        .route("/sign-in", get(auth::sign_in_form).post(auth::sign_in))
        .route("/sign-out", post(auth::sign_out))
        .route("/sign-out-everywhere", post(auth::sign_out_everywhere))
        .route(
            "/setup/{token}",
            get(auth::link_form).post(auth::redeem_link),
        )
        .route(
            "/join/{token}",
            get(auth::link_form).post(auth::redeem_link),
        )
        // Records: each kind's list, new, page, save and delete (pages/records.rs).
        .merge(records::routes::<Company>())
        .merge(records::routes::<Contact>())
        .merge(records::routes::<Project>())
        .merge(records::routes::<Meeting>())
        .merge(records::routes::<Product>())
}
