//! What a write's failure means, and what the executor does next. Per item, never from
//! clocks; the executor does the HTTP, the backoff and the bounded loops.
//!
//! - **Stale etag** (400 `FAILED_PRECONDITION`, "Request person.etag is different than the
//!   current person.etag"): Google documents it, and it happens even right after a fresh
//!   read when updates run in a tight loop. Re-read the person, apply our owned fields to
//!   the fresh etag ([`after_reread`]), retry, at most [`MAX_STALE_RETRIES`] times; then
//!   leave it to the next run (the link is unchanged, so it plans the update again).
//! - **404 on update**: the user deleted the person. Create it again only if the contact
//!   changed in the CRM ([`crate::plan::Update::crm_changed`]); otherwise remember the
//!   delete ([`crate::link::LinkState::DeletedInGoogle`]).
//! - **A create whose answer was lost** (timeout, 5xx, a dropped connection): the person
//!   may exist. Never create blindly again: list our persons and adopt by `clientData`
//!   ([`after_lost_create`]); the pending link makes a crash here safe too.
//! - **404 on delete** is success. Rate limits and server errors back off.

use uuid::Uuid;

use crate::link::Link;
use crate::owned::{contact_id_of, Owned};
use crate::person::Person;
use crate::plan::{Create, Outcome, Update};

/// How many times one update is re-read and retried after a stale etag, in one run.
pub const MAX_STALE_RETRIES: u32 = 3;

/// A failed write, classified by (HTTP status, reason) — never by the status alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 400 `FAILED_PRECONDITION` / `failedPrecondition`: the etag is stale.
    StaleEtag,
    /// 404: the person does not exist (deleted by the user).
    NotFound,
    /// 429, or 403 with a rate or quota reason: back off.
    RateLimited,
    /// 5xx, 409 (concurrent mutation), or no answer at all: try again later.
    Transient,
    /// 401: the token; the engine refreshes it or asks the user to reconnect.
    Unauthorized,
    /// Any other 4xx: this item's request is wrong; retrying it cannot help.
    Rejected(String),
}

/// Classifies an answer: `reason` is the google.rpc `status`/`ErrorInfo.reason` or the v1
/// `errors[].reason`, whichever the envelope had. `status` 0 means no answer arrived.
pub fn classify(status: u16, reason: Option<&str>) -> Failure {
    let reason = reason.unwrap_or_default();
    let rate = matches!(
        reason,
        "RATE_LIMIT_EXCEEDED"
            | "RESOURCE_EXHAUSTED"
            | "rateLimitExceeded"
            | "userRateLimitExceeded"
            | "quotaExceeded"
    );
    match status {
        0 | 409 | 500..=599 => Failure::Transient,
        400 if matches!(reason, "FAILED_PRECONDITION" | "failedPrecondition") => Failure::StaleEtag,
        401 => Failure::Unauthorized,
        403 if rate => Failure::RateLimited,
        404 => Failure::NotFound,
        429 => Failure::RateLimited,
        _ => Failure::Rejected(format!("{status} {reason}").trim().to_string()),
    }
}

/// What to do after an update failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateRecovery {
    /// GET the person (`personFields` = [`crate::owned::READ_PERSON_FIELDS`]) and follow
    /// [`after_reread`].
    Reread,
    /// The user deleted it and the contact changed: create it (then store its link).
    Recreate(Box<Create>),
    /// The user deleted it and the contact did not change: store this link.
    MarkDeleted(Link),
    /// Stop writing for this connection now; the next run plans the item again.
    Backoff,
    /// Leave this item (the link as it was: the next run tries again), report the reason.
    GiveUp(String),
}

/// Decides an update's failure. `attempt` counts the stale-etag retries so far (0 first).
pub fn on_update_failure(
    update: &Update,
    failure: &Failure,
    attempt: u32,
    group: &str,
) -> UpdateRecovery {
    match failure {
        Failure::StaleEtag if attempt < MAX_STALE_RETRIES => UpdateRecovery::Reread,
        Failure::StaleEtag => {
            UpdateRecovery::GiveUp(format!("etag still stale after {attempt} re-reads"))
        }
        Failure::NotFound => on_update_not_found(update, group),
        Failure::RateLimited | Failure::Transient | Failure::Unauthorized => {
            UpdateRecovery::Backoff
        }
        Failure::Rejected(why) => UpdateRecovery::GiveUp(why.clone()),
    }
}

