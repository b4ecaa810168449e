//! One run of a connection's document sync: the executor of `threadline-files-core`'s plans
//! over a [`RemoteFiles`] (the checklist in `crates/sync/files-core/README.md`).
//!
//! Preconditions (connection usable, sync on) → the CRM's side (the covered records, every
//! node of their trees, live and trashed) and the links → the remote listing (from the stored
//! cursor, or in full) → `plan` (computing provider hashes when it asks) → the steps in order:
//! each remote write followed at once by its link, each CRM write committed with its link in
//! one fenced transaction → the cursor, last. A step that finds the world changed under it (a
//! stale rev, a name taken, a node edited meanwhile) ends the pass without the cursor; the
//! run lists again from the same cursor and plans again, up to [`MAX_PASSES`] times.
//!
//! Crash points (`threadline_sync_engine::kill_point`, for the SIGKILL tests of
//! `crates/integrations/dropbox/sync/tests/crash.rs`): `files-after-create-folder`,
//! `files-after-upload`, `files-after-temporary-name` (half a case-only rename),
//! `files-after-move`, `files-after-delete` (each after the remote write, before its link),
//! `files-after-download` (before the CRM write), `files-after-crm-write` (committed with its
//! link) and `files-before-cursor` (every step done).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures_util::StreamExt;
use md5::{Digest as _, Md5};
use threadline_connections::{self as connections, Connection, Status};
use threadline_crm::documents::blobs::BlobStore;
use threadline_crm::documents::tree::{self, IfMatch, NewContent};
use threadline_crm::{Actor, CrmError};
use threadline_files_core::hash::{DropboxHasher, HashKind, RemoteHash};
use threadline_files_core::link::{
    CrmFile, CrmNode, CrmRecord, Link, NodeKey, RecordKind, RecordRef, RemoteItem, RemoteKind,
};
use threadline_files_core::plan::{plan, Guards, Place, Plan, PlanError, PlanInput, Skip, Step};
use threadline_files_core::provider::Provider;
use threadline_storage::db::Conn;
use threadline_storage::Db;
use threadline_sync_engine::{
    fence, with_token_replacement, AccessTokens, FencedError, Lease, SyncError, Tally,
};
use uuid::Uuid;

use crate::remote::Upload;
use crate::remote::{path_key, ListRequest, RemoteError, RemoteErrorKind, RemoteFiles, Target};
use crate::settings::{self, Settings};
use crate::store;

/// Passes of one run (a pass ends early when a step finds the world changed under it).
pub const MAX_PASSES: usize = 3;

/// How a run is made.
#[derive(Clone, Default)]
pub struct RunOptions {
    pub guards: Guards,
    pub lease: Option<Lease>,
    /// Where the run adds up what it does (the engine's, so that a run cut short shows its
    /// progress); a fresh one when `None`.
    pub tally: Option<Arc<Tally>>,
}

impl RunOptions {
    /// After a person reviewed a refused run and chose to apply it anyway.
    pub fn apply_anyway(mut self) -> RunOptions {
        self.guards = Guards::allow_all();
        self
    }
}

/// A provider's document sync on this server: the database, the CRM's blob store, the
/// provider's client, the token source, and what the provider needs of a connection.
pub struct FileSync {
    db: Db,
    blobs: BlobStore,
    remote: Arc<dyn RemoteFiles>,
    tokens: Arc<dyn AccessTokens>,
    /// Scopes a connection must hold (Drive's); none for Dropbox's app folder.
    scopes: &'static [&'static str],
}

/// What a pass ended with.
enum Pass {
    /// Every step applied and the cursor saved.
    Done,
    /// A step found the world changed under it: list and plan again.
    Again(String),
}

