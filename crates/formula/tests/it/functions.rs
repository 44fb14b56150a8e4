//! Behaviour of operators and functions beyond the catalog's examples: empties, errors, rounding,
//! Unicode, time zones. `eval` uses the fixture row in `support` (Amount 1130.34, Qty 3, Name
//! "湖州优品 Co.", Paid false, Due 2026-01-31, At 2026-03-01T17:45:30Z, 单价 12.50, Empty, Rate 0.0625).

use crate::support::eval;

#[track_caller]
fn check_all(cases: &[(&str, &str)]) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(source, expected)| {
            let actual = eval(source);
            (actual != *expected)
                .then(|| format!("{source}: got {actual:?}, expected {expected:?}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn arithmetic_is_exact_decimal_with_static_scales() {
    check_all(&[
        ("0.1 + 0.2", "0.3"),
        ("1 + 2 * 3", "7"),
        ("(1 + 2) * 3", "9"),
        ("{Amount} * {Qty}", "3391.02"),
        ("ROUND({单价} * {Qty}, 2)", "37.50"),
        ("{Amount} * {Rate}", "70.646250"),
        ("10 / 4", "2.500000"),
        ("{Amount} / 3", "376.78000000"),
        ("2 / 3", "0.666667"),
        ("-2 / 3", "-0.666667"),
        ("1.00 / 3", "0.33333333"),
        ("7 % 3", "1"),
        ("-7 % 3", "2"),
        ("7 % -3", "-2"),
        ("-{Amount}", "-1130.34"),
        ("+{Qty}", "3"),
        ("0.0000000001 * 0.5", "0.0000000001"),
        (
            "99999999999999999999 * 99999999999999999999",
            "#ERR #NUM!: the number is too large",
        ),
    ]);
}

#[test]
fn division_by_zero_and_other_runtime_problems_are_errors_not_panics() {
    check_all(&[
        ("1 / 0", "#ERR #DIV/0!: division by zero"),
        ("MOD(1, 0)", "#ERR #DIV/0!: division by zero"),
        ("1 % 0", "#ERR #DIV/0!: division by zero"),
        (
            "SQRT(-1)",
            "#ERR #NUM!: the square root of a negative number",
        ),
        (
            "LN(0)",
            "#ERR #NUM!: the logarithm of a number that is not positive",
        ),
        (
            "DATE(2026, 1, 1) + 99999999",
            "#ERR #DATE!: not a valid date",
        ),
        ("DATE(0, 1, 1)", "#ERR #DATE!: not a valid date"),
        ("VALUE(\"abc\")", "#ERR #VALUE!: the text is not a number"),
        (
            "REGEX_MATCH(\"a\", \"(\" & {Name})",
            "#ERR #REGEX!: regex parse error:\n    (湖州优品 Co.\n    ^\nerror: unclosed group",
        ),
        (
            "REPT(\"ab\", 100000)",
            "#ERR #VALUE!: the text would be longer than 10000 characters",
        ),
        ("LEFT(\"abc\", -1)", "#ERR #VALUE!: the count is negative"),
        ("POWER(0, -1)", "#ERR #DIV/0!: division by zero"),
    ]);
}

#[test]
fn empty_propagates_through_numbers_and_counts_as_empty_text_in_text() {
    check_all(&[
        ("{Empty} + 1", ""),
        ("{Empty} * 0", ""),
        ("ROUND({Empty}, 2)", ""),
        ("{Empty} & \"x\"", "x"),
        ("LEN({Empty} & \"\")", "0"),
        ("CONCAT({Empty})", ""),
        ("ISBLANK(\"\")", "TRUE"),
        ("ISBLANK({Empty})", "TRUE"),
        ("ISBLANK(0)", "FALSE"),
        ("ISBLANK(1 / 0)", "TRUE"),
        ("{Empty} = BLANK()", "TRUE"),
        ("\"\" = BLANK()", "TRUE"),
        ("{Empty} = 0", "FALSE"),
        ("{Empty} < 1", "FALSE"),
        ("{Empty} >= 1", "FALSE"),
        ("{Empty} != 1", "TRUE"),
        ("NOT({Empty} > 1)", "TRUE"),
        ("IF({Empty} > 1, \"yes\", \"no\")", "no"),
        ("SUM({Empty})", "0"),
        ("AVERAGE({Empty})", ""),
        ("MIN({Empty})", ""),
        ("MAX({Empty}, 2)", "2"),
        ("COUNT({Empty}, 1, \"x\")", "1"),
        ("COUNTA({Empty}, 1, \"x\")", "2"),
        ("COUNTALL({Empty}, 1, \"x\")", "3"),
    ]);
}

#[test]
fn logic_functions() {
    check_all(&[
        ("IF(TRUE, 1, 2.5)", "1.0"),
        ("IF(FALSE, 1)", ""),
        ("IF({Paid}, \"paid\", \"open\")", "open"),
        ("IFS(FALSE, 1, TRUE, 2)", "2"),
        ("IFS(FALSE, 1, FALSE, 2)", ""),
        ("SWITCH({Qty}, 1, \"one\", 3, \"three\", \"many\")", "three"),
        ("SWITCH({Qty}, 1, \"one\")", ""),
        ("SWITCH({Empty}, BLANK(), \"none\", \"some\")", "none"),
        ("AND(TRUE, TRUE, {Empty} = BLANK())", "TRUE"),
        ("TRUE AND FALSE OR TRUE", "TRUE"),
        ("NOT TRUE AND FALSE", "FALSE"),
        ("NOT 1 = 2", "TRUE"),
        ("XOR(TRUE, FALSE, TRUE)", "FALSE"),
        ("IFERROR(1 / 0, -1)", "-1.000000"),
        ("IFERROR(4 / 2, -1)", "2.000000"),
        ("ISERROR(DATE(2026, 1, 1) + 1)", "FALSE"),
        ("true", "TRUE"),
        ("if(1 < 2, \"a\", \"b\")", "a"),
    ]);
}

#[test]
fn rounding_is_half_away_from_zero_like_excel() {
    check_all(&[
        ("ROUND(2.5, 0)", "3"),
        ("ROUND(-2.5, 0)", "-3"),
        ("ROUND(2.45, 1)", "2.5"),
        ("ROUND(-2.45, 1)", "-2.5"),
        ("ROUND(1234.5, -2)", "1200"),
        ("ROUND(1250, -2)", "1300"),
        ("ROUND(1.005, 2)", "1.01"),
        ("ROUND(3, 2)", "3"),
        ("ROUNDUP(-2.121, 2)", "-2.13"),
        ("ROUNDDOWN(2.129, 2)", "2.12"),
        ("ROUNDUP(1201, -2)", "1300"),
        ("INT(1.5)", "1"),
        ("INT(-0.5)", "-1"),
        ("TRUNC(-9.99, 1)", "-9.9"),
        ("CEILING(-2.5)", "-2.0"),
        ("CEILING(2.5)", "3.0"),
        ("CEILING(7, 5)", "10"),
        ("CEILING(7, -5)", "10"),
        ("FLOOR(7, 5)", "5"),
        ("FLOOR(-7, 5)", "-10"),
        ("FLOOR(7, 0)", "0"),
        ("EVEN(-1)", "-2"),
        ("EVEN(0)", "0"),
        ("ODD(0)", "1"),
        ("ODD(-2)", "-3"),
        ("ODD(1.5)", "3"),
        ("SIGN(0)", "0"),
        ("ABS({Empty})", ""),
        ("MOD(-3, -2)", "-1"),
        ("MOD(5.5, 2)", "1.5"),
    ]);
}

#[test]
fn math_functions() {
    check_all(&[
        ("SUM(1, 2.25, {Qty})", "6.25"),
        ("SUM({Scores})", "4.0"),
        ("AVERAGE({Scores})", "2.0000000"),
        ("MIN({Scores}, 3)", "1.5"),
        ("MAX({Scores})", "2.5"),
        ("COUNT({Scores})", "2"),
        ("COUNTA({Scores})", "2"),
        ("COUNTALL({Scores})", "3"),
        ("POWER(2, 0.5)", "1.4142135624"),
        ("POWER(-2, 3)", "-8.0000000000"),
        ("LOG(100)", "2.0000000000"),
        ("VALUE(\"12.5%\")", "0.1250000000"),
        ("VALUE(\" -1,234 \")", "-1234.0000000000"),
        ("VALUE(\"\")", ""),
    ]);
}

#[test]
fn text_functions_count_characters_not_bytes() {
    check_all(&[
        ("LEN({Name})", "8"),
        ("LEFT({Name}, 4)", "湖州优品"),
        ("RIGHT({Name}, 3)", "Co."),
        ("MID({Name}, 3, 2)", "优品"),
        ("MID(\"abc\", 5, 2)", ""),
        ("LEFT(\"abc\", 0)", ""),
        ("FIND(\"优品\", {Name})", "3"),
        ("FIND(\"o\", \"foo\", 3)", "3"),
        ("FIND(\"x\", \"foo\")", "0"),
        ("FIND(\"\", \"foo\", 2)", "2"),
        ("FIND(\"o\", \"foo\", 9)", "0"),
        ("SEARCH(\"CO\", {Name})", "6"),
        ("SUBSTITUTE(\"aaa\", \"a\", \"b\", 2)", "aba"),
        ("SUBSTITUTE(\"abc\", \"\", \"x\")", "abc"),
        ("REPLACE(\"湖州优品\", 1, 2, \"杭州\")", "杭州优品"),
        ("REPT(\"-\", 0)", ""),
        ("TRIM(\"\\t x \\n\")", "x"),
        ("UPPER(\"ß\")", "SS"),
        ("LOWER(\"ÄÖÜ\")", "äöü"),
        ("EXACT(\"\", {Empty} & \"\")", "TRUE"),
        ("T({Name})", "湖州优品 Co."),
        ("\"a\" & 1.50 & TRUE & #2026-01-02#", "a1.5TRUE2026-01-02"),
        ("{At} & \"\"", "2026-03-01T17:45:30.000000Z"),
        ("TEXT({Amount})", "1130.34"),
        ("TEXT(0.5, \"0%\")", "50%"),
        ("TEXT(-1234.567, \"¥#,##0.00\")", "-¥1,234.57"),
        ("TEXT({Due}, \"DD/MM/YYYY\")", "31/01/2026"),
        ("FIXED(-0.001, 2)", "0.00"),
        ("FIXED(1234.5, 0)", "1235"),
        ("FIXED(1234.5, -2)", "1200"),
        ("REGEX_EXTRACT({Name}, \"[A-Z][a-z]+\")", "Co"),
        (
            "REGEX_REPLACE(\"2026-11-25\", \"(\\\\d+)-(\\\\d+)-(\\\\d+)\", \"$3.$2.$1\")",
            "25.11.2026",
        ),
        ("ENCODE_URL_COMPONENT(\"湖\")", "%E6%B9%96"),
        ("\"It\\'s \\\"quoted\\\"\"", "It's \"quoted\""),
        ("'single \"quotes\"'", "single \"quotes\""),
    ]);
}

#[test]
fn date_functions_follow_airtable_conventions() {
    check_all(&[
        ("TODAY()", "2026-11-25"),
        ("NOW()", "2026-11-25T08:30:00.000000Z"),
        ("DATETIME_DIFF({Due}, #2026-01-01#, \"days\")", "30"),
        ("DATETIME_DIFF(#2026-01-01#, {Due}, \"days\")", "-30"),
        (
            "DATETIME_DIFF({At}, #2026-03-01T00:00:00Z#, \"hours\")",
            "17",
        ),
        (
            "DATETIME_DIFF(#2026-03-01T00:00:00Z#, {At}, \"hours\")",
            "-17",
        ),
        ("DATETIME_DIFF({At}, #2026-03-01T00:00:00Z#)", "63930"),
        ("DATETIME_DIFF(#2026-03-30#, #2026-01-31#, \"months\")", "1"),
        (
            "DATETIME_DIFF(#2026-01-31#, #2026-03-30#, \"months\")",
            "-1",
        ),
        ("DATETIME_DIFF(#2027-01-31#, #2026-01-31#, \"years\")", "1"),
        (
            "DATETIME_DIFF(#2026-12-31#, #2026-01-01#, \"quarters\")",
            "3",
        ),
        ("WEEKDAY(#2026-11-29#)", "0"),
        ("WEEKDAY(#2026-11-29#, \"Monday\")", "6"),
        ("WEEKDAY({At})", "1"),
        ("WEEKNUM(#2026-01-04#, \"Monday\")", "1"),
        ("WEEKNUM(#2026-12-31#)", "53"),
        ("DAY({At})", "2"),
        ("HOUR({At})", "1"),
        ("YEAR(#1999-12-31T16:00:00Z#)", "2000"),
        ("DATEADD({Due}, 1, \"months\")", "2026-02-28"),
        ("DATEADD(#2024-02-29#, 1, \"years\")", "2025-02-28"),
        ("DATEADD({Due}, -1, \"quarters\")", "2025-10-31"),
        ("DATEADD({Due}, 2, \"weeks\")", "2026-02-14"),
        ("DATEADD({At}, 1, \"days\")", "2026-03-02T17:45:30.000000Z"),
        (
            "DATEADD({At}, 1, \"months\")",
            "2026-04-01T17:45:30.000000Z",
        ),
        ("DATEADD({At}, 90, \"m\")", "2026-03-01T19:15:30.000000Z"),
        ("DATE(2026, 13, 1)", "2027-01-01"),
        ("DATE(2026, 0, 0)", "2025-11-30"),
        ("DATE(2026, 3, -1)", "2026-02-27"),
        ("{Due} + 1", "2026-02-01"),
        ("1 + {Due}", "2026-02-01"),
        ("{Due} - 31", "2025-12-31"),
        ("{Due} - #2026-01-01#", "30"),
        ("DATEDIF(#2024-02-29#, #2026-02-28#, \"Y\")", "1"),
        (
            "DATEDIF(#2026-02-01#, #2026-01-01#, \"D\")",
            "#ERR #VALUE!: DATEDIF's start is after its end",
        ),
        ("WORKDAY(#2026-11-27#, -1)", "2026-11-26"),
        (
            "WORKDAY(#2026-09-30#, 1, \"2026-10-01, 2026-10-02\")",
            "2026-10-05",
        ),
        ("NETWORKDAYS(#2026-11-29#, #2026-11-23#)", "-5"),
        ("DATETIME_FORMAT({At})", "2026-03-02 01:45"),
        (
            "DATETIME_FORMAT({At}, \"dddd, MMMM Do YYYY h:mm A Z\")",
            "Monday, March 2nd 2026 1:45 AM +08:00",
        ),
        (
            "DATETIME_FORMAT({At}, \"YYYY-MM-DD HH:mm\", \"America/New_York\")",
            "2026-03-01 12:45",
        ),
        ("DATETIME_FORMAT({Due}, \"[Q]Q YYYY\")", "Q1 2026"),
        (
            "DATETIME_PARSE(\"2026-03-02T01:45:30+08:00\")",
            "2026-03-01T17:45:30.000000Z",
        ),
        (
            "DATETIME_PARSE(\"25/11/2026 16:30\", \"DD/MM/YYYY HH:mm\")",
            "2026-11-25T08:30:00.000000Z",
        ),
        (
            "DATETIME_PARSE(\"not a date\")",
            "#ERR #DATE!: not a valid date",
        ),
        ("DATEVALUE({At})", "2026-03-02"),
        ("DATESTR({At})", "2026-03-02"),
        ("EOMONTH({Due}, 0)", "2026-01-31"),
        ("EOMONTH(#2024-01-15#, 1)", "2024-02-29"),
        ("IS_SAME({At}, #2026-03-02T00:00:00Z#, \"day\")", "TRUE"),
        ("IS_SAME({Due}, #2026-01-01#, \"week\")", "FALSE"),
        ("IS_SAME({Due}, BLANK())", "FALSE"),
        ("IS_AFTER({At}, NOW())", "FALSE"),
        ("{At} < NOW()", "TRUE"),
    ]);
}

#[test]
fn lists_from_lookups_and_multi_selects() {
    check_all(&[
        ("ARRAYJOIN({Tags})", "vip, new, vip"),
        ("ARRAYUNIQUE({Tags})", "[vip|new]"),
        ("ARRAYCOMPACT({Scores})", "[1.5|2.5]"),
        ("ISBLANK({Tags})", "FALSE"),
        ("COUNTA({Tags})", "3"),
    ]);
}

#[test]
fn split_cuts_text_at_every_separator_and_drops_empty_pieces() {
    check_all(&[
        ("SPLIT(\"a,b,c\", \",\")", "[a|b|c]"),
        ("SPLIT(\",a,,b,\", \",\")", "[a|b]"),
        ("SPLIT({Name}, \" \")", "[湖州优品|Co.]"),
        ("SPLIT(\"湖州/杭州//宁波\", \"/\")", "[湖州|杭州|宁波]"),
        ("SPLIT(\"a--b-c\", \"--\")", "[a|b-c]"),
        ("SPLIT(\"aXbxc\", \"x\")", "[aXb|c]"),
        ("SPLIT(\"a, b\", \",\")", "[a| b]"),
        ("SPLIT({Name}, \"\")", "[湖州优品 Co.]"),
        ("SPLIT({Name}, BLANK())", "[湖州优品 Co.]"),
        ("SPLIT({Name}, \";\")", "[湖州优品 Co.]"),
        ("ISBLANK(SPLIT(\"\", \",\"))", "TRUE"),
        ("ISBLANK(SPLIT(BLANK(), \",\"))", "TRUE"),
        ("ISBLANK(SPLIT(\",,\", \",\"))", "TRUE"),
        ("ISBLANK(SPLIT(\"\", \"\"))", "TRUE"),
        ("COUNTA(SPLIT(\"vip;new;vip\", \";\"))", "3"),
        ("ARRAYJOIN(SPLIT(\"a;b\", \";\"), \"+\")", "a+b"),
        ("ARRAYUNIQUE(SPLIT(\"vip;new;vip\", \";\"))", "[vip|new]"),
        (
            "SPLIT(REPT(\"a,\", 6000), \",\")",
            "#ERR #VALUE!: the text would be longer than 10000 characters",
        ),
    ]);
}

#[test]
fn arrayflatten_joins_lists_and_values_into_one_list_without_empties() {
    check_all(&[
        ("ARRAYFLATTEN({Tags})", "[vip|new|vip]"),
        ("ARRAYFLATTEN({Tags}, \"old\")", "[vip|new|vip|old]"),
        (
            "ARRAYFLATTEN(\"x\", {Tags}, BLANK(), SPLIT(\"y;z\", \";\"), \"\")",
            "[x|vip|new|vip|y|z]",
        ),
        ("ARRAYFLATTEN({Scores})", "[1.5|2.5]"),
        ("ARRAYFLATTEN({Scores}, {Empty}, 3)", "[1.5|2.5|3]"),
        ("ISBLANK(ARRAYFLATTEN(BLANK(), {Empty}))", "TRUE"),
        (
            "ARRAYUNIQUE(ARRAYFLATTEN({Tags}, \"new\", \"old\"))",
            "[vip|new|old]",
        ),
        ("COUNTALL(ARRAYFLATTEN({Scores}, {Scores}))", "4"),
        (
            "ARRAYFLATTEN({Due}, #2026-02-01#)",
            "[2026-01-31|2026-02-01]",
        ),
        (
            "ARRAYFLATTEN({Scores}, 1 / 0)",
            "#ERR #DIV/0!: division by zero",
        ),
    ]);
}

#[test]
fn arrayflatten_brings_numbers_to_one_scale() {
    let tenon_formula::Value::List(items) =
        crate::support::eval_value("ARRAYFLATTEN({Scores}, {Amount})")
    else {
        panic!("not a list");
    };
    let items: Vec<String> = items.iter().map(|item| format!("{item:?}")).collect();
    assert_eq!(items, ["Number(1.50)", "Number(2.50)", "Number(1130.34)"]);
}
