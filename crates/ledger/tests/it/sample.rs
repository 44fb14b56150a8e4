//! Ledgers for tests: a fixed sample, and a proptest strategy for random valid ledgers.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use proptest::prelude::*;
use rust_decimal::Decimal;
use tenon_ledger::exchange::{Books, DimensionValue};
use tenon_ledger::{
    Account, AccountCode, BookSettings, Chart, Currency, Dimension, Line, Period, Standard,
    Voucher, VoucherState, Word, templates,
};

pub fn code(raw: &str) -> AccountCode {
    AccountCode::parse(raw).unwrap()
}

pub fn settings() -> BookSettings {
    BookSettings {
        name: "婚庆公司".to_owned(),
        base_currency: Currency::CNY,
        standard: Standard::Cas,
        fiscal_year_start_month: 1,
        segregation_of_duties: false,
    }
}

/// The CAS template plus a bank sub-account and a foreign-currency bank account.
pub fn accounts() -> Vec<Account> {
    let mut accounts = templates::accounts(Standard::Cas).unwrap();
    let bank = accounts
        .iter()
        .find(|a| a.code.as_str() == "1002")
        .unwrap()
        .clone();
    let mut icbc = bank.clone();
    icbc.code = code("100201");
    icbc.name = "工商银行".to_owned();
    icbc.role = None;
    let mut usd = bank;
    usd.code = code("100202");
    usd.name = "中国银行美元户".to_owned();
    usd.role = None;
    accounts.push(icbc);
    accounts.push(usd);
    accounts
}

pub fn chart() -> Chart {
    Chart::from_accounts(accounts()).unwrap()
}

fn date(raw: &str) -> NaiveDate {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").unwrap()
}

fn amount(raw: &str) -> Decimal {
    raw.parse().unwrap()
}

/// Three vouchers of October 2026: a sale with VAT, a USD receipt, an expense with a department.
pub fn books() -> Books {
    let mut books = Books::new("婚庆公司", Currency::CNY);
    books.code = "001".into();
    books.tax_registration_number = Some("91350100M000100Y43".into());
    // Opening balances of October: the bank, one customer's receivable, paid-in capital.
    books.opening_period = Some(Period::new(2026, 10).unwrap());
    let mut receivable =
        tenon_ledger::opening::Opening::simple(code("1122"), amount("10000.00"), Decimal::ZERO);
    receivable
        .dimensions
        .insert(Dimension::Customer, "湖州优品".into());
    books.openings = vec![
        tenon_ledger::opening::Opening::simple(code("100201"), amount("50000.00"), Decimal::ZERO),
        receivable,
        tenon_ledger::opening::Opening::simple(code("4001"), Decimal::ZERO, amount("60000.00")),
    ];
    books.accounts = accounts();
    books.dimension_values = vec![
        DimensionValue {
            dimension: Dimension::Customer,
            value: "湖州优品".into(),
            code: "C0001".into(),
            name: "湖州优品婚庆用品有限公司".into(),
        },
        DimensionValue {
            dimension: Dimension::Department,
            value: "策划部".into(),
            code: "D0001".into(),
            name: "策划部".into(),
        },
    ];
    let mut ar = Line::simple(
        "销售 湖州优品 婚宴套餐",
        code("1122"),
        amount("113.00"),
        Decimal::ZERO,
    );
    ar.dimensions.insert(Dimension::Customer, "湖州优品".into());
    let mut usd = Line::simple(
        "收到美元货款",
        code("100202"),
        amount("710.00"),
        Decimal::ZERO,
    );
    usd.currency = Some(Currency::parse("USD").unwrap());
    usd.original_amount = Some(amount("100.00"));
    usd.exchange_rate = Some(amount("7.10000000"));
    let mut usd_ar = Line::simple(
        "收到美元货款",
        code("1122"),
        Decimal::ZERO,
        amount("710.00"),
    );
    usd_ar
        .dimensions
        .insert(Dimension::Customer, "湖州优品".into());
    let mut expense = Line::simple("场地布置费", code("6602"), amount("500.00"), Decimal::ZERO);
    expense
        .dimensions
        .insert(Dimension::Department, "策划部".into());
    let october = Period::parse("2026-10").unwrap();
    books.vouchers = vec![
        Voucher {
            period: october,
            word: Word::Ji,
            number: 1,
            date: date("2026-10-08"),
            attachments: 2,
            state: VoucherState::Posted,
            preparer: "张会计".into(),
            reviewer: Some("李主管".into()),
            poster: Some("李主管".into()),
            lines: vec![
                ar,
                Line::simple(
                    "销售 湖州优品 婚宴套餐",
                    code("6001"),
                    Decimal::ZERO,
                    amount("100.00"),
                ),
                Line::simple(
                    "销售 湖州优品 婚宴套餐",
                    code("22210102"),
                    Decimal::ZERO,
                    amount("13.00"),
                ),
            ],
        },
        Voucher {
            period: october,
            word: Word::Ji,
            number: 2,
            date: date("2026-10-20"),
            attachments: 0,
            state: VoucherState::Posted,
            preparer: "张会计".into(),
            reviewer: Some("李主管".into()),
            poster: Some("李主管".into()),
            lines: vec![
                expense,
                Line::simple(
                    "场地布置费",
                    code("100201"),
                    Decimal::ZERO,
                    amount("500.00"),
                ),
            ],
        },
        Voucher {
            period: october,
            word: Word::Shou,
            number: 1,
            date: date("2026-10-15"),
            attachments: 1,
            state: VoucherState::Posted,
            preparer: "张会计".into(),
            reviewer: Some("李主管".into()),
            poster: Some("李主管".into()),
            lines: vec![usd, usd_ar],
        },
    ];
    books.sort();
    books
}

