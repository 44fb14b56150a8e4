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
//! 4. The trial balance of the last period over all lines (default 1,000,000), repeated, and both CAS
//!    statements beside it — as the load left the tables and, on PostgreSQL, again after a `VACUUM
//!    ANALYZE` of the ledger's tables (what autovacuum does on a default server), each labelled. The chart is widened to about 2,000 accounts first (sub-accounts of 1002,
//!    1122, 6001 and 6602, two levels deep), and the lines are spread over the new leaves.
//! 5. Export of the last period (default 100,000 vouchers) to every format, and import of each file into a
//!    new book (for Yonyou U8, whose voucher document carries no chart, the chart document first: the
//!    import time counts both).
//!
//! Benchmarks are never timed tests: this prints figures for a person to read and record.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use tenon_ledger::exchange::{self, Format, Options};
use tenon_ledger::statements::StatementKind;
use tenon_ledger::voucher::VoucherDraft;
use tenon_ledger::{
    AccountCode, BookSettings, Currency, Dimension, Line, Period, Standard, Voucher, VoucherState,
    Word,
};
use tenon_model::{Email, Locale, Name, TimeZone};
use tenon_store::ledger::BookRef;
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
    let started = Instant::now();
    let mut leaves = Leaves::default();
    for name in ["bench", "raw", "single"] {
        leaves = widen_chart(&tenant, &BookRef::name(name)).await?;
    }
    let (_, chart) = tenant.ledger_accounts(&BookRef::name("bench")).await?;
    println!(
        "chart: {} accounts per book ({} leaves under 1002, 1122, 6001, 6602; created in {:.2} s)",
        chart.len(),
        leaves.bank.len() + leaves.receivable.len() + leaves.revenue.len() + leaves.expense.len(),
        started.elapsed().as_secs_f64()
    );
    let last = Period::parse("2026-10").map_err(fail)?;
    let drafts = generate(args.vouchers, args.period_vouchers, last, &leaves)?;
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
            .insert_raw_vouchers_for_benchmark(&BookRef::name("raw"), batch)
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
                    &BookRef::name("bench"),
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
    check_invariants(&tenant, &BookRef::name("bench"), args.vouchers, last).await?;
    check_invariants(&tenant, &BookRef::name("single"), args.single, last).await?;
    println!(
        "\ninvariants hold: numbering gap-free per (period, word), every trial balance balances, \
         posted balances = sums of posted lines (checked in {:.2} s)",
        started.elapsed().as_secs_f64()
    );

    // 4. The trial balance and both statements over every line, as the load left the tables; then, on
    // PostgreSQL, again after a VACUUM ANALYZE of the ledger's tables — what autovacuum does on a server
    // with its default settings (this one may run without it): both figures are printed, labelled.
    let bench = BookRef::name("bench");
    reports(&tenant, &bench, last, lines, args.repeat, "as loaded").await?;
    let started = Instant::now();
    if tenant.vacuum_ledger_for_benchmark().await? {
        println!(
            "\nVACUUM ANALYZE of the ledger tables (what autovacuum does on a default server): {:.2} s",
            started.elapsed().as_secs_f64()
        );
        reports(
            &tenant,
            &bench,
            last,
            lines,
            args.repeat,
            "after VACUUM ANALYZE",
        )
        .await?;
    }

    // 5. Export and import of the last period.
    let started = Instant::now();
    let books = tenant
        .export_books(&BookRef::name("bench"), last, last, false)
        .await?;
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
        if format == Format::YonyouU8 {
            // U8's EAI reads one document per file and the voucher document carries no chart: as a
            // user does (docs/ledger.md §6), the chart document goes first, into the new book.
            import_u8_chart(
                &tenant,
                &ctx,
                &books,
                &format!("import-{}", format.as_str()),
            )
            .await?;
        }
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

    // 6. Carry-forward of the last period, then the statements' checks: net profit = the amount carried
    // to 本年利润, and the balance sheet balances.
    let income = tenant.income_statement(&bench, last, last, None).await?;
    let started = Instant::now();
    let (_, vouchers) = tenant.carry_forward(&ctx, &bench, last).await?;
    let elapsed = started.elapsed();
    let started = Instant::now();
    let (_, again) = tenant.carry_forward(&ctx, &bench, last).await?;
    let nothing = started.elapsed();
    let moved: Decimal = vouchers
        .iter()
        .flat_map(|v| &v.voucher.lines)
        .filter(|line| line.account.as_str() == "4103")
        .map(|line| line.credit - line.debit)
        .sum();
    let net_profit = income
        .lines
        .last()
        .map(|line| line.current)
        .unwrap_or_default();
    let sheet = tenant.balance_sheet(&bench, last, None).await?;
    let total = |code: &str| {
        sheet
            .lines
            .iter()
            .find(|l| l.code == code)
            .map(|l| l.current)
    };
    if !again.is_empty() || moved != net_profit || total("29") != total("59") {
        return Err(fail(format!(
            "period end does not add up: carried {moved}, net profit {net_profit}, assets {:?}, liabilities and equity {:?}, second carry-forward {} voucher(s)",
            total("29"),
            total("59"),
            again.len()
        )));
    }
    println!(
        "\ncarry-forward of {last} ({} lines): {} voucher(s) of {} lines in {:.2} s; again (nothing to move) {:.1} ms; \
         net profit {net_profit} = the amount carried; assets = liabilities + equity",
        args.period_vouchers * 4,
        vouchers.len(),
        vouchers
            .iter()
            .map(|v| v.voucher.lines.len())
            .sum::<usize>(),
        elapsed.as_secs_f64(),
        ms(nothing)
    );
    Ok(())
}

