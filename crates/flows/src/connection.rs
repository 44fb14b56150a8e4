//! Connections: the organization's stored credentials for outside systems, named by key in steps
//! (`connection: erp`). What a connection of each kind needs, checked without I/O.
//!
//! Kind `http` (for the `http` step): `config: {base_url, auth: none|bearer|basic|hmac, username}`,
//! secrets by auth — `bearer`: `token` (sent as `Authorization: Bearer …`); `basic`: `password` (with
//! `config.username`); `hmac`: `key` (the request is signed: `X-Tenon-Timestamp: <unix seconds>` and
//! `X-Tenon-Signature: sha256=<hex HMAC-SHA256(key, "<timestamp>.<body>")>`).
//!
//! Kind `dingtalk_robot` (for the `robot` step): `config: {base_url}` (default
//! `https://oapi.dingtalk.com`; a local fake in tests), secrets `access_token` (required) and `sign` (the
//! robot's 加签 secret, `SEC…`, when it has one).
//!
//! Kinds `aliyun_sms` and `tencent_sms` (for the `sms` step): `config: {base_url, sign_name}` (Tencent
//! adds `sdk_app_id` and `region`), secrets `access_key_id` and `access_key_secret` (Aliyun) or
//! `secret_id` and `secret_key` (Tencent). Kind `smtp` (for the `email` step): `config: {host, port,
//! tls: none|starttls|tls, from, username}`, secret `password`.
//!
//! Kind `kingdee` (for the `kingdee_voucher` step): `config: {base_url, acct_id, username, app_id, lcid,
//! key_field}` (`base_url` up to the WebAPI's root, e.g. `https://erp.example/k3cloud`; `lcid` default
//! 2052; `key_field` the `GL_VOUCHER` text field keeping Tenon's key, default `F_TENON_KEY`), secret
//! `password` (ValidateUser) or `app_secret` with `config.app_id` (LoginByAppSecret). Kind `yonyou_u8`
//! (for the `yonyou_voucher` step): `config: {base_url, path, sender, receiver, username}` (`path`
//! default `/U8EAI/import.asp`, `sender`/`receiver` the EAI codes, default `tenon` and `u8`), secret
//! `password` (HTTP basic auth with `username`, for an EAI behind a proxy that asks for one).
//!
//! Kind `yonsuite` (for the `yonyou_voucher` step, YonSuite's open API): `config: {base_url, token_url,
//! app_key, accbook_code, voucher_types, auxiliary, maker_mobile, maker_email}` (`base_url` the tenant's
//! gateway, e.g. `https://c2.yonyoucloud.com/iuap-api-gateway`; `token_url` its auth service, by default
//! the gateway's with `/iuap-api-auth`; `voucher_types` word → voucher type code, e.g. `{转: "4"}`;
//! `auxiliary` dimension → auxiliary item code, e.g. `{customer: "0005"}`), secret `app_secret`.
//!
//! Kinds `postgres` and `mysql` (MySQL or MariaDB; for the `sql` step): `config: {host, port, database,
//! username, tls}` (`port` 5432 or 3306, `tls`: `none` plain, `starttls` or `tls` TLS required, absent
//! TLS when the server offers it), secret `password`.

use std::collections::BTreeMap;

use serde_json::Value;
use tenon_model::{Checker, DetailCode, Invalid};

/// Connection kinds.
pub const KINDS: &[&str] = &[
    "http",
    "dingtalk_robot",
    "aliyun_sms",
    "tencent_sms",
    "smtp",
    "kingdee",
    "yonyou_u8",
    "yonsuite",
    "postgres",
    "mysql",
];
/// Where DingTalk robots are, unless a connection says otherwise.
pub const DINGTALK_BASE_URL: &str = "https://oapi.dingtalk.com";
/// Auth schemes of an `http` connection.
pub const AUTHS: &[&str] = &["none", "bearer", "basic", "hmac"];
/// Most secrets one connection keeps, and the longest one.
pub const SECRETS_MAX: usize = 8;
pub const SECRET_CHARS_MAX: usize = 4096;

