//! Tenon's storage: one API over SQLite and PostgreSQL.
//!
//! This crate owns every SQL statement of the platform (see [`exec`] for how they run), the migrations of
//! the platform's own tables, and the rule that tenant data is reached only through a [`Tenant`] handle,
//! which carries the organization id into every query. There is no function that reads or writes a tenant
//! row without one, and the schema backs that up: tenant tables have the organization in their primary
//! key and every reference between tenant rows is a composite foreign key that includes it.
//!
//! Every change that touches several rows runs in one transaction, together with its audit entry.
//! Callers never see a driver type; errors arrive as [`StoreError`].

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tenon_model::{Actor, OrgId};

pub mod approvals;
mod apps;
mod audit;
mod authors;
#[cfg(feature = "bench")]
pub mod baseline;
mod cache;
mod clients;
mod clock;
pub mod connections;
mod credentials;
mod deliveries;
mod dingtalk;
mod dingtalk_messages;
mod dingtalk_signin;
mod dingtalk_workflow;
mod directory;
mod error;
mod events;
mod exec;
mod files;
pub mod flows;
mod keyset_indexes;
pub mod ledger;
mod organizations;
mod pow_spent;
mod records;
mod retention;
mod rows;
mod secret_key;
mod sessions;
mod shares;
mod sql;
mod stream;
mod subscriptions;
#[cfg(feature = "test-support")]
pub mod testing;
mod work;

pub use apps::{
    AppPatch, FieldPatch, NewApp, NewTable, PermissionSubject, StoredDashboard, TablePatch,
    ViewSpec,
};
pub use audit::AuditFilter;
pub use cache::{CacheStats, FRESH_FOR, ResolvedAccess, SYNC_INTERVAL};
pub use clock::{Clock, ManualClock, SystemClock, TestClock};
pub use credentials::TOKEN_TOUCH_INTERVAL;
pub use credentials::{
    AuthenticatedToken, ClientRegistration, NewInstallation, NewToken, OAuthClientSecretCheck,
    TokenMember,
};
pub use deliveries::{
    AttemptOutcome, ClaimedDelivery, ClaimedDingTalk, RESPONSE_EXCERPT_CHARS_MAX, fan_out_chunk,
    lease_for,
};
pub use dingtalk::{DingTalkDepartment, DingTalkUser, DingTalkUserMatch, dingtalk_unionid};
pub use dingtalk_messages::{WorkNotification, WorkNotificationTask};
pub use dingtalk_signin::{DingTalkGrant, DingTalkGrantKind};
pub use dingtalk_workflow::{DingTalkForm, DingTalkInstance, DingTalkPerson, InstanceIdQuery};
pub use directory::{DEPARTMENT_DEPTH_MAX, MEMBER_DEPARTMENTS_MAX, MemberFilter};
pub use error::StoreError;
pub use events::EVENTS_PER_READ_MAX;
pub use exec::Backend;
pub use files::{Attachment, FILE_BYTES_MAX, FORM_UPLOADS_PURGED_PER_BATCH, PurgedUploads};
pub use organizations::NewOrganization;
pub use records::render;
pub use records::{
    Aggregation, Cursor, Group, GroupValue, IdempotencyKey, MetricValue, MissingRecord,
    RECORDS_PER_WRITE_MAX, RecordPage, RecordProblem, RecordQuery, RecordUpdate, RowGuard,
    WriteOutcome, label,
};
pub use records::{
    FORM_UPLOADS_PER_SUBMISSION_MAX, FormDetails, FormGuard, FormUploadSlot, FormWrite, FormWritten,
};
pub use retention::{PRUNE_EVENTS_PER_BATCH, PruneBatch};
pub use sessions::{LoginCandidate, LoginThrottle, SESSION_TOUCH_INTERVAL, SessionLookup};
pub use shares::{NewShare, SHARES_PER_RECORD_MAX, Share, ShareMode};
pub use stream::{
    STREAM_CLAIMS_PER_PUMP_MAX, STREAM_CONNECTION_STALE_AFTER, STREAM_CONNECTION_TOUCH_EVERY,
    STREAM_QUEUE_MAX, STREAM_REDELIVER_AFTER, STREAM_TICKET_TTL, StreamClaim, StreamQueued,
    StreamTicket,
};
pub use subscriptions::{
    DingTalkCallback, NewSubscription, REDELIVER_EVENTS_MAX, SubscriptionOwner, SubscriptionPatch,
};
pub use work::Work;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How long to wait for a locked SQLite database before giving up with "busy".
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Readers on SQLite: WAL lets them run beside the single writer.
const SQLITE_READ_CONNECTIONS: usize = 4;
/// WAL pages (4 KiB) after which the writer checkpoints by itself, should the background checkpointer
/// fall behind (SQLite's default is 1000).
const SQLITE_AUTOCHECKPOINT_BACKSTOP_PAGES: u32 = 16_000;
/// PostgreSQL connections per Tenon node.
const POSTGRES_CONNECTIONS: u32 = 16;
/// PostgreSQL connections per node for counters that may have gaps (`exec::Pools::take_number`).
const POSTGRES_NUMBER_CONNECTIONS: u32 = 2;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseConfig {
    /// An SQLite database file (created if missing), e.g. `./tenon-data/tenon.db`.
    Sqlite { path: PathBuf },
    /// A PostgreSQL URL, e.g. `postgres://tenon@db.internal/tenon`.
    Postgres { url: String },
}