/// Imports the U8 `code` document (the chart) of `books` into book `name`, creating it.
async fn import_u8_chart(
    tenant: &Tenant<'_>,
    ctx: &WriteContext,
    books: &exchange::Books,
    name: &str,
) -> Result<(), Failure> {
    let options = Options {
        u8_document: "code",
        ..Options::default()
    };
    let (bytes, _) = exchange::export(Format::YonyouU8, books, &options)
        .map_err(|error| fail(format!("yonyou-u8 chart export: {error}")))?;
    let (chart, _) = exchange::import(Format::YonyouU8, &bytes, &options, name, Currency::CNY)
        .map_err(|error| fail(format!("yonyou-u8 chart import: {error}")))?;
    tenant.import_books(ctx, name, chart, &|_, _| {}).await?;
    Ok(())
}

/// The trial balance of `last` over every line, repeated, then both statements beside it (the baseline:
/// one aggregate over the posted balances); `state` says what the tables had been through.
async fn reports(
    tenant: &Tenant<'_>,
    bench: &BookRef,
    last: Period,
    lines: usize,
    repeat: usize,
    state: &str,
) -> Result<(), Failure> {
    let mut times = Vec::new();
    for _ in 0..repeat {
        let started = Instant::now();
        let report = tenant.trial_balance(bench, last).await?;
        times.push(started.elapsed());
        if !report.is_balanced() {
            return Err(fail("the trial balance does not balance"));
        }
    }
    times.sort();
    println!(
        "\n{state}: trial balance of {last} over {lines} posted lines: median {:.1} ms, worst {:.1} ms ({} runs)",
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1]),
        times.len()
    );
    let baseline = times[times.len() / 2];
    for kind in [StatementKind::BalanceSheet, StatementKind::IncomeStatement] {
        let mut times = Vec::new();
        for _ in 0..repeat {
            let started = Instant::now();
            match kind {
                StatementKind::BalanceSheet => tenant.balance_sheet(bench, last, None).await?,
                StatementKind::IncomeStatement => {
                    tenant.income_statement(bench, last, last, None).await?
                }
            };
            times.push(started.elapsed());
        }
        times.sort();
        println!(
            "{state}: {} ({}) of {last}: median {:.1} ms, worst {:.1} ms ({} runs); {:.2}× the trial balance",
            kind.as_str(),
            kind.title(),
            ms(times[times.len() / 2]),
            ms(times[times.len() - 1]),
            times.len(),
            times[times.len() / 2].as_secs_f64() / baseline.as_secs_f64().max(1e-9)
        );
    }
    Ok(())
}

