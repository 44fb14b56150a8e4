//! CSV for accounts and vouchers: one UTF-8 file (a byte-order mark is written so spreadsheet programs
//! open Chinese text correctly, and skipped on import), one row per record, the kind of row in the first
//! column:
//! - `book`: `name`, `currency` (base currency), `fiscal_year_start_month` in `number`, `code`,
//!   `tax_registration_number` (统一社会信用代码);
//! - `account`: `account`, `name`, `kind`, `direction`, `role`, `dimensions` (required, `;`-separated),
//!   `unit`, `grouping_category`, `grouping_code`;
//! - `dimension`: `dimension`, `value` (what lines name), `code`, `name`;
//! - `opening`: a balance before the first period (期初余额) — `period` (the period it opens), `account`,
//!   `customer` … `item`, `debit` or `credit`, `currency` and `original_amount` for foreign-currency
//!   balances, `quantity`. A file of `opening` rows alone (with the header) is a CSV of balances: imported
//!   into a new book, they are its opening balances, as written;
//! - `line`: the voucher's `period`, `word`, `number`, `date`, `state`, `attachments`, `preparer`, `reviewer`,
//!   `poster`, and the line's `summary`, `account`, `customer` … `item`, `debit`, `credit`, `currency`,
//!   `original_amount`, `exchange_rate`, `quantity`, `unit_price`.
//!
//! CSV carries everything Tenon keeps; nothing is reported as not carried.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::{Books, DimensionValue, ExchangeError, Report, decimal};
use crate::account::{Account, AccountCode, AccountKind, Dimension, Direction, Role};
use crate::book::Currency;
use crate::money::{self, AMOUNT_SCALE, QUANTITY_SCALE, RATE_SCALE};
use crate::opening::Opening;
use crate::period::Period;
use crate::voucher::{Line, Voucher, VoucherState, Word};

const COLUMNS: [&str; 33] = [
    "record",
    "period",
    "word",
    "number",
    "date",
    "state",
    "attachments",
    "preparer",
    "reviewer",
    "poster",
    "summary",
    "account",
    "name",
    "kind",
    "direction",
    "role",
    "dimensions",
    "unit",
    "grouping_category",
    "grouping_code",
    "dimension",
    "value",
    "customer",
    "supplier",
    "department",
    "employee",
    "project",
    "item",
    "debit",
    "credit",
    "currency",
    "original_amount",
    "exchange_rate",
];
const EXTRA: [&str; 4] = ["quantity", "unit_price", "code", "tax_registration_number"];

fn header() -> Vec<&'static str> {
    COLUMNS.iter().chain(EXTRA.iter()).copied().collect()
}

fn opt(value: Option<rust_decimal::Decimal>) -> String {
    value.map(money::compact_text).unwrap_or_default()
}

