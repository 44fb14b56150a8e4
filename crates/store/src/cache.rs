//! Per-node caches of what nearly every request reads and seldom changes: bearer credentials (by digest),
//! table schemas (by organization, app and table reference), published approval process versions
//! compiled against their table (by organization, process and version; invalidated with the schemas),
//! the flows that watch a table (kept with the schemas),
//! and what app permissions read on every record request of a limited member (issue #19): the app's
//! permissions document, parsed, and the member as row rules see them (role, departments, custom roles,
//! the department tree), and organizations (their time zone dates every filter).
//!
//! Staleness is bounded three ways:
//!
//! - **This process's writes** invalidate at their commit. The audit hook marks the transaction
//!   ([`crate::exec::Conn::mark`]) for every change of a token, member, installation or organization
//!   ([`AUTH`]), of an app, table, field or view ([`SCHEMA`]) and of a member, department, custom role,
//!   organization or app's permissions ([`ACCESS`]); [`crate::exec::Tx::commit`] applies the marks after
//!   the commit. A revoked token is refused, and a changed permission applied, by the next request on the
//!   node that made the change.
//! - **Other processes' writes** (other nodes on PostgreSQL, the CLI on SQLite, even hand-written SQL)
//!   bump a row of `cache_epochs` from database triggers in the writing transaction (migrations 0010,
//!   0048 and 0049), so the bump commits with the change. Every node reads the epochs every [`SYNC_INTERVAL`] and invalidates
//!   what changed: another node's change reaches this one within that interval.
//! - **A node that cannot read the epochs** (database unreachable, migrations not run) does not use its
//!   caches: entries are served only while the last successful read is younger than [`FRESH_FOR`].
//!
//! - **Members as DingTalk's answers name them** ([`Caches::people`]) are not trusted on the poll: each
//!   entry keeps the `directory` epoch (migration 0044) it was read at, and a read that uses them reads
//!   the epoch in the same statement as what it reads anyway; an entry is served only when its epoch is
//!   the one just read. A rename or a new userid committed on any node is thus seen by the next read on
//!   every node, at the cost of no statement of its own.
//!
//! - **Directories as approver rules read them** ([`Caches::approvers`]) are kept the same way, at the
//!   `approvers` epoch (migration 0050), which an approval command reads with its instance.
//!
//! Invalidation is by generation: an entry loaded under generation `g` is stored only if the generation is
//! still `g` when it is inserted, and served only while it is. A load that raced with an invalidation is
//! thus never served. The caches hold at most [`CREDENTIALS_MAX`], [`SCHEMAS_MAX`] and [`ACCESS_MAX`] entries and are emptied
//! when full, so a node's memory stays small whatever the number of tokens and tables.

use std::any::Any;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tenon_approvals::{CompiledProcess, DirectorySnapshot};
use tenon_model::apps::TableSchema;
use tenon_model::apps::permissions::{PermissionsDoc, Person};
use tenon_model::credentials::AuthenticatedToken;
use tenon_model::{AppId, MemberId, OrgId, Organization, ProcessId, Role, TableId};

use crate::exec::{Pools, Sql};

/// A member as DingTalk's workflow answers name it (kept in [`Caches::people`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DingTalkPerson {
    pub userid: String,
    pub name: String,
    /// The number and name of the member's first department (the root when it has none).
    pub department: Option<(i64, String)>,
}

/// Mark: credentials (tokens, members, installations, organizations) changed.
pub(crate) const AUTH: u8 = 1;
/// Mark: schemas (apps, tables, fields, views) changed.
pub(crate) const SCHEMA: u8 = 2;
/// Mark: what app permissions read changed (an app's permissions document, a member's departments or
/// custom roles, the department tree).
pub(crate) const ACCESS: u8 = 4;
/// Mark: a ledger book gained accounts (its chart changed).
pub(crate) const CHART: u8 = 8;

