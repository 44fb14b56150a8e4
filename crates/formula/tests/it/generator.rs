//! A seeded generator of well-typed formulas over the differential test's schema. It tracks a bound on
//! every number's magnitude so that no intermediate leaves SQLite's 64-bit scaled integers (a documented
//! limit of the SQLite back end), and otherwise aims at the edges: empties, halves, signs, month ends,
//! time zones, Unicode.

/// xorshift64*: small, fast, deterministic.
pub struct Rng(u64);

impl Rng {
    /// Seeds through splitmix64, so that nearby seeds give unrelated streams (and never the zero state).
    pub fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn range(&mut self, low: i64, high: i64) -> i64 {
        low + (self.next() % ((high - low) as u64 + 1)) as i64
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Scaled integers stay below this (with headroom under 2^63 for the doubling in rounding).
const MANTISSA_LIMIT: f64 = 1e17;
const SCALE_MAX: u32 = 10;

#[derive(Clone)]
struct Num {
    text: String,
    /// Bound on |value|.
    bound: f64,
    scale: u32,
}

impl Num {
    fn leaf(text: impl Into<String>, bound: f64, scale: u32) -> Num {
        Num {
            text: text.into(),
            bound,
            scale,
        }
    }
    fn mantissa(&self) -> f64 {
        self.bound * 10f64.powi(self.scale as i32)
    }
}

pub struct Generator {
    rng: Rng,
}

const TEXT_LITERALS: &[&str] = &[
    "\"\"",
    "\" \"",
    "\"abc\"",
    "\"B\"",
    "\"-\"",
    "\"湖州\"",
    "\"😀\"",
    "\"a b \"",
    "\"x\\\"y\"",
    "'单'",
    "\"%\"",
];

impl Generator {
    pub fn new(seed: u64) -> Generator {
        Generator {
            rng: Rng::new(seed),
        }
    }

    pub fn formula(&mut self) -> String {
        let depth = 1 + self.rng.below(4) as u32;
        match self.rng.below(10) {
            0..=3 => self.num(depth).text,
            4..=5 => self.text(depth),
            6..=7 => self.boolean(depth),
            8 => self.date(depth),
            _ => self.datetime(depth),
        }
    }

    fn num_leaf(&mut self) -> Num {
        match self.rng.below(8) {
            0 => Num::leaf("{A}", 1e5, 2),
            1 => Num::leaf("{Q}", 1e3, 0),
            2 => Num::leaf("{R}", 10.0, 4),
            3 => Num::leaf("BLANK()", 0.0, 0),
            _ => {
                let scale = self.rng.below(4) as u32;
                let mantissa = self.rng.range(-2000, 2000);
                let magnitude = (mantissa.unsigned_abs() as f64) / 10f64.powi(scale as i32);
                let digits = format!("{}", mantissa.unsigned_abs());
                let text = if scale == 0 {
                    digits
                } else {
                    let padded = format!("{digits:0>width$}", width = scale as usize + 1);
                    let (whole, fraction) = padded.split_at(padded.len() - scale as usize);
                    format!("{whole}.{fraction}")
                };
                let text = if mantissa < 0 {
                    format!("-{text}")
                } else {
                    text
                };
                Num::leaf(text, magnitude, scale)
            }
        }
    }

    fn small(&mut self, depth: u32) -> String {
        match self.rng.below(4) {
            0 => format!("{}", self.rng.range(-2, 12)),
            1 => "MOD({Q}, 7)".into(),
            2 if depth > 0 => format!("LEN({})", self.text(depth - 1)),
            _ => format!("{}", self.rng.range(0, 5)),
        }
    }

    fn num(&mut self, depth: u32) -> Num {
        if depth == 0 || self.rng.below(5) == 0 {
            return self.num_leaf();
        }
        let d = depth - 1;
        let candidate = match self.rng.below(30) {
            0 | 1 => {
                let (a, b) = (self.num(d), self.num(d));
                let op = if self.rng.below(2) == 0 { "+" } else { "-" };
                Num {
                    text: format!("({} {op} {})", a.text, b.text),
                    bound: a.bound + b.bound,
                    scale: a.scale.max(b.scale),
                }
            }
            2 | 3 => {
                let (a, b) = (self.num(d), self.num(d));
                if a.mantissa() * b.mantissa() > MANTISSA_LIMIT {
                    return self.num_leaf();
                }
                Num {
                    text: format!("({} * {})", a.text, b.text),
                    bound: a.bound * b.bound,
                    scale: (a.scale + b.scale).min(SCALE_MAX),
                }
            }
            4 | 5 => {
                let (a, b) = (self.num(d), self.num(d));
                let scale = (a.scale.max(b.scale) + 6).min(SCALE_MAX);
                let bound = a.bound * 10f64.powi(b.scale as i32) + 1.0;
                let shift = 10f64.powi((scale + b.scale - a.scale) as i32);
                if bound * 10f64.powi(scale as i32) > MANTISSA_LIMIT
                    || b.mantissa() * shift * 2.0 > MANTISSA_LIMIT
                {
                    return self.num_leaf();
                }
                Num {
                    text: format!("({} / {})", a.text, b.text),
                    bound,
                    scale,
                }
            }
            6 => {
                let (a, b) = (self.num(d), self.num(d));
                let op = if self.rng.below(2) == 0 {
                    format!("({} % {})", a.text, b.text)
                } else {
                    format!("MOD({}, {})", a.text, b.text)
                };
                Num {
                    text: op,
                    bound: b.bound,
                    scale: a.scale.max(b.scale),
                }
            }
            7 => {
                let a = self.num(d);
                Num {
                    text: format!("-{}", a.text),
                    ..a
                }
            }
            8 | 9 => {
                let a = self.num(d);
                let function = self.rng.pick(&["ROUND", "ROUNDUP", "ROUNDDOWN", "TRUNC"]);
                let places = self.rng.range(-2, 3);
                let scale = (places.max(0) as u32).min(a.scale);
                Num {
                    text: format!("{function}({}, {places})", a.text),
                    bound: a.bound + 100.0,
                    scale,
                }
            }
            10 => {
                let a = self.num(d);
                let function = self.rng.pick(&["INT", "EVEN", "ODD", "SIGN"]);
                Num {
                    text: format!("{function}({})", a.text),
                    bound: a.bound + 2.0,
                    scale: 0,
                }
            }
            11 => {
                let a = self.num(d);
                let function = self.rng.pick(&["CEILING", "FLOOR"]);
                if self.rng.below(2) == 0 {
                    Num {
                        text: format!("{function}({})", a.text),
                        bound: a.bound + 1.0,
                        scale: a.scale,
                    }
                } else {
                    let significance = self.num_leaf();
                    Num {
                        text: format!("{function}({}, {})", a.text, significance.text),
                        bound: a.bound + significance.bound,
                        scale: a.scale.max(significance.scale),
                    }
                }
            }
            12 => {
                let a = self.num(d);
                Num {
                    text: format!("ABS({})", a.text),
                    ..a
                }
            }
            13 => {
                let parts: Vec<Num> = (0..1 + self.rng.below(3)).map(|_| self.num(d)).collect();
                let function = self.rng.pick(&["SUM", "MIN", "MAX", "AVERAGE"]);
                let bound = parts.iter().map(|p| p.bound).sum::<f64>();
                let mut scale = parts.iter().map(|p| p.scale).max().unwrap_or(0);
                if function == "AVERAGE" {
                    scale = (scale + 6).min(SCALE_MAX);
                }
                if bound * 10f64.powi(scale as i32 + 1) > MANTISSA_LIMIT {
                    return self.num_leaf();
                }
                Num {
                    text: format!(
                        "{function}({})",
                        parts
                            .iter()
                            .map(|p| p.text.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    bound,
                    scale,
                }
            }
            14 => {
                let (a, b) = (self.num(d), self.text(d));
                let function = self.rng.pick(&["COUNT", "COUNTA", "COUNTALL"]);
                Num::leaf(format!("{function}({}, {b})", a.text), 2.0, 0)
            }
            15 | 16 => {
                let (a, b) = (self.num(d), self.num(d));
                let condition = self.boolean(d);
                Num {
                    text: format!("IF({condition}, {}, {})", a.text, b.text),
                    bound: a.bound.max(b.bound),
                    scale: a.scale.max(b.scale),
                }
            }
            17 => {
                let (a, b, c) = (self.num(d), self.num(d), self.num(d));
                Num {
                    text: format!("SWITCH({{Q}}, 1, {}, -5, {}, {})", a.text, b.text, c.text),
                    bound: a.bound.max(b.bound).max(c.bound),
                    scale: a.scale.max(b.scale).max(c.scale),
                }
            }
            18 => Num::leaf(format!("LEN({})", self.text(d)), 1e4, 0),
            19 => Num::leaf(
                format!(
                    "FIND({}, {}, {})",
                    self.text(d),
                    self.text(d),
                    self.small(d)
                ),
                1e4,
                0,
            ),
            20 => {
                let date = if self.rng.below(2) == 0 {
                    self.date(d)
                } else {
                    self.datetime(d)
                };
                let function = self
                    .rng
                    .pick(&["YEAR", "MONTH", "DAY", "WEEKDAY", "WEEKNUM"]);
                let start = if function.starts_with("WEEK") && self.rng.below(2) == 0 {
                    ", \"Monday\""
                } else {
                    ""
                };
                Num::leaf(format!("{function}({date}{start})"), 1e4, 0)
            }
            21 => {
                let function = self.rng.pick(&["HOUR", "MINUTE", "SECOND"]);
                Num::leaf(format!("{function}({})", self.datetime(d)), 60.0, 0)
            }
            22 => {
                let unit = self
                    .rng
                    .pick(&["\"days\"", "\"weeks\"", "\"hours\"", "\"d\""]);
                Num::leaf(
                    format!("DATETIME_DIFF({}, {}, {unit})", self.date(d), self.date(d)),
                    1e7,
                    0,
                )
            }
            23 => {
                let unit = self.rng.pick(&[
                    "\"seconds\"",
                    "\"minutes\"",
                    "\"hours\"",
                    "\"days\"",
                    "\"weeks\"",
                ]);
                Num::leaf(
                    format!(
                        "DATETIME_DIFF({}, {}, {unit})",
                        self.datetime(d),
                        self.datetime(d)
                    ),
                    1e10,
                    0,
                )
            }
            24 => Num::leaf(format!("({} - {})", self.date(d), self.date(d)), 1e7, 0),
            25 => Num::leaf(
                format!("DATEDIF({}, {}, \"D\")", self.date(d), self.date(d)),
                1e7,
                0,
            ),
            _ => self.num_leaf(),
        };
        if candidate.mantissa() > MANTISSA_LIMIT {
            self.num_leaf()
        } else {
            candidate
        }
    }

    fn text(&mut self, depth: u32) -> String {
        if depth == 0 || self.rng.below(4) == 0 {
            return match self.rng.below(3) {
                0 => "{T1}".into(),
                1 => "{T2}".into(),
                _ => self.rng.pick(TEXT_LITERALS).to_owned(),
            };
        }
        let d = depth - 1;
        match self.rng.below(16) {
            0 => format!("({} & {})", self.text(d), self.text(d)),
            1 => {
                let parts = [self.text(d), self.num(d).text, self.boolean(d)];
                format!("CONCAT({})", parts.join(", "))
            }
            2 => format!("LEFT({}, {})", self.text(d), self.small(d)),
            3 => format!("RIGHT({}, {})", self.text(d), self.small(d)),
            4 => format!(
                "MID({}, {}, {})",
                self.text(d),
                self.small(d),
                self.small(d)
            ),
            5 => format!("TRIM({})", self.text(d)),
            6 => format!(
                "SUBSTITUTE({}, {}, {})",
                self.text(d),
                self.rng.pick(TEXT_LITERALS),
                self.text(d)
            ),
            7 => format!(
                "REPLACE({}, {}, {}, {})",
                self.text(d),
                self.small(d),
                self.small(d),
                self.text(d)
            ),
            8 => format!(
                "T({})",
                if self.rng.below(2) == 0 {
                    self.text(d)
                } else {
                    self.num(d).text
                }
            ),
            9 => format!("FIXED({}, {})", self.num(d).text, self.rng.range(-1, 4)),
            10 => {
                let value = match self.rng.below(5) {
                    0 => self.num(d).text,
                    1 => self.date(d),
                    2 => self.datetime(d),
                    3 => self.boolean(d),
                    _ => self.text(d),
                };
                format!("TEXT({value})")
            }
            11 => format!(
                "DATESTR({})",
                if self.rng.below(2) == 0 {
                    self.date(d)
                } else {
                    self.datetime(d)
                }
            ),
            12 => format!(
                "IF({}, {}, {})",
                self.boolean(d),
                self.text(d),
                self.text(d)
            ),
            13 => format!("({} & {})", self.text(d), self.num(d).text),
            _ => "{T1}".into(),
        }
    }

    fn boolean(&mut self, depth: u32) -> String {
        if depth == 0 || self.rng.below(5) == 0 {
            return self.rng.pick(&["{B}", "TRUE", "FALSE()", "{B}"]).to_owned();
        }
        let d = depth - 1;
        let op = self.rng.pick(&["=", "!=", "<", "<=", ">", ">=", "<>"]);
        match self.rng.below(14) {
            0 | 1 => format!("({} {op} {})", self.num(d).text, self.num(d).text),
            2 => format!("({} {op} {})", self.text(d), self.text(d)),
            3 => format!("({} {op} {})", self.date(d), self.date(d)),
            4 => format!("({} {op} {})", self.datetime(d), self.datetime(d)),
            5 => format!("AND({}, {})", self.boolean(d), self.boolean(d)),
            6 => format!("({} OR {})", self.boolean(d), self.boolean(d)),
            7 => format!("NOT({})", self.boolean(d)),
            8 => format!(
                "XOR({}, {}, {})",
                self.boolean(d),
                self.boolean(d),
                self.boolean(d)
            ),
            9 => {
                let value = match self.rng.below(4) {
                    0 => self.num(d).text,
                    1 => self.text(d),
                    2 => self.date(d),
                    _ => self.boolean(d),
                };
                format!("ISBLANK({value})")
            }
            10 => format!("EXACT({}, {})", self.text(d), self.text(d)),
            11 => {
                let function = self.rng.pick(&["IS_BEFORE", "IS_AFTER", "IS_SAME"]);
                if self.rng.below(2) == 0 {
                    format!("{function}({}, {})", self.date(d), self.date(d))
                } else {
                    format!("{function}({}, {})", self.datetime(d), self.datetime(d))
                }
            }
            12 => format!(
                "IF({}, {}, {})",
                self.boolean(d),
                self.boolean(d),
                self.boolean(d)
            ),
            _ => format!("({} {op} {})", self.boolean(d), self.boolean(d)),
        }
    }

    fn date(&mut self, depth: u32) -> String {
        if depth == 0 || self.rng.below(4) == 0 {
            return self
                .rng
                .pick(&[
                    "{D1}",
                    "{D2}",
                    "TODAY()",
                    "#2024-02-29#",
                    "#2026-01-31#",
                    "{D1}",
                ])
                .to_owned();
        }
        let d = depth - 1;
        match self.rng.below(10) {
            0 => format!(
                "DATE({}, {}, {})",
                self.rng.range(1985, 2030),
                self.small(d),
                self.small(d)
            ),
            1 => format!("DATE(YEAR({}), {}, 1)", self.date(d), self.small(d)),
            2 => {
                let unit = self.rng.pick(&[
                    "\"years\"",
                    "\"quarters\"",
                    "\"months\"",
                    "\"M\"",
                    "\"weeks\"",
                    "\"days\"",
                ]);
                format!("DATEADD({}, {}, {unit})", self.date(d), self.small(d))
            }
            3 => format!("EDATE({}, {})", self.date(d), self.small(d)),
            4 => format!(
                "EOMONTH({}, {})",
                if self.rng.below(2) == 0 {
                    self.date(d)
                } else {
                    self.datetime(d)
                },
                self.small(d)
            ),
            5 => format!("({} + {})", self.date(d), self.small(d)),
            6 => format!("({} - {})", self.date(d), self.small(d)),
            7 => format!("DATEVALUE({})", self.datetime(d)),
            8 => format!(
                "IF({}, {}, {})",
                self.boolean(d),
                self.date(d),
                self.date(d)
            ),
            _ => "{D2}".into(),
        }
    }

    fn datetime(&mut self, depth: u32) -> String {
        if depth == 0 || self.rng.below(3) == 0 {
            return self
                .rng
                .pick(&["{S1}", "{S2}", "NOW()", "#2026-11-24T16:00:00Z#", "{S1}"])
                .to_owned();
        }
        let d = depth - 1;
        match self.rng.below(3) {
            0 | 1 => {
                let unit = self.rng.pick(&[
                    "\"weeks\"",
                    "\"days\"",
                    "\"hours\"",
                    "\"minutes\"",
                    "\"seconds\"",
                    "\"h\"",
                ]);
                format!("DATEADD({}, {}, {unit})", self.datetime(d), self.small(d))
            }
            _ => format!(
                "IF({}, {}, {})",
                self.boolean(d),
                self.datetime(d),
                self.datetime(d)
            ),
        }
    }
}
