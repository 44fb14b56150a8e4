//! Property: any sequence of schema changes and record writes leaves every record readable, every stored
//! value valid for its field's current type, and the records that should exist existing — on SQLite and
//! on PostgreSQL.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use serde_json::{Value, json};
use tenon_model::apps::field::parse_kind;
use tenon_model::apps::{CellValue, FieldType, ParseContext, TableSchema, parse_cell};
use tenon_model::{Name, RecordId, TimeZone};
use tenon_store::testing::{TestBackend, TestDatabase};
use tenon_store::{FieldPatch, NewApp, NewTable, RecordQuery, RecordUpdate, Store, WriteContext};

use crate::apps::spec;

const PARSE: ParseContext = ParseContext {
    org_time_zone: TimeZone::SHANGHAI,
};

#[derive(Debug, Clone)]
enum Op {
    AddField { kind: u8, name: u8 },
    DeleteField { pick: u8 },
    ChangeType { pick: u8, kind: u8 },
    Rename { pick: u8, name: u8 },
    Insert { rows: Vec<Vec<u8>> },
    Update { pick: u8, values: Vec<u8> },
    Delete { pick: u8 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (any::<u8>(), any::<u8>()).prop_map(|(kind, name)| Op::AddField { kind, name }),
        1 => any::<u8>().prop_map(|pick| Op::DeleteField { pick }),
        2 => (any::<u8>(), any::<u8>()).prop_map(|(pick, kind)| Op::ChangeType { pick, kind }),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(pick, name)| Op::Rename { pick, name }),
        4 => prop::collection::vec(prop::collection::vec(any::<u8>(), 6), 1..4).prop_map(|rows| Op::Insert { rows }),
        2 => (any::<u8>(), prop::collection::vec(any::<u8>(), 6)).prop_map(|(pick, values)| Op::Update { pick, values }),
        1 => any::<u8>().prop_map(|pick| Op::Delete { pick }),
    ]
}

/// Field types the generator uses, with options.
fn kind(n: u8) -> (FieldType, Value) {
    match n % 9 {
        0 => (FieldType::Text, json!({})),
        1 => (FieldType::Number, json!({})),
        2 => (FieldType::Number, json!({"precision": 2})),
        3 => (FieldType::Currency, json!({"currency": "CNY"})),
        4 => (FieldType::Date, json!({})),
        5 => (FieldType::Checkbox, json!({})),
        6 => (
            FieldType::SingleSelect,
            json!({"choices": ["a", "b", "12"]}),
        ),
        7 => (FieldType::MultiSelect, json!({"choices": ["a", "b"]})),
        _ => (FieldType::DateTime, json!({})),
    }
}

/// Candidate raw values; each is kept only if the field's current type accepts it.
fn raw_value(n: u8) -> Value {
    match n % 12 {
        0 => json!("12"),
        1 => json!("12.5"),
        2 => json!(7),
        3 => json!("hello 世界"),
        4 => json!("2026-11-24"),
        5 => json!(true),
        6 => json!("a"),
        7 => json!(["a", "b"]),
        8 => json!("2026-11-24T08:00:00+08:00"),
        9 => json!("-0.01"),
        10 => Value::Null,
        _ => json!("b"),
    }
}

fn cells(schema: &TableSchema, values: &[u8]) -> BTreeMap<tenon_model::FieldId, CellValue> {
    schema
        .fields
        .iter()
        .zip(values)
        .filter_map(|(field, n)| {
            parse_cell(&field.kind, &raw_value(*n), &PARSE)
                .ok()
                .flatten()
                .map(|cell| (field.id, cell))
        })
        .collect()
}

