//! An account book (账套): its name, base currency, fiscal calendar, accounting standard and the
//! segregation-of-duties setting.

use std::fmt;

use tenon_model::{DetailCode, Reason};

/// An ISO 4217 currency code: three capital letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const CNY: Currency = Currency(*b"CNY");

    pub fn parse(raw: &str) -> Result<Currency, String> {
        let bytes = raw.as_bytes();
        match bytes {
            [a, b, c] if bytes.iter().all(u8::is_ascii_uppercase) => Ok(Currency([*a, *b, *c])),
            _ => Err(format!(
                "{raw:?} is not a currency code; give three capital letters such as CNY or USD"
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        // `parse` admits ASCII capitals only, so the bytes are always UTF-8; "XXX" is ISO 4217's own
        // "no currency" code, never reached.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The accounting standard a book follows; it chooses the chart template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Standard {
    /// 企业会计准则 (Accounting Standards for Business Enterprises).
    Cas,
    /// 小企业会计准则 (Accounting Standards for Small Business Enterprises).
    CasSmall,
}

impl Standard {
    pub const ALL: [Standard; 2] = [Standard::Cas, Standard::CasSmall];

    pub const fn as_str(self) -> &'static str {
        match self {
            Standard::Cas => "cas",
            Standard::CasSmall => "cas-small",
        }
    }

    pub fn parse(raw: &str) -> Result<Standard, String> {
        Standard::ALL
            .into_iter()
            .find(|standard| standard.as_str() == raw)
            .ok_or_else(|| format!("{raw:?} is not a template; use \"cas\" or \"cas-small\""))
    }
}

/// What a book is, apart from its accounts and vouchers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookSettings {
    /// Unique within the organization; `{book}` in paths and `--book` take it as well as the id.
    pub name: String,
    pub base_currency: Currency,
    pub standard: Standard,
    /// The calendar month (1..=12) in which the fiscal year starts.
    pub fiscal_year_start_month: u32,
    /// When on, a voucher's reviewer must differ from its preparer (as Kingdee and U8 can enforce).
    pub segregation_of_duties: bool,
}

/// Longest book name; Kingdee's `FAccountBookID.FNumber` and U8's `company` hold about this much.
pub const BOOK_NAME_MAX: usize = 64;

impl BookSettings {
    pub fn check_name(raw: &str) -> Result<String, Reason> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(Reason::new(DetailCode::Empty, "is empty"));
        }
        if name.chars().count() > BOOK_NAME_MAX {
            return Err(Reason::new(
                DetailCode::TooLong,
                format!("is longer than {BOOK_NAME_MAX} characters"),
            )
            .with("max", BOOK_NAME_MAX));
        }
        if name.chars().any(char::is_control) {
            return Err(Reason::new(
                DetailCode::ControlCharacters,
                "contains control characters",
            ));
        }
        if name.len() == 36 && name.chars().filter(|c| *c == '-').count() == 4 {
            return Err(Reason::new(
                DetailCode::NotAllowed,
                "looks like an id; a book's name must not, because {book} takes either",
            ));
        }
        Ok(name.to_owned())
    }
}

/// Longest code of a book or a dimension value (Kingdee's `FNumber`, U8's `code`, SAF-T's IDs).
pub const CODE_MAX: usize = 30;

/// Checks a code other systems know a book or a dimension value by (Kingdee `FNumber`): ASCII letters,
/// digits, `.`, `-` and `_`, at most [`CODE_MAX`] characters — never a name, which Kingdee refuses.
pub fn check_code(raw: &str) -> Result<String, Reason> {
    let code = raw.trim();
    if code.is_empty() {
        return Err(Reason::new(DetailCode::Empty, "is empty"));
    }
    if code.chars().count() > CODE_MAX {
        return Err(Reason::new(
            DetailCode::TooLong,
            format!("is longer than {CODE_MAX} characters"),
        )
        .with("max", CODE_MAX));
    }
    if !code
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err(Reason::new(
            DetailCode::InvalidFormat,
            "a code takes ASCII letters, digits, '.', '-' and '_' only (Kingdee and U8 look master data up by code, never by name)",
        )
        .with("format", "code"));
    }
    Ok(code.to_owned())
}

/// The characters of a 统一社会信用代码 (GB 32100-2015), in the order of their values 0..=30.
const USCC_CHARACTERS: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Checks a company's 统一社会信用代码 (unified social credit code, its tax registration number): 18
/// characters of `0-9A-HJ-NPQRTUWXY` whose last is the GB 32100-2015 check character. Lower case is taken
/// as upper case.
pub fn check_tax_registration_number(raw: &str) -> Result<String, Reason> {
    let number = raw.trim().to_ascii_uppercase();
    if number.is_empty() {
        return Err(Reason::new(DetailCode::Empty, "is empty"));
    }
    let values: Option<Vec<u32>> = number
        .chars()
        .map(|c| {
            USCC_CHARACTERS
                .find(c)
                .and_then(|index| u32::try_from(index).ok())
        })
        .collect();
    let Some(values) = values.filter(|values| values.len() == 18) else {
        return Err(Reason::new(
            DetailCode::InvalidFormat,
            "a 统一社会信用代码 has 18 characters of 0-9 and A-Y without I, O, S, V and Z",
        )
        .with("format", "uscc"));
    };
    let sum: u32 = values
        .iter()
        .zip(USCC_WEIGHTS)
        .map(|(value, weight)| value * weight)
        .sum();
    let check = (31 - sum % 31) % 31;
    if values[17] != check {
        let expected = USCC_CHARACTERS
            .chars()
            .nth(usize::try_from(check).unwrap_or(0))
            .unwrap_or('0');
        return Err(Reason::new(
            DetailCode::InvalidFormat,
            format!("the check character (the 18th) does not match: the first 17 give {expected}"),
        )
        .with("format", "uscc"));
    }
    Ok(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_take_ascii_only() {
        assert_eq!(check_code(" C0001 ").unwrap(), "C0001");
        assert_eq!(check_code("01.02-a_b").unwrap(), "01.02-a_b");
        assert!(check_code("湖州优品").is_err());
        assert!(check_code("A B").is_err());
        assert!(check_code("").is_err());
        assert!(check_code(&"1".repeat(CODE_MAX + 1)).is_err());
    }

    #[test]
    fn unified_social_credit_codes_are_checked() {
        // Published examples of valid codes.
        assert_eq!(
            check_tax_registration_number("91350100M000100Y43").unwrap(),
            "91350100M000100Y43"
        );
        assert_eq!(
            check_tax_registration_number("91110000600037341l").unwrap(),
            "91110000600037341L"
        );
        let wrong = check_tax_registration_number("91350100M000100Y44").unwrap_err();
        assert!(wrong.message.contains("give 3"), "{}", wrong.message);
        assert!(check_tax_registration_number("9135010").is_err());
        assert!(check_tax_registration_number("91350100M000100I43").is_err());
    }
}
