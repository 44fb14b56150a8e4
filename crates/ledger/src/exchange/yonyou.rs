//! Yonyou U8 EAI XML: vouchers (`<ufinterface roottag="voucher">`), accounts (`roottag="code"`) and
//! dimension master data, one EAI document per file.
//!
//! Yonyou publishes no schema for Tenon to follow; this is exactly what Tenon writes and reads. U8's EAI
//! (企业应用集成) reads one `<ufinterface>` per file, so an export writes one document, without any
//! wrapper: the `voucher` document by default, the `code` (chart) or a master-data document on request
//! ([`DOCUMENTS`]). The book's name is the vouchers' `company`; the base currency is not written (base
//! lines carry no `currency`), the importer takes it from its caller. An import reads any one document
//! (and the `<tenon-u8>` bundle of earlier Tenon versions, several documents in one root).
//!
//! - `roottag="code"`: `<code>` with `code` (undotted: `660304`), `code_name`, `cclass` (Tenon's kind),
//!   `bproperty` (1 debit, 0 credit), `bcus`/`bsup`/`bdept`/`bperson`/`bitem` (Y when the account requires
//!   customer/supplier/department/employee/project), `menit` (quantity unit, when kept).
//! - `roottag="customer"`, `"vendor"`, `"department"`, `"person"`, `"fitem"`: `<customer>` (…) with `code` (the value's
//!   code: U8 looks master data up by code), `name`.
//! - `roottag="voucher"`: `<voucher>` with `voucher_head` (`company`, `voucher_type` 记/收/付/转, `fiscal_year`,
//!   `accounting_period`, `voucher_id`, `attachment_number`, `date`, `enter` preparer, `checker` reviewer,
//!   `posting_person` poster) and `voucher_body/entry` (`entry_id`, `abstract`, `account_code`,
//!   `natural_debit_currency`/`natural_credit_currency` base amounts, and for foreign currency `currency`,
//!   `exchange_rate2`, `primary_debit_amount`/`primary_credit_amount` original amounts on the line's side;
//!   `debit_quantity`/`credit_quantity` and `unit_price` when present; `auxiliary_accounting/item` with
//!   `name="cust_id|supplier_id|dept_id|personnel_id|item_id"` naming the value's code).
//!
//! - `roottag="accsum"`: the opening balances (期初余额), one `<accsum>` each, named after U8's `GL_accsum`
//!   columns — `iperiod` (the period they open, `YYYY-MM`), `ccode` (the account), `cbegind_c` (借 or 贷),
//!   `mb` (the base amount on that side), `cexch_name` and `mb_f` (currency and original amount of a
//!   foreign-currency balance), `nb_s` (quantity), `auxiliary_accounting/item` (codes, as on voucher
//!   entries). A file of this document alone is an account-balance file.
//!
//! State on import: `posting_person` set → posted; else `checker` set → reviewed; else draft.
//! Not carried: the inventory-item dimension, account roles and SAF-T groupings (imports get `U8` /
//! first-level code).

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::xml::{Element, XmlOut, parse};
use super::{Books, DimensionValue, ExchangeError, Report, decimal};
use crate::account::{Account, AccountCode, AccountKind, Dimension, Direction};
use crate::book::Currency;
use crate::money::{self, AMOUNT_SCALE, QUANTITY_SCALE, RATE_SCALE};
use crate::opening::Opening;
use crate::period::Period;
use crate::voucher::{Line, Voucher, VoucherState, Word};

/// Dimension → (auxiliary item name, account flag, master roottag and element).
fn mapping(dimension: Dimension) -> Option<(&'static str, &'static str, &'static str)> {
    match dimension {
        Dimension::Customer => Some(("cust_id", "bcus", "customer")),
        Dimension::Supplier => Some(("supplier_id", "bsup", "vendor")),
        Dimension::Department => Some(("dept_id", "bdept", "department")),
        Dimension::Employee => Some(("personnel_id", "bperson", "person")),
        Dimension::Project => Some(("item_id", "bitem", "fitem")),
        Dimension::Item => None,
    }
}