async fn run(store: &Store, ops: Vec<Op>) {
    let ctx = WriteContext::system();
    let (org, _) = crate::new_org(store, "Props").await;
    let tenant = store.tenant(org.id);
    let app = tenant
        .create_app(
            &ctx,
            NewApp {
                name: Name::parse("P").unwrap(),
                key: None,
                description: None,
            },
        )
        .await
        .unwrap();
    let new = NewTable {
        name: Name::parse("T").unwrap(),
        key: None,
        fields: vec![spec("Title", "title", "text", json!({}))],
        primary_field: None,
        unique_together: vec![],
        indexes: vec![],
        validation_rules: vec![],
    };
    let mut schema = tenant.create_table(&ctx, &app, new, &PARSE).await.unwrap();
    let mut alive: BTreeSet<RecordId> = BTreeSet::new();
    let mut next_name = 0u32;
    for op in ops {
        match op {
            Op::AddField { kind: k, name } => {
                next_name += 1;
                let (field_type, options) = kind(k);
                let mut field_spec = spec(
                    &format!("F{name}-{next_name}"),
                    &format!("f{next_name}"),
                    "text",
                    json!({}),
                );
                field_spec.kind =
                    parse_kind(field_type, options.as_object().unwrap(), "options").unwrap();
                tenant
                    .add_field(&ctx, &schema, field_spec, &PARSE)
                    .await
                    .unwrap();
            }
            Op::DeleteField { pick } if schema.fields.len() > 1 => {
                let field = &schema.fields[1 + pick as usize % (schema.fields.len() - 1)];
                tenant.delete_field(&ctx, &schema, field.id).await.unwrap();
            }
            Op::ChangeType { pick, kind: k } => {
                let field = schema.fields[pick as usize % schema.fields.len()].clone();
                let (field_type, options) = kind(k);
                let patch = FieldPatch {
                    kind: Some(
                        parse_kind(field_type, options.as_object().unwrap(), "options").unwrap(),
                    ),
                    ..Default::default()
                };
                tenant
                    .update_field(&ctx, &schema, field.id, patch, &PARSE)
                    .await
                    .unwrap();
            }
            Op::Rename { pick, name } => {
                next_name += 1;
                let field = schema.fields[pick as usize % schema.fields.len()].clone();
                let patch = FieldPatch {
                    name: Some(Name::parse(&format!("R{name}-{next_name}")).unwrap()),
                    ..Default::default()
                };
                tenant
                    .update_field(&ctx, &schema, field.id, patch, &PARSE)
                    .await
                    .unwrap();
            }
            Op::Insert { rows } => {
                let rows: Vec<_> = rows.iter().map(|values| cells(&schema, values)).collect();
                match tenant
                    .create_records(&ctx, &schema, rows, TimeZone::SHANGHAI, None)
                    .await
                    .unwrap()
                {
                    tenon_store::WriteOutcome::Written(records) => {
                        alive.extend(records.iter().map(|record| record.id))
                    }
                    tenon_store::WriteOutcome::Replayed(_) => unreachable!(),
                }
            }
            Op::Update { pick, values } if !alive.is_empty() => {
                let id = *alive.iter().nth(pick as usize % alive.len()).unwrap();
                let changes = cells(&schema, &values)
                    .into_iter()
                    .map(|(field, cell)| (field, Some(cell)))
                    .collect();
                tenant
                    .update_records(
                        &ctx,
                        &schema,
                        vec![RecordUpdate {
                            id,
                            expected_version: None,
                            cells: changes,
                        }],
                    )
                    .await
                    .unwrap();
            }
            Op::Delete { pick } if !alive.is_empty() => {
                let id = *alive.iter().nth(pick as usize % alive.len()).unwrap();
                tenant.delete_records(&ctx, &schema, &[id]).await.unwrap();
                alive.remove(&id);
            }
            _ => {}
        }
        schema = tenant.table_schema_by_id(schema.table.id).await.unwrap();
        // Invariants after every step.
        let keys: BTreeSet<&str> = schema
            .fields
            .iter()
            .map(|field| field.key.as_str())
            .collect();
        assert_eq!(keys.len(), schema.fields.len(), "field keys stay unique");
        let page = tenant
            .list_records(
                &schema,
                &RecordQuery {
                    filter: None,
                    sort: vec![],
                    fields: None,
                    page_size: 1000,
                    after: None,
                    offset: 0,
                    count: true,
                    condition: None,
                },
            )
            .await
            .unwrap();
        let listed: BTreeSet<RecordId> = page.records.iter().map(|record| record.id).collect();
        assert_eq!(listed, alive, "exactly the live records are there");
        assert_eq!(page.total, Some(alive.len() as i64));
        for record in &page.records {
            for (field_id, cell) in &record.cells {
                let field = schema
                    .field(*field_id)
                    .expect("a cell belongs to a current field");
                let json = match cell {
                    CellValue::Decimal(value) => json!(value.to_string()),
                    CellValue::Date(date) => json!(date.to_string()),
                    CellValue::DateTime(time) => json!(time.to_rfc3339()),
                    CellValue::Text(text) => json!(text),
                    CellValue::Integer(n) => json!(n),
                    CellValue::Bool(flag) => json!(flag),
                    CellValue::Names(names) => json!(names),
                    CellValue::Ids(ids) => {
                        json!(ids.iter().map(ToString::to_string).collect::<Vec<_>>())
                    }
                };
                assert!(
                    parse_cell(&field.kind, &json, &PARSE).is_ok(),
                    "stored {cell:?} is valid for {:?}",
                    field.kind
                );
            }
        }
    }
}

fn property(backend: TestBackend) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (database, store) = runtime.block_on(async {
        let database = TestDatabase::create(backend).await;
        let store = Store::connect(&database.config, crate::manual_clock())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        (database, store)
    });
    let config = ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(ops in prop::collection::vec(op(), 1..14))| {
        runtime.block_on(run(&store, ops));
    });
    runtime.block_on(async {
        store.close().await;
        database.cleanup().await;
    });
}

#[test]
fn random_schema_changes_and_writes_keep_data_readable_and_consistent_on_sqlite() {
    property(TestBackend::Sqlite);
}

#[test]
fn random_schema_changes_and_writes_keep_data_readable_and_consistent_on_postgres() {
    property(TestBackend::Postgres);
}