/// How often a node reads `cache_epochs`: the bound on how long another node's change goes unseen.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(250);
/// Entries are served only this long after the last successful read of `cache_epochs`.
pub const FRESH_FOR: Duration = Duration::from_secs(2);
/// Credentials kept per node before the cache is emptied (about 1 KiB each).
const CREDENTIALS_MAX: usize = 4096;
/// Schemas kept per node before the cache is emptied (a few KiB each, more for wide tables).
const SCHEMAS_MAX: usize = 512;
/// Members kept per node as DingTalk names them before the cache is emptied (about 200 bytes each).
const PEOPLE_MAX: usize = 16_384;
/// Organizations' directories kept per node for approval commands before the cache is emptied (one
/// member, department or role is tens of bytes; a directory of 10,000 members about a MiB).
const APPROVERS_MAX: usize = 64;
/// Apps' permissions documents and members as row rules see them, kept per node before each cache is
/// emptied (a few KiB each; a person holds the organization's department tree).
const ACCESS_MAX: usize = 4096;

/// A statement's column holding the `directory` epoch (NULL before migration 0044): what entries of
/// [`Caches::people`] are checked against.
pub(crate) const DIRECTORY_EPOCH: &str =
    "(SELECT epoch FROM cache_epochs WHERE name = 'directory')";

/// A value a caller derived from the permissions, people, organizations and schemas caches.
pub type ResolvedAccess = Arc<dyn Any + Send + Sync>;

/// A schema's cache key: the organization and the app and table references as the request gave them.
pub(crate) type SchemaKey = (OrgId, String, String);

/// A compiled process version's cache key: the organization, the process and the version.
pub(crate) type ProcessKey = (OrgId, ProcessId, i32);

/// A published flow version's cache key: the organization, the flow and the version.
pub(crate) type FlowKey = (OrgId, tenon_model::FlowId, i32);

/// A published, enabled flow watching a table ([`Caches::watching`]).
pub(crate) struct WatchingFlow {
    pub id: tenon_model::FlowId,
    pub key: String,
    pub version: i32,
    pub compiled: tenon_flows::compile::CompiledFlow,
}

/// What a node's caches have done, for tests and diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// Whether entries are being served (the epochs were read less than [`FRESH_FOR`] ago).
    pub fresh: bool,
    /// Bearer credentials answered from the cache.
    pub credential_hits: u64,
    /// Table schemas answered from the cache.
    pub schema_hits: u64,
    /// Members answered from the cache as DingTalk names them (checked against the `directory` epoch).
    pub people_hits: u64,
}

