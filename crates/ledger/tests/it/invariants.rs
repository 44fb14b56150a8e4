//! The ledger's invariants, over random valid ledgers.

use proptest::prelude::*;
use rust_decimal::Decimal;
use tenon_ledger::balance::Sums;
use tenon_ledger::voucher::{self, VoucherDraft};
use tenon_ledger::{Balances, Period, TrialBalance, VoucherState};

use crate::sample::{arb_books, chart, settings};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_generated_voucher_passes_the_write_gate_and_balances(books in arb_books()) {
        let chart = chart();
        for voucher in &books.vouchers {
            let draft = VoucherDraft { date: voucher.date, word: voucher.word, attachments: voucher.attachments, lines: voucher.lines.clone() };
            prop_assert!(voucher::check_voucher(&settings(), &chart, &draft).is_ok(), "{:?}", voucher::check_voucher(&settings(), &chart, &draft));
            prop_assert_eq!(voucher.total_debit(), voucher.total_credit());
        }
    }

    #[test]
    fn an_unbalanced_voucher_is_refused_and_says_by_how_much(books in arb_books(), cents in 1i64..1000) {
        let chart = chart();
        let voucher = &books.vouchers[0];
        let mut lines = voucher.lines.clone();
        if lines[0].debit.is_zero() { lines[0].credit += Decimal::new(cents, 2) } else { lines[0].debit += Decimal::new(cents, 2) }
        lines[0].currency = None; lines[0].original_amount = None; lines[0].exchange_rate = None;
        let draft = VoucherDraft { date: voucher.date, word: voucher.word, attachments: 0, lines };
        let refused = voucher::check_voucher(&settings(), &chart, &draft).unwrap_err();
        prop_assert!(refused.to_string().contains("does not balance"), "{}", refused);
    }

    #[test]
    fn trial_balance_balances_every_period_and_equals_balances_rebuilt_from_posted_lines(books in arb_books()) {
        let chart = chart();
        // Incremental: as the store does, one posting at a time.
        let mut incremental = Balances::default();
        for voucher in books.vouchers.iter().filter(|v| v.state == VoucherState::Posted) {
            for line in &voucher.lines {
                incremental.insert(line.account.clone(), voucher.period, Sums { debit: line.debit, credit: line.credit });
            }
        }
        let rebuilt = Balances::from_lines(books.vouchers.iter().filter(|v| v.state == VoucherState::Posted).flat_map(|v| v.lines.iter().map(move |l| (v.period, l))));
        prop_assert_eq!(incremental.entries().collect::<Vec<_>>(), rebuilt.entries().collect::<Vec<_>>());
        for month in 1..=4 {
            let period = Period::new(2026, month).unwrap();
            let report = TrialBalance::compute(&chart, period, &rebuilt.for_period(period));
            prop_assert!(report.is_balanced(), "{:?}", report.totals);
            // Closing of one period is the opening of the next.
            let next = TrialBalance::compute(&chart, period.next(), &rebuilt.for_period(period.next()));
            for row in report.rows.iter().filter(|r| r.level == 1) {
                if let Some(following) = next.rows.iter().find(|r| r.code == row.code) {
                    prop_assert_eq!((row.closing_debit, row.closing_credit), (following.opening_debit, following.opening_credit));
                }
            }
        }
    }
}

#[test]
fn segregation_of_duties_refuses_self_review_and_posting_needs_review() {
    let mut books = crate::sample::books();
    let mut voucher = books.vouchers.remove(0);
    voucher.state = VoucherState::Draft;
    voucher.preparer = "张会计".into();
    let mut strict = settings();
    strict.segregation_of_duties = true;
    assert!(
        voucher::post(&mut voucher.clone(), "张会计")
            .unwrap_err()
            .0
            .message
            .contains("only a reviewed voucher")
    );
    let refused = voucher::review(&strict, &mut voucher.clone(), "张会计").unwrap_err();
    assert!(refused.0.message.contains("separates duties"), "{refused}");
    assert_eq!(refused.0.code, tenon_model::DetailCode::SegregationOfDuties);
    voucher::review(&settings(), &mut voucher, "张会计").unwrap();
    voucher::post(&mut voucher, "李主管").unwrap();
    assert_eq!(voucher.state, VoucherState::Posted);
    let red = voucher::reversal_of(&voucher, voucher.date);
    assert_eq!(
        red.lines.iter().map(|l| l.net()).sum::<Decimal>(),
        Decimal::ZERO
    );
    assert_eq!(red.lines[0].debit, -voucher.lines[0].debit);
    assert!(
        red.lines[0].summary.starts_with("冲销2026年10月记-1号凭证"),
        "{}",
        red.lines[0].summary
    );
}

#[test]
fn lines_must_post_to_leaves_with_required_dimensions_and_consistent_currency() {
    let chart = chart();
    let books = crate::sample::books();
    let mut draft = VoucherDraft {
        date: books.vouchers[0].date,
        word: books.vouchers[0].word,
        attachments: 0,
        lines: books.vouchers[0].lines.clone(),
    };
    draft.lines[0].dimensions.clear();
    draft.lines[1].account = crate::sample::code("2221");
    let errors = voucher::check_voucher(&settings(), &chart, &draft).unwrap_err();
    let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        ["lines[0].dimensions.customer", "lines[1].account"],
        "{errors}"
    );
    let usd_voucher = books
        .vouchers
        .iter()
        .find(|v| v.lines.iter().any(|l| l.currency.is_some()))
        .unwrap();
    let mut lines = usd_voucher.lines.clone();
    lines[0].exchange_rate = Some(Decimal::new(72, 1));
    let draft = VoucherDraft {
        date: usd_voucher.date,
        word: usd_voucher.word,
        attachments: 0,
        lines,
    };
    let errors = voucher::check_voucher(&settings(), &chart, &draft).unwrap_err();
    assert!(
        errors.to_string().contains("100.00 USD × 7.2 = 720.00"),
        "{errors}"
    );
}
