//! `/api/v1/ledger/books/{book}/statements/{kind}/definition`: a book's own, versioned line definitions
//! of its balance sheet and income statement — read (JSON, or the TSV the shipped templates use), replaced
//! by a new version (JSON lines, or that TSV), and listed by version.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenon_ledger::statements::{self, RawLine, StatementKind};
use tenon_model::DetailCode;
use tenon_model::validation::Reason;
use tenon_store::ledger::{BookRef, DefinitionInput, StoredDefinition};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Authed, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiBytes, ApiQuery, parse_json, require_json};
use crate::state::AppState;

const TSV: &str = "text/tab-separated-values";

/// Which statement: the balance sheet (资产负债表) or the income statement (利润表).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StatementKindParam {
    BalanceSheet,
    IncomeStatement,
}

fn kind_of(raw: &str) -> ApiResult<StatementKind> {
    match raw {
        "balance-sheet" => Ok(StatementKind::BalanceSheet),
        "income-statement" => Ok(StatementKind::IncomeStatement),
        _ => Err(ApiError::not_found("statement")),
    }
}

/// One line item of a definition.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DefinitionLine {
    /// The line number (行次), unique in the statement; `#code` in a later formula names this line.
    #[schema(example = "1")]
    pub code: String,
    #[schema(example = "货币资金")]
    pub name: String,
    /// 1 for headings and totals, 2 (or 3) for items.
    #[schema(example = 2)]
    pub level: u8,
    /// Terms added and subtracted: an account code (with its sub-accounts), `CODE:debit@dimension` /
    /// `CODE:credit@dimension`, `PNL`, `#line`. Empty for a line without amounts.
    #[schema(example = "1001 + 1002 + 1012")]
    pub formula: String,
}

/// The lines of a statement in force, or of one version.
#[derive(Debug, Serialize, ToSchema)]
pub struct DefinitionOut {
    /// `balance-sheet` or `income-statement`.
    pub kind: String,
    /// 0 for the shipped definition, 1, 2, … for the book's own.
    pub version: u32,
    /// `shipped` (the template of the book's standard) or `book`.
    #[schema(example = "book")]
    pub source: String,
    /// When the version was stored (`null` for the shipped one).
    pub created_at: Option<DateTime<Utc>>,
    /// Who stored it (`null` for the shipped one).
    pub created_by: Option<String>,
    pub lines: Vec<DefinitionLine>,
}

/// A new version of a statement's lines.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DefinitionIn {
    pub lines: Vec<DefinitionLine>,
}

/// One version of a statement's lines, without them.
#[derive(Debug, Serialize, ToSchema)]
pub struct DefinitionVersionOut {
    pub version: u32,
    pub source: String,
    pub created_at: Option<DateTime<Utc>>,
    pub created_by: Option<String>,
    /// How many lines it has.
    pub line_count: usize,
}

/// The versions of a statement's lines, oldest (the shipped one, 0) first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DefinitionVersionsOut {
    pub kind: String,
    /// The version statements use unless asked for another (the highest).
    pub latest: u32,
    pub versions: Vec<DefinitionVersionOut>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DefinitionParams {
    /// The version to read (0: the shipped one); default the latest.
    pub version: Option<u32>,
    /// `json` (default) or `tsv` (the shipped templates' format, which `PUT` takes back); or ask with
    /// `Accept: text/tab-separated-values`.
    pub format: Option<String>,
}

fn definition_out(kind: StatementKind, found: StoredDefinition) -> DefinitionOut {
    DefinitionOut {
        kind: kind.as_str().to_owned(),
        version: found.version,
        source: found.source.as_str().to_owned(),
        created_at: found.created_at,
        created_by: found.created_by,
        lines: found
            .definition
            .lines
            .into_iter()
            .map(|line| DefinitionLine {
                code: line.code,
                name: line.name,
                level: line.level,
                formula: line.formula,
            })
            .collect(),
    }
}

fn wants_tsv(param: Option<&str>, headers: &HeaderMap) -> ApiResult<bool> {
    match param {
        Some("json") => Ok(false),
        Some("tsv") => Ok(true),
        Some(other) => Err(ApiError::bad_query(
            Reason::new(
                DetailCode::NotOneOf,
                format!("{other:?} is not a format; use json or tsv"),
            )
            .with("allowed", vec!["json", "tsv"])
            .at("format"),
        )),
        None => Ok(headers
            .get(header::ACCEPT)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|accept| accept.contains(TSV))),
    }
}

fn tsv_reply(book: &str, kind: StatementKind, found: &StoredDefinition) -> Response {
    let text = format!(
        "# {} of book {book}, version {} ({}).\n# Columns (tab-separated): line code, name, level, formula.\n{}",
        kind.title(),
        found.version,
        found.source.as_str(),
        statements::definition_text(&found.definition)
    );
    let mut response = text.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/tab-separated-values; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}-v{}.tsv\"",
        kind.as_str(),
        found.version
    )) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// The lines of a book's balance sheet or income statement in force (the latest version; the shipped