pub fn export(books: &Books) -> Result<(Vec<u8>, Report), ExchangeError> {
    let report = Report::count(books);
    let columns = header();
    let mut writer = ::csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let fail = |error: ::csv::Error| ExchangeError::at("csv", error.to_string());
    writer.write_record(&columns).map_err(fail)?;
    let mut write = |values: BTreeMap<&str, String>| {
        let row: Vec<String> = columns
            .iter()
            .map(|c| values.get(c).cloned().unwrap_or_default())
            .collect();
        writer.write_record(&row)
    };
    write(BTreeMap::from([
        ("record", "book".to_owned()),
        ("name", books.name.clone()),
        ("currency", books.base_currency.to_string()),
        ("number", books.fiscal_year_start_month.to_string()),
        ("code", books.code.clone()),
        (
            "tax_registration_number",
            books.tax_registration_number.clone().unwrap_or_default(),
        ),
    ]))
    .map_err(fail)?;
    for account in &books.accounts {
        write(BTreeMap::from([
            ("record", "account".to_owned()),
            ("account", account.code.to_string()),
            ("name", account.name.clone()),
            ("kind", account.kind.as_str().to_owned()),
            ("direction", account.direction.as_str().to_owned()),
            (
                "role",
                account
                    .role
                    .as_ref()
                    .map(|r| r.as_str().to_owned())
                    .unwrap_or_default(),
            ),
            (
                "dimensions",
                account
                    .dimensions
                    .iter()
                    .map(|d| d.as_str())
                    .collect::<Vec<_>>()
                    .join(";"),
            ),
            ("unit", account.quantity_unit.clone().unwrap_or_default()),
            ("grouping_category", account.grouping_category.clone()),
            ("grouping_code", account.grouping_code.clone()),
        ]))
        .map_err(fail)?;
    }
    for value in &books.dimension_values {
        write(BTreeMap::from([
            ("record", "dimension".to_owned()),
            ("dimension", value.dimension.as_str().to_owned()),
            ("value", value.value.clone()),
            ("code", value.code.clone()),
            ("name", value.name.clone()),
        ]))
        .map_err(fail)?;
    }
    for opening in &books.openings {
        let mut values = BTreeMap::from([
            ("record", "opening".to_owned()),
            (
                "period",
                books
                    .opening_period
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
            ),
            ("account", opening.account.to_string()),
            ("debit", money::amount_text(opening.debit)),
            ("credit", money::amount_text(opening.credit)),
            (
                "currency",
                opening.currency.map(|c| c.to_string()).unwrap_or_default(),
            ),
            (
                "original_amount",
                opening
                    .original_amount
                    .map(money::amount_text)
                    .unwrap_or_default(),
            ),
            ("quantity", opt(opening.quantity)),
        ]);
        for (dimension, value) in &opening.dimensions {
            values.insert(dimension.as_str(), value.clone());
        }
        write(values).map_err(fail)?;
    }
    for voucher in &books.vouchers {
        for line in &voucher.lines {
            let mut values = BTreeMap::from([
                ("record", "line".to_owned()),
                ("period", voucher.period.to_string()),
                ("word", voucher.word.as_str().to_owned()),
                ("number", voucher.number.to_string()),
                ("date", voucher.date.format("%Y-%m-%d").to_string()),
                ("state", voucher.state.as_str().to_owned()),
                ("attachments", voucher.attachments.to_string()),
                ("preparer", voucher.preparer.clone()),
                ("reviewer", voucher.reviewer.clone().unwrap_or_default()),
                ("poster", voucher.poster.clone().unwrap_or_default()),
                ("summary", line.summary.clone()),
                ("account", line.account.to_string()),
                ("debit", money::amount_text(line.debit)),
                ("credit", money::amount_text(line.credit)),
                (
                    "currency",
                    line.currency.map(|c| c.to_string()).unwrap_or_default(),
                ),
                (
                    "original_amount",
                    line.original_amount
                        .map(money::amount_text)
                        .unwrap_or_default(),
                ),
                ("exchange_rate", opt(line.exchange_rate)),
                ("quantity", opt(line.quantity)),
                ("unit_price", opt(line.unit_price)),
            ]);
            for (dimension, value) in &line.dimensions {
                values.insert(dimension.as_str(), value.clone());
            }
            write(values).map_err(fail)?;
        }
    }
    let bytes = writer
        .into_inner()
        .map_err(|error| ExchangeError::at("csv", error.to_string()))?;
    Ok((bytes, report))
}

