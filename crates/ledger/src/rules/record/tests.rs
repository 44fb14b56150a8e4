//! Tests of record rules: the demo CRM's VAT split and the publish checks, with paths.

use super::*;
use crate::book::Standard;
use serde_json::json;

fn schema() -> formula::Schema {
    use formula::FieldKind as F;
    formula::Schema::new([
        formula::Field::new("f1", "amount", F::Number { scale: 2 }),
        formula::Field::new("f2", "rate", F::Number { scale: 4 }),
        formula::Field::new("f3", "on", F::Date),
        formula::Field::new("f4", "customer", F::Text),
        formula::Field::new("f5", "stage", F::Text),
    ])
}

fn crm_rule() -> Value {
    json!({"key": "orders", "book": {"name": "主账套"}, "table": "orders", "when": "{stage} = \"won\"",
           "date": "{on}", "lines": [
        {"account": "AR", "debit": "{amount}", "dimensions": {"customer": "{customer}"}},
        {"account": "REVENUE", "credit": "ROUND({amount} / (1 + {rate}), 2)"},
        {"account": "=\"VAT_OUTPUT\"", "credit": "{amount} - ROUND({amount} / (1 + {rate}), 2)"}]})
}

#[test]
fn an_amount_including_vat_is_split_exactly() {
    let chart = crate::templates::chart(Standard::Cas).unwrap();
    let definition = RuleDefinition::parse(&crm_rule(), "voucher_rules[0]").unwrap();
    let rule = compile(&definition, &schema(), &chart, "voucher_rules[0]").unwrap();
    let values: BTreeMap<&str, formula::Value> = [
        ("f1", formula::Value::Number(Decimal::new(2_880_000, 2))),
        ("f2", formula::Value::Number(Decimal::new(1300, 4))),
        (
            "f3",
            formula::Value::Date(NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()),
        ),
        ("f4", formula::Value::text("湖州优品")),
        ("f5", formula::Value::text("won")),
    ]
    .into();
    let mut eval = |stored: &str| -> Result<formula::Value, String> {
        let formula = formula::check_stored(stored, &schema()).map_err(|e| format!("{e:?}"))?;
        let inputs: Vec<_> = formula
            .fields()
            .iter()
            .map(|f| values[f.id.as_str()].clone())
            .collect();
        let ctx = formula::EvalContext::new(
            chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            tenon_model::TimeZone::SHANGHAI.tz(),
        );
        Ok(formula.eval(&inputs, &ctx))
    };
    assert!(rule.applies(&mut eval).unwrap());
    let draft = rule.voucher(&chart, &mut eval).unwrap();
    let amounts: Vec<(String, String, String)> = draft
        .lines
        .iter()
        .map(|l| {
            (
                l.account.as_str().to_owned(),
                l.debit.to_string(),
                l.credit.to_string(),
            )
        })
        .collect();
    assert_eq!(
        amounts,
        vec![
            ("1122".to_owned(), "28800.00".to_owned(), "0.00".to_owned()),
            ("6001".to_owned(), "0.00".to_owned(), "25486.73".to_owned()),
            (
                "22210102".to_owned(),
                "0.00".to_owned(),
                "3313.27".to_owned()
            ),
        ]
    );
    assert_eq!(draft.lines[0].dimensions[&Dimension::Customer], "湖州优品");
}

#[test]
fn publish_names_every_problem_with_its_path() {
    let chart = crate::templates::chart(Standard::Cas).unwrap();
    let bad = json!({"key": "x", "book": {"name": "b"}, "table": "t", "date": "{amount}", "lines": [
        {"account": "AR", "debit": "{nope}"},
        {"account": "NO_SUCH_ROLE", "credit": "1"},
        {"account": "2221", "credit": "1"},
        {"account": "6001", "credit": "{customer}"}]});
    let definition = RuleDefinition::parse(&bad, "voucher_rules[0]").unwrap();
    let invalid = compile(&definition, &schema(), &chart, "voucher_rules[0]").unwrap_err();
    let found: Vec<(&str, &str)> = invalid
        .0
        .iter()
        .map(|e| (e.field.as_str(), e.code.as_str()))
        .collect();
    for wanted in [
        ("voucher_rules[0].date", "formula_type"),
        (
            "voucher_rules[0].lines[0].dimensions.customer",
            "dimension_required",
        ),
        ("voucher_rules[0].lines[0].debit", "formula_unknown_field"),
        ("voucher_rules[0].lines[1].account", "role_missing"),
        ("voucher_rules[0].lines[2].account", "not_leaf_account"),
        ("voucher_rules[0].lines[3].credit", "formula_type"),
    ] {
        assert!(found.contains(&wanted), "{wanted:?} in {found:?}");
    }
    let shape = json!({"key": "x", "book": {"name": "b", "template": "ifrs"}, "table": "t", "date": "1",
                       "word": "借", "lines": [{"account": "AR"}, {"account": "AR", "debit": "1", "credit": "1"}]});
    let invalid = RuleDefinition::parse(&shape, "voucher_rules[1]").unwrap_err();
    let found: Vec<&str> = invalid.0.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        found,
        vec![
            "voucher_rules[1].book.template",
            "voucher_rules[1].word",
            "voucher_rules[1].lines[0].debit",
            "voucher_rules[1].lines[1].credit"
        ]
    );
}