/// The caches of one store (one node).
pub(crate) struct Caches {
    pub(crate) auth: GenerationCache<[u8; 32], AuthenticatedToken>,
    pub(crate) schemas: GenerationCache<SchemaKey, TableSchema>,
    /// Published process versions compiled against their table (a version never changes; its table
    /// may, so these go with the schemas).
    pub(crate) processes: GenerationCache<ProcessKey, Arc<CompiledProcess>>,
    /// Published flow versions as compiled when published (a version row never changes; a deleted
    /// flow's runs go with it, so nothing asks for its versions after).
    pub(crate) flows: GenerationCache<FlowKey, Arc<tenon_flows::compile::CompiledFlow>>,
    /// The published, enabled flows that watch a table's records, read by every record write (most
    /// tables: none). Kept with the schemas: a flow's change marks [`SCHEMA`] and bumps the `schema`
    /// epoch (migration 0049).
    pub(crate) watching: GenerationCache<(OrgId, TableId), Arc<[WatchingFlow]>>,
    /// Ledger books' charts of accounts. Accounts are only ever added, never changed or removed but with
    /// their book, so a kept chart is served while the book holds as many accounts as it does (one
    /// `COUNT`); adding accounts also marks [`CHART`].
    pub(crate) charts: GenerationCache<(OrgId, tenon_model::BookId), Arc<tenon_ledger::Chart>>,
    /// Members as DingTalk's answers name them, each with the `directory` epoch it was read at: served
    /// only to a read that has just read the same epoch (see the module's documentation), whatever the
    /// poll says.
    pub(crate) people: GenerationCache<(OrgId, MemberId), (i64, Arc<DingTalkPerson>)>,
    /// Organizations' directories as approver rules read them, each with the `approvers` epoch
    /// (migration 0050) it was read at: like [`Caches::people`], served only to a command that has just
    /// read the same epoch in its own transaction (`Tenant::directory_at`), whatever the poll says.
    pub(crate) approvers: GenerationCache<OrgId, (i64, Arc<DirectorySnapshot>)>,
    /// Apps' permissions documents, parsed (`None`: the app has none). Invalidated by [`ACCESS`] and
    /// [`SCHEMA`] marks and by the `access` and `schema` epochs.
    pub(crate) permissions: GenerationCache<(OrgId, AppId), Option<Arc<PermissionsDoc>>>,
    /// Members as app permissions see them: their organization role and the person row rules read.
    /// Invalidated by [`ACCESS`] and [`AUTH`] marks and by the `access` and `auth` epochs.
    pub(crate) subjects: GenerationCache<(OrgId, MemberId), (Role, Arc<Person>)>,
    /// Organizations (name, time zone, locale), which every record request reads for its filters'
    /// dates. Invalidated with [`Caches::subjects`].
    pub(crate) organizations: GenerationCache<OrgId, Organization>,
    /// What a caller resolved of a member's access to a table from the entries above and the table's
    /// schemas (the server's value, opaque here). Invalidated with every cache it is made of.
    pub(crate) resolved: GenerationCache<(OrgId, MemberId, TableId), ResolvedAccess>,
    /// Set at creation; `fresh_until` counts milliseconds from it.
    started: Instant,
    /// Milliseconds after `started` until which entries may be served; 0 before the first sync.
    fresh_until: AtomicU64,
    /// Counts invalidations of the credential cache, for long-lived connections that must re-check theirs.
    credential_changes: tokio::sync::watch::Sender<u64>,
}

impl Caches {
    pub(crate) fn new() -> Self {
        Caches {
            auth: GenerationCache::new(CREDENTIALS_MAX),
            schemas: GenerationCache::new(SCHEMAS_MAX),
            processes: GenerationCache::new(SCHEMAS_MAX),
            flows: GenerationCache::new(SCHEMAS_MAX),
            watching: GenerationCache::new(SCHEMAS_MAX),
            charts: GenerationCache::new(SCHEMAS_MAX),
            people: GenerationCache::new(PEOPLE_MAX),
            approvers: GenerationCache::new(APPROVERS_MAX),
            permissions: GenerationCache::new(ACCESS_MAX),
            subjects: GenerationCache::new(ACCESS_MAX),
            organizations: GenerationCache::new(ACCESS_MAX),
            resolved: GenerationCache::new(ACCESS_MAX),
            started: Instant::now(),
            fresh_until: AtomicU64::new(0),
            credential_changes: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Whether entries may be served now.
    pub(crate) fn fresh(&self) -> bool {
        self.millis() < self.fresh_until.load(Ordering::Acquire)
    }

    fn millis(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn synced(&self) {
        let until = self
            .millis()
            .saturating_add(u64::try_from(FRESH_FOR.as_millis()).unwrap_or(u64::MAX));
        self.fresh_until.store(until, Ordering::Release);
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            fresh: self.fresh(),
            credential_hits: self.auth.hits.load(Ordering::Relaxed),
            schema_hits: self.schemas.hits.load(Ordering::Relaxed),
            people_hits: self.people.hits.load(Ordering::Relaxed),
        }
    }

    /// Wakes on every invalidation of the credential cache: a change of this node's, or one another
    /// process made, seen within [`SYNC_INTERVAL`].
    pub(crate) fn credential_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.credential_changes.subscribe()
    }

    fn invalidate_schemas(&self) {
        self.schemas.invalidate();
        self.processes.invalidate();
        self.flows.invalidate();
        self.watching.invalidate();
        // An app deleted takes its permissions with it.
        self.permissions.invalidate();
        self.resolved.invalidate();
    }

    fn invalidate_credentials(&self) {
        self.auth.invalidate();
        // A member's organization role or status; an organization.
        self.subjects.invalidate();
        self.organizations.invalidate();
        self.resolved.invalidate();
        self.credential_changes.send_modify(|changes| *changes += 1);
    }

    fn invalidate_access(&self) {
        self.permissions.invalidate();
        self.subjects.invalidate();
        self.organizations.invalidate();
        self.resolved.invalidate();
    }

    /// Invalidates the caches named by `marks`.
    pub(crate) fn invalidate(&self, marks: u8) {
        if marks & AUTH != 0 {
            self.invalidate_credentials();
        }
        if marks & SCHEMA != 0 {
            self.invalidate_schemas();
        }
        if marks & ACCESS != 0 {
            self.invalidate_access();
        }
        if marks & CHART != 0 {
            self.charts.invalidate();
        }
    }
}

/// A map whose entries are valid for the generation they were loaded under.
pub(crate) struct GenerationCache<K, V> {
    capacity: usize,
    generation: AtomicU64,
    entries: Mutex<HashMap<K, (u64, V)>>,
    /// Lookups answered from the cache.
    hits: AtomicU64,
}

impl<K: Eq + Hash, V: Clone> GenerationCache<K, V> {
    fn new(capacity: usize) -> Self {
        GenerationCache {
            capacity,
            generation: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
        }
    }

