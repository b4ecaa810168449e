//! The attendee list a write sends: the CRM owns the *addresses*, Google owns each entry.
//!
//! Google's PATCH replaces the whole `attendees` array, so an entry sent back as a bare
//! `{email}` loses what Google kept on it: the guest's answer (`responseStatus`, which real
//! Google resets to `needsAction`), `comment`, `additionalGuests`, `optional`, the read-only
//! `organizer` / `self` flags. A list sent for an existing event is therefore always built
//! from the event's current entries ([`merge_attendees`]); the planner does it when the
//! event was listed in the run, the executor after reading the event when it was not
//! ([`crate::decide::patch_with_attendees`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::event::EventAttendee;
use crate::owned::normalise_address;

/// The attendees the CRM wants on an event the plan did not see in this run: the executor
/// reads the event and merges these into its current entries before the PATCH.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WantedAttendees {
    /// Normalised addresses ([`normalise_address`]).
    pub addresses: BTreeSet<String>,
    /// The CRM's display names of those addresses, sent with the ones Google lacks.
    pub names: BTreeMap<String, String>,
}

/// An entry the CRM's list never removes: not owned, so not the CRM's to drop.
///
/// - A resource (a room, a projector) is Google's: [`crate::Owned::from_event`] leaves
///   resources out of the owned addresses, so the CRM never lists them.
/// - The organiser's own entry carries the organiser's answer and the `organizer` flag,
///   and the CRM may simply not list the user who organises (a meeting is the user's by
///   its link too). Dropping it would make Google show the organiser as not attending
///   their own meeting because the CRM left them out, not because anyone removed them.
///   The hash still converges: the link stores the CRM's addresses (what was asked), our
///   write comes back as an echo (its etag), so a quiet run writes nothing; if Google
///   later changes the event, the organiser's address arrives as a Google-side change and
///   is added to the meeting, after which both sides say the same.
/// - An entry without an address (Google does not make them, but it is not ours to judge)
///   cannot be compared, and is not owned either.
fn kept_regardless(entry: &EventAttendee) -> bool {
    entry.resource == Some(true) || entry.organizer == Some(true) || entry.email.is_none()
}

/// The attendee list to send for an event whose entries are now `current` (as Google last
/// gave them) when the CRM wants the addresses `wanted` (normalised):
///
/// - an entry whose address is wanted is sent back exactly as Google had it, in Google's
///   order (a second entry for the same address is dropped: an address is one guest);
/// - resources and the organiser's entry are kept even when not wanted (see
///   `kept_regardless` in the source); any other entry not wanted is dropped;
/// - a wanted address Google lacks is added as `{email}` with the CRM's display name from
///   `names` when it has one, after the kept entries, in address order.
///
/// For an insert `current` is empty. Pure and idempotent: merging the result again with
/// the same `wanted` gives the result.
pub fn merge_attendees(
    current: &[EventAttendee],
    wanted: &BTreeSet<String>,
    names: &BTreeMap<String, String>,
) -> Vec<EventAttendee> {
    let mut seen = BTreeSet::new();
    let mut out: Vec<EventAttendee> = current
        .iter()
        .filter(|entry| {
            let Some(address) = entry.email.as_deref().map(normalise_address) else {
                return kept_regardless(entry);
            };
            (wanted.contains(&address) || kept_regardless(entry)) && seen.insert(address)
        })
        .cloned()
        .collect();
    out.extend(
        wanted
            .iter()
            .filter(|address| !seen.contains(*address))
            .map(|address| EventAttendee {
                email: Some(address.clone()),
                display_name: names.get(address).cloned(),
                ..EventAttendee::default()
            }),
    );
    out
}
