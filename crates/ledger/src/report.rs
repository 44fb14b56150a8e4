//! Reports beyond the trial balance, computed from posted sums and posted lines that the store fetches:
//! account balances by dimension (辅助核算余额表), the general ledger (总账) and the running balance of the
//! sub-ledger detail (明细账), and the aging of receivables by customer (应收账龄).
//!
//! Every amount is exact; a balance is shown as accountants read it, a side (借/贷/平) and a non-negative
//! amount. Aging settles first-in-first-out: payments and red reversals settle the oldest charges first,
//! so what stays open is the newest charges, aged from their voucher date (vouchers carry no due date).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::account::{AccountCode, Chart, Dimension, Direction};
use crate::balance::{Sums, TrialBalanceTotals};
use crate::money::{self, AMOUNT_SCALE};
use crate::period::Period;

/// The side of a balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Debit,
    Credit,
    /// 平: zero.
    Flat,
}

impl Side {
    pub const fn as_str(self) -> &'static str {
        match self {
            Side::Debit => "debit",
            Side::Credit => "credit",
            Side::Flat => "flat",
        }
    }
}

/// A net balance (debit − credit) as a side and a non-negative amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    pub side: Side,
    pub amount: Decimal,
}

impl Balance {
    pub fn of(net: Decimal) -> Balance {
        let side = if net > Decimal::ZERO {
            Side::Debit
        } else if net < Decimal::ZERO {
            Side::Credit
        } else {
            Side::Flat
        };
        Balance {
            side,
            amount: money::rescaled(net.abs(), AMOUNT_SCALE),
        }
    }

    /// Debit − credit.
    pub fn net(&self) -> Decimal {
        match self.side {
            Side::Credit => -self.amount,
            _ => self.amount,
        }
    }
}

fn two(value: Decimal) -> Decimal {
    money::rescaled(value, AMOUNT_SCALE)
}

/// A net amount on its side: (debit, credit), one of them zero.
fn sides(net: Decimal) -> (Decimal, Decimal) {
    if net >= Decimal::ZERO {
        (two(net), two(Decimal::ZERO))
    } else {
        (two(Decimal::ZERO), two(-net))
    }
}

/// Posted sums of one (leaf account, dimension value) before a period and within it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimensionSums {
    pub account: AccountCode,
    /// The dimension value; empty for lines that do not name one.
    pub value: String,
    pub before: Sums,
    pub within: Sums,
}

/// One row of a balance report: an account, or an (account, dimension value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceRow {
    pub account: AccountCode,
    pub account_name: String,
    /// The dimension value, when the report is by dimension.
    pub value: Option<String>,
    pub opening_debit: Decimal,
    pub opening_credit: Decimal,
    pub period_debit: Decimal,
    pub period_credit: Decimal,
    pub closing_debit: Decimal,
    pub closing_credit: Decimal,
}

/// Account balances of a period, per (leaf account, dimension value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceReport {
    pub period: Period,
    pub dimension: Option<Dimension>,
    pub rows: Vec<BalanceRow>,
    /// Sums of the rows' columns.
    pub totals: TrialBalanceTotals,
}

/// Balances per (leaf account, value), leaving out rows without balance or movement.
pub fn dimension_balances(
    chart: &Chart,
    period: Period,
    dimension: Dimension,
    sums: &[DimensionSums],
) -> BalanceReport {
    let mut rows = Vec::new();
    let mut totals = TrialBalanceTotals::default();
    for entry in sums {
        let (opening_debit, opening_credit) = sides(entry.before.net());
        let (closing_debit, closing_credit) = sides(entry.before.net() + entry.within.net());
        let row = BalanceRow {
            account_name: chart
                .get(&entry.account)
                .map(|account| account.name.clone())
                .unwrap_or_default(),
            account: entry.account.clone(),
            value: Some(entry.value.clone()),
            opening_debit,
            opening_credit,
            period_debit: two(entry.within.debit),
            period_credit: two(entry.within.credit),
            closing_debit,
            closing_credit,
        };
        if [
            row.opening_debit,
            row.opening_credit,
            row.period_debit,
            row.period_credit,
        ]
        .iter()
        .all(Decimal::is_zero)
        {
            continue;
        }
        add_to_totals(&mut totals, &row);
        rows.push(row);
    }
    rows.sort_by(|a, b| (&a.account, &a.value).cmp(&(&b.account, &b.value)));
    BalanceReport {
        period,
        dimension: Some(dimension),
        rows,
        totals,
    }
}

