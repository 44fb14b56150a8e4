//! Organizations: creation (with their root department and first owner), lookup and settings.

use tenon_model::{
    Action, DepartmentId, DetailCode, Locale, Member, NewMember, OrgId, Organization,
    OrganizationPatch, Role, TargetKind, TimeZone,
};

use crate::audit::{self, Change};
use crate::exec::{Conn, Sql};
use crate::rows::{OrganizationRow, organization_columns};
use crate::{Result, Store, StoreError, Tenant, WriteContext};

/// An organization to create, with the member who will own it.
#[derive(Debug, Clone)]
pub struct NewOrganization {
    pub name: tenon_model::Name,
    pub time_zone: TimeZone,
    pub locale: Locale,
    /// Becomes the first member, with role owner, in the root department.
    pub owner: NewMember,
}

impl Store {
    /// Creates an organization, its root department (named like the organization) and its owner, in one
    /// transaction.
    pub async fn create_organization(
        &self,
        ctx: &WriteContext,
        new: NewOrganization,
    ) -> Result<(Organization, Member)> {
        let org_id = OrgId::new();
        let root_id = DepartmentId::new();
        let now = self.now();
        let mut tx = self.begin_tx().await?;
        let mut conn = tx.conn();
        conn.execute(
            Sql::new(
                "INSERT INTO organizations (id, name, time_zone, locale, root_department_id, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(org_id)
            .bind(new.name.as_str())
            .bind(new.time_zone.name())
            .bind(new.locale.as_str())
            .bind(root_id)
            .bind(now),
        )
        .await?;
        conn.execute(
            Sql::new(
                "INSERT INTO departments (organization_id, id, name, parent_id, sort_order, number, created_at, updated_at) \
                 VALUES ($1, $2, $3, NULL, 0, 1, $4, $4)",
            )
            .bind(org_id)
            .bind(root_id)
            .bind(new.name.as_str())
            .bind(now),
        )
        .await?;
        let organization = Organization {
            id: org_id,
            name: new.name,
            time_zone: new.time_zone,
            locale: new.locale,
            root_department_id: root_id,
            created_at: now,
        };
        let tenant = self.tenant(org_id);
        audit::record(
            &mut conn,
            &tenant,
            Change {
                target_kind: TargetKind::Organization,
                target_id: org_id.to_string(),
                action: Action::Created,
                before: None,
                after: Some(audit::organization_snapshot(&organization)),
                ctx,
            },
        )
        .await?;
        let owner = NewMember {
            role: Role::Owner,
            ..new.owner
        };
        let member = tenant.insert_member(&mut conn, ctx, owner, root_id).await?;
        tx.commit().await?;
        Ok((organization, member))
    }

    /// Finds an organization by id, or by exact name when the name is unique (for the CLI's `--org`).
    pub async fn resolve_organization(&self, id_or_name: &str) -> Result<Organization> {
        let mut pooled = self.pools.read().await?;
        let mut conn = pooled.conn();
        if let Ok(id) = id_or_name.parse::<OrgId>() {
            let sql = Sql::new(concat!(
                "SELECT ",
                organization_columns!(),
                " FROM organizations WHERE id = $1"
            ))
            .bind(id);
            if let Some(row) = conn.fetch_optional::<OrganizationRow>(sql).await? {
                return row.into_model();
            }
        }
        let sql = Sql::new(concat!(
            "SELECT ",
            organization_columns!(),
            " FROM organizations WHERE name = $1 ORDER BY id LIMIT 2"
        ))
        .bind(id_or_name);
        let mut rows: Vec<OrganizationRow> = conn.fetch_all(sql).await?;
        match (rows.pop(), rows.is_empty()) {
            (Some(row), true) => row.into_model(),
            (Some(_), false) => Err(StoreError::conflict(
                None,
                DetailCode::Conflict,
                format!("several organizations are named \"{id_or_name}\"; give the id instead"),
            )),
            (None, _) => Err(StoreError::not_found("organization")),
        }
    }

    /// All organizations, oldest first (for the CLI and the demo seeding; not exposed over HTTP).
    pub async fn list_organizations(&self) -> Result<Vec<Organization>> {
        let mut pooled = self.pools.read().await?;
        let sql = Sql::new(concat!(
            "SELECT ",
            organization_columns!(),
            " FROM organizations ORDER BY id"
        ));
        let rows: Vec<OrganizationRow> = pooled.conn().fetch_all(sql).await?;
        rows.into_iter().map(OrganizationRow::into_model).collect()
    }
}

impl Tenant<'_> {
    /// The organization, from this node's cache when it can (every record request reads it).
    pub async fn organization(&self) -> Result<Organization> {
        let caches = &self.store.caches;
        if caches.fresh()
            && let Some(organization) = caches.organizations.get(&self.org_id)
        {
            return Ok(organization);
        }
        let generation = caches.organizations.generation();
        let organization = self.load_organization().await?;
        caches
            .organizations
            .insert(self.org_id, organization.clone(), generation);
        Ok(organization)
    }

    /// [`Tenant::organization`] through a transaction's connection: from and into this node's cache,
    /// unless the transaction changed an organization or a member itself (then read, and not kept).
    pub(crate) async fn organization_in(&self, conn: &mut Conn<'_>) -> Result<Organization> {
        let caches = &self.store.caches;
        let cacheable = !conn.marked(crate::cache::AUTH | crate::cache::ACCESS);
        if cacheable
            && caches.fresh()
            && let Some(organization) = caches.organizations.get(&self.org_id)
        {
            return Ok(organization);
        }
        let generation = caches.organizations.generation();
        let organization = self.read_organization(conn).await?;
        if cacheable {
            caches
                .organizations
                .insert(self.org_id, organization.clone(), generation);
        }
        Ok(organization)
    }

    async fn load_organization(&self) -> Result<Organization> {
        let mut pooled = self.store.pools.read().await?;
        self.read_organization(&mut pooled.conn()).await
    }

    async fn read_organization(&self, conn: &mut Conn<'_>) -> Result<Organization> {
        let sql = Sql::new(concat!(
            "SELECT ",
            organization_columns!(),
            " FROM organizations WHERE id = $1"
        ))
        .bind(self.org_id);
        let row: Option<OrganizationRow> = conn.fetch_optional(sql).await?;
        row.ok_or_else(|| StoreError::not_found("organization"))?
            .into_model()
    }

    pub async fn update_organization(
        &self,
        ctx: &WriteContext,
        patch: OrganizationPatch,
    ) -> Result<Organization> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let before = self.read_organization(&mut conn).await?;
        let after = Organization {
            name: patch.name.unwrap_or_else(|| before.name.clone()),
            time_zone: patch.time_zone.unwrap_or(before.time_zone),
            locale: patch.locale.unwrap_or(before.locale),
            ..before.clone()
        };
        conn.execute(
            Sql::new("UPDATE organizations SET name = $2, time_zone = $3, locale = $4, updated_at = $5 WHERE id = $1")
                .bind(self.org_id)
                .bind(after.name.as_str())
                .bind(after.time_zone.name())
                .bind(after.locale.as_str())
                .bind(self.store.now()),
        )
        .await?;
        audit::record(
            &mut conn,
            self,
            Change {
                target_kind: TargetKind::Organization,
                target_id: self.org_id.to_string(),
                action: Action::Updated,
                before: Some(audit::organization_snapshot(&before)),
                after: Some(audit::organization_snapshot(&after)),
                ctx,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }
}
