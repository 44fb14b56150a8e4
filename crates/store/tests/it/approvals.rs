//! Approvals in the store: how many SQL statements (round trips) an action costs — `tenon bench --suite
//! approvals`'s process (three 或签 nodes of one member each, the record's status written at the start
//! and the end, the record created by the start).

use std::collections::BTreeMap;

use serde_json::json;
use tenon_approvals::Acting;
use tenon_approvals::engine::Command;
use tenon_model::apps::ApiKey;
use tenon_model::apps::{ParseContext, parse_cell};
use tenon_model::{Actor, ApprovalId, ApprovalTaskId, MemberId, Name, TimeZone};
use tenon_store::approvals::{Answer, StartApproval, Target};
use tenon_store::testing::{OpenTx, TestBackend, count_statements, wait_for_blocked_statements};
use tenon_store::{NewApp, NewTable, Store, WriteContext, WriteOutcome};

use crate::apps::spec;
use crate::{backend_tests, new_member, new_org};

fn running_task(answer: &Answer) -> ApprovalTaskId {
    let id = answer.body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|task| task["status"] == "running")
        .unwrap_or_else(|| panic!("no running task in {}", answer.body))["id"]
        .as_str()
        .unwrap();
    ApprovalTaskId::from_uuid(id.parse().unwrap())
}

/// The bench's organization: its id, the initiator and the three approvers, the `claims` table and a
/// new claim's cells.
struct Bench {
    org: tenon_model::OrgId,
    members: Vec<MemberId>,
    schema: tenon_model::apps::TableSchema,
    fields: BTreeMap<tenon_model::FieldId, tenon_model::apps::CellValue>,
}

impl Bench {
    fn start(&self, record: Option<tenon_model::RecordId>) -> StartApproval {
        StartApproval {
            process: "BENCH".into(),
            record,
            fields: record.is_none().then(|| self.fields.clone()),
            initiator: Some(self.members[0]),
            department: None,
            selected: BTreeMap::new(),
            by: Acting {
                member: None,
                credential: Actor::System,
                admin: true,
            },
        }
    }
}

/// `tenon bench --suite approvals`'s process in a new organization.
async fn bench_process(store: &Store) -> Bench {
    let ctx = WriteContext::system();
    let (org, _) = new_org(store, "Counting").await;
    let tenant = store.tenant(org.id);
    let mut members: Vec<MemberId> = Vec::new();
    for name in ["发起人", "一级", "二级", "三级"] {
        members.push(
            tenant
                .create_member(&ctx, new_member(name, None))
                .await
                .unwrap()
                .id,
        );
    }
    let app = tenant
        .create_app(
            &ctx,
            NewApp {
                name: Name::parse("Approvals bench").unwrap(),
                key: None,
                description: None,
            },
        )
        .await
        .unwrap();
    let parse = ParseContext {
        org_time_zone: TimeZone::SHANGHAI,
    };
    tenant
        .create_table(
            &ctx,
            &app,
            NewTable {
                name: Name::parse("Claims").unwrap(),
                key: None,
                fields: vec![
                    spec("Title", "title", "text", json!({})),
                    spec(
                        "Status",
                        "status",
                        "single_select",
                        json!({"choices": [{"name": "审批中"}, {"name": "通过"}, {"name": "拒绝"}]}),
                    ),
                ],
                primary_field: None,
                unique_together: vec![],
                indexes: vec![],
                validation_rules: vec![],
            },
            &parse,
        )
        .await
        .unwrap();
    let node = |key: &str, member: MemberId, next: &str| {
        json!({"key": key, "type": "approval", "method": "or",
               "approvers": [{"members": [member.to_string()]}], "next": next})
    };
    tenant
        .create_process(
            &ctx,
            json!({"app": app.key.as_str(), "code": "BENCH", "name": "Bench", "table": "claims",
                   "record_status": {"field": "status", "running": "审批中", "agree": "通过", "refuse": "拒绝"},
                   "nodes": [node("n1", members[1], "n2"), node("n2", members[2], "n3"),
                             node("n3", members[3], "end")]}),
        )
        .await
        .unwrap();
    tenant.publish_process(&ctx, "BENCH").await.unwrap();
    let schema = tenant
        .table_schema(app.key.as_str(), "claims")
        .await
        .unwrap();
    let title = schema.field_by_key("title").unwrap();
    let fields = BTreeMap::from([(
        title.id,
        parse_cell(&title.kind, &json!("a claim"), &parse)
            .unwrap()
            .unwrap(),
    )]);
    Bench {
        org: org.id,
        members,
        schema,
        fields,
    }
}

