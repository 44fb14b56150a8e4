//! The people `GET /v1.0/workflow/processInstances` names (the originator's name and first department,
//! userids) come from each node's cache when the directory has not changed: two servers on one database
//! play two nodes, and a rename, a department's rename or a new userid made through one node (or by
//! hand-written SQL) shows in the very next answer of the other — no waiting for the caches' poll.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenon_store::testing::{TestBackend, TestDatabase, count_statements};

use crate::TestApp;
use crate::dingtalk::oapi_post;
use crate::dingtalk_workflow::{SCOPES, create_form, get_instance, v1, v1_token};

/// What the answer says about people: the title, the originator's userid and department, the
/// approvers' userids and the first task's assignee.
fn people(answer: &Value) -> Value {
    let result = &answer["result"];
    json!([
        result["title"],
        result["originatorUserId"],
        result["originatorDeptId"],
        result["originatorDeptName"],
        result["approverUserIds"],
        result["tasks"][0]["userId"],
    ])
}

async fn people_changed_through_one_node_show_at_once_on_the_other(backend: TestBackend) {
    let database = TestDatabase::create(backend).await;
    let config = tenon_server::ServerConfig {
        secure_cookies: false,
        ..tenon_server::ServerConfig::default()
    };
    let a = TestApp::spawn(&database, config.clone()).await;
    let b = TestApp::spawn(&database, config).await;
    let admin = a.admin_token.clone();
    let scopes: Vec<&str> = SCOPES.iter().copied().chain(["directory:write"]).collect();
    let token = v1_token(&a, &scopes).await;
    let sales = a
        .post("/api/v1/departments", &admin, json!({"name": "Sales"}))
        .await
        .expect(StatusCode::CREATED)
        .clone();
    let li = a
        .post(
            "/api/v1/members",
            &admin,
            json!({"name": "Li Lei", "department_ids": [sales["id"]]}),
        )
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let han = oapi_post(
        &a,
        &token,
        "/topapi/v2/user/create",
        json!({"userid": "han", "name": "Han Meimei", "mobile": "13800000002", "dept_id_list": [1]}),
    )
    .await;
    assert_eq!(han.expect(StatusCode::OK)["errcode"], 0, "{:?}", han.body);
    let code = create_form(&a, &token).await;
    let number = sales["number"].to_string();
    let started = v1(
        &a,
        &token,
        Method::POST,
        "/v1.0/workflow/processInstances",
        Some(json!({
            "processCode": code, "originatorUserId": li, "deptId": sales["number"],
            "approvers": [{"actionType": "OR", "userIds": ["han"]}],
            "formComponentValues": [{"name": "事由", "value": "rest"}],
        })),
    )
    .await;
    let id = started.expect(StatusCode::OK)["instanceId"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = get_instance(&a, &token, &id).await;
    assert_eq!(
        people(&first),
        json!(["Li Lei提交的请假", li, number, "Sales", ["han"], "han"])
    );
    // Read again on node a: the same answer, the people from the cache.
    let hits = a.store.cache_stats().people_hits;
    assert_eq!(get_instance(&a, &token, &id).await, first);
    assert!(
        a.store.cache_stats().people_hits >= hits + 2,
        "{:?}",
        a.store.cache_stats()
    );

    // With the people cached, the DingTalk read takes as many statements as the native one — on SQLite
    // one more: the native read takes the operation records in the text that reads the instance and its
    // tasks (`exec/pair.rs`), the DingTalk read with the instance's record, which it can name only once it
    // has read the instance.
    let more = u64::from(backend == TestBackend::Sqlite);
    let approval: tenon_model::ApprovalId = id.parse().unwrap();
    let tenant = a.store.tenant(a.org.id);
    // The caches' poll may empty a cache between two reads (it also sees this node's own earlier
    // writes, a moment later): compare reads the caches served, warming them before each of at most
    // five tries, and measuring both reads in each.
    let mut counts = Vec::new();
    let mut reads = None;
    for _ in 0..5 {
        get_instance(&a, &token, &id).await;
        let (native, native_statements) = count_statements(tenant.approval(approval)).await;
        let (read, statements) = count_statements(tenant.dingtalk_instance(approval)).await;
        counts.push((native_statements, statements));
        reads = Some((read, native));
        if statements == native_statements + more {
            break;
        }
    }
    let (native_statements, dingtalk_statements) = *counts.last().unwrap();
    let (dingtalk, native) = reads.unwrap();
    let (dingtalk, native) = (dingtalk.unwrap(), native.unwrap());
    assert_eq!(
        dingtalk.state.view(),
        native.state.view(),
        "the DingTalk read holds the native instance and tasks"
    );
    let records: Vec<Value> = dingtalk
        .operations
        .iter()
        .map(|operation| {
            json!({
                "seq": operation.seq, "type": operation.kind.as_str(),
                "actor": operation.actor.map(|actor| actor.to_string()),
                "members": operation.members.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "node": operation.node, "result": operation.result.map(|result| result.as_str()),
                "comment": operation.comment,
                "at": operation.at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            })
        })
        .collect();
    let native_records: Vec<Value> = native
        .records
        .iter()
        .map(|record| {
            let mut record = record.clone();
            for unread in ["via", "task_id", "automatic"] {
                record.as_object_mut().unwrap().remove(unread);
            }
            record
        })
        .collect();
    assert_eq!(records, native_records, "and its operation records");
    assert_eq!(
        dingtalk_statements,
        native_statements + more,
        "the (native, DingTalk) reads' statements in each try: {counts:?}"
    );

    // Through node b: the originator renamed, then the department renamed; node a's next answer has each.
    b.patch(
        &format!("/api/v1/members/{li}"),
        &admin,
        json!({"name": "Li Lei 2"}),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(
        people(&get_instance(&a, &token, &id).await),
        json!(["Li Lei 2提交的请假", li, number, "Sales", ["han"], "han"])
    );
    let path = format!("/api/v1/departments/{}", sales["id"].as_str().unwrap());
    b.patch(&path, &admin, json!({"name": "Sales 2"}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        people(&get_instance(&a, &token, &id).await),
        json!(["Li Lei 2提交的请假", li, number, "Sales 2", ["han"], "han"])
    );
    // A new userid written by hand on node b's connection: node a names Han by it at once.
    tenon_store::testing::execute(
        &b.store,
        "UPDATE dingtalk_users SET userid = 'han.meimei' WHERE userid = 'han'".to_owned(),
    )
    .await;
    let renamed = get_instance(&a, &token, &id).await;
    assert_eq!(
        people(&renamed),
        json!([
            "Li Lei 2提交的请假",
            li,
            number,
            "Sales 2",
            ["han.meimei"],
            "han.meimei"
        ])
    );
    // Node b reads the same, and node a serves the new names from its cache again.
    assert_eq!(get_instance(&b, &token, &id).await, renamed);
    let hits = a.store.cache_stats().people_hits;
    assert_eq!(get_instance(&a, &token, &id).await, renamed);
    assert!(a.store.cache_stats().people_hits >= hits + 2);
    // The native route is untouched by all of it.
    let native = a
        .call(
            Method::GET,
            &format!("/api/v1/approvals/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(native.expect(StatusCode::OK)["initiator"], json!(li));

    a.stop().await;
    b.stop().await;
    database.cleanup().await;
}

mod people_changed_through_one_node_show_at_once_on_the_other {
    use tenon_store::testing::TestBackend;

    #[tokio::test]
    async fn sqlite() {
        super::people_changed_through_one_node_show_at_once_on_the_other(TestBackend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        super::people_changed_through_one_node_show_at_once_on_the_other(TestBackend::Postgres)
            .await;
    }
}
