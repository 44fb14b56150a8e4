//! A minimal expression form for voucher rules, to be replaced by the formula crate when it exists.
//!
//! ```text
//! expr    := or
//! or      := and ("or" and)*
//! and     := compare ("and" compare)*
//! compare := sum (("=" | "!=" | "<" | "<=" | ">" | ">=") sum)?
//! sum     := product (("+" | "-" | "&") product)*        & joins text
//! product := unary (("*" | "/") unary)*
//! unary   := "-" unary | "not" unary | primary
//! primary := number | 'text' | true | false | field | function "(" expr ("," expr)* ")" | "(" expr ")"
//! function: round(x, digits), if(condition, then, else), coalesce(a, b)
//! ```
//! Numbers are exact decimals. A field that the record lacks is null; arithmetic on null is an error that
//! names the field, so a rule never books an amount it did not compute.

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;

use crate::money;

/// A value an expression computes or a record field holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(Decimal),
    Text(String),
}

impl Value {
    /// A JSON field of a business record. Numbers may be JSON numbers or decimal strings.
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(flag) => Value::Bool(*flag),
            serde_json::Value::Number(number) => number
                .to_string()
                .parse::<Decimal>()
                .map(Value::Number)
                .unwrap_or_else(|_| Value::Text(number.to_string())),
            serde_json::Value::String(text) => Value::Text(text.clone()),
            // The records API's shapes: a link `[{"id", "name"}]`, a member `{"id", "name"}`, a
            // multi-select `["a", "b"]` read as their names (joined by ", ").
            serde_json::Value::Object(object) => match object.get("name") {
                Some(serde_json::Value::String(name)) => Value::Text(name.clone()),
                _ => Value::Text(json.to_string()),
            },
            serde_json::Value::Array(items) => {
                let names: Vec<String> = items
                    .iter()
                    .map(Value::from_json)
                    .filter(|value| *value != Value::Null)
                    .map(|value| value.text())
                    .collect();
                if names.is_empty() {
                    Value::Null
                } else {
                    Value::Text(names.join(", "))
                }
            }
        }
    }

    /// The value as text (numbers without trailing zeros).
    pub fn text(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bool(flag) => flag.to_string(),
            Value::Number(number) => money::compact_text(*number),
            Value::Text(text) => text.clone(),
        }
    }

    /// The value as a number: numbers, and text that is a decimal number.
    pub fn number(&self) -> Option<Decimal> {
        match self {
            Value::Number(number) => Some(*number),
            Value::Text(text) => text.trim().parse().ok(),
            _ => None,
        }
    }

    fn truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(flag) => *flag,
            Value::Number(number) => !number.is_zero(),
            Value::Text(text) => !text.is_empty(),
        }
    }
}

/// The fields of a business record.
pub type Record = BTreeMap<String, Value>;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Literal(Value),
    Field(String),
    Unary(char, Box<Node>),
    Binary(&'static str, Box<Node>, Box<Node>),
    Call(String, Vec<Node>),
}

/// A parsed expression, with its source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    source: String,
    node: Node,
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Deepest nesting an expression may have.
const DEPTH_MAX: usize = 64;