/// ones while the book has none of its own), or of `version`. JSON, or the TSV of the shipped templates
/// (`format=tsv` or `Accept: text/tab-separated-values`), which `PUT` takes back.
#[utoipa::path(
    get, path = "/api/v1/ledger/books/{book}/statements/{kind}/definition", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name"),
        ("kind" = inline(StatementKindParam), Path, description = "`balance-sheet` or `income-statement`"),
        DefinitionParams),
    security(("bearer" = ["ledger:read"]), ("session" = ["ledger:read"])),
    responses(
        (status = 200, description = "The definition: JSON, or TSV lines (code, name, level, formula)",
            content((DefinitionOut = "application/json"), (String = "text/tab-separated-values"))),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn get_definition(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerRead>,
    Path((book, kind)): Path<(String, String)>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<DefinitionParams>,
) -> ApiResult<Response> {
    let kind = kind_of(&kind)?;
    let tsv = wants_tsv(params.format.as_deref(), &headers)?;
    let (_, found) = state
        .store()
        .tenant(auth.principal.org_id)
        .statement_definition(&BookRef::parse(&book), kind, params.version)
        .await?;
    if tsv {
        return Ok(tsv_reply(&book, kind, &found));
    }
    Ok(axum::Json(definition_out(kind, found)).into_response())
}

/// Stores a new version of a book's balance sheet or income statement lines, which statements then use;
/// earlier versions stay readable (`?version=`). The body is `{"lines": […]}` or, with `Content-Type:
/// text/tab-separated-values`, the TSV that `GET …/definition?format=tsv` downloads. Checked against
/// the book's chart: a formula naming an account the book does not have, a `#line` that is not an earlier
/// line, a duplicate line code are refused (422, `lines[i].formula` / `.code`) and nothing is stored.
#[utoipa::path(
    put, path = "/api/v1/ledger/books/{book}/statements/{kind}/definition", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name"),
        ("kind" = inline(StatementKindParam), Path, description = "`balance-sheet` or `income-statement`")),
    request_body(content((DefinitionIn = "application/json"), (String = "text/tab-separated-values"))),
    security(("bearer" = ["ledger:write"]), ("session" = ["ledger:write"])),
    responses(
        (status = 200, body = DefinitionOut, description = "The new version"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn put_definition(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerWrite>,
    Path((book, kind)): Path<(String, String)>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> ApiResult<axum::Json<DefinitionOut>> {
    let kind = kind_of(&kind)?;
    let is_tsv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim_start().to_ascii_lowercase().starts_with(TSV));
    let input = if is_tsv {
        let text = String::from_utf8(body.to_vec())
            .map_err(|_| ApiError::invalid_request("the TSV body is not UTF-8 text"))?;
        DefinitionInput::Text(text)
    } else {
        require_json(&headers)?;
        let body: DefinitionIn = parse_json(&body)?;
        DefinitionInput::Lines(
            body.lines
                .into_iter()
                .map(|line| RawLine {
                    code: line.code,
                    name: line.name,
                    level: line.level.to_string(),
                    formula: line.formula,
                })
                .collect(),
        )
    };
    let (_, stored) = state
        .store()
        .tenant(auth.principal.org_id)
        .set_statement_definition(&auth.write_context(), &BookRef::parse(&book), kind, input)
        .await?;
    Ok(axum::Json(definition_out(kind, stored)))
}

/// Every version of a book's balance sheet or income statement lines: the shipped one (0) and the book's
/// own, with when and by whom each was stored.
#[utoipa::path(
    get, path = "/api/v1/ledger/books/{book}/statements/{kind}/definition/versions", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name"),
        ("kind" = inline(StatementKindParam), Path, description = "`balance-sheet` or `income-statement`")),
    security(("bearer" = ["ledger:read"]), ("session" = ["ledger:read"])),
    responses(
        (status = 200, body = DefinitionVersionsOut), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn definition_versions(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerRead>,
    Path((book, kind)): Path<(String, String)>,
) -> ApiResult<axum::Json<DefinitionVersionsOut>> {
    let kind = kind_of(&kind)?;
    let versions = state
        .store()
        .tenant(auth.principal.org_id)
        .statement_definition_versions(&BookRef::parse(&book), kind)
        .await?;
    Ok(axum::Json(DefinitionVersionsOut {
        kind: kind.as_str().to_owned(),
        latest: versions.last().map_or(0, |found| found.version),
        versions: versions
            .into_iter()
            .map(|found| DefinitionVersionOut {
                version: found.version,
                source: found.source.as_str().to_owned(),
                created_at: found.created_at,
                created_by: found.created_by,
                line_count: found.definition.lines.len(),
            })
            .collect(),
    }))
}
