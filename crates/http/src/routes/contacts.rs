//! `/api/v1/contacts`: see [`crate::records::contacts`]. `POST /contacts` also serves the
//! bar (its `NewContact` is a valid input and the answer a superset of its `Contact`), with
//! `Idempotency-Key` support. `GET /contacts/{id}/card` is the contact panel's card
//! (`threadline_crm::card`): one request per card.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use utoipa::openapi::path::HttpMethod;

use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::extract::Json;
use crate::idempotency::{self, IdempotencyKey};
use crate::openapi::{record_links, record_routes_but_create, ApiRouter, Op, RecordDoc};
use crate::privacy;
use crate::records::contacts::{Contact, ContactInput};
use crate::records::Kind;
use crate::records::Target;
use crate::routes::records::etag;
use crate::routes::records::{load_one, path_id, Editable};
use crate::state::AppState;
use threadline_domain::api::ContactCard;
use threadline_domain::card::{CARD_DOCUMENTS, CARD_EMAILS, CARD_PHONES, CARD_TASKS};

pub use crate::records::companies::normalize_company_domain;
pub use crate::records::contacts::MAX_CONTACT_EMAILS;

pub fn router() -> ApiRouter {
    let create = Op::new("contacts", "create_contact", "Create a contact")
        .description(
            "The tracking bar's *Add contact* sends a `NewContact`, which is a valid \
             `ContactInput`. An address that is the caller's own (`own_address`), on the \
             never-log list (`never_log`) or a colleague's (`colleague`) is refused (422).",
        )
        .idempotency_key()
        .json_body::<ContactInput>("The new contact.")
        .json_with_etag::<Contact>("201", "The contact as stored (`Location` is its URL).")
        .links_to_record("201", "id", &record_links("contact"));
    let card = Op::new("contacts", "get_contact_card", "A contact's card")
        .description(&format!(
            "What the contact panel beside a Gmail thread shows, in one answer: the contact \
             (name, company, job title, the first {CARD_PHONES} phones), the last \
             {CARD_EMAILS} tracked emails of its timeline (newest first, one per email as the \
             timeline shows them; a colleague's private one is `redacted`: no subject, only \
             who tracked it) and whether there are more, its open tasks (due first, soonest \
             first, then undated; the first {CARD_TASKS} and their count), and how many files \
             its documents hold with the {CARD_DOCUMENTS} most recently changed. `web_url` \
             is the contact's page in the web app, an absolute URL under the server's \
             public URL (absent when the server has none)."
        ))
        .path_id("id", "The contact's id.")
        .json::<ContactCard>("200", "The card.")
        .not_found("contact");
    record_routes_but_create::<Contact>(&RecordDoc {
        noun: "contact",
        search: "Part of the name or of an address (case-insensitive), an address, or a domain.",
    })
    .routes(create.route("/contacts", HttpMethod::Post, post(create_contact)))
    .routes(card.route("/contacts/{id}/card", HttpMethod::Get, get(contact_card)))
}

/// `GET /contacts/{id}/card`: one read snapshot.
async fn contact_card(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> ApiResult<axum::Json<ContactCard>> {
    let id = path_id(Kind::Contact, &raw)?;
    let mut tx = state.db().begin_read().await?;
    let mut card = threadline_crm::card::contact_card(&mut tx, &auth, id).await?;
    tx.commit().await?;
    card.web_url = state.public_url().map(|u| u.contact_page(id));
    Ok(axum::Json(card))
}

async fn create_contact(
    auth: AuthUser,
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(req): Json<ContactInput>,
) -> ApiResult<Response> {
    let key = IdempotencyKey::from_headers(&headers, "POST /api/v1/contacts", &req)?;
    let valid = Contact::validate(req)?;
    let id = crate::db::new_id();
    let mut response = idempotency::write(
        state.db(),
        &auth,
        key.as_ref(),
        StatusCode::CREATED,
        &|tx| {
            Box::pin(async {
                let rules = privacy::rules_of(tx, &auth).await?;
                privacy::check_contact_addresses(&rules, valid.emails())?;
                Contact::save(tx, &auth, id, Target::New, &valid).await?;
                load_one::<Contact>(tx, auth.org_id, id, false).await
            })
        },
    )
    .await?;
    // A new contact is at version 1 (a replay answers what was answered then, as it was).
    if response.status() == StatusCode::CREATED
        && !response
            .headers()
            .contains_key(idempotency::REPLAYED_HEADER)
    {
        let headers = response.headers_mut();
        headers.insert(header::ETAG, etag(1));
        if let Ok(location) = format!("/api/v1/contacts/{id}").parse() {
            headers.insert(header::LOCATION, location);
        }
    }
    Ok(response)
}
