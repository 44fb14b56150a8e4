//! The outbox: every write appends its events in its own transaction, in commit order.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use tenon_model::apps::{ApiKey, CellValue, TableSchema, parse_cell};
use tenon_model::events::EVENT_TYPES;
use tenon_model::{DepartmentPatch, Event, Name, NewDepartment, PageRequest, TimeZone};
use tenon_store::{NewApp, NewTable, RecordUpdate, Store, StoreError, WriteContext};

use crate::apps::spec;
use crate::{backend_tests, new_member, new_org};

fn ctx() -> WriteContext {
    WriteContext::system()
}

const PARSE: tenon_model::apps::ParseContext = tenon_model::apps::ParseContext {
    org_time_zone: TimeZone::SHANGHAI,
};

async fn all_events(store: &Store, org: tenon_model::OrgId) -> Vec<Event> {
    store
        .tenant(org)
        .events_after(0, &EVENT_TYPES, 1000)
        .await
        .unwrap()
}

pub(crate) async fn notes_table(store: &Store, org: tenon_model::OrgId) -> TableSchema {
    let tenant = store.tenant(org);
    let app = tenant
        .create_app(
            &ctx(),
            NewApp {
                name: Name::parse("Notes").unwrap(),
                key: None,
                description: None,
            },
        )
        .await
        .unwrap();
    let mut title = spec("Title", "title", "text", json!({}));
    title.unique = true;
    tenant
        .create_table(
            &ctx(),
            &app,
            NewTable {
                name: Name::parse("Notes").unwrap(),
                key: Some(ApiKey::parse("notes").unwrap()),
                fields: vec![title, spec("Pages", "pages", "number", json!({}))],
                primary_field: None,
                unique_together: vec![],
                indexes: vec![],
                validation_rules: vec![],
            },
            &PARSE,
        )
        .await
        .unwrap()
}

pub(crate) fn row(
    schema: &TableSchema,
    values: Value,
) -> BTreeMap<tenon_model::FieldId, CellValue> {
    values
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(key, value)| {
            let field = schema.field_by_key(key).unwrap();
            parse_cell(&field.kind, value, &PARSE)
                .unwrap()
                .map(|cell| (field.id, cell))
        })
        .collect()
}

