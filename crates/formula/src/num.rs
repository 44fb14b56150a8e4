//! Exact fixed-point arithmetic on decimals: every number has a static scale, and every rounding is half
//! away from zero (Excel's ROUND). Division and multiplication work on the integer mantissas, so there is
//! exactly one rounding per operation — the same one the SQL back ends perform.

use rust_decimal::Decimal;

use crate::value::EvalError;

fn pow10(exponent: u32) -> Result<i128, EvalError> {
    10i128.checked_pow(exponent).ok_or(EvalError::Overflow)
}

/// `numerator / denominator` rounded half away from zero; the denominator is not zero.
pub(crate) fn div_round(numerator: i128, denominator: i128) -> Result<i128, EvalError> {
    if denominator == 0 {
        return Err(EvalError::DivisionByZero);
    }
    let quotient = numerator
        .checked_div(denominator)
        .ok_or(EvalError::Overflow)?;
    let remainder = numerator % denominator;
    let twice = remainder
        .unsigned_abs()
        .checked_mul(2)
        .ok_or(EvalError::Overflow)?;
    if twice >= denominator.unsigned_abs() {
        let step = if (numerator < 0) == (denominator < 0) {
            1
        } else {
            -1
        };
        return quotient.checked_add(step).ok_or(EvalError::Overflow);
    }
    Ok(quotient)
}

/// The decimal `mantissa × 10^-scale`, or an overflow error when it does not fit 96 bits.
pub(crate) fn from_parts(mantissa: i128, scale: u32) -> Result<Decimal, EvalError> {
    Decimal::try_from_i128_with_scale(mantissa, scale).map_err(|_| EvalError::Overflow)
}

/// The mantissa of `value` at `scale`, rounding half away from zero when `scale` is smaller.
pub(crate) fn mantissa_at(value: Decimal, scale: u32) -> Result<i128, EvalError> {
    let own = value.scale();
    let mantissa = value.mantissa();
    if own <= scale {
        mantissa
            .checked_mul(pow10(scale - own)?)
            .ok_or(EvalError::Overflow)
    } else {
        div_round(mantissa, pow10(own - scale)?)
    }
}

/// `value` with exactly `scale` decimal places.
pub fn rescale(value: Decimal, scale: u32) -> Result<Decimal, EvalError> {
    from_parts(mantissa_at(value, scale)?, scale)
}

pub(crate) fn add(a: Decimal, b: Decimal, scale: u32) -> Result<Decimal, EvalError> {
    let sum = mantissa_at(a, scale)?
        .checked_add(mantissa_at(b, scale)?)
        .ok_or(EvalError::Overflow)?;
    from_parts(sum, scale)
}

pub(crate) fn sub(a: Decimal, b: Decimal, scale: u32) -> Result<Decimal, EvalError> {
    add(a, -b, scale)
}

pub(crate) fn mul(a: Decimal, b: Decimal, scale: u32) -> Result<Decimal, EvalError> {
    let product = a
        .mantissa()
        .checked_mul(b.mantissa())
        .ok_or(EvalError::Overflow)?;
    let product_scale = a.scale() + b.scale();
    let mantissa = if product_scale <= scale {
        product
            .checked_mul(pow10(scale - product_scale)?)
            .ok_or(EvalError::Overflow)?
    } else {
        div_round(product, pow10(product_scale - scale)?)?
    };
    from_parts(mantissa, scale)
}

/// `a / b` at `scale`, rounded once, half away from zero.
pub(crate) fn div(a: Decimal, b: Decimal, scale: u32) -> Result<Decimal, EvalError> {
    if b.is_zero() {
        return Err(EvalError::DivisionByZero);
    }
    // a/b × 10^scale = ma × 10^(scale - sa + sb) / mb
    let shift = i64::from(scale) - i64::from(a.scale()) + i64::from(b.scale());
    let (numerator, denominator) = if shift >= 0 {
        let factor = pow10(u32::try_from(shift).map_err(|_| EvalError::Overflow)?)?;
        (
            a.mantissa()
                .checked_mul(factor)
                .ok_or(EvalError::Overflow)?,
            b.mantissa(),
        )
    } else {
        let factor = pow10(u32::try_from(-shift).map_err(|_| EvalError::Overflow)?)?;
        (
            a.mantissa(),
            b.mantissa()
                .checked_mul(factor)
                .ok_or(EvalError::Overflow)?,
        )
    };
    from_parts(div_round(numerator, denominator)?, scale)
}

/// Floor modulo (the result has the divisor's sign, as Excel's MOD).
pub(crate) fn modulo(a: Decimal, b: Decimal, scale: u32) -> Result<Decimal, EvalError> {
    let ma = mantissa_at(a, scale)?;
    let mb = mantissa_at(b, scale)?;
    if mb == 0 {
        return Err(EvalError::DivisionByZero);
    }
    let remainder = ma.checked_rem(mb).ok_or(EvalError::Overflow)?;
    let result = if remainder != 0 && ((remainder < 0) != (mb < 0)) {
        remainder + mb
    } else {
        remainder
    };
    from_parts(result, scale)
}

/// How [`round_to`] treats the discarded digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rounding {
    /// Half away from zero (ROUND).
    HalfAway,
    /// Away from zero (ROUNDUP).
    Up,
    /// Toward zero (ROUNDDOWN, TRUNC).
    Down,
    /// Toward −∞ (INT).
    Floor,
}

/// `value` rounded to `places` decimal places (negative: to tens, hundreds, …), returned at `scale`.
pub(crate) fn round_to(
    value: Decimal,
    places: i64,
    rounding: Rounding,
    scale: u32,
) -> Result<Decimal, EvalError> {
    let own = i64::from(value.scale());
    let mantissa = value.mantissa();
    let rounded = if places >= own {
        mantissa
    } else {
        let drop = u32::try_from(own - places).map_err(|_| EvalError::Overflow)?;
        if drop > 38 {
            0
        } else {
            let unit = pow10(drop)?;
            let quotient = mantissa / unit;
            let remainder = mantissa % unit;
            let adjust = match rounding {
                Rounding::HalfAway => {
                    (remainder.unsigned_abs() * 2 >= unit.unsigned_abs()) as i128
                        * mantissa.signum()
                }
                Rounding::Up => (remainder != 0) as i128 * mantissa.signum(),
                Rounding::Down => 0,
                Rounding::Floor => -((remainder < 0) as i128),
            };
            (quotient + adjust)
                .checked_mul(unit)
                .ok_or(EvalError::Overflow)?
        }
    };
    rescale(from_parts(rounded, value.scale())?, scale)
}

/// The integer part, truncated toward zero, if it fits an i64.
pub(crate) fn to_i64(value: Decimal) -> Result<i64, EvalError> {
    let whole = value.mantissa() / pow10(value.scale())?;
    i64::try_from(whole).map_err(|_| EvalError::Overflow)
}