/// How an `http` connection authenticates, with its secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    Bearer(String),
    Basic {
        username: String,
        password: String,
    },
    Hmac(String),
    /// A DingTalk custom robot: its `access_token` and, with 加签, its `sign` secret.
    DingTalkRobot {
        access_token: String,
        sign: Option<String>,
    },
    /// Aliyun's ACS3-HMAC-SHA256 signature of an API `action` of `version`.
    Acs3 {
        access_key_id: String,
        access_key_secret: String,
        action: String,
        version: String,
    },
    /// Tencent Cloud's TC3-HMAC-SHA256 signature for `service`.
    Tc3 {
        secret_id: String,
        secret_key: String,
        service: String,
    },
    /// An SMTP server's login.
    Smtp {
        username: Option<String>,
        password: Option<String>,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret.
        f.write_str(match self {
            Auth::None => "None",
            Auth::Bearer(_) => "Bearer(…)",
            Auth::Basic { .. } => "Basic(…)",
            Auth::Hmac(_) => "Hmac(…)",
            Auth::DingTalkRobot { .. } => "DingTalkRobot(…)",
            Auth::Acs3 { .. } => "Acs3(…)",
            Auth::Tc3 { .. } => "Tc3(…)",
            Auth::Smtp { .. } => "Smtp(…)",
        })
    }
}

/// Checks a connection's kind, config and secrets (the secrets as they will be after the write).
pub fn check(
    kind: &str,
    config: &Value,
    secrets: &BTreeMap<String, String>,
) -> Result<(), Invalid> {
    let mut check = Checker::default();
    if !KINDS.contains(&kind) {
        check.add(
            tenon_model::Reason::not_one_of(
                KINDS,
                "kind is one of: http, dingtalk_robot, aliyun_sms, tencent_sms, smtp, kingdee, yonyou_u8, yonsuite, postgres, mysql",
            )
            .at("kind"),
        );
        return check.finish();
    }
    if kind == "dingtalk_robot" {
        robot(config, secrets, &mut check);
        secret_values(secrets, &mut check);
        return check.finish();
    }
    if let Some(shape) = Shape::of(kind) {
        shape.check(kind, config, secrets, &mut check);
        vendor(kind, config, secrets, &mut check);
        secret_values(secrets, &mut check);
        return check.finish();
    }
    let Some(map) = config.as_object() else {
        check.push("config", DetailCode::InvalidValue, "config is an object");
        return check.finish();
    };
    for key in map.keys() {
        if !["base_url", "auth", "username"].contains(&key.as_str()) {
            check.push(
                format!("config.{key}"),
                DetailCode::UnknownField,
                "an http connection's config has base_url, auth and username (secrets go in secrets)",
            );
        }
    }
    match map.get("base_url").and_then(Value::as_str) {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {}
        _ => check.push(
            "config.base_url",
            DetailCode::Required,
            "base_url: the address requests go to (http:// or https://)",
        ),
    }
    let auth = map.get("auth").and_then(Value::as_str).unwrap_or("none");
    if !AUTHS.contains(&auth) {
        check.add(
            tenon_model::Reason::not_one_of(AUTHS, "auth is one of none, bearer, basic, hmac")
                .at("config.auth"),
        );
    }
    let needed: &[&str] = match auth {
        "bearer" => &["token"],
        "basic" => &["password"],
        "hmac" => &["key"],
        _ => &[],
    };
    if auth == "basic" && map.get("username").and_then(Value::as_str).is_none() {
        check.push(
            "config.username",
            DetailCode::Required,
            "basic auth needs a username",
        );
    }
    for name in needed {
        if !secrets.contains_key(*name) {
            check.push(
                format!("secrets.{name}"),
                DetailCode::Required,
                format!("{auth} auth needs the secret {name}"),
            );
        }
    }
    secret_values(secrets, &mut check);
    check.finish()
}

fn robot(config: &Value, secrets: &BTreeMap<String, String>, check: &mut Checker) {
    let Some(map) = config.as_object() else {
        check.push("config", DetailCode::InvalidValue, "config is an object");
        return;
    };
    for key in map.keys().filter(|key| key.as_str() != "base_url") {
        check.push(
            format!("config.{key}"),
            DetailCode::UnknownField,
            "a dingtalk_robot connection's config has base_url only (the token and sign go in secrets)",
        );
    }
    if let Some(url) = map.get("base_url")
        && !url
            .as_str()
            .is_some_and(|u| u.starts_with("http://") || u.starts_with("https://"))
    {
        check.push(
            "config.base_url",
            DetailCode::InvalidValue,
            "base_url starts with http:// or https://",
        );
    }
    if !secrets.contains_key("access_token") {
        check.push(
            "secrets.access_token",
            DetailCode::Required,
            "a robot needs its access_token (from its webhook address)",
        );
    }
    for name in secrets.keys() {
        if !["access_token", "sign"].contains(&name.as_str()) {
            check.push(
                format!("secrets.{name}"),
                DetailCode::UnknownField,
                "a robot's secrets are access_token and sign",
            );
        }
    }
}

