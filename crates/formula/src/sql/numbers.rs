//! Numbers in SQL. SQLite has no exact decimal type, so numbers there are INTEGERs scaled by 10^scale with
//! the static scale the checker inferred; PostgreSQL uses NUMERIC. Every rounding is written out in
//! integer arithmetic (or PostgreSQL's exact `div`) so it matches the evaluator's single half-away-from-zero
//! rounding. Division by zero yields NULL on both backends (PostgreSQL would raise an error).
//!
//! Known limit: SQLite's integers are 64-bit; a value whose scaled integer leaves ±9.2 × 10^18 (e.g.
//! ±92 quadrillion at scale 2) overflows to floating point there. The data engine's SQLite columns have the
//! same bound.

use super::{Compiler, Sql, not_compilable};
use crate::functions::Func;
use crate::ir::Node;
use crate::schema::Type;

fn pow10(exponent: u32) -> i64 {
    10i64.pow(exponent.min(18))
}

/// `10^-exponent` as a NUMERIC literal (`0.001`).
fn inverse_pow10(exponent: u32) -> String {
    if exponent == 0 {
        "1".into()
    } else {
        format!("0.{}1", "0".repeat(exponent as usize - 1))
    }
}

impl Compiler<'_> {
    /// `sql` (a number at scale `from`) at scale `to`; rounding half away from zero when narrowing.
    pub fn rescale(&self, sql: &str, from: u32, to: u32) -> String {
        if from == to {
            return sql.to_owned();
        }
        if self.pg() {
            return if to < from {
                format!("round({sql}, {to})")
            } else {
                sql.to_owned()
            };
        }
        if to > from {
            format!("({sql} * {})", pow10(to - from))
        } else {
            self.div_round_const(sql, pow10(from - to))
        }
    }

    /// SQLite: integer `sql / unit` rounded half away from zero (`unit` a positive constant).
    fn div_round_const(&self, sql: &str, unit: i64) -> String {
        let half = unit / 2;
        format!("(({sql} + (CASE WHEN {sql} < 0 THEN -{half} ELSE {half} END)) / {unit})")
    }

    /// `numerator / denominator` rounded half away from zero, NULL for a zero denominator.
    /// SQLite: both integers. PostgreSQL: exact NUMERICs; the quotient is returned as an integer NUMERIC.
    fn div_round(&self, numerator: &str, denominator: &str) -> String {
        if self.pg() {
            format!(
                "(sign({numerator}) * sign({denominator}) * div(2 * abs({numerator}) + abs({denominator}), 2 * abs(NULLIF({denominator}, 0))))"
            )
        } else {
            format!(
                "(CASE WHEN ({numerator} < 0) = ({denominator} < 0) THEN 1 ELSE -1 END * ((2 * abs({numerator}) + abs({denominator})) / (2 * abs({denominator}))))"
            )
        }
    }

    /// A number that is an integer (scale 0) in SQL, for counts and positions; truncated toward zero.
    pub fn integer(&mut self, node: &Node) -> Sql {
        let sql = self.num_expr(node)?;
        let scale = node.ty.scale();
        Ok(if self.pg() {
            // PostgreSQL's text functions take int4: clamp to ±10^9 (beyond any text's length, and the
            // sum of two such counts still fits). LEAST/GREATEST skip NULLs; `+ 0 * t` keeps empty empty.
            format!(
                "CAST(LEAST(GREATEST(trunc({sql}), -1000000000), 1000000000) + 0 * trunc({sql}) AS INTEGER)"
            )
        } else if scale == 0 {
            sql
        } else {
            format!("({sql} / {})", pow10(scale))
        })
    }

    /// A numeric argument; `BLANK()` becomes a NULL of numeric type (PostgreSQL needs the type).
    pub fn num_expr(&mut self, node: &Node) -> Sql {
        if node.ty == Type::Blank {
            Ok(self.null(&Type::number(0)))
        } else {
            self.expr(node)
        }
    }

    /// An SQL integer expression as a number of scale 0.
    pub fn numeric_of_integer(&self, sql: String) -> String {
        if self.pg() {
            format!("CAST({sql} AS NUMERIC)")
        } else {
            sql
        }
    }

    fn operand(&mut self, node: &Node, scale: u32) -> Sql {
        let sql = self.num_expr(node)?;
        Ok(self.rescale(&sql, node.ty.scale(), scale))
    }

    pub(super) fn number_call(&mut self, func: Func, node: &Node, args: &[Node]) -> Sql {
        use Func::*;
        let scale = node.ty.scale();
        match func {
            Add | Sub => {
                let a = self.operand(&args[0], scale)?;
                let b = self.operand(&args[1], scale)?;
                Ok(format!("({a} {} {b})", if func == Add { "+" } else { "-" }))
            }
            Neg => Ok(format!("(-{})", self.operand(&args[0], scale)?)),
            Abs => Ok(format!("abs({})", self.operand(&args[0], scale)?)),
            Mul => {
                let a = self.num_expr(&args[0])?;
                let b = self.num_expr(&args[1])?;
                let product_scale = args[0].ty.scale() + args[1].ty.scale();
                Ok(self.rescale(&format!("({a} * {b})"), product_scale, scale))
            }
            Div | Average => {
                let (numerator, denominator, numerator_scale, denominator_scale) = if func == Div {
                    (
                        self.num_expr(&args[0])?,
                        self.num_expr(&args[1])?,
                        args[0].ty.scale(),
                        args[1].ty.scale(),
                    )
                } else {
                    if args.iter().any(|arg| matches!(arg.ty, Type::List(_))) {
                        return not_compilable(node, "AVERAGE over a list is evaluated in Rust");
                    }
                    let inner = scale
                        .saturating_sub(crate::typing::DIVISION_EXTRA_SCALE)
                        .max(args.iter().map(|arg| arg.ty.scale()).max().unwrap_or(0));
                    let mut sums = Vec::new();
                    let mut counts = Vec::new();
                    for arg in args.iter().filter(|arg| arg.ty != Type::Blank) {
                        let sql = self.operand(arg, inner)?;
                        counts.push(format!("(CASE WHEN {sql} IS NULL THEN 0 ELSE 1 END)"));
                        sums.push(format!("COALESCE({sql}, 0)"));
                    }
                    if sums.is_empty() {
                        return Ok(self.null(&node.ty));
                    }
                    (
                        format!("({})", sums.join(" + ")),
                        self.numeric_of_integer(format!("({})", counts.join(" + "))),
                        inner,
                        0,
                    )
                };
                if self.pg() {
                    // a/b × 10^s = (a × 10^s) / b; both exact NUMERICs.
                    let shifted = format!("({numerator} * {})", 10i128.pow(scale));
                    let quotient = self.div_round(&shifted, &denominator);
                    Ok(format!("({quotient} * {})", inverse_pow10(scale)))
                } else {
                    // Long division in two steps keeps intermediates near the result's size:
                    // a × 10^k / b = (a div b) × 10^k + round((a mod b) × 10^k / b).
                    let shift = pow10(scale + denominator_scale - numerator_scale);
                    let whole = format!("(({numerator} / {denominator}) * {shift})");
                    let remainder = format!("(({numerator} % {denominator}) * {shift})");
                    Ok(format!(
                        "({whole} + {})",
                        self.div_round(&remainder, &denominator)
                    ))
                }
            }
            Mod => {
                let a = self.operand(&args[0], scale)?;
                let b = self.operand(&args[1], scale)?;
                Ok(if self.pg() {
                    format!("mod(mod({a}, NULLIF({b}, 0)) + {b}, NULLIF({b}, 0))")
                } else {
                    format!("((({a} % {b}) + {b}) % {b})")
                })
            }
            Sum => {
                if args.iter().any(|arg| matches!(arg.ty, Type::List(_))) {
                    return not_compilable(node, "SUM over a list is evaluated in Rust");
                }
                let parts = args
                    .iter()
                    .filter(|arg| arg.ty != Type::Blank)
                    .map(|arg| {
                        self.operand(arg, scale)
                            .map(|sql| format!("COALESCE({sql}, 0)"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let zero = self.numeric_of_integer("0".into());
                Ok(if parts.is_empty() {
                    zero
                } else {
                    format!("({})", parts.join(" + "))
                })
            }
            Min | Max => {
                if args.iter().any(|arg| matches!(arg.ty, Type::List(_))) {
                    return not_compilable(node, "MIN and MAX over a list are evaluated in Rust");
                }
                let parts = args
                    .iter()
                    .filter(|arg| arg.ty != Type::Blank)
                    .map(|arg| self.operand(arg, scale))
                    .collect::<Result<Vec<_>, _>>()?;
                if parts.is_empty() {
                    return Ok(self.null(&node.ty));
                }
                if self.pg() {
                    return Ok(format!(
                        "{}({})",
                        if func == Min { "LEAST" } else { "GREATEST" },
                        parts.join(", ")
                    ));
                }
                // SQLite's scalar min/max return NULL if any argument is NULL: stand in a sentinel.
                let sentinel = if func == Min {
                    i64::MAX.to_string()
                } else {
                    i64::MIN.to_string()
                };
                let parts: Vec<String> = parts
                    .iter()
                    .map(|sql| format!("COALESCE({sql}, {sentinel})"))
                    .collect();
                let joined = if parts.len() == 1 {
                    format!("{}, {}", parts[0], parts[0])
                } else {
                    parts.join(", ")
                };
                Ok(format!(
                    "NULLIF({}({joined}), {sentinel})",
                    if func == Min { "min" } else { "max" }
                ))
            }
            Count | CountA | CountAll => {
                let mut parts = Vec::new();
                for arg in args {
                    if matches!(arg.ty, Type::List(_)) {
                        return not_compilable(node, "counting list items is evaluated in Rust");
                    }
                    let counts = match func {
                        CountAll => true,
                        Count => matches!(arg.ty, Type::Number { .. }),
                        _ => arg.ty != Type::Blank,
                    };
                    if func == CountAll || !counts {
                        parts.push(if counts {
                            "1".to_owned()
                        } else {
                            "0".to_owned()
                        });
                    } else {
                        parts.push(format!(
                            "(CASE WHEN {} IS NULL THEN 0 ELSE 1 END)",
                            self.num_expr(arg)?
                        ));
                    }
                }
                Ok(self.numeric_of_integer(format!("({})", parts.join(" + "))))
            }
            Round | RoundUp | RoundDown | Trunc | Int => {
                let places = if func == Int {
                    0
                } else {
                    args.get(1).and_then(Node::literal_int).unwrap_or(0)
                };
                let own = args[0].ty.scale();
                let sql = self.num_expr(&args[0])?;
                if places >= i64::from(own) {
                    return Ok(self.rescale(&sql, own, scale));
                }
                if self.pg() {
                    return Ok(match func {
                        Round => format!("round({sql}, {places})"),
                        RoundDown | Trunc => format!("trunc({sql}, {places})"),
                        Int => format!("floor({sql})"),
                        _ => {
                            let (factor, inverse) = if places >= 0 {
                                (
                                    10i128.pow(places as u32).to_string(),
                                    inverse_pow10(places as u32),
                                )
                            } else {
                                (
                                    inverse_pow10((-places) as u32),
                                    10i128.pow((-places) as u32).to_string(),
                                )
                            };
                            format!(
                                "(CASE WHEN {sql} < 0 THEN -ceil(-{sql} * {factor}) ELSE ceil({sql} * {factor}) END * {inverse})"
                            )
                        }
                    });
                }
                let drop = u32::try_from(i64::from(own) - places).unwrap_or(u32::MAX);
                if drop > 18 {
                    return Ok(format!("({sql} * 0)"));
                }
                let unit = pow10(drop);
                let quotient = match func {
                    Round => self.div_round_const(&sql, unit),
                    RoundDown | Trunc => format!("({sql} / {unit})"),
                    RoundUp => format!(
                        "(({sql} + (CASE WHEN {sql} < 0 THEN -{m} ELSE {m} END)) / {unit})",
                        m = unit - 1
                    ),
                    _ => format!(
                        "((CASE WHEN {sql} < 0 THEN {sql} - {m} ELSE {sql} END) / {unit})",
                        m = unit - 1
                    ),
                };
                Ok(if places < 0 {
                    format!(
                        "({quotient} * {})",
                        pow10(u32::try_from(-places).unwrap_or(0))
                    )
                } else {
                    quotient
                })
            }
            Ceiling | Floor => {
                let x = self.operand(&args[0], scale)?;
                let significance = match args.get(1) {
                    Some(arg) => format!("abs({})", self.operand(arg, scale)?),
                    None if self.pg() => "1".to_owned(),
                    None => pow10(scale).to_string(),
                };
                let quotient = if self.pg() {
                    format!("div({x}, NULLIF({significance}, 0))")
                } else {
                    format!("({x} / NULLIF({significance}, 0))")
                };
                let (test, step) = if func == Ceiling {
                    (">", "+")
                } else {
                    ("<", "-")
                };
                let adjust =
                    format!("(CASE WHEN {x} {test} {quotient} * {significance} THEN 1 ELSE 0 END)");
                Ok(format!(
                    "COALESCE(({quotient} {step} {adjust}) * {significance}, CASE WHEN {x} IS NOT NULL AND {significance} = 0 THEN 0 END)"
                ))
            }
            Sign => {
                let x = self.num_expr(&args[0])?;
                Ok(if self.pg() {
                    format!("sign({x})")
                } else {
                    format!("(({x} > 0) - ({x} < 0))")
                })
            }
            Even | Odd => {
                let x = self.num_expr(&args[0])?;
                let own = args[0].ty.scale();
                let magnitude = if self.pg() {
                    format!("ceil(abs({x}))")
                } else {
                    let unit = pow10(own);
                    format!("((abs({x}) + {}) / {unit})", unit - 1)
                };
                let parity = if self.pg() {
                    format!("mod({magnitude}, 2)")
                } else {
                    format!("({magnitude} % 2)")
                };
                let adjusted = if func == Even {
                    format!("({magnitude} + {parity})")
                } else {
                    format!("({magnitude} + 1 - {parity})")
                };
                Ok(format!(
                    "(CASE WHEN {x} < 0 THEN -{adjusted} ELSE {adjusted} END)"
                ))
            }
            _ => not_compilable(node, "not a number function"),
        }
    }
}