pub fn import(
    bytes: &[u8],
    book_name: &str,
    base_currency: Currency,
) -> Result<(Books, Report), ExchangeError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = ::csv::Reader::from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|error| ExchangeError::at("row 1", error.to_string()))?
        .clone();
    let index: BTreeMap<String, usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| (h.to_owned(), i))
        .collect();
    for needed in ["record", "account", "debit", "credit"] {
        if !index.contains_key(needed) {
            return Err(ExchangeError::at(
                "row 1",
                format!("the header lacks the column {needed}"),
            ));
        }
    }
    let mut books = Books::new(book_name, base_currency);
    let mut vouchers: BTreeMap<(Period, Word, u32), Voucher> = BTreeMap::new();
    for (row_index, row) in reader.records().enumerate() {
        let row_number = row_index + 2;
        let row =
            row.map_err(|error| ExchangeError::at(format!("row {row_number}"), error.to_string()))?;
        let get = |name: &str| {
            index
                .get(name)
                .and_then(|i| row.get(*i))
                .unwrap_or("")
                .trim()
                .to_owned()
        };
        let at = |name: &str| format!("row {row_number}, column {name}");
        let wrap = |name: &'static str| move |reason: String| ExchangeError::at(at(name), reason);
        match get("record").as_str() {
            "book" => {
                books.base_currency =
                    Currency::parse(&get("currency")).map_err(wrap("currency"))?;
                books.fiscal_year_start_month = get("number").parse().unwrap_or(1);
                books.code = get("code");
                books.tax_registration_number =
                    Some(get("tax_registration_number")).filter(|n| !n.is_empty());
            }
            "account" => books.accounts.push(Account {
                code: AccountCode::parse(&get("account")).map_err(wrap("account"))?,
                name: get("name"),
                kind: AccountKind::parse(&get("kind")).map_err(wrap("kind"))?,
                direction: Direction::parse(&get("direction")).map_err(wrap("direction"))?,
                role: Some(get("role"))
                    .filter(|r| !r.is_empty())
                    .map(|r| Role::parse(&r))
                    .transpose()
                    .map_err(wrap("role"))?,
                dimensions: get("dimensions")
                    .split(';')
                    .filter(|d| !d.is_empty())
                    .map(Dimension::parse)
                    .collect::<Result<_, _>>()
                    .map_err(wrap("dimensions"))?,
                quantity_unit: Some(get("unit")).filter(|u| !u.is_empty()),
                grouping_category: get("grouping_category"),
                grouping_code: get("grouping_code"),
            }),
            "dimension" => books.dimension_values.push(DimensionValue {
                dimension: Dimension::parse(&get("dimension")).map_err(wrap("dimension"))?,
                value: get("value"),
                code: get("code"),
                name: get("name"),
            }),
            "opening" => {
                let mut opening = Opening::simple(
                    AccountCode::parse(&get("account")).map_err(wrap("account"))?,
                    decimal(&get("debit"), AMOUNT_SCALE, &at("debit"))?,
                    decimal(&get("credit"), AMOUNT_SCALE, &at("credit"))?,
                );
                for dimension in Dimension::ALL {
                    let value = get(dimension.as_str());
                    if !value.is_empty() {
                        opening.dimensions.insert(dimension, value);
                    }
                }
                let currency = get("currency");
                if !currency.is_empty() {
                    opening.currency = Some(Currency::parse(&currency).map_err(wrap("currency"))?);
                }
                let original = get("original_amount");
                if !original.is_empty() {
                    opening.original_amount =
                        Some(decimal(&original, AMOUNT_SCALE, &at("original_amount"))?);
                }
                let quantity = get("quantity");
                if !quantity.is_empty() {
                    opening.quantity = Some(decimal(&quantity, QUANTITY_SCALE, &at("quantity"))?);
                }
                let period = get("period");
                if !period.is_empty() {
                    let period = Period::parse(&period).map_err(wrap("period"))?;
                    match books.opening_period {
                        Some(first) if first != period => {
                            return Err(ExchangeError::at(
                                at("period"),
                                format!(
                                    "the openings open one period; an earlier row says {first}"
                                ),
                            ));
                        }
                        _ => books.opening_period = Some(period),
                    }
                }
                books.openings.push(opening);
            }
            "line" => {
                let date = NaiveDate::parse_from_str(&get("date"), "%Y-%m-%d")
                    .map_err(|_| ExchangeError::at(at("date"), "is not a date (YYYY-MM-DD)"))?;
                let word = Word::parse(&get("word")).map_err(wrap("word"))?;
                let number: u32 = get("number")
                    .parse()
                    .map_err(|_| ExchangeError::at(at("number"), "is not a number"))?;
                let period = match get("period").as_str() {
                    "" => Period::of(date),
                    text => Period::parse(text).map_err(wrap("period"))?,
                };
                let state = match get("state").as_str() {
                    "" => VoucherState::Posted,
                    text => VoucherState::parse(text).map_err(wrap("state"))?,
                };
                let mut line = Line::simple(
                    &get("summary"),
                    AccountCode::parse(&get("account")).map_err(wrap("account"))?,
                    decimal(&get("debit"), AMOUNT_SCALE, &at("debit"))?,
                    decimal(&get("credit"), AMOUNT_SCALE, &at("credit"))?,
                );
                for dimension in Dimension::ALL {
                    let value = get(dimension.as_str());
                    if !value.is_empty() {
                        line.dimensions.insert(dimension, value);
                    }
                }
                let currency = get("currency");
                if !currency.is_empty() {
                    line.currency = Some(Currency::parse(&currency).map_err(wrap("currency"))?);
                }
                let optional =
                    |name: &str,
                     scale: u32|
                     -> Result<Option<rust_decimal::Decimal>, ExchangeError> {
                        let text = get(name);
                        if text.is_empty() {
                            Ok(None)
                        } else {
                            decimal(&text, scale, &at(name)).map(Some)
                        }
                    };
                line.original_amount = optional("original_amount", AMOUNT_SCALE)?;
                line.exchange_rate = optional("exchange_rate", RATE_SCALE)?;
                line.quantity = optional("quantity", QUANTITY_SCALE)?;
                line.unit_price = optional("unit_price", QUANTITY_SCALE)?;
                let voucher = vouchers
                    .entry((period, word, number))
                    .or_insert_with(|| Voucher {
                        period,
                        word,
                        number,
                        date,
                        attachments: get("attachments").parse().unwrap_or(0),
                        state,
                        preparer: get("preparer"),
                        reviewer: Some(get("reviewer")).filter(|r| !r.is_empty()),
                        poster: Some(get("poster")).filter(|p| !p.is_empty()),
                        lines: Vec::new(),
                    });
                voucher.lines.push(line);
            }
            other => {
                return Err(ExchangeError::at(
                    at("record"),
                    format!("{other:?} is not book, account, dimension, opening or line"),
                ));
            }
        }
    }
    books.vouchers = vouchers.into_values().collect();
    Ok((books, Report::default()))
}
