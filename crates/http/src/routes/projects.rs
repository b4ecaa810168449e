//! `/api/v1/projects`: see [`crate::records::projects`].

use crate::openapi::{record_routes, ApiRouter, RecordDoc};
use crate::records::projects::Project;

pub fn router() -> ApiRouter {
    record_routes::<Project>(&RecordDoc {
        noun: "project",
        search: "Part of the name (case-insensitive).",
    })
}
