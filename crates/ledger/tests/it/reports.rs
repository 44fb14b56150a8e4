//! Reports: balances by dimension, the general ledger with year-to-date sums, running balances, and
//! first-in-first-out aging of receivables — each against figures worked out by hand.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use tenon_ledger::balance::Sums;
use tenon_ledger::report::{
    self, AgingItem, Balance, DimensionSums, PeriodSums, Side, aging_buckets,
};
use tenon_ledger::{Dimension, Period};

use crate::sample::{chart, code};

fn d(raw: &str) -> Decimal {
    raw.parse().unwrap()
}

fn day(raw: &str) -> NaiveDate {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").unwrap()
}

fn p(raw: &str) -> Period {
    Period::parse(raw).unwrap()
}

fn sums(debit: &str, credit: &str) -> Sums {
    Sums {
        debit: d(debit),
        credit: d(credit),
    }
}

#[test]
fn balances_by_customer_show_opening_movement_and_closing_per_value_and_skip_empty_rows() {
    let rows = [
        DimensionSums {
            account: code("1122"),
            value: "湖州优品".into(),
            before: sums("300", "100"),
            within: sums("113", "250"),
        },
        DimensionSums {
            account: code("1122"),
            value: "杭州喜铺".into(),
            before: sums("0", "0"),
            within: sums("50", "0"),
        },
        DimensionSums {
            account: code("1122"),
            value: "旧客户".into(),
            before: sums("10", "10"),
            within: sums("0", "0"),
        },
    ];
    let report = report::dimension_balances(&chart(), p("2026-10"), Dimension::Customer, &rows);
    assert_eq!(
        report.rows.len(),
        2,
        "a customer without balance or movement is left out"
    );
    let huzhou = report
        .rows
        .iter()
        .find(|r| r.value.as_deref() == Some("湖州优品"))
        .unwrap();
    assert_eq!(huzhou.account_name, "应收账款");
    assert_eq!(
        (huzhou.opening_debit, huzhou.opening_credit),
        (d("200.00"), d("0.00"))
    );
    assert_eq!(
        (huzhou.period_debit, huzhou.period_credit),
        (d("113.00"), d("250.00"))
    );
    assert_eq!(
        (huzhou.closing_debit, huzhou.closing_credit),
        (d("63.00"), d("0.00"))
    );
    assert_eq!(report.totals.closing_debit, d("113.00"));
    assert_eq!(report.totals.period_debit.to_string(), "163.00");
}

#[test]
fn general_ledger_aggregates_sub_accounts_and_restarts_year_sums_at_the_fiscal_year() {
    let sums = [
        PeriodSums {
            account: code("100201"),
            period: p("2026-02"),
            sums: sums("1000", "0"),
        },
        PeriodSums {
            account: code("100202"),
            period: p("2026-03"),
            sums: sums("500", "200"),
        },
        PeriodSums {
            account: code("100201"),
            period: p("2026-04"),
            sums: sums("0", "2000"),
        },
        PeriodSums {
            account: code("6001"),
            period: p("2026-04"),
            sums: sums("0", "900"),
        },
    ];
    // A fiscal year starting in April: 2026-03 belongs to the previous year.
    let ledger = report::general_ledger(
        &chart(),
        &[code("1002")],
        p("2026-03"),
        p("2026-04"),
        4,
        &sums,
    );
    let bank = &ledger.accounts[0];
    assert_eq!(
        (bank.code.as_str(), bank.name.as_str()),
        ("1002", "银行存款")
    );
    assert_eq!(
        bank.opening,
        Balance {
            side: Side::Debit,
            amount: d("1000.00")
        }
    );
    let march = &bank.periods[0];
    assert_eq!(
        (
            march.debit,
            march.credit,
            march.year_debit,
            march.year_credit
        ),
        (d("500.00"), d("200.00"), d("1500.00"), d("200.00"))
    );
    assert_eq!(
        march.closing,
        Balance {
            side: Side::Debit,
            amount: d("1300.00")
        }
    );
    let april = &bank.periods[1];
    assert_eq!(
        (april.year_debit, april.year_credit),
        (d("0.00"), d("2000.00"))
    );
    assert_eq!(
        april.closing,
        Balance {
            side: Side::Credit,
            amount: d("700.00")
        }
    );

    let all = report::general_ledger(&chart(), &[], p("2026-04"), p("2026-04"), 1, &sums);
    assert_eq!(
        all.accounts
            .iter()
            .map(|a| a.code.as_str())
            .collect::<Vec<_>>(),
        ["1002", "6001"]
    );
}

