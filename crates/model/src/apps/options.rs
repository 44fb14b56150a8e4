//! Parsing field options from the JSON a client sends: every option of every type, checked, with unknown
//! option names reported apart from bad values.

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::apps::field::{
    ATTACHMENT_MB_MAX, Bounds, CHOICE_COLORS, CHOICES_MAX, Choice, DatePattern, FieldKind,
    FieldType, LinkTarget, PRECISION_MAX, Pattern, SpecError,
};
use tenon_formula::rollup::Aggregate;

use crate::apps::computed::FormulaDef;
use crate::apps::field::FieldRef;
use crate::validation::{Checker, DetailCode, Reason};
use crate::values::TimeZone;

/// Parses a field type and its options. `path` prefixes error fields (e.g. `fields[2].options`).
pub fn parse_kind(
    field_type: FieldType,
    options: &Map<String, Value>,
    path: &str,
) -> Result<FieldKind, SpecError> {
    let allowed = field_type.option_names();
    let unknown: Vec<String> = options
        .keys()
        .filter(|name| !allowed.contains(&name.as_str()))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(SpecError::UnknownOptions {
            path: path.to_owned(),
            names: unknown,
            allowed: allowed.to_vec(),
        });
    }
    // An option given as `null` is not given: the type's default applies. A change merges the options it
    // sends into the field's current ones, so `{"min": null}` is how a client removes a bound.
    let given: Map<String, Value> = options
        .iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let mut check = Checker::default();
    let at = |name: &str| format!("{path}.{name}");
    let kind = {
        let mut opt = OptionReader {
            options: &given,
            check: &mut check,
            at: &at,
        };
        match field_type {
            FieldType::Text => FieldKind::Text {
                min_length: opt.u32("min_length", 0, u32::MAX),
                max_length: opt.u32("max_length", 1, u32::MAX),
                pattern: opt
                    .string("pattern")
                    .and_then(|raw| opt.check.field(&at("pattern"), Pattern::parse(&raw))),
            },
            FieldType::LongText => FieldKind::LongText {
                min_length: opt.u32("min_length", 0, u32::MAX),
                max_length: opt.u32("max_length", 1, u32::MAX),
            },
            FieldType::Number => FieldKind::Number {
                precision: opt.u32("precision", 0, PRECISION_MAX).unwrap_or(0),
                bounds: opt.bounds(),
            },
            FieldType::Percent => FieldKind::Percent {
                precision: opt.u32("precision", 0, PRECISION_MAX - 2).unwrap_or(0),
                bounds: opt.bounds(),
            },
            FieldType::Currency => FieldKind::Currency {
                currency: opt
                    .string("currency")
                    .map(|raw| raw.to_ascii_uppercase())
                    .filter(|code| {
                        let ok = code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase());
                        if !ok {
                            opt.check.add(
                                Reason::format(
                                    "currency",
                                    "must be an ISO 4217 code such as CNY, USD or EUR",
                                )
                                .at(at("currency")),
                            );
                        }
                        ok
                    })
                    .unwrap_or_else(|| "CNY".to_owned()),
                precision: opt.u32("precision", 0, PRECISION_MAX).unwrap_or(2),
                bounds: opt.bounds(),
            },
            FieldType::Date => FieldKind::Date {
                time_zone: opt.time_zone(),
            },
            FieldType::DateTime => FieldKind::DateTime {
                time_zone: opt.time_zone(),
            },
            FieldType::CreatedTime => FieldKind::CreatedTime {
                time_zone: opt.time_zone(),
            },
            FieldType::ModifiedTime => FieldKind::ModifiedTime {
                time_zone: opt.time_zone(),
            },
            FieldType::Duration => FieldKind::Duration {
                bounds: opt.bounds(),
            },
            FieldType::Checkbox => FieldKind::Checkbox,
            FieldType::SingleSelect => FieldKind::SingleSelect {
                choices: opt.choices(),
            },
            FieldType::MultiSelect => FieldKind::MultiSelect {
                choices: opt.choices(),
            },
            FieldType::Rating => FieldKind::Rating {
                max: i64::from(opt.u32("max", 1, 10).unwrap_or(5)),
            },
            FieldType::Email => FieldKind::Email,
            FieldType::Phone => FieldKind::Phone,
            FieldType::Url => FieldKind::Url,
            FieldType::Member => FieldKind::Member {
                multiple: opt.bool("multiple").unwrap_or(false),
            },
            FieldType::Department => FieldKind::Department {
                multiple: opt.bool("multiple").unwrap_or(false),
            },
            FieldType::Attachment => FieldKind::Attachment {
                max_size_mb: opt.u32("max_size_mb", 1, ATTACHMENT_MB_MAX).unwrap_or(20),
                types: opt.string_list("types").unwrap_or_default(),
            },
            FieldType::Link => {
                let table = opt.string("table");
                if table.is_none() {
                    opt.check.push(
                        at("table"),
                        DetailCode::Required,
                        "a link needs the key or id of the table it links to",
                    );
                }
                FieldKind::Link {
                    table: LinkTarget::Named(table.unwrap_or_default()),
                    multiple: opt.bool("multiple").unwrap_or(true),
                    inverse: None,
                }
            }
            FieldType::Autonumber => FieldKind::Autonumber {
                prefix: opt.string("prefix").unwrap_or_default(),
                date_pattern: opt.string("date_pattern").and_then(|raw| {
                    opt.check
                        .field(&at("date_pattern"), DatePattern::parse(&raw))
                }),
                digits: opt.u32("digits", 1, 12).unwrap_or(4),
            },
            FieldType::CreatedBy => FieldKind::CreatedBy,
            FieldType::ModifiedBy => FieldKind::ModifiedBy,
            FieldType::Formula => {
                let formula = opt.required_string(
                    "formula",
                    "a formula field needs its formula, e.g. ROUND({Price} * {Quantity}, 2)",
                );
                FieldKind::Formula {
                    formula: FormulaDef::Source(formula),
                }
            }
            FieldType::Lookup => FieldKind::Lookup {
                link: FieldRef::Named(
                    opt.required_string("link", "the key of the link field to look through"),
                ),
                field: FieldRef::Named(opt.required_string(
                    "field",
                    "the key of the field to read on the linked records",
                )),
                result: None,
            },
            FieldType::Rollup => {
                let link = FieldRef::Named(
                    opt.required_string("link", "the key of the link field to summarize through"),
                );
                let field = FieldRef::Named(opt.required_string(
                    "field",
                    "the key of the field to summarize on the linked records",
                ));
                let name = opt.required_string(
                    "function",
                    "one of sum, avg, min, max, count, count_distinct, count_all, concat",
                );
                let function = Aggregate::parse(&name).unwrap_or_else(|| {
                    if !name.is_empty() {
                        opt.check.add(
                            Reason::not_one_of(
                                &ROLLUP_FUNCTIONS,
                                format!("\"{name}\" is not a rollup function; use sum, avg, min, max, count, count_distinct, count_all or concat"),
                            )
                            .at(at("function")),
                        );
                    }
                    Aggregate::Count
                });
                FieldKind::Rollup {
                    link,
                    field,
                    function,
                    result: None,
                }
            }
            FieldType::Count => FieldKind::Count {
                link: FieldRef::Named(
                    opt.required_string("link", "the key of the link field whose records to count"),
                ),
            },
        }
    };
    check.finish()?;
    Ok(kind)
}

