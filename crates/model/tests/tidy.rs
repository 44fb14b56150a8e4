//! Structural checks of the workspace that a diff would not show: pure crates stay pure, every module
//! says what it owns, and no module outgrows a sitting's reading.

// Tests fail by panicking; that is their job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

/// Crates that must do no I/O: no runtime, driver, network or web framework, no wall clock.
const PURE_CRATES: &[&str] = &[
    "model",
    "formula",
    "ledger",
    "approvals",
    "flows",
    "dingtalk",
];
/// Dependencies that would make a crate do I/O.
const IO_DEPENDENCIES: &[&str] = &[
    "tokio",
    "sqlx",
    "sea-query",
    "axum",
    "tower",
    "tower-http",
    "reqwest",
    "hyper",
    "tracing-subscriber",
];
/// Calls a pure crate must not make.
const IO_CALLS: &[&str] = &[
    "std::fs",
    "std::net",
    "Utc::now",
    "SystemTime::now",
    "Instant::now",
    ".await",
];
const MODULE_LINES_MAX: usize = 800;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
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

fn dependencies_section(manifest: &str) -> String {
    let mut in_deps = false;
    let mut deps = String::new();
    for line in manifest.lines() {
        if line.starts_with('[') {
            in_deps = line.trim() == "[dependencies]";
            continue;
        }
        if in_deps {
            deps.push_str(line);
            deps.push('\n');
        }
    }
    deps
}

#[test]
fn pure_crates_depend_on_nothing_that_does_io_and_never_read_the_clock() {
    let root = workspace_root();
    for name in PURE_CRATES {
        let dir = root.join("crates").join(name);
        let deps = dependencies_section(&std::fs::read_to_string(dir.join("Cargo.toml")).unwrap());
        for io in IO_DEPENDENCIES {
            let declared = deps
                .lines()
                .any(|line| line.split(['=', '.', ' ']).next() == Some(io));
            assert!(!declared, "pure crate {name} depends on {io}");
        }
        let mut files = vec![];
        rust_files(&dir.join("src"), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for call in IO_CALLS {
                assert!(
                    !text.contains(call),
                    "{} (pure crate {name}) uses {call}",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn every_module_opens_with_a_doc_comment_and_stays_under_800_lines() {
    let mut files = vec![];
    for crate_dir in std::fs::read_dir(workspace_root().join("crates")).unwrap() {
        let src = crate_dir.unwrap().path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    assert!(!files.is_empty());
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("//!"),
            "{} does not start with a //! module comment",
            file.display()
        );
        let lines = text.lines().count();
        assert!(
            lines <= MODULE_LINES_MAX,
            "{} has {lines} lines; split it by concept",
            file.display()
        );
    }
}
