//! Statements SQLite runs in one round trip.
//!
//! sqlx's SQLite driver runs each connection on a thread of its own, so every statement is a round trip
//! between threads (docs/benchmarks.md). A write transaction's `BEGIN IMMEDIATE`, and the writes whose
//! results nobody reads (audit entries, events: [`super::Conn::execute_unobserved`]), need no round trip
//! of their own: they go in one text with the transaction's next statement, or with its `COMMIT`
//! ([`super::conns::SqliteTx`]). The driver runs the statements of one text in order and binds each its
//! placeholders: a numbered one by its number among *all* the text's values, an anonymous one by its
//! place after the values the earlier statements used. So the parts are joined with their placeholders
//! made anonymous, each bound to its value in order — the one rewrite of placeholders outside the
//! statement builder (`crate::sql`, a layer above this one; `tests/layers.rs` names this file too).

use super::{Arg, Sql};

/// One SQLite text holding `parts` in order, each bound to its own values.
pub(super) fn join(parts: Vec<Sql>) -> Result<Sql, sqlx::Error> {
    let mut text = String::new();
    let mut args = Vec::new();
    for part in parts {
        if !text.is_empty() {
            text.push_str(";\n");
        }
        anonymous(&part.text, part.args, &mut text, &mut args)?;
    }
    Ok(Sql::assembled(text, args, false))
}

/// A placeholder met in a statement's text, outside quotes.
enum Placeholder {
    /// `$n`: the value at `n - 1`.
    Numbered(usize),
    /// `?`: the value after those the earlier anonymous ones took.
    Anonymous,
}

/// Copies `text` to `out`, each placeholder outside quotes replaced by what `replace` writes for it.
fn each_placeholder(
    text: &str,
    out: &mut String,
    mut replace: impl FnMut(Placeholder, &str, &mut String) -> Result<(), sqlx::Error>,
) -> Result<(), sqlx::Error> {
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let byte = bytes[i];
        match quote {
            Some(q) if byte == q => quote = None,
            Some(_) => {}
            None if byte == b'\'' || byte == b'"' => quote = Some(byte),
            None if byte == b'$' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let mut end = i + 1;
                while end < bytes.len() && bytes[end].is_ascii_digit() {
                    end += 1;
                }
                let number = text[i + 1..end]
                    .parse::<usize>()
                    .ok()
                    .filter(|number| *number > 0)
                    .ok_or_else(|| unbound(&text[i..end]))?;
                out.push_str(&text[start..i]);
                replace(Placeholder::Numbered(number), &text[i..end], out)?;
                start = end;
                i = end;
                continue;
            }
            None if byte == b'?' => {
                out.push_str(&text[start..i]);
                replace(Placeholder::Anonymous, "?", out)?;
                start = i + 1;
            }
            None => {}
        }
        i += 1;
    }
    out.push_str(&text[start..]);
    Ok(())
}

/// Appends `text` to `out` with its placeholders anonymous, and their values, in the order they appear,
/// to `values`: moved, not cloned (a batch binds thousands of strings), except a numbered value used
/// again. A part uses numbered placeholders (`$1`, which may repeat) or anonymous ones, not both.
fn anonymous(
    text: &str,
    args: Vec<Arg>,
    out: &mut String,
    values: &mut Vec<Arg>,
) -> Result<(), sqlx::Error> {
    let mut args: Vec<Option<Arg>> = args.into_iter().map(Some).collect();
    // Where each numbered value went in `values`, for a number used again.
    let mut placed: Vec<Option<usize>> = vec![None; args.len()];
    let mut numbered = false;
    let mut next_anonymous = 0;
    each_placeholder(text, out, |placeholder, written, out| {
        let value = match placeholder {
            Placeholder::Numbered(number) => {
                let index = number - 1;
                let value = match (
                    args.get_mut(index).and_then(Option::take),
                    placed.get(index),
                ) {
                    (Some(value), _) => value,
                    (None, Some(Some(at))) => values[*at].clone(),
                    _ => return Err(unbound(written)),
                };
                placed[index] = Some(values.len());
                numbered = true;
                value
            }
            Placeholder::Anonymous => {
                let value = args
                    .get_mut(next_anonymous)
                    .and_then(Option::take)
                    .ok_or_else(|| unbound(written))?;
                next_anonymous += 1;
                value
            }
        };
        values.push(value);
        out.push('?');
        Ok(())
    })?;
    if numbered && next_anonymous > 0 {
        return Err(sqlx::Error::Protocol(
            "a statement mixes numbered and anonymous placeholders".into(),
        ));
    }
    Ok(())
}

