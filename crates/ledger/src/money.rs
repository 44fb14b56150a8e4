//! Exact decimal values and their scales. Every kind of number has one scale, used alike in the API,
//! in storage (PostgreSQL `NUMERIC(28, scale)`, SQLite `INTEGER` scaled by 10^scale) and in exchange files.
//!
//! Parsing refuses more fraction digits than the scale (no silent rounding of money) and values whose
//! scaled form would not fit a signed 64-bit integer (SQLite's integer).

use rust_decimal::Decimal;

/// Amounts (debit, credit, original-currency amount): cents.
pub const AMOUNT_SCALE: u32 = 2;
/// Exchange rates: 8 fraction digits, as SAF-T's `SAFexchangerateType`.
pub const RATE_SCALE: u32 = 8;
/// Quantities and unit prices: 6 fraction digits, as SAF-T's `SAFquantityType`.
pub const QUANTITY_SCALE: u32 = 6;

/// The largest absolute value of any stored number: scaled by 10^8 it still fits an `i64`.
const MAGNITUDE_MAX: i64 = 90_000_000_000;

/// Parses a decimal string with at most `scale` fraction digits; the result carries exactly `scale`.
pub fn parse_scaled(raw: &str, scale: u32) -> Result<Decimal, String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err("is empty; give a decimal number such as \"113.00\"".to_owned());
    }
    if text.contains(['e', 'E']) {
        return Err(format!("{text:?} uses an exponent; write the number out"));
    }
    let value: Decimal = text
        .parse()
        .map_err(|_| format!("{text:?} is not a decimal number"))?;
    if value.scale() > scale {
        let normalized = value.normalize();
        if normalized.scale() > scale {
            return Err(format!(
                "{text:?} has more than {scale} fraction digits; round it first"
            ));
        }
    }
    if value.abs() > Decimal::from(MAGNITUDE_MAX) {
        return Err(format!("{text:?} is too large (at most {MAGNITUDE_MAX})"));
    }
    Ok(rescaled(value, scale))
}

pub fn parse_amount(raw: &str) -> Result<Decimal, String> {
    parse_scaled(raw, AMOUNT_SCALE)
}

/// `value` with exactly `scale` fraction digits (for values known to have at most that many).
pub fn rescaled(mut value: Decimal, scale: u32) -> Decimal {
    value.rescale(scale);
    value
}

/// Rounds half away from zero to `scale`, as Chinese accounting software rounds currency conversions.
pub fn round(value: Decimal, scale: u32) -> Decimal {
    rescaled(
        value.round_dp_with_strategy(scale, rust_decimal::RoundingStrategy::MidpointAwayFromZero),
        scale,
    )
}

/// An amount as the API and the files print it: plain decimal, exactly two fraction digits.
pub fn amount_text(value: Decimal) -> String {
    rescaled(value, AMOUNT_SCALE).to_string()
}

/// A value with trailing zeros removed ("7.10000000" → "7.1"), for rates and quantities.
pub fn compact_text(value: Decimal) -> String {
    let normalized = value.normalize();
    if normalized.is_zero() {
        "0".to_owned()
    } else {
        normalized.to_string()
    }
}

/// `value` as an integer of `scale` minor units (SQLite's storage form). `None` when it does not fit.
pub fn to_scaled_i64(value: Decimal, scale: u32) -> Option<i64> {
    let scaled = rescaled(value, scale);
    if scaled.scale() != scale {
        return None;
    }
    i64::try_from(scaled.mantissa()).ok()
}

/// The inverse of [`to_scaled_i64`].
pub fn from_scaled_i64(minor: i64, scale: u32) -> Decimal {
    Decimal::new(minor, scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_keep_two_digits_and_refuse_more() {
        assert_eq!(parse_amount("113").unwrap().to_string(), "113.00");
        assert_eq!(parse_amount("-0.5").unwrap().to_string(), "-0.50");
        assert_eq!(parse_amount("1.230").unwrap().to_string(), "1.23");
        assert!(parse_amount("1.234").is_err());
        assert!(parse_amount("1e3").is_err());
        assert!(parse_amount("abc").is_err());
        assert!(parse_amount("100000000000").is_err());
    }

    #[test]
    fn scaled_integers_round_trip() {
        let value = parse_scaled("-12.34567891", RATE_SCALE).unwrap();
        let minor = to_scaled_i64(value, RATE_SCALE).unwrap();
        assert_eq!(minor, -1_234_567_891);
        assert_eq!(from_scaled_i64(minor, RATE_SCALE), value);
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(round(Decimal::new(12345, 3), 2).to_string(), "12.35");
        assert_eq!(round(Decimal::new(-12345, 3), 2).to_string(), "-12.35");
    }
}
