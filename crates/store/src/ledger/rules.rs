//! Voucher rules (`voucher_rules:` of an app file, migration 0025) and the `ledger_sync` step.
//!
//! Publishing checks each rule against its table and its book's chart (`tenon_ledger::rules::record`),
//! every problem with its path, before anything is written; then it creates the books that are missing
//! (from the rule's template) and stores the rules. `ledger_sync` books one record by one rule in the
//! caller's transaction (a flow step's, so the ledger write commits with the step's journal row):
//!
//! - no voucher and `when` true → a voucher (posted, or a draft when the rule says `post: false` or the
//!   book separates duties);
//! - a voucher and `when` true → the voucher recomputed from the record's stored values; the same date,
//!   word and lines → nothing; otherwise a posted voucher is reversed and a new one made, a draft is
//!   replaced in place (same number) — never reversed;
//! - a voucher and `when` false (or the record deleted) → a posted voucher is reversed, a draft deleted.
//!
//! A reversal keeps the reversed voucher's date while its period is open, else it is dated the first day
//! of the first open period. Links are `ledger_record_links` rows keyed (book, `rule:<key>/<record>`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tenon_flows::scope::ScopeSchema;
use tenon_ledger::rules::record::{RecordRule, RuleDefinition};
use tenon_ledger::{BookSettings, Chart, Currency, VoucherDraft, VoucherState};
use tenon_model::apps::computed::cell_value;
use tenon_model::apps::formula;
use tenon_model::apps::{App, TableSchema};
use tenon_model::{AppId, BookId, DetailCode, FieldError, FieldId, RecordId, TableId, VoucherId};
use uuid::Uuid;

use super::vouchers::voucher_snapshot;
use super::{Book, BookLock, BookRef, StoredVoucher};
use crate::audit::{self, Change};
use crate::exec::{Backend, Conn, Sql};
use crate::{Result, StoreError, Tenant, WriteContext};

/// A published voucher rule.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRule {
    pub id: Uuid,
    pub key: String,
    pub app_id: AppId,
    pub table_id: TableId,
    pub book_id: BookId,
    /// The definition as published.
    pub definition: Value,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct RuleRow {
    id: Uuid,
    key: String,
    app_id: Uuid,
    table_id: Uuid,
    book_id: Uuid,
    definition: sqlx::types::Json<Value>,
    compiled: sqlx::types::Json<Value>,
    updated_at: DateTime<Utc>,
}

impl RuleRow {
    fn stored(&self) -> StoredRule {
        StoredRule {
            id: self.id,
            key: self.key.clone(),
            app_id: AppId::from_uuid(self.app_id),
            table_id: TableId::from_uuid(self.table_id),
            book_id: BookId::from_uuid(self.book_id),
            definition: self.definition.0.clone(),
            updated_at: self.updated_at,
        }
    }
}

/// `SELECT <the columns of a RuleRow> FROM voucher_rules` and the tail given.
macro_rules! select_rules {
    ($tail:literal) => {
        concat!(
            "SELECT id, key, app_id, table_id, book_id, definition, compiled, updated_at FROM voucher_rules ",
            $tail
        )
    };
}

/// What a rule's formulas read: the record's fields by name and by key (links as record ids), and the
/// app's `params` (`{params.vat_rate}`).
pub fn rule_scope(table: &TableSchema, params: &BTreeMap<String, Value>) -> ScopeSchema {
    let mut scope = ScopeSchema::default();
    scope.add_params(params);
    scope.add_table(table);
    scope
}

/// A rule of a file that passed its checks, ready to be written.
pub(crate) struct CheckedRule {
    pub definition: Value,
    pub parsed: RuleDefinition,
    pub compiled: RecordRule,
    pub table_id: TableId,
    /// The book, when it exists.
    pub book: Option<Book>,
}

/// What `ledger_sync` did.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncOutcome {
    /// `created`, `unchanged`, `replaced` (reversal and new voucher), `draft_replaced`, `reversed`,
    /// `draft_deleted` or `none`.
    pub outcome: &'static str,
    pub book: String,
    pub voucher: Option<StoredVoucher>,
    pub reversal: Option<StoredVoucher>,
}

