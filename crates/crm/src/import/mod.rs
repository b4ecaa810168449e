//! The contact intake: contacts (and their companies) from a CSV file, such as a Google
//! Contacts or Outlook export. The command is `threadline-server import contacts --csv FILE`
//! (`crates/server/src/import_command.rs`).
//!
//! - **Streamed.** A reader thread parses the file record by record (the `csv` crate) and
//!   hands batches to the writer over a bounded channel, so the file is never held in memory.
//!   What does grow with the file is the in-file duplicate check: a 96-bit digest and a row
//!   number per distinct address, about 5 MB of hash table for 100,000 contacts.
//! - **Columns** ([`columns`]): the project's names and the export formats' headers.
//! - **One rule.** Each row becomes the API's [`ContactInput`] ([`row`]) and goes through
//!   [`Contact::validate`] and [`Contact::save`], as `POST /contacts` does: the same checks,
//!   the same company rule (found by domain, else by exact name; else created), the same
//!   changes feed. A validation error names the CSV column it comes from.
//! - **Skipped, not duplicated.** A row whose primary address is already an address of a live
//!   contact of the organisation is skipped ("already in the CRM"): running an import twice
//!   makes no duplicates. There is no `--update`: merging a row into an edited contact needs
//!   rules (which side wins, what becomes of addresses) that the API does not have yet.
//!   Within the file, the first row with an address wins; a later row whose primary address
//!   an earlier row has is skipped and reported with that row's number.
//! - **Batches.** Rows are written [`DEFAULT_BATCH_SIZE`] at a time, each batch one
//!   [`Db::write`] transaction: an interruption leaves whole batches only. A row the save
//!   refuses (say a company deleted meanwhile) is rejected and its batch run again without it.
//!   A dry run does all the work of every batch, then rolls it back.
//! - **Rows** are numbered as a spreadsheet shows them: the header is row 1.

pub mod columns;
pub mod jobs;
pub mod report;
pub mod row;

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use uuid::Uuid;

use self::columns::{ColumnMap, HeaderError};
use self::report::{Reason, Report};
use self::row::RowInput;
use crate::actor::Actor;
use crate::error::{is_transient, CrmError, DbFailure, ServerError};
use crate::records::contacts::{Contact, ValidContact};
use crate::records::Editable;
use crate::records::Target;
use threadline_storage::db::{self, id_text, parse_uuid, Conn, Db, Sql};

/// Rows per write transaction.
pub const DEFAULT_BATCH_SIZE: usize = 500;
/// How often a batch that keeps meeting conflicting writes (PostgreSQL) is tried again after
/// [`Db::write`]'s own retries, a second apart.
const BATCH_TRIES: u32 = 5;

/// Where an import says how far it got, after each committed batch: the command's progress
/// bar, or nothing.
pub trait Progress: Send + Sync {
    /// `bytes_read` of the file (of [`Import::length`] when known) are done; `report` counts
    /// what happened to the rows so far.
    fn advanced(&self, bytes_read: u64, report: &Report);
}

/// No progress shown.
impl Progress for () {
    fn advanced(&self, _bytes_read: u64, _report: &Report) {}
}

