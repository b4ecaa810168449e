//! One run of the export for a connection (the design's steps 1–8), and the scheduler's job
//! ([`ContactsJob`]).
//!
//! Preconditions (scope, export on) → our group → the CRM's side (all live contacts on an
//! adoption pass or a mapping change, else the changes feed) → Google's listing (sync token,
//! or in full; in full again when the plan asks, a create's answer having been lost) → load
//! what the plan needs → plan → sequential writes → link writes and the position, last. Our
//! group found deleted by a write: forgotten, and the run goes once more.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use threadline_connections::{self as connections, Status};
use threadline_contacts_core::decide::{self, AfterReread, Failure, UpdateRecovery};
use threadline_contacts_core::owned::{contact_id_of, HASH_VERSION, UPDATE_PERSON_FIELDS};
use threadline_contacts_core::plan::{Create, LinkWrite, SkipReason, Update};
use threadline_contacts_core::{
    plan, CrmCompany, CrmContact, Guards, Listing, Outcome, PlanError, PlanInput,
};
use threadline_crm::records::changes;
use threadline_crm::records::companies::Company;
use threadline_crm::records::contacts::Contact;
use threadline_crm::records::Kind;
use threadline_crm::records::Record;
use threadline_storage::db::{id_text, parse_uuid, BoxFuture, Conn};
use threadline_storage::Db;
use threadline_sync_engine::{
    with_token_replacement, AccessTokens, JobContext, JobError, Lease, SyncError, SyncJob,
};
use uuid::Uuid;

use crate::client::{CallError, Connections, ListError, PeopleClient, MAX_BATCH_GET};
use crate::group::ensure_group;
use crate::store::{self, Position};

/// The scope the export needs.
pub const SCOPE: &str = "https://www.googleapis.com/auth/contacts";

/// How many changes of the feed are read per query.
const FEED_PAGE: u32 = 1000;
/// How many contacts are loaded per query.
const LOAD_CHUNK: usize = 500;

/// What a run did, for its history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunCounts {
    pub created: u64,
    pub updated: u64,
    pub deleted: u64,
    pub unchanged: u64,
    pub skipped: u64,
    /// `skipped` by reason, in the order of the core's `SkipReason::ALL`.
    pub skipped_by_reason: [u64; SkipReason::ALL.len()],
    pub adopted: u64,
    pub recreated: u64,
    pub edited_in_google: u64,
    /// Items left for the next run (a rejected write, an etag still stale).
    pub errors: u64,
}

impl RunCounts {
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Created => self.created += 1,
            Outcome::Recreated => self.recreated += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Adopted => self.adopted += 1,
            Outcome::EditedInGoogle => self.edited_in_google += 1,
            Outcome::Deleted | Outcome::OrphanDeleted | Outcome::DuplicateDeleted => {
                self.deleted += 1
            }
            Outcome::DeletedInGoogle | Outcome::Relinked => {}
        }
    }
}

/// How a run is made.
#[derive(Clone, Default)]
pub struct RunOptions {
    pub guards: Guards,
    pub lease: Option<Lease>,
}

impl RunOptions {
    /// After a person reviewed a refused run and chose to apply it anyway
    /// ([`JobContext::apply_anyway`]): the guards let this run pass.
    pub fn apply_anyway(mut self) -> RunOptions {
        self.guards.allow_mass_delete = true;
        self.guards.allow_empty = true;
        self
    }
}

/// The export of one server: its database, the People API client, the token source.
pub struct ContactsExport {
    db: Db,
    client: PeopleClient,
    tokens: Arc<dyn AccessTokens>,
}

impl ContactsExport {
    pub fn new(db: Db, client: PeopleClient, tokens: Arc<dyn AccessTokens>) -> ContactsExport {
        ContactsExport { db, client, tokens }
    }

    pub fn client(&self) -> &PeopleClient {
        &self.client
    }

