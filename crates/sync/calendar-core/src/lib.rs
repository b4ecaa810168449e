//! Threadline's two-way sync core for Google Calendar: pure decision logic.
//!
//! No database, no network, no clock, no async. The caller (the server's sync job) reads
//! the link table, the CRM meetings and the Calendar listings, calls [`plan::plan`], and
//! executes the [`plan::Plan`] it gets back. Everything here is a function of its input, so
//! every rule is tested as a table.
//!
//! - [`event`]: serde types for the parts of the Calendar Event resource we read and write.
//! - [`owned`]: the fields Threadline owns, mapping both ways, the normalised content hash,
//!   the three-way merge.
//! - [`attendees`]: the attendee list a write sends: the CRM's addresses, Google's entries
//!   (guests' answers, the organiser's entry, resources) kept as Google had them.
//! - [`ids`]: client-generated event ids, the `extendedProperties.private` key, block ids.
//! - [`link`]: the link table row, busy blocks, conversion of a block into a meeting.
//! - [`decide`]: per-item decisions from (CRM side, remote side, link); what a 409 means.
//! - [`plan`]: a whole run → ordered actions, and the mass-change guards.
//! - [`recurrence`]: a series' occurrences in a window (RRULE/EXDATE/RDATE in the series'
//!   zone, with the `rrule` crate), exceptions applied: what the planning shows.
//!
//! # Decisions, and why
//!
//! **Identity.** An exported event's id is derived from the meeting id
//! ([`ids::event_id_for`]) and the meeting id is also in `extendedProperties.private`
//! ([`ids::CRM_ID_PROPERTY`]). Insert is then idempotent (409 `duplicate` → GET → adopt,
//! [`decide::on_insert_conflict`]), and a first sync or a 410 re-list finds our events
//! without the link table: an event carrying a meeting id and no link is *adopted* (linked;
//! updated if the CRM differs), never duplicated. A meeting id the CRM does not know
//! (another installation's) makes the event an ordinary one.
//!
//! **Decisions come from (CRM side, remote side, link), never from clocks.** A side is
//! "changed" when its owned-field hash differs from the link's; an etag equal to the one
//! our own write answered is an echo and is skipped; a new etag with the same hash only
//! refreshes the link. Both sides changed → three-way merge against the link's snapshot,
//! field by field ([`owned::merge`]): different fields merge; the same field changed to
//! different values takes the **CRM's value for exported meetings** (the CRM created them
//! and is where they are managed) and **Google's for converted blocks**, writable or not
//! (the event was born in Google and its guests were shown Google's version). Attendees
//! merge as a set. **An edit beats a delete** on both sides: a
//! Google delete of a meeting edited in the CRM re-creates the event (reviving the
//! cancelled id, since Google never frees one); a CRM delete of a meeting edited in Google
//! restores the meeting.
//!
//! **Attendees: the CRM owns the addresses, Google owns the entries.** Google's PATCH
//! replaces the whole `attendees` array, so a list rebuilt from addresses would wipe every
//! guest's answer (`responseStatus`, `comment`, `additionalGuests`, `optional`) and the
//! organiser's entry. A changed list is therefore merged into the event's current entries
//! ([`attendees::merge_attendees`]): kept guests go back as Google had them, new ones are
//! bare, removed ones go, and resources and the organiser's entry stay even when the CRM
//! lacks them. When the plan has the event (listed in this run) it merges; when it does
//! not (a CRM-only edit), the executor reads the event first and merges, or plans the item
//! again if it changed since the plan's `If-Match` ([`decide::patch_with_attendees`]):
//! only such a PATCH costs that extra read.
//!
//! **Kinds of link** ([`link::LinkKind`]). *Exported*: a CRM meeting in the export
//! calendar, two-way. *Block*: an event of an imported calendar, shown as a grey busy
//! block, one-way. *Converted*: a block the user turned into a meeting; Google's edits and
//! deletes reach the meeting. CRM edits reach Google **only when the user organises the
//! event** ([`link::writable`]: `organizer.self`, and not a series master, whose one CRM
//! time would move every occurrence): then the meeting is two-way like an exported one
//! (`UpdateRemote` under `If-Match`, echoes skipped, three-way merge), except that a field
//! both sides changed keeps Google's value. Otherwise CRM edits stay in the CRM: the event
//! is someone else's invitation, and rewriting it would fail with
//! `forbiddenForNonOrganizer` or rewrite another person's event (`guestsCanModify` is not
//! enough, for that reason). The link remembers the answer ([`Link::writable`]), since a
//! CRM edit is planned while Google is unchanged, with no event to look at; every listing
//! of the event under a new etag refreshes it (an organiser can change), and a block's
//! link keeps it so that converting the block knows it. `organizer.self` says the event
//! belongs to the calendar it was read from, so in a calendar shared with the user it
//! means the calendar's owner organises it: a write Google then refuses (403) is counted by
//! the executor, which clears the flag until Google next changes the event. **Deleting a
//! converted meeting in the CRM never deletes the event**, writable or not; it becomes a
//! block again: the event is the guests' meeting too, a CRM delete is often tidying rather
//! than cancelling, and a wrong cancellation notifies every guest and cannot be undone,
//! while cancelling on purpose is one click in Google. If Google deletes the event after
//! the CRM edited the meeting, the meeting stays and is exported.
//!
//! **Colleagues' invitations.** When two Threadline users attend one CRM meeting, each
//! exports it; Google puts the organiser's event into the other's calendar as an
//! invitation copy with the *same event id* (so it looks like ours) but organised
//! elsewhere and without our private property ([`event::Event::is_invitation`]). Such an
//! event is linked as a *converted* meeting, not writable (never an exported one): Google's
//! edits, the organiser's, reach the meeting; the CRM's go out through the organiser's
//! export; nothing rewrites, revives or deletes another person's event
//! ([`decide::InsertConflict::Invitation`]).
//!
//! **Recurring events: Option A** (`singleEvents=false`): masters and exceptions. Option B
//! expands every instance, and with a sync token no time window is allowed, so an endless
//! series would list an unbounded number of instances and a change to the master would
//! touch every one of them. With A a series is **one block** with its RRULE lines; every
//! exception is its own block keyed by its event id with `recurringEventId` and
//! `originalStartTime` (a moved instance with its fields, a cancelled one as a tombstone,
//! kept for the master's lifetime as the API asks). The CRM expands for display. A master
//! deleted (an id-only stub) removes its exceptions' blocks too. A **converted instance**
//! (one occurrence made a meeting: an exception's block, or any occurrence of a series
//! block, read from Google by its id, [`link::Link::converted_instance`]) is linked by its
//! instance id (`<master>_<start>`, [`ids::instance_id`], the id Google keeps when the
//! instance becomes an exception), with the master as `series_id`; the series' block
//! stays. Its own changes arrive as an exception; a change of the master asks for a
//! `Refetch` of the instance, and so does a complete listing, which names only the master
//! of an instance the series has not changed (its absence there is no delete); a deleted
//! master or a cancelled instance deletes it (unless edited in the CRM), and a cancelled
//! instance then gets its cancelled block, as a first import would make it.
//!
//! **Selection.** Deselecting a calendar removes its blocks and their links; converted
//! meetings stay, *and keep their link* (dormant while unselected), so re-selecting (a full
//! listing) reconciles them instead of making a block or a second meeting. Block ids are
//! derived from (connection, calendar, event), so re-importing upserts the same rows.
//! Our own exported events are never shown as blocks, even if the export calendar is also
//! imported.
//!
//! **Listings.** Incremental (sync token): unlisted means unchanged, deletes are listed.
//! Full (first sync, after 410, re-select): adopts by meeting id; an unlisted link means a
//! delete **only if the listing completed**; an incomplete one infers nothing.
//!
//! **Guards** ([`plan::Guards`]). A plan deleting more than half of the linked items on
//! either side (once it deletes at least 3), or a complete listing that is empty while
//! links exist, is refused with reasons ([`plan::Refusal`]); the caller writes nothing and
//! marks the connection for review. Both can be overridden explicitly.
//!
//! **Order** (see [`plan::Plan`]): remote writes first, each with its link; then one
//! transaction with the CRM writes, the link writes and, last, the cursor. Every step is
//! safe to repeat, so a crash between any two steps and a rerun converge.
//!
//! **Not here** (the caller's): HTTP, retries and backoff, the 412 loop bound, leases,
//! choosing which meetings are "the user's", and a change of the export calendar (events
//! in the old one are left as they are).

pub mod attendees;
pub mod decide;
pub mod event;
pub mod ids;
pub mod link;
pub mod owned;
pub mod plan;
pub mod recurrence;

pub use decide::{Action, CrmSide, RemoteSide};
pub use event::Event;
pub use link::{Block, Link, LinkKind};
pub use owned::{ContentHash, Owned, When};
pub use plan::{plan, CalendarRun, CrmMeeting, Guards, Listing, Plan, PlanError, PlanInput};
