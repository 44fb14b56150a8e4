//! Books in and out: the canonical [`tenon_ledger::exchange::Books`] of a period range for export, and
//! imports that create the book if absent and write accounts, dimension values and vouchers in the state
//! the source records, in one transaction with one audit entry.

use std::collections::{BTreeMap, BTreeSet};
use tenon_ledger::opening::{Opening, Openings};
use tenon_model::VoucherId;

use rust_decimal::Decimal;
use tenon_ledger::exchange::{Books, DimensionValue};
use tenon_ledger::voucher::{self, VoucherDraft};
use tenon_ledger::{BookSettings, Chart, Dimension, Period, Standard, VoucherState, Word};
use tenon_model::{Action, DetailCode, FieldError, Invalid, TargetKind};

use super::openings::openings_snapshot;
use super::{Book, BookLock, BookRef, StoredVoucher};
use crate::audit::{self, Change};
use crate::exec::{Conn, Sql};
use crate::{Result, StoreError, Tenant, WriteContext};

/// Vouchers written per step of an import; progress is reported after each.
const IMPORT_CHUNK: usize = 1000;
/// Most problems an import refusal lists.
const IMPORT_PROBLEMS_MAX: usize = 100;

/// Called after each written chunk of imported vouchers with (done, total).
pub type ImportProgress<'a> = &'a (dyn Fn(usize, usize) + Sync);

#[derive(Debug, Clone)]
pub struct ImportOutcome {
    pub book: Book,
    pub book_created: bool,
    pub accounts_created: usize,
    pub vouchers: usize,
    /// Opening balances taken from the file, as of its first period (they replace an existing book's).
    pub openings: usize,
    /// Their totals; they differ when the file's openings do not balance (the book then shows
    /// `opening_balanced: false` until they are corrected).
    pub opening_debit: Decimal,
    pub opening_credit: Decimal,
}

#[derive(sqlx::FromRow)]
struct ValueRow {
    dimension: String,
    code: String,
    external_code: Option<String>,
    name: String,
}

