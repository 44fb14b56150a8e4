//! The shapes of the records API (bodies and query parameters), for the handlers in
//! [`crate::routes::records`] and the OpenAPI document.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

/// A record as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordOut {
    pub id: String,
    /// Grows by one with every change; send it in `If-Match` to update only what you saw.
    pub version: i64,
    pub created_at: String,
    pub modified_at: String,
    /// Values keyed by field key (or id or name with `key_by`); empty fields are absent.
    #[schema(value_type = Object)]
    pub fields: Value,
}

/// The query of a record write.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WriteParams {
    /// Accept names instead of ids, as Airtable's `typecast`: a link by its target's primary-field value, a
    /// member by e-mail, mobile or exact name, a department by name, a choice by its exact name or a unique
    /// prefix before a space (`缺勤` → `缺勤 Absent`). An ambiguous or unknown value is a 422 naming the
    /// candidates (`ambiguous`, `no_match`, `unknown_choice`). Default false: ids are required.
    pub typecast: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordWrite {
    /// Values keyed by field key, id or name.
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordsCreate {
    /// Up to 1000 records, written in one transaction.
    pub records: Vec<RecordWrite>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordPatch {
    pub id: String,
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
    /// Update only if the record is still at this version.
    pub version: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordsUpdate {
    pub records: Vec<RecordPatch>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordsDelete {
    pub ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordsOut {
    pub records: Vec<RecordOut>,
}

/// What a create answers: one record for `{"fields"}`, `{"records": [...]}` for a bulk create. Only
/// a schema (anyOf the two), for the document.
pub struct RecordsCreated;

impl utoipa::PartialSchema for RecordsCreated {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        use utoipa::openapi::Ref;
        use utoipa::openapi::schema::{AnyOfBuilder, Schema};
        Schema::AnyOf(
            AnyOfBuilder::new()
                .item(Ref::from_schema_name(<RecordOut as ToSchema>::name()))
                .item(Ref::from_schema_name(<RecordsOut as ToSchema>::name()))
                .build(),
        )
        .into()
    }
}

impl ToSchema for RecordsCreated {
    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::Schema>)>) {
        for (name, schema) in [
            (
                <RecordOut as ToSchema>::name(),
                <RecordOut as utoipa::PartialSchema>::schema(),
            ),
            (
                <RecordsOut as ToSchema>::name(),
                <RecordsOut as utoipa::PartialSchema>::schema(),
            ),
        ] {
            schemas.push((name.into_owned(), schema));
        }
        <RecordOut as ToSchema>::schemas(schemas);
        <RecordsOut as ToSchema>::schemas(schemas);
    }
}

/// A page of records.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordPageOut {
    pub items: Vec<RecordOut>,
    pub next_cursor: Option<String>,
    /// With `count=true`: how many records match the filter.
    pub total: Option<i64>,
}

/// The records a bulk delete removed, in the order given.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordsDeletedOut {
    pub records: Vec<DeletedOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedOut {
    pub id: String,
    /// Always true.
    pub deleted: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Records per page, 1 to 1000 (default 100).
    pub page_size: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Comma-separated field keys to return (default: all).
    pub fields: Option<String>,
    /// Comma-separated field keys, `-` for descending: `-nights,guest`.
    pub sort: Option<String>,
    /// URL-encoded JSON: `{"field", "op", "value"}` leaves, `{"and": […]}`, `{"or": […]}`, `{"not": …}`.
    pub filter: Option<String>,
    /// A condition formula records must satisfy (with `filter`, both apply): `AND({Nights} > 2, {Paid})`.
    /// Computed in the database; formulas that cannot be (regular expressions, lookups…) are refused.
    pub formula: Option<String>,
    /// `true` adds the number of matching records as `total`.
    pub count: Option<bool>,
    /// Skip this many matching records, in the sort's order: a positional window for jumping to any row
    /// (a grid's scrollbar, Ctrl+End). Not with `cursor`; the page's `next_cursor` continues from it.
    pub offset: Option<u64>,
    /// Key `fields` by `key` (default), `id` or `name`.
    pub key_by: Option<String>,
    /// Comma-separated link fields whose linked records are included (those the caller may read, without fields hidden from her).
    pub expand: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReadParams {
    pub key_by: Option<String>,
    /// Comma-separated link fields whose linked records are included, fetched in bulk (those the caller may read, without fields hidden from her).
    pub expand: Option<String>,
}
