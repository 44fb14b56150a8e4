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
