//! Text functions in SQL. Positions count characters on both backends (SQLite's `length`/`substr` and
//! PostgreSQL's on a UTF-8 database), as the evaluator does; results that would be `''` are NULL.

use super::{Compiler, Sql, not_compilable};
use crate::functions::Func;
use crate::ir::Node;
use crate::schema::Type;

const PG_DATETIME_TEXT: &str = "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'";

impl Compiler<'_> {
    /// SQLite: the scaled integer `sql` at `scale` written with exactly `scale` decimals; NULL stays NULL.
    fn sqlite_fixed(&self, sql: &str, scale: u32) -> String {
        if scale == 0 {
            return format!("CAST({sql} AS TEXT)");
        }
        let unit = 10i64.pow(scale);
        format!(
            "(CASE WHEN {sql} IS NULL THEN NULL ELSE (CASE WHEN {sql} < 0 THEN '-' ELSE '' END) || printf('%d.%0{scale}d', abs({sql}) / {unit}, abs({sql}) % {unit}) END)"
        )
    }

    /// The value as `&` writes it, `''` for empty (never NULL).
    pub fn text_of(&mut self, node: &Node) -> Sql {
        let sql = self.expr(node)?;
        Ok(match (&node.ty, self.pg()) {
            (Type::Blank, _) => "''".into(),
            (Type::Text, _) => format!("COALESCE({sql}, '')"),
            (Type::Number { .. }, true) => format!("COALESCE(CAST(trim_scale({sql}) AS TEXT), '')"),
            (Type::Number { scale }, false) => {
                if *scale == 0 {
                    format!("COALESCE(CAST({sql} AS TEXT), '')")
                } else {
                    format!(
                        "COALESCE(rtrim(rtrim({}, '0'), '.'), '')",
                        self.sqlite_fixed(&sql, *scale)
                    )
                }
            }
            (Type::Boolean, true) => {
                format!("(CASE WHEN {sql} THEN 'TRUE' WHEN NOT {sql} THEN 'FALSE' ELSE '' END)")
            }
            (Type::Boolean, false) => {
                format!("(CASE {sql} WHEN 1 THEN 'TRUE' WHEN 0 THEN 'FALSE' ELSE '' END)")
            }
            (Type::Date, true) => format!("COALESCE(to_char({sql}, 'YYYY-MM-DD'), '')"),
            (Type::DateTime, true) => {
                format!("COALESCE(to_char({sql} AT TIME ZONE 'UTC', {PG_DATETIME_TEXT}), '')")
            }
            (Type::Date | Type::DateTime, false) => format!("COALESCE({sql}, '')"),
            (Type::List(_), _) => return not_compilable(node, "lists are evaluated in Rust"),
        })
    }

    fn non_empty(sql: String) -> String {
        format!("NULLIF({sql}, '')")
    }

    pub(super) fn text_call(&mut self, func: Func, node: &Node, args: &[Node]) -> Sql {
        use Func::*;
        let pg = self.pg();
        match func {
            Concat | Text => {
                if func == Text && args.len() > 1 {
                    return not_compilable(node, "TEXT with a format is evaluated in Rust");
                }
                let parts = args
                    .iter()
                    .map(|arg| self.text_of(arg))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Self::non_empty(format!("({})", parts.join(" || "))))
            }
            Left | Right => {
                let text = self.text_of(&args[0])?;
                let count = match args.get(1) {
                    Some(arg) => self.integer(arg)?,
                    None => "1".into(),
                };
                let taken = match (func, pg) {
                    (Left, true) => format!("left({text}, {count})"),
                    (Left, false) => format!("substr({text}, 1, {count})"),
                    (_, true) => format!("right({text}, {count})"),
                    (_, false) => format!("substr({text}, -{count})"),
                };
                Ok(format!(
                    "(CASE WHEN {count} > 0 THEN {} END)",
                    Self::non_empty(taken)
                ))
            }
            Mid => {
                let text = self.text_of(&args[0])?;
                let start = self.integer(&args[1])?;
                let count = self.integer(&args[2])?;
                Ok(format!(
                    "(CASE WHEN {start} >= 1 AND {count} >= 0 THEN {} END)",
                    Self::non_empty(format!("substr({text}, {start}, {count})"))
                ))
            }
            Len => {
                let text = self.text_of(&args[0])?;
                Ok(self.numeric_of_integer(if pg {
                    format!("char_length({text})")
                } else {
                    format!("length({text})")
                }))
            }
            Trim => {
                let text = self.text_of(&args[0])?;
                Ok(Self::non_empty(if pg {
                    format!("btrim({text}, chr(32) || chr(9) || chr(10) || chr(13))")
                } else {
                    format!("trim({text}, char(32, 9, 10, 13))")
                }))
            }
            Substitute => {
                if args.len() > 3 {
                    return not_compilable(node, "SUBSTITUTE with an index is evaluated in Rust");
                }
                let text = self.text_of(&args[0])?;
                let old = self.text_of(&args[1])?;
                let new = self.text_of(&args[2])?;
                // Both backends return the text unchanged for an empty `old`, as the evaluator does.
                Ok(Self::non_empty(format!("replace({text}, {old}, {new})")))
            }
            Find => {
                let needle = self.text_of(&args[0])?;
                let haystack = self.text_of(&args[1])?;
                let start = match args.get(2) {
                    Some(arg) => {
                        let start = self.integer(arg)?;
                        format!("(CASE WHEN {start} < 1 THEN 1 ELSE {start} END)")
                    }
                    None => "1".into(),
                };
                let length = if pg {
                    format!("char_length({haystack})")
                } else {
                    format!("length({haystack})")
                };
                let position = if pg {
                    format!("strpos(substr({haystack}, {start}), {needle})")
                } else {
                    format!("instr(substr({haystack}, {start}), {needle})")
                };
                Ok(self.numeric_of_integer(format!(
                    "(CASE WHEN {start} > {length} + 1 THEN 0 WHEN {position} = 0 THEN 0 ELSE {position} + {start} - 1 END)"
                )))
            }
            Replace => {
                let text = self.text_of(&args[0])?;
                let start = self.integer(&args[1])?;
                let count = self.integer(&args[2])?;
                let new = self.text_of(&args[3])?;
                let start = format!("(CASE WHEN {start} < 1 THEN 1 ELSE {start} END)");
                let count = format!("(CASE WHEN {count} < 0 THEN 0 ELSE {count} END)");
                Ok(format!(
                    "(CASE WHEN {start} IS NOT NULL AND {count} IS NOT NULL THEN {} END)",
                    Self::non_empty(format!(
                        "substr({text}, 1, {start} - 1) || {new} || substr({text}, {start} + {count})"
                    ))
                ))
            }
            T => Ok(if args[0].ty == Type::Text {
                self.expr(&args[0])?
            } else {
                self.null(&Type::Text)
            }),
            Exact => {
                let a = self.text_of(&args[0])?;
                let b = self.text_of(&args[1])?;
                Ok(format!("({a} = {b})"))
            }
            Fixed => {
                let places = args.get(1).and_then(Node::literal_int).unwrap_or(2);
                let sql = self.num_expr(&args[0])?;
                if pg {
                    return Ok(format!("CAST(round({sql}, {places}) AS TEXT)"));
                }
                let own = args[0].ty.scale();
                let shown = u32::try_from(places.max(0)).unwrap_or(0);
                let rounded = if places >= i64::from(own) {
                    self.rescale(&sql, own, shown)
                } else {
                    let drop = u32::try_from(i64::from(own) - places).unwrap_or(u32::MAX);
                    if drop > 18 {
                        return not_compilable(node, "FIXED rounds away every digit");
                    }
                    let quotient = self.rescale(&sql, drop, 0);
                    if places < 0 {
                        format!(
                            "({quotient} * {})",
                            10i64.pow(u32::try_from(-places).unwrap_or(0))
                        )
                    } else {
                        quotient
                    }
                };
                Ok(self.sqlite_fixed(&rounded, shown))
            }
            _ => not_compilable(node, "not a text function"),
        }
    }
}
