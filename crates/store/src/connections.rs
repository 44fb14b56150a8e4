//! Connections (migration `0036_connections`): an organization's stored credentials for outside systems,
//! named by key in flow steps. Secrets are write-only: they are encrypted with the node's
//! [`SecretKey`] (XChaCha20-Poly1305, a fresh 24-byte nonce per write, the organization and the
//! connection's key as associated data, so a sealed value copied to another row does not open) and
//! only their names are ever read back. Only the flow workers open them, to send a request.
//!
//! Every change is audited (`connection.created|updated|deleted`, target id the key) in its own
//! transaction; the snapshots carry `secret_names`, never a secret, and an update's `after` names the
//! secrets it set or removed (`secrets_changed`). Connections have no events.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tenon_model::apps::ApiKey;
use tenon_model::{Action, DetailCode, TargetKind};

use crate::audit::{self, Change};
use crate::exec::{Conn, Sql};
use crate::{Result, StoreError, Tenant, WriteContext};

pub use crate::secret_key::{SECRET_KEY_BYTES, SecretKey};

/// A connection as it may be shown: never its secrets, only their names.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    pub key: String,
    pub name: String,
    pub kind: String,
    pub config: Value,
    /// Which secrets are set.
    pub secret_names: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A connection to create.
#[derive(Clone)]
pub struct NewConnection {
    pub key: ApiKey,
    pub name: String,
    pub kind: String,
    pub config: Value,
    pub secrets: BTreeMap<String, String>,
}

/// Changes to a connection: `secrets` entries set a secret (`Some`) or remove it (`None`); secrets not
/// named are kept.
#[derive(Clone, Default)]
pub struct ConnectionPatch {
    pub name: Option<String>,
    pub config: Option<Value>,
    pub secrets: BTreeMap<String, Option<String>>,
}

/// A connection as the audit log keeps it: its secrets' names, never their values.
fn snapshot(connection: &Connection) -> Value {
    json!({
        "key": connection.key,
        "name": connection.name,
        "kind": connection.kind,
        "config": connection.config,
        "secret_names": connection.secret_names,
    })
}

