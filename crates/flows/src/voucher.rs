//! The voucher steps `kingdee_voucher` and `yonyou_voucher`: one Tenon voucher pushed to Kingdee K/3
//! Cloud (金蝶云星空) or Yonyou U8 (用友 U8, through EAI), without I/O.
//!
//! ```yaml
//! - {key: sync, type: ledger_sync, rule: vr_s, record: '{trigger.record_id}'}
//! - {key: k, type: kingdee_voucher, connection: kingdee, voucher: '{steps.sync.output.voucher_id}'}
//! - {key: save, type: update_record, table: orders, record: '{trigger.record_id}',
//!    fields: {kingdee_no: '{steps.k.output.number}'}}
//! ```
//!
//! Options: `connection` (required: a connection of kind `kingdee` or `yonyou_u8`), `voucher` (required:
//! a formula giving a Tenon voucher's id, usually `{steps.<ledger_sync step>.output.voucher_id}`),
//! `timeout` (one request's, default 10s, at most 30s) and `retry: {attempts}` (1 to 10, default 5). A
//! blank voucher (a `ledger_sync` that only reversed) pushes nothing: the step succeeds with
//! `pushed: false`. The payload is the ledger's exchange payload of that voucher (see
//! `tenon_ledger::exchange::{kingdee, yonyou}`).
//!
//! Kingdee is reconcilable ([`crate::kingdee`]): the voucher carries Tenon's key, and every push first
//! asks Kingdee (`ExecuteBillQuery`) whether a voucher with that key exists, so a push whose answer was
//! lost is never saved twice. U8 is unsafe ([`crate::yonyou`]): an unclear outcome becomes
//! `unknown_outcome` and a person decides.

use serde::{Deserialize, Serialize};
use tenon_model::{Checker, DetailCode};

use crate::http::{ATTEMPTS_MAX, Retry, TIMEOUT_DEFAULT_MS, TIMEOUT_MAX_MS};
use crate::retry::RetryPolicy;

/// Which system a voucher step pushes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Vendor {
    Kingdee,
    YonyouU8,
}

impl Vendor {
    /// The connection kind the step needs.
    pub fn connection_kind(self) -> &'static str {
        match self {
            Vendor::Kingdee => "kingdee",
            Vendor::YonyouU8 => "yonyou_u8",
        }
    }

    /// The connection kinds the step takes: Kingdee's; U8's EAI or YonSuite's open API.
    pub fn connection_kinds(self) -> &'static [&'static str] {
        match self {
            Vendor::Kingdee => &["kingdee"],
            Vendor::YonyouU8 => &["yonyou_u8", "yonsuite"],
        }
    }

    /// The step type.
    pub fn step_type(self) -> &'static str {
        match self {
            Vendor::Kingdee => "kingdee_voucher",
            Vendor::YonyouU8 => "yonyou_voucher",
        }
    }
}

/// The step as written (`connection` and `voucher` are required; missing ones are named at publish).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoucherStep {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// A formula giving the id of a Tenon voucher.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voucher: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
}

/// The compiled step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoucherSpec {
    pub vendor: Vendor,
    pub connection: String,
    /// Stored formula giving the voucher's id.
    pub voucher: String,
    pub timeout_ms: u64,
    pub attempts: u32,
}

impl VoucherSpec {
    pub fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            attempts: self.attempts,
            ..RetryPolicy::default()
        }
    }

    /// Whether a push whose answer was never journaled may be sent again: Kingdee's yes (it is
    /// reconciled by Tenon's key first), U8's no — and YonSuite's (a `yonyou_voucher` step over a
    /// `yonsuite` connection) yes, which only the connection says (see the store).
    pub fn resendable(&self) -> bool {
        self.vendor == Vendor::Kingdee
    }
}

/// Checks the step's own options at `at`; `voucher` is the formula's stored form (checked by the caller,
/// `None` when it did not check or is missing).
pub fn compile(
    vendor: Vendor,
    step: &VoucherStep,
    voucher: Option<String>,
    at: &str,
    check: &mut Checker,
) -> Option<VoucherSpec> {
    let mut fine = true;
    let connection = step.connection.as_deref().map(str::trim).unwrap_or("");
    if connection.is_empty() {
        check.push(
            format!("{at}.connection"),
            DetailCode::Required,
            format!(
                "connection: the key of a connection of kind {}",
                vendor.connection_kinds().join(" or ")
            ),
        );
        fine = false;
    }
    if step.voucher.is_none() {
        check.push(
            format!("{at}.voucher"),
            DetailCode::Required,
            "voucher: a formula giving a Tenon voucher's id, e.g. '{steps.sync.output.voucher_id}'",
        );
        fine = false;
    }
    let timeout_ms = match &step.timeout {
        None => TIMEOUT_DEFAULT_MS,
        Some(text) => match crate::wait::parse_duration(text) {
            Ok(wait) => {
                let ms = u64::try_from(wait.num_milliseconds()).unwrap_or(u64::MAX);
                if ms > TIMEOUT_MAX_MS || ms == 0 {
                    check.add(
                        tenon_model::Reason::new(
                            DetailCode::TooLarge,
                            "a request waits at most 30s",
                        )
                        .with("max", "30s")
                        .at(format!("{at}.timeout")),
                    );
                    fine = false;
                }
                ms
            }
            Err(reason) => {
                check.format(format!("{at}.timeout"), "duration", reason);
                fine = false;
                TIMEOUT_DEFAULT_MS
            }
        },
    };
    let attempts = step
        .retry
        .as_ref()
        .map_or(RetryPolicy::default().attempts, |r| r.attempts);
    if attempts == 0 || attempts > ATTEMPTS_MAX {
        check.add(
            tenon_model::Reason::new(DetailCode::OutOfRange, "retry.attempts is from 1 to 10")
                .with("min", 1)
                .with("max", ATTEMPTS_MAX)
                .at(format!("{at}.retry.attempts")),
        );
        fine = false;
    }
    let voucher = voucher?;
    fine.then(|| VoucherSpec {
        vendor,
        connection: connection.to_owned(),
        voucher,
        timeout_ms,
        attempts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_and_bad_options_are_named() {
        let step: VoucherStep =
            serde_json::from_value(json!({"key": "k", "timeout": "5m", "retry": {"attempts": 0}}))
                .unwrap();
        let mut check = Checker::default();
        assert!(compile(Vendor::Kingdee, &step, None, "s", &mut check).is_none());
        let mut fields: Vec<String> = check
            .finish()
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        fields.sort();
        assert_eq!(
            fields,
            ["s.connection", "s.retry.attempts", "s.timeout", "s.voucher"]
        );
        let good: VoucherStep =
            serde_json::from_value(json!({"key": "k", "connection": "kd", "voucher": "{x}"}))
                .unwrap();
        let mut check = Checker::default();
        let spec = compile(Vendor::YonyouU8, &good, Some("x".into()), "s", &mut check).unwrap();
        assert!(check.is_clean());
        assert_eq!(spec.attempts, 5);
        assert!(!spec.resendable(), "U8 is unsafe");
        assert!(serde_json::from_value::<VoucherStep>(json!({"key": "k", "book": "x"})).is_err());
    }
}
