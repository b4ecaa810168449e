//! What every record type implements: how it is loaded, searched and shown ([`Record`]), and
//! how it is checked and saved ([`Editable`]). The HTTP layer's generic handlers and the
//! contact intake are written once over these.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::{Kind, Meta, Target};
use crate::actor::Actor;
use crate::error::CrmResult;
use threadline_storage::db::{BoxFuture, Conn, Db, Sql};

/// A record type as the API shows it.
pub trait Record: Serialize + Sized + Send + Sync + 'static {
    const KIND: Kind;
    /// Keys of the answer, besides [`META_KEYS`], that are not part of the input (derived
    /// or shown for convenience); PATCH drops them before merging.
    const DERIVED: &'static [&'static str] = &[];

    fn id(&self) -> Uuid;

    fn meta(&self) -> &Meta;

    /// The records of `org` among `ids`, deleted ones included, in any order.
    fn load<'c>(
        conn: &'c mut Conn,
        org: Uuid,
        ids: &'c [Uuid],
    ) -> BoxFuture<'c, CrmResult<Vec<Self>>>;

    /// Adds ` AND (…)` to a list query over `t` (the kind's table) of `org` for the search
    /// `q`. A subquery names `org` itself rather than `t.org_id`: a subquery correlated
    /// with `t` runs again for every row (BENCHMARKS.md, "Pages").
    fn search(sql: &mut Sql<'_>, org: Uuid, q: &str) -> CrmResult<()>;

    /// What `auth` may see of the record (all of it, but for private emails).
    fn shown_to(self, _auth: &Actor) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// A record type the API creates and changes.
pub trait Editable: Record {
    /// The request body of POST and PUT (and what PATCH merges into).
    type Input: DeserializeOwned + Send + Sync + 'static;
    /// The input after its checks.
    type Valid: Send + Sync + 'static;

    fn validate(input: Self::Input) -> CrmResult<Self::Valid>;

    /// Writes the record (row through [`super::save_row`], then its parts), checking what
    /// it references, inside the write transaction.
    fn save<'c>(
        conn: &'c mut Conn,
        auth: &'c Actor,
        id: Uuid,
        target: Target,
        valid: &'c Self::Valid,
    ) -> BoxFuture<'c, CrmResult<()>>;
}

/// Creates a record from a checked input in one write transaction of its own
/// ([`super::edit::create`]): the record as stored.
pub async fn create<T: Editable>(db: &Db, actor: &Actor, valid: &T::Valid) -> CrmResult<T> {
    db.write(|tx| Box::pin(super::edit::create::<T>(tx, actor, valid)))
        .await
}

/// Changes the live record `id`, last seen at `expected_version`, in one write transaction
/// of its own ([`super::edit::update`]): the record as stored.
pub async fn update<T: Editable>(
    db: &Db,
    actor: &Actor,
    id: Uuid,
    expected_version: i64,
    valid: &T::Valid,
) -> CrmResult<T> {
    db.write(|tx| {
        Box::pin(super::edit::update::<T>(
            tx,
            actor,
            id,
            expected_version,
            valid,
        ))
    })
    .await
}
