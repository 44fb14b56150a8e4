//! YonSuite (用友 YonBIP 公有云) general-ledger vouchers: the body of the open API's voucher save,
//! `POST <gateway>/yonbip/fi/ficloud/openapi/voucher/addVoucher` (the `yonyou_voucher` flow step over a
//! `yonsuite` connection). Not a file format: YonSuite has no voucher file Tenon reads.
//!
//! ```json
//! {"accbookCode": "BOOK01", "voucherTypeCode": "1", "makeTime": "2026-11-20",
//!  "resubmitCheckKey": "<32 hex>", "externalSourceSystemName": "Tenon",
//!  "externalSourceDataId": "<Tenon voucher id>", "externalSourceDataCode": "记-12",
//!  "bodies": [{"description": "…", "accsubjectCode": "1122", "debitOriginal": 28800.0,
//!              "debitOrg": 28800.0, "rateType": "01", "rateOrg": 1,
//!              "clientAuxiliaryList": [{"filedCode": "0005", "valueCode": "C0001"}]}, …]}
//! ```
//!
//! - The fields sit at the top level (the voucher save has no `data` wrapper); `resubmitCheckKey` is
//!   YonSuite's idempotency key (at most 32 characters): the same key saved twice is refused as a
//!   repeated submission instead of making a second voucher.
//! - Amounts are JSON numbers when their decimal text survives the number exactly (every amount
//!   below 10¹³ with two decimals), else the decimal text: never a rounded figure.
//! - A foreign-currency line carries `currency` (its code), the original amount and `rateOrg` (the
//!   rate); a base-currency line `rateOrg` 1. `rateType` `01` is YonSuite's base rate type.
//! - Dimensions are YonSuite's auxiliary accounting items (`clientAuxiliaryList`): the item's code per
//!   Tenon dimension is the tenant's own (`settings.auxiliary`, e.g. `customer` → `0005`), the value
//!   by its code in the book. A line with a dimension that has no item code is refused, naming it:
//!   guessing another tenant's codes would book to the wrong item.
//! - Quantities and unit prices are not carried.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::Books;
use crate::money;
use crate::voucher::{Voucher, Word};

/// What a connection says about the tenant.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// YonSuite's account book code (账簿编码); empty: the book's code, else its name.
    pub accbook_code: String,
    /// Voucher type codes (凭证类型编码) by Tenon's word (`记`, `收`, `付`, `转`); `记` is `1` unless
    /// said otherwise.
    pub voucher_types: BTreeMap<String, String>,
    /// Auxiliary item codes (辅助核算项编码) by dimension (`customer`, `supplier`, `department`,
    /// `employee`, `project`, `item`).
    pub auxiliary: BTreeMap<String, String>,
    /// The maker's mobile or e-mail as YonSuite knows them (`makerMobile`, `makerEmail`).
    pub maker_mobile: Option<String>,
    pub maker_email: Option<String>,
}

/// The voucher type code of the word 记 unless a connection says otherwise.
pub const GENERAL_VOUCHER_TYPE: &str = "1";