/// What a connection of an SMS or SMTP kind holds: config keys (required ones first), secrets.
struct Shape {
    config: &'static [&'static str],
    required: &'static [&'static str],
    secrets: &'static [&'static str],
    required_secrets: &'static [&'static str],
}

impl Shape {
    fn of(kind: &str) -> Option<Shape> {
        match kind {
            "aliyun_sms" => Some(Shape {
                config: &["base_url", "sign_name"],
                required: &["sign_name"],
                secrets: &["access_key_id", "access_key_secret"],
                required_secrets: &["access_key_id", "access_key_secret"],
            }),
            "tencent_sms" => Some(Shape {
                config: &["base_url", "sign_name", "sdk_app_id", "region"],
                required: &["sign_name", "sdk_app_id"],
                secrets: &["secret_id", "secret_key"],
                required_secrets: &["secret_id", "secret_key"],
            }),
            "smtp" => Some(Shape {
                config: &["host", "port", "tls", "from", "username"],
                required: &["host", "from"],
                secrets: &["password"],
                required_secrets: &[],
            }),
            "kingdee" => Some(Shape {
                config: &[
                    "base_url",
                    "acct_id",
                    "username",
                    "app_id",
                    "lcid",
                    "key_field",
                ],
                required: &["base_url", "acct_id", "username"],
                secrets: &["password", "app_secret"],
                required_secrets: &[],
            }),
            "postgres" | "mysql" => Some(Shape {
                config: &["host", "port", "database", "username", "tls"],
                required: &["host", "database", "username"],
                secrets: &["password"],
                required_secrets: &[],
            }),
            "yonsuite" => Some(Shape {
                config: &[
                    "base_url",
                    "token_url",
                    "app_key",
                    "accbook_code",
                    "voucher_types",
                    "auxiliary",
                    "maker_mobile",
                    "maker_email",
                ],
                required: &["base_url", "app_key"],
                secrets: &["app_secret"],
                required_secrets: &["app_secret"],
            }),
            "yonyou_u8" => Some(Shape {
                config: &["base_url", "path", "sender", "receiver", "username"],
                required: &["base_url"],
                secrets: &["password"],
                required_secrets: &[],
            }),
            _ => None,
        }
    }

    fn check(
        &self,
        kind: &str,
        config: &Value,
        secrets: &BTreeMap<String, String>,
        check: &mut Checker,
    ) {
        let Some(map) = config.as_object() else {
            check.push("config", DetailCode::InvalidValue, "config is an object");
            return;
        };
        for key in map.keys().filter(|k| !self.config.contains(&k.as_str())) {
            check.push(
                format!("config.{key}"),
                DetailCode::UnknownField,
                format!(
                    "a {kind} connection's config has {} (secrets go in secrets)",
                    self.config.join(", ")
                ),
            );
        }
        for name in self.required {
            if map
                .get(*name)
                .and_then(Value::as_str)
                .is_none_or(|v| v.trim().is_empty())
            {
                check.push(
                    format!("config.{name}"),
                    DetailCode::Required,
                    format!("a {kind} connection needs {name}"),
                );
            }
        }
        if let Some(url) = map.get("base_url")
            && !url
                .as_str()
                .is_some_and(|u| u.starts_with("http://") || u.starts_with("https://"))
        {
            check.push(
                "config.base_url",
                DetailCode::InvalidValue,
                "base_url starts with http:// or https://",
            );
        }
        if let Some(port) = map.get("port")
            && !port.as_u64().is_some_and(|p| (1..=65_535).contains(&p))
        {
            check.push(
                "config.port",
                DetailCode::InvalidValue,
                "port is a number from 1 to 65535",
            );
        }
        if let Some(tls) = map.get("tls")
            && !tls
                .as_str()
                .is_some_and(|t| crate::email::TLS_MODES.contains(&t))
        {
            check.add(
                tenon_model::Reason::not_one_of(
                    crate::email::TLS_MODES,
                    "tls is one of none, starttls, tls",
                )
                .at("config.tls"),
            );
        }
        for name in self.required_secrets {
            if !secrets.contains_key(*name) {
                check.push(
                    format!("secrets.{name}"),
                    DetailCode::Required,
                    format!("a {kind} connection needs the secret {name}"),
                );
            }
        }
        for name in secrets
            .keys()
            .filter(|n| !self.secrets.contains(&n.as_str()))
        {
            check.push(
                format!("secrets.{name}"),
                DetailCode::UnknownField,
                format!(
                    "a {kind} connection's secrets are {}",
                    self.secrets.join(", ")
                ),
            );
        }
    }
}

