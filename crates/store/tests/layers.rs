//! The store's floor, checked on its source: its modules form layers, and statements with values are
//! built one way.
//!
//! **Layers** (lowest first; a module may import its own layer and the ones below, never one above):
//!
//! 1. the execution seam — `clock`, `error`, `secret_key` (sealing secrets at rest); then `exec` (connections, transactions, values, dialects);
//!    then `sql` (the statement builder);
//! 2. `cache`, `rows` and `work` (the per-node caches, row decoding, whom a commit wakes), then the
//!    crate root (`Store`, `Tenant`, `WriteContext`), then `events` (the outbox), then `audit` (which
//!    appends to the outbox);
//! 3. the domain: every other module (directory, credentials, apps, records, ledger, subscriptions,
//!    deliveries, stream, …). A new module is domain unless it is listed below.
//!
//! **One builder**: text with values is assembled by `sql::SqlText`, which writes each placeholder with
//! its value (and `exec/joined.rs` makes those of statements SQLite runs in one round trip anonymous).
//! No other module writes placeholders (`'?'`, `"$"`, `format!("${}", n)`, `", ?"`), and no
//! statement made with `Sql::generated` (text without values) is given values afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Modules below the domain, lowest first; modules in one entry may import each other.
const LOWER_LAYERS: &[&[&str]] = &[
    &["clock", "error", "secret_key"],
    &["exec"],
    &["sql"],
    &["cache", "rows", "work"],
    &[ROOT],
    &["events"],
    &["audit"],
];
/// The crate root (`lib.rs`: `Store`, `Tenant`, `WriteContext`, `Result`).
const ROOT: &str = "<root>";
/// The modules that write placeholders: the statement builder, and the exec layer's joiner, which makes
/// the placeholders of statements SQLite runs in one round trip anonymous (it sits below the builder).
const BUILDERS: &[&str] = &["sql.rs", "exec/joined.rs"];
/// Calls whose character or string argument is searched for in text, not written into SQL.
const TEXT_SEARCHES: &[&str] = &[
    "split_once(",
    "split(",
    "find(",
    "contains(",
    "starts_with(",
    "ends_with(",
    "strip_prefix(",
    "strip_suffix(",
];

fn rank(module: &str) -> usize {
    LOWER_LAYERS
        .iter()
        .position(|layer| layer.contains(&module))
        .unwrap_or(LOWER_LAYERS.len())
}

fn layer_name(module: &str) -> String {
    match rank(module) {
        r if r == LOWER_LAYERS.len() => "domain".to_owned(),
        r => format!("layer {} of {}", r + 1, LOWER_LAYERS.len() + 1),
    }
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// A file's source as code (comments removed, string and char literals emptied) and its literals.
struct Lexed {
    code: String,
    /// `(line, literal, offset in code)`: string contents, or a char literal with its quotes (`'?'`).
    literals: Vec<(usize, String, usize)>,
}

fn lex(source: &str) -> Lexed {
    let chars: Vec<char> = source.chars().collect();
    let mut code = String::with_capacity(source.len());
    let mut literals = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                if chars[i] == '\n' {
                    line += 1;
                    code.push('\n');
                }
                i += 1;
            }
            i += 2;
            continue;
        }
        // Raw strings: r"…", r#"…"#, br"…".
        if (c == 'r' || (c == 'b' && next == Some('r')))
            && !chars
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            let mut j = i + if c == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) == Some(&'"') {
                let start_line = line;
                let mut text = String::new();
                j += 1;
                loop {
                    if j >= chars.len() {
                        break;
                    }
                    if chars[j] == '"' && (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) {
                        j += 1 + hashes;
                        break;
                    }
                    if chars[j] == '\n' {
                        line += 1;
                    }
                    text.push(chars[j]);
                    j += 1;
                }
                literals.push((start_line, text, code.len()));
                code.push_str("\"\"");
                i = j;
                continue;
            }
        }
        if c == '"' {
            let start_line = line;
            let mut text = String::new();
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    text.push(chars[i]);
                    i += 1;
                }
                if chars[i] == '\n' {
                    line += 1;
                }
                text.push(chars[i]);
                i += 1;
            }
            i += 1;
            literals.push((start_line, text, code.len()));
            code.push_str("\"\"");
            continue;
        }
        if c == '\'' {
            // A char literal ('x', '\n', '\''), or a lifetime ('a) left as code.
            let end = if next == Some('\\') {
                (i + 2..chars.len()).find(|&k| chars[k] == '\'' && k > i + 2)
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            if let Some(end) = end {
                literals.push((line, chars[i..=end].iter().collect(), code.len()));
                code.push_str("' '");
                i = end + 1;
                continue;
            }
        }
        if c == '\n' {
            line += 1;
        }
        code.push(c);
        i += 1;
    }
    Lexed { code, literals }
}

/// The identifier starting at `at` in `text`.
fn ident_at(text: &str, at: usize) -> &str {
    let rest = &text[at..];
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    &rest[..end]
}