    /// The generation to pass to [`GenerationCache::insert`]: read it before loading.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(crate) fn get(&self, key: &K) -> Option<V> {
        self.get_if(key, |_| true)
    }

    /// The entry for `key` if it is of this generation and `valid` holds for it.
    pub(crate) fn get_if(&self, key: &K, valid: impl Fn(&V) -> bool) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        let generation = self.generation();
        let value = entries
            .get(key)
            .filter(|(loaded, value)| *loaded == generation && valid(value))
            .map(|(_, value)| value.clone());
        if value.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        value
    }

    /// Stores `value` loaded under `generation`, unless an invalidation came since.
    pub(crate) fn insert(&self, key: K, value: V, generation: u64) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if self.generation() != generation {
            return;
        }
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(key, (generation, value));
    }

    /// Drops the entries for which `stale` holds (this process changed them without an audited write).
    pub(crate) fn remove_where(&self, stale: impl Fn(&V) -> bool) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, (_, value)| !stale(value));
        }
    }

    pub(crate) fn invalidate(&self) {
        // Under the lock, so an insert either lands before (and is cleared) or sees the new generation.
        let mut entries = match self.entries.lock() {
            Ok(entries) => entries,
            Err(poisoned) => poisoned.into_inner(),
        };
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }
}

/// Reads `cache_epochs` every [`SYNC_INTERVAL`] while the store lives, invalidating what other processes
/// changed. Ends when the store's caches are dropped.
pub(crate) fn spawn_sync(pools: Pools, caches: &Arc<Caches>) {
    let weak: Weak<Caches> = Arc::downgrade(caches);
    // Outside a Tokio runtime there is nothing to keep in sync with: the caches stay unused.
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let mut seen: Option<Epochs> = None;
        let mut ticker = tokio::time::interval(SYNC_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let Some(caches) = weak.upgrade() else {
                return;
            };
            match read_epochs(&pools).await {
                Ok(epochs) => {
                    // The first read (and the first after a gap) cannot know what changed: all did.
                    if seen.is_none_or(|seen| seen.auth != epochs.auth) {
                        caches.invalidate_credentials();
                    }
                    if seen.is_none_or(|seen| seen.schema != epochs.schema) {
                        caches.invalidate_schemas();
                    }
                    if seen.is_none_or(|seen| seen.access != epochs.access) {
                        caches.invalidate_access();
                    }
                    seen = Some(epochs);
                    caches.synced();
                }
                Err(sqlx::Error::PoolClosed) => return,
                Err(error) => {
                    tracing::debug!(%error, "cannot read cache_epochs; the caches are not used");
                    // Changes may be missed until the next read: serve nothing, and the next successful
                    // read starts over.
                    caches.fresh_until.store(0, Ordering::Release);
                    seen = None;
                }
            }
        }
    });
}

