//! App permissions (issue #19): the stored document of an app and the person a request acts for.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};
use tenon_model::apps::App;
use tenon_model::apps::permissions::{PermissionsDoc, Person};
use tenon_model::{Action, AppId, DepartmentId, MemberId, Role, TableId, TargetKind};
use uuid::Uuid;

use crate::audit::{self, Change};
use crate::cache::ResolvedAccess;
use crate::exec::Sql;
use crate::rows::corrupt;
use crate::{Result, Tenant, WriteContext};

/// A member as app permissions see them: their organization role and the person rules are read for.
#[derive(Debug, Clone)]
pub struct PermissionSubject {
    pub role: Role,
    pub person: Arc<Person>,
}

impl Tenant<'_> {
    /// The app's permissions document, `None` when the app has none (every member reads and writes).
    pub async fn app_permissions(&self, app: AppId) -> Result<Option<Value>> {
        let mut pooled = self.store.pools.read().await?;
        let row: Option<(String,)> = pooled
            .conn()
            .fetch_optional(
                Sql::new(
                    "SELECT document FROM app_permissions WHERE organization_id = $1 AND app_id = $2",
                )
                .bind(self.org_id)
                .bind(*app.as_uuid()),
            )
            .await?;
        row.map(|(text,)| {
            serde_json::from_str(&text).map_err(|_| corrupt("app permissions", &text))
        })
        .transpose()
    }

    /// The app's permissions document, parsed, from this node's cache when it can (`None`: the app has
    /// none). A stored document that no longer parses grants nothing. What every record request of a
    /// member reads: cached, a limited member's request pays no statement for it.
    pub async fn app_permissions_doc(&self, app: AppId) -> Result<Option<Arc<PermissionsDoc>>> {
        let caches = &self.store.caches;
        let key = (self.org_id, app);
        if caches.fresh()
            && let Some(document) = caches.permissions.get(&key)
        {
            return Ok(document);
        }
        let generation = caches.permissions.generation();
        let document = self.app_permissions(app).await?.map(|value| {
            // Stored documents were checked when saved.
            Arc::new(PermissionsDoc::parse(&value).unwrap_or_default())
        });
        caches.permissions.insert(key, document.clone(), generation);
        Ok(document)
    }

    /// The generation to pass to [`Tenant::keep_resolved_access`]: read it before reading what the
    /// access is resolved from (the permissions document, the member, the schemas).
    pub fn resolved_access_generation(&self) -> u64 {
        self.store.caches.resolved.generation()
    }

    /// What the caller kept of `member`'s access to `table` with [`Tenant::keep_resolved_access`], while
    /// nothing it was resolved from changed (on any node, within the caches' sync interval).
    pub fn resolved_access(&self, member: MemberId, table: TableId) -> Option<ResolvedAccess> {
        let caches = &self.store.caches;
        if !caches.fresh() {
            return None;
        }
        caches.resolved.get(&(self.org_id, member, table))
    }

    /// Keeps what the caller resolved of `member`'s access to `table`, unless something it was resolved
    /// from changed since `generation` ([`Tenant::resolved_access_generation`]).
    pub fn keep_resolved_access(
        &self,
        member: MemberId,
        table: TableId,
        value: ResolvedAccess,
        generation: u64,
    ) {
        self.store
            .caches
            .resolved
            .insert((self.org_id, member, table), value, generation);
    }

    /// The apps of the organization that have a permissions document, each with it (the others let
    /// every member read and write).
    pub async fn permissioned_apps(&self) -> Result<Vec<(AppId, Value)>> {
        let mut pooled = self.store.pools.read().await?;
        let rows: Vec<(Uuid, String)> = pooled
            .conn()
            .fetch_all(
                Sql::new("SELECT app_id, document FROM app_permissions WHERE organization_id = $1")
                    .bind(self.org_id),
            )
            .await?;
        rows.into_iter()
            .map(|(app, text)| {
                serde_json::from_str(&text)
                    .map(|document| (AppId::from_uuid(app), document))
                    .map_err(|_| corrupt("app permissions", &text))
            })
            .collect()
    }

    /// Replaces the app's permissions (`None` removes them), audited as a change of the app with its
    /// `permissions` before and after (a `schema.changed` event).
    pub async fn set_app_permissions(
        &self,
        ctx: &WriteContext,
        app: &App,
        document: Option<&Value>,
    ) -> Result<()> {
        let before = self.app_permissions(app.id).await?;
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        conn.execute(
            Sql::new("DELETE FROM app_permissions WHERE organization_id = $1 AND app_id = $2")
                .bind(self.org_id)
                .bind(*app.id.as_uuid()),
        )
        .await?;
        if let Some(document) = document {
            conn.execute(
                Sql::new(
                    "INSERT INTO app_permissions (organization_id, app_id, document, updated_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(self.org_id)
                .bind(*app.id.as_uuid())
                .bind(document.to_string())
                .bind(self.store.now()),
            )
            .await?;
        }
        let snapshot = |permissions: Option<&Value>| json!({"id": app.id.to_string(), "key": app.key.as_str(), "permissions": permissions});
        audit::record(
            &mut conn,
            self,
            Change {
                target_kind: TargetKind::App,
                target_id: app.id.to_string(),
                action: Action::Updated,
                before: Some(snapshot(before.as_ref())),
                after: Some(snapshot(document)),
                ctx,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The member's organization role and the values row rules read (departments, custom roles, the
    /// department tree), from this node's cache when it can; three queries when it cannot.
    pub async fn permission_subject(&self, member: MemberId) -> Result<PermissionSubject> {
        let caches = &self.store.caches;
        let key = (self.org_id, member);
        if caches.fresh()
            && let Some((role, person)) = caches.subjects.get(&key)
        {
            return Ok(PermissionSubject { role, person });
        }
        let generation = caches.subjects.generation();
        let found = self.member(member).await?;
        let roles = self
            .list_roles()
            .await?
            .into_iter()
            .filter(|role| role.member_ids.contains(&member))
            .map(|role| (role.key, role.name))
            .collect();
        let person = Arc::new(Person {
            member,
            departments: found.department_ids,
            roles,
            parents: self.department_parents().await?,
        });
        caches
            .subjects
            .insert(key, (found.role, person.clone()), generation);
        Ok(PermissionSubject {
            role: found.role,
            person,
        })
    }

    /// Every department of the organization with its parent.
    pub async fn department_parents(&self) -> Result<HashMap<DepartmentId, Option<DepartmentId>>> {
        let mut pooled = self.store.pools.read().await?;
        let rows: Vec<(Uuid, Option<Uuid>)> = pooled
            .conn()
            .fetch_all(
                Sql::new("SELECT id, parent_id FROM departments WHERE organization_id = $1")
                    .bind(self.org_id),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, parent)| {
                (
                    DepartmentId::from_uuid(id),
                    parent.map(DepartmentId::from_uuid),
                )
            })
            .collect())
    }
}
