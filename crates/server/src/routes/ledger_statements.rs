//! `/api/v1/ledger/books/{book}/statements/…`: the balance sheet (资产负债表) and the income statement
//! (利润表) as JSON, CSV or XLSX.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tenon_exchange::tabular::{self, Sheet};
use tenon_ledger::statements::StatementKind;
use tenon_ledger::{Period, money};
use tenon_model::validation::Reason;
use tenon_store::ledger::{BookRef, Statement};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Authed, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiQuery;
use crate::state::AppState;

/// One line item of a statement.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatementLineOut {
    /// The line number (行次).
    #[schema(example = "1")]
    pub code: String,
    #[schema(example = "货币资金")]
    pub name: String,
    /// 1 for headings and totals, 2 for items.
    pub level: u8,
    /// Balance sheet: closing balance (期末余额); income statement: the amount of the period (本期金额).
    #[schema(example = "53000.00")]
    pub current: String,
    /// Balance sheet: closing at the end of the previous fiscal year (上年年末余额); income statement: the
    /// same period a year earlier (上期金额).
    #[schema(example = "0.00")]
    pub previous: String,
}

/// A statement.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatementOut {
    /// The period (for a range, its last period).
    #[schema(example = "2026-10")]
    pub period: String,
    /// The first period of the range (the income statement's cumulative column); equal to `period` for one period.
    pub from: String,
    pub to: String,
    /// The version of the book's line definitions the statement was computed with (0: the shipped ones;
    /// see `…/statements/{kind}/definition`).
    pub definition_version: u32,
    pub lines: Vec<StatementLineOut>,
}

