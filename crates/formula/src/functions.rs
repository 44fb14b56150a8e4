//! The function catalog: every function's name, category, signature, description and example, and
//! whether it compiles to SQL. The checker resolves names here; the docs and `docs/formula.md` are
//! generated from this table (a test keeps the markdown in step).

/// A built-in operation. Operators are functions too (`+` is [`Func::Add`]), so the evaluator and the SQL
/// compiler have one dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[rustfmt::skip]
pub enum Func {
    // operators
    Add, Sub, Mul, Div, Mod, Neg, Concat, Eq, Ne, Lt, Le, Gt, Ge, And, Or, Not,
    // logic
    If, Ifs, Switch, Xor, IsBlank, IsError, IfError, Blank, True, False,
    // math
    Sum, Average, Min, Max, Count, CountA, CountAll, Round, RoundUp, RoundDown, Ceiling, Floor, Int, Trunc,
    Abs, Power, Sqrt, Exp, Ln, Log, Log10, Sign, Even, Odd, ValueOf,
    // text
    Left, Right, Mid, Len, Lower, Upper, Trim, Substitute, Find, Search, Replace, Rept, Text, T, Exact,
    RegexMatch, RegexExtract, RegexReplace, EncodeUrlComponent, Fixed,
    // date
    Today, Now, Date, Year, Month, Day, Hour, Minute, Second, Weekday, Weeknum, DateAdd, DatetimeDiff, Datedif,
    Workday, Networkdays, DatetimeFormat, DatetimeParse, Datevalue, Datestr, Eomonth, Edate, IsBefore, IsAfter,
    IsSame,
    // lists
    ArrayJoin, ArrayUnique, ArrayCompact, ArrayFlatten, Split,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Logic,
    Math,
    Text,
    Date,
    List,
}

impl Category {
    pub fn title(self) -> &'static str {
        match self {
            Category::Logic => "Logic",
            Category::Math => "Math",
            Category::Text => "Text",
            Category::Date => "Date and time",
            Category::List => "Lists and rollups (values of linked records)",
        }
    }
}

