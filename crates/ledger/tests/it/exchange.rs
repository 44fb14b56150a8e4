//! The round-trip law and the golden payloads of every exchange format.

use proptest::prelude::*;
use tenon_ledger::exchange::{self, Books, Format, Options};
use tenon_ledger::{Currency, Voucher};

use crate::sample::{arb_books, books};

/// "The same books": date, word, number and lines (summary, account, dimensions, amounts, currency).
fn same_books(books: &Books) -> Vec<(String, String, u32, Vec<String>)> {
    books
        .vouchers
        .iter()
        .map(|v: &Voucher| {
            let lines = v
                .lines
                .iter()
                .map(|l| {
                    format!(
                        "{}|{}|{:?}|{}|{}|{:?}|{:?}|{:?}",
                        l.summary,
                        l.account,
                        l.dimensions,
                        l.debit,
                        l.credit,
                        l.currency,
                        l.original_amount,
                        l.exchange_rate
                    )
                })
                .collect();
            (
                v.date.to_string(),
                v.word.as_str().to_owned(),
                v.number,
                lines,
            )
        })
        .collect()
}

/// What the vendor formats carry of dimension values: their codes. The books with every value the lines
/// name, and every value's entry, replaced by its code.
fn coded(books: &Books) -> Books {
    let mut coded = books.clone();
    for voucher in &mut coded.vouchers {
        for line in &mut voucher.lines {
            for (dimension, value) in &mut line.dimensions {
                *value = books.value_code(*dimension, value).unwrap().to_owned();
            }
        }
    }
    for opening in &mut coded.openings {
        for (dimension, value) in &mut opening.dimensions {
            *value = books.value_code(*dimension, value).unwrap().to_owned();
        }
    }
    for value in &mut coded.dimension_values {
        value.value = value.code.clone();
    }
    coded.sort();
    coded
}

fn round_trip(format: Format, books: &Books) -> (Books, exchange::Report) {
    if format == Format::YonyouU8 {
        return u8_round_trip(books);
    }
    let (bytes, report) = exchange::export(format, books, &Options::default()).unwrap();
    let (back, _) = exchange::import(
        format,
        &bytes,
        &Options::default(),
        &books.name,
        Currency::CNY,
    )
    .unwrap();
    (back, report)
}

