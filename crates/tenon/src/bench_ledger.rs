//! `tenon bench-ledger`: how fast the ledger books, reports and exchanges, measured in-process against the
//! store (no HTTP), on a fresh SQLite database or the PostgreSQL database given with `--database`.
//!
//! 1. Posting one voucher per transaction, as the API does (create → review → post: three transactions).
//! 2. Posting batches of 4-line vouchers from several tasks at once (`create_vouchers`, state posted): every
//!    voucher checked, numbered and audited, balances updated. Beside it, in the same run, a raw insert
//!    of the same voucher and line rows with the same statements and batches, but without checks,
//!    numbering, balances or audit: the ratio is what correctness costs, whatever the machine.
//! 3. The invariants, checked after the load: numbers gap-free per (period, word), every trial balance
//!    balances, posted balances equal the sums of the posted lines.
//! 4. The trial balance of the last period over all lines (default 1,000,000), repeated.
//! 5. Export of the last period (default 100,000 vouchers) to every format, and import of each file into a
//!    new book.
//!
//! Benchmarks are never timed tests: this prints figures for a person to read and record.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use tenon_ledger::exchange::{self, Format, Options};
use tenon_ledger::voucher::VoucherDraft;
use tenon_ledger::{
    AccountCode, BookSettings, Currency, Dimension, Line, Period, Standard, Voucher, VoucherState,
    Word,
};
use tenon_model::{Email, Locale, Name, TimeZone};
use tenon_store::{DatabaseConfig, NewOrganization, Store, SystemClock, Tenant, WriteContext};

use crate::cli::{BenchLedgerArgs, StorageArgs};
use crate::commands::{EXIT_FAILURE, Failure};

fn fail(message: impl Into<String>) -> Failure {
    Failure::new(EXIT_FAILURE, message)
}

pub async fn run(storage: &StorageArgs, args: BenchLedgerArgs) -> Result<(), Failure> {
    if args.vouchers < args.period_vouchers || args.batch == 0 || args.concurrency == 0 {
        return Err(Failure::new(
            crate::commands::EXIT_INVALID,
            "--vouchers must be at least --period-vouchers, and --batch and --concurrency at least 1",
        ));
    }
    let scratch =
        std::env::temp_dir().join(format!("tenon-bench-ledger-{}", tenon_model::OrgId::new()));
    let config = match storage.database.as_deref() {
        Some(url) => DatabaseConfig::from_options(Some(url), &scratch)?,
        None => DatabaseConfig::Sqlite {
            path: scratch.join("tenon.db"),
        },
    };
    let store = Store::connect(&config, Arc::new(SystemClock))
        .await
        .map_err(|error| fail(format!("{error} ({})", config.describe())))?;
    store.migrate().await?;
    let result = measure(&store, &config, &args).await;
    store.close().await;
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn per_second(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1e-9)
}

fn ms(elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() * 1000.0
}

