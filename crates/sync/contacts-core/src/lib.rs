//! Threadline's one-way export of CRM contacts into Google Contacts (People API v1): pure
//! decision logic.
//!
//! No database, no network, no clock, no async. The caller (the Google Contacts
//! integration's job, hourly and on demand, per user connection) ensures our contact group,
//! reads the CRM changes and the link table, lists the user's persons (with a sync token,
//! or in full), calls [`plan::plan`], and executes the [`plan::Plan`] it gets back; when a
//! write fails it asks [`decide`]. Everything here is a function of its input, so every
//! rule is tested as a table.
//!
//! - [`person`]: serde types for the parts of the People API `Person` we write and read.
//! - [`contact`]: the CRM contact and company, as the integration fills them.
//! - [`owned`]: the fields Threadline owns, the mapping, the versioned content hash.
//! - [`link`]: the link table row and its states.
//! - [`decide`]: what a failed write means (stale etag, 404, lost create).
//! - [`plan`]: a run → batched creates, updates, deletes, group adds; the guards.
//!
//! # Decisions, and why
//!
//! **One way, CRM → Google, owned fields only.** Threadline owns `names`,
//! `emailAddresses`, `phoneNumbers`, `organizations`, `addresses`, `urls`, `biographies`
//! and `clientData` ([`owned`] has the mapping and why each choice). Every update names
//! exactly these in `updatePersonFields`, so Google keeps photos, birthdays, `userDefined`
//! and anything else the user adds; no whole-resource read-modify-write is ever done, so
//! unknown fields need not be kept on reading. **Changes made in Google are ignored** (the
//! issue's rule: the CRM is the source): an edit the user makes to an owned field in
//! Google stays until the contact next changes in the CRM, whose export then writes our
//! fields again (outcome `EditedInGoogle` in the history meanwhile). Memberships are not
//! in the mask (replacing them would drop the user's labels): our group and `myContacts`
//! go in the create body and are re-added with `members:modify` when a listing shows the
//! person outside them.
//!
//! **Identity.** Every person carries `clientData` `threadline.contact_id` and
//! `threadline.organisation`; the link stores `resourceName` + etag. A person of our
//! organisation with no link is *adopted* (linked; updated if it differs), never
//! duplicated: after a lost create answer, after the export is turned on again, after the
//! link table was lost. A second person with the same id is deleted as a duplicate. A
//! person of ours whose contact is gone from the CRM is deleted. A person carrying another
//! organisation's ids is not ours: never adopted, never deleted. A new `resourceName`
//! (`previousResourceNames`, when Google links the contact to a profile) moves the link.
//!
//! **Changes come from hashes, not clocks.** The link keeps the owned-field hash Google was
//! last given; a CRM contact whose hash equals it needs nothing, whatever changed in the
//! CRM elsewhere. A listed person whose etag is the one our write answered is our own echo;
//! a new etag with the same owned hash (the user changed a photo) only refreshes the link.
//! The hash is versioned ([`owned::HASH_VERSION`]): changing the mapping re-exports all.
//! **An hourly run with nothing changed plans nothing** (no mutation, no link write).
//!
//! **Deleted in Google.** A person the user deletes (a tombstone in the sync-token
//! listing, a 404, absence from a complete listing) is remembered in the link
//! ([`link::LinkState::DeletedInGoogle`]) and created again **only when the contact next
//! changes in the CRM** (outcome `Recreated`): the user's delete is respected until there
//! is something new to show. A mapping-version change is not a CRM change.
//!
//! **Deletes** are only of persons we created: linked ones (a link exists only for a
//! person created or adopted by its `clientData`) and unlinked ones carrying our ids. A
//! linked person that no longer carries our ids is not deleted; its link goes.
//!
//! **Lost creates.** The executor writes a pending link before `batchCreateContacts`. A
//! pending link found later means the answer was lost: the person is adopted if a listing
//! shows it, created again only when a *complete* listing shows it is not there (the
//! planner asks for one with [`plan::Plan::needs_full_listing`]).
//!
//! **Guards** ([`plan::Guards`]), as calendar-core's: a plan deleting more than half of the
//! exported persons, once it deletes at least 5, is refused ([`plan::Refusal`]); so is a
//! complete CRM list that is empty, or a complete Google listing with none of our persons,
//! while persons are exported (a bug or a wrong account, not a decision). The caller writes
//! nothing and marks the connection for review; "apply anyway" sets `allow_*`. 5 rather
//! than calendar's 3: contacts are many, and cleaning three test contacts out of five in
//! the first week is ordinary; the ratio is what catches a wipe.
//!
//! **Batches and order** ([`plan::Plan`]): creates and updates in chunks of 200, deletes
//! of 500, group adds of 1000 (Google's limits), sent sequentially (the People API asks for
//! sequential mutates per user); then the link-only writes; then the cursors.
//!
//! **Not here** (the caller's): HTTP, retries and backoff, the stale-etag loop, leases,
//! creating the group (on 409 list and adopt by name), choosing which contacts are
//! exported, and reading the People sync token (expired after 7 days: list in full).

pub mod contact;
pub mod decide;
pub mod link;
pub mod owned;
pub mod person;
pub mod plan;

pub use contact::{CrmCompany, CrmContact};
pub use link::{Link, LinkState};
pub use owned::{ContentHash, Owned};
pub use person::Person;
pub use plan::{plan, Guards, Listing, Outcome, Plan, PlanError, PlanInput};