/// Checks the book after the load: numbering, trial balances of every period, balances against lines.
async fn check_invariants(
    tenant: &Tenant<'_>,
    book: &BookRef,
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
                let created = tenant
                    .create_voucher(&ctx, &BookRef::name("single"), draft)
                    .await?;
                tenant
                    .advance_voucher(
                        &ctx,
                        &BookRef::name("single"),
                        created.id,
                        VoucherState::Reviewed,
                    )
                    .await?;
                tenant
                    .advance_voucher(
                        &ctx,
                        &BookRef::name("single"),
                        created.id,
                        VoucherState::Posted,
                    )
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

/// The leaf accounts the generated lines post to.
#[derive(Debug, Default)]
struct Leaves {
    bank: Vec<AccountCode>,
    receivable: Vec<AccountCode>,
    revenue: Vec<AccountCode>,
    expense: Vec<AccountCode>,
}

/// Gives 1002, 1122, 6001 and 6602 two levels of sub-accounts (about 1,850 accounts over the template's
/// ~170): the statements then read a chart of about 2,000 accounts.
async fn widen_chart(tenant: &Tenant<'_>, book: &BookRef) -> Result<Leaves, Failure> {
    let ctx = WriteContext::system();
    let (_, accounts) = tenant.ledger_accounts(book).await?;
    let mut leaves = Leaves::default();
    for (parent, width) in [("1002", 8), ("1122", 20), ("6001", 20), ("6602", 30)] {
        let template = accounts
            .iter()
            .find(|account| account.code.as_str() == parent)
            .ok_or_else(|| fail(format!("the template has no account {parent}")))?;
        let mut made = Vec::new();
        for first in 1..=width {
            let middle = code(&format!("{parent}{first:02}"))?;
            let mut account = template.clone();
            account.code = middle.clone();
            account.name = format!("{}{first:02}", template.name);
            account.role = None;
            tenant
                .create_ledger_account(&ctx, book, account.clone())
                .await?;
            for second in 1..=width {
                account.code = code(&format!("{middle}{second:02}"))?;
                account.name = format!("{}{first:02}-{second:02}", template.name);
                tenant
                    .create_ledger_account(&ctx, book, account.clone())
                    .await?;
                made.push(account.code.clone());
            }
        }
        match parent {
            "1002" => leaves.bank = made,
            "1122" => leaves.receivable = made,
            "6001" => leaves.revenue = made,
            _ => leaves.expense = made,
        }
    }
    Ok(leaves)
}

/// `total` balanced 4-line vouchers (sales with two customers, and expenses), the last `in_last` of them
/// in `last`, the others spread over the three periods before it.
fn generate(
    total: usize,
    in_last: usize,
    last: Period,
    leaves: &Leaves,
) -> Result<Vec<VoucherDraft>, Failure> {
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
    let (output_vat, input_vat, payable) = (code("22210102")?, code("22210101")?, code("2241")?);
    let pick = |codes: &[AccountCode], index: usize| codes[index % codes.len()].clone();
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
            let mut a = Line::simple("销售", pick(&leaves.receivable, index / 2), first, zero);
            a.dimensions = BTreeMap::from([(Dimension::Customer, format!("客户{}", index % 500))]);
            let mut b = Line::simple(
                "销售",
                pick(&leaves.receivable, index / 2 + 1),
                second,
                zero,
            );
            b.dimensions =
                BTreeMap::from([(Dimension::Customer, format!("客户{}", (index + 1) % 500))]);
            vec![
                a,
                b,
                Line::simple("销售收入", pick(&leaves.revenue, index / 2), zero, net),
                Line::simple("销项税额", output_vat.clone(), zero, tax),
            ]
        } else {
            let paid = Decimal::new(cents / 4, 2);
            let mut cost = Line::simple("办公费", pick(&leaves.expense, index / 2), net, zero);
            cost.dimensions =
                BTreeMap::from([(Dimension::Department, format!("部门{}", index % 20))]);
            let mut owed = Line::simple("应付未付", payable.clone(), zero, net + tax - paid);
            owed.dimensions =
                BTreeMap::from([(Dimension::Employee, format!("员工{}", index % 100))]);
            vec![
                cost,
                Line::simple("进项税额", input_vat.clone(), tax, zero),
                Line::simple("银行付款", pick(&leaves.bank, index / 2), zero, paid),
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