#[test]
fn running_balances_change_side_through_zero() {
    let balances = report::running_balances(
        d("10"),
        [(d("0"), d("10")), (d("0"), d("5")), (d("7"), d("0"))],
    );
    assert_eq!(
        balances
            .iter()
            .map(|b| (b.side, b.amount.to_string()))
            .collect::<Vec<_>>(),
        [
            (Side::Flat, "0.00".to_owned()),
            (Side::Credit, "5.00".to_owned()),
            (Side::Debit, "2.00".to_owned()),
        ]
    );
}

#[test]
fn aging_settles_the_oldest_charges_first_and_ages_what_stays_open() {
    let items = [
        AgingItem {
            customer: "湖州优品".into(),
            date: day("2026-06-15"),
            net: d("1000"),
        },
        AgingItem {
            customer: "湖州优品".into(),
            date: day("2026-09-20"),
            net: d("500"),
        },
        AgingItem {
            customer: "湖州优品".into(),
            date: day("2026-10-25"),
            net: d("300"),
        },
        // A receipt settles the June charge and part of September's.
        AgingItem {
            customer: "湖州优品".into(),
            date: day("2026-10-28"),
            net: d("-1200"),
        },
        AgingItem {
            customer: "预付客户".into(),
            date: day("2026-10-01"),
            net: d("-80"),
        },
        AgingItem {
            customer: "结清客户".into(),
            date: day("2026-01-01"),
            net: d("40"),
        },
        AgingItem {
            customer: "结清客户".into(),
            date: day("2026-02-01"),
            net: d("-40"),
        },
    ];
    let buckets = aging_buckets(&[30, 60, 90]).unwrap();
    assert_eq!(
        buckets.iter().map(|b| b.label()).collect::<Vec<_>>(),
        ["0-30", "31-60", "61-90", ">90"]
    );
    let aged = report::aging(day("2026-10-31"), buckets, &items);
    assert_eq!(aged.rows.len(), 2, "a settled customer is left out");
    let huzhou = aged.rows.iter().find(|r| r.customer == "湖州优品").unwrap();
    // Open 600: 300 from 10-25 (6 days) and 300 of the 09-20 charge (41 days).
    assert_eq!(huzhou.open, d("600.00"));
    assert_eq!(
        huzhou.buckets,
        [d("300.00"), d("300.00"), d("0.00"), d("0.00")]
    );
    assert_eq!(huzhou.oldest_open, Some(day("2026-09-20")));
    let prepaid = aged.rows.iter().find(|r| r.customer == "预付客户").unwrap();
    assert_eq!(
        (prepaid.open, prepaid.credit_balance),
        (d("0.00"), d("80.00"))
    );
    assert_eq!(
        (aged.total_open, aged.total_credit_balance),
        (d("600.00"), d("80.00"))
    );
    assert_eq!(aged.total_buckets.iter().sum::<Decimal>(), aged.total_open);
}

#[test]
fn aging_limits_must_increase() {
    assert!(aging_buckets(&[]).is_err());
    assert!(aging_buckets(&[60, 30]).is_err());
    assert!(aging_buckets(&[0, 30]).is_err());
    assert_eq!(aging_buckets(&[365]).unwrap()[1].label(), ">365");
}
