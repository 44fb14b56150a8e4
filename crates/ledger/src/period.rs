//! Accounting periods: calendar months, written `2026-10`. A book's fiscal year may start in any month;
//! the fiscal year and period number (Kingdee's `FYEAR`/`FPERIOD`, U8's `fiscal_year`/`accounting_period`)
//! are derived from the calendar month and the book's first fiscal month.

use std::fmt;

use chrono::{Datelike, NaiveDate};

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    year: i32,
    month: u32,
}

impl Period {
    pub fn new(year: i32, month: u32) -> Option<Period> {
        ((1..=12).contains(&month) && (1900..=9999).contains(&year))
            .then_some(Period { year, month })
    }

    /// Parses `YYYY-MM`.
    pub fn parse(raw: &str) -> Result<Period, String> {
        let bad = || format!("{raw:?} is not a period; write it as YYYY-MM, e.g. 2026-10");
        let (year, month) = raw.trim().split_once('-').ok_or_else(bad)?;
        if year.len() != 4 || month.len() != 2 {
            return Err(bad());
        }
        let year: i32 = year.parse().map_err(|_| bad())?;
        let month: u32 = month.parse().map_err(|_| bad())?;
        Period::new(year, month).ok_or_else(bad)
    }

    pub fn of(date: NaiveDate) -> Period {
        Period {
            year: date.year(),
            month: date.month(),
        }
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u32 {
        self.month
    }

    /// `202610`: the integer form stored and indexed.
    pub fn key(self) -> i64 {
        i64::from(self.year) * 100 + i64::from(self.month)
    }

    pub fn from_key(key: i64) -> Option<Period> {
        let year = i32::try_from(key / 100).ok()?;
        let month = u32::try_from(key % 100).ok()?;
        Period::new(year, month)
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN)
    }

    pub fn last_day(self) -> NaiveDate {
        self.next().first_day().pred_opt().unwrap_or(NaiveDate::MAX)
    }

    pub fn next(self) -> Period {
        if self.month == 12 {
            Period {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Period {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn previous(self) -> Option<Period> {
        if self.month == 1 {
            Period::new(self.year - 1, 12)
        } else {
            Period::new(self.year, self.month - 1)
        }
    }

    /// Fiscal year and period number (1..=12) when the fiscal year starts in `first_month`.
    /// The fiscal year is named after the calendar year in which it starts.
    pub fn fiscal(self, first_month: u32) -> (i32, u32) {
        let first_month = first_month.clamp(1, 12);
        if self.month >= first_month {
            (self.year, self.month - first_month + 1)
        } else {
            (self.year - 1, self.month + 13 - first_month)
        }
    }

    /// The inverse of [`Period::fiscal`].
    pub fn from_fiscal(fiscal_year: i32, number: u32, first_month: u32) -> Option<Period> {
        if !(1..=12).contains(&number) {
            return None;
        }
        let first_month = first_month.clamp(1, 12);
        let month0 = first_month - 1 + number - 1;
        Period::new(
            fiscal_year + i32::try_from(month0 / 12).ok()?,
            month0 % 12 + 1,
        )
    }

    /// Every period from `self` to `to`, both included (empty when `to` is earlier).
    pub fn through(self, to: Period) -> Vec<Period> {
        let mut periods = Vec::new();
        let mut period = self;
        while period <= to && periods.len() < 1200 {
            periods.push(period);
            period = period.next();
        }
        periods
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prints_and_orders() {
        let october = Period::parse("2026-10").unwrap();
        assert_eq!(october.to_string(), "2026-10");
        assert_eq!(october.key(), 202_610);
        assert_eq!(Period::from_key(202_610), Some(october));
        assert!(Period::parse("2026-13").is_err());
        assert!(Period::parse("2026/10").is_err());
        assert!(october < october.next());
        assert_eq!(
            Period::parse("2026-12").unwrap().next().to_string(),
            "2027-01"
        );
        assert_eq!(october.last_day().to_string(), "2026-10-31");
        assert_eq!(october.previous(), Period::new(2026, 9));
        assert_eq!(
            Period::parse("2026-01").unwrap().previous(),
            Period::new(2025, 12)
        );
    }

    #[test]
    fn fiscal_numbering_follows_the_first_month() {
        let october = Period::parse("2026-10").unwrap();
        assert_eq!(october.fiscal(1), (2026, 10));
        assert_eq!(october.fiscal(4), (2026, 7));
        assert_eq!(Period::parse("2027-02").unwrap().fiscal(4), (2026, 11));
        for first in 1..=12 {
            let (year, number) = october.fiscal(first);
            assert_eq!(Period::from_fiscal(year, number, first), Some(october));
        }
    }
}
