//! The `sql` step over HTTP (issue #18) against a real external MySQL or MariaDB (the one of
//! `TENON_TEST_MYSQL_URL`, else `mysql://root@127.0.0.1:3306/test`; `.ci/run` starts it): params bound to
//! `?` or `$1`…, typed values as the PostgreSQL kind renders them, capped at `max_rows`; a read step runs
//! nothing that writes (not even DDL, which MySQL commits implicitly); the server's statement timeout; a
//! bad statement fails with MySQL's message; a connection's password never reaches the run journal.
//! Each test makes its own uniquely named tables (and user) and drops them.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::flow_http::step_in;
use crate::flow_steps::{details, run_in};
use crate::{Reply, TestApp, api_tests};

/// The external MySQL of `TENON_TEST_MYSQL_URL`.
struct External {
    host: String,
    port: u16,
    user: String,
    password: Option<String>,
    database: String,
}

fn external() -> External {
    let url = std::env::var("TENON_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned());
    let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
    let (auth, rest) = rest.split_once('@').unwrap_or(("root", rest));
    let (user, password) = match auth.split_once(':') {
        Some((user, password)) => (user, Some(password.to_owned())),
        None => (auth, None),
    };
    let (hostport, database) = rest.split_once('/').unwrap_or((rest, "test"));
    let (host, port) = hostport.split_once(':').unwrap_or((hostport, "3306"));
    External {
        host: host.to_owned(),
        port: port.parse().unwrap(),
        user: user.to_owned(),
        password,
        database: database.split('?').next().unwrap().to_owned(),
    }
}

/// A name no other test (or run of this one) uses.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}{}_{}",
        std::process::id() % 100_000,
        nanos % 10_000_000_000
    )
}

/// Connection `key` (kind `mysql`) to the external database as `user` with `password`.
async fn connect(app: &TestApp, key: &str, user: &str, password: Option<&str>) {
    let db = external();
    let mut body = json!({"key": key, "name": "MySQL 库", "kind": "mysql",
        "config": {"host": db.host, "port": db.port, "database": db.database, "username": user, "tls": "none"}});
    if let Some(password) = password {
        body["secrets"] = json!({"password": password});
    }
    app.post("/api/v1/connections", &app.admin_token, body)
        .await
        .expect(StatusCode::CREATED);
}

/// Connection `my` as the URL's user.
async fn connect_root(app: &TestApp) {
    let db = external();
    connect(app, "my", &db.user, db.password.as_deref()).await;
}

fn sql(key: &str, query: &str, extra: Value) -> Value {
    let mut step = json!({"key": key, "type": "sql", "connection": "my", "query": query});
    for (k, v) in extra.as_object().unwrap() {
        step[k] = v.clone();
    }
    step
}

fn write(key: &str, query: &str) -> Value {
    sql(key, query, json!({"allow_write": true}))
}

fn manual(key: &str, steps: Vec<Value>) -> Value {
    json!({"key": key, "trigger": {"manual": {"inputs": [{"key": "min", "type": "integer"}]}}, "steps": steps})
}

async fn import(app: &TestApp, flows: Value) -> Reply {
    app.post("/api/v1/apps/import", &app.admin_token, json!({
        "format": "tenon.app/v1", "key": "wh", "name": "WH",
        "tables": [{"key": "notes", "name": "Notes", "fields": [{"key": "text", "name": "Text", "type": "text"}]}],
        "flows": flows
    })).await
}

async fn start(app: &TestApp, flow: &str, min: i64) -> String {
    let started = app
        .post(
            &format!("/api/v1/flows/{flow}/runs"),
            &app.admin_token,
            json!({"payload": {"min": min}}),
        )
        .await
        .expect(StatusCode::CREATED)
        .clone();
    started["id"].as_str().unwrap().to_owned()
}

/// Runs manual flow `flow` with `min` and waits until it is `status`.
async fn run_flow(app: &TestApp, flow: &str, min: i64, status: &str) -> Value {
    let id = start(app, flow, min).await;
    run_in(app, &id, status).await
}

