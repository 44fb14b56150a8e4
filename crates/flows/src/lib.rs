//! Connection flows (issue #18) in Tenon's vocabulary: a flow is data — a key, a trigger and steps — kept
//! in versions; a run executes one version's steps, each journaled.
//!
//! - [`definition`]: a flow as people write it (`flows:` of a `tenon.app/v1` file), checked for shape;
//! - [`compile`]: publish checks against the app's tables (every formula and template, with paths), and
//!   the compiled, storable form of a version ([`CompiledFlow`]) that runs keep;
//! - [`scope`]: the values a run's formulas and templates read (`{trigger.fields.…}`,
//!   `{steps.<key>.output.…}`), as formula values and as JSON;
//! - [`trigger`]: which record changes fire a record trigger (created/updated/deleted, `when` enter,
//!   leave, change);
//! - [`state`]: the run and step state machines and the walk over a version's steps;
//! - [`http`]: the `http` step's checks, its request rendered from a run, its answer mapped;
//! - [`robot`]: the `robot` step (a DingTalk custom robot's message) and what its answers mean;
//! - [`sms`] and [`sign`]: the `sms` step (Aliyun, Tencent Cloud) and the vendors' request signatures;
//! - [`email`]: the `email` step (SMTP): its templates and the message rendered from a run;
//! - [`voucher`], [`kingdee`] and [`yonyou`]: the `kingdee_voucher` and `yonyou_voucher` steps (a Tenon
//!   voucher pushed to Kingdee K/3 Cloud or Yonyou U8) and the vendors' protocols;
//! - [`sql`]: the `sql` step (one statement against an external PostgreSQL database);
//! - [`retry`]: which failures retry, and when (backoff with jitter);
//! - [`schedule`]: zoned cron and its slots (DST gaps and folds, missed slots);
//! - [`wait`]: when a `wait` step wakes (durations, dates in a zone, skipped and repeated wall times).
//!
//! Pure: no I/O, no clock ("now" and random jitter are arguments). The store inserts runs in the
//! trigger's transaction and journals steps; the server's workers execute them.

pub mod calls;
pub mod compile;
pub mod connection;
pub mod definition;
pub mod email;
pub mod http;
pub mod kingdee;
pub mod retry;
pub mod robot;
pub mod schedule;
pub mod scope;
pub mod sign;
pub mod sms;
pub mod sql;
pub mod sql_mysql;
pub mod state;
pub mod trigger;
pub mod voucher;
pub mod wait;
pub mod yonsuite;
pub mod yonyou;

pub use compile::{CompiledFlow, CompiledStep, Tables, compile};
pub use definition::Flow;
pub use retry::{Decision, Failure, RetryPolicy};
pub use state::{Next, RunStatus, StepStatus};
pub use trigger::{Change, On};

/// Nested runs (a flow's write triggering another flow, and so on) stop at this depth.
pub const DEPTH_MAX: u32 = 8;
/// Most records a `find` step returns.
pub const FIND_LIMIT_MAX: u32 = 1000;
/// Most items a `for_each` step runs its steps for.
pub const FOR_EACH_ITEMS_MAX: usize = 10_000;
/// Most steps one flow may have (nested ones included).
pub const STEPS_MAX: usize = 200;
