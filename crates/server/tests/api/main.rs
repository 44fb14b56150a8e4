//! API tests: the real server on a free port of 127.0.0.1, spoken to over HTTP. Every test runs twice,
//! on SQLite and on PostgreSQL, each time with a fresh database and a clock the test controls.

// Tests fail by panicking; that is their job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::sync::Arc;

use chrono::{TimeZone as _, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenon_model::{
    Email, Locale, Member, Name, NewMember, OptionalText, Organization, Role, ScopeSet, TimeZone,
};
use tenon_server::{AppState, ServerConfig};
use tenon_store::testing::{TestBackend, TestDatabase};
use tenon_store::{ManualClock, NewOrganization, NewToken, Store, WriteContext};

mod aggregate;
mod app_webhooks;
mod approval_delegations;
mod approval_flows;
mod approval_limits;
mod approval_races;
mod approval_reminders;
mod approval_replay;
mod approval_seed;
mod approval_sweeps;
mod approvals;
mod auth;
mod computed;
mod conformance;
mod connections;
mod dashboards;
mod dingtalk;
mod dingtalk_directory;
mod dingtalk_events;
mod dingtalk_messages;
mod dingtalk_people;
mod dingtalk_sdk;
mod dingtalk_signin;
mod dingtalk_workflow;
mod directory;
mod directory_search;
mod errors;
mod event_stream;
mod events;
mod exchange;
mod field_check;
mod flow_approvals;
mod flow_batches;
mod flow_calls;
mod flow_http;
mod flow_links;
mod flow_loops;
mod flow_messages;
mod flow_notify;
mod flow_notify_outside;
mod flow_seed;
mod flow_sql;
mod flow_sql_mysql;
mod flow_steps;
mod flow_triggers;
mod flow_voucher_pushes;
mod flow_vouchers;
mod flow_watch;
mod flow_yonsuite;
mod flows;
mod isolation;
mod ledger;
mod ledger_close;
mod ledger_codes;
mod ledger_definitions;
mod ledger_openings_import;
mod ledger_rules;
mod master_detail;
mod oauth;
mod openapi;
mod permissions;
mod permissions_computed;
mod permissions_events;
mod permissions_files;
mod permissions_prop;
mod permissions_sweep;
mod permissions_templates;
mod public_views;
mod queries;
mod queries_ids;
mod record_events;
mod records;
mod shares;
mod stream;
mod stream_sdk;
mod typecast;
mod vendor_fakes;
mod views;
mod webhooks;

/// Declares tests that run on both backends: `api_tests! { async fn name(app) { … } }`.
macro_rules! api_tests {
    ($(async fn $name:ident($app:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                $crate::TestApp::run(tenon_store::testing::TestBackend::Sqlite, |$app| async move $body).await
            }
            #[tokio::test]
            async fn postgres() {
                $crate::TestApp::run(tenon_store::testing::TestBackend::Postgres, |$app| async move $body).await
            }
        }
    )*};
}
pub(crate) use api_tests;

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(&self, status: StatusCode) -> &Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        &self.body
    }

    /// Asserts an error of the documented shape with this status and code.
    #[track_caller]
    pub fn expect_error(&self, status: StatusCode, code: &str) -> &Value {
        self.expect(status);
        let error = &self.body["error"];
        assert_eq!(error["code"], code, "body: {}", self.body);
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|message| !message.is_empty()),
            "body: {}",
            self.body
        );
        assert!(error["details"].is_array(), "body: {}", self.body);
        let request_id = error["request_id"].as_str().unwrap_or_default();
        assert!(
            !request_id.is_empty(),
            "error without request id: {}",
            self.body
        );
        assert_eq!(
            self.header("x-request-id"),
            Some(request_id),
            "request id differs from the header"
        );
        error
    }
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub store: Store,
    pub clock: Arc<ManualClock>,
    pub org: Organization,
    pub owner: Member,
    pub owner_email: String,
    pub owner_password: String,
    /// An organization token with `admin`.
    pub admin_token: String,
    shutdown: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub const OWNER_PASSWORD: &str = "correct horse battery";

/// Where the test clock starts.
pub fn clock_start() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap()
}

impl TestApp {
    pub async fn run<F, Fut>(backend: TestBackend, test: F)
    where
        F: FnOnce(TestApp) -> Fut,
        Fut: Future<Output = TestApp>,
    {
        let database = TestDatabase::create(backend).await;
        let app = TestApp::spawn(
            &database,
            ServerConfig {
                secure_cookies: false,
                // Two quick-polling workers: tests move the manual clock, and workers notice within 100 ms.
                delivery: tenon_events::DeliveryConfig {
                    workers: 2,
                    timeout: std::time::Duration::from_secs(3),
                    poll_interval: std::time::Duration::from_millis(100),
                    // No background pruner: it would race the tests' clock moves. Tests that need
                    // pruning run `tenon_events::prune_expired` themselves after moving the clock.
                    event_retention_days: None,
                    ..tenon_events::DeliveryConfig::default()
                },
                // Flow workers that poll quickly too (retries come due as tests move the clock).
                flows: tenon_connect::FlowConfig {
                    workers: 2,
                    poll_interval: std::time::Duration::from_millis(100),
                    ..tenon_connect::FlowConfig::default()
                },
                ..ServerConfig::default()
            },
        )
        .await;
        let app = test(app).await;
        app.stop().await;
        database.cleanup().await;
    }

