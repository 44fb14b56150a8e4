//! Listing records, for the records API and for views: what a list asks for — from a request's query
//! parameters or from a view's configuration — checked against the table into one store query
//! ([`record_query`]), run and rendered ([`list`]).

use std::collections::HashMap;

use serde_json::Value;
use tenon_model::apps::filter::{Filter, FilterContext, parse_sort};
use tenon_model::apps::{TableSchema, computed};
use tenon_model::{FieldError, FieldId, Invalid, OrgId, PageRequest};
use tenon_store::{Cursor, RecordQuery, StoreError};

use crate::routes::records_io::{ExpandSight, KeyBy, RenderContext};
use crate::state::AppState;

/// What a list of records asks for, before it is checked against the table.
#[derive(Debug)]
pub struct ListRequest<'a> {
    /// A filter tree (`{"field", "op", "value"}` leaves, `and`/`or`/`not`).
    pub filter: Option<&'a Value>,
    /// `-nights,guest`.
    pub sort: &'a str,
    /// Field keys, ids or names to return (all when `None`).
    pub fields: Option<Vec<&'a str>>,
    /// A condition formula as a person wrote it.
    pub formula: Option<&'a str>,
    pub page: PageRequest<Cursor>,
    /// Records to skip (a positional window); 0 with a cursor.
    pub offset: u64,
    pub count: bool,
}

/// Which part of a [`ListRequest`] the table refuses.
#[derive(Debug)]
pub enum ListProblem {
    /// The filter tree, with the path of the node at fault.
    Filter(FieldError),
    Sort(FieldError),
    /// A field reference of `fields` names no field.
    Field(String),
    Formula(Invalid),
}

/// The values a filter's relative dates and zone-less times are read in: today in the organization's
/// time zone, by the store's clock.
pub fn filter_context(state: &AppState, org: &tenon_model::Organization) -> FilterContext {
    FilterContext {
        today: state
            .store()
            .now()
            .with_timezone(&org.time_zone.tz())
            .date_naive(),
        time_zone: org.time_zone,
    }
}

/// Checks a list request against the table: the one place a records query is assembled.
pub fn record_query(
    schema: &TableSchema,
    request: ListRequest<'_>,
    context: &FilterContext,
) -> Result<RecordQuery, ListProblem> {
    let filter = request
        .filter
        .map(|value| Filter::parse(value, schema, context))
        .transpose()
        .map_err(ListProblem::Filter)?;
    let sort = parse_sort(request.sort, schema).map_err(ListProblem::Sort)?;
    let fields = request
        .fields
        .map(|references| {
            references
                .into_iter()
                .map(|reference| {
                    schema
                        .resolve_field(reference)
                        .map(|field| field.id)
                        .ok_or_else(|| ListProblem::Field(reference.to_owned()))
                })
                .collect::<Result<Vec<FieldId>, ListProblem>>()
        })
        .transpose()?;
    let condition = request
        .formula
        .map(|raw| condition_formula(schema, raw).map_err(ListProblem::Formula))
        .transpose()?;
    Ok(RecordQuery {
        filter,
        sort,
        fields,
        page_size: request.page.size(),
        after: request.page.after,
        offset: request.offset,
        count: request.count,
        condition,
    })
}

/// Checks a `formula=` condition against the table; its stored form (field ids) goes to the store.
pub fn condition_formula(schema: &TableSchema, raw: &str) -> Result<String, Invalid> {
    let formula_schema = computed::formula_schema(schema, &|_| String::new(), &Default::default());
    let checked = tenon_model::apps::formula::check_condition(raw, &formula_schema)
        .map_err(|found| computed::diagnostics("formula", &found))?;
    Ok(checked.stored().to_owned())
}

/// A page of records, rendered as the API shows them.
#[derive(Debug)]
pub struct RenderedPage {
    pub items: Vec<Value>,
    pub next: Option<Cursor>,
    pub total: Option<i64>,
}

/// Runs `query` and renders the page (`expand`: link fields whose records are included in full).
pub async fn list(
    state: &AppState,
    org: OrgId,
    schema: &TableSchema,
    query: &RecordQuery,
    key_by: KeyBy,
    expand: &[FieldId],
) -> Result<RenderedPage, StoreError> {
    list_for(state, org, schema, query, key_by, expand, &HashMap::new()).await
}

/// [`list`] for a reader limited by app permissions: `sights` says what they see of each expanded link
/// field's records ([`crate::service::access::expand_sights`]).
pub async fn list_for(
    state: &AppState,
    org: OrgId,
    schema: &TableSchema,
    query: &RecordQuery,
    key_by: KeyBy,
    expand: &[FieldId],
    sights: &HashMap<FieldId, ExpandSight>,
) -> Result<RenderedPage, StoreError> {
    let page = state
        .store()
        .tenant(org)
        .list_records(schema, query)
        .await?;
    let context = RenderContext::load_for(
        state.store(),
        org,
        schema,
        &page.records,
        key_by,
        expand,
        sights,
    )
    .await?;
    Ok(RenderedPage {
        items: page
            .records
            .iter()
            .map(|record| context.record(schema, record, query.fields.as_deref()))
            .collect(),
        next: page.next,
        total: page.total,
    })
}
