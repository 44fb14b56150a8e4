//! Ledger reports over `/api/v1/ledger/books/{book}/…`: account balances by period and dimension, the
//! general ledger, the sub-ledger detail, and the aging of receivables. All read posted vouchers only;
//! amounts are decimal strings, balances a side (`debit`, `credit`, `flat`) and a non-negative amount.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use tenon_ledger::report::Balance;
use tenon_ledger::{AccountCode, Dimension, Period, money};
use tenon_store::ledger::{BookRef, DETAIL_LINES_MAX, DetailQuery};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Authed, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiQuery, cursor_error};
use crate::routes::ledger_vouchers::TrialBalanceTotalsOut;
use crate::state::AppState;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tenon_model::VoucherId;

/// A query parameter that is not a valid `format`: 400 with the parameter named.
fn bad_query(field: &str, format: &'static str, reason: impl Into<String>) -> ApiError {
    ApiError::bad_query(tenon_model::Reason::format(format, reason).at(field))
}

fn period(field: &str, raw: &str) -> ApiResult<Period> {
    Period::parse(raw).map_err(|reason| bad_query(field, "period", reason))
}

fn account(raw: Option<&str>) -> ApiResult<Option<AccountCode>> {
    raw.map(|raw| {
        AccountCode::parse(raw).map_err(|reason| bad_query("account", "account_code", reason))
    })
    .transpose()
}

fn dimension(raw: Option<&str>) -> ApiResult<Option<Dimension>> {
    raw.map(|raw| {
        Dimension::parse(raw).map_err(|reason| {
            ApiError::bad_query(
                tenon_model::Reason::not_one_of(
                    &Dimension::ALL.map(|dimension| dimension.as_str()),
                    reason,
                )
                .at("dimension"),
            )
        })
    })
    .transpose()
}

/// A balance: its side and amount.
#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceOut {
    /// `debit`, `credit` or `flat` (zero).
    pub side: String,
    #[schema(example = "113.00")]
    pub amount: String,
}

