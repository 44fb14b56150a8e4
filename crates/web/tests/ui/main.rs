//! UI tests: the real server (API and pages) on a free port of 127.0.0.1, spoken to over HTTP like a
//! browser without JavaScript would. Every test runs on SQLite and on PostgreSQL.

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

mod board_settings;
mod boards;
mod builder;
mod card_order;
mod dashboards;
mod form_links;
mod forms;
mod master_detail;
mod pages;
mod shares;

/// Declares tests that run on both backends.
macro_rules! ui_tests {
    ($(async fn $name:ident($ui:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                $crate::TestUi::run(tenon_store::testing::TestBackend::Sqlite, |$ui| async move $body).await
            }
            #[tokio::test]
            async fn postgres() {
                $crate::TestUi::run(tenon_store::testing::TestBackend::Postgres, |$ui| async move $body).await
            }
        }
    )*};
}
pub(crate) use ui_tests;

pub struct TestUi {
    pub base: String,
    pub http: reqwest::Client,
    pub store: Store,
    pub org: Organization,
    pub owner: Member,
    pub owner_email: String,
    pub admin_token: String,
    /// The store's clock (time moves only when a test moves it).
    pub clock: Arc<ManualClock>,
    shutdown: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub const OWNER_PASSWORD: &str = "correct horse battery";

/// A page or API answer, read whole.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Page {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

impl TestUi {
    pub async fn run<F, Fut>(backend: TestBackend, test: F)
    where
        F: FnOnce(TestUi) -> Fut,
        Fut: Future<Output = TestUi>,
    {
        let database = TestDatabase::create(backend).await;
        let ui = TestUi::spawn(&database).await;
        let ui = test(ui).await;
        ui.stop().await;
        database.cleanup().await;
    }

    async fn spawn(database: &TestDatabase) -> TestUi {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
            .with_test_writer()
            .try_init();
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap(),
        ));
        let store = Store::connect(&database.config, clock.clone())
            .await
            .expect("connect")
            .with_files_dir(database.dir.path().join("files"));
        store.migrate().await.expect("migrate");
        let owner_email = format!("owner-{}@example.com", unique());
        let (org, owner) = create_org(&store, "测试学校", &owner_email, Some(OWNER_PASSWORD)).await;
        let admin_token = token_for(&store, &org, ScopeSet::parse(["admin"]).unwrap()).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let config = ServerConfig {
            secure_cookies: false,
            ..ServerConfig::default()
        };
        let sender = tenon_events::Sender::new(
            tenon_events::OutboundPolicy::parse("127.0.0.1").expect("policy"),
            config.delivery.timeout,
        )
        .expect("webhook client");
        let state = AppState::new(store.clone(), config, sender);
        let ui = tenon_web::router(state.clone());
        let server = tokio::spawn(tenon_server::serve_with(listener, state, ui, async move {
            let _ = stop.await;
        }));
        TestUi {
            base: format!("http://{address}"),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            store,
            org,
            owner,
            owner_email,
            admin_token,
            clock,
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

    /// Sends a request with the given extra headers (cookies, origin…) and an optional JSON body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Page {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body read");
        Page {
            status,
            headers,
            text,
        }
    }

    /// A page as a logged-in person with this language cookie sees it.
    pub async fn page(&self, path: &str, cookie: &str, lang: &str) -> Page {
        let cookie = format!("{cookie}; tenon_lang={lang}");
        self.send(Method::GET, path, &[("cookie", &cookie)], None)
            .await
    }

    /// Logs the owner in through the API; returns the `Cookie` header value.
    pub async fn log_in(&self) -> String {
        let reply = self
            .send(
                Method::POST,
                "/api/v1/auth/login",
                &[],
                Some(json!({ "email": self.owner_email, "password": OWNER_PASSWORD })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "login: {}", reply.text);
        let set_cookie = reply.header("set-cookie").expect("session cookie");
        set_cookie
            .split(';')
            .next()
            .expect("cookie pair")
            .to_owned()
    }

    /// Calls the API with the admin token.
    pub async fn api(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let authorization = format!("Bearer {}", self.admin_token);
        let reply = self
            .send(method, path, &[("authorization", &authorization)], body)
            .await;
        assert!(
            reply.status.is_success(),
            "{path}: {} {}",
            reply.status,
            reply.text
        );
        reply.json()
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
                    name: Name::parse("王老师").unwrap(),
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

pub async fn token_for(store: &Store, org: &Organization, scopes: ScopeSet) -> String {
    let secret = tenon_auth::mint(tenon_auth::SecretKind::PersonalToken);
    store
        .tenant(org.id)
        .create_token(
            &WriteContext::system(),
            NewToken {
                name: Name::parse("test").unwrap(),
                member_id: None,
                scopes,
                rate_limit: None,
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
