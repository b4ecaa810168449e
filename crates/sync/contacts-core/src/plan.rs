//! The planner: one run's CRM changes, the persons read from Google and the link table →
//! batched writes, or a refusal by a guard.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::contact::CrmContact;
use crate::link::{Link, LinkState};
use crate::owned::{contact_id_of, ContentHash, Owned};
use crate::person::{Person, MY_CONTACTS};

/// `people:batchCreateContacts` takes at most this many contacts.
pub const CREATE_CHUNK: usize = 200;
/// `people:batchUpdateContacts` takes at most this many contacts.
pub const UPDATE_CHUNK: usize = 200;
/// `people:batchDeleteContacts` takes at most this many resource names.
pub const DELETE_CHUNK: usize = 500;
/// `contactGroups/{id}/members:modify` takes at most this many names (adds + removes).
pub const MEMBERS_CHUNK: usize = 1000;

/// How Google was read in this run (`people.connections.list`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Listing {
    /// Not read: CRM changes are pushed blind, under the links' etags.
    #[default]
    NotRead,
    /// With a sync token: what is not listed did not change; deletes are listed with
    /// `metadata.deleted`.
    Incremental,
    /// Without a token (first run, export turned on again, expired token). `complete`:
    /// every page was read, so a linked person not listed no longer exists.
    Full { complete: bool },
}

/// The mass-change guards. Defaults: refuse a plan deleting more than half of the exported
/// persons once it deletes at least 5; refuse a complete CRM list that is empty, or a
/// complete Google listing without one of our persons, while persons are exported.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Guards {
    pub max_delete_ratio: f64,
    pub min_deletes: usize,
    /// Set by an explicit "apply anyway" from the user after a review.
    pub allow_mass_delete: bool,
    pub allow_empty: bool,
}

impl Default for Guards {
    fn default() -> Guards {
        Guards {
            max_delete_ratio: 0.5,
            min_deletes: 5,
            allow_mass_delete: false,
            allow_empty: false,
        }
    }
}

/// Everything one planning pass reads.
#[derive(Debug, Clone, Default)]
pub struct PlanInput {
    /// The organisation whose contacts are exported (written to and read from `clientData`).
    pub organisation_id: Uuid,
    /// Our contact group's resourceName (`contactGroups/…`), ensured before planning.
    pub group: String,
    /// CRM contacts changed since the CRM cursor (or all of them, with `crm_complete`),
    /// plus every contact [`PlanInput::contacts_to_load`] asks for.
    pub contacts: Vec<CrmContact>,
    /// CRM contacts deleted since the cursor, or not found when loaded.
    pub deleted: Vec<Uuid>,
    /// `contacts` is every contact the export covers: a linked one not in it is gone.
    pub crm_complete: bool,
    pub listing: Listing,
    /// The persons read in this run (with [`crate::owned::READ_PERSON_FIELDS`]).
    pub people: Vec<Person>,
    /// The connection's link table.
    pub links: Vec<Link>,
    pub guards: Guards,
}

/// What happened to a contact, for the run's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Created,
    /// Deleted in Google earlier, changed in the CRM since: created again.
    Recreated,
    Updated,
    /// Edited in Google, unchanged in the CRM: left as the user made it (the CRM is the
    /// source, but a change in Google is not undone until the contact changes in the CRM;
    /// then its owned fields are written again).
    EditedInGoogle,
    /// A person of ours found without a link (lost answer, export turned on again): linked,
    /// and updated if it differs.
    Adopted,
    /// The CRM contact was deleted: its person deleted.
    Deleted,
    /// A person of ours whose contact no longer exists in the CRM, found unlinked.
    OrphanDeleted,
    /// A second person carrying the same contact id (a create repeated after a lost
    /// answer): deleted, the linked one kept.
    DuplicateDeleted,
    /// Deleted by the user in Google: noted; created again when the contact next changes.
    DeletedInGoogle,
    /// Google gave the person a new resourceName (`previousResourceNames`), or it came back
    /// (restored from Google's bin): the link follows it.
    Relinked,
}

/// A person to create. The executor stores [`Create::pending_link`] before sending the
/// batch, and [`Create::link`] with the answered name and etag after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Create {
    pub contact_id: Uuid,
    pub owned: Owned,
    /// The `contactPerson`: the owned fields, our group and `myContacts`.
    pub body: Person,
    pub hash: ContentHash,
    pub outcome: Outcome,
}