impl From<Balance> for BalanceOut {
    fn from(balance: Balance) -> Self {
        BalanceOut {
            side: balance.side.as_str().to_owned(),
            amount: money::amount_text(balance.amount),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BalancesParams {
    /// The period, `YYYY-MM`.
    #[param(example = "2026-10")]
    pub period: String,
    /// Only this account and its sub-accounts.
    #[param(example = "1122")]
    pub account: Option<String>,
    /// One row per (leaf account, value of this dimension): customer, supplier, department, employee,
    /// project or item.
    #[param(example = "customer")]
    pub dimension: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceRowOut {
    pub code: String,
    pub name: String,
    /// The dimension value (empty for lines that name none); absent without `dimension`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub opening_debit: String,
    pub opening_credit: String,
    pub period_debit: String,
    pub period_credit: String,
    pub closing_debit: String,
    pub closing_credit: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BalancesOut {
    pub period: String,
    pub dimension: Option<String>,
    pub accounts: Vec<BalanceRowOut>,
    /// Sums of the top-level rows (without dimension) or of every row (with one).
    pub totals: TrialBalanceTotalsOut,
}

/// Account balances (科目余额表) of a period: opening, period debit and credit, closing — per account with
/// parents aggregating sub-accounts, or per (leaf account, dimension value) with `dimension`.
#[utoipa::path(
    get, path = "/api/v1/ledger/books/{book}/balances", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name"), BalancesParams),
    security(("bearer" = ["ledger:read"]), ("session" = ["ledger:read"])),
    responses(
        (status = 200, body = BalancesOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn balances(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerRead>,
    Path(book): Path<String>,
    ApiQuery(params): ApiQuery<BalancesParams>,
) -> ApiResult<axum::Json<BalancesOut>> {
    let book = BookRef::parse(&book);
    let at = period("period", &params.period)?;
    let account = account(params.account.as_deref())?;
    let dimension = dimension(params.dimension.as_deref())?;
    let report = state
        .store()
        .tenant(auth.principal.org_id)
        .account_balances(&book, at, account.as_ref(), dimension)
        .await?;
    let t = money::amount_text;
    Ok(axum::Json(BalancesOut {
        period: report.period.to_string(),
        dimension: report.dimension.map(|d| d.as_str().to_owned()),
        accounts: report
            .rows
            .into_iter()
            .map(|row| BalanceRowOut {
                code: row.account.to_string(),
                name: row.account_name,
                value: row.value,
                opening_debit: t(row.opening_debit),
                opening_credit: t(row.opening_credit),
                period_debit: t(row.period_debit),
                period_credit: t(row.period_credit),
                closing_debit: t(row.closing_debit),
                closing_credit: t(row.closing_credit),
            })
            .collect(),
        totals: TrialBalanceTotalsOut::from(&report.totals),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeParams {
    /// First period, `YYYY-MM`.
    #[param(example = "2026-01")]
    pub from: String,
    /// Last period, `YYYY-MM` (at most 120 periods after `from`).
    #[param(example = "2026-10")]
    pub to: String,
    /// One account (with its sub-accounts); default: every first-level account with postings.
    #[param(example = "1002")]
    pub account: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerPeriodOut {
    pub period: String,
    pub debit: String,
    pub credit: String,
    /// Since the start of the fiscal year, this period included (本年累计).
    pub year_debit: String,
    pub year_credit: String,
    pub closing: BalanceOut,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerAccountOut {
    pub code: String,
    pub name: String,
    /// The account's normal balance side.
    pub direction: String,
    pub opening: BalanceOut,
    pub periods: Vec<LedgerPeriodOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GeneralLedgerOut {
    pub from: String,
    pub to: String,
    pub accounts: Vec<LedgerAccountOut>,
}

/// The general ledger (总账): per account, the opening balance, then each period's debit, credit,
/// year-to-date sums and closing balance.
#[utoipa::path(
    get, path = "/api/v1/ledger/books/{book}/general-ledger", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name"), RangeParams),
    security(("bearer" = ["ledger:read"]), ("session" = ["ledger:read"])),
    responses(
        (status = 200, body = GeneralLedgerOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn general_ledger(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerRead>,
    Path(book): Path<String>,
    ApiQuery(params): ApiQuery<RangeParams>,
) -> ApiResult<axum::Json<GeneralLedgerOut>> {
    let book = BookRef::parse(&book);
    let (from, to) = (period("from", &params.from)?, period("to", &params.to)?);
    let account = account(params.account.as_deref())?;
    let ledger = state
        .store()
        .tenant(auth.principal.org_id)
        .general_ledger(&book, from, to, account.as_ref())
        .await?;
    let t = money::amount_text;
    Ok(axum::Json(GeneralLedgerOut {
        from: ledger.from.to_string(),
        to: ledger.to.to_string(),
        accounts: ledger
            .accounts
            .into_iter()
            .map(|account| LedgerAccountOut {
                code: account.code.to_string(),
                name: account.name,
                direction: account.direction.as_str().to_owned(),
                opening: account.opening.into(),
                periods: account
                    .periods
                    .into_iter()
                    .map(|p| LedgerPeriodOut {
                        period: p.period.to_string(),
                        debit: t(p.debit),
                        credit: t(p.credit),
                        year_debit: t(p.year_debit),
                        year_credit: t(p.year_credit),
                        closing: p.closing.into(),
                    })
                    .collect(),
            })
            .collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DetailParams {
    /// The account; its sub-accounts are included.
    #[param(example = "1122")]
    pub account: String,
    /// First period, `YYYY-MM`.
    #[param(example = "2026-10")]
    pub from: String,
    /// Last period, `YYYY-MM`.
    #[param(example = "2026-10")]
    pub to: String,
    /// With `value`: only lines naming this value of this dimension.
    #[param(example = "customer")]
    pub dimension: Option<String>,
    #[param(example = "湖州优品")]
    pub value: Option<String>,
    /// Lines per page, 1 to 10,000 (default 10,000).
    pub page_size: Option<u32>,
    /// The `next_cursor` of the previous page; omit for the first page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DetailEntryOut {
    pub voucher_id: String,
    pub date: String,
    pub period: String,
    /// `记-12`.
    pub voucher: String,
    pub account: String,
    pub summary: String,
    pub dimensions: BTreeMap<String, String>,
    pub debit: String,
    pub credit: String,
    /// The balance after this line.
    pub balance: BalanceOut,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DetailOut {
    pub account: String,
    pub name: String,
    pub from: String,
    pub to: String,
    pub opening: BalanceOut,
    /// Posted lines by date, voucher and line.
    pub entries: Vec<DetailEntryOut>,
    pub total_debit: String,
    pub total_credit: String,
    pub closing: BalanceOut,
    /// Pass as `cursor` for the next page of entries; `null` on the last page. `opening`, the totals and
    /// `closing` are those of the whole range on every page.
    pub next_cursor: Option<String>,
}

/// The sub-ledger detail (明细账) of an account over periods, optionally of one dimension value (one
/// customer's account): opening balance (opening balances and posted lines before the range), every
/// posted line with the balance after it, totals, closing balance. Pages of `page_size` lines (at most
/// and by default 10,000) follow one another with `cursor`.
#[utoipa::path(
    get, path = "/api/v1/ledger/books/{book}/account-detail", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name"), DetailParams),
    security(("bearer" = ["ledger:read"]), ("session" = ["ledger:read"])),
    responses(
        (status = 200, body = DetailOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn account_detail(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerRead>,
    Path(book): Path<String>,
    ApiQuery(params): ApiQuery<DetailParams>,
) -> ApiResult<axum::Json<DetailOut>> {
    let book = BookRef::parse(&book);
    let account =
        AccountCode::parse(&params.account).map_err(|r| bad_query("account", "account_code", r))?;
    let (from, to) = (period("from", &params.from)?, period("to", &params.to)?);
    let filter = match (dimension(params.dimension.as_deref())?, params.value) {
        (Some(dimension), Some(value)) => Some((dimension, value)),
        (None, None) => None,
        _ => {
            return Err(ApiError::bad_query(tenon_model::FieldError::new(
                "value",
                tenon_model::DetailCode::Required,
                "give dimension and value together, e.g. dimension=customer&value=湖州优品",
            )));
        }
    };
    // The store checks the page size too; a query parameter's problem is a 400 here.
    let page_size = params
        .page_size
        .map_or(DETAIL_LINES_MAX, |size| size as usize);
    if !(1..=DETAIL_LINES_MAX).contains(&page_size) {
        return Err(ApiError::bad_query(
            tenon_model::FieldError::new(
                "page_size",
                tenon_model::DetailCode::OutOfRange,
                format!("must be between 1 and {DETAIL_LINES_MAX}"),
            )
            .with("min", 1)
            .with("max", DETAIL_LINES_MAX),
        ));
    }
    let after = params
        .cursor
        .as_deref()
        .filter(|cursor| !cursor.is_empty())
        .map(decode_line_cursor)
        .transpose()?;
    let query = DetailQuery {
        account,
        from,
        to,
        dimension: filter,
        page_size,
        after,
    };
    let detail = state
        .store()
        .tenant(auth.principal.org_id)
        .account_detail(&book, &query)
        .await?;
    let t = money::amount_text;
    Ok(axum::Json(DetailOut {
        account: detail.account.to_string(),
        name: detail.account_name,
        from: detail.query.0.to_string(),
        to: detail.query.1.to_string(),
        opening: detail.opening.into(),
        entries: detail
            .entries
            .into_iter()
            .map(|entry| DetailEntryOut {
                voucher_id: entry.voucher_id.to_string(),
                date: entry.date.format("%Y-%m-%d").to_string(),
                period: entry.period.to_string(),
                voucher: format!("{}-{}", entry.word.as_str(), entry.number),
                account: entry.account.to_string(),
                summary: entry.summary,
                dimensions: entry
                    .dimensions
                    .into_iter()
                    .map(|(d, v)| (d.as_str().to_owned(), v))
                    .collect(),
                debit: t(entry.debit),
                credit: t(entry.credit),
                balance: entry.balance.into(),
            })
            .collect(),
        total_debit: t(detail.total_debit),
        total_credit: t(detail.total_credit),
        closing: detail.closing.into(),
        next_cursor: detail.next_after.map(encode_line_cursor),
    }))
}

/// A detail cursor: the last line of a page (its voucher id and line number), base64url.
fn encode_line_cursor((voucher, line): (VoucherId, u32)) -> String {
    let mut bytes = voucher.as_ref().as_bytes().to_vec();
    bytes.extend_from_slice(&line.to_be_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

fn decode_line_cursor(raw: &str) -> ApiResult<(VoucherId, u32)> {
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| cursor_error())?;
    let (id, line) = (bytes.get(..16), bytes.get(16..));
    match (id.and_then(|id| uuid::Uuid::from_slice(id).ok()), line) {
        (Some(id), Some(line)) if line.len() == 4 => Ok((
            VoucherId::from_uuid(id),
            u32::from_be_bytes([line[0], line[1], line[2], line[3]]),
        )),
        _ => Err(cursor_error()),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AgingParams {
    /// The day the ages are counted to, `YYYY-MM-DD`; lines dated later are left out. Default: today
    /// in the organization's time zone.
    #[param(example = "2026-10-31")]
    pub as_of: Option<String>,
    /// The receivable account (with its sub-accounts); default: the account with role AR.
    #[param(example = "1122")]
    pub account: Option<String>,
    /// Upper day limits of the age bands, increasing; default `30,60,90,180,365`.
    #[param(example = "30,60,90")]
    pub buckets: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgingCustomerOut {
    /// The customer dimension value (empty for lines that name none).
    pub customer: String,
    /// Debit balance still open.
    pub open: String,
    /// `open` by age band, in the order of the report's `buckets`.
    pub buckets: Vec<String>,
    /// Paid in advance or overpaid; not aged.
    pub credit_balance: String,
    /// The date of the oldest charge still open.
    pub oldest_open: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgingTotalsOut {
    pub open: String,
    pub buckets: Vec<String>,
    pub credit_balance: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgingOut {
    pub as_of: String,
    pub account: String,
    /// Band labels such as `0-30`, `31-60`, `>365`.
    pub buckets: Vec<String>,
    pub customers: Vec<AgingCustomerOut>,
    pub totals: AgingTotalsOut,
}

/// Aging of receivables by customer (应收账款账龄): each customer's open balance split by age band,
/// payments settling the oldest charges first, ages counted from the voucher date.
#[utoipa::path(
    get, path = "/api/v1/ledger/books/{book}/receivables-aging", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name"), AgingParams),
    security(("bearer" = ["ledger:read"]), ("session" = ["ledger:read"])),
    responses(
        (status = 200, body = AgingOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn receivables_aging(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerRead>,
    Path(book): Path<String>,
    ApiQuery(params): ApiQuery<AgingParams>,
) -> ApiResult<axum::Json<AgingOut>> {
    let book = BookRef::parse(&book);
    let as_of = match params.as_of.as_deref().filter(|raw| !raw.trim().is_empty()) {
        Some(raw) => NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
            .map_err(|_| bad_query("as_of", "date", "is not a date (YYYY-MM-DD)"))?,
        None => {
            let tenant = state.store().tenant(auth.principal.org_id);
            let zone = tenant.organization().await?.time_zone;
            state.store().now().with_timezone(&zone.tz()).date_naive()
        }
    };
    let account = account(params.account.as_deref())?;
    let limits = match params.buckets.as_deref() {
        None => vec![30, 60, 90, 180, 365],
        Some(raw) => raw
            .split(',')
            .map(|part| part.trim().parse::<u32>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| {
                bad_query(
                    "buckets",
                    "buckets",
                    "give day limits as numbers, e.g. 30,60,90",
                )
            })?,
    };
    let (account, aging) = state
        .store()
        .tenant(auth.principal.org_id)
        .receivables_aging(&book, as_of, account.as_ref(), &limits)
        .await?;
    let t = money::amount_text;
    Ok(axum::Json(AgingOut {
        as_of: aging.as_of.format("%Y-%m-%d").to_string(),
        account: account.to_string(),
        buckets: aging.buckets.iter().map(|b| b.label()).collect(),
        customers: aging
            .rows
            .into_iter()
            .map(|row| AgingCustomerOut {
                customer: row.customer,
                open: t(row.open),
                buckets: row.buckets.into_iter().map(t).collect(),
                credit_balance: t(row.credit_balance),
                oldest_open: row.oldest_open.map(|d| d.format("%Y-%m-%d").to_string()),
            })
            .collect(),
        totals: AgingTotalsOut {
            open: t(aging.total_open),
            buckets: aging.total_buckets.into_iter().map(t).collect(),
            credit_balance: t(aging.total_credit_balance),
        },
    }))
}
