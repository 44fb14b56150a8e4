//! The per-node caches of what app permissions read (issue #19): an app's permissions document and a
//! member as row rules see them. Two stores on one database play two nodes: a warm read costs no
//! statement; a change made through a node is seen by that node at once and by the other within the
//! sync interval — permissions documents, a member's departments and role, custom roles, the
//! department tree and the organization.

use std::sync::Arc;

use serde_json::json;
use tenon_model::apps::ApiKey;
use tenon_model::{
    DepartmentPatch, MemberPatch, Name, NewDepartment, OrganizationPatch, Role, TimeZone,
};
use tenon_store::testing::{TestBackend, TestDatabase, count_statements};
use tenon_store::{Store, WriteContext};

use crate::cache::{eventually, node};
use crate::{new_member, new_org};

fn document(role: &str, member: tenon_model::MemberId) -> serde_json::Value {
    json!({"roles": [{"key": role, "name": role, "who": {"members": [member.to_string()]},
        "grants": [{"table": "notes", "actions": {"read": true}}]}]})
}

async fn other_org(store: &Store) -> tenon_model::OrgId {
    new_org(store, "Elsewhere").await.0.id
}

async fn role_keys(store: &Store, org: tenon_model::OrgId, app: tenon_model::AppId) -> Vec<String> {
    store
        .tenant(org)
        .app_permissions_doc(app)
        .await
        .unwrap()
        .map(|doc| doc.role_keys())
        .unwrap_or_default()
}