fn ufinterface(out: &mut XmlOut, roottag: &str) {
    ufinterface_of(out, roottag, "tenon", "u8");
}

fn ufinterface_of(out: &mut XmlOut, roottag: &str, sender: &str, receiver: &str) {
    out.open(
        "ufinterface",
        &[
            ("roottag", roottag),
            (
                "billtype",
                if roottag == "voucher" {
                    "gl_accvouch"
                } else {
                    roottag
                },
            ),
            ("sender", sender),
            ("receiver", receiver),
            ("proc", "add"),
            ("codeexchanged", "N"),
            ("version", "2.0"),
        ],
    );
}

/// The EAI documents of a U8 export: U8's EAI reads one `<ufinterface>` per file, so each is exported
/// on its own, named by its `roottag`.
pub const DOCUMENTS: [&str; 8] = [
    "voucher",
    "code",
    "accsum",
    "customer",
    "vendor",
    "department",
    "person",
    "fitem",
];

/// Checks the name of a U8 EAI document (`roottag`).
pub fn parse_document(raw: &str) -> Result<&'static str, String> {
    DOCUMENTS
        .into_iter()
        .find(|document| *document == raw)
        .ok_or_else(|| format!("{raw:?} is not a U8 document; use {}", DOCUMENTS.join(", ")))
}

/// Writes one EAI document of `books`: `voucher` (the vouchers), `code` (the chart) or a master-data
/// document (`customer`, `vendor`, `department`, `person`, `fitem`).
pub fn export(books: &Books, document: &str) -> Result<(Vec<u8>, Report), ExchangeError> {
    let document =
        parse_document(document).map_err(|reason| ExchangeError::at("document", reason))?;
    let mut out = XmlOut::new();
    let mut report = match document {
        "voucher" => {
            let mut report = Report::count(books);
            report.accounts = 0;
            report.lost(
                "opening balances (in the accsum document, not the voucher document)",
                books.openings.len(),
            );
            write_vouchers(&mut out, books, &mut report);
            report
        }
        "code" => {
            let mut report = Report {
                accounts: books.accounts.len(),
                ..Report::default()
            };
            write_accounts(&mut out, books, &mut report);
            report
        }
        "accsum" => {
            let mut report = Report::count(books);
            report.accounts = 0;
            report.vouchers = 0;
            report.lines = 0;
            report.states.clear();
            report.total_debit = Decimal::ZERO;
            report.total_credit = Decimal::ZERO;
            write_balances(&mut out, books, &mut report);
            report
        }
        tag => {
            let mut report = Report::default();
            write_master(&mut out, books, tag, &mut report);
            report
        }
    };
    if document != "voucher" && !books.vouchers.is_empty() {
        report.lost(
            format!("vouchers (in the voucher document, not this {document} document)"),
            books.vouchers.len(),
        );
    }
    Ok((out.finish(), report))
}

fn write_accounts(out: &mut XmlOut, books: &Books, report: &mut Report) {
    ufinterface(out, "code");
    for account in &books.accounts {
        out.open("code", &[]);
        out.leaf("code", account.code.as_str());
        out.leaf("code_name", &account.name);
        out.leaf("cclass", account.kind.as_str());
        out.leaf(
            "bproperty",
            if account.direction == Direction::Debit {
                "1"
            } else {
                "0"
            },
        );
        for dimension in Dimension::ALL {
            match mapping(dimension) {
                Some((_, flag, _)) => out.leaf(
                    flag,
                    if account.dimensions.contains(&dimension) {
                        "Y"
                    } else {
                        "N"
                    },
                ),
                None => report.lost(
                    "account requirement of the item dimension",
                    usize::from(account.dimensions.contains(&dimension)),
                ),
            }
        }
        if let Some(unit) = &account.quantity_unit {
            out.leaf("menit", unit);
        }
        out.close("code");
    }
    out.close("ufinterface");
    report.lost(
        "account role",
        books.accounts.iter().filter(|a| a.role.is_some()).count(),
    );
    report.lost("account SAF-T grouping", books.accounts.len());
}