impl Create {
    pub fn pending_link(&self) -> Link {
        Link {
            contact_id: self.contact_id,
            resource_name: None,
            etag: None,
            hash: self.hash.clone(),
            state: LinkState::Pending,
        }
    }

    pub fn link(&self, resource_name: &str, etag: Option<String>) -> Link {
        Link::exported(self.contact_id, resource_name, etag, self.hash.clone())
    }
}

/// A person to update: `body` under `resourceName`, conditional on `etag`, with the mask
/// [`crate::owned::UPDATE_PERSON_FIELDS`]. On success store [`Update::link`] with the
/// answered etag; a failure is decided by [`crate::decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    pub contact_id: Uuid,
    pub resource_name: String,
    pub etag: Option<String>,
    pub owned: Owned,
    pub body: Person,
    pub hash: ContentHash,
    pub outcome: Outcome,
    /// The CRM contact changed since Google was last given it (not only Google's side, or
    /// the mapping's version). Decides what a 404 means: recreate only if changed.
    pub crm_changed: bool,
}

impl Update {
    pub fn link(&self, etag: Option<String>) -> Link {
        Link::exported(
            self.contact_id,
            self.resource_name.as_str(),
            etag,
            self.hash.clone(),
        )
    }
}

/// A person to delete (`batchDeleteContacts`; a 404 is success). Always one carrying our
/// `clientData` or linked to one of our contacts: never a person the user made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    pub contact_id: Uuid,
    pub resource_name: String,
    pub outcome: Outcome,
    /// Remove the contact's link after the delete (false for a duplicate: the link is the
    /// kept person's).
    pub drop_link: bool,
}

/// Names to add to a group with `members:modify` (adds only: no other label is touched).
/// Google answers names it does not know in `notFoundResourceNames`: deleted meanwhile,
/// which the next listing reports; nothing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupAdd {
    pub group: String,
    pub resource_names: Vec<String>,
}

/// A link write with no Google write before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkWrite {
    Put(Link),
    Remove(Uuid),
}

/// Why a contact was left as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// No name, address or phone: nothing a person in Contacts would show.
    Blank,
    /// A create's answer was lost and no complete listing has shown whether the person
    /// exists: creating again could duplicate it. See [`Plan::needs_full_listing`].
    AwaitingFullListing,
    /// The linked person no longer carries our `clientData`: it is not deleted; the link
    /// is dropped.
    NotOurs,
}

impl SkipReason {
    /// Every reason, in the order counts by reason are kept.
    pub const ALL: [SkipReason; 3] = [
        SkipReason::Blank,
        SkipReason::AwaitingFullListing,
        SkipReason::NotOurs,
    ];

    /// Its name in a run's history.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Blank => "blank",
            SkipReason::AwaitingFullListing => "awaiting_full_listing",
            SkipReason::NotOurs => "not_ours",
        }
    }

    /// Its place in [`SkipReason::ALL`].
    pub fn index(self) -> usize {
        match self {
            SkipReason::Blank => 0,
            SkipReason::AwaitingFullListing => 1,
            SkipReason::NotOurs => 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub contact_id: Uuid,
    pub reason: SkipReason,
}

/// The plan. Mutations for one user are sent sequentially (the People API asks for it), in
/// this order: `creates`, `updates`, `deletes` (each chunk one batch call, each item's link
/// written after its answer), `group_adds`, then `link_writes` in one transaction, then the
/// cursors (the People sync token, the CRM changes cursor). Every step is safe to repeat: a
/// lost create is adopted by its `clientData`, a stale update re-reads and retries, a
/// repeated delete answers 404 (success), an add of a member is a no-op. A crash leaves the
/// cursors where they were, so the next run reads the same changes and converges.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Chunks of at most [`CREATE_CHUNK`].
    pub creates: Vec<Vec<Create>>,
    /// Chunks of at most [`UPDATE_CHUNK`].
    pub updates: Vec<Vec<Update>>,
    /// Chunks of at most [`DELETE_CHUNK`].
    pub deletes: Vec<Vec<Delete>>,
    /// Per group, chunks of at most [`MEMBERS_CHUNK`] names.
    pub group_adds: Vec<GroupAdd>,
    pub link_writes: Vec<LinkWrite>,
    /// Outcomes of link writes (no mutation): adoptions of identical persons, deletes seen
    /// in Google, new resource names.
    pub noted: Vec<(Uuid, Outcome)>,
    /// Contacts looked at that need no write to Google.
    pub unchanged: usize,
    pub skipped: Vec<Skipped>,
    /// Some contact waits for a complete listing (see [`SkipReason::AwaitingFullListing`]):
    /// the next run should list without a sync token.
    pub needs_full_listing: bool,
}

