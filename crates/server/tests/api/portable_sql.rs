//! The rules of portable SQL (`threadline_server::db`), checked on the engine the tests run
//! on: each holds on SQLite and on PostgreSQL alike, so code written to them behaves the same
//! on both.

use axum::http::StatusCode;
use sqlx::Executor;
use threadline_server::db::{self, Db, Engine};
use threadline_server::error::{is_transient, is_unique_violation};
use threadline_server::testing::TestDatabase;
use threadline_server::ApiError;

/// A database with one organisation per `(name, created_at)`.
async fn organisations<N: AsRef<str>, T: AsRef<str>>(names: &[(N, T)]) -> (TestDatabase, Db) {
    let test_db = TestDatabase::create();
    let db = test_db.open().await;
    for (name, created_at) in names {
        sqlx::query("INSERT INTO organisations (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(db::id_text(db::new_id()))
            .bind(name.as_ref())
            .bind(created_at.as_ref())
            .execute(db.pool())
            .await
            .unwrap();
    }
    (test_db, db)
}

const T0: &str = "2025-01-01T00:00:00.000000Z";

/// A database with the organisation "Ours"; its id.
async fn one_organisation() -> (TestDatabase, Db, String) {
    let (test_db, db) = organisations(&[("Ours", T0)]).await;
    let id = sqlx::query_scalar("SELECT id FROM organisations")
        .fetch_one(db.pool())
        .await
        .unwrap();
    (test_db, db, id)
}

async fn insert_company(
    db: &Db,
    org_id: &str,
    name: &str,
    domain: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO companies (id, org_id, name, domain, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(db::id_text(db::new_id()))
    .bind(org_id)
    .bind(name)
    .bind(domain)
    .bind(T0)
    .execute(db.pool())
    .await
    .map(drop)
}

#[tokio::test]
async fn text_sorts_by_bytes_and_lower_changes_ascii_only() {
    let names = ["b", "B", "a", "É", "e", "Z", "ä", "a.b", "ab", "a-c"];
    let (_t, db) = organisations(&names.map(|n| (n, T0))).await;
    let sorted: Vec<String> = sqlx::query_scalar("SELECT name FROM organisations ORDER BY name")
        .fetch_all(db.pool())
        .await
        .unwrap();
    let mut by_bytes: Vec<String> = names.iter().map(ToString::to_string).collect();
    by_bytes.sort();
    assert_eq!(sorted, by_bytes);

    let lowered: String =
        sqlx::query_scalar("SELECT lower(name) FROM organisations WHERE name = $1")
            .bind("É")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(lowered, "É", "lower() changes ASCII letters only");

    // Equality is exact; a case-insensitive match lowers both sides.
    let exact: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organisations WHERE name = $1")
        .bind("A")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(exact, 0);
    let mut like: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM organisations WHERE lower(name) LIKE lower($1) ESCAPE '\\' ORDER BY name",
    )
    .bind("A%")
    .fetch_all(db.pool())
    .await
    .unwrap();
    like.sort();
    assert_eq!(like, ["a", "a-c", "a.b", "ab"]);
    let escaped: Vec<String> =
        sqlx::query_scalar("SELECT name FROM organisations WHERE name LIKE $1 ESCAPE '\\'")
            .bind("a\\_c")
            .fetch_all(db.pool())
            .await
            .unwrap();
    assert!(
        escaped.is_empty(),
        "an escaped _ is a plain character: {escaped:?}"
    );
}

#[tokio::test]
async fn stored_timestamps_sort_as_times() {
    let times = [
        chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00.5+00:00").unwrap(),
        chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00+00:00").unwrap(),
        chrono::DateTime::parse_from_rfc3339("2024-12-31T23:59:59.999999+00:00").unwrap(),
        chrono::DateTime::parse_from_rfc3339("2025-01-01T01:00:00.000001+01:00").unwrap(),
    ]
    .map(|t| t.with_timezone(&chrono::Utc));
    let stored: Vec<String> = times.iter().map(|t| db::format_time(*t)).collect();
    assert!(stored.iter().all(|s| s.len() == T0.len()), "{stored:?}");
    let rows: Vec<(String, &String)> = stored
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("org {i}"), s))
        .collect();
    let (_t, db) = organisations(&rows).await;
    let by_text: Vec<String> =
        sqlx::query_scalar("SELECT created_at FROM organisations ORDER BY created_at")
            .fetch_all(db.pool())
            .await
            .unwrap();
    let mut by_time = times.to_vec();
    by_time.sort();
    let by_time: Vec<String> = by_time.into_iter().map(db::format_time).collect();
    assert_eq!(by_text, by_time);
}