impl DatabaseConfig {
    /// `--database` wins; otherwise SQLite in `data_dir`.
    pub fn from_options(database: Option<&str>, data_dir: &Path) -> Result<Self> {
        match database {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(DatabaseConfig::Postgres {
                    url: url.to_owned(),
                })
            }
            Some(url) if url.starts_with("sqlite:") => {
                let path = url
                    .trim_start_matches("sqlite://")
                    .trim_start_matches("sqlite:");
                Ok(DatabaseConfig::Sqlite {
                    path: PathBuf::from(path),
                })
            }
            Some(other) => Err(StoreError::Config(format!(
                "unsupported database URL \"{}\": use postgres://… or sqlite:PATH",
                redact_url(other)
            ))),
            None => Ok(DatabaseConfig::Sqlite {
                path: data_dir.join("tenon.db"),
            }),
        }
    }

    /// The configuration without any password, for logs.
    pub fn describe(&self) -> String {
        match self {
            DatabaseConfig::Sqlite { path } => format!("sqlite:{}", path.display()),
            DatabaseConfig::Postgres { url } => redact_url(url),
        }
    }
}

fn redact_url(url: &str) -> String {
    // postgres://user:secret@host/db -> postgres://user:***@host/db
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The store: pools, the clock, the folder of uploaded files, and every query of the platform.
#[derive(Clone)]
pub struct Store {
    pools: exec::Pools,
    clock: Arc<dyn Clock>,
    /// Where attachment bytes live (content-addressed); `None` refuses uploads.
    files_dir: Option<PathBuf>,
    /// Woken after every commit of this process (see [`Store::commits`]).
    commits: Arc<tokio::sync::Notify>,
    /// Deliveries queued since the delivery table's statistics were last refreshed (PostgreSQL).
    deliveries_since_analyze: Arc<std::sync::atomic::AtomicU64>,
    /// Credentials and schemas this node has read (see [`cache`]).
    caches: Arc<cache::Caches>,
    /// Wake this node's workers after commits that made their work (see [`work`]).
    signals: Arc<work::Signals>,
    /// What a transaction does after its commit: caches and signals.
    on_commit: Arc<work::OnCommit>,
    /// Encrypts connections' secrets at rest; `None` refuses to store secrets.
    secret_key: Option<secret_key::SecretKey>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the database (creating an SQLite file and its folder if needed). Does not migrate.
    pub async fn connect(config: &DatabaseConfig, clock: Arc<dyn Clock>) -> Result<Store> {
        let pools = match config {
            DatabaseConfig::Sqlite { path } => {
                if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|error| {
                        StoreError::Config(format!(
                            "cannot create data folder {}: {error}",
                            dir.display()
                        ))
                    })?;
                }
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    // FULL: a commit that returned is on disk, also across a power cut, not just a crash.
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .pragma("temp_store", "memory");
                let write = exec::Conns::connect(
                    // The background checkpointer keeps the WAL short; this is only a backstop.
                    options.clone().pragma(
                        "wal_autocheckpoint",
                        SQLITE_AUTOCHECKPOINT_BACKSTOP_PAGES.to_string(),
                    ),
                    1,
                    ACQUIRE_TIMEOUT,
                )
                .await
                .map_err(StoreError::connect)?;
                let checkpoint = SqlitePoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(options.clone())
                    .await
                    .map_err(StoreError::connect)?;
                exec::spawn_checkpointer(checkpoint.clone());
                let read = exec::Conns::connect(
                    options.read_only(true),
                    SQLITE_READ_CONNECTIONS,
                    ACQUIRE_TIMEOUT,
                )
                .await
                .map_err(StoreError::connect)?;
                exec::Pools::Sqlite {
                    read,
                    write,
                    checkpoint,
                    direct: exec::Direct::new(
                        path.clone(),
                        SQLITE_BUSY_TIMEOUT,
                        SQLITE_READ_CONNECTIONS,
                    ),
                }
            }
            DatabaseConfig::Postgres { url } => {
                let options = PgConnectOptions::from_str(url).map_err(StoreError::connect)?;
                let numbers = PgPoolOptions::new()
                    .max_connections(POSTGRES_NUMBER_CONNECTIONS)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_lazy_with(options.clone().options([("synchronous_commit", "off")]));
                let pool = PgPoolOptions::new()
                    .max_connections(POSTGRES_CONNECTIONS)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(options)
                    .await
                    .map_err(StoreError::connect)?;
                exec::Pools::Postgres { pool, numbers }
            }
        };
        let caches = Arc::new(cache::Caches::new());
        cache::spawn_sync(pools.clone(), &caches);
        let signals = Arc::new(work::Signals::default());
        let on_commit = Arc::new(work::OnCommit {
            caches: caches.clone(),
            signals: signals.clone(),
        });
        Ok(Store {
            pools,
            clock,
            files_dir: None,
            commits: Arc::new(tokio::sync::Notify::new()),
            deliveries_since_analyze: Arc::default(),
            caches,
            signals,
            on_commit,
            secret_key: None,
        })
    }

    /// Applies pending migrations of the platform's tables (SQL only; [`Store::migrate`], in
    /// `authors`, also finishes the data migrations they queue). Safe to run from several nodes at
    /// once: on PostgreSQL the migrator holds an advisory lock, on SQLite the single writer serializes.
    pub(crate) async fn migrate_schema(&self) -> Result<()> {
        match &self.pools {
            exec::Pools::Postgres { pool, .. } => {
                sqlx::migrate!("./migrations/postgres").run(pool).await?
            }
            exec::Pools::Sqlite { write, .. } => {
                let mut conn = write.acquire().await.map_err(StoreError::connect)?;
                sqlx::migrate!("./migrations/sqlite")
                    .run(&mut *conn)
                    .await?
            }
        }
        Ok(())
    }

    /// Checks that the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<()> {
        let mut pooled = self.pools.read().await?;
        let _: (i64,) = pooled
            .conn()
            .fetch_one(exec::Sql::new("SELECT CAST(1 AS BIGINT)"))
            .await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pools.close().await;
    }

    pub fn backend(&self) -> Backend {
        self.pools.backend()
    }

    /// Keeps uploaded files under `dir` (usually `<data>/files`).
    #[must_use]
    pub fn with_files_dir(mut self, dir: PathBuf) -> Self {
        self.files_dir = Some(dir);
        self
    }

    /// Encrypts connections' secrets with `key` (`tenon serve --secret-key-file`).
    #[must_use]
    pub fn with_secret_key(mut self, key: secret_key::SecretKey) -> Self {
        self.secret_key = Some(key);
        self
    }

    /// Woken (`notify_waiters`) after every write transaction this process commits. Event consumers wait
    /// on it, then read the outbox after their cursor; it says only "something committed", so a wake-up
    /// may find nothing new. Writes by other processes (another node, the CLI) do not wake it: consumers
    /// also poll at a bounded interval.
    pub fn commits(&self) -> &Arc<tokio::sync::Notify> {
        &self.commits
    }

    /// Notified (`notify_one`: one waiting worker, or a permit for the next to wait) after a transaction
    /// of this process commits that made `work` (see [`Work`]): the workers of that work wait on it, and
    /// poll for work that came due by time alone or that another process made.
    pub fn work_made(&self, work: Work) -> &tokio::sync::Notify {
        self.signals.of(work)
    }

    /// Wakes every worker and every waiter on [`Store::commits`]: the clock moved (`POST
    /// /api/v1/_test/clock`), so work may have come due.
    pub fn wake_workers(&self) {
        self.signals.wake_all();
        self.commits.notify_waiters();
    }

    /// Records that a write on `conn` made work of `marks` ([`work`]'s marks): for its transaction's commit
    /// to wake, or at once outside a transaction. Call it after the write.
    pub(crate) fn made_work(&self, conn: &exec::Conn<'_>, marks: u8) {
        work::made(conn, &self.signals, marks);
    }

    /// Begins a write transaction that wakes [`Store::commits`] when it commits.
    pub(crate) async fn begin_tx(&self) -> Result<exec::Tx, sqlx::Error> {
        Ok(self
            .pools
            .begin()
            .await?
            .notifying(self.commits.clone(), self.on_commit.clone()))
    }

    /// [`Store::begin_tx`] for background work that yields SQLite's one writer to requests
    /// ([`exec::Pools::begin_yielding`]).
    pub(crate) async fn begin_background_tx(&self) -> Result<exec::Tx, sqlx::Error> {
        Ok(self
            .pools
            .begin_yielding()
            .await?
            .notifying(self.commits.clone(), self.on_commit.clone()))
    }

    /// Whether `sql` finds a row: the checks of the workers commits wake (a delivery, flow run or
    /// approval timer due?), which often find nothing. On SQLite on a direct connection, on this thread
    /// (a read connection's thread would cost two hand-offs per check, several per commit).
    pub(crate) async fn probe(&self, sql: exec::Sql) -> Result<bool, sqlx::Error> {
        let mut pooled = self.pools.read_direct().await?;
        let rows = pooled.conn().fetch_rows(sql).await?;
        Ok(!rows.is_empty())
    }

    /// Changes whenever a credential may have changed: a token, member, installation or app secret changed
    /// on this node, or on another within [`SYNC_INTERVAL`]. Long-lived connections (stream mode) wait on it
    /// to re-check what they were opened with.
    pub fn credential_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.caches.credential_changes()
    }

    /// What this node's credential and schema caches have done (see the `cache` module).
    pub fn cache_stats(&self) -> CacheStats {
        self.caches.stats()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The handle for one organization's data. Every tenant query goes through it.
    pub fn tenant(&self, org_id: OrgId) -> Tenant<'_> {
        Tenant {
            store: self,
            org_id,
        }
    }
}

/// Access to one organization's data. The organization id it carries is bound into every statement.
#[derive(Clone, Copy)]
pub struct Tenant<'s> {
    store: &'s Store,
    org_id: OrgId,
}

impl std::fmt::Debug for Tenant<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenant")
            .field("org_id", &self.org_id)
            .finish()
    }
}

impl Tenant<'_> {
    pub fn org_id(&self) -> OrgId {
        self.org_id
    }
}

/// Who is writing, recorded in the audit entry of the change.
#[derive(Debug, Clone)]
pub struct WriteContext {
    pub actor: Actor,
    /// The request that caused the change, if it came over HTTP.
    pub request_id: Option<String>,
}

impl WriteContext {
    pub fn system() -> Self {
        WriteContext {
            actor: Actor::System,
            request_id: None,
        }
    }
}