/// The user an import acts as: `--as EMAIL`, else the first user of `--org-id`, else the
/// first user of the only organisation.
pub async fn importer(
    db: &Db,
    as_user: Option<&str>,
    org_id: Option<Uuid>,
) -> Result<Actor, ServerError> {
    let mut conn = db.pool().acquire().await?;
    let user_id = match (as_user, org_id) {
        (Some(email), _) => Some(crate::accounts::user_id_by_email(&mut conn, email).await?),
        (None, _) => None,
    };
    let org_id = match org_id {
        Some(id) => id,
        None if user_id.is_some() => Uuid::nil(),
        None => {
            let orgs: Vec<String> =
                sqlx::query_scalar("SELECT id FROM organisations ORDER BY created_at LIMIT 2")
                    .fetch_all(&mut *conn)
                    .await?;
            match orgs.as_slice() {
                [only] => parse_uuid(only)?,
                [] => return Err(ServerError::Invalid(
                    "there is no organisation yet: start the server once, or create a user with \
                         `threadline-server user create`"
                        .into(),
                )),
                _ => {
                    return Err(ServerError::Invalid(
                        "there are several organisations: choose one with --org-id or --as".into(),
                    ))
                }
            }
        }
    };
    let row: Option<(String, String, String, String)> = sqlx::query_as(
        "SELECT id, org_id, name, email FROM users
         WHERE ($1 IS NULL OR id = $1) AND ($2 IS NULL OR org_id = $2)
         ORDER BY created_at, id LIMIT 1",
    )
    .bind(user_id.map(id_text))
    .bind((!org_id.is_nil()).then(|| id_text(org_id)))
    .fetch_optional(&mut *conn)
    .await?;
    let Some((id, org, name, email)) = row else {
        return Err(ServerError::Invalid(match (as_user, org_id.is_nil()) {
            (Some(email), false) => format!("the user {email} is not in the organisation {org_id}"),
            _ => format!("the organisation {org_id} has no user (or does not exist); create one with `threadline-server user create --org-id {org_id}`"),
        }));
    };
    Ok(Actor {
        user_id: parse_uuid(&id)?,
        org_id: parse_uuid(&org)?,
        name,
        email,
    })
}

/// Where the CSV comes from.
pub struct Source {
    reader: Box<dyn Read + Send>,
    /// Its size when known (a file), for the progress bar.
    length: Option<u64>,
}

impl Source {
    /// The file at `path`, or standard input for `-`.
    pub fn open(path: &Path) -> Result<Source, ServerError> {
        if path.as_os_str() == "-" {
            return Ok(Source {
                reader: Box::new(std::io::stdin()),
                length: None,
            });
        }
        let cannot = |e: std::io::Error| {
            ServerError::Invalid(format!("cannot read {}: {e}", path.display()))
        };
        let file = std::fs::File::open(path).map_err(cannot)?;
        let length = file.metadata().map_err(cannot)?.len();
        Ok(Source {
            reader: Box::new(file),
            length: Some(length),
        })
    }

    /// CSV text held in memory (tests).
    pub fn bytes(data: Vec<u8>) -> Source {
        let length = Some(data.len() as u64);
        Source {
            reader: Box::new(std::io::Cursor::new(data)),
            length,
        }
    }
}

/// How an import runs.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub dry_run: bool,
    pub batch_size: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            dry_run: false,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

/// A CSV file whose header has been read and mapped, ready to import.
pub struct Import {
    pub map: ColumnMap,
    /// Taken by [`Import::run`].
    reader: Option<csv::Reader<Box<dyn Read + Send>>>,
    header_record: csv::ByteRecord,
    length: Option<u64>,
    rejects: Option<RejectsFile>,
    progress: Box<dyn Progress>,
}

impl Import {
    /// Reads the header line of `source`. Fails when the file is not UTF-8 CSV or has no
    /// email column: nothing can be imported from it.
    pub fn start(source: Source, delimiter: u8) -> Result<Import, ServerError> {
        let mut reader = std::io::BufReader::with_capacity(256 * 1024, source.reader);
        let start = std::io::BufRead::fill_buf(&mut reader)?;
        if start.starts_with(&[0xff, 0xfe]) || start.starts_with(&[0xfe, 0xff]) {
            return Err(ServerError::Invalid(
                "the file is UTF-16 text (Excel's \"Unicode Text\"); save or export it as \"CSV UTF-8\"".into(),
            ));
        }
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .from_reader(Box::new(reader) as Box<dyn Read + Send>);
        let header_record = reader
            .byte_headers()
            .map_err(|e| ServerError::Invalid(format!("cannot read the header line: {e}")))?
            .clone();
        let mut headers = Vec::with_capacity(header_record.len());
        for (i, field) in header_record.iter().enumerate() {
            let text = std::str::from_utf8(field).map_err(|_| {
                ServerError::Invalid(format!(
                    "the header of column {} is not UTF-8 text; save the file as \"CSV UTF-8\"",
                    i + 1
                ))
            })?;
            // csv drops a byte-order mark; this covers one the reader met split in two.
            headers.push(text.trim_start_matches('\u{feff}').trim().to_string());
        }
        let map = ColumnMap::new(headers).map_err(|e| {
            let hint = match (&e, header_record.len()) {
                (HeaderError::NoEmailColumn { found }, 1) if found.contains(';') || found.contains('\t') => {
                    " (the header is one column: is the file separated by ';' or tabs? say so with --delimiter)"
                }
                _ => "",
            };
            ServerError::Invalid(format!("{e}{hint}"))
        })?;
        Ok(Import {
            map,
            reader: Some(reader),
            header_record,
            length: source.length,
            rejects: None,
            progress: Box::new(()),
        })
    }

