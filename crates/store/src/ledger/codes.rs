//! Codes other systems know a book and its dimension values by (Kingdee `FNumber`, U8 `code`), and the
//! company's 统一社会信用代码: changing a book's, listing and setting its dimension values'.

use tenon_ledger::Dimension;
use tenon_model::{Action, DetailCode, TargetKind};

use super::books::book_snapshot;
use super::{Book, BookRef, corrupt};
use crate::audit::{self, Change};
use crate::error::unique_violation;
use crate::exec::Sql;
use crate::{Result, StoreError, Tenant, WriteContext};

/// A change of a book's code or tax registration number (`None`: unchanged; for the tax registration
/// number, `Some(None)` removes it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BookChange {
    pub code: Option<String>,
    pub tax_registration_number: Option<Option<String>>,
}

impl BookChange {
    pub(super) fn checked_code(&self) -> Result<Option<String>> {
        self.code
            .as_deref()
            .map(|code| {
                tenon_ledger::book::check_code(code)
                    .map_err(|reason| StoreError::Invalid(reason.at("code").into()))
            })
            .transpose()
    }

    pub(super) fn checked_tax_registration_number(&self) -> Result<Option<Option<String>>> {
        self.tax_registration_number
            .as_ref()
            .map(|number| {
                number
                    .as_deref()
                    .map(|number| {
                        tenon_ledger::book::check_tax_registration_number(number).map_err(
                            |reason| {
                                StoreError::Invalid(reason.at("tax_registration_number").into())
                            },
                        )
                    })
                    .transpose()
            })
            .transpose()
    }
}

pub(super) fn code_taken(code: &str) -> StoreError {
    StoreError::conflict(
        Some("code"),
        DetailCode::NotUnique,
        format!("another book has the code {code:?}"),
    )
}

/// A stable lock key for `pg_advisory_xact_lock` from byte strings (FNV-1a).
pub(crate) fn lock_key(parts: &[&[u8]]) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in *part {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// A dimension value as stored: what lines name, its code and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDimensionValue {
    pub dimension: Dimension,
    pub value: String,
    pub code: String,
    pub name: String,
}

/// A change of a dimension value's code or name (`None`: unchanged, or for a new value: the next free
/// code, the value as name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DimensionValueChange {
    pub code: Option<String>,
    pub name: Option<String>,
}

#[derive(sqlx::FromRow)]
struct DimensionValueRow {
    dimension: String,
    code: String,
    external_code: Option<String>,
    name: String,
}

impl DimensionValueRow {
    fn into_value(self) -> Result<StoredDimensionValue> {
        Ok(StoredDimensionValue {
            dimension: Dimension::parse(&self.dimension)
                .map_err(|_| corrupt("dimension", &self.dimension))?,
            code: self.external_code.unwrap_or_default(),
            value: self.code,
            name: self.name,
        })
    }
}