impl Plan {
    /// No mutation and no link write.
    pub fn is_empty(&self) -> bool {
        self.creates.is_empty()
            && self.updates.is_empty()
            && self.deletes.is_empty()
            && self.group_adds.is_empty()
            && self.link_writes.is_empty()
    }

    /// Whether the plan sends anything to Google.
    pub fn mutates(&self) -> bool {
        !(self.creates.is_empty()
            && self.updates.is_empty()
            && self.deletes.is_empty()
            && self.group_adds.is_empty())
    }

    /// Every contact's outcome, for the run's history and counts.
    pub fn outcomes(&self) -> Vec<(Uuid, Outcome)> {
        let creates = self
            .creates
            .iter()
            .flatten()
            .map(|c| (c.contact_id, c.outcome));
        let updates = self
            .updates
            .iter()
            .flatten()
            .map(|u| (u.contact_id, u.outcome));
        let deletes = self
            .deletes
            .iter()
            .flatten()
            .map(|d| (d.contact_id, d.outcome));
        creates
            .chain(updates)
            .chain(deletes)
            .chain(self.noted.iter().copied())
            .collect()
    }

    /// How many contacts had `outcome`.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.outcomes()
            .iter()
            .filter(|(_, o)| *o == outcome)
            .count()
    }
}

/// Why a plan was refused. The caller writes nothing, marks the connection for review and
/// shows these; "apply anyway" plans again with the guard's `allow_*` set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Refusal {
    #[error("the run would delete {deletes} of {exported} exported contacts")]
    MassDelete { deletes: usize, exported: usize },
    #[error("the CRM listed no contact while {exported} are exported")]
    EmptyCrm { exported: usize },
    #[error("Google listed none of our contacts while {exported} are exported")]
    EmptyGoogle { exported: usize },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("refused: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Refused(Vec<Refusal>),
    /// Persons carry these contact ids (or pending links name them) and the input does not
    /// say what the CRM has: load them (into `contacts`, or `deleted` if not found) and
    /// plan again.
    #[error("crm contacts not loaded: {0:?}")]
    CrmNotLoaded(Vec<Uuid>),
}

/// The CRM side of one contact.
#[derive(Clone, Copy)]
enum Crm<'a> {
    Live(&'a CrmContact),
    Gone,
    /// Not in the input: unchanged since the cursor.
    Unknown,
}

/// The linked person as this run saw it.
enum Seen<'a> {
    Live(&'a Person),
    Gone,
    Unlisted,
}

/// The persons read, indexed.
struct Remote<'a> {
    /// Every listed person (live or tombstone) by each name it answers to.
    by_name: BTreeMap<&'a str, &'a Person>,
    /// Live persons carrying one of our contact ids, by that id, in resourceName order.
    ours: BTreeMap<Uuid, Vec<&'a Person>>,
}

fn index<'a>(input: &'a PlanInput) -> Remote<'a> {
    let mut by_name = BTreeMap::new();
    let mut ours: BTreeMap<Uuid, Vec<&Person>> = BTreeMap::new();
    for person in &input.people {
        let Some(name) = person.resource_name.as_deref() else {
            continue;
        };
        for previous in person.previous_resource_names() {
            by_name.entry(previous.as_str()).or_insert(person);
        }
        // A current name beats a previous one.
        by_name.insert(name, person);
        if person.is_deleted() {
            continue;
        }
        if let Some(id) = contact_id_of(person, input.organisation_id) {
            ours.entry(id).or_default().push(person);
        }
    }
    for list in ours.values_mut() {
        list.sort_by(|a, b| a.resource_name.cmp(&b.resource_name));
        list.dedup_by(|a, b| a.resource_name == b.resource_name);
    }
    Remote { by_name, ours }
}