/// What the Shape of a `kingdee` or `yonyou_u8` connection does not say: Kingdee's login (a password, or
/// an app secret with `app_id`), its `lcid` and `key_field`; U8's `path`.
fn vendor(kind: &str, config: &Value, secrets: &BTreeMap<String, String>, check: &mut Checker) {
    let text = |name: &str| config.get(name).and_then(Value::as_str);
    match kind {
        "kingdee" => {
            match (secrets.contains_key("password"), secrets.contains_key("app_secret")) {
                (false, false) => check.push(
                    "secrets.password",
                    DetailCode::Required,
                    "a kingdee connection logs in with the secret password, or app_secret with config.app_id",
                ),
                (true, true) => check.push(
                    "secrets.app_secret",
                    DetailCode::NotAllowed,
                    "give password or app_secret, not both",
                ),
                (false, true) if text("app_id").is_none_or(|v| v.trim().is_empty()) => check.push(
                    "config.app_id",
                    DetailCode::Required,
                    "an app_secret login needs the app_id",
                ),
                _ => {}
            }
            if let Some(lcid) = config.get("lcid")
                && !lcid.as_u64().is_some_and(|l| (1..=65_535).contains(&l))
            {
                check.push(
                    "config.lcid",
                    DetailCode::InvalidValue,
                    "lcid is Kingdee's language id, a number (2052: simplified Chinese)",
                );
            }
            if let Some(field) = config.get("key_field") {
                let fine = field.as_str().is_some_and(|f| {
                    !f.is_empty()
                        && f.len() <= 64
                        && f.starts_with(|c: char| c.is_ascii_alphabetic())
                        && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                });
                if !fine {
                    check.push(
                        "config.key_field",
                        DetailCode::InvalidValue,
                        "key_field is the key of a text field of GL_VOUCHER (letters, digits, _), e.g. F_TENON_KEY",
                    );
                }
            }
        }
        "yonsuite" => yonsuite(config, check),
        "yonyou_u8" => {
            if let Some(path) = config.get("path")
                && !path
                    .as_str()
                    .is_some_and(|p| p.starts_with('/') && !p.starts_with("//"))
            {
                check.push(
                    "config.path",
                    DetailCode::InvalidValue,
                    "path is the EAI import's path under base_url, e.g. /U8EAI/import.asp",
                );
            }
            if secrets.contains_key("password") && text("username").is_none() {
                check.push(
                    "config.username",
                    DetailCode::Required,
                    "a password goes with a username (HTTP basic auth)",
                );
            }
        }
        _ => {}
    }
}

/// A `yonsuite` connection's `token_url` and its maps of codes.
fn yonsuite(config: &Value, check: &mut Checker) {
    if let Some(url) = config.get("token_url")
        && !url
            .as_str()
            .is_some_and(|u| u.starts_with("http://") || u.starts_with("https://"))
    {
        check.push(
            "config.token_url",
            DetailCode::InvalidValue,
            "token_url starts with http:// or https:// (YonSuite's auth service, e.g. https://c2.yonyoucloud.com/iuap-api-auth)",
        );
    }
    let dimensions = [
        "customer",
        "supplier",
        "department",
        "employee",
        "project",
        "item",
    ];
    let words = ["记", "收", "付", "转"];
    for (name, keys, what) in [
        (
            "voucher_types",
            &words[..],
            "a voucher word (记, 收, 付, 转)",
        ),
        (
            "auxiliary",
            &dimensions[..],
            "a dimension (customer, supplier, department, employee, project, item)",
        ),
    ] {
        let Some(map) = config.get(name) else {
            continue;
        };
        let Some(map) = map.as_object() else {
            check.push(
                format!("config.{name}"),
                DetailCode::InvalidValue,
                format!("{name} maps {what} to YonSuite's code"),
            );
            continue;
        };
        for (key, code) in map {
            if !keys.contains(&key.as_str()) {
                check.push(
                    format!("config.{name}.{key}"),
                    DetailCode::UnknownField,
                    format!("a key of {name} is {what}"),
                );
            } else if code.as_str().is_none_or(|c| c.trim().is_empty()) {
                check.push(
                    format!("config.{name}.{key}"),
                    DetailCode::InvalidValue,
                    "the code is a non-empty text",
                );
            }
        }
    }
}

