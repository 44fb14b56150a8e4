//! A book's opening balances (期初余额) and period end (期末结账): carry-forward, close, reopen.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tenon_ledger::opening::{Opening, Openings};
use tenon_ledger::{AccountCode, Currency, Dimension, Period, money};
use tenon_model::Checker;
use tenon_store::ledger::{Book, BookRef};
use utoipa::ToSchema;

use crate::auth::{Authed, scopes};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, EmptyBody, OptionalJson};
use crate::routes::ledger::{BookOut, format, one_of};
use crate::routes::ledger_vouchers::VoucherOut;
use crate::state::AppState;

/// One opening balance: per leaf account, and per dimension value where the account requires dimensions.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpeningIo {
    #[schema(example = "1002")]
    pub account: String,
    /// e.g. `{"customer": "C001"}` for an account that requires the customer dimension.
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    /// Base-currency debit balance (decimal string); "0" when the balance is on the credit side.
    #[schema(example = "50000.00")]
    pub debit: String,
    #[schema(example = "0.00")]
    pub credit: String,
    /// A foreign currency (omit for the base currency).
    #[serde(default)]
    pub currency: Option<String>,
    /// The balance in `currency`.
    #[serde(default)]
    pub original_amount: Option<String>,
    /// For accounts that keep quantities.
    #[serde(default)]
    pub quantity: Option<String>,
}

/// A book's opening balances as of its first period.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpeningsIn {
    /// The first period the book keeps (`YYYY-MM`); the balances are its opening.
    #[schema(example = "2026-01")]
    pub period: String,
    pub balances: Vec<OpeningIo>,
}

/// A book's opening balances, their totals and whether they balance.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpeningsOut {
    /// The first period the book keeps; `null` when no opening balances were given.
    pub period: Option<String>,
    pub balances: Vec<OpeningIo>,
    pub total_debit: String,
    pub total_credit: String,
    /// False only for a book imported from a file whose openings do not balance, until corrected.
    pub opening_balanced: bool,
    /// total_debit − total_credit.
    pub difference: String,
}

fn openings_out(book: &Book, openings: Option<Openings>) -> OpeningsOut {
    let (period, balances) = match openings {
        Some(openings) => (Some(openings.period.to_string()), openings.balances),
        None => (None, Vec::new()),
    };
    OpeningsOut {
        period,
        balances: balances
            .into_iter()
            .map(|o| OpeningIo {
                account: o.account.to_string(),
                dimensions: o
                    .dimensions
                    .into_iter()
                    .map(|(d, v)| (d.as_str().to_owned(), v))
                    .collect(),
                debit: money::amount_text(o.debit),
                credit: money::amount_text(o.credit),
                currency: o.currency.map(|c| c.to_string()),
                original_amount: o.original_amount.map(money::amount_text),
                quantity: o.quantity.map(|q| q.normalize().to_string()),
            })
            .collect(),
        total_debit: money::amount_text(book.opening_debit),
        total_credit: money::amount_text(book.opening_credit),
        opening_balanced: book.opening_balanced(),
        difference: money::amount_text(book.opening_debit - book.opening_credit),
    }
}

impl OpeningsIn {
    fn into_openings(self) -> Result<Openings, tenon_model::Invalid> {
        let mut check = Checker::default();
        let period = check.field(
            "period",
            Period::parse(&self.period).map_err(format("period")),
        );
        let mut balances = Vec::new();
        for (index, raw) in self.balances.into_iter().enumerate() {
            let at = |field: &str| format!("balances[{index}].{field}");
            let account = check.field(
                &at("account"),
                AccountCode::parse(&raw.account).map_err(format("account_code")),
            );
            let debit = check.field(
                &at("debit"),
                money::parse_amount(&raw.debit).map_err(format("number")),
            );
            let credit = check.field(
                &at("credit"),
                money::parse_amount(&raw.credit).map_err(format("number")),
            );
            let mut dimensions = BTreeMap::new();
            for (key, value) in raw.dimensions {
                let field = at(&format!("dimensions.{key}"));
                if let (Some(dimension), Some(value)) = (
                    check.field(
                        &field,
                        Dimension::parse(&key).map_err(one_of(&Dimension::ALL.map(|d| d.as_str()))),
                    ),
                    check.field(&field, tenon_ledger::account::check_dimension_value(&value)),
                ) {
                    dimensions.insert(dimension, value);
                }
            }
            let currency = check.optional(&at("currency"), raw.currency, |c| {
                Currency::parse(&c).map_err(format("currency"))
            });
            let original = check.optional(&at("original_amount"), raw.original_amount, |v| {
                money::parse_amount(&v).map_err(format("number"))
            });
            let quantity = check.optional(&at("quantity"), raw.quantity, |v| {
                money::parse_scaled(&v, tenon_ledger::QUANTITY_SCALE).map_err(format("number"))
            });
            if let (
                Some(account),
                Some(debit),
                Some(credit),
                Some(currency),
                Some(original),
                Some(quantity),
            ) = (account, debit, credit, currency, original, quantity)
            {
                let mut opening = Opening::simple(account, debit, credit);
                opening.dimensions = dimensions;
                opening.currency = currency;
                opening.original_amount = original;
                opening.quantity = quantity;
                balances.push(opening);
            }
        }
        match period {
            Some(period) if check.is_clean() => Ok(Openings { period, balances }),
            _ => Err(check.into_invalid()),
        }
    }
}

