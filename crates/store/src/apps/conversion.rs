//! Type changes of a field: every stored value is converted in Rust, the same on both backends.

use serde_json::Value;
use tenon_model::apps::{
    CellValue, Field, FieldKind, ParseContext, Storage, TableSchema, parse_cell,
};
use tenon_model::{FieldId, TableId};
use uuid::Uuid;

use super::ddl;
use super::fields::{FieldChange, FieldPatch};
use crate::exec::{Conn, quote};
use crate::records::cells;
use crate::sql::SqlText;
use crate::{Result, Tenant, WriteContext};

/// Rows converted per batch when a field changes type.
const CONVERSION_BATCH_ROWS: u64 = 1000;

impl Tenant<'_> {
    /// What [`Tenant::update_field`] would do, without doing it: the same change (conversion included)
    /// runs in a transaction that is rolled back, so `cleared_values` is exactly what saving would clear.
    /// Nothing is written, audited or announced.
    pub async fn preview_field_change(
        &self,
        ctx: &WriteContext,
        schema: &TableSchema,
        id: FieldId,
        patch: FieldPatch,
        parse: &ParseContext,
    ) -> Result<FieldChange> {
        let mut tx = self.store.begin_tx().await?;
        let change = self
            .update_field_in(&mut tx.conn(), ctx, schema, id, patch, parse)
            .await;
        // Dropping the transaction without committing rolls it back.
        drop(tx);
        change
    }

    /// Rewrites a column for a new type: adds a column of the new storage, converts every value in Rust
    /// (through its canonical JSON, parsed as the new type), drops the old column and renames the new one.
    /// Values that do not convert are emptied and counted.
    pub(crate) async fn convert_column(
        &self,
        conn: &mut Conn<'_>,
        table: TableId,
        before: &Field,
        after: &Field,
        parse: &ParseContext,
    ) -> Result<u64> {
        let backend = conn.backend();
        let column = ddl::column_name(before.id);
        let temporary = format!("{column}_new");
        if let Some(statement) = ddl::add_column(table, &temporary, after.kind.storage(), backend) {
            conn.execute_script(statement).await?;
        }
        let table_sql = quote(&ddl::table_name(table));
        let mut cleared = 0u64;
        let mut last: Option<Uuid> = None;
        loop {
            let mut select = SqlText::new(backend);
            select.push(&format!("SELECT id, {} FROM {table_sql}", quote(&column)));
            if let Some(last) = last {
                select.push(" WHERE id > ").arg(last);
            }
            select.push(" ORDER BY id").limit(CONVERSION_BATCH_ROWS);
            let rows = conn.fetch_rows(select.into_sql()).await?;
            let Some(last_row) = rows.last() else { break };
            last = Some(last_row.uuid(0)?);
            for row in &rows {
                let Some(old) = cells::from_row(row, 1, &before.kind)? else {
                    continue;
                };
                let converted = convert_cell(&old, &before.kind, &after.kind, parse);
                if converted.is_none() {
                    cleared += 1;
                }
                let mut update = SqlText::new(backend);
                update
                    .push(&format!("UPDATE {table_sql} SET {} = ", quote(&temporary)))
                    .arg(cells::to_arg(
                        converted.as_ref(),
                        after.kind.storage(),
                        backend,
                    )?)
                    .push(" WHERE id = ")
                    .arg(row.uuid(0)?);
                conn.execute(update.into_sql()).await?;
            }
        }
        conn.execute_script(ddl::drop_column(table, &column))
            .await?;
        conn.execute_script(ddl::rename_column(table, &temporary, &column))
            .await?;
        Ok(cleared)
    }
}

/// Whether stored values must be rewritten: a new storage, or select choices renamed or removed.
/// Any change of type converts (text that becomes a select must hold a choice; an e-mail field only
/// addresses), as does a change of storage (a number's precision).
pub(crate) fn needs_conversion(before: &FieldKind, after: &FieldKind) -> bool {
    if before.storage() == Storage::System {
        return false;
    }
    if before.storage() != after.storage() || before.field_type() != after.field_type() {
        return true;
    }
    match (before, after) {
        (FieldKind::SingleSelect { choices: old }, FieldKind::SingleSelect { choices: new })
        | (FieldKind::MultiSelect { choices: old }, FieldKind::MultiSelect { choices: new })
        | (FieldKind::SingleSelect { choices: old }, FieldKind::MultiSelect { choices: new })
        | (FieldKind::MultiSelect { choices: old }, FieldKind::SingleSelect { choices: new }) => {
            old.iter().any(|choice| {
                !new.iter()
                    .any(|n| n.id == choice.id && n.name == choice.name)
            }) || std::mem::discriminant(before) != std::mem::discriminant(after)
        }
        _ => false,
    }
}

/// Converts one stored value to the new type, or `None` when it has no equivalent.
fn convert_cell(
    cell: &CellValue,
    before: &FieldKind,
    after: &FieldKind,
    parse: &ParseContext,
) -> Option<CellValue> {
    let mut json = cells::to_json(cell);
    // Select choices are followed by id, so a renamed choice keeps its records.
    if let (
        FieldKind::SingleSelect { choices: old } | FieldKind::MultiSelect { choices: old },
        FieldKind::SingleSelect { choices: new } | FieldKind::MultiSelect { choices: new },
    ) = (before, after)
    {
        let rename = |name: &str| -> Option<String> {
            let id = &old.iter().find(|choice| choice.name == name)?.id;
            new.iter()
                .find(|choice| &choice.id == id)
                .map(|choice| choice.name.clone())
        };
        json = match json {
            Value::String(name) => rename(&name).map_or(Value::Null, Value::String),
            Value::Array(names) => Value::Array(
                names
                    .iter()
                    .filter_map(|name| name.as_str().and_then(rename))
                    .map(Value::String)
                    .collect(),
            ),
            other => other,
        };
        if matches!(after, FieldKind::SingleSelect { .. })
            && let Value::Array(names) = &json
        {
            json = names.first().cloned().unwrap_or(Value::Null);
        }
    } else if let Value::Array(items) = &json
        && !matches!(
            after,
            FieldKind::MultiSelect { .. }
                | FieldKind::Member { .. }
                | FieldKind::Department { .. }
                | FieldKind::Attachment { .. }
        )
    {
        // A list becomes text as its items joined by ", ".
        let texts: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
        json = Value::String(texts.join(", "));
    }
    if let (CellValue::Bool(flag), false) = (cell, matches!(after, FieldKind::Checkbox)) {
        json = Value::String(if *flag { "true" } else { "false" }.to_owned());
    }
    if matches!(after, FieldKind::Checkbox)
        && let Value::String(text) = &json
    {
        json = match text.trim().to_lowercase().as_str() {
            "true" | "yes" | "1" | "是" | "✓" => Value::Bool(true),
            "false" | "no" | "0" | "否" => Value::Bool(false),
            _ => Value::Null,
        };
    }
    parse_cell(after, &json, parse).ok().flatten()
}
