//! Physical names and DDL for user tables. Names are built from ids only (`t_<id>`, `f_<id>`, `l_<id>`,
//! `i_<id>`), lowercase ASCII within PostgreSQL's 63-byte limit, and quoted anyway.

use tenon_model::apps::{Field, FieldKind, Storage};
use tenon_model::{FieldId, TableId};

use crate::exec::{Backend, quote};

pub(crate) fn table_name(table: TableId) -> String {
    format!("t_{}", table.as_uuid().simple())
}

pub(crate) fn column_name(field: FieldId) -> String {
    format!("f_{}", field.as_uuid().simple())
}

/// The junction of a link pair is named after the field with the smaller id (the one created first), so
/// both sides find it without storing its name.
pub(crate) fn junction_name(a: FieldId, b: FieldId) -> String {
    format!("l_{}", a.min(b).as_uuid().simple())
}

fn index_name(field: FieldId) -> String {
    format!("i_{}", field.as_uuid().simple())
}

fn unique_index_name(field: FieldId) -> String {
    format!("u_{}", field.as_uuid().simple())
}

fn together_index_name(table: TableId, n: usize) -> String {
    format!("ut_{}_{n}", table.as_uuid().simple())
}

fn composite_index_name(table: TableId, n: usize) -> String {
    format!("ix_{}_{n}", table.as_uuid().simple())
}

pub(crate) fn column_type(storage: Storage, backend: Backend) -> Option<String> {
    let pg = backend == Backend::Postgres;
    let sql = match storage {
        Storage::Text => "TEXT".to_owned(),
        Storage::Decimal { scale } if pg => format!("NUMERIC(28,{scale})"),
        Storage::Decimal { .. } | Storage::Integer if !pg => "INTEGER".to_owned(),
        Storage::Integer => "BIGINT".to_owned(),
        Storage::Boolean => (if pg { "BOOLEAN" } else { "INTEGER" }).to_owned(),
        Storage::Date => (if pg { "DATE" } else { "TEXT" }).to_owned(),
        Storage::DateTime => (if pg { "TIMESTAMPTZ" } else { "TEXT" }).to_owned(),
        Storage::JsonArray => (if pg { "JSONB" } else { "TEXT" }).to_owned(),
        Storage::Junction | Storage::System | Storage::Virtual | Storage::Decimal { .. } => {
            return None;
        }
    };
    Some(sql)
}

/// `CREATE TABLE` for a new user table with its system columns.
pub(crate) fn create_table(table: TableId, backend: Backend) -> String {
    let (id, time, strict) = match backend {
        Backend::Postgres => ("UUID", "TIMESTAMPTZ", ""),
        Backend::Sqlite => ("BLOB", "TEXT", " STRICT"),
    };
    format!(
        "CREATE TABLE {} (id {id} PRIMARY KEY, version BIGINT NOT NULL, created_at {time} NOT NULL, \
         modified_at {time} NOT NULL, created_by TEXT, modified_by TEXT){strict}",
        quote(&table_name(table))
    )
    .replace("BIGINT", if backend == Backend::Sqlite { "INTEGER" } else { "BIGINT" })
}

pub(crate) fn drop_table(table: TableId) -> String {
    format!("DROP TABLE IF EXISTS {}", quote(&table_name(table)))
}

pub(crate) fn add_column(
    table: TableId,
    column: &str,
    storage: Storage,
    backend: Backend,
) -> Option<String> {
    let sql_type = column_type(storage, backend)?;
    Some(format!(
        "ALTER TABLE {} ADD COLUMN {} {sql_type}",
        quote(&table_name(table)),
        quote(column)
    ))
}

pub(crate) fn drop_column(table: TableId, column: &str) -> String {
    format!(
        "ALTER TABLE {} DROP COLUMN {}",
        quote(&table_name(table)),
        quote(column)
    )
}

pub(crate) fn rename_column(table: TableId, from: &str, to: &str) -> String {
    format!(
        "ALTER TABLE {} RENAME COLUMN {} TO {}",
        quote(&table_name(table)),
        quote(from),
        quote(to)
    )
}