/// 404 on update: recreate only if the CRM changed.
fn on_update_not_found(update: &Update, group: &str) -> UpdateRecovery {
    if update.crm_changed {
        let owned = update.owned.clone();
        UpdateRecovery::Recreate(Box::new(Create {
            contact_id: update.contact_id,
            body: owned.create_body(group),
            hash: update.hash.clone(),
            owned,
            outcome: Outcome::Recreated,
        }))
    } else {
        UpdateRecovery::MarkDeleted(update.link(update.etag.clone()).deleted_in_google())
    }
}

/// After a re-read for a stale etag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterReread {
    /// Send this update: the same owned fields under the fresh etag (and name).
    Retry(Box<Update>),
    /// The person already says what we would write: store this link, nothing to send.
    Done(Link),
    /// The person is gone: decided as a 404.
    Gone(UpdateRecovery),
}

/// Re-applies our owned fields to the person as just read (`fresh`): only owned fields are
/// sent, so whatever else changed in Google meanwhile is kept.
pub fn after_reread(update: &Update, fresh: &Person, group: &str) -> AfterReread {
    if fresh.is_deleted() || fresh.resource_name.is_none() {
        return AfterReread::Gone(on_update_not_found(update, group));
    }
    let name = fresh.resource_name.clone().unwrap_or_default();
    let retry = Update {
        resource_name: name.clone(),
        etag: fresh.etag.clone(),
        body: update.owned.update_body(&name, fresh.etag.as_deref()),
        ..update.clone()
    };
    if Owned::from_person(fresh).is_some_and(|o| o == update.owned) {
        return AfterReread::Done(retry.link(fresh.etag.clone()));
    }
    AfterReread::Retry(Box::new(retry))
}

/// After a create whose answer was lost, and a listing of our persons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterLostCreate {
    /// The create went through: store this link (the person says what we sent).
    Adopt(Link),
    /// A person of ours exists but differs (edited since): update it, adopting it.
    AdoptAndUpdate(Box<Update>),
    /// The listing was complete and holds no person of ours for the contact: create again.
    CreateAgain,
    /// The listing was not complete: keep the pending link; a later complete listing
    /// decides (the planner skips the contact until then).
    Unknown,
}

/// Decides a lost create from `found`, the persons a listing returned, and whether it was
/// complete. Two persons carrying the id (the create went through twice) are adopted as
/// one, the first by resourceName; the planner's next run deletes the other as a duplicate.
pub fn after_lost_create(
    create: &Create,
    found: &[Person],
    complete: bool,
    organisation_id: Uuid,
) -> AfterLostCreate {
    let mut ours: Vec<&Person> = found
        .iter()
        .filter(|p| !p.is_deleted() && p.resource_name.is_some())
        .filter(|p| contact_id_of(p, organisation_id) == Some(create.contact_id))
        .collect();
    ours.sort_by(|a, b| a.resource_name.cmp(&b.resource_name));
    let Some(person) = ours.first() else {
        return if complete {
            AfterLostCreate::CreateAgain
        } else {
            AfterLostCreate::Unknown
        };
    };
    let name = person.resource_name.clone().unwrap_or_default();
    if Owned::from_person(person).is_some_and(|o| o == create.owned) {
        return AfterLostCreate::Adopt(create.link(&name, person.etag.clone()));
    }
    AfterLostCreate::AdoptAndUpdate(Box::new(Update {
        contact_id: create.contact_id,
        resource_name: name.clone(),
        etag: person.etag.clone(),
        body: create.owned.update_body(&name, person.etag.as_deref()),
        owned: create.owned.clone(),
        hash: create.hash.clone(),
        outcome: Outcome::Adopted,
        crm_changed: true,
    }))
}

/// A delete's failure: 404 is success (the link goes), the rest as for updates.
pub fn delete_succeeded(failure: &Failure) -> bool {
    *failure == Failure::NotFound
}