/// U8's EAI reads one document per file: every document exported on its own and read back, merged (as
/// importing them one after the other into one book does); the voucher document's report.
fn u8_round_trip(books: &Books) -> (Books, exchange::Report) {
    let mut merged = Books::new(&books.name, Currency::CNY);
    let mut voucher_report = None;
    for document in exchange::yonyou::DOCUMENTS {
        let options = Options {
            u8_document: document,
            ..Options::default()
        };
        let (bytes, report) = exchange::export(Format::YonyouU8, books, &options).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.lines()
                .nth(1)
                .unwrap()
                .starts_with(&format!("<ufinterface roottag=\"{document}\"")),
            "{document}: one ufinterface document, without a wrapper:\n{text}"
        );
        let (back, _) = exchange::import(
            Format::YonyouU8,
            &bytes,
            &options,
            &books.name,
            Currency::CNY,
        )
        .unwrap();
        merged.accounts.extend(back.accounts);
        merged.dimension_values.extend(back.dimension_values);
        merged.vouchers.extend(back.vouchers);
        merged.openings.extend(back.openings);
        merged.opening_period = merged.opening_period.or(back.opening_period);
        if document == "voucher" {
            voucher_report = Some(report);
        }
    }
    merged.sort();
    (merged, voucher_report.unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn csv_round_trip_is_the_identity(books in arb_books()) {
        let (back, report) = round_trip(Format::Csv, &books);
        prop_assert!(report.not_carried.is_empty());
        prop_assert_eq!(back, books);
    }

    #[test]
    fn kingdee_yonyou_and_saft_round_trips_keep_the_same_books(books in arb_books()) {
        for format in [Format::Kingdee, Format::YonyouU8, Format::Saft] {
            let (back, report) = round_trip(format, &books);
            // Kingdee and U8 carry the values' codes, SAF-T the values.
            let expected = if format == Format::Saft { books.clone() } else { coded(&books) };
            prop_assert_eq!(same_books(&back), same_books(&expected), "{}", format.as_str());
            prop_assert_eq!(back.accounts.iter().map(|a| (&a.code, &a.name)).collect::<Vec<_>>(), books.accounts.iter().map(|a| (&a.code, &a.name)).collect::<Vec<_>>());
            let unposted = books.vouchers.iter().filter(|v| v.state != tenon_ledger::VoucherState::Posted).count();
            if format != Format::YonyouU8 {
                let lost: usize = report.not_carried.iter().filter(|(k, _)| k.starts_with("voucher state")).map(|(_, n)| *n).sum();
                prop_assert_eq!(lost, unposted, "{}: unposted vouchers must be reported", format.as_str());
            }
        }
    }

    #[test]
    fn saft_round_trip_keeps_the_openings_of_accounts_customers_and_suppliers(books in arb_books()) {
        let (back, report) = round_trip(Format::Saft, &books);
        prop_assert_eq!(&back.openings, &books.openings);
        prop_assert_eq!(report.openings, 4);
        let (_, imported) = exchange::import(Format::Saft, &exchange::export(Format::Saft, &books, &Options::default()).unwrap().0,
            &Options::default(), "x", Currency::CNY).unwrap();
        prop_assert!(imported.control_differences.is_empty(), "{:?}", imported.control_differences);
        prop_assert_eq!(imported.opening_debit, imported.opening_credit);
    }

    #[test]
    fn kingdee_and_u8_account_balances_keep_the_openings_by_code(books in arb_books()) {
        let expected = coded(&books);
        for format in [Format::Kingdee, Format::YonyouU8] {
            let (back, _) = round_trip(format, &books);
            prop_assert_eq!(&back.openings, &expected.openings, "{}", format.as_str());
            prop_assert_eq!(back.opening_period, books.opening_period, "{}", format.as_str());
        }
    }

    #[test]
    fn yonyou_carries_states_people_and_quantities(books in arb_books()) {
        let (back, _) = round_trip(Format::YonyouU8, &books);
        let expected = coded(&books);
        prop_assert_eq!(back.vouchers, expected.vouchers);
        prop_assert_eq!(back.dimension_values, expected.dimension_values);
    }

    #[test]
    fn kingdee_then_yonyou_equals_yonyou_directly(books in arb_books()) {
        let (via_kingdee, _) = round_trip(Format::Kingdee, &books);
        prop_assert_eq!(&via_kingdee.code, &books.code);
        let (indirect, _) = exchange::export(Format::YonyouU8, &via_kingdee, &Options::default()).unwrap();
        let (direct, _) = exchange::export(Format::YonyouU8, &books, &Options::default()).unwrap();
        let read = |bytes: &[u8]| exchange::import(Format::YonyouU8, bytes, &Options::default(), "x", Currency::CNY).unwrap().0;
        prop_assert_eq!(same_books(&read(&indirect)), same_books(&read(&direct)));
    }
}

/// Golden payloads: a change to what Tenon sends other systems shows in review.
/// Regenerate with `TENON_UPDATE_GOLDEN=1 cargo test -p tenon-ledger --test it golden`.
#[test]
fn golden_payloads_are_unchanged() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let options = Options {
        created_on: chrono::NaiveDate::from_ymd_opt(2026, 11, 1),
        ..Options::default()
    };
    for (format, document, file) in [
        (Format::Kingdee, "voucher", "kingdee_gl_voucher.json"),
        (Format::YonyouU8, "voucher", "yonyou_u8_voucher.xml"),
        (Format::YonyouU8, "code", "yonyou_u8_code.xml"),
        (Format::YonyouU8, "customer", "yonyou_u8_customer.xml"),
        (Format::YonyouU8, "accsum", "yonyou_u8_accsum.xml"),
        (Format::Saft, "voucher", "saft_financial_1_30.xml"),
        (Format::Csv, "voucher", "vouchers.csv"),
    ] {
        let options = Options {
            u8_document: document,
            ..options.clone()
        };
        let (bytes, _) = exchange::export(format, &books(), &options).unwrap();
        let path = dir.join(file);
        if std::env::var_os("TENON_UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &bytes).unwrap();
            continue;
        }
        let golden = std::fs::read(&path).unwrap_or_default();
        assert!(
            golden == bytes,
            "{} differs from what the adapter writes; review and regenerate with TENON_UPDATE_GOLDEN=1",
            path.display()
        );
    }
}