/// The opening balances (期初余额) as `<accsum>` entries named after U8's `GL_accsum` columns.
fn write_balances(out: &mut XmlOut, books: &Books, report: &mut Report) {
    ufinterface(out, "accsum");
    for opening in &books.openings {
        out.open("accsum", &[]);
        if let Some(period) = books.opening_period {
            out.leaf("iperiod", &period.to_string());
        }
        out.leaf("ccode", opening.account.as_str());
        let credit_side = !opening.credit.is_zero();
        out.leaf("cbegind_c", if credit_side { "贷" } else { "借" });
        out.leaf(
            "mb",
            &money::amount_text(if credit_side {
                opening.credit
            } else {
                opening.debit
            }),
        );
        if let (Some(currency), Some(original)) = (opening.currency, opening.original_amount) {
            out.leaf("cexch_name", currency.as_str());
            out.leaf("mb_f", &money::amount_text(original));
        }
        if let Some(quantity) = opening.quantity {
            out.leaf("nb_s", &money::compact_text(quantity));
        }
        if !opening.dimensions.is_empty() {
            out.open("auxiliary_accounting", &[]);
            for (dimension, value) in &opening.dimensions {
                match mapping(*dimension) {
                    Some((item, _, _)) => {
                        let code = report.coded(books, *dimension, value);
                        out.leaf_with("item", &[("name", item)], code);
                    }
                    None => report.lost("item dimension on opening balances", 1),
                }
            }
            out.close("auxiliary_accounting");
        }
        out.close("accsum");
    }
    out.close("ufinterface");
}

fn write_master(out: &mut XmlOut, books: &Books, tag: &str, report: &mut Report) {
    ufinterface(out, tag);
    let dimension = Dimension::ALL
        .into_iter()
        .find(|dimension| mapping(*dimension).is_some_and(|(_, _, master)| master == tag));
    for value in books
        .dimension_values
        .iter()
        .filter(|v| Some(v.dimension) == dimension)
    {
        out.open(tag, &[]);
        out.leaf("code", report.coded(books, value.dimension, &value.value));
        out.leaf("name", &value.name);
        out.close(tag);
    }
    out.close("ufinterface");
    report.lost(
        "item dimension master data",
        books
            .dimension_values
            .iter()
            .filter(|v| mapping(v.dimension).is_none())
            .count(),
    );
}

/// The `voucher` EAI document of `books`' vouchers from EAI sender `sender` to `receiver` (the
/// `yonyou_voucher` flow step's payload: one voucher).
pub fn voucher_document(books: &Books, sender: &str, receiver: &str) -> Vec<u8> {
    let mut out = XmlOut::new();
    ufinterface_of(&mut out, "voucher", sender, receiver);
    write_voucher_list(&mut out, books, &mut Report::default());
    out.finish()
}

fn write_vouchers(out: &mut XmlOut, books: &Books, report: &mut Report) {
    ufinterface(out, "voucher");
    write_voucher_list(out, books, report);
}