    /// One run of the connection's export. A 401 replaces the token once and runs again
    /// (every step is safe to repeat).
    pub async fn run(
        &self,
        connection_id: Uuid,
        options: RunOptions,
    ) -> Result<RunCounts, SyncError> {
        // Every step of a run is safe to repeat: after a 401, once more with a new token.
        let options = &options;
        let run = |token: String| async move { self.attempt(connection_id, options, &token).await };
        with_token_replacement(self.tokens.as_ref(), connection_id, "Google", run).await
    }

    /// One attempt with a token; once more when our group turned out to be deleted in
    /// Google (forgotten by then, with the sync token: the second pass finds or makes the
    /// group again, and lists in full to put every contact back in it). The history counts
    /// the second pass.
    async fn attempt(
        &self,
        connection_id: Uuid,
        options: &RunOptions,
        token: &str,
    ) -> Result<RunCounts, SyncError> {
        let group_gone = AtomicBool::new(false);
        match self.pass(connection_id, options, token, &group_gone).await {
            Err(e) if group_gone.load(Ordering::Relaxed) => {
                tracing::info!(connection = %connection_id, error = %e, "our contact group was deleted in Google; finding or making it again");
                let again = AtomicBool::new(false);
                self.pass(connection_id, options, token, &again).await
            }
            other => other,
        }
    }

