//! Books and their charts: creation from a template, lookup by id or name, accounts, dimension values.

use tenon_ledger::{
    Account, AccountCode, AccountKind, BookSettings, Chart, Currency, Dimension, Direction, Period,
    Role, Standard,
};
use tenon_model::BookId;
use tenon_model::{Action, DetailCode, TargetKind};
use uuid::Uuid;

use super::codes::{BookChange, code_taken, lock_key};
use super::{Book, BookLock, BookRef, Scaled, corrupt};
use crate::audit::{self, Change};
use crate::error::unique_violation;
use crate::exec::{Backend, Conn, Sql};
use crate::{Result, StoreError, Tenant, WriteContext};

#[derive(sqlx::FromRow)]
pub(crate) struct BookRow {
    id: Uuid,
    name: String,
    base_currency: String,
    standard: String,
    fiscal_year_start_month: i64,
    segregation_of_duties: bool,
    closed_through: Option<i64>,
    code: Option<String>,
    tax_registration_number: Option<String>,
    opening_period: Option<i64>,
    opening_debit: Scaled<2>,
    opening_credit: Scaled<2>,
    created_at: chrono::DateTime<chrono::Utc>,
}

/// The columns of a `BookRow`, from `ledger_books b`.
macro_rules! book_columns {
    () => {
        "b.id, b.name, b.base_currency, b.standard, b.fiscal_year_start_month, b.segregation_of_duties, \
         b.closed_through, b.code, b.tax_registration_number, b.opening_period, b.created_at, \
         COALESCE((SELECT SUM(o.debit) FROM ledger_openings o WHERE o.organization_id = b.organization_id AND o.book_id = b.id), 0) AS opening_debit, \
         COALESCE((SELECT SUM(o.credit) FROM ledger_openings o WHERE o.organization_id = b.organization_id AND o.book_id = b.id), 0) AS opening_credit"
    };
}