async fn access_caches_follow_every_change(backend: TestBackend) {
    let database = TestDatabase::create(backend).await;
    let a = node(&database).await;
    let b = node(&database).await;
    eventually("node a reads the cache epochs", || async {
        a.cache_stats().fresh
    })
    .await;
    let ctx = WriteContext::system();
    let (org, _) = new_org(&a, "Access").await;
    let (ta, tb) = (a.tenant(org.id), b.tenant(org.id));
    let department = |name: &str, parent| NewDepartment {
        name: Name::parse(name).unwrap(),
        parent_id: parent,
        sort_order: 0,
        head_ids: vec![],
    };
    let east = ta
        .create_department(&ctx, department("East", None))
        .await
        .unwrap();
    let west = ta
        .create_department(&ctx, department("West", None))
        .await
        .unwrap();
    let mut new = new_member("M", Some("m@access.example"));
    new.department_ids = vec![east.id];
    let m = ta.create_member(&ctx, new).await.unwrap();

    // The member: read once, then served with no statement.
    let subject = ta.permission_subject(m.id).await.unwrap();
    assert_eq!(
        (subject.role, subject.person.departments.clone()),
        (Role::Member, vec![east.id])
    );
    let (again, statements) = count_statements(ta.permission_subject(m.id)).await;
    assert_eq!(statements, 0, "a warm read of the member");
    assert_eq!(again.unwrap().person.departments, vec![east.id]);

    // Through node a: seen at once. Departments, then the organization role.
    let patch = MemberPatch {
        department_ids: Some(vec![west.id]),
        ..MemberPatch::default()
    };
    ta.update_member(&ctx, m.id, patch).await.unwrap();
    assert_eq!(
        ta.permission_subject(m.id)
            .await
            .unwrap()
            .person
            .departments,
        vec![west.id]
    );
    let patch = MemberPatch {
        role: Some(Role::Admin),
        ..MemberPatch::default()
    };
    ta.update_member(&ctx, m.id, patch).await.unwrap();
    assert_eq!(ta.permission_subject(m.id).await.unwrap().role, Role::Admin);
    // Through node b: seen by a within the interval. The role back, a custom role, the tree.
    let patch = MemberPatch {
        role: Some(Role::Member),
        ..MemberPatch::default()
    };
    tb.update_member(&ctx, m.id, patch).await.unwrap();
    eventually("node a sees the role node b set", || async {
        ta.permission_subject(m.id).await.unwrap().role == Role::Member
    })
    .await;
    let finance = ApiKey::parse("finance").unwrap();
    tb.create_role(&ctx, &finance, &Name::parse("财务").unwrap(), &[m.id])
        .await
        .unwrap();
    eventually("node a sees the custom role node b gave", || async {
        ta.permission_subject(m.id)
            .await
            .unwrap()
            .person
            .has_role("finance")
    })
    .await;
    ta.update_role(&ctx, "finance", None, Some(&[]))
        .await
        .unwrap();
    assert!(
        !ta.permission_subject(m.id)
            .await
            .unwrap()
            .person
            .has_role("finance")
    );
    let patch = DepartmentPatch {
        parent_id: Some(east.id),
        ..DepartmentPatch::default()
    };
    tb.update_department(&ctx, west.id, patch).await.unwrap();
    eventually("node a sees the department tree node b changed", || async {
        ta.permission_subject(m.id)
            .await
            .unwrap()
            .person
            .parents
            .get(&west.id)
            == Some(&Some(east.id))
    })
    .await;

    // The app's permissions document: none, then one, cached; changed through a, then through b.
    let schema = crate::events::notes_table(&a, org.id).await;
    let app = schema.app.clone();
    assert!(ta.app_permissions_doc(app.id).await.unwrap().is_none());
    ta.set_app_permissions(&ctx, &app, Some(&document("volunteers", m.id)))
        .await
        .unwrap();
    assert_eq!(role_keys(&a, org.id, app.id).await, ["volunteers"]);
    let (_, statements) = count_statements(ta.app_permissions_doc(app.id)).await;
    assert_eq!(statements, 0, "a warm read of the permissions document");
    tb.set_app_permissions(&ctx, &app, Some(&document("managers", m.id)))
        .await
        .unwrap();
    eventually("node a sees the document node b stored", || async {
        role_keys(&a, org.id, app.id).await == ["managers"]
    })
    .await;
    ta.set_app_permissions(&ctx, &app, None).await.unwrap();
    assert!(ta.app_permissions_doc(app.id).await.unwrap().is_none());

    // What a caller resolved from them (the server's table access) goes with any of them: a document or
    // a schema changed through a at once, a member's departments changed through b within the interval.
    let table = schema.table.id;
    let keep = || {
        let generation = ta.resolved_access_generation();
        ta.keep_resolved_access(m.id, table, Arc::new("resolved"), generation);
        assert!(ta.resolved_access(m.id, table).is_some());
    };
    keep();
    assert!(
        a.tenant(other_org(&a).await)
            .resolved_access(m.id, table)
            .is_none()
    );
    ta.set_app_permissions(&ctx, &app, Some(&document("volunteers", m.id)))
        .await
        .unwrap();
    assert!(ta.resolved_access(m.id, table).is_none());
    keep();
    crate::cache::add_field(&a, org.id, app.key.as_str(), "words", "number").await;
    assert!(ta.resolved_access(m.id, table).is_none());
    keep();
    let patch = MemberPatch {
        department_ids: Some(vec![east.id]),
        ..MemberPatch::default()
    };
    tb.update_member(&ctx, m.id, patch).await.unwrap();
    eventually(
        "node a drops what it resolved when node b moves the member",
        || async { ta.resolved_access(m.id, table).is_none() },
    )
    .await;
    // A value kept under a generation an invalidation has passed is not kept.
    let generation = ta.resolved_access_generation();
    ta.set_app_permissions(&ctx, &app, None).await.unwrap();
    ta.keep_resolved_access(m.id, table, Arc::new("stale"), generation);
    assert!(ta.resolved_access(m.id, table).is_none());

    // The organization (its time zone dates every filter): cached, changed through a, then through b.
    ta.organization().await.unwrap();
    let (_, statements) = count_statements(ta.organization()).await;
    assert_eq!(statements, 0, "a warm read of the organization");
    let patch = |zone: &str| OrganizationPatch {
        time_zone: Some(TimeZone::parse(zone).unwrap()),
        ..OrganizationPatch::default()
    };
    ta.update_organization(&ctx, patch("Europe/Berlin"))
        .await
        .unwrap();
    assert_eq!(
        ta.organization().await.unwrap().time_zone.name(),
        "Europe/Berlin"
    );
    tb.update_organization(&ctx, patch("Asia/Tokyo"))
        .await
        .unwrap();
    eventually("node a sees the time zone node b set", || async {
        ta.organization().await.unwrap().time_zone.name() == "Asia/Tokyo"
    })
    .await;

    // Another organization's member is never this one's, whatever the cache holds.
    let (other, _) = new_org(&a, "Other").await;
    assert!(a.tenant(other.id).permission_subject(m.id).await.is_err());

    a.close().await;
    b.close().await;
    database.cleanup().await;
}

#[tokio::test]
async fn access_caches_follow_every_change_on_sqlite() {
    access_caches_follow_every_change(TestBackend::Sqlite).await;
}

#[tokio::test]
async fn access_caches_follow_every_change_on_postgres() {
    access_caches_follow_every_change(TestBackend::Postgres).await;
}