/// Adds a row's six columns to the totals.
pub fn add_to_totals(totals: &mut TrialBalanceTotals, row: &BalanceRow) {
    totals.opening_debit = two(totals.opening_debit + row.opening_debit);
    totals.opening_credit = two(totals.opening_credit + row.opening_credit);
    totals.period_debit = two(totals.period_debit + row.period_debit);
    totals.period_credit = two(totals.period_credit + row.period_credit);
    totals.closing_debit = two(totals.closing_debit + row.closing_debit);
    totals.closing_credit = two(totals.closing_credit + row.closing_credit);
}

/// Posted sums of one leaf account in one period (a row of the posted balances).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodSums {
    pub account: AccountCode,
    pub period: Period,
    pub sums: Sums,
}

/// One period of an account in the general ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerPeriod {
    pub period: Period,
    pub debit: Decimal,
    pub credit: Decimal,
    /// Since the start of the fiscal year, this period included (本年累计).
    pub year_debit: Decimal,
    pub year_credit: Decimal,
    pub closing: Balance,
}

/// One account of the general ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerAccount {
    pub code: AccountCode,
    pub name: String,
    pub direction: Direction,
    pub opening: Balance,
    pub periods: Vec<LedgerPeriod>,
}

/// The general ledger (总账) of `from..=to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneralLedger {
    pub from: Period,
    pub to: Period,
    pub accounts: Vec<LedgerAccount>,
}

/// The general ledger of `accounts` (each aggregating its sub-accounts) or, when `accounts` is empty, of
/// every first-level account with posted sums through `to`. `sums` are leaf sums of any periods.
pub fn general_ledger(
    chart: &Chart,
    accounts: &[AccountCode],
    from: Period,
    to: Period,
    fiscal_year_start_month: u32,
    sums: &[PeriodSums],
) -> GeneralLedger {
    let shown: Vec<AccountCode> = if accounts.is_empty() {
        let mut firsts: Vec<AccountCode> = sums
            .iter()
            .filter(|entry| entry.period <= to)
            .map(|entry| entry.account.first_level())
            .collect();
        firsts.sort();
        firsts.dedup();
        firsts
    } else {
        accounts.to_vec()
    };
    let mut out = Vec::new();
    for code in shown {
        let mut per_period: BTreeMap<Period, Sums> = BTreeMap::new();
        for entry in sums
            .iter()
            .filter(|entry| entry.account.as_str().starts_with(code.as_str()))
        {
            per_period.entry(entry.period).or_default().add(entry.sums);
        }
        let opening_net: Decimal = per_period.range(..from).map(|(_, sums)| sums.net()).sum();
        let mut running = opening_net;
        let mut periods = Vec::new();
        for period in from.through(to) {
            let within = per_period.get(&period).copied().unwrap_or_default();
            let (fiscal_year, _) = period.fiscal(fiscal_year_start_month);
            let year_start =
                Period::from_fiscal(fiscal_year, 1, fiscal_year_start_month).unwrap_or(period);
            let mut year = Sums::default();
            for (_, sums) in per_period.range(year_start..=period) {
                year.add(*sums);
            }
            running += within.net();
            periods.push(LedgerPeriod {
                period,
                debit: two(within.debit),
                credit: two(within.credit),
                year_debit: two(year.debit),
                year_credit: two(year.credit),
                closing: Balance::of(running),
            });
        }
        let account = chart.get(&code);
        out.push(LedgerAccount {
            name: account.map(|a| a.name.clone()).unwrap_or_default(),
            direction: account.map_or(Direction::Debit, |a| a.direction),
            opening: Balance::of(opening_net),
            code,
            periods,
        });
    }
    GeneralLedger {
        from,
        to,
        accounts: out,
    }
}

/// Balances after each (debit, credit), starting from `opening` net.
pub fn running_balances(
    opening: Decimal,
    movements: impl IntoIterator<Item = (Decimal, Decimal)>,
) -> Vec<Balance> {
    let mut running = opening;
    movements
        .into_iter()
        .map(|(debit, credit)| {
            running += debit - credit;
            Balance::of(running)
        })
        .collect()
}

/// One posted line on a receivable account: debit − credit, dated by its voucher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgingItem {
    /// The customer dimension value; empty when the line names none.
    pub customer: String,
    pub date: NaiveDate,
    pub net: Decimal,
}

/// An age band in days, both ends included; the last band has no end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgingBucket {
    pub from_days: u32,
    pub to_days: Option<u32>,
}

