//! Period end (期末结账): the profit-and-loss carry-forward (结转损益) that moves every income and expense
//! account's period balance to 本年利润 (the account with role `CURRENT_PROFIT`), and the year-end move of
//! 本年利润 to 利润分配—未分配利润 (role `RETAINED_EARNINGS`).
//!
//! Both are computed from balances alone, so they are idempotent: after the carry-forward voucher is
//! posted every P&L account stands at zero for the period, and computing again after new postings yields
//! only the difference (or nothing).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use tenon_model::{DetailCode, Reason};

use crate::account::{Account, AccountCode, AccountKind, Chart, Dimension, Role};
use crate::money::{self, AMOUNT_SCALE};
use crate::period::Period;
use crate::voucher::{Line, VOUCHER_LINES_MAX, VoucherDraft, Word};

/// The summary of the carry-forward lines.
pub const CARRY_FORWARD_SUMMARY: &str = "结转损益";
/// The summary of the year-end lines.
pub const YEAR_END_SUMMARY: &str = "结转本年利润";

/// Posted sums of one leaf account and one combination of dimension values within a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodAmount {
    pub account: AccountCode,
    pub dimensions: BTreeMap<Dimension, String>,
    pub debit: Decimal,
    pub credit: Decimal,
}

impl PeriodAmount {
    pub fn net(&self) -> Decimal {
        self.debit - self.credit
    }
}

/// Whether an account's balance is carried to 本年利润 at period end: income and expense accounts.
pub fn is_profit_and_loss(account: &Account) -> bool {
    matches!(account.kind, AccountKind::Income | AccountKind::Expense)
}

fn role_account<'c>(chart: &'c Chart, role: &str) -> Result<&'c Account, Reason> {
    let wanted = Role::parse(role).map_err(|text| Reason::new(DetailCode::RoleMissing, text))?;
    chart.by_role(&wanted).ok_or_else(|| {
        Reason::new(
            DetailCode::RoleMissing,
            format!("no account of this book has the role {role}"),
        )
        .with("role", role)
    })
}

/// The carry-forward vouchers (word 转, dated the period's last day) for the P&L amounts of `period`:
/// each non-zero (account, dimension values) balance reversed, the total on 本年利润. Empty when there is
/// nothing to move. One voucher unless the lines exceed a voucher's maximum, then as many as needed, each
/// balanced on 本年利润.
pub fn carry_forward(
    chart: &Chart,
    period: Period,
    amounts: &[PeriodAmount],
) -> Result<Vec<VoucherDraft>, Reason> {
    let profit = role_account(chart, "CURRENT_PROFIT")?;
    let mut lines: Vec<Line> = amounts
        .iter()
        .filter(|amount| {
            chart.get(&amount.account).is_some_and(is_profit_and_loss) && !amount.net().is_zero()
        })
        .map(|amount| {
            let net = amount.net();
            let (debit, credit) = sides(-net);
            let mut line =
                Line::simple(CARRY_FORWARD_SUMMARY, amount.account.clone(), debit, credit);
            line.dimensions = amount.dimensions.clone();
            line
        })
        .collect();
    lines.sort_by(|a, b| (&a.account, &a.dimensions).cmp(&(&b.account, &b.dimensions)));
    let mut vouchers = Vec::new();
    for chunk in lines.chunks(VOUCHER_LINES_MAX - 1) {
        let moved: Decimal = chunk.iter().map(Line::net).sum();
        let mut lines = chunk.to_vec();
        // The P&L lines moved `moved` (debit − credit); 本年利润 takes the opposite.
        let (debit, credit) = sides(-moved);
        if !moved.is_zero() {
            lines.push(Line::simple(
                CARRY_FORWARD_SUMMARY,
                profit.code.clone(),
                debit,
                credit,
            ));
        }
        vouchers.push(VoucherDraft {
            date: period.last_day(),
            word: Word::Zhuan,
            attachments: 0,
            lines,
        });
    }
    Ok(vouchers)
}

