//! `/api/v1/meetings`: see [`crate::records::meetings`].

use crate::openapi::{record_routes, ApiRouter, RecordDoc};
use crate::records::meetings::Meeting;

pub fn router() -> ApiRouter {
    record_routes::<Meeting>(&RecordDoc {
        noun: "meeting",
        search: "Part of the title (case-insensitive).",
    })
}
