//! Hostile input: arbitrary strings, deep nesting, huge literals. Errors, never panics or stack
//! overflows (tests run on the default 2 MiB test-thread stack).

use proptest::prelude::*;
use tenon_formula::sql::Dialect;
use tenon_formula::{DEPTH_MAX, SOURCE_BYTES_MAX, Value, check};

use crate::support::{ctx, row, schema};

/// Parses, checks, evaluates and compiles whatever parses; must not panic.
fn exercise(source: &str) {
    if let Ok(formula) = check(source, &schema()) {
        let inputs: Vec<Value> = formula
            .fields()
            .iter()
            .map(|field| row(field.id.as_str()))
            .collect();
        let _ = formula.eval(&inputs, &ctx());
        let _ = formula.to_sql(Dialect::Sqlite, &ctx(), 1);
        let _ = formula.to_sql(Dialect::Postgres, &ctx(), 1);
    }
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    for (open, close) in [
        ("(", ")"),
        ("ABS(", ")"),
        ("-", ""),
        ("NOT ", ""),
        ("IF(TRUE, ", ", 1)"),
    ] {
        let depth = SOURCE_BYTES_MAX / open.len().max(1);
        let source = format!("{}1{}", open.repeat(depth), close.repeat(depth));
        let source = &source[..source.len().min(SOURCE_BYTES_MAX)];
        assert!(check(source, &schema()).is_err(), "{open}…");
        let fits = format!(
            "{}1{}",
            open.repeat(DEPTH_MAX as usize - 2),
            close.repeat(DEPTH_MAX as usize - 2)
        );
        exercise(&fits);
    }
    let long_chain = vec!["1"; SOURCE_BYTES_MAX / 2].join("+");
    assert!(check(&long_chain, &schema()).is_err());
    exercise(&vec!["{Qty}"; 150].join(" * "));
    exercise(&vec!["{Amount}"; 150].join(" / "));
    exercise(&format!("CONCAT({})", vec!["{Name}"; 1000].join(", ")));
}

#[test]
fn long_and_huge_input_is_refused_with_a_message() {
    let long = "1".repeat(SOURCE_BYTES_MAX + 1);
    let errors = check(&long, &schema()).unwrap_err();
    assert!(errors[0].message.contains("limit is 8192"), "{:?}", errors);
    assert!(check(&"9".repeat(40), &schema()).is_err());
    exercise("REPT(\"x\", 9223372036854775807)");
    exercise("LEFT(\"x\", 99999999999999999999)");
    exercise("DATEADD({Due}, 999999999999, \"years\")");
    exercise("DATE(9999, 99999999, 99999999)");
    exercise("WORKDAY({Due}, 99999999)");
    exercise("POWER(9999999999, 9999999999)");
    exercise("EXP(99999)");
    exercise("FIND(\"\", \"\", 99999999999)");
    exercise("REGEX_MATCH({Name}, \"(a+)+$\")");
    exercise("REGEX_MATCH({Name}, \"a{1000}{1000}{1000}\")");
}

const FORMULA_ALPHABET: &str =
    "(){}[]#\"'\\,.+-*/%&=!<>0123456789 aAzZ_NOTANDORIF{Qty}{Name}ROUND(SUM(DATE(TRUE湖\u{0}\n";

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(source in "\\PC{0,200}") {
        exercise(&source);
    }

    #[test]
    fn formula_shaped_noise_never_panics(pieces in proptest::collection::vec(0..FORMULA_ALPHABET.chars().count(), 0..120)) {
        let alphabet: Vec<char> = FORMULA_ALPHABET.chars().collect();
        let source: String = pieces.iter().map(|&index| alphabet[index]).collect();
        exercise(&source);
    }

    #[test]
    fn generated_formulas_render_and_reparse_to_the_same_stored_text(seed in any::<u64>()) {
        let source = crate::generator::Generator::new(seed).formula();
        let schema = crate::differential::schema();
        let formula = check(&source, &schema).unwrap();
        let reloaded = tenon_formula::check_stored(formula.stored(), &schema).unwrap();
        prop_assert_eq!(reloaded.text(), source.as_str());
        prop_assert_eq!(reloaded.result_type(), formula.result_type());
    }
}