fn write_voucher_list(out: &mut XmlOut, books: &Books, report: &mut Report) {
    for (index, voucher) in books.vouchers.iter().enumerate() {
        let (year, period) = voucher.period.fiscal(books.fiscal_year_start_month);
        out.open("voucher", &[("id", &(index + 1).to_string())]);
        out.open("voucher_head", &[]);
        out.leaf("company", &books.name);
        out.leaf("voucher_type", voucher.word.as_str());
        out.leaf("fiscal_year", &year.to_string());
        out.leaf("accounting_period", &period.to_string());
        out.leaf("voucher_id", &voucher.number.to_string());
        out.leaf("attachment_number", &voucher.attachments.to_string());
        out.leaf("date", &voucher.date.format("%Y-%m-%d").to_string());
        out.leaf("enter", &voucher.preparer);
        out.leaf("checker", voucher.reviewer.as_deref().unwrap_or(""));
        out.leaf("posting_person", voucher.poster.as_deref().unwrap_or(""));
        out.close("voucher_head");
        out.open("voucher_body", &[]);
        for (line_index, line) in voucher.lines.iter().enumerate() {
            out.open("entry", &[]);
            out.leaf("entry_id", &(line_index + 1).to_string());
            out.leaf("abstract", &line.summary);
            out.leaf("account_code", line.account.as_str());
            out.leaf("natural_debit_currency", &money::amount_text(line.debit));
            out.leaf("natural_credit_currency", &money::amount_text(line.credit));
            if let (Some(currency), Some(original), Some(rate)) =
                (line.currency, line.original_amount, line.exchange_rate)
            {
                out.leaf("currency", currency.as_str());
                out.leaf("exchange_rate2", &money::compact_text(rate));
                let (debit, credit) = if line.debit.is_zero() {
                    (Decimal::ZERO, -original)
                } else {
                    (original, Decimal::ZERO)
                };
                out.leaf("primary_debit_amount", &money::amount_text(debit));
                out.leaf("primary_credit_amount", &money::amount_text(credit));
            }
            if let Some(quantity) = line.quantity {
                let tag = if line.debit.is_zero() {
                    "credit_quantity"
                } else {
                    "debit_quantity"
                };
                out.leaf(tag, &money::compact_text(quantity));
            }
            if let Some(price) = line.unit_price {
                out.leaf("unit_price", &money::compact_text(price));
            }
            if !line.dimensions.is_empty() {
                out.open("auxiliary_accounting", &[]);
                for (dimension, value) in &line.dimensions {
                    match mapping(*dimension) {
                        Some((item, _, _)) => {
                            let code = report.coded(books, *dimension, value);
                            out.leaf_with("item", &[("name", item)], code)
                        }
                        None => report.lost("item dimension on lines", 1),
                    }
                }
                out.close("auxiliary_accounting");
            }
            out.close("entry");
        }
        out.close("voucher_body");
        out.close("voucher");
    }
    out.close("ufinterface");
}

fn at(element: &Element, what: &str) -> String {
    format!("line {} ({what})", element.line)
}

pub fn import(
    bytes: &[u8],
    book_name: &str,
    base_currency: Currency,
) -> Result<(Books, Report), ExchangeError> {
    let root = parse(bytes)?;
    let report = Report::default();
    let documents: Vec<&Element> = match root.name.as_str() {
        "tenon-u8" => root.children("ufinterface").collect(),
        "ufinterface" => vec![&root],
        other => {
            return Err(ExchangeError::at(
                at(&root, "root"),
                format!("expected <tenon-u8> or <ufinterface>, found <{other}>"),
            ));
        }
    };
    let base_currency = match root.attribute("base_currency") {
        Some(code) => Currency::parse(code)
            .map_err(|reason| ExchangeError::at(at(&root, "base_currency"), reason))?,
        None => base_currency,
    };
    let mut books = Books::new(root.attribute("book").unwrap_or(book_name), base_currency);
    books.name = book_name.to_owned();
    for document in documents {
        match document.attribute("roottag").unwrap_or("") {
            "code" => {
                for code in document.children("code") {
                    let account_code = AccountCode::parse(code.text_of("code"))
                        .map_err(|reason| ExchangeError::at(at(code, "code"), reason))?;
                    let dimensions = Dimension::ALL
                        .into_iter()
                        .filter(|dimension| {
                            mapping(*dimension)
                                .is_some_and(|(_, flag, _)| code.text_of(flag) == "Y")
                        })
                        .collect();
                    books.accounts.push(Account {
                        grouping_category: "U8".to_owned(),
                        grouping_code: account_code.first_level().as_str().to_owned(),
                        name: code.text_of("code_name").to_owned(),
                        kind: AccountKind::parse(code.text_of("cclass"))
                            .map_err(|reason| ExchangeError::at(at(code, "cclass"), reason))?,
                        direction: if code.text_of("bproperty") == "0" {
                            Direction::Credit
                        } else {
                            Direction::Debit
                        },
                        role: None,
                        dimensions,
                        quantity_unit: code.child("menit").map(|unit| unit.text.trim().to_owned()),
                        code: account_code,
                    });
                }
            }
            "voucher" => {
                for voucher in document.children("voucher") {
                    books.vouchers.push(read_voucher(voucher, base_currency)?);
                }
            }
            "accsum" => {
                for balance in document.children("accsum") {
                    let opening = read_balance(balance, base_currency)?;
                    if let Some(raw) = balance.child("iperiod") {
                        let period = Period::parse(raw.text.trim())
                            .map_err(|reason| ExchangeError::at(at(raw, "iperiod"), reason))?;
                        match books.opening_period {
                            Some(first) if first != period => {
                                return Err(ExchangeError::at(
                                    at(raw, "iperiod"),
                                    format!(
                                        "the openings open one period; an earlier balance says {first}"
                                    ),
                                ));
                            }
                            _ => books.opening_period = Some(period),
                        }
                    }
                    books.openings.push(opening);
                }
            }
            tag => {
                let Some(dimension) = Dimension::ALL.into_iter().find(|dimension| {
                    mapping(*dimension).is_some_and(|(_, _, master)| master == tag)
                }) else {
                    return Err(ExchangeError::at(
                        at(document, "roottag"),
                        format!("unknown roottag {tag:?}"),
                    ));
                };
                for value in document.children(tag) {
                    books.dimension_values.push(DimensionValue {
                        dimension,
                        value: value.text_of("code").to_owned(),
                        code: value.text_of("code").to_owned(),
                        name: value.text_of("name").to_owned(),
                    });
                }
            }
        }
    }
    Ok((books, report))
}