async fn measure(
    store: &Store,
    config: &DatabaseConfig,
    args: &BenchLedgerArgs,
) -> Result<(), Failure> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "Tenon ledger benchmark — {}, {} build, {cores} cores",
        config.describe(),
        if cfg!(debug_assertions) {
            "DEBUG (numbers are not meaningful)"
        } else {
            "release"
        }
    );
    let ctx = WriteContext::system();
    let suffix = tenon_model::OrgId::new().to_string();
    let (org, _) = store
        .create_organization(
            &ctx,
            NewOrganization {
                name: Name::parse(&format!("ledger-bench-{}", &suffix[24..]))
                    .map_err(|r| fail(r.message))?,
                time_zone: TimeZone::SHANGHAI,
                locale: Locale::ZhCn,
                owner: tenon_model::NewMember {
                    password_hash: None,
                    ..crate::commands::owner(
                        Name::parse("Bench").map_err(|r| fail(r.message))?,
                        Email::parse(&format!("bench-{}@example.com", &suffix[24..]))
                            .map_err(|r| fail(r.message))?,
                        String::new(),
                    )
                },
            },
        )
        .await?;
    let tenant = store.tenant(org.id);
    for name in ["bench", "raw", "single"] {
        tenant
            .create_ledger_book(
                &ctx,
                BookSettings {
                    name: name.to_owned(),
                    base_currency: Currency::CNY,
                    standard: Standard::Cas,
                    fiscal_year_start_month: 1,
                    segregation_of_duties: false,
                },
            )
            .await?;
    }
    let last = Period::parse("2026-10").map_err(fail)?;
    let drafts = generate(args.vouchers, args.period_vouchers, last)?;
    let lines: usize = drafts.iter().map(|draft| draft.lines.len()).sum();
    println!(
        "load: {} vouchers of 4 lines ({lines} lines), {} of them in {last}; batches of {}, {} concurrent tasks",
        args.vouchers, args.period_vouchers, args.batch, args.concurrency
    );

    // 1. One voucher per transaction, as over the API.
    let singles: Vec<VoucherDraft> = drafts.iter().take(args.single).cloned().collect();
    let elapsed = post_one_by_one(store, org.id, singles, args.concurrency).await?;
    println!(
        "\nposting one voucher at a time (create, review, post: 3 transactions), {} tasks:\n  {:>10.0} vouchers/s  ({} vouchers in {:.2} s)",
        args.concurrency,
        per_second(args.single, elapsed),
        args.single,
        elapsed.as_secs_f64()
    );

    // 2. Batches, beside a raw insert of the same rows.
    let raw = numbered(&drafts);
    let raw_elapsed = run_batches(store, org.id, raw, args, |store, org, batch| async move {
        store
            .tenant(org)
            .insert_raw_vouchers_for_benchmark("raw", batch)
            .await
            .map(drop)
    })
    .await?;
    let posted_elapsed = run_batches(
        store,
        org.id,
        drafts,
        args,
        |store, org, batch| async move {
            store
                .tenant(org)
                .create_vouchers(
                    &WriteContext::system(),
                    "bench",
                    batch,
                    VoucherState::Posted,
                )
                .await
                .map(drop)
        },
    )
    .await?;
    println!(
        "\nposting in batches of {} from {} tasks (checked, numbered, audited, balances updated):",
        args.batch, args.concurrency
    );
    println!(
        "  posted      {:>10.0} vouchers/s  {:>10.0} lines/s  ({:.2} s)",
        per_second(args.vouchers, posted_elapsed),
        per_second(lines, posted_elapsed),
        posted_elapsed.as_secs_f64()
    );
    println!(
        "  raw insert  {:>10.0} vouchers/s  {:>10.0} lines/s  ({:.2} s)  — same rows, no checks/numbers/balances/audit",
        per_second(args.vouchers, raw_elapsed),
        per_second(lines, raw_elapsed),
        raw_elapsed.as_secs_f64()
    );
    println!(
        "  posting costs {:.2}× the raw insert",
        posted_elapsed.as_secs_f64() / raw_elapsed.as_secs_f64().max(1e-9)
    );

    // 3. Invariants.
    let started = Instant::now();
    check_invariants(&tenant, "bench", args.vouchers, last).await?;
    check_invariants(&tenant, "single", args.single, last).await?;
    println!(
        "\ninvariants hold: numbering gap-free per (period, word), every trial balance balances, \
         posted balances = sums of posted lines (checked in {:.2} s)",
        started.elapsed().as_secs_f64()
    );

    // 4. Trial balance over every line.
    let mut times = Vec::new();
    for _ in 0..args.repeat {
        let started = Instant::now();
        let report = tenant.trial_balance("bench", last).await?;
        times.push(started.elapsed());
        if !report.is_balanced() {
            return Err(fail("the trial balance does not balance"));
        }
    }
    times.sort();
    println!(
        "\ntrial balance of {last} over {lines} posted lines: median {:.1} ms, worst {:.1} ms ({} runs)",
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1]),
        times.len()
    );

    // 5. Export and import of the last period.
    let started = Instant::now();
    let books = tenant.export_books("bench", last, last, false).await?;
    let loaded = started.elapsed();
    println!(
        "\nexport of {last} ({} vouchers, {} lines): loaded from the database in {:.2} s",
        books.vouchers.len(),
        books.vouchers.iter().map(|v| v.lines.len()).sum::<usize>(),
        loaded.as_secs_f64()
    );
    println!(
        "  {:<10} {:>10} {:>12} {:>12} {:>12}",
        "format", "MB", "write s", "parse s", "import s"
    );
    for format in Format::ALL {
        let started = Instant::now();
        let (bytes, _) = exchange::export(format, &books, &Options::default())
            .map_err(|error| fail(format!("{} export: {error}", format.as_str())))?;
        let written = started.elapsed();
        let started = Instant::now();
        let (imported, _) = exchange::import(
            format,
            &bytes,
            &Options::default(),
            &format!("import-{}", format.as_str()),
            Currency::CNY,
        )
        .map_err(|error| fail(format!("{} import: {error}", format.as_str())))?;
        let parsed = started.elapsed();
        let count = imported.vouchers.len();
        let started = Instant::now();
        let outcome = tenant
            .import_books(
                &ctx,
                &format!("import-{}", format.as_str()),
                imported,
                &|_, _| {},
            )
            .await?;
        let stored = started.elapsed();
        if outcome.vouchers != books.vouchers.len() || count != books.vouchers.len() {
            return Err(fail(format!(
                "{} lost vouchers: {} exported, {} imported",
                format.as_str(),
                books.vouchers.len(),
                outcome.vouchers
            )));
        }
        println!(
            "  {:<10} {:>10.1} {:>12.2} {:>12.2} {:>12.2}",
            format.as_str(),
            bytes.len() as f64 / 1e6,
            written.as_secs_f64(),
            parsed.as_secs_f64(),
            stored.as_secs_f64()
        );
    }
    Ok(())
}

