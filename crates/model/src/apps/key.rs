//! API keys of apps, tables and fields: stable slugs that clients use in URLs and JSON.
//!
//! A key matches `[a-z][a-z0-9_]{0,62}`. When a client gives none, one is derived from the human name:
//! transliterated (Chinese becomes pinyin syllables, `入住日期` → `ru_zhu_ri_qi`), lowercased, runs of other
//! characters turned into `_`. A name that yields nothing usable gets a short id-based key.

use std::fmt;

use crate::validation::Reason;

/// Longest key, in bytes (all ASCII); also PostgreSQL's identifier limit.
pub const API_KEY_LEN_MAX: usize = 63;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn parse(raw: &str) -> Result<Self, Reason> {
        let valid = raw.len() <= API_KEY_LEN_MAX
            && raw
                .bytes()
                .next()
                .is_some_and(|first| first.is_ascii_lowercase())
            && raw
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_');
        if valid {
            Ok(ApiKey(raw.to_owned()))
        } else {
            Err(Reason::format(
                "key",
                format!(
                    "\"{raw}\" is not a key: use 1 to 63 of a-z, 0-9 and _, starting with a letter"
                ),
            ))
        }
    }

    /// A key derived from a human name, or `None` when the name has no usable letters.
    pub fn derive(name: &str) -> Option<Self> {
        let ascii = deunicode::deunicode(name).to_lowercase();
        let mut key = String::with_capacity(ascii.len());
        for c in ascii.chars() {
            if c.is_ascii_alphanumeric() {
                key.push(c);
            } else if !key.ends_with('_') && !key.is_empty() {
                key.push('_');
            }
        }
        let key = key.trim_end_matches('_');
        let key = key.trim_start_matches(|c: char| c.is_ascii_digit() || c == '_');
        let mut key: String = key.chars().take(API_KEY_LEN_MAX).collect();
        while key.ends_with('_') {
            key.pop();
        }
        ApiKey::parse(&key).ok()
    }

    /// `base`, or `base_2`, `base_3`, … — the first that `taken` does not hold.
    pub fn unique_among(base: ApiKey, taken: impl Fn(&str) -> bool) -> ApiKey {
        if !taken(&base.0) {
            return base;
        }
        for n in 2u32.. {
            let suffix = format!("_{n}");
            let stem: String = base
                .0
                .chars()
                .take(API_KEY_LEN_MAX - suffix.len())
                .collect();
            let candidate = format!("{stem}{suffix}");
            if !taken(&candidate) {
                return ApiKey(candidate);
            }
        }
        base
    }

    /// A key made from an id, for names that transliterate to nothing (e.g. only emoji).
    pub fn from_id(prefix: char, id: &uuid::Uuid) -> ApiKey {
        let hex = id.simple().to_string();
        ApiKey(format!("{prefix}_{}", &hex[hex.len() - 8..]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_and_derived_from_any_script() {
        assert!(ApiKey::parse("guest_name2").is_ok());
        for bad in ["", "Guest", "2nights", "_x", "a-b", "名字", &"a".repeat(64)] {
            assert!(ApiKey::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(ApiKey::derive("入住日期").unwrap().as_str(), "ru_zhu_ri_qi");
        assert_eq!(
            ApiKey::derive("Check-in Date").unwrap().as_str(),
            "check_in_date"
        );
        assert_eq!(ApiKey::derive("  2026 Budget ").unwrap().as_str(), "budget");
        assert_eq!(
            ApiKey::derive("Ærøskøbing").unwrap().as_str(),
            "aeroskobing"
        );
        assert!(
            ApiKey::derive("🙂").is_none()
                || ApiKey::derive("🙂").is_some_and(|k| ApiKey::parse(k.as_str()).is_ok())
        );
        assert!(ApiKey::derive("123").is_none());
        let taken = ["nights", "nights_2"];
        let key = ApiKey::unique_among(ApiKey::parse("nights").unwrap(), |k| taken.contains(&k));
        assert_eq!(key.as_str(), "nights_3");
    }
}
