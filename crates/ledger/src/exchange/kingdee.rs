//! Kingdee Cloud Galaxy (金蝶云星空) WebAPI: `GL_VOUCHER` Save models, plus accounts (`BD_Account`) and
//! dimension master data (`BD_Customer`, `BD_Supplier`, `BD_Department`, `BD_Empinfo`).
//!
//! Kingdee publishes no schema; this is exactly what Tenon writes and reads. The file is one JSON
//! object (keys sorted):
//! - `format`: `"tenon/kingdee/1"`; `FAccountBookID.FNumber`: the book's code (never its name, which
//!   Kingdee refuses); `FAccountBookName`: the book's name; `FBaseCurrency`: ISO code.
//! - `BD_Account[]`: `FNumber` (dotted: `6603.04`), `FName`, `FDC` (1 debit, -1 credit), `FAcctType`
//!   (Tenon's kind: asset, liability, common, equity, cost, income, expense), `FFlexItems` (the `FDetailID`
//!   slots the account requires, e.g. `["FFLEX6"]`), `FUnit` (quantity unit or null).
//! - `BD_Customer[]` … `BD_Empinfo[]`: `FNumber` (the value's code: Kingdee looks master data up by code),
//!   `FName`.
//! - `GL_VOUCHER[]`: one WebAPI Save body each, `{"Model": {…}}` with `FAccountBookID.FNumber`, `FDate`,
//!   `FYEAR`, `FPERIOD` (fiscal, from the book's first fiscal month), `FVOUCHERGROUPID.FNumber` (`PRE001` 记,
//!   `PRE002` 收, `PRE003` 付, `PRE004` 转), `FVOUCHERGROUPNO` (the number, as text), and `FEntity[]` lines with
//!   `FEXPLANATION`, `FACCOUNTID.FNumber` (dotted), `FDetailID` (`{"FDETAILID__FFLEX6": {"FNumber": code}}`, slots
//!   from [`super::Options::kingdee_slots`]), `FCURRENCYID.FNumber` (ISO code; the base currency for base lines),
//!   `FEXCHANGERATE` (1 for base lines), `FAMOUNTFOR` (original amount on the line's side), `FDEBIT`, `FCREDIT`.
//!   Amounts are decimal strings, which the WebAPI accepts for decimal fields; the importer also takes numbers.
//!
//! - `GL_InitBalance[]` (when the books have opening balances, 期初余额 — also a file of balances alone, with
//!   an empty `GL_VOUCHER`): `FAccountBookID.FNumber`, `FBeginPeriod` (the period they open, `YYYY-MM`),
//!   `FACCOUNTID.FNumber` (dotted), `FDetailID` (codes, as on voucher lines), `FCURRENCYID.FNumber`, `FDC`
//!   (1 debit, -1 credit), `FBEGINBALANCE` (the base amount on that side), `FBEGINBALANCEFOR` (the
//!   original amount of a foreign-currency balance), `FBEGINQTY` (quantity).
//!
//! Not carried (counted in the report): voucher state (Kingdee posts with its own action; imports are
//! posted), preparer/reviewer/poster names, attachment counts, quantities and unit prices, dimensions without
//! a configured slot, account roles and SAF-T groupings (imports get `KINGDEE` / first-level code).
//! On import the period comes from `FDate`; `FYEAR`/`FPERIOD` are informative; lines name the `FNumber`
//! codes, which become both the values and their codes.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::{Books, DimensionValue, ExchangeError, Options, Report, decimal};
use crate::account::{Account, AccountCode, AccountKind, Dimension, Direction};
use crate::book::Currency;
use crate::money::{self, AMOUNT_SCALE, RATE_SCALE};
use crate::opening::Opening;
use crate::period::Period;
use crate::voucher::{Line, Voucher, VoucherState, Word};

const FORMAT: &str = "tenon/kingdee/1";

fn group_number(word: Word) -> &'static str {
    match word {
        Word::Ji => "PRE001",
        Word::Shou => "PRE002",
        Word::Fu => "PRE003",
        Word::Zhuan => "PRE004",
    }
}