/// Checks the book after the load: numbering, trial balances of every period, balances against lines.
async fn check_invariants(
    tenant: &Tenant<'_>,
    book: &str,
    expected: usize,
    last: Period,
) -> Result<(), Failure> {
    let numbering = tenant.voucher_numbering(book).await?;
    if let Some(gap) = numbering.iter().find(|n| !n.is_gap_free()) {
        return Err(fail(format!("numbering of {book} has a gap: {gap:?}")));
    }
    let total: u64 = numbering.iter().map(|n| n.vouchers).sum();
    if total != expected as u64 {
        return Err(fail(format!(
            "{book} holds {total} vouchers, {expected} were posted"
        )));
    }
    let mut periods: Vec<Period> = numbering.iter().map(|n| n.period).collect();
    periods.push(last);
    periods.dedup();
    for period in periods {
        if !tenant.trial_balance(book, period).await?.is_balanced() {
            return Err(fail(format!(
                "the trial balance of {period} does not balance"
            )));
        }
    }
    tenant.rebuilt_balances(book).await?;
    Ok(())
}

async fn post_one_by_one(
    store: &Store,
    org: tenon_model::OrgId,
    drafts: Vec<VoucherDraft>,
    concurrency: usize,
) -> Result<Duration, Failure> {
    let queue = Arc::new(Mutex::new(VecDeque::from(drafts)));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (store, queue) = (store.clone(), queue.clone());
        tasks.push(tokio::spawn(async move {
            let tenant = store.tenant(org);
            let ctx = WriteContext::system();
            loop {
                let next = queue.lock().ok().and_then(|mut queue| queue.pop_front());
                let Some(draft) = next else { break };
                let created = tenant.create_voucher(&ctx, "single", draft).await?;
                tenant
                    .advance_voucher(&ctx, "single", created.id, VoucherState::Reviewed)
                    .await?;
                tenant
                    .advance_voucher(&ctx, "single", created.id, VoucherState::Posted)
                    .await?;
            }
            Ok::<(), tenon_store::StoreError>(())
        }));
    }
    for task in tasks {
        task.await
            .map_err(|error| fail(format!("a posting task failed: {error}")))??;
    }
    Ok(started.elapsed())
}

/// Runs `write` over batches of `items` from `args.concurrency` tasks; answers the wall time.
async fn run_batches<T, F, Fut>(
    store: &Store,
    org: tenon_model::OrgId,
    items: Vec<T>,
    args: &BenchLedgerArgs,
    write: F,
) -> Result<Duration, Failure>
where
    T: Send + 'static,
    F: Fn(Store, tenon_model::OrgId, Vec<T>) -> Fut + Send + Sync + Copy + 'static,
    Fut: std::future::Future<Output = Result<(), tenon_store::StoreError>> + Send,
{
    let mut batches = VecDeque::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        batches.push_back(items.by_ref().take(args.batch).collect::<Vec<T>>());
    }
    let queue = Arc::new(Mutex::new(batches));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let (store, queue) = (store.clone(), queue.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().ok().and_then(|mut queue| queue.pop_front());
                let Some(batch) = next else { break };
                write(store.clone(), org, batch).await?;
            }
            Ok::<(), tenon_store::StoreError>(())
        }));
    }
    for task in tasks {
        task.await
            .map_err(|error| fail(format!("a posting task failed: {error}")))??;
    }
    Ok(started.elapsed())
}

