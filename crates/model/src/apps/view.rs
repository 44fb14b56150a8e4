//! Views: saved ways to look at a table — grid, kanban, calendar, gallery — and forms that collect
//! records, optionally from people without an account through a public link.
//!
//! A view's configuration refers to fields by key and carries a filter tree and a sort in the same form the
//! records API takes; both are checked against the table when the view is saved and again when it is used
//! (a field may have been deleted since).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::apps::field::{FieldKind, FieldType, Storage};
use crate::apps::form_subtable;
use crate::apps::{ApiKey, TableSchema};
use crate::ids::{FieldId, TableId};
use crate::validation::{Checker, DetailCode, FieldError, Invalid, Reason};
use crate::values::Name;

/// Most views a table may have.
pub const VIEWS_PER_TABLE_MAX: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewType {
    Grid,
    Kanban,
    Calendar,
    Gallery,
    Form,
}

impl ViewType {
    pub const ALL: [ViewType; 5] = [
        ViewType::Grid,
        ViewType::Kanban,
        ViewType::Calendar,
        ViewType::Gallery,
        ViewType::Form,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ViewType::Grid => "grid",
            ViewType::Kanban => "kanban",
            ViewType::Calendar => "calendar",
            ViewType::Gallery => "gallery",
            ViewType::Form => "form",
        }
    }

    pub fn parse(raw: &str) -> Option<ViewType> {
        ViewType::ALL.into_iter().find(|kind| kind.as_str() == raw)
    }

    /// The configuration keys each type takes.
    pub fn config_keys(self) -> &'static [&'static str] {
        match self {
            ViewType::Grid => &[
                "fields",
                "filter",
                "sort",
                "group_by",
                "row_height",
                "public",
            ],
            ViewType::Kanban => &[
                "group_field",
                "fields",
                "filter",
                "sort",
                "card_cover",
                "order_field",
            ],
            ViewType::Calendar => &["date_field", "end_date_field", "fields", "filter"],
            ViewType::Gallery => &["cover_field", "fields", "filter", "sort"],
            ViewType::Form => &[
                "fields",
                "title",
                "description",
                "submit_label",
                "success_message",
                "public",
                "daily_limit",
                "members_only",
                "upsert",
            ],
        }
    }
}