fn read_balance(balance: &Element, base_currency: Currency) -> Result<Opening, ExchangeError> {
    let code = balance
        .child("ccode")
        .ok_or_else(|| ExchangeError::at(at(balance, "accsum"), "has no ccode (the account)"))?;
    let account = AccountCode::parse(code.text.trim())
        .map_err(|reason| ExchangeError::at(at(code, "ccode"), reason))?;
    let amount = decimal(balance.text_of("mb"), AMOUNT_SCALE, &at(balance, "mb"))?;
    let mut opening = match balance.text_of("cbegind_c").trim() {
        "贷" | "credit" => Opening::simple(account, Decimal::ZERO, amount),
        "借" | "debit" | "" => Opening::simple(account, amount, Decimal::ZERO),
        other => {
            return Err(ExchangeError::at(
                at(balance, "cbegind_c"),
                format!("{other:?} is not 借 or 贷"),
            ));
        }
    };
    let currency = balance.text_of("cexch_name").trim();
    if !currency.is_empty() && currency != base_currency.as_str() {
        opening.currency = Some(
            Currency::parse(currency)
                .map_err(|reason| ExchangeError::at(at(balance, "cexch_name"), reason))?,
        );
        opening.original_amount = Some(decimal(
            balance.text_of("mb_f"),
            AMOUNT_SCALE,
            &at(balance, "mb_f"),
        )?);
    }
    if balance.child("nb_s").is_some() {
        opening.quantity = Some(decimal(
            balance.text_of("nb_s"),
            QUANTITY_SCALE,
            &at(balance, "nb_s"),
        )?);
    }
    for item in balance
        .child("auxiliary_accounting")
        .into_iter()
        .flat_map(|aux| aux.children("item"))
    {
        let name = item.attribute("name").unwrap_or("");
        let dimension = Dimension::ALL
            .into_iter()
            .find(|dimension| mapping(*dimension).is_some_and(|(aux, _, _)| aux == name))
            .ok_or_else(|| {
                ExchangeError::at(at(item, "item"), format!("unknown auxiliary item {name:?}"))
            })?;
        opening
            .dimensions
            .insert(dimension, item.text.trim().to_owned());
    }
    Ok(opening)
}