/// The first identifiers of the paths in a `{…}` group starting at `at` (just after `{`).
fn group_heads(text: &str, at: usize) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut expecting = true;
    for (offset, c) in text[at..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => expecting = true,
            c if expecting && depth == 0 && (c.is_alphanumeric() || c == '_') => {
                heads.push(ident_at(text, at + offset).to_owned());
                expecting = false;
            }
            _ => {}
        }
    }
    heads
}

/// The crate-level names a file's code uses, with the line of each: `crate::x`, `crate::{x, y}`, and
/// `super::…` that climbs to the crate root. `depth` is how many modules deep the file's module is.
fn crate_references(code: &str, depth: usize) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    let push_path = |at: usize, found: &mut Vec<(usize, String)>| {
        if code[at..].starts_with('{') {
            for head in group_heads(code, at + 1) {
                found.push((line_of(at), head));
            }
        } else {
            let name = ident_at(code, at);
            if !name.is_empty() {
                found.push((line_of(at), name.to_owned()));
            }
        }
    };
    for (at, _) in code.match_indices("crate::") {
        let before = code[..at].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        push_path(at + "crate::".len(), &mut found);
    }
    let mut at = 0;
    while let Some(offset) = code[at..].find("super::") {
        let start = at + offset;
        let mut climbed = 0;
        let mut cursor = start;
        while code[cursor..].starts_with("super::") {
            climbed += 1;
            cursor += "super::".len();
        }
        if climbed >= depth {
            push_path(cursor, &mut found);
        }
        at = cursor;
    }
    found
}

/// The modules `lib.rs` declares, and which module each name it re-exports comes from.
fn root_names(lib: &str) -> (Vec<String>, HashMap<String, String>) {
    let code = lex(lib).code;
    let mut modules = Vec::new();
    let mut exported = HashMap::new();
    for statement in code.split(';') {
        let statement = statement.trim();
        let words: Vec<&str> = statement.split_whitespace().collect();
        let body = statement
            .strip_prefix("pub(crate) use ")
            .or_else(|| statement.strip_prefix("pub use "))
            .or_else(|| statement.rsplit_once("pub use ").map(|(_, rest)| rest));
        if let Some(path) = body {
            let module = ident_at(path, 0).to_owned();
            for name in path
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .filter(|name| !name.is_empty() && *name != module && *name != "self")
            {
                exported.insert(name.to_owned(), module.clone());
            }
        } else if let Some(position) = words.iter().position(|word| *word == "mod")
            && let Some(name) = words.get(position + 1)
        {
            modules.push((*name).to_owned());
        }
    }
    (modules, exported)
}

/// Lower-layer modules importing higher ones: `(file, line, message)`.
fn layer_violations(files: &[(String, String)]) -> Vec<String> {
    let lib = files
        .iter()
        .find(|(path, _)| path == "lib.rs")
        .map(|(_, text)| text.as_str())
        .unwrap_or("");
    let (modules, exported) = root_names(lib);
    let resolve = |name: &str| -> String {
        if modules.iter().any(|module| module == name) {
            name.to_owned()
        } else if let Some(module) = exported.get(name) {
            module.clone()
        } else {
            ROOT.to_owned()
        }
    };
    let mut violations = Vec::new();
    for (path, text) in files {
        let parts: Vec<&str> = path.trim_end_matches(".rs").split('/').collect();
        let module = if path == "lib.rs" {
            ROOT.to_owned()
        } else {
            parts[0].to_owned()
        };
        let depth = match parts.last() {
            _ if path == "lib.rs" => 0,
            Some(&"mod") => parts.len() - 1,
            _ => parts.len(),
        };
        let lexed = lex(text);
        let mut references = crate_references(&lexed.code, depth);
        if path == "lib.rs" {
            // The root's own code names modules without `crate::`; its `pub use` lines are the
            // crate's public face, not imports of the root.
            for statement_line in lexed.code.lines().enumerate() {
                let (index, line) = statement_line;
                let trimmed = line.trim_start();
                if trimmed.starts_with("pub use")
                    || trimmed.starts_with("use ")
                    || trimmed.starts_with("mod ")
                    || trimmed.starts_with("pub mod ")
                {
                    continue;
                }
                for name in &modules {
                    let pattern = format!("{name}::");
                    for (at, _) in line.match_indices(&pattern) {
                        let before = line[..at].chars().last();
                        if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                            references.push((index + 1, name.clone()));
                        }
                    }
                }
            }
        }
        for (line, name) in references {
            let target = resolve(&name);
            if target == module {
                continue;
            }
            if rank(&target) > rank(&module) {
                violations.push(format!(
                    "src/{path}:{line}: {module} ({}) imports {target} ({}) through `{name}`",
                    layer_name(&module),
                    layer_name(&target),
                ));
            }
        }
    }
    violations
}

