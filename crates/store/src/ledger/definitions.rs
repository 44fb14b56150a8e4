//! A book's own statement line definitions (#20): the lines of its balance sheet or income statement,
//! kept in versions per (book, statement) in `ledger_statement_definitions` (migration 0038) as the TSV
//! the shipped templates use. Version 0 is the shipped definition of the book's standard; a book without
//! versions of its own uses it. A new version is checked against the book's chart
//! (`tenon_ledger::statements::check_lines`) and never replaces an earlier one, so a statement computed
//! with version 3 can be computed again with version 3 after version 4 exists.

use chrono::{DateTime, Utc};
use tenon_ledger::Chart;
use tenon_ledger::statements::{self, Definition, RawLine, StatementKind};
use tenon_model::{Action, TargetKind};

use super::{Book, BookLock, BookRef};
use crate::audit::{self, Change};
use crate::exec::{Conn, Sql};
use crate::{Result, StoreError, Tenant, WriteContext};

/// Where a definition comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefinitionSource {
    /// The template of the book's standard (version 0).
    Shipped,
    /// The book's own (versions 1, 2, …).
    Book,
}

impl DefinitionSource {
    pub const fn as_str(self) -> &'static str {
        match self {
            DefinitionSource::Shipped => "shipped",
            DefinitionSource::Book => "book",
        }
    }
}

/// A version of a statement's lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDefinition {
    /// 0 for the shipped definition.
    pub version: u32,
    pub source: DefinitionSource,
    pub definition: Definition,
    /// When and by whom a book's version was stored (`None` for the shipped one).
    pub created_at: Option<DateTime<Utc>>,
    pub created_by: Option<String>,
}

/// What `set_statement_definition` takes: the lines one by one (JSON), or the TSV of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefinitionInput {
    Lines(Vec<RawLine>),
    Text(String),
}

#[derive(sqlx::FromRow)]
struct DefinitionRow {
    version: i64,
    definition: String,
    created_at: DateTime<Utc>,
    created_by: String,
}

fn shipped(book: &Book, chart: &Chart, kind: StatementKind) -> Result<StoredDefinition> {
    let definition = statements::parse_definition(
        statements::shipped_text(book.settings.standard, kind),
        kind,
        chart,
    )?;
    Ok(StoredDefinition {
        version: 0,
        source: DefinitionSource::Shipped,
        definition,
        created_at: None,
        created_by: None,
    })
}

fn stored(row: DefinitionRow, kind: StatementKind, chart: &Chart) -> Result<StoredDefinition> {
    // Checked against the chart when stored; accounts are never removed, so it still parses.
    let definition = statements::parse_definition(&row.definition, kind, chart).map_err(|e| {
        StoreError::Corrupt(format!("statement definition version {}: {e}", row.version))
    })?;
    Ok(StoredDefinition {
        version: u32::try_from(row.version).unwrap_or_default(),
        source: DefinitionSource::Book,
        definition,
        created_at: Some(row.created_at),
        created_by: Some(row.created_by),
    })
}

fn snapshot(kind: StatementKind, version: &StoredDefinition) -> serde_json::Value {
    serde_json::json!({"statement_definition": {
        "kind": kind.as_str(),
        "version": version.version,
        "source": version.source.as_str(),
        "lines": statements::definition_text(&version.definition),
    }})
}