/// The save body of `voucher` (of `books`) with `resubmit_key` and Tenon's `voucher_id`; `Err` names
/// what the settings lack.
pub fn voucher_body(
    books: &Books,
    settings: &Settings,
    voucher: &Voucher,
    voucher_id: &str,
    resubmit_key: &str,
) -> Result<Value, String> {
    let word = voucher.word.as_str();
    let voucher_type = match settings.voucher_types.get(word) {
        Some(code) => code.clone(),
        None if voucher.word == Word::Ji => GENERAL_VOUCHER_TYPE.to_owned(),
        None => {
            return Err(format!(
                "the voucher's word {word} has no YonSuite voucher type code: set config.voucher_types.{word} of the connection"
            ));
        }
    };
    let accbook = [&settings.accbook_code, &books.code, &books.name]
        .into_iter()
        .find(|code| !code.trim().is_empty())
        .map(|code| code.trim().to_owned())
        .unwrap_or_default();
    let mut bodies = Vec::with_capacity(voucher.lines.len());
    for (index, line) in voucher.lines.iter().enumerate() {
        let mut auxiliary = Vec::new();
        for (dimension, value) in &line.dimensions {
            let Some(item) = settings.auxiliary.get(dimension.as_str()) else {
                return Err(format!(
                    "line {}: the {} dimension has no YonSuite auxiliary item code: set config.auxiliary.{} of the connection",
                    index + 1,
                    dimension.as_str(),
                    dimension.as_str()
                ));
            };
            let code = books.value_code(*dimension, value).unwrap_or(value);
            auxiliary.push(json!({"filedCode": item, "valueCode": code}));
        }
        let mut body = Map::new();
        body.insert("description".into(), json!(line.summary));
        body.insert("accsubjectCode".into(), json!(line.account.as_str()));
        let debit = !line.debit.is_zero();
        let base = if debit { line.debit } else { line.credit };
        let original = line.original_amount.map_or(base, |amount| amount.abs());
        let (original_key, base_key) = if debit {
            ("debitOriginal", "debitOrg")
        } else {
            ("creditOriginal", "creditOrg")
        };
        body.insert(original_key.into(), number(original));
        body.insert(base_key.into(), number(base));
        if let Some(currency) = line.currency.filter(|c| *c != books.base_currency) {
            body.insert("currency".into(), json!(currency.as_str()));
        }
        body.insert("rateType".into(), json!("01"));
        body.insert(
            "rateOrg".into(),
            rate(line.exchange_rate.unwrap_or(Decimal::ONE)),
        );
        if !auxiliary.is_empty() {
            body.insert("clientAuxiliaryList".into(), Value::Array(auxiliary));
        }
        bodies.push(Value::Object(body));
    }
    let mut top = Map::new();
    top.insert("accbookCode".into(), json!(accbook));
    top.insert("voucherTypeCode".into(), json!(voucher_type));
    top.insert(
        "makeTime".into(),
        json!(voucher.date.format("%Y-%m-%d").to_string()),
    );
    if let Some(mobile) = &settings.maker_mobile {
        top.insert("makerMobile".into(), json!(mobile));
    }
    if let Some(email) = &settings.maker_email {
        top.insert("makerEmail".into(), json!(email));
    }
    top.insert("resubmitCheckKey".into(), json!(resubmit_key));
    top.insert("externalSourceSystemName".into(), json!("Tenon"));
    top.insert("externalSourceDataId".into(), json!(voucher_id));
    top.insert("externalSourceDataCode".into(), json!(voucher.label()));
    top.insert("bodies".into(), Value::Array(bodies));
    Ok(Value::Object(top))
}

/// An amount as a JSON number when its two-decimal text survives one, else that text.
fn number(amount: Decimal) -> Value {
    exact(&money::amount_text(amount))
}

/// A rate as a JSON number when its text survives one, else that text.
fn rate(value: Decimal) -> Value {
    exact(&money::compact_text(value))
}

