//! `tenon ledger export|import`: books in and out of the formats of `tenon_ledger::exchange`, with a
//! progress bar on stderr (drawn only on a terminal) and a summary on stdout — accounts, vouchers per
//! state, lines, total debit and credit, what the format could not carry, warnings — for a person to
//! check against the other system.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tenon_ledger::exchange::{self, Books, Format, Options, Report};
use tenon_ledger::{Currency, Dimension, Period};
use tenon_store::WriteContext;

use crate::cli::{LedgerCommand, LedgerExportArgs, LedgerFileArgs, LedgerImportArgs, StorageArgs};
use crate::commands::{EXIT_FAILURE, EXIT_INVALID, Failure, open};

fn invalid(message: impl Into<String>) -> Failure {
    Failure::new(EXIT_INVALID, message)
}

pub async fn run(storage: &StorageArgs, command: LedgerCommand) -> Result<(), Failure> {
    match command {
        LedgerCommand::Export(args) => export(storage, args).await,
        LedgerCommand::Import(args) => import(storage, args).await,
    }
}

/// The format and adapter options named on the command line.
fn format_and_options(args: &LedgerFileArgs) -> Result<(Format, Options), Failure> {
    let format =
        Format::parse(&args.format).map_err(|reason| invalid(format!("--format: {reason}")))?;
    let mut options = Options::default();
    for slot in &args.kingdee_slots {
        let (dimension, name) = slot.split_once('=').ok_or_else(|| {
            invalid(format!(
                "--kingdee-slots: {slot:?} is not DIMENSION=SLOT, e.g. customer=FFLEX6"
            ))
        })?;
        let dimension = Dimension::parse(dimension.trim())
            .map_err(|reason| invalid(format!("--kingdee-slots: {reason}")))?;
        let name = name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(invalid(format!(
                "--kingdee-slots: {name:?} is not a field name such as FFLEX6"
            )));
        }
        options.kingdee_slots.retain(|_, existing| existing != name);
        options.kingdee_slots.insert(dimension, name.to_owned());
    }
    Ok((format, options))
}

fn spinner(message: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner().with_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// CPU-heavy work (parsing, serializing) off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| Failure::new(EXIT_FAILURE, format!("the worker stopped: {error}")))
}

async fn export(storage: &StorageArgs, args: LedgerExportArgs) -> Result<(), Failure> {
    let (format, mut options) = format_and_options(&args.file)?;
    let (from, to) = match (&args.period, &args.from, &args.to) {
        (Some(period), _, _) => {
            let period = Period::parse(period).map_err(|r| invalid(format!("--period: {r}")))?;
            (period, period)
        }
        (None, Some(from), Some(to)) => (
            Period::parse(from).map_err(|r| invalid(format!("--from: {r}")))?,
            Period::parse(to).map_err(|r| invalid(format!("--to: {r}")))?,
        ),
        _ => return Err(invalid("give --period, or --from and --to")),
    };
    if from > to {
        return Err(invalid(format!("--from {from} is after --to {to}")));
    }
    let country = args.country.trim().to_owned();
    if country.len() != 2 || !country.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(invalid(format!(
            "--country: {country:?} is not an ISO 3166 alpha-2 code such as CN or NO"
        )));
    }
    options.country = country;
    if let Some(document) = &args.document {
        if format != Format::YonyouU8 {
            return Err(invalid(
                "--document: only the yonyou-u8 format has documents",
            ));
        }
        options.u8_document = exchange::yonyou::parse_document(document.trim())
            .map_err(|reason| invalid(format!("--document: {reason}")))?;
    }
    let store = open(storage).await?;
    let org = store.resolve_organization(&args.file.org).await?;
    // SAF-T's AuditFileDateCreated: the day of the export in the organization's calendar.
    options.created_on = Some(store.now().with_timezone(&org.time_zone.tz()).date_naive());
    let progress = spinner(&format!("reading {} {from}..{to}", args.file.book));
    let books = store
        .tenant(org.id)
        .export_books(
            &tenon_store::ledger::BookRef::parse(&args.file.book),
            from,
            to,
            args.include_unposted,
        )
        .await;
    store.close().await;
    let books: Books = books?;
    progress.set_message(format!(
        "writing {} vouchers as {}",
        books.vouchers.len(),
        format.as_str()
    ));
    let written = blocking(move || exchange::export(format, &books, &options)).await?;
    let (bytes, report) = written.map_err(|error| invalid(error.to_string()))?;
    let out = args.out.clone();
    let size = bytes.len();
    blocking(move || std::fs::write(&out, bytes))
        .await?
        .map_err(|error| {
            Failure::new(
                EXIT_FAILURE,
                format!("cannot write {}: {error}", args.out.display()),
            )
        })?;
    progress.finish_and_clear();
    println!(
        "exported {} {from}..{to} as {} to {} ({size} bytes)",
        args.file.book,
        format.as_str(),
        args.out.display()
    );
    print!("{report}");
    Ok(())
}