impl PlanInput {
    fn crm(&self) -> BTreeMap<Uuid, Option<&CrmContact>> {
        let mut out: BTreeMap<Uuid, Option<&CrmContact>> =
            self.contacts.iter().map(|c| (c.id, Some(c))).collect();
        // A delete wins over a change in the same feed.
        out.extend(self.deleted.iter().map(|id| (*id, None)));
        out
    }

    fn crm_of<'a>(&self, crm: &BTreeMap<Uuid, Option<&'a CrmContact>>, id: Uuid) -> Crm<'a> {
        match crm.get(&id) {
            Some(Some(c)) => Crm::Live(c),
            Some(None) => Crm::Gone,
            None if self.crm_complete => Crm::Gone,
            None => Crm::Unknown,
        }
    }

    fn complete_listing(&self) -> bool {
        self.listing == Listing::Full { complete: true }
    }

    /// The linked person of `link` as this run saw it.
    fn seen<'a>(&self, remote: &Remote<'a>, link: &Link) -> Seen<'a> {
        let Some(name) = link.resource_name.as_deref() else {
            return Seen::Unlisted;
        };
        match remote.by_name.get(name) {
            Some(p) if p.is_deleted() => Seen::Gone,
            Some(p) => Seen::Live(p),
            None if self.complete_listing() => Seen::Gone,
            None => Seen::Unlisted,
        }
    }

    /// The contact ids the caller must load before planning: those that unlinked persons of
    /// ours carry, those of persons edited in Google (to tell an edit, which is ignored,
    /// from Google agreeing with the CRM or the CRM's own change), and those of pending
    /// links.
    pub fn contacts_to_load(&self) -> Vec<Uuid> {
        let remote = index(self);
        let crm = self.crm();
        let links: BTreeMap<Uuid, &Link> = self.links.iter().map(|l| (l.contact_id, l)).collect();
        let mut wanted = BTreeSet::new();
        for link in &self.links {
            match (link.state, self.seen(&remote, link)) {
                (LinkState::Pending, _) => {
                    wanted.insert(link.contact_id);
                }
                (_, Seen::Live(p)) if !quiet(link, p) => {
                    wanted.insert(link.contact_id);
                }
                _ => {}
            }
        }
        for (id, persons) in &remote.ours {
            let linked_here = links
                .get(id)
                .and_then(|l| l.resource_name.as_deref())
                .is_some_and(|n| persons.iter().all(|p| p.answers_to(n)));
            if !linked_here {
                wanted.insert(*id);
            }
        }
        wanted
            .into_iter()
            .filter(|id| matches!(self.crm_of(&crm, *id), Crm::Unknown))
            .collect()
    }
}

/// A listed linked person that says nothing new: our own write (its etag), or a change in
/// Google of fields we do not own (the same owned hash).
fn quiet(link: &Link, person: &Person) -> bool {
    (person.etag.is_some() && person.etag == link.etag)
        || Owned::from_person(person).is_some_and(|o| o.hash() == link.hash)
}

/// What one contact's decision adds to the plan, before chunking.
#[derive(Default)]
struct Out {
    creates: Vec<Create>,
    updates: Vec<Update>,
    deletes: Vec<Delete>,
    adds: BTreeMap<String, BTreeSet<String>>,
    link_writes: Vec<LinkWrite>,
    noted: Vec<(Uuid, Outcome)>,
    unchanged: usize,
    skipped: Vec<Skipped>,
    needs_full_listing: bool,
}

impl Out {
    fn create(&mut self, owned: Owned, group: &str, outcome: Outcome) {
        let hash = owned.hash();
        self.creates.push(Create {
            contact_id: owned.contact_id,
            body: owned.create_body(group),
            owned,
            hash,
            outcome,
        });
    }

    fn update(
        &mut self,
        owned: Owned,
        person: (&str, Option<String>),
        outcome: Outcome,
        crm_changed: bool,
    ) {
        let (resource_name, etag) = person;
        let hash = owned.hash();
        self.updates.push(Update {
            contact_id: owned.contact_id,
            resource_name: resource_name.to_string(),
            body: owned.update_body(resource_name, etag.as_deref()),
            etag,
            owned,
            hash,
            outcome,
            crm_changed,
        });
    }

