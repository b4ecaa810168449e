//! A page of a list of records: search (`q`), sort and keyset paging, forwards (`after`) and
//! backwards (`before`), by opaque cursors — what the API's lists and the web app's lists
//! share, written once over [`Record`].
//!
//! Sorts: [`Sort::Created`] (by id: creation order, as UUIDv7; the API's), [`Sort::Newest`]
//! (the reverse) and [`Sort::Name`] (the kind's name, case-insensitive, then id). Every sort
//! ends on the id, so a cursor (the last row's sort key and id) is a position that holds
//! while records are added or removed.

use uuid::Uuid;

use super::search::check_query;
use super::{decode_cursor, encode_cursor, Kind, Record};
use crate::error::{CrmError, CrmResult, Reason};
use threadline_storage::db::{id_text, parse_uuid, Conn, Sql};

/// Default and largest page size of a list.
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// How a list is ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    /// Oldest first (by id).
    #[default]
    Created,
    /// Newest first.
    Newest,
    /// By name (a contact's first and last name, a meeting's title), A to Z.
    Name,
}

impl Sort {
    pub const ALL: [Sort; 3] = [Sort::Name, Sort::Newest, Sort::Created];

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Created => "created",
            Sort::Newest => "newest",
            Sort::Name => "name",
        }
    }

    pub fn parse(s: &str) -> Option<Sort> {
        Sort::ALL.into_iter().find(|k| k.as_str() == s)
    }

    fn descending(self) -> bool {
        self == Sort::Newest
    }
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    /// 1 to [`MAX_LIMIT`]; [`DEFAULT_LIMIT`] when absent.
    pub limit: Option<u32>,
    /// The page after this cursor (a page's `next_cursor`).
    pub after: Option<String>,
    /// The page before this cursor (a page's `prev_cursor`); not with `after`.
    pub before: Option<String>,
    pub q: Option<String>,
    pub include_deleted: bool,
    pub sort: Sort,
    /// Only the records of this company (contacts and projects).
    pub company: Option<Uuid>,
}

/// A page of a list.
#[derive(Debug, Clone)]
pub struct ListPage<T> {
    pub items: Vec<T>,
    /// For `after`: the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// For `before`: the previous page; absent on the first page.
    pub prev_cursor: Option<String>,
}

/// The expression a kind's list is sorted by for [`Sort::Name`] (over `t`).
fn name_key(kind: Kind) -> &'static str {
    match kind {
        Kind::Contact => "lower(t.first_name || ' ' || t.last_name)",
        Kind::Meeting | Kind::Task => "lower(t.title)",
        Kind::TrackedEmail => "lower(t.subject)",
        Kind::Company | Kind::Project | Kind::Product => "lower(t.name)",
    }
}

fn cursor_prefix(kind: Kind, sort: Sort) -> String {
    match sort {
        // The API's cursors since the first release.
        Sort::Created => kind.as_str().to_string(),
        Sort::Newest | Sort::Name => format!("{kind}.{}", sort.as_str()),
    }
}

/// A position: the sort key (for [`Sort::Name`]) and the id.
struct Position {
    key: Option<String>,
    id: String,
}

fn decode(field: &str, kind: Kind, sort: Sort, cursor: &str) -> CrmResult<Position> {
    let value = decode_cursor(field, &cursor_prefix(kind, sort), cursor)?;
    if sort != Sort::Name {
        return Ok(Position {
            key: None,
            id: value,
        });
    }
    match value.rsplit_once('|') {
        Some((key, id)) => Ok(Position {
            key: Some(key.to_string()),
            id: id.to_string(),
        }),
        None => Err(CrmError::new(
            Reason::BadInput,
            "invalid_query",
            format!("{field} is not a cursor this server gave out"),
        )
        .with_field(field)),
    }
}

fn encode(kind: Kind, sort: Sort, (id, key): &(String, String)) -> String {
    let value = match sort {
        Sort::Name => format!("{key}|{id}"),
        Sort::Created | Sort::Newest => id.clone(),
    };
    encode_cursor(&cursor_prefix(kind, sort), &value)
}

/// A page of `T` of `org` for `params`.
pub async fn list<T: Record>(
    conn: &mut Conn,
    org: Uuid,
    params: &ListParams,
) -> CrmResult<ListPage<T>> {
    let kind = T::KIND;
    let PageQuery {
        mut sql,
        limit,
        backwards,
    } = page_query::<T>(org, params)?;
    let mut rows: Vec<(String, String)> = sql.build_query_as().fetch_all(&mut *conn).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    if backwards {
        rows.reverse();
    }
    let at = |row: Option<&(String, String)>| row.map(|r| encode(kind, params.sort, r));
    let (next_cursor, prev_cursor) = if backwards {
        (at(rows.last()), at(rows.first()).filter(|_| more))
    } else {
        (
            at(rows.last()).filter(|_| more),
            at(rows.first()).filter(|_| params.after.is_some()),
        )
    };
    let ids = rows
        .iter()
        .map(|(id, _)| Ok(parse_uuid(id)?))
        .collect::<CrmResult<Vec<Uuid>>>()?;
    let mut items = T::load(conn, org, &ids).await?;
    items.sort_by_key(|r| ids.iter().position(|id| *id == r.id()));
    Ok(ListPage {
        items,
        next_cursor,
        prev_cursor,
    })
}

/// A page's query: the ids and sort keys of `limit + 1` rows.
pub struct PageQuery {
    pub sql: Sql<'static>,
    pub limit: u32,
    /// Read backwards (`before`): the rows come in reverse.
    pub backwards: bool,
}

