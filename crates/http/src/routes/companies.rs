//! `/api/v1/companies`: see [`crate::records::companies`].

use crate::openapi::{record_routes, ApiRouter, RecordDoc};
use crate::records::companies::Company;

pub fn router() -> ApiRouter {
    record_routes::<Company>(&RecordDoc {
        noun: "company",
        search: "Part of the name (case-insensitive), or a domain (`acme.com`).",
    })
}
