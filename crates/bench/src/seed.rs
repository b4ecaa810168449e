//! Fills an empty server database with a [`Dataset`]: one organisation, its owner (with a
//! token), the companies and the contacts, with the rows the API would write for them
//! (`companies` + `company_domains`, `contacts` + `contact_emails`, one `changes` row each).
//!
//! Fast: many rows per `INSERT` and many statements per transaction (each chunk is one
//! [`Db::write`]), through the server's own [`Db`] (its migrations made the schema).
//! Afterwards PostgreSQL gets `VACUUM ANALYZE` (what autovacuum does to a database that grew
//! through the API, here before the measurements rather than during them) and SQLite a WAL
//! checkpoint.

use std::time::Instant;

use threadline_domain::address::EmailAddress;
use threadline_server::admin::{self, OrgChoice};
use threadline_server::db::{format_time, id_text, Conn, Db, Engine, Sql};
use threadline_server::records::Col;
use threadline_server::ServerError;
use uuid::Uuid;

use crate::dataset::{Contact, Dataset};

/// The benchmark user's login address and alias (their own addresses: the lookup answers
/// `own` for them).
pub const OWNER_EMAIL: &str = "owner@threadline-bench.example";
pub const OWNER_ALIAS: &str = "owner.alias@threadline-bench.example";

/// Records per transaction.
const CHUNK: u64 = 10_000;
/// Most parameters in one statement. On SQLite, far under its limit (32 766): sqlx binds each
/// `$N` by name, and the name lookup scans the statement's parameters, so a statement's
/// binding time grows with the square of its parameters (measured: 30 000 per statement
/// spent 87 % of the seed in `sqlite3_bind_parameter_name`). PostgreSQL has no such cost;
/// there, fewer round trips win (its limit is 65 535).
/// 1 GiB (negative: in KiB), for this connection only.
const SEED_CACHE_PRAGMA: &str = "PRAGMA cache_size = -1048576";

fn max_params(engine: Engine) -> usize {
    match engine {
        Engine::Sqlite => 1_000,
        Engine::Postgres => 20_000,
    }
}

/// What the seed made besides the dataset.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub org_id: Uuid,
    pub user_id: Uuid,
    /// The owner's API token (shown once, like the CLI's).
    pub token: String,
}

/// Seeds `db`, which must have no user yet. `progress` hears about each step.
pub async fn seed(db: &Db, data: &Dataset, progress: &dyn Fn(&str)) -> Result<Seeded, ServerError> {
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(db.pool())
        .await?;
    if users > 0 {
        return Err(ServerError::Invalid(format!(
            "the database already has {users} user(s): seed an empty database (a new data \
             directory or a new PostgreSQL database)"
        )));
    }
    let owner = admin::add_user(
        db,
        OrgChoice::New("Threadline bench".into()),
        OWNER_EMAIL,
        "Bench Owner",
        &[OWNER_ALIAS.to_string()],
    )
    .await?;
    let org = id_text(owner.org_id);
    insert_in_chunks(db, "companies", data.companies, progress, |range| {
        company_rows(data, &org, range)
    })
    .await?;
    insert_in_chunks(db, "contacts", data.contacts, progress, |range| {
        contact_rows(data, &org, range)
    })
    .await?;

    let started = Instant::now();
    match db.engine() {
        Engine::Postgres => {
            for table in [
                "companies",
                "company_domains",
                "contacts",
                "contact_emails",
                "changes",
            ] {
                sqlx::query(&format!("VACUUM (ANALYZE) {table}"))
                    .execute(db.pool())
                    .await?;
            }
            progress(&format!(
                "VACUUM ANALYZE in {:.1} s",
                started.elapsed().as_secs_f64()
            ));
        }
        Engine::Sqlite => {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(db.pool())
                .await?;
        }
    }
    Ok(Seeded {
        org_id: owner.org_id,
        user_id: owner.id,
        token: owner.token.token,
    })
}

/// Inserts `count` records, [`CHUNK`] per transaction, `rows` making each chunk's rows.
async fn insert_in_chunks(
    db: &Db,
    what: &str,
    count: u64,
    progress: &dyn Fn(&str),
    rows: impl Fn(std::ops::Range<u64>) -> Rows,
) -> Result<(), ServerError> {
    let started = Instant::now();
    for first in (0..count).step_by(CHUNK as usize) {
        let last = (first + CHUNK).min(count);
        let rows = rows(first..last);
        db.write(|tx| Box::pin(insert_all(tx, db.engine(), &rows)))
            .await?;
        if last % (CHUNK * 20) == 0 || last == count {
            let seconds = started.elapsed().as_secs_f64();
            progress(&format!("{last} {what} in {seconds:.1} s"));
        }
    }
    Ok(())
}