impl Tenant<'_> {
    /// Changes a book's code or tax registration number (checked; a code another book has is 409).
    pub async fn update_ledger_book(
        &self,
        ctx: &WriteContext,
        book: &BookRef,
        change: BookChange,
    ) -> Result<Book> {
        let code = change.checked_code()?;
        let tax_registration_number = change.checked_tax_registration_number()?;
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let before = self
            .find_book(&mut conn, book)
            .await?
            .ok_or_else(|| StoreError::not_found("book"))?;
        let after = Book {
            code: code.unwrap_or_else(|| before.code.clone()),
            tax_registration_number: tax_registration_number
                .unwrap_or_else(|| before.tax_registration_number.clone()),
            ..before.clone()
        };
        if after == before {
            return Ok(before);
        }
        let updated = conn
            .execute(
                Sql::new(
                    "UPDATE ledger_books SET code = $3, tax_registration_number = $4, updated_at = $5 \
                     WHERE organization_id = $1 AND id = $2",
                )
                .bind(self.org_id)
                .bind(before.id)
                .bind(after.code.as_str())
                .bind(after.tax_registration_number.clone())
                .bind(self.store.now()),
            )
            .await;
        if let Err(error) = updated {
            return Err(match unique_violation(&error) {
                Some(_) => code_taken(&after.code),
                None => error.into(),
            });
        }
        audit::record(
            &mut conn,
            self,
            Change {
                target_kind: TargetKind::LedgerBook,
                target_id: before.id.to_string(),
                action: Action::Updated,
                before: Some(book_snapshot(&before)),
                after: Some(book_snapshot(&after)),
                ctx,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// The book's dimension values (of one dimension, when given), by dimension and value.
    pub async fn ledger_dimension_values(
        &self,
        book: &BookRef,
        dimension: Option<Dimension>,
    ) -> Result<Vec<StoredDimensionValue>> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let book = self
            .find_book(&mut conn, book)
            .await?
            .ok_or_else(|| StoreError::not_found("book"))?;
        let sql = match dimension {
            Some(dimension) => Sql::new(
                "SELECT dimension, code, external_code, name FROM ledger_dimension_values \
                 WHERE organization_id = $1 AND book_id = $2 AND dimension = $3 ORDER BY dimension, code",
            )
            .bind(self.org_id)
            .bind(book.id)
            .bind(dimension.as_str()),
            None => Sql::new(
                "SELECT dimension, code, external_code, name FROM ledger_dimension_values \
                 WHERE organization_id = $1 AND book_id = $2 ORDER BY dimension, code",
            )
            .bind(self.org_id)
            .bind(book.id),
        };
        let rows: Vec<DimensionValueRow> = conn.fetch_all(sql).await?;
        rows.into_iter()
            .map(DimensionValueRow::into_value)
            .collect()
    }

    /// Sets a dimension value's code and name, creating the value when the book has none yet (its code
    /// then the next free one of its dimension unless given). A code another value of the dimension has
    /// is 409.
    pub async fn put_ledger_dimension_value(
        &self,
        ctx: &WriteContext,
        book: &BookRef,
        dimension: Dimension,
        value: &str,
        change: DimensionValueChange,
    ) -> Result<(StoredDimensionValue, bool)> {
        let value = tenon_ledger::account::check_dimension_value(value)
            .map_err(|reason| StoreError::Invalid(reason.at("value").into()))?;
        let code = change
            .code
            .as_deref()
            .map(|code| {
                tenon_ledger::book::check_code(code)
                    .map_err(|reason| StoreError::Invalid(reason.at("code").into()))
            })
            .transpose()?;
        let name = change
            .name
            .as_deref()
            .map(|name| {
                let name = name.trim();
                if name.is_empty()
                    || name.chars().count() > 200
                    || name.chars().any(char::is_control)
                {
                    Err(super::invalid(
                        "name",
                        DetailCode::InvalidFormat,
                        "a name is 1 to 200 characters without control characters",
                    ))
                } else {
                    Ok(name.to_owned())
                }
            })
            .transpose()?;
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let book = self
            .find_book(&mut conn, book)
            .await?
            .ok_or_else(|| StoreError::not_found("book"))?;
        let created = self
            .create_dimension_values(
                &mut conn,
                book.id,
                vec![(
                    dimension,
                    value.clone(),
                    name.clone().unwrap_or_else(|| value.clone()),
                    code.clone(),
                )],
            )
            .await?
            > 0;
        let before: DimensionValueRow = conn
            .fetch_one(
                Sql::new(
                    "SELECT dimension, code, external_code, name FROM ledger_dimension_values \
                     WHERE organization_id = $1 AND book_id = $2 AND dimension = $3 AND code = $4",
                )
                .bind(self.org_id)
                .bind(book.id)
                .bind(dimension.as_str())
                .bind(value.as_str()),
            )
            .await?;
        let before = before.into_value()?;
        let after = StoredDimensionValue {
            code: code.unwrap_or_else(|| before.code.clone()),
            name: name.unwrap_or_else(|| before.name.clone()),
            ..before.clone()
        };
        if after != before {
            let updated = conn
                .execute(
                    Sql::new(
                        "UPDATE ledger_dimension_values SET external_code = $5, name = $6 \
                         WHERE organization_id = $1 AND book_id = $2 AND dimension = $3 AND code = $4",
                    )
                    .bind(self.org_id)
                    .bind(book.id)
                    .bind(dimension.as_str())
                    .bind(value.as_str())
                    .bind(after.code.as_str())
                    .bind(after.name.as_str()),
                )
                .await;
            if let Err(error) = updated {
                return Err(match unique_violation(&error) {
                    Some(_) => StoreError::conflict(
                        Some("code"),
                        DetailCode::NotUnique,
                        format!(
                            "another {} of book {} has the code {:?}",
                            dimension.as_str(),
                            book.settings.name,
                            after.code
                        ),
                    ),
                    None => error.into(),
                });
            }
        }
        if created || after != before {
            let snapshot = |v: &StoredDimensionValue| {
                serde_json::json!({"book": book.settings.name, "dimension": v.dimension.as_str(),
                    "value": v.value, "code": v.code, "name": v.name})
            };
            audit::record(
                &mut conn,
                self,
                Change {
                    target_kind: TargetKind::LedgerBook,
                    target_id: book.id.to_string(),
                    action: Action::Updated,
                    before: (!created).then(|| snapshot(&before)),
                    after: Some(snapshot(&after)),
                    ctx,
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok((after, created))
    }
}
