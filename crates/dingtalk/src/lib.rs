//! DingTalk's open API as Tenon answers it, without I/O: the shapes of requests and responses with
//! DingTalk's exact keys and JSON types, and the error codes of its two API families.
//!
//! - The **v1.0** family (`/v1.0/*`, token in `x-acs-dingtalk-access-token`) speaks compact camelCase JSON
//!   and answers errors with a non-2xx status and `{"code", "message", "requestid"}` ([`V1Error`]).
//! - The **oapi** family (`/gettoken`, `/topapi/*`, token in `?access_token=`) answers everything with HTTP
//!   200 and an integer `errcode` ([`OapiError`]); its requests may carry scalars as strings (`"2"`,
//!   `"true"`, see [`lenient`]).
//!
//! Requests accept unknown keys (DingTalk's SDKs send more than a route reads) and `[]` for an unset list,
//! unlike the native DTOs' `deny_unknown_fields`.

pub mod contact;
pub mod crypto;
pub mod directory;
pub mod errors;
pub mod events;
pub mod lenient;
pub mod messages;
pub mod oauth;
pub mod signin;
pub mod users;
pub mod workflow;
pub mod workflow_legacy;
pub mod workflow_render;

pub use errors::{OapiError, V1Error, V1ErrorBody};