    pub async fn spawn(database: &TestDatabase, config: ServerConfig) -> TestApp {
        TestApp::spawn_at(database, config, clock_start()).await
    }

    /// Like [`TestApp::spawn`], with the test clock starting at `start` (a node that starts later).
    pub async fn spawn_at(
        database: &TestDatabase,
        config: ServerConfig,
        start: chrono::DateTime<Utc>,
    ) -> TestApp {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn,tenon_server=info"))
            .with_test_writer()
            .try_init();
        let clock = Arc::new(ManualClock::new(start));
        let store = Store::connect(&database.config, clock.clone())
            .await
            .expect("connect")
            .with_files_dir(database.dir.path().join("files"))
            .with_secret_key(
                tenon_store::connections::SecretKey::from_bytes(
                    &tenon_store::connections::SecretKey::generate(),
                )
                .expect("secret key"),
            );
        store.migrate().await.expect("migrate");
        let owner_email = format!("owner-{}@example.com", unique());
        let (org, owner) = create_org(&store, "测试公司", &owner_email, Some(OWNER_PASSWORD)).await;
        let admin_token = token_for(&store, &org, ScopeSet::parse(["admin"]).unwrap(), None).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let sender = tenon_events::Sender::new(
            tenon_events::OutboundPolicy::parse("127.0.0.1").expect("policy"),
            config.delivery.timeout,
        )
        .expect("webhook client");
        let state = AppState::new(store.clone(), config, sender);
        let server = tokio::spawn(tenon_server::serve(listener, state, async move {
            let _ = stop.await;
        }));
        TestApp {
            base: format!("http://{address}"),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            store,
            clock,
            org,
            owner,
            owner_email,
            owner_password: OWNER_PASSWORD.to_owned(),
            admin_token,
            shutdown,
            server,
        }
    }

    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let served = self.server.await.expect("server task");
        served.expect("server stopped cleanly");
        self.store.close().await;
    }

    /// Sends a request with a bearer token (or none) and an optional JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Reply::from(request.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// A token of this app's organization with the given scopes.
    pub async fn token(&self, scopes: &[&str]) -> String {
        token_for(
            &self.store,
            &self.org,
            ScopeSet::parse(scopes.iter().copied()).unwrap(),
            None,
        )
        .await
    }

    /// Another organization with its own admin token.
    pub async fn other_org(&self) -> (Organization, Member, String) {
        let (org, owner) = create_org(
            &self.store,
            "Other Co",
            &format!("other-{}@example.com", unique()),
            None,
        )
        .await;
        let token = token_for(&self.store, &org, ScopeSet::parse(["admin"]).unwrap(), None).await;
        (org, owner, token)
    }

    /// The number of audit entries, to prove a refused request wrote nothing.
    pub async fn audit_len(&self) -> usize {
        let page = self
            .store
            .tenant(self.org.id)
            .list_audit(
                &Default::default(),
                tenon_model::PageRequest::first(1000).unwrap(),
            )
            .await
            .unwrap();
        page.items.len()
    }
}

impl Reply {
    pub async fn from(response: reqwest::Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        // An event stream never ends; sweeps only need its status.
        let streaming = headers
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("text/event-stream"));
        if streaming {
            return Reply {
                status,
                headers,
                body: Value::Null,
            };
        }
        let bytes = response.bytes().await.expect("body read");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Reply {
            status,
            headers,
            body,
        }
    }
}

pub async fn create_org(
    store: &Store,
    name: &str,
    email: &str,
    password: Option<&str>,
) -> (Organization, Member) {
    let password_hash = password.map(|password| tenon_auth::hash_password(password).unwrap());
    store
        .create_organization(
            &WriteContext::system(),
            NewOrganization {
                name: Name::parse(name).unwrap(),
                time_zone: TimeZone::SHANGHAI,
                locale: Locale::ZhCn,
                owner: NewMember {
                    name: Name::parse("Owner").unwrap(),
                    email: Some(Email::parse(email).unwrap()),
                    mobile: None,
                    job_title: OptionalText::NONE,
                    employee_no: OptionalText::NONE,
                    role: Role::Owner,
                    department_ids: vec![],
                    password_hash,
                },
            },
        )
        .await
        .expect("organization created")
}

pub async fn token_for(
    store: &Store,
    org: &Organization,
    scopes: ScopeSet,
    rate_limit: Option<&str>,
) -> String {
    let secret = tenon_auth::mint(tenon_auth::SecretKind::PersonalToken);
    store
        .tenant(org.id)
        .create_token(
            &WriteContext::system(),
            NewToken {
                name: Name::parse("test").unwrap(),
                member_id: None,
                scopes,
                rate_limit: rate_limit.map(|limit| tenon_model::RateLimit::parse(limit).unwrap()),
                expires_at: None,
                digest: secret.digest.0,
            },
        )
        .await
        .expect("token created");
    secret.plaintext
}

/// A short random suffix for unique names and addresses.
pub fn unique() -> String {
    tenon_model::OrgId::new().as_uuid().simple().to_string()[20..].to_owned()
}

pub fn member_body(name: &str) -> Value {
    json!({ "name": name, "email": format!("{}@example.com", unique()) })
}
