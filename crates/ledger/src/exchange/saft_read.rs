//! SAF-T Financial import, schemas 1.10 and 1.30.
//!
//! Rejected (nothing imported), with the place: a document that is not SAF-T Financial (wrong root, or the
//! root without the `urn:StandardAuditFile-Taxation-Financial:NO` namespace, as in the namespace-less XMLSpy
//! sample, which fails the schema), missing required elements, account ids that are not Tenon codes, and
//! unbalanced transactions. Imported with warnings: opening + movements ≠ closing for an account, header
//! totals that differ from the transactions, transaction ids that had to be renumbered.
//!
//! Mapping: each `Transaction` becomes a posted voucher (word from `VoucherType` or `JournalID` when it is
//! 记/收/付/转, else 记; number from Tenon's `YYYY-MM-<word>-<n>` ids or a numeric `TransactionID`, else the next
//! free number, with a warning); `SourceID` → preparer; `CustomerID`/`SupplierID` → customer/supplier;
//! `Analysis` of type DEPT/EMP/PROJ/ITEM → department/employee/project/item (other analysis types are
//! counted as not carried). Accounts keep the file's `GroupingCategory`/`GroupingCode` (1.10:
//! `StandardAccountID` under category `StandardAccountID`); their kind and direction are taken from the
//! Chinese template of that grouping category by first-level code, else from the first digit (NS 4102:
//! 1 asset, 2 liability, 3 income, 4–8 expense); an account whose code is the template's keeps the
//! template's role (本年利润 stays `CURRENT_PROFIT`). The `OpeningDebitBalance`/`OpeningCreditBalance` of
//! the leaf `GeneralLedgerAccounts` are the book's opening balances, imported as written (a set that does
//! not balance, as in the official examples, is imported with a warning naming the difference). Customer
//! and supplier openings (1.30 `BalanceAccount`, 1.10 the party's `AccountID` and balances) open their
//! control account per party when they add up to the account's own opening; where they do not (the
//! official example's customer opens 1500, which has no opening of its own), the account's opening is
//! kept as written and the difference per side is reported ([`super::Report::control_differences`]).
//! The openings open the start of the header's `SelectionCriteria`, or the first transaction's period when
//! that is earlier (see `opening_period`): a file of openings without transactions still brings them.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::saft::NAMESPACE;
use super::xml::{Element, parse};
use super::{Books, DimensionValue, ExchangeError, Report, decimal};
use crate::account::{Account, AccountCode, AccountKind, Chart, Dimension, Direction, Role};
use crate::book::{Currency, Standard};
use crate::money::{self, AMOUNT_SCALE, QUANTITY_SCALE, RATE_SCALE};
use crate::opening::Opening;
use crate::period::Period;
use crate::voucher::{Line, Voucher, VoucherState, Word};

fn at(element: &Element, what: &str) -> String {
    format!("line {} ({what})", element.line)
}

fn required<'a>(parent: &'a Element, name: &str) -> Result<&'a Element, ExchangeError> {
    parent.child(name).ok_or_else(|| {
        ExchangeError::at(
            at(parent, &parent.name),
            format!(
                "<{}> lacks the required <{name}>; the file fails the SAF-T schema",
                parent.name
            ),
        )
    })
}

fn kind_of(
    code: &AccountCode,
    category: &str,
    templates: &[(Standard, Chart)],
) -> (AccountKind, Direction) {
    let standard = match category {
        "CAS-2006" => Some(Standard::Cas),
        "CAS-SMALL-2013" => Some(Standard::CasSmall),
        _ => None,
    };
    if let Some((_, template)) = templates.iter().find(|(s, _)| Some(*s) == standard)
        && let Some(account) = template.get(&code.first_level())
    {
        return (account.kind, account.direction);
    }
    match code.as_str().as_bytes().first() {
        Some(b'1') => (AccountKind::Asset, Direction::Debit),
        Some(b'2') => (AccountKind::Liability, Direction::Credit),
        Some(b'3') => (AccountKind::Income, Direction::Credit),
        _ => (AccountKind::Expense, Direction::Debit),
    }
}