    async fn pass(
        &self,
        connection_id: Uuid,
        options: &RunOptions,
        token: &str,
        group_gone: &AtomicBool,
    ) -> Result<RunCounts, SyncError> {
        let mut conn = self.db.pool().acquire().await?;
        // 1. Preconditions.
        let connection = connections::get(&mut conn, connection_id)
            .await
            .map_err(|e| SyncError::Fatal(e.to_string()))?;
        if matches!(
            connection.status,
            Status::NeedsReauth | Status::Disconnected
        ) {
            return Err(SyncError::NeedsReauth(format!(
                "connection {connection_id} is {}",
                connection.status.as_str()
            )));
        }
        if !connection.scopes.iter().any(|s| s == SCOPE) {
            return Err(SyncError::NeedsReauth(format!(
                "the scope {SCOPE} is missing: connect the Google account again to allow Contacts"
            )));
        }
        let Some(export) = store::export(&mut conn, connection_id).await? else {
            return Ok(RunCounts::default());
        };
        if !export.enabled {
            return Ok(RunCounts::default());
        }
        let org = org_of(&mut conn, connection.user_id).await?;

        // 2. The group.
        let stamp = connection_id.to_string();
        let group = ensure_group(&self.client, token, &stamp, export.group.as_deref())
            .await
            .map_err(|e| call_failed("finding the contact group", e))?;
        if export.group.as_deref() != Some(group.as_str()) {
            store::save_group(&mut conn, connection_id, Some(&group)).await?;
        }
        let run = Run {
            export: self,
            connection: connection_id,
            org,
            token,
            group: &group,
            group_gone,
            lease: options.lease.clone(),
        };

        // 3. The CRM's side.
        let everything =
            export.needs_adoption || export.mapping_version.as_deref() != Some(HASH_VERSION);
        let mut input = PlanInput {
            organisation_id: org,
            group: group.clone(),
            guards: options.guards,
            ..PlanInput::default()
        };
        let feed_seq;
        let wanted: Vec<Uuid>;
        if everything {
            // The position first: what changes while we read is read again next run.
            feed_seq = changes::last_seq(&mut conn, org).await?;
            wanted = live_contacts(&mut conn, org).await?;
            input.crm_complete = true;
        } else {
            let (seq, changed, deleted) = feed(&mut conn, org, export.feed_seq).await?;
            feed_seq = seq;
            wanted = changed;
            input.deleted = deleted;
        }
        run.load(&mut conn, &mut input, &wanted).await?;

        // Google's side.
        let sync_token = if everything || export.needs_full_listing {
            None
        } else {
            export.sync_token.clone()
        };
        let mut listed = self
            .list(&mut conn, connection_id, token, sync_token.as_deref())
            .await?;
        input.links = store::links(&mut conn, connection_id).await?;

        let plan = loop {
            input.listing = listed.1;
            input.people = std::mem::take(&mut listed.0.people);

            // 4. Load what the plan needs.
            let more = input.contacts_to_load();
            if !more.is_empty() {
                run.load(&mut conn, &mut input, &more).await?;
            }

            // 5. Plan.
            match plan(&input) {
                // A create's answer was lost (a pending link) and the sync-token listing
                // does not show what it made: a complete listing tells, in this run.
                Ok(plan) if plan.needs_full_listing && input.listing == Listing::Incremental => {
                    tracing::info!(connection = %connection_id, "a create's answer was lost; listing in full");
                    listed = self.list(&mut conn, connection_id, token, None).await?;
                }
                Ok(plan) => break plan,
                Err(PlanError::Refused(reasons)) => {
                    return Err(SyncError::RefusedForReview(
                        reasons.iter().map(ToString::to_string).collect(),
                    ))
                }
                Err(e) => return Err(SyncError::Fatal(e.to_string())),
            }
        };
        let listed = listed.0;
        let mut counts = RunCounts {
            unchanged: plan.unchanged as u64,
            skipped: plan.skipped.len() as u64,
            ..RunCounts::default()
        };
        for skipped in &plan.skipped {
            counts.skipped_by_reason[skipped.reason.index()] += 1;
        }
        for (_, outcome) in &plan.noted {
            counts.count(*outcome);
        }

        // 6. Writes, one at a time.
        for chunk in &plan.creates {
            run.create(&mut conn, chunk, &mut counts).await?;
        }
        for chunk in &plan.updates {
            let recreate = run.update(&mut conn, chunk, &mut counts).await?;
            if !recreate.is_empty() {
                run.create(&mut conn, &recreate, &mut counts).await?;
            }
        }
        for chunk in &plan.deletes {
            run.ensure_lease()?;
            let names: Vec<String> = chunk.iter().map(|d| d.resource_name.clone()).collect();
            run.delete(names).await?;
            for d in chunk {
                if d.drop_link {
                    store::delete_link(&mut conn, connection_id, d.contact_id).await?;
                }
                counts.count(d.outcome);
            }
        }
        for add in &plan.group_adds {
            run.ensure_lease()?;
            if let Err(e) = self
                .client
                .add_members(token, &add.group, &add.resource_names)
                .await
            {
                let what = "adding contacts to the group";
                return Err(run.group_write_failed(&mut conn, what, e).await);
            }
        }

        // 8. Link writes, then the position: last.
        run.ensure_lease()?;
        let mut tx = self.db.pool().begin().await?;
        for write in &plan.link_writes {
            match write {
                LinkWrite::Put(link) => store::put_link(&mut tx, connection_id, link).await?,
                LinkWrite::Remove(id) => store::delete_link(&mut tx, connection_id, *id).await?,
            }
        }
        store::save_position(
            &mut tx,
            connection_id,
            &Position {
                feed_seq,
                sync_token: listed.next_sync_token.as_deref(),
                needs_full_listing: plan.needs_full_listing,
                mapping_version: HASH_VERSION,
            },
        )
        .await?;
        // Every write made, the position not stored: the next run reads the same changes.
        threadline_sync_engine::kill_point("contacts-before-position");
        tx.commit().await?;
        Ok(counts)
    }
}

impl ContactsExport {
    /// The user's contacts: from `sync_token` (an incremental listing), else in full; an
    /// expired token is forgotten and the listing made in full.
    async fn list(
        &self,
        conn: &mut Conn,
        connection_id: Uuid,
        token: &str,
        sync_token: Option<&str>,
    ) -> Result<(Connections, Listing), SyncError> {
        let mut sync_token = sync_token;
        loop {
            match self.client.list_connections(token, sync_token).await {
                Ok(listed) if sync_token.is_some() => return Ok((listed, Listing::Incremental)),
                Ok(listed) => return Ok((listed, Listing::Full { complete: true })),
                Err(ListError::SyncTokenExpired) if sync_token.is_some() => {
                    tracing::info!(connection = %connection_id, "People sync token expired; listing in full");
                    store::clear_sync_token(conn, connection_id).await?;
                    sync_token = None;
                }
                Err(ListError::SyncTokenExpired) => {
                    return Err(SyncError::retryable(
                        "the People API said a listing without a sync token expired",
                    ))
                }
                Err(ListError::Failed(e)) => return Err(call_failed("listing contacts", e)),
            }
        }
    }
}

