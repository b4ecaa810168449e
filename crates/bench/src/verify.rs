//! Reads a sample of the seeded data back through the API, to show that the generator
//! wrote what the API itself would have: records it can load and answer, lookups that
//! find them.

use serde_json::Value;
use threadline_domain::api::{LookupResponse, MatchStatus};
use uuid::Uuid;

use crate::api::Api;
use crate::dataset::Dataset;

/// Checks contacts (live and deleted), companies and an ambiguous lookup; returns how many
/// records were checked.
pub async fn dataset_through_api(api: &Api, data: &Dataset) -> Result<usize, String> {
    let mut checked = 0;
    let last = data.contacts.saturating_sub(1);
    let mut sample: Vec<u64> = vec![0, 1, 2, 7, last / 3, last / 2, last];
    sample.retain(|&i| i < data.contacts);
    sample.dedup();
    for i in sample {
        let expected = data.contact(i);
        let (status, body) = api.get(&format!("/contacts/{}", expected.id)).await?;
        let wrong = |what: &str| Err(format!("contact {i} ({}): {what}: {body}", expected.id));
        if expected.deleted_at.is_some() {
            if status != reqwest::StatusCode::NOT_FOUND {
                return wrong(&format!("deleted, yet answered {status}"));
            }
            let (status, body) = api
                .get(&format!("/contacts/{}?include_deleted=true", expected.id))
                .await?;
            if !status.is_success() || body["deleted_at"].is_null() || body["version"] != 2 {
                return Err(format!("contact {i}: its tombstone reads {status} {body}"));
            }
        } else {
            if status != reqwest::StatusCode::OK {
                return wrong(&format!("answered {status}"));
            }
            let emails: Vec<&str> = body["emails"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let company = expected.company.map(|c| data.company(c).id.to_string());
            if body["first_name"] != expected.first_name.as_str()
                || body["last_name"] != expected.last_name.as_str()
                || emails != expected.emails
                || body["company_id"].as_str() != company.as_deref()
                || body["job_title"].as_str() != expected.job_title.as_deref()
                || body["version"] != 1
            {
                return wrong(&format!("expected {expected:?}"));
            }
        }
        checked += 1;
    }
    let last = data.companies.saturating_sub(1);
    let mut sample: Vec<u64> = vec![0, last / 2, last];
    sample.retain(|&i| i < data.companies);
    sample.dedup();
    for i in sample {
        let expected = data.company(i);
        let (status, body) = api.get(&format!("/companies/{}", expected.id)).await?;
        if status != reqwest::StatusCode::OK
            || body["name"] != expected.name.as_str()
            || body["domains"] != serde_json::json!([expected.domain])
        {
            return Err(format!(
                "company {i}: expected {expected:?}, got {status} {body}"
            ));
        }
        checked += 1;
    }
    if data.contacts > 1 {
        // Contact 1 shares contact 0's primary address: ambiguous, both named.
        let shared = data.contact(0).emails[0].clone();
        let answer = api
            .json(
                api.client
                    .post(api.url("/lookup"))
                    .json(&serde_json::json!({ "addresses": [shared] })),
            )
            .await?;
        let answer: LookupResponse =
            serde_json::from_value(answer).map_err(|e| format!("a lookup answer: {e}"))?;
        let result = &answer.results[0];
        let mut ids: Vec<Uuid> = result.contacts.iter().map(|c| c.id).collect();
        ids.sort();
        let mut want = vec![data.contact(0).id, data.contact(1).id];
        want.sort();
        if result.status != MatchStatus::Ambiguous || ids != want {
            return Err(format!(
                "the lookup of {shared}: expected ambiguous {want:?}, got {result:?}"
            ));
        }
        checked += 1;
    }
    Ok(checked)
}
