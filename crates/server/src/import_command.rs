//! `threadline-server import contacts --csv FILE`: the command around the CRM model's
//! contact intake (`threadline_crm::import`): its arguments, the summary on stdout and the
//! progress bar on stderr.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use threadline_crm::import::report::Report;
use threadline_crm::import::{importer, Import, Options, Progress, Source, DEFAULT_BATCH_SIZE};
use threadline_storage::Db;
use uuid::Uuid;

use crate::ServerError;

/// `import …`
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import contacts and their companies from a CSV file.
    ///
    /// Columns: first_name, last_name (or name), email, email_2, … (a cell may hold several
    /// addresses separated by `;`), phone, phone_2, …, job_title, company, company_domain,
    /// notes; or the headers of a Google Contacts or Outlook CSV export. Other columns are
    /// ignored (and listed). A row whose primary address is already a contact's is skipped.
    /// The exit code is 0 whenever the file could be read, even when rows were rejected
    /// (the summary on stdout says which and why); 1 when it could not be read at all.
    Contacts(ImportContactsArgs),
}

#[derive(Debug, Args)]
pub struct ImportContactsArgs {
    /// The CSV file (UTF-8, with or without BOM; `-` reads standard input).
    #[arg(long, value_name = "FILE")]
    pub csv: PathBuf,
    /// Import as this user (their organisation). Default: the first user of the organisation.
    #[arg(long = "as", value_name = "EMAIL")]
    pub as_user: Option<String>,
    /// Import into this organisation (default: the only one there is).
    #[arg(long, value_name = "ID")]
    pub org_id: Option<Uuid>,
    /// Check every row (and what would be created or skipped), write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the rejected rows to this CSV file: their row number, the reason, then the
    /// row as it was (fix them there and import that file).
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,
    /// The field separator, e.g. ';' for a spreadsheet saved with European settings.
    #[arg(long, value_name = "CHAR", default_value = ",")]
    pub delimiter: char,
    /// Rows per write transaction.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BATCH_SIZE,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=10_000))]
    pub batch_size: usize,
}

/// Runs `import contacts`: the summary on stdout, the progress bar on stderr (only on a
/// terminal).
pub async fn run_command(db: &Db, command: ImportCommand) -> Result<(), ServerError> {
    let ImportCommand::Contacts(args) = command;
    let auth = importer(db, args.as_user.as_deref(), args.org_id).await?;
    let source = Source::open(&args.csv)?;
    let delimiter = u8::try_from(args.delimiter)
        .ok()
        .filter(u8::is_ascii)
        .ok_or_else(|| {
            ServerError::Invalid(format!(
                "--delimiter must be one ASCII character, not {:?}",
                args.delimiter
            ))
        })?;
    let mut import = Import::start(source, delimiter)?;
    println!(
        "importing {} into organisation {} as {}{}",
        args.csv.display(),
        auth.org_id,
        auth.email,
        if args.dry_run { " (dry run)" } else { "" }
    );
    println!("columns used: {}", import.map.describe().join(", "));
    // Grouped by why, in the order met: `columns ignored (not a contact field): "A", "B"`.
    let mut why_ignored: Vec<(&str, Vec<String>)> = Vec::new();
    for (header, why) in &import.map.ignored {
        match why_ignored.iter_mut().find(|(w, _)| w == why) {
            Some((_, headers)) => headers.push(format!("{header:?}")),
            None => why_ignored.push((why, vec![format!("{header:?}")])),
        }
    }
    for (why, headers) in why_ignored {
        println!("columns ignored ({why}): {}", headers.join(", "));
    }
    if let Some(path) = &args.rejects {
        import.write_rejects_to_file(path)?;
    }
    let bar = progress_bar(import.length());
    import.set_progress(Box::new(Bar(bar.clone())));
    let options = Options {
        dry_run: args.dry_run,
        batch_size: args.batch_size,
    };
    let mut report = Report::default();
    let outcome = tokio::select! {
        outcome = import.run(db, &auth, options, &mut report) => outcome,
        _ = tokio::signal::ctrl_c() => Err(ServerError::Invalid("interrupted".into())),
    };
    bar.finish_and_clear();
    // Already flushed unless interrupted: keep what was written.
    import.flush_rejects()?;
    match outcome {
        Ok(()) => {
            print!("{}", report.summary());
            if let (Some(path), true) = (&args.rejects, report.rejected > 0) {
                println!("rejected rows written to {}", path.display());
            }
            Ok(())
        }
        Err(e) => {
            print!("{}", report.summary());
            Err(ServerError::Invalid(format!(
                "{e}; the rows up to row {} were {}, those after it were not",
                report.done_through_row,
                if args.dry_run {
                    "checked"
                } else {
                    "imported (as counted above)"
                }
            )))
        }
    }
}

/// The import's progress on a bar.
struct Bar(ProgressBar);

impl Progress for Bar {
    fn advanced(&self, bytes_read: u64, report: &Report) {
        self.0.set_position(bytes_read);
        self.0.set_message(format!(
            "{} imported, {} skipped, {} rejected",
            report.imported,
            report.skipped(),
            report.rejected
        ));
    }
}

/// A progress bar of bytes read, on stderr; hidden when stderr is not a terminal.
fn progress_bar(length: Option<u64>) -> ProgressBar {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(length, ProgressDrawTarget::stderr());
    let template = match length {
        Some(_) => "{bar:40} {percent:>3}% {bytes}/{total_bytes} {msg} ({eta} left)",
        None => "{spinner} {bytes} {msg}",
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}
