use tenon_model::{
    DepartmentPatch, MemberPatch, MemberStatus, Name, NewDepartment, PageRequest, Role, TargetKind,
};
use tenon_store::{AuditFilter, MemberFilter, StoreError, WriteContext};

use crate::{backend_tests, new_member, new_org};

fn ctx() -> WriteContext {
    WriteContext::system()
}

fn department(name: &str, parent: Option<tenon_model::DepartmentId>) -> NewDepartment {
    NewDepartment {
        name: Name::parse(name).unwrap(),
        parent_id: parent,
        sort_order: 0,
        head_ids: vec![],
    }
}

backend_tests! {
    async fn organization_is_created_with_root_department_and_owner(store) {
        let (org, owner) = new_org(&store, "示例公司").await;
        assert_eq!(owner.role, Role::Owner);
        assert_eq!(owner.department_ids, vec![org.root_department_id]);
        let tenant = store.tenant(org.id);
        let root = tenant.department(org.root_department_id).await.unwrap();
        assert_eq!(root.parent_id, None);
        assert_eq!(root.name.as_str(), "示例公司");
        assert_eq!(tenant.organization().await.unwrap(), org);
        let audit = tenant.list_audit(&AuditFilter::default(), PageRequest::first(10).unwrap()).await.unwrap();
        let actions: Vec<&str> = audit.items.iter().map(|entry| entry.action.as_str()).collect();
        assert_eq!(actions, ["member.created", "organization.created"]);
    }

    async fn member_crud_keeps_departments_and_heads(store) {
        let (org, _) = new_org(&store, "Acme").await;
        let tenant = store.tenant(org.id);
        let sales = tenant.create_department(&ctx(), department("销售部", None)).await.unwrap();
        assert_eq!(sales.parent_id, Some(org.root_department_id));
        let mut new = new_member("张三", Some("Zhang.San@Example.com"));
        new.department_ids = vec![sales.id, org.root_department_id];
        let member = tenant.create_member(&ctx(), new).await.unwrap();
        assert_eq!(member.email.as_ref().unwrap().as_str(), "zhang.san@example.com");
        assert_eq!(member.department_ids, vec![sales.id, org.root_department_id]);

        let sales = tenant
            .update_department(&ctx(), sales.id, DepartmentPatch { head_ids: Some(vec![member.id]), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(sales.head_ids, vec![member.id]);
        let member = tenant.member(member.id).await.unwrap();
        assert_eq!(member.head_of_department_ids, vec![sales.id]);

        let patch = MemberPatch { job_title: Some(tenon_model::OptionalText::parse("经理").unwrap()), ..Default::default() };
        let updated = tenant.update_member(&ctx(), member.id, patch).await.unwrap();
        assert_eq!(updated.job_title.as_deref(), Some("经理"));
        assert_eq!(updated.department_ids, member.department_ids);
        assert_eq!(updated.head_of_department_ids, vec![sales.id]);

        let listed = tenant
            .list_members(&MemberFilter { department_id: Some(sales.id), ..Default::default() }, PageRequest::first(10).unwrap())
            .await
            .unwrap();
        assert_eq!(listed.items.iter().map(|m| m.id).collect::<Vec<_>>(), vec![member.id]);

        tenant.delete_member(&ctx(), member.id).await.unwrap();
        assert!(matches!(tenant.member(member.id).await, Err(StoreError::NotFound { .. })));
        assert!(tenant.department(sales.id).await.unwrap().head_ids.is_empty());
    }

    async fn duplicate_email_is_a_conflict_and_writes_nothing(store) {
        let (org, _) = new_org(&store, "Acme").await;
        let tenant = store.tenant(org.id);
        tenant.create_member(&ctx(), new_member("A", Some("a@example.com"))).await.unwrap();
        let error = tenant.create_member(&ctx(), new_member("B", Some("A@example.com"))).await.unwrap_err();
        assert!(matches!(error, StoreError::Conflict { field: Some("email"), .. }), "{error:?}");
        let all = tenant.list_members(&MemberFilter::default(), PageRequest::first(100).unwrap()).await.unwrap();
        assert_eq!(all.items.len(), 2, "owner and A only");
        let audit = tenant
            .list_audit(&AuditFilter { target_kind: Some(TargetKind::Member), ..Default::default() }, PageRequest::first(100).unwrap())
            .await
            .unwrap();
        assert_eq!(audit.items.len(), 2, "no audit entry for the refused member");
    }

    async fn same_email_may_exist_in_two_organizations(store) {
        let (a, _) = new_org(&store, "A").await;
        let (b, _) = new_org(&store, "B").await;
        store.tenant(a.id).create_member(&ctx(), new_member("X", Some("x@example.com"))).await.unwrap();
        store.tenant(b.id).create_member(&ctx(), new_member("X", Some("x@example.com"))).await.unwrap();
        let email = tenon_model::Email::parse("x@example.com").unwrap();
        assert_eq!(store.login_candidates(&email).await.unwrap().len(), 2);
    }

    async fn another_organizations_objects_are_not_found(store) {
        let (a, _) = new_org(&store, "A").await;
        let (b, owner_b) = new_org(&store, "B").await;
        let tenant_a = store.tenant(a.id);
        let b_department = store.tenant(b.id).create_department(&ctx(), department("B dept", None)).await.unwrap();
        assert!(matches!(tenant_a.member(owner_b.id).await, Err(StoreError::NotFound { .. })));
        assert!(matches!(tenant_a.department(b_department.id).await, Err(StoreError::NotFound { .. })));
        assert!(matches!(
            tenant_a.update_member(&ctx(), owner_b.id, MemberPatch::default()).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(tenant_a.delete_department(&ctx(), b_department.id).await, Err(StoreError::NotFound { .. })));
        // Referring to B's department from A is refused as a bad reference, not silently linked.
        let mut new = new_member("Spy", None);
        new.department_ids = vec![b_department.id];
        let error = tenant_a.create_member(&ctx(), new).await.unwrap_err();
        assert!(matches!(error, StoreError::Invalid(ref invalid) if invalid.0[0].field == "department_ids[0]"), "{error:?}");
        let error = tenant_a.create_department(&ctx(), department("x", Some(b_department.id))).await.unwrap_err();
        assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
        let listed = tenant_a.list_members(&MemberFilter::default(), PageRequest::first(100).unwrap()).await.unwrap();
        assert!(listed.items.iter().all(|member| member.id != owner_b.id));
    }

    async fn department_cannot_move_under_its_own_descendant(store) {
        let (org, _) = new_org(&store, "Acme").await;
        let tenant = store.tenant(org.id);
        let a = tenant.create_department(&ctx(), department("A", None)).await.unwrap();
        let b = tenant.create_department(&ctx(), department("B", Some(a.id))).await.unwrap();
        let c = tenant.create_department(&ctx(), department("C", Some(b.id))).await.unwrap();
        for target in [a.id, b.id, c.id] {
            let error = tenant
                .update_department(&ctx(), a.id, DepartmentPatch { parent_id: Some(target), ..Default::default() })
                .await
                .unwrap_err();
            assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
        }
        let moved = tenant
            .update_department(&ctx(), c.id, DepartmentPatch { parent_id: Some(a.id), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(moved.parent_id, Some(a.id));
        let error = tenant
            .update_department(&ctx(), org.root_department_id, DepartmentPatch { parent_id: Some(a.id), ..Default::default() })
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::Invalid(_)));
    }

    async fn department_with_members_or_children_is_not_deleted(store) {
        let (org, _) = new_org(&store, "Acme").await;
        let tenant = store.tenant(org.id);
        let a = tenant.create_department(&ctx(), department("A", None)).await.unwrap();
        let b = tenant.create_department(&ctx(), department("B", Some(a.id))).await.unwrap();
        let mut new = new_member("M", None);
        new.department_ids = vec![b.id];
        let member = tenant.create_member(&ctx(), new).await.unwrap();
        assert!(matches!(tenant.delete_department(&ctx(), a.id).await, Err(StoreError::Conflict { .. })));
        assert!(matches!(tenant.delete_department(&ctx(), b.id).await, Err(StoreError::Conflict { .. })));
        assert!(matches!(tenant.delete_department(&ctx(), org.root_department_id).await, Err(StoreError::Conflict { .. })));
        tenant.update_member(&ctx(), member.id, MemberPatch { department_ids: Some(vec![]), ..Default::default() }).await.unwrap();
        tenant.delete_department(&ctx(), b.id).await.unwrap();
        tenant.delete_department(&ctx(), a.id).await.unwrap();
    }

    async fn last_active_owner_cannot_leave_be_demoted_or_deleted(store) {
        let (org, owner) = new_org(&store, "Acme").await;
        let tenant = store.tenant(org.id);
        for patch in [
            MemberPatch { role: Some(Role::Admin), ..Default::default() },
            MemberPatch { status: Some(MemberStatus::Left), ..Default::default() },
        ] {
            assert!(matches!(tenant.update_member(&ctx(), owner.id, patch).await, Err(StoreError::Conflict { .. })));
        }
        assert!(matches!(tenant.delete_member(&ctx(), owner.id).await, Err(StoreError::Conflict { .. })));
        let mut second = new_member("Second", None);
        second.role = Role::Owner;
        tenant.create_member(&ctx(), second).await.unwrap();
        tenant.delete_member(&ctx(), owner.id).await.unwrap();
    }

    async fn member_pages_cover_everyone_once_in_order(store) {
        let (org, owner) = new_org(&store, "Acme").await;
        let tenant = store.tenant(org.id);
        let mut expected = vec![owner.id];
        for i in 0..7 {
            expected.push(tenant.create_member(&ctx(), new_member(&format!("M{i}"), None)).await.unwrap().id);
        }
        let mut seen = vec![];
        let mut after = None;
        loop {
            let page = tenant
                .list_members(&MemberFilter::default(), PageRequest::new(3, after).unwrap())
                .await
                .unwrap();
            seen.extend(page.items.iter().map(|member| member.id));
            match page.next_after {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, expected);
    }

    async fn members_are_searched_by_text_without_wildcards(store) {
        let (org, _) = new_org(&store, "Acme").await;
        let tenant = store.tenant(org.id);
        let zhang = tenant.create_member(&ctx(), new_member("张三", Some("Zhang.San@School.example"))).await.unwrap();
        let odd = tenant.create_member(&ctx(), new_member("Ann_100%", None)).await.unwrap();
        tenant.create_member(&ctx(), new_member("Bob", None)).await.unwrap();
        let search = |q: &str| MemberFilter { q: Some(q.to_owned()), ..Default::default() };
        for (q, expected) in [("张", vec![zhang.id]), ("SCHOOL", vec![zhang.id]), ("_", vec![odd.id]), ("%", vec![odd.id]), ("ann_1", vec![odd.id])] {
            let found = tenant.list_members(&search(q), PageRequest::first(10).unwrap()).await.unwrap();
            assert_eq!(found.items.iter().map(|m| m.id).collect::<Vec<_>>(), expected, "{q}");
        }
    }

    async fn audit_entries_are_narrowed_by_actor_and_time(store) {
        let (org, owner) = new_org(&store, "Acme").await;
        let tenant = store.tenant(org.id);
        let all = tenant.list_audit(&AuditFilter::default(), PageRequest::first(10).unwrap()).await.unwrap();
        let at = all.items[0].at;
        let by_nobody = AuditFilter { actor_id: Some(owner.id.to_string()), ..Default::default() };
        assert!(tenant.list_audit(&by_nobody, PageRequest::first(10).unwrap()).await.unwrap().items.is_empty(), "the system wrote these");
        let since = AuditFilter { since: Some(at), ..Default::default() };
        assert_eq!(tenant.list_audit(&since, PageRequest::first(10).unwrap()).await.unwrap().items.len(), all.items.len(), "since is inclusive");
        let until = AuditFilter { until: Some(at), ..Default::default() };
        let before: Vec<_> = all.items.iter().filter(|entry| entry.at < at).map(|entry| entry.id).collect();
        let found = tenant.list_audit(&until, PageRequest::first(10).unwrap()).await.unwrap();
        assert_eq!(found.items.iter().map(|entry| entry.id).collect::<Vec<_>>(), before, "until is exclusive");
    }
}