fn read_voucher(voucher: &Element, base_currency: Currency) -> Result<Voucher, ExchangeError> {
    let head = voucher
        .child("voucher_head")
        .ok_or_else(|| ExchangeError::at(at(voucher, "voucher"), "has no voucher_head"))?;
    let date = NaiveDate::parse_from_str(head.text_of("date"), "%Y-%m-%d").map_err(|_| {
        ExchangeError::at(
            at(head, "date"),
            format!("{:?} is not a date (YYYY-MM-DD)", head.text_of("date")),
        )
    })?;
    let word = Word::parse(head.text_of("voucher_type"))
        .map_err(|reason| ExchangeError::at(at(head, "voucher_type"), reason))?;
    let number: u32 = head
        .text_of("voucher_id")
        .parse()
        .map_err(|_| ExchangeError::at(at(head, "voucher_id"), "is not a positive number"))?;
    let optional = |name: &str| Some(head.text_of(name).to_owned()).filter(|text| !text.is_empty());
    let (reviewer, poster) = (optional("checker"), optional("posting_person"));
    let state = if poster.is_some() {
        VoucherState::Posted
    } else if reviewer.is_some() {
        VoucherState::Reviewed
    } else {
        VoucherState::Draft
    };
    let mut lines = Vec::new();
    let entries = voucher
        .child("voucher_body")
        .into_iter()
        .flat_map(|body| body.children("entry"));
    for entry in entries {
        let account = AccountCode::parse(entry.text_of("account_code"))
            .map_err(|reason| ExchangeError::at(at(entry, "account_code"), reason))?;
        let debit = decimal(
            entry.text_of("natural_debit_currency"),
            AMOUNT_SCALE,
            &at(entry, "natural_debit_currency"),
        )?;
        let credit = decimal(
            entry.text_of("natural_credit_currency"),
            AMOUNT_SCALE,
            &at(entry, "natural_credit_currency"),
        )?;
        let mut line = Line::simple(entry.text_of("abstract"), account, debit, credit);
        let currency = entry.text_of("currency");
        if !currency.is_empty() && currency != base_currency.as_str() {
            line.currency = Some(
                Currency::parse(currency)
                    .map_err(|reason| ExchangeError::at(at(entry, "currency"), reason))?,
            );
            line.exchange_rate = Some(decimal(
                entry.text_of("exchange_rate2"),
                RATE_SCALE,
                &at(entry, "exchange_rate2"),
            )?);
            let primary_debit = decimal(
                entry.text_of("primary_debit_amount"),
                AMOUNT_SCALE,
                &at(entry, "primary_debit_amount"),
            )?;
            let primary_credit = decimal(
                entry.text_of("primary_credit_amount"),
                AMOUNT_SCALE,
                &at(entry, "primary_credit_amount"),
            )?;
            line.original_amount = Some(money::rescaled(
                primary_debit - primary_credit,
                AMOUNT_SCALE,
            ));
        }
        for tag in ["debit_quantity", "credit_quantity"] {
            if let Some(quantity) = entry.child(tag) {
                line.quantity = Some(decimal(&quantity.text, QUANTITY_SCALE, &at(quantity, tag))?);
            }
        }
        if let Some(price) = entry.child("unit_price") {
            line.unit_price = Some(decimal(
                &price.text,
                QUANTITY_SCALE,
                &at(price, "unit_price"),
            )?);
        }
        for item in entry
            .child("auxiliary_accounting")
            .into_iter()
            .flat_map(|aux| aux.children("item"))
        {
            let name = item.attribute("name").unwrap_or("");
            let dimension = Dimension::ALL
                .into_iter()
                .find(|dimension| mapping(*dimension).is_some_and(|(aux, _, _)| aux == name))
                .ok_or_else(|| {
                    ExchangeError::at(at(item, "item"), format!("unknown auxiliary item {name:?}"))
                })?;
            line.dimensions
                .insert(dimension, item.text.trim().to_owned());
        }
        lines.push(line);
    }
    Ok(Voucher {
        period: Period::of(date),
        word,
        number,
        date,
        attachments: head.text_of("attachment_number").parse().unwrap_or(0),
        state,
        preparer: head.text_of("enter").to_owned(),
        reviewer,
        poster,
        lines,
    })
}
