//! v1.0 contact shapes: `POST /v1.0/contact/users/search`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The largest page of a search.
pub const SEARCH_SIZE_MAX: i64 = 100;

/// `{queryWord, offset, size}`; unknown keys are ignored.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchUserRequest {
    /// Matched against name, mobile and job number.
    #[serde(default)]
    pub query_word: Option<String>,
    /// Default 0.
    #[serde(default)]
    pub offset: Option<i64>,
    /// Default 10, at most 100.
    #[serde(default)]
    pub size: Option<i64>,
}

/// `{"hasMore", "totalCount", "list": [userid]}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchUserResponse {
    pub has_more: bool,
    pub total_count: i64,
    pub list: Vec<String>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn search_keys_are_camel_case_with_integer_and_boolean_types() {
        let request: SearchUserRequest = serde_json::from_str(
            r#"{"queryWord": "li", "offset": 0, "size": 10, "fullMatchField": 1}"#,
        )
        .unwrap();
        assert_eq!(
            (request.query_word.as_deref(), request.offset, request.size),
            (Some("li"), Some(0), Some(10))
        );
        let response = SearchUserResponse {
            has_more: false,
            total_count: 1,
            list: vec!["u1".to_owned()],
        };
        assert_eq!(
            serde_json::to_value(response).unwrap(),
            serde_json::json!({"hasMore": false, "totalCount": 1, "list": ["u1"]})
        );
    }
}