/// The role of the Chinese template's account with this very code, when the file's grouping category names
/// that template (a file Tenon wrote): 本年利润 stays `CURRENT_PROFIT`, so period end and the statements work
/// on the imported book.
fn role_of(code: &AccountCode, category: &str, templates: &[(Standard, Chart)]) -> Option<Role> {
    let standard = match category {
        "CAS-2006" => Standard::Cas,
        "CAS-SMALL-2013" => Standard::CasSmall,
        _ => return None,
    };
    templates
        .iter()
        .find(|(s, _)| *s == standard)
        .and_then(|(_, template)| template.get(code))
        .and_then(|account| account.role.clone())
}

/// Debit and credit totals of nets, each on its side.
fn sides(nets: impl IntoIterator<Item = Decimal>) -> (Decimal, Decimal) {
    nets.into_iter()
        .fold((Decimal::ZERO, Decimal::ZERO), |(debit, credit), net| {
            if net > Decimal::ZERO {
                (debit + net, credit)
            } else {
                (debit, credit - net)
            }
        })
}

/// A base-currency opening of `net` on its side.
fn side_opening(account: AccountCode, net: Decimal) -> Opening {
    Opening::simple(account, net.max(Decimal::ZERO), (-net).max(Decimal::ZERO))
}

fn signed_balance(account: &Element, kind: &str) -> Result<Decimal, ExchangeError> {
    let debit = account.text_of(&format!("{kind}DebitBalance"));
    let credit = account.text_of(&format!("{kind}CreditBalance"));
    Ok(decimal(debit, AMOUNT_SCALE, &at(account, kind))?
        - decimal(credit, AMOUNT_SCALE, &at(account, kind))?)
}

