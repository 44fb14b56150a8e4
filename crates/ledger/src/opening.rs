//! Opening balances (期初余额): what a book brings from before its first period — per leaf account, and
//! per dimension value where the account requires dimensions — on the debit or the credit side, with the
//! original amount of foreign-currency balances and the quantity of quantity accounts.
//!
//! [`check_openings`] is the gate every set given through the API passes: each entry on its own, no
//! entry twice, and debits equal to credits (as Kingdee refuses to end initialisation while the opening
//! trial balance is off). An import is a migration and keeps a file's openings as written: it checks the
//! entries but reports an imbalance as a warning ([`unbalanced`]) instead of refusing it.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use tenon_model::{Checker, DetailCode, FieldError, Invalid, Reason};

use crate::account::{AccountCode, Chart, Dimension, check_dimension_value};
use crate::balance::Sums;
use crate::book::{BookSettings, Currency};
use crate::money::{self, AMOUNT_SCALE, QUANTITY_SCALE};
use crate::period::Period;

/// Most entries one set may hold.
pub const OPENINGS_MAX: usize = 50_000;

/// One opening balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    pub account: AccountCode,
    /// Values of the account's dimensions (empty for an account without dimensions).
    pub dimensions: BTreeMap<Dimension, String>,
    /// Base-currency debit balance; zero when the balance is on the credit side.
    pub debit: Decimal,
    pub credit: Decimal,
    /// `None` for the base currency.
    pub currency: Option<Currency>,
    /// The balance in `currency` (positive, on the same side as the base amount).
    pub original_amount: Option<Decimal>,
    /// For accounts that keep quantities.
    pub quantity: Option<Decimal>,
}

impl Opening {
    /// A base-currency balance without dimensions.
    pub fn simple(account: AccountCode, debit: Decimal, credit: Decimal) -> Opening {
        Opening {
            account,
            dimensions: BTreeMap::new(),
            debit: money::rescaled(debit, AMOUNT_SCALE),
            credit: money::rescaled(credit, AMOUNT_SCALE),
            currency: None,
            original_amount: None,
            quantity: None,
        }
    }

    pub fn net(&self) -> Decimal {
        self.debit - self.credit
    }

    /// The key that makes an entry unique in a set: the account and its dimension values.
    pub fn key(&self) -> String {
        let mut key = self.account.as_str().to_owned();
        for (dimension, value) in &self.dimensions {
            key.push('|');
            key.push_str(dimension.as_str());
            key.push('=');
            key.push_str(value);
        }
        key
    }
}

/// A book's opening balances: the period they open and the entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Openings {
    /// The first period the book keeps; the balances are its opening.
    pub period: Period,
    pub balances: Vec<Opening>,
}

impl Openings {
    pub fn totals(&self) -> Sums {
        totals(&self.balances)
    }

    pub fn is_balanced(&self) -> bool {
        let sums = self.totals();
        sums.debit == sums.credit
    }

    /// Sums per leaf account.
    pub fn by_account(&self) -> BTreeMap<AccountCode, Sums> {
        let mut sums: BTreeMap<AccountCode, Sums> = BTreeMap::new();
        for opening in &self.balances {
            sums.entry(opening.account.clone()).or_default().add(Sums {
                debit: opening.debit,
                credit: opening.credit,
            });
        }
        sums
    }
}

/// Debit and credit totals of a set.
pub fn totals(balances: &[Opening]) -> Sums {
    let mut sums = Sums::default();
    for opening in balances {
        sums.add(Sums {
            debit: opening.debit,
            credit: opening.credit,
        });
    }
    Sums {
        debit: money::rescaled(sums.debit, AMOUNT_SCALE),
        credit: money::rescaled(sums.credit, AMOUNT_SCALE),
    }
}

