//! `docs/ui-names.md` is the contract of accessible names: every row's words are the catalogs' messages
//! under its key, in both languages, and every name marked as on a page is used by a template or an island.

// Tests fail by panicking; that is their job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use tenon_web::i18n::{self, Lang};

fn sources(dir: &Path, found: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, found);
        } else {
            found.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
}

#[test]
fn the_pinned_names_are_the_catalogs_and_the_pages() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("../../docs/ui-names.md")).unwrap();
    let mut used = String::new();
    sources(&root.join("templates"), &mut used);
    sources(&root.join("ui/src"), &mut used);
    let mut rows = 0;
    for line in doc
        .lines()
        .filter(|line| line.starts_with("| ") && !line.starts_with("| role"))
    {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        assert_eq!(cells.len(), 5, "a row of five cells: {line}");
        let (zh, en, key, page) = (cells[1], cells[2], cells[3], cells[4]);
        rows += 1;
        if key.starts_with('(') {
            // The language options are named in themselves, not from a catalog.
            assert!(
                used.contains(&format!("\"{zh}\"")) && used.contains(&format!("\"{en}\"")) || {
                    let pages = std::fs::read_to_string(root.join("src/pages.rs")).unwrap();
                    pages.contains(&format!("\"{zh}\"")) && pages.contains(&format!("\"{en}\""))
                },
                "{line}"
            );
            continue;
        }
        assert_eq!(
            i18n::message(Lang::ZhCn, key, &[]).as_deref(),
            Some(zh),
            "zh-CN {key}: {line}"
        );
        assert_eq!(
            i18n::message(Lang::En, key, &[]).as_deref(),
            Some(en),
            "en {key}: {line}"
        );
        if page != "—" {
            assert!(
                used.contains(&format!("\"{key}\""))
                    || used.contains(&format!("'{key}'"))
                    || (key.starts_with("field-type-") && used.contains("\"field-type-\" ~ type")),
                "{key} is marked as on a page ({page}) but no template or island uses it"
            );
        }
    }
    assert!(rows >= 50, "the table of names was not read ({rows} rows)");
}
