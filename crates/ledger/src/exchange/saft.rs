//! SAF-T Financial export, schema 1.30 (Norway's `urn:StandardAuditFile-Taxation-Financial:NO`), the
//! OECD Standard Audit File for Tax as the reference format for auditors.
//!
//! What Tenon writes:
//! - `Header`: `AuditFileVersion` 1.30, `AuditFileCountry` ([`super::Options::country`], default CN),
//!   `AuditFileDateCreated` (the day of the export), software `Tenon`, `Company` (`RegistrationNumber` and
//!   `TaxRegistration/TaxRegistrationNumber`: the book's 统一社会信用代码, `RegistrationNumber` `-` and
//!   reported when none is set; the contact person, required by the schema and not kept by Tenon, is
//!   written as `-` and reported), `DefaultCurrencyCode` (base
//!   currency), `SelectionCriteria` (fiscal `PeriodStart`/`PeriodStartYear`/`PeriodEnd`/`PeriodEndYear`),
//!   `TaxAccountingBasis` `A`.
//! - `MasterFiles/GeneralLedgerAccounts/Account` for every account (parents too, with their sub-accounts'
//!   aggregated balances): `AccountID` (code), `AccountDescription`, `GroupingCategory`, `GroupingCode`,
//!   `AccountType` GL, opening balance (posted before the first period) and closing balance (opening + the
//!   exported posted movements), each on its side.
//! - `Customers/Customer` and `Suppliers/Supplier` (`Name`, `CustomerID`/`SupplierID`, and a
//!   `BalanceAccount` per control account the party has an opening or a movement on: `AccountID`, its opening
//!   — the openings that name it — and closing balance); department, employee,
//!   project and item values as `AnalysisTypeTable` entries with `AnalysisType` `DEPT`, `EMP`, `PROJ`, `ITEM`.
//! - `GeneralLedgerEntries`: `NumberOfEntries`, `TotalDebit`, `TotalCredit`; one `Journal` per voucher word
//!   (`JournalID` 记/收/付/转, `Type` GL); one `Transaction` per voucher: `TransactionID`
//!   `YYYY-MM-<word>-<number>`, fiscal `Period`/`PeriodYear`, `TransactionDate`, `SourceID` (preparer),
//!   `VoucherType` (word), `VoucherDescription` (`记-12`), `Description` (first line's summary),
//!   `SystemEntryDate` and `GLPostingDate` (the voucher date); `Line`: `RecordID`, `AccountID`, `Analysis`,
//!   `CustomerID`, `SupplierID`, `Description`, `DebitAmount`/`CreditAmount` (`Amount`; for foreign currency
//!   `CurrencyCode`, `CurrencyAmount`, `ExchangeRate`), `Quantity`.
//!
//! Not carried (reported): voucher state (SAF-T lists posted entries; `--include-unposted` ones import as
//! posted), reviewer and poster, attachment counts, unit prices, account kind/direction/role/required
//! dimensions/quantity unit.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::xml::XmlOut;
use super::{Books, ExchangeError, Options, Report};
use crate::account::{AccountCode, Dimension};
use crate::money;
use crate::period::Period;
use crate::voucher::{Line, Word};

/// The namespace stays Norway's even for a Chinese company's file: the 1.30 schema Tenon validates
/// against is the Norwegian Tax Administration's, and it requires this namespace (there is no Chinese
/// SAF-T schema).
pub const NAMESPACE: &str = "urn:StandardAuditFile-Taxation-Financial:NO";

/// The `AnalysisType` code of a dimension that SAF-T has no own element for.
pub fn analysis_type(dimension: Dimension) -> Option<&'static str> {
    match dimension {
        Dimension::Department => Some("DEPT"),
        Dimension::Employee => Some("EMP"),
        Dimension::Project => Some("PROJ"),
        Dimension::Item => Some("ITEM"),
        Dimension::Customer | Dimension::Supplier => None,
    }
}

fn word_description(word: Word) -> &'static str {
    match word {
        Word::Ji => "记账凭证",
        Word::Shou => "收款凭证",
        Word::Fu => "付款凭证",
        Word::Zhuan => "转账凭证",
    }
}

fn balance(out: &mut XmlOut, kind: &str, net: Decimal) {
    if net >= Decimal::ZERO {
        out.leaf(&format!("{kind}DebitBalance"), &money::amount_text(net));
    } else {
        out.leaf(&format!("{kind}CreditBalance"), &money::amount_text(-net));
    }
}

fn amount(out: &mut XmlOut, line: &Line) {
    let (tag, base, original) = if line.debit.is_zero() {
        (
            "CreditAmount",
            line.credit,
            line.original_amount.map(|o| -o),
        )
    } else {
        ("DebitAmount", line.debit, line.original_amount)
    };
    out.open(tag, &[]);
    out.leaf("Amount", &money::amount_text(base));
    if let (Some(currency), Some(original)) = (line.currency, original) {
        out.leaf("CurrencyCode", currency.as_str());
        out.leaf("CurrencyAmount", &money::amount_text(original));
        if let Some(rate) = line.exchange_rate {
            out.leaf("ExchangeRate", &money::compact_text(rate));
        }
    }
    out.close(tag);
}