/// The refusal of a set whose debits and credits differ, naming the accounts on each side; `None` when it
/// balances.
pub fn unbalanced(balances: &[Opening], field: &str) -> Option<FieldError> {
    let sums = totals(balances);
    if sums.debit == sums.credit {
        return None;
    }
    let side = |debit: bool| -> Vec<String> {
        balances
            .iter()
            .filter(|o| {
                if debit {
                    !o.debit.is_zero()
                } else {
                    !o.credit.is_zero()
                }
            })
            .map(|o| o.account.to_string())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let (debit_accounts, credit_accounts) = (side(true), side(false));
    Some(
        FieldError::new(
            field,
            DetailCode::OpeningsUnbalanced,
            format!(
                "the opening balances do not balance: debits {} ({}) ≠ credits {} ({}); difference {}",
                money::amount_text(sums.debit),
                list_or_none(&debit_accounts),
                money::amount_text(sums.credit),
                list_or_none(&credit_accounts),
                money::amount_text(sums.debit - sums.credit)
            ),
        )
        .with("debit", money::amount_text(sums.debit))
        .with("credit", money::amount_text(sums.credit))
        .with("difference", money::amount_text(sums.debit - sums.credit))
        .with("debit_accounts", debit_accounts)
        .with("credit_accounts", credit_accounts),
    )
}

fn list_or_none(accounts: &[String]) -> String {
    if accounts.is_empty() {
        "none".to_owned()
    } else {
        accounts.join(", ")
    }
}

/// Checks every entry against the book and its chart and refuses duplicates; with `require_balanced`
/// (the API) also a set whose debits and credits differ. Field paths are `balances[i].…`.
pub fn check_openings(
    book: &BookSettings,
    chart: &Chart,
    balances: &[Opening],
    require_balanced: bool,
) -> Result<(), Invalid> {
    let mut check = Checker::default();
    if balances.len() > OPENINGS_MAX {
        check.add(
            Reason::too_many(
                OPENINGS_MAX,
                format!("a book has at most {OPENINGS_MAX} opening balances"),
            )
            .at("balances"),
        );
        return check.finish();
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (index, opening) in balances.iter().enumerate() {
        let at = format!("balances[{index}]");
        check_one(book, chart, opening, &at, &mut check);
        if let Some(first) = seen.insert(opening.key(), index) {
            check.add(
                Reason::new(
                    DetailCode::Duplicate,
                    format!(
                        "account {} with these dimension values is also balances[{first}]; give one balance per account and dimension values",
                        opening.account
                    ),
                )
                .at(at.clone()),
            );
        }
    }
    if check.is_clean()
        && require_balanced
        && let Some(error) = unbalanced(balances, "balances")
    {
        check.add(error);
    }
    check.finish()
}

fn check_one(book: &BookSettings, chart: &Chart, opening: &Opening, at: &str, check: &mut Checker) {
    match chart.get(&opening.account) {
        None => check.add(
            Reason::not_found(
                "account",
                format!("account {} does not exist in this book", opening.account),
            )
            .at(format!("{at}.account")),
        ),
        Some(_) if !chart.is_leaf(&opening.account) => check.add(
            FieldError::new(
                format!("{at}.account"),
                DetailCode::NotLeafAccount,
                format!(
                    "account {} has sub-accounts; give the balance of each of them",
                    opening.account
                ),
            )
            .with("account", opening.account.to_string()),
        ),
        Some(account) => {
            for dimension in &account.dimensions {
                if !opening.dimensions.contains_key(dimension) {
                    check.add(
                        FieldError::new(
                            format!("{at}.dimensions.{}", dimension.as_str()),
                            DetailCode::DimensionRequired,
                            format!(
                                "account {} requires the {} dimension",
                                account.code,
                                dimension.as_str()
                            ),
                        )
                        .with("account", account.code.to_string())
                        .with("dimension", dimension.as_str()),
                    );
                }
            }
            if account.quantity_unit.is_none() && opening.quantity.is_some() {
                check.add(
                    FieldError::new(
                        format!("{at}.quantity"),
                        DetailCode::NoQuantities,
                        format!("account {} does not keep quantities", account.code),
                    )
                    .with("account", account.code.to_string()),
                );
            }
        }
    }
    for (dimension, value) in &opening.dimensions {
        if let Err(reason) = check_dimension_value(value) {
            check.add(reason.at(format!("{at}.dimensions.{}", dimension.as_str())));
        }
    }
    for (field, value, scale) in [
        ("debit", Some(opening.debit), AMOUNT_SCALE),
        ("credit", Some(opening.credit), AMOUNT_SCALE),
        ("original_amount", opening.original_amount, AMOUNT_SCALE),
        ("quantity", opening.quantity, QUANTITY_SCALE),
    ] {
        let Some(value) = value else { continue };
        if money::parse_scaled(&value.to_string(), scale).is_err() {
            check.add(
                FieldError::new(
                    format!("{at}.{field}"),
                    DetailCode::TooPrecise,
                    format!("{value} is out of range or has more than {scale} fraction digits"),
                )
                .with("scale", scale),
            );
        } else if field != "quantity" && value < Decimal::ZERO {
            check.add(
                FieldError::new(
                    format!("{at}.{field}"),
                    DetailCode::TooSmall,
                    "must not be negative; a balance on the other side is given on the other side",
                )
                .with("min", "0"),
            );
        }
    }
    if !opening.debit.is_zero() && !opening.credit.is_zero() {
        check.push(
            format!("{at}.credit"),
            DetailCode::BothSides,
            "a balance is on the debit or on the credit side, not both",
        );
    }
    match opening.currency {
        Some(currency) if currency == book.base_currency => check.push(
            format!("{at}.currency"),
            DetailCode::BaseCurrency,
            "omit the currency for base-currency balances",
        ),
        Some(currency) if opening.original_amount.is_none() => check.add(
            FieldError::new(
                format!("{at}.original_amount"),
                DetailCode::ExchangeRequired,
                format!("a {currency} balance needs original_amount"),
            )
            .with("currency", currency.to_string()),
        ),
        None if opening.original_amount.is_some() => check.push(
            format!("{at}.currency"),
            DetailCode::Required,
            "original_amount needs a foreign currency",
        ),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::Standard;

    fn book() -> BookSettings {
        BookSettings {
            name: "t".to_owned(),
            base_currency: Currency::CNY,
            standard: Standard::Cas,
            fiscal_year_start_month: 1,
            segregation_of_duties: false,
        }
    }

    fn chart() -> Chart {
        Chart::from_accounts(crate::templates::accounts(Standard::Cas).unwrap()).unwrap()
    }

    fn code(raw: &str) -> AccountCode {
        AccountCode::parse(raw).unwrap()
    }

    #[test]
    fn a_balanced_set_passes_and_an_unbalanced_one_names_both_sides() {
        let d = Decimal::new(100_000, 2);
        let set = vec![
            Opening::simple(code("1002"), d, Decimal::ZERO),
            Opening::simple(code("4001"), Decimal::ZERO, d),
        ];
        check_openings(&book(), &chart(), &set, true).unwrap();
        let short = vec![
            set[0].clone(),
            Opening::simple(code("4001"), Decimal::ZERO, Decimal::new(90_000, 2)),
        ];
        let refused = check_openings(&book(), &chart(), &short, true).unwrap_err();
        let error = &refused.0[0];
        assert_eq!(error.code, DetailCode::OpeningsUnbalanced);
        assert_eq!(error.params["difference"], "100.00");
        assert_eq!(error.params["debit_accounts"], serde_json::json!(["1002"]));
        assert_eq!(error.params["credit_accounts"], serde_json::json!(["4001"]));
        // An import keeps the set and only learns of the difference.
        check_openings(&book(), &chart(), &short, false).unwrap();
        assert!(unbalanced(&short, "balances").is_some());
    }

    #[test]
    fn entries_are_checked_one_by_one() {
        let mut no_customer = Opening::simple(code("1122"), Decimal::ONE, Decimal::ZERO);
        let parent = Opening::simple(code("4104"), Decimal::ZERO, Decimal::ONE);
        let unknown = Opening::simple(code("9999"), Decimal::ONE, Decimal::ZERO);
        let both = Opening::simple(code("1001"), Decimal::ONE, Decimal::ONE);
        let refused = check_openings(
            &book(),
            &chart(),
            &[no_customer.clone(), parent, unknown, both],
            true,
        )
        .unwrap_err();
        let codes: Vec<_> = refused
            .0
            .iter()
            .map(|e| (e.field.clone(), e.code))
            .collect();
        assert!(codes.contains(&(
            "balances[0].dimensions.customer".to_owned(),
            DetailCode::DimensionRequired
        )));
        assert!(codes.contains(&("balances[1].account".to_owned(), DetailCode::NotLeafAccount)));
        assert!(codes.contains(&("balances[2].account".to_owned(), DetailCode::NotFound)));
        assert!(codes.contains(&("balances[3].credit".to_owned(), DetailCode::BothSides)));
        no_customer
            .dimensions
            .insert(Dimension::Customer, "C001".to_owned());
        let twice = check_openings(
            &book(),
            &chart(),
            &[no_customer.clone(), no_customer],
            false,
        )
        .unwrap_err();
        assert_eq!(twice.0[0].code, DetailCode::Duplicate);
    }
}
