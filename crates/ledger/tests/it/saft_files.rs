//! The official SAF-T files (read from the shared reference data, never copied into the repository) and
//! validation of Tenon's export against the 1.30 XSD with xmllint.

use std::path::PathBuf;

use tenon_ledger::exchange::{self, Format, Options};
use tenon_ledger::{Currency, VoucherState};

/// `shared/data/saf-t` beside the repository (CI lays `shared/` next to the clone); searched upwards so
/// that a git worktree one level deeper finds it too.
fn shared(file: &str) -> PathBuf {
    let start = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    start
        .ancestors()
        .skip(2)
        .map(|dir| dir.join("shared/data/saf-t"))
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| start.join("../../../shared/data/saf-t"))
        .join(file)
}

fn read(file: &str) -> Vec<u8> {
    std::fs::read(shared(file)).unwrap_or_else(|error| {
        panic!("{} is needed by this test: {error}", shared(file).display())
    })
}

#[test]
fn official_example_imports_its_transactions_and_warns_about_its_balances() {
    let bytes = read("ExampleFile_SAF-T_Financial_999999999_20161125213512.xml");
    let (books, report) = exchange::import(
        Format::Saft,
        &bytes,
        &Options::default(),
        "Selskapet",
        Currency::CNY,
    )
    .unwrap();
    assert_eq!(books.base_currency.as_str(), "NOK");
    assert_eq!((report.vouchers, report.lines), (2, 5));
    assert_eq!(
        (
            report.total_debit.to_string(),
            report.total_credit.to_string()
        ),
        ("25000.00".to_owned(), "25000.00".to_owned())
    );
    assert!(
        books
            .vouchers
            .iter()
            .all(|v| v.state == VoucherState::Posted)
    );
    assert_eq!(
        books.vouchers.iter().map(|v| v.number).collect::<Vec<_>>(),
        [4567, 5678]
    );
    assert!(
        report.warnings.iter().any(|w| w
            .contains("account 1925: opening 1234.56 + movements -12500.00 ≠ closing 12345.67")),
        "{:?}",
        report.warnings
    );
    // The GL openings are the book's opening balances as written, though they do not balance.
    let by_account = books.opening_by_account();
    assert_eq!(
        by_account[&tenon_ledger::AccountCode::parse("1925").unwrap()].to_string(),
        "1234.56"
    );
    // The supplier's opening on 2400 agrees with 2400's own: 2400 opens per supplier. The customer's on
    // 1500 does not (1500 has no opening of its own): 1500's opening stays as written (none), and the
    // difference is reported per side.
    let on_2400: Vec<_> = books
        .openings
        .iter()
        .filter(|o| o.account.as_str() == "2400")
        .collect();
    assert_eq!(on_2400.len(), 1);
    assert_eq!(
        on_2400[0].dimensions[&tenon_ledger::Dimension::Supplier],
        "20000"
    );
    assert_eq!(on_2400[0].credit.to_string(), "1234.56");
    assert!(books.openings.iter().all(|o| o.account.as_str() != "1500"));
    assert_eq!(
        report.control_differences.len(),
        1,
        "{:?}",
        report.control_differences
    );
    let control = &report.control_differences[0];
    assert_eq!(
        (
            control.account.as_str(),
            control.parties_debit.to_string(),
            control.parties_credit.to_string(),
            control.account_debit.to_string(),
            control.account_credit.to_string(),
            control.difference().to_string()
        ),
        (
            "1500",
            "1234.56".into(),
            "0.00".into(),
            "0.00".into(),
            "0.00".into(),
            "1234.56".into()
        )
    );
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("control account 1500")),
        "{:?}",
        report.warnings
    );
    // The file's GL openings as written: debit 1234.56 (1925) against credit 2469.12 (2400, 2740).
    assert_eq!(
        (
            report.opening_debit.to_string(),
            report.opening_credit.to_string()
        ),
        ("1234.56".to_owned(), "2469.12".to_owned())
    );
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("the opening balances do not balance")),
        "{:?}",
        report.warnings
    );
    let supplier_line = &books.vouchers[0].lines[2];
    assert_eq!(
        supplier_line.dimensions[&tenon_ledger::Dimension::Supplier],
        "20000"
    );
    assert!(
        report
            .not_carried
            .keys()
            .any(|k| k.contains("analysis type B")),
        "{:?}",
        report.not_carried
    );
    assert_eq!(
        books
            .accounts
            .iter()
            .find(|a| a.code.as_str() == "1925")
            .unwrap()
            .grouping_category,
        "StandardAccountID"
    );
}