impl Tenant<'_> {
    /// The vouchers of `from..=to` (posted only unless `include_unposted`), the chart, the dimension values
    /// and the posted opening balances before `from`.
    pub async fn export_books(
        &self,
        book: &BookRef,
        from: Period,
        to: Period,
        include_unposted: bool,
    ) -> Result<Books> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let book = self
            .find_book(&mut conn, book)
            .await?
            .ok_or_else(|| StoreError::not_found("book"))?;
        let mut books = Books::new(&book.settings.name, book.settings.base_currency);
        books.fiscal_year_start_month = book.settings.fiscal_year_start_month;
        books.code = book.code.clone();
        books.tax_registration_number = book.tax_registration_number.clone();
        books.accounts = self.load_accounts(&mut conn, book.id).await?;
        books.dimension_values = self.dimension_values_of(&mut conn, book.id).await?;
        books.vouchers = self
            .load_vouchers(&mut conn, book.id, None, Some((from, to)))
            .await?
            .into_iter()
            .map(|stored| stored.voucher)
            .filter(|voucher| include_unposted || voucher.state == VoucherState::Posted)
            .collect();
        drop(pooled);
        let by_account = self.trial_balance_sums_before(&book, from).await?;
        books.openings = self.openings_before(&book, from, by_account).await?;
        books.opening_period = Some(from);
        books.sort();
        Ok(books)
    }

    /// A book's dimension values, with the codes other systems know them by.
    pub(crate) async fn dimension_values_of(
        &self,
        conn: &mut Conn<'_>,
        book_id: tenon_model::BookId,
    ) -> Result<Vec<DimensionValue>> {
        let values: Vec<ValueRow> = conn
            .fetch_all(
                Sql::new("SELECT dimension, code, external_code, name FROM ledger_dimension_values WHERE organization_id = $1 AND book_id = $2 ORDER BY dimension, code")
                    .bind(self.org_id)
                    .bind(book_id),
            )
            .await?;
        values
            .into_iter()
            .map(|value| {
                Ok(DimensionValue {
                    dimension: Dimension::parse(&value.dimension)
                        .map_err(|_| super::corrupt("dimension", &value.dimension))?,
                    value: value.code,
                    code: value.external_code.unwrap_or_default(),
                    name: value.name,
                })
            })
            .collect()
    }

    /// The balances before `from` per leaf account and dimension values: the opening balances (from
    /// the opening period on) and the posted sums of earlier periods by dimension values
    /// (`ledger_value_balances`), the rest of each account's balance without values.
    async fn openings_before(
        &self,
        book: &Book,
        from: Period,
        by_account: BTreeMap<tenon_ledger::AccountCode, Decimal>,
    ) -> Result<Vec<Opening>> {
        #[derive(sqlx::FromRow)]
        struct ValueSum {
            account_code: String,
            customer: String,
            supplier: String,
            department: String,
            employee: String,
            project: String,
            item: String,
            debit: super::Scaled<2>,
            credit: super::Scaled<2>,
        }
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let mut by_values: BTreeMap<
            (tenon_ledger::AccountCode, BTreeMap<Dimension, String>),
            Decimal,
        > = BTreeMap::new();
        let counted = book.opening_period.is_some_and(|first| first <= from);
        let openings = if counted {
            self.load_openings(&mut conn, book).await?
        } else {
            None
        };
        for opening in openings.into_iter().flat_map(|o| o.balances) {
            if !opening.dimensions.is_empty() {
                *by_values
                    .entry((opening.account.clone(), opening.dimensions.clone()))
                    .or_default() += opening.net();
            }
        }
        let sums: Vec<ValueSum> = conn
            .fetch_all(
                Sql::new(
                    "SELECT account_code, customer, supplier, department, employee, project, item, \
                     COALESCE(SUM(debit), 0) AS debit, COALESCE(SUM(credit), 0) AS credit FROM ledger_value_balances \
                     WHERE organization_id = $1 AND book_id = $2 AND period < $3 \
                     GROUP BY account_code, customer, supplier, department, employee, project, item",
                )
                .bind(self.org_id)
                .bind(book.id)
                .bind(from.key()),
            )
            .await?;
        drop(pooled);
        for sum in sums {
            let account = tenon_ledger::AccountCode::parse(&sum.account_code)
                .map_err(|_| super::corrupt("account code", &sum.account_code))?;
            let dimensions: BTreeMap<Dimension, String> = [
                (Dimension::Customer, sum.customer),
                (Dimension::Supplier, sum.supplier),
                (Dimension::Department, sum.department),
                (Dimension::Employee, sum.employee),
                (Dimension::Project, sum.project),
                (Dimension::Item, sum.item),
            ]
            .into_iter()
            .filter(|(_, value)| !value.is_empty())
            .collect();
            *by_values.entry((account, dimensions)).or_default() += sum.debit.0 - sum.credit.0;
        }
        let side = |account: tenon_ledger::AccountCode, net: Decimal| {
            Opening::simple(account, net.max(Decimal::ZERO), (-net).max(Decimal::ZERO))
        };
        let mut rest = by_account;
        let mut openings = Vec::new();
        for ((account, dimensions), net) in by_values {
            *rest.entry(account.clone()).or_default() -= net;
            if !net.is_zero() {
                let mut opening = side(account, net);
                opening.dimensions = dimensions;
                openings.push(opening);
            }
        }
        for (account, net) in rest {
            if !net.is_zero() {
                openings.push(side(account, net));
            }
        }
        Ok(openings)
    }

    async fn trial_balance_sums_before(
        &self,
        book: &Book,
        from: Period,
    ) -> Result<BTreeMap<tenon_ledger::AccountCode, Decimal>> {
        let report = self.trial_balance(&BookRef::Id(book.id), from).await?;
        let chart_leaves: BTreeMap<_, _> = report
            .rows
            .into_iter()
            .map(|row| (row.code, row.opening_debit - row.opening_credit))
            .collect();
        let (_, accounts) = self.ledger_accounts(&BookRef::Id(book.id)).await?;
        let chart = Chart::from_accounts(accounts)
            .map_err(|invalid| StoreError::Corrupt(invalid.to_string()))?;
        Ok(chart_leaves
            .into_iter()
            .filter(|(code, net)| chart.is_leaf(code) && !net.is_zero())
            .collect())
    }

    /// Imports books: creates the book `name` if absent (standard `cas`, the file's base currency), adds the
    /// accounts it lacks, and writes every voucher with its own number and state, checked like any other.
    pub async fn import_books(
        &self,
        ctx: &WriteContext,
        name: &str,
        books: Books,
        progress: ImportProgress<'_>,
    ) -> Result<ImportOutcome> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let (book, book_created) = match self
            .find_book(&mut conn, &BookRef::Name(name.to_owned()))
            .await?
        {
            // Locked alone: the import may replace the openings, whose checks a close or an earlier
            // voucher must not slip past.
            Some(book) => (
                self.find_book_locked(&mut conn, &BookRef::Id(book.id), BookLock::Update)
                    .await?,
                false,
            ),
            None => {
                let settings = BookSettings {
                    name: BookSettings::check_name(name)
                        .map_err(|reason| StoreError::Invalid(reason.at("book").into()))?,
                    base_currency: books.base_currency,
                    standard: Standard::Cas,
                    fiscal_year_start_month: books.fiscal_year_start_month,
                    segregation_of_duties: false,
                };
                // The file's book code when it is a valid code no other book has, else the next free one.
                let code = match tenon_ledger::book::check_code(&books.code) {
                    Ok(code) => {
                        let taken: Option<(Option<String>,)> = conn
                            .fetch_optional(
                                Sql::new("SELECT code FROM ledger_books WHERE organization_id = $1 AND code = $2")
                                    .bind(self.org_id)
                                    .bind(code.as_str()),
                            )
                            .await?;
                        taken.is_none().then_some(code)
                    }
                    Err(_) => None,
                };
                let tax_registration_number =
                    books.tax_registration_number.as_deref().and_then(|number| {
                        tenon_ledger::book::check_tax_registration_number(number).ok()
                    });
                let change = super::BookChange {
                    code,
                    tax_registration_number: Some(tax_registration_number),
                };
                // A file without a chart (a U8 voucher document) gets the 企业会计准则 template's.
                let accounts = if books.accounts.is_empty() {
                    tenon_ledger::templates::accounts(Standard::Cas).map_err(StoreError::Corrupt)?
                } else {
                    Vec::new()
                };
                (
                    self.insert_book(&mut conn, ctx, settings, change, accounts)
                        .await?,
                    true,
                )
            }
        };
        if book.settings.base_currency != books.base_currency {
            return Err(super::invalid(
                "file",
                DetailCode::Conflict,
                format!(
                    "the file's base currency is {}, book {} keeps {}",
                    books.base_currency, book.settings.name, book.settings.base_currency
                ),
            ));
        }
        let mut chart = self.load_chart(&mut conn, book.id).await?;
        let mut accounts_created = 0;
        let mut incoming = books.accounts.clone();
        incoming.sort_by(|a, b| a.code.cmp(&b.code));
        for mut account in incoming {
            if chart.get(&account.code).is_some() {
                continue;
            }
            if account
                .role
                .as_ref()
                .is_some_and(|role| chart.by_role(role).is_some())
            {
                account.role = None;
            }
            chart.insert(account.clone()).map_err(|invalid| {
                let at = format!("accounts.{}", account.code);
                StoreError::Invalid(tenon_model::Invalid(
                    invalid
                        .0
                        .into_iter()
                        .map(|error| {
                            let reason = format!("{}: {}", error.field, error.reason);
                            FieldError {
                                reason,
                                ..error.at(at.clone())
                            }
                        })
                        .collect(),
                ))
            })?;
            self.insert_account(&mut conn, book.id, &account).await?;
            accounts_created += 1;
        }
        if books.accounts.is_empty() {
            chartless_accounts(&book, &chart, &books)?;
        }
        let mut values: Vec<(Dimension, String, String, Option<String>)> = books
            .dimension_values
            .iter()
            .map(|value| {
                (
                    value.dimension,
                    value.value.clone(),
                    value.name.clone(),
                    Some(value.code.clone()).filter(|code| !code.is_empty()),
                )
            })
            .collect();
        // The values the openings name (a file's master data may not list them).
        let named: BTreeSet<(Dimension, String)> = books
            .openings
            .iter()
            .flat_map(|opening| opening.dimensions.iter())
            .map(|(dimension, value)| (*dimension, value.clone()))
            .collect();
        values.extend(
            named
                .into_iter()
                .map(|(dimension, value)| (dimension, value.clone(), value, None)),
        );
        values.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        self.create_dimension_values(&mut conn, book.id, values)
            .await?;
        let first_period = books
            .opening_period
            .or_else(|| books.vouchers.iter().map(|v| v.period).min());
        let file_openings = books.openings.clone();
        if let (false, Some(period), false) = (book_created, first_period, file_openings.is_empty())
        {
            self.check_import_openings(&mut conn, &book, period).await?;
        }
        let stored = self
            .check_imported(&mut conn, ctx, &book, &chart, books.vouchers)
            .await?;
        let total = stored.len();
        for (index, chunk) in stored.chunks(IMPORT_CHUNK).enumerate() {
            self.write_vouchers(&mut conn, book.id, chunk).await?;
            progress((index * IMPORT_CHUNK + chunk.len()).min(total), total);
        }
        // The file's openings, as written (an import is a migration: an imbalance is reported, not refused),
        // as of the file's first period: they open a book this import created, and replace the openings of
        // an existing one (checked above).
        let mut book = book;
        let mut openings = 0;
        // An existing book's openings that the file replaces stay in the audit entry.
        let mut replaced = None;
        if let (false, Some(period)) = (file_openings.is_empty(), first_period) {
            let balances: Vec<Opening> = file_openings;
            openings = balances.len();
            if !book_created {
                let before = self.load_openings(&mut conn, &book).await?;
                replaced =
                    Some(serde_json::json!({"replaced": openings_snapshot(before.as_ref())}));
            }
            book = self
                .write_openings(&mut conn, book, &Openings { period, balances })
                .await?;
        }
        audit::record(&mut conn, self, Change {
            target_kind: TargetKind::LedgerBook,
            target_id: book.id.to_string(),
            action: Action::Imported,
            before: replaced,
            after: Some(serde_json::json!({"book": book.settings.name, "accounts_created": accounts_created, "vouchers": total,
                "openings": openings, "opening_debit": tenon_ledger::money::amount_text(book.opening_debit),
                "opening_credit": tenon_ledger::money::amount_text(book.opening_credit)})),
            ctx,
        })
        .await?;
        tx.commit().await?;
        Ok(ImportOutcome {
            opening_debit: book.opening_debit,
            opening_credit: book.opening_credit,
            book,
            book_created,
            accounts_created,
            vouchers: total,
            openings,
        })
    }
}

