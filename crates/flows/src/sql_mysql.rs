//! The `sql` step on a `mysql` connection, without I/O: where its params go.
//!
//! MySQL binds `?`. A step's query takes either `?` — one param per `?`, in order, so the query has as
//! many `?` as the step has params — or `$1`, `$2`… as on PostgreSQL, rewritten to `?` with the param of
//! each place bound there (a param may be used twice, or not at all); never both in one query.
//! Placeholders are looked for outside quoted strings (`'…'`, `"…"`), quoted names (`` `…` ``) and
//! comments (`-- …`, `# …`, `/* … */` — not executable ones, `/*! … */`, whose text MySQL runs), as MySQL's own parser reads them; `$1` inside a name (`a$1`)
//! is part of that name. The same check runs at publish (422 at the step's `query` or `params`) and at
//! run time (the connection may have been replaced since).

/// The statement as MySQL receives it, and which param each of its `?` binds (0-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub statement: String,
    pub bind: Vec<usize>,
}

/// Why a query's placeholders do not fit its params; `params_wrong` says the fix is in `params` (the
/// count of `?` and of params differ) rather than in the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misplaced {
    pub reason: String,
    pub params_wrong: bool,
}

/// Finds the query's placeholders (see the module documentation) for `n_params` params.
pub fn place(query: &str, n_params: usize) -> Result<Placed, Misplaced> {
    let chars: Vec<char> = query.chars().collect();
    let mut statement = String::with_capacity(query.len());
    let mut questions = 0usize;
    let mut dollars: Vec<usize> = Vec::new();
    let mut index = 0;
    while index < chars.len() {
        let here = chars[index];
        let next = chars.get(index + 1).copied();
        let skipped = match here {
            '\'' | '"' => quoted(&chars, index, here, true),
            '`' => quoted(&chars, index, '`', false),
            '#' => line_end(&chars, index),
            '-' if next == Some('-')
                && chars
                    .get(index + 2)
                    .is_none_or(|c| c.is_whitespace() || c.is_control()) =>
            {
                line_end(&chars, index)
            }
            // An executable comment (`/*! … */`, `/*!50110 … */`, MariaDB's `/*M! … */`) is code to
            // MySQL: only its opener is passed over, its `*/` is copied like any text.
            '/' if next == Some('*') && executable(&chars, index).is_some() => {
                executable(&chars, index).unwrap_or(index)
            }
            '/' if next == Some('*') => comment_end(&chars, index),
            _ => index,
        };
        if skipped > index {
            statement.extend(&chars[index..skipped]);
            index = skipped;
            continue;
        }
        if here == '?' {
            questions += 1;
            statement.push('?');
            index += 1;
            continue;
        }
        let starts_name = index > 0 && is_name_char(chars[index - 1]);
        if here == '$' && !starts_name && next.is_some_and(|c| c.is_ascii_digit()) {
            let digits_end = (index + 1..chars.len())
                .find(|&i| !chars[i].is_ascii_digit())
                .unwrap_or(chars.len());
            if chars.get(digits_end).is_none_or(|&c| !is_name_char(c)) {
                let number: String = chars[index + 1..digits_end].iter().collect();
                let number = number.parse::<usize>().unwrap_or(usize::MAX);
                if number == 0 || number > n_params {
                    return Err(Misplaced {
                        reason: format!(
                            "${number} has no param: the step has {n_params} (from $1 to ${n_params})"
                        ),
                        params_wrong: false,
                    });
                }
                dollars.push(number - 1);
                statement.push('?');
                index = digits_end;
                continue;
            }
        }
        statement.push(here);
        index += 1;
    }
    if questions > 0 && !dollars.is_empty() {
        return Err(Misplaced {
            reason: "a query takes ? or $1, $2… placeholders, not both".to_owned(),
            params_wrong: false,
        });
    }
    if !dollars.is_empty() {
        return Ok(Placed {
            statement,
            bind: dollars,
        });
    }
    if questions != n_params {
        return Err(Misplaced {
            reason: format!(
                "the query has {questions} ? placeholders and the step {n_params} params: one param per ?"
            ),
            params_wrong: true,
        });
    }
    Ok(Placed {
        statement,
        bind: (0..questions).collect(),
    })
}

