//! Who a record names as its author, and the data migration that rewrote old rows (#16); `migrate` also
//! runs the keyset index rebuild ([`crate::keyset_indexes`]).
//!
//! `created_by` / `modified_by` name the **member** when a session or a member's personal token writes
//! ([`tenon_model::Actor::author`]); the token itself stays the actor of the audit entry and the event.
//! Rows written before migration `0015_record_authors` named the token: [`Store::migrate`] rewrites them
//! where the token's member is known (tokens of deleted members, and organization tokens, keep naming the
//! token). The migration queues the work in `pending_data_migrations`, since only Rust can walk the user
//! tables; the transaction that deletes the queue row does it, so on several nodes one does.

use std::collections::HashMap;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::apps::ddl;
use crate::exec::{Arg, Conn, Sql, quote};
use crate::sql::SqlText;
use crate::{Result, Store};

const RECORD_AUTHORS: &str = "record_authors";

impl Store {
    /// Applies pending migrations of the platform's tables and finishes the data migrations they queued.
    /// Safe to run from several nodes at once: on PostgreSQL the migrator holds an advisory lock and one
    /// transaction claims each queued data migration; on SQLite the single writer serializes.
    pub async fn migrate(&self) -> Result<()> {
        self.migrate_schema().await?;
        let mut tx = self.begin_tx().await?;
        let mut conn = tx.conn();
        let claimed: Option<(String,)> = conn
            .fetch_optional(
                Sql::new("DELETE FROM pending_data_migrations WHERE name = $1 RETURNING name")
                    .bind(RECORD_AUTHORS),
            )
            .await?;
        if claimed.is_some() {
            rewrite_token_authors(&mut conn).await?;
        }
        let claimed: Option<(String,)> = conn
            .fetch_optional(
                Sql::new("DELETE FROM pending_data_migrations WHERE name = $1 RETURNING name")
                    .bind(crate::keyset_indexes::NAME),
            )
            .await?;
        if claimed.is_some() {
            crate::keyset_indexes::rebuild(&mut conn).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Rewrites `created_by` / `modified_by` naming a member's personal token to name the member.
async fn rewrite_token_authors(conn: &mut Conn<'_>) -> Result<()> {
    let owners: Vec<(Uuid, Uuid, String)> = conn
        .fetch_all(Sql::new(
            "SELECT t.id, m.id, m.name FROM api_tokens t JOIN members m \
             ON m.organization_id = t.organization_id AND m.id = t.member_id",
        ))
        .await?;
    if owners.is_empty() {
        return Ok(());
    }
    let members: HashMap<String, (Uuid, String)> = owners
        .into_iter()
        .map(|(token, member, name)| (token.to_string(), (member, name)))
        .collect();
    let tables: Vec<(Uuid,)> = conn
        .fetch_all(Sql::new("SELECT id FROM app_tables"))
        .await?;
    for (table,) in tables {
        let table = quote(&ddl::table_name(tenon_model::TableId::from_uuid(table)));
        for column in ["created_by", "modified_by"] {
            let values: Vec<(Option<String>,)> = conn
                .fetch_all(Sql::generated(format!(
                    "SELECT DISTINCT {column} FROM {table}"
                )))
                .await?;
            for (old,) in values {
                let Some(new) = old.as_deref().and_then(|old| member_author(old, &members)) else {
                    continue;
                };
                let mut sql = SqlText::new(conn.backend());
                sql.push(&format!("UPDATE {table} SET {column} = "))
                    .arg(Arg::Text(Some(new)))
                    .push(&format!(" WHERE {column} = "))
                    .arg(Arg::Text(old));
                conn.execute(sql.into_sql()).await?;
            }
        }
    }
    Ok(())
}

/// The stored author naming the member behind a token author, if the token has one.
fn member_author(stored: &str, members: &HashMap<String, (Uuid, String)>) -> Option<String> {
    let value: Value = serde_json::from_str(stored).ok()?;
    if value.get("type")?.as_str()? != "token" {
        return None;
    }
    let (member, name) = members.get(value.get("id")?.as_str()?)?;
    Some(json!({"type": "member", "id": member.to_string(), "name": name}).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tokens_with_a_known_member_become_members() {
        let token = Uuid::now_v7();
        let member = Uuid::now_v7();
        let members = HashMap::from([(token.to_string(), (member, "张三".to_owned()))]);
        let stored = json!({"type": "token", "id": token.to_string(), "name": "ci"}).to_string();
        let rewritten: Value =
            serde_json::from_str(&member_author(&stored, &members).unwrap()).unwrap();
        assert_eq!(
            rewritten,
            json!({"type": "member", "id": member.to_string(), "name": "张三"})
        );
        let other = json!({"type": "token", "id": Uuid::now_v7().to_string(), "name": "org"});
        assert_eq!(member_author(&other.to_string(), &members), None);
        let app = json!({"type": "app", "id": token.to_string(), "name": "x"});
        assert_eq!(member_author(&app.to_string(), &members), None);
        assert_eq!(member_author("not json", &members), None);
    }
}