fn statement_out(statement: Statement) -> StatementOut {
    StatementOut {
        period: statement.to.to_string(),
        from: statement.from.to_string(),
        to: statement.to.to_string(),
        definition_version: statement.definition_version,
        lines: statement
            .lines
            .into_iter()
            .map(|line| StatementLineOut {
                code: line.code,
                name: line.name,
                level: line.level,
                current: money::amount_text(line.current),
                previous: money::amount_text(line.previous),
            })
            .collect(),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BalanceSheetParams {
    /// The period whose closing the sheet shows, `YYYY-MM`.
    #[param(example = "2026-10")]
    pub period: String,
    /// The version of the book's line definitions to compute with (0: the shipped ones); default the latest.
    pub version: Option<u32>,
    /// `json` (default), `csv` or `xlsx`; or ask with `Accept: text/csv` or the XLSX media type.
    pub format: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct IncomeStatementParams {
    /// One period, `YYYY-MM` (or give `from` and `to`).
    #[param(example = "2026-10")]
    pub period: Option<String>,
    /// The first period of a cumulative range (本年累计), with `to`.
    pub from: Option<String>,
    pub to: Option<String>,
    /// The version of the book's line definitions to compute with (0: the shipped ones); default the latest.
    pub version: Option<u32>,
    /// `json` (default), `csv` or `xlsx`; or ask with `Accept`.
    pub format: Option<String>,
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
    Xlsx,
}

fn format_of(param: Option<&str>, headers: &HeaderMap) -> ApiResult<Format> {
    match param {
        Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some("xlsx") => Ok(Format::Xlsx),
        Some(other) => Err(ApiError::bad_query(
            Reason::new(
                tenon_model::DetailCode::NotOneOf,
                format!("{other:?} is not a format; use json, csv or xlsx"),
            )
            .with("allowed", vec!["json", "csv", "xlsx"])
            .at("format"),
        )),
        None => {
            let accept = headers
                .get(header::ACCEPT)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("");
            Ok(if accept.contains("text/csv") {
                Format::Csv
            } else if accept.contains(XLSX) {
                Format::Xlsx
            } else {
                Format::Json
            })
        }
    }
}

fn period_param(field: &str, raw: &str) -> ApiResult<Period> {
    Period::parse(raw)
        .map_err(|reason| ApiError::bad_query(Reason::format("period", reason).at(field)))
}

fn reply(statement: Statement, format: Format, book: &str) -> ApiResult<Response> {
    let kind = statement.kind;
    let out = statement_out(statement);
    if format == Format::Json {
        return Ok(axum::Json(out).into_response());
    }
    let (current, previous) = match kind {
        StatementKind::BalanceSheet => ("期末余额", "上年年末余额"),
        StatementKind::IncomeStatement => ("本期金额", "上期金额"),
    };
    let sheet = Sheet {
        headers: vec![
            "项目".to_owned(),
            "行次".to_owned(),
            current.to_owned(),
            previous.to_owned(),
        ],
        rows: out
            .lines
            .into_iter()
            .map(|line| {
                let indent = if line.level > 1 { "  " } else { "" };
                vec![
                    Value::from(format!("{indent}{}", line.name)),
                    Value::from(line.code),
                    Value::from(line.current),
                    Value::from(line.previous),
                ]
            })
            .collect(),
    };
    let failed =
        |error: tenon_exchange::ExchangeError| ApiError::internal("statement file", &error);
    let (bytes, content_type, extension) = match format {
        Format::Csv => (
            tabular::write_csv(&sheet).map_err(failed)?,
            "text/csv; charset=utf-8",
            "csv",
        ),
        _ => (
            tabular::write_xlsx(&sheet, kind.title()).map_err(failed)?,
            XLSX,
            "xlsx",
        ),
    };
    let mut response = bytes.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let name = format!("{}-{}-{}.{extension}", book, kind.title(), out.period);
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}.{extension}\"; filename*=UTF-8''{}",
        kind.as_str(),
        urlencode(&name)
    )) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// 资产负债表: each line's closing balance at the end of `period` and at the end of the previous fiscal
/// year, in the book's standard's format (企业会计准则 2019 or 小企业会计准则). JSON, or CSV / XLSX with
/// the Chinese line names (`format=` or `Accept`).
#[utoipa::path(
    get, path = "/api/v1/ledger/books/{book}/statements/balance-sheet", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name"), BalanceSheetParams),
    security(("bearer" = ["ledger:read"]), ("session" = ["ledger:read"])),
    responses(
        (status = 200, description = "The statement: JSON, or a CSV / XLSX file with the Chinese line names",
            content((StatementOut = "application/json"), (String = "text/csv"),
                (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn balance_sheet(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerRead>,
    Path(book): Path<String>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<BalanceSheetParams>,
) -> ApiResult<Response> {
    let format = format_of(params.format.as_deref(), &headers)?;
    let period = period_param("period", &params.period)?;
    let statement = state
        .store()
        .tenant(auth.principal.org_id)
        .balance_sheet(&BookRef::parse(&book), period, params.version)
        .await?;
    reply(statement, format, &book)
}

/// 利润表: each line's amount of `period` (or the cumulative `from`..`to`) and of the same period a year
/// earlier, without the carry-forward vouchers. JSON, CSV or XLSX as the balance sheet.
#[utoipa::path(
    get, path = "/api/v1/ledger/books/{book}/statements/income-statement", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name"), IncomeStatementParams),
    security(("bearer" = ["ledger:read"]), ("session" = ["ledger:read"])),
    responses(
        (status = 200, description = "The statement: JSON, or a CSV / XLSX file with the Chinese line names",
            content((StatementOut = "application/json"), (String = "text/csv"),
                (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn income_statement(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerRead>,
    Path(book): Path<String>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<IncomeStatementParams>,
) -> ApiResult<Response> {
    let format = format_of(params.format.as_deref(), &headers)?;
    let (from, to) = match (&params.period, &params.from, &params.to) {
        (Some(period), None, None) => {
            let period = period_param("period", period)?;
            (period, period)
        }
        (None, Some(from), Some(to)) => (period_param("from", from)?, period_param("to", to)?),
        _ => {
            return Err(ApiError::bad_query(
                Reason::new(
                    tenon_model::DetailCode::Required,
                    "give period, or from and to (not both)",
                )
                .at("period"),
            ));
        }
    };
    let statement = state
        .store()
        .tenant(auth.principal.org_id)
        .income_statement(&BookRef::parse(&book), from, to, params.version)
        .await?;
    reply(statement, format, &book)
}