backend_tests! {
    async fn record_writes_append_events_with_old_and_new_values_in_commit_order(store) {
        let (org, _) = new_org(&store, "Events").await;
        let schema = notes_table(&store, org.id).await;
        let tenant = store.tenant(org.id);
        let before = all_events(&store, org.id).await;
        assert!(before.iter().any(|e| e.event_type == "schema.changed" && e.data["object"] == "table"));
        let last = before.last().unwrap().seq;

        let created = match tenant.create_records(&ctx(), &schema, vec![row(&schema, json!({"title": "a", "pages": 1})), row(&schema, json!({"title": "b"}))], TimeZone::SHANGHAI, None).await.unwrap() {
            tenon_store::WriteOutcome::Written(records) => records,
            other => panic!("{other:?}"),
        };
        let pages = schema.field_by_key("pages").unwrap().id;
        tenant
            .update_records(&ctx(), &schema, vec![RecordUpdate { id: created[0].id, expected_version: None, cells: BTreeMap::from([(pages, Some(CellValue::Decimal(7.into())))]) }])
            .await
            .unwrap();
        tenant.delete_records(&ctx(), &schema, &[created[1].id]).await.unwrap();

        let events = tenant.events_after(last, &["record.created", "record.updated", "record.deleted"], 100).await.unwrap();
        let summary: Vec<(&str, String)> = events.iter().map(|e| (e.event_type.as_str(), e.subject["record_id"].as_str().unwrap().to_owned())).collect();
        let (a, b) = (created[0].id.to_string(), created[1].id.to_string());
        assert_eq!(summary, vec![("record.created", a.clone()), ("record.created", b.clone()), ("record.updated", a.clone()), ("record.deleted", b)]);
        let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (last + 1..=last + 4).collect::<Vec<_>>(), "seq has no gaps within one organization");
        assert_eq!(events[0].subject["app_id"], json!(schema.app.id.to_string()));
        assert_eq!(events[0].subject["table_id"], json!(schema.table.id.to_string()));
        // Values as the API shows them: a number of precision 0 is a JSON number.
        assert_eq!(events[0].data["after"], json!({"title": "a", "pages": 1}));
        assert!(events[0].data["before"].is_null());
        assert_eq!(events[2].data, json!({"before": {"pages": 1}, "after": {"pages": 7}, "changed": ["pages"]}));
        assert_eq!(events[3].data["before"]["title"], "b");
        assert_eq!(events[2].subject_key, format!("record:{a}"));
        let envelope = events[2].envelope();
        let keys: Vec<&String> = envelope.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["id", "type", "organization", "occurred_at", "actor", "subject", "data"]);
        assert_eq!(envelope["organization"], json!(org.id.to_string()));
        assert_eq!(envelope["actor"]["type"], "system");
    }

    async fn a_write_that_rolls_back_leaves_no_event(store) {
        let (org, _) = new_org(&store, "Rollback").await;
        let schema = notes_table(&store, org.id).await;
        let tenant = store.tenant(org.id);
        let before = all_events(&store, org.id).await.len();
        // A unique violation in the second record rolls back the whole batch.
        let refused = tenant.create_records(&ctx(), &schema, vec![row(&schema, json!({"title": "same"})), row(&schema, json!({"title": "same"}))], TimeZone::SHANGHAI, None).await;
        assert!(matches!(refused, Err(StoreError::InvalidRecords(_))), "{refused:?}");
        // A dry run runs every statement, events included, and rolls back.
        tenant.rehearse_create_records(&ctx(), &schema, vec![row(&schema, json!({"title": "dry"}))], TimeZone::SHANGHAI).await.unwrap();
        assert_eq!(all_events(&store, org.id).await.len(), before);
        // The next committed write continues the sequence without a gap.
        let last = tenant.last_event_seq().await.unwrap();
        tenant.create_records(&ctx(), &schema, vec![row(&schema, json!({"title": "kept"}))], TimeZone::SHANGHAI, None).await.unwrap();
        let events = all_events(&store, org.id).await;
        assert_eq!(events.len(), before + 1);
        assert_eq!(events.last().unwrap().seq, last + 1);
    }

    async fn directory_changes_are_events_and_organizations_never_see_each_others(store) {
        let (a, _) = new_org(&store, "A").await;
        let (b, _) = new_org(&store, "B").await;
        let tenant = store.tenant(a.id);
        let member = tenant.create_member(&ctx(), new_member("Ann", None)).await.unwrap();
        let department = tenant
            .create_department(&ctx(), NewDepartment { name: Name::parse("Ops").unwrap(), parent_id: None, sort_order: 0, head_ids: vec![] })
            .await
            .unwrap();
        tenant
            .update_department(&ctx(), department.id, DepartmentPatch { name: Some(Name::parse("Ops 2").unwrap()), ..Default::default() })
            .await
            .unwrap();
        tenant.delete_member(&ctx(), member.id).await.unwrap();
        let types: Vec<String> = all_events(&store, a.id).await.into_iter().map(|e| e.event_type).collect();
        for expected in ["member.created", "department.created", "department.updated", "member.deleted"] {
            assert!(types.iter().any(|t| t == expected), "{expected} missing from {types:?}");
        }
        let updated = tenant.events_after(0, &["department.updated"], 10).await.unwrap();
        assert_eq!(updated[0].data["changed"], json!(["name"]));
        assert_eq!(updated[0].subject, json!({"department_id": department.id.to_string()}));
        // B's events are B's alone.
        let b_events = all_events(&store, b.id).await;
        assert!(b_events.iter().all(|e| e.org_id == b.id && !e.data.to_string().contains("Ann")));
        // Pages continue after an event id; a filter keeps only the asked types.
        let first = tenant.list_events(&EVENT_TYPES, PageRequest::first(2).unwrap()).await.unwrap();
        assert_eq!(first.items.len(), 2);
        let next = tenant.list_events(&EVENT_TYPES, PageRequest::new(2, first.next_after).unwrap()).await.unwrap();
        assert!(next.items[0].seq > first.items[1].seq);
        // An event of B is no cursor in A.
        let foreign = tenant.list_events(&EVENT_TYPES, PageRequest::new(2, Some(b_events[0].id)).unwrap()).await;
        assert!(matches!(foreign, Err(StoreError::NotFound { .. })), "{foreign:?}");
    }

    async fn a_full_page_of_the_largest_size_still_leads_to_the_next(store) {
        let (org, _) = new_org(&store, "Many").await;
        let schema = notes_table(&store, org.id).await;
        let tenant = store.tenant(org.id);
        let max = tenon_model::PAGE_SIZE_MAX;
        let rows = (0..=max).map(|i| row(&schema, json!({"title": format!("n{i}")}))).collect();
        tenant.create_records(&ctx(), &schema, rows, TimeZone::SHANGHAI, None).await.unwrap();
        let first = tenant.list_events(&["record.created"], PageRequest::first(max).unwrap()).await.unwrap();
        assert_eq!(first.items.len(), max as usize);
        assert!(first.next_after.is_some(), "a full page of {max} said nothing follows");
        let rest = tenant.list_events(&["record.created"], PageRequest::new(max, first.next_after).unwrap()).await.unwrap();
        assert_eq!(rest.items.len(), 1);
        assert_eq!(rest.next_after, None);
        assert_eq!(rest.items[0].seq, first.items[max as usize - 1].seq + 1);
    }

    async fn concurrent_writers_get_distinct_gapless_sequence_numbers(store) {
        let (org, _) = new_org(&store, "Busy").await;
        let start = store.tenant(org.id).last_event_seq().await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..16 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store.tenant(org.id).create_member(&WriteContext::system(), new_member(&format!("M{i}"), None)).await.unwrap();
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let events = store.tenant(org.id).events_after(start, &["member.created"], 100).await.unwrap();
        let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (start + 1..=start + 16).collect::<Vec<_>>());
    }
}