    fn note(&mut self, link: Link, outcome: Option<Outcome>) {
        if let Some(outcome) = outcome {
            self.noted.push((link.contact_id, outcome));
        }
        self.link_writes.push(LinkWrite::Put(link));
    }

    /// Ensures a listed person is in our group and in `myContacts`.
    fn groups(&mut self, person: &Person, group: &str) {
        let Some(name) = &person.resource_name else {
            return;
        };
        for g in [group, MY_CONTACTS] {
            if !person.in_group(g) {
                self.adds
                    .entry(g.to_string())
                    .or_default()
                    .insert(name.clone());
            }
        }
    }
}

/// Plans one run. Pure: the same input gives the same plan.
pub fn plan(input: &PlanInput) -> Result<Plan, PlanError> {
    let missing = input.contacts_to_load();
    if !missing.is_empty() {
        return Err(PlanError::CrmNotLoaded(missing));
    }
    let remote = index(input);
    let crm = input.crm();
    let links: BTreeMap<Uuid, &Link> = input.links.iter().map(|l| (l.contact_id, l)).collect();
    // Names some link points at: never another contact's to adopt.
    let linked_names: BTreeSet<&str> = input
        .links
        .iter()
        .filter_map(|l| l.resource_name.as_deref())
        .collect();
    let ids: BTreeSet<Uuid> = links
        .keys()
        .chain(crm.keys())
        .chain(remote.ours.keys())
        .copied()
        .collect();
    let mut out = Out::default();
    for id in ids {
        let link = links.get(&id).copied();
        let seen = link.map_or(Seen::Unlisted, |l| input.seen(&remote, l));
        // Persons of ours for this contact other than the linked one, and not linked to
        // another contact: the first is adopted if needed; the rest are duplicates.
        let mut extras: Vec<&Person> = remote
            .ours
            .get(&id)
            .into_iter()
            .flatten()
            .copied()
            .filter(|p| !matches!(seen, Seen::Live(s) if s.resource_name == p.resource_name))
            .filter(|p| {
                !p.resource_name
                    .as_deref()
                    .is_some_and(|n| linked_names.contains(n))
                    && !p
                        .previous_resource_names()
                        .iter()
                        .any(|n| linked_names.contains(n.as_str()))
            })
            .collect();
        let crm_side = input.crm_of(&crm, id);
        // Adopt only when the contact has no person: no link, a pending or deleted one
        // not listed live, or an exported one seen gone. An exported link not seen in this
        // run still has its person, so any other of ours is a duplicate.
        let may_adopt = match link {
            None => true,
            Some(l) => match seen {
                Seen::Live(_) => l.state == LinkState::Pending,
                Seen::Gone => true,
                Seen::Unlisted => l.state != LinkState::Exported,
            },
        };
        let adopt = if may_adopt && !extras.is_empty() {
            Some(extras.remove(0))
        } else {
            None
        };
        let before = out.creates.len() + out.updates.len() + out.deletes.len();
        let gone = matches!(crm_side, Crm::Gone);
        for dup in extras {
            out.deletes.push(Delete {
                contact_id: id,
                resource_name: dup.resource_name.clone().unwrap_or_default(),
                outcome: if gone {
                    Outcome::OrphanDeleted
                } else {
                    Outcome::DuplicateDeleted
                },
                drop_link: false,
            });
        }
        decide(input, &mut out, id, link, seen, adopt, crm_side);
        let after = out.creates.len() + out.updates.len() + out.deletes.len();
        if after == before && !out.skipped.iter().any(|s| s.contact_id == id) {
            out.unchanged += 1;
        }
    }
    let refusals = guard(input, &remote, &out);
    if !refusals.is_empty() {
        return Err(PlanError::Refused(refusals));
    }
    Ok(Plan {
        creates: chunks(out.creates, CREATE_CHUNK),
        updates: chunks(out.updates, UPDATE_CHUNK),
        deletes: chunks(out.deletes, DELETE_CHUNK),
        group_adds: out
            .adds
            .into_iter()
            .flat_map(|(group, names)| {
                chunks(names.into_iter().collect(), MEMBERS_CHUNK)
                    .into_iter()
                    .map(move |resource_names| GroupAdd {
                        group: group.clone(),
                        resource_names,
                    })
            })
            .collect(),
        link_writes: out.link_writes,
        noted: out.noted,
        unchanged: out.unchanged,
        skipped: out.skipped,
        needs_full_listing: out.needs_full_listing,
    })
}

