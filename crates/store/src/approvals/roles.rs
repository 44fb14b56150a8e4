//! Custom roles (`/api/v1/roles`): `{key, name, member_ids}`, audited with `role.*` events.

use serde_json::{Value, json};
use tenon_model::apps::ApiKey;
use tenon_model::{Action, DetailCode, Invalid, MemberId, Name, Reason, TargetKind};

use super::{OrgRole, json_ids};
use crate::audit::{self, Change};
use crate::exec::{Conn, Sql};
use crate::sql::SqlText;
use crate::{Result, StoreError, Tenant, WriteContext};

/// Most members a role may hold.
pub const ROLE_MEMBERS_MAX: usize = 1000;

type RoleRow = (
    String,
    String,
    sqlx::types::Json<Value>,
    chrono::DateTime<chrono::Utc>,
    chrono::DateTime<chrono::Utc>,
);

fn role_from_row(row: RoleRow) -> Result<OrgRole> {
    let (key, name, members, created_at, updated_at) = row;
    Ok(OrgRole {
        key,
        name,
        member_ids: json_ids(&members.0, "role member")?,
        created_at,
        updated_at,
    })
}

pub(crate) fn role_snapshot(role: &OrgRole) -> Value {
    json!({
        "key": role.key,
        "name": role.name,
        "member_ids": role.member_ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

fn ids_json(members: &[MemberId]) -> Value {
    Value::Array(members.iter().map(|id| json!(id.to_string())).collect())
}

impl Tenant<'_> {
    pub async fn list_roles(&self) -> Result<Vec<OrgRole>> {
        let mut pooled = self.store.pools.read().await?;
        let rows: Vec<RoleRow> = pooled
            .conn()
            .fetch_all(
                Sql::new(
                    "SELECT key, name, member_ids, created_at, updated_at FROM org_roles \
                     WHERE organization_id = $1 ORDER BY key",
                )
                .bind(self.org_id),
            )
            .await?;
        rows.into_iter().map(role_from_row).collect()
    }

    pub async fn role(&self, key: &str) -> Result<OrgRole> {
        let mut pooled = self.store.pools.read().await?;
        self.load_role(&mut pooled.conn(), key)
            .await?
            .ok_or_else(|| StoreError::not_found("role"))
    }

    pub(crate) async fn load_role(
        &self,
        conn: &mut Conn<'_>,
        key: &str,
    ) -> Result<Option<OrgRole>> {
        let row: Option<RoleRow> = conn
            .fetch_optional(
                Sql::new(
                    "SELECT key, name, member_ids, created_at, updated_at FROM org_roles \
                     WHERE organization_id = $1 AND key = $2",
                )
                .bind(self.org_id)
                .bind(key),
            )
            .await?;
        row.map(role_from_row).transpose()
    }

    /// Members that do not exist in this organization, as 422 details at `member_ids[i]`.
    async fn check_role_members(&self, conn: &mut Conn<'_>, members: &[MemberId]) -> Result<()> {
        if members.len() > ROLE_MEMBERS_MAX {
            return Err(Invalid::from(
                Reason::too_many(
                    ROLE_MEMBERS_MAX,
                    format!("a role holds at most {ROLE_MEMBERS_MAX} members"),
                )
                .at("member_ids"),
            )
            .into());
        }
        if members.is_empty() {
            return Ok(());
        }
        let mut sql = SqlText::new(conn.backend());
        sql.push("SELECT id FROM members WHERE organization_id = ")
            .arg(self.org_id)
            .push(" AND id IN ")
            .list(members.iter().copied());
        let found: Vec<(uuid::Uuid,)> = conn.fetch_all(sql.into_sql()).await?;
        let found: std::collections::HashSet<uuid::Uuid> =
            found.into_iter().map(|(id,)| id).collect();
        let mut problems = Vec::new();
        for (i, member) in members.iter().enumerate() {
            if !found.contains(member.as_uuid()) {
                problems.push(
                    Reason::not_found("member", format!("no member {member} in this organization"))
                        .at(format!("member_ids[{i}]")),
                );
            }
            if members[..i].contains(member) {
                problems.push(tenon_model::FieldError::new(
                    format!("member_ids[{i}]"),
                    DetailCode::Duplicate,
                    "the member is listed twice",
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Invalid(problems).into())
        }
    }

    pub async fn create_role(
        &self,
        ctx: &WriteContext,
        key: &ApiKey,
        name: &Name,
        members: &[MemberId],
    ) -> Result<OrgRole> {
        let now = self.store.now();
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        self.check_role_members(&mut conn, members).await?;
        let inserted = conn
            .execute(
                Sql::new(
                    "INSERT INTO org_roles (organization_id, key, name, member_ids, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5)",
                )
                .bind(self.org_id)
                .bind(key.as_str())
                .bind(name.as_str())
                .bind(ids_json(members))
                .bind(now),
            )
            .await;
        if let Err(error) = inserted {
            return Err(match crate::error::unique_violation(&error) {
                Some(_) => StoreError::conflict(
                    Some("key"),
                    DetailCode::NotUnique,
                    format!("a role with key \"{key}\" exists"),
                ),
                None => error.into(),
            });
        }
        let role = OrgRole {
            key: key.as_str().to_owned(),
            name: name.as_str().to_owned(),
            member_ids: members.to_vec(),
            created_at: now,
            updated_at: now,
        };
        audit::record(
            &mut conn,
            self,
            Change {
                target_kind: TargetKind::OrgRole,
                target_id: role.key.clone(),
                action: Action::Created,
                before: None,
                after: Some(role_snapshot(&role)),
                ctx,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(role)
    }

    pub async fn update_role(
        &self,
        ctx: &WriteContext,
        key: &str,
        name: Option<&Name>,
        members: Option<&[MemberId]>,
    ) -> Result<OrgRole> {
        let now = self.store.now();
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let before = self
            .load_role(&mut conn, key)
            .await?
            .ok_or_else(|| StoreError::not_found("role"))?;
        if let Some(members) = members {
            self.check_role_members(&mut conn, members).await?;
        }
        let mut after = before.clone();
        if let Some(name) = name {
            after.name = name.as_str().to_owned();
        }
        if let Some(members) = members {
            after.member_ids = members.to_vec();
        }
        after.updated_at = now;
        conn.execute(
            Sql::new(
                "UPDATE org_roles SET name = $3, member_ids = $4, updated_at = $5 \
                 WHERE organization_id = $1 AND key = $2",
            )
            .bind(self.org_id)
            .bind(key)
            .bind(after.name.as_str())
            .bind(ids_json(&after.member_ids))
            .bind(now),
        )
        .await?;
        audit::record(
            &mut conn,
            self,
            Change {
                target_kind: TargetKind::OrgRole,
                target_id: after.key.clone(),
                action: Action::Updated,
                before: Some(role_snapshot(&before)),
                after: Some(role_snapshot(&after)),
                ctx,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    pub async fn delete_role(&self, ctx: &WriteContext, key: &str) -> Result<()> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let before = self
            .load_role(&mut conn, key)
            .await?
            .ok_or_else(|| StoreError::not_found("role"))?;
        conn.execute(
            Sql::new("DELETE FROM org_roles WHERE organization_id = $1 AND key = $2")
                .bind(self.org_id)
                .bind(key),
        )
        .await?;
        audit::record(
            &mut conn,
            self,
            Change {
                target_kind: TargetKind::OrgRole,
                target_id: before.key.clone(),
                action: Action::Deleted,
                before: Some(role_snapshot(&before)),
                after: None,
                ctx,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates the roles a definition file names (without members) that do not exist yet.
    pub(crate) async fn ensure_roles_in(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        roles: &[(ApiKey, Name)],
    ) -> Result<()> {
        let now = self.store.now();
        for (key, name) in roles {
            if self.load_role(conn, key.as_str()).await?.is_some() {
                continue;
            }
            conn.execute(
                Sql::new(
                    "INSERT INTO org_roles (organization_id, key, name, member_ids, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5)",
                )
                .bind(self.org_id)
                .bind(key.as_str())
                .bind(name.as_str())
                .bind(json!([]))
                .bind(now),
            )
            .await?;
            let role = OrgRole {
                key: key.as_str().to_owned(),
                name: name.as_str().to_owned(),
                member_ids: Vec::new(),
                created_at: now,
                updated_at: now,
            };
            audit::record(
                conn,
                self,
                Change {
                    target_kind: TargetKind::OrgRole,
                    target_id: role.key.clone(),
                    action: Action::Created,
                    before: None,
                    after: Some(role_snapshot(&role)),
                    ctx,
                },
            )
            .await?;
        }
        Ok(())
    }
}