fn code(raw: &str) -> Result<AccountCode, Failure> {
    AccountCode::parse(raw).map_err(fail)
}

/// `total` balanced 4-line vouchers (sales with two customers, and expenses), the last `in_last` of them
/// in `last`, the others spread over the three periods before it.
fn generate(total: usize, in_last: usize, last: Period) -> Result<Vec<VoucherDraft>, Failure> {
    let mut earlier = last;
    let mut periods = Vec::new();
    for _ in 0..3 {
        earlier = Period::from_key(if earlier.month() == 1 {
            (i64::from(earlier.year()) - 1) * 100 + 12
        } else {
            earlier.key() - 1
        })
        .ok_or_else(|| fail("period out of range"))?;
        periods.push(earlier);
    }
    let (receivable, revenue, output_vat) = (code("1122")?, code("6001")?, code("22210102")?);
    let (expense, input_vat, bank, payable) = (
        code("6602")?,
        code("22210101")?,
        code("1002")?,
        code("2241")?,
    );
    let mut drafts = Vec::with_capacity(total);
    for index in 0..total {
        let period = if index >= total - in_last {
            last
        } else {
            periods[index % periods.len()]
        };
        let day = u32::try_from(index % 28).unwrap_or(0) + 1;
        let date = NaiveDate::from_ymd_opt(period.year(), period.month(), day)
            .ok_or_else(|| fail("bad date"))?;
        let cents = i64::try_from(index % 9_973).unwrap_or(0) * 100 + 10_000;
        let net = Decimal::new(cents, 2);
        let tax = Decimal::new(cents * 13 / 100, 2);
        let zero = Decimal::ZERO;
        let lines = if index % 2 == 0 {
            let first = Decimal::new(cents / 2, 2);
            let second = net + tax - first;
            let mut a = Line::simple("销售", receivable.clone(), first, zero);
            a.dimensions = BTreeMap::from([(Dimension::Customer, format!("客户{}", index % 500))]);
            let mut b = Line::simple("销售", receivable.clone(), second, zero);
            b.dimensions =
                BTreeMap::from([(Dimension::Customer, format!("客户{}", (index + 1) % 500))]);
            vec![
                a,
                b,
                Line::simple("销售收入", revenue.clone(), zero, net),
                Line::simple("销项税额", output_vat.clone(), zero, tax),
            ]
        } else {
            let paid = Decimal::new(cents / 4, 2);
            let mut cost = Line::simple("办公费", expense.clone(), net, zero);
            cost.dimensions =
                BTreeMap::from([(Dimension::Department, format!("部门{}", index % 20))]);
            let mut owed = Line::simple("应付未付", payable.clone(), zero, net + tax - paid);
            owed.dimensions =
                BTreeMap::from([(Dimension::Employee, format!("员工{}", index % 100))]);
            vec![
                cost,
                Line::simple("进项税额", input_vat.clone(), tax, zero),
                Line::simple("银行付款", bank.clone(), zero, paid),
                owed,
            ]
        };
        drafts.push(VoucherDraft {
            date,
            word: if index % 2 == 0 {
                Word::Ji
            } else {
                Word::Zhuan
            },
            attachments: 1,
            lines,
        });
    }
    Ok(drafts)
}

/// The same drafts as stored rows with their numbers, for the raw insert.
fn numbered(drafts: &[VoucherDraft]) -> Vec<Voucher> {
    let mut next: BTreeMap<(Period, Word), u32> = BTreeMap::new();
    drafts
        .iter()
        .map(|draft| {
            let period = Period::of(draft.date);
            let number = next.entry((period, draft.word)).or_default();
            *number += 1;
            Voucher {
                period,
                word: draft.word,
                number: *number,
                date: draft.date,
                attachments: draft.attachments,
                state: VoucherState::Posted,
                preparer: "bench".to_owned(),
                reviewer: Some("bench".to_owned()),
                poster: Some("bench".to_owned()),
                lines: draft.lines.clone(),
            }
        })
        .collect()
}
