//! The crate's contract with the data engine: stored formulas by id survive renames, dependencies and
//! clock use are reported, SQL is refused rather than approximate, and SQL text is reviewable.

use tenon_formula::sql::Dialect;
use tenon_formula::{Field, FieldKind, Schema, Type, check, check_stored};

use crate::support::{ctx, schema};

#[test]
fn a_stored_formula_keeps_working_after_a_field_is_renamed() {
    let formula = check("ROUND({单价} * {Qty}, 2) & \" \" & {单价}", &schema()).unwrap();
    assert_eq!(formula.stored(), "ROUND({f7} * {f2}, 2) & \" \" & {f7}");
    let renamed = Schema::new(schema().fields().iter().cloned().map(|mut field| {
        if field.id.as_str() == "f7" {
            field.name = "Unit price {CNY}".into();
        }
        field
    }));
    let reloaded = check_stored(formula.stored(), &renamed).unwrap();
    assert_eq!(
        reloaded.text(),
        "ROUND({Unit price {CNY\\}} * {Qty}, 2) & \" \" & {Unit price {CNY\\}}"
    );
    let again = check(reloaded.text(), &renamed).unwrap();
    assert_eq!(again.stored(), formula.stored());
}

#[test]
fn a_stored_formula_whose_field_was_deleted_says_so() {
    let errors = check_stored("{f404} + 1", &schema()).unwrap_err();
    assert_eq!(
        errors[0].message,
        "{f404}: the field this formula used has been deleted"
    );
}

#[test]
fn references_list_each_field_once_in_order_of_appearance() {
    let formula = check("{Qty} + {Amount} * {Qty}", &schema()).unwrap();
    let ids: Vec<&str> = formula.references().map(|id| id.as_str()).collect();
    assert_eq!(ids, ["f2", "f1"]);
}

#[test]
fn formulas_that_read_the_clock_say_so() {
    assert!(
        check("DATETIME_DIFF(TODAY(), {Due}, \"days\")", &schema())
            .unwrap()
            .uses_clock()
    );
    assert!(!check("{Due} + 1", &schema()).unwrap().uses_clock());
}

#[test]
fn today_follows_the_clock_and_the_organizations_time_zone() {
    let formula = check("TODAY()", &schema()).unwrap();
    let late_utc = tenon_formula::EvalContext::new(
        chrono::DateTime::parse_from_rfc3339("2026-11-25T20:00:00Z")
            .unwrap()
            .into(),
        chrono_tz::UTC,
    );
    let shanghai = tenon_formula::EvalContext {
        time_zone: chrono_tz::Asia::Shanghai,
        ..late_utc
    };
    assert_eq!(
        tenon_formula::to_text(&formula.eval(&[], &late_utc)),
        "2026-11-25"
    );
    assert_eq!(
        tenon_formula::to_text(&formula.eval(&[], &shanghai)),
        "2026-11-26"
    );
    let sql = formula.to_sql(Dialect::Sqlite, &shanghai, 3).unwrap();
    assert_eq!(sql.sql, "$3");
    assert_eq!(
        sql.binds,
        [tenon_formula::sql::Bind::Text("2026-11-26".into())]
    );
}