#[derive(sqlx::FromRow)]
struct ConnectionRow {
    key: String,
    name: String,
    kind: String,
    config: sqlx::types::Json<Value>,
    secret: Option<Vec<u8>>,
    secret_names: sqlx::types::Json<Vec<String>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl ConnectionRow {
    fn shown(&self) -> Connection {
        Connection {
            key: self.key.clone(),
            name: self.name.clone(),
            kind: self.kind.clone(),
            config: self.config.0.clone(),
            secret_names: self.secret_names.0.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

impl Tenant<'_> {
    fn aad(&self, key: &str) -> Vec<u8> {
        format!("tenon.connection:{}:{key}", self.org_id.as_uuid()).into_bytes()
    }

    fn seal_secrets(
        &self,
        key: &str,
        secrets: &BTreeMap<String, String>,
    ) -> Result<Option<Vec<u8>>> {
        if secrets.is_empty() {
            return Ok(None);
        }
        let Some(cipher) = self.store.secret_key.as_ref() else {
            return Err(StoreError::conflict(
                Some("secrets"),
                DetailCode::Conflict,
                "this server has no secret key to encrypt secrets with (tenon serve --secret-key-file)",
            ));
        };
        let plain = serde_json::to_vec(secrets).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        cipher.seal(&self.aad(key), &plain).map(Some)
    }

    fn open_secrets(&self, row: &ConnectionRow) -> Result<BTreeMap<String, String>> {
        let Some(sealed) = &row.secret else {
            return Ok(BTreeMap::new());
        };
        let cipher = self.store.secret_key.as_ref().ok_or_else(|| {
            StoreError::Config("this node has no secret key to open connection secrets".to_owned())
        })?;
        let plain = cipher.open(&self.aad(&row.key), sealed)?;
        serde_json::from_slice(&plain).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    async fn connection_row(
        &self,
        conn: &mut Conn<'_>,
        key: &str,
    ) -> Result<Option<ConnectionRow>> {
        Ok(conn
            .fetch_optional(
                Sql::new(
                    "SELECT key, name, kind, config, secret, secret_names, created_at, updated_at \
                     FROM connections WHERE organization_id = $1 AND key = $2",
                )
                .bind(self.org_id)
                .bind(key),
            )
            .await?)
    }

    /// A connection's kind, if the organization has it (publish checks of steps that name one).
    pub(crate) async fn connection_row_kind(
        &self,
        conn: &mut Conn<'_>,
        key: &str,
    ) -> Result<Option<String>> {
        Ok(self.connection_row(conn, key).await?.map(|row| row.kind))
    }

    /// The organization's connections, by key.
    pub async fn list_connections(&self) -> Result<Vec<Connection>> {
        let mut pooled = self.store.pools.read().await?;
        let rows: Vec<ConnectionRow> = pooled
            .conn()
            .fetch_all(
                Sql::new(
                    "SELECT key, name, kind, config, secret, secret_names, created_at, updated_at \
                     FROM connections WHERE organization_id = $1 ORDER BY key",
                )
                .bind(self.org_id),
            )
            .await?;
        Ok(rows.iter().map(ConnectionRow::shown).collect())
    }

    pub async fn connection(&self, key: &str) -> Result<Connection> {
        let mut pooled = self.store.pools.read().await?;
        self.connection_row(&mut pooled.conn(), key)
            .await?
            .map(|row| row.shown())
            .ok_or_else(|| StoreError::not_found("connection"))
    }

    /// The connection with its secrets opened: for a flow worker about to send a request.
    pub(crate) async fn connection_secrets(
        &self,
        conn: &mut Conn<'_>,
        key: &str,
    ) -> Result<Option<(Connection, BTreeMap<String, String>)>> {
        let Some(row) = self.connection_row(conn, key).await? else {
            return Ok(None);
        };
        let secrets = self.open_secrets(&row)?;
        Ok(Some((row.shown(), secrets)))
    }

    /// What the database holds for a connection's secrets (nonce and ciphertext): for audits and tests
    /// that the clear text is not stored.
    pub async fn connection_sealed_secrets(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let mut pooled = self.store.pools.read().await?;
        Ok(self
            .connection_row(&mut pooled.conn(), key)
            .await?
            .and_then(|row| row.secret))
    }

    pub async fn create_connection(
        &self,
        ctx: &WriteContext,
        new: NewConnection,
    ) -> Result<Connection> {
        tenon_flows::connection::check(&new.kind, &new.config, &new.secrets)?;
        let now = self.store.now();
        let sealed = self.seal_secrets(new.key.as_str(), &new.secrets)?;
        let names: Vec<String> = new.secrets.keys().cloned().collect();
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let inserted = conn
            .execute(
                Sql::new(
                    "INSERT INTO connections (organization_id, key, name, kind, config, secret, secret_names, \
                     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
                )
                .bind(self.org_id)
                .bind(new.key.as_str())
                .bind(new.name.as_str())
                .bind(new.kind.as_str())
                .bind(new.config.clone())
                .bind(sealed)
                .bind(json!(names))
                .bind(now),
            )
            .await;
        if let Err(error) = inserted {
            return Err(match crate::error::unique_violation(&error) {
                Some(_) => StoreError::conflict(
                    Some("key"),
                    DetailCode::NotUnique,
                    format!("a connection with key \"{}\" exists", new.key),
                ),
                None => error.into(),
            });
        }
        let connection = Connection {
            key: new.key.as_str().to_owned(),
            name: new.name,
            kind: new.kind,
            config: new.config,
            secret_names: names,
            created_at: now,
            updated_at: now,
        };
        self.audit_connection(
            &mut conn,
            ctx,
            Action::Created,
            None,
            Some(&connection),
            &[],
        )
        .await?;
        tx.commit().await?;
        Ok(connection)
    }

    pub async fn update_connection(
        &self,
        ctx: &WriteContext,
        key: &str,
        patch: ConnectionPatch,
    ) -> Result<Connection> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let row = self
            .connection_row(&mut conn, key)
            .await?
            .ok_or_else(|| StoreError::not_found("connection"))?;
        let mut secrets = if patch.secrets.is_empty() {
            BTreeMap::new()
        } else {
            self.open_secrets(&row)?
        };
        let secrets_changed: Vec<String> = patch.secrets.keys().cloned().collect();
        let config = patch.config.unwrap_or_else(|| row.config.0.clone());
        let sealed = if patch.secrets.is_empty() {
            // The secrets are unchanged: check the config against their names only.
            let names: BTreeMap<String, String> = row
                .secret_names
                .0
                .iter()
                .map(|name| (name.clone(), "…".to_owned()))
                .collect();
            tenon_flows::connection::check(&row.kind, &config, &names)?;
            row.secret.clone()
        } else {
            for (name, value) in patch.secrets {
                match value {
                    Some(value) => secrets.insert(name, value),
                    None => secrets.remove(&name),
                };
            }
            tenon_flows::connection::check(&row.kind, &config, &secrets)?;
            self.seal_secrets(key, &secrets)?
        };
        let names: Vec<String> = if sealed == row.secret {
            row.secret_names.0.clone()
        } else {
            secrets.keys().cloned().collect()
        };
        let name = patch.name.unwrap_or_else(|| row.name.clone());
        let now = self.store.now();
        conn.execute(
            Sql::new(
                "UPDATE connections SET name = $3, config = $4, secret = $5, secret_names = $6, updated_at = $7 \
                 WHERE organization_id = $1 AND key = $2",
            )
            .bind(self.org_id)
            .bind(key)
            .bind(name.as_str())
            .bind(config.clone())
            .bind(sealed)
            .bind(json!(names))
            .bind(now),
        )
        .await?;
        let before = row.shown();
        let after = Connection {
            key: row.key,
            name,
            kind: row.kind,
            config,
            secret_names: names,
            created_at: row.created_at,
            updated_at: now,
        };
        self.audit_connection(
            &mut conn,
            ctx,
            Action::Updated,
            Some(&before),
            Some(&after),
            &secrets_changed,
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    pub async fn delete_connection(&self, ctx: &WriteContext, key: &str) -> Result<()> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let before = self
            .connection_row(&mut conn, key)
            .await?
            .ok_or_else(|| StoreError::not_found("connection"))?
            .shown();
        let deleted = conn
            .execute(
                Sql::new("DELETE FROM connections WHERE organization_id = $1 AND key = $2")
                    .bind(self.org_id)
                    .bind(key),
            )
            .await?;
        if deleted == 0 {
            // Deleted meanwhile by another request, which audited it.
            return Err(StoreError::not_found("connection"));
        }
        self.audit_connection(&mut conn, ctx, Action::Deleted, Some(&before), None, &[])
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// One audit entry for a change; `secrets_changed` names the secrets an update set or removed (the
    /// names only: a rotated secret shows up without its value).
    async fn audit_connection(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        action: Action,
        before: Option<&Connection>,
        after: Option<&Connection>,
        secrets_changed: &[String],
    ) -> Result<()> {
        let key = after.or(before).map(|c| c.key.clone()).unwrap_or_default();
        let mut after = after.map(snapshot);
        if let (Some(after), false) = (after.as_mut(), secrets_changed.is_empty()) {
            after["secrets_changed"] = json!(secrets_changed);
        }
        audit::record(
            conn,
            self,
            Change {
                target_kind: TargetKind::Connection,
                target_id: key,
                action,
                before: before.map(snapshot),
                after,
                ctx,
            },
        )
        .await
    }
}