const CUSTOMERS: [&str; 3] = ["湖州优品", "Acme & Co", "苏州<花>"];
const SUPPLIERS: [&str; 2] = ["花店", "酒店"];
const DEPARTMENTS: [&str; 2] = ["策划部", "财务部"];

/// A balanced pair of lines: Dr `from` / Cr `to`.
fn pair() -> impl Strategy<Value = (usize, usize, i64, bool, usize, String)> {
    (
        0usize..6,
        0usize..6,
        100i64..100_000_000,
        any::<bool>(),
        0usize..3,
        "[a-z 收付摘要&<>\"]{0,12}",
    )
}

const POOL: [&str; 6] = ["100201", "1122", "2202", "6001", "6602", "100202"];

fn with_dimensions(line: &mut Line, pick: usize) {
    match line.account.as_str() {
        "1122" => {
            line.dimensions
                .insert(Dimension::Customer, CUSTOMERS[pick % 3].into());
        }
        "2202" => {
            line.dimensions
                .insert(Dimension::Supplier, SUPPLIERS[pick % 2].into());
        }
        "6602" => {
            line.dimensions
                .insert(Dimension::Department, DEPARTMENTS[pick % 2].into());
        }
        _ => {}
    }
}

fn build_line(summary: &str, account: &str, amount: Decimal, debit: bool, pick: usize) -> Line {
    let (d, c) = if debit {
        (amount, Decimal::ZERO)
    } else {
        (Decimal::ZERO, amount)
    };
    let mut line = Line::simple(summary, code(account), d, c);
    with_dimensions(&mut line, pick);
    if account == "100202" {
        // USD at 7.1: original amounts in cents that convert exactly.
        let original = (amount / Decimal::new(71, 1)).round_dp(2);
        let base = (original * Decimal::new(71, 1)).round_dp(2);
        let (d, c) = if debit {
            (base, Decimal::ZERO)
        } else {
            (Decimal::ZERO, base)
        };
        line.debit = tenon_ledger::money::rescaled(d, 2);
        line.credit = tenon_ledger::money::rescaled(c, 2);
        line.currency = Some(Currency::parse("USD").unwrap());
        line.original_amount = Some(tenon_ledger::money::rescaled(
            if debit { original } else { -original },
            2,
        ));
        line.exchange_rate = Some(tenon_ledger::money::rescaled(Decimal::new(71, 1), 8));
    }
    line
}