impl FileSync {
    pub fn new(
        db: Db,
        blobs: BlobStore,
        remote: Arc<dyn RemoteFiles>,
        tokens: Arc<dyn AccessTokens>,
        scopes: &'static [&'static str],
    ) -> FileSync {
        FileSync {
            db,
            blobs,
            remote,
            tokens,
            scopes,
        }
    }

    pub fn provider(&self) -> Provider {
        self.remote.provider()
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// One run of `connection_id`'s sync. A 401 replaces the token once and runs again
    /// (every step is safe to repeat).
    pub async fn run(
        &self,
        connection_id: Uuid,
        options: RunOptions,
    ) -> Result<Arc<Tally>, SyncError> {
        let tally = options.tally.clone().unwrap_or_default();
        let options = &options;
        let tally_ref = &tally;
        let label = self.provider().label();
        let attempt = |token: String| async move {
            self.attempt(connection_id, options, tally_ref, &token)
                .await
        };
        with_token_replacement(self.tokens.as_ref(), connection_id, label, attempt).await?;
        Ok(tally)
    }

    async fn attempt(
        &self,
        connection_id: Uuid,
        options: &RunOptions,
        tally: &Tally,
        token: &str,
    ) -> Result<(), SyncError> {
        let mut last = String::new();
        for _ in 0..MAX_PASSES {
            match self.pass(connection_id, options, tally, token).await? {
                Pass::Done => return Ok(()),
                Pass::Again(why) => {
                    tracing::info!(connection = %connection_id, why, "the document sync plans again");
                    last = why;
                }
            }
        }
        Err(SyncError::retryable(format!(
            "the files kept changing during the sync; it is tried again later ({last})"
        )))
    }

    async fn pass(
        &self,
        connection_id: Uuid,
        options: &RunOptions,
        tally: &Tally,
        token: &str,
    ) -> Result<Pass, SyncError> {
        let mut conn = self.db.pool().acquire().await?;
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
        if let Some(missing) = self
            .scopes
            .iter()
            .find(|s| !connection.scopes.iter().any(|g| g == *s))
        {
            return Err(SyncError::NeedsReauth(format!(
                "the scope {missing} is missing: connect the account again to allow it"
            )));
        }
        let Some(settings) = settings::get(&mut conn, connection_id)
            .await
            .map_err(store_error)?
        else {
            return Ok(Pass::Done);
        };
        let actor = threadline_crm::actor::of_user(&mut conn, connection.user_id)
            .await?
            .ok_or_else(|| SyncError::Fatal(format!("the user of {connection_id} is gone")))?;
        let (records, nodes) = crm_side(&mut conn, &actor, &settings).await?;
        let links = store::links(&mut conn, connection_id)
            .await
            .map_err(store_error)?;
        drop(conn);

        let org = actor.org_id.to_string();
        let folders: BTreeMap<String, String> = links
            .iter()
            .map(|l| (path_key(&l.path), l.remote_id.clone()))
            .collect();
        let root_id = links
            .iter()
            .find(|l| l.key == NodeKey::Root)
            .map(|l| l.remote_id.clone());
        let remote = self
            .remote
            .list(
                token,
                ListRequest {
                    cursor: settings.cursor.as_deref(),
                    org: &org,
                    root_id: root_id.as_deref(),
                    folders: &folders,
                },
            )
            .await
            .map_err(|e| remote_error("listing the files", e))?;
        let mut input = PlanInput {
            provider: self.provider(),
            account: connection.account_id.clone(),
            records,
            nodes,
            remote,
            links,
            guards: options.guards,
        };
        let plan = self.plan(&mut input).await?;
        let mut exec = Executor {
            sync: self,
            connection: &connection,
            actor: &actor,
            org: &org,
            token,
            lease: options.lease.as_ref(),
            tally,
            links: input.links.iter().map(|l| (l.key, l.clone())).collect(),
            parents: input
                .remote
                .items
                .iter()
                .map(|i| (i.id.clone(), i.parent.clone()))
                .collect(),
            nodes: input.nodes.iter().map(|n| (n.id, n.clone())).collect(),
            touched: BTreeSet::new(),
        };
        for link in &input.links {
            exec.parents
                .entry(link.remote_id.clone())
                .or_insert_with(|| link.remote_parent.clone());
        }
        let outcome = exec.execute(&plan).await;
        exec.wake_others().await;
        let outcome = outcome?;
        if matches!(outcome, Pass::Done) {
            record_skips(tally, &plan.skipped);
            tally.conflicts(plan.conflicts.len() as i64);
            if plan.is_quiet() {
                tally.unchanged(input.links.len() as i64);
            }
        }
        Ok(outcome)
    }

    /// Plans, computing the provider's hash of CRM contents when the planner asks.
    async fn plan(&self, input: &mut PlanInput) -> Result<Plan, SyncError> {
        for _ in 0..3 {
            match plan(input) {
                Ok(plan) => return Ok(plan),
                Err(PlanError::Refused(reasons)) => {
                    return Err(SyncError::RefusedForReview(
                        reasons.iter().map(ToString::to_string).collect(),
                    ))
                }
                Err(PlanError::HashesNeeded(ids)) => {
                    let kind = self.provider().capabilities().hash;
                    for node in input.nodes.iter_mut().filter(|n| ids.contains(&n.id)) {
                        let Some(file) = node.file.as_mut() else {
                            continue;
                        };
                        let hex = self.provider_hash(kind, &file.sha256).await?;
                        file.provider_hashes.push(RemoteHash::new(kind, hex));
                    }
                }
            }
        }
        Err(SyncError::Fatal(
            "the planner kept asking for content hashes".into(),
        ))
    }

    /// The provider's hash of a stored content, read as a stream.
    async fn provider_hash(&self, kind: HashKind, sha256: &str) -> Result<String, SyncError> {
        if kind == HashKind::Sha256 {
            return Ok(sha256.to_string());
        }
        let mut stream = Box::pin(self.blobs.open(sha256).await?);
        let mut hasher = ProviderHasher::new(kind);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| SyncError::Fatal(format!("reading {sha256}: {e}")))?;
            hasher.update(&chunk);
        }
        Ok(hasher.finish())
    }
}

