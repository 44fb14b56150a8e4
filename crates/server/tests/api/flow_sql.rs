//! The `sql` step over HTTP (issue #18) against a real external PostgreSQL (the one of
//! `TENON_TEST_DATABASE_URL`, else 127.0.0.1:5432): writes only with `allow_write: true`, reads in a
//! read-only transaction with params bound as `$1`…, capped at `max_rows` (`truncated`); a statement that
//! is not a query fails a read step at once; bad steps are refused with their paths.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::flow_steps::{details, run_in};
use crate::{Reply, TestApp, api_tests};

/// `(host, port, user, database)` of the external PostgreSQL.
fn external() -> (String, u16, String, String) {
    let url = std::env::var("TENON_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
    let (auth, rest) = rest.split_once('@').unwrap_or(("postgres", rest));
    let user = auth.split(':').next().unwrap_or("postgres").to_owned();
    let (hostport, database) = rest.split_once('/').unwrap_or((rest, "postgres"));
    let (host, port) = hostport.split_once(':').unwrap_or((hostport, "5432"));
    let database = database.split('?').next().unwrap_or("postgres").to_owned();
    (host.to_owned(), port.parse().unwrap(), user, database)
}

fn sql(key: &str, query: &str, extra: Value) -> Value {
    let mut step = json!({"key": key, "type": "sql", "connection": "wh", "query": query});
    for (k, v) in extra.as_object().unwrap() {
        step[k] = v.clone();
    }
    step
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

/// Runs manual flow `flow` with `min` and waits until it is `status`.
async fn run_flow(app: &TestApp, flow: &str, min: i64, status: &str) -> Value {
    let started = app
        .post(
            &format!("/api/v1/flows/{flow}/runs"),
            &app.admin_token,
            json!({"payload": {"min": min}}),
        )
        .await
        .expect(StatusCode::CREATED)
        .clone();
    run_in(app, started["id"].as_str().unwrap(), status).await
}

api_tests! {
    async fn an_sql_step_writes_only_when_allowed_and_reads_capped_rows_with_params(app) {
        let (host, port, user, database) = external();
        app.post("/api/v1/connections", &app.admin_token,
            json!({"key": "wh", "name": "仓库库", "kind": "postgres",
                   "config": {"host": host, "port": port, "database": database, "username": user, "tls": "none"}}))
            .await.expect(StatusCode::CREATED);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let table = format!("tenon_sql_{}_{nanos}", std::process::id());
        import(&app, json!([
            manual("setup", vec![
                sql("create", &format!("CREATE TABLE {table} (sku text, qty int)"), json!({"allow_write": true})),
                sql("fill", &format!("INSERT INTO {table} VALUES ('A', 5), ('B', 7), ('C', 9)"), json!({"allow_write": true})),
            ]),
            manual("money", vec![sql("m", "SELECT 10.50::numeric(12,2) AS price, 12345678901234567.89::numeric AS big, \
                0.1::float8 AS ratio, 7::bigint AS n, 12345678901234567::bigint AS id, NULL::numeric AS none", json!({}))]),
            manual("look", vec![sql("q", &format!("SELECT sku, qty FROM {table} WHERE qty >= $1::int ORDER BY qty;"),
                json!({"params": ["{trigger.payload.min}"], "max_rows": 2}))]),
            manual("sneaky", vec![sql("d", &format!("DELETE FROM {table}"), json!({}))]),
            manual("teardown", vec![sql("drop", &format!("DROP TABLE {table}"), json!({"allow_write": true}))]),
        ])).await.expect(StatusCode::CREATED);
        let setup = run_flow(&app, "setup", 0, "succeeded").await;
        assert_eq!(setup["steps"][1]["output"]["affected"], 3, "{setup}");
        let some = run_flow(&app, "look", 6, "succeeded").await;
        let q = &some["steps"][0];
        assert_eq!(q["output"]["rows"], json!([{"sku": "B", "qty": 7}, {"sku": "C", "qty": 9}]), "{q}");
        assert_eq!(q["output"]["truncated"], false);
        assert_eq!(q["output"]["value"], Value::Null, "two columns: no single value");
        assert_eq!(q["input"]["params"], json!(["6"]));
        let capped = run_flow(&app, "look", 0, "succeeded").await;
        assert_eq!(capped["steps"][0]["output"]["count"], 2);
        assert_eq!(capped["steps"][0]["output"]["truncated"], true, "a third row was there");
        // A read step cannot write: the statement is not a query, the step fails at once.
        let refused = run_flow(&app, "sneaky", 0, "failed").await;
        let d = &refused["steps"][0];
        assert_eq!(d["attempts"], 1, "{d}");
        assert!(d["error"]["message"].as_str().unwrap().starts_with("PostgreSQL"), "{d}");
        let all = run_flow(&app, "look", 0, "succeeded").await;
        assert_eq!(all["steps"][0]["output"]["rows"][0], json!({"sku": "A", "qty": 5}), "nothing deleted");
        // Decimals come exact, as text; whole numbers a JSON number carries stay numbers.
        let money = run_flow(&app, "money", 0, "succeeded").await;
        assert_eq!(money["steps"][0]["output"]["rows"][0], json!({"price": "10.50", "big": "12345678901234567.89",
            "ratio": "0.1", "n": 7, "id": "12345678901234567", "none": null}), "{money}");
        run_flow(&app, "teardown", 0, "succeeded").await;
        app
    }

    async fn bad_sql_steps_answer_422_with_their_paths(app) {
        let error = import(&app, json!([manual("bad", vec![
            json!({"key": "a", "type": "sql"}),
            sql("b", "SELECT 1; DROP TABLE x", json!({"max_rows": 5000, "timeout": "1m"})),
        ])])).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(details(&error), vec![
            ("flows[0].steps[0].connection".to_owned(), "required".to_owned()),
            ("flows[0].steps[0].query".to_owned(), "required".to_owned()),
            ("flows[0].steps[1].connection".to_owned(), "not_found".to_owned()),
            ("flows[0].steps[1].max_rows".to_owned(), "out_of_range".to_owned()),
            ("flows[0].steps[1].query".to_owned(), "invalid_value".to_owned()),
            ("flows[0].steps[1].timeout".to_owned(), "too_large".to_owned()),
        ]);
        app
    }
}