#[test]
fn kingdee_export_reports_what_it_cannot_carry() {
    let (bytes, report) = exchange::export(Format::Kingdee, &books(), &Options::default()).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    assert!(
        text.contains("\"FVOUCHERGROUPID\": {\n          \"FNumber\": \"PRE001\""),
        "{text}"
    );
    assert!(
        text.contains("\"FDETAILID__FFLEX6\": {\n                \"FNumber\": \"C0001\""),
        "{text}"
    );
    assert!(!text.contains("\"FNumber\": \"湖州优品\""), "{text}");
    assert!(
        text.contains("\"FAccountBookID\": {\n    \"FNumber\": \"001\""),
        "{text}"
    );
    assert!(text.contains("\"FACCOUNTID\": {\n              \"FNumber\": \"2221.01.02\""));
    assert_eq!(report.not_carried["preparer/reviewer/poster names"], 3);
    assert_eq!(report.not_carried["attachment count"], 2);
    assert_eq!(
        (
            report.vouchers,
            report.lines,
            report.total_debit.to_string()
        ),
        (3, 7, "1323.00".to_owned())
    );
}

#[test]
fn kingdee_and_u8_name_codes_never_names() {
    let books = books();
    let (kingdee, report) = exchange::export(Format::Kingdee, &books, &Options::default()).unwrap();
    let kingdee: serde_json::Value = serde_json::from_slice(&kingdee).unwrap();
    assert_eq!(kingdee["FAccountBookID"]["FNumber"], "001");
    assert_eq!(kingdee["FAccountBookName"], "婚庆公司");
    assert_eq!(kingdee["BD_Customer"][0]["FNumber"], "C0001");
    assert_eq!(
        kingdee["BD_Customer"][0]["FName"],
        "湖州优品婚庆用品有限公司"
    );
    assert_eq!(kingdee["BD_Department"][0]["FNumber"], "D0001");
    let models: Vec<&serde_json::Value> = kingdee["GL_VOUCHER"]
        .as_array()
        .unwrap()
        .iter()
        .map(|save| &save["Model"])
        .collect();
    assert!(
        models
            .iter()
            .all(|m| m["FAccountBookID"]["FNumber"] == "001")
    );
    let details: Vec<String> = models
        .iter()
        .flat_map(|m| m["FEntity"].as_array().unwrap())
        .flat_map(|e| e["FDetailID"].as_object().unwrap().values())
        .map(|v| v["FNumber"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(details, ["C0001", "D0001", "C0001"]);
    assert!(
        report.not_carried.keys().all(|k| !k.contains("code")),
        "{report:?}"
    );

    // A value whose code is unknown is written as named, and counted.
    let mut unknown = books.clone();
    unknown.dimension_values.clear();
    unknown.code.clear();
    let (_, report) = exchange::export(Format::Kingdee, &unknown, &Options::default()).unwrap();
    assert_eq!(
        report.not_carried["customer code (no code known: written as named)"],
        3
    );
    assert_eq!(
        report.not_carried["book code (none known: the name is written)"],
        1
    );

    let options = Options {
        u8_document: "customer",
        ..Options::default()
    };
    let (u8, _) = exchange::export(Format::YonyouU8, &books, &options).unwrap();
    let u8 = String::from_utf8(u8).unwrap();
    assert!(
        u8.contains("<code>C0001</code>") && !u8.contains("<code>湖州优品</code>"),
        "{u8}"
    );
    let (u8, _) = exchange::export(Format::YonyouU8, &books, &Options::default()).unwrap();
    let u8 = String::from_utf8(u8).unwrap();
    assert!(u8.contains("<item name=\"cust_id\">C0001</item>"), "{u8}");
    assert!(!u8.contains("tenon-u8"), "{u8}");
}

#[test]
fn u8_refuses_an_unknown_document() {
    let options = Options {
        u8_document: "ledger",
        ..Options::default()
    };
    let error = exchange::export(Format::YonyouU8, &books(), &options).unwrap_err();
    assert!(error.reason.contains("not a U8 document"), "{error}");
}