/// Placeholders written outside the builder: `(file, line, what)`.
fn placeholder_violations(files: &[(String, String)]) -> Vec<String> {
    let mut violations = Vec::new();
    for (path, text) in files {
        if BUILDERS.contains(&path.as_str()) {
            continue;
        }
        let lexed = lex(text);
        for (line, literal, offset) in &lexed.literals {
            // A `?` searched for in text (a URL's query) is no placeholder.
            let before = lexed.code[..*offset].trim_end();
            if TEXT_SEARCHES.iter().any(|call| before.ends_with(call)) {
                continue;
            }
            let is_char = literal.starts_with('\'');
            let placeholder_only = !literal.is_empty()
                && literal.chars().all(|c| "?$0123456789, ()".contains(c))
                && (literal.contains('?') || literal.contains('$'));
            if (is_char && (literal == "'?'" || literal == "'$'"))
                || (!is_char && (literal.contains("${") || placeholder_only))
            {
                violations.push(format!(
                    "src/{path}:{line}: the literal {literal:?} writes a placeholder; append values with sql::SqlText"
                ));
            }
        }
        let code = &lexed.code;
        for (at, _) in code.match_indices("Sql::generated(") {
            let open = at + "Sql::generated".len();
            let mut depth = 0;
            let mut close = None;
            for (offset, c) in code[open..].char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            close = Some(open + offset);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let Some(close) = close else { continue };
            if code[close + 1..].trim_start().starts_with(".bind") {
                let line = code[..at].matches('\n').count() + 1;
                violations.push(format!(
                    "src/{path}:{line}: a generated statement gets values; build it with sql::SqlText"
                ));
            }
        }
    }
    violations
}

fn store_sources() -> Vec<(String, String)> {
    let src = src_dir();
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let relative = path
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (relative, std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

#[test]
fn lower_layers_never_import_higher_ones() {
    let files = store_sources();
    assert!(files.iter().any(|(path, _)| path == "exec.rs"));
    let violations = layer_violations(&files);
    assert!(
        violations.is_empty(),
        "the store's layers are crossed upward (tests/layers.rs lists them):\n{}",
        violations.join("\n")
    );
}

#[test]
fn only_the_builder_writes_placeholders() {
    let files = store_sources();
    let violations = placeholder_violations(&files);
    assert!(
        violations.is_empty(),
        "statements with values are built by sql::SqlText only:\n{}",
        violations.join("\n")
    );
}

/// The checks find what they are for (so a green run means something).
#[test]
fn the_checks_catch_an_upward_import_and_a_hand_built_placeholder_list() {
    let lib = "mod error;\nmod exec;\nmod records;\nmod audit;\npub use error::StoreError;\n\
               pub use records::{RecordQuery, label};\n\
               pub struct Store;\nimpl Store { fn f() { exec::Pools::new(); } }\n";
    let files = |path: &str, text: &str| {
        vec![
            ("lib.rs".to_owned(), lib.to_owned()),
            (path.to_owned(), text.to_owned()),
        ]
    };
    // The seam importing a domain module, directly, in a group, through a re-export, or from the root.
    for text in [
        "use crate::records::cells;",
        "use crate::{StoreError, records::SqlText};",
        "fn f(q: crate::RecordQuery) {}",
        "use super::audit::Change;",
    ] {
        assert_eq!(layer_violations(&files("exec.rs", text)).len(), 1, "{text}");
    }
    assert_eq!(
        layer_violations(&files("exec.rs", "use crate::Store;"))[0],
        "src/exec.rs:1: exec (layer 2 of 8) imports <root> (layer 5 of 8) through `Store`"
    );
    // Downward and sideways imports, comments and strings are fine.
    for (path, text) in [
        (
            "records/write.rs",
            "use crate::{Result, Tenant, exec::Conn};\nuse super::cells;",
        ),
        ("audit.rs", "use crate::events::Change;"),
        (
            "exec.rs",
            "// see crate::records\nconst S: &str = \"crate::records\";",
        ),
    ] {
        assert!(layer_violations(&files(path, text)).is_empty(), "{text}");
    }
    for text in [
        "text.push('?');",
        "text.push_str(&format!(\"${}\", n));",
        "let p = vec![\"?\"; 3].join(\", \");",
        "s.push_str(\"(?, ?)\");",
        "conn.fetch_all(Sql::generated(format!(\"SELECT {t} WHERE a = $1\")).bind(x))",
    ] {
        assert_eq!(
            placeholder_violations(&files("records/mod.rs", text)).len(),
            1,
            "{text}"
        );
    }
    for text in [
        "sql.push(\" AND id IN \").list(ids);",
        "Sql::new(\"SELECT a FROM t WHERE b = $1\").bind(x)",
        "conn.execute_script(Sql::generated(ddl))",
        "let question = \"why?\";",
        "let (base, query) = url.split_once('?');",
    ] {
        assert!(
            placeholder_violations(&files("records/mod.rs", text)).is_empty(),
            "{text}"
        );
    }
}
