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
use threadline_storage::db::{self, BoxFuture, Conn, Db, Sql};

/// A record type as the API shows it.
pub trait Record: Serialize + Sized + Send + Sync + 'static {
    const KIND: Kind;
    /// Keys of the answer, besides [`META_KEYS`], that are not part of the input (derived
    /// or shown for convenience); PATCH drops them before merging.
    const DERIVED: &'static [&'static str] = &[];

    fn meta(&self) -> &Meta;

    /// The records of `org` among `ids`, deleted ones included, in any order.
    fn load<'c>(
        conn: &'c mut Conn,
        org: Uuid,
        ids: &'c [Uuid],
    ) -> BoxFuture<'c, CrmResult<Vec<Self>>>;

    /// Adds ` AND (…)` to a list query over `t` (the kind's table) for the search `q`.
    fn search(sql: &mut Sql<'_>, q: &str) -> CrmResult<()>;

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

/// Creates a record from a checked input in one write transaction: the record as stored.
pub async fn create<T: Editable>(db: &Db, actor: &Actor, valid: &T::Valid) -> CrmResult<T> {
    let id = db::new_id();
    db.write(|tx| {
        Box::pin(async move {
            T::save(tx, actor, id, Target::New, valid).await?;
            live::<T>(tx, actor.org_id, id).await
        })
    })
    .await
}

/// Changes the live record `id`, last seen at `expected_version` (404 when it is not
/// there, 412 when it changed since), in one write transaction: the record as stored.
pub async fn update<T: Editable>(
    db: &Db,
    actor: &Actor,
    id: Uuid,
    expected_version: i64,
    valid: &T::Valid,
) -> CrmResult<T> {
    db.write(|tx| {
        Box::pin(async move {
            super::expect_version(tx, T::KIND, actor.org_id, id, expected_version).await?;
            T::save(tx, actor, id, Target::Existing { expected_version }, valid).await?;
            live::<T>(tx, actor.org_id, id).await
        })
    })
    .await
}

/// The live record `id` of `org`, or `not_found`.
pub async fn live<T: Record>(conn: &mut Conn, org: Uuid, id: Uuid) -> CrmResult<T> {
    match T::load(conn, org, &[id]).await?.pop() {
        Some(r) if r.meta().deleted_at.is_none() => Ok(r),
        _ => Err(super::not_found(T::KIND, id)),
    }
}