/// Statements of one start and of the three approvals.
async fn bench_process_counts(store: &Store) -> (u64, [u64; 3]) {
    let ctx = WriteContext::system();
    let bench = bench_process(store).await;
    let tenant = store.tenant(bench.org);
    let members = &bench.members;
    // A running server's caches are in use: let a sync or two pass (they drop what the setup's schema
    // changes made stale), then wait until they are fresh.
    tokio::time::sleep(tenon_store::SYNC_INTERVAL * 3).await;
    for _ in 0..100 {
        if store.cache_stats().fresh {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(store.cache_stats().fresh, "the caches never synced");
    // The second instance counts: a running server has its caches warm.
    let mut counted = (0, [0; 3]);
    for _ in 0..2 {
        let (answer, start) =
            count_statements(tenant.start_approval(&ctx, bench.start(None), None)).await;
        let mut answer = answer.unwrap();
        assert_eq!(answer.status, 201);
        assert_answer_as_stored(store, bench.org, &answer).await;
        let mut approvals = [0; 3];
        for (i, count) in approvals.iter_mut().enumerate() {
            let task = running_task(&answer);
            let (next, statements) = count_statements(tenant.approval_command(
                &ctx,
                Target::Task(task),
                Command::Approve {
                    task,
                    comment: None,
                    resubmission: None,
                    by: Acting {
                        member: Some(members[i + 1]),
                        credential: Actor::System,
                        admin: false,
                    },
                },
                None,
            ))
            .await;
            answer = next.unwrap();
            *count = statements;
            assert_answer_as_stored(store, bench.org, &answer).await;
        }
        assert_eq!(answer.body["result"], "agree", "{}", answer.body);
        assert_eq!(
            answer.body["operation_records"].as_array().unwrap().len(),
            5,
            "{}",
            answer.body
        );
        counted = (start, approvals);
    }
    counted
}

/// A command's answer shows the instance as reading it afterwards does: its operation records are the
/// ones read before the command with those it wrote, not read back.
async fn assert_answer_as_stored(store: &Store, org: tenon_model::OrgId, answer: &Answer) {
    let id: ApprovalId = answer.body["id"].as_str().unwrap().parse().unwrap();
    let stored = store.tenant(org).approval(id).await.unwrap().json();
    assert_eq!(answer.body, stored);
    assert!(!stored["operation_records"].as_array().unwrap().is_empty());
}

/// An organization with a table `claims` (one text field) in an app; its tenant's org id and the app's key.
async fn org_with_claims(store: &Store, name: &str) -> (tenon_model::OrgId, String) {
    let ctx = WriteContext::system();
    let (org, _) = new_org(store, name).await;
    let tenant = store.tenant(org.id);
    let app = tenant
        .create_app(
            &ctx,
            NewApp {
                name: Name::parse("Claims").unwrap(),
                key: None,
                description: None,
            },
        )
        .await
        .unwrap();
    let parse = ParseContext {
        org_time_zone: TimeZone::SHANGHAI,
    };
    tenant
        .create_table(
            &ctx,
            &app,
            NewTable {
                name: Name::parse("Claims").unwrap(),
                key: None,
                fields: vec![spec("Title", "title", "text", json!({}))],
                primary_field: None,
                unique_together: vec![],
                indexes: vec![],
                validation_rules: vec![],
            },
            &parse,
        )
        .await
        .unwrap();
    (org.id, app.key.as_str().to_owned())
}

backend_tests! {
    async fn an_approval_action_costs_few_statements(store) {
        let (start, approvals) = bench_process_counts(&store).await;
        println!("statements: start {start}, approvals {approvals:?}");
        // What one action may cost at most (BEGIN and COMMIT included; PostgreSQL locks the record row
        // of a status write and the members given tasks, which SQLite's single writer need not). Before
        // the caches and batching of docs/approvals.md ("Cost of an action"): 38–39, 25, 25, 35–36; before
        // the directory was kept at the `approvers` epoch, 25, 16, 16, 21 on PostgreSQL; before its
        // unread writes were joined (`exec/pg_tx.rs`) 20, 13, 13, 17 there and, before the operation
        // records were read with the instance and the record's status written unread, 8, 3, 3, 6 on
        // SQLite; now 14, 9, 9, 13 and 4, 2, 2, 3.
        assert!(start <= 16, "start: {start}");
        assert!(approvals[0] <= 10 && approvals[1] <= 10, "approve: {approvals:?}");
        assert!(approvals[2] <= 14, "the last approve (finish, status write): {approvals:?}");
    }

    async fn processes_are_numbered_per_organization_from_one_and_a_failed_create_takes_no_number(store) {
        let ctx = WriteContext::system();
        let definition = |app: &str, code: &str| json!({"app": app, "code": code, "name": code, "table": "claims",
            "nodes": [{"key": "n1", "type": "approval", "method": "or", "approvers": [{"selected": true}], "next": "end"}]});
        let (first, app) = org_with_claims(&store, "Numbers one").await;
        let tenant = store.tenant(first);
        assert_eq!(tenant.create_process(&ctx, definition(&app, "P1")).await.unwrap().number, 1);
        // A refused create (the code is taken) rolls back with its number.
        tenant.create_process(&ctx, definition(&app, "P1")).await.unwrap_err();
        assert_eq!(tenant.create_process(&ctx, definition(&app, "P2")).await.unwrap().number, 2);
        let numbers: Vec<(String, i64)> = tenant.list_processes().await.unwrap().into_iter().map(|p| (p.code, p.number)).collect();
        assert_eq!(numbers, [("P1".to_owned(), 1), ("P2".to_owned(), 2)]);
        assert_eq!(tenant.process("P2").await.unwrap().number, 2);
        // Another organization counts from 1.
        let (second, app) = org_with_claims(&store, "Numbers two").await;
        let other = store.tenant(second);
        assert_eq!(other.create_process(&ctx, definition(&app, "P1")).await.unwrap().number, 1);
    }
}

/// SQLite: an approval command reads its instance's tasks through the index of instances, not by walking
/// the organization's tasks in number order (what SQLite's planner chose, without statistics, before
/// migration 0051 put `number` in that index: a scan of every task of the organization per command).
#[tokio::test]
async fn an_instances_tasks_are_read_from_its_own_index() {
    crate::run(TestBackend::Sqlite, |store| async move {
        for sql in tenon_store::testing::approval_task_reads() {
            let plan = tenon_store::testing::sqlite_query_plan(&store, sql).await;
            let outer = plan
                .iter()
                .find(|step| step.starts_with("SEARCH approval_tasks "))
                .unwrap_or_else(|| panic!("no search of approval_tasks in {plan:?}"));
            assert!(
                outer.contains(
                    "USING INDEX approval_tasks_instance (organization_id=? AND instance_id=?)"
                ),
                "{sql}: {plan:?}"
            );
            assert!(
                !plan.iter().any(|step| step.contains("TEMP B-TREE")),
                "{sql}: {plan:?}"
            );
        }
    })
    .await;
}

/// PostgreSQL: a command that took its numbers and waits for a lock does not hold the organization's
/// approval counter. A start on a record another transaction holds has taken its business number and task
/// number and waits for the record's row; a second start takes the next numbers and finishes meanwhile
/// (when the counter's row was held to the commit, it waited for the first, which waited for the test).
#[tokio::test]
async fn numbers_are_not_held_while_a_command_waits() {
    crate::run(TestBackend::Postgres, |store| async move {
        let ctx = WriteContext::system();
        let bench = bench_process(&store).await;
        let tenant = store.tenant(bench.org);
        let Ok(WriteOutcome::Written(records)) = tenant
            .create_records(
                &ctx,
                &bench.schema,
                vec![bench.fields.clone()],
                TimeZone::SHANGHAI,
                None,
            )
            .await
        else {
            panic!("the claim was not written");
        };
        let record = records[0].id;
        let mut holder = OpenTx::begin(&store).await;
        let table = tenon_store::testing::record_table(bench.schema.table.id);
        holder
            .execute(format!(
                "SELECT id FROM {table} WHERE id = '{}' FOR UPDATE",
                record.as_uuid()
            ))
            .await;
        let first = tokio::spawn({
            let store = store.clone();
            let start = bench.start(Some(record));
            async move {
                store
                    .tenant(bench.org)
                    .start_approval(&WriteContext::system(), start, None)
                    .await
            }
        });
        wait_for_blocked_statements(&store, &table, 1).await;
        let second = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            tenant.start_approval(&ctx, bench.start(None), None),
        )
        .await
        .expect("the second start waited for the first one's transaction")
        .unwrap();
        assert!(
            !first.is_finished(),
            "the first start did not wait for the record"
        );
        holder.commit().await;
        let first = first.await.unwrap().unwrap();
        let numbers = |answer: &Answer| {
            let business: u64 = answer.body["business_id"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            (
                business,
                answer.body["tasks"][0]["number"].as_i64().unwrap(),
            )
        };
        let ((first_business, first_task), (second_business, second_task)) =
            (numbers(&first), numbers(&second));
        assert_eq!(
            (second_business, second_task),
            (first_business + 1, first_task + 1),
            "{} {}",
            first.body,
            second.body
        );
    })
    .await;
}

backend_tests! {
    // A command uses this node's copy of the directory only at the `approvers` epoch it read with its
    // instance: a role changed by a write this node did not make (raw SQL, as another node or the CLI
    // would, with no audit entry to mark the change) and one changed through the store are both seen by
    // the next command.
    async fn the_directory_kept_for_approvals_follows_every_change(store) {
        let ctx = WriteContext::system();
        let (org, app) = org_with_claims(&store, "Approvers kept").await;
        let tenant = store.tenant(org);
        let mut ids = Vec::new();
        for name in ["发起人", "主任", "副校长甲", "副校长乙"] {
            ids.push(tenant.create_member(&ctx, new_member(name, None)).await.unwrap().id);
        }
        let (initiator, dean, vice_a, vice_b) = (ids[0], ids[1], ids[2], ids[3]);
        for (key, name, member) in [("dean", "德育主任", dean), ("vice", "分管副校长（缓存）", vice_a)] {
            tenant
                .create_role(&ctx, &ApiKey::parse(key).unwrap(), &Name::parse(name).unwrap(), &[member])
                .await
                .unwrap();
        }
        tenant
            .create_process(&ctx, json!({"app": app, "code": "APPEAL", "name": "申诉", "table": "claims",
                "nodes": [{"key": "n1", "type": "approval", "method": "or", "approvers": [{"role": "dean"}], "next": "n2"},
                          {"key": "n2", "type": "approval", "method": "or", "approvers": [{"role": "vice"}], "next": "end"}]}))
            .await
            .unwrap();
        tenant.publish_process(&ctx, "APPEAL").await.unwrap();
        let schema = tenant.table_schema(&app, "claims").await.unwrap();
        let title = schema.field_by_key("title").unwrap();
        let parse = ParseContext { org_time_zone: TimeZone::SHANGHAI };
        let fields = BTreeMap::from([(title.id, parse_cell(&title.kind, &json!("申诉"), &parse).unwrap().unwrap())]);
        // Starts an instance, approves its first node as the dean: who gets the second node's task.
        let second_approver = || async {
            let start = StartApproval {
                process: "APPEAL".into(),
                record: None,
                fields: Some(fields.clone()),
                initiator: Some(initiator),
                department: None,
                selected: BTreeMap::new(),
                by: Acting { member: None, credential: Actor::System, admin: true },
            };
            let answer = tenant.start_approval(&ctx, start, None).await.unwrap();
            let approve = Command::Approve {
                task: running_task(&answer),
                comment: None,
                resubmission: None,
                by: Acting { member: Some(dean), credential: Actor::System, admin: false },
            };
            let answer = tenant.approval_command(&ctx, Target::Task(running_task(&answer)), approve, None).await.unwrap();
            let task = answer.body["tasks"].as_array().unwrap().iter()
                .find(|task| task["status"] == "running" && task["node"] == "n2")
                .unwrap_or_else(|| panic!("no running task of n2 in {}", answer.body))
                .clone();
            MemberId::from_uuid(task["assignee"].as_str().unwrap().parse().unwrap())
        };
        // Twice: the second command of each pair reads the directory this node kept.
        assert_eq!(second_approver().await, vice_a);
        assert_eq!(second_approver().await, vice_a);
        // Changed behind the store's back: only the epoch's trigger tells. (The role's name is this
        // test's own; ids are stored differently by the two backends.)
        let mut raw = OpenTx::begin(&store).await;
        raw.execute(format!(
            "UPDATE org_roles SET member_ids = '[\"{vice_b}\"]' WHERE key = 'vice' AND name = '分管副校长（缓存）'"
        ))
        .await;
        raw.commit().await;
        assert_eq!(second_approver().await, vice_b);
        assert_eq!(second_approver().await, vice_b);
        // Changed through the store.
        tenant.update_role(&ctx, "vice", None, Some(&[vice_a])).await.unwrap();
        assert_eq!(second_approver().await, vice_a);
    }
}