    /// Writes rejected rows to `writer` as CSV (row, reason, then the row as it was).
    pub fn write_rejects_to(&mut self, writer: Box<dyn Write + Send>) -> Result<(), ServerError> {
        self.rejects = Some(RejectsFile::new(writer, &self.header_record)?);
        Ok(())
    }

    /// Writes rejected rows to a new file at `path` ([`Import::write_rejects_to`]).
    pub fn write_rejects_to_file(&mut self, path: &Path) -> Result<(), ServerError> {
        self.rejects = Some(RejectsFile::create(path, &self.header_record)?);
        Ok(())
    }

    /// Writes out what is buffered of the rejected rows (after an interruption: keep what
    /// was written).
    pub fn flush_rejects(&mut self) -> Result<(), ServerError> {
        match &mut self.rejects {
            Some(rejects) => rejects.flush(),
            None => Ok(()),
        }
    }

    /// The file's size when known (a file, not standard input).
    pub fn length(&self) -> Option<u64> {
        self.length
    }

    /// Says how far the import got to `progress`.
    pub fn set_progress(&mut self, progress: Box<dyn Progress>) {
        self.progress = progress;
    }

    /// Imports every row as `auth`, counting into `report` as batches are committed (so
    /// that an interrupted import's report says what was done).
    pub async fn run(
        &mut self,
        db: &Db,
        auth: &Actor,
        options: Options,
        report: &mut Report,
    ) -> Result<(), ServerError> {
        report.dry_run = options.dry_run;
        let reader = self
            .reader
            .take()
            .ok_or_else(|| ServerError::Invalid("this file has been imported already".into()))?;
        let (sender, mut receiver) = mpsc::channel::<Result<Chunk, String>>(2);
        let map = self.map.clone();
        let batch_size = options.batch_size.max(1);
        let parser = std::thread::Builder::new()
            .name("csv-reader".into())
            .spawn(move || read_rows(reader, &map, batch_size, &sender))?;
        // Companies a dry run "created": its batches are rolled back, so a later batch
        // would count the same company again.
        let mut dry_run_companies: HashSet<String> = HashSet::new();
        let mut result = Ok(());
        while let Some(chunk) = receiver.recv().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    result = Err(ServerError::Invalid(e));
                    break;
                }
            };
            let mut contacts = Vec::new();
            for item in chunk.items {
                match item {
                    Item::Contact(c) => contacts.push(c),
                    Item::Blank => report.blank_rows += 1,
                    Item::Repeated { row, first } => report.repeated.add((row, first)),
                    Item::Rejected { row, reason, raw } => {
                        self.reject(report, row, &reason, &raw)?
                    }
                }
            }
            report.rows_read = chunk.last_row.saturating_sub(1);
            let outcome = match write_with_retries(
                db,
                auth,
                &mut contacts,
                options.dry_run,
                |row, reason, raw| self.reject(report, row, reason, raw),
            )
            .await
            {
                Ok(outcome) => outcome,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            report.imported += outcome.imported;
            for row in outcome.existing {
                report.existing.add(row);
            }
            if options.dry_run {
                let before = dry_run_companies.len();
                dry_run_companies.extend(outcome.companies);
                report.companies_created += (dry_run_companies.len() - before) as u64;
            } else {
                report.companies_created += outcome.companies.len() as u64;
            }
            report.done_through_row = chunk.last_row;
            self.progress.advanced(chunk.bytes, report);
        }
        drop(receiver);
        let _ = parser.join();
        if let Some(rejects) = &mut self.rejects {
            rejects.flush()?;
        }
        result
    }

    fn reject(
        &mut self,
        report: &mut Report,
        row: u64,
        reason: &Reason,
        raw: &csv::ByteRecord,
    ) -> Result<(), ServerError> {
        report.reject(row, reason);
        if let Some(rejects) = &mut self.rejects {
            rejects.write(row, reason, raw)?;
        }
        Ok(())
    }
}