fn exact(text: &str) -> Value {
    let Ok(float) = text.parse::<f64>() else {
        return json!(text);
    };
    let Some(number) = serde_json::Number::from_f64(float) else {
        return json!(text);
    };
    let (Ok(written), Ok(meant)) = (
        number.to_string().parse::<Decimal>(),
        text.parse::<Decimal>(),
    ) else {
        return json!(text);
    };
    if written == meant {
        if float.fract() == 0.0 && float.abs() < 9.0e15 {
            // 1 rather than 1.0 for whole rates and amounts.
            #[allow(clippy::cast_possible_truncation)]
            return json!(float as i64);
        }
        Value::Number(number)
    } else {
        json!(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{AccountCode, Dimension};
    use crate::book::Currency;
    use crate::exchange::DimensionValue;
    use crate::period::Period;
    use crate::voucher::{Line, VoucherState};
    use std::str::FromStr;

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    fn voucher(word: Word) -> Voucher {
        let mut receivable = Line::simple(
            "销售 T2 订单",
            AccountCode::parse("1122").unwrap(),
            dec("28800.00"),
            Decimal::ZERO,
        );
        receivable
            .dimensions
            .insert(Dimension::Customer, "天工家具".to_owned());
        let mut usd = Line::simple(
            "美元收入",
            AccountCode::parse("6001").unwrap(),
            Decimal::ZERO,
            dec("25486.73"),
        );
        usd.currency = Some(Currency::parse("USD").unwrap());
        usd.original_amount = Some(dec("-3600.10"));
        usd.exchange_rate = Some(dec("7.0794"));
        let vat = Line::simple(
            "销项税",
            AccountCode::parse("22210102").unwrap(),
            Decimal::ZERO,
            dec("3313.27"),
        );
        Voucher {
            period: Period::parse("2026-11").unwrap(),
            word,
            number: 12,
            date: chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            attachments: 0,
            state: VoucherState::Posted,
            preparer: String::new(),
            reviewer: None,
            poster: None,
            lines: vec![receivable, usd, vat],
        }
    }

    fn books() -> Books {
        let mut books = Books::new("主账套", Currency::parse("CNY").unwrap());
        books.code = "BOOK01".into();
        books.dimension_values.push(DimensionValue {
            dimension: Dimension::Customer,
            value: "天工家具".into(),
            code: "C0001".into(),
            name: "天工家具".into(),
        });
        books
    }

    #[test]
    fn a_voucher_becomes_yonsuites_save_body_with_codes_exact_amounts_and_its_key() {
        let settings = Settings {
            auxiliary: BTreeMap::from([("customer".to_owned(), "0005".to_owned())]),
            maker_mobile: Some("13800000000".into()),
            ..Settings::default()
        };
        let body = voucher_body(
            &books(),
            &settings,
            &voucher(Word::Ji),
            "v-1",
            "k".repeat(32).as_str(),
        )
        .unwrap();
        assert_eq!(body["accbookCode"], "BOOK01");
        assert_eq!(body["voucherTypeCode"], "1");
        assert_eq!(body["makeTime"], "2026-11-20");
        assert_eq!(body["makerMobile"], "13800000000");
        assert_eq!(body["resubmitCheckKey"], "k".repeat(32));
        assert_eq!(body["externalSourceDataId"], "v-1");
        assert_eq!(body["externalSourceDataCode"], "记-12");
        let lines = body["bodies"].as_array().unwrap();
        assert_eq!(lines[0]["accsubjectCode"], "1122");
        assert_eq!(lines[0]["debitOrg"], json!(28800));
        assert_eq!(lines[0]["debitOriginal"], json!(28800));
        assert_eq!(lines[0]["rateOrg"], json!(1));
        assert_eq!(
            lines[0]["clientAuxiliaryList"],
            json!([{"filedCode": "0005", "valueCode": "C0001"}])
        );
        assert!(lines[0].get("creditOrg").is_none());
        assert_eq!(lines[1]["creditOrg"], json!(25486.73));
        assert_eq!(lines[1]["creditOriginal"], json!(3600.1));
        assert_eq!(lines[1]["currency"], "USD");
        assert_eq!(lines[1]["rateOrg"], json!(7.0794));
        assert!(lines[1].get("clientAuxiliaryList").is_none());
        assert_eq!(lines[2]["accsubjectCode"], "22210102");
        assert_eq!(lines[2]["creditOrg"].to_string(), "3313.27");
    }

    #[test]
    fn missing_codes_are_named_and_huge_amounts_stay_exact_text() {
        let none = Settings::default();
        let error = voucher_body(&books(), &none, &voucher(Word::Ji), "v", "k").unwrap_err();
        assert!(error.contains("config.auxiliary.customer"), "{error}");
        let error = voucher_body(&books(), &none, &voucher(Word::Zhuan), "v", "k").unwrap_err();
        assert!(error.contains("config.voucher_types.转"), "{error}");
        let typed = Settings {
            voucher_types: BTreeMap::from([("转".to_owned(), "4".to_owned())]),
            auxiliary: BTreeMap::from([("customer".to_owned(), "0005".to_owned())]),
            ..Settings::default()
        };
        let body = voucher_body(&books(), &typed, &voucher(Word::Zhuan), "v", "k").unwrap();
        assert_eq!(body["voucherTypeCode"], "4");
        assert_eq!(
            number(dec("12345678901234567.89")),
            json!("12345678901234567.89")
        );
        assert_eq!(number(dec("0.10")), json!(0.1));
    }
}