pub fn import(bytes: &[u8], book_name: &str) -> Result<(Books, Report), ExchangeError> {
    let root = parse(bytes)?;
    if root.name != "AuditFile" {
        return Err(ExchangeError::at(
            at(&root, "root"),
            format!(
                "the root element is <{}>, not SAF-T's <AuditFile>",
                root.name
            ),
        ));
    }
    if root.namespace != NAMESPACE {
        let found = if root.namespace.is_empty() {
            "no namespace".to_owned()
        } else {
            format!("namespace {:?}", root.namespace)
        };
        return Err(ExchangeError::at(
            at(&root, "AuditFile"),
            format!(
                "the root element has {found}; SAF-T Financial requires {NAMESPACE}, so the file fails its schema"
            ),
        ));
    }
    let header = required(&root, "Header")?;
    let version = required(header, "AuditFileVersion")?.text.trim().to_owned();
    let currency_element = required(header, "DefaultCurrencyCode")?;
    let base_currency = Currency::parse(currency_element.text.trim())
        .map_err(|reason| ExchangeError::at(at(currency_element, "DefaultCurrencyCode"), reason))?;
    let mut books = Books::new(book_name, base_currency);
    // The company's tax registration (统一社会信用代码 in Tenon's exports), else its registration number.
    if let Some(company) = header.child("Company") {
        let registered = company
            .child("TaxRegistration")
            .map(|tax| tax.text_of("TaxRegistrationNumber"))
            .filter(|number| !number.trim().is_empty())
            .unwrap_or_else(|| company.text_of("RegistrationNumber"))
            .trim();
        if !registered.is_empty() && registered != "-" {
            books.tax_registration_number = Some(registered.to_owned());
        }
    }
    let mut report = Report::default();
    if !matches!(version.as_str(), "1.10" | "1.30") {
        report.warn(format!(
            "SAF-T file version {version:?}: read as 1.30; only 1.10 and 1.30 are known"
        ));
    }

    let mut file_opening: BTreeMap<AccountCode, Decimal> = BTreeMap::new();
    // Control account → (customer or supplier) → its opening net on the account.
    let mut party_opening: BTreeMap<AccountCode, BTreeMap<(Dimension, String), Decimal>> =
        BTreeMap::new();
    let mut file_closing: BTreeMap<AccountCode, Decimal> = BTreeMap::new();
    let masters = root.child("MasterFiles");
    let templates: Vec<(Standard, Chart)> = Standard::ALL
        .into_iter()
        .filter_map(|standard| {
            crate::templates::chart(standard)
                .ok()
                .map(|chart| (standard, chart))
        })
        .collect();
    let ledger_accounts = masters.and_then(|m| m.child("GeneralLedgerAccounts"));
    for account in ledger_accounts
        .into_iter()
        .flat_map(|g| g.children("Account"))
    {
        let id = required(account, "AccountID")?;
        let code = AccountCode::parse(id.text.trim())
            .map_err(|reason| ExchangeError::at(at(id, "AccountID"), reason))?;
        let (category, grouping) = match account.child("GroupingCategory") {
            Some(category) => (
                category.text.trim().to_owned(),
                account.text_of("GroupingCode").to_owned(),
            ),
            None => (
                "StandardAccountID".to_owned(),
                account.text_of("StandardAccountID").to_owned(),
            ),
        };
        let grouping = if grouping.is_empty() {
            code.first_level().as_str().to_owned()
        } else {
            grouping
        };
        let (kind, direction) = kind_of(&code, &category, &templates);
        let role = role_of(&code, &category, &templates);
        file_opening.insert(code.clone(), signed_balance(account, "Opening")?);
        file_closing.insert(code.clone(), signed_balance(account, "Closing")?);
        books.accounts.push(Account {
            code,
            name: required(account, "AccountDescription")?
                .text
                .trim()
                .to_owned(),
            kind,
            direction,
            role,
            dimensions: Vec::new(),
            quantity_unit: None,
            grouping_category: category,
            grouping_code: grouping,
        });
    }
    for (group, element, id, dimension) in [
        ("Customers", "Customer", "CustomerID", Dimension::Customer),
        ("Suppliers", "Supplier", "SupplierID", Dimension::Supplier),
    ] {
        for party in masters
            .and_then(|m| m.child(group))
            .into_iter()
            .flat_map(|g| g.children(element))
        {
            let value = required(party, id)?.text.trim().to_owned();
            // The party's opening per control account: 1.30 `BalanceAccount`s, 1.10 the party's own
            // `AccountID` and balances.
            let mut balances: Vec<&Element> = party.children("BalanceAccount").collect();
            if balances.is_empty() && party.child("AccountID").is_some() {
                balances.push(party);
            }
            for holder in balances {
                let net = signed_balance(holder, "Opening")?;
                if net.is_zero() {
                    continue;
                }
                let Some(account) = holder.child("AccountID") else {
                    report.warn(format!(
                        "{element} {value}: an opening balance without AccountID is not imported"
                    ));
                    continue;
                };
                let code = AccountCode::parse(account.text.trim())
                    .map_err(|reason| ExchangeError::at(at(account, "AccountID"), reason))?;
                *party_opening
                    .entry(code)
                    .or_default()
                    .entry((dimension, value.clone()))
                    .or_default() += net;
            }
            books.dimension_values.push(DimensionValue {
                dimension,
                code: value.clone(),
                value,
                name: party.text_of("Name").to_owned(),
            });
        }
    }
    for entry in masters
        .and_then(|m| m.child("AnalysisTypeTable"))
        .into_iter()
        .flat_map(|t| t.children("AnalysisTypeTableEntry"))
    {
        let kind = entry.text_of("AnalysisType");
        match Dimension::ALL
            .into_iter()
            .find(|d| super::saft::analysis_type(*d) == Some(kind))
        {
            Some(dimension) => books.dimension_values.push(DimensionValue {
                dimension,
                value: entry.text_of("AnalysisID").to_owned(),
                code: entry.text_of("AnalysisID").to_owned(),
                name: entry.text_of("AnalysisIDDescription").to_owned(),
            }),
            None => report.lost(format!("analysis type {kind} (no Tenon dimension)"), 1),
        }
    }

    let mut used: BTreeSet<(Period, Word, u32)> = BTreeSet::new();
    let mut pending: Vec<(Element, Voucher)> = Vec::new();
    let entries = root.child("GeneralLedgerEntries");
    for journal in entries.into_iter().flat_map(|e| e.children("Journal")) {
        let journal_word = Word::parse(journal.text_of("JournalID")).ok();
        for transaction in journal.children("Transaction") {
            let voucher = read_transaction(transaction, journal_word, base_currency, &mut report)?;
            if voucher.number > 0 && used.insert((voucher.period, voucher.word, voucher.number)) {
                books.vouchers.push(voucher);
            } else {
                pending.push((transaction.clone(), voucher));
            }
        }
    }
    for (transaction, mut voucher) in pending {
        let next = used
            .iter()
            .filter(|(period, word, _)| *period == voucher.period && *word == voucher.word)
            .map(|(_, _, number)| *number)
            .max()
            .unwrap_or(0)
            + 1;
        report.warn(format!(
            "{}: TransactionID {:?} is not a number Tenon can keep; booked as {}-{next}",
            at(&transaction, "Transaction"),
            transaction.text_of("TransactionID"),
            voucher.word.as_str()
        ));
        voucher.number = next;
        used.insert((voucher.period, voucher.word, next));
        books.vouchers.push(voucher);
    }

    // Accounts used by lines get the dimensions and quantities their lines carry.
    let mut quantity_accounts = BTreeSet::new();
    for line in books.vouchers.iter().flat_map(|v| v.lines.iter()) {
        if line.quantity.is_some() {
            quantity_accounts.insert(line.account.clone());
        }
    }
    for account in &mut books.accounts {
        if quantity_accounts.contains(&account.code) {
            account.quantity_unit = Some("unit".to_owned());
            report.warn(format!(
                "account {} carries quantities; its unit is unknown to SAF-T and set to \"unit\"",
                account.code
            ));
        }
    }
    check_totals(entries, &books, &mut report)?;
    books.opening_period = opening_period(header, entries, &books, &mut report);
    let mut movement: BTreeMap<AccountCode, Decimal> = BTreeMap::new();
    for line in books.vouchers.iter().flat_map(|v| v.lines.iter()) {
        let mut code = Some(line.account.clone());
        while let Some(current) = code {
            *movement.entry(current.clone()).or_default() += line.net();
            code = current
                .parent()
                .filter(|parent| file_opening.contains_key(parent));
        }
    }
    for (code, opening) in &file_opening {
        let closing = file_closing.get(code).copied().unwrap_or_default();
        let moved = movement.get(code).copied().unwrap_or_default();
        if *opening + moved != closing {
            report.warn(format!(
                "account {code}: opening {} + movements {} ≠ closing {} in the file (difference {})",
                money::amount_text(*opening),
                money::amount_text(moved),
                money::amount_text(closing),
                money::amount_text(closing - *opening - moved)
            ));
        }
    }
    // The GL openings of leaf accounts (accounts no other account of the file is under) are the book's
    // opening balances, as written; a set that does not balance is imported with a warning.
    let leaves: Vec<&AccountCode> = file_opening
        .keys()
        .filter(|code| {
            !file_opening
                .keys()
                .any(|other| other != *code && other.as_str().starts_with(code.as_str()))
        })
        .collect();
    let leaves: BTreeSet<&AccountCode> = leaves.into_iter().collect();
    // A control account whose parties' openings add up to its own is opened per party; one where they
    // disagree keeps its own opening as written, and the difference is reported.
    for (account, parties) in &party_opening {
        let own = file_opening.get(account).copied().unwrap_or_default();
        let (parties_debit, parties_credit) = sides(parties.values().copied());
        if parties_debit - parties_credit == own && leaves.contains(account) {
            for ((dimension, value), net) in parties {
                let mut opening = side_opening(account.clone(), *net);
                opening.dimensions.insert(*dimension, value.clone());
                books.openings.push(opening);
            }
            continue;
        }
        let (account_debit, account_credit) = sides([own]);
        let r = |value: Decimal| money::rescaled(value, AMOUNT_SCALE);
        let control = super::ControlDifference {
            account: account.clone(),
            parties_debit: r(parties_debit),
            parties_credit: r(parties_credit),
            account_debit: r(account_debit),
            account_credit: r(account_credit),
        };
        report.warn(format!(
            "control account {account}: the customers' and suppliers' openings (debit {}, credit {}) differ from \
             the account's own (debit {}, credit {}) by {}; the account's opening is imported as written",
            money::amount_text(parties_debit),
            money::amount_text(parties_credit),
            money::amount_text(account_debit),
            money::amount_text(account_credit),
            money::amount_text(control.difference())
        ));
        report.control_differences.push(control);
    }
    for code in leaves {
        let opening = file_opening.get(code).copied().unwrap_or_default();
        let split = books.openings.iter().any(|o| &o.account == code);
        if !opening.is_zero() && !split {
            books.openings.push(side_opening(code.clone(), opening));
        }
    }
    let (debit, credit) = sides(books.openings.iter().map(Opening::net));
    if debit != credit {
        report.warn(format!(
            "the opening balances do not balance: debits {} ≠ credits {} (difference {}); they are imported as \
             written, and no period can be closed until they are corrected (PUT …/opening-balances)",
            money::amount_text(debit),
            money::amount_text(credit),
            money::amount_text(debit - credit)
        ));
    }
    Ok((books, report))
}

