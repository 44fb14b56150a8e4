//! The records routes swept (issue #19): every documented route that reads or writes a table's records
//! — lists, get, writes, history, shares, access, aggregates, exports, imports, a view's records — as a
//! member with no grant on the table, a member whose row rule leaves a record out, an organization
//! token and the owner. The routes come from the OpenAPI document, so a new records route is swept
//! without touching this test.

use reqwest::{Method, StatusCode};
use serde_json::json;
use tenon_model::{MemberId, Name, ScopeSet};
use tenon_store::{NewToken, WriteContext};

use crate::isolation::{operations, valid_body_for};
use crate::permissions::{charity, document, put};
use crate::{TestApp, api_tests};

const TABLE: &str = "/api/v1/apps/{app}/tables/{table}";

/// The records routes of the document: a table's records and what reads or writes them in bulk.
fn records_route(path: &str) -> bool {
    let Some(rest) = path.strip_prefix(TABLE) else {
        return false;
    };
    rest.starts_with("/records")
        || matches!(rest, "/aggregate" | "/export" | "/import")
        || (rest.starts_with("/views/{view}/") && rest.ends_with("/records"))
}

/// A personal token of `member` with every scope the records routes ask for, so that only the
/// member's app role can refuse her.
async fn member_token(app: &TestApp, member: &str) -> String {
    let secret = tenon_auth::mint(tenon_auth::SecretKind::PersonalToken);
    app.store
        .tenant(app.org.id)
        .create_token(
            &WriteContext::system(),
            NewToken {
                name: Name::parse("sweep").unwrap(),
                member_id: Some(member.parse::<MemberId>().unwrap()),
                scopes: ScopeSet::parse(["apps:read", "records:read", "records:write"]).unwrap(),
                rate_limit: None,
                expires_at: None,
                digest: secret.digest.0,
            },
        )
        .await
        .expect("token created");
    secret.plaintext
}

api_tests! {
    async fn every_records_route_answers_by_the_callers_grant(app) {
        let charity = charity(&app).await;
        put(&app, document(&charity)).await.expect(StatusCode::OK);
        let view = app
            .post("/api/v1/apps/charity/tables/families/views", &app.admin_token, json!({"name": "All", "type": "grid"}))
            .await
            .expect(StatusCode::CREATED)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let none = member_token(&app, &charity.outsider).await;
        let narrow = member_token(&app, &charity.a).await;
        let owner = member_token(&app, &app.owner.id.to_string()).await;
        // F1 is A's; F3 is B's, outside A's rows.
        let (f1, f3) = (&charity.families[0], &charity.families[2]);
        let share = uuid::Uuid::now_v7().to_string();
        let fill = |path: &str, record: &str| {
            path.replace("{app}", "charity")
                .replace("{table}", "families")
                .replace("{id}", record)
                .replace("{view}", &view)
                .replace("{share}", &share)
        };
        let body = |method: &Method, path: &str| {
            if path.ends_with("/share") {
                Some(json!({"fields": ["name"], "mode": "read"}))
            } else {
                valid_body_for(method, path)
            }
        };
        let routes: Vec<(Method, String)> = operations(&app)
            .await
            .into_iter()
            .filter(|(_, path, _)| records_route(path))
            .map(|(method, path, _)| (method, path))
            .collect();
        assert!(routes.len() >= 15, "the records routes of the document: {routes:?}");

        let audit = app.audit_len().await;
        for (method, path) in &routes {
            // No grant on the table: refused on every route, whatever the record.
            let reply = app.call(method.clone(), &fill(path, f1), Some(&none), body(method, path)).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {path} with no grant: {}", reply.body);
            // A record outside her rows: refused as if she had no grant on it.
            if path.contains("{id}") {
                let reply = app.call(method.clone(), &fill(path, f3), Some(&narrow), body(method, path)).await;
                assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {path} on a row outside her rule: {}", reply.body);
            }
        }
        assert_eq!(app.audit_len().await, audit, "refused calls wrote nothing");

        // Her own row reads as any record does.
        let own = app.get(&fill(&format!("{TABLE}/records/{{id}}"), f1), &narrow).await;
        assert_eq!(own.expect(StatusCode::OK)["fields"]["name"], "F1");
        let history = app.get(&fill(&format!("{TABLE}/records/{{id}}/history"), f1), &narrow).await;
        history.expect(StatusCode::OK);

        // The owner and an organization token are never refused by an app role.
        for token in [&owner, &app.admin_token] {
            for (method, path) in &routes {
                let reply = app.call(method.clone(), &fill(path, f3), Some(token), body(method, path)).await;
                assert!(
                    reply.status != StatusCode::FORBIDDEN && !reply.status.is_server_error(),
                    "{method} {path} as the owner or an organization token: {} {}",
                    reply.status,
                    reply.body
                );
            }
        }
        app
    }
}