/// One run's fixed parts.
struct Run<'a> {
    export: &'a ContactsExport,
    connection: Uuid,
    org: Uuid,
    token: &'a str,
    /// Our group, as the pass found or made it.
    group: &'a str,
    /// Set when a write found our group deleted in Google.
    group_gone: &'a AtomicBool,
    lease: Option<Lease>,
}

impl Run<'_> {
    fn ensure_lease(&self) -> Result<(), SyncError> {
        match &self.lease {
            Some(lease) if !lease.is_held() => Err(SyncError::LeaseLost),
            _ => Ok(()),
        }
    }

    /// A write naming our group (a create's membership, `members:modify`) failed. A 404, or
    /// the 400 a create naming an unknown group gets, may mean the user deleted the group
    /// (between runs or during this one): if reading it answers 404, it is forgotten with
    /// the sync token, and the pass says so ([`Run::group_gone`]). The write's error.
    async fn group_write_failed(&self, conn: &mut Conn, what: &str, e: CallError) -> SyncError {
        if matches!(e.status(), Some(400 | 404)) {
            let client = &self.export.client;
            match client.get_group(self.token, self.group).await {
                Err(read) if read.status() == Some(404) => {
                    let forgotten = async {
                        store::save_group(conn, self.connection, None).await?;
                        store::clear_sync_token(conn, self.connection).await
                    };
                    if let Err(db) = forgotten.await {
                        return db.into();
                    }
                    self.group_gone.store(true, Ordering::Relaxed);
                }
                Err(read) => return call_failed("reading our contact group", read),
                Ok(_) => {}
            }
        }
        call_failed(what, e)
    }

    /// One delete batch. A 404 is success for one name; a batch of more is refused whole
    /// for one of them already deleted (by the user, in Google) and deletes nothing, so the
    /// persons still there are read and deleted again.
    async fn delete(&self, names: Vec<String>) -> Result<(), SyncError> {
        let client = &self.export.client;
        match client.batch_delete(self.token, &names).await {
            Ok(()) => return Ok(()),
            Err(e) if decide::delete_succeeded(&e.failure()) && names.len() == 1 => return Ok(()),
            Err(e) if decide::delete_succeeded(&e.failure()) => {}
            Err(e) => return Err(call_failed("deleting contacts", e)),
        }
        let mut left = Vec::new();
        for part in names.chunks(MAX_BATCH_GET) {
            let fetched = client
                .batch_get(self.token, part)
                .await
                .map_err(|e| call_failed("reading contacts to delete again", e))?;
            let live = fetched
                .into_iter()
                .filter(|f| f.status == 200 && f.person.as_ref().is_some_and(|p| !p.is_deleted()));
            left.extend(live.map(|f| f.requested));
        }
        if left.is_empty() {
            return Ok(());
        }
        self.ensure_lease()?;
        match client.batch_delete(self.token, &left).await {
            Ok(()) => Ok(()),
            // Another one deleted in Google meanwhile: the next run deletes the rest.
            Err(e) if decide::delete_succeeded(&e.failure()) => Err(SyncError::retryable(format!(
                "deleting contacts: {e}; some were deleted in Google meanwhile"
            ))),
            Err(e) => Err(call_failed("deleting contacts", e)),
        }
    }

    /// Loads `ids` with their companies into `input`: live ones as contacts, the others as
    /// deleted.
    async fn load(
        &self,
        conn: &mut Conn,
        input: &mut PlanInput,
        ids: &[Uuid],
    ) -> Result<(), SyncError> {
        let have: BTreeSet<Uuid> = input
            .contacts
            .iter()
            .map(|c| c.id)
            .chain(input.deleted.iter().copied())
            .collect();
        let ids: Vec<Uuid> = ids
            .iter()
            .copied()
            .filter(|id| !have.contains(id))
            .collect();
        for chunk in ids.chunks(LOAD_CHUNK) {
            let loaded = Contact::load(conn, self.org, chunk).await?;
            let company_ids: Vec<Uuid> = loaded
                .iter()
                .filter_map(|c| c.company_id)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let companies: BTreeMap<Uuid, Company> = if company_ids.is_empty() {
                BTreeMap::new()
            } else {
                Company::load(conn, self.org, &company_ids)
                    .await?
                    .into_iter()
                    .filter(|c| c.meta.deleted_at.is_none())
                    .map(|c| (c.id, c))
                    .collect()
            };
            let mut found = BTreeSet::new();
            for c in loaded {
                found.insert(c.id);
                if c.meta.deleted_at.is_some() {
                    input.deleted.push(c.id);
                    continue;
                }
                let company = c
                    .company_id
                    .and_then(|id| companies.get(&id))
                    .map(|co| CrmCompany {
                        name: co.name.clone(),
                        address: co.address.clone(),
                        website: co.website.clone(),
                        domains: co.domains.clone(),
                    });
                input.contacts.push(CrmContact {
                    id: c.id,
                    first_name: c.first_name,
                    last_name: c.last_name,
                    emails: c.emails,
                    phones: c.phones.into_iter().map(|p| (p.number, p.label)).collect(),
                    job_title: c.job_title,
                    notes: c.notes,
                    company,
                });
            }
            input
                .deleted
                .extend(chunk.iter().copied().filter(|id| !found.contains(id)));
        }
        Ok(())
    }

    /// One create batch: pending links first (so that a lost answer is known), then the
    /// links from the answer; each set in a few statements, not one per contact.
    async fn create(
        &self,
        conn: &mut Conn,
        chunk: &[Create],
        counts: &mut RunCounts,
    ) -> Result<(), SyncError> {
        self.ensure_lease()?;
        let pending: Vec<_> = chunk.iter().map(Create::pending_link).collect();
        store::put_links(conn, self.connection, &pending).await?;
        let bodies: Vec<_> = chunk.iter().map(|c| c.body.clone()).collect();
        let created = match self.export.client.batch_create(self.token, &bodies).await {
            Ok(created) => created,
            Err(e) => {
                if e.is_rate_limit() {
                    // Refused whole, nothing made (as the client's retries assume): no
                    // answer was lost, so no pending link waits for a complete listing.
                    for c in chunk {
                        store::delete_link(conn, self.connection, c.contact_id).await?;
                    }
                }
                // Else the pending links stay: the next run adopts what was made.
                return Err(self.group_write_failed(conn, "creating contacts", e).await);
            }
        };
        // Made in Google, not linked yet: a crash here leaves pending links, adopted next run.
        threadline_sync_engine::kill_point("contacts-after-create");
        let by_id: BTreeMap<Uuid, &Create> = chunk.iter().map(|c| (c.contact_id, c)).collect();
        let mut links = Vec::with_capacity(created.len());
        for person in &created {
            let (Some(id), Some(name)) = (
                contact_id_of(person, self.org),
                person.resource_name.as_deref(),
            ) else {
                continue;
            };
            if let Some(c) = by_id.get(&id) {
                links.push(c.link(name, person.etag.clone()));
                counts.count(c.outcome);
            }
        }
        store::put_links(conn, self.connection, &links).await?;
        Ok(())
    }

    /// One update batch with the links' etags; a stale etag or a 404 re-reads the batch's
    /// persons and decides per person (`decide`). Answers the creates a 404 asks for.
    async fn update(
        &self,
        conn: &mut Conn,
        chunk: &[Update],
        counts: &mut RunCounts,
    ) -> Result<Vec<Create>, SyncError> {
        let client = &self.export.client;
        let group = self.group;
        let mut recreate = Vec::new();
        let mut pending: Vec<Update> = chunk.to_vec();
        let mut attempt = 0;
        while !pending.is_empty() {
            self.ensure_lease()?;
            let bodies: Vec<(String, _)> = pending
                .iter()
                .map(|u| (u.resource_name.clone(), u.body.clone()))
                .collect();
            let error = match client
                .batch_update(self.token, &bodies, UPDATE_PERSON_FIELDS)
                .await
            {
                Ok(updated) => {
                    // Written in Google, the links' hashes not yet: redone (as a no-op for
                    // Google's content) by the next run.
                    threadline_sync_engine::kill_point("contacts-after-update");
                    let mut links = Vec::with_capacity(pending.len());
                    for u in &pending {
                        let etag = updated.get(&u.resource_name).and_then(|p| p.etag.clone());
                        links.push(u.link(etag));
                        counts.count(u.outcome);
                    }
                    store::put_links(conn, self.connection, &links).await?;
                    return Ok(recreate);
                }
                Err(e) => e,
            };
            let failure = error.failure();
            let reread = matches!(failure, Failure::StaleEtag | Failure::NotFound)
                && attempt < decide::MAX_STALE_RETRIES;
            if !reread {
                match decide::on_update_failure(&pending[0], &failure, attempt, group) {
                    UpdateRecovery::Backoff => return Err(call_failed("updating contacts", error)),
                    why => {
                        tracing::warn!(connection = %self.connection, ?why, "contacts left for the next run");
                        counts.errors += pending.len() as u64;
                        return Ok(recreate);
                    }
                }
            }
            let names: Vec<String> = pending.iter().map(|u| u.resource_name.clone()).collect();
            let fetched = client
                .batch_get(self.token, &names)
                .await
                .map_err(|e| call_failed("reading contacts again", e))?;
            let mut next = Vec::new();
            for u in pending {
                let fresh = fetched
                    .iter()
                    .find(|f| f.requested == u.resource_name)
                    .and_then(|f| f.person.as_ref().filter(|_| f.status == 200));
                let recovery = match fresh {
                    Some(person) => match decide::after_reread(&u, person, group) {
                        AfterReread::Retry(retry) => {
                            next.push(*retry);
                            continue;
                        }
                        AfterReread::Done(link) => {
                            store::put_link(conn, self.connection, &link).await?;
                            counts.count(u.outcome);
                            continue;
                        }
                        AfterReread::Gone(recovery) => recovery,
                    },
                    None => decide::on_update_failure(&u, &Failure::NotFound, attempt, group),
                };
                match recovery {
                    UpdateRecovery::Recreate(create) => recreate.push(*create),
                    UpdateRecovery::MarkDeleted(link) => {
                        store::put_link(conn, self.connection, &link).await?;
                    }
                    other => {
                        tracing::warn!(connection = %self.connection, ?other, "a contact left for the next run");
                        counts.errors += 1;
                    }
                }
            }
            pending = next;
            attempt += 1;
        }
        Ok(recreate)
    }
}