/// `--rejects FILE`: `row`, `reason`, then the file's own columns.
struct RejectsFile {
    writer: csv::Writer<Box<dyn Write + Send>>,
    /// Fields of the header line.
    width: usize,
}

impl RejectsFile {
    fn create(path: &Path, header: &csv::ByteRecord) -> Result<RejectsFile, ServerError> {
        let file = std::fs::File::create(path)
            .map_err(|e| ServerError::Invalid(format!("cannot create {}: {e}", path.display())))?;
        RejectsFile::new(Box::new(std::io::BufWriter::new(file)), header)
    }

    fn new(
        writer: Box<dyn Write + Send>,
        header: &csv::ByteRecord,
    ) -> Result<RejectsFile, ServerError> {
        let mut writer = csv::WriterBuilder::new().flexible(true).from_writer(writer);
        let mut record = csv::ByteRecord::from(vec!["row", "reason"]);
        record.extend(header.iter());
        writer.write_byte_record(&record).map_err(csv_error)?;
        Ok(RejectsFile {
            writer,
            width: record.len(),
        })
    }

    fn write(
        &mut self,
        row: u64,
        reason: &Reason,
        raw: &csv::ByteRecord,
    ) -> Result<(), ServerError> {
        let mut record = csv::ByteRecord::new();
        record.push_field(row.to_string().as_bytes());
        record.push_field(format!("{}: {}", reason.group, reason.detail).as_bytes());
        record.extend(raw.iter());
        // Short rows are padded, so that the file has one width for the tools that want it
        // (only a row rejected for having too many fields is wider).
        while record.len() < self.width {
            record.push_field(b"");
        }
        self.writer.write_byte_record(&record).map_err(csv_error)
    }

    fn flush(&mut self) -> Result<(), ServerError> {
        Ok(self.writer.flush()?)
    }
}

fn csv_error(e: csv::Error) -> ServerError {
    ServerError::Invalid(format!("cannot write the rejected rows: {e}"))
}

// ---------------------------------------------------------------------------------------
// Reading (on its own thread)

/// What the reader hands the writer: a batch of rows, and how far into the file it is.
struct Chunk {
    items: Vec<Item>,
    /// The row number of the last row in `items` (the header is row 1).
    last_row: u64,
    /// Bytes of the file read.
    bytes: u64,
}

enum Item {
    Contact(Prepared),
    Blank,
    /// The primary address of `row` is an address of the earlier row `first`.
    Repeated {
        row: u64,
        first: u64,
    },
    Rejected {
        row: u64,
        reason: Reason,
        raw: csv::ByteRecord,
    },
}

/// A row that passed the checks.
struct Prepared {
    row: u64,
    valid: ValidContact,
    /// The primary address's match key.
    primary_key: String,
    raw: csv::ByteRecord,
}

/// The in-file duplicate check's key of an address: 96 bits of its match key's SHA-256
/// (a collision among a billion addresses has a chance of about 10⁻¹¹).
fn address_digest(match_key: &str) -> [u8; 12] {
    let digest = Sha256::digest(match_key.as_bytes());
    let mut key = [0u8; 12];
    key.copy_from_slice(&digest[..12]);
    key
}

/// Parses and checks every row, sending batches of `batch_size` contacts (rejected and
/// skipped rows travel with them, so that the report keeps the file's order).
fn read_rows(
    mut reader: csv::Reader<Box<dyn Read + Send>>,
    map: &ColumnMap,
    batch_size: usize,
    sender: &mpsc::Sender<Result<Chunk, String>>,
) {
    let mut first_row_of: HashMap<[u8; 12], u32> = HashMap::new();
    let mut record = csv::ByteRecord::new();
    let mut items = Vec::new();
    let mut contacts = 0;
    let mut row: u64 = 1;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let _ =
                    sender.blocking_send(Err(format!("cannot read the file after row {row}: {e}")));
                return;
            }
        }
        row = record.position().map_or(row + 1, |p| p.record() + 1);
        let item = check_row(map, &record, row, &mut first_row_of);
        contacts += usize::from(matches!(item, Item::Contact(_)));
        items.push(item);
        // Rejected rows count too, so that a file of rejects is also sent in bounded chunks.
        if contacts >= batch_size || items.len() >= 4 * batch_size {
            let bytes = reader.position().byte();
            let chunk = Chunk {
                items: std::mem::take(&mut items),
                last_row: row,
                bytes,
            };
            if sender.blocking_send(Ok(chunk)).is_err() {
                return; // The writer stopped.
            }
            contacts = 0;
        }
    }
    let bytes = reader.position().byte();
    let _ = sender.blocking_send(Ok(Chunk {
        items,
        last_row: row,
        bytes,
    }));
}

