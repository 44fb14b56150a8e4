//! The error codes of both families, as DingTalk spells them and as its SDKs read them.

use serde::Serialize;
use utoipa::ToSchema;

/// A v1.0 error: a non-2xx status and `{"code", "message", "requestid"}`. Never an error as 2xx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V1Error {
    /// No `x-acs-dingtalk-access-token` header: 400 `AuthenticationFailed.MissingParameter`.
    MissingToken,
    /// An unknown, expired or revoked token: 400 `InvalidAuthentication`.
    InvalidAuthentication,
    /// `POST /v1.0/oauth2/accessToken` with an unknown app key or a wrong secret: 400 `invalidClientIdOrSecret`.
    InvalidClientIdOrSecret,
    /// A required parameter is missing: 400 `MissingParameter`.
    MissingParameter,
    /// A parameter has the wrong type or value: 400 `InvalidParameter`.
    InvalidParameter,
    /// The token lacks the scope the route needs: 403 `Forbidden.AccessDenied.AccessTokenPermissionDenied`.
    AccessDenied,
    /// The credential's rate limit is spent: 429 `Throttling`.
    Throttling,
    /// `POST /v1.0/oauth2/{corpId}/token` with an unknown client, a wrong secret or an organization that has
    /// not installed the app: 400 `invalid.client`.
    InvalidClient,
    /// `POST /v1.0/oauth2/{corpId}/token` with a `grant_type` other than `client_credentials`: 400
    /// `unsupported.grant.type`.
    UnsupportedGrantType,
    /// No such API (path): 404 `InvalidAction.NotFound`.
    UnknownApi,
    /// No such object: 404 `resource.not.found`.
    NotFound,
    /// The path does not take the method: 405 `InvalidAction.MethodNotAllowed`.
    MethodNotAllowed,
    /// The body is over the server's limit: 413 `RequestEntityTooLarge`.
    PayloadTooLarge,
    /// The request took too long: 408 `RequestTimeout`.
    RequestTimeout,
    /// The database does not answer: 503 `ServiceUnavailable`.
    ServiceUnavailable,
    /// Anything else that failed on the server's side: 500 `InternalError`.
    Internal,
}

impl V1Error {
    pub const ALL: &'static [V1Error] = &[
        V1Error::MissingToken,
        V1Error::InvalidAuthentication,
        V1Error::InvalidClientIdOrSecret,
        V1Error::MissingParameter,
        V1Error::InvalidParameter,
        V1Error::AccessDenied,
        V1Error::Throttling,
        V1Error::InvalidClient,
        V1Error::UnsupportedGrantType,
        V1Error::UnknownApi,
        V1Error::NotFound,
        V1Error::MethodNotAllowed,
        V1Error::PayloadTooLarge,
        V1Error::RequestTimeout,
        V1Error::ServiceUnavailable,
        V1Error::Internal,
    ];

    /// The `code` DingTalk answers.
    pub fn code(self) -> &'static str {
        match self {
            V1Error::MissingToken => "AuthenticationFailed.MissingParameter",
            V1Error::InvalidAuthentication => "InvalidAuthentication",
            V1Error::InvalidClientIdOrSecret => "invalidClientIdOrSecret",
            V1Error::MissingParameter => "MissingParameter",
            V1Error::InvalidParameter => "InvalidParameter",
            V1Error::AccessDenied => "Forbidden.AccessDenied.AccessTokenPermissionDenied",
            V1Error::Throttling => "Throttling",
            V1Error::InvalidClient => "invalid.client",
            V1Error::UnsupportedGrantType => "unsupported.grant.type",
            V1Error::UnknownApi => "InvalidAction.NotFound",
            V1Error::NotFound => "resource.not.found",
            V1Error::MethodNotAllowed => "InvalidAction.MethodNotAllowed",
            V1Error::PayloadTooLarge => "RequestEntityTooLarge",
            V1Error::RequestTimeout => "RequestTimeout",
            V1Error::ServiceUnavailable => "ServiceUnavailable",
            V1Error::Internal => "InternalError",
        }
    }

    /// The HTTP status: never 2xx.
    pub fn status(self) -> u16 {
        match self {
            V1Error::MissingToken
            | V1Error::InvalidAuthentication
            | V1Error::InvalidClientIdOrSecret
            | V1Error::MissingParameter
            | V1Error::InvalidParameter
            | V1Error::InvalidClient
            | V1Error::UnsupportedGrantType => 400,
            V1Error::AccessDenied => 403,
            V1Error::UnknownApi | V1Error::NotFound => 404,
            V1Error::MethodNotAllowed => 405,
            V1Error::RequestTimeout => 408,
            V1Error::PayloadTooLarge => 413,
            V1Error::Throttling => 429,
            V1Error::Internal => 500,
            V1Error::ServiceUnavailable => 503,
        }
    }

    /// The body of this error.
    pub fn body(self, message: impl Into<String>, requestid: impl Into<String>) -> V1ErrorBody {
        V1ErrorBody {
            code: self.code().to_owned(),
            message: message.into(),
            requestid: requestid.into(),
        }
    }
}

