//! `/api/v1/ledger/books`: account books and their charts of accounts. `{book}` takes a book's id or name.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenon_ledger::{
    Account, AccountCode, AccountKind, BookSettings, Currency, Dimension, Direction, Period, Role,
    Standard,
};
use tenon_model::Checker;
use tenon_store::ledger::{Book, BookRef};
use utoipa::ToSchema;

use crate::auth::{Authed, scopes};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, Paged};
use crate::state::AppState;

/// An account book (账套).
#[derive(Debug, Serialize, ToSchema)]
pub struct BookOut {
    pub id: String,
    pub name: String,
    /// The code other systems know the book by (Kingdee `FAccountBookID.FNumber`): ASCII letters, digits,
    /// `.-_`; default the next free three-digit number of the organization (`001`).
    #[schema(example = "001")]
    pub code: String,
    /// The company's 统一社会信用代码 (unified social credit code), written into SAF-T exports as
    /// `RegistrationNumber` and `TaxRegistrationNumber`; `null` when not set.
    #[schema(example = "91350100M000100Y43")]
    pub tax_registration_number: Option<String>,
    #[schema(example = "CNY")]
    pub base_currency: String,
    /// `cas` (企业会计准则) or `cas-small` (小企业会计准则).
    pub template: String,
    pub fiscal_year_start_month: u32,
    pub segregation_of_duties: bool,
    /// Periods up to and including this one are closed, e.g. `2026-09`.
    pub closed_through: Option<String>,
    /// The first period the book keeps (its opening balances open it); `null` without opening balances.
    pub opening_period: Option<String>,
    /// Whether the opening balances' debits equal their credits; false only for a book imported from a
    /// file whose openings do not balance, and then no period can be closed until they are corrected.
    pub opening_balanced: bool,
    /// Opening debits − credits (decimal string; "0.00" when they balance).
    pub opening_difference: String,
    pub created_at: DateTime<Utc>,
}

