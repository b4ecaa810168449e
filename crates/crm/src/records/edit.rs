//! Creating and changing a record, written once over [`Editable`]: what the API's POST, PUT
//! and PATCH and the web app's forms share. Each runs inside the caller's write transaction.

use serde_json::Value;
use uuid::Uuid;

use super::{expect_version, not_found, Editable, Record, Target, META_KEYS};
use crate::actor::Actor;
use crate::error::{CrmError, CrmResult, Reason};
use threadline_storage::db::{self, Conn};

/// The live record `id` of `org`; 404 when there is none or it was deleted.
pub async fn get<T: Record>(conn: &mut Conn, org: Uuid, id: Uuid) -> CrmResult<T> {
    match T::load(conn, org, &[id]).await?.pop() {
        Some(r) if r.meta().deleted_at.is_none() => Ok(r),
        Some(_) => Err(CrmError::new(
            Reason::NotFound,
            "not_found",
            format!("the {} {id} was deleted", T::KIND),
        )),
        None => Err(not_found(T::KIND, id)),
    }
}

/// Creates a record from a checked input; returns it.
pub async fn create<T: Editable>(conn: &mut Conn, actor: &Actor, valid: &T::Valid) -> CrmResult<T> {
    let id = db::new_id();
    T::save(conn, actor, id, Target::New, valid).await?;
    get(conn, actor.org_id, id).await
}

/// Changes the live record `id`, which must be at `expected_version` (the version the
/// change was made from: the API's If-Match, a form's hidden version); returns it. A stale
/// version is refused ([`Reason::StaleVersion`]) before the input's faults.
pub async fn update<T: Editable>(
    conn: &mut Conn,
    actor: &Actor,
    id: Uuid,
    expected_version: i64,
    valid: &T::Valid,
) -> CrmResult<T> {
    expect_version(conn, T::KIND, actor.org_id, id, expected_version).await?;
    T::save(
        conn,
        actor,
        id,
        Target::Existing { expected_version },
        valid,
    )
    .await?;
    get(conn, actor.org_id, id).await
}

/// The input fields of `current` with `changes` merged in as a JSON merge patch (RFC 7396:
/// `null` clears a field): the body of a whole input, to parse as `T::Input`.
pub fn merged<T: Record>(current: &T, changes: &Value) -> CrmResult<Value> {
    let mut merged = serde_json::to_value(current)
        .map_err(|e| CrmError::internal(format!("cannot serialise a record: {e}")))?;
    if let Some(object) = merged.as_object_mut() {
        for key in META_KEYS.iter().chain(T::DERIVED) {
            object.remove(*key);
        }
    }
    merge_patch(&mut merged, changes);
    Ok(merged)
}

/// RFC 7396.
fn merge_patch(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (key, value) in p {
                if value.is_null() {
                    t.remove(key);
                } else {
                    merge_patch(t.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_merge_patch_sets_replaces_and_clears() {
        let mut target =
            json!({"name": "Acme", "phone": "1", "price": {"amount_minor": 5, "currency": "EUR"}});
        merge_patch(
            &mut target,
            &json!({"name": "Acme 2", "phone": null, "price": {"amount_minor": 7}}),
        );
        assert_eq!(
            target,
            json!({"name": "Acme 2", "price": {"amount_minor": 7, "currency": "EUR"}})
        );
    }
}
