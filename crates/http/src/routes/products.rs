//! `/api/v1/products`: see [`crate::records::products`].

use crate::openapi::{record_routes, ApiRouter, RecordDoc};
use crate::records::products::Product;

pub fn router() -> ApiRouter {
    record_routes::<Product>(&RecordDoc {
        noun: "product",
        search: "Part of the name or the code (case-insensitive).",
    })
}