/// One row: blank, rejected (with the reason, naming the column), a repeat of an earlier
/// row's address, or a contact that passed the API's checks.
fn check_row(
    map: &ColumnMap,
    record: &csv::ByteRecord,
    row: u64,
    first_row_of: &mut HashMap<[u8; 12], u32>,
) -> Item {
    let rejected = |group: String, detail: String| Item::Rejected {
        row,
        reason: Reason { group, detail },
        raw: record.clone(),
    };
    let mut cells = Vec::with_capacity(record.len());
    for (i, field) in record.iter().enumerate() {
        match std::str::from_utf8(field) {
            Ok(text) => cells.push(text),
            Err(e) => {
                return rejected(
                    "not UTF-8 text".into(),
                    format!(
                        "column {:?} has a byte that is not UTF-8 (at byte {}); save the file as \"CSV UTF-8\"",
                        column_name(map, i),
                        e.valid_up_to()
                    ),
                )
            }
        }
    }
    let extra = cells
        .iter()
        .skip(map.headers.len())
        .filter(|c| !c.trim().is_empty())
        .count();
    if extra > 0 {
        return rejected(
            "more fields than the header has columns".into(),
            format!(
                "the row has {} fields and the header {}: a separator in a field without quotes, or a quote not closed?",
                cells.len(),
                map.headers.len()
            ),
        );
    }
    let Some(RowInput { input, columns }) = RowInput::build(map, &cells) else {
        return Item::Blank;
    };
    let no_address = input.emails.is_empty();
    let valid = match Contact::validate(input) {
        Ok(valid) => valid,
        Err(CrmError::Request { message, field, .. }) => {
            let field = field.unwrap_or_default();
            if no_address && field == "emails" {
                return rejected(
                    "no email address".into(),
                    "the row has no address in its email columns".into(),
                );
            }
            return match columns.column_of(map, &field) {
                Some(column) => {
                    rejected(format!("invalid {:?}", column_name(map, column)), message)
                }
                None => rejected(format!("invalid {field}"), message),
            };
        }
        Err(other) => return rejected("internal error".into(), other.to_string()),
    };
    let primary_key = valid.emails()[0].match_key();
    if let Some(first) = first_row_of.get(&address_digest(&primary_key)) {
        return Item::Repeated {
            row,
            first: u64::from(*first),
        };
    }
    let row_u32 = u32::try_from(row).unwrap_or(u32::MAX);
    for address in valid.emails() {
        first_row_of
            .entry(address_digest(&address.match_key()))
            .or_insert(row_u32);
    }
    Item::Contact(Prepared {
        row,
        valid,
        primary_key,
        raw: record.clone(),
    })
}

fn column_name(map: &ColumnMap, i: usize) -> String {
    match map.header(i) {
        "" => format!("column {}", i + 1),
        header => header.to_string(),
    }
}

// ---------------------------------------------------------------------------------------
// Writing (one transaction per batch)

/// What a batch did.
#[derive(Debug, Default)]
struct BatchOutcome {
    imported: u64,
    /// Rows skipped: their primary address is a live contact's.
    existing: Vec<u64>,
    /// The companies the batch created, by domain (or name when they have none).
    companies: Vec<String>,
}

enum BatchError {
    /// The save refused row `index` of the batch: reject it, run the batch again without it.
    Row {
        index: usize,
        error: CrmError,
    },
    /// A dry run's batch, done and to be rolled back.
    DryRun(BatchOutcome),
    Failed(CrmError),
}