/// A stored view.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub id: crate::ids::ViewId,
    pub table_id: TableId,
    pub key: ApiKey,
    pub name: Name,
    pub view_type: ViewType,
    /// The configuration as the client gave it (checked).
    pub config: Map<String, Value>,
    /// For a public form: the unguessable part of its link.
    pub public_slug: Option<String>,
    pub position: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl View {
    /// The field keys the view shows, in order (all fields when it lists none), followed by the fields
    /// the view's type needs that the list leaves out: a kanban's group field and card cover, a
    /// calendar's dates, a gallery's cover.
    pub fn field_keys(&self) -> Option<Vec<String>> {
        let fields = self.config.get("fields")?.as_array()?;
        let mut keys: Vec<String> = fields
            .iter()
            .filter_map(|entry| match entry {
                Value::String(key) => Some(key.clone()),
                Value::Object(object)
                    if !object
                        .get("hidden")
                        .and_then(Value::as_bool)
                        .unwrap_or(false) =>
                {
                    object
                        .get("field")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                }
                _ => None,
            })
            .collect();
        for role in [
            "group_field",
            "card_cover",
            "date_field",
            "end_date_field",
            "cover_field",
        ] {
            if let Some(key) = self.config.get(role).and_then(Value::as_str)
                && !keys.iter().any(|known| known == key)
            {
                keys.push(key.to_owned());
            }
        }
        Some(keys)
    }

    pub fn filter(&self) -> Option<&Value> {
        self.config.get("filter").filter(|value| !value.is_null())
    }

    pub fn sort(&self) -> Option<&str> {
        self.config.get("sort").and_then(Value::as_str)
    }

    /// A kanban's number field its cards are ordered by hand in (`order_field`).
    pub fn order_field(&self) -> Option<&str> {
        (self.view_type == ViewType::Kanban)
            .then(|| self.config.get("order_field").and_then(Value::as_str))
            .flatten()
            .filter(|key| !key.is_empty())
    }

    /// The sort the view's records follow: a kanban ordered by hand sorts by its order field first
    /// (ascending, empty places first), then by its own sort without that field.
    pub fn records_sort(&self) -> String {
        let own = self.sort().unwrap_or("");
        match self.order_field() {
            Some(key) => std::iter::once(key)
                .chain(
                    own.split(',')
                        .filter(|part| !part.is_empty() && part.trim_start_matches('-') != key),
                )
                .collect::<Vec<_>>()
                .join(","),
            None => own.to_owned(),
        }
    }

    /// Whether a grid view is published read-only through a public link (`"public": {"enabled": true,
    /// "as_role": …}`).
    pub fn is_public_grid(&self) -> bool {
        self.view_type == ViewType::Grid
            && self
                .config
                .get("public")
                .and_then(|public| public.get("enabled"))
                .and_then(Value::as_bool)
                .unwrap_or(false)
    }

    /// The app role whose hidden fields and read rule a published grid shows the table with.
    pub fn public_role(&self) -> Option<&str> {
        self.config
            .get("public")
            .and_then(|public| public.get("as_role"))
            .and_then(Value::as_str)
    }

    /// Whether the view has a public link: a public form or a published grid.
    pub fn is_published(&self) -> bool {
        self.is_public_form() || self.is_public_grid()
    }

    /// A published grid's self-service lookup: the number field and the phone field (references).
    pub fn public_lookup(&self) -> Option<(&str, &str)> {
        let lookup = self.config.get("public")?.get("lookup")?;
        Some((
            lookup.get("number")?.as_str()?,
            lookup.get("phone")?.as_str()?,
        ))
    }

    /// Whether a form view accepts submissions through its public link.
    pub fn is_public_form(&self) -> bool {
        self.view_type == ViewType::Form
            && self
                .config
                .get("public")
                .and_then(Value::as_bool)
                .unwrap_or(false)
    }
}