/// The year-end voucher moving 本年利润's balance (`current_profit_net`, debit − credit) to
/// 利润分配—未分配利润; `None` when 本年利润 stands at zero.
pub fn profit_to_retained_earnings(
    chart: &Chart,
    period: Period,
    current_profit_net: Decimal,
) -> Result<Option<VoucherDraft>, Reason> {
    let profit = role_account(chart, "CURRENT_PROFIT")?;
    let retained = role_account(chart, "RETAINED_EARNINGS")?;
    if current_profit_net.is_zero() {
        return Ok(None);
    }
    let (debit, credit) = sides(-current_profit_net);
    let (back_debit, back_credit) = sides(current_profit_net);
    Ok(Some(VoucherDraft {
        date: period.last_day(),
        word: Word::Zhuan,
        attachments: 0,
        lines: vec![
            Line::simple(YEAR_END_SUMMARY, profit.code.clone(), debit, credit),
            Line::simple(
                YEAR_END_SUMMARY,
                retained.code.clone(),
                back_debit,
                back_credit,
            ),
        ],
    }))
}

/// A signed amount (debit − credit) as (debit, credit).
fn sides(net: Decimal) -> (Decimal, Decimal) {
    let zero = money::rescaled(Decimal::ZERO, AMOUNT_SCALE);
    if net >= Decimal::ZERO {
        (money::rescaled(net, AMOUNT_SCALE), zero)
    } else {
        (zero, money::rescaled(-net, AMOUNT_SCALE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::Standard;

    fn chart() -> Chart {
        Chart::from_accounts(crate::templates::accounts(Standard::Cas).unwrap()).unwrap()
    }

    fn amount(
        account: &str,
        dimensions: &[(Dimension, &str)],
        debit: i64,
        credit: i64,
    ) -> PeriodAmount {
        PeriodAmount {
            account: AccountCode::parse(account).unwrap(),
            dimensions: dimensions
                .iter()
                .map(|(d, v)| (*d, (*v).to_owned()))
                .collect(),
            debit: Decimal::new(debit, 2),
            credit: Decimal::new(credit, 2),
        }
    }

    #[test]
    fn income_and_expenses_move_to_current_profit_by_dimension() {
        let amounts = [
            amount("6001", &[], 0, 100_000),
            amount("6601", &[(Dimension::Department, "销售部")], 20_000, 0),
            amount("6601", &[(Dimension::Department, "市场部")], 5_000, 1_000),
            amount("1002", &[], 100_000, 0),
            amount("6602", &[(Dimension::Department, "行政部")], 0, 0),
        ];
        let vouchers = carry_forward(&chart(), Period::new(2026, 10).unwrap(), &amounts).unwrap();
        assert_eq!(vouchers.len(), 1);
        let v = &vouchers[0];
        assert_eq!(
            (v.word, v.date.to_string()),
            (Word::Zhuan, "2026-10-31".to_owned())
        );
        let shown: Vec<(String, String, String)> = v
            .lines
            .iter()
            .map(|l| {
                (
                    l.account.to_string(),
                    l.debit.to_string(),
                    l.credit.to_string(),
                )
            })
            .collect();
        assert_eq!(
            shown,
            vec![
                ("6001".to_owned(), "1000.00".to_owned(), "0.00".to_owned()),
                ("6601".to_owned(), "0.00".to_owned(), "40.00".to_owned()),
                ("6601".to_owned(), "0.00".to_owned(), "200.00".to_owned()),
                ("4103".to_owned(), "0.00".to_owned(), "760.00".to_owned()),
            ]
        );
        assert_eq!(v.lines[1].dimensions[&Dimension::Department], "市场部");
        let debit: Decimal = v.lines.iter().map(|l| l.debit).sum();
        let credit: Decimal = v.lines.iter().map(|l| l.credit).sum();
        assert_eq!(debit, credit);
        // Nothing to move: no voucher.
        assert!(
            carry_forward(&chart(), Period::new(2026, 10).unwrap(), &amounts[3..])
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn the_year_end_moves_current_profit_to_retained_earnings() {
        let v = profit_to_retained_earnings(
            &chart(),
            Period::new(2026, 12).unwrap(),
            Decimal::new(-76_000, 2),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (
                v.lines[0].account.as_str(),
                v.lines[0].debit.to_string().as_str()
            ),
            ("4103", "760.00")
        );
        assert_eq!(
            (
                v.lines[1].account.as_str(),
                v.lines[1].credit.to_string().as_str()
            ),
            ("410406", "760.00")
        );
        assert!(
            profit_to_retained_earnings(&chart(), Period::new(2026, 12).unwrap(), Decimal::ZERO)
                .unwrap()
                .is_none()
        );
    }
}