/// The body of every v1.0 error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct V1ErrorBody {
    /// DingTalk's error code, e.g. `InvalidAuthentication`, `MissingParameter`.
    #[schema(example = "InvalidAuthentication")]
    pub code: String,
    /// What went wrong, in English.
    pub message: String,
    /// The request id (also in the `x-request-id` response header).
    pub requestid: String,
}

/// An oapi error: HTTP 200 with an integer `errcode` (and for token errors a `sub_code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OapiError {
    /// No `access_token` parameter: 88, `sub_code` `"40000"`.
    MissingToken,
    /// An unknown, expired or revoked token: 88, `sub_code` `"40014"`.
    InvalidToken,
    /// `/gettoken` with an unknown app key or a wrong secret: 40096.
    InvalidAppKeyOrSecret,
    /// A required parameter is missing or malformed: 40035.
    MissingParameters,
    /// The token lacks the scope the API needs: 60011.
    NoPermission,
    /// No such user: 60121.
    UnknownUser,
    /// No such department: 60003.
    UnknownDepartment,
    /// A department name that is empty, too long or has control characters: 60001.
    DepartmentNameInvalid,
    /// The department tree would grow deeper than allowed: 60002.
    DepartmentTooDeep,
    /// No such parent department: 60004.
    ParentNotFound,
    /// A department with members cannot be deleted: 60005.
    DepartmentHasMembers,
    /// A department with sub-departments cannot be deleted: 60006.
    DepartmentHasChildren,
    /// The root department cannot be deleted: 60007.
    RootNotDeletable,
    /// A department cannot move under itself or one of its sub-departments: 60010.
    DepartmentCycle,
    /// The root department cannot be moved: 60018.
    RootNotMovable,
    /// The `userid` is taken in the organization: 60102.
    UseridExists,
    /// Not a mobile number: 60103.
    MobileInvalid,
    /// Another user of the organization has this mobile number: 60104.
    MobileExists,
    /// Not an e-mail address: 60105.
    EmailInvalid,
    /// Another user of the organization has this e-mail address: 60106.
    EmailExists,
    /// A user name that is empty, too long or has control characters: 60112.
    UserNameInvalid,
    /// A job number that is too long or taken by another user: 60123.
    JobNumberInvalid,
    /// No such API: 22.
    UnknownApi,
    /// The credential's rate limit is spent: 90018.
    Throttling,
    /// Anything that failed on the server's side: -1 (DingTalk's "system busy").
    SystemBusy,
    /// A login-free sign-in code that is unknown, used, expired or another app's: 40078.
    InvalidAuthCode,
}

