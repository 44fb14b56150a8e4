//! Vouchers: create (checked, numbered), review, post (balances updated), reverse, read, and vouchers
//! from business records (idempotent by the record's source identifier).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use tenon_ledger::voucher::{self, VoucherDraft};
use tenon_ledger::{AccountCode, Currency, Dimension, Line, Period, Voucher, VoucherState, Word};
use tenon_model::{Action, DetailCode, Page, PageRequest, TargetKind};
use tenon_model::{BookId, VoucherId};
use uuid::Uuid;

use super::{Book, BookLock, BookRef, Scaled, StoredVoucher, corrupt, date_text, invalid};
use crate::audit::{self, Change};
use crate::exec::{Conn, Sql};
use crate::{Result, StoreError, Tenant, WriteContext};

#[derive(sqlx::FromRow)]
struct VoucherRow {
    id: Uuid,
    book_id: Uuid,
    period: i64,
    word: String,
    number: i64,
    date: String,
    attachments: i64,
    state: String,
    preparer: String,
    reviewer: Option<String>,
    poster: Option<String>,
    reverses_id: Option<Uuid>,
    reversed_by_id: Option<Uuid>,
    created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct LineRow {
    pub voucher_id: Uuid,
    account_code: String,
    summary: String,
    customer: Option<String>,
    supplier: Option<String>,
    department: Option<String>,
    employee: Option<String>,
    project: Option<String>,
    item: Option<String>,
    debit: Scaled<2>,
    credit: Scaled<2>,
    currency: Option<String>,
    original_amount: Option<Scaled<2>>,
    exchange_rate: Option<Scaled<8>>,
    quantity: Option<Scaled<6>>,
    unit_price: Option<Scaled<6>>,
}

impl LineRow {
    pub(crate) fn into_line(self) -> Result<Line> {
        let mut dimensions = BTreeMap::new();
        for (dimension, value) in [
            (Dimension::Customer, self.customer),
            (Dimension::Supplier, self.supplier),
            (Dimension::Department, self.department),
            (Dimension::Employee, self.employee),
            (Dimension::Project, self.project),
            (Dimension::Item, self.item),
        ] {
            if let Some(value) = value {
                dimensions.insert(dimension, value);
            }
        }
        Ok(Line {
            summary: self.summary,
            account: AccountCode::parse(&self.account_code)
                .map_err(|_| corrupt("account code", &self.account_code))?,
            dimensions,
            debit: self.debit.0,
            credit: self.credit.0,
            currency: self
                .currency
                .map(|c| Currency::parse(&c).map_err(|_| corrupt("currency", c)))
                .transpose()?,
            original_amount: self.original_amount.map(|v| v.0),
            exchange_rate: self.exchange_rate.map(|v| v.0),
            quantity: self.quantity.map(|v| v.0),
            unit_price: self.unit_price.map(|v| v.0),
        })
    }
}

pub(super) fn voucher_snapshot(stored: &StoredVoucher) -> serde_json::Value {
    let v = &stored.voucher;
    serde_json::json!({
        "id": stored.id.to_string(), "book_id": stored.book_id.to_string(), "period": v.period.to_string(), "word": v.word.as_str(), "number": v.number,
        "date": date_text(v.date), "state": v.state.as_str(), "preparer": v.preparer, "reviewer": v.reviewer,
        "poster": v.poster, "total": tenon_ledger::money::amount_text(v.total_debit()), "lines": v.lines.len(),
        "reverses_id": stored.reverses_id.map(|id| id.to_string()),
    })
}
/// Most vouchers one call of [`Tenant::create_vouchers`] may create.
pub const VOUCHERS_PER_WRITE_MAX: usize = 1000;

impl Tenant<'_> {
    /// Creates a draft voucher with the next number of its (period, word).
    pub async fn create_voucher(
        &self,
        ctx: &WriteContext,
        book: &BookRef,
        draft: VoucherDraft,
    ) -> Result<StoredVoucher> {
        let created = self
            .create_vouchers(ctx, book, vec![draft], VoucherState::Draft)
            .await?;
        created
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Corrupt("a voucher was created but not returned".to_owned()))
    }

    /// Creates vouchers in one transaction — all or none — each checked like any other and numbered in the
    /// order given. With `state` posted they are reviewed and posted by the caller at once (refused when the
    /// book separates duties) and their sums enter the balances. One audit entry per voucher.
    pub async fn create_vouchers(
        &self,
        ctx: &WriteContext,
        book: &BookRef,
        drafts: Vec<VoucherDraft>,
        state: VoucherState,
    ) -> Result<Vec<StoredVoucher>> {
        if drafts.is_empty() || drafts.len() > VOUCHERS_PER_WRITE_MAX {
            return Err(invalid(
                "vouchers",
                DetailCode::OutOfRange,
                format!(
                    "give 1 to {VOUCHERS_PER_WRITE_MAX} vouchers (got {})",
                    drafts.len()
                ),
            )
            .with("min", 1)
            .with("max", VOUCHERS_PER_WRITE_MAX));
        }
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let book = self
            .find_book_locked(&mut conn, book, BookLock::Share)
            .await?;
        voucher::check_created_state(&book.settings, state)
            .map_err(|refused| StoreError::conflict_at("state", refused.0))?;
        let drafts = drafts.into_iter().map(|draft| (draft, None)).collect();
        let stored = self
            .insert_vouchers(&mut conn, ctx, &book, drafts, state)
            .await?;
        tx.commit().await?;
        Ok(stored)
    }

    pub(crate) fn actor_name(ctx: &WriteContext) -> String {
        ctx.actor.name().to_owned()
    }

    pub(crate) fn check_open(book: &Book, period: Period) -> Result<()> {
        match book.closed_through {
            Some(closed) if period <= closed => Err(StoreError::conflict(
                Some("date"),
                DetailCode::PeriodClosed,
                format!(
                    "period {period} of book {} is closed (closed through {closed})",
                    book.settings.name
                ),
            )
            .with("period", period.to_string())),
            _ => Ok(()),
        }
    }

    /// Checks, numbers and writes vouchers (each with the voucher it reverses, if any), with one audit entry
    /// each; posted ones enter the balances. Field paths of refusals start with `vouchers[i].` when there
    /// is more than one voucher.
    pub(crate) async fn insert_vouchers(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        book: &Book,
        drafts: Vec<(VoucherDraft, Option<VoucherId>)>,
        state: VoucherState,
    ) -> Result<Vec<StoredVoucher>> {
        let chart = self.load_chart(conn, book.id).await?;
        let many = drafts.len() > 1;
        let mut problems = Vec::new();
        for (index, (draft, _)) in drafts.iter().enumerate() {
            let mut found = match voucher::check_voucher(&book.settings, &chart, draft) {
                Ok(()) => Vec::new(),
                Err(invalid) => invalid.0,
            };
            if found.is_empty()
                && let Err(StoreError::Conflict { reason, .. }) =
                    Self::check_open(book, Period::of(draft.date))
            {
                let reason = if many {
                    format!("vouchers[{index}]: {reason}")
                } else {
                    reason
                };
                return Err(
                    StoreError::conflict(Some("date"), DetailCode::PeriodClosed, reason)
                        .with("period", Period::of(draft.date).to_string()),
                );
            }
            if many {
                for problem in &mut found {
                    problem.field = format!("vouchers[{index}].{}", problem.field);
                }
            }
            problems.extend(found);
        }
        if !problems.is_empty() {
            return Err(StoreError::Invalid(tenon_model::Invalid(problems)));
        }
        // Dimension values first: on PostgreSQL the counters below stay locked until commit and every
        // concurrent batch of the book queues on them, so what does not need a number is written before.
        let lines = drafts.iter().flat_map(|(draft, _)| &draft.lines);
        self.ensure_dimension_values(conn, book.id, lines).await?;
        // Numbers: one counter update per (period, word), in key order (the lock order), handed out in the
        // order the drafts were given.
        let mut counts: BTreeMap<(Period, Word), u32> = BTreeMap::new();
        for (draft, _) in &drafts {
            *counts
                .entry((Period::of(draft.date), draft.word))
                .or_default() += 1;
        }
        let mut next: BTreeMap<(Period, Word), u32> = BTreeMap::new();
        for (&(period, word), &count) in &counts {
            let first = self
                .take_numbers(conn, book.id, period, word, count)
                .await?;
            next.insert((period, word), first);
        }
        let name = Self::actor_name(ctx);
        let now = self.store.now();
        let mut stored = Vec::with_capacity(drafts.len());
        for (draft, reverses) in drafts {
            let period = Period::of(draft.date);
            let slot = next.entry((period, draft.word)).or_default();
            let number = *slot;
            *slot += 1;
            stored.push(StoredVoucher {
                id: VoucherId::new(),
                book_id: book.id,
                voucher: Voucher {
                    period,
                    word: draft.word,
                    number,
                    date: draft.date,
                    attachments: draft.attachments,
                    state,
                    preparer: name.clone(),
                    reviewer: (state != VoucherState::Draft).then(|| name.clone()),
                    poster: (state == VoucherState::Posted).then(|| name.clone()),
                    lines: draft.lines,
                },
                reverses_id: reverses,
                reversed_by_id: None,
                created_at: now,
            });
        }
        self.write_rows_and_balances(conn, book.id, &stored).await?;
        let changes = stored
            .iter()
            .map(|voucher| Change {
                target_kind: TargetKind::Voucher,
                target_id: voucher.id.to_string(),
                action: Action::Created,
                before: None,
                after: Some(voucher_snapshot(voucher)),
                ctx,
            })
            .collect();
        audit::record_many(conn, self, changes).await?;
        Ok(stored)
    }

    pub async fn voucher(&self, book: &BookRef, id: VoucherId) -> Result<StoredVoucher> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let book = self
            .find_book(&mut conn, book)
            .await?
            .ok_or_else(|| StoreError::not_found("book"))?;
        self.load_voucher(&mut conn, book.id, id)
            .await?
            .ok_or_else(|| StoreError::not_found("voucher"))
    }

    pub(crate) async fn load_voucher(
        &self,
        conn: &mut Conn<'_>,
        book_id: BookId,
        id: VoucherId,
    ) -> Result<Option<StoredVoucher>> {
        let rows = self.load_vouchers(conn, book_id, Some(id), None).await?;
        Ok(rows.into_iter().next())
    }

    /// Vouchers of a book (one by id, or those of a period range), ordered by period, word, number.
    pub(crate) async fn load_vouchers(
        &self,
        conn: &mut Conn<'_>,
        book_id: BookId,
        id: Option<VoucherId>,
        periods: Option<(Period, Period)>,
    ) -> Result<Vec<StoredVoucher>> {
        let (from, to) = periods.map_or((0, i64::MAX), |(from, to)| (from.key(), to.key()));
        let rows: Vec<VoucherRow> = match id {
            Some(id) => conn
                .fetch_all(
                    Sql::new("SELECT id, book_id, period, word, number, date, attachments, state, preparer, reviewer, poster, reverses_id, \
                              reversed_by_id, created_at FROM ledger_vouchers WHERE organization_id = $1 AND book_id = $2 AND id = $3")
                        .bind(self.org_id)
                        .bind(book_id)
                        .bind(id),
                )
                .await?,
            None => conn
                .fetch_all(
                    Sql::new("SELECT id, book_id, period, word, number, date, attachments, state, preparer, reviewer, poster, reverses_id, \
                              reversed_by_id, created_at FROM ledger_vouchers WHERE organization_id = $1 AND book_id = $2 \
                              AND period >= $3 AND period <= $4 ORDER BY period, word, number")
                        .bind(self.org_id)
                        .bind(book_id)
                        .bind(from)
                        .bind(to),
                )
                .await?,
        };
        let line_rows: Vec<LineRow> = match id {
            Some(id) => conn
                .fetch_all(
                    Sql::new("SELECT voucher_id, account_code, summary, customer, supplier, department, employee, project, item, \
                              debit, credit, currency, original_amount, exchange_rate, quantity, unit_price FROM ledger_lines \
                              WHERE organization_id = $1 AND voucher_id = $2 ORDER BY line_no")
                        .bind(self.org_id)
                        .bind(id),
                )
                .await?,
            None => conn
                .fetch_all(
                    Sql::new("SELECT voucher_id, account_code, summary, customer, supplier, department, employee, project, item, \
                              debit, credit, currency, original_amount, exchange_rate, quantity, unit_price FROM ledger_lines \
                              WHERE organization_id = $1 AND book_id = $2 AND period >= $3 AND period <= $4 \
                              ORDER BY voucher_id, line_no")
                        .bind(self.org_id)
                        .bind(book_id)
                        .bind(from)
                        .bind(to),
                )
                .await?,
        };
        assemble(rows, line_rows)
    }

    /// The vouchers of `period` whose (word, number) is after `after` and at most `through`, with lines.
    async fn load_voucher_range(
        &self,
        conn: &mut Conn<'_>,
        book_id: BookId,
        period: Period,
        after: (&str, i64),
        through: (&str, i64),
    ) -> Result<Vec<StoredVoucher>> {
        macro_rules! range {
            () => {
                "organization_id = $1 AND book_id = $2 AND period = $3 \
                 AND (word > $4 OR (word = $4 AND number > $5)) AND (word < $6 OR (word = $6 AND number <= $7))"
            };
        }
        let bind = |sql: Sql| {
            sql.bind(self.org_id)
                .bind(book_id)
                .bind(period.key())
                .bind(after.0.to_owned())
                .bind(after.1)
                .bind(through.0.to_owned())
                .bind(through.1)
        };
        let rows: Vec<VoucherRow> = conn
            .fetch_all(bind(Sql::new(concat!(
                "SELECT id, book_id, period, word, number, date, attachments, state, preparer, reviewer, poster, \
                 reverses_id, reversed_by_id, created_at FROM ledger_vouchers WHERE ",
                range!(),
                " ORDER BY word, number"
            ))))
            .await?;
        let line_rows: Vec<LineRow> = conn
            .fetch_all(bind(Sql::new(concat!(
                "SELECT voucher_id, account_code, summary, customer, supplier, department, employee, project, item, \
                 debit, credit, currency, original_amount, exchange_rate, quantity, unit_price FROM ledger_lines \
                 WHERE organization_id = $1 AND voucher_id IN (SELECT id FROM ledger_vouchers WHERE ",
                range!(),
                ") ORDER BY voucher_id, line_no"
            ))))
            .await?;
        assemble(rows, line_rows)
    }

    /// A page of a period's vouchers by word and number, after the voucher `page.after` (exclusive). An
    /// `after` that names no voucher of this book and period is `NotFound("voucher")`.
    pub async fn list_vouchers_page(
        &self,
        book: &BookRef,
        period: Period,
        page: PageRequest<VoucherId>,
    ) -> Result<Page<StoredVoucher, VoucherId>> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let book = self
            .find_book(&mut conn, book)
            .await?
            .ok_or_else(|| StoreError::not_found("book"))?;
        let (word, number) = match page.after {
            None => (String::new(), -1),
            Some(after) => conn
                .fetch_optional::<(String, i64)>(
                    Sql::new(
                        "SELECT word, number FROM ledger_vouchers \
                         WHERE organization_id = $1 AND book_id = $2 AND period = $3 AND id = $4",
                    )
                    .bind(self.org_id)
                    .bind(book.id)
                    .bind(period.key())
                    .bind(after),
                )
                .await?
                .ok_or_else(|| StoreError::not_found("voucher"))?,
        };
        let keys: Vec<(Uuid, String, i64)> = conn
            .fetch_all(
                Sql::new(
                    "SELECT id, word, number FROM ledger_vouchers WHERE organization_id = $1 AND book_id = $2 \
                     AND period = $3 AND (word > $4 OR (word = $4 AND number > $5)) \
                     ORDER BY word, number LIMIT $6",
                )
                .bind(self.org_id)
                .bind(book.id)
                .bind(period.key())
                .bind(word.clone())
                .bind(number)
                .bind(i64::from(page.size()) + 1),
            )
            .await?;
        let size = usize::try_from(page.size()).unwrap_or(usize::MAX);
        let next_after = (keys.len() > size).then(|| VoucherId::from_uuid(keys[size - 1].0));
        let Some((_, last_word, last_number)) = keys.get(size.min(keys.len()).wrapping_sub(1))
        else {
            return Ok(Page {
                items: Vec::new(),
                next_after: None,
            });
        };
        let items = self
            .load_voucher_range(
                &mut conn,
                book.id,
                period,
                (&word, number),
                (last_word, *last_number),
            )
            .await?;
        Ok(Page { items, next_after })
    }

    /// Every voucher of a period, by word and number (tests and small books; the API pages).
    pub async fn list_vouchers(
        &self,
        book: &BookRef,
        period: Period,
    ) -> Result<Vec<StoredVoucher>> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let book = self
            .find_book(&mut conn, book)
            .await?
            .ok_or_else(|| StoreError::not_found("book"))?;
        self.load_vouchers(&mut conn, book.id, None, Some((period, period)))
            .await
    }

    /// Reviews or posts a voucher (the rules are `tenon_ledger::voucher::{review, post}`).
    pub async fn advance_voucher(
        &self,
        ctx: &WriteContext,
        book: &BookRef,
        id: VoucherId,
        to: VoucherState,
    ) -> Result<StoredVoucher> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let book = self
            .find_book_locked(&mut conn, book, BookLock::Share)
            .await?;
        let before = self
            .load_voucher(&mut conn, book.id, id)
            .await?
            .ok_or_else(|| StoreError::not_found("voucher"))?;
        let mut after = before.clone();
        let name = Self::actor_name(ctx);
        let (refused, action) = match to {
            VoucherState::Reviewed => (
                voucher::review(&book.settings, &mut after.voucher, &name).err(),
                Action::Reviewed,
            ),
            _ => {
                Self::check_open(&book, before.voucher.period)?;
                (
                    voucher::post(&mut after.voucher, &name).err(),
                    Action::Posted,
                )
            }
        };
        if let Some(refused) = refused {
            return Err(StoreError::conflict_at("state", refused.0));
        }
        conn.execute(
            Sql::new("UPDATE ledger_vouchers SET state = $3, reviewer = $4, poster = $5, updated_at = $6 WHERE organization_id = $1 AND id = $2")
                .bind(self.org_id)
                .bind(id)
                .bind(after.voucher.state.as_str())
                .bind(after.voucher.reviewer.clone())
                .bind(after.voucher.poster.clone())
                .bind(self.store.now()),
        )
        .await?;
        if after.voucher.state == VoucherState::Posted {
            self.add_posted(&mut conn, book.id, std::slice::from_ref(&after))
                .await?;
        }
        audit::record(
            &mut conn,
            self,
            Change {
                target_kind: TargetKind::Voucher,
                target_id: id.to_string(),
                action,
                before: Some(voucher_snapshot(&before)),
                after: Some(voucher_snapshot(&after)),
                ctx,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Reverses a posted voucher with a posted red voucher dated `date` (today in the caller's calendar).
    pub async fn reverse_voucher(
        &self,
        ctx: &WriteContext,
        book: &BookRef,
        id: VoucherId,
        date: NaiveDate,
    ) -> Result<StoredVoucher> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let book = self
            .find_book_locked(&mut conn, book, BookLock::Share)
            .await?;
        let original = self
            .load_voucher(&mut conn, book.id, id)
            .await?
            .ok_or_else(|| StoreError::not_found("voucher"))?;
        if original.voucher.state != VoucherState::Posted {
            return Err(StoreError::conflict(
                Some("state"), DetailCode::InvalidState,
                format!(
                    "voucher {} is {}; only a posted voucher is reversed (edit or discard a draft instead)",
                    original.voucher.label(),
                    original.voucher.state.as_str()
                ),
            )
            .with("state", original.voucher.state.as_str()));
        }
        let red = self
            .reverse_in(&mut conn, ctx, &book, &original, date)
            .await?;
        tx.commit().await?;
        Ok(red)
    }

    pub(crate) async fn reverse_in(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        book: &Book,
        original: &StoredVoucher,
        date: NaiveDate,
    ) -> Result<StoredVoucher> {
        if let Some(by) = original.reversed_by_id {
            return Err(StoreError::conflict(
                Some("state"),
                DetailCode::InvalidState,
                format!(
                    "voucher {} was already reversed by {by}",
                    original.voucher.label()
                ),
            )
            .with("state", "reversed"));
        }
        let date = date.max(original.voucher.date);
        let draft = voucher::reversal_of(&original.voucher, date);
        let state = original.voucher.state;
        let red = self
            .insert_vouchers(conn, ctx, book, vec![(draft, Some(original.id))], state)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| {
                StoreError::Corrupt("a reversal was written but not returned".to_owned())
            })?;
        conn.execute(
            Sql::new("UPDATE ledger_vouchers SET reversed_by_id = $3, updated_at = $4 WHERE organization_id = $1 AND id = $2")
                .bind(self.org_id)
                .bind(original.id)
                .bind(red.id)
                .bind(self.store.now()),
        )
        .await?;
        audit::record(
            conn,
            self,
            Change {
                target_kind: TargetKind::Voucher,
                target_id: original.id.to_string(),
                action: Action::Reversed,
                before: Some(voucher_snapshot(original)),
                after: Some(voucher_snapshot(&StoredVoucher {
                    reversed_by_id: Some(red.id),
                    ..original.clone()
                })),
                ctx,
            },
        )
        .await?;
        Ok(red)
    }
}

