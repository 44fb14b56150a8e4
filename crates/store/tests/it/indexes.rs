//! Composite indexes (`indexes` on a table) on both backends: created, replaced, kept through type
//! changes and field deletion, refused on fields that have no single stored value.

use serde_json::json;
use tenon_model::apps::field::parse_kind;
use tenon_model::apps::{FieldType, ParseContext, TableSchema};
use tenon_model::{Name, TimeZone};
use tenon_store::testing::{execute, fetch_strings, record_table};
use tenon_store::{
    FieldPatch, NewApp, NewTable, Store, StoreError, TablePatch, Tenant, WriteContext,
};

use crate::apps::spec;
use crate::{backend_tests, new_org};

const PARSE: ParseContext = ParseContext {
    org_time_zone: TimeZone::SHANGHAI,
};

fn ctx() -> WriteContext {
    WriteContext::system()
}

fn groups(list: &[&[&str]]) -> Vec<Vec<String>> {
    list.iter()
        .map(|group| group.iter().map(|key| (*key).to_owned()).collect())
        .collect()
}

/// The table's `indexes` as field keys.
fn keys(schema: &TableSchema) -> Vec<Vec<String>> {
    schema
        .table
        .indexes
        .iter()
        .map(|group| {
            group
                .iter()
                .map(|id| schema.field(*id).unwrap().key.to_string())
                .collect()
        })
        .collect()
}

/// The composite indexes that exist in SQL (named `ix_<table>_<n>`).
async fn composite(tenant: &Tenant<'_>, schema: &TableSchema) -> Vec<String> {
    let prefix = format!("ix_{}_", schema.table.id.as_uuid().simple());
    tenant
        .physical_indexes(schema)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|name| name.strip_prefix(&prefix).map(str::to_owned))
        .collect()
}

async fn sales(tenant: &Tenant<'_>, indexes: Vec<Vec<String>>) -> Result<TableSchema, StoreError> {
    let app = tenant
        .create_app(
            &ctx(),
            NewApp {
                name: Name::parse("Sales").unwrap(),
                key: None,
                description: None,
            },
        )
        .await
        .unwrap();
    tenant
        .create_table(
            &ctx(),
            &app,
            NewTable {
                name: Name::parse("Orders").unwrap(),
                key: None,
                fields: vec![
                    spec("Customer", "customer", "text", json!({})),
                    spec(
                        "Region",
                        "region",
                        "single_select",
                        json!({"choices": ["east", "west"]}),
                    ),
                    spec("Amount", "amount", "currency", json!({"currency": "CNY"})),
                    spec("Tags", "tags", "multi_select", json!({"choices": ["vip"]})),
                    spec(
                        "Total",
                        "total",
                        "formula",
                        json!({"formula": "{Amount} * 2"}),
                    ),
                    spec("Due", "due", "formula", json!({"formula": "TODAY()"})),
                ],
                primary_field: None,
                unique_together: vec![],
                indexes,
                validation_rules: vec![],
            },
            &PARSE,
        )
        .await
}

fn invalid_at(result: Result<TableSchema, StoreError>, path: &str) {
    match result {
        Err(StoreError::Invalid(invalid)) => assert!(
            invalid.0.iter().any(|error| error.field == path),
            "expected an error at {path}, got {invalid:?}"
        ),
        other => panic!("expected an invalid-input error at {path}, got {other:?}"),
    }
}

