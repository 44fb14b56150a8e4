//! Publish checks of the outside steps (`http`, `robot`, `sms`, `email`, `kingdee_voucher`,
//! `yonyou_voucher`): their own options and
//! templates, the formulas giving phone numbers, addresses and template parameters. Whether the
//! connection they name exists, and is of the right kind, is checked where the organization's
//! connections are known (the store's publish).

use tenon_model::DetailCode;

use super::{Action, Compiler};
use crate::definition::Step;
use crate::scope::check_template;
use crate::sms::{Params, ParamsDefinition, SmsSpec, SmsStep};

impl Compiler<'_> {
    /// A value written as a formula (text), a number, a boolean or null, as formula source.
    pub(super) fn source(&mut self, at: &str, value: &serde_json::Value) -> Option<String> {
        match value {
            serde_json::Value::String(text) => Some(text.clone()),
            serde_json::Value::Bool(true) => Some("TRUE()".to_owned()),
            serde_json::Value::Bool(false) => Some("FALSE()".to_owned()),
            serde_json::Value::Number(number) => Some(number.to_string()),
            serde_json::Value::Null => Some("BLANK()".to_owned()),
            _ => {
                self.check.push(
                    format!("{}.{at}", self.at),
                    DetailCode::InvalidValue,
                    "a value is a formula (text), a number or a boolean",
                );
                None
            }
        }
    }

    pub(super) fn template(&mut self, field: &str, text: &str) {
        if let Err(reason) = check_template(text) {
            self.check.push(
                format!("{}.{field}", self.at),
                DetailCode::InvalidValue,
                format!("the template does not parse: {reason}"),
            );
        }
    }

    /// An outside step: its own checks, no table.
    pub(super) fn outside(&mut self, step: &Step) -> Option<Action> {
        match step {
            Step::Http(http) => crate::http::compile(http, self.at, self.check)
                .map(|spec| Action::Http(Box::new(spec))),
            Step::Robot(robot) => crate::robot::compile(robot, self.at, self.check)
                .map(|spec| Action::Robot(Box::new(spec))),
            Step::Sms(sms) => self.sms(sms).map(|spec| Action::Sms(Box::new(spec))),
            Step::Email(email) => {
                let to = self.text_formula("to", &email.to);
                let cc = match &email.cc {
                    Some(cc) => Some(self.text_formula("cc", cc)?),
                    None => None,
                };
                crate::email::compile(email, to?, cc, self.at, self.check)
                    .map(|spec| Action::Email(Box::new(spec)))
            }
            Step::KingdeeVoucher(step) => self.voucher(crate::voucher::Vendor::Kingdee, step),
            Step::YonyouVoucher(step) => self.voucher(crate::voucher::Vendor::YonyouU8, step),
            Step::Sql(step) => {
                let mut params = Some(Vec::new());
                for (i, value) in step.params.iter().enumerate() {
                    let at = format!("params[{i}]");
                    let stored = self
                        .source(&at, value)
                        .and_then(|s| self.text_formula(&at, &s));
                    match (stored, params.as_mut()) {
                        (Some(stored), Some(list)) => list.push(stored),
                        _ => params = None,
                    }
                }
                crate::sql::compile(step, params, self.at, self.check)
                    .map(|spec| Action::Sql(Box::new(spec)))
            }
            _ => None,
        }
    }

    /// A voucher step: its options, and `voucher` a formula giving a voucher's id.
    fn voucher(
        &mut self,
        vendor: crate::voucher::Vendor,
        step: &crate::voucher::VoucherStep,
    ) -> Option<Action> {
        let voucher = step
            .voucher
            .as_ref()
            .and_then(|source| self.id_formula("voucher", source, "a voucher's id"));
        crate::voucher::compile(vendor, step, voucher, self.at, self.check)
            .map(|spec| Action::Voucher(Box::new(spec)))
    }

    /// A formula giving text or a list of texts (phone numbers, addresses): its stored form.
    fn text_formula(&mut self, field: &str, source: &str) -> Option<String> {
        let formula = self.formula(field, source)?;
        Some(formula.stored().to_owned())
    }

    fn sms(&mut self, step: &SmsStep) -> Option<SmsSpec> {
        let phones = self.text_formula("phones", &step.phones);
        if step.template.trim().is_empty() {
            self.check.push(
                format!("{}.template", self.at),
                DetailCode::Required,
                "template: the vendor's template code or id",
            );
        }
        let mut fine = true;
        let params = match &step.params {
            None => Params::Named(Vec::new()),
            Some(ParamsDefinition::Named(named)) => {
                let mut out = Vec::new();
                for (name, value) in named {
                    let at = format!("params.{name}");
                    match self
                        .source(&at, value)
                        .and_then(|s| self.text_formula(&at, &s))
                    {
                        Some(stored) => out.push((name.clone(), stored)),
                        None => fine = false,
                    }
                }
                Params::Named(out)
            }
            Some(ParamsDefinition::Ordered(values)) => {
                let mut out = Vec::new();
                for (i, value) in values.iter().enumerate() {
                    let at = format!("params[{i}]");
                    match self
                        .source(&at, value)
                        .and_then(|s| self.text_formula(&at, &s))
                    {
                        Some(stored) => out.push(stored),
                        None => fine = false,
                    }
                }
                Params::Ordered(out)
            }
        };
        let phones = phones?;
        (fine && !step.template.trim().is_empty()).then(|| SmsSpec {
            connection: step.connection.clone(),
            phones,
            template: step.template.trim().to_owned(),
            sign_name: step.sign_name.clone(),
            params,
        })
    }
}