/// PostgreSQL: one statement that runs `writes` as data-modifying `WITH` queries of `main`
/// ([`super::pg_tx`] says when that is the same as running them one after the other). Each part's
/// numbered placeholders are moved past the values of the parts before it. A part that begins with its
/// own `WITH` can only be `main`.
pub(super) fn merge_postgres(writes: Vec<Sql>, main: Sql) -> Result<Sql, sqlx::Error> {
    let persistent = main.persistent && writes.iter().all(|write| write.persistent);
    let mut text = String::from("WITH ");
    let mut args = Vec::new();
    for (n, write) in writes.into_iter().enumerate() {
        if starts_with_with(&write.text) {
            return Err(sqlx::Error::Protocol(
                "a queued write with its own WITH cannot go in another statement".into(),
            ));
        }
        if n > 0 {
            text.push_str(", ");
        }
        text.push_str(&format!("queued_{n} AS ("));
        shifted(&write.text, write.args, &mut text, &mut args)?;
        text.push(')');
    }
    match main.text.strip_prefix("WITH ") {
        Some(rest) if !rest.starts_with("RECURSIVE") => {
            text.push_str(", ");
            shifted(rest, main.args, &mut text, &mut args)?;
        }
        Some(_) => {
            return Err(sqlx::Error::Protocol(
                "queued writes cannot go in a recursive statement".into(),
            ));
        }
        None => {
            text.push(' ');
            shifted(&main.text, main.args, &mut text, &mut args)?;
        }
    }
    Ok(Sql::assembled(text, args, persistent))
}

/// Whether a statement begins with its own `WITH`.
pub(super) fn starts_with_with(text: &str) -> bool {
    text.trim_start().starts_with("WITH ")
}

/// Appends `text` to `out` with each `$n` moved past the `values` already there, and `args` to `values`.
fn shifted(
    text: &str,
    args: Vec<Arg>,
    out: &mut String,
    values: &mut Vec<Arg>,
) -> Result<(), sqlx::Error> {
    let offset = values.len();
    let count = args.len();
    each_placeholder(text, out, |placeholder, written, out| match placeholder {
        Placeholder::Numbered(number) if number <= count => {
            out.push('$');
            out.push_str(&(number + offset).to_string());
            Ok(())
        }
        _ => Err(unbound(written)),
    })?;
    values.extend(args);
    Ok(())
}

fn unbound(placeholder: &str) -> sqlx::Error {
    sqlx::Error::Protocol(format!("placeholder {placeholder} without a value"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_and_anonymous_parts_bind_their_own_values_in_order() {
        let joined = join(vec![
            Sql::new("BEGIN IMMEDIATE"),
            Sql::new(
                "INSERT INTO c (o, n) VALUES ($1, $2) ON CONFLICT (o) DO UPDATE SET n = c.n + $2",
            )
            .bind(7_i64)
            .bind(2_i64),
            Sql::assembled(
                "UPDATE t SET a = ? WHERE b = ? AND j = '$1?'".to_owned(),
                vec![Arg::from("x"), Arg::from(9_i64)],
                false,
            ),
            Sql::new("COMMIT"),
        ])
        .unwrap();
        assert_eq!(
            joined.text(),
            "BEGIN IMMEDIATE;\nINSERT INTO c (o, n) VALUES (?, ?) ON CONFLICT (o) DO UPDATE SET n = c.n + ?;\n\
             UPDATE t SET a = ? WHERE b = ? AND j = '$1?';\nCOMMIT"
        );
        assert_eq!(
            joined.args,
            [
                Arg::from(7_i64),
                Arg::from(2_i64),
                Arg::from(2_i64),
                Arg::from("x"),
                Arg::from(9_i64)
            ]
        );
    }

    #[test]
    fn a_placeholder_without_a_value_or_a_mixed_part_is_refused() {
        assert!(join(vec![Sql::new("SELECT $2").bind(1_i64)]).is_err());
        assert!(
            join(vec![Sql::assembled(
                "SELECT ?, ?".to_owned(),
                vec![Arg::from(1_i64)],
                false
            )])
            .is_err()
        );
        assert!(join(vec![Sql::new("SELECT $1, ?").bind(1_i64).bind(2_i64)]).is_err());
    }
}
