//! The DingTalk-compatible directory writes and users on oapi (#21 part 1, item 4, and getbymobile):
//! `topapi/v2/department/create|update|delete` and `topapi/v2/user/create|get|list|update|delete|getbymobile`,
//! with DingTalk's keys, JSON types and `errcode`s; a refused request writes nothing, and another
//! organization's token gets DingTalk's not-found codes.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::dingtalk::{gettoken, install, keys, oapi_error, oapi_post, raw};
use crate::{TestApp, api_tests};

/// An oapi token of an app installed with `directory:read` and `directory:write`.
async fn writer(app: &TestApp) -> String {
    let dt = install(app, &["directory:read", "directory:write"]).await;
    gettoken(app, &dt.key, &dt.secret)
        .await
        .expect(StatusCode::OK)["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A success: HTTP 200, `errcode` 0, `errmsg` "ok", the request id; the body.
#[track_caller]
fn ok(reply: &crate::Reply) -> Value {
    let body = reply.expect(StatusCode::OK).clone();
    assert_eq!(
        (body["errcode"].as_i64(), body["errmsg"].as_str()),
        (Some(0), Some("ok")),
        "{body}"
    );
    assert_eq!(body["request_id"].as_str(), reply.header("x-request-id"));
    body
}

async fn department_names(app: &TestApp) -> Vec<(i64, String)> {
    let list = app
        .get("/api/v1/departments", &app.admin_token)
        .await
        .expect(StatusCode::OK)
        .clone();
    let mut names: Vec<(i64, String)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["number"].as_i64().unwrap(),
                d["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    names.sort();
    names
}

api_tests! {
    async fn oapi_department_writes_by_number_with_dingtalks_codes(app) {
        let token = writer(&app).await;
        let post = |path: &'static str, body: Value| oapi_post(&app, &token, path, body);
        // create: `result.dept_id` is the new number; scalars may be text; a form body works too.
        let body = ok(&post("/topapi/v2/department/create", json!({"name": "Sales", "parent_id": 1, "order": 2, "create_dept_group": true})).await);
        assert_eq!(keys(&body), ["errcode", "errmsg", "result", "request_id"]);
        assert_eq!(body["result"], json!({"dept_id": 2}));
        let east = ok(&post("/topapi/v2/department/create", json!({"name": "East", "parent_id": "2"})).await);
        assert_eq!(east["result"]["dept_id"], 3);
        let form = raw(&app, Method::POST, &format!("/topapi/v2/department/create?access_token={token}"), "application/x-www-form-urlencoded", "name=Ops+%E8%BF%90%E7%BB%B4&parent_id=1").await;
        assert_eq!(ok(&form)["result"]["dept_id"], 4);
        let sales = ok(&post("/topapi/v2/department/get", json!({"dept_id": 2})).await);
        assert_eq!(sales["result"], json!({"dept_id": 2, "name": "Sales", "parent_id": 1, "order": 2}));
        assert_eq!(department_names(&app).await.last().unwrap(), &(4, "Ops 运维".to_owned()));

        // Ops gets a member.
        let departments = app.get("/api/v1/departments", &app.admin_token).await.expect(StatusCode::OK).clone();
        let ops = departments["items"].as_array().unwrap().iter().find(|d| d["number"] == 4).unwrap()["id"].clone();
        app.post("/api/v1/members", &app.admin_token, json!({"name": "In Ops", "department_ids": [ops]})).await.expect(StatusCode::CREATED);

        // Refusals write nothing.
        let reader = app.token(&["directory:read"]).await;
        let (_, _, other_admin) = app.other_org().await;
        let before = app.audit_len().await;
        let tree = department_names(&app).await;
        oapi_error(&post("/topapi/v2/department/create", json!({"parent_id": 1})).await, 40035);
        oapi_error(&post("/topapi/v2/department/create", json!({"name": "X"})).await, 40035);
        oapi_error(&post("/topapi/v2/department/create", json!({"name": "X", "parent_id": "one"})).await, 40035);
        oapi_error(&post("/topapi/v2/department/create", json!({"name": "X", "parent_id": 99})).await, 60004);
        oapi_error(&post("/topapi/v2/department/create", json!({"name": "x".repeat(101), "parent_id": 1})).await, 60001);
        oapi_error(&post("/topapi/v2/department/create", json!({"name": "a\u{7}b", "parent_id": 1})).await, 60001);
        oapi_error(&post("/topapi/v2/department/update", json!({"name": "X"})).await, 40035);
        oapi_error(&post("/topapi/v2/department/update", json!({"dept_id": 99, "name": "X"})).await, 60003);
        oapi_error(&post("/topapi/v2/department/update", json!({"dept_id": 2, "parent_id": 99})).await, 60004);
        oapi_error(&post("/topapi/v2/department/update", json!({"dept_id": 2, "parent_id": 3})).await, 60010);
        oapi_error(&post("/topapi/v2/department/update", json!({"dept_id": 2, "parent_id": 2})).await, 60010);
        oapi_error(&post("/topapi/v2/department/update", json!({"dept_id": 1, "parent_id": 2})).await, 60018);
        oapi_error(&post("/topapi/v2/department/update", json!({"dept_id": 2, "dept_manager_userid_list": "nobody"})).await, 60121);
        oapi_error(&post("/topapi/v2/department/delete", json!({})).await, 40035);
        oapi_error(&post("/topapi/v2/department/delete", json!({"dept_id": 1})).await, 60007);
        oapi_error(&post("/topapi/v2/department/delete", json!({"dept_id": 2})).await, 60006);
        oapi_error(&post("/topapi/v2/department/delete", json!({"dept_id": 99})).await, 60003);
        oapi_error(&post("/topapi/v2/department/delete", json!({"dept_id": 4})).await, 60005);
        // Scope: a reading token may not write.
        oapi_error(&oapi_post(&app, &reader, "/topapi/v2/department/create", json!({"name": "X", "parent_id": 1})).await, 60011);
        // Another organization's token: DingTalk's not-found codes, never our departments.
        oapi_error(&oapi_post(&app, &other_admin, "/topapi/v2/department/delete", json!({"dept_id": 3})).await, 60003);
        oapi_error(&oapi_post(&app, &other_admin, "/topapi/v2/department/update", json!({"dept_id": 2, "name": "Theirs"})).await, 60003);
        oapi_error(&oapi_post(&app, &other_admin, "/topapi/v2/department/create", json!({"name": "Theirs", "parent_id": 2})).await, 60004);
        assert_eq!(app.audit_len().await, before, "nothing was written");
        assert_eq!(department_names(&app).await, tree, "the tree is unchanged");

        // update: rename, reorder, move, heads by userid; delete an empty department.
        let owner = app.owner.id.to_string();
        ok(&post("/topapi/v2/department/update", json!({"dept_id": "3", "name": "East 2", "parent_id": 1, "order": 5, "dept_manager_userid_list": owner, "auto_add_user": true})).await);
        let east = ok(&post("/topapi/v2/department/get", json!({"dept_id": 3})).await);
        assert_eq!(east["result"], json!({"dept_id": 3, "name": "East 2", "parent_id": 1, "order": 5}));
        let user = ok(&post("/topapi/v2/user/get", json!({"userid": owner})).await);
        assert!(user["result"]["leader_in_dept"].as_array().unwrap().contains(&json!({"dept_id": 3, "leader": true})), "{user}");
        ok(&post("/topapi/v2/department/update", json!({"dept_id": 2, "parent_id": 3})).await);
        assert_eq!(ok(&post("/topapi/v2/department/get", json!({"dept_id": 2})).await)["result"]["parent_id"], 3);
        ok(&post("/topapi/v2/department/update", json!({"dept_id": 2, "parent_id": 1})).await);
        ok(&post("/topapi/v2/department/delete", json!({"dept_id": 2})).await);
        oapi_error(&post("/topapi/v2/department/get", json!({"dept_id": 2})).await, 60003);
        // The changes are the native ones: audited, with their events.
        let events = app.get("/api/v1/events?types=department.created,department.updated,department.deleted", &app.admin_token).await.expect(StatusCode::OK).clone();
        let types: Vec<&str> = events["items"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
        for kind in ["department.created", "department.updated", "department.deleted"] {
            assert!(types.contains(&kind), "{types:?}");
        }
        app
    }

    async fn oapi_users_are_members_with_a_chosen_userid_and_a_stable_unionid(app) {
        let token = writer(&app).await;
        let post = |path: &'static str, body: Value| oapi_post(&app, &token, path, body);
        ok(&post("/topapi/v2/department/create", json!({"name": "Sales", "parent_id": 1})).await);
        // create: the caller's userid, or the member id; `unionId` (camelCase here) generated.
        let li = ok(&post("/topapi/v2/user/create", json!({"userid": "lilei", "name": "Li Lei", "mobile": "13800000001", "dept_id_list": "1,2",
            "email": "Li@Example.com", "title": "Engineer", "job_number": "E-7", "hired_date": 1597573616828_i64})).await);
        assert_eq!(keys(&li["result"]), ["userid", "unionId"]);
        assert_eq!(li["result"]["userid"], "lilei");
        let li_union = li["result"]["unionId"].as_str().unwrap().to_owned();
        assert!(li_union.len() == 24 && li_union.bytes().all(|b| b.is_ascii_hexdigit()), "{li_union}");
        let han = ok(&post("/topapi/v2/user/create", json!({"name": "Han Meimei", "mobile": "+86-139-0000-0002", "dept_id_list": [2]})).await);
        let han_id = han["result"]["userid"].as_str().unwrap().to_owned();
        let member = app.get(&format!("/api/v1/members/{han_id}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!((member["name"].as_str(), member["mobile"].as_str()), (Some("Han Meimei"), Some("+8613900000002")));
        let form = raw(&app, Method::POST, &format!("/topapi/v2/user/create?access_token={token}"), "application/x-www-form-urlencoded",
            "userid=wang.wu&name=%E7%8E%8B%E4%BA%94&mobile=13800000003&dept_id_list=1").await;
        assert_eq!(ok(&form)["result"]["userid"], "wang.wu");

        // get: DingTalk's keys and JSON types.
        let got = ok(&post("/topapi/v2/user/get", json!({"userid": "lilei", "language": "zh_CN"})).await);
        assert_eq!(got["result"], json!({"userid": "lilei", "unionid": li_union, "name": "Li Lei", "avatar": "", "mobile": "13800000001", "hide_mobile": false,
            "email": "li@example.com", "title": "Engineer", "job_number": "E-7", "dept_id_list": [1, 2],
            "leader_in_dept": [{"dept_id": 1, "leader": false}, {"dept_id": 2, "leader": false}],
            "admin": false, "boss": false, "senior": false, "active": true, "real_authed": false, "exclusive_account": false}));
        // A member made natively is a user too: its userid is its member id, its unionid stable.
        let owner = app.owner.id.to_string();
        let first = ok(&post("/topapi/v2/user/get", json!({"userid": owner})).await);
        let again = ok(&raw(&app, Method::POST, &format!("/topapi/v2/user/get?access_token={token}"), "application/x-www-form-urlencoded", &format!("userid={owner}")).await);
        assert_eq!((&first["result"]["userid"], &first["result"]["admin"], &first["result"]["boss"]), (&json!(owner), &json!(true), &json!(true)));
        assert_eq!(first["result"]["unionid"], again["result"]["unionid"]);
        assert_ne!(first["result"]["unionid"], json!(li_union));
        // A chosen userid replaces the member id: the member id does not name Li Lei.
        let li_member = app.get("/api/v1/members", &app.admin_token).await.expect(StatusCode::OK)["items"].as_array().unwrap()
            .iter().find(|m| m["name"] == "Li Lei").unwrap()["id"].as_str().unwrap().to_owned();
        oapi_error(&post("/topapi/v2/user/get", json!({"userid": li_member})).await, 60121);

        // list: one department, page by page with `cursor`/`next_cursor`.
        let page = ok(&post("/topapi/v2/user/list", json!({"dept_id": 2, "cursor": 0, "size": 1})).await);
        assert_eq!(keys(&page["result"]), ["has_more", "next_cursor", "list"]);
        assert_eq!((&page["result"]["has_more"], &page["result"]["next_cursor"]), (&json!(true), &json!(1)));
        let rest = ok(&post("/topapi/v2/user/list", json!({"dept_id": "2", "cursor": "1", "size": "1"})).await);
        assert_eq!(keys(&rest["result"]), ["has_more", "list"]);
        assert_eq!(rest["result"]["has_more"], false);
        let mut listed: Vec<String> = [&page, &rest].iter().map(|p| p["result"]["list"][0]["userid"].as_str().unwrap().to_owned()).collect();
        listed.sort();
        let mut expected = vec!["lilei".to_owned(), han_id.clone()];
        expected.sort();
        assert_eq!(listed, expected);
        let li_listed = [&page, &rest].iter().map(|p| p["result"]["list"][0].clone()).find(|u| u["userid"] == "lilei").unwrap();
        assert_eq!((&li_listed["unionid"], &li_listed["dept_id_list"], &li_listed["leader"]), (&json!(li_union), &json!([1, 2]), &json!(false)));
        let root = ok(&post("/topapi/v2/user/list", json!({"dept_id": 1, "cursor": 0, "size": 100})).await);
        let root_ids: Vec<&str> = root["result"]["list"].as_array().unwrap().iter().map(|u| u["userid"].as_str().unwrap()).collect();
        assert!(root_ids.contains(&"lilei") && root_ids.contains(&"wang.wu") && root_ids.contains(&owner.as_str()) && !root_ids.contains(&han_id.as_str()), "{root_ids:?}");
        assert_eq!(root["result"]["has_more"], false);

        // The v1.0 search lists the same userids.
        let search = app.http.post(format!("{}/v1.0/contact/users/search", app.base)).header("x-acs-dingtalk-access-token", &token)
            .json(&json!({"queryWord": "Li Lei"})).send().await.unwrap();
        assert_eq!(crate::Reply::from(search).await.expect(StatusCode::OK)["list"], json!(["lilei"]));
        // getbymobile, normalized as members' numbers are.
        let found = ok(&post("/topapi/v2/user/getbymobile", json!({"mobile": "+86 139-0000-0002"})).await);
        assert_eq!(found["result"], json!({"userid": han_id, "exclusive_account_userid_list": []}));

        // Refusals write nothing.
        let (_, _, other_admin) = app.other_org().await;
        let before = app.audit_len().await;
        let create = |body: Value| oapi_post(&app, &token, "/topapi/v2/user/create", body);
        for missing in [json!({"mobile": "13800000009", "dept_id_list": "1"}), json!({"name": "X", "dept_id_list": "1"}), json!({"name": "X", "mobile": "13800000009"})] {
            oapi_error(&create(missing).await, 40035);
        }
        let new = |extra: Value| {
            let mut body = json!({"name": "X", "mobile": "13800000009", "dept_id_list": "1"});
            body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            body
        };
        oapi_error(&create(new(json!({"userid": "li lei"}))).await, 40035);
        oapi_error(&create(new(json!({"dept_id_list": "1,x"}))).await, 40035);
        oapi_error(&create(new(json!({"userid": "lilei"}))).await, 60102);
        oapi_error(&create(new(json!({"userid": owner}))).await, 60102);
        oapi_error(&create(new(json!({"mobile": "13800000001"}))).await, 60104);
        oapi_error(&create(new(json!({"mobile": "call me"}))).await, 60103);
        oapi_error(&create(new(json!({"email": "nope"}))).await, 60105);
        oapi_error(&create(new(json!({"email": "li@example.com"}))).await, 60106);
        oapi_error(&create(new(json!({"dept_id_list": "1,99"}))).await, 60003);
        oapi_error(&create(new(json!({"name": "x".repeat(101)}))).await, 60112);
        oapi_error(&create(new(json!({"job_number": "E-7"}))).await, 60123);
        oapi_error(&post("/topapi/v2/user/get", json!({})).await, 40035);
        oapi_error(&post("/topapi/v2/user/get", json!({"userid": "nobody"})).await, 60121);
        oapi_error(&post("/topapi/v2/user/list", json!({"dept_id": 1, "size": 10})).await, 40035);
        oapi_error(&post("/topapi/v2/user/list", json!({"dept_id": 1, "cursor": 0})).await, 40035);
        oapi_error(&post("/topapi/v2/user/list", json!({"dept_id": 1, "cursor": 0, "size": 101})).await, 40035);
        oapi_error(&post("/topapi/v2/user/list", json!({"dept_id": 1, "cursor": -1, "size": 10})).await, 40035);
        oapi_error(&post("/topapi/v2/user/list", json!({"dept_id": 99, "cursor": 0, "size": 10})).await, 60003);
        oapi_error(&post("/topapi/v2/user/update", json!({"name": "X"})).await, 40035);
        oapi_error(&post("/topapi/v2/user/update", json!({"userid": "nobody", "name": "X"})).await, 60121);
        oapi_error(&post("/topapi/v2/user/update", json!({"userid": "lilei", "mobile": "+86 139 0000 0002"})).await, 60104);
        oapi_error(&post("/topapi/v2/user/update", json!({"userid": "lilei", "dept_id_list": [99]})).await, 60003);
        oapi_error(&post("/topapi/v2/user/update", json!({"userid": "lilei", "email": "x@"})).await, 60105);
        oapi_error(&post("/topapi/v2/user/delete", json!({})).await, 40035);
        oapi_error(&post("/topapi/v2/user/delete", json!({"userid": "nobody"})).await, 60121);
        oapi_error(&post("/topapi/v2/user/delete", json!({"userid": owner})).await, 40035);
        oapi_error(&post("/topapi/v2/user/getbymobile", json!({})).await, 40035);
        oapi_error(&post("/topapi/v2/user/getbymobile", json!({"mobile": "abc"})).await, 60103);
        oapi_error(&post("/topapi/v2/user/getbymobile", json!({"mobile": "13800000099"})).await, 60121);
        // Another organization's token: DingTalk's not-found codes for our users and departments.
        let theirs = |path: &'static str, body: Value| oapi_post(&app, &other_admin, path, body);
        oapi_error(&theirs("/topapi/v2/user/get", json!({"userid": "lilei"})).await, 60121);
        oapi_error(&theirs("/topapi/v2/user/get", json!({"userid": owner})).await, 60121);
        oapi_error(&theirs("/topapi/v2/user/update", json!({"userid": "lilei", "name": "Theirs"})).await, 60121);
        oapi_error(&theirs("/topapi/v2/user/delete", json!({"userid": "lilei"})).await, 60121);
        oapi_error(&theirs("/topapi/v2/user/list", json!({"dept_id": 2, "cursor": 0, "size": 10})).await, 60003);
        oapi_error(&theirs("/topapi/v2/user/getbymobile", json!({"mobile": "13800000001"})).await, 60121);
        oapi_error(&theirs("/topapi/v2/user/create", json!({"name": "X", "mobile": "13800000009", "dept_id_list": "2"})).await, 60003);
        let reader = app.token(&["directory:read"]).await;
        let before_reader = app.audit_len().await;
        oapi_error(&oapi_post(&app, &reader, "/topapi/v2/user/delete", json!({"userid": "lilei"})).await, 60011);
        assert_eq!(app.audit_len().await, before_reader, "nothing was written");
        assert!(before_reader >= before);
        assert_eq!(ok(&post("/topapi/v2/user/get", json!({"userid": "lilei"})).await)["result"], got["result"], "Li Lei is unchanged");

        // update: absent keys stay; the unionid never changes.
        ok(&post("/topapi/v2/user/update", json!({"userid": "lilei", "name": "Li Lei 2", "title": "Lead", "dept_id_list": "2", "mobile": "13800000011"})).await);
        let updated = ok(&post("/topapi/v2/user/get", json!({"userid": "lilei"})).await);
        assert_eq!((&updated["result"]["name"], &updated["result"]["title"], &updated["result"]["dept_id_list"], &updated["result"]["email"], &updated["result"]["job_number"], &updated["result"]["unionid"]),
            (&json!("Li Lei 2"), &json!("Lead"), &json!([2]), &json!("li@example.com"), &json!("E-7"), &json!(li_union)));
        // delete: the member goes, and the userid with it.
        ok(&post("/topapi/v2/user/delete", json!({"userid": "lilei"})).await);
        oapi_error(&post("/topapi/v2/user/get", json!({"userid": "lilei"})).await, 60121);
        oapi_error(&post("/topapi/v2/user/delete", json!({"userid": "lilei"})).await, 60121);
        app.get(&format!("/api/v1/members/{li_member}"), &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        // The writes are the native ones, with their events.
        let events = app.get("/api/v1/events?types=member.created,member.updated,member.deleted", &app.admin_token).await.expect(StatusCode::OK).clone();
        let about_li: Vec<&str> = events["items"].as_array().unwrap().iter().filter(|e| e.to_string().contains(&li_member)).map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(about_li, ["member.created", "member.updated", "member.deleted"]);
        app
    }
}
