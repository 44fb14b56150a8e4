//! `/api/v1/ledger/books/{book}/vouchers`, the trial balance, and vouchers from business records.
//! Amounts are decimal strings in and out.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use tenon_ledger::voucher::VoucherDraft;
use tenon_ledger::{AccountCode, Currency, Dimension, Line, Period, VoucherState, Word, money};
use tenon_model::Checker;
use tenon_model::VoucherId;
use tenon_model::validation::Reason;
use tenon_store::ledger::{BookRef, FromRecord, RecordOutcome, StoredVoucher};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Authed, scopes};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, EmptyBody, OptionalJson, PageParams, Paged, path_id};
use crate::routes::ledger::{format, one_of};
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineIo {
    #[serde(default)]
    pub summary: String,
    #[schema(example = "1122")]
    pub account: String,
    /// e.g. `{"customer": "湖州优品"}`; values are created on first use.
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    #[schema(example = "113.00")]
    pub debit: String,
    #[schema(example = "0")]
    pub credit: String,
    /// A foreign currency (omit for the base currency).
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub original_amount: Option<String>,
    #[serde(default)]
    pub exchange_rate: Option<String>,
    #[serde(default)]
    pub quantity: Option<String>,
    #[serde(default)]
    pub unit_price: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoucherCreate {
    #[schema(example = "2026-10-08")]
    pub date: String,
    /// 记, 收, 付 or 转.
    #[schema(example = "记")]
    pub word: String,
    pub attachments: Option<u32>,
    pub lines: Vec<LineIo>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VoucherOut {
    pub id: String,
    pub book_id: String,
    pub period: String,
    pub word: String,
    pub number: u32,
    pub date: String,
    pub attachments: u32,
    /// draft, reviewed or posted.
    pub state: String,
    pub preparer: String,
    pub reviewer: Option<String>,
    pub poster: Option<String>,
    pub reverses_id: Option<String>,
    pub reversed_by_id: Option<String>,
    pub total_debit: String,
    pub total_credit: String,
    pub lines: Vec<LineIo>,
    pub created_at: DateTime<Utc>,
}

fn opt_text(value: Option<rust_decimal::Decimal>) -> Option<String> {
    value.map(|v| v.to_string())
}

impl From<StoredVoucher> for VoucherOut {
    fn from(stored: StoredVoucher) -> Self {
        let v = stored.voucher;
        VoucherOut {
            id: stored.id.to_string(),
            book_id: stored.book_id.to_string(),
            period: v.period.to_string(),
            word: v.word.as_str().to_owned(),
            number: v.number,
            date: v.date.format("%Y-%m-%d").to_string(),
            attachments: v.attachments,
            state: v.state.as_str().to_owned(),
            total_debit: money::amount_text(v.total_debit()),
            total_credit: money::amount_text(v.total_credit()),
            preparer: v.preparer,
            reviewer: v.reviewer,
            poster: v.poster,
            reverses_id: stored.reverses_id.map(|id| id.to_string()),
            reversed_by_id: stored.reversed_by_id.map(|id| id.to_string()),
            lines: v
                .lines
                .into_iter()
                .map(|l| LineIo {
                    summary: l.summary,
                    account: l.account.to_string(),
                    dimensions: l
                        .dimensions
                        .into_iter()
                        .map(|(d, v)| (d.as_str().to_owned(), v))
                        .collect(),
                    debit: money::amount_text(l.debit),
                    credit: money::amount_text(l.credit),
                    currency: l.currency.map(|c| c.to_string()),
                    original_amount: opt_text(l.original_amount),
                    exchange_rate: opt_text(l.exchange_rate),
                    quantity: opt_text(l.quantity),
                    unit_price: opt_text(l.unit_price),
                })
                .collect(),
            created_at: stored.created_at,
        }
    }
}

impl VoucherCreate {
    fn into_draft(self) -> Result<VoucherDraft, tenon_model::Invalid> {
        let mut check = Checker::default();
        let date = check.field(
            "date",
            NaiveDate::parse_from_str(&self.date, "%Y-%m-%d")
                .map_err(|_| Reason::format("date", "is not a date (YYYY-MM-DD)")),
        );
        let word = check.field(
            "word",
            Word::parse(&self.word).map_err(one_of(&Word::ALL.map(|word| word.as_str()))),
        );
        let mut lines = Vec::new();
        for (index, raw) in self.lines.into_iter().enumerate() {
            let at = |field: &str| format!("lines[{index}].{field}");
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
            let scaled = |check: &mut Checker, field: &str, value: Option<String>, scale: u32| {
                check.optional(&at(field), value, |v| {
                    money::parse_scaled(&v, scale).map_err(format("number"))
                })
            };
            let original = scaled(
                &mut check,
                "original_amount",
                raw.original_amount,
                tenon_ledger::AMOUNT_SCALE,
            );
            let rate = scaled(
                &mut check,
                "exchange_rate",
                raw.exchange_rate,
                tenon_ledger::RATE_SCALE,
            );
            let quantity = scaled(
                &mut check,
                "quantity",
                raw.quantity,
                tenon_ledger::QUANTITY_SCALE,
            );
            let price = scaled(
                &mut check,
                "unit_price",
                raw.unit_price,
                tenon_ledger::QUANTITY_SCALE,
            );
            if let (
                Some(account),
                Some(debit),
                Some(credit),
                Some(currency),
                Some(original),
                Some(rate),
                Some(quantity),
                Some(price),
            ) = (
                account, debit, credit, currency, original, rate, quantity, price,
            ) {
                let mut line = Line::simple(&raw.summary, account, debit, credit);
                line.dimensions = dimensions;
                line.currency = currency;
                line.original_amount = original;
                line.exchange_rate = rate;
                line.quantity = quantity;
                line.unit_price = price;
                lines.push(line);
            }
        }
        match (date, word) {
            (Some(date), Some(word)) if check.is_clean() => Ok(VoucherDraft {
                date,
                word,
                attachments: self.attachments.unwrap_or(0),
                lines,
            }),
            _ => Err(check.into_invalid()),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodParams {
    /// A period, `YYYY-MM`.
    #[param(example = "2026-10")]
    pub period: String,
}

fn period_of(raw: &str) -> ApiResult<Period> {
    Period::parse(raw).map_err(|reason| {
        crate::error::ApiError::bad_query(Reason::format("period", reason).at("period"))
    })
}

/// Create a draft voucher; it gets the next number of its period and word.
#[utoipa::path(
    post, path = "/api/v1/ledger/books/{book}/vouchers", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name")),
    request_body = VoucherCreate,
    security(("bearer" = ["ledger:write"]), ("session" = ["ledger:write"])),
    responses(
        (status = 201, body = VoucherOut),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn create_voucher(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerWrite>,
    Path(book): Path<String>,
    ApiJson(body): ApiJson<VoucherCreate>,
) -> ApiResult<(StatusCode, axum::Json<VoucherOut>)> {
    let book = BookRef::parse(&book);
    let draft = body.into_draft()?;
    let voucher = state
        .store()
        .tenant(auth.principal.org_id)
        .create_voucher(&auth.write_context(), &book, draft)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(voucher.into())))
}

/// The vouchers of a period, by word and number, a page at a time (`page_size`, `cursor`).
#[utoipa::path(
    get, path = "/api/v1/ledger/books/{book}/vouchers", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name"), PeriodParams, PageParams),
    security(("bearer" = ["ledger:read"]), ("session" = ["ledger:read"])),
    responses(
        (status = 200, body = Paged<VoucherOut>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn list_vouchers(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerRead>,
    Path(book): Path<String>,
    ApiQuery(params): ApiQuery<PeriodParams>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<axum::Json<Paged<VoucherOut>>> {
    let book = BookRef::parse(&book);
    let period = period_of(&params.period)?;
    let request = page.to_request::<VoucherId>()?;
    let page = state
        .store()
        .tenant(auth.principal.org_id)
        .list_vouchers_page(&book, period, request)
        .await?;
    Ok(axum::Json(Paged::from_page(page, VoucherOut::from)))
}

/// Get a voucher.
#[utoipa::path(
    get, path = "/api/v1/ledger/books/{book}/vouchers/{id}", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name"), ("id" = String, Path, description = "Voucher id")),
    security(("bearer" = ["ledger:read"]), ("session" = ["ledger:read"])),
    responses(
        (status = 200, body = VoucherOut), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn get_voucher(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerRead>,
    Path((book, id)): Path<(String, String)>,
) -> ApiResult<axum::Json<VoucherOut>> {
    let book = BookRef::parse(&book);
    let id: VoucherId = path_id(&id, "voucher")?;
    let voucher = state
        .store()
        .tenant(auth.principal.org_id)
        .voucher(&book, id)
        .await?;
    Ok(axum::Json(voucher.into()))
}

/// A voucher whose number closed up when a draft before it was deleted.
#[derive(Debug, Serialize, ToSchema)]
pub struct RenumberedOut {
    pub id: String,
    /// The number it had.
    pub number_before: u32,
    pub number: u32,
}

/// What deleting a draft did.
#[derive(Debug, Serialize, ToSchema)]
pub struct VoucherDeleted {
    pub id: String,
    /// The later vouchers of the same period and word, each moved down by one (numbering stays gap-free).
    pub renumbered: Vec<RenumberedOut>,
}

/// Delete a draft voucher. The later vouchers of its period and word (drafts or reviewed) move down by one
/// number, so numbering stays gap-free; refused (409) for a voucher that is not a draft, or when a later
/// voucher of the same period and word is posted.
#[utoipa::path(
    delete, path = "/api/v1/ledger/books/{book}/vouchers/{id}", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name"), ("id" = String, Path, description = "Voucher id")),
    security(("bearer" = ["ledger:write"]), ("session" = ["ledger:write"])),
    responses(
        (status = 200, body = VoucherDeleted),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn delete_voucher(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerWrite>,
    Path((book, id)): Path<(String, String)>,
) -> ApiResult<axum::Json<VoucherDeleted>> {
    let book = BookRef::parse(&book);
    let id: VoucherId = path_id(&id, "voucher")?;
    let renumbered = state
        .store()
        .tenant(auth.principal.org_id)
        .delete_draft_voucher(&auth.write_context(), &book, id)
        .await?;
    Ok(axum::Json(VoucherDeleted {
        id: id.to_string(),
        renumbered: renumbered
            .into_iter()
            .map(|moved| RenumberedOut {
                id: moved.id.to_string(),
                number_before: moved.before,
                number: moved.number,
            })
            .collect(),
    }))
}

/// Review a draft voucher (with segregation of duties, not by its preparer).
#[utoipa::path(
    post, path = "/api/v1/ledger/books/{book}/vouchers/{id}/review", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name"), ("id" = String, Path, description = "Voucher id")),
    security(("bearer" = ["ledger:write"]), ("session" = ["ledger:write"])),
    responses(
        (status = 200, body = VoucherOut),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn review_voucher(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerWrite>,
    Path((book, id)): Path<(String, String)>,
    OptionalJson(_empty): OptionalJson<EmptyBody>,
) -> ApiResult<axum::Json<VoucherOut>> {
    let book = BookRef::parse(&book);
    let id: VoucherId = path_id(&id, "voucher")?;
    let voucher = state
        .store()
        .tenant(auth.principal.org_id)
        .advance_voucher(&auth.write_context(), &book, id, VoucherState::Reviewed)
        .await?;
    Ok(axum::Json(voucher.into()))
}

/// Post a reviewed voucher into the balances. Refused in a closed period.
#[utoipa::path(
    post, path = "/api/v1/ledger/books/{book}/vouchers/{id}/post", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name"), ("id" = String, Path, description = "Voucher id")),
    security(("bearer" = ["ledger:write"]), ("session" = ["ledger:write"])),
    responses(
        (status = 200, body = VoucherOut),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn post_voucher(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerWrite>,
    Path((book, id)): Path<(String, String)>,
    OptionalJson(_empty): OptionalJson<EmptyBody>,
) -> ApiResult<axum::Json<VoucherOut>> {
    let book = BookRef::parse(&book);
    let id: VoucherId = path_id(&id, "voucher")?;
    let voucher = state
        .store()
        .tenant(auth.principal.org_id)
        .advance_voucher(&auth.write_context(), &book, id, VoucherState::Posted)
        .await?;
    Ok(axum::Json(voucher.into()))
}

/// Reverse a posted voucher (红字冲销): answers the new red voucher, posted, dated today in the organization's
/// time zone (or the original date if later).
#[utoipa::path(
    post, path = "/api/v1/ledger/books/{book}/vouchers/{id}/reverse", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name"), ("id" = String, Path, description = "Voucher id")),
    security(("bearer" = ["ledger:write"]), ("session" = ["ledger:write"])),
    responses(
        (status = 200, body = VoucherOut),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn reverse_voucher(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerWrite>,
    Path((book, id)): Path<(String, String)>,
    OptionalJson(_empty): OptionalJson<EmptyBody>,
) -> ApiResult<axum::Json<VoucherOut>> {
    let book = BookRef::parse(&book);
    let id: VoucherId = path_id(&id, "voucher")?;
    let store = state.store();
    let tenant = store.tenant(auth.principal.org_id);
    // "Today" is the organization's calendar day, not UTC's (Shanghai is 8 hours ahead).
    let time_zone = tenant.organization().await?.time_zone.tz();
    let today = store.now().with_timezone(&time_zone).date_naive();
    let voucher = tenant
        .reverse_voucher(&auth.write_context(), &book, id, today)
        .await?;
    Ok(axum::Json(voucher.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrialBalanceRowOut {
    pub code: String,
    pub name: String,
    pub opening_debit: String,
    pub opening_credit: String,
    pub period_debit: String,
    pub period_credit: String,
    pub closing_debit: String,
    pub closing_credit: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrialBalanceTotalsOut {
    pub opening_debit: String,
    pub opening_credit: String,
    pub period_debit: String,
    pub period_credit: String,
    pub closing_debit: String,
    pub closing_credit: String,
}

impl From<&tenon_ledger::TrialBalanceTotals> for TrialBalanceTotalsOut {
    fn from(totals: &tenon_ledger::TrialBalanceTotals) -> Self {
        let t = money::amount_text;
        TrialBalanceTotalsOut {
            opening_debit: t(totals.opening_debit),
            opening_credit: t(totals.opening_credit),
            period_debit: t(totals.period_debit),
            period_credit: t(totals.period_credit),
            closing_debit: t(totals.closing_debit),
            closing_credit: t(totals.closing_credit),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrialBalanceOut {
    pub period: String,
    /// Every account with a balance or movement; parents aggregate their sub-accounts.
    pub accounts: Vec<TrialBalanceRowOut>,
    /// Sums over first-level accounts; debit and credit columns are equal.
    pub totals: TrialBalanceTotalsOut,
}

/// The trial balance (试算平衡表) of a period, from posted vouchers.
#[utoipa::path(
    get, path = "/api/v1/ledger/books/{book}/trial-balance", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name"), PeriodParams),
    security(("bearer" = ["ledger:read"]), ("session" = ["ledger:read"])),
    responses(
        (status = 200, body = TrialBalanceOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn trial_balance(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerRead>,
    Path(book): Path<String>,
    ApiQuery(params): ApiQuery<PeriodParams>,
) -> ApiResult<axum::Json<TrialBalanceOut>> {
    let book = BookRef::parse(&book);
    let period = period_of(&params.period)?;
    let report = state
        .store()
        .tenant(auth.principal.org_id)
        .trial_balance(&book, period)
        .await?;
    let t = money::amount_text;
    Ok(axum::Json(TrialBalanceOut {
        period: report.period.to_string(),
        accounts: report
            .rows
            .into_iter()
            .map(|r| TrialBalanceRowOut {
                code: r.code.to_string(),
                name: r.name,
                opening_debit: t(r.opening_debit),
                opening_credit: t(r.opening_credit),
                period_debit: t(r.period_debit),
                period_credit: t(r.period_credit),
                closing_debit: t(r.closing_debit),
                closing_credit: t(r.closing_credit),
            })
            .collect(),
        totals: TrialBalanceTotalsOut::from(&report.totals),
    }))
}

/// Where a business record comes from; `app/table/record` identifies it across versions.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordSource {
    #[schema(example = "crm")]
    pub app: String,
    #[schema(example = "orders")]
    pub table: String,
    #[schema(example = "SO-1001")]
    pub record: String,
    /// Increases when the record changes.
    pub version: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FromRecordIn {
    /// Book id or name.
    pub book: String,
    /// `crm_order`, `sales_invoice`, `receipt` or `expense_claim` (docs/ledger-rules.md).
    pub rule: String,
    pub source: RecordSource,
    /// The record's fields, inline: plain values or the records API's own shapes (a link
    /// `[{"id", "name"}]` and a member `{"id", "name"}` read as their names).
    #[schema(value_type = Object)]
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// Post at once instead of leaving a draft; default false.
    pub post: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FromRecordOut {
    /// created, unchanged or replaced.
    pub outcome: String,
    pub voucher: VoucherOut,
    /// The red voucher that reversed the previous one, when the record changed.
    pub reversal: Option<VoucherOut>,
}

/// Book a business record by a rule — idempotent by its source: the same record never makes two vouchers,
/// a changed record (higher version, other fields) reverses the old voucher and makes a new one, or
/// replaces it in place (same number) while it is a draft.
#[utoipa::path(
    post, path = "/api/v1/ledger/vouchers/from-record", tag = "ledger",
    request_body = FromRecordIn,
    security(("bearer" = ["ledger:write"]), ("session" = ["ledger:write"])),
    responses(
        (status = 201, body = FromRecordOut), (status = 200, description = "Already booked with this content", body = FromRecordOut),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn from_record(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerWrite>,
    ApiJson(body): ApiJson<FromRecordIn>,
) -> ApiResult<(StatusCode, axum::Json<FromRecordOut>)> {
    let mut check = Checker::default();
    for (field, value) in [
        ("source.app", &body.source.app),
        ("source.table", &body.source.table),
        ("source.record", &body.source.record),
    ] {
        if value.trim().is_empty() || value.contains('/') || value.chars().count() > 128 {
            check.push(
                field,
                tenon_model::DetailCode::InvalidValue,
                "must be 1 to 128 characters without '/'",
            );
        }
    }
    if body.source.version < 0 {
        check.add(
            tenon_model::FieldError::new(
                "source.version",
                tenon_model::DetailCode::TooSmall,
                "must not be negative",
            )
            .with("min", 0),
        );
    }
    check.finish()?;
    let input = FromRecord {
        rule: body.rule,
        source_key: format!(
            "{}/{}/{}",
            body.source.app, body.source.table, body.source.record
        ),
        version: body.source.version,
        fields: body.fields,
        post: body.post.unwrap_or(false),
    };
    let result = state
        .store()
        .tenant(auth.principal.org_id)
        .voucher_from_record(&auth.write_context(), &BookRef::parse(&body.book), input)
        .await?;
    let (status, outcome) = match result.outcome {
        RecordOutcome::Created => (StatusCode::CREATED, "created"),
        RecordOutcome::Replaced => (StatusCode::CREATED, "replaced"),
        RecordOutcome::Unchanged => (StatusCode::OK, "unchanged"),
    };
    Ok((
        status,
        axum::Json(FromRecordOut {
            outcome: outcome.to_owned(),
            voucher: result.voucher.into(),
            reversal: result.reversal.map(Into::into),
        }),
    ))
}
