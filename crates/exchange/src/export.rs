//! A table's records as a sheet (header of field names, one row per record), for CSV and Excel exports.

use serde_json::Value;
use tenon_model::OrgId;
use tenon_model::apps::TableSchema;
use tenon_store::{RecordQuery, Store, StoreError};

use crate::render::{KeyBy, RenderContext};
use crate::tabular::{Sheet, text};

/// Records read per page while exporting.
const EXPORT_PAGE_ROWS: u32 = 1000;

/// Every record of the table, in creation order, rendered as the API shows it and flattened for a
/// spreadsheet: lists and objects become text (names joined); numbers and booleans keep their types.
pub async fn table_sheet(
    store: &Store,
    org: OrgId,
    schema: &TableSchema,
) -> Result<Sheet, StoreError> {
    let tenant = store.tenant(org);
    let headers: Vec<String> = schema
        .fields
        .iter()
        .map(|field| field.name.to_string())
        .collect();
    let mut rows = Vec::new();
    let mut after = None;
    loop {
        let query = RecordQuery {
            filter: None,
            sort: Vec::new(),
            fields: None,
            page_size: EXPORT_PAGE_ROWS,
            after,
            count: false,
            condition: None,
        };
        let page = tenant.list_records(schema, &query).await?;
        let context =
            RenderContext::load(store, org, schema, &page.records, KeyBy::Key, &[]).await?;
        for record in &page.records {
            let rendered = context.record(schema, record, None);
            rows.push(
                schema
                    .fields
                    .iter()
                    .map(|field| match rendered["fields"].get(field.key.as_str()) {
                        Some(value @ (Value::Array(_) | Value::Object(_))) => {
                            Value::String(text(value))
                        }
                        Some(value) => value.clone(),
                        None => Value::Null,
                    })
                    .collect(),
            );
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    Ok(Sheet { headers, rows })
}
