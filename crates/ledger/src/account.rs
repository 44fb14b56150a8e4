//! The chart of accounts: hierarchical codes (a first-level code of four digits, then two digits per
//! level: `6602` → `660201` → `66020101`), kinds, balance directions, roles, required dimensions,
//! quantity units and the SAF-T grouping of each account.
//!
//! Lines post to leaf accounts only: an account without sub-accounts. Roles (`AR`, `BANK`, …) name what an
//! account is for, so that rules and vendor mappings refer to roles, not to codes that differ between
//! vendors (Kingdee `6603.04` vs U8 `660304`).

use std::collections::BTreeMap;
use std::fmt;

use tenon_model::{Checker, DetailCode, FieldError, Invalid, Reason};

/// A canonical account code: digits only, 4 + 2·k long (k ≤ 4).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountCode(String);

/// Deepest level of the chart (4 + 2 + 2 + 2 + 2 digits).
pub const ACCOUNT_CODE_LEN_MAX: usize = 12;

impl AccountCode {
    pub fn parse(raw: &str) -> Result<AccountCode, String> {
        let code = raw.trim();
        let shaped = code.len() >= 4
            && code.len() <= ACCOUNT_CODE_LEN_MAX
            && code.len().is_multiple_of(2)
            && code.bytes().all(|b| b.is_ascii_digit());
        if shaped {
            Ok(AccountCode(code.to_owned()))
        } else {
            Err(format!(
                "{raw:?} is not an account code; codes are digits, four for a first-level account and two more \
                 per level (1122, 112201, 11220101)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// 1 for a first-level account.
    pub fn level(&self) -> usize {
        (self.0.len() - 4) / 2 + 1
    }

    pub fn parent(&self) -> Option<AccountCode> {
        (self.0.len() > 4).then(|| AccountCode(self.0[..self.0.len() - 2].to_owned()))
    }

    /// The first-level ancestor (itself for a first-level account).
    pub fn first_level(&self) -> AccountCode {
        AccountCode(self.0[..4].to_owned())
    }

    /// Kingdee's form: levels separated by dots (`660304` → `6603.04`).
    pub fn dotted(&self) -> String {
        let mut out = self.0[..4].to_owned();
        let mut rest = &self.0[4..];
        while rest.len() >= 2 {
            out.push('.');
            out.push_str(&rest[..2]);
            rest = &rest[2..];
        }
        out
    }

    /// Parses the dotted form too.
    pub fn parse_dotted(raw: &str) -> Result<AccountCode, String> {
        let parts: Vec<&str> = raw.trim().split('.').collect();
        let shaped = parts.first().is_some_and(|first| first.len() == 4)
            && parts.iter().skip(1).all(|part| part.len() == 2);
        if !shaped {
            return Err(format!(
                "{raw:?} is not a dotted account number (4 digits, then 2 per level)"
            ));
        }
        AccountCode::parse(&parts.concat())
    }
}

impl fmt::Display for AccountCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountKind {
    Asset,
    Liability,
    /// 共同类: clearing accounts that can carry either balance.
    Common,
    Equity,
    Cost,
    Income,
    Expense,
}

impl AccountKind {
    pub const ALL: [AccountKind; 7] = [
        AccountKind::Asset,
        AccountKind::Liability,
        AccountKind::Common,
        AccountKind::Equity,
        AccountKind::Cost,
        AccountKind::Income,
        AccountKind::Expense,
    ];
    pub const fn as_str(self) -> &'static str {
        match self {
            AccountKind::Asset => "asset",
            AccountKind::Liability => "liability",
            AccountKind::Common => "common",
            AccountKind::Equity => "equity",
            AccountKind::Cost => "cost",
            AccountKind::Income => "income",
            AccountKind::Expense => "expense",
        }
    }
    pub fn parse(raw: &str) -> Result<AccountKind, String> {
        AccountKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == raw)
            .ok_or_else(|| {
                format!("{raw:?} is not an account kind; use asset, liability, common, equity, cost, income or expense")
            })
    }
}

/// The side on which an account's balance normally stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    Debit,
    Credit,
}

impl Direction {
    pub const fn as_str(self) -> &'static str {
        match self {
            Direction::Debit => "debit",
            Direction::Credit => "credit",
        }
    }
    pub fn parse(raw: &str) -> Result<Direction, String> {
        match raw {
            "debit" => Ok(Direction::Debit),
            "credit" => Ok(Direction::Credit),
            other => Err(format!("{other:?} is not a direction; use debit or credit")),
        }
    }
}

