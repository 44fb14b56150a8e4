//! Rows whose columns are known only at run time (records of user tables), read column by column with
//! the decoding each column's storage needs on each backend.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use super::direct;

/// A row of either backend, read column by column with the decoding the column's storage needs.
pub(crate) enum DynRow {
    Postgres(PgRow),
    Sqlite(SqliteRow),
    Direct(direct::DirectRow),
}

macro_rules! dyn_get {
    ($self:ident, $idx:ident, $direct:ident) => {{
        use sqlx::Row;
        match $self {
            DynRow::Postgres(row) => row.try_get($idx),
            DynRow::Sqlite(row) => row.try_get($idx),
            DynRow::Direct(row) => row.$direct($idx),
        }
    }};
}

pub(super) fn decode_error(
    idx: usize,
    error: impl std::error::Error + Send + Sync + 'static,
) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: idx.to_string(),
        source: Box::new(error),
    }
}

impl DynRow {
    pub(crate) fn uuid(&self, idx: usize) -> Result<Uuid, sqlx::Error> {
        use sqlx::Row;
        match self {
            DynRow::Postgres(row) => row.try_get(idx),
            DynRow::Sqlite(row) => row.try_get(idx),
            DynRow::Direct(row) => row
                .optional_uuid(idx)?
                .ok_or_else(|| decode_error(idx, std::io::Error::other("unexpected NULL"))),
        }
    }

    pub(crate) fn optional_uuid(&self, idx: usize) -> Result<Option<Uuid>, sqlx::Error> {
        dyn_get!(self, idx, optional_uuid)
    }

    pub(crate) fn text(&self, idx: usize) -> Result<Option<String>, sqlx::Error> {
        dyn_get!(self, idx, text)
    }

    pub(crate) fn int(&self, idx: usize) -> Result<Option<i64>, sqlx::Error> {
        dyn_get!(self, idx, int)
    }

    pub(crate) fn bool(&self, idx: usize) -> Result<Option<bool>, sqlx::Error> {
        dyn_get!(self, idx, bool)
    }

    pub(crate) fn datetime(&self, idx: usize) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        dyn_get!(self, idx, datetime)
    }

    /// NUMERIC on PostgreSQL; a scaled INTEGER on SQLite.
    pub(crate) fn decimal(
        &self,
        idx: usize,
        scale: u32,
    ) -> Result<Option<rust_decimal::Decimal>, sqlx::Error> {
        use sqlx::Row;
        match self {
            DynRow::Postgres(row) => row.try_get(idx),
            DynRow::Sqlite(_) | DynRow::Direct(_) => Ok(self
                .int(idx)?
                .map(|value| rust_decimal::Decimal::new(value, scale))),
        }
    }

    pub(crate) fn date(&self, idx: usize) -> Result<Option<chrono::NaiveDate>, sqlx::Error> {
        use sqlx::Row;
        match self {
            DynRow::Postgres(row) => row.try_get(idx),
            DynRow::Sqlite(_) | DynRow::Direct(_) => self
                .text(idx)?
                .map(|text| {
                    chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                        .map_err(|e| decode_error(idx, e))
                })
                .transpose(),
        }
    }

    pub(crate) fn json(&self, idx: usize) -> Result<Option<serde_json::Value>, sqlx::Error> {
        use sqlx::Row;
        match self {
            DynRow::Postgres(row) => {
                let value: Option<sqlx::types::Json<serde_json::Value>> = row.try_get(idx)?;
                Ok(value.map(|json| json.0))
            }
            DynRow::Sqlite(_) | DynRow::Direct(_) => self
                .text(idx)?
                .map(|text| serde_json::from_str(&text).map_err(|e| decode_error(idx, e)))
                .transpose(),
        }
    }
}