#[test]
fn namespace_less_xmlspy_sample_is_refused_with_the_reason() {
    let error = exchange::import(
        Format::Saft,
        &read("v1.30_Eksempelfil_fra_xmlSpy.xml"),
        &Options::default(),
        "x",
        Currency::CNY,
    )
    .unwrap_err();
    assert!(error.location.starts_with("line 3"), "{error}");
    assert!(
        error.reason.contains("no namespace") && error.reason.contains("fails its schema"),
        "{error}"
    );
}

#[test]
fn an_unbalanced_transaction_is_refused_with_its_line_and_id() {
    let text = String::from_utf8(read(
        "ExampleFile_SAF-T_Financial_999999999_20161125213512.xml",
    ))
    .unwrap();
    let broken = text.replacen(
        "<n1:Amount>10000</n1:Amount>",
        "<n1:Amount>10100</n1:Amount>",
        1,
    );
    assert_ne!(broken, text);
    let error = exchange::import(
        Format::Saft,
        broken.as_bytes(),
        &Options::default(),
        "x",
        Currency::CNY,
    )
    .unwrap_err();
    assert!(
        error
            .reason
            .contains("transaction \"4567\" does not balance: debits 12600.00 ≠ credits 12500.00"),
        "{error}"
    );
}

#[test]
fn export_validates_against_the_1_30_schema_and_survives_reimport() {
    let books = crate::sample::books();
    let (bytes, _) = exchange::export(Format::Saft, &books, &Options::default()).unwrap();
    let dir = std::env::temp_dir().join(format!("tenon-saft-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("export.xml");
    std::fs::write(&file, &bytes).unwrap();
    let output = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(shared("Norwegian_SAF-T_Financial_Schema_v_1.30.xsd"))
        .arg(&file)
        .output()
        .unwrap_or_else(|error| panic!("xmllint is needed to validate SAF-T exports (apt-get install libxml2-utils; .ci/run installs it): {error}"));
    assert!(
        output.status.success(),
        "the export fails the 1.30 schema:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (back, report) = exchange::import(
        Format::Saft,
        &bytes,
        &Options::default(),
        &books.name,
        Currency::CNY,
    )
    .unwrap();
    assert_eq!(back.vouchers.len(), books.vouchers.len());
    assert_eq!(
        report.total_debit,
        exchange::Report::count(&books).total_debit
    );
    assert!(
        report.warnings.iter().all(|w| !w.contains("≠")),
        "{:?}",
        report.warnings
    );
}

#[test]
fn the_openings_open_the_files_selection_start_read_in_its_fiscal_year() {
    // The official example selects periods 1–12 of 2015; its transactions are of October.
    let (books, _) = exchange::import(
        Format::Saft,
        &read("ExampleFile_SAF-T_Financial_999999999_20161125213512.xml"),
        &Options::default(),
        "x",
        Currency::CNY,
    )
    .unwrap();
    assert_eq!(books.opening_period, tenon_ledger::Period::new(2015, 1));

    // A book whose fiscal year starts in April, opening in August before its first voucher (October):
    // the export's PeriodStart 5 of fiscal 2026 reads back as August, the fiscal year being the one its
    // transactions' Period/PeriodYear imply for their dates.
    let mut books = crate::sample::books();
    books.fiscal_year_start_month = 4;
    books.opening_period = tenon_ledger::Period::new(2026, 8);
    let (bytes, _) = exchange::export(Format::Saft, &books, &Options::default()).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains("<PeriodStart>5</PeriodStart>"), "{text}");
    let (back, _) = exchange::import(
        Format::Saft,
        &bytes,
        &Options::default(),
        "x",
        Currency::CNY,
    )
    .unwrap();
    assert_eq!(back.opening_period, tenon_ledger::Period::new(2026, 8));

    // Without any transaction, the file's selection start is the openings' period (a January fiscal
    // year: nothing says otherwise).
    let mut only = crate::sample::books();
    only.vouchers.clear();
    only.opening_period = tenon_ledger::Period::new(2026, 7);
    let (bytes, _) = exchange::export(Format::Saft, &only, &Options::default()).unwrap();
    let (back, _) = exchange::import(
        Format::Saft,
        &bytes,
        &Options::default(),
        "x",
        Currency::CNY,
    )
    .unwrap();
    assert_eq!(back.opening_period, tenon_ledger::Period::new(2026, 7));
    assert!(back.vouchers.is_empty());
    let total = |books: &exchange::Books| {
        books
            .openings
            .iter()
            .map(|o| o.debit)
            .sum::<rust_decimal::Decimal>()
    };
    assert!(!back.openings.is_empty());
    assert_eq!(total(&back), total(&only));
}