/// The query of [`list`]'s page (its checks of `params` included).
pub fn page_query<T: Record>(org: Uuid, params: &ListParams) -> CrmResult<PageQuery> {
    let kind = T::KIND;
    let limit = match params.limit {
        None => DEFAULT_LIMIT,
        Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            return Err(CrmError::new(
                Reason::BadInput,
                "invalid_query",
                format!("limit must be 1 to {MAX_LIMIT}"),
            )
            .with_field("limit"))
        }
    };
    let (position, backwards) = match (&params.after, &params.before) {
        (Some(_), Some(_)) => {
            return Err(CrmError::new(
                Reason::BadInput,
                "invalid_query",
                "give a cursor to go forwards or one to go back, not both",
            )
            .with_field("before"))
        }
        (Some(c), None) => (Some(decode("cursor", kind, params.sort, c)?), false),
        (None, Some(c)) => (Some(decode("before", kind, params.sort, c)?), true),
        (None, None) => (None, false),
    };
    let key = match params.sort {
        Sort::Name => name_key(kind),
        Sort::Created | Sort::Newest => "t.id",
    };
    let descending = params.sort.descending() != backwards;
    let (cmp, dir) = if descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    let mut sql = Sql::new(format!(
        "SELECT t.id, {key} FROM {} t WHERE t.org_id = ",
        kind.table()
    ));
    sql.push_bind(id_text(org));
    if !params.include_deleted {
        sql.push(" AND t.deleted_at IS NULL");
    }
    if let Some(company) = params.company {
        if !matches!(kind, Kind::Contact | Kind::Project) {
            return Err(CrmError::new(
                Reason::BadInput,
                "invalid_query",
                format!("a {kind} belongs to no company"),
            )
            .with_field("company"));
        }
        sql.push(" AND t.company_id = ").push_bind(id_text(company));
    }
    match position {
        None => {}
        Some(Position { key: None, id }) => {
            sql.push(&format!(" AND t.id {cmp} ")).push_bind(id);
        }
        Some(Position { key: Some(k), id }) => {
            sql.push(&format!(" AND ({key} {cmp} "))
                .push_bind(k.clone())
                .push(&format!(" OR ({key} = "))
                .push_bind(k)
                .push(&format!(" AND t.id {cmp} "))
                .push_bind(id)
                .push("))");
        }
    }
    if let Some(q) = params.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        check_query(q)?;
        T::search(&mut sql, org, q)?;
    }
    sql.push(&format!(" ORDER BY {key} {dir}, t.id {dir} LIMIT "))
        .push_bind(i64::from(limit) + 1);
    Ok(PageQuery {
        sql,
        limit,
        backwards,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::companies::Company;
    use crate::records::contacts::Contact;
    use crate::records::projects::Project;
    use threadline_storage::db::{self, Engine};

    /// The plan of `T`'s page for `params` (the engine's steps, one per line).
    async fn plan<T: Record>(db: &db::Db, params: ListParams) -> Vec<String> {
        let query = page_query::<T>(Uuid::nil(), &params).expect("a query");
        db::query_plan(db, query.sql).await.expect("the plan")
    }

    fn sorts(engine: Engine, plan: &[String]) -> bool {
        plan.iter().any(|step| match engine {
            Engine::Sqlite => step.contains("TEMP B-TREE"),
            Engine::Postgres => step.contains("Sort"),
        })
    }

    /// On 1M contacts a list sorted by name that is not read from an index sorts the whole
    /// organisation, and a correlated subquery runs once per row (BENCHMARKS.md, "Pages").
    #[tokio::test]
    async fn pages_by_name_read_an_index_and_searches_run_each_subquery_once() {
        let test_db = threadline_storage::testing::TestDatabase::create();
        let db = test_db.open().await;
        let engine = db.engine();
        let by_name = || ListParams {
            sort: Sort::Name,
            ..ListParams::default()
        };

        let contacts = plan::<Contact>(&db, by_name()).await;
        assert!(
            contacts.iter().any(|s| s.contains("contacts_org_name_idx")),
            "{contacts:#?}"
        );
        assert!(!sorts(engine, &contacts), "{contacts:#?}");
        let companies = plan::<Company>(&db, by_name()).await;
        assert!(
            companies
                .iter()
                .any(|s| s.contains("companies_org_lower_name_idx")),
            "{companies:#?}"
        );
        assert!(!sorts(engine, &companies), "{companies:#?}");
        let company = Some(Uuid::nil());
        for (kind, plan, index) in [
            (
                "contacts",
                plan::<Contact>(
                    &db,
                    ListParams {
                        company,
                        ..by_name()
                    },
                )
                .await,
                "contacts_org_company_idx",
            ),
            (
                "projects",
                plan::<Project>(
                    &db,
                    ListParams {
                        company,
                        ..by_name()
                    },
                )
                .await,
                "projects_org_company_idx",
            ),
        ] {
            assert!(plan.iter().any(|s| s.contains(index)), "{kind}: {plan:#?}");
        }

        for (kind, plan) in [
            (
                "contacts",
                plan::<Contact>(
                    &db,
                    ListParams {
                        q: Some("ann@example.com".into()),
                        ..by_name()
                    },
                )
                .await,
            ),
            (
                "companies",
                plan::<Company>(
                    &db,
                    ListParams {
                        q: Some("example.com".into()),
                        ..by_name()
                    },
                )
                .await,
            ),
        ] {
            let correlated = |s: &String| match engine {
                Engine::Sqlite => s.contains("CORRELATED"),
                // `(hashed SubPlan 1)` runs once; `(SubPlan 1)` once per row.
                Engine::Postgres => s.contains("(SubPlan"),
            };
            assert!(
                plan.iter()
                    .any(|s| s.contains("SUBQUERY") || s.contains("SubPlan")),
                "{kind}: {plan:#?}"
            );
            assert!(!plan.iter().any(correlated), "{kind}: {plan:#?}");
        }
    }
}