/// The fiscal year's first month the transactions' fiscal `Period`/`PeriodYear` imply for their dates
/// (the first transaction that has both decides), if any.
fn fiscal_start_month(entries: Option<&Element>) -> Option<u32> {
    let transactions = entries
        .into_iter()
        .flat_map(|e| e.children("Journal"))
        .flat_map(|j| j.children("Transaction"));
    for transaction in transactions {
        let date =
            NaiveDate::parse_from_str(transaction.text_of("TransactionDate").trim(), "%Y-%m-%d");
        let number = transaction.text_of("Period").trim().parse::<u32>();
        let year = transaction.text_of("PeriodYear").trim().parse::<i32>();
        if let (Ok(date), Ok(number), Ok(year)) = (date, number, year) {
            let period = Period::of(date);
            return (1..=12).find(|month| period.fiscal(*month) == (year, number));
        }
    }
    None
}

/// The period the file's openings open: the start of its `SelectionCriteria` (`SelectionStartDate`, else
/// the fiscal `PeriodStart`/`PeriodStartYear`, read with the fiscal year the transactions imply, else one
/// starting in January), or the first transaction's period when that is earlier or the header names
/// none. A file of opening balances without any transaction thus still opens its book.
fn opening_period(
    header: &Element,
    entries: Option<&Element>,
    books: &Books,
    report: &mut Report,
) -> Option<Period> {
    let first_voucher = books.vouchers.iter().map(|v| v.period).min();
    let selection = header.child("SelectionCriteria").and_then(|criteria| {
        let start_date = criteria.text_of("SelectionStartDate").trim();
        if let Ok(date) = NaiveDate::parse_from_str(start_date, "%Y-%m-%d") {
            return Some(Period::of(date));
        }
        let number = criteria.text_of("PeriodStart").trim().parse::<u32>().ok()?;
        let year = criteria.text_of("PeriodStartYear").trim().parse::<i32>().ok()?;
        let month = fiscal_start_month(entries).unwrap_or(books.fiscal_year_start_month);
        let period = Period::from_fiscal(year, number, month);
        if period.is_none() {
            report.warn(format!(
                "{}: PeriodStart {number} of {year} is not a period; the openings open the first transaction's period",
                at(criteria, "SelectionCriteria")
            ));
        }
        period
    });
    match (selection, first_voucher) {
        (Some(selection), Some(first)) => Some(selection.min(first)),
        (selection, first) => selection.or(first),
    }
}