/// A book's opening balances (期初余额), their totals and whether they balance.
#[utoipa::path(
    get, path = "/api/v1/ledger/books/{book}/opening-balances", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name")),
    security(("bearer" = ["ledger:read"]), ("session" = ["ledger:read"])),
    responses(
        (status = 200, body = OpeningsOut), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn get_openings(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerRead>,
    Path(book): Path<String>,
) -> ApiResult<axum::Json<OpeningsOut>> {
    let book = BookRef::parse(&book);
    let (book, openings) = state
        .store()
        .tenant(auth.principal.org_id)
        .ledger_openings(&book)
        .await?;
    Ok(axum::Json(openings_out(&book, openings)))
}

/// Replace a book's opening balances. Refused (422) when debits and credits differ (naming the accounts
/// of each side), when an entry is wrong, and while a period from the opening period on is closed.
#[utoipa::path(
    put, path = "/api/v1/ledger/books/{book}/opening-balances", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name")),
    request_body = OpeningsIn,
    security(("bearer" = ["ledger:write"]), ("session" = ["ledger:write"])),
    responses(
        (status = 200, body = OpeningsOut),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn put_openings(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerWrite>,
    Path(book): Path<String>,
    ApiJson(body): ApiJson<OpeningsIn>,
) -> ApiResult<axum::Json<OpeningsOut>> {
    let book = BookRef::parse(&book);
    let openings = body.into_openings()?;
    let (book, openings) = state
        .store()
        .tenant(auth.principal.org_id)
        .set_ledger_openings(&auth.write_context(), &book, openings)
        .await?;
    Ok(axum::Json(openings_out(&book, Some(openings))))
}

/// The outcome of a carry-forward.
#[derive(Debug, Serialize, ToSchema)]
pub struct CarryForwardOut {
    pub period: String,
    /// The carry-forward voucher (`null` when there was nothing to move).
    pub voucher: Option<VoucherOut>,
    /// Further vouchers, only when the lines exceed one voucher's maximum (1,000 lines).
    pub more_vouchers: Vec<VoucherOut>,
}

fn period_path(raw: &str) -> Result<Period, tenon_model::Invalid> {
    Period::parse(raw).map_err(|reason| {
        tenon_model::Reason::format("period", reason)
            .at("period")
            .into()
    })
}

/// Carry profit and loss forward (结转损益): one voucher, word 转, dated the period's last day, moving every
/// income and expense account's posted period balance (by dimension values) to 本年利润 (CURRENT_PROFIT);
/// posted at once (a draft when the book separates duties). Idempotent: called again after new postings it
/// moves only the difference (201 with a second voucher); with nothing to move it answers 200 with
/// `voucher: null`. Refused (422, `period_closed`) for a closed period and (409) while a voucher of the
/// period is not posted.
#[utoipa::path(
    post, path = "/api/v1/ledger/books/{book}/periods/{period}/carry-forward", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name"), ("period" = String, Path, description = "Period, YYYY-MM")),
    security(("bearer" = ["ledger:write"]), ("session" = ["ledger:write"])),
    responses(
        (status = 201, body = CarryForwardOut), (status = 200, body = CarryForwardOut),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn carry_forward(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerWrite>,
    Path((book, period)): Path<(String, String)>,
    OptionalJson(_body): OptionalJson<EmptyBody>,
) -> ApiResult<(StatusCode, axum::Json<CarryForwardOut>)> {
    let book = BookRef::parse(&book);
    let period = period_path(&period)?;
    let (_, vouchers) = state
        .store()
        .tenant(auth.principal.org_id)
        .carry_forward(&auth.write_context(), &book, period)
        .await?;
    let status = if vouchers.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut vouchers = vouchers.into_iter().map(VoucherOut::from);
    Ok((
        status,
        axum::Json(CarryForwardOut {
            period: period.to_string(),
            voucher: vouchers.next(),
            more_vouchers: vouchers.collect(),
        }),
    ))
}

/// Reopen the latest closed period (反结账). Needs `admin`; audited. Any other period is refused (409,
/// `not_latest_closed` naming the latest closed period, or `conflict` when no such period is closed).
#[utoipa::path(
    post, path = "/api/v1/ledger/books/{book}/periods/{period}/reopen", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name"), ("period" = String, Path, description = "Period, YYYY-MM")),
    security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses(
        (status = 200, body = BookOut),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn reopen_period(
    State(state): State<AppState>,
    auth: Authed<scopes::Admin>,
    Path((book, period)): Path<(String, String)>,
    OptionalJson(_body): OptionalJson<EmptyBody>,
) -> ApiResult<axum::Json<BookOut>> {
    let book = BookRef::parse(&book);
    let period = period_path(&period)?;
    let book = state
        .store()
        .tenant(auth.principal.org_id)
        .reopen_ledger_periods(&auth.write_context(), &book, period)
        .await?;
    Ok(axum::Json(book.into()))
}
