//! Balances and the trial balance (试算平衡表), derived from posted lines alone.
//!
//! [`Balances`] accumulates posted lines per (account, period); the store keeps the same sums in a table
//! updated in the posting transaction, and a property test proves the two agree. [`TrialBalance`] turns
//! per-account sums into the report: opening, period and closing amounts for every account with activity,
//! parents aggregating their sub-accounts, and totals over first-level accounts, which always balance
//! because every posted voucher does.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::account::{AccountCode, Chart};
use crate::money::{self, AMOUNT_SCALE};
use crate::period::Period;
use crate::voucher::Line;

/// Debit and credit sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sums {
    pub debit: Decimal,
    pub credit: Decimal,
}

impl Sums {
    pub fn add(&mut self, other: Sums) {
        self.debit += other.debit;
        self.credit += other.credit;
    }
    pub fn net(&self) -> Decimal {
        self.debit - self.credit
    }
}

/// Posted sums per (leaf account, period).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Balances {
    sums: BTreeMap<(AccountCode, Period), Sums>,
}

impl Balances {
    pub fn from_lines<'a>(lines: impl IntoIterator<Item = (Period, &'a Line)>) -> Balances {
        let mut balances = Balances::default();
        for (period, line) in lines {
            balances.add(period, line);
        }
        balances
    }

    pub fn add(&mut self, period: Period, line: &Line) {
        self.sums
            .entry((line.account.clone(), period))
            .or_default()
            .add(Sums {
                debit: line.debit,
                credit: line.credit,
            });
    }

    pub fn insert(&mut self, account: AccountCode, period: Period, sums: Sums) {
        self.sums.entry((account, period)).or_default().add(sums);
    }

    /// Entries with non-zero sums, in (account, period) order.
    pub fn entries(&self) -> impl Iterator<Item = (&AccountCode, Period, Sums)> {
        self.sums
            .iter()
            .filter(|(_, sums)| !sums.debit.is_zero() || !sums.credit.is_zero())
            .map(|((code, period), sums)| (code, *period, *sums))
    }

    /// Per account: sums before `period` and sums within `period` (the input of a trial balance).
    pub fn for_period(&self, period: Period) -> Vec<AccountSums> {
        let mut by_account: BTreeMap<AccountCode, AccountSums> = BTreeMap::new();
        for ((code, at), sums) in &self.sums {
            if *at > period {
                continue;
            }
            let entry = by_account
                .entry(code.clone())
                .or_insert_with(|| AccountSums {
                    account: code.clone(),
                    before: Sums::default(),
                    within: Sums::default(),
                });
            if *at < period {
                entry.before.add(*sums);
            } else {
                entry.within.add(*sums);
            }
        }
        by_account.into_values().collect()
    }
}

/// One leaf account's posted sums before a period and within it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSums {
    pub account: AccountCode,
    pub before: Sums,
    pub within: Sums,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialBalanceRow {
    pub code: AccountCode,
    pub name: String,
    pub level: usize,
    pub opening_debit: Decimal,
    pub opening_credit: Decimal,
    pub period_debit: Decimal,
    pub period_credit: Decimal,
    pub closing_debit: Decimal,
    pub closing_credit: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrialBalanceTotals {
    pub opening_debit: Decimal,
    pub opening_credit: Decimal,
    pub period_debit: Decimal,
    pub period_credit: Decimal,
    pub closing_debit: Decimal,
    pub closing_credit: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialBalance {
    pub period: Period,
    pub rows: Vec<TrialBalanceRow>,
    pub totals: TrialBalanceTotals,
}

/// A net balance shown on its side: positive on the debit side, negative on the credit side.
fn sides(net: Decimal) -> (Decimal, Decimal) {
    let zero = money::rescaled(Decimal::ZERO, AMOUNT_SCALE);
    if net >= Decimal::ZERO {
        (money::rescaled(net, AMOUNT_SCALE), zero)
    } else {
        (zero, money::rescaled(-net, AMOUNT_SCALE))
    }
}

impl TrialBalance {
    /// Builds the report from leaf sums. Accounts unknown to the chart are shown under their code.
    pub fn compute(chart: &Chart, period: Period, sums: &[AccountSums]) -> TrialBalance {
        let mut aggregated: BTreeMap<AccountCode, (Sums, Sums)> = BTreeMap::new();
        for entry in sums {
            let mut code = Some(entry.account.clone());
            while let Some(current) = code {
                let slot = aggregated.entry(current.clone()).or_default();
                slot.0.add(entry.before);
                slot.1.add(entry.within);
                code = current.parent();
            }
        }
        let mut rows = Vec::new();
        let mut totals = TrialBalanceTotals::default();
        for (code, (before, within)) in aggregated {
            let (opening_debit, opening_credit) = sides(before.net());
            let (closing_debit, closing_credit) = sides(before.net() + within.net());
            if opening_debit.is_zero()
                && opening_credit.is_zero()
                && within.debit.is_zero()
                && within.credit.is_zero()
                && closing_debit.is_zero()
                && closing_credit.is_zero()
            {
                continue;
            }
            let row = TrialBalanceRow {
                name: chart
                    .get(&code)
                    .map(|account| account.name.clone())
                    .unwrap_or_default(),
                level: code.level(),
                code,
                opening_debit,
                opening_credit,
                period_debit: money::rescaled(within.debit, AMOUNT_SCALE),
                period_credit: money::rescaled(within.credit, AMOUNT_SCALE),
                closing_debit,
                closing_credit,
            };
            if row.level == 1 {
                totals.opening_debit += row.opening_debit;
                totals.opening_credit += row.opening_credit;
                totals.period_debit += row.period_debit;
                totals.period_credit += row.period_credit;
                totals.closing_debit += row.closing_debit;
                totals.closing_credit += row.closing_credit;
            }
            rows.push(row);
        }
        for value in [
            &mut totals.opening_debit,
            &mut totals.opening_credit,
            &mut totals.period_debit,
            &mut totals.period_credit,
            &mut totals.closing_debit,
            &mut totals.closing_credit,
        ] {
            *value = money::rescaled(*value, AMOUNT_SCALE);
        }
        TrialBalance {
            period,
            rows,
            totals,
        }
    }

    /// Opening, period and closing columns each balance.
    pub fn is_balanced(&self) -> bool {
        let t = &self.totals;
        t.opening_debit == t.opening_credit
            && t.period_debit == t.period_credit
            && t.closing_debit == t.closing_credit
    }
}