api_tests! {
    async fn a_mysql_read_binds_params_renders_typed_values_and_caps_rows(app) {
        connect_root(&app).await;
        let table = unique("tenon_my_");
        import(&app, json!([
            manual("setup", vec![
                write("create", &format!(
                    "CREATE TABLE {table} (id INT PRIMARY KEY, amount DECIMAL(14,2), name VARCHAR(40), \
                     day DATE, at DATETIME(6), stamp TIMESTAMP NULL, span TIME, raw VARBINARY(4), \
                     ratio DOUBLE, big BIGINT UNSIGNED, note TEXT) DEFAULT CHARSET = utf8mb4")),
                write("fill", &format!(
                    "INSERT INTO {table} VALUES \
                     (1, 10.50, '华北仓', '2024-05-01', '2024-05-01 08:30:00', '2024-05-01 08:30:00', '08:30:05', X'01ab', 0.5, 18446744073709551615, NULL), \
                     (2, 123456789012.05, '华东仓', '2024-12-31', '2024-12-31 23:59:59.250000', NULL, '-51:00:00', X'', 2.25, 0, '备注'), \
                     (3, -0.01, '华南仓', '2025-01-01', '2025-01-01 00:00:00', NULL, '00:00:00', NULL, NULL, 7, '')")),
            ]),
            manual("look", vec![sql("q", &format!(
                "SELECT id, amount, name, day, at, stamp, span, raw, ratio, big, note FROM {table} \
                 WHERE id >= ? AND name <> ? ORDER BY id DESC"),
                json!({"params": ["{trigger.payload.min}", "\"无\""], "max_rows": 2}))]),
            manual("exact", vec![sql("q", &format!(
                "SELECT id, amount, name, day, at, stamp, span, raw, ratio, big, note FROM {table} WHERE id = ?"),
                json!({"params": ["{trigger.payload.min}"]}))]),
            manual("one", vec![sql("q", &format!(
                "SELECT name FROM {table} WHERE id = $1 OR id = $1 + 100"),
                json!({"params": ["{trigger.payload.min}"]}))]),
            manual("teardown", vec![write("drop", &format!("DROP TABLE {table}"))]),
        ])).await.expect(StatusCode::CREATED);
        let setup = run_flow(&app, "setup", 0, "succeeded").await;
        assert_eq!(setup["steps"][1]["output"]["affected"], 3, "{setup}");
        let some = run_flow(&app, "look", 2, "succeeded").await;
        let q = &some["steps"][0];
        assert_eq!(q["output"]["rows"], json!([
            {"id": 3, "amount": "-0.01", "name": "华南仓", "day": "2025-01-01", "at": "2025-01-01T00:00:00",
             "stamp": null, "span": "00:00:00", "raw": null, "ratio": null, "big": 7, "note": ""},
            {"id": 2, "amount": "123456789012.05", "name": "华东仓", "day": "2024-12-31",
             "at": "2024-12-31T23:59:59.25", "stamp": null, "span": "-51:00:00", "raw": "\\x", "ratio": 2.25,
             "big": 0, "note": "备注"},
        ]), "{q}");
        assert_eq!(q["output"]["truncated"], false);
        assert_eq!(q["output"]["value"], Value::Null, "several columns: no single value");
        assert_eq!(q["input"]["params"], json!(["2", "无"]));
        assert_eq!(q["input"]["database"], format!("mysql://{}:{}/{}", external().host, external().port, external().database));
        // The ORDER BY holds under the cap: the two highest ids, and a third was there.
        let capped = run_flow(&app, "look", 0, "succeeded").await;
        let rows = &capped["steps"][0]["output"];
        assert_eq!(rows["count"], 2);
        assert_eq!(rows["truncated"], true, "a third row was there");
        assert_eq!(rows["rows"][0]["id"], 3);
        assert_eq!(rows["rows"][1]["id"], 2);
        let first = run_flow(&app, "exact", 1, "succeeded").await;
        assert_eq!(first["steps"][0]["output"]["rows"][0], json!(
            {"id": 1, "amount": "10.50", "name": "华北仓", "day": "2024-05-01", "at": "2024-05-01T08:30:00",
             "stamp": "2024-05-01T08:30:00+00:00", "span": "08:30:05", "raw": "\\x01ab", "ratio": 0.5,
             "big": 18446744073709551615u64, "note": null}
        ));
        // `$1` as on PostgreSQL, used twice; one column gives `value`.
        let one = run_flow(&app, "one", 2, "succeeded").await;
        assert_eq!(one["steps"][0]["output"]["value"], "华东仓", "{one}");
        assert_eq!(one["steps"][0]["output"]["rows"], json!([{"name": "华东仓"}]));
        run_flow(&app, "teardown", 0, "succeeded").await;
        app
    }

    async fn a_mysql_read_step_writes_nothing_and_a_write_step_commits(app) {
        connect_root(&app).await;
        let table = unique("tenon_my_");
        import(&app, json!([
            manual("setup", vec![
                write("create", &format!("CREATE TABLE {table} (sku VARCHAR(8), qty INT) DEFAULT CHARSET = utf8mb4")),
                write("fill", &format!("INSERT INTO {table} VALUES ('A', 5), ('B', 7)")),
            ]),
            manual("look", vec![sql("q", &format!("SELECT sku, qty FROM {table} ORDER BY sku"), json!({}))]),
            manual("sneaky", vec![sql("d", &format!("DELETE FROM {table}"), json!({}))]),
            manual("sneaky_ddl", vec![sql("d", &format!("DROP TABLE {table}"), json!({}))]),
            manual("take", vec![sql("u", &format!("UPDATE {table} SET qty = qty - $2 WHERE sku = $1"),
                json!({"params": ["\"B\"", "{trigger.payload.min}"], "allow_write": true}))]),
            manual("teardown", vec![write("drop", &format!("DROP TABLE {table}"))]),
        ])).await.expect(StatusCode::CREATED);
        run_flow(&app, "setup", 0, "succeeded").await;
        // A read step cannot write: the statement returns no rows, so it is not run; the step fails at once.
        for flow in ["sneaky", "sneaky_ddl"] {
            let refused = run_flow(&app, flow, 0, "failed").await;
            let d = &refused["steps"][0];
            assert_eq!(d["attempts"], 1, "{d}");
            assert!(d["error"]["message"].as_str().unwrap().starts_with("MySQL"), "{d}");
            let all = run_flow(&app, "look", 0, "succeeded").await;
            assert_eq!(all["steps"][0]["output"]["rows"], json!([{"sku": "A", "qty": 5}, {"sku": "B", "qty": 7}]),
                "{flow}: nothing deleted or dropped");
        }
        // With allow_write the statement runs and commits.
        let taken = run_flow(&app, "take", 3, "succeeded").await;
        assert_eq!(taken["steps"][0]["output"]["affected"], 1, "{taken}");
        assert_eq!(taken["steps"][0]["input"]["allow_write"], true);
        let after = run_flow(&app, "look", 0, "succeeded").await;
        assert_eq!(after["steps"][0]["output"]["rows"][1], json!({"sku": "B", "qty": 4}));
        run_flow(&app, "teardown", 0, "succeeded").await;
        app
    }

    async fn a_slow_mysql_statement_is_stopped_and_a_bad_one_fails_with_mysqls_message(app) {
        connect_root(&app).await;
        let missing = unique("tenon_none_");
        import(&app, json!([
            manual("slow", vec![sql("s", "SELECT SLEEP(5) AS slept FROM (SELECT 1 AS n UNION ALL SELECT 2) AS two",
                json!({"timeout": "1s"}))]),
            manual("bad", vec![sql("b", &format!("SELECT nothing FROM {missing}"), json!({}))]),
        ])).await.expect(StatusCode::CREATED);
        // The server stops the statement at its timeout; a timeout is tried again later.
        let run = start(&app, "slow", 0).await;
        let slow = step_in(&app, &run, "s", "retry_wait").await;
        assert_eq!(slow["attempts"], 1, "{slow}");
        let message = slow["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("MySQL") && message.contains("interrupted"), "{slow}");
        let bad = run_flow(&app, "bad", 0, "failed").await;
        let b = &bad["steps"][0];
        assert_eq!(b["attempts"], 1, "not tried again: {b}");
        let message = b["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("MySQL 1146 (42S02): "), "{b}");
        assert!(message.contains(&missing), "{b}");
        app
    }

    async fn a_mysql_connections_password_is_used_and_never_journaled(app) {
        connect_root(&app).await;
        let db = external();
        let user = unique("tn_");
        let password = unique("pw-");
        connect(&app, "sec", &user, Some(&password)).await;
        connect(&app, "bad", &user, Some("not-the-password")).await;
        import(&app, json!([
            manual("grant", vec![
                write("user", &format!("CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")),
                write("grant", &format!("GRANT SELECT ON `{}`.* TO '{user}'@'%'", db.database)),
            ]),
            manual("who", vec![json!(
                {"key": "w", "type": "sql", "connection": "sec", "query": "SELECT CURRENT_USER() AS who"})]),
            manual("wrong", vec![json!(
                {"key": "w", "type": "sql", "connection": "bad", "query": "SELECT 1 AS one"})]),
            manual("revoke", vec![write("drop", &format!("DROP USER '{user}'@'%'"))]),
        ])).await.expect(StatusCode::CREATED);
        run_flow(&app, "grant", 0, "succeeded").await;
        let who = run_flow(&app, "who", 0, "succeeded").await;
        assert!(who["steps"][0]["output"]["value"].as_str().unwrap().starts_with(&format!("{user}@")), "{who}");
        let wrong = run_flow(&app, "wrong", 0, "failed").await;
        assert!(wrong["steps"][0]["error"]["message"].as_str().unwrap().starts_with("MySQL 1045"), "{wrong}");
        run_flow(&app, "revoke", 0, "succeeded").await;
        for run in [&who, &wrong] {
            let journal = run.to_string();
            assert!(!journal.contains(&password) && !journal.contains("not-the-password"), "{journal}");
        }
        let connection = app.get("/api/v1/connections/sec", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(connection["secret_names"], json!(["password"]));
        assert!(!connection.to_string().contains(&password));
        app
    }

    async fn bad_mysql_sql_steps_answer_422_with_their_paths(app) {
        connect_root(&app).await;
        app.post("/api/v1/connections", &app.admin_token,
            json!({"key": "web", "name": "Web", "kind": "http", "config": {"base_url": "https://erp.example"}}))
            .await.expect(StatusCode::CREATED);
        let error = import(&app, json!([manual("bad", vec![
            sql("few", "SELECT a FROM t WHERE b = ? AND c = ?", json!({"params": ["1"]})),
            sql("beyond", "SELECT a FROM t WHERE b = $2", json!({"params": ["1"]})),
            sql("both", "SELECT a FROM t WHERE b = ? AND c = $1", json!({"params": ["1"]})),
            sql("fine", "SELECT a FROM t WHERE b = '?' AND c = ? -- ?", json!({"params": ["1"]})),
            json!({"key": "web", "type": "sql", "connection": "web", "query": "SELECT 1"}),
        ])])).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(details(&error), vec![
            ("flows[0].steps[0].params".to_owned(), "invalid_value".to_owned()),
            ("flows[0].steps[1].query".to_owned(), "invalid_value".to_owned()),
            ("flows[0].steps[2].query".to_owned(), "invalid_value".to_owned()),
            ("flows[0].steps[4].connection".to_owned(), "not_allowed".to_owned()),
        ]);
        let reasons = error["details"].to_string();
        assert!(reasons.contains("postgres or mysql"), "{reasons}");
        app
    }
}