impl AgingBucket {
    /// `0-30`, `31-60`, …, `>365`.
    pub fn label(&self) -> String {
        match self.to_days {
            Some(to) => format!("{}-{to}", self.from_days),
            None => format!(">{}", self.from_days.saturating_sub(1)),
        }
    }
}

/// One customer's open receivable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgingRow {
    pub customer: String,
    /// Debit balance still open (zero when the customer has paid more than charged).
    pub open: Decimal,
    /// `open` split by age band, as the buckets.
    pub buckets: Vec<Decimal>,
    /// Paid in advance or overpaid: a credit balance, not aged.
    pub credit_balance: Decimal,
    /// The date of the oldest charge still open.
    pub oldest_open: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aging {
    pub as_of: NaiveDate,
    pub buckets: Vec<AgingBucket>,
    pub rows: Vec<AgingRow>,
    pub total_open: Decimal,
    pub total_buckets: Vec<Decimal>,
    pub total_credit_balance: Decimal,
}

/// Most age bands a report may have.
pub const AGING_BUCKETS_MAX: usize = 12;

/// The bands of the upper limits `limits` (e.g. 30, 60, 90 → 0-30, 31-60, 61-90, >90).
pub fn aging_buckets(limits: &[u32]) -> Result<Vec<AgingBucket>, String> {
    if limits.is_empty() || limits.len() >= AGING_BUCKETS_MAX {
        return Err(format!(
            "give 1 to {} increasing day limits, e.g. 30,60,90",
            AGING_BUCKETS_MAX - 1
        ));
    }
    if limits.windows(2).any(|pair| pair[0] >= pair[1]) || limits[0] == 0 {
        return Err("day limits must be positive and increasing, e.g. 30,60,90".to_owned());
    }
    let mut buckets = Vec::with_capacity(limits.len() + 1);
    let mut from_days = 0;
    for limit in limits {
        buckets.push(AgingBucket {
            from_days,
            to_days: Some(*limit),
        });
        from_days = limit + 1;
    }
    buckets.push(AgingBucket {
        from_days,
        to_days: None,
    });
    Ok(buckets)
}

/// Ages each customer's open balance as of `as_of` (items dated later must be left out by the caller).
pub fn aging(as_of: NaiveDate, buckets: Vec<AgingBucket>, items: &[AgingItem]) -> Aging {
    let buckets = if buckets.is_empty() {
        vec![AgingBucket {
            from_days: 0,
            to_days: None,
        }]
    } else {
        buckets
    };
    let mut by_customer: BTreeMap<&str, Vec<&AgingItem>> = BTreeMap::new();
    for item in items {
        by_customer.entry(&item.customer).or_default().push(item);
    }
    let zero = two(Decimal::ZERO);
    let mut rows = Vec::new();
    let mut total_buckets = vec![zero; buckets.len()];
    let (mut total_open, mut total_credit_balance) = (zero, zero);
    for (customer, mut customer_items) in by_customer {
        let balance: Decimal = customer_items.iter().map(|item| item.net).sum();
        if balance.is_zero() {
            continue;
        }
        let mut row = AgingRow {
            customer: customer.to_owned(),
            open: zero,
            buckets: vec![zero; buckets.len()],
            credit_balance: zero,
            oldest_open: None,
        };
        if balance < Decimal::ZERO {
            row.credit_balance = two(-balance);
        } else {
            row.open = two(balance);
            // What remains open after first-in-first-out settlement is the newest charges.
            customer_items.sort_by_key(|item| std::cmp::Reverse(item.date));
            let mut remaining = balance;
            for charge in customer_items
                .iter()
                .filter(|item| item.net > Decimal::ZERO)
            {
                if remaining <= Decimal::ZERO {
                    break;
                }
                let part = charge.net.min(remaining);
                remaining -= part;
                let age =
                    u32::try_from((as_of - charge.date).num_days().max(0)).unwrap_or(u32::MAX);
                let band = buckets
                    .iter()
                    .position(|bucket| bucket.to_days.is_none_or(|to| age <= to))
                    .unwrap_or(buckets.len().saturating_sub(1));
                row.buckets[band] = two(row.buckets[band] + part);
                row.oldest_open = Some(charge.date);
            }
        }
        total_open = two(total_open + row.open);
        total_credit_balance = two(total_credit_balance + row.credit_balance);
        for (total, part) in total_buckets.iter_mut().zip(&row.buckets) {
            *total = two(*total + part);
        }
        rows.push(row);
    }
    Aging {
        as_of,
        buckets,
        rows,
        total_open,
        total_buckets,
        total_credit_balance,
    }
}
