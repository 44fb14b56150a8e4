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

fn round_trip(format: Format, books: &Books) -> (Books, exchange::Report) {
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
            prop_assert_eq!(same_books(&back), same_books(&books), "{}", format.as_str());
            prop_assert_eq!(back.accounts.iter().map(|a| (&a.code, &a.name)).collect::<Vec<_>>(), books.accounts.iter().map(|a| (&a.code, &a.name)).collect::<Vec<_>>());
            let unposted = books.vouchers.iter().filter(|v| v.state != tenon_ledger::VoucherState::Posted).count();
            if format != Format::YonyouU8 {
                let lost: usize = report.not_carried.iter().filter(|(k, _)| k.starts_with("voucher state")).map(|(_, n)| *n).sum();
                prop_assert_eq!(lost, unposted, "{}: unposted vouchers must be reported", format.as_str());
            }
        }
    }

    #[test]
    fn yonyou_carries_states_people_and_quantities(books in arb_books()) {
        let (back, _) = round_trip(Format::YonyouU8, &books);
        prop_assert_eq!(back.vouchers, books.vouchers);
        prop_assert_eq!(back.dimension_values, books.dimension_values);
    }

    #[test]
    fn kingdee_then_yonyou_equals_yonyou_directly(books in arb_books()) {
        let (via_kingdee, _) = round_trip(Format::Kingdee, &books);
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
    for (format, file) in [
        (Format::Kingdee, "kingdee_gl_voucher.json"),
        (Format::YonyouU8, "yonyou_u8_voucher.xml"),
        (Format::Saft, "saft_financial_1_30.xml"),
        (Format::Csv, "vouchers.csv"),
    ] {
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
    assert!(text.contains("\"FDETAILID__FFLEX6\""));
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