/// Checks a view's configuration against the table: known keys, fields that exist and fit the role.
/// Filters and sorts are checked by the caller with the filter parser (they need "today").
pub fn check_config(
    view_type: ViewType,
    config: &Map<String, Value>,
    schema: &TableSchema,
    path: &str,
) -> Result<(), Invalid> {
    let mut check = Checker::default();
    for key in config.keys() {
        if !view_type.config_keys().contains(&key.as_str()) {
            check.add(
                FieldError::new(
                    format!("{path}.{key}"),
                    DetailCode::UnknownOption,
                    format!(
                        "unknown setting for a {} view; it takes: {}",
                        view_type.as_str(),
                        view_type.config_keys().join(", ")
                    ),
                )
                .with("allowed", view_type.config_keys().to_vec()),
            );
        }
    }
    let field_of = |check: &mut Checker, at: String, value: &Value| {
        let key = value.as_str().unwrap_or("");
        let field = schema.resolve_field(key);
        if field.is_none() {
            check.push(
                at,
                DetailCode::UnknownField,
                format!("no field \"{key}\" in the table"),
            );
        }
        field
    };
    if let Some(fields) = config.get("fields") {
        match fields.as_array() {
            None => check.add(
                Reason::wrong_type(
                    "array",
                    "must be a list of field keys or {\"field\", …} objects",
                )
                .at(format!("{path}.fields")),
            ),
            Some(entries) => {
                for (i, entry) in entries.iter().enumerate() {
                    let at = format!("{path}.fields[{i}]");
                    let reference = match entry {
                        Value::Object(object) => {
                            if view_type == ViewType::Form {
                                check_form_entry(&mut check, &at, object);
                                form_subtable::check_entry(&mut check, &at, object, schema);
                            }
                            object.get("field").cloned().unwrap_or(Value::Null)
                        }
                        other => other.clone(),
                    };
                    let field = field_of(&mut check, at.clone(), &reference);
                    if view_type == ViewType::Form
                        && let Some(field) = field
                        && !field.field_type().is_writable()
                    {
                        check.push(
                            at,
                            DetailCode::ReadOnly,
                            format!(
                                "field \"{}\" is computed and cannot be on a form",
                                field.key
                            ),
                        );
                    }
                }
            }
        }
    }
    let typed =
        |check: &mut Checker, name: &str, wanted: &str, fits: &dyn Fn(&FieldKind) -> bool| {
            // An optional setting given as `null` is the same as leaving it out.
            if let Some(value) = config.get(name).filter(|value| {
                !(value.is_null()
                    && matches!(
                        name,
                        "card_cover" | "end_date_field" | "cover_field" | "order_field"
                    ))
            }) {
                if let Some(field) = field_of(check, format!("{path}.{name}"), value)
                    && !fits(&field.kind)
                {
                    check.push(
                        format!("{path}.{name}"),
                        DetailCode::NotAllowed,
                        format!("field \"{}\" is not {wanted}", field.key),
                    );
                }
            } else if matches!(
                (view_type, name),
                (ViewType::Kanban, "group_field") | (ViewType::Calendar, "date_field")
            ) {
                check.push(
                    format!("{path}.{name}"),
                    DetailCode::Required,
                    format!("a {} view needs {name}", view_type.as_str()),
                );
            }
        };
    match view_type {
        ViewType::Kanban => {
            typed(&mut check, "group_field", "a single select", &|kind| {
                matches!(kind, FieldKind::SingleSelect { .. })
            });
            typed(&mut check, "card_cover", "an attachment", &|kind| {
                matches!(kind, FieldKind::Attachment { .. })
            });
            // Cards dragged within a column keep their place in this number field.
            typed(&mut check, "order_field", "a number", &|kind| {
                matches!(kind, FieldKind::Number { .. })
            });
        }
        ViewType::Calendar => {
            let dated =
                |kind: &FieldKind| matches!(kind.storage(), Storage::Date | Storage::DateTime);
            typed(&mut check, "date_field", "a date or date-time", &dated);
            typed(&mut check, "end_date_field", "a date or date-time", &dated);
        }
        ViewType::Gallery => typed(&mut check, "cover_field", "an attachment", &|kind| {
            matches!(kind, FieldKind::Attachment { .. })
        }),
        ViewType::Grid | ViewType::Form => {}
    }
    // A form's texts are shown as they are: text, or null for none.
    for name in ["title", "description", "submit_label", "success_message"] {
        if let Some(value) = config.get(name)
            && !(value.is_string() || value.is_null())
        {
            check.add(Reason::wrong_type("string", "must be text").at(format!("{path}.{name}")));
        }
    }
    if let Some(limit) = config.get("daily_limit")
        && !limit.is_null()
        && !limit
            .as_u64()
            .is_some_and(|n| (1..=DAILY_LIMIT_MAX).contains(&n))
    {
        check.add(
            Reason::new(
                DetailCode::OutOfRange,
                format!("must be a whole number from 1 to {DAILY_LIMIT_MAX}, or null"),
            )
            .with("min", 1)
            .with("max", DAILY_LIMIT_MAX)
            .at(format!("{path}.daily_limit")),
        );
    }
    if view_type == ViewType::Form
        && config.get("upsert").and_then(Value::as_bool) == Some(true)
        && form_upsert_keys(schema, &form_field_ids(config, schema)).is_empty()
    {
        check.push(
            format!("{path}.upsert"),
            DetailCode::NotAllowed,
            "an upsert needs a unique field, or a unique_together group, whose fields are all on the form",
        );
    }
    if view_type == ViewType::Form
        && config.get("upsert").and_then(Value::as_bool) == Some(true)
        && !form_subtable::Subtable::all(config, schema).is_empty()
    {
        check.push(
            format!("{path}.upsert"),
            DetailCode::NotAllowed,
            "a form with a sub-table always creates a new record; it cannot upsert",
        );
    }
    for name in ["members_only", "upsert"] {
        if let Some(flag) = config.get(name)
            && !flag.is_boolean()
        {
            check.add(
                Reason::wrong_type("boolean", "must be true or false").at(format!("{path}.{name}")),
            );
        }
    }
    if let Some(public) = config.get("public")
        && view_type == ViewType::Grid
    {
        check_public_grid(&mut check, public, schema, &format!("{path}.public"));
    } else if let Some(public) = config.get("public")
        && !public.is_boolean()
    {
        check.add(
            Reason::wrong_type("boolean", "must be true or false").at(format!("{path}.public")),
        );
    }
    check.finish()
}