pub fn export(books: &Books, options: &Options) -> Result<(Vec<u8>, Report), ExchangeError> {
    let mut report = Report::count(books);
    report.lose_unposted(books, "SAF-T");
    report.lost("company contact person (written as \"-\")", 1);
    if books.tax_registration_number.is_none() {
        report.lost(
            "company registration number (no 统一社会信用代码 set: written as \"-\")",
            1,
        );
    }
    let first = books
        .opening_period
        .or_else(|| books.vouchers.first().map(|v| v.period));
    let last = books.vouchers.last().map(|v| v.period).or(first);
    let (first, last) = match (first, last) {
        (Some(first), Some(last)) => (first, last),
        _ => {
            let period =
                Period::new(2000, 1).ok_or_else(|| ExchangeError::at("export", "no period"))?;
            (period, period)
        }
    };
    let created = options.created_on.unwrap_or_else(|| last.last_day());
    let mut out = XmlOut::new();
    out.open("AuditFile", &[("xmlns", NAMESPACE)]);
    out.open("Header", &[]);
    out.leaf("AuditFileVersion", "1.30");
    out.leaf("AuditFileCountry", &options.country);
    out.leaf(
        "AuditFileDateCreated",
        &created.format("%Y-%m-%d").to_string(),
    );
    out.leaf("SoftwareCompanyName", "Tenon");
    out.leaf("SoftwareID", "Tenon");
    out.leaf("SoftwareVersion", env!("CARGO_PKG_VERSION"));
    out.open("Company", &[]);
    let registration = books.tax_registration_number.as_deref();
    out.leaf("RegistrationNumber", registration.unwrap_or("-"));
    out.leaf("Name", &books.name);
    out.open("Contact", &[]);
    out.open("ContactPerson", &[]);
    out.leaf("FirstName", "-");
    out.leaf("LastName", "-");
    out.close("ContactPerson");
    out.close("Contact");
    if let Some(number) = registration {
        out.open("TaxRegistration", &[]);
        out.leaf("TaxRegistrationNumber", number);
        out.close("TaxRegistration");
    }
    out.close("Company");
    out.leaf("DefaultCurrencyCode", books.base_currency.as_str());
    let (start_year, start) = first.fiscal(books.fiscal_year_start_month);
    let (end_year, end) = last.fiscal(books.fiscal_year_start_month);
    out.open("SelectionCriteria", &[]);
    out.leaf("PeriodStart", &start.to_string());
    out.leaf("PeriodStartYear", &start_year.to_string());
    out.leaf("PeriodEnd", &end.to_string());
    out.leaf("PeriodEndYear", &end_year.to_string());
    out.close("SelectionCriteria");
    out.leaf("TaxAccountingBasis", "A");
    out.close("Header");

    // Opening and closing nets, aggregated up the hierarchy.
    let mut opening: BTreeMap<AccountCode, Decimal> = BTreeMap::new();
    let mut movement: BTreeMap<AccountCode, Decimal> = BTreeMap::new();
    let add_up = |map: &mut BTreeMap<AccountCode, Decimal>, code: &AccountCode, net: Decimal| {
        let mut current = Some(code.clone());
        while let Some(code) = current {
            *map.entry(code.clone()).or_default() += net;
            current = code.parent();
        }
    };
    for (code, net) in books.opening_by_account() {
        add_up(&mut opening, &code, net);
    }
    for voucher in books
        .vouchers
        .iter()
        .filter(|v| v.state == crate::voucher::VoucherState::Posted)
    {
        for line in &voucher.lines {
            add_up(&mut movement, &line.account, line.net());
        }
    }
    out.open("MasterFiles", &[]);
    if !books.accounts.is_empty() {
        out.open("GeneralLedgerAccounts", &[]);
        for account in &books.accounts {
            let open_net = opening.get(&account.code).copied().unwrap_or_default();
            let close_net = open_net + movement.get(&account.code).copied().unwrap_or_default();
            out.open("Account", &[]);
            out.leaf("AccountID", account.code.as_str());
            out.leaf("AccountDescription", &account.name);
            out.leaf("GroupingCategory", &account.grouping_category);
            out.leaf("GroupingCode", &account.grouping_code);
            out.leaf("AccountType", "GL");
            balance(&mut out, "Opening", open_net);
            balance(&mut out, "Closing", close_net);
            out.close("Account");
        }
        out.close("GeneralLedgerAccounts");
        report.lost(
            "account kind, direction, role, required dimensions and quantity unit",
            books.accounts.len(),
        );
    }
    for (dimension, group, element, id) in [
        (Dimension::Customer, "Customers", "Customer", "CustomerID"),
        (Dimension::Supplier, "Suppliers", "Supplier", "SupplierID"),
    ] {
        let values: Vec<_> = books
            .dimension_values
            .iter()
            .filter(|v| v.dimension == dimension)
            .collect();
        if values.is_empty() {
            continue;
        }
        // Each party's opening and closing per control account: its openings, plus its posted movements.
        let mut nets: BTreeMap<String, BTreeMap<AccountCode, (Decimal, Decimal)>> = BTreeMap::new();
        for ((party, account), net) in books.opening_by_value(dimension) {
            nets.entry(party).or_default().entry(account).or_default().0 += net;
        }
        for line in books
            .vouchers
            .iter()
            .filter(|v| v.state == crate::voucher::VoucherState::Posted)
            .flat_map(|v| &v.lines)
        {
            if let Some(value) = line.dimensions.get(&dimension) {
                nets.entry(value.clone())
                    .or_default()
                    .entry(line.account.clone())
                    .or_default()
                    .1 += line.net();
            }
        }
        out.open(group, &[]);
        for value in values {
            out.open(element, &[]);
            out.leaf("Name", &value.name);
            out.leaf(id, &value.value);
            for (account, (open_net, moved)) in nets.get(&value.value).into_iter().flatten() {
                out.open("BalanceAccount", &[]);
                out.leaf("AccountID", account.as_str());
                balance(&mut out, "Opening", *open_net);
                balance(&mut out, "Closing", *open_net + *moved);
                out.close("BalanceAccount");
            }
            out.close(element);
        }
        out.close(group);
    }
    let analysed: Vec<_> = books
        .dimension_values
        .iter()
        .filter_map(|value| analysis_type(value.dimension).map(|kind| (kind, value)))
        .collect();
    if !analysed.is_empty() {
        out.open("AnalysisTypeTable", &[]);
        for (kind, value) in analysed {
            out.open("AnalysisTypeTableEntry", &[]);
            out.leaf("AnalysisType", kind);
            out.leaf("AnalysisTypeDescription", value.dimension.as_str());
            out.leaf("AnalysisID", &value.value);
            out.leaf("AnalysisIDDescription", &value.name);
            out.close("AnalysisTypeTableEntry");
        }
        out.close("AnalysisTypeTable");
    }
    out.close("MasterFiles");

    out.open("GeneralLedgerEntries", &[]);
    out.leaf("NumberOfEntries", &books.vouchers.len().to_string());
    out.leaf("TotalDebit", &money::amount_text(report.total_debit));
    out.leaf("TotalCredit", &money::amount_text(report.total_credit));
    for word in Word::ALL {
        let vouchers: Vec<_> = books.vouchers.iter().filter(|v| v.word == word).collect();
        if vouchers.is_empty() {
            continue;
        }
        out.open("Journal", &[]);
        out.leaf("JournalID", word.as_str());
        out.leaf("Description", word_description(word));
        out.leaf("Type", "GL");
        for voucher in vouchers {
            let (year, period) = voucher.period.fiscal(books.fiscal_year_start_month);
            let date = voucher.date.format("%Y-%m-%d").to_string();
            out.open("Transaction", &[]);
            out.leaf(
                "TransactionID",
                &format!("{}-{}-{}", voucher.period, word.as_str(), voucher.number),
            );
            out.leaf("Period", &period.to_string());
            out.leaf("PeriodYear", &year.to_string());
            out.leaf("TransactionDate", &date);
            if !voucher.preparer.is_empty() {
                out.leaf(
                    "SourceID",
                    &voucher.preparer.chars().take(35).collect::<String>(),
                );
            }
            out.leaf("VoucherType", word.as_str());
            out.leaf("VoucherDescription", &voucher.label());
            out.leaf(
                "Description",
                voucher
                    .lines
                    .first()
                    .map_or("", |line| line.summary.as_str()),
            );
            out.leaf("SystemEntryDate", &date);
            out.leaf("GLPostingDate", &date);
            report.lost(
                "reviewer and poster names",
                usize::from(voucher.reviewer.is_some() || voucher.poster.is_some()),
            );
            report.lost("attachment count", usize::from(voucher.attachments > 0));
            for (index, line) in voucher.lines.iter().enumerate() {
                out.open("Line", &[]);
                out.leaf("RecordID", &(index + 1).to_string());
                out.leaf("AccountID", line.account.as_str());
                for (dimension, value) in &line.dimensions {
                    if let Some(kind) = analysis_type(*dimension) {
                        out.open("Analysis", &[]);
                        out.leaf("AnalysisType", kind);
                        out.leaf("AnalysisID", value);
                        out.close("Analysis");
                    }
                }
                if let Some(customer) = line.dimensions.get(&Dimension::Customer) {
                    out.leaf("CustomerID", customer);
                }
                if let Some(supplier) = line.dimensions.get(&Dimension::Supplier) {
                    out.leaf("SupplierID", supplier);
                }
                out.leaf("Description", &line.summary);
                amount(&mut out, line);
                if let Some(quantity) = line.quantity {
                    out.leaf("Quantity", &money::compact_text(quantity));
                }
                report.lost("unit price", usize::from(line.unit_price.is_some()));
                out.close("Line");
            }
            out.close("Transaction");
        }
        out.close("Journal");
    }
    out.close("GeneralLedgerEntries");
    out.close("AuditFile");
    Ok((out.finish(), report))
}