fn check_totals(
    entries: Option<&Element>,
    books: &Books,
    report: &mut Report,
) -> Result<(), ExchangeError> {
    let Some(entries) = entries else {
        return Ok(());
    };
    let counted = Report::count(books);
    let number = entries.text_of("NumberOfEntries");
    if number.parse::<usize>().ok() != Some(counted.vouchers) {
        report.warn(format!(
            "NumberOfEntries says {number}, the file has {} transactions",
            counted.vouchers
        ));
    }
    for (name, total) in [
        ("TotalDebit", counted.total_debit),
        ("TotalCredit", counted.total_credit),
    ] {
        let stated = decimal(entries.text_of(name), AMOUNT_SCALE, &at(entries, name))?;
        if stated != total {
            report.warn(format!(
                "{name} says {}, the transactions add up to {}",
                money::amount_text(stated),
                money::amount_text(total)
            ));
        }
    }
    Ok(())
}

fn number_of(transaction: &Element, word: Word, period: Period) -> u32 {
    let id = transaction.text_of("TransactionID");
    let prefix = format!("{period}-{}-", word.as_str());
    if let Some(number) = id.strip_prefix(&prefix).and_then(|n| n.parse().ok()) {
        return number;
    }
    id.parse().unwrap_or(0)
}

fn read_transaction(
    transaction: &Element,
    journal_word: Option<Word>,
    base_currency: Currency,
    report: &mut Report,
) -> Result<Voucher, ExchangeError> {
    let date_element = required(transaction, "TransactionDate")?;
    let date = NaiveDate::parse_from_str(date_element.text.trim(), "%Y-%m-%d").map_err(|_| {
        ExchangeError::at(
            at(date_element, "TransactionDate"),
            "is not a date (YYYY-MM-DD)",
        )
    })?;
    let word = Word::parse(transaction.text_of("VoucherType"))
        .ok()
        .or(journal_word)
        .unwrap_or(Word::Ji);
    let period = Period::of(date);
    let mut lines = Vec::new();
    for line_element in transaction.children("Line") {
        lines.push(read_line(line_element, base_currency, report)?);
    }
    if lines.is_empty() {
        return Err(ExchangeError::at(
            at(transaction, "Transaction"),
            "has no Line; the file fails the SAF-T schema",
        ));
    }
    let debit: Decimal = lines.iter().map(|l| l.debit).sum();
    let credit: Decimal = lines.iter().map(|l| l.credit).sum();
    if debit != credit {
        return Err(ExchangeError::at(
            at(transaction, "Transaction"),
            format!(
                "transaction {:?} does not balance: debits {} ≠ credits {}; it cannot be booked",
                transaction.text_of("TransactionID"),
                money::amount_text(debit),
                money::amount_text(credit)
            ),
        ));
    }
    Ok(Voucher {
        period,
        word,
        number: number_of(transaction, word, period),
        date,
        attachments: 0,
        state: VoucherState::Posted,
        preparer: transaction.text_of("SourceID").to_owned(),
        reviewer: None,
        poster: None,
        lines,
    })
}

