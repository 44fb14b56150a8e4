//! Validated values. Each has a private field and one checking constructor, so an invalid value never exists.

use std::fmt;

use crate::validation::{DetailCode, Reason};

/// Longest name we accept for people, departments and organizations, in characters.
pub const NAME_CHARS_MAX: usize = 100;
/// Longest free-text attribute (job title, employee number), in characters.
pub const TEXT_CHARS_MAX: usize = 200;
/// Password length bounds, in characters. The upper bound keeps argon2's input (and our CPU) bounded.
pub const PASSWORD_CHARS_MIN: usize = 8;
pub const PASSWORD_CHARS_MAX: usize = 256;
/// RFC 5321 limit for a whole address.
pub const EMAIL_CHARS_MAX: usize = 254;

fn check_plain_text(raw: &str, max_chars: usize) -> Result<String, Reason> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(Reason::empty());
    }
    let n_chars = trimmed.chars().count();
    if n_chars > max_chars {
        return Err(Reason::new(
            DetailCode::TooLong,
            format!("must be at most {max_chars} characters, got {n_chars}"),
        )
        .with("max", max_chars));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Reason::control_characters());
    }
    Ok(trimmed.to_owned())
}

/// A display name of a person, department or organization: 1..=100 characters, trimmed, no control characters.
/// Any script is welcome (`张三`, `Ærøskøbing`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Name(String);

impl Name {
    pub fn parse(raw: &str) -> Result<Self, Reason> {
        check_plain_text(raw, NAME_CHARS_MAX).map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A short optional attribute (job title, employee number): blank input means "no value".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OptionalText(Option<String>);

impl OptionalText {
    pub const NONE: OptionalText = OptionalText(None);

    pub fn parse(raw: &str) -> Result<Self, Reason> {
        if raw.trim().is_empty() {
            return Ok(Self(None));
        }
        check_plain_text(raw, TEXT_CHARS_MAX).map(|text| Self(Some(text)))
    }
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
    pub fn into_option(self) -> Option<String> {
        self.0
    }
}

/// An e-mail address, stored lowercased so that lookups and uniqueness ignore case.
///
/// The check is deliberately the practical one (one `@`, a dot in the domain, no spaces): full RFC 5322
/// grammar accepts addresses no mail system delivers to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Reason> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err(Reason::empty());
        }
        if email.chars().count() > EMAIL_CHARS_MAX {
            return Err(Reason::too_long(EMAIL_CHARS_MAX));
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err(Reason::format(
                "email",
                "must be an e-mail address like name@example.com",
            ));
        };
        let domain_ok = !domain.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..");
        if local.is_empty()
            || !domain_ok
            || email.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(Reason::format(
                "email",
                "must be an e-mail address like name@example.com",
            ));
        }
        Ok(Self(email))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A mobile number: an optional leading `+`, then 5 to 20 digits; spaces and dashes are dropped.
/// Chinese numbers (`13800138000`) and E.164 (`+8613800138000`) both fit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mobile(String);

impl Mobile {
    pub fn parse(raw: &str) -> Result<Self, Reason> {
        let compact: String = raw
            .trim()
            .chars()
            .filter(|c| *c != ' ' && *c != '-')
            .collect();
        let digits = compact.strip_prefix('+').unwrap_or(&compact);
        let n_digits = digits.chars().count();
        if !(5..=20).contains(&n_digits) || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(Reason::format(
                "phone",
                "must be a phone number of 5 to 20 digits, optionally starting with +",
            ));
        }
        Ok(Self(compact))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as typed, checked for length only (NIST SP 800-63B: no composition rules).
/// It is never stored; only its argon2id hash is.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str) -> Result<Self, Reason> {
        let n_chars = raw.chars().count();
        if n_chars < PASSWORD_CHARS_MIN {
            return Err(Reason::too_short(PASSWORD_CHARS_MIN));
        }
        if n_chars > PASSWORD_CHARS_MAX {
            return Err(Reason::too_long(PASSWORD_CHARS_MAX));
        }
        Ok(Self(raw.to_owned()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// An IANA time zone name such as `Asia/Shanghai`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeZone(chrono_tz::Tz);

impl TimeZone {
    pub const SHANGHAI: TimeZone = TimeZone(chrono_tz::Tz::Asia__Shanghai);
    pub const UTC: TimeZone = TimeZone(chrono_tz::Tz::UTC);

    pub fn parse(raw: &str) -> Result<Self, Reason> {
        raw.trim().parse::<chrono_tz::Tz>().map(Self).map_err(|_| {
            Reason::format(
                "time_zone",
                format!("\"{raw}\" is not an IANA time zone such as Asia/Shanghai"),
            )
        })
    }
    pub fn name(&self) -> &'static str {
        self.0.name()
    }
    pub fn tz(&self) -> chrono_tz::Tz {
        self.0
    }
}

/// The language an organization's texts default to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Locale {
    ZhCn,
    En,
}

impl Locale {
    pub fn parse(raw: &str) -> Result<Self, Reason> {
        match raw.trim() {
            "zh-CN" | "zh-cn" | "zh" => Ok(Locale::ZhCn),
            "en" | "en-US" | "en-GB" => Ok(Locale::En),
            other => Err(Reason::not_one_of(
                &["zh-CN", "en"],
                format!("\"{other}\" is not a supported locale (zh-CN, en)"),
            )),
        }
    }
    pub const fn as_str(self) -> &'static str {
        match self {
            Locale::ZhCn => "zh-CN",
            Locale::En => "en",
        }
    }
}
