//! The 视图设置|View settings dialog of a kanban, calendar or gallery page: what the view is grouped by,
//! dated by, covered with, and the fields its cards show. The dialog saves the view through the views
//! API (`PATCH …/views/{view}`); a view broken by a deleted field offers it instead of a new view.

use serde::Serialize;
use serde_json::Value;
use tenon_model::apps::TableSchema;
use tenon_model::apps::field::FieldKind;
use tenon_model::apps::view::{View, ViewType};

/// Fields a card shows when the view lists none (as [`crate::boards`] shows them).
const DEFAULT_CARD_FIELDS: usize = 3;

/// A field the dialog offers for one setting.
#[derive(Debug, Serialize)]
pub struct Choice {
    key: String,
    name: String,
}

/// A field the cards may show, and whether they show it now.
#[derive(Debug, Serialize)]
pub struct CardField {
    key: String,
    name: String,
    shown: bool,
}

/// What the dialog shows: the stored choices (keys as stored, even when the field is gone), the fields
/// each setting may take, and the card fields.
#[derive(Debug, Serialize)]
pub struct Settings {
    /// The view's setting holding its cover: `card_cover` (kanban) or `cover_field` (gallery).
    cover_setting: &'static str,
    group_field: String,
    /// A kanban's number field its cards are ordered by hand in (empty for none).
    order_field: String,
    date_field: String,
    end_date_field: String,
    cover: String,
    /// Whether each stored choice still names a field that fits (else the dialog asks to choose).
    group_ok: bool,
    date_ok: bool,
    selects: Vec<Choice>,
    numbers: Vec<Choice>,
    dates: Vec<Choice>,
    attachments: Vec<Choice>,
    card_fields: Vec<CardField>,
}

fn stored(view: &View, key: &str) -> String {
    view.config
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

fn choices(schema: &TableSchema, fits: impl Fn(&FieldKind, &str) -> bool) -> Vec<Choice> {
    schema
        .fields
        .iter()
        .filter(|field| fits(&field.kind, field.field_type().as_str()))
        .map(|field| Choice {
            key: field.key.to_string(),
            name: field.name.to_string(),
        })
        .collect()
}

/// The dialog of `view` (a kanban, calendar or gallery view).
pub fn settings(schema: &TableSchema, view: &View) -> Settings {
    let cover_setting = if view.view_type == ViewType::Kanban {
        "card_cover"
    } else {
        "cover_field"
    };
    let resolved = |key: &str| {
        schema
            .resolve_field(key)
            .map(|field| field.key.to_string())
            .unwrap_or_else(|| key.to_owned())
    };
    let group_field = resolved(&stored(view, "group_field"));
    let date_field = resolved(&stored(view, "date_field"));
    let selects = choices(schema, |kind, _| {
        matches!(kind, FieldKind::SingleSelect { .. })
    });
    let dates = choices(schema, |_, kind| matches!(kind, "date" | "datetime"));
    let title = schema
        .primary_field()
        .or_else(|| schema.fields.first())
        .map(|field| field.key.to_string());
    // The fields a card may show: all but the title and attachments (a card's image is its cover).
    let candidates: Vec<_> = schema
        .fields
        .iter()
        .filter(|field| Some(field.key.to_string()) != title)
        .filter(|field| !matches!(field.kind, FieldKind::Attachment { .. }))
        .collect();
    // Shown now: the view's list (minus hidden entries), else the first few besides the view's own.
    let listed: Option<Vec<String>> =
        view.config
            .get("fields")
            .and_then(Value::as_array)
            .map(|entries| {
                entries
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
                    .collect()
            });
    let own: Vec<String> = [
        "group_field",
        "card_cover",
        "order_field",
        "date_field",
        "end_date_field",
        "cover_field",
    ]
    .iter()
    .map(|key| resolved(&stored(view, key)))
    .collect();
    let shown: Vec<String> = match listed {
        Some(keys) => keys.iter().map(|key| resolved(key)).collect(),
        None => candidates
            .iter()
            .filter(|field| !own.contains(&field.key.to_string()))
            .take(DEFAULT_CARD_FIELDS)
            .map(|field| field.key.to_string())
            .collect(),
    };
    // In the view's order first, then the table's.
    let position = |key: &str| shown.iter().position(|known| known == key);
    let mut ordered = candidates;
    ordered.sort_by_key(|field| position(field.key.as_str()).unwrap_or(usize::MAX));
    Settings {
        cover_setting,
        group_ok: selects.iter().any(|choice| choice.key == group_field),
        date_ok: dates.iter().any(|choice| choice.key == date_field),
        group_field,
        order_field: resolved(&stored(view, "order_field")),
        date_field,
        end_date_field: resolved(&stored(view, "end_date_field")),
        cover: resolved(&stored(view, cover_setting)),
        selects,
        numbers: choices(schema, |kind, _| matches!(kind, FieldKind::Number { .. })),
        dates,
        attachments: choices(schema, |kind, _| {
            matches!(kind, FieldKind::Attachment { .. })
        }),
        card_fields: ordered
            .into_iter()
            .map(|field| CardField {
                key: field.key.to_string(),
                name: field.name.to_string(),
                shown: position(field.key.as_str()).is_some(),
            })
            .collect(),
    }
}