/// How many items a run names in its history (`skipped: too_large: big.zip`); the rest are
/// counted by kind only (`skipped: too_large`).
pub const NAMED_SKIPS: usize = 10;

/// The skipped items on the run: counted by kind, the first few by name too, and each in
/// the log with its whole reason.
fn record_skips(tally: &Tally, skipped: &[Skip]) {
    tally.skipped(skipped.len() as i64);
    for (i, skip) in skipped.iter().enumerate() {
        let kind = skip.kind.as_str();
        tally.detail(&format!("skipped: {kind}"), 1);
        if i < NAMED_SKIPS {
            tally.detail(&format!("skipped: {kind}: {}", skip.name), 1);
        }
        tracing::info!(name = %skip.name, reason = %skip.reason, "a file was left out of the document sync");
    }
}

/// A provider's hash, computed as bytes arrive.
enum ProviderHasher {
    Dropbox(DropboxHasher),
    Md5(Md5),
    Sha256(sha2::Sha256),
}

impl ProviderHasher {
    fn new(kind: HashKind) -> ProviderHasher {
        match kind {
            HashKind::DropboxContentHash => ProviderHasher::Dropbox(DropboxHasher::new()),
            HashKind::Md5 => ProviderHasher::Md5(Md5::new()),
            HashKind::Sha256 => ProviderHasher::Sha256(sha2::Sha256::new()),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            ProviderHasher::Dropbox(h) => h.update(bytes),
            ProviderHasher::Md5(h) => h.update(bytes),
            ProviderHasher::Sha256(h) => h.update(bytes),
        }
    }

