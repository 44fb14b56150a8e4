//! Request signatures of the SMS vendors, without I/O: Aliyun's ACS3-HMAC-SHA256 (V3 signature) and
//! Tencent Cloud's TC3-HMAC-SHA256 (signature v3). The caller gives the time and the nonce (the worker
//! takes the wall clock: vendors compare it with theirs), so both are tested on the vendors' own worked
//! examples.
//!
//! - ACS3: canonical request = method, path, canonical query, `name:value` lines of `host` and every
//!   `x-acs-*` header (lowercase, sorted), the signed header names, hex SHA-256 of the body; string to
//!   sign = `ACS3-HMAC-SHA256\n` + hex SHA-256 of the canonical request; signature = hex
//!   HMAC-SHA256(AccessKey secret, string to sign).
//! - TC3: canonical request = `POST\n/\n\ncontent-type:…\nhost:…\n\ncontent-type;host\n` + hex SHA-256 of
//!   the body; string to sign = `TC3-HMAC-SHA256\n<timestamp>\n<date>/<service>/tc3_request\n` + hex
//!   SHA-256 of the canonical request; the key is derived `TC3<secret>` → date → service →
//!   `tc3_request`.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length: this never fails.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
        return Vec::new();
    };
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// Percent-encodes as RFC 3986 (everything but `A-Z a-z 0-9 - _ . ~`), as both vendors canonicalize.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A canonical query string: pairs encoded, sorted by name (then value), joined with `&`.
pub fn canonical_query(pairs: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> =
        pairs.iter().map(|(k, v)| (encode(k), encode(v))).collect();
    encoded.sort();
    encoded
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// An Aliyun request to sign (ACS3-HMAC-SHA256).
#[derive(Debug, Clone)]
pub struct Acs3<'a> {
    pub method: &'a str,
    /// `host[:port]`, as the request's `Host` header carries it.
    pub host: &'a str,
    pub path: &'a str,
    /// Already canonical ([`canonical_query`]).
    pub query: &'a str,
    pub action: &'a str,
    pub version: &'a str,
    pub body: &'a [u8],
    /// `yyyy-MM-ddTHH:mm:ssZ` (UTC).
    pub date: &'a str,
    /// Unique per request (replay protection).
    pub nonce: &'a str,
}

impl Acs3<'_> {
    /// The signed headers' names and values (lowercase names, sorted).
    fn signed(&self) -> Vec<(&'static str, String)> {
        vec![
            ("host", self.host.to_owned()),
            ("x-acs-action", self.action.to_owned()),
            ("x-acs-content-sha256", sha256_hex(self.body)),
            ("x-acs-date", self.date.to_owned()),
            ("x-acs-signature-nonce", self.nonce.to_owned()),
            ("x-acs-version", self.version.to_owned()),
        ]
    }

    pub fn canonical_request(&self) -> String {
        let signed = self.signed();
        let lines: String = signed
            .iter()
            .map(|(name, value)| format!("{name}:{}\n", value.trim()))
            .collect();
        let names = signed.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(";");
        format!(
            "{}\n{}\n{}\n{lines}\n{names}\n{}",
            self.method,
            self.path,
            self.query,
            sha256_hex(self.body)
        )
    }

    /// The hex signature with the AccessKey secret.
    pub fn signature(&self, access_key_secret: &str) -> String {
        let to_sign = format!(
            "ACS3-HMAC-SHA256\n{}",
            sha256_hex(self.canonical_request().as_bytes())
        );
        hex::encode(hmac(access_key_secret.as_bytes(), to_sign.as_bytes()))
    }

    /// The headers to send (all but `host`, which the client sets): `x-acs-*` and `Authorization`.
    pub fn headers(&self, access_key_id: &str, access_key_secret: &str) -> Vec<(String, String)> {
        let signed = self.signed();
        let names = signed.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(";");
        let mut headers: Vec<(String, String)> = signed
            .into_iter()
            .filter(|(name, _)| *name != "host")
            .map(|(name, value)| (name.to_owned(), value))
            .collect();
        headers.push((
            "Authorization".to_owned(),
            format!(
                "ACS3-HMAC-SHA256 Credential={access_key_id},SignedHeaders={names},Signature={}",
                self.signature(access_key_secret)
            ),
        ));
        headers
    }
}

/// The content type TC3 requests carry (and sign).
pub const TC3_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// A Tencent Cloud API request to sign (TC3-HMAC-SHA256, a JSON `POST /`).
#[derive(Debug, Clone)]
pub struct Tc3<'a> {
    /// `host[:port]`, as the request's `Host` header carries it.
    pub host: &'a str,
    /// The product (`sms`, `cvm`): the host's first label for Tencent's own endpoints.
    pub service: &'a str,
    pub body: &'a [u8],
    /// Unix seconds.
    pub timestamp: i64,
}

