//! `import contacts --csv`: real export files and hostile rows, imported into the test
//! database (SQLite, or PostgreSQL with THREADLINE_TEST_DATABASE_URL); what was stored is
//! read back through the API, what was rejected from the report and the rejects file.

use serde_json::Value;
use threadline_server::import::report::Report;
use threadline_server::import::{importer, Import, Options, Source};

use crate::common::TestApp;

const GOOGLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/import/google-contacts.csv"
);
const OUTLOOK: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/import/outlook-contacts.csv"
);

/// Imports `csv` into the app's organisation; the report and the rejects file's text.
async fn import(app: &TestApp, csv: Vec<u8>, options: Options) -> (Report, Vec<u8>) {
    let auth = importer(&app.db, None, Some(app.org_id))
        .await
        .expect("the importing user");
    let mut import = Import::start(Source::bytes(csv), b',').expect("a readable header");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rejects.csv");
    import
        .write_rejects_to(Box::new(std::fs::File::create(&path).unwrap()))
        .unwrap();
    let mut report = Report::default();
    import
        .run(&app.db, &auth, options, &mut report)
        .await
        .expect("the import runs to the end");
    (report, std::fs::read(&path).unwrap())
}

/// The one live contact found by the search `q` (an address).
async fn contact(app: &TestApp, q: &str) -> Value {
    let answer = app.get(&format!("/api/v1/contacts?q={q}")).await;
    let items = answer.body["items"].as_array().expect("a list").clone();
    assert_eq!(items.len(), 1, "one contact for {q}: {}", answer.body);
    items[0].clone()
}

fn rows_of(report: &Report, reason: &str) -> Vec<u64> {
    report
        .groups
        .iter()
        .find(|g| g.reason == reason)
        .map(|g| g.rows.first.iter().map(|(row, _)| *row).collect())
        .unwrap_or_default()
}

fn detail(report: &Report, reason: &str) -> String {
    let group = report.groups.iter().find(|g| g.reason == reason);
    group.map(|g| g.rows.first[0].1.clone()).unwrap_or_default()
}