/// The fields a form's entries name that exist in the table, in the form's order.
pub fn form_field_ids(config: &Map<String, Value>, schema: &TableSchema) -> Vec<FieldId> {
    config
        .get("fields")
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .filter_map(|entry| match entry {
                    Value::String(key) => Some(key.as_str()),
                    Value::Object(object) => object.get("field").and_then(Value::as_str),
                    _ => None,
                })
                .filter_map(|reference| schema.resolve_field(reference))
                .map(|field| field.id)
                .collect()
        })
        .unwrap_or_default()
}

/// The unique keys a form's upsert may match a returning visitor's row on: each unique field, then each
/// `unique_together` group, whose fields are all on the form (so a visitor can only reach a row by
/// values she typed or her link fixed).
pub fn form_upsert_keys(schema: &TableSchema, on_form: &[FieldId]) -> Vec<Vec<FieldId>> {
    let mut keys: Vec<Vec<FieldId>> = schema
        .fields
        .iter()
        .filter(|field| field.unique && on_form.contains(&field.id))
        .map(|field| vec![field.id])
        .collect();
    keys.extend(
        schema
            .table
            .unique_together
            .iter()
            .filter(|group| !group.is_empty() && group.iter().all(|id| on_form.contains(id)))
            .cloned(),
    );
    keys
}

/// The settings of a grid's `public` object.
pub const PUBLIC_GRID_KEYS: [&str; 3] = ["enabled", "as_role", "lookup"];

/// The field types a self-service lookup finds a record by (its number).
pub fn lookup_number_type(kind: FieldType) -> bool {
    matches!(
        kind,
        FieldType::Autonumber | FieldType::Number | FieldType::Text
    )
}

/// The field types a self-service lookup checks the last four digits of.
pub fn lookup_phone_type(kind: FieldType) -> bool {
    matches!(kind, FieldType::Phone | FieldType::Text)
}

/// A grid's `public.as_role` when it names none of `roles` (the keys of the app's permissions roles):
/// the problem at `<config>.public.as_role`, `config` being the path of the view's configuration. The
/// views API checks it against the stored permissions, an app definition's import against the
/// permissions the app will have ([`crate::apps::definition::AppDefinition::check_public_roles`]).
pub fn unknown_public_role(
    config: &Map<String, Value>,
    roles: &[String],
    at_config: &str,
) -> Option<FieldError> {
    let role = config
        .get("public")
        .and_then(|public| public.get("as_role"))
        .and_then(Value::as_str)?;
    if roles.iter().any(|own| own == role) {
        return None;
    }
    Some(
        FieldError::new(
            format!("{at_config}.public.as_role"),
            DetailCode::UnknownOption,
            format!("the app has no role \"{role}\" (see /api/v1/apps/{{app}}/permissions)"),
        )
        .with("allowed", roles.to_vec()),
    )
}

/// A grid's `public`: `{"enabled": bool, "as_role": "<app role key>" | null}` (the role's existence is
/// checked against the app's permissions by the caller).
fn check_public_grid(check: &mut Checker, public: &Value, schema: &TableSchema, path: &str) {
    let Some(object) = public.as_object() else {
        check.add(
            Reason::wrong_type(
                "object",
                "must be {\"enabled\": true, \"as_role\": \"<role key>\"}",
            )
            .at(path),
        );
        return;
    };
    for key in object.keys() {
        if !PUBLIC_GRID_KEYS.contains(&key.as_str()) {
            check.add(
                FieldError::new(
                    format!("{path}.{key}"),
                    DetailCode::UnknownOption,
                    "unknown setting; it takes: enabled, as_role",
                )
                .with("allowed", PUBLIC_GRID_KEYS.to_vec()),
            );
        }
    }
    if !object.get("enabled").is_some_and(Value::is_boolean) {
        check.add(
            Reason::wrong_type("boolean", "must be true or false").at(format!("{path}.enabled")),
        );
    }
    if let Some(role) = object.get("as_role")
        && !(role.is_string() || role.is_null())
    {
        check.add(
            Reason::wrong_type("string", "must be an app role's key").at(format!("{path}.as_role")),
        );
    }
    if let Some(lookup) = object.get("lookup").filter(|lookup| !lookup.is_null()) {
        check_lookup(check, lookup, schema, &format!("{path}.lookup"));
    }
}