impl OapiError {
    pub const ALL: &'static [OapiError] = &[
        OapiError::MissingToken,
        OapiError::InvalidToken,
        OapiError::InvalidAppKeyOrSecret,
        OapiError::MissingParameters,
        OapiError::NoPermission,
        OapiError::UnknownUser,
        OapiError::UnknownDepartment,
        OapiError::DepartmentNameInvalid,
        OapiError::DepartmentTooDeep,
        OapiError::ParentNotFound,
        OapiError::DepartmentHasMembers,
        OapiError::DepartmentHasChildren,
        OapiError::RootNotDeletable,
        OapiError::DepartmentCycle,
        OapiError::RootNotMovable,
        OapiError::UseridExists,
        OapiError::MobileInvalid,
        OapiError::MobileExists,
        OapiError::EmailInvalid,
        OapiError::EmailExists,
        OapiError::UserNameInvalid,
        OapiError::JobNumberInvalid,
        OapiError::UnknownApi,
        OapiError::Throttling,
        OapiError::SystemBusy,
        OapiError::InvalidAuthCode,
    ];

    /// The integer `errcode`.
    pub fn errcode(self) -> i64 {
        match self {
            OapiError::MissingToken | OapiError::InvalidToken => 88,
            OapiError::InvalidAppKeyOrSecret => 40096,
            OapiError::MissingParameters => 40035,
            OapiError::NoPermission => 60011,
            OapiError::UnknownUser => 60121,
            OapiError::UnknownDepartment => 60003,
            OapiError::DepartmentNameInvalid => 60001,
            OapiError::DepartmentTooDeep => 60002,
            OapiError::ParentNotFound => 60004,
            OapiError::DepartmentHasMembers => 60005,
            OapiError::DepartmentHasChildren => 60006,
            OapiError::RootNotDeletable => 60007,
            OapiError::DepartmentCycle => 60010,
            OapiError::RootNotMovable => 60018,
            OapiError::UseridExists => 60102,
            OapiError::MobileInvalid => 60103,
            OapiError::MobileExists => 60104,
            OapiError::EmailInvalid => 60105,
            OapiError::EmailExists => 60106,
            OapiError::UserNameInvalid => 60112,
            OapiError::JobNumberInvalid => 60123,
            OapiError::UnknownApi => 22,
            OapiError::Throttling => 90018,
            OapiError::SystemBusy => -1,
            OapiError::InvalidAuthCode => 40078,
        }
    }

    /// The `sub_code` beside `errcode` 88, as DingTalk sends it (a string).
    pub fn sub_code(self) -> Option<&'static str> {
        match self {
            OapiError::MissingToken => Some("40000"),
            OapiError::InvalidToken => Some("40014"),
            _ => None,
        }
    }

    /// The body of this error: `{"errcode", "errmsg", "request_id"}`, and `sub_code`/`sub_msg` for 88.
    pub fn body(self, errmsg: &str, request_id: &str) -> serde_json::Value {
        let mut body = serde_json::Map::new();
        body.insert("errcode".to_owned(), self.errcode().into());
        body.insert("errmsg".to_owned(), errmsg.into());
        if let Some(sub_code) = self.sub_code() {
            body.insert("sub_code".to_owned(), sub_code.into());
            body.insert("sub_msg".to_owned(), errmsg.into());
        }
        body.insert("request_id".to_owned(), request_id.into());
        serde_json::Value::Object(body)
    }
}

/// The body of every oapi answer that is not a success (HTTP 200 all the same).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OapiErrorBody {
    /// Not 0: 88 (token), 40035 (parameters), 40096 (app key or secret), 60121 (user), 22 (API)…
    #[schema(example = 88)]
    pub errcode: i64,
    pub errmsg: String,
    /// With `errcode` 88: `"40000"` (no token) or `"40014"` (invalid token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_msg: Option<String>,
    pub request_id: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn v1_errors_are_never_2xx_and_their_codes_are_distinct() {
        let mut codes = std::collections::BTreeSet::new();
        for error in V1Error::ALL {
            assert!(error.status() >= 400, "{error:?}");
            assert!(codes.insert(error.code()), "{} twice", error.code());
        }
        assert_eq!(
            V1Error::MissingToken.code(),
            "AuthenticationFailed.MissingParameter"
        );
        assert_eq!(V1Error::AccessDenied.status(), 403);
        assert_eq!(V1Error::Throttling.status(), 429);
        let body = serde_json::to_value(V1Error::MissingParameter.body("appKey is missing", "r1"))
            .unwrap();
        assert_eq!(
            body,
            serde_json::json!({"code": "MissingParameter", "message": "appKey is missing", "requestid": "r1"})
        );
    }

    #[test]
    fn oapi_errors_carry_integer_errcodes_and_string_sub_codes() {
        let mut codes = std::collections::BTreeSet::new();
        for error in OapiError::ALL {
            assert_ne!(error.errcode(), 0, "{error:?}");
            if error.sub_code().is_none() {
                assert!(codes.insert(error.errcode()), "{} twice", error.errcode());
            }
        }
        let body = OapiError::InvalidToken.body("invalid token", "r2");
        assert_eq!(body["errcode"], 88);
        assert_eq!(body["sub_code"], "40014");
        assert_eq!(body["request_id"], "r2");
        assert_eq!(
            OapiError::MissingToken.body("no token", "r")["sub_code"],
            "40000"
        );
        let unknown = OapiError::UnknownApi.body("no such API", "r");
        assert_eq!(unknown["errcode"], 22);
        assert!(unknown.get("sub_code").is_none());
        assert_eq!(OapiError::MissingParameters.errcode(), 40035);
        assert_eq!(OapiError::InvalidAppKeyOrSecret.errcode(), 40096);
        assert_eq!(OapiError::UnknownUser.errcode(), 60121);
    }
}
