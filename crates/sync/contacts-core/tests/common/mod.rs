//! An in-memory Google Contacts and CRM, and an executor that applies plans the way the
//! integration will: chunk by chunk, each item's link written after its answer.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use threadline_contacts_core::decide::{self, Failure, UpdateRecovery};
use threadline_contacts_core::owned::{contact_id_of, Owned};
use threadline_contacts_core::person::{Membership, Person, PersonMetadata, MY_CONTACTS};
use threadline_contacts_core::plan::{
    LinkWrite, CREATE_CHUNK, DELETE_CHUNK, MEMBERS_CHUNK, UPDATE_CHUNK,
};
use threadline_contacts_core::{
    plan, CrmContact, Guards, Link, Listing, Plan, PlanError, PlanInput,
};
use uuid::Uuid;

pub const ORG: Uuid = Uuid::from_u128(0x0a);
pub const GROUP: &str = "contactGroups/threadline";

#[derive(Default)]
pub struct Google {
    pub people: BTreeMap<String, Person>,
    pub next: u64,
    /// Changed or deleted since the last listing (what a sync token would list).
    pub changed: BTreeSet<String>,
    pub tombstones: BTreeSet<String>,
    pub mutations: usize,
}

impl Google {
    fn etag(&mut self) -> String {
        self.next += 1;
        format!("e{}", self.next)
    }

    pub fn create(&mut self, body: &Person) -> Person {
        self.mutations += 1;
        self.next += 1;
        let name = format!("people/c{}", self.next);
        let mut p = body.clone();
        p.resource_name = Some(name.clone());
        p.etag = Some(self.etag());
        self.people.insert(name.clone(), p.clone());
        self.changed.insert(name);
        p
    }

    pub fn update(&mut self, body: &Person) -> Result<Person, Failure> {
        self.mutations += 1;
        let name = body.resource_name.clone().unwrap();
        let etag = self.etag();
        let Some(p) = self.people.get_mut(&name) else {
            return Err(Failure::NotFound);
        };
        if body.etag != p.etag {
            return Err(Failure::StaleEtag);
        }
        // updatePersonFields = the owned fields: replaced; the rest kept.
        let memberships = std::mem::take(&mut p.memberships);
        *p = Person {
            resource_name: Some(name.clone()),
            etag: Some(etag),
            memberships,
            ..body.clone()
        };
        let out = p.clone();
        self.changed.insert(name);
        Ok(out)
    }

    pub fn delete(&mut self, name: &str) {
        self.mutations += 1;
        if self.people.remove(name).is_some() {
            self.tombstones.insert(name.to_string());
            self.changed.remove(name);
        }
    }

    pub fn add_member(&mut self, group: &str, name: &str) {
        self.mutations += 1;
        let etag = self.etag();
        if let Some(p) = self.people.get_mut(name) {
            if !p.in_group(group) {
                p.memberships.push(Membership::of(group));
                p.etag = Some(etag);
                self.changed.insert(name.to_string());
            }
        }
    }

    /// The user edits a person in Google.
    pub fn user_edit(&mut self, name: &str, f: impl FnOnce(&mut Person)) {
        let etag = self.etag();
        if let Some(p) = self.people.get_mut(name) {
            f(p);
            p.etag = Some(etag);
            self.changed.insert(name.to_string());
        }
    }

    pub fn user_delete(&mut self, name: &str) {
        if self.people.remove(name).is_some() {
            self.tombstones.insert(name.to_string());
            self.changed.remove(name);
        }
    }

    /// A user's own contact (no clientData).
    pub fn user_create(&mut self, given: &str) -> String {
        let p = Person {
            names: vec![threadline_contacts_core::person::Name {
                given_name: Some(given.into()),
                family_name: None,
            }],
            memberships: vec![Membership::of(MY_CONTACTS)],
            ..Person::default()
        };
        let name = self.create(&p).resource_name.unwrap();
        self.mutations -= 1;
        name
    }