fn read_line(
    element: &Element,
    base_currency: Currency,
    report: &mut Report,
) -> Result<Line, ExchangeError> {
    let id = required(element, "AccountID")?;
    let account = AccountCode::parse(id.text.trim())
        .map_err(|reason| ExchangeError::at(at(id, "AccountID"), reason))?;
    let (side, amount_element) = match (element.child("DebitAmount"), element.child("CreditAmount"))
    {
        (Some(debit), None) => (true, debit),
        (None, Some(credit)) => (false, credit),
        _ => {
            return Err(ExchangeError::at(
                at(element, "Line"),
                "a line needs exactly one of DebitAmount and CreditAmount; the file fails the SAF-T schema",
            ));
        }
    };
    let amount = decimal(
        required(amount_element, "Amount")?.text.trim(),
        AMOUNT_SCALE,
        &at(amount_element, "Amount"),
    )?;
    let (debit, credit) = if side {
        (amount, Decimal::ZERO)
    } else {
        (Decimal::ZERO, amount)
    };
    let mut line = Line::simple(element.text_of("Description"), account, debit, credit);
    let currency = amount_element.text_of("CurrencyCode");
    if !currency.is_empty() && currency != base_currency.as_str() {
        let original = decimal(
            amount_element.text_of("CurrencyAmount"),
            AMOUNT_SCALE,
            &at(amount_element, "CurrencyAmount"),
        )?;
        line.currency = Some(
            Currency::parse(currency)
                .map_err(|reason| ExchangeError::at(at(amount_element, "CurrencyCode"), reason))?,
        );
        line.original_amount = Some(if side { original } else { -original });
        let rate = amount_element.text_of("ExchangeRate");
        line.exchange_rate = Some(if rate.is_empty() {
            if original.is_zero() {
                return Err(ExchangeError::at(
                    at(amount_element, "CurrencyAmount"),
                    "is zero and no ExchangeRate is given",
                ));
            }
            money::round(amount / original, RATE_SCALE)
        } else {
            decimal(rate, RATE_SCALE, &at(amount_element, "ExchangeRate"))?
        });
    }
    for (tag, dimension) in [
        ("CustomerID", Dimension::Customer),
        ("SupplierID", Dimension::Supplier),
    ] {
        let value = element.text_of(tag);
        if !value.is_empty() {
            line.dimensions.insert(dimension, value.to_owned());
        }
    }
    for analysis in element.children("Analysis") {
        let kind = analysis.text_of("AnalysisType");
        match Dimension::ALL
            .into_iter()
            .find(|d| super::saft::analysis_type(*d) == Some(kind))
        {
            Some(dimension) => {
                line.dimensions
                    .insert(dimension, analysis.text_of("AnalysisID").to_owned());
            }
            None => report.lost(
                format!("analysis type {kind} on lines (no Tenon dimension)"),
                1,
            ),
        }
    }
    if let Some(quantity) = element.child("Quantity") {
        line.quantity = Some(decimal(
            &quantity.text,
            QUANTITY_SCALE,
            &at(quantity, "Quantity"),
        )?);
    }
    Ok(line)
}