fn word_of(group: &str) -> Option<Word> {
    Word::ALL
        .into_iter()
        .find(|word| group_number(*word) == group)
}

fn master_key(dimension: Dimension) -> &'static str {
    match dimension {
        Dimension::Customer => "BD_Customer",
        Dimension::Supplier => "BD_Supplier",
        Dimension::Department => "BD_Department",
        Dimension::Employee => "BD_Empinfo",
        Dimension::Project => "BD_Project",
        Dimension::Item => "BD_Material",
    }
}

fn number(value: &str) -> Value {
    json!({ "FNumber": value })
}

pub fn export(books: &Books, options: &Options) -> Result<(Vec<u8>, Report), ExchangeError> {
    let mut report = Report::count(books);
    report.lose_unposted(books, "Kingdee");

    let mut root = Map::new();
    root.insert("format".into(), Value::from(FORMAT));
    let book_code = if books.code.is_empty() {
        report.lost("book code (none known: the name is written)", 1);
        books.name.as_str()
    } else {
        books.code.as_str()
    };
    root.insert("FAccountBookID".into(), number(book_code));
    root.insert("FAccountBookName".into(), Value::from(books.name.as_str()));
    root.insert(
        "FBaseCurrency".into(),
        Value::from(books.base_currency.as_str()),
    );
    let accounts: Vec<Value> = books
        .accounts
        .iter()
        .map(|account| {
            let slots: Vec<Value> = account
                .dimensions
                .iter()
                .filter_map(|dimension| {
                    options
                        .kingdee_slots
                        .get(dimension)
                        .map(|slot| Value::from(slot.as_str()))
                })
                .collect();
            json!({
                "FNumber": account.code.dotted(),
                "FName": account.name,
                "FDC": if account.direction == Direction::Debit { 1 } else { -1 },
                "FAcctType": account.kind.as_str(),
                "FFlexItems": slots,
                "FUnit": account.quantity_unit,
            })
        })
        .collect();
    report.lost(
        "account role",
        books.accounts.iter().filter(|a| a.role.is_some()).count(),
    );
    report.lost("account SAF-T grouping", books.accounts.len());
    root.insert("BD_Account".into(), Value::Array(accounts));
    let mut masters: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for value in &books.dimension_values {
        if options.kingdee_slots.contains_key(&value.dimension) {
            masters
                .entry(master_key(value.dimension))
                .or_default()
                .push(json!({"FNumber": report.coded(books, value.dimension, &value.value), "FName": value.name}));
        } else {
            report.lost(
                format!(
                    "{} master data (no FDetailID slot configured)",
                    value.dimension.as_str()
                ),
                1,
            );
        }
    }
    for (key, values) in masters {
        root.insert(key.into(), Value::Array(values));
    }
    let vouchers: Vec<Value> = books
        .vouchers
        .iter()
        .map(|voucher| save_model(books, options, book_code, voucher, &mut report))
        .collect();
    root.insert("GL_VOUCHER".into(), Value::Array(vouchers));
    if !books.openings.is_empty() {
        let mut balances = Vec::new();
        for opening in &books.openings {
            let mut detail = Map::new();
            for (dimension, value) in &opening.dimensions {
                match options.kingdee_slots.get(dimension) {
                    Some(slot) => {
                        detail.insert(
                            format!("FDETAILID__{slot}"),
                            number(report.coded(books, *dimension, value)),
                        );
                    }
                    None => report.lost(
                        format!(
                            "{} dimension on opening balances (no FDetailID slot configured)",
                            dimension.as_str()
                        ),
                        1,
                    ),
                }
            }
            let debit_side = opening.credit.is_zero();
            let currency = opening.currency.unwrap_or(books.base_currency);
            balances.push(json!({
                "FAccountBookID": number(book_code),
                "FBeginPeriod": books.opening_period.map(|p| p.to_string()),
                "FACCOUNTID": number(&opening.account.dotted()),
                "FDetailID": Value::Object(detail),
                "FCURRENCYID": number(currency.as_str()),
                "FDC": if debit_side { 1 } else { -1 },
                "FBEGINBALANCE": money::amount_text(if debit_side { opening.debit } else { opening.credit }),
                "FBEGINBALANCEFOR": opening.original_amount.map(money::amount_text),
                "FBEGINQTY": opening.quantity.map(money::compact_text),
            }));
        }
        root.insert("GL_InitBalance".into(), Value::Array(balances));
    }
    let mut bytes = serde_json::to_vec_pretty(&Value::Object(root))
        .map_err(|error| ExchangeError::at("export", error.to_string()))?;
    bytes.push(b'\n');
    Ok((bytes, report))
}