    pub fn list(&mut self, full: bool) -> Vec<Person> {
        let mut out: Vec<Person> = if full {
            self.people.values().cloned().collect()
        } else {
            self.changed
                .iter()
                .filter_map(|n| self.people.get(n).cloned())
                .chain(self.tombstones.iter().map(|n| Person {
                    resource_name: Some(n.clone()),
                    metadata: Some(PersonMetadata {
                        deleted: Some(true),
                        ..PersonMetadata::default()
                    }),
                    ..Person::default()
                }))
                .collect()
        };
        out.sort_by(|a, b| a.resource_name.cmp(&b.resource_name));
        self.changed.clear();
        self.tombstones.clear();
        out
    }

    pub fn ours(&self, contact: Uuid) -> Vec<&Person> {
        self.people
            .values()
            .filter(|p| contact_id_of(p, ORG) == Some(contact))
            .collect()
    }
}

pub struct World {
    pub google: Google,
    pub crm: BTreeMap<Uuid, CrmContact>,
    pub crm_changed: BTreeSet<Uuid>,
    pub crm_deleted: BTreeSet<Uuid>,
    pub links: BTreeMap<Uuid, Link>,
    pub guards: Guards,
    pub runs: usize,
    pub plans: Vec<Plan>,
}

pub fn contact(n: u128, first: &str) -> CrmContact {
    CrmContact {
        id: Uuid::from_u128(n),
        first_name: first.into(),
        last_name: "Test".into(),
        emails: vec![format!("{}@acme.com", first.to_lowercase())],
        ..CrmContact::default()
    }
}

impl World {
    pub fn new() -> World {
        World {
            google: Google::default(),
            crm: BTreeMap::new(),
            crm_changed: BTreeSet::new(),
            crm_deleted: BTreeSet::new(),
            links: BTreeMap::new(),
            guards: Guards::default(),
            runs: 0,
            plans: Vec::new(),
        }
    }

    pub fn crm_put(&mut self, c: CrmContact) -> Uuid {
        let id = c.id;
        self.crm.insert(id, c);
        self.crm_changed.insert(id);
        id
    }

    pub fn crm_delete(&mut self, id: Uuid) {
        self.crm.remove(&id);
        self.crm_changed.remove(&id);
        self.crm_deleted.insert(id);
    }

    pub fn name_of(&self, id: Uuid) -> String {
        self.links[&id].resource_name.clone().unwrap()
    }

    /// The input of a run: the first run lists Google in full and sends every contact.
    pub fn input(&mut self, full: bool) -> PlanInput {
        let people = self.google.list(full);
        let contacts = if full {
            self.crm.values().cloned().collect()
        } else {
            self.crm_changed
                .iter()
                .filter_map(|id| self.crm.get(id).cloned())
                .collect()
        };
        PlanInput {
            organisation_id: ORG,
            group: GROUP.into(),
            contacts,
            deleted: self.crm_deleted.iter().copied().collect(),
            crm_complete: full,
            listing: if full {
                Listing::Full { complete: true }
            } else {
                Listing::Incremental
            },
            people,
            links: self.links.values().cloned().collect(),
            guards: self.guards,
        }
    }

    /// Plans with the CRM loads the planner asks for.
    pub fn plan_input(&self, input: &mut PlanInput) -> Result<Plan, PlanError> {
        loop {
            match plan(input) {
                Err(PlanError::CrmNotLoaded(ids)) => {
                    for id in ids {
                        match self.crm.get(&id) {
                            Some(c) => input.contacts.push(c.clone()),
                            None => input.deleted.push(id),
                        }
                    }
                }
                other => return other,
            }
        }
    }

    /// One run: plan, apply, save the cursors.
    pub fn sync(&mut self) -> Result<Plan, PlanError> {
        let full = self.runs == 0;
        let mut input = self.input(full);
        let plan = self.plan_input(&mut input)?;
        self.apply(&plan);
        self.runs += 1;
        self.crm_changed.clear();
        self.crm_deleted.clear();
        self.plans.push(plan.clone());
        Ok(plan)
    }