#[tokio::test]
async fn integers_nulls_conflicts_and_returning() {
    let (_t, db, id) = one_organisation().await;

    // A condition as a value: CASE … THEN 1 ELSE 0, read as an i64; SUM cast to BIGINT.
    let (flag, total): (i64, i64) = sqlx::query_as(
        "SELECT CASE WHEN name = $1 THEN 1 ELSE 0 END, CAST(SUM(LENGTH(name)) AS BIGINT)
         FROM organisations GROUP BY name",
    )
    .bind("Ours")
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!((flag, total), (1, 4));

    // ON CONFLICT … DO NOTHING with RETURNING: no row for an existing key, a row for a new one.
    let fresh_id = db::id_text(db::new_id());
    for (key, inserted) in [(&id, None), (&fresh_id, Some(&fresh_id))] {
        let returned: Option<String> = sqlx::query_scalar(
            "INSERT INTO organisations (id, name, created_at) VALUES ($1, 'Other', $2)
             ON CONFLICT (id) DO NOTHING RETURNING id",
        )
        .bind(key)
        .bind(T0)
        .fetch_optional(db.pool())
        .await
        .unwrap();
        assert_eq!(returned.as_ref(), inserted);
    }

    // NULLs placed explicitly (their default place differs between the engines).
    insert_company(&db, &id, "A", Some("a.com")).await.unwrap();
    insert_company(&db, &id, "B", None).await.unwrap();
    for (nulls, expected) in [("NULLS LAST", ["A", "B"]), ("NULLS FIRST", ["B", "A"])] {
        let names: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT name FROM companies ORDER BY domain {nulls}"
        ))
        .fetch_all(db.pool())
        .await
        .unwrap();
        assert_eq!(names, expected);
    }
}

#[tokio::test]
async fn constraint_violations_look_the_same() {
    let (_t, db, id) = one_organisation().await;
    let duplicate =
        sqlx::query("INSERT INTO organisations (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(&id)
            .bind("Twin")
            .bind(T0)
            .execute(db.pool())
            .await
            .unwrap_err();
    assert!(is_unique_violation(&duplicate), "{duplicate:?}");
    assert!(!is_transient(&duplicate));

    // Foreign keys are enforced on both.
    let orphan = insert_company(&db, &db::id_text(db::new_id()), "Nobody's", None)
        .await
        .unwrap_err();
    match &orphan {
        sqlx::Error::Database(e) => assert!(e.is_foreign_key_violation(), "{orphan:?}"),
        other => panic!("not a database error: {other:?}"),
    }
}

/// Two writers that conflict: the second one's error is transient, and the API answers it
/// 503 `unavailable` (after `Db::write` has retried it in vain).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_are_transient_and_answered_503() {
    let (_t, db) = organisations(&[("Ours", T0)]).await;
    let conflict = match db.engine() {
        // A writer holds the lock, and the other one does not wait for it.
        Engine::Sqlite => {
            let mut first = db.pool().begin().await.unwrap();
            first
                .execute("UPDATE organisations SET name = 'First'")
                .await
                .unwrap();
            let mut second = db.pool().acquire().await.unwrap().detach();
            second.execute("PRAGMA busy_timeout = 0").await.unwrap();
            let error = second
                .execute("UPDATE organisations SET name = 'Second'")
                .await
                .unwrap_err();
            first.commit().await.unwrap();
            error
        }
        // Write skew: each reads what the other writes; the second to commit fails.
        Engine::Postgres => {
            let serializable = "BEGIN ISOLATION LEVEL SERIALIZABLE";
            let mut first = db.pool().begin_with(serializable).await.unwrap();
            let mut second = db.pool().begin_with(serializable).await.unwrap();
            let count = "SELECT COUNT(*) FROM organisations";
            let _: i64 = sqlx::query_scalar(count)
                .fetch_one(&mut *first)
                .await
                .unwrap();
            let _: i64 = sqlx::query_scalar(count)
                .fetch_one(&mut *second)
                .await
                .unwrap();
            let insert = "INSERT INTO organisations (id, name, created_at) VALUES ($1, 'x', $2)";
            for tx in [&mut first, &mut second] {
                sqlx::query(insert)
                    .bind(db::id_text(db::new_id()))
                    .bind(T0)
                    .execute(&mut **tx)
                    .await
                    .unwrap();
            }
            first.commit().await.unwrap();
            second.commit().await.unwrap_err()
        }
    };
    assert!(is_transient(&conflict), "{conflict:?}");
    let answer = ApiError::Database(conflict);
    assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.body().error.code, "unavailable");
}

#[tokio::test]
async fn a_postgres_database_without_the_c_locale_is_refused() {
    // C.UTF-8 sorts by bytes but lowers every letter: not SQLite's rules.
    let options = "TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'";
    let Some(test_db) = TestDatabase::new_postgres_with(options) else {
        assert_eq!(threadline_server::testing::engine(), Engine::Sqlite);
        return; // Nothing to check on SQLite: its rules are the reference.
    };
    let refused = Db::open(test_db.location()).await.unwrap_err().to_string();
    assert!(refused.contains("LOCALE 'C'"), "{refused}");
    assert!(refused.contains("C.UTF-8"), "{refused}");
}
