//! What people see when a formula is wrong: every message points at the span and, where it can, suggests
//! the fix. Snapshotted as rendered text (`INSTA_UPDATE=always` rewrites the snapshot).

use tenon_formula::check;

use crate::support::schema;

fn render(source: &str) -> String {
    match check(source, &schema()) {
        Ok(formula) => format!("ok: {}", formula.result_type().name()),
        Err(diagnostics) => diagnostics
            .iter()
            .map(|diagnostic| diagnostic.render(source))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

#[test]
fn checker_and_parser_errors_point_at_the_span_and_suggest_fixes() {
    let cases = [
        "{Amout} * 2",
        "{单 价} * 2",
        "ROUDN({Amount}, 2)",
        "ROUND({Amount}, {Qty})",
        "LEFT({Amount}, 2)",
        "{Name} + 1",
        "IF({Paid}, 1, \"one\")",
        "IF({Name}, 1, 2)",
        "{Due} = {At}",
        "SUM({Name})",
        "DATEADD({Due}, 1, \"fortnights\")",
        "DATEADD({Due}, 1, \"hours\")",
        "WEEKDAY({Due}, \"Tuesday\")",
        "DATETIME_FORMAT({At}, \"YYYY\", \"Mars/Base\")",
        "NOW(1)",
        "MID(\"abc\", 1)",
        "Amount * 2",
        "1 +",
        "(1 + 2",
        "\"unterminated",
        "{Amount",
        "{} + 1",
        "1.123456789012 + 1",
        "#2026-02-30#",
        "#2026-11-25T10:00:00+08:00#",
        "99999999999999999999999999999999",
        "1 2",
        "",
        "{Tags} & \"x\"",
        "IFS({Paid}, 1, 2)",
        "REGEX_MATCH({Name}, \"[a-\")",
        "SPLIT({Amount}, \",\")",
        "SPLIT({Name})",
        "ARRAYFLATTEN({Tags}, {Scores})",
        "ARRAYFLATTEN()",
    ];
    let rendered: Vec<String> = cases
        .iter()
        .map(|source| format!("» {source}\n{}", render(source)))
        .collect();
    insta::assert_snapshot!("diagnostics", rendered.join("\n\n"));
}

#[test]
fn result_types_carry_the_scale_the_formula_implies() {
    let cases = [
        "ROUND({单价} * {Qty}, 2)",
        "{Amount} * {Rate}",
        "{Amount} / {Qty}",
        "AVERAGE({Amount}, 1)",
        "{Amount} + 1.5",
        "IF({Paid}, {Amount}, 0)",
        "IF({Paid}, BLANK(), {Rate})",
        "{Name} & {Amount}",
        "{Due} + 1",
        "{Due} - {Due}",
        "NOW()",
        "ARRAYUNIQUE({Tags})",
        "SPLIT({Name}, \",\")",
        "ARRAYFLATTEN({Scores}, {Amount}, 1)",
        "ARRAYFLATTEN(BLANK())",
        "SQRT(2)",
        "LEN({Name})",
        "BLANK()",
    ];
    let rendered: Vec<String> = cases
        .iter()
        .map(|source| format!("{source} : {}", render(source)))
        .collect();
    insta::assert_snapshot!("result_types", rendered.join("\n"));
}

#[test]
fn a_condition_must_be_true_or_false() {
    let source = "{Amount} * 2";
    let errors = tenon_formula::check_condition(source, &schema()).unwrap_err();
    insta::assert_snapshot!("condition", errors[0].render(source));
    assert!(tenon_formula::check_condition("{Amount} > 1000 AND NOT {Paid}", &schema()).is_ok());
}