/// The epochs a node's caches follow.
#[derive(Debug, Clone, Copy)]
struct Epochs {
    auth: i64,
    schema: i64,
    access: i64,
}

async fn read_epochs(pools: &Pools) -> Result<Epochs, sqlx::Error> {
    let mut pooled = pools.read().await?;
    let rows: Vec<(String, i64)> = pooled
        .conn()
        .fetch_all(Sql::new("SELECT name, epoch FROM cache_epochs"))
        .await?;
    let epoch = |name: &str| {
        rows.iter()
            .find(|(row, _)| row == name)
            .map(|(_, epoch)| *epoch)
            .ok_or_else(|| sqlx::Error::RowNotFound)
    };
    Ok(Epochs {
        auth: epoch("auth")?,
        schema: epoch("schema")?,
        access: epoch("access")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalidation_drops_entries_and_refuses_loads_that_began_before_it() {
        let cache: GenerationCache<u8, &str> = GenerationCache::new(2);
        let before = cache.generation();
        cache.insert(1, "one", before);
        assert_eq!(cache.get(&1), Some("one"));
        // A load begins, an invalidation lands, the load finishes: its value is not kept.
        let loading = cache.generation();
        cache.invalidate();
        cache.insert(2, "stale", loading);
        assert_eq!(cache.get(&1), None);
        assert_eq!(cache.get(&2), None);
        cache.insert(2, "fresh", cache.generation());
        assert_eq!(cache.get(&2), Some("fresh"));
        cache.remove_where(|value| *value == "fresh");
        assert_eq!(cache.get(&2), None);
        // Full: emptied before the next insert.
        let now = cache.generation();
        cache.insert(3, "three", now);
        cache.insert(4, "four", now);
        cache.insert(5, "five", now);
        assert_eq!((cache.get(&3), cache.get(&5)), (None, Some("five")));
    }

    #[test]
    fn marks_invalidate_only_their_cache_and_nothing_is_fresh_before_a_sync() {
        let caches = Caches::new();
        assert!(!caches.fresh());
        caches.synced();
        assert!(caches.fresh());
        let (auth, schema) = (caches.auth.generation(), caches.schemas.generation());
        caches.invalidate(SCHEMA);
        assert_eq!(caches.auth.generation(), auth);
        assert_eq!(caches.schemas.generation(), schema + 1);
        caches.invalidate(AUTH | SCHEMA);
        assert_eq!(caches.auth.generation(), auth + 1);
        assert_eq!(caches.schemas.generation(), schema + 2);
        // Access follows its own mark, a member's role (auth) and an app's deletion (schema).
        let (permissions, subjects) = (
            caches.permissions.generation(),
            caches.subjects.generation(),
        );
        caches.invalidate(ACCESS);
        assert_eq!(caches.auth.generation(), auth + 1);
        assert_eq!(caches.schemas.generation(), schema + 2);
        assert_eq!(caches.permissions.generation(), permissions + 1);
        assert_eq!(caches.subjects.generation(), subjects + 1);
        caches.invalidate(AUTH);
        assert_eq!(caches.subjects.generation(), subjects + 2);
        assert_eq!(caches.permissions.generation(), permissions + 1);
        caches.invalidate(SCHEMA);
        assert_eq!(caches.permissions.generation(), permissions + 2);
        assert_eq!(caches.subjects.generation(), subjects + 2);
    }
}
