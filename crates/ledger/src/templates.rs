//! Chart templates for the two Chinese standards: the regulation's first-level accounts (and the VAT
//! sub-accounts the shipped rules need), with kinds, directions, roles, required dimensions and a
//! documented default SAF-T grouping.
//!
//! The data lives in `templates/cas.tsv` and `templates/cas_small.tsv`, authored for Tenon from the
//! regulations' account lists. SAF-T grouping default: `GroupingCategory` names the standard
//! (`CAS-2006` or `CAS-SMALL-2013`) and `GroupingCode` is the account's first-level code, so a SAF-T
//! reader can map Chinese accounts to its own codelist by first-level code. An import keeps a file's own
//! grouping.

use crate::account::{Account, AccountCode, AccountKind, Chart, Dimension, Direction, Role};
use crate::book::Standard;

const CAS: &str = include_str!("templates/cas.tsv");
const CAS_SMALL: &str = include_str!("templates/cas_small.tsv");

/// The SAF-T `GroupingCategory` a template's accounts carry.
pub fn grouping_category(standard: Standard) -> &'static str {
    match standard {
        Standard::Cas => "CAS-2006",
        Standard::CasSmall => "CAS-SMALL-2013",
    }
}

/// The accounts of a template, parents before children.
pub fn accounts(standard: Standard) -> Result<Vec<Account>, String> {
    let text = match standard {
        Standard::Cas => CAS,
        Standard::CasSmall => CAS_SMALL,
    };
    let mut accounts = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let at =
            |error: String| format!("template {} line {}: {error}", standard.as_str(), index + 1);
        let fields: Vec<&str> = line.split('\t').collect();
        let [code, name, kind, direction, role, dimensions, unit] = fields.as_slice() else {
            return Err(at(format!("expected 7 columns, found {}", fields.len())));
        };
        let code = AccountCode::parse(code).map_err(at)?;
        let dimensions = if *dimensions == "-" {
            Vec::new()
        } else {
            dimensions
                .split(',')
                .map(Dimension::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(at)?
        };
        accounts.push(Account {
            grouping_category: grouping_category(standard).to_owned(),
            grouping_code: code.first_level().as_str().to_owned(),
            code,
            name: (*name).to_owned(),
            kind: AccountKind::parse(kind).map_err(at)?,
            direction: Direction::parse(direction).map_err(at)?,
            role: (*role != "-")
                .then(|| Role::parse(role))
                .transpose()
                .map_err(at)?,
            dimensions,
            quantity_unit: (*unit != "-").then(|| (*unit).to_owned()),
        });
    }
    Ok(accounts)
}

/// The template as a chart.
pub fn chart(standard: Standard) -> Result<Chart, String> {
    Chart::from_accounts(accounts(standard)?).map_err(|invalid| invalid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cas_template_has_the_regulation_accounts_and_the_rule_roles() {
        let chart = chart(Standard::Cas).unwrap();
        assert_eq!(chart.len(), 156 + 3 + 6);
        for (code, name) in [
            ("1001", "库存现金"),
            ("1002", "银行存款"),
            ("1122", "应收账款"),
            ("2202", "应付账款"),
            ("2221", "应交税费"),
            ("6001", "主营业务收入"),
            ("6602", "管理费用"),
            ("6403", "税金及附加"),
        ] {
            let account = chart.get(&AccountCode::parse(code).unwrap()).unwrap();
            assert_eq!(account.name, name);
        }
        for role in [
            "AR",
            "BANK",
            "REVENUE",
            "VAT_OUTPUT",
            "ADMIN_EXPENSE",
            "OTHER_PAYABLE",
        ] {
            let account = chart.by_role(&Role::parse(role).unwrap()).unwrap();
            assert!(chart.is_leaf(&account.code), "{role} is not a leaf");
        }
        for (role, code) in [
            ("ADVANCE_RECEIPT", "2203"),
            ("COST_OF_SALES", "6401"),
            ("VAT_OUTPUT", "22210102"),
            ("OTHER_MONEY", "1012"),
            ("OTHER_COST", "6402"),
        ] {
            let account = chart.by_role(&Role::parse(role).unwrap()).unwrap();
            assert_eq!(account.code.as_str(), code, "{role}");
        }
        assert!(!chart.is_leaf(&AccountCode::parse("2221").unwrap()));
        let ar = chart.get(&AccountCode::parse("1122").unwrap()).unwrap();
        assert_eq!(ar.dimensions, vec![Dimension::Customer]);
        assert_eq!(
            (ar.grouping_category.as_str(), ar.grouping_code.as_str()),
            ("CAS-2006", "1122")
        );
    }

    #[test]
    fn small_business_template_maps_the_same_roles_to_its_own_codes() {
        let chart = chart(Standard::CasSmall).unwrap();
        assert_eq!(chart.len(), 66 + 3 + 5);
        let revenue = chart.by_role(&Role::parse("REVENUE").unwrap()).unwrap();
        assert_eq!(
            (revenue.code.as_str(), revenue.name.as_str()),
            ("5001", "主营业务收入")
        );
        let admin = chart
            .by_role(&Role::parse("ADMIN_EXPENSE").unwrap())
            .unwrap();
        assert_eq!(admin.code.as_str(), "5602");
        for (role, code) in [
            ("ADVANCE_RECEIPT", "2203"),
            ("COST_OF_SALES", "5401"),
            ("VAT_OUTPUT", "22210102"),
            ("OTHER_MONEY", "1012"),
            ("OTHER_COST", "5402"),
        ] {
            let account = chart.by_role(&Role::parse(role).unwrap()).unwrap();
            assert_eq!(account.code.as_str(), code, "{role}");
        }
    }
}