/// Every live contact of the organisation.
async fn live_contacts(conn: &mut Conn, org: Uuid) -> Result<Vec<Uuid>, SyncError> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM contacts WHERE org_id = $1 AND deleted_at IS NULL ORDER BY id",
    )
    .bind(id_text(org))
    .fetch_all(&mut *conn)
    .await?;
    Ok(ids
        .iter()
        .map(|s| parse_uuid(s))
        .collect::<Result<_, _>>()?)
}

/// The changes feed after `after`: its new position, the contacts to look at (changed
/// ones, and the live contacts of changed companies) and the deleted contacts.
async fn feed(
    conn: &mut Conn,
    org: Uuid,
    after: i64,
) -> Result<(i64, Vec<Uuid>, Vec<Uuid>), SyncError> {
    let kinds = [Kind::Contact.as_str(), Kind::Company.as_str()];
    let mut seq = after;
    let mut changed = BTreeSet::new();
    let mut deleted = BTreeSet::new();
    let mut companies = BTreeSet::new();
    loop {
        let page = changes::since(conn, org, seq, &kinds, FEED_PAGE).await?;
        let Some(last) = page.last() else { break };
        seq = last.seq;
        for change in &page {
            if change.kind == Kind::Company.as_str() {
                companies.insert(change.id);
            } else if change.deleted {
                changed.remove(&change.id);
                deleted.insert(change.id);
            } else {
                deleted.remove(&change.id);
                changed.insert(change.id);
            }
        }
        if page.len() < FEED_PAGE as usize {
            break;
        }
    }
    for company in companies {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM contacts WHERE org_id = $1 AND company_id = $2 AND deleted_at IS NULL",
        )
        .bind(id_text(org))
        .bind(id_text(company))
        .fetch_all(&mut *conn)
        .await?;
        for id in ids {
            let id = parse_uuid(&id)?;
            if !deleted.contains(&id) {
                changed.insert(id);
            }
        }
    }
    Ok((
        seq,
        changed.into_iter().collect(),
        deleted.into_iter().collect(),
    ))
}