/// Random valid books: 1–3 periods, vouchers of 1–3 balanced pairs, some foreign currency, dimensions,
/// red (negative) amounts and every state.
pub fn arb_books() -> impl Strategy<Value = Books> {
    prop::collection::vec(
        (
            0u32..3,
            1u32..28,
            0usize..4,
            0usize..3,
            prop::collection::vec(pair(), 1..4),
        ),
        1..25,
    )
    .prop_map(|specs| {
        let mut books = Books::new("随机账套", Currency::CNY);
        books.code = "100".into();
        books.accounts = accounts();
        // Balanced openings of January, by customer and supplier on the control accounts.
        let scale = Decimal::from(specs.len() as u64);
        let opening =
            |account: &str, debit: Decimal, credit: Decimal, value: Option<(Dimension, &str)>| {
                let mut opening =
                    tenon_ledger::opening::Opening::simple(code(account), debit, credit);
                if let Some((dimension, value)) = value {
                    opening.dimensions.insert(dimension, value.to_owned());
                }
                opening
            };
        books.opening_period = Some(Period::new(2026, 1).unwrap());
        books.openings = vec![
            opening(
                "100201",
                scale * Decimal::new(100_000, 2),
                Decimal::ZERO,
                None,
            ),
            opening(
                "1122",
                Decimal::new(50_000, 2),
                Decimal::ZERO,
                Some((Dimension::Customer, CUSTOMERS[specs.len() % 3])),
            ),
            opening(
                "2202",
                Decimal::ZERO,
                Decimal::new(30_000, 2),
                Some((Dimension::Supplier, SUPPLIERS[specs.len() % 2])),
            ),
            opening(
                "4001",
                Decimal::ZERO,
                scale * Decimal::new(100_000, 2) + Decimal::new(20_000, 2),
                None,
            ),
        ];
        let mut numbers: BTreeMap<(Period, Word), u32> = BTreeMap::new();
        for (month, day, word, state, pairs) in specs {
            let period = Period::new(2026, 1 + month).unwrap();
            let word = Word::ALL[word];
            let number = numbers.entry((period, word)).or_insert(0);
            *number += 1;
            let mut lines = Vec::new();
            for (from, to, cents, red, pick, summary) in pairs {
                let summary = summary.trim().to_owned();
                let cents = if red { -cents } else { cents };
                let to = if to == from {
                    (to + 1) % POOL.len()
                } else {
                    to
                };
                let cents = if cents == 0 { 1 } else { cents };
                let amount = Decimal::new(cents, 2);
                let debit = build_line(&summary, POOL[from], amount, true, pick);
                // The credit side takes the debit's (possibly converted) base amount.
                let mut credit = build_line(&summary, POOL[to], debit.debit, false, pick);
                if credit.currency.is_some() && credit.credit != debit.debit {
                    credit = build_line(&summary, POOL[(to + 1) % 5], debit.debit, false, pick);
                    if credit.account == debit.account {
                        credit = build_line(&summary, "6001", debit.debit, false, pick);
                    }
                }
                lines.push(debit);
                lines.push(credit);
            }
            let state = [
                VoucherState::Draft,
                VoucherState::Reviewed,
                VoucherState::Posted,
            ][state];
            books.vouchers.push(Voucher {
                period,
                word,
                number: *number,
                date: NaiveDate::from_ymd_opt(2026, 1 + month, day).unwrap(),
                attachments: day % 3,
                state,
                preparer: "制单人".into(),
                reviewer: (state != VoucherState::Draft).then(|| "审核人".into()),
                poster: (state == VoucherState::Posted).then(|| "记账人".into()),
                lines,
            });
        }
        let mut values = Vec::new();
        for (dimension, list) in [
            (Dimension::Customer, &CUSTOMERS[..]),
            (Dimension::Supplier, &SUPPLIERS[..]),
            (Dimension::Department, &DEPARTMENTS[..]),
        ] {
            for (index, value) in list.iter().enumerate() {
                values.push(DimensionValue {
                    dimension,
                    value: (*value).into(),
                    code: format!("{}{:04}", dimension.code_prefix(), index + 1),
                    name: format!("{value}名称"),
                });
            }
        }
        books.dimension_values = values;
        books.sort();
        books
    })
}