impl From<sqlx::Error> for BatchError {
    fn from(e: sqlx::Error) -> Self {
        BatchError::Failed(CrmError::Database(e))
    }
}

impl From<CrmError> for BatchError {
    fn from(e: CrmError) -> Self {
        BatchError::Failed(e)
    }
}

impl DbFailure for BatchError {
    fn database_error(&self) -> Option<&sqlx::Error> {
        match self {
            BatchError::Failed(e) => e.database_error(),
            _ => None,
        }
    }
}

/// Writes a batch (rolled back in a dry run); rows the save refuses go to `reject` and
/// leave the batch, and a batch that keeps meeting conflicts is tried [`BATCH_TRIES`] times.
async fn write_with_retries(
    db: &Db,
    auth: &Actor,
    rows: &mut Vec<Prepared>,
    dry_run: bool,
    mut reject: impl FnMut(u64, &Reason, &csv::ByteRecord) -> Result<(), ServerError>,
) -> Result<BatchOutcome, ServerError> {
    let mut tries = 0;
    loop {
        if rows.is_empty() {
            return Ok(BatchOutcome::default());
        }
        let batch: &[Prepared] = rows;
        match db
            .write(|tx| Box::pin(write_batch(tx, auth, batch, dry_run)))
            .await
        {
            Ok(outcome) | Err(BatchError::DryRun(outcome)) => return Ok(outcome),
            Err(BatchError::Row { index, error }) => {
                let refused = rows.remove(index);
                let reason = Reason {
                    group: "refused when saved".into(),
                    detail: error.to_string(),
                };
                reject(refused.row, &reason, &refused.raw)?;
            }
            Err(BatchError::Failed(CrmError::Database(e)))
                if is_transient(&e) && tries + 1 < BATCH_TRIES =>
            {
                tries += 1;
                tracing::warn!(
                    tries,
                    "a batch met conflicting writes; trying it again in a second"
                );
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(BatchError::Failed(e)) => return Err(e.into()),
        }
    }
}

/// One batch in one transaction: skips rows whose primary address a live contact has,
/// saves the others as `POST /contacts` does, and says which companies that created.
async fn write_batch(
    conn: &mut Conn,
    auth: &Actor,
    rows: &[Prepared],
    dry_run: bool,
) -> Result<BatchOutcome, BatchError> {
    let org = id_text(auth.org_id);
    let mut sql = Sql::new(
        "SELECT e.match_key FROM contact_emails e JOIN contacts c ON c.id = e.contact_id
         WHERE c.deleted_at IS NULL AND e.org_id = ",
    );
    sql.push_bind(org.clone())
        .push(" AND e.match_key IN ")
        .push_list(rows.iter().map(|r| r.primary_key.clone()));
    let existing: HashSet<String> = sql
        .build_query_scalar()
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect();
    // Every record written from here has a change above this seq: how the companies the
    // saves created are found, without a second rule for finding companies.
    let seq_before = crate::records::changes::last_seq(conn, auth.org_id).await?;
    let mut outcome = BatchOutcome::default();
    for (index, row) in rows.iter().enumerate() {
        if existing.contains(&row.primary_key) {
            outcome.existing.push(row.row);
            continue;
        }
        match Contact::save(conn, auth, db::new_id(), Target::New, &row.valid).await {
            Ok(()) => outcome.imported += 1,
            Err(error @ CrmError::Request { .. }) => return Err(BatchError::Row { index, error }),
            Err(e) => return Err(e.into()),
        }
    }
    let companies: Vec<(Option<String>, String)> = sqlx::query_as(
        "SELECT c.domain, c.name FROM changes ch JOIN companies c ON c.id = ch.record_id
         WHERE ch.org_id = $1 AND ch.record_kind = 'company' AND ch.seq > $2",
    )
    .bind(&org)
    .bind(seq_before)
    .fetch_all(&mut *conn)
    .await?;
    outcome.companies = companies
        .into_iter()
        .map(|(domain, name)| domain.unwrap_or_else(|| format!("name:{name}")))
        .collect();
    if dry_run {
        return Err(BatchError::DryRun(outcome));
    }
    Ok(outcome)
}