/// One voucher's WebAPI Save body (`{"Model": {…}}`), with the book's code (its name when it has none).
fn save_model(
    books: &Books,
    options: &Options,
    book_code: &str,
    voucher: &Voucher,
    report: &mut Report,
) -> Value {
    let named =
        !voucher.preparer.is_empty() || voucher.reviewer.is_some() || voucher.poster.is_some();
    report.lost("preparer/reviewer/poster names", usize::from(named));
    report.lost("attachment count", usize::from(voucher.attachments > 0));
    let (fiscal_year, fiscal_period) = voucher.period.fiscal(books.fiscal_year_start_month);
    let mut entries = Vec::new();
    for line in &voucher.lines {
        let mut detail = Map::new();
        for (dimension, value) in &line.dimensions {
            match options.kingdee_slots.get(dimension) {
                Some(slot) => {
                    detail.insert(
                        format!("FDETAILID__{slot}"),
                        number(report.coded(books, *dimension, value)),
                    );
                }
                None => report.lost(
                    format!(
                        "{} dimension on lines (no FDetailID slot configured)",
                        dimension.as_str()
                    ),
                    1,
                ),
            }
        }
        report.lost(
            "quantity / unit price",
            usize::from(line.quantity.is_some() || line.unit_price.is_some()),
        );
        let currency = line.currency.unwrap_or(books.base_currency);
        let side_original = match line.original_amount {
            Some(original) if line.debit.is_zero() => -original,
            Some(original) => original,
            None if line.debit.is_zero() => line.credit,
            None => line.debit,
        };
        entries.push(json!({
            "FEXPLANATION": line.summary,
            "FACCOUNTID": number(&line.account.dotted()),
            "FDetailID": Value::Object(detail),
            "FCURRENCYID": number(currency.as_str()),
            "FEXCHANGERATE": money::compact_text(line.exchange_rate.unwrap_or(Decimal::ONE)),
            "FAMOUNTFOR": money::amount_text(side_original),
            "FDEBIT": money::amount_text(line.debit),
            "FCREDIT": money::amount_text(line.credit),
        }));
    }
    json!({"Model": {
        "FAccountBookID": number(book_code),
        "FDate": voucher.date.format("%Y-%m-%d").to_string(),
        "FYEAR": fiscal_year,
        "FPERIOD": fiscal_period,
        "FVOUCHERGROUPID": number(group_number(voucher.word)),
        "FVOUCHERGROUPNO": voucher.number.to_string(),
        "FEntity": entries,
    }})
}

