//! Statements assembled at run time: the one way the store puts bound values into SQL text it builds.
//!
//! [`SqlText`] appends text the store wrote (keywords, physical names made from ids, always through
//! [`crate::exec::quote`]) and, for every value, a placeholder bound to it: `$n` on PostgreSQL, an
//! anonymous `?` on SQLite. SQLite looks numbered placeholders up by a linear scan, which makes a
//! statement of n values cost n² to bind (seconds for a 10,000-value insert); each placeholder here is
//! used once, in order, so anonymous ones bind the same values. Lists (`IN (…)`, the rows of a multi-row
//! `VALUES`) come from [`SqlText::list`] and [`SqlText::rows`], so no module numbers placeholders by
//! hand: the store's layering test (`tests/layers.rs`) refuses hand-built placeholder lists elsewhere.
//!
//! Statements whose text never varies are written as literals with `$1`, `$2`, … ([`Sql::new`]).

use crate::exec::{Arg, Backend, Sql};

/// SQL text and the values bound to its placeholders, in order.
pub(crate) struct SqlText {
    text: String,
    args: Vec<Arg>,
    pub(crate) backend: Backend,
    /// Whether PostgreSQL may keep the prepared statement (see [`SqlText::kept`]).
    kept: bool,
}

impl SqlText {
    pub(crate) fn new(backend: Backend) -> Self {
        SqlText {
            text: String::new(),
            args: Vec::new(),
            backend,
            kept: false,
        }
    }

    /// Lets PostgreSQL keep the statement prepared on the connection. For statements over the
    /// platform's own tables, whose texts take few shapes. Statements over user tables are not kept,
    /// because a field's type change would invalidate every connection's cached plan — except a read
    /// of one record by id, whose text names its columns' types (`records::storage_tag`).
    #[must_use]
    pub(crate) fn kept(mut self) -> Self {
        self.kept = true;
        self
    }

    /// Appends text the store wrote. Never a value, never anything a user typed.
    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub(crate) fn arg(&mut self, value: impl Into<Arg>) -> &mut Self {
        self.args.push(value.into());
        match self.backend {
            Backend::Postgres => {
                self.text.push('$');
                self.text.push_str(&self.args.len().to_string());
            }
            Backend::Sqlite => self.text.push('?'),
        }
        self
    }

    /// Appends `LIMIT` and a row count the store computed: bound on PostgreSQL; written into the text
    /// on SQLite, whose planner reads a bound `LIMIT` and then marks the statement to be prepared again
    /// at each new binding (parsed and planned at every run, a cached statement or not;
    /// docs/benchmarks.md). An integer only, so nothing but digits reaches the text.
    pub(crate) fn limit(&mut self, rows: u64) -> &mut Self {
        self.text.push_str(" LIMIT ");
        match self.backend {
            Backend::Postgres => {
                self.arg(Arg::Int(Some(i64::try_from(rows).unwrap_or(i64::MAX))));
            }
            Backend::Sqlite => self.text.push_str(&rows.min(i64::MAX as u64).to_string()),
        }
        self
    }