/// A character of an unquoted MySQL name.
fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// The index after the quoted text opening at `start` (its end when unterminated): a doubled quote is one
/// quote, and in strings a backslash escapes the next character.
fn quoted(chars: &[char], start: usize, quote: char, backslash: bool) -> usize {
    let mut index = start + 1;
    while index < chars.len() {
        match chars[index] {
            '\\' if backslash => index += 2,
            c if c == quote => {
                if chars.get(index + 1) == Some(&quote) {
                    index += 2;
                } else {
                    return index + 1;
                }
            }
            _ => index += 1,
        }
    }
    chars.len()
}

fn line_end(chars: &[char], start: usize) -> usize {
    (start..chars.len())
        .find(|&i| chars[i] == '\n')
        .unwrap_or(chars.len())
}

fn comment_end(chars: &[char], start: usize) -> usize {
    (start + 2..chars.len().saturating_sub(1))
        .find(|&i| chars[i] == '*' && chars[i + 1] == '/')
        .map_or(chars.len(), |i| i + 2)
}

/// The index after an executable comment's opener at `index` (`/*!`, `/*M!`, then a version's digits).
fn executable(chars: &[char], index: usize) -> Option<usize> {
    let mut at = index + 2;
    if chars.get(at) == Some(&'M') {
        at += 1;
    }
    if chars.get(at) != Some(&'!') {
        return None;
    }
    at += 1;
    while chars.get(at).is_some_and(char::is_ascii_digit) {
        at += 1;
    }
    Some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn question_marks_bind_params_in_order_and_must_match_their_count() {
        let placed = place("SELECT a FROM t WHERE b = ? AND c > ?", 2).unwrap();
        assert_eq!(placed.statement, "SELECT a FROM t WHERE b = ? AND c > ?");
        assert_eq!(placed.bind, [0, 1]);
        let wrong = place("SELECT a FROM t WHERE b = ?", 2).unwrap_err();
        assert!(wrong.params_wrong, "{wrong:?}");
        assert!(place("SELECT 1", 1).unwrap_err().params_wrong);
        assert_eq!(place("SELECT 1", 0).unwrap().bind, Vec::<usize>::new());
    }

    #[test]
    fn dollar_placeholders_are_rewritten_and_may_repeat() {
        let placed = place("UPDATE t SET q = q - $2 WHERE sku = $1 OR alt = $1", 2).unwrap();
        assert_eq!(
            placed.statement,
            "UPDATE t SET q = q - ? WHERE sku = ? OR alt = ?"
        );
        assert_eq!(placed.bind, [1, 0, 0]);
        let beyond = place("SELECT $3", 2).unwrap_err();
        assert!(!beyond.params_wrong);
        assert!(beyond.reason.contains("$3"), "{beyond:?}");
        assert!(place("SELECT $0", 1).is_err());
        assert!(place("SELECT ? + $1", 1).is_err(), "not both");
    }

    #[test]
    fn quoted_text_names_and_comments_hold_no_placeholders() {
        let query = "SELECT '?', \"$1\", 'it''s ?', 'a\\'?', `we?ird``?`, a$1, $1x \
                     -- ? $1\n # ? $1\n /* ? $1 */ FROM t WHERE k = ?";
        let placed = place(query, 1).unwrap();
        assert_eq!(placed.bind, [0]);
        assert_eq!(placed.statement, query, "nothing rewritten");
        // An executable comment is code: its placeholders count.
        let placed = place(
            "SELECT /*!50110 ? + */ $1 /*M! + ? */ FROM t /*+ ? hint */",
            3,
        );
        assert!(
            placed.is_err(),
            "`?` and `$1` mixed inside executable comments"
        );
        let placed = place(
            "SELECT /*!50110 ? + */ ? /*M! + ? */ FROM t /*+ ? hint */",
            3,
        )
        .unwrap();
        assert_eq!(placed.bind, [0, 1, 2]);
        // `--` without a space after it is two minuses, not a comment.
        assert_eq!(place("SELECT 1--?", 1).unwrap().bind, [0]);
        assert!(
            place("SELECT '?", 0).is_ok(),
            "an unterminated string ends the query"
        );
        assert_eq!(
            place("SELECT 名 FROM 表 WHERE 名 = $1", 1)
                .unwrap()
                .statement,
            "SELECT 名 FROM 表 WHERE 名 = ?"
        );
    }
}