async fn changes_of_kind(app: &TestApp, kind: &str) -> usize {
    let answer = app.get("/api/v1/changes?limit=200").await;
    answer.body["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["kind"] == kind)
        .count()
}

#[tokio::test]
async fn a_google_contacts_export_is_imported_through_the_apis_rules() {
    let app = TestApp::new().await;
    app.contact("Zoe", "Existing", &["zoe@existing.example"], None)
        .await;
    let csv = std::fs::read(GOOGLE).unwrap();
    let (report, rejects) = import(&app, csv.clone(), Options::default()).await;

    assert_eq!(report.rows_read, 12);
    assert_eq!(report.imported, 5, "{}", report.summary());
    assert_eq!(report.companies_created, 3, "{}", report.summary());
    assert_eq!(
        report.existing.first,
        vec![9],
        "Zoe's address is a contact's already"
    );
    assert_eq!(
        report.repeated.first,
        vec![(8, 2), (12, 2)],
        "Ann's work address again, and her Gmail address written without dots"
    );
    assert_eq!(report.blank_rows, 1);
    assert_eq!(report.rejected, 3);
    assert_eq!(rows_of(&report, "invalid \"E-mail 1 - Value\""), vec![6]);
    assert!(detail(&report, "invalid \"E-mail 1 - Value\"")
        .contains("\"eve@\" is not a valid email address"));
    assert_eq!(rows_of(&report, "no email address"), vec![7]);
    assert_eq!(rows_of(&report, "invalid \"Phone 1 - Value\""), vec![10]);
    assert!(detail(&report, "invalid \"Phone 1 - Value\"")
        .contains("\"call me\" is not a phone number"));

    // Ann: the starred work address is primary; phones, title, notes (quotes, newline) kept;
    // her company gets the domain of her address, which matches its name.
    let ann = contact(&app, "ann.lee@acme-corp.com").await;
    assert_eq!(ann["first_name"], "Ann");
    assert_eq!(ann["last_name"], "Lee");
    assert_eq!(
        ann["emails"],
        serde_json::json!(["ann.lee@acme-corp.com", "ann.lee@gmail.com"])
    );
    assert_eq!(ann["job_title"], "Head of Sales");
    assert_eq!(
        ann["notes"],
        "Met at the \"Spring Fair\", 2024.\nLikes short emails."
    );
    assert_eq!(
        ann["phones"],
        serde_json::json!([{"number": "+1 555 0100", "label": "mobile"}, {"number": "+1 555 0101", "label": "mobile"}])
    );
    assert_eq!(ann["company"]["name"], "Acme Corp");
    // Bob's "ACME Corporation" on the same domain is the same company.
    let bob = contact(&app, "bob@acme-corp.com").await;
    assert_eq!(bob["company_id"], ann["company_id"]);
    assert_eq!(
        bob["phones"][0],
        serde_json::json!({"number": "(555) 010-2000 ext. 12", "label": "work"})
    );
    // A consultant's domain is not given to the client's company.
    let carla = contact(&app, "carla@bigconsult.com").await;
    let globex = app
        .get(&format!(
            "/api/v1/companies/{}",
            carla["company_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(globex.body["name"], "Globex");
    assert_eq!(globex.body["domains"], serde_json::json!([]));
    let acme = app
        .get(&format!(
            "/api/v1/companies/{}",
            ann["company_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(acme.body["domains"], serde_json::json!(["acme-corp.com"]));
    // Several addresses in one cell (Google's ` ::: `).
    let dan = contact(&app, "dan@initech.io").await;
    assert_eq!(
        dan["emails"],
        serde_json::json!(["dan@initech.io", "dan.ek@gmail.com"])
    );
    assert_eq!(dan["company"], Value::Null);
    // An internationalised domain is stored in its ASCII form, as the API does.
    let hana = contact(&app, "Kobayashi").await;
    assert!(
        hana["primary_email"]
            .as_str()
            .unwrap()
            .starts_with("hana@xn--mller-shne-"),
        "{hana}"
    );
    assert_eq!(hana["company"]["name"], "Müller & Söhne");

    assert_eq!(app.count("contacts").await, 6, "Zoe and the five imported");
    // The changes feed sees the imported records as it sees the API's.
    assert_eq!(changes_of_kind(&app, "contact").await, 6);
    assert_eq!(changes_of_kind(&app, "company").await, 3);

    // The rejects file: row, reason, then the row as it was, re-importable.
    let mut reader = csv::Reader::from_reader(rejects.as_slice());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "row");
    assert_eq!(&headers[1], "reason");
    assert_eq!(&headers[2], "First Name");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(
        rows.iter().map(|r| r[0].to_string()).collect::<Vec<_>>(),
        ["6", "7", "10"]
    );
    assert!(
        rows[1][1].starts_with("no email address: "),
        "{:?}",
        &rows[1][1]
    );
    assert_eq!(&rows[0][2], "Eve");

    // Again: nothing new, everything already there.
    let (again, _) = import(&app, csv, Options::default()).await;
    assert_eq!(again.imported, 0);
    assert_eq!(again.companies_created, 0);
    assert_eq!(again.existing.count, 6, "{}", again.summary());
    assert_eq!(again.rejected, 3);
    assert_eq!(app.count("contacts").await, 6);
    assert_eq!(app.count("companies").await, 3);
}

#[tokio::test]
async fn an_outlook_export_with_a_bom() {
    let app = TestApp::new().await;
    let csv = std::fs::read(OUTLOOK).unwrap();
    assert!(csv.starts_with(b"\xef\xbb\xbf"));
    let (report, _) = import(&app, csv, Options::default()).await;
    assert_eq!(
        (report.imported, report.rejected, report.companies_created),
        (2, 0, 1),
        "{}",
        report.summary()
    );
    let ivy = contact(&app, "ivy.moss@umbrella.co.uk").await;
    assert_eq!(
        ivy["first_name"], "Ivy",
        "the BOM is not part of the first header"
    );
    assert_eq!(ivy["job_title"], "Researcher");
    assert_eq!(
        ivy["emails"],
        serde_json::json!(["ivy.moss@umbrella.co.uk", "ivy@home.example"])
    );
    assert_eq!(
        ivy["phones"],
        serde_json::json!([{"number": "+44 113 496 0000", "label": "work"}, {"number": "07700 900123", "label": "mobile"}])
    );
    let company = app
        .get(&format!(
            "/api/v1/companies/{}",
            ivy["company_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(company.body["name"], "Umbrella Ltd");
    assert_eq!(
        company.body["domains"],
        serde_json::json!(["umbrella.co.uk"])
    );
}

/// Our own columns, with what real files contain: a BOM, quotes and newlines, a huge
/// field, bytes that are not UTF-8, a row longer than the header, blank rows, repeated
/// addresses, the address of an existing and of a deleted contact.
fn hostile_csv() -> Vec<u8> {
    let mut csv = Vec::new();
    csv.extend_from_slice(
        "\u{feff}first_name,last_name,email,email_2,phone,job_title,company,company_domain,notes\n"
            .as_bytes(),
    );
    let mut line = |s: &str| {
        csv.extend_from_slice(s.as_bytes());
        csv.push(b'\n');
    };
    line("\"Quote, \"\"Q\"\"\",Smith,q@quotes.example,,,\"Chief \"\"Everything\"\" Officer\",,,\"line one\nline two, with comma\""); // 2
    line(&format!(
        "Long,Notes,long@x.example,,,,,,{}",
        "n".repeat(150_000)
    )); // 3
    line(&format!("{},Short,toolong@x.example", "L".repeat(250))); // 4
    line("Extra,Fields,extra@x.example,,,,,,,surplus"); // 5
    line(",,,,,,,,"); // 6
    line("Dup,Primary,DUP@x.example;second@x.example"); // 7
    line("Dup2,Again,second@x.example"); // 8
    line("Ex,Isting,bob@acme.com"); // 9
    line("Del,Eted,deleted@x.example"); // 10
    line("Multi,Sep,\"a@multi.example, b@multi.example\""); // 11
    line("Co,Domain,co@other.example,,,,,acme.com"); // 12
    line("Same,Twice,same@x.example;SAME@x.example"); // 13
    line("Gmail,Variant,a.b.c@gmail.com,abc@gmail.com"); // 14
    line("Trailing,Commas,trailing@x.example,,,,,,,,,"); // 15
    csv.extend_from_slice(b"Bad,Bytes,bad@x.example,,,,\xff\xfeCorp,,\n"); // 16
    csv.extend_from_slice(b"Last,Row,last@x.example"); // 17, no final newline
    csv
}

#[tokio::test]
async fn hostile_rows_are_rejected_with_their_row_and_column_and_the_rest_imported() {
    let app = TestApp::new().await;
    app.bob_at_acme().await;
    let deleted = app
        .contact("Old", "Gone", &["deleted@x.example"], None)
        .await;
    let gone = app
        .send_raw(
            axum::http::Method::DELETE,
            &format!("/api/v1/contacts/{}", deleted["id"].as_str().unwrap()),
            Some(&app.token.clone()),
            None,
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(gone.status, 204, "{}", gone.body);

    let options = Options {
        batch_size: 3,
        ..Options::default()
    };
    let (report, rejects) = import(&app, hostile_csv(), options).await;
    let summary = report.summary();
    assert_eq!(report.rows_read, 16, "{summary}");
    assert_eq!(report.blank_rows, 1, "{summary}");
    assert_eq!(rows_of(&report, "invalid \"notes\""), vec![3], "{summary}");
    assert!(detail(&report, "invalid \"notes\"")
        .contains("notes is too long (150000 characters; at most 100000)"));
    assert_eq!(
        rows_of(&report, "invalid \"first_name\""),
        vec![4],
        "{summary}"
    );
    assert_eq!(
        rows_of(&report, "more fields than the header has columns"),
        vec![5],
        "{summary}"
    );
    assert_eq!(
        rows_of(&report, "invalid \"email_2\""),
        vec![14],
        "{summary}"
    );
    assert!(
        detail(&report, "invalid \"email_2\"").contains("is the same address as emails[0]"),
        "{summary}"
    );
    assert_eq!(rows_of(&report, "not UTF-8 text"), vec![16], "{summary}");
    assert!(
        detail(&report, "not UTF-8 text").contains("column \"company\""),
        "{summary}"
    );
    assert_eq!(report.rejected, 5, "{summary}");
    assert_eq!(report.repeated.first, vec![(8, 7)], "{summary}");
    assert_eq!(
        report.existing.first,
        vec![9],
        "bob@acme.com is Bob's; {summary}"
    );
    // 2 Quote, 7 Dup, 10 Del (only a deleted contact had it), 11 Multi, 12 Co, 13 Same,
    // 15 Trailing (empty extra fields are no fault), 17 Last.
    assert_eq!(report.imported, 8, "{summary}");
    assert_eq!(
        report.companies_created, 0,
        "acme.com is Acme's already: {summary}"
    );

    let quote = contact(&app, "q@quotes.example").await;
    assert_eq!(quote["first_name"], "Quote, \"Q\"");
    assert_eq!(quote["job_title"], "Chief \"Everything\" Officer");
    assert_eq!(quote["notes"], "line one\nline two, with comma");
    let dup = contact(&app, "dup@x.example").await;
    assert_eq!(
        dup["emails"],
        serde_json::json!(["dup@x.example", "second@x.example"])
    );
    assert_eq!(
        contact(&app, "b@multi.example").await["emails"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        contact(&app, "same@x.example").await["emails"],
        serde_json::json!(["same@x.example"])
    );
    let co = contact(&app, "co@other.example").await;
    let bob = contact(&app, "bob@acme.com").await;
    assert_eq!(co["company_id"], bob["company_id"], "found by its domain");
    let revived = contact(&app, "deleted@x.example").await;
    assert_ne!(revived["id"], deleted["id"]);
    assert_eq!(contact(&app, "last@x.example").await["last_name"], "Row");
    assert_eq!(app.count("contacts").await, 2 + 8);

    // Rejected rows keep their bytes, bad ones included.
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(rejects.as_slice());
    let rows: Vec<csv::ByteRecord> = reader.byte_records().map(Result::unwrap).collect();
    assert_eq!(
        rows.iter().map(|r| r[0].to_vec()).collect::<Vec<_>>(),
        [
            b"3".to_vec(),
            b"4".to_vec(),
            b"5".to_vec(),
            b"14".to_vec(),
            b"16".to_vec()
        ]
    );
    assert_eq!(&rows[4][2 + 6], b"\xff\xfeCorp");
    assert_eq!(rows[0][2 + 8].len(), 150_000);
}

#[tokio::test]
async fn a_dry_run_counts_what_an_import_would_do_and_writes_nothing() {
    let app = TestApp::new().await;
    app.contact("Zoe", "Existing", &["zoe@existing.example"], None)
        .await;
    let csv = std::fs::read(GOOGLE).unwrap();
    let before = changes_of_kind(&app, "contact").await;
    // One row per batch: a company "created" by a rolled-back batch is counted once.
    for batch_size in [1, 500] {
        let options = Options {
            dry_run: true,
            batch_size,
        };
        let (dry, rejects) = import(&app, csv.clone(), options).await;
        assert!(dry.dry_run);
        assert_eq!(
            (
                dry.imported,
                dry.companies_created,
                dry.existing.count,
                dry.repeated.count,
                dry.rejected
            ),
            (5, 3, 1, 2, 3),
            "{}",
            dry.summary()
        );
        assert!(dry.summary().starts_with("dry run: nothing was written"));
        assert_eq!(
            rejects
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .count(),
            1 + 3,
            "rejected rows are written in a dry run too"
        );
    }
    assert_eq!(app.count("contacts").await, 1);
    assert_eq!(app.count("companies").await, 0);
    assert_eq!(changes_of_kind(&app, "contact").await, before);

    // The real import, in batches of two, does what the dry run said.
    let (real, _) = import(
        &app,
        csv,
        Options {
            dry_run: false,
            batch_size: 2,
        },
    )
    .await;
    assert_eq!(
        (
            real.imported,
            real.companies_created,
            real.existing.count,
            real.repeated.count,
            real.rejected
        ),
        (5, 3, 1, 2, 3),
        "{}",
        real.summary()
    );
    assert_eq!(app.count("contacts").await, 6);
}

#[tokio::test]
async fn a_file_that_cannot_be_imported_is_refused_with_the_reason() {
    let refused = |csv: &[u8]| match Import::start(Source::bytes(csv.to_vec()), b',') {
        Ok(_) => panic!("{:?} was accepted", String::from_utf8_lossy(csv)),
        Err(e) => e.to_string(),
    };
    let e = refused(b"First Name,Last Name,Company\nAnn,Lee,Acme\n");
    assert!(
        e.contains("no email column") && e.contains("\"First Name\", \"Last Name\", \"Company\""),
        "{e}"
    );
    let e = refused(b"");
    assert!(e.contains("no header line"), "{e}");
    let e = refused(b"\xff\xfef\x00i\x00r\x00s\x00t\x00");
    assert!(e.contains("UTF-16"), "{e}");
    let e = refused(b"first_name;last_name;email\nAnn;Lee;ann@x.example\n");
    assert!(e.contains("--delimiter"), "{e}");
    let e = refused(b"first_name,\xe9mail\n");
    assert!(e.contains("column 2 is not UTF-8"), "{e}");
    // With the right separator the same file is fine.
    assert!(Import::start(
        Source::bytes(b"first_name;last_name;email\n".to_vec()),
        b';'
    )
    .is_ok());
}

#[tokio::test]
async fn the_importer_is_the_organisations_first_user_or_the_one_named() {
    let app = TestApp::new().await;
    app.colleague("colleague@ourco.com").await;
    app.user_in_new_org("them@theirs.example").await;
    let first = importer(&app.db, None, Some(app.org_id)).await.unwrap();
    assert_eq!(first.user_id, app.user_id);
    let named = importer(&app.db, Some("Colleague@OurCo.com"), None)
        .await
        .unwrap();
    assert_eq!(
        (named.email.as_str(), named.org_id),
        ("colleague@ourco.com", app.org_id)
    );
    let several = importer(&app.db, None, None).await.unwrap_err().to_string();
    assert!(several.contains("several organisations"), "{several}");
    let mismatch = importer(&app.db, Some("them@theirs.example"), Some(app.org_id))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        mismatch.contains("is not in the organisation"),
        "{mismatch}"
    );
}

/// Each contact or company saved replaces its child rows (`replace_children`); that DELETE
/// must find them by parent, not scan the organisation's (an import is quadratic otherwise).
#[tokio::test]
async fn replacing_a_records_child_rows_reads_them_by_parent() {
    let app = TestApp::new().await;
    for (table, parent) in [
        ("contact_emails", "contact_id"),
        ("company_domains", "company_id"),
        ("meeting_links", "meeting_id"),
    ] {
        let mut sql =
            threadline_server::db::Sql::new(format!("DELETE FROM {table} WHERE org_id = "));
        sql.push_bind("o".to_string())
            .push(&format!(" AND {parent} = "))
            .push_bind("p".to_string());
        let plan = threadline_server::db::query_plan(&app.db, sql)
            .await
            .expect("the plan");
        let by_parent = plan
            .iter()
            .any(|step| match threadline_server::testing::engine() {
                threadline_server::db::Engine::Sqlite => {
                    step.contains(&format!("org_id=? AND {parent}=?"))
                }
                threadline_server::db::Engine::Postgres => step.contains(&format!("{parent} = ")),
            });
        assert!(by_parent, "{table}: {plan:#?}");
    }
}