impl Tenant<'_> {
    /// The definition `version` of a book's statement (`None`: the latest — the shipped one while the
    /// book has none of its own). An unknown version is not found (404).
    pub async fn statement_definition(
        &self,
        book: &BookRef,
        kind: StatementKind,
        version: Option<u32>,
    ) -> Result<(Book, StoredDefinition)> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let (book, chart) = self.book_and_chart(&mut conn, book).await?;
        let found = self
            .load_definition(&mut conn, &book, &chart, kind, version)
            .await?;
        Ok((book, found))
    }

    /// Every version of a book's statement, the shipped one (0) first.
    pub async fn statement_definition_versions(
        &self,
        book: &BookRef,
        kind: StatementKind,
    ) -> Result<Vec<StoredDefinition>> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let (book, chart) = self.book_and_chart(&mut conn, book).await?;
        let rows: Vec<DefinitionRow> = conn
            .fetch_all(
                Sql::new(
                    "SELECT version, definition, created_at, created_by FROM ledger_statement_definitions \
                     WHERE organization_id = $1 AND book_id = $2 AND kind = $3 ORDER BY version",
                )
                .bind(self.org_id)
                .bind(book.id)
                .bind(kind.as_str()),
            )
            .await?;
        let mut versions = vec![shipped(&book, &chart, kind)?];
        for row in rows {
            versions.push(stored(row, kind, &chart)?);
        }
        Ok(versions)
    }

    /// Stores the next version of a book's statement, checked against the book's chart: a formula naming
    /// an account the book does not have is refused (422, `lines[i].formula`) and nothing is written.
    /// Under the book's lock, so two writers get consecutive versions. One audit entry with both
    /// versions' lines.
    pub async fn set_statement_definition(
        &self,
        ctx: &WriteContext,
        book: &BookRef,
        kind: StatementKind,
        input: DefinitionInput,
    ) -> Result<(Book, StoredDefinition)> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let book = self
            .find_book_locked(&mut conn, book, BookLock::Update)
            .await?;
        let chart = self.load_chart(&mut conn, book.id).await?;
        let definition = match input {
            DefinitionInput::Lines(lines) => statements::check_lines(lines, kind, &chart)?,
            DefinitionInput::Text(text) => statements::parse_definition(&text, kind, &chart)?,
        };
        let before = self
            .load_definition(&mut conn, &book, &chart, kind, None)
            .await?;
        let now = self.store.now();
        let after = StoredDefinition {
            version: before.version + 1,
            source: DefinitionSource::Book,
            definition,
            created_at: Some(now),
            created_by: Some(Self::actor_name(ctx)),
        };
        conn.execute(
            Sql::new(
                "INSERT INTO ledger_statement_definitions (organization_id, book_id, kind, version, definition, \
                 created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(self.org_id)
            .bind(book.id)
            .bind(kind.as_str())
            .bind(i64::from(after.version))
            .bind(statements::definition_text(&after.definition))
            .bind(now)
            .bind(Self::actor_name(ctx)),
        )
        .await?;
        audit::record(
            &mut conn,
            self,
            Change {
                target_kind: TargetKind::LedgerBook,
                target_id: book.id.to_string(),
                action: Action::Updated,
                before: Some(snapshot(kind, &before)),
                after: Some(snapshot(kind, &after)),
                ctx,
            },
        )
        .await?;
        tx.commit().await?;
        Ok((book, after))
    }

    /// The definition a statement is computed with: `version`, or the latest.
    pub(crate) async fn load_definition(
        &self,
        conn: &mut Conn<'_>,
        book: &Book,
        chart: &Chart,
        kind: StatementKind,
        version: Option<u32>,
    ) -> Result<StoredDefinition> {
        if version == Some(0) {
            return shipped(book, chart, kind);
        }
        let row: Option<DefinitionRow> = match version {
            Some(version) => {
                conn.fetch_optional(
                    Sql::new(
                        "SELECT version, definition, created_at, created_by FROM ledger_statement_definitions \
                         WHERE organization_id = $1 AND book_id = $2 AND kind = $3 AND version = $4",
                    )
                    .bind(self.org_id)
                    .bind(book.id)
                    .bind(kind.as_str())
                    .bind(i64::from(version)),
                )
                .await?
            }
            None => {
                conn.fetch_optional(
                    Sql::new(
                        "SELECT version, definition, created_at, created_by FROM ledger_statement_definitions \
                         WHERE organization_id = $1 AND book_id = $2 AND kind = $3 ORDER BY version DESC LIMIT 1",
                    )
                    .bind(self.org_id)
                    .bind(book.id)
                    .bind(kind.as_str()),
                )
                .await?
            }
        };
        match (row, version) {
            (Some(row), _) => stored(row, kind, chart),
            (None, None) => shipped(book, chart, kind),
            (None, Some(_)) => Err(StoreError::not_found("statement definition version")),
        }
    }
}