/// A grid's `public.lookup`: `{"number": <field>, "phone": <field>}` — the page finds one record by its
/// number and the last four digits of its phone instead of listing rows.
fn check_lookup(check: &mut Checker, lookup: &Value, schema: &TableSchema, path: &str) {
    let Some(object) = lookup.as_object() else {
        check.add(
            Reason::wrong_type(
                "object",
                "must be {\"number\": <field>, \"phone\": <field>}",
            )
            .at(path),
        );
        return;
    };
    for key in object.keys() {
        if !["number", "phone"].contains(&key.as_str()) {
            check.add(
                FieldError::new(
                    format!("{path}.{key}"),
                    DetailCode::UnknownOption,
                    "unknown setting; it takes: number, phone",
                )
                .with("allowed", vec!["number", "phone"]),
            );
        }
    }
    /// A lookup setting: its key, the field types it takes (in words) and the check of a type.
    type Role = (&'static str, &'static str, fn(FieldType) -> bool);
    let roles: [Role; 2] = [
        (
            "number",
            "an autonumber, number or text",
            lookup_number_type,
        ),
        ("phone", "a phone or text", lookup_phone_type),
    ];
    for (key, expected, fits) in roles {
        let at = format!("{path}.{key}");
        match object
            .get(key)
            .and_then(Value::as_str)
            .map(|reference| schema.resolve_field(reference))
        {
            None => check.add(FieldError::new(at, DetailCode::Required, "is required")),
            Some(None) => check.add(FieldError::new(
                at,
                DetailCode::UnknownField,
                "is not a field here",
            )),
            Some(Some(field)) if !fits(field.field_type()) => {
                check.add(Reason::wrong_type(expected, format!("must be {expected} field")).at(at))
            }
            Some(Some(_)) => {}
        }
    }
}

/// The largest daily cap a form's owner may set (`daily_limit`).
pub const DAILY_LIMIT_MAX: u64 = 1_000_000;

/// The settings a form's field entry (`{"field": …}`) takes. `prefill`: the public link may give the
/// field's value as a URL parameter (`?channel=wechat`); with `hidden` the link fixes it.
/// `subtable`: the entry's link field takes rows of the linked table ([`form_subtable`]).
pub const FORM_ENTRY_KEYS: [&str; 8] = [
    "field", "label", "help", "required", "hidden", "default", "prefill", "subtable",
];

/// A form's field entry: known settings only (a YAML help text cut by a comma leaves a stray key), texts
/// as text, flags as flags.
fn check_form_entry(check: &mut Checker, at: &str, entry: &Map<String, Value>) {
    for (key, value) in entry {
        let problem = match key.as_str() {
            // A sub-table's settings are checked against the tables (`form_subtable::check_entry`).
            "field" | "default" | "subtable" => None,
            "label" | "help" => (!(value.is_string() || value.is_null()))
                .then(|| Reason::wrong_type("string", "must be text")),
            "required" | "hidden" | "prefill" => (!value.is_boolean())
                .then(|| Reason::wrong_type("boolean", "must be true or false")),
            _ => {
                check.add(
                    FieldError::new(
                        format!("{at}.{key}"),
                        DetailCode::UnknownOption,
                        format!(
                            "unknown setting for a form field; it takes: {}",
                            FORM_ENTRY_KEYS.join(", ")
                        ),
                    )
                    .with("allowed", FORM_ENTRY_KEYS.to_vec()),
                );
                None
            }
        };
        if let Some(reason) = problem {
            check.add(reason.at(format!("{at}.{key}")));
        }
    }
}