/// Whether a function compiles to SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlSupport {
    /// On SQLite and PostgreSQL.
    Both,
    /// With the condition in the note.
    Partly(&'static str),
    /// Evaluated in Rust only; the note says why.
    No(&'static str),
}

/// One entry of the catalog.
#[derive(Debug, Clone, Copy)]
pub struct FunctionDoc {
    pub func: Func,
    pub name: &'static str,
    pub category: Category,
    pub signature: &'static str,
    pub description: &'static str,
    pub example: &'static str,
    pub sql: SqlSupport,
}

const fn doc(
    func: Func,
    name: &'static str,
    category: Category,
    signature: &'static str,
    description: &'static str,
    example: &'static str,
    sql: SqlSupport,
) -> FunctionDoc {
    FunctionDoc {
        func,
        name,
        category,
        signature,
        description,
        example,
        sql,
    }
}

use Category::{Date as D, List as Li, Logic as L, Math as M, Text as Tx};
use SqlSupport::{Both, No, Partly};

const TZ_SQLITE: SqlSupport = Partly(
    "on a datetime, SQLite only when the organization's time zone is UTC or has had one fixed offset since 1900",
);
const FLOAT_MATH: SqlSupport =
    No("irrational results: the databases compute them in binary floating point");
const UNICODE_CASE: SqlSupport =
    No("SQLite and PostgreSQL change case differently from Unicode's rules");
const REGEX: SqlSupport = No("SQLite has no regular expressions and PostgreSQL's dialect differs");

/// Every function, in documentation order.
#[rustfmt::skip]
pub static FUNCTIONS: &[FunctionDoc] = &[
    doc(Func::If, "IF", L, "IF(condition, then, [else])", "`then` when the condition is TRUE, otherwise `else` (empty when left out). An empty condition counts as FALSE.", "IF({Amount} > 1000, \"large\", \"small\") → \"large\"", Both),
    doc(Func::Ifs, "IFS", L, "IFS(condition1, value1, [condition2, value2, …])", "The value after the first TRUE condition; empty when none is TRUE.", "IFS({Score} >= 90, \"A\", {Score} >= 80, \"B\") → \"B\"", Both),
    doc(Func::Switch, "SWITCH", L, "SWITCH(expression, pattern1, result1, …, [default])", "The result whose pattern equals the expression (empty matches empty); else the default or empty.", "SWITCH({Status}, \"new\", 1, \"done\", 2, 0) → 2", Both),
    doc(Func::And, "AND", L, "AND(logical1, [logical2, …])", "TRUE when every argument is TRUE. Also the infix operator `a AND b`.", "AND(TRUE, {Paid}) → FALSE", Both),
    doc(Func::Or, "OR", L, "OR(logical1, [logical2, …])", "TRUE when any argument is TRUE. Also the infix operator `a OR b`.", "OR(FALSE, TRUE) → TRUE", Both),
    doc(Func::Not, "NOT", L, "NOT(logical)", "TRUE when the argument is not TRUE (empty counts as FALSE). Also the prefix operator `NOT a`.", "NOT({Paid}) → TRUE", Both),
    doc(Func::Xor, "XOR", L, "XOR(logical1, [logical2, …])", "TRUE when an odd number of arguments are TRUE.", "XOR(TRUE, TRUE) → FALSE", Both),
    doc(Func::IsBlank, "ISBLANK", L, "ISBLANK(value)", "TRUE when the value is empty (an empty text, an empty list, or an error).", "ISBLANK({Notes}) → TRUE", Both),
    doc(Func::IsError, "ISERROR", L, "ISERROR(value)", "TRUE when computing the value failed (division by zero, an invalid date, …).", "ISERROR(1 / 0) → TRUE", No("SQL cannot tell an error from an empty value")),
    doc(Func::IfError, "IFERROR", L, "IFERROR(value, fallback)", "The value, or the fallback when computing it failed.", "IFERROR(1 / 0, 0) → 0.000000", No("SQL cannot tell an error from an empty value")),
    doc(Func::Blank, "BLANK", L, "BLANK()", "The empty value.", "IF({Done}, BLANK(), \"open\") → \"open\"", Both),
    doc(Func::True, "TRUE", L, "TRUE()", "The logical value TRUE (also written `TRUE`).", "TRUE() → TRUE", Both),
    doc(Func::False, "FALSE", L, "FALSE()", "The logical value FALSE (also written `FALSE`).", "FALSE() → FALSE", Both),
    doc(Func::Sum, "SUM", M, "SUM(number1, [number2, …])", "The sum; empty numbers are skipped and lists are summed. The sum of nothing is 0.", "SUM(1.5, {Empty}, 2) → 3.5", Partly("scalar arguments only; a rollup over linked records is evaluated in Rust")),
    doc(Func::Average, "AVERAGE", M, "AVERAGE(number1, [number2, …])", "The mean of the non-empty numbers (6 more decimal places than the inputs); empty when there are none.", "AVERAGE(1, 2) → 1.500000", Partly("scalar arguments only")),
    doc(Func::Min, "MIN", M, "MIN(number1, [number2, …])", "The smallest non-empty number; empty when there is none.", "MIN(3, {Empty}, 2) → 2", Partly("scalar arguments only")),
    doc(Func::Max, "MAX", M, "MAX(number1, [number2, …])", "The largest non-empty number; empty when there is none.", "MAX(3, 2) → 3", Partly("scalar arguments only")),
    doc(Func::Count, "COUNT", M, "COUNT(value1, [value2, …])", "How many of the values (and list items) are numbers.", "COUNT(1, \"a\", {Empty}) → 1", Partly("scalar arguments only")),
    doc(Func::CountA, "COUNTA", M, "COUNTA(value1, [value2, …])", "How many of the values (and list items) are not empty.", "COUNTA(1, \"a\", {Empty}) → 2", Partly("scalar arguments only")),
    doc(Func::CountAll, "COUNTALL", M, "COUNTALL(value1, [value2, …])", "How many values and list items there are, empty ones included.", "COUNTALL(1, {Empty}) → 2", Partly("scalar arguments only")),
    doc(Func::Round, "ROUND", M, "ROUND(number, [places])", "Rounds half away from zero to `places` (a constant; default 0, negative rounds to tens, hundreds…).", "ROUND(-2.5, 0) → -3", Both),
    doc(Func::RoundUp, "ROUNDUP", M, "ROUNDUP(number, [places])", "Rounds away from zero.", "ROUNDUP(2.121, 2) → 2.13", Both),
    doc(Func::RoundDown, "ROUNDDOWN", M, "ROUNDDOWN(number, [places])", "Rounds toward zero.", "ROUNDDOWN(-2.129, 2) → -2.12", Both),
    doc(Func::Trunc, "TRUNC", M, "TRUNC(number, [places])", "Same as ROUNDDOWN.", "TRUNC(9.99) → 9", Both),
    doc(Func::Int, "INT", M, "INT(number)", "The greatest integer less than or equal to the number.", "INT(-1.5) → -2", Both),
    doc(Func::Ceiling, "CEILING", M, "CEILING(number, [significance])", "The nearest multiple of |significance| (default 1) at or above the number.", "CEILING(2.31, 0.1) → 2.40", Both),
    doc(Func::Floor, "FLOOR", M, "FLOOR(number, [significance])", "The nearest multiple of |significance| (default 1) at or below the number.", "FLOOR(-2.5) → -3.0", Both),
    doc(Func::Abs, "ABS", M, "ABS(number)", "The absolute value.", "ABS(-3.5) → 3.5", Both),
    doc(Func::Mod, "MOD", M, "MOD(number, divisor)", "The remainder, with the divisor's sign (as Excel). Also the operator `a % b`. Divisor 0 is an error.", "MOD(-3, 2) → 1", Both),
    doc(Func::Sign, "SIGN", M, "SIGN(number)", "-1, 0 or 1.", "SIGN(-0.5) → -1", Both),
    doc(Func::Even, "EVEN", M, "EVEN(number)", "Rounds away from zero to the nearest even integer.", "EVEN(1.5) → 2", Both),
    doc(Func::Odd, "ODD", M, "ODD(number)", "Rounds away from zero to the nearest odd integer.", "ODD(2) → 3", Both),
    doc(Func::Power, "POWER", M, "POWER(base, exponent)", "base raised to exponent, with 10 decimal places.", "POWER(2, 10) → 1024.0000000000", FLOAT_MATH),
    doc(Func::Sqrt, "SQRT", M, "SQRT(number)", "The square root (10 decimal places); negative numbers are an error.", "SQRT(2) → 1.4142135624", FLOAT_MATH),
    doc(Func::Exp, "EXP", M, "EXP(power)", "e raised to the power (10 decimal places).", "EXP(1) → 2.7182818285", FLOAT_MATH),
    doc(Func::Ln, "LN", M, "LN(number)", "The natural logarithm (10 decimal places).", "LN(1) → 0.0000000000", FLOAT_MATH),
    doc(Func::Log, "LOG", M, "LOG(number, [base])", "The logarithm in `base` (default 10), 10 decimal places.", "LOG(8, 2) → 3.0000000000", FLOAT_MATH),
    doc(Func::Log10, "LOG10", M, "LOG10(number)", "The base-10 logarithm (10 decimal places).", "LOG10(1000) → 3.0000000000", FLOAT_MATH),
    doc(Func::ValueOf, "VALUE", M, "VALUE(text)", "The number written in the text (`,` thousands separators, currency signs and `%` allowed); an error otherwise. 10 decimal places.", "VALUE(\"$1,000.5\") → 1000.5000000000", No("parsing text as a number is done in Rust")),
    doc(Func::Concat, "CONCAT", Tx, "CONCAT(value1, [value2, …])", "Joins the values as text (empty counts as \"\"). Also the operator `a & b` and the name CONCATENATE.", "CONCAT(\"No.\", 7) → \"No.7\"", Partly("numbers, text, booleans and dates")),
    doc(Func::Left, "LEFT", Tx, "LEFT(text, [count])", "The first `count` characters (default 1).", "LEFT(\"湖州优品\", 2) → \"湖州\"", Both),
    doc(Func::Right, "RIGHT", Tx, "RIGHT(text, [count])", "The last `count` characters (default 1).", "RIGHT(\"2026-11\", 2) → \"11\"", Both),
    doc(Func::Mid, "MID", Tx, "MID(text, start, count)", "`count` characters from position `start` (1 is the first).", "MID(\"abcdef\", 2, 3) → \"bcd\"", Both),
    doc(Func::Len, "LEN", Tx, "LEN(text)", "The number of characters (Unicode scalar values); 0 for empty.", "LEN(\"优品\") → 2", Both),
    doc(Func::Lower, "LOWER", Tx, "LOWER(text)", "Lower case, by Unicode's rules.", "LOWER(\"ÄB\") → \"äb\"", UNICODE_CASE),
    doc(Func::Upper, "UPPER", Tx, "UPPER(text)", "Upper case, by Unicode's rules.", "UPPER(\"straße\") → \"STRASSE\"", UNICODE_CASE),
    doc(Func::Trim, "TRIM", Tx, "TRIM(text)", "Removes spaces, tabs and line breaks at both ends.", "TRIM(\"  a b \") → \"a b\"", Both),
    doc(Func::Substitute, "SUBSTITUTE", Tx, "SUBSTITUTE(text, old, new, [index])", "Replaces every `old` (or only the index-th one) with `new`. An empty `old` changes nothing.", "SUBSTITUTE(\"a-b-c\", \"-\", \"/\") → \"a/b/c\"", Partly("without `index`")),
    doc(Func::Find, "FIND", Tx, "FIND(needle, text, [start])", "The position of the first `needle` at or after `start` (default 1), case-sensitive; 0 when absent.", "FIND(\"b\", \"abcb\") → 2", Both),
    doc(Func::Search, "SEARCH", Tx, "SEARCH(needle, text, [start])", "Like FIND, ignoring case (Unicode lower case); 0 when absent.", "SEARCH(\"B\", \"abc\") → 2", UNICODE_CASE),
    doc(Func::Replace, "REPLACE", Tx, "REPLACE(text, start, count, new)", "Replaces `count` characters from position `start` with `new`.", "REPLACE(\"abcdef\", 2, 3, \"X\") → \"aXef\"", Both),
    doc(Func::Rept, "REPT", Tx, "REPT(text, count)", "The text repeated `count` times (at most 10,000 characters).", "REPT(\"ab\", 3) → \"ababab\"", No("SQLite has no repeat function")),
    doc(Func::Text, "TEXT", Tx, "TEXT(value, [format])", "The value as text: numbers without trailing zeros, dates as YYYY-MM-DD. With a format, numbers use Excel patterns (`0.00`, `#,##0.00`, `0%`) and dates use DATETIME_FORMAT's.", "TEXT(1234.5, \"#,##0.00\") → \"1,234.50\"", Partly("without a format, numbers/text/booleans/dates")),
    doc(Func::T, "T", Tx, "T(value)", "The value when it is text, otherwise empty.", "T(12) → empty", Both),
    doc(Func::Exact, "EXACT", Tx, "EXACT(text1, text2)", "TRUE when both texts are identical (case-sensitive).", "EXACT(\"a\", \"A\") → FALSE", Both),
    doc(Func::RegexMatch, "REGEX_MATCH", Tx, "REGEX_MATCH(text, pattern)", "TRUE when the regular expression (Rust `regex` syntax) matches somewhere in the text.", "REGEX_MATCH(\"A-123\", \"^[A-Z]-\\\\d+$\") → TRUE", REGEX),
    doc(Func::RegexExtract, "REGEX_EXTRACT", Tx, "REGEX_EXTRACT(text, pattern)", "The first match of the regular expression; empty when none.", "REGEX_EXTRACT(\"Order 42\", \"\\\\d+\") → \"42\"", REGEX),
    doc(Func::RegexReplace, "REGEX_REPLACE", Tx, "REGEX_REPLACE(text, pattern, replacement)", "Replaces every match (`$1` refers to a group).", "REGEX_REPLACE(\"a1b22\", \"\\\\d+\", \"#\") → \"a#b#\"", REGEX),
    doc(Func::EncodeUrlComponent, "ENCODE_URL_COMPONENT", Tx, "ENCODE_URL_COMPONENT(text)", "Percent-encodes the text for use in a URL.", "ENCODE_URL_COMPONENT(\"a b&c\") → \"a%20b%26c\"", No("no percent-encoding function in SQL")),
    doc(Func::Fixed, "FIXED", Tx, "FIXED(number, [places])", "The number rounded (half away from zero) to `places` (a constant, default 2) and written with exactly that many decimals.", "FIXED(1.005, 2) → \"1.01\"", Both),
    doc(Func::Today, "TODAY", D, "TODAY()", "Today's date in the organization's time zone, when the value is read.", "TODAY() → 2026-11-25", Both),
    doc(Func::Now, "NOW", D, "NOW()", "The current instant, when the value is read.", "NOW() → 2026-11-25T08:30:00Z", Both),
    doc(Func::Date, "DATE", D, "DATE(year, month, day)", "The date; months and days beyond their range carry over, as in Excel (DATE(2026, 13, 1) is 2027-01-01). Years outside 1–9999 are an error.", "DATE(2026, 2, 30) → 2026-03-02", Both),
    doc(Func::Year, "YEAR", D, "YEAR(date)", "The year (of a datetime: in the organization's time zone).", "YEAR(#2026-11-25#) → 2026", TZ_SQLITE),
    doc(Func::Month, "MONTH", D, "MONTH(date)", "The month, 1–12.", "MONTH(#2026-11-25#) → 11", TZ_SQLITE),
    doc(Func::Day, "DAY", D, "DAY(date)", "The day of the month, 1–31.", "DAY(#2026-11-25#) → 25", TZ_SQLITE),
    doc(Func::Hour, "HOUR", D, "HOUR(datetime)", "The hour, 0–23, in the organization's time zone.", "HOUR(#2026-11-25T08:30:00Z#) → 16 (in Asia/Shanghai)", TZ_SQLITE),
    doc(Func::Minute, "MINUTE", D, "MINUTE(datetime)", "The minute, 0–59, in the organization's time zone.", "MINUTE(#2026-11-25T08:30:00Z#) → 30", TZ_SQLITE),
    doc(Func::Second, "SECOND", D, "SECOND(datetime)", "The second, 0–59.", "SECOND(#2026-11-25T08:30:05Z#) → 5", TZ_SQLITE),
    doc(Func::Weekday, "WEEKDAY", D, "WEEKDAY(date, [start])", "The day of the week, 0 = Sunday … 6 = Saturday; with start \"Monday\", 0 = Monday … 6 = Sunday (Airtable).", "WEEKDAY(#2026-11-25#) → 3", TZ_SQLITE),
    doc(Func::Weeknum, "WEEKNUM", D, "WEEKNUM(date, [start])", "The week of the year: week 1 contains 1 January, weeks start on Sunday (or \"Monday\").", "WEEKNUM(#2026-01-04#) → 2", TZ_SQLITE),
    doc(Func::DateAdd, "DATEADD", D, "DATEADD(date, count, unit)", "Adds `count` (whole) units: years, quarters, months, weeks, days, and for datetimes hours, minutes, seconds. Month ends clamp (31 Jan + 1 month = 28/29 Feb).", "DATEADD(#2026-01-31#, 1, \"months\") → 2026-02-28", Partly("years to days on dates; weeks to seconds on datetimes")),
    doc(Func::DatetimeDiff, "DATETIME_DIFF", D, "DATETIME_DIFF(date1, date2, [unit])", "date1 − date2 in whole units (default seconds), truncated toward zero (Airtable's order). Months and years count calendar months.", "DATETIME_DIFF(#2026-03-01#, #2026-01-31#, \"days\") → 29", Partly("weeks, days, hours, minutes, seconds")),
    doc(Func::Datedif, "DATEDIF", D, "DATEDIF(start, end, unit)", "Excel's DATEDIF: end − start in \"D\" days, \"M\" whole months or \"Y\" whole years. Start after end is an error.", "DATEDIF(#2026-01-15#, #2026-03-14#, \"M\") → 1", Partly("unit \"D\"")),
    doc(Func::Workday, "WORKDAY", D, "WORKDAY(start, days, [holidays])", "The date `days` working days (Monday–Friday, not in `holidays`: text \"2026-10-01, 2026-10-02\") after start.", "WORKDAY(#2026-11-27#, 1) → 2026-11-30", No("evaluated in Rust")),
    doc(Func::Networkdays, "NETWORKDAYS", D, "NETWORKDAYS(start, end, [holidays])", "Working days from start to end, both included (negative when end is before start).", "NETWORKDAYS(#2026-11-23#, #2026-11-29#) → 5", No("evaluated in Rust")),
    doc(Func::DatetimeFormat, "DATETIME_FORMAT", D, "DATETIME_FORMAT(date, [format], [time zone])", "The date as text, with moment.js-style tokens (YYYY, MM, DD, HH, mm, ss, …; default \"YYYY-MM-DD\" / \"YYYY-MM-DD HH:mm\"), in the organization's time zone or the IANA zone given.", "DATETIME_FORMAT(#2026-11-25T08:30:00Z#, \"YYYY/MM/DD HH:mm\", \"Asia/Shanghai\") → \"2026/11/25 16:30\"", No("formatting is done in Rust")),
    doc(Func::DatetimeParse, "DATETIME_PARSE", D, "DATETIME_PARSE(text, [format])", "The datetime written in the text (ISO 8601, or the moment-style format), read in the organization's time zone when it has no offset.", "DATETIME_PARSE(\"2026-11-25 16:30\") → 2026-11-25T08:30:00Z (in Asia/Shanghai)", No("parsing is done in Rust")),
    doc(Func::Datevalue, "DATEVALUE", D, "DATEVALUE(value)", "A date from a datetime (its date in the organization's time zone) or from text \"YYYY-MM-DD\".", "DATEVALUE(\"2026-11-25\") → 2026-11-25", Partly("from a datetime, as YEAR")),
    doc(Func::Datestr, "DATESTR", D, "DATESTR(date)", "The date as text \"YYYY-MM-DD\" (of a datetime: in the organization's time zone).", "DATESTR(#2026-11-25#) → \"2026-11-25\"", TZ_SQLITE),
    doc(Func::Eomonth, "EOMONTH", D, "EOMONTH(date, months)", "The last day of the month `months` after the date's month.", "EOMONTH(#2026-01-15#, 1) → 2026-02-28", Partly("on dates")),
    doc(Func::Edate, "EDATE", D, "EDATE(date, months)", "The same day `months` later, clamped to the month's end.", "EDATE(#2026-03-31#, -1) → 2026-02-28", Partly("on dates")),
    doc(Func::IsBefore, "IS_BEFORE", D, "IS_BEFORE(date1, date2)", "TRUE when date1 is before date2.", "IS_BEFORE(#2026-01-01#, #2026-02-01#) → TRUE", Both),
    doc(Func::IsAfter, "IS_AFTER", D, "IS_AFTER(date1, date2)", "TRUE when date1 is after date2.", "IS_AFTER(#2026-01-01#, #2026-02-01#) → FALSE", Both),
    doc(Func::IsSame, "IS_SAME", D, "IS_SAME(date1, date2, [unit])", "TRUE when both fall in the same unit (year, month, day, …; default: the same instant or day).", "IS_SAME(#2026-01-01#, #2026-01-31#, \"month\") → TRUE", Partly("without a unit")),
    doc(Func::ArrayJoin, "ARRAYJOIN", Li, "ARRAYJOIN(list, [separator])", "The items as text joined by the separator (default \", \"); empty items are skipped.", "ARRAYJOIN({Tags}, \"; \") → \"vip; new; vip\"", No("lists are evaluated in Rust")),
    doc(Func::ArrayUnique, "ARRAYUNIQUE", Li, "ARRAYUNIQUE(list)", "The list without repeated items (first occurrence kept).", "ARRAYUNIQUE({Tags}) → [\"vip\", \"new\"]", No("lists are evaluated in Rust")),
    doc(Func::ArrayCompact, "ARRAYCOMPACT", Li, "ARRAYCOMPACT(list)", "The list without empty items.", "ARRAYCOMPACT({Scores}) → [1, 2]", No("lists are evaluated in Rust")),
    doc(Func::ArrayFlatten, "ARRAYFLATTEN", Li, "ARRAYFLATTEN(list1, [list2, …])", "One flat list of the items of every argument, in order (nested lists flattened, single values taken as one item); empty items are dropped. The items must have one type (numbers of any scale mix).", "ARRAYFLATTEN({Tags}, \"old\") → [\"vip\", \"new\", \"vip\", \"old\"]", No("lists are evaluated in Rust")),
    doc(Func::Split, "SPLIT", Li, "SPLIT(text, separator)", "The pieces of the text between the separators (case-sensitive), as a list of texts; empty pieces are dropped. Empty text gives empty; an empty separator gives the whole text as the only item.", "SPLIT(\"vip;new;;old\", \";\") → [\"vip\", \"new\", \"old\"]", No("lists are evaluated in Rust")),
];

/// Operators that have no name of their own (they are written as symbols).
#[rustfmt::skip]
pub(crate) const OPERATOR_NAMES: &[(Func, &str)] = &[
    (Func::Add, "+"), (Func::Sub, "-"), (Func::Mul, "*"), (Func::Div, "/"), (Func::Neg, "unary -"),
    (Func::Eq, "="), (Func::Ne, "!="), (Func::Lt, "<"), (Func::Le, "<="), (Func::Gt, ">"), (Func::Ge, ">="),
];

/// Looks a function up by name, ignoring case; `CONCATENATE` is CONCAT.
pub fn lookup(name: &str) -> Option<&'static FunctionDoc> {
    let upper = name.to_ascii_uppercase();
    let wanted = if upper == "CONCATENATE" {
        "CONCAT"
    } else {
        upper.as_str()
    };
    FUNCTIONS.iter().find(|doc| doc.name == wanted)
}

impl Func {
    /// The name people write, for messages.
    pub fn name(self) -> &'static str {
        if let Some(doc) = FUNCTIONS.iter().find(|doc| doc.func == self) {
            return doc.name;
        }
        OPERATOR_NAMES
            .iter()
            .find(|(func, _)| *func == self)
            .map_or("?", |(_, name)| name)
    }
}