/// An auxiliary accounting dimension (辅助核算).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dimension {
    Customer,
    Supplier,
    Department,
    Employee,
    Project,
    /// An inventory item.
    Item,
}

impl Dimension {
    pub const ALL: [Dimension; 6] = [
        Dimension::Customer,
        Dimension::Supplier,
        Dimension::Department,
        Dimension::Employee,
        Dimension::Project,
        Dimension::Item,
    ];
    pub const fn as_str(self) -> &'static str {
        match self {
            Dimension::Customer => "customer",
            Dimension::Supplier => "supplier",
            Dimension::Department => "department",
            Dimension::Employee => "employee",
            Dimension::Project => "project",
            Dimension::Item => "item",
        }
    }
    /// The letter of the codes Tenon gives this dimension's values on first use: `C0001` (customer),
    /// `S0001` (supplier), `D0001` (department), `E0001` (employee), `P0001` (project), `I0001` (item).
    pub const fn code_prefix(self) -> &'static str {
        match self {
            Dimension::Customer => "C",
            Dimension::Supplier => "S",
            Dimension::Department => "D",
            Dimension::Employee => "E",
            Dimension::Project => "P",
            Dimension::Item => "I",
        }
    }

    /// The next free code of this dimension: its prefix and one more than the highest number among the
    /// `taken` codes of the form prefix + digits, at least four digits wide (`C0001`, …, `C10000`).
    pub fn next_code<'a>(self, taken: impl IntoIterator<Item = &'a str>) -> String {
        let prefix = self.code_prefix();
        let highest = taken
            .into_iter()
            .filter_map(|code| code.strip_prefix(prefix))
            .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .filter_map(|digits| digits.parse::<u64>().ok())
            .max()
            .unwrap_or(0);
        format!("{prefix}{:04}", highest.saturating_add(1))
    }

    pub fn parse(raw: &str) -> Result<Dimension, String> {
        Dimension::ALL
            .into_iter()
            .find(|dimension| dimension.as_str() == raw)
            .ok_or_else(|| {
                format!(
                    "{raw:?} is not a dimension; use customer, supplier, department, employee, project or item"
                )
            })
    }
}

/// Longest dimension value: SAF-T's `CustomerID`/`SupplierID` (`SAFmiddle1textType`).
pub const DIMENSION_VALUE_MAX: usize = 35;

/// Checks a dimension value (a customer's code or name as the voucher names it).
pub fn check_dimension_value(raw: &str) -> Result<String, Reason> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(Reason::new(DetailCode::Empty, "is empty"));
    }
    if value.chars().count() > DIMENSION_VALUE_MAX {
        return Err(Reason::new(
            DetailCode::TooLong,
            format!("is longer than {DIMENSION_VALUE_MAX} characters"),
        )
        .with("max", DIMENSION_VALUE_MAX));
    }
    if value.chars().any(char::is_control) {
        return Err(Reason::new(
            DetailCode::ControlCharacters,
            "contains control characters",
        ));
    }
    Ok(value.to_owned())
}

/// A stable name for what an account is for: `AR`, `BANK`, `REVENUE`, `VAT_OUTPUT`…
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Role(String);