    /// Appends placeholders for the values, separated by commas.
    pub(crate) fn args<A: Into<Arg>>(&mut self, values: impl IntoIterator<Item = A>) -> &mut Self {
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.arg(value);
        }
        self
    }

    /// Appends `(…)` with a placeholder per value: an `IN` list or one row of `VALUES`.
    pub(crate) fn list<A: Into<Arg>>(&mut self, values: impl IntoIterator<Item = A>) -> &mut Self {
        self.text.push('(');
        self.args(values);
        self.text.push(')');
        self
    }

    /// Appends `(…), (…)`: the rows of a multi-row `VALUES`.
    pub(crate) fn rows<R, A>(&mut self, rows: impl IntoIterator<Item = R>) -> &mut Self
    where
        R: IntoIterator<Item = A>,
        A: Into<Arg>,
    {
        for (i, row) in rows.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.list(row);
        }
        self
    }

    /// Appends an expression compiled elsewhere (the formula compiler) whose placeholders are numbered
    /// `$1`, `$2`, … into `binds`, renumbering them in place. Placeholder-like text inside quotes is left
    /// alone. Says which placeholder has no value, if one has none.
    pub(crate) fn splice(&mut self, text: &str, binds: &[Arg]) -> Result<&mut Self, String> {
        let bytes = text.as_bytes();
        let mut start = 0;
        let mut i = 0;
        let mut quote_char: Option<u8> = None;
        while i < bytes.len() {
            let byte = bytes[i];
            match quote_char {
                Some(q) if byte == q => quote_char = None,
                Some(_) => {}
                None if byte == b'\'' || byte == b'"' => quote_char = Some(byte),
                None if byte == b'$' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                    let mut end = i + 1;
                    while end < bytes.len() && bytes[end].is_ascii_digit() {
                        end += 1;
                    }
                    let bind = text[i + 1..end]
                        .parse::<usize>()
                        .ok()
                        .and_then(|number| binds.get(number.wrapping_sub(1)))
                        .ok_or_else(|| format!("placeholder {} without a value", &text[i..end]))?;
                    self.text.push_str(&text[start..i]);
                    self.arg(bind.clone());
                    start = end;
                    i = end;
                    continue;
                }
                None => {}
            }
            i += 1;
        }
        self.text.push_str(&text[start..]);
        Ok(self)
    }

    /// How many values are bound so far.
    #[cfg(test)]
    pub(crate) fn bound(&self) -> usize {
        self.args.len()
    }

    pub(crate) fn into_sql(self) -> Sql {
        Sql::assembled(self.text, self.args, self.kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(sql: SqlText) -> (String, usize) {
        let bound = sql.bound();
        (sql.into_sql().text().to_owned(), bound)
    }

    #[test]
    fn placeholders_are_numbered_on_postgres_and_anonymous_on_sqlite() {
        for (backend, expected) in [
            (
                Backend::Postgres,
                "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4) WHERE x IN ($5, $6)",
            ),
            (
                Backend::Sqlite,
                "INSERT INTO t (a, b) VALUES (?, ?), (?, ?) WHERE x IN (?, ?)",
            ),
        ] {
            let mut sql = SqlText::new(backend);
            sql.push("INSERT INTO t (a, b) VALUES ")
                .rows([[1_i64, 2], [3, 4]])
                .push(" WHERE x IN ")
                .list(["a", "b"]);
            assert_eq!(parts(sql), (expected.to_owned(), 6));
        }
    }

    #[test]
    fn a_limit_is_bound_on_postgres_and_written_on_sqlite() {
        for (backend, expected) in [
            (
                Backend::Postgres,
                ("SELECT a FROM t WHERE a > $1 LIMIT $2", 2),
            ),
            (Backend::Sqlite, ("SELECT a FROM t WHERE a > ? LIMIT 26", 1)),
        ] {
            let mut sql = SqlText::new(backend);
            sql.push("SELECT a FROM t WHERE a > ").arg(1_i64).limit(26);
            assert_eq!(parts(sql), (expected.0.to_owned(), expected.1));
        }
    }

    #[test]
    fn a_spliced_expression_is_renumbered_after_what_came_before() {
        let mut sql = SqlText::new(Backend::Postgres);
        sql.push("SELECT ").arg(1_i64).push(" + ");
        sql.splice("($2 * $1) || '$1'", &[Arg::from(10_i64), Arg::from(20_i64)])
            .unwrap();
        assert_eq!(parts(sql), ("SELECT $1 + ($2 * $3) || '$1'".to_owned(), 3));
        let mut sql = SqlText::new(Backend::Sqlite);
        assert!(sql.splice("$3", &[Arg::from(1_i64)]).is_err());
    }
}