    fn finish(self) -> String {
        match self {
            ProviderHasher::Dropbox(h) => h.finish(),
            ProviderHasher::Md5(h) => hex(&h.finalize()),
            ProviderHasher::Sha256(h) => hex(&h.finalize()),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn core_kind(kind: tree::RecordKind) -> RecordKind {
    match kind {
        tree::RecordKind::Company => RecordKind::Company,
        tree::RecordKind::Contact => RecordKind::Contact,
        tree::RecordKind::Project => RecordKind::Project,
        tree::RecordKind::Meeting => RecordKind::Meeting,
        tree::RecordKind::Product => RecordKind::Product,
    }
}

fn crm_kind(kind: RecordKind) -> tree::RecordKind {
    match kind {
        RecordKind::Company => tree::RecordKind::Company,
        RecordKind::Contact => tree::RecordKind::Contact,
        RecordKind::Project => tree::RecordKind::Project,
        RecordKind::Meeting => tree::RecordKind::Meeting,
        RecordKind::Product => tree::RecordKind::Product,
    }
}

fn crm_record(r: RecordRef) -> tree::RecordRef {
    tree::RecordRef {
        kind: crm_kind(r.kind),
        id: r.id,
    }
}

/// The covered records (live ones: a deleted record's links are left alone) and every node
/// of their trees.
async fn crm_side(
    conn: &mut Conn,
    actor: &Actor,
    settings: &Settings,
) -> Result<(Vec<CrmRecord>, Vec<CrmNode>), SyncError> {
    let mut records: BTreeMap<RecordRef, String> = BTreeMap::new();
    for kind in RecordKind::ALL {
        let whole = settings.targets.contains(&settings::Target::Module(kind));
        let ids: Vec<Uuid> = settings
            .targets
            .iter()
            .filter_map(|t| match t {
                settings::Target::Record(r) if r.kind == kind => Some(r.id),
                _ => None,
            })
            .collect();
        if !whole && ids.is_empty() {
            continue;
        }
        let named = tree::record_names(
            conn,
            actor.org_id,
            crm_kind(kind),
            (!whole).then_some(ids.as_slice()),
        )
        .await?;
        for (id, name) in named {
            records.insert(RecordRef { kind, id }, name);
        }
    }
    let refs: Vec<tree::RecordRef> = records.keys().map(|r| crm_record(*r)).collect();
    let nodes = tree::nodes_of_records(conn, actor.org_id, &refs).await?;
    let nodes = nodes
        .into_iter()
        .map(|n| CrmNode {
            trashed: !n.is_live(),
            id: n.id,
            record: RecordRef {
                kind: core_kind(n.record.kind),
                id: n.record.id,
            },
            parent: n.parent_id,
            name: n.name,
            version: n.version,
            file: n.sha256.map(|sha256| CrmFile {
                sha256,
                size: n.size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                provider_hashes: Vec::new(),
            }),
        })
        .collect();
    let records = records
        .into_iter()
        .map(|(record, name)| CrmRecord { record, name })
        .collect();
    Ok((records, nodes))
}

fn store_error(e: store::StoreError) -> SyncError {
    match e {
        store::StoreError::Database(e) => SyncError::from(e),
        other => SyncError::Fatal(other.to_string()),
    }
}

/// A provider's failure as the run's.
fn remote_error(what: &str, e: RemoteError) -> SyncError {
    let reason = format!("{what}: {}", e.message);
    match e.kind {
        RemoteErrorKind::Retryable { retry_after } => SyncError::Retryable {
            reason,
            retry_after,
        },
        RemoteErrorKind::TokenRejected => SyncError::TokenRejected(reason),
        RemoteErrorKind::NeedsReauth => SyncError::NeedsReauth(reason),
        RemoteErrorKind::NotFound
        | RemoteErrorKind::Conflict
        | RemoteErrorKind::TooLarge
        | RemoteErrorKind::Fatal => SyncError::Fatal(reason),
    }
}

/// What a step's failure means for the pass.
enum StepFailure {
    /// The world changed under the step: plan again.
    Again(String),
    Stop(SyncError),
}

impl From<SyncError> for StepFailure {
    fn from(e: SyncError) -> Self {
        StepFailure::Stop(e)
    }
}

impl From<FencedError> for StepFailure {
    fn from(e: FencedError) -> Self {
        match e {
            FencedError::Failed(e) if is_changed_under(&e) => StepFailure::Again(e.to_string()),
            other => StepFailure::Stop(other.into()),
        }
    }
}

/// A CRM write refused because the node changed or a name is taken meanwhile.
fn is_changed_under(e: &CrmError) -> bool {
    use threadline_crm::error::Reason;
    matches!(
        e.reason(),
        Some(Reason::StaleVersion | Reason::Conflict | Reason::NotFound)
    )
}

fn remote_step_failure(what: &str, e: RemoteError) -> StepFailure {
    match e.kind {
        RemoteErrorKind::Conflict | RemoteErrorKind::NotFound => {
            StepFailure::Again(format!("{what}: {}", e.message))
        }
        _ => StepFailure::Stop(remote_error(what, e)),
    }
}

struct Executor<'a> {
    sync: &'a FileSync,
    connection: &'a Connection,
    actor: &'a Actor,
    org: &'a str,
    token: &'a str,
    lease: Option<&'a Lease>,
    tally: &'a Tally,
    /// The links as stored so far in this run.
    links: BTreeMap<NodeKey, Link>,
    /// Each remote item's parent as known (the listing, then this run's writes).
    parents: BTreeMap<String, Option<String>>,
    nodes: BTreeMap<Uuid, CrmNode>,
    /// Records whose documents this run changed in the CRM: the other connections that sync
    /// them are woken, so that a file one user adds in their Dropbox reaches a colleague's
    /// within seconds, not at the colleague's next interval.
    touched: BTreeSet<RecordRef>,
}

impl Executor<'_> {
    /// Wakes the other connections' syncs of the records this run changed in the CRM (best
    /// effort: their next scheduled run carries the change if this fails).
    async fn wake_others(&self) {
        if self.touched.is_empty() {
            return;
        }
        let (org, me) = (self.actor.org_id, self.connection.id);
        let woken = async {
            let mut conn = self.sync.db.pool().acquire().await?;
            let mut syncs: Vec<settings::Covering> = Vec::new();
            for r in &self.touched {
                let kind = settings::kind_str(r.kind);
                for sync in settings::covering(&mut conn, org, kind, r.id, Some(me)).await? {
                    if !syncs.contains(&sync) {
                        syncs.push(sync);
                    }
                }
            }
            drop(conn);
            if !syncs.is_empty() {
                let syncs = &syncs;
                self.sync
                    .db
                    .write(|tx| Box::pin(settings::wake(tx, syncs)))
                    .await?;
            }
            Ok::<_, store::StoreError>(())
        }
        .await;
        if let Err(e) = woken {
            tracing::warn!(connection = %me, error = %e, "could not wake the other document syncs");
        }
    }

    async fn execute(&mut self, plan: &Plan) -> Result<Pass, SyncError> {
        for step in &plan.steps {
            match self.step(step).await {
                Ok(()) => {}
                Err(StepFailure::Again(why)) => return Ok(Pass::Again(why)),
                Err(StepFailure::Stop(e)) => {
                    self.tally.errors(1);
                    return Err(e);
                }
            }
        }
        Ok(Pass::Done)
    }

    fn ensure_lease(&self) -> Result<(), SyncError> {
        match self.lease {
            Some(lease) if !lease.is_held() => Err(SyncError::LeaseLost),
            _ => Ok(()),
        }
    }

    /// The remote id of `place`'s parent: given, or made by an earlier step of this run.
    fn parent_id(&self, place: &Place) -> Result<String, SyncError> {
        if let Some(id) = &place.parent_id {
            return Ok(id.clone());
        }
        self.links
            .get(&place.parent)
            .map(|l| l.remote_id.clone())
            .ok_or_else(|| {
                SyncError::Fatal(format!(
                    "the folder of {:?} was not made before it",
                    place.path
                ))
            })
    }

    /// Fills what a later step's link leaves empty from the link stored for the same item.
    fn completed(&self, mut link: Link) -> Link {
        if let Some(known) = self.links.get(&link.key) {
            if known.remote_id == link.remote_id {
                if link.sha256.is_none() {
                    link.sha256.clone_from(&known.sha256);
                }
                if link.remote_rev.is_none() {
                    link.remote_rev.clone_from(&known.remote_rev);
                }
                if link.remote_hash.is_none() {
                    link.remote_hash.clone_from(&known.remote_hash);
                }
                if link.remote_parent.is_none() {
                    link.remote_parent.clone_from(&known.remote_parent);
                }
            }
        }
        if link.remote_parent.is_none() {
            if let Some(parent) = link.crm_parent.and_then(|p| self.links.get(&p)) {
                link.remote_parent = Some(parent.remote_id.clone());
            }
        }
        link
    }

    /// A link as the answer of a remote write says.
    fn answered(&self, link: &Link, parent_id: &str, item: &RemoteItem) -> Link {
        let mut link = link.clone();
        link.remote_id.clone_from(&item.id);
        link.remote_parent = Some(parent_id.to_string());
        if link.remote_name != item.name {
            if let Some((dir, _)) = link.path.rsplit_once('/') {
                link.path = format!("{dir}/{}", item.name);
            }
            link.remote_name.clone_from(&item.name);
        }
        if let RemoteKind::File { rev, hash, .. } = &item.kind {
            link.remote_rev = Some(rev.clone());
            if hash.is_some() {
                link.remote_hash.clone_from(hash);
            }
        }
        self.completed(link)
    }

    /// Stores links (and drops others) in one fenced transaction.
    async fn write_links(&mut self, put: &[Link], drop: &[NodeKey]) -> Result<(), StepFailure> {
        let connection = self.connection.id;
        let lease = self.lease;
        self.sync
            .db
            .write(|tx| {
                Box::pin(async move {
                    fence(lease, tx).await?;
                    for key in drop {
                        store::delete_link(tx, connection, key)
                            .await
                            .map_err(fenced_store)?;
                    }
                    for link in put {
                        store::put_link(tx, connection, link)
                            .await
                            .map_err(fenced_store)?;
                    }
                    Ok::<_, FencedError>(())
                })
            })
            .await?;
        for key in drop {
            self.links.remove(key);
        }
        for link in put {
            self.links.insert(link.key, link.clone());
        }
        Ok(())
    }

    fn target<'t>(&'t self, key: NodeKey, parent_id: &'t str, at: &'t Place) -> Target<'t> {
        Target {
            parent_id,
            name: &at.name,
            path: &at.path,
            marker: key,
            org: self.org,
        }
    }

    async fn step(&mut self, step: &Step) -> Result<(), StepFailure> {
        let remote = Arc::clone(&self.sync.remote);
        match step {
            Step::CreateRemoteFolder { key, at, link } => {
                self.ensure_lease()?;
                let parent = self.parent_id(at)?;
                let item = remote
                    .create_folder(self.token, self.target(*key, &parent, at))
                    .await
                    .map_err(|e| remote_step_failure("making a folder", e))?;
                threadline_sync_engine::kill_point("files-after-create-folder");
                self.parents.insert(item.id.clone(), Some(parent.clone()));
                let link = self.answered(link, &parent, &item);
                self.write_links(&[link], &[]).await?;
                self.tally.created(1);
                self.tally.detail("folders created", 1);
            }
            Step::Upload {
                key,
                node_id,
                sha256,
                remote_id,
                if_rev,
                at,
                link,
            } => {
                self.ensure_lease()?;
                let parent = self.parent_id(at)?;
                let node = self.nodes.get(node_id);
                let content = Upload {
                    file: self.sync.blobs.path_of(sha256).map_err(SyncError::from)?,
                    size: node
                        .and_then(|n| n.file.as_ref())
                        .map(|f| f.size)
                        .unwrap_or(0),
                    sha256: sha256.clone(),
                    content_type: mime_guess::from_path(&at.name)
                        .first_or_octet_stream()
                        .to_string(),
                };
                let replace = match (remote_id, if_rev) {
                    (Some(id), Some(rev)) => Some((id.as_str(), rev.as_str())),
                    _ => None,
                };
                let item = remote
                    .upload(
                        self.token,
                        self.target(*key, &parent, at),
                        replace,
                        &content,
                    )
                    .await
                    .map_err(|e| remote_step_failure("uploading a file", e))?;
                threadline_sync_engine::kill_point("files-after-upload");
                self.parents.insert(item.id.clone(), Some(parent.clone()));
                let mut link = self.answered(link, &parent, &item);
                link.sha256 = Some(sha256.clone());
                self.write_links(&[link], &[]).await?;
                if replace.is_some() {
                    self.tally.updated(1);
                } else {
                    self.tally.created(1);
                }
                self.tally.detail("uploaded", 1);
            }
            Step::MoveRemote {
                key,
                remote_id,
                at,
                case_only,
                link,
            } => {
                self.ensure_lease()?;
                let parent = self.parent_id(at)?;
                let from = self.parents.get(remote_id).cloned().flatten();
                if *case_only {
                    // Dropbox refuses a case-only rename: through a temporary name.
                    let temp_name = format!("{}.threadline-rename", at.name);
                    let temp_path = format!("{}.threadline-rename", at.path);
                    let temp = Target {
                        parent_id: &parent,
                        name: &temp_name,
                        path: &temp_path,
                        marker: *key,
                        org: self.org,
                    };
                    remote
                        .move_item(self.token, remote_id, from.as_deref(), temp)
                        .await
                        .map_err(|e| remote_step_failure("renaming an item", e))?;
                    threadline_sync_engine::kill_point("files-after-temporary-name");
                }
                let item = remote
                    .move_item(
                        self.token,
                        remote_id,
                        if *case_only {
                            Some(parent.as_str())
                        } else {
                            from.as_deref()
                        },
                        self.target(*key, &parent, at),
                    )
                    .await
                    .map_err(|e| remote_step_failure("moving an item", e))?;
                threadline_sync_engine::kill_point("files-after-move");
                self.parents.insert(item.id.clone(), Some(parent.clone()));
                if let Some(link) = link {
                    let link = self.answered(link, &parent, &item);
                    self.write_links(&[link], &[]).await?;
                    self.tally.updated(1);
                    self.tally.detail("moved", 1);
                }
            }
            Step::DeleteRemote {
                key: _,
                remote_id,
                path,
                if_rev,
                drop_links,
            } => {
                self.ensure_lease()?;
                remote
                    .delete(self.token, remote_id, path, if_rev.as_deref())
                    .await
                    .map_err(|e| remote_step_failure("deleting an item", e))?;
                threadline_sync_engine::kill_point("files-after-delete");
                self.write_links(&[], drop_links).await?;
                self.tally.deleted(1);
            }
            Step::CreateCrmFolder {
                node_id,
                record,
                parent,
                name,
                link,
            } => {
                let link = self.completed(link.clone());
                self.touched.insert(*record);
                let write = CrmWrite::Create {
                    id: *node_id,
                    record: crm_record(*record),
                    parent: *parent,
                    name,
                    content: None,
                };
                self.crm_write(Some(link), &write).await?;
                self.tally.created(1);
                self.tally.detail("folders created", 1);
            }
            Step::Download {
                node_id,
                record,
                parent,
                name,
                remote_id,
                rev,
                create,
                if_version,
                link,
            } => {
                self.touched.insert(*record);
                let blob = self.download(remote_id, rev, link).await?;
                threadline_sync_engine::kill_point("files-after-download");
                let mut link = self.completed(link.clone());
                link.sha256 = Some(blob.sha256.clone());
                let content = NewContent {
                    blob,
                    content_type: mime_guess::from_path(name)
                        .first_or_octet_stream()
                        .to_string(),
                };
                let write = if *create {
                    CrmWrite::Create {
                        id: *node_id,
                        record: crm_record(*record),
                        parent: *parent,
                        name,
                        content: Some(&content),
                    }
                } else {
                    CrmWrite::Content {
                        id: *node_id,
                        if_version: *if_version,
                        content: &content,
                    }
                };
                self.crm_write(Some(link), &write).await?;
                if *create {
                    self.tally.created(1);
                } else {
                    self.tally.updated(1);
                }
                self.tally.detail("downloaded", 1);
            }
            Step::MoveCrm {
                node_id,
                parent,
                name,
                if_version,
                link,
            } => {
                if let Some(node) = self.nodes.get(node_id) {
                    self.touched.insert(node.record);
                }
                let write = CrmWrite::Move {
                    id: *node_id,
                    parent: *parent,
                    name,
                    if_version: *if_version,
                };
                let link = link.as_ref().map(|l| self.completed(l.clone()));
                let counted = link.is_some();
                self.crm_write(link, &write).await?;
                if counted {
                    self.tally.updated(1);
                    self.tally.detail("moved", 1);
                }
            }
            Step::PutLink { link } => {
                let link = self.completed(link.clone());
                self.write_links(&[link], &[]).await?;
            }
            Step::DeleteLink { key } => {
                self.write_links(&[], &[*key]).await?;
            }
            Step::SaveCursor { cursor } => {
                threadline_sync_engine::kill_point("files-before-cursor");
                let connection = self.connection.id;
                let lease = self.lease;
                self.sync
                    .db
                    .write(|tx| {
                        Box::pin(async move {
                            fence(lease, tx).await?;
                            settings::save_cursor(tx, connection, Some(cursor))
                                .await
                                .map_err(fenced_store)
                        })
                    })
                    .await?;
            }
        }
        Ok(())
    }

    /// Downloads a remote content into the blob store, verified against the listed hash.
    async fn download(
        &self,
        remote_id: &str,
        rev: &str,
        link: &Link,
    ) -> Result<threadline_crm::documents::blobs::StoredBlob, StepFailure> {
        let stream = self
            .sync
            .remote
            .download(self.token, remote_id, rev)
            .await
            .map_err(|e| remote_step_failure("downloading a file", e))?;
        // The listed hash is checked as the bytes arrive: ours (SHA-256) by the blob store;
        // the provider's kind (Dropbox's block hash, Drive's MD5) on a thread of its own, so
        // that the two hashes of a large file run side by side (bounded: 16 chunks waiting).
        let expected = link.remote_hash.clone();
        let (to_hasher, hasher) = match expected.as_ref().map(|h| h.kind) {
            None | Some(HashKind::Sha256) => (None, None),
            Some(kind) => {
                let (tx, mut rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(16);
                let task = tokio::task::spawn_blocking(move || {
                    let mut hasher = ProviderHasher::new(kind);
                    while let Some(chunk) = rx.blocking_recv() {
                        hasher.update(&chunk);
                    }
                    hasher.finish()
                });
                (Some(tx), Some(task))
            }
        };
        let stream = stream.then(move |chunk| {
            let to_hasher = to_hasher.clone();
            async move {
                if let (Ok(bytes), Some(tx)) = (&chunk, to_hasher) {
                    // A hasher gone early is answered below (the task's result).
                    let _ = tx.send(bytes.clone()).await;
                }
                chunk
            }
        });
        let blob = match self.sync.blobs.store_stream(stream).await {
            Ok(blob) => blob,
            Err(e) if e.reason() == Some(threadline_crm::error::Reason::TooLarge) => {
                return Err(StepFailure::Again(format!("{remote_id} grew past 50 MB")))
            }
            Err(e) => {
                return Err(StepFailure::Stop(SyncError::retryable(format!(
                    "downloading {remote_id}: {e}"
                ))))
            }
        };
        let got = match hasher {
            Some(task) => Some(task.await.map_err(|e| {
                StepFailure::Stop(SyncError::Fatal(format!("hashing {remote_id}: {e}")))
            })?),
            None => Some(blob.sha256.clone()),
        };
        if let (Some(expected), Some(got)) = (expected, got) {
            if !got.eq_ignore_ascii_case(&expected.hex) {
                return Err(StepFailure::Again(format!(
                    "{remote_id} changed while it was downloaded"
                )));
            }
        }
        Ok(blob)
    }

    /// A CRM write and its link (if any) in one fenced transaction, as the sync's user.
    async fn crm_write(
        &mut self,
        link: Option<Link>,
        write: &CrmWrite<'_>,
    ) -> Result<tree::Node, StepFailure> {
        let connection = self.connection.id;
        let lease = self.lease;
        let actor = self.actor;
        let link_ref = &link;
        let node = self
            .sync
            .db
            .write(|tx| {
                Box::pin(async move {
                    fence(lease, tx).await?;
                    let node = write.apply(tx, actor).await?;
                    if let Some(link) = link_ref {
                        let mut link = link.clone();
                        link.crm_version = node.version;
                        store::put_link(tx, connection, &link)
                            .await
                            .map_err(fenced_store)?;
                    }
                    Ok::<_, FencedError>(node)
                })
            })
            .await?;
        threadline_sync_engine::kill_point("files-after-crm-write");
        if let Some(mut link) = link {
            link.crm_version = node.version;
            self.links.insert(link.key, link);
        }
        Ok(node)
    }
}

