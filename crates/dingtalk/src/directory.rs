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
}