impl BookRow {
    fn into_book(self) -> Result<Book> {
        Ok(Book {
            id: BookId::from_uuid(self.id),
            settings: BookSettings {
                base_currency: Currency::parse(&self.base_currency)
                    .map_err(|_| corrupt("currency", &self.base_currency))?,
                standard: Standard::parse(&self.standard)
                    .map_err(|_| corrupt("standard", &self.standard))?,
                fiscal_year_start_month: u32::try_from(self.fiscal_year_start_month).unwrap_or(1),
                segregation_of_duties: self.segregation_of_duties,
                name: self.name,
            },
            closed_through: self.closed_through.and_then(Period::from_key),
            code: self.code.unwrap_or_default(),
            tax_registration_number: self.tax_registration_number,
            opening_period: self.opening_period.and_then(Period::from_key),
            opening_debit: self.opening_debit.0,
            opening_credit: self.opening_credit.0,
            created_at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AccountRow {
    code: String,
    name: String,
    kind: String,
    direction: String,
    role: Option<String>,
    dimensions: String,
    quantity_unit: Option<String>,
    grouping_category: String,
    grouping_code: String,
}

impl AccountRow {
    pub(crate) fn into_account(self) -> Result<Account> {
        Ok(Account {
            code: AccountCode::parse(&self.code)
                .map_err(|_| corrupt("account code", &self.code))?,
            kind: AccountKind::parse(&self.kind)
                .map_err(|_| corrupt("account kind", &self.kind))?,
            direction: Direction::parse(&self.direction)
                .map_err(|_| corrupt("direction", &self.direction))?,
            role: self
                .role
                .map(|role| Role::parse(&role).map_err(|_| corrupt("role", role)))
                .transpose()?,
            dimensions: self
                .dimensions
                .split(',')
                .filter(|d| !d.is_empty())
                .map(|d| Dimension::parse(d).map_err(|_| corrupt("dimension", d)))
                .collect::<Result<_>>()?,
            name: self.name,
            quantity_unit: self.quantity_unit,
            grouping_category: self.grouping_category,
            grouping_code: self.grouping_code,
        })
    }
}

pub(crate) fn account_snapshot(account: &Account) -> serde_json::Value {
    serde_json::json!({
        "code": account.code.as_str(), "name": account.name, "kind": account.kind.as_str(),
        "direction": account.direction.as_str(), "role": account.role.as_ref().map(|r| r.as_str()),
        "dimensions": account.dimensions.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
        "quantity_unit": account.quantity_unit, "grouping_category": account.grouping_category,
        "grouping_code": account.grouping_code,
    })
}

pub(super) fn book_snapshot(book: &Book) -> serde_json::Value {
    serde_json::json!({
        "id": book.id.to_string(), "name": book.settings.name, "base_currency": book.settings.base_currency.as_str(),
        "template": book.settings.standard.as_str(), "fiscal_year_start_month": book.settings.fiscal_year_start_month,
        "segregation_of_duties": book.settings.segregation_of_duties,
        "closed_through": book.closed_through.map(|p| p.to_string()),
        "code": book.code, "tax_registration_number": book.tax_registration_number,
    })
}

impl Tenant<'_> {
    /// Creates a book with its template's accounts, the next free code of the organization.
    pub async fn create_ledger_book(
        &self,
        ctx: &WriteContext,
        settings: BookSettings,
    ) -> Result<Book> {
        self.create_ledger_book_with(ctx, settings, BookChange::default())
            .await
    }

    /// Creates a book with its template's accounts, and a code (default: the next free three-digit
    /// number of the organization) and tax registration number when `change` gives them (checked).
    pub async fn create_ledger_book_with(
        &self,
        ctx: &WriteContext,
        settings: BookSettings,
        change: BookChange,
    ) -> Result<Book> {
        let accounts =
            tenon_ledger::templates::accounts(settings.standard).map_err(StoreError::Corrupt)?;
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let book = self
            .insert_book(&mut conn, ctx, settings, change, accounts)
            .await?;
        tx.commit().await?;
        Ok(book)
    }

    /// The next free three-digit code of the organization's books (`001`, `002`, …), under a lock on
    /// PostgreSQL so that concurrent creations do not take the same one.
    async fn next_book_code(&self, conn: &mut Conn<'_>) -> Result<String> {
        if conn.backend() == Backend::Postgres {
            conn.execute(
                Sql::new("SELECT pg_advisory_xact_lock($1)").bind(lock_key(&[
                    self.org_id.as_uuid().as_bytes(),
                    b"ledger book codes",
                ])),
            )
            .await?;
        }
        let codes: Vec<(Option<String>,)> = conn
            .fetch_all(
                Sql::new("SELECT code FROM ledger_books WHERE organization_id = $1")
                    .bind(self.org_id),
            )
            .await?;
        let highest = codes
            .iter()
            .filter_map(|(code,)| code.as_deref())
            .filter(|code| !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit()))
            .filter_map(|code| code.parse::<u64>().ok())
            .max()
            .unwrap_or(0);
        Ok(format!("{:03}", highest.saturating_add(1)))
    }

    pub(crate) async fn insert_book(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        settings: BookSettings,
        change: BookChange,
        accounts: Vec<Account>,
    ) -> Result<Book> {
        let id = BookId::new();
        let now = self.store.now();
        let tax_registration_number = change.checked_tax_registration_number()?.flatten();
        let code = match change.checked_code()? {
            Some(code) => code,
            None => self.next_book_code(conn).await?,
        };
        let inserted = conn
            .execute(
                Sql::new(
                    "INSERT INTO ledger_books (organization_id, id, name, base_currency, standard, fiscal_year_start_month, \
                     segregation_of_duties, closed_through, created_at, updated_at, code, tax_registration_number) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $8, $9, $10)",
                )
                .bind(self.org_id)
                .bind(id)
                .bind(settings.name.as_str())
                .bind(settings.base_currency.as_str())
                .bind(settings.standard.as_str())
                .bind(i64::from(settings.fiscal_year_start_month))
                .bind(settings.segregation_of_duties)
                .bind(now)
                .bind(code.as_str())
                .bind(tax_registration_number.clone()),
            )
            .await;
        if let Err(error) = inserted {
            return Err(match unique_violation(&error) {
                Some(constraint) if constraint.contains("code") => code_taken(&code),
                Some(_) => StoreError::conflict(
                    Some("name"),
                    DetailCode::NotUnique,
                    format!("a book named {:?} already exists", settings.name),
                ),
                None => error.into(),
            });
        }
        let chart = Chart::from_accounts(accounts.clone())?;
        for account in chart.accounts() {
            self.insert_account(conn, id, account).await?;
        }
        let book = Book {
            id,
            settings,
            code,
            tax_registration_number,
            closed_through: None,
            opening_period: None,
            opening_debit: rust_decimal::Decimal::ZERO,
            opening_credit: rust_decimal::Decimal::ZERO,
            created_at: now,
        };
        audit::record(
            conn,
            self,
            Change {
                target_kind: TargetKind::LedgerBook,
                target_id: id.to_string(),
                action: Action::Created,
                before: None,
                after: Some(book_snapshot(&book)),
                ctx,
            },
        )
        .await?;
        Ok(book)
    }

    pub(crate) async fn insert_account(
        &self,
        conn: &mut Conn<'_>,
        book_id: BookId,
        account: &Account,
    ) -> Result<()> {
        conn.execute(
            Sql::new(
                "INSERT INTO ledger_accounts (organization_id, book_id, code, name, kind, direction, role, dimensions, \
                 quantity_unit, grouping_category, grouping_code) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(self.org_id)
            .bind(book_id)
            .bind(account.code.as_str())
            .bind(account.name.as_str())
            .bind(account.kind.as_str())
            .bind(account.direction.as_str())
            .bind(account.role.as_ref().map(|r| r.as_str().to_owned()))
            .bind(account.dimensions.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(","))
            .bind(account.quantity_unit.clone())
            .bind(account.grouping_category.as_str())
            .bind(account.grouping_code.as_str()),
        )
        .await?;
        if !conn.mark(crate::cache::CHART) {
            self.store.caches.invalidate(crate::cache::CHART);
        }
        Ok(())
    }

    /// A book by id or exact name.
    pub async fn ledger_book(&self, book: &BookRef) -> Result<Book> {
        let mut pooled = self.store.pools.read().await?;
        self.find_book(&mut pooled.conn(), book)
            .await?
            .ok_or_else(|| StoreError::not_found("book"))
    }

    pub(crate) async fn find_book(
        &self,
        conn: &mut Conn<'_>,
        book: &BookRef,
    ) -> Result<Option<Book>> {
        let row: Option<BookRow> = match book {
            BookRef::Id(id) => {
                conn.fetch_optional(
                    Sql::new(concat!(
                        "SELECT ",
                        book_columns!(),
                        " FROM ledger_books b WHERE b.organization_id = $1 AND b.id = $2"
                    ))
                    .bind(self.org_id)
                    .bind(*id),
                )
                .await?
            }
            BookRef::Name(name) => {
                conn.fetch_optional(
                    Sql::new(concat!(
                        "SELECT ",
                        book_columns!(),
                        " FROM ledger_books b WHERE b.organization_id = $1 AND b.name = $2"
                    ))
                    .bind(self.org_id)
                    .bind(name.as_str()),
                )
                .await?
            }
        };
        row.map(BookRow::into_book).transpose()
    }

    /// A book read inside a writing transaction after locking its row until the transaction ends
    /// (PostgreSQL; SQLite's single writer already serialises writers), so what the writer checks about
    /// the book — its closed periods, its openings, its definitions — cannot change under it. Read after
    /// the lock, the row is the latest committed one even under READ COMMITTED.
    pub(crate) async fn find_book_locked(
        &self,
        conn: &mut Conn<'_>,
        book: &BookRef,
        lock: BookLock,
    ) -> Result<Book> {
        if conn.backend() == Backend::Postgres {
            let sql = match (book, lock) {
                (BookRef::Id(_), BookLock::Share) => Sql::new(
                    "SELECT id FROM ledger_books WHERE organization_id = $1 AND id = $2 FOR SHARE",
                ),
                (BookRef::Id(_), BookLock::Update) => Sql::new(
                    "SELECT id FROM ledger_books WHERE organization_id = $1 AND id = $2 FOR UPDATE",
                ),
                (BookRef::Name(_), BookLock::Share) => Sql::new(
                    "SELECT id FROM ledger_books WHERE organization_id = $1 AND name = $2 FOR SHARE",
                ),
                (BookRef::Name(_), BookLock::Update) => Sql::new(
                    "SELECT id FROM ledger_books WHERE organization_id = $1 AND name = $2 FOR UPDATE",
                ),
            }
            .bind(self.org_id);
            let sql = match book {
                BookRef::Id(id) => sql.bind(*id),
                BookRef::Name(name) => sql.bind(name.as_str()),
            };
            conn.execute(sql).await?;
        }
        self.find_book(conn, book)
            .await?
            .ok_or_else(|| StoreError::not_found("book"))
    }

    pub async fn list_ledger_books(&self) -> Result<Vec<Book>> {
        let mut pooled = self.store.pools.read().await?;
        let rows: Vec<BookRow> = pooled
            .conn()
            .fetch_all(
                Sql::new(concat!(
                    "SELECT ",
                    book_columns!(),
                    " FROM ledger_books b WHERE b.organization_id = $1 ORDER BY b.id"
                ))
                .bind(self.org_id),
            )
            .await?;
        rows.into_iter().map(BookRow::into_book).collect()
    }

    /// Closes every period up to and including `period` (月末结账): no voucher may then be created,
    /// posted or reversed in them. Refused (409) while a voucher of those periods is not posted or (unless
    /// `options.force`) an income or expense account has a balance in one of them, and (422) while the
    /// book's opening balances do not balance. With `options.year_end` (the fiscal year's last period)
    /// 本年利润 is first moved to 利润分配—未分配利润 by a posted voucher, in the same transaction.
    pub async fn close_ledger_periods(
        &self,
        ctx: &WriteContext,
        book: &BookRef,
        period: Period,
        options: super::CloseOptions,
    ) -> Result<Book> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let before = self
            .find_book_locked(&mut conn, book, BookLock::Update)
            .await?;
        if let Some(closed) = before.closed_through.filter(|closed| *closed >= period) {
            return Err(StoreError::conflict(
                Some("period"),
                DetailCode::PeriodClosed,
                format!(
                    "periods through {closed} of book {} are already closed",
                    before.settings.name
                ),
            )
            .with("period", closed.to_string()));
        }
        let unposted: Option<(i64, String, i64, i64)> = conn
            .fetch_optional(
                Sql::new(
                    "SELECT period, word, number, (SELECT COUNT(*) FROM ledger_vouchers WHERE organization_id = $1 \
                     AND book_id = $2 AND period <= $3 AND state <> 'posted') FROM ledger_vouchers \
                     WHERE organization_id = $1 AND book_id = $2 AND period <= $3 AND state <> 'posted' \
                     ORDER BY period, word, number LIMIT 1",
                )
                .bind(self.org_id)
                .bind(before.id)
                .bind(period.key()),
            )
            .await?;
        if let Some((at, word, number, count)) = unposted {
            let at = Period::from_key(at).map_or_else(|| at.to_string(), |p| p.to_string());
            return Err(StoreError::conflict(
                Some("period"),
                DetailCode::Conflict,
                format!(
                    "{count} voucher(s) through {period} are not posted yet (the first: {word}-{number} of {at}); \
                     post them before closing (a draft that should not exist is posted and then reversed)"
                ),
            ));
        }
        self.before_closing(&mut conn, ctx, &before, period, options)
            .await?;
        let after = self
            .set_closed_through(&mut conn, ctx, before, Some(period))
            .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Reopens the latest closed period (反结账), so that vouchers may be written there again; any other
    /// period is refused (409). Audited like every change of the book.
    pub async fn reopen_ledger_periods(
        &self,
        ctx: &WriteContext,
        book: &BookRef,
        period: Period,
    ) -> Result<Book> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let before = self
            .find_book_locked(&mut conn, book, BookLock::Update)
            .await?;
        if before.closed_through.is_none_or(|closed| closed < period) {
            return Err(StoreError::conflict(
                Some("period"),
                DetailCode::Conflict,
                format!(
                    "period {period} of book {} is not closed ({})",
                    before.settings.name,
                    before.closed_through.map_or_else(
                        || "no period is closed".to_owned(),
                        |c| format!("closed through {c}")
                    )
                ),
            ));
        }
        if let Some(latest) = before.closed_through.filter(|latest| *latest != period) {
            return Err(StoreError::conflict(
                Some("period"),
                DetailCode::NotLatestClosed,
                format!(
                    "period {period} of book {} is closed, but only the latest closed period ({latest}) can be reopened; reopen the later ones first",
                    before.settings.name
                ),
            )
            .with("period", latest.to_string()));
        }
        let after = self
            .set_closed_through(&mut conn, ctx, before, period.previous())
            .await?;
        tx.commit().await?;
        Ok(after)
    }

    async fn set_closed_through(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        before: Book,
        closed_through: Option<Period>,
    ) -> Result<Book> {
        conn.execute(
            Sql::new("UPDATE ledger_books SET closed_through = $3, updated_at = $4 WHERE organization_id = $1 AND id = $2")
                .bind(self.org_id)
                .bind(before.id)
                .bind(closed_through.map(Period::key))
                .bind(self.store.now()),
        )
        .await?;
        let after = Book {
            closed_through,
            ..before.clone()
        };
        audit::record(
            conn,
            self,
            Change {
                target_kind: TargetKind::LedgerBook,
                target_id: before.id.to_string(),
                action: Action::Updated,
                before: Some(book_snapshot(&before)),
                after: Some(book_snapshot(&after)),
                ctx,
            },
        )
        .await?;
        Ok(after)
    }

    pub async fn ledger_accounts(&self, book: &BookRef) -> Result<(Book, Vec<Account>)> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let book = self
            .find_book(&mut conn, book)
            .await?
            .ok_or_else(|| StoreError::not_found("book"))?;
        let accounts = self.load_accounts(&mut conn, book.id).await?;
        Ok((book, accounts))
    }

    pub(crate) async fn load_accounts(
        &self,
        conn: &mut Conn<'_>,
        book_id: BookId,
    ) -> Result<Vec<Account>> {
        let rows: Vec<AccountRow> = conn
            .fetch_all(
                Sql::new(
                    "SELECT code, name, kind, direction, role, dimensions, quantity_unit, grouping_category, grouping_code \
                     FROM ledger_accounts WHERE organization_id = $1 AND book_id = $2 ORDER BY code",
                )
                .bind(self.org_id)
                .bind(book_id),
            )
            .await?;
        rows.into_iter().map(AccountRow::into_account).collect()
    }

    /// The book's chart: from this node's cache while the book holds as many accounts as the kept chart
    /// (accounts are only ever added, by [`Tenant::insert_account`]), unless this transaction added
    /// some itself.
    pub(crate) async fn load_chart(&self, conn: &mut Conn<'_>, book_id: BookId) -> Result<Chart> {
        let caches = &self.store.caches;
        let key = (self.org_id, book_id);
        let cacheable = !conn.marked(crate::cache::CHART);
        let generation = caches.charts.generation();
        if cacheable {
            let (count,): (i64,) = conn
                .fetch_one(
                    Sql::new(
                        "SELECT COUNT(*) FROM ledger_accounts WHERE organization_id = $1 AND book_id = $2",
                    )
                    .bind(self.org_id)
                    .bind(book_id),
                )
                .await?;
            if let Some(chart) = caches
                .charts
                .get_if(&key, |chart| i64::try_from(chart.len()).ok() == Some(count))
            {
                return Ok((*chart).clone());
            }
        }
        let chart = Chart::from_accounts(self.load_accounts(conn, book_id).await?)
            .map_err(|invalid| StoreError::Corrupt(invalid.to_string()))?;
        if cacheable {
            caches
                .charts
                .insert(key, std::sync::Arc::new(chart.clone()), generation);
        }
        Ok(chart)
    }

    /// Adds a sub-account (or a first-level account). A parent already used by lines cannot get sub-accounts.
    pub async fn create_ledger_account(
        &self,
        ctx: &WriteContext,
        book: &BookRef,
        account: Account,
    ) -> Result<Account> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let book = self
            .find_book(&mut conn, book)
            .await?
            .ok_or_else(|| StoreError::not_found("book"))?;
        let chart = self.load_chart(&mut conn, book.id).await?;
        chart.check_new(&account)?;
        if let Some(parent) = account.code.parent() {
            let (used,): (i64,) = conn
                .fetch_one(
                    Sql::new("SELECT COUNT(*) FROM ledger_lines WHERE organization_id = $1 AND book_id = $2 AND account_code = $3")
                        .bind(self.org_id)
                        .bind(book.id)
                        .bind(parent.as_str()),
                )
                .await?;
            if used > 0 {
                return Err(StoreError::conflict(
                    Some("code"),
                    DetailCode::Conflict,
                    format!(
                        "account {parent} already has {used} voucher lines; lines post to leaf accounts, so it cannot get sub-accounts"
                    ),
                ));
            }
        }
        self.insert_account(&mut conn, book.id, &account).await?;
        audit::record(
            &mut conn,
            self,
            Change {
                target_kind: TargetKind::LedgerAccount,
                target_id: format!("{}/{}", book.id, account.code),
                action: Action::Created,
                before: None,
                after: Some(account_snapshot(&account)),
                ctx,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(account)
    }
}
