//! Publish checks of the `notify` step: its channel, templates and recipients (`to.members`, a formula
//! giving member ids; `to.roles`, custom role keys; `to.phones` and `to.emails`, formulas giving phone
//! numbers and addresses, each with the options of its channel: `sms: {connection, template}`,
//! `email: {connection}`) and `collect` (`per_recipient`, inside a `for_each` only: the top level
//! refuses it). Whether the roles and connections exist is the store's check, made when the file is
//! published.

use tenon_model::apps::ApiKey;
use tenon_model::{DetailCode, FieldError};

use super::{Action, Compiler};
use crate::definition::Step;

impl Compiler<'_> {
    pub(super) fn notify(&mut self, step: &Step) -> Option<Action> {
        let Step::Notify {
            channel,
            to,
            title,
            text,
            collect,
            sms,
            email,
            ..
        } = step
        else {
            return None;
        };
        let (title, collect, sms, email) = (
            title.as_deref(),
            collect.as_deref(),
            sms.as_ref(),
            email.as_ref(),
        );
        let here = self.at.to_owned();
        if let Some(collect) = collect.filter(|c| *c != "per_recipient") {
            self.check.add(
                FieldError::new(
                    format!("{here}.collect"),
                    DetailCode::NotOneOf,
                    format!("collect is per_recipient, not {collect}"),
                )
                .with("allowed", vec!["per_recipient".to_owned()]),
            );
        }
        if channel != "inbox" {
            self.check.push(
                format!("{here}.channel"),
                DetailCode::NotAllowed,
                format!(
                    "the {channel} channel is not available in this version of Tenon; use inbox"
                ),
            );
        }
        if let Some(title) = title {
            self.template("title", title);
        }
        self.template("text", text);
        // Outside recipients: each channel needs its connection (and an SMS its template).
        if to.phones.is_some() != sms.is_some() {
            let (at, code, message) = if sms.is_none() {
                (
                    "sms",
                    DetailCode::Required,
                    "to.phones needs sms: {connection, template, param?} (an aliyun_sms or \
                     tencent_sms connection and the template the text goes into)",
                )
            } else {
                ("sms", DetailCode::NotAllowed, "sms without to.phones")
            };
            self.check.push(format!("{here}.{at}"), code, message);
        }
        if to.emails.is_some() != email.is_some() {
            let (code, message) = if email.is_none() {
                (
                    DetailCode::Required,
                    "to.emails needs email: {connection} (an smtp connection)",
                )
            } else {
                (DetailCode::NotAllowed, "email without to.emails")
            };
            self.check.push(format!("{here}.email"), code, message);
        }
        if let Some(sms) = sms {
            for (name, value) in [("connection", &sms.connection), ("template", &sms.template)] {
                if value.trim().is_empty() {
                    self.check.push(
                        format!("{here}.sms.{name}"),
                        DetailCode::Required,
                        format!("sms.{name} is required"),
                    );
                }
            }
            if sms.param.as_deref().is_some_and(|p| p.trim().is_empty()) {
                self.check.push(
                    format!("{here}.sms.param"),
                    DetailCode::Required,
                    "sms.param names the template's variable",
                );
            }
        }
        if email.is_some_and(|email| email.connection.trim().is_empty()) {
            self.check.push(
                format!("{here}.email.connection"),
                DetailCode::Required,
                "email.connection is required",
            );
        }
        if to.members.is_none() && to.roles.is_empty() && to.phones.is_none() && to.emails.is_none()
        {
            self.check.push(
                format!("{here}.to.members"),
                DetailCode::Required,
                "give to.members (a formula giving member ids), to.roles (custom role keys), \
                 to.phones or to.emails",
            );
        }
        for (i, role) in to.roles.iter().enumerate() {
            if ApiKey::parse(role).is_err() {
                self.check.push(
                    format!("{here}.to.roles[{i}]"),
                    DetailCode::InvalidFormat,
                    format!("{role} is not a role key"),
                );
            }
        }
        let members = match &to.members {
            Some(members) => Some(self.formula("to.members", members)?.stored().to_owned()),
            None => None,
        };
        let phones = match &to.phones {
            Some(phones) => Some(self.formula("to.phones", phones)?.stored().to_owned()),
            None => None,
        };
        let emails = match &to.emails {
            Some(emails) => Some(self.formula("to.emails", emails)?.stored().to_owned()),
            None => None,
        };
        Some(Action::Notify {
            members,
            roles: to.roles.clone(),
            title: title.map(str::to_owned),
            text: text.to_owned(),
            per_recipient: collect.is_some(),
            phones,
            emails,
            sms: sms.cloned(),
            email: email.cloned(),
        })
    }
}