/// The junction table of a link pair: `source_id` is a record of the owning field's table.
pub(crate) fn create_junction(
    owner: &Field,
    source: TableId,
    target: TableId,
    backend: Backend,
) -> Vec<String> {
    let FieldKind::Link {
        inverse: Some(inverse),
        ..
    } = owner.kind
    else {
        return Vec::new();
    };
    let name = junction_name(owner.id, inverse);
    let (id, strict) = match backend {
        Backend::Postgres => ("UUID", ""),
        Backend::Sqlite => ("BLOB", " STRICT"),
    };
    let integer = if backend == Backend::Sqlite {
        "INTEGER"
    } else {
        "BIGINT"
    };
    vec![
        format!(
            "CREATE TABLE {} (source_id {id} NOT NULL REFERENCES {} (id) ON DELETE CASCADE, \
             target_id {id} NOT NULL REFERENCES {} (id) ON DELETE CASCADE, position {integer} NOT NULL, \
             PRIMARY KEY (source_id, target_id)){strict}",
            quote(&name),
            quote(&table_name(source)),
            quote(&table_name(target)),
        ),
        format!(
            "CREATE INDEX {} ON {} (target_id, source_id)",
            quote(&format!("{name}_t")),
            quote(&name)
        ),
    ]
}

pub(crate) fn drop_junction(a: FieldId, b: FieldId) -> String {
    format!("DROP TABLE IF EXISTS {}", quote(&junction_name(a, b)))
}

/// The indexes a field asks for: unique, or a plain index when marked `indexed`.
///
/// A plain index is `(column, id)`, the order of a keyset page sorted by the field. Pages sort empty
/// values first when ascending and last when descending (as SQLite's indexes store them); PostgreSQL's
/// indexes keep NULLs last unless told, so there the column is `NULLS FIRST`, which a backward scan turns
/// into `DESC NULLS LAST` — without it PostgreSQL sorts the whole table for every sorted page. Text is the
/// exception: pages sort it `COLLATE "C"`, and an index in that collation would no longer serve equality
/// filters and unique lookups in the column's own collation, so a text column's index keeps the default.
pub(crate) fn field_indexes(table: TableId, field: &Field, backend: Backend) -> Vec<String> {
    if field.kind.storage() == Storage::Junction || field.kind.storage() == Storage::System {
        return Vec::new();
    }
    let table_sql = quote(&table_name(table));
    let column = quote(&column_name(field.id));
    let mut statements = Vec::new();
    if field.unique {
        statements.push(format!(
            "CREATE UNIQUE INDEX {} ON {table_sql} ({column})",
            quote(&unique_index_name(field.id))
        ));
    } else if field.indexed {
        // The id makes the index usable for keyset pages sorted by this field.
        statements.push(format!(
            "CREATE INDEX {} ON {table_sql} ({column}{}, id)",
            quote(&index_name(field.id)),
            keyset_nulls(field.kind.value_storage(), backend)
        ));
    }
    statements
}

/// What a plain index's column needs after its name so that it serves keyset pages (see
/// [`field_indexes`]).
pub(crate) fn keyset_nulls(storage: Storage, backend: Backend) -> &'static str {
    match (backend, storage) {
        (Backend::Postgres, Storage::Text) | (Backend::Sqlite, _) => "",
        (Backend::Postgres, _) => " NULLS FIRST",
    }
}

pub(crate) fn drop_field_indexes(field: FieldId) -> Vec<String> {
    vec![
        format!("DROP INDEX IF EXISTS {}", quote(&index_name(field))),
        format!("DROP INDEX IF EXISTS {}", quote(&unique_index_name(field))),
    ]
}

/// The unique indexes of a table's composite unique keys.
pub(crate) fn together_indexes(table: TableId, groups: &[Vec<FieldId>]) -> Vec<String> {
    group_indexes(table, groups, true)
}

pub(crate) fn drop_together_indexes(table: TableId, count: usize) -> Vec<String> {
    drop_group_indexes(table, count, true)
}

/// The plain indexes a table asks for with `indexes`.
pub(crate) fn composite_indexes(table: TableId, groups: &[Vec<FieldId>]) -> Vec<String> {
    group_indexes(table, groups, false)
}

pub(crate) fn drop_composite_indexes(table: TableId, count: usize) -> Vec<String> {
    drop_group_indexes(table, count, false)
}

fn group_indexes(table: TableId, groups: &[Vec<FieldId>], unique: bool) -> Vec<String> {
    groups
        .iter()
        .enumerate()
        .map(|(n, group)| {
            let columns: Vec<String> = group
                .iter()
                .map(|field| quote(&column_name(*field)))
                .collect();
            let (kind, name) = if unique {
                ("UNIQUE INDEX", together_index_name(table, n))
            } else {
                ("INDEX", composite_index_name(table, n))
            };
            format!(
                "CREATE {kind} {} ON {} ({})",
                quote(&name),
                quote(&table_name(table)),
                columns.join(", ")
            )
        })
        .collect()
}

fn drop_group_indexes(table: TableId, count: usize, unique: bool) -> Vec<String> {
    (0..count)
        .map(|n| {
            let name = if unique {
                together_index_name(table, n)
            } else {
                composite_index_name(table, n)
            };
            format!("DROP INDEX IF EXISTS {}", quote(&name))
        })
        .collect()
}