/// Rows for some tables: `(table, columns, rows)`.
type Rows = Vec<(&'static str, &'static [&'static str], Vec<Vec<Col>>)>;

const CHANGE_COLUMNS: &[&str] = &[
    "org_id",
    "seq",
    "record_kind",
    "record_id",
    "version",
    "deleted",
    "changed_at",
];

/// The feed's row for a record: companies take seqs 1..=companies, contacts the next ones
/// (the order they were created in).
fn change_row(
    org: &str,
    seq: u64,
    kind: &str,
    id: Uuid,
    version: i64,
    changed_at: String,
    deleted: bool,
) -> Vec<Col> {
    vec![
        org.to_string().into(),
        (seq as i64).into(),
        kind.to_string().into(),
        id_text(id).into(),
        version.into(),
        deleted.into(),
        changed_at.into(),
    ]
}

fn company_rows(data: &Dataset, org: &str, range: std::ops::Range<u64>) -> Rows {
    let (mut companies, mut domains, mut changes) = (Vec::new(), Vec::new(), Vec::new());
    for i in range {
        let c = data.company(i);
        let at = format_time(c.created_at);
        companies.push(vec![
            id_text(c.id).into(),
            org.to_string().into(),
            c.name.into(),
            Some(c.domain.clone()).into(),
            at.clone().into(),
            at.clone().into(),
            1i64.into(),
        ]);
        domains.push(vec![
            id_text(c.id).into(),
            org.to_string().into(),
            0i64.into(),
            c.domain.into(),
        ]);
        changes.push(change_row(org, i + 1, "company", c.id, 1, at, false));
    }
    vec![
        (
            "companies",
            &[
                "id",
                "org_id",
                "name",
                "domain",
                "created_at",
                "updated_at",
                "version",
            ],
            companies,
        ),
        (
            "company_domains",
            &["company_id", "org_id", "position", "domain"],
            domains,
        ),
        ("changes", CHANGE_COLUMNS, changes),
    ]
}

fn contact_rows(data: &Dataset, org: &str, range: std::ops::Range<u64>) -> Rows {
    let (mut contacts, mut emails, mut changes) = (Vec::new(), Vec::new(), Vec::new());
    for i in range {
        let c: Contact = data.contact(i);
        let created = format_time(c.created_at);
        let updated = format_time(c.updated_at());
        let company_id = c.company.map(|k| id_text(data.company(k).id));
        contacts.push(vec![
            id_text(c.id).into(),
            org.to_string().into(),
            c.first_name.clone().into(),
            c.last_name.clone().into(),
            company_id.into(),
            created.clone().into(),
            updated.clone().into(),
            c.job_title.clone().into(),
            "[]".to_string().into(),
            c.version().into(),
            c.deleted_at.map(format_time).into(),
        ]);
        for (position, address) in c.emails.iter().enumerate() {
            let key = EmailAddress::parse(address)
                .map(|a| a.match_key())
                .unwrap_or_else(|e| panic!("the dataset made an invalid address {address}: {e}"));
            emails.push(vec![
                id_text(c.id).into(),
                org.to_string().into(),
                (position as i64).into(),
                address.clone().into(),
                key.into(),
            ]);
        }
        let seq = data.companies + i + 1;
        changes.push(change_row(
            org,
            seq,
            "contact",
            c.id,
            c.version(),
            updated,
            c.deleted_at.is_some(),
        ));
    }
    vec![
        (
            "contacts",
            &[
                "id",
                "org_id",
                "first_name",
                "last_name",
                "company_id",
                "created_at",
                "updated_at",
                "job_title",
                "phones",
                "version",
                "deleted_at",
            ],
            contacts,
        ),
        (
            "contact_emails",
            &["contact_id", "org_id", "position", "address", "match_key"],
            emails,
        ),
        ("changes", CHANGE_COLUMNS, changes),
    ]
}

/// Every row of `rows`, table by table (in order: parents first), in multi-row INSERTs.
async fn insert_all(conn: &mut Conn, engine: Engine, rows: &Rows) -> Result<(), ServerError> {
    if engine == Engine::Sqlite {
        // A page cache that holds the indexes being filled (the default is 2 MiB): the
        // inserts into `contact_emails (org_id, match_key)` land all over the index, and
        // with the default cache each one reads its pages back from the OS.
        sqlx::query(SEED_CACHE_PRAGMA).execute(&mut *conn).await?;
    }
    let max_params = max_params(engine);
    for (table, columns, values) in rows {
        let per_statement = (max_params / columns.len()).max(1);
        for chunk in values.chunks(per_statement) {
            let mut sql = Sql::new(format!(
                "INSERT INTO {table} ({}) VALUES ",
                columns.join(", ")
            ));
            for (i, row) in chunk.iter().enumerate() {
                sql.push(if i == 0 { "(" } else { ", (" });
                for (j, value) in row.iter().enumerate() {
                    if j > 0 {
                        sql.push(", ");
                    }
                    match value {
                        Col::Text(v) => sql.push_bind(v.clone()),
                        Col::Int(v) => sql.push_bind(*v),
                    };
                }
                sql.push(")");
            }
            sql.build().execute(&mut *conn).await?;
        }
    }
    Ok(())
}