impl Tc3<'_> {
    /// The UTC date of the timestamp, `yyyy-mm-dd`.
    pub fn date(&self) -> String {
        chrono::DateTime::from_timestamp(self.timestamp, 0)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    }

    pub fn canonical_request(&self) -> String {
        format!(
            "POST\n/\n\ncontent-type:{TC3_CONTENT_TYPE}\nhost:{}\n\ncontent-type;host\n{}",
            self.host,
            sha256_hex(self.body)
        )
    }

    fn scope(&self) -> String {
        format!("{}/{}/tc3_request", self.date(), self.service)
    }

    pub fn string_to_sign(&self) -> String {
        format!(
            "TC3-HMAC-SHA256\n{}\n{}\n{}",
            self.timestamp,
            self.scope(),
            sha256_hex(self.canonical_request().as_bytes())
        )
    }

    /// The hex signature with the SecretKey.
    pub fn signature(&self, secret_key: &str) -> String {
        let date = hmac(
            format!("TC3{secret_key}").as_bytes(),
            self.date().as_bytes(),
        );
        let service = hmac(&date, self.service.as_bytes());
        let signing = hmac(&service, b"tc3_request");
        hex::encode(hmac(&signing, self.string_to_sign().as_bytes()))
    }

    /// The `Authorization` header's value.
    pub fn authorization(&self, secret_id: &str, secret_key: &str) -> String {
        format!(
            "TC3-HMAC-SHA256 Credential={secret_id}/{}, SignedHeaders=content-type;host, Signature={}",
            self.scope(),
            self.signature(secret_key)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Aliyun's worked example of the V3 signature ("V3 请求结构和签名", help.aliyun.com
    /// /zh/sdk/product-overview/v3-request-structure-and-signature): ECS RunInstances, the AccessKey pair
    /// `YourAccessKeyId` / `YourAccessKeySecret`, its date, nonce and query, an empty body.
    #[test]
    fn acs3_matches_aliyuns_documented_example() {
        let query = canonical_query(&[
            ("RegionId".to_owned(), "cn-shanghai".to_owned()),
            (
                "ImageId".to_owned(),
                "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd".to_owned(),
            ),
        ]);
        assert_eq!(
            query,
            "ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai"
        );
        let request = Acs3 {
            method: "POST",
            host: "ecs.cn-shanghai.aliyuncs.com",
            path: "/",
            query: &query,
            action: "RunInstances",
            version: "2014-05-26",
            body: b"",
            date: "2023-10-26T10:22:32Z",
            nonce: "3156853299f313e23d1673dc12e1703d",
        };
        assert_eq!(
            sha256_hex(request.canonical_request().as_bytes()),
            "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
        );
        assert_eq!(
            request.signature("YourAccessKeySecret"),
            "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
        );
        let headers = request.headers("YourAccessKeyId", "YourAccessKeySecret");
        assert_eq!(
            headers.last().map(|(_, v)| v.as_str()),
            Some(
                "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,\
                 SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,\
                 Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
            )
        );
    }

    /// Tencent Cloud's worked example of signature v3 ("签名方法 v3", cloud.tencent.com/document/api
    /// /213/30654): CVM DescribeInstances, SecretId `AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******`, SecretKey
    /// `Gu5t9xGARNpq86cd98joQYCN3*******` (as printed), timestamp 1551113065, its JSON body.
    #[test]
    fn tc3_matches_tencents_documented_example() {
        let body = r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
        let request = Tc3 {
            host: "cvm.tencentcloudapi.com",
            service: "cvm",
            body: body.as_bytes(),
            timestamp: 1_551_113_065,
        };
        assert_eq!(
            request.canonical_request(),
            "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\n\
             content-type;host\n35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
        assert_eq!(
            request.string_to_sign(),
            "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n\
             5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
        );
        assert_eq!(
            request.authorization(
                "AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******",
                "Gu5t9xGARNpq86cd98joQYCN3*******"
            ),
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/tc3_request, \
             SignedHeaders=content-type;host, \
             Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
        );
    }

    #[test]
    fn query_values_are_encoded_as_rfc_3986() {
        assert_eq!(
            canonical_query(&[("TemplateParam".to_owned(), "{\"a\":\"b c*~\"}".to_owned())]),
            "TemplateParam=%7B%22a%22%3A%22b%20c%2A~%22%7D"
        );
        assert_eq!(encode("签"), "%E7%AD%BE");
    }
}