/// Vouchers with their lines, in the order of `rows`.
fn assemble(rows: Vec<VoucherRow>, line_rows: Vec<LineRow>) -> Result<Vec<StoredVoucher>> {
    let mut lines: BTreeMap<Uuid, Vec<Line>> = BTreeMap::new();
    for row in line_rows {
        let voucher_id = row.voucher_id;
        lines.entry(voucher_id).or_default().push(row.into_line()?);
    }
    rows.into_iter()
        .map(|row| {
            let voucher_lines = lines.remove(&row.id).unwrap_or_default();
            Ok(StoredVoucher {
                id: VoucherId::from_uuid(row.id),
                book_id: BookId::from_uuid(row.book_id),
                voucher: Voucher {
                    period: Period::from_key(row.period)
                        .ok_or_else(|| corrupt("period", row.period))?,
                    word: Word::parse(&row.word).map_err(|_| corrupt("word", &row.word))?,
                    number: u32::try_from(row.number).map_err(|_| corrupt("number", row.number))?,
                    date: NaiveDate::parse_from_str(&row.date, "%Y-%m-%d")
                        .map_err(|_| corrupt("date", &row.date))?,
                    attachments: u32::try_from(row.attachments).unwrap_or(0),
                    state: VoucherState::parse(&row.state)
                        .map_err(|_| corrupt("state", &row.state))?,
                    preparer: row.preparer,
                    reviewer: row.reviewer,
                    poster: row.poster,
                    lines: voucher_lines,
                },
                reverses_id: row.reverses_id.map(VoucherId::from_uuid),
                reversed_by_id: row.reversed_by_id.map(VoucherId::from_uuid),
                created_at: row.created_at,
            })
        })
        .collect()
}