/// A CRM write a step makes.
enum CrmWrite<'a> {
    /// A folder (`content: None`) or a file with the id the plan derived: a node found with
    /// it is the same create, repeated after a crash.
    Create {
        id: Uuid,
        record: tree::RecordRef,
        parent: Option<Uuid>,
        name: &'a str,
        content: Option<&'a NewContent>,
    },
    /// New content for a file, under its version.
    Content {
        id: Uuid,
        if_version: Option<i64>,
        content: &'a NewContent,
    },
    /// A rename and/or move, under its version.
    Move {
        id: Uuid,
        parent: Option<Uuid>,
        name: &'a str,
        if_version: i64,
    },
}

impl CrmWrite<'_> {
    async fn apply(&self, tx: &mut Conn, auth: &Actor) -> Result<tree::Node, CrmError> {
        match self {
            CrmWrite::Create {
                id,
                record,
                parent,
                name,
                content,
            } => {
                if let Some(found) = tree::node(tx, auth.org_id, *id).await? {
                    return Ok(found);
                }
                tree::create_with_id(tx, auth, *id, *record, *parent, name, *content).await
            }
            CrmWrite::Content {
                id,
                if_version,
                content,
            } => {
                let if_match = if_version_match(*if_version)?;
                tree::replace_content(tx, auth, *id, &if_match, content).await
            }
            CrmWrite::Move {
                id,
                parent,
                name,
                if_version,
            } => {
                let if_match = if_version_match(Some(*if_version))?;
                tree::update(tx, auth, *id, &if_match, Some(name), Some(*parent)).await
            }
        }
    }
}

fn if_version_match(version: Option<i64>) -> Result<IfMatch, CrmError> {
    let etag = version.map(tree::node_etag).unwrap_or_default();
    IfMatch::parse(Some(&etag))
}

fn fenced_store(e: store::StoreError) -> FencedError {
    match e {
        store::StoreError::Database(e) => FencedError::from(e),
        other => FencedError::Failed(CrmError::internal(other.to_string())),
    }
}