impl Expr {
    pub fn parse(source: &str) -> Result<Expr, String> {
        let tokens = tokenize(source)?;
        let mut parser = Parser {
            tokens,
            at: 0,
            depth: 0,
        };
        let node = parser.or()?;
        if let Some(token) = parser.tokens.get(parser.at) {
            return Err(format!("unexpected {} in {source:?}", token.describe()));
        }
        Ok(Expr {
            source: source.to_owned(),
            node,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates against a record.
    pub fn eval(&self, record: &Record) -> Result<Value, String> {
        eval(&self.node, record).map_err(|error| format!("{error} (in {:?})", self.source))
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Number(Decimal),
    Text(String),
    Ident(String),
    Op(&'static str),
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Number(number) => format!("number {number}"),
            Token::Text(text) => format!("text {text:?}"),
            Token::Ident(name) => format!("name {name}"),
            Token::Op(op) => format!("{op:?}"),
        }
    }
}

const OPERATORS: [&str; 15] = [
    "<=", ">=", "!=", "=", "<", ">", "+", "-", "*", "/", "&", "(", ")", ",", "==",
];

fn tokenize(source: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let number = text
                .parse()
                .map_err(|_| format!("{text:?} is not a number (at character {start})"))?;
            tokens.push(Token::Number(number));
        } else if c == '\'' || c == '"' {
            let start = i;
            i += 1;
            let mut text = String::new();
            while i < chars.len() && chars[i] != c {
                text.push(chars[i]);
                i += 1;
            }
            if i == chars.len() {
                return Err(format!("text starting at character {start} is not closed"));
            }
            i += 1;
            tokens.push(Token::Text(text));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.')
            {
                i += 1;
            }
            tokens.push(Token::Ident(chars[start..i].iter().collect()));
        } else {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let Some(op) = OPERATORS
                .iter()
                .filter(|op| rest.starts_with(**op))
                .max_by_key(|op| op.len())
            else {
                return Err(format!("unexpected character {c:?} at {i}"));
            };
            i += op.chars().count();
            tokens.push(Token::Op(if *op == "==" { "=" } else { op }));
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek_op(&self, ops: &[&'static str]) -> Option<&'static str> {
        match self.tokens.get(self.at) {
            Some(Token::Op(op)) => ops.iter().copied().find(|candidate| candidate == op),
            _ => None,
        }
    }

    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Ident(name)) if name == word)
    }

    fn expect_op(&mut self, op: &'static str) -> Result<(), String> {
        if self.peek_op(&[op]).is_some() {
            self.at += 1;
            Ok(())
        } else {
            Err(match self.tokens.get(self.at) {
                Some(token) => format!("expected {op:?}, found {}", token.describe()),
                None => format!("expected {op:?} at the end"),
            })
        }
    }

    fn or(&mut self) -> Result<Node, String> {
        self.depth += 1;
        if self.depth > DEPTH_MAX {
            return Err(format!("the expression nests deeper than {DEPTH_MAX}"));
        }
        let mut node = self.and()?;
        while self.peek_word("or") {
            self.at += 1;
            node = Node::Binary("or", Box::new(node), Box::new(self.and()?));
        }
        self.depth -= 1;
        Ok(node)
    }

    fn and(&mut self) -> Result<Node, String> {
        let mut node = self.compare()?;
        while self.peek_word("and") {
            self.at += 1;
            node = Node::Binary("and", Box::new(node), Box::new(self.compare()?));
        }
        Ok(node)
    }

    fn compare(&mut self) -> Result<Node, String> {
        let node = self.sum()?;
        if let Some(op) = self.peek_op(&["=", "!=", "<", "<=", ">", ">="]) {
            self.at += 1;
            return Ok(Node::Binary(op, Box::new(node), Box::new(self.sum()?)));
        }
        Ok(node)
    }

    fn sum(&mut self) -> Result<Node, String> {
        let mut node = self.product()?;
        while let Some(op) = self.peek_op(&["+", "-", "&"]) {
            self.at += 1;
            node = Node::Binary(op, Box::new(node), Box::new(self.product()?));
        }
        Ok(node)
    }

    fn product(&mut self) -> Result<Node, String> {
        let mut node = self.unary()?;
        while let Some(op) = self.peek_op(&["*", "/"]) {
            self.at += 1;
            node = Node::Binary(op, Box::new(node), Box::new(self.unary()?));
        }
        Ok(node)
    }

    fn unary(&mut self) -> Result<Node, String> {
        if self.peek_op(&["-"]).is_some() {
            self.at += 1;
            return Ok(Node::Unary('-', Box::new(self.unary()?)));
        }
        if self.peek_word("not") {
            self.at += 1;
            return Ok(Node::Unary('!', Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Node, String> {
        let Some(token) = self.tokens.get(self.at).cloned() else {
            return Err("the expression ends too early".to_owned());
        };
        self.at += 1;
        match token {
            Token::Number(number) => Ok(Node::Literal(Value::Number(number))),
            Token::Text(text) => Ok(Node::Literal(Value::Text(text))),
            Token::Ident(name) if name == "true" => Ok(Node::Literal(Value::Bool(true))),
            Token::Ident(name) if name == "false" => Ok(Node::Literal(Value::Bool(false))),
            Token::Ident(name) if name == "null" => Ok(Node::Literal(Value::Null)),
            Token::Ident(name) => {
                if self.peek_op(&["("]).is_none() {
                    return Ok(Node::Field(name));
                }
                self.at += 1;
                let mut args = vec![self.or()?];
                while self.peek_op(&[","]).is_some() {
                    self.at += 1;
                    args.push(self.or()?);
                }
                self.expect_op(")")?;
                let arity = match name.as_str() {
                    "round" | "coalesce" => 2,
                    "if" => 3,
                    other => {
                        return Err(format!(
                            "unknown function {other}; use round, if or coalesce"
                        ));
                    }
                };
                if args.len() != arity {
                    return Err(format!(
                        "{name} takes {arity} arguments, not {}",
                        args.len()
                    ));
                }
                Ok(Node::Call(name, args))
            }
            Token::Op("(") => {
                let node = self.or()?;
                self.expect_op(")")?;
                Ok(node)
            }
            other => Err(format!("unexpected {}", other.describe())),
        }
    }
}

fn number(value: &Value, node: &Node) -> Result<Decimal, String> {
    value.number().ok_or_else(|| match node {
        Node::Field(name) if *value == Value::Null => format!("field {name} is missing"),
        Node::Field(name) => format!("field {name} is {:?}, not a number", value.text()),
        _ => format!("{:?} is not a number", value.text()),
    })
}

fn eval(node: &Node, record: &Record) -> Result<Value, String> {
    match node {
        Node::Literal(value) => Ok(value.clone()),
        Node::Field(name) => Ok(record.get(name).cloned().unwrap_or(Value::Null)),
        Node::Unary('-', inner) => {
            let value = eval(inner, record)?;
            Ok(Value::Number(-number(&value, inner)?))
        }
        Node::Unary(_, inner) => Ok(Value::Bool(!eval(inner, record)?.truthy())),
        Node::Binary(op, left_node, right_node) => {
            let left = eval(left_node, record)?;
            match *op {
                "and" => {
                    return Ok(Value::Bool(
                        left.truthy() && eval(right_node, record)?.truthy(),
                    ));
                }
                "or" => {
                    return Ok(Value::Bool(
                        left.truthy() || eval(right_node, record)?.truthy(),
                    ));
                }
                _ => {}
            }
            let right = eval(right_node, record)?;
            match *op {
                "&" => Ok(Value::Text(left.text() + &right.text())),
                "=" | "!=" => {
                    let equal = match (left.number(), right.number()) {
                        (Some(a), Some(b)) => a == b,
                        _ => {
                            left.text() == right.text()
                                && (left == Value::Null) == (right == Value::Null)
                        }
                    };
                    Ok(Value::Bool(equal == (*op == "=")))
                }
                "<" | "<=" | ">" | ">=" => {
                    let (a, b) = (number(&left, left_node)?, number(&right, right_node)?);
                    Ok(Value::Bool(match *op {
                        "<" => a < b,
                        "<=" => a <= b,
                        ">" => a > b,
                        _ => a >= b,
                    }))
                }
                arithmetic => {
                    let (a, b) = (number(&left, left_node)?, number(&right, right_node)?);
                    let result = match arithmetic {
                        "+" => a.checked_add(b),
                        "-" => a.checked_sub(b),
                        "*" => a.checked_mul(b),
                        _ if b.is_zero() => return Err("division by zero".to_owned()),
                        _ => a.checked_div(b),
                    };
                    result
                        .map(Value::Number)
                        .ok_or_else(|| format!("{a} {arithmetic} {b} overflows"))
                }
            }
        }
        Node::Call(name, args) => match (name.as_str(), args.as_slice()) {
            ("round", [value, digits]) => {
                let x = number(&eval(value, record)?, value)?;
                let digits = number(&eval(digits, record)?, digits)?;
                let digits = u32::try_from(digits.trunc().mantissa()).unwrap_or(0).min(8);
                Ok(Value::Number(money::round(x, digits)))
            }
            ("if", [condition, then, otherwise]) => {
                if eval(condition, record)?.truthy() {
                    eval(then, record)
                } else {
                    eval(otherwise, record)
                }
            }
            ("coalesce", [first, second]) => match eval(first, record)? {
                Value::Null => eval(second, record),
                Value::Text(text) if text.is_empty() => eval(second, record),
                value => Ok(value),
            },
            _ => Err(format!("unknown function {name}")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(pairs: &[(&str, Value)]) -> Record {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn computes_exact_amounts_and_text() {
        let r = record(&[
            ("amount", Value::Text("100.00".into())),
            ("tax_rate", Value::Number(Decimal::new(13, 2))),
            ("customer", Value::Text("湖州优品".into())),
        ]);
        let total = Expr::parse("amount + round(amount * tax_rate, 2)").unwrap();
        assert_eq!(
            total.eval(&r).unwrap(),
            Value::Number(Decimal::new(11300, 2))
        );
        let summary = Expr::parse("'销售 ' & customer").unwrap();
        assert_eq!(summary.eval(&r).unwrap().text(), "销售 湖州优品");
        let condition = Expr::parse("if(amount >= 100 and not false, 'big', 'small')").unwrap();
        assert_eq!(condition.eval(&r).unwrap().text(), "big");
    }

    #[test]
    fn missing_fields_and_bad_syntax_say_where() {
        let error = Expr::parse("amount * 2")
            .unwrap()
            .eval(&Record::new())
            .unwrap_err();
        assert!(error.contains("field amount is missing"), "{error}");
        assert!(Expr::parse("amount +").is_err());
        assert!(
            Expr::parse("sqrt(2)")
                .unwrap_err()
                .contains("unknown function")
        );
        assert!(Expr::parse("(1").is_err());
    }
}