/// One contact: (link, what Google showed, a person to adopt, the CRM side) → writes.
fn decide(
    input: &PlanInput,
    out: &mut Out,
    id: Uuid,
    link: Option<&Link>,
    seen: Seen<'_>,
    adopt: Option<&Person>,
    crm: Crm<'_>,
) {
    let group = input.group.as_str();
    let desired = match crm {
        Crm::Live(c) => Some(Owned::from_contact(c, input.organisation_id)),
        Crm::Gone | Crm::Unknown => None,
    };
    if desired.as_ref().is_some_and(Owned::is_blank) {
        out.skipped.push(Skipped {
            contact_id: id,
            reason: SkipReason::Blank,
        });
        return;
    }
    // A link whose hash is of this mapping version and differs: the CRM changed.
    let crm_changed =
        |link: &Link, owned: &Owned| link.hash.is_current() && link.hash != owned.hash();

    // Adoption: a person of ours with no (usable) link.
    if let Some(person) = adopt {
        let name = person.resource_name.clone().unwrap_or_default();
        match desired {
            None => out.deletes.push(Delete {
                contact_id: id,
                resource_name: name,
                outcome: Outcome::OrphanDeleted,
                drop_link: link.is_some(),
            }),
            Some(owned) => {
                out.groups(person, group);
                let same = Owned::from_person(person).is_some_and(|o| o == owned);
                if same {
                    let hash = owned.hash();
                    out.note(
                        Link::exported(id, name, person.etag.clone(), hash),
                        Some(Outcome::Adopted),
                    );
                } else {
                    out.update(owned, (&name, person.etag.clone()), Outcome::Adopted, true);
                }
            }
        }
        return;
    }

    let Some(link) = link else {
        // Not linked, no person: a new contact (or one the CRM deleted before we saw it).
        if let Some(owned) = desired {
            out.create(owned, group, Outcome::Created);
        }
        return;
    };

    match link.state {
        LinkState::Pending => match desired {
            // The contact is gone, and no person of ours was found for it.
            None if input.complete_listing() => {
                out.link_writes.push(LinkWrite::Remove(id));
            }
            Some(owned) if input.complete_listing() => out.create(owned, group, Outcome::Created),
            _ => {
                out.needs_full_listing = true;
                out.skipped.push(Skipped {
                    contact_id: id,
                    reason: SkipReason::AwaitingFullListing,
                });
            }
        },
        LinkState::DeletedInGoogle => match (seen, desired) {
            (Seen::Live(person), desired) => {
                // Back from Google's bin under the same name: exported again.
                let back = Link {
                    state: LinkState::Exported,
                    resource_name: person.resource_name.clone(),
                    ..link.clone()
                };
                out.noted.push((id, Outcome::Relinked));
                exported(input, out, &back, Seen::Live(person), desired, crm, true);
            }
            (_, None) if matches!(crm, Crm::Gone) => {
                out.link_writes.push(LinkWrite::Remove(id));
            }
            (_, Some(owned)) if crm_changed(link, &owned) => {
                out.create(owned, group, Outcome::Recreated);
            }
            (_, Some(owned)) if owned.hash() != link.hash => {
                // Only the mapping's version changed: not a CRM change. Re-stamp the hash
                // so that the contact's next real change recreates it.
                out.link_writes.push(LinkWrite::Put(Link {
                    hash: owned.hash(),
                    ..link.clone()
                }));
            }
            _ => {}
        },
        LinkState::Exported => exported(input, out, link, seen, desired, crm, false),
    }
}

