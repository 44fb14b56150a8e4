//! The data migration that rebuilds PostgreSQL's plain field indexes for keyset pages (migration
//! `0029_keyset_indexes`, PostgreSQL only).
//!
//! Indexes made before it were `(column, id)` with PostgreSQL's default `NULLS LAST`, which matches
//! neither order a page sorts in (`ASC NULLS FIRST` or `DESC NULLS LAST`, see
//! [`crate::apps::ddl::field_indexes`]): every sorted page sorted the whole table. This rebuilds each
//! such index of a non-text column as `(column NULLS FIRST, id)`. Names come from the catalog and are
//! checked to be Tenon's own (`i_` + 32 hex digits over column `f_` + the same digits) before use.

use crate::Result;
use crate::exec::{Conn, Sql, quote};

pub(crate) const NAME: &str = "keyset_indexes";

/// Rebuilds the plain field indexes that do not serve keyset pages. Returns how many it rebuilt.
pub(crate) async fn rebuild(conn: &mut Conn<'_>) -> Result<usize> {
    let indexes: Vec<(String, String)> = conn
        .fetch_all(Sql::new(
            "SELECT i.indexname::TEXT, i.tablename::TEXT FROM pg_indexes i \
             WHERE i.schemaname = current_schema() AND i.indexname LIKE 'i\\_%' \
             AND i.indexdef NOT LIKE '%NULLS FIRST%'",
        ))
        .await?;
    let mut rebuilt = 0;
    for (index, table) in indexes {
        let digits = &index[2..];
        if digits.len() != 32 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let column = format!("f_{digits}");
        let kind: Option<(String,)> = conn
            .fetch_optional(
                Sql::new(
                    "SELECT data_type::TEXT FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2",
                )
                .bind(table.as_str())
                .bind(column.as_str()),
            )
            .await?;
        match kind {
            Some((kind,)) if kind != "text" => {}
            _ => continue,
        }
        conn.execute_script(format!("DROP INDEX {}", quote(&index)))
            .await?;
        conn.execute_script(format!(
            "CREATE INDEX {} ON {} ({} NULLS FIRST, id)",
            quote(&index),
            quote(&table),
            quote(&column)
        ))
        .await?;
        rebuilt += 1;
    }
    Ok(rebuilt)
}
