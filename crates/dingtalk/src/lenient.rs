//! Request parameters read DingTalk's way: a JSON object or a form, unknown keys ignored, `null`, `""` and
//! `[]` read as unset, and on oapi scalars also as strings (`"2"` for 2, `"true"` for true).

use serde_json::{Map, Value};

/// Why a parameter could not be read: the family's route answers `MissingParameter`/`InvalidParameter`
/// (v1.0) or 40035 (oapi) naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamError {
    /// The body is neither a JSON object nor a form.
    Unreadable(String),
    Missing(String),
    Invalid {
        name: String,
        expected: &'static str,
    },
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamError::Unreadable(reason) => write!(f, "the body cannot be read: {reason}"),
            ParamError::Missing(name) => write!(f, "the parameter {name} is missing"),
            ParamError::Invalid { name, expected } => {
                write!(f, "the parameter {name} must be {expected}")
            }
        }
    }
}

impl std::error::Error for ParamError {}

/// The parameters of one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(Map<String, Value>);

impl Params {
    /// A body: a JSON object (an empty body is no parameters), or `application/x-www-form-urlencoded` pairs
    /// when `form` is true.
    pub fn from_body(body: &[u8], form: bool) -> Result<Params, ParamError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Params::default());
        }
        if form {
            return Ok(Params::from_pairs(form_pairs(body)));
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(Params(map)),
            Ok(_) => Err(ParamError::Unreadable("not a JSON object".to_owned())),
            Err(error) => Err(ParamError::Unreadable(error.to_string())),
        }
    }

    /// Pairs of a query string or a form: every value a string; a repeated name keeps its last value.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Params {
        Params(
            pairs
                .into_iter()
                .map(|(name, value)| (name, Value::String(value)))
                .collect(),
        )
    }

    /// Adds the pairs of `other` that this lacks.
    pub fn or(mut self, other: Params) -> Params {
        for (name, value) in other.0 {
            self.0.entry(name).or_insert(value);
        }
        self
    }

    fn present(&self, name: &str) -> Option<&Value> {
        match self.0.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) if text.is_empty() => None,
            Some(Value::Array(items)) if items.is_empty() => None,
            Some(value) => Some(value),
        }
    }

    /// A text parameter; a number is taken as its decimal text. `None` when unset.
    pub fn text(&self, name: &str) -> Result<Option<String>, ParamError> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(Value::Number(number)) => Ok(Some(number.to_string())),
            Some(_) => Err(ParamError::Invalid {
                name: name.to_owned(),
                expected: "a string",
            }),
        }
    }

    /// A required text parameter.
    pub fn required_text(&self, name: &str) -> Result<String, ParamError> {
        self.text(name)?
            .ok_or_else(|| ParamError::Missing(name.to_owned()))
    }

    /// An integer parameter: a JSON integer or its decimal text (`"2"`).
    pub fn int(&self, name: &str) -> Result<Option<i64>, ParamError> {
        let invalid = || ParamError::Invalid {
            name: name.to_owned(),
            expected: "an integer",
        };
        match self.present(name) {
            None => Ok(None),
            Some(Value::Number(number)) => number.as_i64().map(Some).ok_or_else(invalid),
            Some(Value::String(text)) => text.trim().parse().map(Some).map_err(|_| invalid()),
            Some(_) => Err(invalid()),
        }
    }

    /// A list of integers: a comma-joined string (`"2,3"`) or a JSON array (`[2, "3"]`). `None` when unset.
    pub fn int_list(&self, name: &str) -> Result<Option<Vec<i64>>, ParamError> {
        crate::directory::integer_list(self.present(name)).map_err(|_| ParamError::Invalid {
            name: name.to_owned(),
            expected: "a list of integers (\"2,3\" or [2, 3])",
        })
    }

    /// A list of text items: a comma-joined string or a JSON array. `None` when unset.
    pub fn text_list(&self, name: &str) -> Result<Option<Vec<String>>, ParamError> {
        crate::directory::text_list(self.present(name)).map_err(|_| ParamError::Invalid {
            name: name.to_owned(),
            expected: "a list of strings (\"a,b\" or [\"a\", \"b\"])",
        })
    }

    /// A JSON object parameter: an object, or its JSON text (form bodies carry `msg={"msgtype": …}`).
    /// `None` when unset.
    pub fn object(&self, name: &str) -> Result<Option<Map<String, Value>>, ParamError> {
        let invalid = || ParamError::Invalid {
            name: name.to_owned(),
            expected: "a JSON object",
        };
        match self.present(name) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map.clone())),
            Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(map)) => Ok(Some(map)),
                _ => Err(invalid()),
            },
            Some(_) => Err(invalid()),
        }
    }

    /// A list of JSON values: an array, or its JSON text (form bodies, and DingTalk's own samples, send
    /// `form_component_values=[{…}]`). `None` when unset.
    pub fn array(&self, name: &str) -> Result<Option<Vec<Value>>, ParamError> {
        let invalid = || ParamError::Invalid {
            name: name.to_owned(),
            expected: "a JSON array (or its text)",
        };
        match self.present(name) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items.clone())),
            Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
                Ok(Value::Array(items)) => Ok(Some(items)),
                _ => Err(invalid()),
            },
            Some(_) => Err(invalid()),
        }
    }

    /// A boolean parameter: `true`/`false` or their text.
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, ParamError> {
        let invalid = || ParamError::Invalid {
            name: name.to_owned(),
            expected: "true or false",
        };
        match self.present(name) {
            None => Ok(None),
            Some(Value::Bool(value)) => Ok(Some(*value)),
            Some(Value::String(text)) => match text.trim() {
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                _ => Err(invalid()),
            },
            Some(_) => Err(invalid()),
        }
    }
}

fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    body.split(|byte| *byte == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut parts = pair.splitn(2, |byte| *byte == b'=');
            let name = percent_decode(parts.next().unwrap_or_default());
            let value = percent_decode(parts.next().unwrap_or_default());
            (name, value)
        })
        .collect()
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte; invalid UTF-8 is replaced.
pub fn percent_decode(text: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(text.len());
    let mut index = 0;
    while index < text.len() {
        match text[index] {
            b'+' => bytes.push(b' '),
            b'%' if index + 2 < text.len() => {
                let hex = std::str::from_utf8(&text[index + 1..index + 3]).ok();
                match hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
                    Some(byte) => {
                        bytes.push(byte);
                        index += 2;
                    }
                    None => bytes.push(b'%'),
                }
            }
            byte => bytes.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn scalars_may_be_strings_and_unset_is_null_empty_or_absent() {
        let params = Params::from_body(
            br#"{"dept_id": "2", "size": 10, "flag": "true", "off": false, "name": "", "ids": [], "extra": {"x": 1}}"#,
            false,
        )
        .unwrap();
        assert_eq!(params.int("dept_id").unwrap(), Some(2));
        assert_eq!(params.int("size").unwrap(), Some(10));
        assert_eq!(params.boolean("flag").unwrap(), Some(true));
        assert_eq!(params.boolean("off").unwrap(), Some(false));
        assert_eq!(params.text("name").unwrap(), None);
        assert_eq!(params.text("ids").unwrap(), None);
        assert_eq!(params.int("absent").unwrap(), None);
        assert_eq!(params.text("size").unwrap().as_deref(), Some("10"));
        assert_eq!(
            params.required_text("appkey"),
            Err(ParamError::Missing("appkey".to_owned()))
        );
        assert!(matches!(
            params.int("flag"),
            Err(ParamError::Invalid { .. })
        ));
        assert!(matches!(
            params.boolean("dept_id"),
            Err(ParamError::Invalid { .. })
        ));
        assert!(matches!(
            params.text("extra"),
            Err(ParamError::Invalid { .. })
        ));
        let arrays = Params::from_body(
            br#"{"a": [{"name": "x"}], "b": "[{\"name\": \"y\"}]", "c": "x"}"#,
            false,
        )
        .unwrap();
        assert_eq!(arrays.array("a").unwrap().unwrap()[0]["name"], "x");
        assert_eq!(arrays.array("b").unwrap().unwrap()[0]["name"], "y");
        assert!(arrays.array("c").is_err());
        assert_eq!(arrays.array("d").unwrap(), None);
    }

    #[test]
    fn forms_json_and_empty_bodies_are_read_and_others_refused() {
        let form = Params::from_body(b"appkey=tnc_a%2Bb&name=Li+Lei&size=3", true).unwrap();
        assert_eq!(form.text("appkey").unwrap().as_deref(), Some("tnc_a+b"));
        assert_eq!(form.text("name").unwrap().as_deref(), Some("Li Lei"));
        assert_eq!(form.int("size").unwrap(), Some(3));
        assert_eq!(Params::from_body(b"  ", false).unwrap(), Params::default());
        assert!(matches!(
            Params::from_body(b"[1]", false),
            Err(ParamError::Unreadable(_))
        ));
        assert!(matches!(
            Params::from_body(b"{", false),
            Err(ParamError::Unreadable(_))
        ));
        assert_eq!(percent_decode(b"100%"), "100%");
        assert_eq!(percent_decode(b"%E4%BD%A0"), "你");
        let merged =
            Params::from_pairs([("a".to_owned(), "1".to_owned())]).or(Params::from_pairs([
                ("a".to_owned(), "2".to_owned()),
                ("b".to_owned(), "3".to_owned()),
            ]));
        assert_eq!(merged.int("a").unwrap(), Some(1));
        assert_eq!(merged.int("b").unwrap(), Some(3));
    }
}