/// An exported link.
fn exported(
    input: &PlanInput,
    out: &mut Out,
    link: &Link,
    seen: Seen<'_>,
    desired: Option<Owned>,
    crm: Crm<'_>,
    relinked: bool,
) {
    let id = link.contact_id;
    let group = input.group.as_str();
    let crm_changed = desired
        .as_ref()
        .is_some_and(|o| link.hash.is_current() && link.hash != o.hash());
    // The link as Google names the person now (a new resourceName follows it).
    let mut current = link.clone();
    if let Seen::Live(person) = seen {
        if person.resource_name != link.resource_name {
            current.resource_name = person.resource_name.clone();
            if !relinked {
                out.noted.push((id, Outcome::Relinked));
            }
        }
    }
    let name = current.resource_name.clone().unwrap_or_default();
    let moved = current != *link;
    match (seen, desired) {
        (Seen::Gone, Some(owned)) if crm_changed => out.create(owned, group, Outcome::Recreated),
        (Seen::Gone, None) if matches!(crm, Crm::Gone) => {
            out.link_writes.push(LinkWrite::Remove(id));
        }
        (Seen::Gone, _) => out.note(link.deleted_in_google(), Some(Outcome::DeletedInGoogle)),
        (seen, None) if matches!(crm, Crm::Gone) => {
            if let Seen::Live(person) = seen {
                if Owned::from_person(person).is_none() {
                    out.skipped.push(Skipped {
                        contact_id: id,
                        reason: SkipReason::NotOurs,
                    });
                    out.link_writes.push(LinkWrite::Remove(id));
                    return;
                }
            }
            out.deletes.push(Delete {
                contact_id: id,
                resource_name: name,
                outcome: Outcome::Deleted,
                drop_link: true,
            });
        }
        (Seen::Live(person), desired) => {
            out.groups(person, group);
            let echo = person.etag.is_some() && person.etag == link.etag;
            let remote = Owned::from_person(person);
            let remote_hash = remote.as_ref().map(Owned::hash);
            match desired {
                // Unknown in the CRM (unchanged there) and quiet in Google (see
                // `contacts_to_load`): at most a new etag or name to remember.
                None => {
                    if !echo {
                        current.etag = person.etag.clone();
                    }
                    if current != *link || relinked {
                        out.link_writes.push(LinkWrite::Put(current));
                    }
                }
                Some(owned) => {
                    let hash = owned.hash();
                    if echo && hash == link.hash {
                        if moved || relinked {
                            out.link_writes.push(LinkWrite::Put(current));
                        }
                    } else if remote_hash.as_ref() == Some(&hash) {
                        // Google already says what the CRM says.
                        out.link_writes.push(LinkWrite::Put(Link {
                            etag: person.etag.clone(),
                            hash,
                            ..current
                        }));
                    } else if crm_changed || !link.hash.is_current() || echo {
                        out.update(
                            owned,
                            (&name, person.etag.clone()),
                            Outcome::Updated,
                            crm_changed,
                        );
                    } else {
                        // Edited in Google only: ignored. The link keeps the hash Google
                        // was last given (so the CRM's next change is written) and takes
                        // the new etag (so the edit is not seen again).
                        out.note(
                            Link {
                                etag: person.etag.clone(),
                                ..current
                            },
                            Some(Outcome::EditedInGoogle),
                        );
                    }
                }
            }
        }
        (_, Some(owned)) => {
            if owned.hash() != link.hash {
                out.update(
                    owned,
                    (&name, link.etag.clone()),
                    Outcome::Updated,
                    crm_changed,
                );
            } else if relinked || moved {
                out.link_writes.push(LinkWrite::Put(current));
            }
        }
        (_, None) => {
            if relinked || moved {
                out.link_writes.push(LinkWrite::Put(current));
            }
        }
    }
}

fn chunks<T>(items: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        out.push(items.by_ref().take(size).collect());
    }
    out
}

/// The mass-delete and empty-side guards.
fn guard(input: &PlanInput, remote: &Remote<'_>, out: &Out) -> Vec<Refusal> {
    let g = input.guards;
    let exported = input.links.iter().filter(|l| l.is_exported()).count();
    let mut refusals = Vec::new();
    let deletes = out.deletes.len();
    if !g.allow_mass_delete
        && deletes >= g.min_deletes
        && deletes as f64 > g.max_delete_ratio * exported as f64
    {
        refusals.push(Refusal::MassDelete { deletes, exported });
    }
    if !g.allow_empty && exported > 0 {
        if input.crm_complete && input.contacts.is_empty() {
            refusals.push(Refusal::EmptyCrm { exported });
        }
        if input.complete_listing() && remote.ours.is_empty() {
            refusals.push(Refusal::EmptyGoogle { exported });
        }
    }
    refusals
}