backend_tests! {
    async fn composite_indexes_are_created_replaced_and_survive_type_changes_and_deletions(store) {
        let (org, _) = new_org(&store, "Shop").await;
        let tenant = store.tenant(org.id);
        let orders = sales(&tenant, groups(&[&["region", "amount"], &["total"]])).await.unwrap();
        assert_eq!(keys(&orders), groups(&[&["region", "amount"], &["total"]]));
        assert_eq!(composite(&tenant, &orders).await, vec!["0", "1"]);

        // Replacing the list replaces the SQL indexes.
        let patch = TablePatch { indexes: Some(groups(&[&["customer"], &["region", "amount", "customer"], &["total"]])), ..Default::default() };
        let orders = tenant.update_table(&ctx(), &orders, patch).await.unwrap();
        assert_eq!(keys(&orders), groups(&[&["customer"], &["region", "amount", "customer"], &["total"]]));
        assert_eq!(composite(&tenant, &orders).await, vec!["0", "1", "2"]);
        let reread = tenant.table_schema(&orders.app.key.to_string(), "orders").await.unwrap();
        assert_eq!(keys(&reread), keys(&orders), "the list is stored");

        // A conversion of an indexed column keeps the indexes (SQLite cannot alter an indexed column).
        let customer = orders.field_by_key("customer").unwrap().id;
        let to_number = FieldPatch { kind: Some(parse_kind(FieldType::Number, json!({}).as_object().unwrap(), "options").unwrap()), ..Default::default() };
        tenant.update_field(&ctx(), &orders, customer, to_number, &PARSE).await.unwrap();
        let orders = tenant.table_schema(&orders.app.key.to_string(), "orders").await.unwrap();
        assert_eq!(composite(&tenant, &orders).await, vec!["0", "1", "2"]);

        // A formula that becomes computed when read has no column to index: refused, nothing changed.
        let total = orders.field_by_key("total").unwrap().id;
        let to_clock = FieldPatch { kind: Some(parse_kind(FieldType::Formula, json!({"formula": "TODAY()"}).as_object().unwrap(), "options").unwrap()), ..Default::default() };
        let refused = tenant.update_field(&ctx(), &orders, total, to_clock, &PARSE).await;
        assert!(matches!(refused, Err(StoreError::Conflict { .. })), "got {refused:?}");
        assert_eq!(composite(&tenant, &orders).await, vec!["0", "1", "2"]);

        // Deleting a field takes it out of every index; an index left with no field goes.
        tenant.delete_field(&ctx(), &orders, customer).await.unwrap();
        let orders = tenant.table_schema(&orders.app.key.to_string(), "orders").await.unwrap();
        assert_eq!(keys(&orders), groups(&[&["region", "amount"], &["total"]]));
        assert_eq!(composite(&tenant, &orders).await, vec!["0", "1"]);
    }

    async fn composite_indexes_refuse_fields_without_one_stored_value(store) {
        let (org, _) = new_org(&store, "Shop").await;
        let tenant = store.tenant(org.id);
        invalid_at(sales(&tenant, groups(&[&["tags"]])).await, "indexes[0][0]");
        invalid_at(sales(&tenant, groups(&[&["region", "due"]])).await, "indexes[0][1]");
        invalid_at(sales(&tenant, groups(&[&["region", "nope"]])).await, "indexes[0][1]");
        invalid_at(sales(&tenant, groups(&[&[]])).await, "indexes[0]");
        invalid_at(sales(&tenant, groups(&[&["region", "region"]])).await, "indexes[0][1]");
        invalid_at(sales(&tenant, groups(&[&["region"], &["region"]])).await, "indexes[1]");
        // A refused change leaves the indexes as they were.
        let orders = sales(&tenant, groups(&[&["region", "amount"]])).await.unwrap();
        let patch = TablePatch { indexes: Some(groups(&[&["customer"], &["tags"]])), ..Default::default() };
        let refused = tenant.update_table(&ctx(), &orders, patch).await;
        assert!(matches!(refused, Err(StoreError::Invalid(_))), "got {refused:?}");
        let reread = tenant.table_schema(&orders.app.key.to_string(), "orders").await.unwrap();
        assert_eq!(keys(&reread), groups(&[&["region", "amount"]]));
        assert_eq!(composite(&tenant, &reread).await, vec!["0"]);
    }
}

/// The SQL that defines a field's plain index (`i_<field>`).
async fn plain_index(store: &Store, field: tenon_model::FieldId) -> String {
    let name = format!("i_{}", field.as_uuid().simple());
    let sql = match store.backend() {
        tenon_store::Backend::Postgres => {
            format!("SELECT indexdef FROM pg_indexes WHERE indexname = '{name}'")
        }
        tenon_store::Backend::Sqlite => {
            format!("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = '{name}'")
        }
    };
    let mut found = fetch_strings(store, sql).await;
    assert_eq!(found.len(), 1, "one index {name}: {found:?}");
    found.remove(0)
}

