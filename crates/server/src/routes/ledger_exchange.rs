//! `GET /api/v1/ledger/books/{book}/export` and `POST …/import`: the files of `tenon ledger export|import`
//! (Kingdee, Yonyou U8, SAF-T, CSV) over HTTP, with the same summary as JSON.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tenon_ledger::exchange::{self, Format, Options, Report};
use tenon_ledger::{Currency, Period, money};
use tenon_model::{DetailCode, FieldError, Reason};
use tenon_store::ledger::{BookRef, ImportOutcome};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Authed, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiBytes, ApiQuery};
use crate::routes::ledger::BookOut;
use crate::state::AppState;

const FORMATS: [&str; 4] = ["kingdee", "yonyou-u8", "saft", "csv"];

fn format_param(raw: &str) -> ApiResult<Format> {
    Format::parse(raw).map_err(|reason| {
        ApiError::bad_query(
            Reason::new(DetailCode::NotOneOf, reason)
                .with("allowed", FORMATS.to_vec())
                .at("format"),
        )
    })
}

fn period_param(field: &str, raw: &str) -> ApiResult<Period> {
    Period::parse(raw)
        .map_err(|reason| ApiError::bad_query(Reason::format("period", reason).at(field)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// `kingdee`, `yonyou-u8`, `saft` or `csv`.
    #[param(example = "saft")]
    pub format: String,
    /// One period, `YYYY-MM` (or give `from` and `to`).
    #[param(example = "2026-10")]
    pub period: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Also drafts and reviewed vouchers (default: posted only).
    pub include_unposted: Option<bool>,
    /// SAF-T `AuditFileCountry`, ISO 3166 alpha-2 (default `CN`).
    pub country: Option<String>,
    /// `yonyou-u8` only: the EAI document to write, one per file as U8's EAI reads it — `voucher`
    /// (default), `code` (the chart), `customer`, `vendor`, `department`, `person` or `fitem`.
    #[param(example = "voucher")]
    pub document: Option<String>,
}

/// The file of a book's period range in an exchange format — the same bytes as
/// `tenon ledger export --format … --period …`. SAF-T files open with the balances before the first
/// period (opening balances and earlier postings) and are dated the day of the export.
#[utoipa::path(
    get, path = "/api/v1/ledger/books/{book}/export", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name"), ExportParams),
    security(("bearer" = ["ledger:read"]), ("session" = ["ledger:read"])),
    responses(
        (status = 200, description = "The file: JSON (kingdee), XML (yonyou-u8, saft) or CSV",
            content((crate::openapi::JsonObject = "application/json"), (crate::openapi::FileContent = "application/xml"),
                (crate::openapi::FileContent = "text/csv"))),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn export_books(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerRead>,
    Path(book): Path<String>,
    ApiQuery(params): ApiQuery<ExportParams>,
) -> ApiResult<Response> {
    let format = format_param(&params.format)?;
    let (from, to) = match (&params.period, &params.from, &params.to) {
        (Some(period), None, None) => {
            let period = period_param("period", period)?;
            (period, period)
        }
        (None, Some(from), Some(to)) => (period_param("from", from)?, period_param("to", to)?),
        _ => {
            return Err(ApiError::bad_query(FieldError::new(
                "period",
                DetailCode::Required,
                "give period, or from and to",
            )));
        }
    };
    if from > to {
        return Err(ApiError::bad_query(
            FieldError::new(
                "from",
                DetailCode::AfterOther,
                format!("{from} is after to ({to})"),
            )
            .with("other", "to"),
        ));
    }
    let mut options = Options::default();
    if let Some(document) = &params.document {
        if format != Format::YonyouU8 {
            return Err(ApiError::bad_query(FieldError::new(
                "document",
                DetailCode::NotAllowed,
                "only the yonyou-u8 format has documents",
            )));
        }
        options.u8_document =
            exchange::yonyou::parse_document(document.trim()).map_err(|reason| {
                ApiError::bad_query(
                    Reason::new(DetailCode::NotOneOf, reason)
                        .with(
                            "allowed",
                            exchange::yonyou::DOCUMENTS
                                .iter()
                                .map(|d| (*d).to_owned())
                                .collect::<Vec<_>>(),
                        )
                        .at("document"),
                )
            })?;
    }
    if let Some(country) = params.country {
        let country = country.trim().to_owned();
        if country.len() != 2 || !country.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(ApiError::bad_query(
                Reason::format(
                    "country",
                    format!("{country:?} is not an ISO 3166 alpha-2 code such as CN or NO"),
                )
                .at("country"),
            ));
        }
        options.country = country;
    }
    let tenant = state.store().tenant(auth.principal.org_id);
    let book_ref = BookRef::parse(&book);
    let stored = tenant.ledger_book(&book_ref).await?;
    // AuditFileDateCreated: the day of the export in the organization's calendar.
    let time_zone = tenant.organization().await?.time_zone.tz();
    options.created_on = Some(state.store().now().with_timezone(&time_zone).date_naive());
    let books = tenant
        .export_books(
            &book_ref,
            from,
            to,
            params.include_unposted.unwrap_or(false),
        )
        .await?;
    let u8_document = options.u8_document;
    let written = tokio::task::spawn_blocking(move || exchange::export(format, &books, &options))
        .await
        .map_err(|error| ApiError::internal("ledger export", &error))?;
    let (bytes, _report) = written.map_err(|error| {
        ApiError::validation(
            FieldError::new(
                "format",
                DetailCode::NotAllowed,
                format!("{}: {}", error.location, error.reason),
            )
            .into(),
        )
    })?;
    let (content_type, extension) = match format {
        Format::Kingdee => ("application/json", "json"),
        Format::YonyouU8 | Format::Saft => ("application/xml", "xml"),
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
    };
    let mut response = bytes.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let span = if from == to {
        from.to_string()
    } else {
        format!("{from}_{to}")
    };
    let kind = if format == Format::YonyouU8 {
        format!("{}-{}", format.as_str(), u8_document)
    } else {
        format.as_str().to_owned()
    };
    let file = format!("{}-{kind}-{span}.{extension}", stored.id);
    let utf8 = format!(
        "{}-{}-{span}.{extension}",
        stored.settings.name,
        format.as_str()
    );
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{file}\"; filename*=UTF-8''{}",
        percent_encode(&utf8)
    )) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// RFC 5987 percent-encoding of a file name.
fn percent_encode(name: &str) -> String {
    let mut out = String::new();
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportParams {
    /// `kingdee`, `yonyou-u8`, `saft` or `csv`.
    #[param(example = "saft")]
    pub format: String,
    /// The base currency where the file does not say (default `CNY`).
    pub base_currency: Option<String>,
    /// Check the file and answer the summary without writing anything.
    pub dry_run: Option<bool>,
}

/// What an import read, and what it wrote: the summary `tenon ledger import` prints.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportSummary {
    pub format: String,
    /// False for `dry_run`.
    pub written: bool,
    /// The book written into (`null` for `dry_run`).
    pub book: Option<BookOut>,
    pub book_created: bool,
    pub accounts_created: usize,
    pub accounts: usize,
    pub vouchers: usize,
    /// Vouchers per state (`draft`, `reviewed`, `posted`).
    pub states: BTreeMap<String, usize>,
    pub lines: usize,
    pub total_debit: String,
    pub total_credit: String,
    /// Opening balances taken from the file (they open a book the import creates and replace an existing
    /// book's openings).
    pub openings: usize,
    pub opening_debit: String,
    pub opening_credit: String,
    /// opening_debit − opening_credit ("0.00" when the openings balance).
    pub opening_difference: String,
    /// Control accounts whose customers' or suppliers' openings in the file differ from the account's own
    /// opening (which is imported as written), per side.
    pub control_differences: Vec<ControlDifferenceOut>,
    /// What the format could not carry → how many values.
    pub not_carried: BTreeMap<String, usize>,
    /// What did not add up in the file (imported as written).
    pub warnings: Vec<String>,
}

/// A control account whose parties' openings in a file differ from its own.
#[derive(Debug, Serialize, ToSchema)]
pub struct ControlDifferenceOut {
    #[schema(example = "1122")]
    pub account: String,
    pub parties_debit: String,
    pub parties_credit: String,
    pub account_debit: String,
    pub account_credit: String,
    /// The parties' net − the account's net.
    pub difference: String,
}

fn summary(format: Format, report: Report, outcome: Option<ImportOutcome>) -> ImportSummary {
    let t = money::amount_text;
    // What was written; for a dry run, what the file holds.
    let (opening_debit, opening_credit, openings) = outcome.as_ref().map_or(
        (report.opening_debit, report.opening_credit, report.openings),
        |o| (o.opening_debit, o.opening_credit, o.openings),
    );
    let control_differences = report
        .control_differences
        .iter()
        .map(|c| ControlDifferenceOut {
            account: c.account.to_string(),
            parties_debit: t(c.parties_debit),
            parties_credit: t(c.parties_credit),
            account_debit: t(c.account_debit),
            account_credit: t(c.account_credit),
            difference: t(c.difference()),
        })
        .collect();
    ImportSummary {
        format: format.as_str().to_owned(),
        written: outcome.is_some(),
        book_created: outcome.as_ref().is_some_and(|o| o.book_created),
        accounts_created: outcome.as_ref().map_or(0, |o| o.accounts_created),
        book: outcome.map(|o| o.book.into()),
        accounts: report.accounts,
        vouchers: report.vouchers,
        states: report
            .states
            .into_iter()
            .map(|(state, count)| (state.to_owned(), count))
            .collect(),
        lines: report.lines,
        total_debit: t(report.total_debit),
        total_credit: t(report.total_credit),
        openings,
        opening_debit: t(opening_debit),
        opening_credit: t(opening_credit),
        opening_difference: t(opening_debit - opening_credit),
        control_differences,
        not_carried: report.not_carried,
        warnings: report.warnings,
    }
}

/// Import a file into the book named `{book}` (created when absent, with the template `cas`): the same
/// as `tenon ledger import`. Accounts the book lacks are added, every voucher is written with its own
/// number and state and checked like any other, all in one transaction; the file's opening balances
/// open a book the import creates, and replace the openings of an existing book while no period from
/// the earlier of the two opening periods on is closed and the book has no voucher before the file's
/// opening period (else 422 `period_closed` or `conflict` on `openings`). A file that cannot be booked
/// is refused (422, naming where), and nothing is written; what does not add up is imported as written
/// and listed in `warnings`.
#[utoipa::path(
    post, path = "/api/v1/ledger/books/{book}/import", tag = "ledger",
    params(("book" = String, Path, description = "Book name (or id of an existing book)"), ImportParams),
    request_body(content = crate::extract::FileBytes, content_type = "application/octet-stream", description = "The file, as `tenon ledger export` writes it"),
    security(("bearer" = ["ledger:write"]), ("session" = ["ledger:write"])),
    responses(
        (status = 200, body = ImportSummary),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn import_books(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerWrite>,
    Path(book): Path<String>,
    ApiQuery(params): ApiQuery<ImportParams>,
    ApiBytes(body): ApiBytes,
) -> ApiResult<axum::Json<ImportSummary>> {
    let format = format_param(&params.format)?;
    let base_currency =
        Currency::parse(params.base_currency.as_deref().unwrap_or("CNY")).map_err(|reason| {
            ApiError::bad_query(Reason::format("currency", reason).at("base_currency"))
        })?;
    let tenant = state.store().tenant(auth.principal.org_id);
    // `{book}` may be an existing book's id; otherwise it is the name of the book to write into.
    let name = match BookRef::parse(&book) {
        BookRef::Id(_) => {
            tenant
                .ledger_book(&BookRef::parse(&book))
                .await?
                .settings
                .name
        }
        BookRef::Name(name) => name,
    };
    let book_name = name.clone();
    let parsed = tokio::task::spawn_blocking(move || {
        exchange::import(
            format,
            &body,
            &Options::default(),
            &book_name,
            base_currency,
        )
    })
    .await
    .map_err(|error| ApiError::internal("ledger import", &error))?;
    let (books, report) = parsed.map_err(|error| {
        ApiError::validation(
            FieldError::new(
                "file",
                DetailCode::InvalidFormat,
                format!("{}: {}", error.location, error.reason),
            )
            .with("format", format.as_str())
            .into(),
        )
    })?;
    if params.dry_run.unwrap_or(false) {
        return Ok(axum::Json(summary(format, report, None)));
    }
    let outcome = tenant
        .import_books(&auth.write_context(), &name, books, &|_, _| {})
        .await?;
    Ok(axum::Json(summary(format, report, Some(outcome))))
}
