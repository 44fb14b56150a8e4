//! The shipped voucher rules, applied to records as a CRM would send them.

use rust_decimal::Decimal;
use serde_json::json;
use tenon_ledger::expr::{Record, Value};
use tenon_ledger::rules::{apply, find};
use tenon_ledger::{Dimension, voucher};

use crate::sample::{chart, settings};

fn record(fields: serde_json::Value) -> Record {
    fields
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), Value::from_json(v)))
        .collect()
}

fn lines(draft: &tenon_ledger::VoucherDraft) -> Vec<(String, String, String)> {
    draft
        .lines
        .iter()
        .map(|l| {
            (
                l.account.to_string(),
                l.debit.to_string(),
                l.credit.to_string(),
            )
        })
        .collect()
}

#[test]
fn sales_invoice_books_receivable_revenue_and_output_vat() {
    let draft = apply(
        &find("sales_invoice").unwrap(),
        &chart(),
        &record(json!({"date": "2026-10-08", "customer": "湖州优品", "amount": "100.00", "tax_rate": "0.13", "order_no": "SO-1"})),
    )
    .unwrap();
    assert_eq!(
        lines(&draft),
        [
            ("1122".into(), "113.00".into(), "0.00".into()),
            ("6001".into(), "0.00".into(), "100.00".into()),
            ("22210102".into(), "0.00".into(), "13.00".into()),
        ]
    );
    assert_eq!(draft.lines[0].dimensions[&Dimension::Customer], "湖州优品");
    assert_eq!(draft.lines[0].summary, "销售 湖州优品 SO-1");
    voucher::check_voucher(&settings(), &chart(), &draft).unwrap();
}

#[test]
fn receipt_and_expense_claim_follow_their_conditions() {
    let receipt = apply(
        &find("receipt").unwrap(),
        &chart(),
        &record(json!({"date": "2026-10-15", "customer": "湖州优品", "amount": 113})),
    )
    .unwrap();
    assert_eq!(receipt.word, tenon_ledger::Word::Shou);
    assert_eq!(
        lines(&receipt),
        [
            ("1002".into(), "113.00".into(), "0.00".into()),
            ("1122".into(), "0.00".into(), "113.00".into())
        ]
    );
    let unpaid = apply(&find("expense_claim").unwrap(), &chart(), &record(json!({"date": "2026-10-20", "employee": "王芳", "department": "策划部", "amount": "88.50"}))).unwrap();
    assert_eq!(unpaid.lines[1].account.as_str(), "2241");
    assert_eq!(unpaid.lines[1].dimensions[&Dimension::Employee], "王芳");
    let paid = apply(&find("expense_claim").unwrap(), &chart(), &record(json!({"date": "2026-10-20", "employee": "王芳", "department": "策划部", "amount": "88.50", "paid": true}))).unwrap();
    assert_eq!(
        lines(&paid)[1],
        ("1002".into(), "0.00".into(), "88.50".into())
    );
    assert_eq!(
        paid.lines.iter().map(|l| l.net()).sum::<Decimal>(),
        Decimal::ZERO
    );
}

#[test]
fn a_record_missing_fields_is_refused_with_the_field_named() {
    let error = apply(
        &find("sales_invoice").unwrap(),
        &chart(),
        &record(json!({"date": "2026-10-08", "amount": "100"})),
    )
    .unwrap_err();
    assert!(error.to_string().contains("customer"), "{error}");
    let error = apply(
        &find("receipt").unwrap(),
        &chart(),
        &record(json!({"date": "10/08/2026", "customer": "x", "amount": "1"})),
    )
    .unwrap_err();
    assert_eq!(error.0[0].field, "fields.date");
    assert!(
        find("payroll")
            .unwrap_err()
            .contains("sales_invoice, receipt, expense_claim")
    );
}