/// The rollup functions `function` takes.
const ROLLUP_FUNCTIONS: [&str; 8] = [
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "count_distinct",
    "count_all",
    "concat",
];

/// Reads typed options, recording a field error for each bad one.
struct OptionReader<'a> {
    options: &'a Map<String, Value>,
    check: &'a mut Checker,
    at: &'a dyn Fn(&str) -> String,
}

impl OptionReader<'_> {
    fn u32(&mut self, name: &str, min: u32, max: u32) -> Option<u32> {
        let value = self.options.get(name)?;
        match value
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| (min..=max).contains(n))
        {
            Some(n) => Some(n),
            None => {
                self.check.add(
                    Reason::new(
                        DetailCode::OutOfRange,
                        format!("must be a whole number from {min} to {max}"),
                    )
                    .with("min", min)
                    .with("max", max)
                    .at((self.at)(name)),
                );
                None
            }
        }
    }

    fn bool(&mut self, name: &str) -> Option<bool> {
        let value = self.options.get(name)?;
        let parsed = value.as_bool();
        if parsed.is_none() {
            self.check
                .add(Reason::wrong_type("boolean", "must be true or false").at((self.at)(name)));
        }
        parsed
    }

    fn string(&mut self, name: &str) -> Option<String> {
        let value = self.options.get(name)?;
        match value.as_str() {
            Some(text) => Some(text.to_owned()),
            None => {
                self.check
                    .add(Reason::wrong_type("string", "must be a string").at((self.at)(name)));
                None
            }
        }
    }

    /// A string option that must be there; `what` says what it is when it is missing.
    fn required_string(&mut self, name: &str, what: &str) -> String {
        if !self.options.contains_key(name) {
            self.check.push(
                (self.at)(name),
                DetailCode::Required,
                format!("is required: {what}"),
            );
            return String::new();
        }
        self.string(name).unwrap_or_default()
    }

    fn string_list(&mut self, name: &str) -> Option<Vec<String>> {
        let value = self.options.get(name)?;
        let list: Option<Vec<String>> = value.as_array().and_then(|items| {
            items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect()
        });
        if list.is_none() {
            self.check
                .add(Reason::wrong_type("array", "must be a list of strings").at((self.at)(name)));
        }
        list
    }

    fn decimal(&mut self, name: &str) -> Option<Decimal> {
        let value = self.options.get(name)?;
        let parsed = match value {
            Value::String(text) => text.trim().parse::<Decimal>().ok(),
            Value::Number(number) => number.to_string().parse::<Decimal>().ok(),
            _ => None,
        };
        if parsed.is_none() {
            self.check
                .add(Reason::format("number", "must be a number").at((self.at)(name)));
        }
        parsed
    }

    fn bounds(&mut self) -> Bounds {
        let bounds = Bounds {
            min: self.decimal("min"),
            max: self.decimal("max"),
        };
        if let (Some(min), Some(max)) = (bounds.min, bounds.max)
            && min > max
        {
            self.check.add(
                Reason::new(DetailCode::TooLarge, "must not be greater than max")
                    .with("max", max.to_string())
                    .at((self.at)("min")),
            );
        }
        bounds
    }

    fn time_zone(&mut self) -> Option<TimeZone> {
        let raw = self.string("time_zone")?;
        self.check
            .field(&(self.at)("time_zone"), TimeZone::parse(&raw))
    }

    fn choices(&mut self) -> Vec<Choice> {
        let Some(value) = self.options.get("choices") else {
            return Vec::new();
        };
        let Some(items) = value.as_array() else {
            self.check.add(
                Reason::wrong_type("array", "must be a list of {\"name\", \"color\"} objects")
                    .at((self.at)("choices")),
            );
            return Vec::new();
        };
        if items.len() > CHOICES_MAX {
            self.check.add(
                Reason::too_many(CHOICES_MAX, format!("at most {CHOICES_MAX} choices"))
                    .at((self.at)("choices")),
            );
        }
        let mut choices: Vec<Choice> = Vec::with_capacity(items.len());
        for (idx, item) in items.iter().enumerate() {
            let path = format!("{}[{idx}]", (self.at)("choices"));
            let (name, id, color) = match item {
                Value::String(name) => (Some(name.clone()), None, None),
                Value::Object(object) => (
                    object
                        .get("name")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    object.get("id").and_then(Value::as_str).map(str::to_owned),
                    object
                        .get("color")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                ),
                _ => (None, None, None),
            };
            let Some(name) = name
                .map(|name| name.trim().to_owned())
                .filter(|name| !name.is_empty())
            else {
                self.check.push(
                    format!("{path}.name"),
                    DetailCode::Required,
                    "a choice needs a non-empty name",
                );
                continue;
            };
            if choices.iter().any(|choice| choice.name == name) {
                self.check.push(
                    format!("{path}.name"),
                    DetailCode::Duplicate,
                    format!("\"{name}\" is listed twice"),
                );
                continue;
            }
            let color =
                color.unwrap_or_else(|| CHOICE_COLORS[idx % CHOICE_COLORS.len()].to_owned());
            let id = id.unwrap_or_else(|| {
                format!("ch_{}", &uuid::Uuid::now_v7().simple().to_string()[20..])
            });
            choices.push(Choice { id, name, color });
        }
        choices
    }
}
