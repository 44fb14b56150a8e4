//! Composite indexes (`indexes` on a table) on both backends: created, replaced, kept through type
//! changes and field deletion, refused on fields that have no single stored value.

use serde_json::json;
use tenon_model::apps::field::parse_kind;
use tenon_model::apps::{FieldType, ParseContext, TableSchema};
use tenon_model::{Name, TimeZone};
use tenon_store::{FieldPatch, NewApp, NewTable, StoreError, TablePatch, Tenant, WriteContext};

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
