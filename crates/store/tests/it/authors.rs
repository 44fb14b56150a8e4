//! Who a record names as its author (#16): the member behind a personal token, and the migration that
//! rewrote rows written before.

use std::collections::BTreeMap;

use tenon_model::apps::{CellValue, RecordActor};
use tenon_model::{Actor, Name, ScopeSet, TimeZone};
use tenon_store::testing::{execute, record_table};
use tenon_store::{NewToken, WriteContext};

use crate::events::notes_table;
use crate::{backend_tests, new_org};

fn title(
    schema: &tenon_model::apps::TableSchema,
    text: &str,
) -> BTreeMap<tenon_model::FieldId, CellValue> {
    BTreeMap::from([(
        schema.field_by_key("title").unwrap().id,
        CellValue::Text(text.to_owned()),
    )])
}

backend_tests! {
    async fn a_personal_token_writes_as_its_member_and_old_rows_are_migrated(store) {
        let (org, owner) = new_org(&store, "Authors").await;
        let tenant = store.tenant(org.id);
        let token = tenant.create_token(&WriteContext::system(), NewToken {
            name: Name::parse("laptop").unwrap(), member_id: Some(owner.id),
            scopes: ScopeSet::parse(["records:write"]).unwrap(), rate_limit: None, expires_at: None, digest: [7; 32],
        }).await.unwrap();
        let org_token = tenant.create_token(&WriteContext::system(), NewToken {
            name: Name::parse("ci").unwrap(), member_id: None,
            scopes: ScopeSet::parse(["records:write"]).unwrap(), rate_limit: None, expires_at: None, digest: [8; 32],
        }).await.unwrap();
        let schema = notes_table(&store, org.id).await;
        let personal = WriteContext { actor: Actor::Token { id: token.id, name: "laptop".into(), member_id: Some(owner.id), member_name: Some(owner.name.to_string()) }, request_id: None };
        let organization = WriteContext { actor: Actor::Token { id: org_token.id, name: "ci".into(), member_id: None, member_name: None }, request_id: None };
        let written = |outcome| match outcome { tenon_store::WriteOutcome::Written(records) => records, other => panic!("{other:?}") };
        let mine = written(tenant.create_records(&personal, &schema, vec![title(&schema, "mine")], TimeZone::SHANGHAI, None).await.unwrap()).remove(0);
        let member = RecordActor { kind: "member".into(), id: Some(owner.id.to_string()), name: owner.name.to_string() };
        assert_eq!(mine.created_by.as_ref(), Some(&member));
        assert_eq!(mine.modified_by.as_ref(), Some(&member));
        let stored = tenant.record(&schema, mine.id).await.unwrap();
        assert_eq!(stored.created_by.as_ref(), Some(&member));
        // The audit entry and the event keep the token as the actor.
        let events = tenant.events_after(0, &["record.created"], 10).await.unwrap();
        assert_eq!(events[0].actor["type"], "token");
        assert_eq!(events[0].actor["id"], token.id.to_string());
        // An organization token (no member) is its own author.
        let theirs = written(tenant.create_records(&organization, &schema, vec![title(&schema, "theirs")], TimeZone::SHANGHAI, None).await.unwrap()).remove(0);
        assert_eq!(theirs.created_by.as_ref().map(|a| a.kind.as_str()), Some("token"));

        // Rows as the previous version wrote them: the personal token as author.
        let old = serde_json::json!({"type": "token", "id": token.id.to_string(), "name": "laptop"}).to_string();
        execute(&store, format!("UPDATE {} SET created_by = '{old}', modified_by = '{old}' WHERE created_by LIKE '%member%'", record_table(schema.table.id))).await;
        assert_eq!(tenant.record(&schema, mine.id).await.unwrap().created_by.map(|a| a.kind), Some("token".to_owned()));
        execute(&store, "INSERT INTO pending_data_migrations (name) VALUES ('record_authors')".to_owned()).await;
        store.migrate().await.unwrap();
        let migrated = tenant.record(&schema, mine.id).await.unwrap();
        assert_eq!(migrated.created_by.as_ref(), Some(&member));
        assert_eq!(migrated.modified_by.as_ref(), Some(&member));
        assert_eq!(migrated.version, stored.version, "a migration is not an edit");
        let untouched = tenant.record(&schema, theirs.id).await.unwrap();
        assert_eq!(untouched.created_by.map(|a| (a.kind, a.id)), Some(("token".to_owned(), Some(org_token.id.to_string()))));
        // Done once: migrating again changes nothing.
        store.migrate().await.unwrap();
        assert_eq!(tenant.record(&schema, mine.id).await.unwrap(), migrated);
    }
}
