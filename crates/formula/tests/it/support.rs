//! A fixed schema and context, and `eval("…")` helpers for short tests.

use chrono::{TimeZone, Utc};
use tenon_formula::{EvalContext, Field, FieldKind, Schema, Value, check, to_text};

pub fn schema() -> Schema {
    Schema::new([
        Field::new("f1", "Amount", FieldKind::Number { scale: 2 }),
        Field::new("f2", "Qty", FieldKind::Integer),
        Field::new("f3", "Name", FieldKind::Text),
        Field::new("f4", "Paid", FieldKind::Checkbox),
        Field::new("f5", "Due", FieldKind::Date),
        Field::new("f6", "At", FieldKind::DateTime),
        Field::new("f7", "单价", FieldKind::Number { scale: 2 }),
        Field::new("f8", "Empty", FieldKind::Number { scale: 0 }),
        Field::new("f9", "Tags", FieldKind::TextList),
        Field::new(
            "f10",
            "Scores",
            FieldKind::Lookup(Box::new(FieldKind::Number { scale: 1 })),
        ),
        Field::new("f11", "Rate", FieldKind::Number { scale: 4 }),
    ])
}

pub fn ctx() -> EvalContext {
    EvalContext::new(
        Utc.with_ymd_and_hms(2026, 11, 25, 8, 30, 0).unwrap(),
        chrono_tz::Asia::Shanghai,
    )
}

/// The value of each field by id, for `eval`.
pub fn row(id: &str) -> Value {
    use chrono::NaiveDate;
    use rust_decimal::Decimal;
    let number = |text: &str| Value::Number(text.parse::<Decimal>().unwrap());
    match id {
        "f1" => number("1130.34"),
        "f2" => number("3"),
        "f3" => Value::text("湖州优品 Co."),
        "f4" => Value::Bool(false),
        "f5" => Value::Date(NaiveDate::from_ymd_opt(2026, 1, 31).unwrap()),
        "f6" => Value::DateTime(Utc.with_ymd_and_hms(2026, 3, 1, 17, 45, 30).unwrap()),
        "f7" => number("12.50"),
        "f9" => Value::List(vec![
            Value::text("vip"),
            Value::text("new"),
            Value::text("vip"),
        ]),
        "f10" => Value::List(vec![number("1.5"), Value::Empty, number("2.5")]),
        "f11" => number("0.0625"),
        _ => Value::Empty,
    }
}

pub fn eval_value(source: &str) -> Value {
    let formula = check(source, &schema()).unwrap_or_else(|errors| panic!("{source}: {errors:?}"));
    let inputs: Vec<Value> = formula
        .fields()
        .iter()
        .map(|field| row(field.id.as_str()))
        .collect();
    formula.eval(&inputs, &ctx())
}

/// The value as the tests write it: text as is, numbers at their scale, errors as `#ERR`, empty as ``.
pub fn eval(source: &str) -> String {
    match eval_value(source) {
        Value::Error(error) => format!("#ERR {error}"),
        Value::Number(number) => number.to_string(),
        Value::List(items) => format!(
            "[{}]",
            items.iter().map(to_text).collect::<Vec<_>>().join("|")
        ),
        other => to_text(&other),
    }
}

/// The fields the catalog's examples use, with the values the examples assume.
pub fn example_schema() -> (Schema, Vec<(&'static str, Value)>) {
    use rust_decimal::Decimal;
    let number = |text: &str| Value::Number(text.parse::<Decimal>().unwrap());
    let fields = vec![
        (
            Field::new("e1", "Amount", FieldKind::Number { scale: 2 }),
            number("1130.34"),
        ),
        (
            Field::new("e2", "Paid", FieldKind::Checkbox),
            Value::Bool(false),
        ),
        (Field::new("e3", "Score", FieldKind::Integer), number("85")),
        (
            Field::new("e4", "Status", FieldKind::SingleSelect),
            Value::text("done"),
        ),
        (
            Field::new("e5", "Empty", FieldKind::Number { scale: 0 }),
            Value::Empty,
        ),
        (Field::new("e6", "Notes", FieldKind::Text), Value::text("")),
        (
            Field::new("e7", "Done", FieldKind::Checkbox),
            Value::Bool(false),
        ),
        (
            Field::new("e8", "Tags", FieldKind::TextList),
            Value::List(vec![
                Value::text("vip"),
                Value::text("new"),
                Value::text("vip"),
            ]),
        ),
        (
            Field::new(
                "e9",
                "Scores",
                FieldKind::Lookup(Box::new(FieldKind::Integer)),
            ),
            Value::List(vec![number("1"), Value::Empty, number("2")]),
        ),
    ];
    let values = fields
        .iter()
        .map(|(field, value)| (field.id.as_str(), value.clone()))
        .collect::<Vec<_>>();
    let values = values
        .into_iter()
        .map(|(id, value)| {
            (
                Box::leak(id.to_owned().into_boxed_str()) as &'static str,
                value,
            )
        })
        .collect();
    (
        Schema::new(fields.into_iter().map(|(field, _)| field)),
        values,
    )
}

/// A value as the catalog's examples write results.
pub fn example_text(value: &Value) -> String {
    match value {
        Value::Empty => "empty".into(),
        Value::Error(error) => error.to_string(),
        Value::Text(text) => format!("{text:?}"),
        Value::Number(number) => number.to_string(),
        Value::DateTime(instant) => instant.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        Value::List(items) => format!(
            "[{}]",
            items
                .iter()
                .map(example_text)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => to_text(other),
    }
}