    pub fn apply(&mut self, plan: &Plan) {
        for chunk in &plan.creates {
            assert!(!chunk.is_empty() && chunk.len() <= CREATE_CHUNK);
            for c in chunk {
                self.links.insert(c.contact_id, c.pending_link());
                let p = self.google.create(&c.body);
                self.links.insert(
                    c.contact_id,
                    c.link(p.resource_name.as_deref().unwrap(), p.etag),
                );
            }
        }
        for chunk in &plan.updates {
            assert!(!chunk.is_empty() && chunk.len() <= UPDATE_CHUNK);
            for u in chunk {
                let mut u = u.clone();
                let mut attempt = 0;
                loop {
                    let failure = match self.google.update(&u.body) {
                        Ok(p) => {
                            self.links.insert(u.contact_id, u.link(p.etag));
                            break;
                        }
                        Err(f) => f,
                    };
                    match decide::on_update_failure(&u, &failure, attempt, GROUP) {
                        UpdateRecovery::Reread => {
                            attempt += 1;
                            let fresh = self.google.people.get(&u.resource_name).cloned();
                            let fresh = fresh.unwrap_or_else(|| Person {
                                resource_name: Some(u.resource_name.clone()),
                                metadata: Some(PersonMetadata {
                                    deleted: Some(true),
                                    ..PersonMetadata::default()
                                }),
                                ..Person::default()
                            });
                            match decide::after_reread(&u, &fresh, GROUP) {
                                decide::AfterReread::Retry(next) => u = *next,
                                decide::AfterReread::Done(link) => {
                                    self.links.insert(u.contact_id, link);
                                    break;
                                }
                                decide::AfterReread::Gone(r) => {
                                    self.recover(r);
                                    break;
                                }
                            }
                        }
                        other => {
                            self.recover(other);
                            break;
                        }
                    }
                }
            }
        }
        for chunk in &plan.deletes {
            assert!(!chunk.is_empty() && chunk.len() <= DELETE_CHUNK);
            for d in chunk {
                self.google.delete(&d.resource_name);
                if d.drop_link {
                    self.links.remove(&d.contact_id);
                }
            }
        }
        for add in &plan.group_adds {
            assert!(!add.resource_names.is_empty() && add.resource_names.len() <= MEMBERS_CHUNK);
            for name in &add.resource_names {
                self.google.add_member(&add.group, name);
            }
        }
        for w in &plan.link_writes {
            match w {
                LinkWrite::Put(l) => {
                    self.links.insert(l.contact_id, l.clone());
                }
                LinkWrite::Remove(id) => {
                    self.links.remove(id);
                }
            }
        }
    }

    fn recover(&mut self, r: UpdateRecovery) {
        match r {
            UpdateRecovery::Recreate(c) => {
                let p = self.google.create(&c.body);
                self.links.insert(
                    c.contact_id,
                    c.link(p.resource_name.as_deref().unwrap(), p.etag),
                );
            }
            UpdateRecovery::MarkDeleted(l) => {
                self.links.insert(l.contact_id, l);
            }
            other => panic!("unexpected recovery {other:?}"),
        }
    }

    /// Every live CRM contact has exactly one person of ours, saying what the CRM says (or
    /// what the user made of it in Google since we last wrote it), in our group and
    /// myContacts, unless the user deleted it in Google and it has not
    /// changed since; no person of ours for a contact the CRM no longer has.
    pub fn assert_consistent(&self) {
        for (id, c) in &self.crm {
            let ours = self.google.ours(*id);
            let link = &self.links[id];
            if link.state == threadline_contacts_core::LinkState::DeletedInGoogle {
                assert!(ours.is_empty(), "{id}: deleted in Google, yet {ours:?}");
                continue;
            }
            assert_eq!(ours.len(), 1, "{id}: {ours:#?}");
            let p = ours[0];
            assert_eq!(link.resource_name, p.resource_name);
            // What the CRM says, or an edit the user made in Google after our last write of
            // what the CRM says now (ignored until the contact changes in the CRM).
            let desired = Owned::from_contact(c, ORG);
            if link.hash != desired.hash() {
                assert_eq!(Owned::from_person(p), Some(desired));
            }
            assert!(p.in_group(GROUP) && p.in_group(MY_CONTACTS));
        }
        for p in self.google.people.values() {
            if let Some(id) = contact_id_of(p, ORG) {
                assert!(self.crm.contains_key(&id), "orphan {p:?}");
            }
        }
        for id in self.links.keys() {
            assert!(self.crm.contains_key(id), "link of a deleted contact {id}");
        }
    }
}