/// The WebAPI Save body of one voucher of `books` (the `kingdee_voucher` flow step's payload): as in an
/// export's `GL_VOUCHER[]`, dimension values by their codes.
pub fn voucher_save(books: &Books, options: &Options, voucher: &Voucher) -> Value {
    let book_code = if books.code.is_empty() {
        books.name.as_str()
    } else {
        books.code.as_str()
    };
    save_model(books, options, book_code, voucher, &mut Report::default())
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn fnumber(value: &Value, key: &str) -> String {
    text(&value[key]["FNumber"])
}

pub fn import(
    bytes: &[u8],
    options: &Options,
    book_name: &str,
    base_currency: Currency,
) -> Result<(Books, Report), ExchangeError> {
    let root: Value = serde_json::from_slice(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
        .map_err(|error| {
            ExchangeError::at(
                format!("line {}", error.line()),
                format!("not JSON: {error}"),
            )
        })?;
    if !root.is_object() || !(root["GL_VOUCHER"].is_array() || root["GL_InitBalance"].is_array()) {
        return Err(ExchangeError::at(
            "document",
            "expected an object with a GL_VOUCHER or GL_InitBalance array (Tenon's Kingdee bundle)",
        ));
    }
    let report = Report::default();
    let base_currency = match root["FBaseCurrency"].as_str() {
        Some(code) => {
            Currency::parse(code).map_err(|reason| ExchangeError::at("FBaseCurrency", reason))?
        }
        None => base_currency,
    };
    let mut books = Books::new(book_name, base_currency);
    books.code = fnumber(&root, "FAccountBookID");
    let slot_dimension: BTreeMap<String, Dimension> = options
        .kingdee_slots
        .iter()
        .map(|(dimension, slot)| (slot.clone(), *dimension))
        .collect();
    for (index, account) in root["BD_Account"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = format!("BD_Account[{index}]");
        let code = AccountCode::parse_dotted(&text(&account["FNumber"]))
            .map_err(|reason| ExchangeError::at(format!("{at}.FNumber"), reason))?;
        let dimensions = account["FFlexItems"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|slot| {
                slot_dimension.get(&text(slot)).copied().ok_or_else(|| {
                    ExchangeError::at(
                        format!("{at}.FFlexItems"),
                        format!("slot {} is not configured", text(slot)),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        books.accounts.push(Account {
            grouping_category: "KINGDEE".to_owned(),
            grouping_code: code.first_level().as_str().to_owned(),
            name: text(&account["FName"]),
            kind: AccountKind::parse(&text(&account["FAcctType"]))
                .map_err(|reason| ExchangeError::at(format!("{at}.FAcctType"), reason))?,
            direction: if account["FDC"].as_i64() == Some(-1) {
                Direction::Credit
            } else {
                Direction::Debit
            },
            role: None,
            dimensions,
            quantity_unit: account["FUnit"].as_str().map(str::to_owned),
            code,
        });
    }
    for dimension in crate::account::Dimension::ALL {
        for (index, value) in root[master_key(dimension)]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let code = text(&value["FNumber"]);
            if code.is_empty() {
                return Err(ExchangeError::at(
                    format!("{}[{index}].FNumber", master_key(dimension)),
                    "is empty",
                ));
            }
            books.dimension_values.push(DimensionValue {
                dimension,
                name: text(&value["FName"]),
                value: code.clone(),
                code,
            });
        }
    }
    for (index, balance) in root["GL_InitBalance"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = format!("GL_InitBalance[{index}]");
        let account = AccountCode::parse_dotted(&fnumber(balance, "FACCOUNTID"))
            .map_err(|reason| ExchangeError::at(format!("{at}.FACCOUNTID"), reason))?;
        let amount = decimal(
            &text(&balance["FBEGINBALANCE"]),
            AMOUNT_SCALE,
            &format!("{at}.FBEGINBALANCE"),
        )?;
        let credit_side = balance["FDC"].as_i64() == Some(-1);
        let mut opening = if credit_side {
            Opening::simple(account, Decimal::ZERO, amount)
        } else {
            Opening::simple(account, amount, Decimal::ZERO)
        };
        if let Some(detail) = balance["FDetailID"].as_object() {
            for (key, value) in detail {
                let slot = key.trim_start_matches("FDETAILID__");
                let dimension = slot_dimension.get(slot).ok_or_else(|| {
                    ExchangeError::at(
                        format!("{at}.FDetailID.{key}"),
                        "this flex slot is not configured for a dimension",
                    )
                })?;
                opening
                    .dimensions
                    .insert(*dimension, text(&value["FNumber"]));
            }
        }
        let currency_code = fnumber(balance, "FCURRENCYID");
        if !currency_code.is_empty() && currency_code != base_currency.as_str() {
            opening.currency = Some(
                Currency::parse(&currency_code)
                    .map_err(|reason| ExchangeError::at(format!("{at}.FCURRENCYID"), reason))?,
            );
            opening.original_amount = Some(decimal(
                &text(&balance["FBEGINBALANCEFOR"]),
                AMOUNT_SCALE,
                &format!("{at}.FBEGINBALANCEFOR"),
            )?);
        }
        if !balance["FBEGINQTY"].is_null() {
            opening.quantity = Some(decimal(
                &text(&balance["FBEGINQTY"]),
                crate::money::QUANTITY_SCALE,
                &format!("{at}.FBEGINQTY"),
            )?);
        }
        if let Some(raw) = balance["FBeginPeriod"].as_str() {
            let period = Period::parse(raw)
                .map_err(|reason| ExchangeError::at(format!("{at}.FBeginPeriod"), reason))?;
            match books.opening_period {
                Some(first) if first != period => {
                    return Err(ExchangeError::at(
                        format!("{at}.FBeginPeriod"),
                        format!("the openings open one period; an earlier balance says {first}"),
                    ));
                }
                _ => books.opening_period = Some(period),
            }
        }
        books.openings.push(opening);
    }
    for (index, save) in root["GL_VOUCHER"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let model = &save["Model"];
        let at = format!("GL_VOUCHER[{index}].Model");
        let date = NaiveDate::parse_from_str(&text(&model["FDate"]), "%Y-%m-%d")
            .or_else(|_| {
                NaiveDate::parse_from_str(text(&model["FDate"]).get(..10).unwrap_or(""), "%Y-%m-%d")
            })
            .map_err(|_| ExchangeError::at(format!("{at}.FDate"), "is not a date (YYYY-MM-DD)"))?;
        let group = fnumber(model, "FVOUCHERGROUPID");
        let word = word_of(&group).ok_or_else(|| {
            ExchangeError::at(
                format!("{at}.FVOUCHERGROUPID"),
                format!("{group:?} is not PRE001..PRE004 (记/收/付/转)"),
            )
        })?;
        let voucher_number: u32 = text(&model["FVOUCHERGROUPNO"])
            .trim()
            .parse()
            .map_err(|_| {
                ExchangeError::at(format!("{at}.FVOUCHERGROUPNO"), "is not a positive number")
            })?;
        let mut lines = Vec::new();
        for (line_index, entry) in model["FEntity"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let at = format!("{at}.FEntity[{line_index}]");
            let account = AccountCode::parse_dotted(&fnumber(entry, "FACCOUNTID"))
                .map_err(|reason| ExchangeError::at(format!("{at}.FACCOUNTID"), reason))?;
            let debit = decimal(
                &text(&entry["FDEBIT"]),
                AMOUNT_SCALE,
                &format!("{at}.FDEBIT"),
            )?;
            let credit = decimal(
                &text(&entry["FCREDIT"]),
                AMOUNT_SCALE,
                &format!("{at}.FCREDIT"),
            )?;
            let mut line = Line::simple(&text(&entry["FEXPLANATION"]), account, debit, credit);
            if let Some(detail) = entry["FDetailID"].as_object() {
                for (key, value) in detail {
                    let slot = key.trim_start_matches("FDETAILID__");
                    let dimension = slot_dimension.get(slot).ok_or_else(|| {
                        ExchangeError::at(
                            format!("{at}.FDetailID.{key}"),
                            "this flex slot is not configured for a dimension",
                        )
                    })?;
                    line.dimensions.insert(*dimension, text(&value["FNumber"]));
                }
            }
            let currency_code = fnumber(entry, "FCURRENCYID");
            if !currency_code.is_empty() && currency_code != base_currency.as_str() {
                let currency = Currency::parse(&currency_code)
                    .map_err(|reason| ExchangeError::at(format!("{at}.FCURRENCYID"), reason))?;
                let side = decimal(
                    &text(&entry["FAMOUNTFOR"]),
                    AMOUNT_SCALE,
                    &format!("{at}.FAMOUNTFOR"),
                )?;
                line.currency = Some(currency);
                line.original_amount = Some(if debit.is_zero() { -side } else { side });
                line.exchange_rate = Some(decimal(
                    &text(&entry["FEXCHANGERATE"]),
                    RATE_SCALE,
                    &format!("{at}.FEXCHANGERATE"),
                )?);
            }
            lines.push(line);
        }
        books.vouchers.push(Voucher {
            period: Period::of(date),
            word,
            number: voucher_number,
            date,
            attachments: 0,
            state: VoucherState::Posted,
            preparer: String::new(),
            reviewer: None,
            poster: None,
            lines,
        });
    }
    Ok((books, report))
}