#[test]
fn functions_sql_cannot_reproduce_are_refused_with_the_span() {
    let cases = [
        (
            "IFERROR(1 / {Qty}, 0)",
            Dialect::Postgres,
            "cannot compute in SQL: SQL cannot tell an error from an empty value",
        ),
        (
            "LOWER({Name}) = \"x\"",
            Dialect::Sqlite,
            "cannot compute in SQL: LOWER: SQLite and PostgreSQL change case differently from Unicode's rules",
        ),
        (
            "SUM({Scores})",
            Dialect::Postgres,
            "cannot compute in SQL: SUM over a list is evaluated in Rust",
        ),
        (
            "DATEADD({At}, 1, \"months\")",
            Dialect::Postgres,
            "cannot compute in SQL: adding months or years to a datetime is evaluated in Rust (local calendar rules)",
        ),
        (
            "SQRT({Amount})",
            Dialect::Sqlite,
            "cannot compute in SQL: SQRT: irrational results: the databases compute them in binary floating point",
        ),
        (
            "SPLIT({Name}, \" \")",
            Dialect::Sqlite,
            "cannot compute in SQL: SPLIT: lists are evaluated in Rust",
        ),
        (
            "ARRAYFLATTEN({Tags}, {Name})",
            Dialect::Postgres,
            "cannot compute in SQL: ARRAYFLATTEN: lists are evaluated in Rust",
        ),
    ];
    for (source, dialect, message) in cases {
        let formula = check(source, &schema()).unwrap();
        let error = formula.to_sql(dialect, &ctx(), 1).unwrap_err();
        assert_eq!(error.to_string(), message, "{source}");
    }
    let formula = check("YEAR({At})", &schema()).unwrap();
    let new_york = tenon_formula::EvalContext {
        time_zone: chrono_tz::America::New_York,
        ..ctx()
    };
    assert!(formula.to_sql(Dialect::Sqlite, &new_york, 1).is_err());
    assert!(formula.to_sql(Dialect::Postgres, &new_york, 1).is_ok());
    assert!(formula.to_sql(Dialect::Sqlite, &ctx(), 1).is_ok());
}

#[test]
fn compiled_sql_binds_every_value_and_reads_columns_the_caller_named() {
    let schema = Schema::new([
        Field::new("p", "单价", FieldKind::Number { scale: 2 }).with_column("t.\"c_price\""),
        Field::new("q", "数量", FieldKind::Integer).with_column("t.\"c_qty\""),
        Field::new("n", "客户", FieldKind::Text),
    ]);
    let formula = check(
        "IF({客户} = \"湖州优品\", ROUND({单价} * {数量} / 3, 2), 0)",
        &schema,
    )
    .unwrap();
    assert_eq!(formula.result_type(), &Type::Number { scale: 2 });
    let mut rendered = String::new();
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let sql = formula.to_sql(dialect, &ctx(), 2).unwrap();
        assert!(
            !sql.sql.contains("湖州"),
            "user text must be bound: {}",
            sql.sql
        );
        rendered.push_str(&format!(
            "{dialect:?}:\n{}\nbinds: {:?}\norder by: {}\n\n",
            sql.sql,
            sql.binds,
            sql.order_by(true)
        ));
    }
    insta::assert_snapshot!("compiled_sql", rendered);
}

#[test]
fn rollups_over_no_linked_records_give_zero_for_sum_and_count_and_empty_otherwise() {
    use tenon_formula::Value;
    use tenon_formula::rollup::Aggregate;
    let number = Type::Number { scale: 2 };
    let expectations = [
        (Aggregate::Sum, "0"),
        (Aggregate::Count, "0"),
        (Aggregate::CountAll, "0"),
        (Aggregate::CountDistinct, "0"),
        (Aggregate::Avg, "empty"),
        (Aggregate::Min, "empty"),
        (Aggregate::Max, "empty"),
    ];
    for (aggregate, expected) in expectations {
        assert_eq!(
            crate::support::example_text(&aggregate.eval(&[], &number)),
            expected,
            "{aggregate:?}"
        );
    }
    let values: Vec<Value> = ["1.50", "2.25", "1.50"]
        .iter()
        .map(|text| Value::Number(text.parse().unwrap()))
        .chain([Value::Empty])
        .collect();
    let results: Vec<String> = [
        "sum",
        "avg",
        "min",
        "max",
        "count",
        "count_distinct",
        "count_all",
        "concat",
    ]
    .iter()
    .map(|name| {
        let aggregate = Aggregate::parse(name).unwrap();
        format!(
            "{name}={}",
            crate::support::example_text(&aggregate.eval(&values, &number))
        )
    })
    .collect();
    assert_eq!(
        results.join(" "),
        "sum=5.25 avg=1.75000000 min=1.50 max=2.25 count=3 count_distinct=2 count_all=4 concat=\"1.5, 2.25, 1.5\""
    );
    assert_eq!(
        Aggregate::Avg.result_type(&number),
        Ok(Type::Number { scale: 8 })
    );
    assert!(Aggregate::Sum.result_type(&Type::Text).is_err());
}