/// PostgreSQL's plan for the first page of `table` sorted by `column` descending, as the store writes it.
async fn descending_page_plan(store: &Store, table: &str, column: &str) -> String {
    fetch_strings(
        store,
        format!(
            "EXPLAIN SELECT r.id FROM {table} r ORDER BY r.\"{column}\" DESC NULLS LAST, r.id DESC LIMIT 25"
        ),
    )
    .await
    .join("\n")
}

backend_tests! {
    async fn plain_indexes_serve_pages_sorted_either_way_and_old_ones_are_rebuilt(store) {
        let (org, _) = new_org(&store, "Shop").await;
        let tenant = store.tenant(org.id);
        let app = tenant.create_app(&ctx(), NewApp { name: Name::parse("Hotel").unwrap(), key: None, description: None }).await.unwrap();
        let mut deposit = spec("Deposit", "deposit", "currency", json!({"currency": "CNY"}));
        deposit.indexed = true;
        let mut guest = spec("Guest", "guest", "text", json!({}));
        guest.indexed = true;
        let bookings = tenant.create_table(&ctx(), &app, NewTable {
            name: Name::parse("Bookings").unwrap(), key: None, fields: vec![guest, deposit],
            primary_field: None, unique_together: vec![], indexes: vec![], validation_rules: vec![],
        }, &PARSE).await.unwrap();
        let deposit = bookings.field_by_key("deposit").unwrap().id;
        let guest = bookings.field_by_key("guest").unwrap().id;
        let deposit_column = format!("f_{}", deposit.as_uuid().simple());
        let table = record_table(bookings.table.id);
        let rows = (0..2000).map(|n| {
            let mut cells = std::collections::BTreeMap::new();
            if n % 7 != 0 {
                cells.insert(deposit, tenon_model::apps::CellValue::Decimal(rust_decimal::Decimal::new(n * 100 + 5, 2)));
            }
            cells.insert(guest, tenon_model::apps::CellValue::Text(format!("guest {n}")));
            cells
        }).collect();
        tenant.create_records(&ctx(), &bookings, rows, TimeZone::SHANGHAI, None).await.unwrap();

        let number = plain_index(&store, deposit).await;
        let text = plain_index(&store, guest).await;
        match store.backend() {
            tenon_store::Backend::Sqlite => {
                // SQLite's indexes keep NULLs first already; its syntax has no NULLS clause in an index.
                assert!(!number.contains("NULLS") && number.ends_with(", id)"), "{number}");
            }
            tenon_store::Backend::Postgres => {
                assert!(number.contains("NULLS FIRST, id)"), "{number}");
                assert!(!text.contains("NULLS"), "a text column's index keeps its collation's default: {text}");
                execute(&store, format!("ANALYZE {table}")).await;
                let plan = descending_page_plan(&store, &table, &deposit_column).await;
                assert!(plan.contains("Scan Backward using i_") && !plan.contains("Sort"), "{plan}");

                // An index as the previous version made it is rebuilt by the queued data migration.
                let index = format!("\"i_{}\"", deposit.as_uuid().simple());
                execute(&store, format!("DROP INDEX {index}")).await;
                execute(&store, format!("CREATE INDEX {index} ON {table} (\"{deposit_column}\", id)")).await;
                execute(&store, format!("ANALYZE {table}")).await;
                let plan = descending_page_plan(&store, &table, &deposit_column).await;
                assert!(plan.contains("Sort"), "the old index cannot serve the page: {plan}");
                execute(&store, "INSERT INTO pending_data_migrations (name) VALUES ('keyset_indexes')".to_owned()).await;
                store.migrate().await.unwrap();
                assert!(plain_index(&store, deposit).await.contains("NULLS FIRST, id)"));
                assert_eq!(plain_index(&store, guest).await, text, "text indexes are left alone");
                let plan = descending_page_plan(&store, &table, &deposit_column).await;
                assert!(plan.contains("Scan Backward using i_") && !plan.contains("Sort"), "{plan}");
                let queued = fetch_strings(&store, "SELECT name FROM pending_data_migrations".to_owned()).await;
                assert!(queued.is_empty(), "the queue row is taken: {queued:?}");
            }
        }
    }
}
