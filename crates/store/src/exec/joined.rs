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

/// Appends `text` to `out` with its placeholders anonymous, and their values, in the order they appear,
/// to `values`: moved, not cloned (a batch binds thousands of strings), except a numbered value used
/// again. A part uses numbered placeholders (`$1`, which may repeat) or anonymous ones, not both.
fn anonymous(
    text: &str,
    args: Vec<Arg>,
    out: &mut String,
    values: &mut Vec<Arg>,
) -> Result<(), sqlx::Error> {
    let bytes = text.as_bytes();
    let mut args: Vec<Option<Arg>> = args.into_iter().map(Some).collect();
    // Where each numbered value went in `values`, for a number used again.
    let mut placed: Vec<Option<usize>> = vec![None; args.len()];
    let mut numbered = false;
    let mut next_anonymous = 0;
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
                let index = text[i + 1..end]
                    .parse::<usize>()
                    .ok()
                    .and_then(|number| number.checked_sub(1))
                    .filter(|index| *index < args.len())
                    .ok_or_else(|| unbound(&text[i..end]))?;
                let value = match (args[index].take(), placed[index]) {
                    (Some(value), _) => value,
                    (None, Some(at)) => values[at].clone(),
                    (None, None) => return Err(unbound(&text[i..end])),
                };
                placed[index] = Some(values.len());
                values.push(value);
                numbered = true;
                out.push_str(&text[start..i]);
                out.push('?');
                start = end;
                i = end;
                continue;
            }
            None if byte == b'?' => {
                let value = args
                    .get_mut(next_anonymous)
                    .and_then(Option::take)
                    .ok_or_else(|| unbound("?"))?;
                next_anonymous += 1;
                values.push(value);
            }
            None => {}
        }
        i += 1;
    }
    if numbered && next_anonymous > 0 {
        return Err(sqlx::Error::Protocol(
            "a statement mixes numbered and anonymous placeholders".into(),
        ));
    }
    out.push_str(&text[start..]);
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