fn secret_values(secrets: &BTreeMap<String, String>, check: &mut Checker) {
    if secrets.len() > SECRETS_MAX {
        check.too_many(
            "secrets",
            SECRETS_MAX,
            "a connection keeps at most 8 secrets",
        );
    }
    for (name, value) in secrets {
        if tenon_model::apps::ApiKey::parse(name).is_err() {
            check.push(
                format!("secrets.{name}"),
                DetailCode::InvalidValue,
                "a secret's name is a short identifier",
            );
        }
        if value.is_empty() || value.chars().count() > SECRET_CHARS_MAX {
            check.push(
                format!("secrets.{name}"),
                DetailCode::InvalidValue,
                "a secret has 1 to 4,096 characters",
            );
        }
    }
}

/// A `dingtalk_robot` connection's address and credentials.
pub fn robot_auth(config: &Value, secrets: &BTreeMap<String, String>) -> (String, Auth) {
    let base = config
        .get("base_url")
        .and_then(Value::as_str)
        .unwrap_or(DINGTALK_BASE_URL)
        .trim_end_matches('/');
    (
        format!("{base}/robot/send"),
        Auth::DingTalkRobot {
            access_token: secrets.get("access_token").cloned().unwrap_or_default(),
            sign: secrets.get("sign").cloned(),
        },
    )
}

/// The auth of an `http` connection from its config and secrets (checked when written).
pub fn http_auth(config: &Value, secrets: &BTreeMap<String, String>) -> Auth {
    let secret = |name: &str| secrets.get(name).cloned().unwrap_or_default();
    match config.get("auth").and_then(Value::as_str).unwrap_or("none") {
        "bearer" => Auth::Bearer(secret("token")),
        "basic" => Auth::Basic {
            username: config
                .get("username")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            password: secret("password"),
        },
        "hmac" => Auth::Hmac(secret("key")),
        _ => Auth::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_auth_needs_its_secret() {
        let none = BTreeMap::new();
        let error = check(
            "http",
            &json!({"base_url": "https://erp.example", "auth": "bearer"}),
            &none,
        )
        .unwrap_err();
        assert_eq!(error.0[0].field, "secrets.token");
        let error = check("ftp", &json!({}), &none).unwrap_err();
        assert_eq!(error.0[0].field, "kind");
        let token = BTreeMap::from([("token".to_owned(), "s3cret".to_owned())]);
        assert!(
            check(
                "http",
                &json!({"base_url": "https://erp.example", "auth": "bearer"}),
                &token
            )
            .is_ok()
        );
        assert_eq!(
            format!("{:?}", http_auth(&json!({"auth": "bearer"}), &token)),
            "Bearer(…)"
        );
    }

    #[test]
    fn no_auth_prints_its_secrets_in_debug_output_or_logs() {
        let s = || "S3CRET".to_owned();
        for auth in [
            Auth::Bearer(s()),
            Auth::Basic {
                username: "u".into(),
                password: s(),
            },
            Auth::Hmac(s()),
            Auth::DingTalkRobot {
                access_token: s(),
                sign: Some(s()),
            },
            Auth::Acs3 {
                access_key_id: s(),
                access_key_secret: s(),
                action: "SendSms".into(),
                version: "v".into(),
            },
            Auth::Tc3 {
                secret_id: s(),
                secret_key: s(),
                service: "sms".into(),
            },
            Auth::Smtp {
                username: Some("u".into()),
                password: Some(s()),
            },
        ] {
            assert!(!format!("{auth:?}").contains("S3CRET"));
        }
    }

    #[test]
    fn sms_and_smtp_connections_need_their_keys() {
        let error = check(
            "aliyun_sms",
            &json!({"sign_name": "天工", "region": "x"}),
            &BTreeMap::new(),
        )
        .unwrap_err();
        let mut fields: Vec<String> = error.0.into_iter().map(|e| e.field).collect();
        fields.sort();
        assert_eq!(
            fields,
            [
                "config.region",
                "secrets.access_key_id",
                "secrets.access_key_secret"
            ]
        );
        let password = BTreeMap::from([("password".to_owned(), "pw".to_owned())]);
        assert!(check("smtp", &json!({"host": "smtp.example.com", "port": 587, "tls": "starttls", "from": "a@example.com"}), &password).is_ok());
        let error = check(
            "smtp",
            &json!({"host": "smtp.example.com", "port": 0, "tls": "ssl", "from": "a@example.com"}),
            &password,
        )
        .unwrap_err();
        let mut fields: Vec<String> = error.0.into_iter().map(|e| e.field).collect();
        fields.sort();
        assert_eq!(fields, ["config.port", "config.tls"]);
    }
}
