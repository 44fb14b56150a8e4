//! The directory's shapes on oapi: `topapi/v2/department/*` (departments by `dept_id`, the department's
//! `number`, root 1).

use serde::Serialize;
use utoipa::ToSchema;

/// A department in `department/listsub`'s `result`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeptBase {
    pub dept_id: i64,
    pub name: String,
    /// Absent for the root (1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<i64>,
    pub create_dept_group: bool,
    pub auto_add_user: bool,
}

/// A department in `department/get`'s `result`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeptDetail {
    pub dept_id: i64,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<i64>,
    /// Position among siblings; lower comes first.
    pub order: i64,
}

/// `POST /topapi/v2/department/listsub` → `{"errcode": 0, "errmsg": "ok", "result": [...], "request_id"}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ListSubResponse {
    #[schema(example = 0)]
    pub errcode: i64,
    #[schema(example = "ok")]
    pub errmsg: String,
    pub result: Vec<DeptBase>,
    pub request_id: String,
}

/// `POST /topapi/v2/department/get` → `{"errcode": 0, "errmsg": "ok", "result": {...}, "request_id"}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeptGetResponse {
    #[schema(example = 0)]
    pub errcode: i64,
    #[schema(example = "ok")]
    pub errmsg: String,
    pub result: DeptDetail,
    pub request_id: String,
}

/// `POST /topapi/v2/department/create`'s `result`: the new department's number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeptCreateResult {
    pub dept_id: i64,
}

/// `POST /topapi/v2/department/create` → `{"errcode": 0, "errmsg": "ok", "result": {"dept_id"}, "request_id"}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeptCreateResponse {
    #[schema(example = 0)]
    pub errcode: i64,
    #[schema(example = "ok")]
    pub errmsg: String,
    pub result: DeptCreateResult,
    pub request_id: String,
}

/// A success without a result (`department/update|delete`, `user/update|delete`):
/// `{"errcode": 0, "errmsg": "ok", "request_id"}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OapiOk {
    #[schema(example = 0)]
    pub errcode: i64,
    #[schema(example = "ok")]
    pub errmsg: String,
    pub request_id: String,
}

impl OapiOk {
    pub fn new(request_id: impl Into<String>) -> Self {
        OapiOk {
            errcode: 0,
            errmsg: "ok".to_owned(),
            request_id: request_id.into(),
        }
    }
}

/// A list parameter DingTalk sends as a comma-joined string (`"2,3"`) or a JSON array (`[2, 3]`), of
/// integers: `None` when unset, `Err` naming the first item that is not an integer.
pub fn integer_list(value: Option<&serde_json::Value>) -> Result<Option<Vec<i64>>, String> {
    text_list(value)?
        .map(|items| {
            items
                .into_iter()
                .map(|item| item.trim().parse::<i64>().map_err(|_| item))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()
}

/// A list parameter of text items: a comma-joined string or a JSON array of strings or numbers; empty items
/// are dropped.
pub fn text_list(value: Option<&serde_json::Value>) -> Result<Option<Vec<String>>, String> {
    let items: Vec<String> = match value {
        None | Some(serde_json::Value::Null) => return Ok(None),
        Some(serde_json::Value::String(text)) => text.split(',').map(str::to_owned).collect(),
        Some(serde_json::Value::Number(number)) => vec![number.to_string()],
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                serde_json::Value::String(text) => Ok(text.clone()),
                serde_json::Value::Number(number) => Ok(number.to_string()),
                other => Err(other.to_string()),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(other.to_string()),
    };
    let items: Vec<String> = items
        .into_iter()
        .map(|item| item.trim().to_owned())
        .filter(|item| !item.is_empty())
        .collect();
    Ok(if items.is_empty() { None } else { Some(items) })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn departments_have_integer_ids_and_the_root_no_parent() {
        let root = DeptDetail {
            dept_id: 1,
            name: "Acme".to_owned(),
            parent_id: None,
            order: 0,
        };
        assert_eq!(
            serde_json::to_value(&root).unwrap(),
            serde_json::json!({"dept_id": 1, "name": "Acme", "order": 0})
        );
        let sub = DeptBase {
            dept_id: 2,
            name: "Sales".to_owned(),
            parent_id: Some(1),
            create_dept_group: false,
            auto_add_user: false,
        };
        assert_eq!(
            serde_json::to_value(&sub).unwrap(),
            serde_json::json!({"dept_id": 2, "name": "Sales", "parent_id": 1, "create_dept_group": false, "auto_add_user": false})
        );
    }

    #[test]
    fn lists_may_be_comma_joined_text_or_arrays() {
        use serde_json::json;
        assert_eq!(integer_list(Some(&json!("2, 3"))), Ok(Some(vec![2, 3])));
        assert_eq!(integer_list(Some(&json!([2, "3"]))), Ok(Some(vec![2, 3])));
        assert_eq!(integer_list(Some(&json!(4))), Ok(Some(vec![4])));
        assert_eq!(integer_list(Some(&json!(""))), Ok(None));
        assert_eq!(integer_list(None), Ok(None));
        assert_eq!(integer_list(Some(&json!("2,x"))), Err("x".to_owned()));
        assert!(integer_list(Some(&json!({"a": 1}))).is_err());
        assert_eq!(
            text_list(Some(&json!("li,wang"))),
            Ok(Some(vec!["li".to_owned(), "wang".to_owned()]))
        );
        let ok = serde_json::to_value(OapiOk::new("r")).unwrap();
        assert_eq!(ok, json!({"errcode": 0, "errmsg": "ok", "request_id": "r"}));
    }
}