impl Tenant<'_> {
    /// Checks imported vouchers like any other (balanced, leaf accounts, open periods) and that their numbers
    /// are free — in the file and in the book — then reserves the numbers. Refusals name the voucher.
    async fn check_imported(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        book: &Book,
        chart: &Chart,
        vouchers: Vec<tenon_ledger::Voucher>,
    ) -> Result<Vec<StoredVoucher>> {
        let mut problems = Vec::new();
        let mut seen = BTreeSet::new();
        let mut highest: BTreeMap<(Period, Word), u32> = BTreeMap::new();
        for imported in &vouchers {
            let at = format!(
                "vouchers[{} {}-{}]",
                imported.period,
                imported.word.as_str(),
                imported.number
            );
            let draft = VoucherDraft {
                date: imported.date,
                word: imported.word,
                attachments: imported.attachments,
                lines: imported.lines.clone(),
            };
            if let Err(invalid) = voucher::check_voucher(&book.settings, chart, &draft) {
                for problem in invalid.0 {
                    let field = format!("{at}.{}", problem.field);
                    problems.push(problem.at(field));
                }
            }
            if Period::of(imported.date) != imported.period {
                problems.push(
                    FieldError::new(
                        format!("{at}.date"),
                        DetailCode::OutsidePeriod,
                        format!("{} is not in period {}", imported.date, imported.period),
                    )
                    .with("date", imported.date.to_string())
                    .with("period", imported.period.to_string()),
                );
            }
            if imported.number == 0 {
                problems.push(
                    FieldError::new(
                        format!("{at}.number"),
                        DetailCode::TooSmall,
                        "voucher numbers start at 1",
                    )
                    .with("min", 1),
                );
            }
            if !seen.insert((imported.period, imported.word, imported.number)) {
                problems.push(FieldError::new(
                    at.clone(),
                    DetailCode::Duplicate,
                    "the file holds this voucher number twice",
                ));
            }
            if let Err(StoreError::Conflict { reason, .. }) =
                Self::check_open(book, imported.period)
            {
                return Err(StoreError::conflict(
                    Some("date"),
                    DetailCode::PeriodClosed,
                    format!("{at}: {reason}"),
                )
                .with("period", imported.period.to_string()));
            }
            let slot = highest.entry((imported.period, imported.word)).or_default();
            *slot = (*slot).max(imported.number);
            if problems.len() >= IMPORT_PROBLEMS_MAX {
                break;
            }
        }
        if !problems.is_empty() {
            return Err(StoreError::Invalid(Invalid(problems)));
        }
        if let (Some(first), Some(last)) = (
            vouchers.iter().map(|v| v.period).min(),
            vouchers.iter().map(|v| v.period).max(),
        ) {
            let taken: Vec<(i64, String, i64)> = conn
                .fetch_all(
                    Sql::new(
                        "SELECT period, word, number FROM ledger_vouchers WHERE organization_id = $1 AND book_id = $2 \
                         AND period >= $3 AND period <= $4",
                    )
                    .bind(self.org_id)
                    .bind(book.id)
                    .bind(first.key())
                    .bind(last.key()),
                )
                .await?;
            let clash = taken.into_iter().find_map(|(period, word, number)| {
                let period = Period::from_key(period)?;
                let word = Word::parse(&word).ok()?;
                let number = u32::try_from(number).ok()?;
                seen.contains(&(period, word, number))
                    .then_some((period, word, number))
            });
            if let Some((period, word, number)) = clash {
                return Err(StoreError::conflict(
                    Some("number"),
                    DetailCode::NotUnique,
                    format!(
                        "voucher {}-{number} of {period} already exists in book {}; was this file imported before?",
                        word.as_str(),
                        book.settings.name
                    ),
                ));
            }
        }
        for (&(period, word), &number) in &highest {
            self.raise_number(conn, book.id, period, word, number)
                .await?;
        }
        let now = self.store.now();
        Ok(vouchers
            .into_iter()
            .map(|mut voucher| {
                if voucher.preparer.is_empty() {
                    voucher.preparer = ctx.actor.name().to_owned();
                }
                StoredVoucher {
                    id: VoucherId::new(),
                    book_id: book.id,
                    voucher,
                    reverses_id: None,
                    reversed_by_id: None,
                    created_at: now,
                }
            })
            .collect())
    }
}

/// A file without a chart (a U8 voucher document) books onto the accounts the book already has. The
/// accounts its lines name that the book lacks are refused together, with what to import first, rather than
/// once per line: such a file usually comes from a book with sub-accounts of its own.
fn chartless_accounts(book: &Book, chart: &Chart, books: &Books) -> Result<()> {
    let missing: BTreeSet<&str> = books
        .vouchers
        .iter()
        .flat_map(|voucher| &voucher.lines)
        .map(|line| &line.account)
        .filter(|code| chart.get(code).is_none())
        .map(|code| code.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    const NAMED: usize = 20;
    let mut named: Vec<&str> = missing.iter().copied().take(NAMED).collect();
    if missing.len() > NAMED {
        named.push("…");
    }
    Err(StoreError::Invalid(Invalid(vec![
        tenon_model::Reason::not_found(
            "account",
            format!(
                "the file carries no chart, and book {} has no account {} ({} in all): import the chart \
                 first (for Yonyou U8 the code document, document=code), or into a book that has them",
                book.settings.name,
                named.join(", "),
                missing.len()
            ),
        )
        .at("accounts"),
    ])))
}