async fn import(storage: &StorageArgs, args: LedgerImportArgs) -> Result<(), Failure> {
    let (format, options) = format_and_options(&args.file)?;
    let base_currency = Currency::parse(&args.base_currency)
        .map_err(|reason| invalid(format!("--base-currency: {reason}")))?;
    let path = args.path.clone();
    let bytes = blocking(move || std::fs::read(&path))
        .await?
        .map_err(|error| {
            Failure::new(
                EXIT_FAILURE,
                format!("cannot read {}: {error}", args.path.display()),
            )
        })?;
    let progress = spinner(&format!("reading {}", args.path.display()));
    let book = args.file.book.clone();
    let parsed =
        blocking(move || exchange::import(format, &bytes, &options, &book, base_currency)).await?;
    progress.finish_and_clear();
    let (books, report): (Books, Report) = parsed.map_err(|error| {
        invalid(format!(
            "{} cannot be imported: {error}",
            args.path.display()
        ))
    })?;
    if args.dry_run {
        println!(
            "checked {} ({}); nothing was written (--dry-run)",
            args.path.display(),
            format.as_str()
        );
        print!("{report}");
        return Ok(());
    }
    let store = open(storage).await?;
    let org = store.resolve_organization(&args.file.org).await;
    let org = match org {
        Ok(org) => org,
        Err(error) => {
            store.close().await;
            return Err(error.into());
        }
    };
    let bar = ProgressBar::new(books.vouchers.len() as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} vouchers {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let on_progress = {
        let bar = bar.clone();
        move |done: usize, _total: usize| bar.set_position(done as u64)
    };
    let outcome = store
        .tenant(org.id)
        .import_books(
            &WriteContext::system(),
            &args.file.book,
            books,
            &on_progress,
        )
        .await;
    store.close().await;
    bar.finish_and_clear();
    let outcome = outcome?;
    println!(
        "imported {} ({}) into book {} [{}]{}: {} vouchers, {} accounts added",
        args.path.display(),
        format.as_str(),
        outcome.book.settings.name,
        outcome.book.id,
        if outcome.book_created {
            " (created)"
        } else {
            ""
        },
        outcome.vouchers,
        outcome.accounts_created
    );
    if outcome.openings > 0 {
        let difference = outcome.opening_debit - outcome.opening_credit;
        println!(
            "opening balances: {} accounts, debits {} / credits {}{}",
            outcome.openings,
            tenon_ledger::money::amount_text(outcome.opening_debit),
            tenon_ledger::money::amount_text(outcome.opening_credit),
            if difference.is_zero() {
                String::new()
            } else {
                format!(
                    " — NOT BALANCED (difference {}): no period can be closed until they are corrected",
                    tenon_ledger::money::amount_text(difference)
                )
            }
        );
    }
    print!("{report}");
    Ok(())
}
