//! Tenon's accounting domain: account books (账套), the chart of accounts, vouchers (凭证) and their
//! invariants, voucher rules that turn business records into vouchers, and the exchange formats
//! (Kingdee Cloud Galaxy, Yonyou U8, SAF-T Financial, CSV).
//!
//! Pure: no I/O, no clock, no async. "Today" and "who" arrive as arguments; the store persists what this
//! crate decides. Money is `rust_decimal::Decimal` with a fixed scale per kind of value (see [`money`]),
//! never a float.
//!
//! The invariants kept here and checked by property tests:
//! - every voucher balances in the base currency (Σ debit = Σ credit) — [`voucher::check_voucher`];
//! - a trial balance always balances — [`balance::TrialBalance`];
//! - balances are derivable from posted lines alone — [`balance::Balances::from_lines`].

pub mod account;
pub mod balance;
pub mod book;
pub mod closing;
pub mod exchange;
pub mod expr;
pub mod money;
pub mod opening;
pub mod period;
pub mod report;
pub mod rules;
pub mod statements;
pub mod templates;
pub mod voucher;

pub use account::{Account, AccountCode, AccountKind, Chart, Dimension, Direction, Role};
pub use balance::{Balances, TrialBalance, TrialBalanceRow, TrialBalanceTotals};
pub use book::{BookSettings, Currency, Standard};
pub use money::{AMOUNT_SCALE, QUANTITY_SCALE, RATE_SCALE};
pub use period::Period;
pub use voucher::{Line, Voucher, VoucherDraft, VoucherState, Word};