impl Role {
    pub fn parse(raw: &str) -> Result<Role, String> {
        let ok = !raw.is_empty()
            && raw.len() <= 32
            && raw
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            && raw.as_bytes()[0].is_ascii_uppercase();
        if ok {
            Ok(Role(raw.to_owned()))
        } else {
            Err(format!(
                "{raw:?} is not a role; roles are capital letters, digits and _, such as AR or VAT_OUTPUT"
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One account of a book's chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub code: AccountCode,
    pub name: String,
    pub kind: AccountKind,
    pub direction: Direction,
    pub role: Option<Role>,
    /// Dimensions every line on this account must name.
    pub dimensions: Vec<Dimension>,
    /// The unit when the account keeps quantities (库存商品: 件); lines may then carry quantity and price.
    pub quantity_unit: Option<String>,
    /// SAF-T 1.30 `GroupingCategory`.
    pub grouping_category: String,
    /// SAF-T 1.30 `GroupingCode`.
    pub grouping_code: String,
}

/// Longest account name (Kingdee and U8 allow about 80 characters).
pub const ACCOUNT_NAME_MAX: usize = 80;

impl Account {
    /// Checks the fields that do not depend on the rest of the chart.
    pub fn check(&self) -> Result<(), Invalid> {
        let mut check = Checker::default();
        let name_chars = self.name.chars().count();
        if self.name.trim().is_empty() || name_chars > ACCOUNT_NAME_MAX {
            check.add(
                length_reason(
                    &self.name,
                    ACCOUNT_NAME_MAX,
                    format!("must be 1 to {ACCOUNT_NAME_MAX} characters"),
                )
                .at("name"),
            );
        }
        if self.grouping_category.chars().count() > 256 || self.grouping_category.trim().is_empty()
        {
            check.add(
                length_reason(
                    &self.grouping_category,
                    256,
                    "must be 1 to 256 characters (SAF-T GroupingCategory)",
                )
                .at("grouping_category"),
            );
        }
        if self.grouping_code.chars().count() > 35 || self.grouping_code.trim().is_empty() {
            check.add(
                length_reason(
                    &self.grouping_code,
                    35,
                    "must be 1 to 35 characters (SAF-T GroupingCode)",
                )
                .at("grouping_code"),
            );
        }
        let mut seen = self.dimensions.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != self.dimensions.len() {
            check.push(
                "dimensions",
                DetailCode::Duplicate,
                "names a dimension twice",
            );
        }
        if let Some(unit) = &self.quantity_unit
            && (unit.trim().is_empty() || unit.chars().count() > 9)
        {
            check.add(length_reason(unit, 9, "must be 1 to 9 characters").at("quantity_unit"));
        }
        check.finish()
    }
}

/// `empty` when the text is blank, else `too_long` past `max` characters; `message` says both.
fn length_reason(text: &str, max: usize, message: impl Into<String>) -> Reason {
    if text.trim().is_empty() {
        Reason::new(DetailCode::Empty, message)
    } else {
        Reason::new(DetailCode::TooLong, message).with("max", max)
    }
}

/// A book's chart: accounts by code, with the hierarchy checked on every insert.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chart {
    accounts: BTreeMap<AccountCode, Account>,
}

impl Chart {
    pub fn new() -> Chart {
        Chart::default()
    }

    /// Builds a chart from accounts in any order (parents are inserted before children).
    pub fn from_accounts(accounts: impl IntoIterator<Item = Account>) -> Result<Chart, Invalid> {
        let mut sorted: Vec<Account> = accounts.into_iter().collect();
        sorted.sort_by(|a, b| a.code.cmp(&b.code));
        let mut chart = Chart::new();
        for account in sorted {
            let code = account.code.clone();
            chart.insert(account).map_err(|invalid| {
                Invalid(
                    invalid
                        .0
                        .into_iter()
                        .map(|error| {
                            let field = format!("accounts[{code}].{}", error.field);
                            error.at(field)
                        })
                        .collect(),
                )
            })?;
        }
        Ok(chart)
    }

    /// Checks a new account against the chart: unique code, existing parent of the same kind, and a parent
    /// that is not used by lines (the caller checks that; see [`Chart::can_add_child`]).
    pub fn check_new(&self, account: &Account) -> Result<(), Invalid> {
        account.check()?;
        if self.accounts.contains_key(&account.code) {
            return Err(Invalid::one(
                "code",
                DetailCode::NotUnique,
                format!("account {} already exists", account.code),
            ));
        }
        if let Some(parent) = account.code.parent() {
            let Some(parent_account) = self.accounts.get(&parent) else {
                return Err(FieldError::new(
                    "code",
                    DetailCode::ParentMissing,
                    format!("the parent account {parent} does not exist; create it first"),
                )
                .with("parent", parent.to_string())
                .into());
            };
            if parent_account.kind != account.kind {
                return Err(FieldError::new(
                    "kind",
                    DetailCode::KindMismatch,
                    format!(
                        "a sub-account has its parent's kind ({} for {parent})",
                        parent_account.kind.as_str()
                    ),
                )
                .with("kind", parent_account.kind.as_str())
                .with("parent", parent.to_string())
                .into());
            }
        }
        if let Some(role) = &account.role
            && let Some(holder) = self.by_role(role)
        {
            return Err(FieldError::new(
                "role",
                DetailCode::RoleTaken,
                format!(
                    "role {} is already held by account {}",
                    role.as_str(),
                    holder.code
                ),
            )
            .with("role", role.as_str())
            .with("account", holder.code.to_string())
            .into());
        }
        Ok(())
    }

    pub fn insert(&mut self, account: Account) -> Result<(), Invalid> {
        self.check_new(&account)?;
        self.accounts.insert(account.code.clone(), account);
        Ok(())
    }

    pub fn get(&self, code: &AccountCode) -> Option<&Account> {
        self.accounts.get(code)
    }

    pub fn is_leaf(&self, code: &AccountCode) -> bool {
        self.accounts.contains_key(code) && !self.has_children(code)
    }

    pub fn has_children(&self, code: &AccountCode) -> bool {
        self.accounts
            .range(code.clone()..)
            .nth(1)
            .is_some_and(|(next, _)| next.as_str().starts_with(code.as_str()))
    }

    /// The leaf accounts at or under `code`, in code order (empty when `code` is not in the chart).
    pub fn leaves_under(&self, code: &AccountCode) -> Vec<AccountCode> {
        self.accounts
            .range(code.clone()..)
            .take_while(|(next, _)| next.as_str().starts_with(code.as_str()))
            .filter(|(next, _)| !self.has_children(next))
            .map(|(next, _)| next.clone())
            .collect()
    }

    /// The account holding `role`.
    pub fn by_role(&self, role: &Role) -> Option<&Account> {
        self.accounts
            .values()
            .find(|account| account.role.as_ref() == Some(role))
    }

    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }

    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn next_codes_follow_the_highest_number_of_the_prefix() {
        assert_eq!(Dimension::Customer.next_code([]), "C0001");
        assert_eq!(
            Dimension::Customer.next_code(["C0007", "C0002", "S0100", "C12x", "CX", "C"]),
            "C0008"
        );
        assert_eq!(Dimension::Supplier.next_code(["S9999"]), "S10000");
        assert_eq!(Dimension::Employee.next_code(["C0003"]), "E0001");
    }
    use super::*;

    #[test]
    fn codes_nest_by_two_digits_and_print_dotted_for_kingdee() {
        let code = AccountCode::parse("660304").unwrap();
        assert_eq!(code.level(), 2);
        assert_eq!(code.parent().unwrap().as_str(), "6603");
        assert_eq!(code.dotted(), "6603.04");
        assert_eq!(AccountCode::parse_dotted("6603.04").unwrap(), code);
        assert!(AccountCode::parse("66030").is_err());
        assert!(AccountCode::parse("66a3").is_err());
        assert!(AccountCode::parse_dotted("660.304").is_err());
    }
}