impl From<Book> for BookOut {
    fn from(book: Book) -> Self {
        let opening_balanced = book.opening_balanced();
        BookOut {
            id: book.id.to_string(),
            name: book.settings.name,
            code: book.code,
            tax_registration_number: book.tax_registration_number,
            base_currency: book.settings.base_currency.to_string(),
            template: book.settings.standard.as_str().to_owned(),
            fiscal_year_start_month: book.settings.fiscal_year_start_month,
            segregation_of_duties: book.settings.segregation_of_duties,
            closed_through: book.closed_through.map(|p| p.to_string()),
            opening_period: book.opening_period.map(|p| p.to_string()),
            opening_balanced,
            opening_difference: tenon_ledger::money::amount_text(
                book.opening_debit - book.opening_credit,
            ),
            created_at: book.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookCreate {
    #[schema(example = "主账套")]
    pub name: String,
    /// `cas` or `cas-small`: the chart template.
    pub template: String,
    #[schema(example = "CNY")]
    pub base_currency: String,
    /// 1..=12, default 1.
    pub fiscal_year_start_month: Option<u32>,
    /// Reviewer must differ from preparer; default false.
    pub segregation_of_duties: Option<bool>,
    /// The book's code (Kingdee `FAccountBookID.FNumber`); default the next free three-digit number.
    #[schema(example = "001")]
    pub code: Option<String>,
    /// The company's 统一社会信用代码 (18 characters, check character verified).
    pub tax_registration_number: Option<String>,
}

/// A change of a book's code or tax registration number; absent fields are unchanged.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookPatch {
    /// The book's code (ASCII letters, digits, `.-_`, at most 30); another book's code is 409.
    #[schema(example = "001")]
    pub code: Option<String>,
    /// The company's 统一社会信用代码; `null` removes it.
    #[serde(default, deserialize_with = "crate::routes::nullable")]
    #[schema(value_type = Option<String>)]
    pub tax_registration_number: Option<Option<String>>,
}

impl BookCreate {
    fn change(&self) -> tenon_store::ledger::BookChange {
        tenon_store::ledger::BookChange {
            code: self.code.clone(),
            tax_registration_number: Some(self.tax_registration_number.clone()),
        }
    }

    fn into_settings(self) -> Result<BookSettings, tenon_model::Invalid> {
        let mut check = Checker::default();
        let name = check.field("name", BookSettings::check_name(&self.name));
        let standard = check.field(
            "template",
            Standard::parse(&self.template)
                .map_err(one_of(&Standard::ALL.map(|standard| standard.as_str()))),
        );
        let currency = check.field(
            "base_currency",
            Currency::parse(&self.base_currency).map_err(format("currency")),
        );
        let month = self.fiscal_year_start_month.unwrap_or(1);
        if !(1..=12).contains(&month) {
            check.add(
                tenon_model::FieldError::new(
                    "fiscal_year_start_month",
                    tenon_model::DetailCode::OutOfRange,
                    "must be 1 to 12",
                )
                .with("min", 1)
                .with("max", 12),
            );
        }
        match (name, standard, currency) {
            (Some(name), Some(standard), Some(base_currency)) if check.is_clean() => {
                Ok(BookSettings {
                    name,
                    base_currency,
                    standard,
                    fiscal_year_start_month: month,
                    segregation_of_duties: self.segregation_of_duties.unwrap_or(false),
                })
            }
            _ => Err(check.into_invalid()),
        }
    }
}

/// An account of a book's chart.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountOut {
    #[schema(example = "112201")]
    pub code: String,
    pub name: String,
    /// asset, liability, common, equity, cost, income or expense.
    pub kind: String,
    /// debit or credit.
    pub direction: String,
    /// A stable role such as AR, BANK, REVENUE, VAT_OUTPUT.
    #[serde(default)]
    pub role: Option<String>,
    /// Dimensions every line on the account must name.
    #[serde(default)]
    pub dimensions: Vec<String>,
    /// Set when the account keeps quantities.
    #[serde(default)]
    pub quantity_unit: Option<String>,
    /// SAF-T GroupingCategory; default: the parent's.
    #[serde(default)]
    pub grouping_category: Option<String>,
    /// SAF-T GroupingCode; default: the parent's.
    #[serde(default)]
    pub grouping_code: Option<String>,
    /// Whether lines may post to it (no sub-accounts). Ignored on input.
    #[serde(default)]
    pub leaf: bool,
}

fn account_out(account: Account, leaf: bool) -> AccountOut {
    AccountOut {
        code: account.code.to_string(),
        name: account.name,
        kind: account.kind.as_str().to_owned(),
        direction: account.direction.as_str().to_owned(),
        role: account.role.map(|r| r.as_str().to_owned()),
        dimensions: account
            .dimensions
            .iter()
            .map(|d| d.as_str().to_owned())
            .collect(),
        quantity_unit: account.quantity_unit,
        grouping_category: Some(account.grouping_category),
        grouping_code: Some(account.grouping_code),
        leaf,
    }
}

/// A ledger parser's refusal as `invalid_format` of `format`.
pub(crate) fn format(format: &'static str) -> impl Fn(String) -> tenon_model::Reason {
    move |text| tenon_model::Reason::format(format, text)
}

/// A ledger parser's refusal as `not_one_of` the `allowed` names.
pub(crate) fn one_of(allowed: &[&str]) -> impl Fn(String) -> tenon_model::Reason {
    let allowed: Vec<String> = allowed.iter().map(|name| (*name).to_owned()).collect();
    move |text| {
        tenon_model::Reason::new(tenon_model::DetailCode::NotOneOf, text)
            .with("allowed", allowed.clone())
    }
}

impl AccountOut {
    fn into_account(self, parent: Option<&Account>) -> Result<Account, tenon_model::Invalid> {
        let mut check = Checker::default();
        let code = check.field(
            "code",
            AccountCode::parse(&self.code).map_err(format("account_code")),
        );
        let kind = check.field(
            "kind",
            AccountKind::parse(&self.kind)
                .map_err(one_of(&AccountKind::ALL.map(|kind| kind.as_str()))),
        );
        let direction = check.field(
            "direction",
            Direction::parse(&self.direction).map_err(one_of(&["debit", "credit"])),
        );
        let role = check.optional("role", self.role, |raw| {
            Role::parse(&raw).map_err(format("role"))
        });
        let mut dimensions = Vec::new();
        for (index, raw) in self.dimensions.iter().enumerate() {
            if let Some(dimension) = check.field(
                &format!("dimensions[{index}]"),
                Dimension::parse(raw).map_err(one_of(&Dimension::ALL.map(|d| d.as_str()))),
            ) {
                dimensions.push(dimension);
            }
        }
        let (Some(code), Some(kind), Some(direction), Some(role)) = (code, kind, direction, role)
        else {
            return Err(check.into_invalid());
        };
        check.finish()?;
        let default_category =
            parent.map_or_else(|| "CAS-2006".to_owned(), |p| p.grouping_category.clone());
        let default_code = parent.map_or_else(
            || code.first_level().to_string(),
            |p| p.grouping_code.clone(),
        );
        Ok(Account {
            code,
            name: self.name.trim().to_owned(),
            kind,
            direction,
            role,
            dimensions,
            quantity_unit: self.quantity_unit,
            grouping_category: self.grouping_category.unwrap_or(default_category),
            grouping_code: self.grouping_code.unwrap_or(default_code),
        })
    }
}

/// Create an account book with its template's chart of accounts.
#[utoipa::path(
    post, path = "/api/v1/ledger/books", tag = "ledger",
    request_body = BookCreate,
    security(("bearer" = ["ledger:write"]), ("session" = ["ledger:write"])),
    responses(
        (status = 201, body = BookOut),
        (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn create_book(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerWrite>,
    ApiJson(body): ApiJson<BookCreate>,
) -> ApiResult<(StatusCode, axum::Json<BookOut>)> {
    let change = body.change();
    let settings = body.into_settings()?;
    let book = state
        .store()
        .tenant(auth.principal.org_id)
        .create_ledger_book_with(&auth.write_context(), settings, change)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(book.into())))
}

/// List the organization's books.
#[utoipa::path(
    get, path = "/api/v1/ledger/books", tag = "ledger",
    security(("bearer" = ["ledger:read"]), ("session" = ["ledger:read"])),
    responses(
        (status = 200, body = Paged<BookOut>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn list_books(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerRead>,
) -> ApiResult<axum::Json<Paged<BookOut>>> {
    let books = state
        .store()
        .tenant(auth.principal.org_id)
        .list_ledger_books()
        .await?;
    Ok(axum::Json(Paged {
        items: books.into_iter().map(BookOut::from).collect(),
        next_cursor: None,
    }))
}

/// Get a book by id or name.
#[utoipa::path(
    get, path = "/api/v1/ledger/books/{book}", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name")),
    security(("bearer" = ["ledger:read"]), ("session" = ["ledger:read"])),
    responses(
        (status = 200, body = BookOut), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn get_book(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerRead>,
    Path(book): Path<String>,
) -> ApiResult<axum::Json<BookOut>> {
    let book = BookRef::parse(&book);
    let book = state
        .store()
        .tenant(auth.principal.org_id)
        .ledger_book(&book)
        .await?;
    Ok(axum::Json(book.into()))
}

/// Change a book's code (Kingdee `FAccountBookID.FNumber`) or the company's 统一社会信用代码 (SAF-T).
#[utoipa::path(
    patch, path = "/api/v1/ledger/books/{book}", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name")),
    request_body = BookPatch,
    security(("bearer" = ["ledger:write"]), ("session" = ["ledger:write"])),
    responses(
        (status = 200, body = BookOut),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn update_book(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerWrite>,
    Path(book): Path<String>,
    ApiJson(body): ApiJson<BookPatch>,
) -> ApiResult<axum::Json<BookOut>> {
    let book = BookRef::parse(&book);
    let change = tenon_store::ledger::BookChange {
        code: body.code,
        tax_registration_number: body.tax_registration_number,
    };
    let book = state
        .store()
        .tenant(auth.principal.org_id)
        .update_ledger_book(&auth.write_context(), &book, change)
        .await?;
    Ok(axum::Json(book.into()))
}

/// A customer, supplier, department, employee, project or item of a book.
#[derive(Debug, Serialize, ToSchema)]
pub struct DimensionValueOut {
    /// customer, supplier, department, employee, project or item.
    pub dimension: String,
    /// What voucher lines name (`dimensions.customer`).
    #[schema(example = "湖州优品")]
    pub value: String,
    /// The code Kingdee and U8 exports write (`FNumber`, `cust_id`): given, or the next free code of the
    /// dimension (`C0001`, `S0001`, `D0001`, `E0001`, `P0001`, `I0001`) when the value was first used.
    #[schema(example = "C0001")]
    pub code: String,
    pub name: String,
}

impl From<tenon_store::ledger::StoredDimensionValue> for DimensionValueOut {
    fn from(value: tenon_store::ledger::StoredDimensionValue) -> Self {
        DimensionValueOut {
            dimension: value.dimension.as_str().to_owned(),
            value: value.value,
            code: value.code,
            name: value.name,
        }
    }
}

/// Filter of the dimension values.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DimensionValuesQuery {
    /// Only this dimension's values.
    pub dimension: Option<String>,
}

fn parse_dimension(raw: &str, field: &str) -> Result<Dimension, tenon_model::Invalid> {
    Dimension::parse(raw)
        .map_err(one_of(&Dimension::ALL.map(|d| d.as_str())))
        .map_err(|reason| reason.at(field).into())
}

/// The book's dimension values with their codes, by dimension and value.
#[utoipa::path(
    get, path = "/api/v1/ledger/books/{book}/dimension-values", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name"), DimensionValuesQuery),
    security(("bearer" = ["ledger:read"]), ("session" = ["ledger:read"])),
    responses(
        (status = 200, body = Paged<DimensionValueOut>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn list_dimension_values(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerRead>,
    Path(book): Path<String>,
    crate::extract::ApiQuery(query): crate::extract::ApiQuery<DimensionValuesQuery>,
) -> ApiResult<axum::Json<Paged<DimensionValueOut>>> {
    let book = BookRef::parse(&book);
    let dimension = query
        .dimension
        .as_deref()
        .map(|raw| {
            Dimension::parse(raw)
                .map_err(one_of(&Dimension::ALL.map(|d| d.as_str())))
                .map_err(|reason| crate::error::ApiError::bad_query(reason.at("dimension")))
        })
        .transpose()?;
    let values = state
        .store()
        .tenant(auth.principal.org_id)
        .ledger_dimension_values(&book, dimension)
        .await?;
    Ok(axum::Json(Paged {
        items: values.into_iter().map(DimensionValueOut::from).collect(),
        next_cursor: None,
    }))
}

/// A dimension value's code and name; absent fields are unchanged (a new value: the next free code, the
/// value as its name).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DimensionValueIn {
    /// ASCII letters, digits, `.-_`, at most 30; another value of the dimension's code is 409.
    #[schema(example = "C0001")]
    pub code: Option<String>,
    pub name: Option<String>,
}

/// Set a dimension value's code (what Kingdee and U8 exports write) and name, creating the value if the
/// book does not know it yet (201).
#[utoipa::path(
    put, path = "/api/v1/ledger/books/{book}/dimension-values/{dimension}/{value}", tag = "ledger",
    params(
        ("book" = String, Path, description = "Book id or name"),
        ("dimension" = String, Path, description = "customer, supplier, department, employee, project or item"),
        ("value" = String, Path, description = "What voucher lines name"),
    ),
    request_body = DimensionValueIn,
    security(("bearer" = ["ledger:write"]), ("session" = ["ledger:write"])),
    responses(
        (status = 200, body = DimensionValueOut), (status = 201, body = DimensionValueOut),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn put_dimension_value(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerWrite>,
    Path((book, dimension, value)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<DimensionValueIn>,
) -> ApiResult<(StatusCode, axum::Json<DimensionValueOut>)> {
    let book = BookRef::parse(&book);
    let dimension = parse_dimension(&dimension, "dimension")?;
    let change = tenon_store::ledger::DimensionValueChange {
        code: body.code,
        name: body.name,
    };
    let (value, created) = state
        .store()
        .tenant(auth.principal.org_id)
        .put_ledger_dimension_value(&auth.write_context(), &book, dimension, &value, change)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(value.into())))
}

/// The chart of accounts, in code order.
#[utoipa::path(
    get, path = "/api/v1/ledger/books/{book}/accounts", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name")),
    security(("bearer" = ["ledger:read"]), ("session" = ["ledger:read"])),
    responses(
        (status = 200, body = Paged<AccountOut>), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn list_accounts(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerRead>,
    Path(book): Path<String>,
) -> ApiResult<axum::Json<Paged<AccountOut>>> {
    let book = BookRef::parse(&book);
    let (_, accounts) = state
        .store()
        .tenant(auth.principal.org_id)
        .ledger_accounts(&book)
        .await?;
    let chart = tenon_ledger::Chart::from_accounts(accounts.clone())
        .map_err(crate::error::ApiError::from)?;
    let items = accounts
        .into_iter()
        .map(|a| {
            let leaf = chart.is_leaf(&a.code);
            account_out(a, leaf)
        })
        .collect();
    Ok(axum::Json(Paged {
        items,
        next_cursor: None,
    }))
}

/// Add an account (a sub-account of an existing one, e.g. 112201 under 1122). Its parent must not have lines.
#[utoipa::path(
    post, path = "/api/v1/ledger/books/{book}/accounts", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name")),
    request_body = AccountOut,
    security(("bearer" = ["ledger:write"]), ("session" = ["ledger:write"])),
    responses(
        (status = 201, body = AccountOut),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn create_account(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerWrite>,
    Path(book): Path<String>,
    ApiJson(body): ApiJson<AccountOut>,
) -> ApiResult<(StatusCode, axum::Json<AccountOut>)> {
    let book = BookRef::parse(&book);
    let tenant = state.store().tenant(auth.principal.org_id);
    let (_, accounts) = tenant.ledger_accounts(&book).await?;
    let parent = AccountCode::parse(&body.code)
        .ok()
        .and_then(|code| code.parent())
        .and_then(|p| accounts.into_iter().find(|a| a.code == p));
    let account = body.into_account(parent.as_ref())?;
    let account = tenant
        .create_ledger_account(&auth.write_context(), &book, account)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(account_out(account, true))))
}

/// A period to close or reopen.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeriodIn {
    /// `YYYY-MM`.
    #[schema(example = "2026-10")]
    pub period: String,
}

/// A period to close, and how.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseIn {
    /// `YYYY-MM`: this period and every earlier one are closed.
    #[schema(example = "2026-10")]
    pub period: String,
    /// Close even though income and expense accounts still have a balance in the periods (default false).
    #[serde(default)]
    pub force: bool,
    /// The fiscal year's last period only: first move 本年利润 (CURRENT_PROFIT) to 利润分配—未分配利润
    /// (RETAINED_EARNINGS) with a posted voucher, word 转 (default false).
    #[serde(default)]
    pub year_end: bool,
}

impl PeriodIn {
    fn parse(&self) -> Result<Period, tenon_model::Invalid> {
        Period::parse(&self.period).map_err(|reason| {
            tenon_model::Reason::format("period", reason)
                .at("period")
                .into()
        })
    }
}

/// Close a period and every earlier one (月末结账): vouchers can no longer be created, posted or reversed
/// in them. Refused (409) while a voucher of those periods is not posted or, unless `force`, while an
/// income or expense account has a balance in them (code `profit_and_loss_open`); refused (422,
/// `openings_unbalanced`) while the book's opening balances do not balance.
#[utoipa::path(
    post, path = "/api/v1/ledger/books/{book}/close", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name")),
    request_body = CloseIn,
    security(("bearer" = ["ledger:write"]), ("session" = ["ledger:write"])),
    responses(
        (status = 200, body = BookOut),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn close_periods(
    State(state): State<AppState>,
    auth: Authed<scopes::LedgerWrite>,
    Path(book): Path<String>,
    ApiJson(body): ApiJson<CloseIn>,
) -> ApiResult<axum::Json<BookOut>> {
    let book = BookRef::parse(&book);
    let period = PeriodIn {
        period: body.period,
    }
    .parse()?;
    let options = tenon_store::ledger::CloseOptions {
        force: body.force,
        year_end: body.year_end,
    };
    let book = state
        .store()
        .tenant(auth.principal.org_id)
        .close_ledger_periods(&auth.write_context(), &book, period, options)
        .await?;
    Ok(axum::Json(book.into()))
}

/// Reopen the latest closed period (反结账), so that vouchers can be written there again; the same as
/// `POST …/periods/{period}/reopen`. Needs `admin`; audited. Any other period is refused (409,
/// `not_latest_closed` naming the latest closed period, or `conflict` when it is not closed).
#[utoipa::path(
    post, path = "/api/v1/ledger/books/{book}/reopen", tag = "ledger",
    params(("book" = String, Path, description = "Book id or name")),
    request_body = PeriodIn,
    security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses(
        (status = 200, body = BookOut),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn reopen_periods(
    State(state): State<AppState>,
    auth: Authed<scopes::Admin>,
    Path(book): Path<String>,
    ApiJson(body): ApiJson<PeriodIn>,
) -> ApiResult<axum::Json<BookOut>> {
    let book = BookRef::parse(&book);
    let period = body.parse()?;
    let book = state
        .store()
        .tenant(auth.principal.org_id)
        .reopen_ledger_periods(&auth.write_context(), &book, period)
        .await?;
    Ok(axum::Json(book.into()))
}
