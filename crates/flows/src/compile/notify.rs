//! Publish checks of the `notify` step: its channel, templates and recipients (`to.members`, a formula
//! giving member ids; `to.roles`, custom role keys) and `collect` (`per_recipient`, inside a `for_each`
//! only: the top level refuses it). Whether the roles exist is the store's check, made
//! when the file is published.

use tenon_model::apps::ApiKey;
use tenon_model::{DetailCode, FieldError};

use super::{Action, Compiler};
use crate::definition::Recipients;

impl Compiler<'_> {
    pub(super) fn notify(
        &mut self,
        channel: &str,
        to: &Recipients,
        title: Option<&str>,
        text: &str,
        collect: Option<&str>,
    ) -> Option<Action> {
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
        // Outside recipients: the inbox reaches members only.
        for (name, given, step) in [
            ("phones", to.phones.is_some(), "sms"),
            ("emails", to.emails.is_some(), "email"),
        ] {
            if given {
                self.check.push(
                    format!("{here}.to.{name}"),
                    DetailCode::NotAllowed,
                    format!("notify reaches members' inboxes; send to {name} with an {step} step"),
                );
            }
        }
        if to.members.is_none() && to.roles.is_empty() {
            self.check.push(
                format!("{here}.to.members"),
                DetailCode::Required,
                "give to.members (a formula giving member ids) or to.roles (custom role keys)",
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
        Some(Action::Notify {
            members,
            roles: to.roles.clone(),
            title: title.map(str::to_owned),
            text: text.to_owned(),
            per_recipient: collect.is_some(),
        })
    }
}
