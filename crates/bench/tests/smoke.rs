//! The benchmark's tools on a tiny dataset, so that they cannot rot: seed, read back through
//! the API, both lookup sides under load (agreeing on every answer), the pages (signed in,
//! each checked against the model's records, with and without an index), file transfers. On the
//! engine the tests run on (`THREADLINE_TEST_DATABASE_URL`, as the server's tests), against
//! the server's router served in-process over loopback.

use std::sync::Arc;
use std::time::Duration;

use threadline_bench::api::Api;
use threadline_bench::dataset::Dataset;
use threadline_bench::files::{self, FilePlan};
use threadline_bench::lookup::{self, HttpLookup, Load, RawLookup};
use threadline_bench::pages::{self, PageLoad, TimelinePlan};
use threadline_bench::{seed, verify, workload};
use threadline_server::testing::TestDatabase;
use threadline_server::AppState;

const DATA: Dataset = Dataset {
    seed: 42,
    contacts: 1_200,
    companies: 300,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tools_work_end_to_end_on_a_tiny_dataset() {
    let database = TestDatabase::create();
    let db = database.open().await;
    let seeded = seed::seed(&db, &DATA, &|_| {}).await.expect("seeded");

    // The data as the API sees it.
    let counted: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM contact_emails")
        .fetch_one(db.pool())
        .await
        .unwrap();
    let expected: usize = (0..DATA.contacts)
        .map(|i| DATA.contact(i).emails.len())
        .sum();
    assert_eq!(counted as usize, expected);
    let changes: i64 = sqlx::query_scalar("SELECT MAX(seq) FROM changes")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(changes as u64, DATA.contacts + DATA.companies);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    // The tools drive one token hard: the per-token rate limit is lifted (as the benchmarks'
    // server processes do), so that they are checked, not the limiter.
    let lifted = threadline_server::rate_limit::RateLimits {
        per_second: std::num::NonZeroU32::new(1_000_000).unwrap(),
        burst: std::num::NonZeroU32::new(1_000_000).unwrap(),
    };
    let app = threadline_server::router(
        AppState::with_data_dir(db.clone(), database.data_dir()).with_rate_limits(lifted),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });

    let api = Api::new(&base, &seeded.token);
    let checked = verify::dataset_through_api(&api, &DATA)
        .await
        .expect("the seeded data reads back through the API");
    assert_eq!(checked, 7 + 3 + 1);

    // A second seed into the same database is refused, by name of the problem.
    let again = seed::seed(&db, &DATA, &|_| {}).await.unwrap_err();
    assert!(again.to_string().contains("already has 1 user"), "{again}");

    let batches = Arc::new(workload::batches(&DATA, 9, 64, 20));
    let http = Arc::new(HttpLookup::new(&base, &seeded.token, 4));
    let raw = Arc::new(RawLookup::new(db.clone(), seeded.org_id, seeded.user_id));
    let verdicts = lookup::check_same_answers(&http, &raw, &batches)
        .await
        .expect("the raw queries find what the API finds");
    assert_eq!(verdicts.own, 64, "{verdicts:?}");
    assert!(verdicts.known > 64 * 9, "{verdicts:?}");
    assert!(
        verdicts.unknown_with_existing_company >= 64 * 4,
        "{verdicts:?}"
    );

    let load = Load {
        clients: 4,
        warmup: Duration::from_millis(100),
        measure: Duration::from_millis(400),
    };
    for side in [http.clone() as Arc<dyn lookup::Lookup>, raw] {
        let (summary, all) = lookup::run(side, batches.clone(), load).await;
        assert!(all >= summary.requests, "{summary:?}");
        assert_eq!(summary.errors, 0, "{summary:?}");
        assert!(summary.requests > 0, "{summary:?}");
        assert!(
            summary.p50_ms > 0.0 && summary.p50_ms <= summary.p99_ms,
            "{summary:?}"
        );
    }

    // The pages: prepared twice (the second time finds everything made), measured without
    // and with an index, which is there again afterwards.
    let plan = TimelinePlan { entries: 30 };
    pages::prepare(&db, &DATA, TimelinePlan { entries: 10 }, &|_| {})
        .await
        .expect("prepared");
    let prepared = pages::prepare(&db, &DATA, plan, &|_| {})
        .await
        .expect("prepared again");
    assert_eq!(prepared.timeline_entries, 30);
    let index = "contacts_org_name_idx".to_string();
    let definition = pages::index_definition(&db, &index).await.unwrap();
    assert!(definition.is_some());
    let load = PageLoad {
        warmup: 1,
        requests: 5,
        budget: Duration::from_millis(200),
    };
    let (before, after) =
        pages::measure_without_and_with(&db, &base, &prepared, load, &[index.clone()], &|_| {})
            .await
            .expect("the pages, without and with the index");
    assert_eq!(
        pages::index_definition(&db, &index).await.unwrap(),
        definition
    );
    for reports in [&before, &after] {
        let shown: Vec<usize> = reports.iter().map(|r| r.shown).collect();
        // 25 contacts; some with the hit's last name; none; the company's one contact and
        // 20 of its 30 timeline entries.
        assert_eq!((shown[0], shown[2], shown[3]), (25, 0, 21), "{reports:#?}");
        assert!(shown[1] >= 1, "{reports:#?}");
        for r in reports.iter() {
            assert_eq!((r.raw.requests, r.http.requests), (5, 5), "{r:#?}");
            assert!(r.raw.p50_ms > 0.0 && r.raw.p50_ms <= r.raw.p95_ms, "{r:#?}");
            assert!(r.ratio_p50 > 0.0 && r.html_bytes > 1000, "{r:#?}");
        }
    }
    let markdown = pages::markdown("SQLite", &after);
    assert_eq!(markdown.lines().count(), 4, "{markdown}");

    let report = files::run(
        &base,
        &seeded.token,
        Some(std::process::id()),
        FilePlan {
            sizes: [64 * 1024, 1024 * 1024],
            reps: 2,
        },
    )
    .await
    .expect("the file transfers");
    assert_eq!(report.sizes.len(), 2);
    for size in &report.sizes {
        assert!(
            size.upload_mib_s > 0.0 && size.download_mib_s > 0.0,
            "{size:?}"
        );
        assert!(size.raw_copy_mib_s > 0.0, "{size:?}");
        assert!(size.peak_rss_upload_mib.unwrap() > 1.0, "{size:?}");
    }
}