impl SyncOutcome {
    /// The step's output.
    pub fn json(&self) -> Value {
        let voucher = |v: &Option<StoredVoucher>| {
            v.as_ref().map(|stored| {
                json!({
                    "id": stored.id.to_string(), "word": stored.voucher.word.as_str(), "number": stored.voucher.number,
                    "period": stored.voucher.period.to_string(), "date": stored.voucher.date.format("%Y-%m-%d").to_string(),
                    "state": stored.voucher.state.as_str(),
                    "total_debit": tenon_ledger::money::amount_text(stored.voucher.lines.iter().map(|l| l.debit).sum()),
                })
            })
        };
        json!({
            "outcome": self.outcome,
            "book": self.book,
            "voucher_id": self.voucher.as_ref().map(|v| v.id.to_string()),
            "reversal_id": self.reversal.as_ref().map(|v| v.id.to_string()),
            "voucher": voucher(&self.voucher),
            "reversal": voucher(&self.reversal),
        })
    }
}

impl Tenant<'_> {
    /// The organization's voucher rules, by key.
    pub async fn list_voucher_rules(&self) -> Result<Vec<StoredRule>> {
        let mut pooled = self.store.pools.read().await?;
        let rows: Vec<RuleRow> = pooled
            .conn()
            .fetch_all(
                Sql::new(select_rules!("WHERE organization_id = $1 ORDER BY key"))
                    .bind(self.org_id),
            )
            .await?;
        Ok(rows.iter().map(RuleRow::stored).collect())
    }

    async fn rule_row(&self, conn: &mut Conn<'_>, key: &str) -> Result<Option<RuleRow>> {
        conn.fetch_optional(
            Sql::new(select_rules!("WHERE organization_id = $1 AND key = $2"))
                .bind(self.org_id)
                .bind(key),
        )
        .await
        .map_err(Into::into)
    }

    /// Whether the organization has a voucher rule `key`.
    pub(crate) async fn has_voucher_rule(&self, conn: &mut Conn<'_>, key: &str) -> Result<bool> {
        Ok(self.rule_row(conn, key).await?.is_some())
    }

    /// Checks a file's rules against `tables` (the app's, as the import leaves them) and the charts of
    /// their books (or of the templates of the books to be made); problems go to `problems`.
    pub(crate) async fn check_file_rules(
        &self,
        conn: &mut Conn<'_>,
        app: &App,
        tables: &[TableSchema],
        rules: &[(Value, RuleDefinition)],
        params: &BTreeMap<String, Value>,
        problems: &mut Vec<FieldError>,
    ) -> Result<Vec<CheckedRule>> {
        let mut checked = Vec::with_capacity(rules.len());
        for (i, (definition, rule)) in rules.iter().enumerate() {
            let path = format!("voucher_rules[{i}]");
            if let Some(existing) = self.rule_row(conn, &rule.key).await?
                && existing.app_id != *app.id.as_uuid()
            {
                problems.push(FieldError::new(
                    format!("{path}.key"),
                    DetailCode::NotUnique,
                    format!("{} is the key of a voucher rule of another app", rule.key),
                ));
                continue;
            }
            let Some(table) = tables.iter().find(|t| t.table.key.as_str() == rule.table) else {
                problems.push(
                    FieldError::new(
                        format!("{path}.table"),
                        DetailCode::NotFound,
                        format!("the app has no table {}", rule.table),
                    )
                    .with("what", "table"),
                );
                continue;
            };
            let book = self
                .find_book(conn, &BookRef::Name(rule.book.name.clone()))
                .await?;
            let chart: Chart = match &book {
                Some(book) => self.load_chart(conn, book.id).await?,
                None => {
                    let standard = rule
                        .book
                        .standard()
                        .map_err(|reason| StoreError::Corrupt(reason.to_string()))?;
                    tenon_ledger::templates::chart(standard).map_err(StoreError::Corrupt)?
                }
            };
            let schema = rule_scope(table, params).schema();
            match tenon_ledger::rules::record::compile(rule, &schema, &chart, &path) {
                Ok(mut compiled) => checked.push(CheckedRule {
                    compiled: {
                        compiled.params = params.clone();
                        compiled
                    },
                    definition: definition.clone(),
                    parsed: rule.clone(),
                    table_id: table.table.id,
                    book,
                }),
                Err(invalid) => problems.extend(invalid.0),
            }
        }
        Ok(checked)
    }

    /// Writes checked rules: the missing books (from their templates), then each rule created or
    /// replaced (an unchanged definition is left alone).
    pub(crate) async fn write_file_rules(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        app: &App,
        rules: &[CheckedRule],
    ) -> Result<()> {
        let now = self.store.now();
        for rule in rules {
            let book = match &rule.book {
                Some(book) => book.clone(),
                None => match self
                    .find_book(conn, &BookRef::Name(rule.parsed.book.name.clone()))
                    .await?
                {
                    // Made by an earlier rule of the same file.
                    Some(book) => book,
                    None => {
                        let standard = rule
                            .parsed
                            .book
                            .standard()
                            .map_err(|reason| StoreError::Corrupt(reason.to_string()))?;
                        let accounts = tenon_ledger::templates::accounts(standard)
                            .map_err(StoreError::Corrupt)?;
                        let settings = BookSettings {
                            name: rule.parsed.book.name.clone(),
                            base_currency: Currency::parse("CNY").map_err(StoreError::Corrupt)?,
                            standard,
                            fiscal_year_start_month: 1,
                            segregation_of_duties: false,
                        };
                        self.insert_book(
                            conn,
                            ctx,
                            settings,
                            super::BookChange::default(),
                            accounts,
                        )
                        .await?
                    }
                },
            };
            let compiled = serde_json::to_value(&rule.compiled)
                .map_err(|error| StoreError::Corrupt(error.to_string()))?;
            match self.rule_row(conn, &rule.parsed.key).await? {
                Some(existing)
                    if existing.definition.0 == rule.definition
                        && existing.compiled.0 == compiled
                        && existing.book_id == *book.id.as_uuid() => {}
                Some(existing) => {
                    conn.execute(
                        Sql::new(
                            "UPDATE voucher_rules SET table_id = $3, book_id = $4, definition = $5, compiled = $6, \
                             updated_at = $7 WHERE organization_id = $1 AND id = $2",
                        )
                        .bind(self.org_id)
                        .bind(existing.id)
                        .bind(*rule.table_id.as_uuid())
                        .bind(book.id)
                        .bind(rule.definition.clone())
                        .bind(compiled)
                        .bind(now),
                    )
                    .await?;
                }
                None => {
                    conn.execute(
                        Sql::new(
                            "INSERT INTO voucher_rules (organization_id, id, key, app_id, table_id, book_id, definition, \
                             compiled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
                        )
                        .bind(self.org_id)
                        .bind(Uuid::now_v7())
                        .bind(rule.parsed.key.as_str())
                        .bind(app.id)
                        .bind(*rule.table_id.as_uuid())
                        .bind(book.id)
                        .bind(rule.definition.clone())
                        .bind(compiled)
                        .bind(now),
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }

    /// The `ledger_sync` step: books record `record` by rule `rule_key` in the caller's transaction.
    pub(crate) async fn ledger_sync_in(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        rule_key: &str,
        record_id: RecordId,
    ) -> Result<SyncOutcome> {
        let row = self.rule_row(conn, rule_key).await?.ok_or_else(|| {
            StoreError::Invalid(tenon_model::Invalid(vec![
                FieldError::new(
                    "rule",
                    DetailCode::NotFound,
                    format!("the organization has no voucher rule {rule_key}"),
                )
                .with("what", "voucher rule"),
            ]))
        })?;
        let rule: RecordRule = serde_json::from_value(row.compiled.0.clone())
            .map_err(|error| StoreError::Corrupt(format!("voucher rule {rule_key}: {error}")))?;
        let schema = self
            .kept_schema_by_id(conn, TableId::from_uuid(row.table_id))
            .await?;
        let book = self
            .find_book_locked(
                conn,
                &BookRef::Id(BookId::from_uuid(row.book_id)),
                BookLock::Share,
            )
            .await?;
        let source_key = format!("rule:{rule_key}/{record_id}");
        if conn.backend() == Backend::Postgres {
            // Two runs syncing one record at once take turns: the second sees the first's voucher.
            conn.execute(Sql::new("SELECT pg_advisory_xact_lock($1)").bind(lock_key(
                self.org_id.as_uuid(),
                book.id.as_uuid(),
                &source_key,
            )))
            .await?;
        }
        let record = self
            .load_records(conn, &schema, &[record_id], None)
            .await?
            .pop();
        let scope = rule_scope(&schema, &rule.params);
        let fields = scope.schema();
        let eval_ctx = self.eval_context(conn).await?;
        let mut eval = |stored: &str| -> std::result::Result<formula::Value, String> {
            let Some(record) = &record else {
                return Ok(formula::Value::Empty);
            };
            let formula = formula::check_stored(stored, &fields).map_err(|found| {
                format!(
                    "the formula no longer checks against the table: {}",
                    found
                        .iter()
                        .map(|d| d.message.clone())
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            })?;
            let read = |id: &str, kind: &formula::FieldKind| {
                let id: Option<FieldId> = id.parse().ok();
                cell_value(kind, id.and_then(|id| record.cells.get(&id)))
            };
            match scope.eval(&formula, &Value::Null, Some(&read), &eval_ctx) {
                formula::Value::Error(error) => {
                    Err(format!("the formula gives an error: {error:?}"))
                }
                value => Ok(value),
            }
        };
        let refused = |reason: String| {
            StoreError::Invalid(tenon_model::Invalid::one(
                "rule",
                DetailCode::ExpressionFailed,
                format!("voucher rule {rule_key}: {reason}"),
            ))
        };
        let applies = record.is_some() && rule.applies(&mut eval).map_err(refused)?;
        let link: Option<(Uuid,)> = conn
            .fetch_optional(
                Sql::new(
                    "SELECT voucher_id FROM ledger_record_links WHERE organization_id = $1 AND book_id = $2 AND source_key = $3",
                )
                .bind(self.org_id)
                .bind(book.id)
                .bind(source_key.as_str()),
            )
            .await?;
        let previous = match link {
            Some((id,)) => self
                .load_voucher(conn, book.id, VoucherId::from_uuid(id))
                .await?
                // A voucher reversed by hand no longer stands for the record.
                .filter(|voucher| voucher.reversed_by_id.is_none()),
            None => None,
        };
        let state = if rule.post && !book.settings.segregation_of_duties {
            VoucherState::Posted
        } else {
            VoucherState::Draft
        };
        let outcome = |outcome, voucher, reversal| SyncOutcome {
            outcome,
            book: book.settings.name.clone(),
            voucher,
            reversal,
        };
        let link_row = LinkWrite {
            book_id: book.id,
            source_key: &source_key,
            rule: rule_key,
            version: record.as_ref().map_or(0, |r| r.version),
            record_id,
        };
        if !applies {
            let Some(previous) = previous else {
                if link.is_some() {
                    self.delete_link(conn, book.id, &source_key).await?;
                }
                return Ok(outcome("none", None, None));
            };
            if previous.voucher.state == VoucherState::Posted {
                let date = reversal_date(&book, &previous);
                let red = self.reverse_in(conn, ctx, &book, &previous, date).await?;
                self.delete_link(conn, book.id, &source_key).await?;
                return Ok(outcome("reversed", None, Some(red)));
            }
            self.delete_draft_in(conn, ctx, &book, &previous).await?;
            return Ok(outcome("draft_deleted", None, None));
        }
        let chart = self.load_chart(conn, book.id).await?;
        let draft = rule.voucher(&chart, &mut eval).map_err(refused)?;
        match previous {
            None => {
                let voucher = self.insert_one(conn, ctx, &book, draft, state).await?;
                self.write_rule_link(conn, &link_row, voucher.id, link.is_some())
                    .await?;
                Ok(outcome("created", Some(voucher), None))
            }
            Some(previous) if same(&previous, &draft) => {
                Ok(outcome("unchanged", Some(previous), None))
            }
            Some(previous) => {
                let (voucher, reversal) = self
                    .correct_voucher_in(conn, ctx, &book, &previous, draft, state)
                    .await?;
                self.write_rule_link(conn, &link_row, voucher.id, true)
                    .await?;
                let name = if reversal.is_some() {
                    "replaced"
                } else {
                    "draft_replaced"
                };
                Ok(outcome(name, Some(voucher), reversal))
            }
        }
    }

    async fn insert_one(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        book: &Book,
        draft: VoucherDraft,
        state: VoucherState,
    ) -> Result<StoredVoucher> {
        self.insert_vouchers(conn, ctx, book, vec![(draft, None)], state)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Corrupt("a voucher was written but not returned".to_owned()))
    }

    /// Corrects the voucher a record made: a posted one is reversed and a new one made (`state`); one
    /// that is not posted is replaced in place — the same id and number when the period and word stay,
    /// else deleted (its period's later numbers close up) and made anew as a draft. Answers the voucher
    /// and the reversal, if any.
    pub(crate) async fn correct_voucher_in(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        book: &Book,
        previous: &StoredVoucher,
        draft: VoucherDraft,
        state: VoucherState,
    ) -> Result<(StoredVoucher, Option<StoredVoucher>)> {
        if previous.voucher.state == VoucherState::Posted {
            let red = self
                .reverse_in(conn, ctx, book, previous, reversal_date(book, previous))
                .await?;
            let voucher = self.insert_one(conn, ctx, book, draft, state).await?;
            return Ok((voucher, Some(red)));
        }
        let period = tenon_ledger::Period::of(draft.date);
        if period != previous.voucher.period || draft.word != previous.voucher.word {
            // Links to the old draft are carried over to the new one by the caller.
            let links = self.take_links(conn, previous.id).await?;
            self.delete_draft_in(conn, ctx, book, previous).await?;
            let voucher = self
                .insert_one(conn, ctx, book, draft, VoucherState::Draft)
                .await?;
            self.restore_links(conn, links, voucher.id).await?;
            return Ok((voucher, None));
        }
        Self::check_open(book, period)?;
        let chart = self.load_chart(conn, book.id).await?;
        tenon_ledger::voucher::check_voucher(&book.settings, &chart, &draft)
            .map_err(StoreError::Invalid)?;
        let name = Self::actor_name(ctx);
        let replaced = StoredVoucher {
            id: previous.id,
            book_id: book.id,
            voucher: tenon_ledger::Voucher {
                period,
                word: draft.word,
                number: previous.voucher.number,
                date: draft.date,
                attachments: draft.attachments,
                state: VoucherState::Draft,
                preparer: name,
                reviewer: None,
                poster: None,
                lines: draft.lines,
            },
            reverses_id: previous.reverses_id,
            reversed_by_id: None,
            created_at: previous.created_at,
        };
        let links = self.take_links(conn, previous.id).await?;
        conn.execute(
            Sql::new("DELETE FROM ledger_vouchers WHERE organization_id = $1 AND id = $2")
                .bind(self.org_id)
                .bind(previous.id),
        )
        .await?;
        self.write_vouchers(conn, book.id, std::slice::from_ref(&replaced))
            .await?;
        self.restore_links(conn, links, replaced.id).await?;
        audit::record(
            conn,
            self,
            Change {
                target_kind: tenon_model::TargetKind::Voucher,
                target_id: previous.id.to_string(),
                action: tenon_model::Action::Updated,
                before: Some(voucher_snapshot(previous)),
                after: Some(voucher_snapshot(&replaced)),
                ctx,
            },
        )
        .await?;
        Ok((replaced, None))
    }

    /// Removes the record links of a voucher, answering them (so the voucher row can be rewritten).
    async fn take_links(&self, conn: &mut Conn<'_>, voucher: VoucherId) -> Result<Vec<LinkRow>> {
        let links: Vec<LinkRow> = conn
            .fetch_all(
                Sql::new(
                    "SELECT book_id, source_key, rule, version, fields, updated_at FROM ledger_record_links \
                     WHERE organization_id = $1 AND voucher_id = $2",
                )
                .bind(self.org_id)
                .bind(voucher),
            )
            .await?;
        conn.execute(
            Sql::new(
                "DELETE FROM ledger_record_links WHERE organization_id = $1 AND voucher_id = $2",
            )
            .bind(self.org_id)
            .bind(voucher),
        )
        .await?;
        Ok(links)
    }

    async fn restore_links(
        &self,
        conn: &mut Conn<'_>,
        links: Vec<LinkRow>,
        voucher: VoucherId,
    ) -> Result<()> {
        for link in links {
            conn.execute(
                Sql::new(
                    "INSERT INTO ledger_record_links (organization_id, book_id, source_key, rule, version, fields, voucher_id, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(self.org_id)
                .bind(link.book_id)
                .bind(link.source_key)
                .bind(link.rule)
                .bind(link.version)
                .bind(link.fields.0)
                .bind(voucher)
                .bind(link.updated_at),
            )
            .await?;
        }
        Ok(())
    }

    async fn delete_link(&self, conn: &mut Conn<'_>, book: BookId, source_key: &str) -> Result<()> {
        conn.execute(
            Sql::new(
                "DELETE FROM ledger_record_links WHERE organization_id = $1 AND book_id = $2 AND source_key = $3",
            )
            .bind(self.org_id)
            .bind(book)
            .bind(source_key),
        )
        .await?;
        Ok(())
    }

    async fn write_rule_link(
        &self,
        conn: &mut Conn<'_>,
        link: &LinkWrite<'_>,
        voucher: VoucherId,
        exists: bool,
    ) -> Result<()> {
        let sql = if exists {
            Sql::new(
                "UPDATE ledger_record_links SET rule = $4, version = $5, fields = $6, voucher_id = $7, updated_at = $8 \
                 WHERE organization_id = $1 AND book_id = $2 AND source_key = $3",
            )
        } else {
            Sql::new(
                "INSERT INTO ledger_record_links (organization_id, book_id, source_key, rule, version, fields, voucher_id, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
        };
        conn.execute(
            sql.bind(self.org_id)
                .bind(link.book_id)
                .bind(link.source_key)
                .bind(link.rule)
                .bind(link.version)
                .bind(json!({"record": link.record_id.to_string()}))
                .bind(voucher)
                .bind(self.store.now()),
        )
        .await?;
        Ok(())
    }
}

struct LinkWrite<'a> {
    book_id: BookId,
    source_key: &'a str,
    rule: &'a str,
    version: i64,
    record_id: RecordId,
}

#[derive(sqlx::FromRow)]
struct LinkRow {
    book_id: Uuid,
    source_key: String,
    rule: String,
    version: i64,
    fields: sqlx::types::Json<Value>,
    updated_at: DateTime<Utc>,
}

/// The same voucher: date, word and lines.
fn same(previous: &StoredVoucher, draft: &VoucherDraft) -> bool {
    let v = &previous.voucher;
    v.date == draft.date && v.word == draft.word && v.lines == draft.lines
}

/// A reversal keeps the reversed voucher's date while its period is open, else takes the first day of
/// the first open period.
pub(crate) fn reversal_date(book: &Book, reversed: &StoredVoucher) -> chrono::NaiveDate {
    match book.closed_through {
        Some(closed) if reversed.voucher.period <= closed => closed.next().first_day(),
        _ => reversed.voucher.date,
    }
}

/// The advisory lock of a record's link: FNV-1a over the organization, the book and the source key.
fn lock_key(org: &Uuid, book: &Uuid, source_key: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(org.as_bytes());
    feed(book.as_bytes());
    feed(source_key.as_bytes());
    i64::from_ne_bytes(hash.to_ne_bytes())
}