backend_tests! {
    async fn concurrent_updates_of_one_record_are_events_in_the_order_they_happened(store) {
        let (org, _) = new_org(&store, "One record").await;
        let schema = notes_table(&store, org.id).await;
        let tenant = store.tenant(org.id);
        let created = match tenant.create_records(&ctx(), &schema, vec![row(&schema, json!({"title": "busy", "pages": 0}))], TimeZone::SHANGHAI, None).await.unwrap() {
            tenon_store::WriteOutcome::Written(records) => records,
            other => panic!("{other:?}"),
        };
        let (id, last) = (created[0].id, tenant.last_event_seq().await.unwrap());
        let pages = schema.field_by_key("pages").unwrap().id;
        let mut tasks = Vec::new();
        for writer in 1..=8_i64 {
            let (store, schema) = (store.clone(), schema.clone());
            tasks.push(tokio::spawn(async move {
                for n in 0..5_i64 {
                    let cells = BTreeMap::from([(pages, Some(CellValue::Decimal((writer * 100 + n).into())))]);
                    store.tenant(org.id).update_records(&ctx(), &schema, vec![RecordUpdate { id, expected_version: None, cells }]).await.unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let events = tenant.events_after(last, &["record.updated"], 100).await.unwrap();
        assert_eq!(events.len(), 40);
        // Each update's `before` is the previous one's `after`: the record's events are in the order its
        // writes happened, and `seq` has no gaps.
        let mut value = json!(0);
        for (event, seq) in events.iter().zip(last + 1..) {
            assert_eq!(event.seq, seq);
            assert_eq!(event.data["before"]["pages"], value, "{event:?}");
            value = event.data["after"]["pages"].clone();
        }
        let stored = tenant.record(&schema, id).await.unwrap();
        let last_value = value.as_i64().expect("pages is a whole number");
        assert_eq!(stored.cells.get(&pages), Some(&CellValue::Decimal(last_value.into())));
    }
}

backend_tests! {
    async fn racing_deletes_of_one_record_delete_it_once(store) {
        let (org, _) = new_org(&store, "Deletes").await;
        let schema = notes_table(&store, org.id).await;
        let tenant = store.tenant(org.id);
        let created = match tenant.create_records(&ctx(), &schema, vec![row(&schema, json!({"title": "gone"}))], TimeZone::SHANGHAI, None).await.unwrap() {
            tenon_store::WriteOutcome::Written(records) => records,
            other => panic!("{other:?}"),
        };
        let (id, last) = (created[0].id, tenant.last_event_seq().await.unwrap());
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let (store, schema) = (store.clone(), schema.clone());
                tokio::spawn(async move { store.tenant(org.id).delete_records(&ctx(), &schema, &[id]).await })
            })
            .collect();
        let mut deleted = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => deleted += 1,
                Err(StoreError::InvalidRecords(problems)) => assert_eq!(problems[0].reason.code, tenon_model::DetailCode::NotFound, "{problems:?}"),
                Err(other) => panic!("{other:?}"),
            }
        }
        assert_eq!(deleted, 1);
        let events = tenant.events_after(last, &["record.deleted"], 10).await.unwrap();
        assert_eq!(events.len(), 1, "{events:?}");
    }
}
