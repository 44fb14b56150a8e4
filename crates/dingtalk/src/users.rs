//! The users' shapes on oapi: `topapi/v2/user/create|get|list|update|delete|getbymobile`. A user is a member;
//! its `userid` is the one chosen at `user/create`, else the member id; its `unionid` is generated once
//! and never changes.

use serde::Serialize;
use utoipa::ToSchema;

/// The longest `userid` (DingTalk's limit).
pub const USERID_CHARS_MAX: usize = 64;
/// The largest page of `user/list`.
pub const LIST_SIZE_MAX: i64 = 100;

/// Whether `userid` may be chosen: 1 to 64 characters of `[A-Za-z0-9._~-]`, so that it is safe in any path.
pub fn userid_is_valid(userid: &str) -> bool {
    !userid.is_empty()
        && userid.len() <= USERID_CHARS_MAX
        && userid
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"._~-".contains(&byte))
}

/// `user/create`'s `result`: `userid` and `unionId` (camelCase in this one place, as DingTalk has it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct UserCreateResult {
    pub userid: String,
    #[serde(rename = "unionId")]
    pub union_id: String,
}

/// `POST /topapi/v2/user/create` → `{"errcode": 0, "errmsg": "ok", "result": {"userid", "unionId"}, "request_id"}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserCreateResponse {
    #[schema(example = 0)]
    pub errcode: i64,
    #[schema(example = "ok")]
    pub errmsg: String,
    pub result: UserCreateResult,
    pub request_id: String,
}

/// Whether the user leads one of its departments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeptLeader {
    pub dept_id: i64,
    pub leader: bool,
}

/// `user/get`'s `result`. Fields Tenon does not keep (avatar, telephone, work place, remark, hired date,
/// manager) are absent, except `avatar`, which is always `""`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct UserDetail {
    pub userid: String,
    pub unionid: String,
    pub name: String,
    pub avatar: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
    pub hide_mobile: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_number: Option<String>,
    pub dept_id_list: Vec<i64>,
    pub leader_in_dept: Vec<DeptLeader>,
    /// An owner or admin of the organization.
    pub admin: bool,
    /// An owner of the organization.
    pub boss: bool,
    pub senior: bool,
    pub active: bool,
    pub real_authed: bool,
    pub exclusive_account: bool,
}

/// `POST /topapi/v2/user/get` → `{"errcode": 0, "errmsg": "ok", "result": {...}, "request_id"}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserGetResponse {
    #[schema(example = 0)]
    pub errcode: i64,
    #[schema(example = "ok")]
    pub errmsg: String,
    pub result: UserDetail,
    pub request_id: String,
}

/// A user in `user/list`'s `result.list`; `leader` says whether it heads the listed department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ListUser {
    pub userid: String,
    pub unionid: String,
    pub name: String,
    pub avatar: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
    pub hide_mobile: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_number: Option<String>,
    pub dept_id_list: Vec<i64>,
    pub leader: bool,
    pub admin: bool,
    pub boss: bool,
    pub active: bool,
    pub exclusive_account: bool,
}

/// `user/list`'s `result`: a page; `next_cursor` (absent on the last page) is the next request's `cursor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct UserPage {
    pub has_more: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<i64>,
    pub list: Vec<ListUser>,
}

/// `POST /topapi/v2/user/list` → `{"errcode": 0, "errmsg": "ok", "result": {"has_more", "next_cursor", "list"}, "request_id"}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserListResponse {
    #[schema(example = 0)]
    pub errcode: i64,
    #[schema(example = "ok")]
    pub errmsg: String,
    pub result: UserPage,
    pub request_id: String,
}

/// `user/getbymobile`'s `result`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct UserByMobile {
    pub userid: String,
    /// Always empty: Tenon has no exclusive accounts.
    pub exclusive_account_userid_list: Vec<String>,
}

/// `POST /topapi/v2/user/getbymobile` → `{"errcode": 0, "errmsg": "ok", "result": {"userid", …}, "request_id"}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserByMobileResponse {
    #[schema(example = 0)]
    pub errcode: i64,
    #[schema(example = "ok")]
    pub errmsg: String,
    pub result: UserByMobile,
    pub request_id: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn userids_are_path_safe_and_at_most_64_characters() {
        assert!(userid_is_valid("zhangsan"));
        assert!(userid_is_valid("0190d8a2-7f3e-7b4c-9a1d-2e4f6a8b0c1d"));
        assert!(userid_is_valid("a.b_c~d-1"));
        assert!(!userid_is_valid(""));
        assert!(!userid_is_valid("li lei"));
        assert!(!userid_is_valid("a/b"));
        assert!(!userid_is_valid("张三"));
        assert!(userid_is_valid(&"x".repeat(64)));
        assert!(!userid_is_valid(&"x".repeat(65)));
    }

    #[test]
    fn create_answers_union_id_in_camel_case_and_lists_omit_the_last_cursor() {
        let created = UserCreateResult {
            userid: "li".to_owned(),
            union_id: "u1".to_owned(),
        };
        assert_eq!(
            serde_json::to_value(created).unwrap(),
            json!({"userid": "li", "unionId": "u1"})
        );
        let page = UserPage {
            has_more: false,
            next_cursor: None,
            list: vec![],
        };
        assert_eq!(
            serde_json::to_value(page).unwrap(),
            json!({"has_more": false, "list": []})
        );
    }
}