async fn org_of(conn: &mut Conn, user: Uuid) -> Result<Uuid, SyncError> {
    let org: String = sqlx::query_scalar("SELECT org_id FROM users WHERE id = $1")
        .bind(id_text(user))
        .fetch_one(&mut *conn)
        .await?;
    Ok(parse_uuid(&org)?)
}

/// A failed call as the run's error: passing ones are tried again later.
fn call_failed(what: &str, e: CallError) -> SyncError {
    match &e {
        CallError::Status { status: 401, .. } => SyncError::TokenRejected(format!("{what}: {e}")),
        CallError::Status { retry_after, .. } if e.is_transient() => SyncError::Retryable {
            reason: format!("{what}: {e}"),
            retry_after: *retry_after,
        },
        // No answer (a lost connection): a create's pending links say what may exist.
        _ if e.is_transient() => SyncError::retryable(format!("{what}: {e}")),
        _ => SyncError::Fatal(format!("{what}: {e}")),
    }
}

/// In a run's `details`: contacts the user had deleted in Google, created again because they
/// changed in the CRM (also counted as created).
pub const DETAIL_RECREATED: &str = "recreated";
/// Contacts already in Google (ours by their `clientData`) linked again instead of created
/// twice (also counted as updated).
pub const DETAIL_ADOPTED: &str = "adopted";
/// Contacts edited in Google and left so: the CRM decides once the contact changes there.
pub const DETAIL_EDITED_IN_GOOGLE: &str = "edited_in_google";

/// Runs a connection's export when its `google_contacts` schedule is due.
pub struct ContactsJob(pub Arc<ContactsExport>);

impl SyncJob for ContactsJob {
    fn integration(&self) -> &'static str {
        crate::integration::NAME
    }

    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            ctx.lease.ensure()?;
            let mut options = RunOptions {
                lease: Some(ctx.lease.clone()),
                ..RunOptions::default()
            };
            if ctx.apply_anyway {
                options = options.apply_anyway();
            }
            let counts = self
                .0
                .run(ctx.connection_id, options)
                .await
                .map_err(JobError::from)?;
            let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
            ctx.tally.created(n(counts.created + counts.recreated));
            ctx.tally.updated(n(counts.updated + counts.adopted));
            ctx.tally.deleted(n(counts.deleted));
            ctx.tally.skipped(n(counts.skipped));
            ctx.tally.errors(n(counts.errors));
            ctx.tally.unchanged(n(counts.unchanged));
            // The history says what the common counts hide.
            ctx.tally.detail(DETAIL_RECREATED, n(counts.recreated));
            ctx.tally.detail(DETAIL_ADOPTED, n(counts.adopted));
            ctx.tally
                .detail(DETAIL_EDITED_IN_GOOGLE, n(counts.edited_in_google));
            for reason in SkipReason::ALL {
                let skipped = counts.skipped_by_reason[reason.index()];
                ctx.tally
                    .detail(&format!("skipped: {}", reason.as_str()), n(skipped));
            }
            Ok(())
        })
    }
}
